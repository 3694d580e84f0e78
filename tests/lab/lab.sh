#!/usr/bin/env bash
# vpnscope NAT lab: a real Linux NAT router (nftables masquerade + conntrack) in network
# namespaces, crafted VPN traffic from tests/lab/actors.py, captures on both sides of the router.
#
#   sudo tests/lab/lab.sh all              # remake every capture into pcaps/
#   sudo tests/lab/lab.sh esp_collision …  # remake some
#   tests/lab/lab.sh list                  # scenario names
#   sudo tests/lab/lab.sh clean            # delete leftover vsl-* namespaces
#
# Each scenario writes pcaps/NAME-inside.pcap (router LAN side), pcaps/NAME-outside.pcap (router
# WAN side), pcaps/NAME.conntrack (`conntrack -E -o timestamp,extended,id` in the router) and
# pcaps/NAME.ctstats (`conntrack -S`, nft rule counters, `conntrack -L` at the end).
# Not part of CI: it needs root and takes a few minutes; the captures are committed.
#
# Topology (every namespace is vsl-*; nothing is connected to the root namespace):
#
#   vsl-c1 eth0 192.168.1.11 ─┐                           ┌─ vsl-s1 eth0 203.0.113.10
#                             ├ vsl-lan br0 ─ lan0 vsl-r wan0 ─ vsl-wan br0 ┤
#   vsl-c2 eth0 192.168.1.12 ─┘   192.168.1.1          203.0.113.1   └─ vsl-s2 eth0 203.0.113.20
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
NSLIST=(vsl-c1 vsl-c2 vsl-r vsl-s1 vsl-s2 vsl-lan vsl-wan)
PIDS=()
WORK=""

