#!/usr/bin/env bash
# vpnscope NAT lab: a real Linux NAT router (nftables masquerade + conntrack) in network
# namespaces, crafted VPN traffic from tests/lab/actors.py, captures on both sides of the router.
#
#   sudo tests/lab/lab.sh all              # remake every capture into pcaps/
#   sudo tests/lab/lab.sh esp_collision …  # remake some
#   tests/lab/lab.sh list                  # scenario names
#   sudo tests/lab/lab.sh clean            # delete leftover vsl-* namespaces
#   VSL_NS=lf VSL_OUT=/tmp/x sudo -E tests/lab/lab.sh …   # namespaces lf-*, captures into /tmp/x
#
# Each scenario writes pcaps/NAME-inside.pcap (router LAN side), pcaps/NAME-outside.pcap (router
# WAN side), pcaps/NAME.conntrack (`conntrack -E -o timestamp,extended,id` in the router) and
# pcaps/NAME.ctstats (`conntrack -S`, nft rule counters, `conntrack -L` at the end, lab events
# such as the instant of a `conntrack -F`, and the far router's counters when there is one).
# Scenarios marked rcap also write pcaps/NAME-router.pcap (`tcpdump -i any -y LINUX_SLL2` in the
# router: every packet as it came in and, unless dropped, as it went out).
# Not part of CI: it needs root and takes a few minutes; the captures are committed.
#
# Topology (every namespace is vsl-*; nothing is connected to the root namespace):
#
#   vsl-c1 eth0 192.168.1.11 ─┐                           ┌─ vsl-s1 eth0 203.0.113.10
#                             ├ vsl-lan br0 ─ lan0 vsl-r wan0 ─ vsl-wan br0 ┤
#   vsl-c2 eth0 192.168.1.12 ─┤   192.168.1.1          203.0.113.1   ├─ vsl-s2 eth0 203.0.113.20
#  (vsl-c3 eth0 192.168.1.13 ─┘)                                      └─ vsl-m eth0 203.0.113.2 (far)
#                                                 vsl-m far0 192.0.2.1 ── MTU 1280 ── vsl-s3 192.0.2.10
#
#   optional (per scenario): c3, a third client; far, a plain second router vsl-m (no NAT, no
#   conntrack, ICMP errors not rate limited) with a 1280-byte MTU link to the server vsl-s3
#   (IPv6: 2001:db8:113::2, 2001:db8:2::1 and 2001:db8:2::10).
#
#   router modes: nat     masquerade on wan0 (clients 192.168.1.x)
#                 helper  nat + PPTP conntrack helper on TCP 1723
#                 routed  plain routing, no NAT (clients 198.51.100.11/.12, router 198.51.100.1)
#                 nat6    nat for IPv4 and IPv6 (clients also fd00:1::11/12, servers 2001:db8:113::10/20)
#   Static neighbour entries everywhere (no ARP/ND in the captures); IPv6 disabled unless nat6.
#   Router input chain drops (and counts) unsolicited inbound on wan0 like a home router.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
OUT=${VSL_OUT:-$ROOT/pcaps}
PY=/usr/bin/python3
ACT="$HERE/actors.py"
# namespace prefix: VSL_NS=lf runs the lab as lf-* (labs of several people side by side)
P=${VSL_NS:-vsl}
[[ $P =~ ^[a-z][a-z0-9]{0,7}$ ]] || { echo "VSL_NS: 1-8 lower-case letters/digits" >&2; exit 2; }
NSLIST=("$P-c1" "$P-c2" "$P-r" "$P-s1" "$P-s2" "$P-lan" "$P-wan")
ALLNS=("$P-c1" "$P-c2" "$P-c3" "$P-r" "$P-m" "$P-s1" "$P-s2" "$P-s3" "$P-lan" "$P-wan")
PIDS=()
WORK=""
X_MASQ="" X_PRE="" X_DNAT="" X_FWD="" X_FAR=0 X_C3=0 X_RCAP=0 X_FAR_SILENT=0

SCENARIOS=(esp_collision esp_two_servers natt_two_clients ah_nat ah_routed
  pptp_helper pptp_nohelper pptp_single_nohelper stale_nat natt_keepalive_ok stale_nat_portmove
  frag_reorder frag_inorder frag_loss frag6_reorder ike_no_response ike_answered
  ike_ip_fragmented ike_skf natt_not_used esp_routed esp_one_way l2tp
  mtu_blackhole mtu_pmtud_ok mtu_blackhole_noicmp mtu_icmp_ignored mtu_blackhole6 nat_state_lost nat_state_lost_reuse nat_single_expiry
  server_behind_nat_ok server_behind_nat_esp_not_forwarded server_behind_nat_esp_forwarded
  pptp_server_behind_nat pptp_server_behind_nat_gre pptp_server_behind_nat_helper
  pptp_nonstandard_port pptp_port443 wg_state_lost natt_single_keepalive natt_single_keepalive_race)

log() { printf '[lab %s] %s\n' "$(date +%T)" "$*" >&2; }
die() { log "error: $*"; exit 1; }
# nsenter execs the command itself (ip netns exec forks, so $! would not be the command)
nsx() { local ns=$1; shift; nsenter --net="/run/netns/$ns" -- "$@"; }
# nsbg: for `nsbg NS cmd… &`: the background subshell execs the command, so $! is its PID
nsbg() { local ns=$1; shift; exec nsenter --net="/run/netns/$ns" -- "$@"; }

