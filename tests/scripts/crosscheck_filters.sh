#!/usr/bin/env bash
# crosscheck_filters.sh - every finding's Wireshark display filter selects exactly its evidence
# frames: for each tests/golden/TESTLIST line, vpnscope --json runs over its inputs, and for each
# finding and each capture it has frames on, `tshark -r CAPTURE -Y FILTER` must list exactly the
# finding's frames of that capture. Lines whose capture point is several pieces (a,b) are checked
# on the first piece only when every frame lies in it (frame numbers continue across pieces).
# Needs tshark and python3 (a skip without them; a failure under CI=true).
set -uo pipefail
src=${VPNSCOPE_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
bin=${VPNSCOPE_BIN:-$src/build/release/vpnscope}
if ! command -v tshark >/dev/null || ! command -v python3 >/dev/null; then
    echo "SKIP: tshark or python3 missing"
    [ "${CI:-}" = true ] && exit 1
    exit 77
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
resolve() { case $1 in /*) echo "$1" ;; *) echo "$src/pcaps/$1" ;; esac; }
fail=0
lines=0
while read -r name inputs _ _ args; do
    case $name in '' | '#'*) continue ;; esac
    argv=()
    ins=() outs=() single=() router=""
    if [[ $inputs == router:* ]]; then
        router=$(resolve "${inputs#router:}")
        argv+=(--router "$router")
    elif [[ $inputs == *+* ]]; then
        IFS=',' read -ra a <<<"${inputs%%+*}"
        IFS=',' read -ra b <<<"${inputs#*+}"
        for f in "${a[@]}"; do ins+=("$(resolve "$f")"); argv+=(--inside "$(resolve "$f")"); done
        for f in "${b[@]}"; do outs+=("$(resolve "$f")"); argv+=(--outside "$(resolve "$f")"); done
    else
        IFS=',' read -ra a <<<"$inputs"
        for f in "${a[@]}"; do single+=("$(resolve "$f")"); argv+=(-r "$(resolve "$f")"); done
    fi
    # shellcheck disable=SC2086
    (cd "$src/pcaps" && "$bin" --no-progress --json "${argv[@]}" $args >"$tmp/out.jsonl" 2>/dev/null)
    # the capture file each side's frame numbers refer to (router mode: one file for both sides)
    if [ -n "$router" ]; then
        caps="single=$router inside=$router outside=$router"
    else
        caps="single=${single[0]:-} inside=${ins[0]:-} outside=${outs[0]:-}"
        [ ${#single[@]} -gt 1 ] && caps="single= inside= outside="
        [ ${#ins[@]} -gt 1 ] || [ ${#outs[@]} -gt 1 ] && caps="single= inside= outside="
    fi
    python3 - "$tmp/out.jsonl" "$name" $caps >"$tmp/checks" <<'PY' || { fail=1; continue; }
import json, sys
path, name, caps = sys.argv[1], sys.argv[2], dict(a.split("=", 1) for a in sys.argv[3:])
bad = False
recs = [json.loads(line) for line in open(path)]
summ = [r for r in recs if r.get("type") == "summary"]
if summ and summ[0].get("nat", {}).get("swapped"):
    caps["inside"], caps["outside"] = caps["outside"], caps["inside"]  # sides corrected by vpnscope
for r in recs:
    if r.get("type") != "finding":
        continue
    frames = r["evidence"]["frames"]
    df = r.get("display_filter")
    if df is None or r["evidence"].get("frames_total", -1) < len(frames):
        print(f"{name}: {r['kind']}: no display_filter or frames_total", file=sys.stderr)
        bad = True
        continue
    sides = sorted({f["capture"] for f in frames})
    if sorted(df) != sides:
        print(f"{name}: {r['kind']}: filters for {sorted(df)}, frames on {sides}", file=sys.stderr)
        bad = True
    for side in sides:
        want = sorted(f["frame"] for f in frames if f["capture"] == side)
        if caps.get(side) and side in df:
            print(f"{caps[side]}\t{df[side]}\t{' '.join(map(str, want))}")
sys.exit(1 if bad else 0)
PY
    cat "$tmp/checks" >>"$tmp/all"
done < <(grep -v '^#' "$src/tests/golden/TESTLIST")
# each distinct (capture file, filter) once: several TESTLIST lines read the same captures
touch "$tmp/all"
while IFS=$'\t' read -r file filter want; do
    got=$(tshark -r "$file" -Y "$filter" -T fields -e frame.number 2>/dev/null | tr '\n' ' ' | sed 's/ $//')
    lines=$((lines + 1))
    if [ "$got" != "$want" ]; then
        echo "FAIL: tshark -r $file -Y '$filter' gave [$got], evidence frames [$want]"
        fail=1
    fi
done < <(sort -u "$tmp/all")
echo "checked $lines distinct (capture, filter) pairs"
[ "$lines" -gt 0 ] || { echo "no finding was checked"; fail=1; }
if [ $fail -eq 0 ]; then echo "1 passed, 0 failed"; else echo "0 passed, 1 failed"; fi
exit $fail
