#!/usr/bin/env bash
# ui_evidence.sh - what the dashboard's Findings view leads to, on the real binary in tmux:
# 1. the open finding scrolls at 80x24 (j, PgDn, Home, End; "line x/y"): the remedy and the
#    Wireshark filters are off screen first and visible after End, and the remedy read off the
#    screen equals the report's (wrapped, nothing cut);
# 2. t selects the tunnel of the finding's first client (reverse video row), says how many
#    tunnels it names, and Esc / t go back to the open finding;
# 3. x writes the finding's packets: the same pcapng bytes and index line as --export DIR,
#    tshark reads back as many frames as the index says; without --export into
#    ./vpnscope-export-<capture>/; a directory that cannot be made is said with its errno text;
# 4. the Tunnels view at 100+ columns draws an activity sparkline per tunnel, and the stale_nat
#    tunnel's idle gap is a run of blanks between packets (UTF-8 blocks and ASCII levels); at
#    80 columns there is no sparkline line.
# Skips (77) without tmux, tshark or python3; under CI=true a skip is a failure (exit 1).
set -uo pipefail

BIN=${VPNSCOPE_BIN:-}
SRC=${VPNSCOPE_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
SOCK_NAME=vst-uiev
# shellcheck source=lib_tmux.sh
. "$(dirname "$0")/lib_tmux.sh"
[ -n "$BIN" ] && [ -x "$BIN" ] || skip "VPNSCOPE_BIN not set or not executable"
command -v tmux >/dev/null || skip "tmux not installed"
command -v tshark >/dev/null || skip "tshark not installed"
command -v python3 >/dev/null || skip "python3 not installed"
IN=$SRC/pcaps/esp_collision-inside.pcap
OUT=$SRC/pcaps/esp_collision-outside.pcap
SIN=$SRC/pcaps/stale_nat-inside.pcap
SOUT=$SRC/pcaps/stale_nat-outside.pcap
for f in "$IN" "$OUT" "$SIN" "$SOUT"; do [ -f "$f" ] || skip "$f missing"; done

# the report's view of the esp_collision finding: remedy, filters, first client, exported file
"$BIN" --inside "$IN" --outside "$OUT" --json --export "$TMP/ref" >"$TMP/report.jsonl"
python3 - "$TMP/report.jsonl" "$TMP/ref/index.jsonl" >"$TMP/facts" <<'PY'
import json, sys
f = [json.loads(l) for l in open(sys.argv[1]) if '"esp_collision"' in l and '"finding"' in l][0]
idx = [json.loads(l) for l in open(sys.argv[2])]
ex = [r for r in idx if r["kind"] == "esp_collision"][0]
print(f["remedy"])
print(f["display_filter"]["inside"])
print([s["ip"] for s in f["sessions"] if s["role"] == "client"][0])
print(sum(1 for s in f["sessions"] if s["role"] == "client"))
print(ex["file"])
print(ex["packets"])
PY
REMEDY=$(sed -n 1p "$TMP/facts")
FILTER=$(sed -n 2p "$TMP/facts")
CLIENT=$(sed -n 3p "$TMP/facts")
NCLIENTS=$(sed -n 4p "$TMP/facts")
XFILE=$(sed -n 5p "$TMP/facts")
XPKTS=$(sed -n 6p "$TMP/facts")
[ -n "$XFILE" ] && [ "$XPKTS" -gt 0 ] || { echo "FAIL - the reference --export has no esp_collision file"; exit 1; }
re() { sed 's/[][\.*^$(){}+?|/]/\\&/g' <<<"$1"; } # a literal as an extended regex
LASTWORD=$(re "${REMEDY##* }")

tmux_keep

# ---- 1. the open finding scrolls at 80x24 ----
start 80 24 "NO_COLOR=1" --ui --inside "$IN" --outside "$OUT" --export "$TMP/exp" --speed 0 --refresh 100
expect "replay ends" "REPLAY FINISHED" 20
keys 3
expect "view 3: the esp_collision finding" "error +esp_collision"
keys Enter
expect "Enter opens it at line 1 with more below" "line 1/[0-9]+ \(more\)"
total=$(grep -oE "line 1/[0-9]+" <<<"$screen" | cut -d/ -f2)
[ "${total:-0}" -gt 19 ] && ok "the finding is longer than the screen ($total lines)" || ko "finding longer than the screen (${total:-?} lines)"
expect_not "the remedy's end is off screen at first" "$LASTWORD *\$"
expect_not "the display filter is off screen at first" "$(re "$FILTER")"
keys j
expect "j scrolls one line" "line 2/$total "
keys NPage
expect "PgDn scrolls a page" "line (1[0-9]|[2-9][0-9])/$total "
keys Home
expect "Home goes back to the top" "line 1/$total "
keys End
expect "End shows the end" "line [0-9]+/$total \(end\)"
expect "after End: the remedy's last line is visible" "$LASTWORD *\$"
expect "after End: the inside display filter is visible" "$(re "$FILTER")"
shown=$(awk '/^ Remedy:/ { on = 1; next } / line [0-9]+\/[0-9]+ / { on = 0 } on { sub(/^ +/, ""); printf "%s%s", sep, $0; sep = " " }' <<<"$screen")
[ "$shown" = "$REMEDY" ] && ok "the remedy on screen is the report's, word for word" ||
    ko "remedy on screen: '$shown' vs '$REMEDY'"
keys k
expect "k scrolls back up" "line [0-9]+/$total \(more\)"

# ---- 2. t: the tunnel of the finding, and back ----
keys t
expect "t says how many tunnels the finding names" "the finding names $NCLIENTS tunnels: the first is selected"
esc=$($T capture-pane -p -e -t ui)
# the selected tunnel row: its state word at column 0 in reverse video (NO_COLOR)
sel=$(grep -E $'^\e\\[[0-9;]*7m\\*?[a-z-]+' <<<"$esc")
if [ "$(grep -c . <<<"$sel")" = 1 ] && grep -qF "$CLIENT:" <<<"$sel"; then
    ok "t selects the row of the first client $CLIENT"
else
    ko "t selects the row of $CLIENT (reverse video rows: $sel)"
fi
expect "t shows the Tunnels view" "STATE +CLIENT"
keys Escape
expect "Esc goes back to the open finding" "line [0-9]+/$total "
keys t
expect "t again: the tunnel" "STATE +CLIENT"
keys t
expect "t in the Tunnels view after a jump goes back" "line [0-9]+/$total "

# ---- 3. x: the finding's packets as --export writes them ----
keys x
expect "x says where it wrote" "wrote $XPKTS packets: .*$(re "$XFILE")"
if cmp -s "$TMP/exp/$XFILE" "$TMP/ref/$XFILE"; then ok "x wrote the same pcapng bytes as --export"; else ko "x file differs from --export's"; fi
n=$(tshark -r "$TMP/exp/$XFILE" 2>/dev/null | wc -l)
[ "$n" = "$XPKTS" ] && ok "tshark reads $n frames back (the finding's evidence)" || ko "tshark reads $n frames, want $XPKTS"
c=$(tshark -r "$TMP/exp/$XFILE" -T fields -e frame.comment 2>/dev/null | grep -c .)
[ "$c" = "$XPKTS" ] && ok "every exported packet carries its comment" || ko "comments: $c of $XPKTS"
want=$(grep -F "\"file\":\"$XFILE\"" "$TMP/ref/index.jsonl")
got=$(cat "$TMP/exp/index.jsonl" 2>/dev/null)
[ -n "$want" ] && [ "$got" = "$want" ] && ok "index.jsonl has the same line as --export's" || ko "index line: '$got'"
keys x
lines=$(grep -c . "$TMP/exp/index.jsonl")
[ "$lines" = 1 ] && ok "x twice: one index line" || ko "x twice: $lines index lines"
keys q
exit_status >/dev/null

mkdir -p "$TMP/cwd"
: >"$TMP/afile"
UI_CWD=$TMP/cwd start 80 24 "" --ui --inside "$IN" --outside "$OUT" --speed 0 --refresh 100
expect "default directory: replay ends" "REPLAY FINISHED" 20
keys 3
keys x
base=$(basename "$IN" .pcap)
expect "x without --export: ./vpnscope-export-<capture>/" "wrote $XPKTS packets: vpnscope-export-$base/$(re "$XFILE")"
cmp -s "$TMP/cwd/vpnscope-export-$base/$XFILE" "$TMP/ref/$XFILE" && ok "default directory: same bytes" || ko "default directory: file missing or different"
keys q
exit_status >/dev/null
start 80 24 "" --ui --inside "$IN" --outside "$OUT" --export "$TMP/afile/sub" --speed 0 --refresh 100
expect "unwritable directory: replay ends" "REPLAY FINISHED" 20
keys 3
keys x
expect "x says why it failed, with the errno text" "export failed: .*afile/sub: Not a directory"
keys q
exit_status >/dev/null

# ---- 4. the activity sparkline of a stale NAT ----
gap_utf='activity >\[[^] ]+ {3,}[^] ]+\]'
start 120 40 "LC_ALL=C.UTF-8" --ui --inside "$SIN" --outside "$SOUT" --speed 0 --refresh 100
expect "stale_nat: replay ends" "REPLAY FINISHED" 20
expect "stale_nat: the warning finding" "Findings: 0 error +1 warning"
expect "UTF-8: the tunnel's sparkline shows the idle gap as blanks between packets" "$gap_utf"
grep -qE "activity >\[.*[▁▂▃▄▅▆▇█]" <<<"$screen" && ok "UTF-8: block elements" || ko "UTF-8: block elements"
keys 3
keys t
expect "t from the stale_nat finding lands on the tunnel with the gap" "$gap_utf"
keys q
exit_status >/dev/null
start 100 30 "LC_ALL=C" --ui --inside "$SIN" --outside "$SOUT" --speed 0 --refresh 100
expect "ASCII at 100 columns: the idle gap as blanks between packets" 'activity >\[[-.:=+*#]+ {3,}[-.:=+*#]+\]' 20
keys q
exit_status >/dev/null
start 80 24 "LC_ALL=C" --ui --inside "$SIN" --outside "$SOUT" --speed 0 --refresh 100
expect "80 columns: replay ends" "REPLAY FINISHED" 20
expect_not "80 columns: no sparkline line" "activity >"
keys q
exit_status >/dev/null

check_done
