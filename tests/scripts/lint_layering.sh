#!/usr/bin/env bash
# lint_layering.sh - the one-way data flow (STYLE.md §2) enforced on #include lines:
# decoders include no flow/nat/detect/report/ui headers; only classify/ndpi.c includes nDPI; only
# ui/ includes curses; only capture/, main.c and core/source.c, core/dump.c include pcap; detectors and reports never print
# raw packet bytes (no decode.h in report/ and ui/).
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
grep -rnE '(^|[^a-z_])exit\(' src --include=*.c | grep -v '^src/main.c' && bad "only main.c may exit()"
if [ $fail -eq 0 ]; then echo "1 passed, 0 failed"; else echo "0 passed, 1 failed"; fi
exit $fail
