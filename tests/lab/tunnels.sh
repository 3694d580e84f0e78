#!/usr/bin/env bash
# vpnscope tunnel lab: real wireguard-go and real OpenVPN 2.6 through a real Linux NAT router
# (nftables masquerade + conntrack with short UDP timeouts), captured on both sides of the router.
#
#   sudo tests/lab/tunnels.sh all                  # remake every capture into pcaps/
#   sudo tests/lab/tunnels.sh wg_stale ovpn_tcp …  # remake some
#   tests/lab/tunnels.sh list                      # scenario names
#   sudo tests/lab/tunnels.sh clean                # delete leftover labwg-* namespaces
#   TUN_NS=tw TUN_OUT=/tmp/x sudo -E tests/lab/tunnels.sh …   # namespaces tw-*, captures into /tmp/x
#
# Each scenario writes, into pcaps/ (or $TUN_OUT):
#   NAME-inside.pcap   tcpdump on the router's LAN port (lan0)
#   NAME-outside.pcap  tcpdump on the router's WAN port (wan0)
#   NAME-router.pcap   tcpdump -i any -y LINUX_SLL2 on the router (both ports, one file)
#   NAME.conntrack     the router's `conntrack -E -o timestamp,extended,id` event log
#   NAME.ctstats       `conntrack -S`, nft rule counters (router and server), `conntrack -L`,
#                      and the tunnel software's own view at the end (`wg show`, OpenVPN status)
# Not part of CI: it needs root and the Debian packages wireguard-go wireguard-tools openvpn
# openssl nftables conntrack tcpdump tshark iputils-ping; the captures are committed.
#
# Topology (every namespace is $P-*, P = labwg unless TUN_NS says otherwise; nothing is connected to the root namespace, no default
# route anywhere, so no packet can leave the lab):
#
#   $P-c1 eth0 192.168.3.11 ── $P-lan br0 ── lan0 192.168.3.1  $P-r  wan0 203.0.113.1
#                                                    ── $P-wan br0 ── eth0 203.0.113.10 $P-s1
#
#   Router: masquerade on wan0 (`masquerade random` where a scenario says so), conntrack UDP
#   timeouts 8 s (unreplied) / 12 s (assured stream), input chain drops and counts unsolicited
#   inbound on wan0 like a home router. Static neighbours (no ARP), IPv6 off, offloads off.
#   WireGuard: server labwgs (10.66.0.1/24, UDP 51820), client labwgc (10.66.0.2/24, UDP 40000).
#   OpenVPN: server mode (`--server 10.77.0.0/24 --topology subnet`, UDP or TCP 1194), client
#   10.77.0.2 (UDP from local port 40001), EC (P-256) certificates made at run time.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
OUT=${TUN_OUT:-$ROOT/pcaps}
PY=/usr/bin/python3
ACT="$HERE/actors.py"
# namespace prefix: TUN_NS=tw runs the lab as tw-* (labs of several people side by side)
P=${TUN_NS:-labwg}
[[ $P =~ ^[a-z][a-z0-9]{0,7}$ ]] || { echo "TUN_NS: 1-8 lower-case letters/digits" >&2; exit 2; }
ALLNS=("$P-c1" "$P-r" "$P-s1" "$P-lan" "$P-wan")
PIDS=()
WORK=""
C1=192.168.3.11 RL=192.168.3.1 RW=203.0.113.1 S1=203.0.113.10
WG_C=10.66.0.2 WG_S=10.66.0.1 WG_PORT=51820 WG_CPORT=40000
OV_C=10.77.0.2 OV_S=10.77.0.1 OV_PORT=1194 OV_CPORT=40001
UDP_TO=8 UDP_STREAM_TO=12

SCENARIOS=(wg_healthy wg_stale wg_stale_rekey wg_no_response wg_one_way
  ovpn_healthy ovpn_stale ovpn_stale_restart ovpn_no_response ovpn_one_way ovpn_tcp ovpn_tls_crypt ovpn_tls_auth
  ovpn_tls_auth_sha256)

