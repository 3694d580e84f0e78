#!/usr/bin/env bash
# threads_ab.sh - before/after of one capture at several thread counts, for BENCHMARKS.md:
#   tests/bench/threads_ab.sh [-n RUNS] [-t "1 2"] [-a "ARGS"] FILE BIN...
# runs `BIN -r FILE --json --no-progress --threads T ARGS` RUNS times for every binary and thread
# count, alternating (binary, threads) inside each round so that load from other work spreads
# over all of them, checks that every output is byte-identical to the first binary's at the
# first thread count, and prints one table row per (binary, threads): the median wall seconds,
# median CPU seconds (user+sys, all threads) and median peak RSS (/usr/bin/time -v), with the
# min-max of the wall time, and the load average before and after.
set -uo pipefail
runs=5 threads="1 2" args=""
while getopts "n:t:a:" o; do
    case $o in
    n) runs=$OPTARG ;;
    t) threads=$OPTARG ;;
    a) args=$OPTARG ;;
    *) exit 2 ;;
    esac
done
shift $((OPTIND - 1))
[ $# -ge 2 ] || { echo "usage: $0 [-n RUNS] [-t \"1 2\"] [-a ARGS] FILE BIN..." >&2; exit 2; }
file=$1
shift
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cat "$file" >/dev/null # page cache
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
ref=""
for ((k = 0; k < runs; k++)); do
    b=0
    for bin in "$@"; do
        for t in $threads; do
            key="$b-$t"
            # shellcheck disable=SC2086
            /usr/bin/time -f "%e %U %S %M" -o "$tmp/time" "$bin" -r "$file" --json --no-progress \
                --threads "$t" $args >"$tmp/out" 2>/dev/null
            rc=$?
            if [ "$rc" -gt 1 ]; then
                echo "FAIL - $bin --threads $t: exit $rc" >&2
                exit 1
            fi
            tail -1 "$tmp/time" >>"$tmp/t.$key"
            sum=$(md5sum <"$tmp/out" | cut -d' ' -f1)
            [ -n "$ref" ] || ref=$sum
            [ "$sum" = "$ref" ] || { echo "FAIL - $bin --threads $t: output differs" >&2; exit 1; }
        done
        b=$((b + 1))
    done
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "| binary | threads | wall s (median, min-max) | CPU s user+sys (median) | peak RSS MB (median) |"
echo "|---|---|---|---|---|"
b=0
for bin in "$@"; do
    for t in $threads; do
        python3 - "$tmp/t.$b-$t" "$bin" "$t" <<'PY'
import statistics, sys
rows = [list(map(float, l.split())) for l in open(sys.argv[1]) if l.strip()]
wall = [r[0] for r in rows]
cpu = [r[1] + r[2] for r in rows]
rss = [r[3] / 1024 for r in rows]
print("| %s | %s | %.2f (%.2f-%.2f) | %.2f | %.1f |" % (sys.argv[2], sys.argv[3], statistics.median(wall),
      min(wall), max(wall), statistics.median(cpu), statistics.median(rss)))
PY
    done
    b=$((b + 1))
done
echo "outputs: identical ($runs runs of each)"