check_deps() {
  local missing=() c pkg
  for c in ip:iproute2 nft:nftables conntrack:conntrack tcpdump:tcpdump tshark:tshark \
           stdbuf:coreutils timeout:coreutils; do
    command -v "${c%%:*}" >/dev/null 2>&1 || missing+=("${c#*:}")
  done
  if [ ! -x "$PY" ] || ! "$PY" -c 'import scapy.all' >/dev/null 2>&1; then missing+=(python3-scapy); fi
  if [ ${#missing[@]} -gt 0 ]; then
    echo "missing Debian packages: ${missing[*]}" >&2
    echo "  apt-get install ${missing[*]}" >&2
    exit 1
  fi
  [ "$(id -u)" = 0 ] || die "run as root (sudo $0 $*)"
}

stop_pids() {
  local p
  for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  PIDS=()
}

topo_down() {
  local ns
  for ns in "${ALLNS[@]}"; do
    if ip netns list | grep -qw "^$ns"; then ip netns del "$ns"; fi
  done
}

cleanup() {
  local rc=$?
  stop_pids
  topo_down
  if [ -n "$WORK" ]; then
    if [ $rc -ne 0 ]; then log "logs kept in $WORK"; else rm -rf "$WORK"; fi
  fi
  exit $rc
}

mac() { printf '02:00:00:00:%s' "$1"; }

# topo_up MODE   (MODE: nat | helper | routed | nat6)
topo_up() {
  local mode=$1 v6=0 lan=192.168.1 ns
  [ "$mode" = nat6 ] && v6=1
  [ "$mode" = routed ] && lan=198.51.100
  C1=$lan.11 C2=$lan.12 RL=$lan.1 RW=203.0.113.1 S1=203.0.113.10 S2=203.0.113.20
  C1_6=fd00:1::11 C2_6=fd00:1::12 RL_6=fd00:1::1 RW_6=2001:db8:113::1 S1_6=2001:db8:113::10 S2_6=2001:db8:113::20
  topo_down
  local nslist=("${NSLIST[@]}")
  if [ "$X_C3" = 1 ]; then nslist+=("$P-c3"); fi
  if [ "$X_FAR" = 1 ]; then nslist+=("$P-m" "$P-s3"); fi
  for ns in "${nslist[@]}"; do
    ip netns add "$ns"
    ip -n "$ns" link set lo up
    if [ $v6 = 1 ] && [ "$ns" != $P-lan ] && [ "$ns" != $P-wan ]; then
      nsx "$ns" sysctl -qw net.ipv6.conf.all.accept_ra=0 net.ipv6.conf.default.accept_ra=0 \
        net.ipv6.conf.all.dad_transmits=0 net.ipv6.conf.default.dad_transmits=0 \
        net.ipv6.conf.all.router_solicitations=0 net.ipv6.conf.default.router_solicitations=0
    else
      nsx "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
    fi
  done
  # bridges
  for ns in $P-lan $P-wan; do
    ip -n "$ns" link add br0 type bridge
    ip -n "$ns" link set br0 type bridge mcast_snooping 0
    ip -n "$ns" link set br0 up
  done
  # veth pairs: endpoint side named eth0 / lan0 / wan0, bridge side named after the endpoint
  ip -n $P-c1 link add eth0 address "$(mac 01:11)" type veth peer name c1 netns $P-lan
  ip -n $P-c2 link add eth0 address "$(mac 01:12)" type veth peer name c2 netns $P-lan
  ip -n $P-r link add lan0 address "$(mac 01:01)" type veth peer name r netns $P-lan
  ip -n $P-r link add wan0 address "$(mac 02:01)" type veth peer name r netns $P-wan
  ip -n $P-s1 link add eth0 address "$(mac 02:10)" type veth peer name s1 netns $P-wan
  ip -n $P-s2 link add eth0 address "$(mac 02:20)" type veth peer name s2 netns $P-wan
  local lanports=(c1 c2 r)
  if [ "$X_C3" = 1 ]; then
    ip -n $P-c3 link add eth0 address "$(mac 01:13)" type veth peer name c3 netns $P-lan
    lanports+=(c3)
  fi
  for p in "${lanports[@]}"; do ip -n $P-lan link set "$p" master br0 up; done
  for p in s1 s2 r; do ip -n $P-wan link set "$p" master br0 up; done
  # offloads off: final checksums and wire-sized segments in the captures
  for ns in $P-c1 $P-c2 $P-s1 $P-s2; do nsx "$ns" "$PY" "$ACT" offload-off eth0; done
  nsx $P-r "$PY" "$ACT" offload-off lan0 wan0
  nsx $P-lan "$PY" "$ACT" offload-off c1 c2 r
  nsx $P-wan "$PY" "$ACT" offload-off s1 s2 r
  # addresses, routes (only towards the lab's other side), static neighbours
  ip -n $P-c1 addr add "$C1/24" dev eth0
  ip -n $P-c2 addr add "$C2/24" dev eth0
  ip -n $P-r addr add "$RL/24" dev lan0
  ip -n $P-r addr add "$RW/24" dev wan0
  ip -n $P-s1 addr add "$S1/24" dev eth0
  ip -n $P-s2 addr add "$S2/24" dev eth0
  if [ $v6 = 1 ]; then
    ip -n $P-c1 addr add "$C1_6/64" dev eth0 nodad
    ip -n $P-c2 addr add "$C2_6/64" dev eth0 nodad
    ip -n $P-r addr add "$RL_6/64" dev lan0 nodad
    ip -n $P-r addr add "$RW_6/64" dev wan0 nodad
    ip -n $P-s1 addr add "$S1_6/64" dev eth0 nodad
    ip -n $P-s2 addr add "$S2_6/64" dev eth0 nodad
  fi
  for ns in $P-c1 $P-c2 $P-s1 $P-s2; do ip -n "$ns" link set eth0 up; done
  ip -n $P-r link set lan0 up
  ip -n $P-r link set wan0 up
  for ns in $P-c1 $P-c2; do
    ip -n "$ns" route add 203.0.113.0/24 via "$RL"
    ip -n "$ns" neigh replace "$RL" lladdr "$(mac 01:01)" dev eth0 nud permanent
  done
  ip -n $P-r neigh replace "$C1" lladdr "$(mac 01:11)" dev lan0 nud permanent
  ip -n $P-r neigh replace "$C2" lladdr "$(mac 01:12)" dev lan0 nud permanent
  ip -n $P-r neigh replace "$S1" lladdr "$(mac 02:10)" dev wan0 nud permanent
  ip -n $P-r neigh replace "$S2" lladdr "$(mac 02:20)" dev wan0 nud permanent
  for ns in $P-s1 $P-s2; do
    ip -n "$ns" neigh replace "$RW" lladdr "$(mac 02:01)" dev eth0 nud permanent
    if [ "$mode" = routed ]; then ip -n "$ns" route add 198.51.100.0/24 via "$RW"; fi
  done
  if [ $v6 = 1 ]; then
    for ns in $P-c1 $P-c2; do
      ip -n "$ns" -6 route add 2001:db8:113::/64 via "$RL_6"
      ip -n "$ns" -6 neigh replace "$RL_6" lladdr "$(mac 01:01)" dev eth0 nud permanent
    done
    ip -n $P-r -6 neigh replace "$C1_6" lladdr "$(mac 01:11)" dev lan0 nud permanent
    ip -n $P-r -6 neigh replace "$C2_6" lladdr "$(mac 01:12)" dev lan0 nud permanent
    ip -n $P-r -6 neigh replace "$S1_6" lladdr "$(mac 02:10)" dev wan0 nud permanent
    ip -n $P-r -6 neigh replace "$S2_6" lladdr "$(mac 02:20)" dev wan0 nud permanent
    for ns in $P-s1 $P-s2; do
      ip -n "$ns" -6 neigh replace "$RW_6" lladdr "$(mac 02:01)" dev eth0 nud permanent
    done
    nsx $P-r sysctl -qw net.ipv6.conf.all.forwarding=1
  fi
  nsx $P-r sysctl -qw net.ipv4.ip_forward=1 net.netfilter.nf_conntrack_acct=1
  if [ "$X_C3" = 1 ]; then topo_c3 "$v6"; fi
  if [ "$X_FAR" = 1 ]; then topo_far "$v6" "$mode"; fi
  # router ruleset
  local helper_obj="" helper_rule="" nat_rule="" dnat_chain=""
  if [ -n "$X_DNAT" ]; then
    dnat_chain="chain prenat { type nat hook prerouting priority dstnat; policy accept; $X_DNAT }"
  fi
  if [ "$mode" = helper ]; then
    helper_obj='ct helper pptp-h { type "pptp" protocol tcp; l3proto ip; }'
    helper_rule='tcp dport 1723 ct helper set "pptp-h"'
  fi
  [ "$mode" != routed ] && nat_rule="oifname \"wan0\" masquerade${X_MASQ:+ $X_MASQ}"
  nsx $P-r nft -f - <<EOF
table inet vsl {
  $helper_obj
  chain pre {
    type filter hook prerouting priority filter; policy accept;
    $helper_rule
    $X_PRE
  }
  $dnat_chain
  chain input {
    type filter hook input priority filter; policy accept;
    iifname "wan0" ct state new,invalid counter drop comment "unsolicited inbound to the router"
  }
  chain forward {
    type filter hook forward priority filter; policy accept;
    ct state invalid counter comment "invalid forwarded (counted, not dropped)"
    iifname "wan0" ct state new counter comment "new inbound forwarded (counted)"
    $X_FWD
  }
  chain post {
    type nat hook postrouting priority srcnat; policy accept;
    $nat_rule
  }
}
EOF
  ROUTER_MODE=$mode
  # let link-up multicast (MLD with IPv6) settle before capturing
  if [ $v6 = 1 ]; then sleep 3; else sleep 0.3; fi
}

# topo_c3 V6: a third client $P-c3 192.168.1.13 (fd00:1::13) on the LAN bridge
topo_c3() {
  local v6=$1
  C3=${C1%.*}.13 C3_6=fd00:1::13
  nsx $P-c3 "$PY" "$ACT" offload-off eth0
  nsx $P-lan "$PY" "$ACT" offload-off c3
  ip -n $P-c3 addr add "$C3/24" dev eth0
  ip -n $P-c3 link set eth0 up
  ip -n $P-c3 route add 203.0.113.0/24 via "$RL"
  ip -n $P-c3 neigh replace "$RL" lladdr "$(mac 01:01)" dev eth0 nud permanent
  ip -n $P-r neigh replace "$C3" lladdr "$(mac 01:13)" dev lan0 nud permanent
  if [ "$v6" = 1 ]; then
    ip -n $P-c3 addr add "$C3_6/64" dev eth0 nodad
    ip -n $P-c3 -6 route add 2001:db8:113::/64 via "$RL_6"
    ip -n $P-c3 -6 neigh replace "$RL_6" lladdr "$(mac 01:01)" dev eth0 nud permanent
    ip -n $P-r -6 neigh replace "$C3_6" lladdr "$(mac 01:13)" dev lan0 nud permanent
  fi
}

# topo_far V6 MODE: a second (plain, no NAT, no conntrack) router $P-m on the WAN bridge,
# eth0 203.0.113.2 / 2001:db8:113::2, and beyond it a 1280-byte MTU link (far0, a veth pair with
# MTU 1280 on both ends) to the server $P-s3 192.0.2.10 / 2001:db8:2::10. ICMP errors of $P-m are
# not rate limited (icmp_ratelimit=0), so every packet too big for far0 gets its ICMP.
topo_far() {
  local v6=$1 mode=$2 ns
  M=203.0.113.2 MF=192.0.2.1 S3=192.0.2.10 M_6=2001:db8:113::2 MF_6=2001:db8:2::1 S3_6=2001:db8:2::10
  ip -n $P-m link add eth0 address "$(mac 02:02)" type veth peer name mr netns $P-wan
  ip -n $P-m link add far0 address "$(mac 03:01)" mtu 1280 type veth peer name eth0 netns $P-s3
  ip -n $P-s3 link set eth0 address "$(mac 03:10)" mtu 1280
  ip -n $P-wan link set mr master br0 up
  nsx $P-wan "$PY" "$ACT" offload-off mr
  nsx $P-m "$PY" "$ACT" offload-off eth0 far0
  nsx $P-s3 "$PY" "$ACT" offload-off eth0
  ip -n $P-m addr add "$M/24" dev eth0
  ip -n $P-m addr add "$MF/24" dev far0
  ip -n $P-s3 addr add "$S3/24" dev eth0
  ip -n $P-m link set eth0 up
  ip -n $P-m link set far0 up
  ip -n $P-s3 link set eth0 up
  ip -n $P-r route add 192.0.2.0/24 via "$M"
  for ns in $P-c1 $P-c2 $P-c3; do
    if [ -e "/run/netns/$ns" ]; then ip -n "$ns" route add 192.0.2.0/24 via "$RL"; fi
  done
  ip -n $P-s3 route add 203.0.113.0/24 via "$MF"
  if [ "$mode" = routed ]; then
    ip -n $P-s3 route add 198.51.100.0/24 via "$MF"
    ip -n $P-m route add 198.51.100.0/24 via "$RW"
  fi
  ip -n $P-r neigh replace "$M" lladdr "$(mac 02:02)" dev wan0 nud permanent
  ip -n $P-m neigh replace "$RW" lladdr "$(mac 02:01)" dev eth0 nud permanent
  ip -n $P-m neigh replace "$S3" lladdr "$(mac 03:10)" dev far0 nud permanent
  ip -n $P-s3 neigh replace "$MF" lladdr "$(mac 03:01)" dev eth0 nud permanent
  nsx $P-m sysctl -qw net.ipv4.ip_forward=1 net.ipv4.icmp_ratelimit=0
  if [ "$v6" = 1 ]; then
    ip -n $P-m addr add "$M_6/64" dev eth0 nodad
    ip -n $P-m addr add "$MF_6/64" dev far0 nodad
    ip -n $P-s3 addr add "$S3_6/64" dev eth0 nodad
    ip -n $P-r -6 route add 2001:db8:2::/64 via "$M_6"
    for ns in $P-c1 $P-c2; do ip -n "$ns" -6 route add 2001:db8:2::/64 via "$RL_6"; done
    ip -n $P-s3 -6 route add 2001:db8:113::/64 via "$MF_6"
    ip -n $P-r -6 neigh replace "$M_6" lladdr "$(mac 02:02)" dev wan0 nud permanent
    ip -n $P-m -6 neigh replace "$RW_6" lladdr "$(mac 02:01)" dev eth0 nud permanent
    ip -n $P-m -6 neigh replace "$S3_6" lladdr "$(mac 03:10)" dev far0 nud permanent
    ip -n $P-s3 -6 neigh replace "$MF_6" lladdr "$(mac 03:01)" dev eth0 nud permanent
    nsx $P-m sysctl -qw net.ipv6.conf.all.forwarding=1 net.ipv6.icmp.ratelimit=0
  fi
  # counters only (no ct expression: no conntrack in $P-m); X_FAR_SILENT=1: m drops IPv4 packets
  # with DF over the far0 MTU without sending ICMP (a filtering hop that swallows its own errors)
  local far_silent='iifname "eth0" meta nfproto ipv4 meta length > 1280 ip frag-off & 0x4000 != 0 counter comment "IPv4 with DF over the far0 MTU: dropped, ICMP sent"'
  if [ "$X_FAR_SILENT" = 1 ]; then
    far_silent='iifname "eth0" meta nfproto ipv4 meta length > 1280 ip frag-off & 0x4000 != 0 counter drop comment "IPv4 with DF over the far0 MTU: dropped silently, no ICMP"'
  fi
  nsx $P-m nft -f - <<EOF
table inet far {
  chain pre {
    type filter hook prerouting priority filter; policy accept;
    $far_silent
    iifname "eth0" meta nfproto ipv4 meta length > 1280 ip frag-off & 0x4000 == 0 counter comment "IPv4 without DF over the far0 MTU: fragmented"
    iifname "eth0" meta nfproto ipv6 meta length > 1280 counter comment "IPv6 over the far0 MTU: dropped, ICMPv6 sent"
    iifname "eth0" meta length <= 1280 counter comment "fits far0"
  }
  chain out {
    type filter hook output priority filter; policy accept;
    icmp type destination-unreachable icmp code frag-needed counter comment "ICMP fragmentation needed sent"
    icmpv6 type packet-too-big counter comment "ICMPv6 packet too big sent"
  }
}
EOF
}

# rsysctl NAME=VALUE...   (router netns)
rsysctl() { local kv; for kv in "$@"; do nsx $P-r sysctl -qw "$kv"; done; TIMEOUTS+=("$@"); }

cap_start() {
  local name=$1 i
  CUR=$name
  rm -f "$OUT/$name-inside.pcap" "$OUT/$name-outside.pcap" "$OUT/$name.conntrack" "$OUT/$name.ctstats" \
    "$OUT/$name-router.pcap"
  EVENTS=()
  if [ "$X_RCAP" = 1 ]; then
    # the router's own view: every interface, each packet as it came in and as it went out
    nsbg $P-r tcpdump -Z root -n -U -s 262144 -i any -y LINUX_SLL2 -w "$OUT/$name-router.pcap" 2>"$WORK/$name.td-any" &
    PIDS+=($!); TD_ANY=$!
  fi
  nsbg $P-r tcpdump -Z root -n -U -s 262144 -i lan0 -w "$OUT/$name-inside.pcap" 2>"$WORK/$name.td-in" &
  PIDS+=($!); TD_IN=$!
  nsbg $P-r tcpdump -Z root -n -U -s 262144 -i wan0 -w "$OUT/$name-outside.pcap" 2>"$WORK/$name.td-out" &
  PIDS+=($!); TD_OUT=$!
  nsbg $P-r stdbuf -oL conntrack -E -o timestamp,extended,id >"$OUT/$name.conntrack" 2>"$WORK/$name.ct" &
  PIDS+=($!); CT_E=$!
  for i in $(seq 50); do
    if grep -q listening "$WORK/$name.td-in" && grep -q listening "$WORK/$name.td-out" &&
       { [ "$X_RCAP" != 1 ] || grep -q listening "$WORK/$name.td-any"; }; then break; fi
    sleep 0.1
  done
  sleep 0.5
}

cap_stop() {
  local name=$CUR
  sleep 1
  kill -INT "$TD_IN" "$TD_OUT" 2>/dev/null || true
  wait "$TD_IN" 2>/dev/null || true
  wait "$TD_OUT" 2>/dev/null || true
  if [ "$X_RCAP" = 1 ]; then kill -INT "$TD_ANY" 2>/dev/null || true; wait "$TD_ANY" 2>/dev/null || true; fi
  kill -TERM "$CT_E" 2>/dev/null || true
  wait "$CT_E" 2>/dev/null || true
  {
    echo "# scenario $name, router mode $ROUTER_MODE${TIMEOUTS[*]:+, sysctls: ${TIMEOUTS[*]}}"
    echo "# conntrack -S (router netns $P-r)"
    nsx $P-r conntrack -S
    echo "# nft rule counters"
    nsx $P-r nft list ruleset
    echo "# conntrack -L -o extended,id at the end"
    nsx $P-r conntrack -L -o extended,id 2>/dev/null || true
    if [ ${#EVENTS[@]} -gt 0 ]; then
      echo "# lab events (epoch seconds, router clock)"
      printf '%s\n' "${EVENTS[@]}"
    fi
    if [ "$X_FAR" = 1 ]; then
      echo "# far router $P-m (MTU 1280 link far0 to s3): nft counters"
      nsx $P-m nft list ruleset
    fi
  } >"$OUT/$name.ctstats"
}

# server NAME [actor options]   -> background, killed by finish
server() {
  local n=$1; shift
  local ip=$S1 ip6=$S1_6
  [ "$n" = s2 ] && ip=$S2 ip6=$S2_6
  [ "$n" = s3 ] && ip=$S3 ip6=$S3_6
  nsbg "$P-$n" "$PY" "$ACT" server --name "$n" --ip "$ip" --ip6 "$ip6" "$@" 2>>"$WORK/$CUR.log" &
  PIDS+=($!); SERVERS+=($!)
}

# server_in NS IP [actor options]   -> a server inside (behind the router's DNAT rules)
server_in() {
  local ns=$1 ip=$2; shift 2
  nsbg "$P-$ns" "$PY" "$ACT" server --name "$ns" --ip "$ip" "$@" 2>>"$WORK/$CUR.log" &
  PIDS+=($!); SERVERS+=($!)
}

# client_at NS N DELAY PROGRAM [actor options]   -> a client in any namespace (e.g. outside, s1)
client_at() {
  local ns=$1 n=$2 delay=$3; shift 3
  ( sleep "$delay"; exec nsenter --net="/run/netns/$P-$ns" -- "$PY" "$ACT" client "$@" --n "$n" ) 2>>"$WORK/$CUR.log" &
  PIDS+=($!); CLIENTS+=($!)
}

# router_flush DELAY: `conntrack -F` in the router DELAY s from now (what a reboot does to NAT state)
router_flush() {
  sleep "$1"
  EVENTS+=("$(date +%s.%N) conntrack -F in $P-r")
  nsx $P-r conntrack -F 2>>"$WORK/$CUR.log"
  log "conntrack -F at ${EVENTS[-1]%% *}"
}

# client N DELAY PROGRAM [actor options]   -> background, waited by finish
client() {
  local n=$1 delay=$2; shift 2
  ( sleep "$delay"; exec nsenter --net="/run/netns/$P-c$n" -- "$PY" "$ACT" client "$@" --n "$n" ) 2>>"$WORK/$CUR.log" &
  PIDS+=($!); CLIENTS+=($!)
}

finish() {
  local p rc=0
  for p in "${CLIENTS[@]}"; do wait "$p" || rc=1; done
  if [ -n "${PRE_STOP:-}" ]; then "$PRE_STOP"; fi
  cap_stop
  for p in "${SERVERS[@]}"; do kill -TERM "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  PIDS=(); CLIENTS=(); SERVERS=()
  [ $rc = 0 ] || { cat "$WORK/$CUR.log" >&2; die "$CUR: a client failed"; }
  report "$CUR"
}

report() {
  local name=$1 f side n mal
  for side in inside outside; do
    f="$OUT/$name-$side.pcap"
    n=$(tshark -r "$f" -T fields -e frame.number 2>/dev/null | wc -l)
    mal=$(tshark -r "$f" -Y _ws.malformed -T fields -e frame.number 2>/dev/null | wc -l)
    log "$name-$side.pcap: $n packets, $(stat -c %s "$f") bytes, malformed: $mal"
    [ "$mal" = 0 ] || log "WARNING: malformed packets in $f"
  done
  log "$name conntrack: $(grep -c NEW "$OUT/$name.conntrack" || true) NEW, $(grep -c DESTROY "$OUT/$name.conntrack" || true) DESTROY events;" \
      "$(awk '/^cpu=/{for(i=1;i<=NF;i++){split($i,a,"=");if(a[1]=="insert_failed"||a[1]=="drop")s[a[1]]+=a[2]}}END{printf "insert_failed=%d drop=%d",s["insert_failed"],s["drop"]}' "$OUT/$name.ctstats")"
}

# begin NAME MODE [far] [c3] [rcap]: far = topo_far, c3 = topo_c3, rcap = NAME-router.pcap too.
# Router rule additions for one scenario go in as temporary assignments: X_FWD='…' begin NAME nat
# (X_MASQ: masquerade options; X_PRE: prerouting filter; X_DNAT: nat prerouting; X_FWD: forward).
begin() {
  CLIENTS=(); SERVERS=(); TIMEOUTS=(); EVENTS=()
  X_FAR=0 X_C3=0 X_RCAP=0
  local x
  for x in "${@:3}"; do
    case $x in far) X_FAR=1 ;; c3) X_C3=1 ;; rcap) X_RCAP=1 ;; *) die "begin: unknown extra $x" ;; esac
  done
  log "=== $1 (router mode $2)"
  topo_up "$2"
  CUR=$1
}

