#!/usr/bin/env bash
# capture_signals.sh - a report run stopped by SIGINT or SIGTERM before the end of its input says
# so: one line on stderr naming the signal and the packets read, the JSON summary's
# "interrupted", the text report's Input line, never "No problems found." (exit 2 when nothing
# was found, 1 with findings), and it stops within seconds even when stderr is not a terminal,
# also while blocked reading a pipe that stalls.
# The input never ends on its own: a FIFO fed with a capture's records over and over (one file
# header, then its records again and again), so the run can only end by the signal.
set -uo pipefail

BIN=${VPNSCOPE_BIN:-}
SRC=${VPNSCOPE_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$(dirname "$0")/lib_check.sh" # skip, ok, ko, check_done
[ -n "$BIN" ] && [ -x "$BIN" ] || skip "VPNSCOPE_BIN not set or not executable"
command -v mkfifo >/dev/null || skip "no mkfifo"
TMP=$(mktemp -d)
FEEDERS=()
cleanup() {
    for f in "${FEEDERS[@]}"; do kill "$f" 2>/dev/null; done
    rm -rf "$TMP"
}
trap cleanup EXIT

# feed FILE FIFO: the pcap header once, then the records forever (until killed), a block of at
# least 4 MB of them at a time
feed() {
    local body=$TMP/body.$RANDOM
    : >"$body"
    while [ "$(stat -c %s "$body")" -lt 4000000 ]; do tail -c +25 "$1" >>"$body"; done
    { cat "$1"; while :; do cat "$body" || exit; done; } >"$2" 2>/dev/null &
    FEEDERS+=($!)
}

# run_until SIG DESC OUT ERR ARGS...: starts vpnscope, waits until it has read (its CPU time
# grows past 0.3 s, read from /proc), sends SIG, and waits at most 20 s for it to end. Sets RC.
run_until() {
    local sig=$1 desc=$2 out=$3 err=$4
    shift 4
    "$BIN" "$@" >"$out" 2>"$err" &
    local pid=$! t=0
    while [ $t -lt 200 ]; do # 20 s deadline for the first 0.3 s of CPU
        local ticks
        ticks=$(awk '{print $14 + $15}' "/proc/$pid/stat" 2>/dev/null) || break
        [ "${ticks:-0}" -ge 30 ] && break
        sleep 0.1
        t=$((t + 1))
    done
    signal_and_wait "$sig" "$pid" "$desc" "$err"
}

# signal_and_wait SIG PID DESC ERR: sends SIG to PID and waits at most 20 s for it to end. Sets RC
# (its exit status, or "timeout" after a kill -9 and a failure).
signal_and_wait() {
    local sig=$1 pid=$2 desc=$3 err=$4 t=0
    kill "-$sig" "$pid" 2>/dev/null
    while kill -0 "$pid" 2>/dev/null && [ $t -lt 200 ]; do
        sleep 0.1
        t=$((t + 1))
    done
    if kill -0 "$pid" 2>/dev/null; then
        kill -9 "$pid"
        wait "$pid"
        RC=timeout
        ko "$desc: still running 20 s after SIG$sig" "$err"
        return
    fi
    wait "$pid"
    RC=$?
}

# 1. JSON, a capture with findings (esp_collision), SIGINT: exit 1 (findings), stderr one line
PCAP=$SRC/pcaps/esp_collision-inside.pcap
mkfifo "$TMP/f1"
feed "$PCAP" "$TMP/f1"
run_until INT "json SIGINT" "$TMP/o1" "$TMP/e1" -r "$TMP/f1" --json
[ "$RC" = 1 ] && ok "json, SIGINT, findings: exit 1" || ko "json, SIGINT: exit $RC (want 1)" "$TMP/e1"
grep -qE '^vpnscope: SIGINT: stopped before the end of the input; the report covers the [0-9]+ packets read$' "$TMP/e1" &&
    [ "$(wc -l <"$TMP/e1")" = 1 ] && ok "json, SIGINT: one line on stderr" ||
    ko "json, SIGINT: stderr" "$TMP/e1"
tail -n 1 "$TMP/o1" | grep -q '"type":"summary".*"interrupted":"SIGINT"' &&
    ok "json summary: interrupted SIGINT" || ko "json summary has no \"interrupted\":\"SIGINT\"" "$TMP/o1"
n=$(tail -n 1 "$TMP/o1" | grep -oE '"packets":[0-9]+' | head -1 | cut -d: -f2)
want=$(grep -oE '[0-9]+ packets read' "$TMP/e1" | cut -d' ' -f1)
[ -n "$n" ] && [ "$n" = "$want" ] && [ "$n" -gt 0 ] &&
    ok "summary packets ($n) = the count on stderr" || ko "summary packets '$n', stderr '$want'" "$TMP/e1"

# 2. text, a capture without findings (ah_esp_bundle), SIGTERM: exit 2, never "No problems found."
PCAP=$SRC/pcaps/ah_esp_bundle.pcap
"$BIN" -r "$PCAP" >"$TMP/whole" 2>/dev/null
[ $? = 0 ] && grep -q '^No problems found\.$' "$TMP/whole" &&
    ok "ah_esp_bundle read whole: exit 0, No problems found." ||
    ko "ah_esp_bundle read whole is not a clean bill: the case below proves nothing" "$TMP/whole"
mkfifo "$TMP/f2"
feed "$PCAP" "$TMP/f2"
run_until TERM "text SIGTERM" "$TMP/o2" "$TMP/e2" -r "$TMP/f2"
[ "$RC" = 2 ] && ok "text, SIGTERM, nothing found: exit 2" || ko "text, SIGTERM: exit $RC (want 2)" "$TMP/e2"
grep -q '^No problems found\.$' "$TMP/o2" && ko "an interrupted run says 'No problems found.'" "$TMP/o2" ||
    ok "no clean bill"
grep -q '^No problems found in the part of the capture read before SIGTERM stopped the run' "$TMP/o2" &&
    ok "text: the findings line says what was read" || ko "text: no interrupted findings line" "$TMP/o2"
grep -q '^  Input:     SIGTERM stopped the reading before the end of the input' "$TMP/o2" &&
    ok "text summary: Input line" || ko "text summary: no Input line" "$TMP/o2"

# 3. a run read to the end has no "interrupted" (the field appears only when set)
"$BIN" -r "$SRC/pcaps/esp_collision-inside.pcap" --json 2>/dev/null | tail -n 1 >"$TMP/o3"
grep -q '"interrupted"' "$TMP/o3" && ko "a whole run says interrupted" "$TMP/o3" ||
    ok "a whole run: no interrupted field"

# 4. two captures on side threads (files: two-capture mode reads a prefix twice), SIGINT after
# 0.3 CPU-s of about 2.5: stops, says so
CC=${CC:-cc}
command -v "$CC" >/dev/null || skip "no C compiler for tests/bench/gen.c"
"$CC" -O2 -std=c11 -o "$TMP/gen" "$SRC/tests/bench/gen.c" -lm || skip "tests/bench/gen.c does not build"
"$TMP/gen" --pair "$TMP/p" -n 1000000 -c 300 >/dev/null 2>&1 || ko "gen --pair failed"
run_until INT "pair SIGINT" "$TMP/o4" "$TMP/e4" --inside "$TMP/p-inside.pcap" --outside "$TMP/p-outside.pcap" --json --threads 2
rm -f "$TMP"/p-*.pcap
case "$RC" in 1 | 2) ok "pair, SIGINT: exit $RC" ;; *) ko "pair, SIGINT: exit $RC (want 1 or 2)" "$TMP/e4" ;; esac
grep -q 'SIGINT: stopped before the end of the input' "$TMP/e4" && ok "pair, SIGINT: stderr says so" ||
    ko "pair, SIGINT: stderr" "$TMP/e4"
