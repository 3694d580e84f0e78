#!/usr/bin/env bash
# batch_tcpdump_habits.sh - the command line as tcpdump users type it, end to end with the binary:
# options after the BPF expression and `--` ending the options; -n/-nn accepted; `-r -` from a
# pipe; two-capture modes refusing standard input with one clear line; -w with -r writing the
# frames that pass the filter (tshark reads them back, same frames as tcpdump's own -w); -c
# counting the packets that pass the filter (tcpdump semantics); -D listing interfaces as
# tcpdump -D; compressed captures (.gz, .zst) in every mode (-r, --inside/--outside, --router,
# --batch) giving the records of the plain files.
# Skips (77) without tshark/tcpdump/gzip/zstd; under CI=true a skip is a failure (exit 1).
set -uo pipefail
SRC=${VPNSCOPE_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
BIN=${VPNSCOPE_BIN:-$SRC/build/release/vpnscope}
. "$(dirname "$0")/lib_check.sh" # skip, ok, ko, check_done
for t in tshark tcpdump gzip zstd python3; do command -v $t >/dev/null || skip "$t not installed"; done
ONE=$SRC/pcaps/ss-ikev2-two-clients-inside.pcap
IN=$SRC/pcaps/esp_collision-inside.pcap
OUT=$SRC/pcaps/esp_collision-outside.pcap
RT=$SRC/pcaps/mtu_blackhole-router.pcap
for f in "$ONE" "$IN" "$OUT" "$RT"; do [ -f "$f" ] || skip "$f missing"; done
TMP=$(mktemp -d "${TMPDIR:-/tmp}/vpnscope-habits.XXXXXX") || exit 1
trap 'rm -rf "$TMP"' EXIT
# summary field of a JSON report
field() { python3 -c 'import json,sys
for l in open(sys.argv[1]):
    r = json.loads(l)
    if r["type"] == "summary": print(r[sys.argv[2]])' "$1" "$2"; }
frames() { tshark -r "$1" -T fields -e frame.time_epoch -e frame.len 2>/dev/null; }

# ---- options anywhere, -- ends the options, -n/-nn ----
"$BIN" -r "$ONE" --json host 192.168.2.12 >"$TMP/ref.jsonl" 2>"$TMP/err"
ref=$?
[ -s "$TMP/ref.jsonl" ] && [ "$(field "$TMP/ref.jsonl" filtered)" -gt 0 ] || ko "reference run with the filter first" "$TMP/err"
for args in "-r $ONE host 192.168.2.12 --json" "host 192.168.2.12 -r $ONE --json" \
    "-nn -r $ONE --json host 192.168.2.12" "-r $ONE -n --json -- host 192.168.2.12"; do
    # shellcheck disable=SC2086
    "$BIN" $args >"$TMP/o.jsonl" 2>"$TMP/err"
    st=$?
    [ $st = $ref ] && cmp -s "$TMP/ref.jsonl" "$TMP/o.jsonl" && ok "same report: vpnscope $args" ||
        ko "vpnscope $args (exit $st)" "$TMP/err"
done
"$BIN" -r "$ONE" --json -- host 192.168.2.12 --json >"$TMP/o" 2>"$TMP/err"
[ $? = 2 ] && grep -q "invalid filter expression 'host 192.168.2.12 --json'" "$TMP/err" &&
    ok "after --, --json is a filter word (an invalid expression, exit 2)" || ko "-- ends the options" "$TMP/err"

# ---- -r - from a pipe; two-capture modes refuse standard input ----
cat "$ONE" | "$BIN" -r - host 192.168.2.12 --json >"$TMP/o.jsonl" 2>"$TMP/err"
st=$?
[ $st = $ref ] && diff <(grep -v '"type":"summary"' "$TMP/ref.jsonl") <(grep -v '"type":"summary"' "$TMP/o.jsonl") >/dev/null &&
    [ "$(field "$TMP/o.jsonl" packets)" = "$(field "$TMP/ref.jsonl" packets)" ] &&
    ok "cat FILE | vpnscope -r - FILTER: the records of the file" || ko "-r - from a pipe (exit $st)" "$TMP/err"
for mode in "--inside - --outside $OUT" "--inside $IN --outside -" "--router -"; do
    # shellcheck disable=SC2086
    cat "$IN" | "$BIN" $mode >"$TMP/o" 2>"$TMP/err"
    st=$?
    [ $st = 2 ] && [ "$(wc -l <"$TMP/err")" = 1 ] && grep -q "standard input, pipes and FIFOs can only be read once" "$TMP/err" && [ ! -s "$TMP/o" ] &&
        ok "$mode: refused with one line, exit 2" || ko "$mode from a pipe (exit $st)" "$TMP/err"
done
mkfifo "$TMP/fifo"
"$BIN" --inside "$TMP/fifo" --outside "$OUT" >"$TMP/o" 2>"$TMP/err"
[ $? = 2 ] && grep -q "fifo: two-capture modes" "$TMP/err" && ok "--inside FIFO refused before it is opened" || ko "--inside FIFO" "$TMP/err"

# ---- -w with -r: the frames that passed the filter, read back by tshark ----
"$BIN" -r "$ONE" -w "$TMP/w.pcap" --json host 192.168.2.12 >"$TMP/o.jsonl" 2>"$TMP/err"
st=$?
tcpdump -r "$ONE" -w "$TMP/td.pcap" host 192.168.2.12 2>/dev/null
n=$(frames "$TMP/w.pcap" | wc -l)
if [ $st = $ref ] && cmp -s "$TMP/ref.jsonl" "$TMP/o.jsonl" && [ "$n" -gt 0 ] &&
    diff <(frames "$TMP/td.pcap") <(frames "$TMP/w.pcap") >"$TMP/diff" &&
    [ "$(tshark -r "$TMP/w.pcap" -x 2>/dev/null | md5sum)" = "$(tshark -r "$TMP/td.pcap" -x 2>/dev/null | md5sum)" ]; then
    ok "-w with -r and a filter: tshark reads the $n frames tcpdump -w writes, byte for byte"
else
    ko "-w with -r (exit $st, $n frames)" "$TMP/diff"
fi
"$BIN" -r "$ONE" -w /dev/full >"$TMP/o" 2>"$TMP/err"
st=$?
[ $st = 2 ] && grep -q "/dev/full" "$TMP/err" && ok "-w /dev/full: the write failure is an error naming the file (exit 2)" ||
    ko "-w /dev/full (exit $st)" "$TMP/err"

# ---- -c counts the packets that pass the filter ----
all=$(tcpdump -r "$ONE" -nn udp 2>/dev/null | wc -l)
"$BIN" -r "$ONE" -c 3 -w "$TMP/c.pcap" --json udp >"$TMP/c.jsonl" 2>"$TMP/err"
tcpdump -r "$ONE" -c 3 -w "$TMP/tdc.pcap" udp 2>/dev/null
if [ "$all" -gt 3 ] && [ "$(frames "$TMP/c.pcap" | wc -l)" = 3 ] && diff -q <(frames "$TMP/tdc.pcap") <(frames "$TMP/c.pcap") >/dev/null &&
    [ "$(($(field "$TMP/c.jsonl" packets) - $(field "$TMP/c.jsonl" filtered)))" = 3 ]; then
    ok "-c 3 udp: three packets that pass the filter (of $all), as tcpdump -c 3 udp"
else
    ko "-c after the filter" "$TMP/err"
fi

# ---- -D as tcpdump -D ----
"$BIN" -D >"$TMP/d" 2>"$TMP/err"
st=$?
if [ $st = 0 ] && grep -qE '^[0-9]+\.lo ' "$TMP/d" && ! grep -vqE '^[0-9]+\.[^ ]+' "$TMP/d"; then
    td=$(tcpdump -D 2>/dev/null | sed -E 's/^[0-9]+\.([^ ]+).*/\1/' | sort | tr '\n' ' ')
    vs=$(sed -E 's/^[0-9]+\.([^ ]+).*/\1/' "$TMP/d" | sort | tr '\n' ' ')
    [ "$td" = "$vs" ] && ok "-D lists the interfaces tcpdump -D lists ($vs)" || ko "-D: '$vs' vs tcpdump '$td'"
else
    ko "-D (exit $st)" "$TMP/err"
fi

# ---- progress on a terminal (a pseudo-terminal from script(1); the first-line delay set to 0 so
# that a small capture shows it): both passes of two captures, cleared at the end ----
if command -v script >/dev/null; then
    script -qc "VPNSCOPE_PROGRESS_DELAY=0 $BIN --inside $IN --outside $OUT >/dev/null" /dev/null >"$TMP/tty.txt" 2>&1
    script -qc "VPNSCOPE_PROGRESS_DELAY=0 $BIN --inside $IN --outside $OUT --no-progress >/dev/null" /dev/null >"$TMP/tty-no.txt" 2>&1
    VPNSCOPE_PROGRESS_DELAY=0 "$BIN" --inside "$IN" --outside "$OUT" >/dev/null 2>"$TMP/notty.txt"
    script -qc "VPNSCOPE_PROGRESS_DELAY=0 $BIN --router $RT >/dev/null" /dev/null >"$TMP/tty-rt.txt" 2>&1
    if grep -q "pass 1/2 (clock), inside:" "$TMP/tty.txt" && grep -q "pass 1/2 (clock), outside:" "$TMP/tty.txt" &&
        grep -q "pass 2/2 (analysis):" "$TMP/tty.txt" && [ "$(tail -c 1 "$TMP/tty.txt" | od -An -c | tr -d ' ')" = '\r' ] &&
        ! grep -q "pass" "$TMP/tty-no.txt" && ! grep -q "pass" "$TMP/notty.txt" &&
        grep -q "pass 1/2 (interfaces):" "$TMP/tty-rt.txt" && grep -q "pass 2/2 (analysis):" "$TMP/tty-rt.txt"; then
        ok "progress on a terminal: both passes of two captures and of --router, cleared; none with --no-progress or off a terminal"
    else
        ko "progress" "$TMP/tty.txt"
    fi
else
    skip "script (util-linux) not installed"
fi

# ---- compressed captures in every mode ----
for f in "$ONE" "$IN" "$OUT" "$RT"; do
    gzip -c "$f" >"$TMP/$(basename "$f").gz"
    zstd -q -c "$f" >"$TMP/$(basename "$f").zst"
done
norm() { sed -E 's/"(capture|file)":"[^"]*"/"\1":X/g; s/"(inside|outside)":\["[^"]*"\]/"\1":[X]/g' "$1"; }
cmp_mode() { # name, args of the plain run, args of the compressed run
    local name=$1
    # shellcheck disable=SC2086
    "$BIN" $2 --json >"$TMP/p.jsonl" 2>/dev/null
    local a=$?
    # shellcheck disable=SC2086
    "$BIN" $3 --json >"$TMP/z.jsonl" 2>"$TMP/err"
    local b=$?
    [ $a = $b ] && [ $a -lt 2 ] && [ -s "$TMP/p.jsonl" ] && diff <(norm "$TMP/p.jsonl") <(norm "$TMP/z.jsonl") >"$TMP/diff" &&
        ok "$name: same records as the plain captures" || ko "$name (exit $b vs $a)" "$TMP/diff"
}
for z in gz zst; do
    cmp_mode "-r .$z" "-r $ONE" "-r $TMP/$(basename "$ONE").$z"
    cmp_mode "--inside/--outside .$z" "--inside $IN --outside $OUT" "--inside $TMP/$(basename "$IN").$z --outside $TMP/$(basename "$OUT").$z"
    cmp_mode "--router .$z" "--router $RT" "--router $TMP/$(basename "$RT").$z"
    mkdir -p "$TMP/b$z" "$TMP/bplain"
    cp "$TMP/$(basename "$IN").$z" "$TMP/$(basename "$OUT").$z" "$TMP/b$z/"
    cp "$IN" "$OUT" "$TMP/bplain/"
    cmp_mode "--batch over .$z" "--batch $TMP/bplain" "--batch $TMP/b$z"
done

echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
