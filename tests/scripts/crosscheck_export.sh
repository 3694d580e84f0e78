#!/usr/bin/env bash
# crosscheck_export.sh - --export DIR writes one pcapng per finding that tshark reads back: as many
# packets as the finding lists frames, each with the comment "<capture> frame N: <role>", the same
# bytes (frame length, IP addresses) as frame N of the input it came from, timestamps in order and
# on the inside clock (outside frames shifted by the clock offset, checked on a capture shifted by
# 60 s), and DIR/index.jsonl naming each file. Also: --export with a pipe input fails with one line.
# Needs tshark and python3 (a skip without them; a failure under CI=true).
set -uo pipefail
src=${VPNSCOPE_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
bin=${VPNSCOPE_BIN:-$src/build/release/vpnscope}
if ! command -v tshark >/dev/null || ! command -v python3 >/dev/null; then
    echo "SKIP: tshark or python3 missing"
    [ "${CI:-}" = true ] && exit 1
    exit 77
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
P=$src/pcaps
fail=0
checked=0
# name | vpnscope input arguments | inside/single file | outside file
cases=(
    "esp_collision-dual|--inside $P/esp_collision-inside.pcap --outside $P/esp_collision-outside.pcap|$P/esp_collision-inside.pcap|$P/esp_collision-outside.pcap"
    "esp_collision-in|-r $P/esp_collision-inside.pcap|$P/esp_collision-inside.pcap|"
    "router|--router $P/router-esp_collision.pcapng|$P/router-esp_collision.pcapng|$P/router-esp_collision.pcapng"
    "pptp-dual|--inside $P/pptp_nohelper-inside.pcap --outside $P/pptp_nohelper-outside.pcap|$P/pptp_nohelper-inside.pcap|$P/pptp_nohelper-outside.pcap"
    "stale-dual|--inside $P/stale_nat-inside.pcap --outside $P/stale_nat-outside.pcap|$P/stale_nat-inside.pcap|$P/stale_nat-outside.pcap"
    "shift60|--inside $P/ss-ikev2-dpd-stale-inside.pcap --outside $P/ss-ikev2-dpd-stale-outside+60s.pcap|$P/ss-ikev2-dpd-stale-inside.pcap|$P/ss-ikev2-dpd-stale-outside+60s.pcap"
)
fields() { tshark -r "$1" -T fields -E separator='|' -e frame.number -e frame.time_epoch -e frame.len -e ip.src -e ip.dst -e ipv6.src -e ipv6.dst -e frame.comment 2>/dev/null; }
for c in "${cases[@]}"; do
    IFS='|' read -r name args fin fout <<<"$c"
    out=$tmp/$name
    # shellcheck disable=SC2086
    "$bin" --no-progress --json $args --export "$out" >"$tmp/$name.jsonl" 2>"$tmp/$name.err"
    rc=$?
    if [ $rc -gt 1 ]; then
        echo "FAIL $name: exit $rc: $(cat "$tmp/$name.err")"
        fail=1
        continue
    fi
    fields "$fin" >"$tmp/$name.in.tsv"
    : >"$tmp/$name.out.tsv"
    [ -n "$fout" ] && fields "$fout" >"$tmp/$name.out.tsv"
    for f in "$out"/*.pcapng; do
        [ -f "$f" ] || continue
        fields "$f" >"$f.tsv"
    done
    python3 - "$out" "$tmp/$name.in.tsv" "$tmp/$name.out.tsv" "$tmp/$name.jsonl" "$name" <<'PY' || fail=1
import json, os, sys
out, fin, fout, report, name = sys.argv[1:]
def load(p):
    rows = {}
    for line in open(p):
        c = line.rstrip("\n").split("|")
        rows[int(c[0])] = c
    return rows
src = {"inside": load(fin), "single": load(fin), "outside": load(fout) if os.path.getsize(fout) else {}}
recs = [json.loads(l) for l in open(report)]
clock = [r for r in recs if r["type"] == "clock_offset"]
offset = clock[0]["seconds"] if clock and "router" not in name else 0.0
findings = [r for r in recs if r["type"] == "finding"]
index = [json.loads(l) for l in open(os.path.join(out, "index.jsonl"))]
bad = 0
if len(index) != len(findings) or not findings:
    print(f"{name}: {len(index)} index lines for {len(findings)} findings"); bad = 1
for ix in index:
    rows = list(load(os.path.join(out, ix["file"] + ".tsv")).values())
    frames = ix["evidence"]["frames"]
    if len(rows) != len(frames) or ix["packets"] != len(frames):
        print(f"{name}: {ix['file']}: {len(rows)} packets, {len(frames)} frames listed"); bad = 1
    want = {f"{f['capture'] if f['capture'] != 'single' else 'capture'} frame {f['frame']}: {f.get('role', 'evidence')}": f for f in frames}
    last = 0.0
    for r in rows:
        f = want.get(r[7])
        if f is None:
            print(f"{name}: {ix['file']}: unexpected comment {r[7]!r}"); bad = 1; continue
        o = src[f["capture"]].get(f["frame"])
        if o is None or o[2:7] != r[2:7]:
            print(f"{name}: {ix['file']}: packet {r[0]} differs from {f['capture']} frame {f['frame']}: {o} vs {r}"); bad = 1
            continue
        ts = float(r[1]); exp = float(o[1]) - (offset if f["capture"] == "outside" else 0.0)
        if abs(ts - exp) > 0.01:  # the offset is fitted with a drift: ms apart
            print(f"{name}: {ix['file']}: frame {f['frame']} at {ts}, expected {exp} (inside clock)"); bad = 1
        if ts + 1e-6 < last:
            print(f"{name}: {ix['file']}: timestamps out of order"); bad = 1
        last = ts
print(f"{name}: {len(index)} files checked")
sys.exit(bad)
PY
    checked=$((checked + 1))
done
# a pipe cannot be read again: one line on stderr, exit 2, no half-written claim of success
if cat "$P/esp_collision-inside.pcap" | "$bin" --no-progress -r - --export "$tmp/pipe" >/dev/null 2>"$tmp/pipe.err"; then
    echo "FAIL: --export from a pipe succeeded"
    fail=1
elif [ "$(wc -l <"$tmp/pipe.err")" != 1 ] || ! grep -q "cannot be read again" "$tmp/pipe.err"; then
    echo "FAIL: --export from a pipe: $(cat "$tmp/pipe.err")"
    fail=1
fi
echo "checked $checked cases"
if [ $fail -eq 0 ]; then echo "1 passed, 0 failed"; else echo "0 passed, 1 failed"; fi
exit $fail
