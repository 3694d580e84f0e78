#!/usr/bin/env bash
# capture_writes.sh - every write of a batch run is checked: a report written to a full disk
# (/dev/full), text or JSON, says what failed and why and exits 2; `-r F -w /dev/full` names the
# -w file and the cause, stops reading and exits 2; a -w path that cannot be created is one line
# and exit 2; a report piped into `head -1` whose reader goes away ends quietly, killed by SIGPIPE
# (status 141), the same 20 runs in a row (the report is larger than a pipe buffer, so every run
# meets the closed pipe). The large report comes from a capture of tests/bench/gen.c.
set -uo pipefail

BIN=${VPNSCOPE_BIN:-}
SRC=${VPNSCOPE_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$(dirname "$0")/lib_check.sh" # skip, ok, ko, check_done
[ -n "$BIN" ] && [ -x "$BIN" ] || skip "VPNSCOPE_BIN not set or not executable"
[ -w /dev/full ] || skip "no /dev/full"
CC=${CC:-cc}
command -v "$CC" >/dev/null || skip "no C compiler for tests/bench/gen.c"
PCAP=$SRC/pcaps/esp_collision-inside.pcap
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

# expect DESC RC WANT_RC STDERR_FILE REGEX
expect() {
    if [ "$2" = "$3" ] && grep -qE -- "$5" "$4" && [ "$(wc -l <"$4")" = 1 ]; then
        ok "$1 (exit $2, one line)"
    else
        ko "$1: exit $2 (want $3), stderr must be one line matching '$5'" "$4"
    fi
}

"$BIN" -r "$PCAP" >/dev/full 2>"$TMP/e"
expect "text report to a full disk" $? 2 "$TMP/e" '^vpnscope: writing the report to stdout: No space left on device$'
"$BIN" -r "$PCAP" --json >/dev/full 2>"$TMP/e"
expect "JSON report to a full disk" $? 2 "$TMP/e" '^vpnscope: writing the report to stdout: No space left on device$'
"$BIN" -r "$PCAP" -w /dev/full >"$TMP/out" 2>"$TMP/e"
expect "-w /dev/full" $? 2 "$TMP/e" '^vpnscope: -w: write to /dev/full failed: No space left on device; capture stopped at frame [0-9]+$'
[ -s "$TMP/out" ] && ko "-w /dev/full: a report was written for a capture that was not recorded" "$TMP/out" \
    || ok "-w /dev/full: no report for the unrecorded capture"
"$BIN" -r "$PCAP" -w "$TMP/no/such/dir/x.pcap" >/dev/null 2>"$TMP/e"
expect "-w into a missing directory" $? 2 "$TMP/e" 'x\.pcap.*No such file or directory'
"$BIN" -r "$PCAP" -w "$TMP/ok.pcap" >/dev/null 2>"$TMP/e"
rc=$?
[ "$rc" -le 1 ] && [ ! -s "$TMP/e" ] && cmp -s <(tail -c +25 "$TMP/ok.pcap") <(tail -c +25 "$PCAP") \
    && ok "-w to a writable file keeps every record" || ko "-w to a writable file (exit $rc)" "$TMP/e"

"$CC" -O2 -std=c11 -o "$TMP/gen" "$SRC/tests/bench/gen.c" -lm || skip "tests/bench/gen.c does not build"
"$TMP/gen" -o "$TMP/big.pcap" -n 30000 -c 300 2>/dev/null || ko "gen failed"
size=$("$BIN" -r "$TMP/big.pcap" --json | wc -c)
[ "$size" -gt 262144 ] && ok "the JSON report ($size bytes) is larger than a pipe buffer" \
    || ko "the JSON report is only $size bytes: head -1 would not always close the pipe first"
statuses=""
for i in $(seq 20); do
    "$BIN" -r "$TMP/big.pcap" --json 2>>"$TMP/pipe.err" | head -1 >/dev/null
    statuses="$statuses ${PIPESTATUS[0]}"
done
if [ "$(echo $statuses | tr ' ' '\n' | sort -u)" = 141 ] && [ ! -s "$TMP/pipe.err" ]; then
    ok "--json | head -1: killed by SIGPIPE (141), nothing on stderr, 20 runs of 20"
else
    ko "--json | head -1: statuses$statuses" "$TMP/pipe.err"
fi

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