LAB_TAG=tunnels
LAB_MAC=02:00:00:03
# shellcheck source=tests/lab/lib.sh
. "$HERE/lib.sh"

check_deps() {
  [ -x "$PY" ] || LAB_MISSING+=(python3)
  lab_need ip:iproute2 nft:nftables conntrack:conntrack tcpdump:tcpdump tshark:tshark \
    wireguard-go:wireguard-go wg:wireguard-tools openvpn:openvpn openssl:openssl \
    ping:iputils-ping nsenter:util-linux stdbuf:coreutils
  [ "$(id -u)" = 0 ] || die "run as root (sudo $0)"
  [ -c /dev/net/tun ] || die "/dev/net/tun is missing"
}

topo_down() {
  lab_ns_del
  rm -f /var/run/wireguard/labwgc.sock /var/run/wireguard/labwgs.sock
}

# topo_up [random]: the lab; "random" makes the masquerade pick a random outside port
topo_up() {
  local nat_flags=${1:-} ns p
  topo_down
  for ns in "${ALLNS[@]}"; do lab_ns "$ns"; done
  for ns in $P-lan $P-wan; do lab_bridge "$ns"; done
  ip -n $P-c1 link add eth0 address "$(mac 01:11)" type veth peer name c1 netns $P-lan
  ip -n $P-r link add lan0 address "$(mac 01:01)" type veth peer name r netns $P-lan
  ip -n $P-r link add wan0 address "$(mac 02:01)" type veth peer name r netns $P-wan
  ip -n $P-s1 link add eth0 address "$(mac 02:10)" type veth peer name s1 netns $P-wan
  for p in c1 r; do ip -n $P-lan link set "$p" master br0 up; done
  for p in s1 r; do ip -n $P-wan link set "$p" master br0 up; done
  # no checksum/segmentation offloads: captures show final checksums and wire-sized segments
  nsx $P-c1 "$PY" "$ACT" offload-off eth0
  nsx $P-s1 "$PY" "$ACT" offload-off eth0
  nsx $P-r "$PY" "$ACT" offload-off lan0 wan0
  nsx $P-lan "$PY" "$ACT" offload-off c1 r
  nsx $P-wan "$PY" "$ACT" offload-off s1 r
  ip -n $P-c1 addr add "$C1/24" dev eth0
  ip -n $P-r addr add "$RL/24" dev lan0
  ip -n $P-r addr add "$RW/24" dev wan0
  ip -n $P-s1 addr add "$S1/24" dev eth0
  ip -n $P-c1 link set eth0 up
  ip -n $P-s1 link set eth0 up
  ip -n $P-r link set lan0 up
  ip -n $P-r link set wan0 up
  # routes only towards the lab's other side; the server knows nothing but its own /24
  ip -n $P-c1 route add 203.0.113.0/24 via "$RL"
  ip -n $P-c1 neigh replace "$RL" lladdr "$(mac 01:01)" dev eth0 nud permanent
  ip -n $P-r neigh replace "$C1" lladdr "$(mac 01:11)" dev lan0 nud permanent
  ip -n $P-r neigh replace "$S1" lladdr "$(mac 02:10)" dev wan0 nud permanent
  ip -n $P-s1 neigh replace "$RW" lladdr "$(mac 02:01)" dev eth0 nud permanent
  nsx $P-r sysctl -qw net.ipv4.ip_forward=1 net.netfilter.nf_conntrack_acct=1 \
    net.netfilter.nf_conntrack_udp_timeout=$UDP_TO net.netfilter.nf_conntrack_udp_timeout_stream=$UDP_STREAM_TO
  NAT_FLAGS=$nat_flags
  nsx $P-r nft -f - <<EOF
table inet labwg {
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
    oifname "wan0" masquerade $nat_flags
  }
}
EOF
  sleep 0.3
}

