#!/usr/bin/env bash
# update.sh NAME... - regenerates expected files (tcpdump update-test.sh); review every diff.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../.." && pwd)
bin=${VPNSCOPE_BIN:-$src/build/release/vpnscope}
for name in "$@"; do
    line=$(awk -v n="$name" '$1 == n' "$here/TESTLIST")
    [ -n "$line" ] || { echo "no TESTLIST line named $name"; continue; }
    read -r _ inputs expected _ args <<<"$line"
    resolve() { case $1 in /*) echo "$1" ;; *) echo "$src/pcaps/$1" ;; esac; }
    argv=()
    if [[ $inputs == router:* ]]; then
    argv+=(--router "$(resolve "${inputs#router:}")")
elif [[ $inputs == *+* ]]; then
        IFS=',' read -ra ins <<<"${inputs%%+*}"; IFS=',' read -ra outs <<<"${inputs#*+}"
        for f in "${ins[@]}"; do argv+=(--inside "$(resolve "$f")"); done
        for f in "${outs[@]}"; do argv+=(--outside "$(resolve "$f")"); done
    else
        IFS=',' read -ra pieces <<<"$inputs"
        for f in "${pieces[@]}"; do argv+=(-r "$(resolve "$f")"); done
    fi
    case $expected in *.jsonl) argv+=(--json) ;; esac
    # shellcheck disable=SC2086
    (cd "$src/pcaps" && TZ=UTC LC_ALL=C "$bin" --no-progress "${argv[@]}" $args >"$here/$expected" 2>"$here/${expected%.*}.err.tmp")
    sed -i "s#$src/pcaps/##g" "$here/$expected" "$here/${expected%.*}.err.tmp"
    if [ -s "$here/${expected%.*}.err.tmp" ]; then mv "$here/${expected%.*}.err.tmp" "$here/${expected%.*}.err"
    else rm -f "$here/${expected%.*}.err.tmp" "$here/${expected%.*}.err"; fi
    echo "updated $expected"
done
