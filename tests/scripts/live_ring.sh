#!/usr/bin/env bash
# live_ring.sh - -w with tcpdump's rotation on a live capture: a veth pair between two network
# namespaces made by the test (names prefixed batch-, veths created inside them, no route out,
# removed by a trap); a bundled capture replayed with tcpreplay into `vpnscope -i`. Checks:
# -C 1 -W 3 keeps a ring of FILE0..FILE2 (no fourth file), each at most 1,000,000 bytes past
# one packet, holding fewer packets than were captured once the ring wrapped; -G 1 -W 2 names the
# files with the strftime(3) format given to -w, one per second of packet time, and ends the
# capture by itself after the second (as tcpdump); every file opens in tshark. Waits for states
# with deadlines (the "listening on" line, the process end), never bare sleeps.
# Skips (77) without root/ip/tcpreplay/tshark; under CI=true a skip is a failure (exit 1).
set -uo pipefail
. "$(dirname "$0")/lib_netns.sh"

need_bin
need_root
need_tools ip tcpreplay tshark python3 timeout
PCAP=$SRC/pcaps/mtu_blackhole-outside.pcap
SMALL=$SRC/pcaps/esp_collision-inside.pcap
need_files "$PCAP" "$SMALL"

netns_setup
netns_pair batch-tx-$ID batch-rx-$ID bta$ID btb$ID

# the files after the first are created after the capture dropped its privileges (as tcpdump
# does): the output directory must be writable by that user
OUT=$TMP/out
chmod 711 "$TMP" && mkdir -m 1777 "$OUT"
npk() { tshark -r "$1" -T fields -e frame.number 2>/dev/null | wc -l; }
opens() { tshark -r "$1" -c 1 >/dev/null 2>&1; }
summary_packets() { python3 -c 'import json,sys
for l in open(sys.argv[1]):
    r = json.loads(l)
    if r["type"] == "summary": print(r["packets"])' "$1"; }

# ---- -C 1 -W 3: a ring of three files of at most 1 MB ----
ip netns exec "$NS_RX" "$BIN" -i "$IFB" --json -w "$OUT/ring.pcap" -C 1 -W 3 >"$TMP/c.jsonl" 2>"$TMP/c.err" &
pid=$!
PIDS+=($pid)
wait_listening "$TMP/c.err" || ko "-C: vpnscope listens" "$TMP/c.err"
ip netns exec "$NS_TX" tcpreplay -q -i "$IFA" --loop 80 --pps 4000 "$PCAP" >/dev/null 2>&1
kill -INT $pid 2>/dev/null
wait_exit $pid 20
st=$?
[ $st -lt 2 ] && ok "-C: SIGINT ends the capture (exit $st)" || ko "-C: exit $st" "$TMP/c.err"
captured=$(summary_packets "$TMP/c.jsonl")
files=$(cd "$OUT" && ls ring.pcap* 2>/dev/null | tr '\n' ' ')
if [ "$files" = "ring.pcap0 ring.pcap1 ring.pcap2 " ]; then
    ok "-C 1 -W 3: the ring ring.pcap0..ring.pcap2, no fourth file"
else
    ko "-C 1 -W 3: files '$files'" "$TMP/c.err"
fi
inring=0
allopen=1
for f in "$OUT"/ring.pcap*; do
    [ -f "$f" ] || continue
    opens "$f" || allopen=0
    [ "$(stat -c %s "$f")" -le $((1000000 + 65536 + 16)) ] || allopen=0
    inring=$((inring + $(npk "$f")))
done
[ $allopen = 1 ] && ok "-C: every file opens in tshark and is at most 1 MB past one packet" || ko "-C: a file does not open or is too big"
[ -n "$captured" ] && [ "$inring" -gt 0 ] && [ "$inring" -lt "$captured" ] &&
    ok "-C: the ring wrapped ($inring of $captured captured packets kept)" || ko "-C: $inring kept of '${captured}' captured"

# ---- -G 1 -W 2: strftime names, one file per second, the capture ends by itself ----
ip netns exec "$NS_RX" "$BIN" -i "$IFB" --json -w "$OUT/g-%s.pcap" -G 1 -W 2 >"$TMP/g.jsonl" 2>"$TMP/g.err" &
pid=$!
PIDS+=($pid)
wait_listening "$TMP/g.err" || ko "-G: vpnscope listens" "$TMP/g.err"
# 44 packets at 20 per second, three times: more than two seconds of packet time
ip netns exec "$NS_TX" tcpreplay -q -i "$IFA" --loop 3 --pps 20 "$SMALL" >/dev/null 2>&1 &
rp=$!
PIDS+=($rp)
if wait_ended $pid 30; then
    st=$WAITED
else
    ko "-G 1 -W 2: the capture did not end by itself after two files"
    wait_exit $pid 0
    st=$?
fi
kill $rp 2>/dev/null
gf=$(cd "$OUT" && ls g-*.pcap 2>/dev/null)
n=$(echo "$gf" | grep -c '^g-[0-9]*\.pcap$')
t1=$(echo "$gf" | sed -n 1p | tr -dc 0-9)
t2=$(echo "$gf" | sed -n 2p | tr -dc 0-9)
if [ "$n" = 2 ] && [ -n "$t1" ] && [ -n "$t2" ] && [ "$t2" -gt "$t1" ] && [ $st -lt 2 ]; then
    ok "-G 1 -W 2: two files named by the window's start (g-$t1.pcap, g-$t2.pcap), exit $st"
else
    ko "-G 1 -W 2: files '$gf', exit $st" "$TMP/g.err"
fi
for f in "$OUT"/g-*.pcap; do
    [ -f "$f" ] || continue
    first=$(tshark -r "$f" -T fields -e frame.time_epoch 2>/dev/null | head -1 | cut -d. -f1)
    last=$(tshark -r "$f" -T fields -e frame.time_epoch 2>/dev/null | tail -1 | cut -d. -f1)
    start=$(basename "$f" .pcap | tr -dc 0-9)
    if opens "$f" && [ -n "$first" ] && [ "$first" -ge "$start" ] && [ "$last" -le $((start + 1)) ]; then
        ok "-G: $(basename "$f") opens in tshark, its packets within its second ($(npk "$f") packets)"
    else
        ko "-G: $(basename "$f") (first $first, last $last)"
    fi
done
tail -1 "$TMP/g.jsonl" | grep -q '"type":"summary"' && ok "-G: the run ends with its summary" || ko "-G: no summary" "$TMP/g.jsonl"

netns_done
