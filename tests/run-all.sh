#!/usr/bin/env bash
# run-all.sh - builds vpnscope twice (release, and ASan+UBSan) and runs every ctest in both.
# Usage: tests/run-all.sh [--quick]   (--quick: release build only)
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=$(nproc 2>/dev/null || echo 2)
quick=0
[ "${1:-}" = "--quick" ] && quick=1

run_build() { # dir, extra cmake args...
    local dir=$1
    shift
    cmake -S . -B "$dir" -DVPNSCOPE_WERROR=ON "$@" >/dev/null
    cmake --build "$dir" -j"$jobs"
    (cd "$dir" && ctest --output-on-failure -j"$jobs" --timeout 600)
}

echo "== release build + tests"
run_build build/release -DCMAKE_BUILD_TYPE=RelWithDebInfo
if [ $quick -eq 0 ]; then
    echo "== ASan+UBSan build + tests"
    ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
        run_build build/sanitize -DCMAKE_BUILD_TYPE=Debug -DVPNSCOPE_SANITIZE=ON -DCMAKE_C_COMPILER=clang
fi
echo "== all tests passed"
