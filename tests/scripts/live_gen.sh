#!/usr/bin/env bash
# live_gen.sh - the benchmark's generator (tests/bench/pktgen.c) and the live path end to end, on a
# veth pair between two network namespaces made by the test (names prefixed lgen-, veths created
# inside them, no addresses, no route out, removed by a trap). Not timed. Checks:
# 0. -B below 64 KiB, and -B with -r, are usage errors;
# 1. pktgen sends 20,000 frames of a bundled capture (looped) at 5,000 per second: it reports 20,000
#    sent, the capturing veth received exactly 20,000 frames, and `vpnscope -i IF -c 20000 --json`
#    ends by itself (it counted them all) with packets 20000 and kernel_drops 0 in its summary;
#    with -B 64 (64 KiB, the smallest buffer) the same ends with packets + kernel_drops = 20,000
#    too (every frame either analysed or counted as dropped; when some were dropped -c is never
#    reached, and the capture is interrupted 5 s after the generator ended);
# 2. live -w (flushed when the kernel ring runs dry, not per packet): the file holds all 3,000
#    frames sent while the capture is still running;
# 3. pktgen replays bundled captures once at their own timing (-x 1): `vpnscope -i` (-c the
#    capture's frame count) reports the same findings (kind, severity, confidence) and the same
#    packet count as `vpnscope -r` on the file.
# Waits for states with deadlines (the "listening on" line, the process's own end), never bare
# sleeps. Skips (77) when not root or without ip/python3/pktgen; under CI=true a skip is a failure.
set -uo pipefail
. "$(dirname "$0")/lib_netns.sh"

need_bin
need_root
need_tools ip python3
PKTGEN=${PKTGEN:-${VPNSCOPE_BUILD:-$SRC/build/release}/tests/pktgen}
[ -x "$PKTGEN" ] || skip "pktgen not built: '$PKTGEN' (PKTGEN)"
LOOPED=$SRC/pcaps/mtu_blackhole-outside.pcap
REPLAYS="esp_collision-inside pptp_nohelper-inside natt_not_used-inside"
need_files "$LOOPED"
for c in $REPLAYS; do need_files "$SRC/pcaps/$c.pcap"; done

netns_setup
netns_pair lgen-tx-$ID lgen-rx-$ID lga$ID lgb$ID

