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
SRC=${VPNSCOPE_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
BIN=${VPNSCOPE_BIN:-$SRC/build/release/vpnscope}
skip() {
    echo "SKIP: $*"
    if [ "${CI:-}" = true ]; then exit 1; fi
    exit 77
}
[ -x "$BIN" ] || skip "vpnscope binary not found: $BIN"
[ "$(id -u)" = 0 ] || skip "needs root to create network namespaces"
for t in ip tcpreplay tshark python3 timeout; do command -v $t >/dev/null || skip "$t not installed"; done
PCAP=$SRC/pcaps/mtu_blackhole-outside.pcap
SMALL=$SRC/pcaps/esp_collision-inside.pcap
for f in "$PCAP" "$SMALL"; do [ -f "$f" ] || skip "$f missing"; done

ID=$$
NS_TX=batch-tx-$ID
NS_RX=batch-rx-$ID
IFA=bta$ID
IFB=btb$ID
TMP=$(mktemp -d "${TMPDIR:-/tmp}/vpnscope-ring.XXXXXX") || exit 1
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
    for ns in "$NS_TX" "$NS_RX"; do ip netns del "$ns" 2>/dev/null; done
    rm -rf "$TMP"
}
trap cleanup EXIT
mkns() {
    ip netns add "$1" || return 1
    ip netns exec "$1" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1 >/dev/null 2>&1
    ip -n "$1" link set lo up
}
mkns "$NS_TX" && mkns "$NS_RX" || skip "cannot create network namespaces"
ip -n "$NS_TX" link add "$IFA" type veth peer name "$IFB" netns "$NS_RX" || skip "cannot create a veth pair"
ip netns exec "$NS_TX" sysctl -qw "net.ipv6.conf.$IFA.disable_ipv6=1" >/dev/null 2>&1
ip netns exec "$NS_RX" sysctl -qw "net.ipv6.conf.$IFB.disable_ipv6=1" >/dev/null 2>&1
ip -n "$NS_TX" link set "$IFA" up && ip -n "$NS_RX" link set "$IFB" up || skip "cannot bring the veth pair up"

# the files after the first are created after the capture dropped its privileges (as tcpdump
# does): the output directory must be writable by that user
OUT=$TMP/out
chmod 711 "$TMP" && mkdir -m 1777 "$OUT"
pass=0
fail=0
ok() {
    pass=$((pass + 1))
    echo "ok   - $1"
}
ko() {
    fail=$((fail + 1))
    echo "FAIL - $1"
    [ -n "${2:-}" ] && head -20 "$2" | sed 's/^/    /'
}
wait_grep() { # FILE REGEX SECONDS
    local end=$((SECONDS + $3))
    while [ $SECONDS -le "$end" ]; do
        grep -qE -- "$2" "$1" 2>/dev/null && return 0
        sleep 0.05
    done
    return 1
}
wait_gone() { # PID SECONDS: until the process ends; SIGINT at the deadline
    local end=$((SECONDS + $2))
    while [ $SECONDS -le "$end" ] && kill -0 "$1" 2>/dev/null; do sleep 0.05; done
    kill -0 "$1" 2>/dev/null && kill -INT "$1"
}
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
wait_grep "$TMP/c.err" '^vpnscope: listening on ' 15 || ko "-C: vpnscope listens" "$TMP/c.err"
ip netns exec "$NS_TX" tcpreplay -q -i "$IFA" --loop 80 --pps 4000 "$PCAP" >/dev/null 2>&1
kill -INT $pid 2>/dev/null
wait_gone $pid 20
wait $pid
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
wait_grep "$TMP/g.err" '^vpnscope: listening on ' 15 || ko "-G: vpnscope listens" "$TMP/g.err"
# 44 packets at 20 per second, three times: more than two seconds of packet time
ip netns exec "$NS_TX" tcpreplay -q -i "$IFA" --loop 3 --pps 20 "$SMALL" >/dev/null 2>&1 &
rp=$!
PIDS+=($rp)
end=$((SECONDS + 30))
while [ $SECONDS -le $end ] && kill -0 $pid 2>/dev/null; do sleep 0.05; done
if kill -0 $pid 2>/dev/null; then
    ko "-G 1 -W 2: the capture did not end by itself after two files"
    kill -INT $pid
fi
wait $pid
st=$?
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

echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