# server_firewall_drop PROTO PORT: the server host silently drops what arrives on PORT
server_firewall_drop() {
  nsx $P-s1 nft -f - <<EOF
table inet labwg_server {
  chain input {
    type filter hook input priority filter; policy accept;
    $1 dport $2 counter drop comment "server down: nothing answers, no ICMP"
  }
}
EOF
}

cap_start() {
  local name=$1
  lab_cap_start "$name" $P-r 1
  # the wall clock of a VM can be stepped: packet and conntrack times are wall-clock times, so
  # log every jump of (realtime - monotonic) larger than 50 ms during the capture
  "$PY" -c '
import time
prev = None
while True:
    off = time.time() - time.monotonic()
    if prev is not None and abs(off - prev) > 0.05:
        print("%.3f wall clock stepped %+.3f s against the monotonic clock" % (time.time(), off - prev), flush=True)
    prev = off
    time.sleep(0.2)
' >"$WORK/$name.clock" 2>&1 &
  PIDS+=($!); CLOCKW=$!
  sleep 0.5
  T0=$(date +%s.%N)
  log "$name: capturing (t=0 at $(date -u +%FT%T.%3NZ))"
}

# t: seconds since cap_start, for the log
t() { awk -v a="$T0" -v b="$(date +%s.%N)" 'BEGIN{printf "t=%.1f", b-a}'; }

cap_stop() {
  local name=$CUR
  lab_cap_stop
  stop_pid "$CLOCKW"
  {
    echo "# scenario $name (tests/lab/tunnels.sh), router: masquerade${NAT_FLAGS:+ $NAT_FLAGS}," \
         "nf_conntrack_udp_timeout=$UDP_TO nf_conntrack_udp_timeout_stream=$UDP_STREAM_TO"
    echo "# captured $(date -u +%F) (real clock); $VERSIONS"
    if [ -s "$WORK/$name.clock" ]; then
      echo "# WARNING: wall-clock steps during the capture (packet times jump there):"
      sed 's/^/#   /' "$WORK/$name.clock"
    else
      echo "# wall clock: no step > 50 ms against the monotonic clock during the capture"
    fi
    echo "# conntrack -S (router netns $P-r)"
    nsx $P-r conntrack -S
    echo "# nft rule counters (router)"
    nsx $P-r nft list ruleset
    if nsx $P-s1 nft list table inet labwg_server >/dev/null 2>&1; then
      echo "# nft rule counters (server $P-s1)"
      nsx $P-s1 nft list table inet labwg_server
    fi
    echo "# conntrack -L -o extended,id at the end"
    nsx $P-r conntrack -L -o extended,id 2>/dev/null || true
    if [ -n "${STATUS_FN:-}" ]; then "$STATUS_FN"; fi
  } >"$OUT/$name.ctstats"
}

report() {
  local name=$1 f side n
  for side in inside outside router; do
    f="$OUT/$name-$side.pcap"
    n=$(tshark -r "$f" -T fields -e frame.number 2>/dev/null | wc -l)
    log "$name-$side.pcap: $n packets, $(stat -c %s "$f") bytes"
  done
  lab_ct_summary "$name"
  grep -E 'counter packets [1-9]' "$OUT/$name.ctstats" | sed 's/^[[:space:]]*/  nft: /' >&2 || true
  # outside ports the router gave the client (NEW events of its UDP/TCP flows)
  awk -v c="$C1" '/\[NEW\]/ && index($0, "src=" c " ") {
      n = 0; delete v
      for (i = 1; i <= NF; i++) if (split($i, kv, "=") == 2) { if (kv[1] == "src") n++; v[n, kv[1]] = kv[2] }
      for (i = 1; i <= NF; i++) if ($i == "udp" || $i == "tcp") { p = $i; break }
      printf "  mapping %s %s:%s -> %s:%s (to %s:%s), conntrack id %s, %s\n", p, v[1,"src"], v[1,"sport"],
             v[2,"dst"], v[2,"dport"], v[1,"dst"], v[1,"dport"], v[2,"id"], $1 }' "$OUT/$name.conntrack" >&2
}