tail -n 1 "$TMP/o4" | grep -q '"interrupted":"SIGINT"' && ok "pair summary: interrupted" ||
    ko "pair summary has no interrupted" "$TMP/o4"

# 5. a pipe that stalls: the writer sends one capture and keeps the FIFO open without writing more.
# The run blocks in read(); SIGINT must still end it (the read is cut short, not restarted) with a
# report of every packet sent, marked interrupted.
PCAP=$SRC/pcaps/esp_collision-inside.pcap
whole=$("$BIN" -r "$PCAP" --json 2>/dev/null | tail -n 1 | grep -oE '"packets":[0-9]+' | head -1 | cut -d: -f2)
size=$(stat -c %s "$PCAP")
mkfifo "$TMP/f5"
{ cat "$PCAP"; exec sleep 600; } >"$TMP/f5" 2>/dev/null &
FEEDERS+=($!)
"$BIN" -r "$TMP/f5" --json >"$TMP/o5" 2>"$TMP/e5" &
pid=$!
# blocked_on_fifo PID FIFO: true when PID sleeps in a syscall whose first argument is its
# descriptor of FIFO (the read), or in the kernel's pipe read (wchan)
blocked_on_fifo() {
    local fd wchan args
    [ "$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" = S ] || return 1
    wchan=$(cat "/proc/$1/wchan" 2>/dev/null)
    case "$wchan" in *pipe_read*) return 0 ;; esac
    read -r _ args _ <"/proc/$1/syscall" 2>/dev/null || return 1
    for fd in /proc/"$1"/fd/*; do
        [ "$(readlink "$fd")" = "$2" ] && [ "$((args))" = "${fd##*/}" ] && return 0
    done
    return 1
}
t=0 # wait (20 s deadline) until it has read what was sent and blocks reading the FIFO
until blocked_on_fifo "$pid" "$TMP/f5" || [ $t -ge 200 ]; do
    sleep 0.1
    t=$((t + 1))
done
blocked_on_fifo "$pid" "$TMP/f5" && ok "stalled FIFO: the run blocks reading the FIFO" ||
    ko "stalled FIFO: the run is not blocked reading the FIFO after 20 s"
signal_and_wait INT "$pid" "stalled FIFO (the blocked read was restarted)" "$TMP/e5"
if [ "$RC" != timeout ]; then
    [ "$RC" = 1 ] && ok "stalled FIFO, SIGINT: exit 1 (findings)" || ko "stalled FIFO, SIGINT: exit $RC (want 1)" "$TMP/e5"
    n=$(tail -n 1 "$TMP/o5" | grep -oE '"packets":[0-9]+' | head -1 | cut -d: -f2)
    tail -n 1 "$TMP/o5" | grep -q '"interrupted":"SIGINT"' && [ -n "$whole" ] && [ "$n" = "$whole" ] &&
        ok "stalled FIFO: summary interrupted, all $n packets sent were read" ||
        ko "stalled FIFO: summary packets '$n' (sent $whole) or no interrupted" "$TMP/o5"
fi

check_done