# ------------------------------------------------------------------ scenarios
sc_esp_collision() {
  begin esp_collision nat
  server s1 --esp-raw push --count 10 --interval 0.3
  cap_start esp_collision
  client 1 0 ike_esp --server "$S1" --count 10 --interval 0.3
  client 2 0.3 ike_esp --server "$S1" --count 10 --interval 0.3
  finish
}

sc_esp_two_servers() {
  begin esp_two_servers nat
  server s1 --esp-raw push --count 10 --interval 0.3
  server s2 --esp-raw push --count 10 --interval 0.3
  cap_start esp_two_servers
  client 1 0 ike_esp --server "$S1" --count 10 --interval 0.3
  client 2 0.3 ike_esp --server "$S2" --count 10 --interval 0.3
  finish
}

sc_natt_two_clients() {
  begin natt_two_clients nat
  server s1
  cap_start natt_two_clients
  client 1 0 natt --server "$S1" --count 15 --interval 0.3 --keepalive 2
  client 2 0.3 natt --server "$S1" --count 15 --interval 0.3 --keepalive 2
  finish
}

sc_ah_nat() {
  begin ah_nat nat
  server s1 --ah echo
  cap_start ah_nat
  client 1 0 ah --server "$S1" --count 10 --interval 0.3
  finish
}

