# shellcheck shell=bash disable=SC2034  # pass and fail are read by the sourcing test
# lib_check.sh - sourced (not run) by the test scripts: the skip rule and the counting they share.
#   - skip MSG: exits 77, or 1 under CI=true (a skip in CI is a failure);
#   - ok DESC, ko DESC [FILE] (FILE's first lines shown, indented): count into $pass / $fail;
#   - check_done: prints the totals; its status is the test's (no failure and at least one pass).

skip() {
    echo "SKIP: $*"
    if [ "${CI:-}" = true ]; then exit 1; fi
    exit 77
}

pass=0
fail=0
ok() {
    pass=$((pass + 1))
    echo "ok   - $1"
}
ko() {
    fail=$((fail + 1))
    echo "FAIL - $1"
    [ -n "${2:-}" ] && sed 's/^/    /' "$2" | head -20
    return 0
}
check_done() {
    echo "$pass passed, $fail failed"
    [ "$fail" -eq 0 ] && [ "$pass" -gt 0 ]
}
