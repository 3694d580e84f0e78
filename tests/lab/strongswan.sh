#!/bin/bash
# tests/lab/strongswan.sh - real strongSwan IKEv1/IKEv2 captures through a real Linux NAT router.
#
#   tests/lab/strongswan.sh all              # every scenario
#   tests/lab/strongswan.sh ikev2-natt ...   # some scenarios (names below, with or without "ss-")
#   tests/lab/strongswan.sh list             # scenario names
#
# Topology (all network namespaces, joined only to each other; nothing touches the root namespace):
#
#   vss-c1 eth0 192.168.2.11 --+
#                              +-- br0 (in vss-sw) --- lan0 192.168.2.1  vss-r  wan0 203.0.113.1 --- eth0 203.0.113.10 vss-s1
#   vss-c2 eth0 192.168.2.12 --+                       (nftables masquerade on wan0, conntrack)       (lo: 10.20.0.1)
#
# Route mode (scenario ikev2-encap): no masquerade, clients are 198.51.100.11/.12, router LAN 198.51.100.1.
# Every charon runs in its client/server netns inside its own mount namespace with a private /run,
# its own strongswan.conf (STRONGSWAN_CONF) and vici socket, and loads kernel-libipsec (userspace
# ESP-in-UDP over a TUN device: this kernel has no INET_ESP). Clients get a virtual IP from 10.10.0.0/24
# and reach 10.20.0.0/24 (10.20.0.1 on the server's lo) through the tunnel.
#
# The router (vss-r) captures its LAN side (pcaps/ss-X-inside.pcap) and WAN side (ss-X-outside.pcap)
# and logs `conntrack -E -o timestamp,extended,id` plus `conntrack -S` (pcaps/ss-X.conntrack).
# Lab files (charon logs, rendered configs) stay in $VSS_WORK (default /tmp/vss-lab) for inspection.
# Not part of ctest: the captures are committed.
set -euo pipefail
if [ -n "${VSS_TRACE:-}" ]; then PS4='+ $(date +%T.%3N) '; set -x; fi   # timestamped trace

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
TPL=$HERE/strongswan
OUT=${VSS_OUT:-$ROOT/pcaps}
WORK=${VSS_WORK:-/tmp/vss-lab}
CHARON=${CHARON:-/usr/lib/ipsec/charon}
PY=/usr/bin/python3
NSS=(vss-sw vss-c1 vss-c2 vss-r vss-s1)
SCENARIOS=(ikev2-natt ikev2-two-clients ikev1-natt ikev2-encap ikev2-frag ikev2-dpd-stale ikev2-natt-realnatd ikev2-stale-taken ikev2-encap-realnatd)
PIDS=()

