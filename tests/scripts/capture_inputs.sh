#!/usr/bin/env bash
# capture_inputs.sh - saved captures through every kind of input, end to end with the binary:
# a FIFO (mkfifo), a pipe into `-r -`, process substitution `<(...)`, stdin redirected from a
# file; gzip and zstd copies (files and pipes; pcap and pcapng inside); each must give exactly the
# records of the plain file (the summary's capture name aside). Also: a truncated compressed
# stream is a warning with what came before; pieces where a pipe is not last are refused clearly.
set -uo pipefail
bin=${VPNSCOPE_BIN:-build/release/vpnscope}
src=${VPNSCOPE_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$(dirname "$0")/lib_check.sh" # skip, ok, ko, check_done
[ -x "$bin" ] || skip "vpnscope binary not found: $bin (set VPNSCOPE_BIN)"
for t in gzip zstd mkfifo timeout; do command -v $t >/dev/null || skip "$t not found"; done

tmp=$(mktemp -d "${TMPDIR:-/tmp}/vpnscope-inputs.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
# records without the summary's capture name (it names the input: path, "-" or /dev/fd/N)
norm() { sed -E 's/"capture":"[^"]*","side"/"capture":X,"side"/' "$1"; }
same() { # name, reference output, candidate output, candidate exit, reference exit
    if [ "$4" != "$5" ]; then
        ko "$1: exit $4, want $5"
    elif ! diff <(norm "$2") <(norm "$3") >"$tmp/diff"; then
        ko "$1: records differ" "$tmp/diff"
    else
        ok "$1"
    fi
}

for f in esp_collision-inside.pcap mixed-snaplen.pcapng; do
    p=$src/pcaps/$f
    [ -f "$p" ] || skip "bundled capture $f missing"
    timeout 60 "$bin" -r "$p" --json >"$tmp/ref" 2>"$tmp/ref.err"
    want=$?
    [ -s "$tmp/ref" ] || ko "$f: no reference output"

    cat "$p" | timeout 60 "$bin" -r - --json >"$tmp/out" 2>"$tmp/err"
    same "$f pipe into -r -" "$tmp/ref" "$tmp/out" $? $want
    timeout 60 "$bin" -r - --json <"$p" >"$tmp/out" 2>"$tmp/err"
    same "$f stdin from a file" "$tmp/ref" "$tmp/out" $? $want
    timeout 60 "$bin" -r <(cat "$p") --json >"$tmp/out" 2>"$tmp/err"
    same "$f <(...)" "$tmp/ref" "$tmp/out" $? $want
    rm -f "$tmp/fifo"
    mkfifo "$tmp/fifo"
    (cat "$p" >"$tmp/fifo" &)
    timeout 60 "$bin" -r "$tmp/fifo" --json >"$tmp/out" 2>"$tmp/err"
    same "$f FIFO" "$tmp/ref" "$tmp/out" $? $want

    gzip -c "$p" >"$tmp/c.gz"
    zstd -q -c "$p" >"$tmp/c.zst"
    cp "$tmp/c.gz" "$tmp/misnamed.pcap" # detected by magic bytes, not by the name
    for c in c.gz c.zst misnamed.pcap; do
        timeout 60 "$bin" -r "$tmp/$c" --json >"$tmp/out" 2>"$tmp/err"
        same "$f as $c" "$tmp/ref" "$tmp/out" $? $want
        [ -s "$tmp/err" ] && ko "$f as $c: stderr: $(head -1 "$tmp/err")"
        timeout 60 "$bin" -r - --json <"$tmp/$c" >"$tmp/out" 2>"$tmp/err"
        same "$f as $c through stdin" "$tmp/ref" "$tmp/out" $? $want
    done
    zstd -q -c --no-check -B4096 "$p" | head -c 2000 >"$tmp/cut.zst" # several blocks, cut off
    gzip -c "$p" | head -c 1500 >"$tmp/cut.gz"
    for c in cut.gz cut.zst; do
        timeout 60 "$bin" -r "$tmp/$c" --json >"$tmp/out" 2>"$tmp/err"
        rc=$?
        if [ $rc -ge 2 ]; then
            # nothing decodable before the damage is an unreadable file: one line naming it
            if [ "$(wc -l <"$tmp/err")" -ne 1 ] || ! grep -qF "$c" "$tmp/err"; then
                ko "$f $c: exit $rc with stderr: $(cat "$tmp/err")"
            else
                ok "$f $c: unreadable, one line naming it"
            fi
        elif ! grep -q "warning: .*$c.*stream cut off" "$tmp/err"; then
            ko "$f $c: exit $rc, no 'stream cut off' warning naming the file: $(cat "$tmp/err")"
        else
            ok "$f $c: a 'stream cut off' warning naming the file"
        fi
    done
done

# several pieces: a pipe can only be the last one (pieces before it are counted first)
p=$src/pcaps/esp_collision-inside.pcap
cat "$p" | timeout 60 "$bin" -r - -r "$p" --json >"$tmp/out" 2>"$tmp/err"
rc=$?
if [ $rc -ne 2 ] || ! grep -q "standard input: a pipe, FIFO or standard input can only be the last" "$tmp/err"; then
    ko "pipe as the first of two pieces: exit $rc, stderr: $(cat "$tmp/err")"
else
    ok "pipe as the first of two pieces: refused"
fi
# an empty stdin is an unreadable capture: one line, exit 2
timeout 60 "$bin" -r - --json </dev/null >"$tmp/out" 2>"$tmp/err"
rc=$?
if [ $rc -ne 2 ] || [ "$(wc -l <"$tmp/err")" -ne 1 ] || ! grep -q "standard input: empty file" "$tmp/err"; then
    ko "empty stdin: exit $rc, stderr: $(cat "$tmp/err")"
else
    ok "empty stdin: unreadable, one line"
fi
# time on the wire, end to end: pcap seconds past 2^31 (2038) up to 2^32-1 (2106) are unsigned
if command -v python3 >/dev/null; then
    python3 - "$src/pcaps/ah_esp_bundle.pcap" "$tmp/y2106.pcap" <<'PY'
import struct, sys
d = open(sys.argv[1], "rb").read()
out, o, i = bytearray(d[:24]), 24, 0
secs = [0x7FFFFFFF, 0x80000000, 0x80000001, 0xFFFFFFFD, 0xFFFFFFFE, 0xFFFFFFFF]
while o < len(d):
    s, u, c, l = struct.unpack("<IIII", d[o:o + 16])
    out += struct.pack("<IIII", secs[i], u, c, l) + d[o + 16:o + 16 + c]
    o, i = o + 16 + c, i + 1
open(sys.argv[2], "wb").write(out)
PY
    timeout 60 "$bin" -r "$tmp/y2106.pcap" --json >"$tmp/out" 2>"$tmp/err"
    if ! grep -q '"first_ts":"2038-01-19T03:14:07.000000Z","last_ts":"2106-02-07T06:28:14.000000Z"' "$tmp/out"; then
        ko "2038/2106 seconds: timestamps wrong: $(grep -o '"first_ts":"[^"]*","last_ts":"[^"]*"' "$tmp/out" | head -1)"
    elif grep -q timestamp_backwards "$tmp/out"; then
        ko "2038/2106 seconds: false timestamp_backwards"
    else
        ok "2038/2106 seconds: unsigned timestamps"
    fi
fi
check_done
