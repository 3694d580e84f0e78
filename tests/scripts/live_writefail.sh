#!/usr/bin/env bash
# live_writefail.sh - live capture whose outputs fail: `-i IF -w /dev/full` says the -w file and
# the cause (No space left on device) at the first packet, stops capturing and exits 2; the live
# JSON stream into a pipe whose reader went away (before any record, and `| head -1` after the
# first) stops within the deadline, quietly, killed by SIGPIPE (status 141); the live stream into
# a full disk says so and exits 2.
# Runs on a veth pair in network namespaces made by the test (names prefixed honest-, removed by a
# trap); traffic is a bundled capture sent with tcpreplay. Every wait is for a state (the
# "listening on" line, the exit) with a deadline. Skips (77) when not root, without
# ip/tcpreplay/timeout or when namespaces cannot be made; under CI=true a skip is a failure.
set -uo pipefail
. "$(dirname "$0")/lib_netns.sh"

need_bin
need_root
need_tools ip tcpreplay timeout mkfifo
PCAP=$SRC/pcaps/esp_collision-inside.pcap
need_files "$PCAP"

netns_setup
netns_pair honest-wtx-$ID honest-wrx-$ID hwa$ID hwb$ID

replay() { ip netns exec "$NS_TX" tcpreplay -q -i "$IFA" --pps 200 "$PCAP" >/dev/null 2>&1; }

# 1. -w /dev/full: the first packet cannot be recorded
: >"$TMP/w.err"
ip netns exec "$NS_RX" timeout -s INT 60 "$BIN" -i "$IFB" --json -w /dev/full >"$TMP/w.out" 2>"$TMP/w.err" &
pid=$!
PIDS+=($pid)
wait_listening "$TMP/w.err" || ko "-w /dev/full: vpnscope listens" "$TMP/w.err"
replay
if wait_ended $pid 20; then
    if [ "$WAITED" = 2 ] && grep -qE '^vpnscope: -w: write to /dev/full failed: No space left on device; capture stopped at frame 1$' "$TMP/w.err"; then
        ok "live -w /dev/full: ENOSPC named, capture stopped at frame 1, exit 2"
    else
        ko "live -w /dev/full: exit $WAITED" "$TMP/w.err"
    fi
else
    ko "live -w /dev/full: still capturing 20 s after the write failed" "$TMP/w.err"
fi

# 2. the stream's reader goes away before any record: noticed without writing
mkfifo "$TMP/fifo"
: >"$TMP/p.err"
ip netns exec "$NS_RX" "$BIN" -i "$IFB" --json >"$TMP/fifo" 2>"$TMP/p.err" &
pid=$!
PIDS+=($pid)
exec 3<"$TMP/fifo"
wait_listening "$TMP/p.err" || ko "closed pipe: vpnscope listens" "$TMP/p.err"
exec 3<&-
if wait_ended $pid 10; then
    [ "$WAITED" = 141 ] && [ "$(grep -vc '^vpnscope: listening on ' "$TMP/p.err")" = 0 ] &&
        ok "live stream, reader closed before any record: stops quietly, SIGPIPE (141)" ||
        ko "live stream, reader closed: exit $WAITED" "$TMP/p.err"
else
    ko "live stream, reader closed: still capturing 10 s later" "$TMP/p.err"
fi

# 3. `| head -1` after the first record
: >"$TMP/h.err"
( ip netns exec "$NS_RX" "$BIN" -i "$IFB" --json 2>"$TMP/h.err" | head -1 >"$TMP/h.out"
  echo "${PIPESTATUS[0]}" >"$TMP/h.rc" ) &
hp=$!
PIDS+=($hp)
wait_listening "$TMP/h.err" || ko "head -1: vpnscope listens" "$TMP/h.err"
replay &
rp=$!
if wait_ended $hp 20; then
    rc=$(cat "$TMP/h.rc")
    [ "$rc" = 141 ] && [ -s "$TMP/h.out" ] && ok "live stream | head -1: one record, then SIGPIPE (141)" ||
        ko "live stream | head -1: exit $rc" "$TMP/h.err"
else
    ko "live stream | head -1: still capturing 20 s later" "$TMP/h.err"
fi
wait $rp

# 4. the stream into a full disk
: >"$TMP/f.err"
ip netns exec "$NS_RX" timeout -s INT 60 "$BIN" -i "$IFB" --json >/dev/full 2>"$TMP/f.err" &
pid=$!
PIDS+=($pid)
wait_listening "$TMP/f.err" || ko "stream to /dev/full: vpnscope listens" "$TMP/f.err"
replay
if wait_ended $pid 20; then
    [ "$WAITED" = 2 ] && grep -qE '^vpnscope: writing the live report to stdout: No space left on device$' "$TMP/f.err" &&
        ok "live stream to a full disk: ENOSPC named, exit 2" || ko "live stream to /dev/full: exit $WAITED" "$TMP/f.err"
else
    ko "live stream to /dev/full: still capturing 20 s later" "$TMP/f.err"
fi

netns_done
