#!/usr/bin/env bash
# run-all.sh - builds vpnscope three times (release; release without curses, where live capture
# must still work; ASan+UBSan) and runs the ctests of each.
# Usage: tests/run-all.sh [--quick]   (--quick: no ASan+UBSan build)
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=$(nproc 2>/dev/null || echo 2)
quick=0
[ "${1:-}" = "--quick" ] && quick=1

run_build() { # dir, ctest label regex ("" = all), test-name regex to leave out ("" = none), cmake args...
    local dir=$1 labels=$2 exclude=$3
    shift 3
    cmake -S . -B "$dir" -DVPNSCOPE_WERROR=ON "$@" >/dev/null
    cmake --build "$dir" -j"$jobs"
    (cd "$dir" && ctest --output-on-failure -j"$jobs" --timeout 900 ${labels:+-L "$labels"} \
        ${exclude:+-E "$exclude"})
}

echo "== release build + tests"
run_build build/release "" "" -DCMAKE_BUILD_TYPE=RelWithDebInfo
echo "== release build without the dashboard (VPNSCOPE_WITH_UI=OFF): live capture + goldens"
run_build build/noui "live|golden" "" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DVPNSCOPE_WITH_UI=OFF
if [ $quick -eq 0 ]; then
    echo "== ASan+UBSan build + tests"
    # The tshark comparisons of identifiers, display filters and thread counts run once, in the
    # release build: under the sanitizers they re-test the same decoders (covered there by the unit,
    # golden, fuzz-replay and public-corpus crosscheck_tshark tests) at several times the cost.
    san_exclude="crosscheck_tunnel|crosscheck_filters|crosscheck_export"
    ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
        run_build build/sanitize "" "$san_exclude" -DCMAKE_BUILD_TYPE=Debug -DVPNSCOPE_SANITIZE=ON -DCMAKE_C_COMPILER=clang
fi
echo "== all tests passed"
