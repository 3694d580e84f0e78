#!/usr/bin/env bash
# lint_layering.sh - the one-way data flow (README.md "Architecture") enforced on #include lines:
# decoders include no flow/nat/detect/report/ui headers; only classify/ndpi.c includes nDPI; only
# ui/ includes curses; only capture/, main.c, core/source.c and core/dump.c
# include pcap; detectors and reports never print
# raw packet bytes (no decode.h in report/ and ui/). One address comparison: ip_addr_eq()
# (defined inline in include/vpnscope/proto.h); no other file defines a function named
# *ip_eq / *addr_eq. One protocol-name table: ip_proto_name() in src/decode/names.c; no other
# file names IP protocols in a switch (a `case IPP_x:` or `case <number>:` followed within three
# lines by "udp", "esp", ... in any letter case). The files in ip_eq_allowed / proto_names_allowed
# still hold private copies being replaced; a new copy anywhere else fails.
set -uo pipefail
src=${VPNSCOPE_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
cd "$src" || exit 1
fail=0
bad() { echo "layering: $*"; fail=1; }
for f in src/decode/*.c; do
    grep -nE '#include "vpnscope/(session|engine|nat|detect|finding|report|ui|table|frag|classify|capture)\.h"' "$f" &&
        bad "$f: a decoder includes flow/state headers"
done
for f in $(grep -rlE '#include <ndpi' src include); do
    [ "$f" = src/classify/ndpi.c ] || bad "$f includes nDPI (only src/classify/ndpi.c may)"
done
for f in $(grep -rlE '#include <(n?curses|ncursesw/curses)\.h>' src include); do
    case $f in src/ui/*) ;; *) bad "$f includes curses (only src/ui/ may)" ;; esac
done
for f in $(grep -rlE '#include <pcap' src include); do
    case $f in src/capture/* | src/main.c | src/core/source.c | src/core/dump.c) ;; *) bad "$f includes libpcap (only capture/, main.c, the pipeline's sources and -w dump)" ;; esac
done
for f in src/report/*.c src/ui/*.c src/detect/*.c; do
    [ -f "$f" ] || continue
    grep -nE '#include "vpnscope/(decode|rd)\.h"' "$f" && bad "$f: sinks/detectors must not decode bytes"
done
ip_eq_allowed=" src/flow/session.c src/nat/correlate.c src/ui/model.c src/detect/det_util.c "
while IFS=: read -r f line _; do
    [ -n "$f" ] || continue
    [ "$f" = include/vpnscope/proto.h ] && continue
    case $ip_eq_allowed in *" $f "*) continue ;; esac
    bad "$f:$line defines a private address comparison (use ip_addr_eq from vpnscope/proto.h)"
done < <(grep -rnE '^[a-z_ ]*\b(bool|int)[[:space:]]+[a-z_0-9]*(ip|addr)_eq[[:space:]]*\([^;]*$' src include --include=*.c --include=*.h)
for f in $ip_eq_allowed; do
    grep -qE '^[a-z_ ]*\b(bool|int)[[:space:]]+[a-z_0-9]*(ip|addr)_eq[[:space:]]*\(' "$f" 2>/dev/null ||
        echo "layering: note: $f no longer defines an address comparison; drop it from ip_eq_allowed"
done
proto_names_allowed=" src/ui/stream.c src/ui/model.c src/detect/stale_nat.c "
for f in $(find src include -name '*.[ch]' | sort); do
    [ "$f" = src/decode/names.c ] && continue
    hit=$(awk '/case[[:space:]]+(IPP_[A-Z0-9_]+|[0-9]+)[[:space:]]*:/ { win = 3 }
        win > 0 { if (tolower($0) ~ /"(udp|tcp|icmp|icmpv6|ipip|ipv6|gre|esp|ah|l2tpv3)"/) { print NR; exit } win-- }' "$f")
    [ -n "$hit" ] || continue
    case $proto_names_allowed in
    *" $f "*) ;;
    *) bad "$f:$hit names IP protocols in its own switch (use ip_proto_name from vpnscope/proto.h)" ;;
    esac
done
for f in $proto_names_allowed; do
    [ -f "$f" ] && awk '/case[[:space:]]+(IPP_[A-Z0-9_]+|[0-9]+)[[:space:]]*:/ { win = 3 }
        win > 0 { if (tolower($0) ~ /"(udp|tcp|icmp|icmpv6|ipip|ipv6|gre|esp|ah|l2tpv3)"/) { f = 1; exit } win-- }
        END { exit !f }' "$f" ||
        echo "layering: note: $f no longer has a protocol-name switch; drop it from proto_names_allowed"
done
grep -rnE '(^|[^a-z_])exit\(' src --include=*.c | grep -v '^src/main.c' && bad "only main.c may exit()"
if [ $fail -eq 0 ]; then echo "1 passed, 0 failed"; else echo "0 passed, 1 failed"; fi
exit $fail
