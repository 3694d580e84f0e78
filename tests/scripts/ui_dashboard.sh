#!/usr/bin/env bash
# ui_dashboard.sh - the real binary's dashboard in tmux over replayed captures: the tunnels
# (client/server addresses, IKE and ESP SPIs), NAT mappings and findings are shown; views 1-4,
# sort with its indicator, filter, search, Enter/Esc, help; q exits 0 and the terminal is
# restored; a terminal smaller than 80x24 exits 2; NO_COLOR gives a monochrome screen;
# --max-frames ends a run under script(1).
# Skips (77) without tmux; under CI=true a skip is a failure (exit 1).
set -uo pipefail

BIN=${VPNSCOPE_BIN:-}
SRC=${VPNSCOPE_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
SOCK_NAME=vst-ui
# shellcheck source=lib_tmux.sh
. "$(dirname "$0")/lib_tmux.sh"
[ -n "$BIN" ] && [ -x "$BIN" ] || skip "VPNSCOPE_BIN not set or not executable"
command -v tmux >/dev/null || skip "tmux not installed"
IN=$SRC/pcaps/esp_collision-inside.pcap
OUT=$SRC/pcaps/esp_collision-outside.pcap
[ -f "$IN" ] && [ -f "$OUT" ] || skip "pcaps/esp_collision-*.pcap missing"

# a session that keeps the tmux server up between runs
tmux_keep

# ---- 1. one capture, replayed as fast as possible ----
start 120 40 "" --ui -r "$IN" --speed 0 --refresh 100
expect "replay ends and stays on its final state" "REPLAY FINISHED" 15
expect "tunnels view: client 192.168.1.11 and server 203.0.113.10" "192\.168\.1\.11:500 +203\.0\.113\.10:500"
expect "tunnels view: second client 192.168.1.12" "192\.168\.1\.12:500"
expect "tunnels view: IKE SPI c111000000000001" "c111000000000001"
expect "tunnels view: child ESP SAs with their SPIs" "ESP 0x0000a001 >.*ESP 0x0000b001 <|0x0000a001[^\n]*" 2
grep -q "0x0000b002" <<<"$screen" && grep -q "0x0000a002" <<<"$screen" && ok "tunnels view: all four ESP SPIs" ||
    ko "tunnels view: all four ESP SPIs"
expect "header counts the error finding" "Findings: 1 error"
expect "a tunnel named by a finding is marked" "^\*"
keys 2
expect "view 2: NAT mappings need two captures" "NAT mappings need two capture points"
keys 3
expect "view 3: the esp_collision finding" "error +esp_collision +confirmed"
expect "findings view sort indicator" "sort: severity v"
keys Enter
expect "Enter opens the finding: explanation and sessions" "Sessions:"
expect "open finding shows its remedy" "Remedy:"
keys Escape
expect "Esc goes back to the list" "SEVERITY +KIND"
keys 1
keys s
expect "s sorts by the next column with an indicator" "sort: client \^"
keys ">"
expect "> moves the sort column" "sort: server \^"
keys "<" "<"
expect "< moves it back" "sort: last seen v"
keys r
expect "r reverses the order" "sort: last seen \^"
keys f
$T send-keys -t ui -l "192.168.1.12"
keys Enter
expect "f filters: indicator" "filter: 192\.168\.1\.12"
expect_not "f filters: other client hidden" "192\.168\.1\.11:500"
keys Escape
expect "Esc clears the filter" "192\.168\.1\.11:500"
keys /
$T send-keys -t ui -l "c111"
keys Enter
expect "/ searches" "found \"c111\""
keys Enter
expect "Enter opens the detail of the selected tunnel" "Timeline"
expect "detail: IKE exchanges, SAs and findings" "IKE exchanges: IKE_SA_INIT"
expect "detail shows the searched tunnel" "IKE SA +192\.168\.1\.11:500"
keys Escape
expect "Esc leaves the detail" "STATE +CLIENT"
keys 4
expect "4 opens the detail view" "Timeline|select a tunnel"
keys Tab
expect "Tab cycles views" "STATE +CLIENT"
keys "?"
expect "? shows the help" "vpnscope dashboard keys"
keys Escape
expect_not "any key closes the help" "vpnscope dashboard keys"
$T resize-window -t ui -x 100 -y 30 >/dev/null 2>&1 && expect "redraws after a resize" "REPLAY FINISHED"
keys q
st=$(exit_status)
[ "$st" = 0 ] && ok "q exits 0 with an error finding shown" || ko "q exits 0 (got $st)"
expect "the shell is back" "VPNSCOPE-EXITED"
alt=$($T display -p -t ui '#{alternate_on}')
[ "$alt" = 0 ] && ok "terminal restored (alternate screen off)" || ko "terminal restored (alternate_on=$alt)"

# ---- 2. two captures: NAT mappings and the outside identity ----
start 120 40 "" --ui --inside "$IN" --outside "$OUT" --speed 0 --refresh 100
expect "two captures: replay ends" "REPLAY FINISHED" 20
expect "two captures: the outside identity of a client" "outside as 203\.0\.113\.1:"
keys 2
expect "NAT view: the ESP mapping through 203.0.113.1" "esp +192\.168\.1\.11 +203\.0\.113\.1 +203\.0\.113\.10"
keys 3
expect "two captures: confirmed esp_collision" "error +esp_collision +confirmed"
keys F10
st=$(exit_status)
[ "$st" = 0 ] && ok "F10 exits 0" || ko "F10 exits 0 (got $st)"

# ---- 3. paused replay, stepping ----
start 120 40 "" --ui -r "$IN" --speed 0.001 --refresh 100
expect "slow replay runs" "REPLAY x0.001"
keys p
expect "p pauses the replay" "REPLAY PAUSED"
settle
cap
before=$(grep -oE "Packets [0-9]+" <<<"$screen" | head -1 | grep -oE "[0-9]+")
keys n
keys n
expect "n steps one packet at a time while paused" "Packets $((before + 2)) "
keys N
expect "N steps one second" "REPLAY PAUSED"
keys q
st=$(exit_status)
[ "$st" = 0 ] && ok "q exits 0 mid-replay ($before)" || ko "q exits 0 mid-replay (got $st)"

# ---- 4. too small ----
start 70 20 "" --ui -r "$IN" --speed 0
st=$(exit_status)
cap
[ "$st" = 2 ] && ok "terminal smaller than 80x24 exits 2" || ko "small terminal exits 2 (got $st)"
grep -q "terminal too small" <<<"$screen" && ok "small terminal: clear message" || ko "small terminal: clear message"
alt=$($T display -p -t ui '#{alternate_on}')
[ "$alt" = 0 ] && ok "small terminal: terminal restored" || ko "small terminal: terminal restored"

# ---- 5. NO_COLOR: no colour escapes on screen ----
start 120 40 "NO_COLOR=1" --ui -r "$IN" --speed 0 --refresh 100
if wait_for "REPLAY FINISHED" 15; then
    esc=$($T capture-pane -p -e -t ui)
    if grep -qE $'\e\\[[0-9;]*(3[0-7]|4[0-7]|38;|48;)' <<<"$esc"; then ko "NO_COLOR: monochrome"; else ok "NO_COLOR: monochrome"; fi
else
    ko "NO_COLOR: dashboard shown"
fi
keys q
start 120 40 "" --ui -r "$IN" --speed 0 --refresh 100
wait_for "REPLAY FINISHED" 15
esc=$($T capture-pane -p -e -t ui)
if grep -q "REPLAY FINISHED" <<<"$esc" && grep -qE $'\e\\[[0-9;]*(3[0-7]|38;)' <<<"$esc"; then
    ok "colours without NO_COLOR"
else
    ko "colours without NO_COLOR"
fi
keys q

# ---- 6. --max-frames smoke test under script(1) ----
if command -v script >/dev/null; then
    script -qec "env TERM=xterm $BIN --ui -r $IN --speed 0 --max-frames 3" /dev/null >"$TMP/script.out" 2>&1 </dev/null
    st=$?
    [ $st = 0 ] && ok "--max-frames 3 ends the dashboard, exit 0" || ko "--max-frames exit 0 (got $st)"
fi

# ---- 7. no terminal: the dashboard refuses ----
"$BIN" --ui -r "$IN" >"$TMP/nt.out" 2>"$TMP/nt.err" </dev/null
st=$?
[ $st = 2 ] && grep -q "needs a terminal" "$TMP/nt.err" && ok "--ui without a terminal: one line, exit 2" ||
    ko "--ui without a terminal exits 2 (got $st: $(cat "$TMP/nt.err"))"

check_done
