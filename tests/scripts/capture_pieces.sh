#!/usr/bin/env bash
# capture_pieces.sh - several -r files of one capture point: consecutive ring-buffer pieces are
# silent and give the whole capture's findings; the same file twice, or an overlapping piece,
# gets a warning naming both files on stderr and in the report, and its repeated packets are
# counted as "duplicate" in the summary partition and analysed once (findings equal to the file
# alone); the inside and outside captures of one NAT given as -r pieces get the
# "--inside A --outside B" hint (stderr, text Input line, JSON nat_sides_hint) in the right
# orientation, whichever order they are given in; an unNATed pair (routed) gets none.
# Skips (77) without editcap or python3; under CI=true a skip is a failure.
set -uo pipefail
src=${VPNSCOPE_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
bin=${VPNSCOPE_BIN:-$src/build/release/vpnscope}
skip() {
    echo "SKIP: $*"
    if [ "${CI:-}" = "true" ]; then echo "CI=true: a skipped test is a failure"; exit 1; fi
    exit 77
}
command -v editcap >/dev/null || skip "editcap not installed"
command -v python3 >/dev/null || skip "python3 not installed"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass=0 fail=0
ok() { echo "ok   - $*"; pass=$((pass + 1)); }
ko() { echo "FAIL - $*"; fail=$((fail + 1)); }
check() { if eval "$1"; then ok "$2"; else ko "$2"; fi; }
p=$src/pcaps
run() { # run NAME ARGS...: JSON to $tmp/NAME.jsonl, stderr to $tmp/NAME.err, rc to $tmp/NAME.rc
    local n=$1
    shift
    "$bin" --no-progress --json "$@" >"$tmp/$n.jsonl" 2>"$tmp/$n.err"
    echo $? >"$tmp/$n.rc"
}
# summary field, finding kinds (sorted), partition check
summ() { python3 -c 'import json,sys
s=[json.loads(l) for l in open(sys.argv[1]) if "\"summary\"" in l][-1]
v=s
for k in sys.argv[2].split("."):
    v=v.get(k) if isinstance(v,dict) else None
print(json.dumps(v) if isinstance(v,(dict,list)) else v)' "$1" "$2"; }
kinds() { python3 -c 'import json,sys
r=[json.loads(l) for l in open(sys.argv[1])]
print(sorted((f["kind"],f["confidence"],f["ts"]) for f in r if f["type"]=="finding"))' "$1"; }
partition() { python3 -c 'import json,sys
s=[json.loads(l) for l in open(sys.argv[1]) if "\"summary\"" in l][-1]
parts=sum(s.get(k,0) for k in ("decoded","truncated","invalid","non_ip","filtered","duplicate"))
sys.exit(0 if parts==s["packets"] else 1)' "$1"; }

# 1. consecutive pieces of one capture (tcpdump -C): silent, same findings as the whole file
whole=$p/stale_nat-inside.pcap
editcap -r "$whole" "$tmp/ring0.pcap" 1-18 >/dev/null && editcap -r "$whole" "$tmp/ring1.pcap" 19-1000 >/dev/null ||
    skip "editcap cannot split"
run whole -r "$whole"
run ring -r "$tmp/ring0.pcap" -r "$tmp/ring1.pcap"
check '[ ! -s "$tmp/ring.err" ]' "ring pieces: nothing on stderr"
check '[ "$(kinds "$tmp/ring.jsonl")" = "$(kinds "$tmp/whole.jsonl")" ] && [ "$(cat "$tmp/ring.rc")" = "$(cat "$tmp/whole.rc")" ]' \
    "ring pieces: the findings and exit status of the whole file"
check '[ "$(summ "$tmp/ring.jsonl" pieces_overlap)" = None ] && [ "$(summ "$tmp/ring.jsonl" duplicate)" = None ] && [ "$(summ "$tmp/ring.jsonl" nat_sides_hint)" = None ]' \
    "ring pieces: no overlap, duplicate or hint in the summary"

# 2. the same file twice: a warning naming it, every repeat counted as duplicate, analysed once
f=$p/esp_collision-inside.pcap
n=$(capinfos -Mc "$f" 2>/dev/null | awk '/Number of packets/ {print $NF}')
run one -r "$f"
run twice -r "$f" -r "$f"
check 'grep -q "warning: pieces .*esp_collision-inside.pcap and .*esp_collision-inside.pcap overlap in time.*$n packets repeat" "$tmp/twice.err"' \
    "same file twice: stderr names the files and the $n repeated packets"
check '[ "$(summ "$tmp/twice.jsonl" duplicate)" = "$n" ] && [ "$(summ "$tmp/twice.jsonl" packets)" = "$((2 * n))" ] && partition "$tmp/twice.jsonl"' \
    "same file twice: packets $((2 * n)) = ... + $n duplicate (the partition holds)"
check '[ "$(kinds "$tmp/twice.jsonl")" = "$(kinds "$tmp/one.jsonl")" ] && [ "$(cat "$tmp/twice.rc")" = "$(cat "$tmp/one.rc")" ]' \
    "same file twice: the findings and exit status of the file alone (no replays, no retransmissions)"
check '[ "$(summ "$tmp/twice.jsonl" pieces_overlap | python3 -c "import json,sys; v=json.load(sys.stdin); print(len(v), v[0][\"repeated\"])")" = "1 $n" ]' \
    "same file twice: JSON pieces_overlap lists the pair with repeated $n"
"$bin" --no-progress -r "$f" -r "$f" >"$tmp/twice.txt" 2>/dev/null
check 'grep -q "^  Input:     pieces .* overlap in time .*; $n packets repeat the same bytes" "$tmp/twice.txt" && grep -q "+ $n duplicate$" "$tmp/twice.txt"' \
    "same file twice: the text report's Input line and partition say it"

# 3. an overlapping piece (frames 10-30 of the same file, as a second ring that overlapped)
editcap -r "$f" "$tmp/part.pcap" 10-30 >/dev/null
run part -r "$f" -r "$tmp/part.pcap"
check '[ "$(summ "$tmp/part.jsonl" duplicate)" = 21 ] && partition "$tmp/part.jsonl" && [ "$(kinds "$tmp/part.jsonl")" = "$(kinds "$tmp/one.jsonl")" ]' \
    "overlapping piece: 21 duplicates, the file's findings"

# 4. inside and outside of a NAT given as pieces: the hint, in either order
for sc in esp_collision stale_nat natt_keepalive_ok; do
    in=$p/$sc-inside.pcap out=$p/$sc-outside.pcap
    for order in io oi; do
        if [ $order = io ]; then run h -r "$in" -r "$out"; else run h -r "$out" -r "$in"; fi
        check 'grep -q "hint: .*$sc-inside.pcap and .*$sc-outside.pcap look like the inside and outside of a NAT.*use --inside .*$sc-inside.pcap --outside .*$sc-outside.pcap" "$tmp/h.err"' \
            "$sc ($order): stderr hint --inside inside --outside outside"
        check '[ "$(summ "$tmp/h.jsonl" nat_sides_hint.inside)" = "$in" ] && [ "$(summ "$tmp/h.jsonl" nat_sides_hint.outside)" = "$out" ]' \
            "$sc ($order): JSON nat_sides_hint"
    done
done
"$bin" --no-progress -r "$p/stale_nat-outside.pcap" -r "$p/stale_nat-inside.pcap" >"$tmp/h.txt" 2>/dev/null
check 'grep -q "^  Input:     .*stale_nat-inside.pcap and .*stale_nat-outside.pcap look like the inside and outside of a NAT" "$tmp/h.txt"' \
    "text report: the hint on an Input line"
# a router that forwards without translating: the two sides share their sources, no hint
run routed -r "$p/esp_routed-inside.pcap" -r "$p/esp_routed-outside.pcap"
check '! grep -q "hint:" "$tmp/routed.err" && [ "$(summ "$tmp/routed.jsonl" nat_sides_hint)" = None ]' \
    "routed (no NAT): no hint"

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
