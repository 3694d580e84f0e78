# shellcheck shell=bash disable=SC2034  # pass and fail are read by the sourcing test
# lib_check.sh - sourced (not run) by the test scripts: the skip rule and the counting they share.
#   - skip MSG: exits 77, or 1 under CI=true (a skip in CI is a failure);
#   - ok DESC, ko DESC [FILE] (FILE's first lines shown, indented): count into $pass / $fail;
#     after a failure ko also runs ko_detail when the sourcing script defines it (lib_tmux.sh: the
#     screen);
#   - check_done: prints the totals; its status is the test's (no failure and at least one pass).

skip() {
    echo "SKIP: $*"
    if [ "${CI:-}" = true ]; then
        echo "CI=true: a skipped test is a failure"
        exit 1
    fi
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
    if declare -F ko_detail >/dev/null; then ko_detail; fi
    return 0
}
check_done() {
    echo "$pass passed, $fail failed"
    [ "$fail" -eq 0 ] && [ "$pass" -gt 0 ]
}