ping_from() { # ping_from NS DST COUNT [INTERVAL]: tunnel traffic; logs the summary, never fails
  local out
  out=$(nsx "$1" ping -n -c "$3" -i "${4:-1}" -W 1 "$2" 2>&1) || true
  log "$(t) $1 ping $2: $(grep -E 'packets transmitted' <<<"$out" || echo "$out" | tail -1)"
}

# ------------------------------------------------------------------ WireGuard
wg_versions() {
  VERSIONS="$(wireguard-go --version 2>/dev/null | head -1), wg(8) from wireguard-tools $(dpkg-query -W -f='${Version}' wireguard-tools 2>/dev/null || echo '?')"
}

wg_dev() { # wg_dev NS IFNAME ADDR: start wireguard-go in NS, wait for its UAPI socket
  local ns=$1 ifn=$2 addr=$3 _
  nsbg "$ns" env WG_PROCESS_FOREGROUND=1 LOG_LEVEL=verbose wireguard-go -f "$ifn" >"$WORK/$ifn.log" 2>&1 &
  PIDS+=($!)
  for _ in $(seq 50); do [ -S "/var/run/wireguard/$ifn.sock" ] && break; sleep 0.1; done
  [ -S "/var/run/wireguard/$ifn.sock" ] || { cat "$WORK/$ifn.log" >&2; die "wireguard-go $ifn did not start"; }
  ip -n "$ns" addr add "$addr/24" dev "$ifn"
  ip -n "$ns" link set "$ifn" mtu 1420 up
}

# wg_up [PERSISTENT_KEEPALIVE] [noserver]: client and server devices and keys
wg_up() {
  local pk=${1:-0} srv=${2:-server}
  wg_versions
  umask 077
  wg genkey >"$WORK/s.key"; wg pubkey <"$WORK/s.key" >"$WORK/s.pub"
  wg genkey >"$WORK/c.key"; wg pubkey <"$WORK/c.key" >"$WORK/c.pub"
  umask 022
  if [ "$srv" = server ]; then
    wg_dev $P-s1 labwgs "$WG_S"
    nsx $P-s1 wg set labwgs private-key "$WORK/s.key" listen-port "$WG_PORT" \
      peer "$(cat "$WORK/c.pub")" allowed-ips "$WG_C/32"
  fi
  wg_dev $P-c1 labwgc "$WG_C"
  nsx $P-c1 wg set labwgc private-key "$WORK/c.key" listen-port "$WG_CPORT"
  WG_PK=$pk
  STATUS_FN=wg_status
}

# wg_client_peer: give the client its peer (after cap_start: a persistent keepalive starts a
# handshake at once, and conntrack only reports entries created while its listener runs)
wg_client_peer() {
  local ka=()
  [ "$WG_PK" != 0 ] && ka=(persistent-keepalive "$WG_PK")
  nsx $P-c1 wg set labwgc peer "$(cat "$WORK/s.pub")" endpoint "$S1:$WG_PORT" \
    allowed-ips "$WG_S/32" "${ka[@]}"
}

wg_status() {
  echo "# wg show (client $P-c1, at the end)"
  nsx $P-c1 wg show labwgc 2>&1 || true
  if [ -S /var/run/wireguard/labwgs.sock ]; then
    echo "# wg show (server $P-s1, at the end; endpoint = where the server last heard the client)"
    nsx $P-s1 wg show labwgs 2>&1 || true
  fi
}

# wg_healthy: PersistentKeepalive 5 s (< 8 s UDP timeout); idle 20 s twice; server pings after idle
sc_wg_healthy() {
  topo_up
  wg_up 5
  cap_start wg_healthy
  wg_client_peer
  ping_from $P-c1 "$WG_S" 3
  log "$(t) idle 20 s (persistent keepalive every 5 s)"; sleep 20
  ping_from $P-s1 "$WG_C" 3
  log "$(t) idle 20 s"; sleep 20
  ping_from $P-c1 "$WG_S" 2
  cap_stop
}

