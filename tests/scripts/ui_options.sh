#!/usr/bin/env bash
# ui_options.sh - the dashboard honours the options of the batch report (one pipeline for every
# mode), asserted on what the screen shows in tmux: --router splits one router capture and the
# NAT view shows its mappings; --nat-addr decides the split (the right address gives the same
# mappings, an address the router never used is reported on screen); --all-flows lists a
# non-VPN flow with its nDPI label and --no-ndpi removes the label.
# Skips (77) without tmux; under CI=true a skip is a failure (exit 1).
set -uo pipefail

BIN=${VPNSCOPE_BIN:-}
SRC=${VPNSCOPE_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
SOCK_NAME=vst-uiopt
# shellcheck source=lib_tmux.sh
. "$(dirname "$0")/lib_tmux.sh"
[ -n "$BIN" ] && [ -x "$BIN" ] || skip "VPNSCOPE_BIN not set or not executable"
command -v tmux >/dev/null || skip "tmux not installed"
ROUTER=$SRC/pcaps/router-esp_collision.pcapng
ONE=$SRC/pcaps/ss-ikev2-dpd-stale-outside.pcap
[ -f "$ROUTER" ] && [ -f "$ONE" ] || skip "pcaps/router-esp_collision.pcapng or ss-ikev2-dpd-stale-outside.pcap missing"

# a session that keeps the tmux server up between runs
tmux_keep

# ---- 1. --ui --router: one capture on the router's two interfaces ----
start 160 40 "" --ui --router "$ROUTER" --speed 0 --refresh 100
expect "--router: replay ends" "REPLAY FINISHED" 15
expect "--router: both capture points named" "inside .*router-esp_collision\.pcapng.* \| outside "
keys 2
expect "--router NAT view: ESP mapping 192.168.1.11 -> 203.0.113.1" "esp +192\.168\.1\.11 +203\.0\.113\.1 +203\.0\.113\.10 +10>10 +20>20"
expect "--router NAT view: IKE port remapped 500 -> 159" "udp +192\.168\.1\.12:500 +203\.0\.113\.1:159 +203\.0\.113\.10:500"
keys 3
expect "--router: the esp_collision finding" "error +esp_collision"
keys q
st=$(exit_status)
[ "$st" = 0 ] && ok "--router: q exits 0" || ko "--router: q exits 0 (got $st)"

# ---- 2. --nat-addr: the given outside address decides the split ----
start 160 40 "" --ui --router "$ROUTER" --nat-addr 203.0.113.1 --speed 0 --refresh 100
expect "--nat-addr right: replay ends" "REPLAY FINISHED" 15
keys 2
expect "--nat-addr right: same ESP mapping" "esp +192\.168\.1\.11 +203\.0\.113\.1 +203\.0\.113\.10"
expect_not "--nat-addr right: no complaint about the address" "no interface carries"
keys q
exit_status >/dev/null
start 160 40 "" --ui --router "$ROUTER" --nat-addr 198.51.100.77 --speed 0 --refresh 100
expect "--nat-addr unused: replay ends" "REPLAY FINISHED" 15
expect "--nat-addr unused: the dashboard says no interface carries it" "no interface carries a router outside address"
keys 2
expect_not "--nat-addr unused: the learned mapping is not shown" "esp +192\.168\.1\.11 +203\.0\.113\.1 "
keys q
exit_status >/dev/null

# ---- 3. --all-flows and --no-ndpi ----
start 160 40 "" --ui -r "$ONE" --speed 0 --refresh 100
expect "default: replay ends" "REPLAY FINISHED" 15
expect_not "default: the ICMP flow (not VPN) is not listed" "203\.0\.113\.1 +203\.0\.113\.10 +(ICMP|Unknown) "
keys q
exit_status >/dev/null
start 160 40 "" --ui --all-flows -r "$ONE" --speed 0 --refresh 100
expect "--all-flows: replay ends" "REPLAY FINISHED" 15
expect "--all-flows: the ICMP flow with its nDPI label" "203\.0\.113\.1 +203\.0\.113\.10 +ICMP +9/0 .*icmp"
keys q
exit_status >/dev/null
start 160 40 "" --ui --all-flows --no-ndpi -r "$ONE" --speed 0 --refresh 100
expect "--no-ndpi: replay ends" "REPLAY FINISHED" 15
expect "--no-ndpi: the flow is listed without an nDPI label" "203\.0\.113\.1 +203\.0\.113\.10 +Unknown +9/0 .*icmp"
expect_not "--no-ndpi: no nDPI label on screen" " ICMP "
expect "--no-ndpi: IKE is still decoded" "IKEv2 NAT-T"
keys q
st=$(exit_status)
[ "$st" = 0 ] && ok "--no-ndpi: q exits 0" || ko "--no-ndpi: q exits 0 (got $st)"

check_done
