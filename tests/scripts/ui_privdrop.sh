#!/usr/bin/env bash
# ui_privdrop.sh - live capture started as root drops its privileges once the interface is open:
# with -Z nobody, and by default (no -Z) to "nobody"; the process uid/gid/groups are then
# nobody's (/proc/PID/status), root cannot be regained, and capture goes on after the drop.
# -Z with an unknown user is one line on stderr and exit 2.
# Runs on a veth pair in network namespaces made by the test (names prefixed pipeline-, removed by a
# trap). Skips (77) when not root, without ip/tcpreplay or a "nobody" user, or when namespaces
# cannot be made; under CI=true a skip is a failure (exit 1).
set -uo pipefail

BIN=${VPNSCOPE_BIN:-}
SRC=${VPNSCOPE_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
skip() {
    echo "SKIP: $*"
    if [ "${CI:-}" = true ]; then exit 1; fi
    exit 77
}
[ -n "$BIN" ] && [ -x "$BIN" ] || skip "VPNSCOPE_BIN not set or not executable"
[ "$(id -u)" = 0 ] || skip "needs root"
command -v ip >/dev/null || skip "ip not installed"
command -v tcpreplay >/dev/null || skip "tcpreplay not installed"
NOBODY_UID=$(id -u nobody 2>/dev/null) || skip "no user nobody"
NOBODY_GID=$(id -g nobody)
PCAP=$SRC/pcaps/esp_collision-inside.pcap
[ -f "$PCAP" ] || skip "pcaps/esp_collision-inside.pcap missing"

ID=$$
NS_TX=pipeline-ptx-$ID
NS_RX=pipeline-prx-$ID
IFA=plp-a$ID
IFB=plp-b$ID
TMP=$(mktemp -d)
chmod 755 "$TMP"
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
    ip netns del "$NS_TX" 2>/dev/null
    ip netns del "$NS_RX" 2>/dev/null
    rm -rf "$TMP"
}
trap cleanup EXIT
for ns in "$NS_TX" "$NS_RX"; do
    ip netns add "$ns" || skip "cannot create network namespaces"
    ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1 >/dev/null 2>&1
done
# made inside the namespaces: the root namespace is never touched
ip -n "$NS_TX" link add "$IFA" type veth peer name "$IFB" netns "$NS_RX" || skip "cannot create a veth pair"
ip -n "$NS_TX" link set "$IFA" up
ip -n "$NS_RX" link set "$IFB" up

pass=0
fail=0
ok() {
    pass=$((pass + 1))
    echo "ok   - $1"
}
ko() {
    fail=$((fail + 1))
    echo "FAIL - $1"
    [ -n "${2:-}" ] && sed 's/^/    /' "$2" | head -20
}
# wait_grep FILE REGEX [SECONDS]: until FILE has a line matching REGEX (deadline, default 10 s)
wait_grep() {
    local end=$((SECONDS + ${3:-10}))
    while [ $SECONDS -le "$end" ]; do
        grep -qE -- "$2" "$1" 2>/dev/null && return 0
        sleep 0.05
    done
    return 1
}
# vpnscope says "listening on" once the capture is open and privileges are dropped
wait_listening() { wait_grep "$TMP/err" '^vpnscope: listening on ' 15; }
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
    wait_listening || ko "$desc: capture started" "$TMP/err"
    local want="$NOBODY_UID $NOBODY_UID $NOBODY_UID $NOBODY_UID / $NOBODY_GID $NOBODY_GID $NOBODY_GID $NOBODY_GID / $NOBODY_GID"
    local got
    got=$(ids $pid 2>/dev/null)
    [ "$got" = "$want" ] && ok "$desc: uid/gid/groups are nobody's after start ($got)" ||
        ko "$desc: ids after start: '$got', want '$want'" "$TMP/err"
    [ "$(ps -o uid= -p $pid | tr -d ' ')" = "$NOBODY_UID" ] && ok "$desc: ps -o uid= shows $NOBODY_UID" ||
        ko "$desc: ps uid $(ps -o uid= -p $pid)"
    ip netns exec "$NS_TX" tcpreplay -q -i "$IFA" --pps 1000 "$PCAP" >/dev/null 2>&1
    # -c 44: ends by itself once every packet is in (SIGINT past the deadline)
    local end=$((SECONDS + 10))
    while [ $SECONDS -le "$end" ] && kill -0 $pid 2>/dev/null; do sleep 0.05; done
    kill -0 $pid 2>/dev/null && kill -INT $pid
    wait $pid
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

echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