# wg_stale: no PersistentKeepalive, `masquerade random`; the client's passive keepalive comes
# 10 s after its last received data, then silence; the mapping expires 12 s later; the server
# pings first (dies at the router), the client pings later from a new outside port.
sc_wg_stale() {
  topo_up random
  wg_up 0
  cap_start wg_stale
  wg_client_peer
  ping_from $P-c1 "$WG_S" 3
  log "$(t) idle 32 s: passive keepalive at +10 s, mapping gone 12 s after it"; sleep 32
  ping_from $P-s1 "$WG_C" 3
  log "$(t) idle 4 s"; sleep 4
  ping_from $P-c1 "$WG_S" 3
  sleep 2
  ping_from $P-s1 "$WG_C" 2
  cap_stop
}

# wg_stale_rekey: as wg_stale with plain masquerade (the outside port comes back), and the client
# stays silent longer: the server's unanswered data makes it start handshakes 15 s later
# (keepalive 10 s + rekey timeout 5 s), which die at the router too, every ~5 s; then the client
# pings, the server follows it and its pending handshake goes through: a new index pair.
sc_wg_stale_rekey() {
  topo_up
  wg_up 0
  cap_start wg_stale_rekey
  wg_client_peer
  ping_from $P-c1 "$WG_S" 3
  log "$(t) idle 32 s: passive keepalive at +10 s, mapping gone 12 s after it"; sleep 32
  ping_from $P-s1 "$WG_C" 3
  log "$(t) idle 24 s: the server's handshake initiations to the dead mapping"; sleep 24
  ping_from $P-c1 "$WG_S" 3
  sleep 5
  ping_from $P-s1 "$WG_C" 2
  cap_stop
}

# wg_no_response: server down (no wireguard-go; its host drops UDP 51820 silently)
sc_wg_no_response() {
  topo_up
  server_firewall_drop udp "$WG_PORT"
  wg_up 0 noserver
  cap_start wg_no_response
  wg_client_peer
  ping_from $P-c1 "$WG_S" 22
  cap_stop
}

# wg_one_way: the router drops server->client transport data (type 4), handshakes pass
sc_wg_one_way() {
  topo_up
  nsx $P-r nft add rule inet labwg forward iifname wan0 udp sport "$WG_PORT" '@th,64,32' 0x04000000 \
    counter drop comment '"WireGuard transport data server->client dropped"'
  wg_up 0
  cap_start wg_one_way
  wg_client_peer
  ping_from $P-c1 "$WG_S" 25
  cap_stop
}

# ------------------------------------------------------------------ OpenVPN
ovpn_pki() { # EC P-256 CA, server and client certificates, tls-auth/tls-crypt key
  local d=$WORK/pki n
  mkdir -p "$d"
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 30 \
    -keyout "$d/ca.key" -out "$d/ca.crt" -subj /CN=labwg-ca 2>/dev/null
  for n in server client; do
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
      -keyout "$d/$n.key" -out "$d/$n.csr" -subj "/CN=labwg-$n" 2>/dev/null
    printf 'basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyAgreement\nextendedKeyUsage=%s\n' \
      "$([ $n = server ] && echo serverAuth || echo clientAuth)" >"$d/$n.ext"
    openssl x509 -req -in "$d/$n.csr" -CA "$d/ca.crt" -CAkey "$d/ca.key" -CAcreateserial -days 30 \
      -extfile "$d/$n.ext" -out "$d/$n.crt" 2>/dev/null
  done
  openvpn --genkey secret "$d/ta.key" >/dev/null 2>&1
}

ovpn_versions() {
  VERSIONS="$(openvpn --version | head -1 | cut -d' ' -f1-2) ($(openvpn --version | sed -n 2p | cut -d, -f1))"
}

