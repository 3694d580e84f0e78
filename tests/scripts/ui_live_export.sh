#!/usr/bin/env bash
# ui_live_export.sh - the dashboard's export key on a live capture, in tmux: with -w FILE the
# selected finding's packets are read back from that file (privileges dropped to nobody after
# the interface is open): the status line names the pcapng, tshark reads back as many frames as
# it says, with the same comments (capture, frame, role) as --export gives for the same finding
# when the -w file is analysed afterwards; without -w the status line says the packets cannot be
# read again. Runs on a veth pair in network namespaces made by the test (names prefixed dash-,
# removed by a trap). Skips (77) when not root, without ip/tcpreplay/tmux/tshark or when
# namespaces cannot be made; under CI=true a skip is a failure (exit 1).
set -uo pipefail

VBIN=${VPNSCOPE_BIN:-}
SRC=${VPNSCOPE_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
SOCK_NAME=vst-uilive
# shellcheck source=lib_tmux.sh
. "$(dirname "$0")/lib_tmux.sh"
[ -n "$VBIN" ] && [ -x "$VBIN" ] || skip "VPNSCOPE_BIN not set or not executable"
[ "$(id -u)" = 0 ] || skip "needs root"
for t in ip tcpreplay tmux tshark; do command -v $t >/dev/null || skip "$t not installed"; done
PCAP=$SRC/pcaps/esp_collision-inside.pcap
[ -f "$PCAP" ] || skip "pcaps/esp_collision-inside.pcap missing"

ID=$$
NS_TX=dash-tx-$ID
NS_RX=dash-rx-$ID
IFA=dsa$ID
IFB=dsb$ID
live_cleanup() {
    tmux_cleanup
    ip netns del "$NS_TX" 2>/dev/null
    ip netns del "$NS_RX" 2>/dev/null
}
trap live_cleanup EXIT
for ns in "$NS_TX" "$NS_RX"; do
    ip netns add "$ns" || skip "cannot create network namespaces"
    ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1 >/dev/null 2>&1
done
# made inside the namespaces: the root namespace is never touched
ip -n "$NS_TX" link add "$IFA" type veth peer name "$IFB" netns "$NS_RX" || skip "cannot create a veth pair"
ip -n "$NS_TX" link set "$IFA" up
ip -n "$NS_RX" link set "$IFB" up
# the dashboard runs as nobody once the interface is open: it creates the -w file (after the
# drop, as tcpdump -Z), reads it back and writes the export here
chmod 755 "$TMP"
mkdir -m 1777 "$TMP/out"
npk=$(tshark -r "$PCAP" 2>/dev/null | wc -l)

BIN="ip netns exec $NS_RX $VBIN"
tmux_keep

# ---- 1. -w FILE: x reads the finding's packets back from it ----
start 100 30 "" -i "$IFB" -w "$TMP/out/live.pcap" --export "$TMP/out/exp" --refresh 100
expect "live dashboard on the veth" "LIVE" 15
ip netns exec "$NS_TX" tcpreplay -q -i "$IFA" --pps 500 "$PCAP" >/dev/null 2>&1
expect "every replayed packet captured ($npk)" "Packets $npk " 15
expect "the esp_collision error is found live" "Findings: 1 error" 15
keys 3
expect "view 3: the finding" "error +esp_collision"
keys x
expect "x writes the finding's packets from the -w file" "wrote [0-9]+ packets: .*/[0-9]{3}-esp_collision\.pcapng" 10
n=$(grep -oE "wrote [0-9]+ packets" <<<"$screen" | grep -oE "[0-9]+")
f=$(ls "$TMP"/out/exp/*-esp_collision.pcapng 2>/dev/null | head -1)
got=$(tshark -r "$f" 2>/dev/null | wc -l)
[ -n "$f" ] && [ "$got" = "$n" ] && [ "$n" -gt 0 ] && ok "tshark reads back the $n frames the status line names" ||
    ko "tshark frames: $got, status line: ${n:-?} (${f:-no file})"
keys q
st=$(exit_status)
[ "$st" = 0 ] && ok "q exits 0" || ko "q exits 0 (got $st)"
# the same finding from the saved file, exported by the report
"$VBIN" -r "$TMP/out/live.pcap" --export "$TMP/off" >/dev/null 2>&1
g=$(ls "$TMP"/off/*-esp_collision.pcapng 2>/dev/null | head -1)
if [ -n "$g" ] && [ -n "$f" ] &&
    [ "$(tshark -r "$f" -T fields -e frame.comment 2>/dev/null)" = "$(tshark -r "$g" -T fields -e frame.comment 2>/dev/null)" ]; then
    ok "the same frames and comments as --export of the -w file"
else
    ko "frames/comments differ from --export of the -w file"
fi
grep -q "esp_collision" "$TMP/out/exp/index.jsonl" 2>/dev/null && ok "index.jsonl names the file" || ko "index.jsonl names the file"

# ---- 2. without -w: said, nothing written ----
start 100 30 "" -i "$IFB" --export "$TMP/out/none" --refresh 100
expect "live dashboard without -w" "LIVE" 15
ip netns exec "$NS_TX" tcpreplay -q -i "$IFA" --pps 500 "$PCAP" >/dev/null 2>&1
expect "the finding again" "Findings: 1 error" 15
keys 3
keys x
expect "x without -w says the packets cannot be read again" "cannot export: live capture: the packets are not kept"
[ ! -e "$TMP/out/none" ] && ok "nothing written without -w" || ko "something written without -w"
keys q
exit_status >/dev/null

check_done