sc_ah_routed() {
  begin ah_routed routed
  server s1 --ah echo
  cap_start ah_routed
  client 1 0 ah --server "$S1" --count 10 --interval 0.3
  finish
}

sc_pptp_helper() {
  begin pptp_helper helper
  server s1 --count 6 --interval 0.3
  cap_start pptp_helper
  client 1 0 pptp --server "$S1" --call-id 0x4000 --sport 40001 --count 6 --interval 0.3
  client 2 0.3 pptp --server "$S1" --call-id 0x4000 --sport 40002 --count 6 --interval 0.3
  finish
}

sc_pptp_nohelper() {
  begin pptp_nohelper nat
  server s1 --count 6 --interval 0.3
  cap_start pptp_nohelper
  client 1 0 pptp --server "$S1" --call-id 0x4000 --sport 40001 --count 6 --interval 0.3
  client 2 0.3 pptp --server "$S1" --call-id 0x4000 --sport 40002 --count 6 --interval 0.3
  finish
}

sc_pptp_single_nohelper() {
  begin pptp_single_nohelper nat
  server s1 --count 6 --interval 0.3
  cap_start pptp_single_nohelper
  client 1 0 pptp --server "$S1" --call-id 0x4000 --sport 40001 --count 6 --interval 0.3
  finish
}

