#!/usr/bin/env bash
# nat_clockstep.sh - time as it is on the wire, and capture clocks that step. The captures are
# bundled ones whose record headers are rewritten by tests/scripts/pcap_retime.py:
# - seconds past 2^31 print the right year (2039), seconds up to 2^32-1 (2106) add no false
#   timestamp_backwards;
# - a clock stepped back one day mid-capture: stated in the summary (capture, frame, times, size),
#   every session's first_ts <= last_ts, no duration wraps;
# - stale_nat with the inside (then the outside) clock stepped back one hour half way: the NAT
#   mappings, the matched packet counts and the stale_nat finding equal those of the original
#   captures (times within 0.001 s), the step measured against the other capture;
# - the inside clock of that pair stepped forward one hour: the same, the step found from the
#   matched pairs (forward);
# - a healthy single capture (two clients, two servers) stepped forward one hour: the ESP
#   counters continue across the silence, so it is a forward step (summary, text), times after it
#   corrected (every record's times within 1 s of the original), the same findings, no stale_nat;
# - the same capture with 9 packets left out and the clock going on 20 s (a capture that missed
#   packets): the counters have holes, so it is a capture gap, not a clock step.
set -uo pipefail

BIN=${VPNSCOPE_BIN:-}
SRC=${VPNSCOPE_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$(dirname "$0")/lib_check.sh" # skip, ok, ko, check_done
[ -n "$BIN" ] && [ -x "$BIN" ] || skip "VPNSCOPE_BIN not set or not executable"
command -v python3 >/dev/null || skip "python3 not installed"
RETIME="python3 $SRC/tests/scripts/pcap_retime.py"
P=$SRC/pcaps
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

$RETIME "$P/esp_collision-inside.pcap" "$TMP/y2039.pcap" --base 2200000000
"$BIN" -r "$TMP/y2039.pcap" >"$TMP/y.txt"
grep -q '^Traffic: 44 packets, 2039-09-18T23:06:40.438706Z .. 2039-09-18T23:06:44.396486Z (3.957780 s)$' "$TMP/y.txt" &&
    ok "seconds past 2^31: year 2039" || ko "seconds past 2^31" "$TMP/y.txt"

$RETIME "$P/esp_collision-inside.pcap" "$TMP/max.pcap" --base 4294967280
"$BIN" -r "$TMP/max.pcap" --json >"$TMP/max.json"
grep -q '"first_ts":"2106-02-07T06:28:0' "$TMP/max.json" && ! grep -q timestamp_backwards "$TMP/max.json" &&
    ok "seconds up to 2^32-1: year 2106, no timestamp_backwards" || ko "seconds near 2^32-1" "$TMP/max.json"

# check_json FILE: every first_ts <= last_ts, no duration or span above one day
check_json() {
    python3 - "$1" <<'PY'
import json, sys
bad = []
for line in open(sys.argv[1]):
    r = json.loads(line)
    if "first_ts" in r and "last_ts" in r and r["first_ts"] > r["last_ts"]:
        bad.append("%s first_ts %s > last_ts %s" % (r["type"], r["first_ts"], r["last_ts"]))
    def walk(o, path):
        if isinstance(o, dict):
            for k, v in o.items():
                walk(v, path + "." + k)
        elif isinstance(o, list):
            for v in o:
                walk(v, path)
        elif isinstance(o, float) and o > 86400 * 2 and ("s" in path.split(".")[-1]):
            if not path.endswith("step_s") and not path.endswith("offset_s"):
                bad.append("%s %s = %s" % (r["type"], path, o))
    walk(r, "")
print("\n".join(bad))
sys.exit(1 if bad else 0)
PY
}
$RETIME "$P/esp_collision-inside.pcap" "$TMP/day.pcap" --step 20 -86400
"$BIN" -r "$TMP/day.pcap" --json >"$TMP/day.json"
check_json "$TMP/day.json" >"$TMP/day.bad" && ok "clock back one day: first_ts <= last_ts, no wrapped duration" ||
    ko "clock back one day" "$TMP/day.bad"
grep -q '"clock_steps":\[{"capture":"[a-z]*","frame":20,"before_ts":"[^"]*","after_ts":"[^"]*","step_s":-86399.962008,"offset_s":86399.962008,"offset_from":"no_gap_assumed","direction":"backward"}\],"clock_steps_total":1' "$TMP/day.json" &&
    ok "clock back one day: the summary states frame 20, step -86399.962008 s" || ko "clock step in the summary" "$TMP/day.json"
"$BIN" -r "$TMP/day.pcap" >"$TMP/day.txt"
grep -q '^  Clock step: .*frame 20: .*(-86399.962008 s); later times +86399.962008 s (no gap assumed)$' "$TMP/day.txt" &&
    ok "clock back one day: the text summary states it" || ko "clock step in the text summary"
"$BIN" -r "$P/esp_collision-inside.pcap" --json >"$TMP/plain.json"
grep -q clock_steps "$TMP/plain.json" && ko "a capture without a step reports one" ||
    ok "no step, no clock_steps field"

# compare ORIG STEPPED: mappings, matched/unmatched counts and the stale_nat finding
compare() {
    python3 - "$1" "$2" <<'PY'
import json, sys
def load(f):
    rs = [json.loads(l) for l in open(f)]
    maps = sorted(json.dumps({k: r[k] for k in ("proto", "inside", "outside", "peer", "translated",
                  "evidence", "to_peer", "from_peer")}, sort_keys=True)
                  for r in rs if r["type"] == "nat_mapping")
    fs = [r for r in rs if r["type"] == "finding"]
    summ = [r for r in rs if r["type"] == "summary"][0]
    return rs, maps, fs, summ
a, ma, fa, sa = load(sys.argv[1])
b, mb, fb, sb = load(sys.argv[2])
bad = []
if not ma:
    bad.append("the original has no mapping")
if ma != mb:
    bad.append("mappings differ:\n  %s\n  %s" % (ma, mb))
for k in ("matched_packets", "inside_only", "outside_only", "uncovered"):
    if sa["nat"][k] != sb["nat"][k]:
        bad.append("nat.%s %s != %s" % (k, sa["nat"][k], sb["nat"][k]))
ka = sorted((f["kind"], f["severity"], f["confidence"]) for f in fa)
kb = sorted((f["kind"], f["severity"], f["confidence"]) for f in fb)
if ka != kb or ("stale_nat", "warning", "confirmed") not in ka:
    bad.append("findings differ: %s / %s" % (ka, kb))
for x, y in zip(sorted(fa, key=lambda f: f["kind"]), sorted(fb, key=lambda f: f["kind"])):
    ex, ey = x["evidence"], y["evidence"]
    if ex.get("frames") != ey.get("frames"):
        bad.append("%s frames differ" % x["kind"])
    for k, v in ex.items():
        if isinstance(v, float) and abs(v - ey.get(k, 1e30)) > 0.001:
            bad.append("%s evidence %s: %s vs %s" % (x["kind"], k, v, ey.get(k)))
if not sb.get("clock_steps") or sb["clock_steps"][0]["offset_from"] != "other_capture":
    bad.append("no measured clock step in the summary: %s" % sb.get("clock_steps"))
elif abs(abs(sb["clock_steps"][0]["offset_s"]) - 3600) > 0.001:
    bad.append("offset %s, not 3600 s" % sb["clock_steps"][0]["offset_s"])
print("\n".join(bad))
sys.exit(1 if bad else 0)
PY
}
"$BIN" --inside "$P/stale_nat-inside.pcap" --outside "$P/stale_nat-outside.pcap" --json >"$TMP/sn.json"
$RETIME "$P/stale_nat-inside.pcap" "$TMP/in-step.pcap" --step 18 -3600
"$BIN" --inside "$TMP/in-step.pcap" --outside "$P/stale_nat-outside.pcap" --json >"$TMP/sn-in.json" 2>"$TMP/sn-in.err"
compare "$TMP/sn.json" "$TMP/sn-in.json" >"$TMP/cmp" && ok "inside clock back one hour half way: mappings and stale_nat unchanged" ||
    ko "inside clock back one hour" "$TMP/cmp"
$RETIME "$P/stale_nat-outside.pcap" "$TMP/out-step.pcap" --step 20 -3600
"$BIN" --inside "$P/stale_nat-inside.pcap" --outside "$TMP/out-step.pcap" --json >"$TMP/sn-out.json" 2>"$TMP/sn-out.err"
compare "$TMP/sn.json" "$TMP/sn-out.json" >"$TMP/cmp" && ok "outside clock back one hour half way: mappings and stale_nat unchanged" ||
    ko "outside clock back one hour" "$TMP/cmp"

$RETIME "$P/stale_nat-inside.pcap" "$TMP/in-fwd.pcap" --step 18 3600
"$BIN" --inside "$TMP/in-fwd.pcap" --outside "$P/stale_nat-outside.pcap" --json >"$TMP/sn-fwd.json" 2>"$TMP/sn-fwd.err"
compare "$TMP/sn.json" "$TMP/sn-fwd.json" >"$TMP/cmp" && ok "inside clock forward one hour half way: mappings and stale_nat unchanged" ||
    ko "inside clock forward one hour" "$TMP/cmp"
grep -q '"clock_steps":\[{"capture":"inside","frame":18,[^]]*"step_s":3600\.[0-9]*,"offset_s":-3600\.[0-9]*,"offset_from":"other_capture","direction":"forward"}\]' "$TMP/sn-fwd.json" &&
    ok "inside clock forward one hour: a forward step at frame 18, measured against the other capture" ||
    ko "forward step in the two-capture summary" "$TMP/sn-fwd.json"

# same_but_shifted ORIG STEPPED: the same findings (kinds), no stale_nat, every first_ts/last_ts
# within 1 s of the original's (records in the same order)
same_but_shifted() {
    python3 - "$1" "$2" <<'PY'
import json, sys
from datetime import datetime
def load(f):
    return [json.loads(l) for l in open(f)]
def t(s):
    return datetime.strptime(s, "%Y-%m-%dT%H:%M:%S.%fZ").timestamp()
a, b = load(sys.argv[1]), load(sys.argv[2])
bad = []
ka = sorted(r["kind"] for r in a if r["type"] == "finding")
kb = sorted(r["kind"] for r in b if r["type"] == "finding")
if ka != kb:
    bad.append("findings differ: %s / %s" % (ka, kb))
if "stale_nat" in kb:
    bad.append("stale_nat from the step")
ra = [r for r in a if r["type"] not in ("summary", "finding")]
rb = [r for r in b if r["type"] not in ("summary", "finding")]
if len(ra) != len(rb) or not ra:
    bad.append("%d records, %d in the original" % (len(rb), len(ra)))
for x, y in zip(ra, rb):
    for k in ("first_ts", "last_ts"):
        if k in x and abs(t(x[k]) - t(y.get(k, "1970-01-01T00:00:00.0Z"))) > 1.0:
            bad.append("%s %s %s vs %s" % (x["type"], k, x[k], y.get(k)))
print("\n".join(bad))
sys.exit(1 if bad else 0)
PY
}
"$BIN" -r "$P/esp_two_servers-inside.pcap" --json >"$TMP/two.json"
$RETIME "$P/esp_two_servers-inside.pcap" "$TMP/two-fwd.pcap" --step 22 3600
"$BIN" -r "$TMP/two-fwd.pcap" --json >"$TMP/two-fwd.json"
grep -q '"clock_steps":\[{"capture":"single","frame":22,[^]]*"step_s":3599\.[0-9]*,"offset_s":-3599\.[0-9]*,"offset_from":"flow_interval_assumed","direction":"forward","assumed_s":[0-9.]*}\],"clock_steps_total":1' "$TMP/two-fwd.json" &&
    ok "one capture, clock forward one hour: a forward step at frame 22 in the summary" || ko "forward step in the summary" "$TMP/two-fwd.json"
same_but_shifted "$TMP/two.json" "$TMP/two-fwd.json" >"$TMP/cmp" &&
    ok "one capture, clock forward one hour: same findings, no stale_nat, times corrected" || ko "forward step corrected" "$TMP/cmp"
"$BIN" -r "$TMP/two-fwd.pcap" >"$TMP/two-fwd.txt"
grep -q '^  Clock step: single capture, frame 22: .*(+3599\.[0-9]* s); later times -3599\.[0-9]* s (forward: the counters continue, one packet interval assumed)$' "$TMP/two-fwd.txt" &&
    ok "one capture, clock forward: the text summary states it" || ko "forward step in the text summary" "$TMP/two-fwd.txt"
$RETIME "$P/esp_two_servers-inside.pcap" "$TMP/two-gap.pcap" --step 31 20 --drop 22 30
"$BIN" -r "$TMP/two-gap.pcap" --json >"$TMP/two-gap.json"
! grep -q clock_steps "$TMP/two-gap.json" && grep -q '"capture_gaps":\[{"capture":"single","frame":22,' "$TMP/two-gap.json" &&
    ok "one capture, packets left out and 20 s gone: a capture gap, not a clock step" || ko "capture gap" "$TMP/two-gap.json"
"$BIN" -r "$TMP/two-gap.pcap" >"$TMP/two-gap.txt"
grep -q '^  Capture gap: single capture, frame 22: .*not a clock step)$' "$TMP/two-gap.txt" &&
    ok "one capture, capture gap: the text summary states it" || ko "capture gap in the text summary" "$TMP/two-gap.txt"

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
