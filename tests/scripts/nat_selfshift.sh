#!/usr/bin/env bash
# nat_selfshift.sh - a real capture of the public corpus correlated against itself with its clock
# shifted (+60 s, +100 ppm, and -60 s, -100 ppm): the offset must be recovered within 1 ms, and
# every mapping must be untranslated with nothing unmatched (the "router" forwarded everything).
# Skips (77) without ../shared or python3; under CI=true a skip is a failure.
set -uo pipefail
src=${VPNSCOPE_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
bin=${VPNSCOPE_BIN:-$src/build/release/vpnscope}
shared=${VPNSCOPE_SHARED:-$src/../shared}
. "$(dirname "$0")/lib_check.sh" # skip, ok, ko, check_done
command -v python3 >/dev/null || skip "python3 not installed"
cap=$shared/pcaps/public/nDPI/ipsec_isakmp_esp.pcap
[ -f "$cap" ] || skip "$cap absent"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for spec in "60 100" "-60 -100"; do
    read -r off ppm <<<"$spec"
    python3 "$src/tests/nat/shift.py" "$cap" "$tmp/shifted.pcap" --offset "$off" --drift-ppm "$ppm" || { ko "shift.py $off s $ppm ppm"; continue; }
    "$bin" --no-progress --inside "$cap" --outside "$tmp/shifted.pcap" --json >"$tmp/out.jsonl" 2>"$tmp/err"
    rc=$?
    if python3 - "$tmp/out.jsonl" "$off" "$ppm" "$cap" <<'PY'
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
off, ppm = float(sys.argv[2]), float(sys.argv[3])
clk = [r for r in recs if r["type"] == "clock_offset"]
maps = [r for r in recs if r["type"] == "nat_mapping"]
unm = [r for r in recs if r["type"] == "unmatched"]
ok = True
def check(cond, what):
    global ok
    print(("ok   - " if cond else "FAIL - ") + what)
    ok &= cond
check(len(clk) == 1, "one clock_offset record")
if clk:
    # the offset holds at ref_ts; shift.py's drift origin is the file's first packet
    import datetime, struct
    def epoch(ts):
        return datetime.datetime.strptime(ts, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=datetime.timezone.utc).timestamp()
    with open(sys.argv[4], "rb") as f:
        hdr = f.read(24)
        le = hdr[:4] == b"\xd4\xc3\xb2\xa1"
        sec, usec = struct.unpack(("<" if le else ">") + "II", f.read(8))
    first = sec + usec / 1e6
    want = off + ppm * 1e-6 * (epoch(clk[0]["ref_ts"]) - first)
    err_ms = abs(clk[0]["seconds"] - want) * 1000
    check(err_ms < 1.0, "offset %+.6f s recovered within 1 ms of %+.6f s (error %.3f ms)" % (clk[0]["seconds"], want, err_ms))
    check(abs(clk[0]["drift_ppm"] - ppm) < 5, "drift %.2f ppm close to %g ppm" % (clk[0]["drift_ppm"], ppm))
check(len(maps) > 0, "%d mappings" % len(maps))
check(all(m["translated"] is False for m in maps), "every mapping untranslated")
check(len(unm) == 0, "no unmatched packets (%d)" % len(unm))
sys.exit(0 if ok else 1)
PY
    then ok "shifted $off s $ppm ppm"; else ko "shifted $off s $ppm ppm" "$tmp/err"; fi
    [ $rc -le 1 ] || ko "exit status $rc"
done
check_done
