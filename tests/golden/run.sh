#!/usr/bin/env bash
# run.sh NAME - runs vpnscope over the inputs of TESTLIST line NAME and diffs the output with the
# committed expected file. Fails on a missing expected file, a different exit status, stderr that
# differs from NAME.err (empty when absent), or any diff. TESTLIST: name inputs expected exit [args]
# inputs: a.pcap | a.pcap,b.pcap (pieces) | inside.pcap+outside.pcap (two-capture mode); paths are
# relative to pcaps/ (or absolute under $VPNSCOPE_SHARED). $VPNSCOPE_ARGS (optional) go before the
# inputs (tests/scripts/golden_threads.sh runs the list with --threads 1 and --threads 4).
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../.." && pwd)
bin=${VPNSCOPE_BIN:-$src/build/release/vpnscope}
name=$1
line=$(awk -v n="$name" '$1 == n' "$here/TESTLIST")
[ -n "$line" ] || { echo "no TESTLIST line named $name"; exit 1; }
read -r _ inputs expected want_exit args <<<"$line"
expfile="$here/$expected"
[ -f "$expfile" ] || { echo "missing expected file $expfile (run tests/golden/update.sh $name and review it)"; exit 1; }
resolve() { case $1 in /*) echo "$1" ;; *) echo "$src/pcaps/$1" ;; esac; }
argv=()
if [[ $inputs == router:* ]]; then
    argv+=(--router "$(resolve "${inputs#router:}")")
elif [[ $inputs == *+* ]]; then
    IFS=',' read -ra ins <<<"${inputs%%+*}"
    IFS=',' read -ra outs <<<"${inputs#*+}"
    for f in "${ins[@]}"; do argv+=(--inside "$(resolve "$f")"); done
    for f in "${outs[@]}"; do argv+=(--outside "$(resolve "$f")"); done
else
    IFS=',' read -ra pieces <<<"$inputs"
    for f in "${pieces[@]}"; do argv+=(-r "$(resolve "$f")"); done
fi
case $expected in *.jsonl) argv+=(--json) ;; esac
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# shellcheck disable=SC2086
(cd "$src/pcaps" && TZ=UTC LC_ALL=C "$bin" --no-progress ${VPNSCOPE_ARGS:-} "${argv[@]}" $args >"$tmp/out" 2>"$tmp/err")
rc=$?
# paths in the output are made relative to pcaps/ so expected files do not depend on the checkout
sed -i "s#$src/pcaps/##g" "$tmp/out" "$tmp/err"
fail=0
if [ "$rc" != "$want_exit" ]; then
    echo "exit status $rc, expected $want_exit"
    fail=1
fi
errfile="$here/${expected%.*}.err"
if [ -f "$errfile" ]; then
    diff -u "$errfile" "$tmp/err" || fail=1
elif [ -s "$tmp/err" ]; then
    echo "unexpected stderr:"; cat "$tmp/err"; fail=1
fi
diff -u "$expfile" "$tmp/out" || fail=1
exit $fail
