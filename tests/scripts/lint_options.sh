#!/usr/bin/env bash
# lint_options.sh - the options cannot drift apart: every long option of the getopt table
# (src/core/config.c long_opts) and every short option of its optstring appears in `vpnscope
# --help` and in the man page (doc/vpnscope.1, with troff's \- escapes); every option the usage
# lists is one getopt accepts.
set -uo pipefail
SRC=${VPNSCOPE_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
BIN=${VPNSCOPE_BIN:-$SRC/build/release/vpnscope}
[ -x "$BIN" ] || { echo "vpnscope binary not found: $BIN"; exit 1; }
CFG=$SRC/src/core/config.c
MAN=$SRC/doc/vpnscope.1
fail=0
bad() {
    echo "options: $*"
    fail=1
}
help=$("$BIN" --help) || bad "--help failed"
longs=$(sed -n '/^static const struct option long_opts\[\]/,/^};/p' "$CFG" | grep -oE '\{"[a-z0-9-]+"' | tr -d '{"')
shorts=$(grep -oE 'getopt_long\(argc, argv, "[^"]*"' "$CFG" | sed -E 's/.*"([^"]*)"/\1/' | tr -d ':+')
[ "$(echo "$longs" | wc -w)" -ge 20 ] || bad "could not read the getopt table of $CFG ($(echo "$longs" | wc -w) long options)"
[ "${#shorts}" -ge 10 ] || bad "could not read the optstring of $CFG ('$shorts')"
man_text=$(sed 's/\\-/-/g' "$MAN")
for o in $longs; do
    grep -qE -- "--$o([^a-z-]|$)" <<<"$help" || bad "--$o is missing from --help"
    grep -qE -- "--$o([^a-z-]|$)" <<<"$man_text" || bad "--$o is missing from doc/vpnscope.1"
done
for ((i = 0; i < ${#shorts}; i++)); do
    o=${shorts:i:1}
    grep -qE -- "(^|[ ,|])-$o([ ,]|$)" <<<"$help" || bad "-$o is missing from --help"
    grep -qE -- "(^|[ ,|(])-$o([ ,)\"]|$)" <<<"$man_text" || bad "-$o is missing from doc/vpnscope.1"
done
# the other way: every --option the usage names is in the table
for o in $(grep -oE -- '--[a-z][a-z0-9-]+' <<<"$help" | sort -u); do
    grep -qx -- "${o#--}" <<<"$longs" || bad "--help names $o, which getopt does not accept"
done
n=$(($(echo "$longs" | wc -w) + ${#shorts}))
if [ $fail -eq 0 ]; then echo "1 passed, 0 failed ($n options checked)"; else echo "0 passed, 1 failed"; fi
exit $fail