# ovpn_server PROTO EXTRA...   (PROTO udp | tcp)
ovpn_server() {
  local proto=$1; shift
  local p=udp
  [ "$proto" = tcp ] && p=tcp-server
  nsbg $P-s1 openvpn --mode server --tls-server --proto "$p" --local "$S1" --port "$OV_PORT" \
    --dev ovs0 --dev-type tun --topology subnet --server 10.77.0.0 255.255.255.0 \
    --ca "$WORK/pki/ca.crt" --cert "$WORK/pki/server.crt" --key "$WORK/pki/server.key" --dh none \
    --status "$WORK/ovs.status" 1 --status-version 2 --verb 3 "$@" >"$WORK/ovs.log" 2>&1 &
  PIDS+=($!)
  wait_log "$WORK/ovs.log" 'Initialization Sequence Completed' 10 || { cat "$WORK/ovs.log" >&2; die "openvpn server did not start"; }
}

# ovpn_client PROTO EXTRA...  (background; wait with ovpn_wait_client)
ovpn_client() {
  local proto=$1; shift
  local p=(--proto udp --lport "$OV_CPORT")
  [ "$proto" = tcp ] && p=(--proto tcp-client --nobind)
  nsbg $P-c1 openvpn --client "${p[@]}" --remote "$S1" "$OV_PORT" --dev ovc0 --dev-type tun \
    --ca "$WORK/pki/ca.crt" --cert "$WORK/pki/client.crt" --key "$WORK/pki/client.key" \
    --remote-cert-tls server --verb 3 "$@" >"$WORK/ovc.log" 2>&1 &
  PIDS+=($!); OVC=$!
}

ovpn_wait_client() {
  wait_log "$WORK/ovc.log" 'Initialization Sequence Completed' 20 || { cat "$WORK/ovc.log" >&2; die "openvpn client did not connect"; }
  log "$(t) openvpn client connected"
}

wait_log_n() { # wait_log_n FILE PATTERN COUNT SECONDS: wait for COUNT matching lines
  local _
  for _ in $(seq $(($4 * 10))); do
    [ "$(grep -c -- "$2" "$1" 2>/dev/null)" -ge "$3" ] && return 0
    sleep 0.1
  done
  return 1
}

wait_log() { # wait_log FILE PATTERN SECONDS
  local _
  for _ in $(seq $(($3 * 10))); do
    grep -q -- "$2" "$1" 2>/dev/null && return 0
    sleep 0.1
  done
  return 1
}

ovpn_up() { ovpn_versions; ovpn_pki; STATUS_FN=ovpn_status; }

ovpn_status() {
  if [ -f "$WORK/ovs.status" ]; then
    echo "# openvpn server status (--status-version 2, at the end; Real Address = where it last heard the client)"
    grep -E '^(HEADER,CLIENT_LIST|CLIENT_LIST|TITLE)' "$WORK/ovs.status" || true
  fi
  echo "# openvpn client log lines about the link and the session"
  grep -E 'link remote|Peer Connection Initiated|TLS: Initial packet|Initialization Sequence|Data Channel|peer-id|float|Restart|TLS Error|TLS key negotiation failed' \
    "$WORK/ovc.log" 2>/dev/null | sed -E 's/^[A-Z][a-z]{2} [A-Z][a-z]{2} +[0-9]+ [0-9:]+ [0-9]+ //' || true
  echo "# openvpn server log lines about the link and the session"
  grep -E 'link remote|Peer Connection Initiated|TLS: Initial packet|peer-id|float|MULTI|TLS Error' \
    "$WORK/ovs.log" 2>/dev/null | sed -E 's/^[A-Z][a-z]{2} [A-Z][a-z]{2} +[0-9]+ [0-9:]+ [0-9]+ //' || true
}

# ovpn_healthy: UDP, `keepalive 5 30` (pushed to the client: ping 5 < 8 s timeout), idle 20 s
sc_ovpn_healthy() {
  topo_up
  ovpn_up
  ovpn_server udp --keepalive 5 30
  cap_start ovpn_healthy
  ovpn_client udp
  ovpn_wait_client
  ping_from $P-c1 "$OV_S" 3
  log "$(t) idle 20 s (OpenVPN pings every 5 s)"; sleep 20
  ping_from $P-s1 "$OV_C" 3
  sleep 2
  stop_pid "$OVC"
  cap_stop
}

