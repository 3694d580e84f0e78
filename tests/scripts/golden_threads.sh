#!/usr/bin/env bash
# golden_threads.sh - the output does not depend on the number of threads: every golden test of
# tests/golden/TESTLIST is run with --threads 1 and --threads 4, each diffed with its expected
# file (output, stderr, exit status); then a generated capture pair longer than the clock pass's
# prefix (tests/bench/gen.c, 160k packets per side: the clock from the prefix, the analysis pass
# the only full read, the report formatted in parallel chunks) is read single, two-capture, given
# the wrong way round, with -c, and with a filter, with --threads 1, 2 and 4, and the outputs are
# compared byte for byte; the two-capture run must still map every tunnel protocol, count its
# packets over the whole capture and keep the correlator within its caps.
# Skips (77) without a C compiler for the generator part; under CI=true a skip is a failure.
set -uo pipefail
src=${VPNSCOPE_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
bin=${VPNSCOPE_BIN:-$src/build/release/vpnscope}
bin=$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin") # run.sh runs from pcaps/
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0 n=0
while read -r name _; do
    case $name in '' | '#'*) continue ;; esac
    for t in 1 4; do
        n=$((n + 1))
        if ! VPNSCOPE_BIN=$bin VPNSCOPE_ARGS="--threads $t" bash "$src/tests/golden/run.sh" "$name" >"$tmp/log" 2>&1; then
            echo "FAIL - golden $name with --threads $t:"
            head -20 "$tmp/log"
            fail=$((fail + 1))
        fi
    done
done <"$src/tests/golden/TESTLIST"
echo "golden list: $n runs, $fail failed"

cc=$(command -v cc || command -v gcc || true)
if [ -z "$cc" ]; then
    echo "SKIP: no C compiler for tests/bench/gen.c"
    if [ "${CI:-}" = "true" ]; then echo "CI=true: a skipped test is a failure"; exit 1; fi
    [ "$fail" = 0 ] && exit 77
    exit 1
fi
"$cc" -O2 -std=c11 -o "$tmp/gen" "$src/tests/bench/gen.c" -lm || { echo "FAIL - gen.c does not build"; exit 1; }
"$tmp/gen" --pair "$tmp/g" -n 160000 -c 300 --offset 0.5 --drift-ppm 20 >/dev/null 2>&1 || { echo "FAIL - gen"; exit 1; }
in=$tmp/g-inside.pcap out=$tmp/g-outside.pcap
run() { # name args...
    local name=$1
    shift
    TZ=UTC LC_ALL=C "$bin" --no-progress "$@" >"$tmp/$name.out" 2>"$tmp/$name.err"
    echo $? >"$tmp/$name.rc"
}
for t in 1 2 4; do
    run "single-$t" --threads "$t" -r "$in" --json --all-flows
    run "pair-$t" --threads "$t" --inside "$in" --outside "$out" --json
    run "swapped-$t" --threads "$t" --inside "$out" --outside "$in"
    run "count-$t" --threads "$t" -c 150000 --inside "$in" --outside "$out" --json
    run "filter-$t" --threads "$t" --inside "$in" --outside "$out" --json udp
done
for kind in single pair swapped count filter; do
    [ -s "$tmp/$kind-1.out" ] || { echo "FAIL - $kind: empty output"; fail=$((fail + 1)); }
    for t in 2 4; do
        for ext in out err rc; do
            if cmp -s "$tmp/$kind-1.$ext" "$tmp/$kind-$t.$ext"; then
                echo "ok   - $kind --threads $t: same $ext as --threads 1"
            else
                echo "FAIL - $kind --threads $t: $ext differs from --threads 1"
                diff "$tmp/$kind-1.$ext" "$tmp/$kind-$t.$ext" | head -5
                fail=$((fail + 1))
            fi
        done
    done
done
grep -q 'look swapped' "$tmp/swapped-1.err" || { echo "FAIL - swapped: no swap message"; fail=$((fail + 1)); }
python3 - "$tmp/pair-1.out" "$tmp/count-1.out" "$tmp/filter-1.out" "$in" "$out" <<'PY' || fail=$((fail + 1))
import json, struct, sys

def frames(path):
    n, off, data = 0, 24, open(path, "rb").read()
    while off + 16 <= len(data):
        off += 16 + struct.unpack_from("<I", data, off + 8)[0]
        n += 1
    return n

ok = True
def check(cond, what):
    global ok
    print(("ok   - " if cond else "FAIL - ") + what)
    ok &= bool(cond)

recs = [json.loads(l) for l in open(sys.argv[1])]
summ = recs[-1]
nin, nout = frames(sys.argv[4]), frames(sys.argv[5])
check(nin > 131072 and nout > 131072, "the captures are longer than the clock prefix (%d, %d)" % (nin, nout))
pc = summ["per_capture"]
check(pc["inside"]["packets"] == nin and pc["outside"]["packets"] == nout,
      "every frame of both captures counted (%d, %d)" % (pc["inside"]["packets"], pc["outside"]["packets"]))
protos = {r["proto"] for r in recs if r["type"] == "nat_mapping"}
check({"esp", "gre", "udp"} <= protos, "mappings of every tunnel protocol (%s)" % sorted(protos))
nat = summ["nat"]
check(nat["matched_packets"] > 0.99 * nout, "packets matched across the captures (%d)" % nat["matched_packets"])
check(nat["uncovered"] == 0 and nat["outside_only"] == 0, "no packet uncovered or outside-only: the clock holds to the end")
clk = [r for r in recs if r["type"] == "clock_offset"]
check(len(clk) == 1 and abs(clk[0]["seconds"] - 0.5) < 0.01 and abs(clk[0]["drift_ppm"] - 20) < 2,
      "clock from the prefix: offset %.4f s, drift %.2f ppm" % (clk[0]["seconds"], clk[0]["drift_ppm"]) if clk else "clock")
c = json.loads(open(sys.argv[2]).read().splitlines()[-1])
check(c["per_capture"]["inside"]["packets"] == 150000, "-c: 150000 packets of the inside capture read")
f = json.loads(open(sys.argv[3]).read().splitlines()[-1])
check(f["filtered"] > 0 and f["nat"]["matched_packets"] > 0, "with a filter: filtered frames counted, UDP still matched")
sys.exit(0 if ok else 1)
PY
[ "$fail" = 0 ]
