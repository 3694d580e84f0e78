#!/usr/bin/env bash
# lint_format.sh - every C file is clang-format clean (.clang-format: LLVM base, 4 spaces, 100
# columns). Skips (77) without clang-format-14; under CI=true a skip is a failure.
set -uo pipefail
src=${VPNSCOPE_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
cd "$src" || exit 1
cf=$(command -v clang-format-14 || command -v clang-format || true)
if [ -z "$cf" ]; then
    echo "SKIP: clang-format not installed"
    [ "${CI:-}" = "true" ] && { echo "CI=true: a skipped test is a failure"; exit 1; }
    exit 77
fi
bad=0 n=0
for f in $(git ls-files 'src/*.c' 'src/*.h' 'include/*.h' 'tests/*.c' 'tests/*.h' 2>/dev/null || find src include tests -name '*.[ch]'); do
    n=$((n + 1))
    if ! "$cf" --dry-run -Werror "$f" >/dev/null 2>&1; then
        echo "not clang-format clean: $f"
        bad=$((bad + 1))
    fi
done
echo "$((n - bad)) passed, $bad failed"
[ $bad -eq 0 ]