# ovpn_stale: UDP, no keepalive, `masquerade random`; idle 20 s (> 12 s); the server pings
# first (dies at the router), then the client pings from a new outside port (server floats)
sc_ovpn_stale() {
  topo_up random
  ovpn_up
  ovpn_server udp
  cap_start ovpn_stale
  ovpn_client udp
  ovpn_wait_client
  ping_from $P-c1 "$OV_S" 3
  log "$(t) idle 20 s, no keepalive"; sleep 20
  ping_from $P-s1 "$OV_C" 3
  log "$(t) idle 3 s"; sleep 3
  ping_from $P-c1 "$OV_S" 3
  ping_from $P-s1 "$OV_C" 2
  sleep 1
  stop_pid "$OVC"
  cap_stop
}

# ovpn_stale_restart: as ovpn_stale, but the client has `ping-restart 20` (and no ping): the
# server's packets die at the router, then the client gives up on the silent server and
# reconnects: new hard reset, new session ids, new outside port (`masquerade random`)
sc_ovpn_stale_restart() {
  topo_up random
  ovpn_up
  ovpn_server udp
  cap_start ovpn_stale_restart
  ovpn_client udp --ping-restart 20
  ovpn_wait_client
  ping_from $P-c1 "$OV_S" 3
  log "$(t) idle 15 s, no keepalive"; sleep 15
  ping_from $P-s1 "$OV_C" 3
  log "$(t) wait for the client's ping-restart (20 s after it last heard the server)"
  wait_log "$WORK/ovc.log" 'Restart pause' 15 || log "WARNING: no restart seen"
  wait_log_n "$WORK/ovc.log" 'Initialization Sequence Completed' 2 20 || log "WARNING: no reconnect seen"
  log "$(t) client reconnected"
  ping_from $P-c1 "$OV_S" 2
  ping_from $P-s1 "$OV_C" 2
  stop_pid "$OVC"
  cap_stop
}

# ovpn_no_response: server down (no openvpn; its host drops UDP 1194 silently)
sc_ovpn_no_response() {
  topo_up
  server_firewall_drop udp "$OV_PORT"
  ovpn_up
  cap_start ovpn_no_response
  ovpn_client udp
  log "$(t) client hard resets unanswered for 20 s"; sleep 20
  stop_pid "$OVC"
  cap_stop
}

# ovpn_one_way: UDP, no keepalive; the router drops server->client DATA_V2 with key id 0 (first
# byte 0x48) in its forward chain; the TLS handshake (control channel) passes
sc_ovpn_one_way() {
  topo_up
  nsx $P-r nft add rule inet labwg forward iifname wan0 udp sport "$OV_PORT" '@th,64,8' 0x48 \
    counter drop comment '"OpenVPN DATA_V2 server->client dropped"'
  ovpn_up
  ovpn_server udp
  cap_start ovpn_one_way
  ovpn_client udp
  ovpn_wait_client
  ping_from $P-c1 "$OV_S" 15
  stop_pid "$OVC"
  cap_stop
}

