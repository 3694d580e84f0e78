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
. "$(dirname "$0")/lib_check.sh" # skip, ok, ko, check_done
command -v editcap >/dev/null || skip "editcap not installed"
command -v python3 >/dev/null || skip "python3 not installed"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
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

# 5. frame references name their file, numbered as in that file (what Wireshark shows when it
# opens the file alone): a capture split in two pieces, given in order and reversed, must give
# the whole file's findings with frame G as (piece 0, G) or (piece 1, G - K); every per-file
# display filter selects exactly those frames in that file (tshark), and the text report names
# the files. Pieces of an inside capture in two-capture mode too.
frames_check() { # WHOLE.jsonl PIECES.jsonl K R0 R1
    python3 - "$@" <<'PY'
import json, sys
whole, pieces, k, r0, r1 = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5]
def frames(path, with_file):
    out = []
    for l in open(path):
        r = json.loads(l)
        if r["type"] != "finding":
            continue
        fs = []
        for fr in r["evidence"]["frames"]:
            if with_file:
                if "file" not in fr:
                    sys.exit("frame without file: %s" % fr)
                fs.append((fr["capture"], fr["file"], fr["frame"]))
            else:
                if "file" in fr:
                    sys.exit("file in a single-file report")
                g = fr["frame"]
                fs.append((fr["capture"], r0 if g <= k else r1, g if g <= k else g - k) if fr["capture"] != "outside" else (fr["capture"], None, g))
        out.append((r["kind"], sorted(fs, key=str), sorted(r["display_filter"])))
    return out
w, p = frames(whole, False), frames(pieces, True)
if not w:
    sys.exit("no findings with frames")
if [(a, b) for a, b, _ in w] != [(a, b) for a, b, _ in p]:
    print("whole :", w); print("pieces:", p); sys.exit(1)
for (_, fs, _), (_, _, keys) in zip(w, p):
    files = sorted({f for c, f, _ in fs if f})
    if files != sorted(k2 for k2 in keys if k2 not in ("inside", "outside", "single")):
        sys.exit("display_filter keys %s, expected %s" % (keys, files))