stale_common() { # NAME EXTRA-CLIENT-ARGS...
  local name=$1; shift
  begin "$name" nat
  rsysctl net.netfilter.nf_conntrack_udp_timeout=5 net.netfilter.nf_conntrack_udp_timeout_stream=10
  server s1 --push-after-esp-idle 13
  cap_start "$name"
  client 1 0 natt --server "$S1" --count 10 --interval 0.3 --keepalive 2 --idle 18 --count2 5 "$@"
}

sc_stale_nat() { stale_common stale_nat; finish; }
sc_natt_keepalive_ok() { stale_common natt_keepalive_ok --keepalive-idle 2; finish; }
sc_stale_nat_portmove() {
  # c2 starts NAT-T to s1 after c1's mapping expired and takes outside port 4500;
  # c1's next ESP-in-UDP (same SPI) leaves from a new outside port.
  stale_common stale_nat_portmove
  client 2 18.5 natt --server "$S1" --count 25 --interval 0.3 --keepalive 2
  finish
}

# c1 runs NAT-T to s1 and holds outside port 4500; c2 sends one NAT-T keepalive from its port
# 4500 and nothing else, so the router maps it to another outside port: a mapping that a single
# packet crosses (conntrack -E shows its NEW entry with the translated port).
sc_natt_single_keepalive() {
  begin natt_single_keepalive nat rcap
  server s1
  cap_start natt_single_keepalive
  client 1 0 natt --server "$S1" --count 10 --interval 0.3 --keepalive 2
  client 2 0 keepalive --server "$S1" --phase 1.5
  finish
}

