#!/usr/bin/env bash
# crosscheck_tshark.sh - every capture of ../shared/pcaps/public: the IKE SPIs, ESP/AH SPIs and
# PPTP/GRE call IDs vpnscope reports equal the set tshark extracts (differences only where
# tests/crosscheck/expected-differences.txt explains them). Skips (77) without tshark or
# ../shared, except under CI=true where a skip is a failure.
set -uo pipefail
src=${VPNSCOPE_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
bin=${VPNSCOPE_BIN:-$src/build/release/vpnscope}
shared=${VPNSCOPE_SHARED:-$src/../shared}
. "$(dirname "$0")/lib_check.sh" # skip, ok, ko, check_done
command -v tshark >/dev/null || skip "tshark not installed"
command -v python3 >/dev/null || skip "python3 not installed"
[ -d "$shared/pcaps/public" ] || skip "$shared/pcaps/public absent"
exec python3 "$src/tests/crosscheck/crosscheck.py" "$bin" "$shared" "$src/tests/crosscheck/expected-differences.txt"