PY
}
for sc in mtu_icmp_ignored-inside mtu_blackhole_noicmp-outside wg_one_way-inside; do
    whole=$p/$sc.pcap
    n=$(capinfos -Mc "$whole" 2>/dev/null | awk '/Number of packets/ {print $NF}')
    k=$((n / 2))
    editcap -r "$whole" "$tmp/a.pcap" "1-$k" >/dev/null && editcap -r "$whole" "$tmp/b.pcap" "$((k + 1))-$n" >/dev/null
    run w -r "$whole"
    run ab -r "$tmp/a.pcap" -r "$tmp/b.pcap"
    run ba -r "$tmp/b.pcap" -r "$tmp/a.pcap"
    check 'frames_check "$tmp/w.jsonl" "$tmp/ab.jsonl" $k "$tmp/a.pcap" "$tmp/b.pcap"' "$sc: pieces in order: the whole file's frames as (file, frame in that file)"
    check 'frames_check "$tmp/w.jsonl" "$tmp/ba.jsonl" $k "$tmp/a.pcap" "$tmp/b.pcap"' "$sc: pieces reversed: the same (file, frame) references"
    if command -v tshark >/dev/null; then
        okf=1
        while IFS=$'\t' read -r file filter want; do
            got=$(tshark -r "$file" -Y "$filter" 2>/dev/null | wc -l)
            [ "$got" = "$want" ] || { echo "  $file '$filter': tshark $got frames, listed $want"; okf=0; }
        done < <(python3 -c 'import json,sys,collections
for l in open(sys.argv[1]):
    r=json.loads(l)
    if r["type"]!="finding": continue
    c=collections.Counter(f["file"] for f in r["evidence"]["frames"])
    for file,flt in r["display_filter"].items(): print(file, flt, c[file], sep="\t")' "$tmp/ba.jsonl")
        check '[ $okf = 1 ]' "$sc: every per-file display_filter selects exactly its listed frames in that file (tshark)"
    fi
    "$bin" --no-progress -r "$tmp/a.pcap" -r "$tmp/b.pcap" >"$tmp/ab.txt" 2>/dev/null
    check 'grep -q "^    frames: single .*/[ab].pcap #" "$tmp/ab.txt" && grep -q "^  Wireshark filter (.*/[ab].pcap): frame.number in" "$tmp/ab.txt" && ! grep -q "^  Wireshark filter: " "$tmp/ab.txt"' \
        "$sc: the text report names the file of the frames and of each filter"
done
# --export: every packet's comment names its file and its frame number in that file
if command -v tshark >/dev/null; then
    "$bin" --no-progress -r "$tmp/b.pcap" -r "$tmp/a.pcap" --json --export "$tmp/ex" >"$tmp/ex.jsonl" 2>/dev/null
    python3 -c 'import json,sys
for l in open(sys.argv[1]):
    r=json.loads(l)
    if r["type"]=="finding":
        for f in r["evidence"]["frames"]: print("capture %s frame %d" % (f["file"], f["frame"]))' "$tmp/ex.jsonl" | sort >"$tmp/ex.want"
    for e in "$tmp"/ex/*.pcapng; do tshark -r "$e" -T fields -e frame.comment 2>/dev/null; done | sed 's/: .*//' | sort >"$tmp/ex.got"
    check '[ -s "$tmp/ex.want" ] && cmp -s "$tmp/ex.want" "$tmp/ex.got"' "--export: each packet's comment names its file and frame in that file"
fi
# an inside capture in two pieces (two-capture mode): inside frames name their file, outside ones not
sc=mtu_icmp_ignored
n=$(capinfos -Mc "$p/$sc-inside.pcap" 2>/dev/null | awk '/Number of packets/ {print $NF}')
k=$((n / 2))
editcap -r "$p/$sc-inside.pcap" "$tmp/a.pcap" "1-$k" >/dev/null && editcap -r "$p/$sc-inside.pcap" "$tmp/b.pcap" "$((k + 1))-$n" >/dev/null
run w2 --inside "$p/$sc-inside.pcap" --outside "$p/$sc-outside.pcap"
run p2 --inside "$tmp/a.pcap" --inside "$tmp/b.pcap" --outside "$p/$sc-outside.pcap"
two_check() { # WHOLE.jsonl PIECES.jsonl K
    python3 - "$@" <<'PY'
import json, sys
k = int(sys.argv[3])
def fr(path, strip):
    o = []
    for l in open(path):
        r = json.loads(l)
        if r["type"] != "finding":
            continue
        for f in r["evidence"]["frames"]:
            if f["capture"] == "outside":
                if "file" in f:
                    sys.exit("file on an outside frame")
                o.append(("outside", "", f["frame"]))
            elif strip:
                g = f["frame"]
                o.append(("inside", "a.pcap" if g <= k else "b.pcap", g if g <= k else g - k))
            else:
                o.append(("inside", f["file"].rsplit("/", 1)[-1], f["frame"]))
    return sorted(o)
a, b = fr(sys.argv[1], True), fr(sys.argv[2], False)
sys.exit(0 if a and a == b and any(x[1] == "b.pcap" for x in a) else 1)
PY
}
check 'two_check "$tmp/w2.jsonl" "$tmp/p2.jsonl" $k' "two-capture mode, inside in two pieces: inside frames as (file, frame in file), outside frames unchanged"

# inside and outside given the wrong way round (vpnscope swaps them): the report names each file
# as used, and --export re-reads every frame from the file it was read from
"$bin" --no-progress --json --inside "$p/esp_collision-outside.pcap" --outside "$p/esp_collision-inside.pcap" \
    --export "$tmp/exs" >"$tmp/sw.jsonl" 2>/dev/null
rc=$?
check '[ "$rc" = 1 ] && [ "$(summ "$tmp/sw.jsonl" captures.inside)" = "[\"$p/esp_collision-inside.pcap\"]" ] && [ "$(ls "$tmp/exs"/*.pcapng | wc -l)" = 3 ]' \
    "swapped sides: captures named as used, --export writes every finding"

check_done