# The same with c2 and c3 sending their one keepalive at the same instant: two look-alike packets
# (same bytes, same size) in the matching window, told apart only by their IPv4 ID.
sc_natt_single_keepalive_race() {
  begin natt_single_keepalive_race nat rcap c3
  server s1
  cap_start natt_single_keepalive_race
  client 1 0 natt --server "$S1" --count 10 --interval 0.3 --keepalive 2
  client 2 0 keepalive --server "$S1" --phase 1.5
  client 3 0 keepalive --server "$S1" --phase 1.5
  finish
}

sc_frag_reorder() {
  begin frag_reorder nat
  server s1
  cap_start frag_reorder
  client 1 0 frag --server "$S1" --order shuffle --count 4 --interval 0.5
  finish
}

sc_frag_inorder() {
  begin frag_inorder nat
  server s1
  cap_start frag_inorder
  client 1 0 frag --server "$S1" --order inorder --count 4 --interval 0.5
  finish
}

sc_frag_loss() {
  begin frag_loss nat
  rsysctl net.ipv4.ipfrag_time=3
  server s1
  cap_start frag_loss
  client 1 0 frag --server "$S1" --order inorder --count 4 --interval 0.5 --loss --linger 4.5
  finish
}

sc_frag6_reorder() {
  begin frag6_reorder nat6
  server s1 --v6
  cap_start frag6_reorder
  client 1 0 frag --server "$S1_6" --order shuffle --count 4 --interval 0.5
  finish
}

sc_ike_no_response() {
  begin ike_no_response nat
  server s1 --ike silent
  cap_start ike_no_response
  client 1 0 ike_retx --server "$S1" --count 4 --natd
  finish
}

sc_ike_answered() {
  begin ike_answered nat
  server s1 --ike ignore-first
  cap_start ike_answered
  client 1 0 ike_retx --server "$S1" --count 4 --natd
  finish
}

sc_ike_ip_fragmented() {
  begin ike_ip_fragmented nat
  server s1
  cap_start ike_ip_fragmented
  client 1 0 ike_bigauth --server "$S1" --mode ipfrag --count 5 --interval 0.3
  finish
}

sc_ike_skf() {
  begin ike_skf nat
  server s1 --ike-frag
  cap_start ike_skf
  client 1 0 ike_bigauth --server "$S1" --mode skf --count 5 --interval 0.3
  finish
}

sc_natt_not_used() {
  begin natt_not_used nat
  server s1 --esp-raw push --count 10 --interval 0.3
  cap_start natt_not_used
  client 1 0 ike_esp --server "$S1" --natd --count 10 --interval 0.3
  finish
}

sc_esp_routed() {
  begin esp_routed routed
  server s1 --esp-raw push --count 10 --interval 0.3
  cap_start esp_routed
  client 1 0 ike_esp --server "$S1" --natd --count 10 --interval 0.3
  finish
}

