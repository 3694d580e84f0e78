#!/usr/bin/env bash
# crosscheck_tunnel_json.sh - the WireGuard indexes and OpenVPN session ids of vpnscope's JSON
# records (wg_session, ovpn_session: the whole pipeline, not only the decoders) equal those tshark
# shows, on every capture of
# tests/crosscheck/captures (real wireguard-go / openvpn traffic, tests/lab/tunnel_captures.sh),
# pcaps/ and, when present, ../shared/pcaps/public (differences only where
# tests/crosscheck/tunnel-json-expected-differences.txt explains them). Skips (77) without
# tshark, python3, vpnscope or the tunnel_ids build, except under CI=true where a skip is a failure.
set -uo pipefail
src=${VPNSCOPE_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
build=${VPNSCOPE_BUILD:-$src/build/release}
shared=${VPNSCOPE_SHARED:-$src/../shared}
tool=$build/tests/tunnel_ids
. "$(dirname "$0")/lib_check.sh" # skip, ok, ko, check_done
command -v tshark >/dev/null || skip "tshark not installed"
command -v python3 >/dev/null || skip "python3 not installed"
[ -x "$tool" ] || skip "$tool not built"
[ -x "$build/vpnscope" ] || skip "$build/vpnscope not built"
dirs=("$src/tests/crosscheck/captures" "$src/pcaps")
if [ -d "$shared/pcaps/public" ]; then
    dirs+=("$shared/pcaps/public")
else
    echo "note: $shared/pcaps/public absent, checking the repository's captures only"
fi
exec python3 "$src/tests/crosscheck/crosscheck_tunnel.py" --binary "$build/vpnscope" "$tool" \
    "$src/tests/crosscheck/tunnel-json-expected-differences.txt" "${dirs[@]}"