# ovpn_tcp: OpenVPN over TCP 1194, healthy, keepalive 5 30
sc_ovpn_tcp() {
  topo_up
  ovpn_up
  ovpn_server tcp --keepalive 5 30
  cap_start ovpn_tcp
  ovpn_client tcp
  ovpn_wait_client
  ping_from $P-c1 "$OV_S" 3
  # full-size tunnel packets (1500-byte inner IP: an OpenVPN packet longer than the TCP MSS,
  # split across segments), then 4000-byte pings that the tunnel fragments into 3 inner
  # packets written back to back (several OpenVPN packets per segment)
  nsx $P-c1 ping -n -q -c 3 -s 1472 -i 0.5 -W 1 "$OV_S" >/dev/null 2>&1 || true
  nsx $P-c1 ping -n -q -c 3 -s 4000 -i 0.5 -W 1 "$OV_S" >/dev/null 2>&1 || true
  # a 256 kbit/s bottleneck on the router's WAN port: the server's ACKs come late, Nagle (no
  # --tcp-nodelay) makes the client coalesce a burst of 10 small tunnel packets (ping -l 10) into shared segments
  nsx $P-r tc qdisc add dev wan0 root tbf rate 256kbit burst 1600 latency 500ms
  nsx $P-c1 ping -n -q -c 10 -l 10 -s 200 -W 2 "$OV_S" >/dev/null 2>&1 || true
  sleep 1
  nsx $P-r tc qdisc del dev wan0 root
  log "$(t) idle 8 s"; sleep 8
  ping_from $P-s1 "$OV_C" 2
  sleep 1
  stop_pid "$OVC"
  cap_stop
}

# ovpn_tls_crypt / ovpn_tls_auth: UDP, healthy, short
sc_ovpn_tls_crypt() {
  topo_up
  ovpn_up
  ovpn_server udp --keepalive 5 30 --tls-crypt "$WORK/pki/ta.key"
  cap_start ovpn_tls_crypt
  ovpn_client udp --tls-crypt "$WORK/pki/ta.key"
  ovpn_wait_client
  ping_from $P-c1 "$OV_S" 3
  sleep 6
  ping_from $P-s1 "$OV_C" 2
  stop_pid "$OVC"
  cap_stop
}

sc_ovpn_tls_auth() {
  topo_up
  ovpn_up
  ovpn_server udp --keepalive 5 30 --tls-auth "$WORK/pki/ta.key" 0
  cap_start ovpn_tls_auth
  ovpn_client udp --tls-auth "$WORK/pki/ta.key" 1
  ovpn_wait_client
  ping_from $P-c1 "$OV_S" 3
  sleep 6
  ping_from $P-s1 "$OV_C" 2
  stop_pid "$OVC"
  cap_stop
}

# ovpn_tls_auth_sha256: tls-auth with `--auth SHA256`: a 32-byte HMAC instead of SHA1's 20
sc_ovpn_tls_auth_sha256() {
  topo_up
  ovpn_up
  ovpn_server udp --keepalive 5 30 --tls-auth "$WORK/pki/ta.key" 0 --auth SHA256
  cap_start ovpn_tls_auth_sha256
  ovpn_client udp --tls-auth "$WORK/pki/ta.key" 1 --auth SHA256
  ovpn_wait_client
  ping_from $P-c1 "$OV_S" 3
  sleep 6
  ping_from $P-s1 "$OV_C" 2
  stop_pid "$OVC"
  cap_stop
}

# ------------------------------------------------------------------ main
main() {
  [ $# -gt 0 ] || { sed -n '2,9p' "$0"; exit 2; }
  case "$1" in
    list) printf '%s\n' "${SCENARIOS[@]}"; exit 0 ;;
    clean) [ "$(id -u)" = 0 ] || die "run as root"; topo_down; exit 0 ;;
    all) set -- "${SCENARIOS[@]}" ;;
  esac
  local s
  for s in "$@"; do
    declare -F "sc_$s" >/dev/null || die "unknown scenario '$s' (try: $0 list)"
  done
  check_deps
  mkdir -p "$OUT"
  WORK=$(mktemp -d /tmp/labwg-tunnels.XXXXXX)
  trap lab_cleanup EXIT
  trap 'exit 130' INT TERM
  for s in "$@"; do
    log "=== $s"
    STATUS_FN=""; VERSIONS=""
    rm -rf "$WORK"/ovs.* "$WORK"/ovc.* "$WORK"/pki "$WORK"/*.key "$WORK"/*.pub
    "sc_$s"
    report "$s"
    stop_pids
    topo_down
  done
  log "done: captures in $OUT"
}

main "$@"
