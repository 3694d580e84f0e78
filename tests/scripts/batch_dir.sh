#!/usr/bin/env bash
# batch_dir.sh - --batch over a directory tree: bundled captures (one in a subdirectory, one gzip),
# a corrupt capture, a capture cut off mid-record and a file that is not a capture. Checks: the
# output is the same with -j1 and -j3 (ordered by path); every record carries "file"; each
# capture's records are those of `vpnscope -r FILE --json` (plus "file"); one capture_summary per
# capture (packets, tunnels, findings by kind, exit_status, error) and a rollup that adds them
# up; the corrupt capture is a failed line, not the end of the run; the non-capture file is
# skipped; the exit status is the worst; text mode prints one row per capture. Then GNU parallel
# (-j2, locally) over the same captures: the merged records equal those of --batch.
# Skips (77) without python3/gzip (parallel: that part only); under CI=true a skip is a failure.
set -uo pipefail
SRC=${VPNSCOPE_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
BIN=${VPNSCOPE_BIN:-$SRC/build/release/vpnscope}
. "$(dirname "$0")/lib_check.sh" # skip, ok, ko, check_done
for t in python3 gzip; do command -v $t >/dev/null || skip "$t not installed"; done
P=$SRC/pcaps
for f in esp_collision-inside.pcap esp_collision-outside.pcap ah_esp_bundle.pcap natt_keepalive_ok-inside.pcap mixed-snaplen.pcapng; do
    [ -f "$P/$f" ] || skip "$f missing"
done
TMP=$(mktemp -d "${TMPDIR:-/tmp}/vpnscope-batch.XXXXXX") || exit 1
trap 'rm -rf "$TMP"' EXIT
D=$TMP/caps
mkdir -p "$D/sub/deeper"
cp "$P/esp_collision-inside.pcap" "$P/ah_esp_bundle.pcap" "$P/mixed-snaplen.pcapng" "$D/"
cp "$P/esp_collision-outside.pcap" "$D/sub/"
gzip -c "$P/natt_keepalive_ok-inside.pcap" >"$D/sub/deeper/natt.pcap.gz"
printf '\xd4\xc3\xb2\xa1this is not a pcap header at all' >"$D/sub/corrupt.pcap"
head -c 300 "$P/esp_collision-inside.pcap" >"$D/cut.pcap"
echo "notes about the captures" >"$D/README.txt"
caps=("$D/ah_esp_bundle.pcap" "$D/cut.pcap" "$D/esp_collision-inside.pcap" "$D/mixed-snaplen.pcapng"
    "$D/sub/corrupt.pcap" "$D/sub/deeper/natt.pcap.gz" "$D/sub/esp_collision-outside.pcap")

"$BIN" --batch "$D" -j1 --json >"$TMP/j1.jsonl" 2>"$TMP/j1.err"
st1=$?
"$BIN" --json -j3 --batch "$D" >"$TMP/j3.jsonl" 2>"$TMP/j3.err"
st3=$?
[ $st1 = 2 ] && [ $st3 = 2 ] && cmp -s "$TMP/j1.jsonl" "$TMP/j3.jsonl" && ok "-j1 and -j3: the same output, exit 2 (the worst)" ||
    ko "-j1 vs -j3 (exit $st1, $st3)" "$TMP/j1.err"

# reference: each capture alone
for c in "${caps[@]}"; do
    "$BIN" -r "$c" --json >"$TMP/ref.$(basename "$c").jsonl" 2>/dev/null
    echo $? >"$TMP/ref.$(basename "$c").st"
done
python3 - "$TMP" "$TMP/j1.jsonl" "${caps[@]}" <<'PY' >"$TMP/check.txt" 2>&1
import json, sys, os
tmp, out, caps = sys.argv[1], sys.argv[2], sys.argv[3:]
recs = [json.loads(l) for l in open(out)]
bad = []
def fail(msg):
    bad.append(msg)
if recs[-1]["type"] != "rollup":
    fail("last record is not the rollup")
roll = recs[-1]
body = recs[:-1]
if any("file" not in r for r in body):
    fail("a record without file")
summaries = [r for r in body if r["type"] == "capture_summary"]
if [s["file"] for s in summaries] != caps:
    fail("capture_summary files %s, want %s" % ([s["file"] for s in summaries], caps))
# the records of each capture come before its summary, in path order
order = []
for r in body:
    if not order or order[-1] != r["file"]:
        order.append(r["file"])
if order != caps:
    fail("records not grouped in path order: %s" % order)
kinds = {}
for s in summaries:
    c = s["file"]
    name = os.path.basename(c)
    st = int(open(os.path.join(tmp, "ref.%s.st" % name)).read())
    ref = [json.loads(l) for l in open(os.path.join(tmp, "ref.%s.jsonl" % name))]
    mine = [dict(r) for r in body if r["file"] == c and r["type"] != "capture_summary"]
    for r in mine:
        del r["file"]
    if s["exit_status"] != st:
        fail("%s: exit_status %s, alone %s" % (name, s["exit_status"], st))
    if st == 2 and not s.get("warning"):
        if not s["error"] or mine:
            fail("%s: failed capture without error or with records" % name)
        continue
    if mine != ref:
        fail("%s: records differ from vpnscope -r" % name)
    summ = [r for r in ref if r["type"] == "summary"][0]
    if s["packets"] != summ["packets"] or s["error"] is not None:
        fail("%s: packets %s want %s" % (name, s["packets"], summ["packets"]))
    fk = {}
    for r in ref:
        if r["type"] == "finding":
            fk[r["kind"]] = fk.get(r["kind"], 0) + 1
    if s["findings"] != fk:
        fail("%s: findings %s want %s" % (name, s["findings"], fk))
    nt = sum(1 for r in ref if r["type"] in ("ike_sa", "esp_sa", "ah_sa", "pptp_call", "pptp_ctrl", "gre", "l2tp"))
    if s["tunnels"] != nt:
        fail("%s: tunnels %s want %s" % (name, s["tunnels"], nt))
    for k, v in fk.items():
        kinds[k] = kinds.get(k, 0) + v
cut = [s for s in summaries if s["file"].endswith("cut.pcap")][0]
if not cut["warning"] or "cut off" not in cut["warning"]:
    fail("cut.pcap: no warning: %s" % cut)
want = {"captures": len(caps), "failed": sum(bool(s["error"]) for s in summaries), "skipped": 1,
        "packets": sum(s["packets"] for s in summaries), "tunnels": sum(s["tunnels"] for s in summaries),
        "findings": kinds, "exit_status": max(s["exit_status"] for s in summaries)}
for k, v in want.items():
    if roll.get(k) != v:
        fail("rollup %s = %s, want %s" % (k, roll.get(k), v))
# the corrupt file fails; the cut one is analysed up to the damage, and a cut capture without a
# finding never gets a clean bill (exit 2, README "Exit status") but is not a failed analysis
if cut["exit_status"] == 0 or cut["error"] or want["failed"] != 1 or not kinds:
    fail("the tree should hold one failed capture, a cut one not passed clean, and some findings: %s" % want)
print("\n".join(bad) if bad else "fine")
sys.exit(1 if bad else 0)
PY
[ $? = 0 ] && ok "records, capture_summary per capture, rollup (corrupt: failed line; README.txt: skipped)" || ko "batch records" "$TMP/check.txt"

# text: a header, one row per capture, the rollup line
"$BIN" --batch "$D" >"$TMP/t.txt" 2>/dev/null
st=$?
rows=$(grep -c "^$D/" "$TMP/t.txt")
if [ $st = 2 ] && [ "$rows" = ${#caps[@]} ] && grep -q "^$D/sub/corrupt.pcap .* 2  error: " "$TMP/t.txt" &&
    grep -q "^7 captures, 1 failed, 1 skipped" "$TMP/t.txt" && head -1 "$TMP/t.txt" | grep -q "^CAPTURE"; then
    ok "text: one row per capture ($rows), the failed one with its error, the rollup line"
else
    ko "text table (exit $st, $rows rows)" "$TMP/t.txt"
fi
# explicit paths: files are analysed even without a capture's magic; the order is by path
"$BIN" --batch "$D/README.txt" "$D/ah_esp_bundle.pcap" >"$TMP/e.txt" 2>&1
st=$?
[ $st = 2 ] && grep -q "^$D/README.txt .* 2  error: " "$TMP/e.txt" && [ "$(grep -c "^$D/" "$TMP/e.txt")" = 2 ] &&
    ok "an explicit non-capture file is a failed row" || ko "explicit files (exit $st)" "$TMP/e.txt"
"$BIN" --batch "$TMP/nonexistent" >"$TMP/n.txt" 2>&1
[ $? = 2 ] && grep -q "nonexistent" "$TMP/n.txt" && ok "a missing path: one line, exit 2" || ko "missing path" "$TMP/n.txt"
"$BIN" --batch "$D/ah_esp_bundle.pcap" -r "$D/cut.pcap" >"$TMP/n.txt" 2>&1
[ $? = 2 ] && grep -q "batch takes its own paths" "$TMP/n.txt" && ok "--batch with -r refused" || ko "--batch with -r" "$TMP/n.txt"
# a BPF expression after the paths applies to every capture
"$BIN" --batch "$D/esp_collision-inside.pcap" esp --json >"$TMP/f.jsonl" 2>/dev/null
"$BIN" -r "$D/esp_collision-inside.pcap" esp --json >"$TMP/fr.jsonl" 2>/dev/null
[ "$(grep -c '"type":"esp_sa"' "$TMP/f.jsonl")" -gt 0 ] && grep -q '"filtered":[1-9]' "$TMP/fr.jsonl" &&
    diff <(grep -v capture_summary "$TMP/f.jsonl" | grep -v rollup | sed 's/"file":"[^"]*",//') "$TMP/fr.jsonl" >/dev/null &&
    ok "--batch PATH esp: the words after the paths are the filter" || ko "--batch with a filter"

# ---- GNU parallel: the same records, merged ----
if command -v parallel >/dev/null; then
    # each job's output is kept whole (parallel groups it); the order of the jobs does not matter
    parallel -j2 --will-cite "$BIN" --batch {} --json ::: "${caps[@]}" >"$TMP/merged.jsonl" 2>/dev/null
    if python3 - "$TMP/merged.jsonl" "$TMP/j1.jsonl" <<'PY'; then
import json, sys
def recs(p):
    return sorted(json.dumps(json.loads(l), sort_keys=True) for l in open(p)
                  if json.loads(l)["type"] != "rollup")
a, b = recs(sys.argv[1]), recs(sys.argv[2])
sys.exit(0 if a == b and len(a) > 10 else 1)
PY
        ok "parallel -j2 over the captures: the merged records equal --batch's (sorted)"
    else
        ko "parallel -j2 merged records differ from --batch"
    fi
else
    skip "GNU parallel not installed (scripts/setup-debian.sh)"
fi

echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
