#!/usr/bin/env bash
# crosscheck_filters.sh - every finding's Wireshark display filter selects exactly its evidence
# frames: for each tests/golden/TESTLIST line, vpnscope --json runs over its inputs, and for each
# finding and each capture it has frames on, `tshark -r CAPTURE -Y FILTER` must list exactly the
# finding's frames of that capture. A capture point of several files (pieces a,b) has one filter
# per file, keyed by the file's name, over that file's own frame numbers (each frame names its
# file): each is checked on its file.
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
    # the filter key of a frame: its file when its capture point has several, else its capture
    keyed = {}
    for f in frames:
        keyed.setdefault(f.get("file") or f["capture"], []).append(f["frame"])
    if sorted(df) != sorted(keyed):
        print(f"{name}: {r['kind']}: filters for {sorted(df)}, frames on {sorted(keyed)}", file=sys.stderr)
        bad = True
    for key, fr in keyed.items():
        file = caps.get(key) if key in ("single", "inside", "outside") else key
        if file and key in df:
            print(f"{file}\t{df[key]}\t{' '.join(map(str, sorted(fr)))}")
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