SCENARIOS=(esp_collision esp_two_servers natt_two_clients ah_nat ah_routed
  pptp_helper pptp_nohelper pptp_single_nohelper stale_nat natt_keepalive_ok stale_nat_portmove
  frag_reorder frag_inorder frag_loss frag6_reorder ike_no_response ike_answered
  ike_ip_fragmented ike_skf natt_not_used esp_routed esp_one_way l2tp)

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
  for ns in "${NSLIST[@]}"; do
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
  for ns in "${NSLIST[@]}"; do
    ip netns add "$ns"
    ip -n "$ns" link set lo up
    if [ $v6 = 1 ] && [ "$ns" != vsl-lan ] && [ "$ns" != vsl-wan ]; then
      nsx "$ns" sysctl -qw net.ipv6.conf.all.accept_ra=0 net.ipv6.conf.default.accept_ra=0 \
        net.ipv6.conf.all.dad_transmits=0 net.ipv6.conf.default.dad_transmits=0 \
        net.ipv6.conf.all.router_solicitations=0 net.ipv6.conf.default.router_solicitations=0
    else
      nsx "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
    fi
  done
  # bridges
  for ns in vsl-lan vsl-wan; do
    ip -n "$ns" link add br0 type bridge
    ip -n "$ns" link set br0 type bridge mcast_snooping 0
    ip -n "$ns" link set br0 up
  done
  # veth pairs: endpoint side named eth0 / lan0 / wan0, bridge side named after the endpoint
  ip -n vsl-c1 link add eth0 address "$(mac 01:11)" type veth peer name c1 netns vsl-lan
  ip -n vsl-c2 link add eth0 address "$(mac 01:12)" type veth peer name c2 netns vsl-lan
  ip -n vsl-r link add lan0 address "$(mac 01:01)" type veth peer name r netns vsl-lan
  ip -n vsl-r link add wan0 address "$(mac 02:01)" type veth peer name r netns vsl-wan
  ip -n vsl-s1 link add eth0 address "$(mac 02:10)" type veth peer name s1 netns vsl-wan
  ip -n vsl-s2 link add eth0 address "$(mac 02:20)" type veth peer name s2 netns vsl-wan
  for p in c1 c2 r; do ip -n vsl-lan link set "$p" master br0 up; done
  for p in s1 s2 r; do ip -n vsl-wan link set "$p" master br0 up; done
  # offloads off: final checksums and wire-sized segments in the captures
  for ns in vsl-c1 vsl-c2 vsl-s1 vsl-s2; do nsx "$ns" "$PY" "$ACT" offload-off eth0; done
  nsx vsl-r "$PY" "$ACT" offload-off lan0 wan0
  nsx vsl-lan "$PY" "$ACT" offload-off c1 c2 r
  nsx vsl-wan "$PY" "$ACT" offload-off s1 s2 r
  # addresses, routes (only towards the lab's other side), static neighbours
  ip -n vsl-c1 addr add "$C1/24" dev eth0
  ip -n vsl-c2 addr add "$C2/24" dev eth0
  ip -n vsl-r addr add "$RL/24" dev lan0
  ip -n vsl-r addr add "$RW/24" dev wan0
  ip -n vsl-s1 addr add "$S1/24" dev eth0
  ip -n vsl-s2 addr add "$S2/24" dev eth0
  if [ $v6 = 1 ]; then
    ip -n vsl-c1 addr add "$C1_6/64" dev eth0 nodad
    ip -n vsl-c2 addr add "$C2_6/64" dev eth0 nodad
    ip -n vsl-r addr add "$RL_6/64" dev lan0 nodad
    ip -n vsl-r addr add "$RW_6/64" dev wan0 nodad
    ip -n vsl-s1 addr add "$S1_6/64" dev eth0 nodad
    ip -n vsl-s2 addr add "$S2_6/64" dev eth0 nodad
  fi
  for ns in vsl-c1 vsl-c2 vsl-s1 vsl-s2; do ip -n "$ns" link set eth0 up; done
  ip -n vsl-r link set lan0 up
  ip -n vsl-r link set wan0 up
  for ns in vsl-c1 vsl-c2; do
    ip -n "$ns" route add 203.0.113.0/24 via "$RL"
    ip -n "$ns" neigh replace "$RL" lladdr "$(mac 01:01)" dev eth0 nud permanent
  done
  ip -n vsl-r neigh replace "$C1" lladdr "$(mac 01:11)" dev lan0 nud permanent
  ip -n vsl-r neigh replace "$C2" lladdr "$(mac 01:12)" dev lan0 nud permanent
  ip -n vsl-r neigh replace "$S1" lladdr "$(mac 02:10)" dev wan0 nud permanent
  ip -n vsl-r neigh replace "$S2" lladdr "$(mac 02:20)" dev wan0 nud permanent
  for ns in vsl-s1 vsl-s2; do
    ip -n "$ns" neigh replace "$RW" lladdr "$(mac 02:01)" dev eth0 nud permanent
    if [ "$mode" = routed ]; then ip -n "$ns" route add 198.51.100.0/24 via "$RW"; fi
  done
  if [ $v6 = 1 ]; then
    for ns in vsl-c1 vsl-c2; do
      ip -n "$ns" -6 route add 2001:db8:113::/64 via "$RL_6"
      ip -n "$ns" -6 neigh replace "$RL_6" lladdr "$(mac 01:01)" dev eth0 nud permanent
    done
    ip -n vsl-r -6 neigh replace "$C1_6" lladdr "$(mac 01:11)" dev lan0 nud permanent
    ip -n vsl-r -6 neigh replace "$C2_6" lladdr "$(mac 01:12)" dev lan0 nud permanent
    ip -n vsl-r -6 neigh replace "$S1_6" lladdr "$(mac 02:10)" dev wan0 nud permanent
    ip -n vsl-r -6 neigh replace "$S2_6" lladdr "$(mac 02:20)" dev wan0 nud permanent
    for ns in vsl-s1 vsl-s2; do
      ip -n "$ns" -6 neigh replace "$RW_6" lladdr "$(mac 02:01)" dev eth0 nud permanent
    done
    nsx vsl-r sysctl -qw net.ipv6.conf.all.forwarding=1
  fi
  nsx vsl-r sysctl -qw net.ipv4.ip_forward=1 net.netfilter.nf_conntrack_acct=1
  # router ruleset
  local helper_obj="" helper_rule="" nat_rule=""
  if [ "$mode" = helper ]; then
    helper_obj='ct helper pptp-h { type "pptp" protocol tcp; l3proto ip; }'
    helper_rule='tcp dport 1723 ct helper set "pptp-h"'
  fi
  [ "$mode" != routed ] && nat_rule='oifname "wan0" masquerade'
  nsx vsl-r nft -f - <<EOF
