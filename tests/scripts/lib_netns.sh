# shellcheck shell=bash disable=SC2034  # ID, WAITED, NS_TX... are read by the sourcing test
# lib_netns.sh - sourced (not run) by the live tests that drive `vpnscope -i` on veth pairs
# between network namespaces they make: live_netns.sh, live_writefail.sh, live_ring.sh,
# ui_privdrop.sh. It holds what they share:
#   - the skip logic: skip MSG exits 77, or 1 under CI=true (a skip in CI is a failure);
#     need_bin, need_root, need_tools TOOL..., need_files FILE...;
#   - netns_setup: $ID (the test's pid, part of every name), $TMP, $PIDS (processes the test
#     starts, killed at exit), and the EXIT trap that removes every namespace made with mkns and
#     $TMP; mkns NAME, mkveth A B NS_A NS_B (made inside the namespaces: the root namespace is
#     never touched; IPv6 off, so no ND/MLD noise; no addresses, no routes), netns_pair;
#   - counting (lib_check.sh, with skip): ok DESC, ko DESC [FILE], netns_done (the totals; its
#     status is the test's);
#   - waits for a state with a deadline, never a bare sleep: wait_grep, wait_listening,
#     wait_exit (the process ends by itself, else SIGINT; its status), wait_ended (whether it
#     ended by the deadline; its status in $WAITED).
# The caller sets nothing before sourcing; SRC and BIN come from VPNSCOPE_SRC / VPNSCOPE_BIN.

SRC=${VPNSCOPE_SRC:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
BIN=${VPNSCOPE_BIN:-$SRC/build/release/vpnscope}

# skip, ok, ko, check_done
. "$(dirname "${BASH_SOURCE[0]}")/lib_check.sh"
need_bin() { [ -n "$BIN" ] && [ -x "$BIN" ] || skip "vpnscope binary not found: '$BIN' (VPNSCOPE_BIN)"; }
need_root() { [ "$(id -u)" = 0 ] || skip "needs root to create network namespaces"; }
need_tools() {
    local t
    for t in "$@"; do command -v "$t" >/dev/null || skip "$t not installed"; done
}
need_files() {
    local f
    for f in "$@"; do [ -f "$f" ] || skip "$f missing"; done
}

NETNS_MADE=()
netns_cleanup() {
    local p ns
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
    for ns in "${NETNS_MADE[@]}"; do ip netns del "$ns" 2>/dev/null; done
    [ -n "${TMP:-}" ] && rm -rf "$TMP"
}
netns_setup() {
    ID=$$
    TMP=$(mktemp -d "${TMPDIR:-/tmp}/vpnscope-live.XXXXXX") || exit 1
    PIDS=()
    trap netns_cleanup EXIT
}

# mkns NAME: a namespace with lo up and IPv6 off, removed at exit
mkns() {
    ip netns add "$1" || return 1
    NETNS_MADE+=("$1")
    ip netns exec "$1" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1 >/dev/null 2>&1
    ip -n "$1" link set lo up
}
# mkveth A B NS_A NS_B: veth A (in NS_A) <-> B (in NS_B), up
mkveth() {
    ip -n "$3" link add "$1" type veth peer name "$2" netns "$4" || return 1
    ip netns exec "$3" sysctl -qw "net.ipv6.conf.$1.disable_ipv6=1" >/dev/null 2>&1
    ip netns exec "$4" sysctl -qw "net.ipv6.conf.$2.disable_ipv6=1" >/dev/null 2>&1
    ip -n "$3" link set "$1" up && ip -n "$4" link set "$2" up
}
# netns_pair NS_TX NS_RX IFA IFB: the sender's and the capturer's namespaces and the veth between
# them (IFA sends, IFB captures); skips when the kernel does not allow it
netns_pair() {
    NS_TX=$1 NS_RX=$2 IFA=$3 IFB=$4
    mkns "$NS_TX" && mkns "$NS_RX" || skip "cannot create network namespaces"
    mkveth "$IFA" "$IFB" "$NS_TX" "$NS_RX" || skip "cannot create a veth pair"
}

netns_done() { check_done; }

# wait_grep FILE REGEX [SECONDS]: until FILE has a line matching REGEX (deadline, default 10 s)
wait_grep() {
    local end=$((SECONDS + ${3:-10}))
    while [ $SECONDS -le "$end" ]; do
        grep -qE -- "$2" "$1" 2>/dev/null && return 0
        sleep 0.05
    done
    return 1
}
# wait_listening ERRFILE: vpnscope said its capture is open (after pcap activation, the filter and
# the privilege drop: packets sent from now on are captured)
wait_listening() { wait_grep "$1" '^vpnscope: listening on ' "${2:-15}"; }
# wait_exit PID [SECONDS]: until the process ends by itself (default 10 s), else SIGINT; its status
wait_exit() {
    local end=$((SECONDS + ${2:-10}))
    while [ $SECONDS -le "$end" ] && kill -0 "$1" 2>/dev/null; do sleep 0.05; done
    kill -0 "$1" 2>/dev/null && kill -INT "$1"
    wait "$1"
}
# wait_ended PID SECONDS: whether the process ended by itself by the deadline (its status in
# $WAITED); it is left running otherwise
wait_ended() {
    local end=$((SECONDS + $2))
    while [ $SECONDS -le "$end" ]; do
        if ! kill -0 "$1" 2>/dev/null; then
            wait "$1"
            WAITED=$?
            return 0
        fi
        sleep 0.05
    done
    return 1
}
