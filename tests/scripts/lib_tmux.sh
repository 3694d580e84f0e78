#!/usr/bin/env bash
# lib_tmux.sh - sourced by the dashboard tests (tests/scripts/ui_*.sh), not a test itself: the real
# binary in a tmux server of its own, states waited for on the screen with a deadline (never a bare
# sleep), pass/fail counting. Before sourcing: BIN (the vpnscope binary); SOCK_NAME (the tmux
# socket name, unique per run) may be set. Defines TMP (removed on exit, with the tmux server).
#   start COLS ROWS ENV ARGS...   vpnscope ARGS in window "ui" (ENV: "VAR=x ..." or ""), in the
#                                 directory UI_CWD (default: the current one)
#   wait_for REGEX [s]            until the screen matches (0) or the deadline (1); sets $screen
#   expect DESC REGEX [s]         wait_for as a check;  expect_not DESC REGEX  (after a settle)
#   keys KEY...                   tmux send-keys, then settle (the screen stops changing, 3 s at most)
#   exit_status                   vpnscope's exit status once it exited ("none" at the deadline)
#   skip, ok DESC / ko DESC, check_done   lib_check.sh (sourced here); a failed check shows the screen

# shellcheck source=lib_check.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib_check.sh"

TMP=$(mktemp -d)
SOCK=${SOCK_NAME:-vst-ui}-$$
T="tmux -L $SOCK"
tmux_cleanup() {
    $T kill-server >/dev/null 2>&1
    rm -rf "$TMP"
}
trap tmux_cleanup EXIT

screen=""
ko_detail() { printf '%s\n' "--- screen ---" "$screen" "--------------"; } # after each ko
cap() { screen=$($T capture-pane -p -t ui 2>/dev/null); }
# wait_for REGEX [seconds]: until the screen matches
wait_for() {
    local end=$((SECONDS + ${2:-10}))
    while [ $SECONDS -le "$end" ]; do
        cap
        grep -qE -- "$1" <<<"$screen" && return 0
        sleep 0.2
    done
    return 1
}
expect() { # expect DESC REGEX [seconds]
    if wait_for "$2" "${3:-5}"; then ok "$1"; else ko "$1 (no /$2/)"; fi
}
# settle: until two captures 0.15 s apart are the same (the keys were drawn), at most 3 s
settle() {
    local end=$((SECONDS + 3)) prev
    cap
    prev=$screen
    while [ $SECONDS -le "$end" ]; do
        sleep 0.15
        cap
        [ "$screen" = "$prev" ] && return 0
        prev=$screen
    done
    return 0
}
expect_not() { # expect_not DESC REGEX (on the settled screen)
    settle
    if grep -qE -- "$2" <<<"$screen"; then ko "$1 (/$2/ still shown)"; else ok "$1"; fi
}
keys() {
    $T send-keys -t ui "$@"
    settle
}
# the terminal tmux emulates, so that curses knows the keys it sends (Home is ESC [ 1 ~)
UI_TERM=tmux-256color
infocmp "$UI_TERM" >/dev/null 2>&1 || UI_TERM=screen-256color
start() { # start COLS ROWS ENV ARGS...
    local cols=$1 rows=$2 envs=$3
    shift 3
    rm -f "$TMP/exit"
    $T kill-session -t ui >/dev/null 2>&1
    # the shell stays after vpnscope exits, so the pane shows the restored terminal
    $T new-session -d -s ui -x "$cols" -y "$rows" -c "${UI_CWD:-$PWD}" \
        "env TERM=$UI_TERM $envs $BIN $* ; echo \$? > $TMP/exit; echo VPNSCOPE-EXITED; sleep 120"
}
exit_status() {
    local end=$((SECONDS + 10))
    while [ ! -s "$TMP/exit" ] && [ $SECONDS -le "$end" ]; do sleep 0.1; done
    cat "$TMP/exit" 2>/dev/null || echo none
}
# a session that keeps the tmux server up between runs
tmux_keep() {
    $T new-session -d -s keep -x 80 -y 24 "sleep 900" || skip "tmux cannot start a server"
}