log() { printf '[strongswan.sh %(%T)T] %s\n' -1 "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

check_deps() {
    local missing=() c
    for c in ip nft conntrack tcpdump tshark swanctl unshare stdbuf ping mount; do
        command -v "$c" >/dev/null 2>&1 || missing+=("$c")
    done
    [ -x "$CHARON" ] || missing+=("$CHARON (strongswan-charon)")
    [ -e /usr/lib/ipsec/plugins/libstrongswan-kernel-libipsec.so ] ||
        missing+=("kernel-libipsec plugin (libcharon-extra-plugins)")
    [ -x "$PY" ] || missing+=("$PY (python3)")
    [ -e /dev/net/tun ] || missing+=("/dev/net/tun")
    if [ ${#missing[@]} -gt 0 ]; then
        log "missing: ${missing[*]}"
        log "Debian 12: apt-get install iproute2 nftables conntrack tcpdump tshark iputils-ping strongswan-swanctl strongswan-charon libcharon-extra-plugins python3"
        exit 2
    fi
    [ "$(id -u)" = 0 ] || die "must run as root (network namespaces)"
}

# ---------------------------------------------------------------- cleanup
stop_pid() {  # stop_pid PID [signal]: stop one process we started, wait for it
    local p=$1 sig=${2:-TERM} i
    kill -0 "$p" 2>/dev/null || return 0
    kill -"$sig" "$p" 2>/dev/null || true
    for i in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$p" 2>/dev/null && kill -KILL "$p" 2>/dev/null || true
    wait "$p" 2>/dev/null || true
}
teardown() {
    local p ns
    for p in "${PIDS[@]}"; do stop_pid "$p"; done
    [ ${#PIDS[@]} -eq 0 ] || log "teardown: processes stopped"
    PIDS=()
    for ns in "${NSS[@]}"; do
        ip netns del "$ns" 2>/dev/null || true
    done
}
trap 'rc=$?; teardown; exit $rc' EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------- topology
nsx() { local ns=$1; shift; ip netns exec "$ns" "$@"; }

topology() {  # topology nat|route
    local mode=$1 ns lanpfx lanr
    teardown
    for ns in "${NSS[@]}"; do
        ip netns add "$ns"
        # no IPv6 anywhere (RS/DAD noise); set defaults before any interface exists
        nsx "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
        ip -n "$ns" link set lo up
    done
    if [ "$mode" = nat ]; then lanpfx=192.168.2; else lanpfx=198.51.100; fi
    lanr=$lanpfx.1
    # LAN switch: a bridge in its own namespace
    ip -n vss-sw link add br0 type bridge
    ip -n vss-sw link set br0 up
    for c in 1 2; do
        ip -n vss-c$c link add eth0 type veth peer name c$c netns vss-sw
        ip -n vss-sw link set c$c master br0 up
        ip -n vss-c$c addr add $lanpfx.1$c/24 dev eth0
        ip -n vss-c$c link set eth0 up
        ip -n vss-c$c route add default via "$lanr"
    done
    ip -n vss-r link add lan0 type veth peer name r netns vss-sw
    ip -n vss-sw link set r master br0 up
    ip -n vss-r link add wan0 type veth peer name eth0 netns vss-s1
    ip -n vss-r addr add "$lanr/24" dev lan0
    ip -n vss-r addr add 203.0.113.1/24 dev wan0
    ip -n vss-r link set lan0 up
    ip -n vss-r link set wan0 up
    nsx vss-r sysctl -qw net.ipv4.ip_forward=1
    ip -n vss-s1 addr add 203.0.113.10/24 dev eth0
    ip -n vss-s1 link set eth0 up
    ip -n vss-s1 addr add 10.20.0.1/32 dev lo
    if [ "$mode" = route ]; then
        ip -n vss-s1 route add 198.51.100.0/24 via 203.0.113.1
    fi
    # The server has no default route: it can only answer the router's public address (NAT mode)
    # or the routed client net (route mode).
    local nat=""
    [ "$mode" = nat ] && nat='chain lab_postrouting { type nat hook postrouting priority srcnat; policy accept; oifname "wan0" counter masquerade; }'
    # ct expressions in the forward chain keep conntrack active in route mode too.
    nsx vss-r nft -f - <<EOF
table ip vss {
    chain lab_forward {
        type filter hook forward priority filter; policy accept;
        ct state invalid counter
        ct state new counter
        ct state established,related counter
    }
    $nat
}
EOF
    # no TX checksum offload: captured packets carry final UDP checksums
    nsx vss-c1 "$PY" "$TPL/txcsum-off.py" eth0
    nsx vss-c2 "$PY" "$TPL/txcsum-off.py" eth0
    nsx vss-sw "$PY" "$TPL/txcsum-off.py" c1 c2 r
    nsx vss-r "$PY" "$TPL/txcsum-off.py" lan0 wan0
    nsx vss-s1 "$PY" "$TPL/txcsum-off.py" eth0
    # settle: give the links a moment (no IPv6 => no DAD)
    sleep 0.5
}

# ---------------------------------------------------------------- charon
render() {  # render TEMPLATE OUTFILE KEY=VALUE...
    local tpl=$1 out=$2 kv k v args=()
    shift 2
    for kv in "$@"; do
        k=${kv%%=*}; v=${kv#*=}
        args+=(-e "s|@$k@|$v|g")
    done
    sed "${args[@]}" "$tpl" >"$out"
    if grep -q '@[A-Z_]*@' "$out"; then die "unsubstituted variable in $out"; fi
}

# start_charon NODE KEEP_ALIVE FRAGMENT_SIZE SWANCTL_TEMPLATE KEY=VALUE...
# KERNEL_PLUGINS (env) defaults to "kernel-libipsec kernel-netlink" (userspace ESP-in-UDP).
start_charon() {
    local node=$1 ka=$2 fs=$3 tpl=$4 d=$WORK/$1 i
    shift 4
    rm -rf "$d"; mkdir -p "$d"
    render "$TPL/strongswan.conf.in" "$d/strongswan.conf" STATEDIR="$d" KEEP_ALIVE="$ka" FRAGMENT_SIZE="$fs" \
        KERNEL_PLUGINS="${KERNEL_PLUGINS:-kernel-libipsec kernel-netlink}"
    render "$TPL/$tpl" "$d/swanctl.conf" "$@"
    # ip netns exec and unshare both exec, so $! is charon's PID
    ip netns exec "vss-$node" unshare -m --propagation private \
        sh -c 'mount -t tmpfs -o mode=0755 vss-run /run && exec env STRONGSWAN_CONF="$1" "$2"' \
        sh "$d/strongswan.conf" "$CHARON" >"$d/charon.out" 2>&1 &
    PIDS+=($!)
    for i in $(seq 100); do
        [ -S "$d/charon.vici" ] && break
        sleep 0.1
    done
    [ -S "$d/charon.vici" ] || { cat "$d/charon.out" >&2; die "charon for $node did not start"; }
    sw "$node" --load-all --file "$d/swanctl.conf" >"$d/load.out" 2>&1 ||
        { cat "$d/load.out" >&2; die "swanctl --load-all failed for $node"; }
}
sw() {  # sw NODE swanctl-args...: swanctl against NODE's charon
    local node=$1; shift
    STRONGSWAN_CONF=$WORK/$node/strongswan.conf swanctl "$@" --uri "unix://$WORK/$node/charon.vici"
}

# ---------------------------------------------------------------- capture
CAP_PIDS=()
CUR=""
start_capture() {  # start_capture NAME
    CUR=$1
    mkdir -p "$WORK/cap"
    rm -f "$WORK/cap/ss-$CUR"-*.pcap "$WORK/cap/ss-$CUR.conntrack"
    # background jobs use "ip netns exec" directly (it execs), so $! is the real process
    ip netns exec vss-r stdbuf -oL conntrack -E -o timestamp,extended,id >"$WORK/cap/ss-$CUR.conntrack" 2>"$WORK/cap/ss-$CUR.conntrack.err" &
    CAP_PIDS=($!); PIDS+=($!)
    ip netns exec vss-r tcpdump -Z root -i lan0 -U -s 262144 -w "$WORK/cap/ss-$CUR-inside.pcap" 2>"$WORK/cap/ss-$CUR-inside.err" &
    CAP_PIDS+=($!); PIDS+=($!)
    ip netns exec vss-r tcpdump -Z root -i wan0 -U -s 262144 -w "$WORK/cap/ss-$CUR-outside.pcap" 2>"$WORK/cap/ss-$CUR-outside.err" &
    CAP_PIDS+=($!); PIDS+=($!)
    local i
    for i in $(seq 50); do
        grep -q listening "$WORK/cap/ss-$CUR-inside.err" 2>/dev/null &&
            grep -q listening "$WORK/cap/ss-$CUR-outside.err" 2>/dev/null && break
        sleep 0.1
    done
    sleep 0.5
}
stop_capture() {
    local p f
    sleep 1.5   # let -U flush the last packets
    for p in "${CAP_PIDS[@]:1}"; do stop_pid "$p" TERM; done
    stop_pid "${CAP_PIDS[0]}" TERM
    CAP_PIDS=()
    {
        echo "# conntrack -S (vss-r, after the scenario)"
        nsx vss-r conntrack -S
        echo "# conntrack -L (vss-r, entries left at the end)"
        nsx vss-r conntrack -L -o extended,id 2>/dev/null || true
        echo "# nft list ruleset (vss-r, with counters)"
        nsx vss-r nft list ruleset
    } >>"$WORK/cap/ss-$CUR.conntrack"
    mkdir -p "$OUT"
    for f in inside outside; do cp "$WORK/cap/ss-$CUR-$f.pcap" "$OUT/ss-$CUR-$f.pcap"; done
    cp "$WORK/cap/ss-$CUR.conntrack" "$OUT/ss-$CUR.conntrack"
    summary "$CUR"
}
summary() {  # one line per capture: size, packets and what tshark sees (one tshark pass per file)
    local n=$1 f pc
    for f in inside outside; do
        pc="$OUT/ss-$n-$f.pcap"
        tshark -r "$pc" -T fields -E separator=, -e frame.protocols -e udp.length 2>/dev/null |
            awk -v name="$(basename "$pc")" -v size="$(stat -c %s "$pc")" '
                { n++ }
                /isakmp/ { ike++ }
                /udpencap:esp/ { esp++ }
                /udpencap,9$/ { ka++ }
                /malformed/ { bad++ }
                /icmp/ { icmp++ }
                END { printf "  %-34s %6d bytes %4d pkts  isakmp=%d esp-in-udp=%d keepalive=%d icmp=%d malformed=%d\n",
                      name, size, n, ike, esp, ka, icmp, bad }' >&2
    done
}

# ---------------------------------------------------------------- helpers
client_vars() {  # client_vars N VERSION ENCAP FRAG DPD [ADDR [MOBIKE]]
    echo CLIENT_ID="c$1.vss.test" VERSION="$2" ENCAP="$3" FRAGMENTATION="$4" CLIENT_DPD="$5" CLIENT_ADDR="${6:-%any}" \
        MOBIKE="${7:-yes}"
}
server_vars() {  # server_vars VERSION FRAG DPD
    echo VERSION="$1" FRAGMENTATION="$2" SERVER_DPD="$3"
}
initiate() {  # initiate NODE [swanctl selector, default: --child net]
    local node=$1; shift
    [ $# -gt 0 ] || set -- --child net
    set -- "$node" "$@"
    sw "$1" --initiate "${@:2}" --timeout 20 >"$WORK/$1/initiate.out" 2>&1 ||
        { tail -40 "$WORK/$1/charon.log" >&2; die "initiate failed on $1"; }
    sw "$1" --list-sas >"$WORK/$1/sas.out" 2>&1 || true
    log "$1: $(grep -Eo 'ESTABLISHED.*|INSTALLED.*' "$WORK/$1/sas.out" | tr '\n' ' ')"
}
pings() {  # pings NODE COUNT [expect-loss]: ping 10.20.0.1 through the tunnel
    local out
    out=$(nsx "vss-$1" ping -n -c "$2" -i 0.5 -W 2 10.20.0.1 2>&1) || true
    log "$1 ping: $(grep -E 'packets transmitted' <<<"$out")"
    grep -q " 0% packet loss" <<<"$out" || [ "${3:-}" = expect-loss ] || log "WARNING: $1 lost tunnel pings"
}
wait_log() {  # wait_log FILE PATTERN SECONDS: wait for a line in a charon log
    local i
    for i in $(seq $(($3 * 10))); do
        grep -q -- "$2" "$1" 2>/dev/null && return 0
        sleep 0.1
    done
    return 1
}
terminate() {  # terminate NODE
    sw "$1" --terminate --ike vss --timeout 10 >"$WORK/$1/terminate.out" 2>&1 ||
        log "WARNING: terminate on $1 did not complete"
}

# ---------------------------------------------------------------- scenarios
# 1. IKEv2 through NAT: NAT-D, float to 4500, CHILD_SA, ESP-in-UDP pings, 2 s keepalives, delete.
sc_ikev2-natt() {
    topology nat
    start_charon s1 20s 1280 server.swanctl.conf.in $(server_vars 2 yes 0s)
    start_charon c1 2s 1280 client.swanctl.conf.in $(client_vars 1 2 no yes 0s)
    start_capture ikev2-natt
    initiate c1
    pings c1 4
    sleep 7          # idle: NAT-T keepalives every 2 s from the client
    pings c1 2
    sleep 3
    terminate c1
    stop_capture
}

# 2. Two clients behind one NAT, both from 500 and 4500: the router remaps the second one.
sc_ikev2-two-clients() {
    topology nat
    start_charon s1 20s 1280 server.swanctl.conf.in $(server_vars 2 yes 0s)
    start_charon c1 2s 1280 client.swanctl.conf.in $(client_vars 1 2 no yes 0s)
    start_charon c2 2s 1280 client.swanctl.conf.in $(client_vars 2 2 no yes 0s)
    start_capture ikev2-two-clients
    initiate c1 & local a=$!
    initiate c2 & local b=$!
    wait $a; wait $b
    pings c1 3 & a=$!
    pings c2 3 & b=$!
    wait $a; wait $b
    sleep 5
    pings c2 2
    pings c1 2
    sleep 2
    terminate c1
    terminate c2
    stop_capture
}

# 3. IKEv1 main mode with RFC 3947 NAT-D, float to 4500 at message 5, quick mode, pings, keepalives.
sc_ikev1-natt() {
    topology nat
    start_charon s1 20s 1280 server.swanctl.conf.in $(server_vars 1 yes 0s)
    start_charon c1 2s 1280 client.swanctl.conf.in $(client_vars 1 1 no yes 0s)
    start_capture ikev1-natt
    initiate c1
    pings c1 4
    sleep 7
    pings c1 2
    sleep 1
    terminate c1
    stop_capture
}

# 4. No NAT (plain routing), client forces UDP encapsulation (encap = yes): a fake NAT-D source hash.
sc_ikev2-encap() {
    topology route
    start_charon s1 20s 1280 server.swanctl.conf.in $(server_vars 2 yes 0s)
    start_charon c1 2s 1280 client.swanctl.conf.in $(client_vars 1 2 yes yes 0s 198.51.100.11)
    start_capture ikev2-encap
    initiate c1
    pings c1 4
    sleep 7
    pings c1 2
    sleep 1
    terminate c1
    stop_capture
}

# 5. IKEv2 fragmentation (RFC 7383) through NAT: fragment_size = 200 splits IKE_AUTH into SKF payloads.
sc_ikev2-frag() {
    topology nat
    start_charon s1 20s 200 server.swanctl.conf.in $(server_vars 2 yes 0s)
    start_charon c1 2s 200 client.swanctl.conf.in $(client_vars 1 2 no yes 0s)
    start_capture ikev2-frag
    initiate c1
    pings c1 3
    sleep 3
    terminate c1
    stop_capture
}

# 6. Stale mapping: no keepalives, short router UDP timeouts (5 s / 8 s), server DPD after 20 s idle.
#    c1's mappings expire; c1 later re-appears from a new outside port (tunnel pings, then a CHILD_SA
#    rekey: an authenticated IKE request from the new port).
#    ikev2-dpd-stale: the server's DPD hits the dead mapping first. The router answers ICMP port
#      unreachable, and the conntrack entry that inbound packet created (server:4500 -> router:4500)
#      keeps outside port 4500 blocked, so c2 (next) gets a random port. MOBIKE is negotiated
#      (default), so the responder leaves address updates to the initiator: it keeps sending DPD and
#      ESP to the dead port (more ICMP) even after c1's rekey from the new port.
#    ikev2-stale-taken: c2 sends from its port 4500 before the DPD and takes outside port 4500: the
#      server's DPD and ESP for c1 are delivered to c2. With mobike = no the server moves the IKE and
#      CHILD SAs to c1's new port on the rekey, answers reach c1 again and pings work.
sc_ikev2-dpd-stale() { stale_scenario ikev2-dpd-stale yes after-dpd; }
sc_ikev2-stale-taken() { stale_scenario ikev2-stale-taken no before-dpd; }
stale_scenario() {  # stale_scenario NAME MOBIKE before-dpd|after-dpd (when c2 takes port 4500)
    topology nat
    nsx vss-r sysctl -qw net.netfilter.nf_conntrack_udp_timeout=5 net.netfilter.nf_conntrack_udp_timeout_stream=8
    start_charon s1 20s 1280 server.swanctl.conf.in $(server_vars 2 yes 20s)
    start_charon c1 0 1280 client.swanctl.conf.in $(client_vars 1 2 no yes 0s %any "$2")
    start_capture "$1"
    initiate c1
    pings c1 3
    if [ "$3" = after-dpd ]; then
        log "idle: the router's UDP mappings (stream timeout 8 s) expire; wait for the server's first DPD"
        wait_log "$WORK/s1/charon.log" 'generating INFORMATIONAL request 0' 30 ||
            log "WARNING: no DPD seen on the server"
        sleep 0.5
    else
        log "idle 14 s: the router's UDP mappings (stream timeout 8 s) expire"
        sleep 14
    fi
    log "c2 takes outside port 4500 (a 0xFF keepalive from its own port 4500 every 3 s)"
    ip netns exec vss-c2 "$PY" - >"$WORK/c2-udp.out" 2>&1 <<'EOF' &
import socket, time, select
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("192.168.2.12", 4500))
t0 = time.time(); end = t0 + 24; nxt = 0
while time.time() < end:
    if time.time() >= nxt:
        s.sendto(b"\xff", ("203.0.113.10", 4500)); nxt = time.time() + 3
    r, _, _ = select.select([s], [], [], 0.2)
    if r:
        d, a = s.recvfrom(65535)
        print("c2 +%.1fs got %d bytes from %s:%d, first 4 bytes %s (%s)" % (time.time() - t0, len(d), a[0], a[1],
              d[:4].hex(), "IKE" if d[:4] == bytes(4) else "ESP SPI"), flush=True)
EOF
    local c2p=$!; PIDS+=($c2p)
    if [ "$3" = after-dpd ]; then
        log "wait: the server's DPD retransmissions go to the outside port c2 now holds"
        sleep 2
    else
        log "wait: the server's DPD (dpd_delay 20 s) goes to the outside port c2 now holds"
        sleep 8
    fi
    log "c1 re-appears: tunnel pings from 192.168.2.11:4500 get a new outside port; replies go to c2"
    pings c1 3 expect-loss
    log "c1 rekeys its CHILD_SA: an authenticated IKE request from the new port"
    sw c1 --rekey --child net >"$WORK/c1/rekey.out" 2>&1 || log "WARNING: rekey failed"
    sleep 1
    pings c1 3 expect-loss
    sleep 2
    terminate c1
    stop_pid "$c2p"
    stop_capture
    sed 's/^/  /' "$WORK/c2-udp.out" >&2 || true
}

# 7. Like 1 but IKE only, with kernel-netlink instead of kernel-libipsec on both peers: charon then
#    sends its real NAT_DETECTION_SOURCE_IP hash (libipsec forces UDP encapsulation, which makes
#    charon fake it, as encap = yes does). Childless IKE_SA (RFC 6023): no CHILD_SA can be installed
#    without kernel ESP, so no tunnel traffic; keepalives every 2 s, then delete.
sc_ikev2-natt-realnatd() {
    topology nat
    KERNEL_PLUGINS=kernel-netlink start_charon s1 20s 1280 server.swanctl.conf.in $(server_vars 2 yes 0s)
    KERNEL_PLUGINS=kernel-netlink start_charon c1 2s 1280 client.swanctl.conf.in $(client_vars 1 2 no yes 0s)
    start_capture ikev2-natt-realnatd
    initiate c1 --ike vss
    sleep 7
    terminate c1
    stop_capture
}

# 9. Like 4 (no NAT, client encap = yes) but IKE only with kernel-netlink on both peers: only the
#    client's NAT_DETECTION_SOURCE_IP is faked, the server's hashes are real.
sc_ikev2-encap-realnatd() {
    topology route
    KERNEL_PLUGINS=kernel-netlink start_charon s1 20s 1280 server.swanctl.conf.in $(server_vars 2 yes 0s)
    KERNEL_PLUGINS=kernel-netlink start_charon c1 2s 1280 client.swanctl.conf.in $(client_vars 1 2 yes yes 0s 198.51.100.11)
    start_capture ikev2-encap-realnatd
    initiate c1 --ike vss
    sleep 5
    terminate c1
    stop_capture
}

# ---------------------------------------------------------------- main
main() {
    [ $# -gt 0 ] || set -- all
    if [ "$1" = list ]; then printf '%s\n' "${SCENARIOS[@]}"; exit 0; fi
    check_deps
    local todo=() s
    if [ "$1" = all ]; then todo=("${SCENARIOS[@]}"); else
        for s in "$@"; do
            s=${s#ss-}
            [[ " ${SCENARIOS[*]} " == *" $s "* ]] || die "unknown scenario '$s' (try: list)"
            todo+=("$s")
        done
    fi
    mkdir -p "$WORK" "$OUT"
    for s in "${todo[@]}"; do
        log "=== scenario ss-$s"
        "sc_$s"
        teardown
    done
}
main "$@"