sc_esp_one_way() {
  begin esp_one_way nat
  server s1 --esp-udp none
  cap_start esp_one_way
  client 1 0 natt --server "$S1" --count 10 --interval 0.3
  finish
}

sc_l2tp() {
  begin l2tp nat
  server s1
  cap_start l2tp
  client 1 0 l2tp --server "$S1" --count 5 --interval 0.3
  finish
}

# ------------------------------------------------------------------ issue 12 scenarios: path MTU,
# lost NAT state, servers behind the router, PPTP on another port
ICMP_FN='meta l4proto icmp icmp type destination-unreachable icmp code frag-needed counter'
ICMP6_PTB='meta l4proto ipv6-icmp icmpv6 type packet-too-big counter'

mtu_common() { # NAME FWD-RULE CLIENT-EXTRA...
  local name=$1 fwd=$2; shift 2
  X_FWD=$fwd begin "$name" nat far rcap
  server s3 --esp-raw echo
  cap_start "$name"
  client 1 0 mtu --kind natt --server "$S3" "$@"
  client 2 0.2 mtu --kind esp --server "$S3"
  finish
}
sc_mtu_blackhole() {
  mtu_common mtu_blackhole "$ICMP_FN drop comment \"ICMP fragmentation needed: dropped (black hole)\""
}
sc_mtu_pmtud_ok() {
  mtu_common mtu_pmtud_ok "$ICMP_FN comment \"ICMP fragmentation needed: forwarded\"" --adapt
}
sc_mtu_blackhole_noicmp() {
  X_FAR_SILENT=1 mtu_common mtu_blackhole_noicmp "$ICMP_FN comment \"ICMP fragmentation needed: forwarded\""
}
sc_mtu_icmp_ignored() {
  local fwd="$ICMP_FN comment \"ICMP fragmentation needed: forwarded\""
  X_FWD=$fwd begin mtu_icmp_ignored nat far rcap
  server s3 --esp-raw echo
  cap_start mtu_icmp_ignored
  client 1 0 mtu --kind natt --server "$S3" --ignore-icmp
  client 2 0.2 mtu --kind esp --server "$S3" --ignore-icmp
  finish
}
sc_mtu_blackhole6() {
  X_FWD="$ICMP6_PTB drop comment \"ICMPv6 packet too big: dropped (black hole)\"" begin mtu_blackhole6 nat6 far rcap
  server s3 --v6 --esp-raw echo
  cap_start mtu_blackhole6
  client 1 0 mtu --kind natt --server "$S3_6"
  finish
}

# three tunnels through one NAT (c1 NAT-T to s1, c2 WireGuard-like to s2, c3 raw ESP to s1); the
# servers stream to each tunnel every 0.25 s; the router's conntrack table is flushed at t=10.2 s
state_lost_common() { # NAME MASQUERADE-OPTIONS
  local name=$1
  X_MASQ=$2 begin "$name" nat c3 rcap
  server s1 --esp-udp none --esp-raw none --stream 0.25 --stream-hold 6
  server s2 --stream 0.25 --stream-hold 6
  cap_start "$name"
  client 1 0 tunnel --kind natt --server "$S1" --interval 3 --keepalive 3 --ka-phase 1.5 --duration 18 --rekey-after 2
  client 2 0.2 tunnel --kind wg --server "$S2" --interval 2.5 --duration 18 --rekey-after 2
  client 3 0.4 tunnel --kind esp --server "$S1" --interval 4 --duration 18 --rekey-after 2
  router_flush 10.2
  finish
}
sc_nat_state_lost() { state_lost_common nat_state_lost random; }
sc_nat_state_lost_reuse() { state_lost_common nat_state_lost_reuse ""; }

sc_nat_single_expiry() {
  begin nat_single_expiry nat c3 rcap
  rsysctl net.netfilter.nf_conntrack_udp_timeout=5 net.netfilter.nf_conntrack_udp_timeout_stream=10
  server s1 --esp-udp none --esp-raw none --stream 0.5 --stream-hold 4
  server s2 --stream 0.5 --stream-hold 1 --push-after-idle 16
  cap_start nat_single_expiry
  client 1 0 tunnel --kind natt --server "$S1" --interval 2 --keepalive 2 --ka-phase 1 --duration 28
  client 2 0.2 tunnel --kind wg --server "$S2" --interval 1 --quiet 4:23 --duration 28
  client 3 0.4 tunnel --kind esp --server "$S1" --interval 2 --duration 28
  finish
}

# VPN servers inside (c1, 192.168.1.11) behind port forwarding; the client is s1 (203.0.113.10),
# talking to the router's WAN address
DNAT_TO='dnat ip to 192.168.1.11'
behind_common() { # NAME MODE DNAT-RULES
  X_DNAT=$3 begin "$1" "$2" rcap
}
sc_server_behind_nat_ok() {
  behind_common server_behind_nat_ok nat \
    "iifname \"wan0\" udp dport { 500, 4500 } counter $DNAT_TO comment \"forward IKE and NAT-T\";"
  server_in c1 "$C1"
  cap_start server_behind_nat_ok
  client_at s1 1 0 natt --server "$RW" --count 10 --interval 0.3 --keepalive 2
  finish
}
sc_server_behind_nat_esp_not_forwarded() {
  behind_common server_behind_nat_esp_not_forwarded nat \
    "iifname \"wan0\" udp dport 500 counter $DNAT_TO comment \"forward IKE (no rule for ESP)\";"
  server_in c1 "$C1" --esp-raw push
  cap_start server_behind_nat_esp_not_forwarded
  client_at s1 1 0 ike_esp --server "$RW" --count 10 --interval 0.3
  finish
}
sc_server_behind_nat_esp_forwarded() {
  behind_common server_behind_nat_esp_forwarded nat \
    "iifname \"wan0\" udp dport 500 counter $DNAT_TO comment \"forward IKE\";
     iifname \"wan0\" meta l4proto esp counter $DNAT_TO comment \"forward ESP\";"
  server_in c1 "$C1" --esp-raw push
  cap_start server_behind_nat_esp_forwarded
  client_at s1 1 0 ike_esp --server "$RW" --count 10 --interval 0.3
  finish
}
pptp_behind_common() { # NAME MODE DNAT-RULES
  behind_common "$@"
  server_in c1 "$C1" --count 6 --interval 0.3
  cap_start "$1"
  client_at s1 1 0 pptp --server "$RW" --call-id 0x4000 --sport 40001 --count 6 --interval 0.3
  finish
}
sc_pptp_server_behind_nat() {
  pptp_behind_common pptp_server_behind_nat nat \
    "iifname \"wan0\" tcp dport 1723 counter $DNAT_TO comment \"forward PPTP control (no rule for GRE)\";"
}
sc_pptp_server_behind_nat_gre() {
  pptp_behind_common pptp_server_behind_nat_gre nat \
    "iifname \"wan0\" tcp dport 1723 counter $DNAT_TO comment \"forward PPTP control\";
     iifname \"wan0\" meta l4proto gre counter $DNAT_TO comment \"forward GRE\";"
}
sc_pptp_server_behind_nat_helper() {
  pptp_behind_common pptp_server_behind_nat_helper helper \
    "iifname \"wan0\" tcp dport 1723 counter $DNAT_TO comment \"forward PPTP control (GRE by the helper)\";"
}