table inet vsl {
  $helper_obj
  chain pre {
    type filter hook prerouting priority filter; policy accept;
    $helper_rule
  }
  chain input {
    type filter hook input priority filter; policy accept;
    iifname "wan0" ct state new,invalid counter drop comment "unsolicited inbound to the router"
  }
  chain forward {
    type filter hook forward priority filter; policy accept;
    ct state invalid counter comment "invalid forwarded (counted, not dropped)"
    iifname "wan0" ct state new counter comment "new inbound forwarded (counted)"
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

# rsysctl NAME=VALUE...   (router netns)
rsysctl() { local kv; for kv in "$@"; do nsx vsl-r sysctl -qw "$kv"; done; TIMEOUTS+=("$@"); }

cap_start() {
  local name=$1 i
  CUR=$name
  rm -f "$OUT/$name-inside.pcap" "$OUT/$name-outside.pcap" "$OUT/$name.conntrack" "$OUT/$name.ctstats"
  nsbg vsl-r tcpdump -Z root -n -U -s 262144 -i lan0 -w "$OUT/$name-inside.pcap" 2>"$WORK/$name.td-in" &
  PIDS+=($!); TD_IN=$!
  nsbg vsl-r tcpdump -Z root -n -U -s 262144 -i wan0 -w "$OUT/$name-outside.pcap" 2>"$WORK/$name.td-out" &
  PIDS+=($!); TD_OUT=$!
  nsbg vsl-r stdbuf -oL conntrack -E -o timestamp,extended,id >"$OUT/$name.conntrack" 2>"$WORK/$name.ct" &
  PIDS+=($!); CT_E=$!
  for i in $(seq 50); do
    if grep -q listening "$WORK/$name.td-in" && grep -q listening "$WORK/$name.td-out"; then break; fi
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
  kill -TERM "$CT_E" 2>/dev/null || true
  wait "$CT_E" 2>/dev/null || true
  {
    echo "# scenario $name, router mode $ROUTER_MODE${TIMEOUTS[*]:+, sysctls: ${TIMEOUTS[*]}}"
    echo "# conntrack -S (router netns vsl-r)"
    nsx vsl-r conntrack -S
    echo "# nft rule counters"
    nsx vsl-r nft list ruleset
    echo "# conntrack -L -o extended,id at the end"
    nsx vsl-r conntrack -L -o extended,id 2>/dev/null || true
  } >"$OUT/$name.ctstats"
}

# server NAME [actor options]   -> background, killed by finish
server() {
  local n=$1; shift
  local ip=$S1 ip6=$S1_6
  [ "$n" = s2 ] && ip=$S2 ip6=$S2_6
  nsbg "vsl-$n" "$PY" "$ACT" server --name "$n" --ip "$ip" --ip6 "$ip6" "$@" 2>>"$WORK/$CUR.log" &
  PIDS+=($!); SERVERS+=($!)
}

# client N DELAY PROGRAM [actor options]   -> background, waited by finish
client() {
  local n=$1 delay=$2; shift 2
  ( sleep "$delay"; exec nsenter --net="/run/netns/vsl-c$n" -- "$PY" "$ACT" client "$@" --n "$n" ) 2>>"$WORK/$CUR.log" &
  PIDS+=($!); CLIENTS+=($!)
}

finish() {
  local p rc=0
  for p in "${CLIENTS[@]}"; do wait "$p" || rc=1; done
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

begin() { # begin NAME MODE
  CLIENTS=(); SERVERS=(); TIMEOUTS=()
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
  WORK=$(mktemp -d /tmp/vsl-lab.XXXXXX)
  trap cleanup EXIT
  trap 'exit 130' INT TERM
  for s in "$@"; do
    "sc_$s"
    topo_down
  done
  log "done: captures in $OUT"
}

main "$@"