kv() { sed -n "s/.*\b$1=\([0-9]*\).*/\1/p" "$2"; }
rx_packets() { ip -s -n "$NS_RX" -j link show "$IFB" | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["stats64"]["rx"]["packets"])'; }
summary() { python3 -c 'import json,sys
s = None
for l in open(sys.argv[1]):
    r = json.loads(l)
    if r["type"] == "summary": s = r
print(s["packets"], s.get("kernel_drops", "-")) if s else print("- -")' "$1"; }
# the findings of a JSON report, one "kind severity confidence" a line, sorted
findings() { python3 -c 'import json,sys
out = []
for l in open(sys.argv[1]):
    r = json.loads(l)
    if r["type"] == "finding": out.append("%s %s %s" % (r["kind"], r["severity"], r["confidence"]))
print("\n".join(sorted(out)))' "$1"; }

# capture NAME COUNT [vpnscope options]: vpnscope -i on the capturing end in the background
capture() {
    local name=$1 count=$2
    shift 2
    ip netns exec "$NS_RX" "$BIN" -i "$IFB" --json -c "$count" "$@" >"$TMP/$name.jsonl" 2>"$TMP/$name.err" &
    CAP=$!
    PIDS+=("$CAP")
    wait_listening "$TMP/$name.err" || ko "$name: vpnscope listens" "$TMP/$name.err"
}
# ended NAME: vpnscope ended by itself within 20 s (exit 0 or 1), else it is interrupted
ended() {
    if wait_ended "$CAP" 20 && [ "$WAITED" -lt 2 ]; then
        return 0
    fi
    kill -INT "$CAP" 2>/dev/null
    wait "$CAP" 2>/dev/null
    return 1
}

# ---- 0. -B: KiB from 64 to 2097151, live capture only (usage errors, exit 2) ----
"$BIN" -i "$IFB" -B 63 >/dev/null 2>"$TMP/b.err"
st1=$?
"$BIN" -r "$LOOPED" -B 1024 >/dev/null 2>"$TMP/b2.err"
st2=$?
[ $st1 = 2 ] && grep -q -- '-B needs a buffer size in KiB from 64 to 2097151: 63' "$TMP/b.err" &&
    [ $st2 = 2 ] && grep -q -- '-B goes with live capture' "$TMP/b2.err" &&
    ok "-B 63 and -B with -r are usage errors (exit 2)" || ko "-B usage: exit $st1/$st2" "$TMP/b.err"

# ---- 1. 20,000 frames at 5,000 per second: all sent, all received, all counted, none dropped ----
N=20000
rx0=$(rx_packets)
capture count $N
ip netns exec "$NS_TX" "$PKTGEN" -q -i "$IFA" -r "$LOOPED" -n $N -p 5000 >"$TMP/count.gen" 2>&1
gst=$?
rx=$(($(rx_packets) - rx0))
[ $gst = 0 ] && [ "$(kv sent "$TMP/count.gen")" = $N ] && [ "$(kv skipped "$TMP/count.gen")" = 0 ] &&
    ok "pktgen: $N frames sent at 5000/s ($(cat "$TMP/count.gen"))" || ko "pktgen: exit $gst" "$TMP/count.gen"
[ "$rx" = $N ] && ok "the capturing veth received exactly $N frames" || ko "the veth received $rx frames, not $N"
if ended; then
    read -r pk dr < <(summary "$TMP/count.jsonl")
    [ "$pk" = $N ] && [ "$dr" = 0 ] && ok "vpnscope -i -c $N ended by itself: packets $pk, kernel_drops $dr" ||
        ko "vpnscope -i: packets '$pk', kernel_drops '$dr'" "$TMP/count.err"
else
    ko "vpnscope -i -c $N did not count $N frames within 20 s of the last: $(summary "$TMP/count.jsonl")" "$TMP/count.err"
fi

# with a 64 KiB buffer the kernel may drop: what is not analysed is counted as dropped
capture small $N -B 64
ip netns exec "$NS_TX" "$PKTGEN" -q -i "$IFA" -r "$LOOPED" -n $N -p 5000 >"$TMP/small.gen" 2>&1
# -c N cannot be reached when frames were dropped: SIGINT once the frames are in (deadline)
wait_ended "$CAP" 5 || { kill -INT "$CAP" 2>/dev/null; wait "$CAP" 2>/dev/null; }
read -r pk dr < <(summary "$TMP/small.jsonl")
[ "$pk" != - ] && [ "$dr" != - ] && [ $((pk + dr)) = $N ] &&
    ok "-B 64: every frame analysed or counted as a kernel drop ($pk + $dr = $N)" ||
    ko "-B 64: packets '$pk' + kernel_drops '$dr' != $N" "$TMP/small.err"

# ---- 2. live -w: the file holds every frame while the capture waits (before it ends) ----
pcap_records() { python3 -c 'import struct,sys
try: b = open(sys.argv[1], "rb").read()
except OSError: print(0); sys.exit()
n, o = 0, 24
while o + 16 <= len(b):
    cl = struct.unpack_from("<I", b, o + 8)[0]
    if o + 16 + cl > len(b): break
    n += 1; o += 16 + cl
print(n)' "$1"; }
M=3000
chmod 711 "$TMP" && mkdir -m 1777 "$TMP/w"
capture wfile $((M + 1)) -w "$TMP/w/live.pcap"
ip netns exec "$NS_TX" "$PKTGEN" -q -i "$IFA" -r "$LOOPED" -n $M -p 10000 >"$TMP/wfile.gen" 2>&1
end=$((SECONDS + 10))
while [ $SECONDS -le $end ] && [ "$(pcap_records "$TMP/w/live.pcap")" != $M ]; do sleep 0.05; done
got=$(pcap_records "$TMP/w/live.pcap")
kill -0 "$CAP" 2>/dev/null && [ "$got" = $M ] &&
    ok "live -w: all $M frames in the file while the capture still runs" ||
    ko "live -w: $got of $M frames in the file while capturing" "$TMP/wfile.err"
kill -INT "$CAP" 2>/dev/null
wait "$CAP" 2>/dev/null

# ---- 3. captures at their own timing: the findings of -r on the file ----
for c in $REPLAYS; do
    f=$SRC/pcaps/$c.pcap
    "$BIN" -r "$f" --json >"$TMP/$c.file.jsonl" 2>/dev/null
    n=$(summary "$TMP/$c.file.jsonl" | cut -d' ' -f1)
    capture "$c" "$n"
    ip netns exec "$NS_TX" "$PKTGEN" -q -i "$IFA" -r "$f" -x 1 >"$TMP/$c.gen" 2>&1
    if ! ended; then
        ko "$c: vpnscope -i did not count the $n frames replayed" "$TMP/$c.err"
        continue
    fi
    findings "$TMP/$c.file.jsonl" >"$TMP/$c.want"
    findings "$TMP/$c.jsonl" >"$TMP/$c.got"
    read -r pk dr < <(summary "$TMP/$c.jsonl")
    if [ -s "$TMP/$c.want" ] && cmp -s "$TMP/$c.want" "$TMP/$c.got" && [ "$pk" = "$n" ] && [ "$dr" = 0 ]; then
        ok "$c replayed live at its own timing: $pk packets, the findings of -r ($(paste -sd, "$TMP/$c.got"))"
    else
        ko "$c live: packets $pk, drops $dr; findings (-r first, then live):" "$TMP/$c.want"
        sed 's/^/    live: /' "$TMP/$c.got"
    fi
done

netns_done