# PPTP control on another port through the NAT; the PPTP helper is declared for TCP 1723 only
pptp_port_common() { # NAME PORT
  begin "$1" helper rcap
  server s1 --pptp-port "$2" --count 6 --interval 0.3
  cap_start "$1"
  client 1 0 pptp --server "$S1" --port "$2" --call-id 0x4000 --sport 40001 --count 6 --interval 0.3
  finish
}
sc_pptp_nonstandard_port() { pptp_port_common pptp_nonstandard_port 1724; }
sc_pptp_port443() { pptp_port_common pptp_port443 443; }

# ---- real WireGuard (wireguard-go, userspace over /dev/net/tun) through the same NAT
# wg_up NS IFACE ADDR: wireguard-go in $P-NS (killed by finish), a fresh key pair, UDP 51820
wg_up() {
  local ns=$1 ifc=$2 addr=$3 i
  nsbg "$P-$ns" wireguard-go -f "$ifc" >>"$WORK/$CUR.wg.log" 2>&1 &
  PIDS+=($!); SERVERS+=($!)
  for i in $(seq 50); do
    if [ -S "/var/run/wireguard/$ifc.sock" ]; then break; fi
    sleep 0.1
  done
  (umask 077; wg genkey >"$WORK/$ifc.key")
  wg pubkey <"$WORK/$ifc.key" >"$WORK/$ifc.pub"
  nsx "$P-$ns" wg set "$ifc" private-key "$WORK/$ifc.key" listen-port 51820
  ip -n "$P-$ns" addr add "$addr/24" dev "$ifc"
  ip -n "$P-$ns" link set "$ifc" up
}

# run_at NS DELAY CMD...: a command in $P-NS after DELAY s, waited by finish; its exit status is
# ignored (ping reports lost replies with a non-zero status, which is the point here)
run_at() {
  local ns=$1 delay=$2; shift 2
  ( sleep "$delay"; nsenter --net="/run/netns/$P-$ns" -- "$@" >/dev/null || true ) 2>>"$WORK/$CUR.log" &
  PIDS+=($!); CLIENTS+=($!)
}

# Two real WireGuard peers (c1 with PersistentKeepalive 4 s, c2 without, pinging s1 every 3 s)
# behind `masquerade random`; s1 pings both through the tunnel every 0.25 s; conntrack -F at t=8.
sc_wg_state_lost() {
  local c
  for c in wireguard-go wg ping; do
    command -v "$c" >/dev/null || die "wg_state_lost needs $c (apt-get install wireguard-go wireguard-tools iputils-ping)"
  done
  X_MASQ=random begin wg_state_lost nat rcap
  local ws="${P}wgs1" w1="${P}wgc1" w2="${P}wgc2"
  wg_up s1 "$ws" 10.9.0.1
  wg_up c1 "$w1" 10.9.0.11
  wg_up c2 "$w2" 10.9.0.12
  nsx "$P-s1" wg set "$ws" peer "$(cat "$WORK/$w1.pub")" allowed-ips 10.9.0.11/32 \
    peer "$(cat "$WORK/$w2.pub")" allowed-ips 10.9.0.12/32
  cap_start wg_state_lost
  # peers configured once capturing: a PersistentKeepalive sends at once, and an entry made before
  # `conntrack -E` listens never reports its events
  nsx "$P-c1" wg set "$w1" peer "$(cat "$WORK/$ws.pub")" allowed-ips 10.9.0.0/24 \
    endpoint "$S1:51820" persistent-keepalive 4
  nsx "$P-c2" wg set "$w2" peer "$(cat "$WORK/$ws.pub")" allowed-ips 10.9.0.0/24 endpoint "$S1:51820"
  run_at c1 0 ping -n -c 1 -W 2 10.9.0.1
  run_at c2 0.3 ping -n -i 3 -c 6 -W 1 10.9.0.1
  run_at s1 1.5 ping -n -i 0.25 -c 64 -W 1 10.9.0.11
  run_at s1 1.6 ping -n -i 0.25 -c 64 -W 1 10.9.0.12
  router_flush 8
  PRE_STOP=wg_record finish
}
wg_record() {
  local ns
  for ns in s1 c1 c2; do
    EVENTS+=("# wg show in $P-$ns at the end" "$(wg show "${P}wg$ns")")
  done
}

# ------------------------------------------------------------------ main
main() {
  [ $# -gt 0 ] || { sed -n '2,12p' "$0"; exit 2; }
  case "$1" in
    list) printf '%s\n' "${SCENARIOS[@]}"; exit 0 ;;
    clean) check_deps; topo_down; exit 0 ;;
    all) set -- "${SCENARIOS[@]}" ;;
  esac
  local s
  for s in "$@"; do
    declare -F "sc_$s" >/dev/null || die "unknown scenario '$s' (try: $0 list)"
  done
  check_deps
  mkdir -p "$OUT"
  WORK=$(mktemp -d /tmp/$P-lab.XXXXXX)
  trap cleanup EXIT
  trap 'exit 130' INT TERM
  for s in "$@"; do
    "sc_$s"
    topo_down
  done
  log "done: captures in $OUT"
}

main "$@"
