#!/usr/bin/env bash
# ui_privdrop.sh - live capture started as root drops its privileges once the interface is open:
# with -Z nobody, and by default (no -Z) to "nobody"; the process uid/gid/groups are then
# nobody's (/proc/PID/status), root cannot be regained, and capture goes on after the drop.
# -Z with an unknown user is one line on stderr and exit 2.
# Runs on a veth pair in network namespaces made by the test (names prefixed pipeline-, removed by a
# trap). Skips (77) when not root, without ip/tcpreplay or a "nobody" user, or when namespaces
# cannot be made; under CI=true a skip is a failure (exit 1).
set -uo pipefail
. "$(dirname "$0")/lib_netns.sh"

need_bin
need_root
need_tools ip tcpreplay
NOBODY_UID=$(id -u nobody 2>/dev/null) || skip "no user nobody"
NOBODY_GID=$(id -g nobody)
PCAP=$SRC/pcaps/esp_collision-inside.pcap
need_files "$PCAP"

netns_setup
chmod 755 "$TMP" # -w files are written after the drop
netns_pair pipeline-ptx-$ID pipeline-prx-$ID plp-a$ID plp-b$ID

# ids PID: "uid-real uid-eff uid-saved uid-fs / gid... / groups"
ids() { awk '/^Uid:/{u=$2" "$3" "$4" "$5} /^Gid:/{g=$2" "$3" "$4" "$5} /^Groups:/{$1=""; gr=$0} END{print u" / "g" /"gr}' "/proc/$1/status"; }

# run ARGS...: starts live capture, checks ids after start, replays, stops with SIGINT
run() {
    local desc=$1
    shift
    : >"$TMP/out.jsonl"
    : >"$TMP/err" # no line of an earlier run seen by wait_listening
    ip netns exec "$NS_RX" "$BIN" -i "$IFB" --json -c 44 "$@" >"$TMP/out.jsonl" 2>"$TMP/err" &
    local pid=$!
    PIDS+=($pid)
    # "listening on" comes once the capture is open and privileges are dropped
    wait_listening "$TMP/err" || ko "$desc: capture started" "$TMP/err"
    local want="$NOBODY_UID $NOBODY_UID $NOBODY_UID $NOBODY_UID / $NOBODY_GID $NOBODY_GID $NOBODY_GID $NOBODY_GID / $NOBODY_GID"
    local got
    got=$(ids $pid 2>/dev/null)
    [ "$got" = "$want" ] && ok "$desc: uid/gid/groups are nobody's after start ($got)" ||
        ko "$desc: ids after start: '$got', want '$want'" "$TMP/err"
    [ "$(ps -o uid= -p $pid | tr -d ' ')" = "$NOBODY_UID" ] && ok "$desc: ps -o uid= shows $NOBODY_UID" ||
        ko "$desc: ps uid $(ps -o uid= -p $pid)"
    ip netns exec "$NS_TX" tcpreplay -q -i "$IFA" --pps 1000 "$PCAP" >/dev/null 2>&1
    # -c 44: ends by itself once every packet is in (SIGINT past the deadline)
    wait_exit $pid 10
    local st=$?
    grep -q '"type":"summary".*"packets":44' "$TMP/out.jsonl" && ok "$desc: capture goes on after the drop (44 packets)" ||
        ko "$desc: packets after the drop (exit $st)" "$TMP/err"
}

run "-Z nobody" -Z nobody
run "default as root (no -Z)"
# -w is opened after the drop, as tcpdump -Z does: the file belongs to the dropped user
install -d -o "$NOBODY_UID" -g "$NOBODY_GID" -m 700 "$TMP/w"
run "-Z nobody -w" -Z nobody -w "$TMP/w/saved.pcap"
[ -s "$TMP/w/saved.pcap" ] && ok "-w file written after the drop" || ko "-w file written after the drop"
owner=$(stat -c '%u:%g' "$TMP/w/saved.pcap" 2>/dev/null)
[ "$owner" = "$NOBODY_UID:$NOBODY_GID" ] && ok "-w file owned by the dropped user ($owner)" ||
    ko "-w file owner '$owner', want $NOBODY_UID:$NOBODY_GID"
# ... so a directory only root may write to is refused: one line, exit 2, no file
install -d -m 700 "$TMP/rootonly"
timeout 20 ip netns exec "$NS_RX" "$BIN" -i "$IFB" --json -Z nobody -w "$TMP/rootonly/x.pcap" >"$TMP/out" 2>"$TMP/err"
st=$?
[ $st = 2 ] && [ "$(wc -l <"$TMP/err")" = 1 ] && grep -q "Permission denied" "$TMP/err" && [ ! -e "$TMP/rootonly/x.pcap" ] &&
    ok "-w in a root-only directory after the drop: one line, exit 2, no file" ||
    ko "-w in a root-only directory after the drop (exit $st)" "$TMP/err"

# unknown user: one line, exit 2, nothing captured
ip netns exec "$NS_RX" "$BIN" -i "$IFB" --json -Z vst-no-such-user-$ID >"$TMP/out" 2>"$TMP/err"
st=$?
[ $st = 2 ] && [ "$(wc -l <"$TMP/err")" = 1 ] && grep -q "no such user" "$TMP/err" && ok "-Z unknown user: one line, exit 2" ||
    ko "-Z unknown user (exit $st)" "$TMP/err"

netns_done
