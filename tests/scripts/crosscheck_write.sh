#!/usr/bin/env bash
# crosscheck_write.sh - -w when reading files writes the frames that pass the BPF filter as a pcap,
# as `tcpdump -r IN -w OUT FILTER` does: tcpdump reads it back with the same frames (timestamps,
# lengths, bytes) as tcpdump reading the input with the filter, the report is unchanged by -w, and
# with two captures -w PREFIX writes PREFIX-inside.pcap and PREFIX-outside.pcap. A -w path that
# cannot be created is one line on stderr and exit 2.
# Skips (77) without tcpdump; under CI=true a skip is a failure (exit 1).
set -uo pipefail
SRC=${VPNSCOPE_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
BIN=${VPNSCOPE_BIN:-$SRC/build/release/vpnscope}
. "$(dirname "$0")/lib_check.sh" # skip, ok, ko, check_done
command -v tcpdump >/dev/null || skip "tcpdump not installed"
ONE=$SRC/pcaps/ss-ikev2-two-clients-inside.pcap
IN=$SRC/pcaps/esp_collision-inside.pcap
OUT=$SRC/pcaps/esp_collision-outside.pcap
NG=$SRC/pcaps/mixed-snaplen.pcapng
for f in "$ONE" "$IN" "$OUT" "$NG"; do [ -f "$f" ] || skip "$f missing"; done
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
# frames as tcpdump prints them: time, link header, hex bytes
dumpf() { tcpdump -r "$1" -nn -tt -e -x "${@:2}" 2>/dev/null; }

# ---- one capture with a filter ----
"$BIN" -r "$ONE" --json host 192.168.2.12 >"$TMP/ref.jsonl"
ref_st=$?
"$BIN" -r "$ONE" --json -w "$TMP/f.pcap" host 192.168.2.12 >"$TMP/w.jsonl"
st=$?
[ "$st" = "$ref_st" ] && cmp -s "$TMP/ref.jsonl" "$TMP/w.jsonl" && ok "-w leaves the report and exit status unchanged" ||
    ko "-w changed the report (exit $st vs $ref_st)"
dumpf "$ONE" host 192.168.2.12 >"$TMP/want.txt"
dumpf "$TMP/f.pcap" >"$TMP/got.txt"
n=$(grep -c '^[0-9]' "$TMP/want.txt")
all=$(dumpf "$ONE" | grep -c '^[0-9]')
if [ "$n" -gt 0 ] && [ "$n" -lt "$all" ] && diff -u "$TMP/want.txt" "$TMP/got.txt" >"$TMP/diff"; then
    ok "-w FILE holds the $n of $all frames that pass the filter, byte for byte"
else
    ko "-w FILE frames differ from tcpdump -r with the filter ($n of $all)" "$TMP/diff"
fi
"$BIN" -r "$ONE" -w "$TMP/all.pcap" >/dev/null
[ "$(dumpf "$TMP/all.pcap" | grep -c '^[0-9]')" = "$all" ] && ok "-w without a filter: every frame ($all)" ||
    ko "-w without a filter"

# ---- pcapng input: written as pcap with the input's link type ----
"$BIN" -r "$NG" -w "$TMP/ng.pcap" >/dev/null
dumpf "$NG" >"$TMP/ngwant.txt"
dumpf "$TMP/ng.pcap" >"$TMP/nggot.txt"
[ "$(head -c 4 "$TMP/ng.pcap" | od -An -tx1 | tr -d ' ')" = "d4c3b2a1" ] && diff -q "$TMP/ngwant.txt" "$TMP/nggot.txt" >/dev/null &&
    ok "pcapng input: a pcap file with the same frames" || ko "pcapng input -w"

# ---- two captures: PREFIX-inside.pcap and PREFIX-outside.pcap ----
"$BIN" --inside "$IN" --outside "$OUT" -w "$TMP/two" esp >/dev/null 2>&1
if diff -q <(dumpf "$IN" esp) <(dumpf "$TMP/two-inside.pcap") >/dev/null &&
    diff -q <(dumpf "$OUT" esp) <(dumpf "$TMP/two-outside.pcap") >/dev/null &&
    [ "$(dumpf "$TMP/two-outside.pcap" | grep -c '^[0-9]')" -gt 0 ]; then
    ok "two captures: -w PREFIX wrote PREFIX-inside.pcap and PREFIX-outside.pcap (filtered, original times)"
else
    ko "two captures: -w PREFIX"
fi

# ---- a path that cannot be written ----
"$BIN" -r "$ONE" -w "$TMP/no/such/dir/x.pcap" >"$TMP/e.out" 2>"$TMP/e.err"
st=$?
[ $st = 2 ] && [ "$(wc -l <"$TMP/e.err")" = 1 ] && [ ! -s "$TMP/e.out" ] && ok "unwritable -w path: one line, exit 2, no report" ||
    ko "unwritable -w path (exit $st)" "$TMP/e.err"

echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
