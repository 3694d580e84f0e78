# shellcheck shell=bash disable=SC2034  # CUR, TD_*, CT_E are read by the sourcing lab
# lib.sh - sourced (not run) by the capture labs tests/lab/lab.sh (crafted VPN traffic) and
# tests/lab/tunnels.sh (real WireGuard / OpenVPN): what both do to build, capture and tear down a
# router in network namespaces.
#
# The sourcing script sets, before calling these:
#   LAB_TAG   the log prefix ("lab", "tunnels")
#   P         the namespace prefix (every namespace is $P-*; nothing joins the root namespace)
#   ALLNS     every namespace the lab may create (topo_down removes those that exist)
#   LAB_MAC   the first four bytes of the lab's MAC addresses ("02:00:00:00")
#   OUT WORK  where captures and logs go; PIDS=() the processes it starts
# and defines topo_down (lab_ns_del plus its own leftovers).

log() { printf '[%s %s] %s\n' "$LAB_TAG" "$(date +%T)" "$*" >&2; }
die() {
  log "error: $*"
  exit 1
}
# nsenter execs the command itself (ip netns exec forks, so $! would not be the command)
nsx() {
  local ns=$1
  shift
  nsenter --net="/run/netns/$ns" -- "$@"
}
# nsbg: for `nsbg NS cmd… &`: the background subshell execs the command, so $! is its PID
nsbg() {
  local ns=$1
  shift
  exec nsenter --net="/run/netns/$ns" -- "$@"
}

# lab_need CMD:PACKAGE...: the Debian packages of the missing commands, then exit 1 (more
# packages, e.g. python modules, may be added to LAB_MISSING by the caller first)
LAB_MISSING=()
lab_need() {
  local c
  for c in "$@"; do
    command -v "${c%%:*}" >/dev/null 2>&1 || LAB_MISSING+=("${c#*:}")
  done
  if [ ${#LAB_MISSING[@]} -gt 0 ]; then
    echo "missing Debian packages: ${LAB_MISSING[*]}" >&2
    echo "  apt-get install ${LAB_MISSING[*]}" >&2
    exit 1
  fi
}

# stop_pid PID: one process this script started; TERM, then KILL after 5 s
stop_pid() {
  local p=$1 _
  kill -0 "$p" 2>/dev/null || {
    wait "$p" 2>/dev/null || true
    return 0
  }
  kill -TERM "$p" 2>/dev/null || true
  for _ in $(seq 50); do
    kill -0 "$p" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$p" 2>/dev/null; then kill -KILL "$p" 2>/dev/null || true; fi
  wait "$p" 2>/dev/null || true
}

stop_pids() {
  local p
  for p in "${PIDS[@]}"; do stop_pid "$p"; done
  PIDS=()
}

# lab_ns_del: every namespace of ALLNS that exists
lab_ns_del() {
  local ns
  for ns in "${ALLNS[@]}"; do
    if [ -e "/run/netns/$ns" ]; then ip netns del "$ns"; fi
  done
}

# lab_cleanup: the EXIT trap; logs are kept when the run failed
lab_cleanup() {
  local rc=$?
  stop_pids
  topo_down
  if [ -n "$WORK" ]; then
    if [ $rc -ne 0 ]; then log "logs kept in $WORK"; else rm -rf "$WORK"; fi
  fi
  exit $rc
}

mac() { printf '%s:%s' "$LAB_MAC" "$1"; }

# lab_ns NS: a namespace with lo up and IPv6 off
lab_ns() {
  ip netns add "$1"
  ip -n "$1" link set lo up
  nsx "$1" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
}

# lab_bridge NS: the bridge br0 of a segment (no multicast snooping: every frame is flooded)
lab_bridge() {
  ip -n "$1" link add br0 type bridge
  ip -n "$1" link set br0 type bridge mcast_snooping 0
  ip -n "$1" link set br0 up
}

# lab_cap_start NAME ROUTER_NS RCAP: tcpdump on the router's lan0 (NAME-inside.pcap) and wan0
# (NAME-outside.pcap), with RCAP = 1 also on every interface (NAME-router.pcap, LINUX_SLL2), and
# its conntrack event log (NAME.conntrack); returns once every tcpdump listens (5 s at most).
# Sets CUR, TD_IN, TD_OUT, TD_ANY (RCAP), CT_E.
lab_cap_start() {
  local name=$1 r=$2 rcap=$3 _
  CUR=$name
  rm -f "$OUT/$name"-{inside,outside,router}.pcap "$OUT/$name.conntrack" "$OUT/$name.ctstats"
  TD_ANY=""
  if [ "$rcap" = 1 ]; then
    # the router's own view: every interface, each packet as it came in and as it went out
    nsbg "$r" tcpdump -Z root -n -U -s 262144 -i any -y LINUX_SLL2 -w "$OUT/$name-router.pcap" 2>"$WORK/$name.td-any" &
    PIDS+=($!)
    TD_ANY=$!
  fi
  nsbg "$r" tcpdump -Z root -n -U -s 262144 -i lan0 -w "$OUT/$name-inside.pcap" 2>"$WORK/$name.td-in" &
  PIDS+=($!)
  TD_IN=$!
  nsbg "$r" tcpdump -Z root -n -U -s 262144 -i wan0 -w "$OUT/$name-outside.pcap" 2>"$WORK/$name.td-out" &
  PIDS+=($!)
  TD_OUT=$!
  nsbg "$r" stdbuf -oL conntrack -E -o timestamp,extended,id >"$OUT/$name.conntrack" 2>"$WORK/$name.ct" &
  PIDS+=($!)
  CT_E=$!
  for _ in $(seq 50); do
    if grep -q listening "$WORK/$name.td-in" && grep -q listening "$WORK/$name.td-out" &&
      { [ "$rcap" != 1 ] || grep -q listening "$WORK/$name.td-any"; }; then break; fi
    sleep 0.1
  done
}

# lab_cap_stop: the captures of lab_cap_start end (after a second for the last packets)
lab_cap_stop() {
  local p
  sleep 1
  for p in "$TD_IN" "$TD_OUT" $TD_ANY; do kill -INT "$p" 2>/dev/null || true; done
  for p in "$TD_IN" "$TD_OUT" $TD_ANY; do wait "$p" 2>/dev/null || true; done
  stop_pid "$CT_E"
}

# lab_ct_summary NAME: the conntrack line of a scenario's report
lab_ct_summary() {
  log "$1 conntrack: $(grep -c NEW "$OUT/$1.conntrack" || true) NEW," \
    "$(grep -c DESTROY "$OUT/$1.conntrack" || true) DESTROY events;" \
    "$(awk '/^cpu=/{for(i=1;i<=NF;i++){split($i,a,"=");if(a[1]=="insert_failed"||a[1]=="drop")s[a[1]]+=a[2]}}END{printf "insert_failed=%d drop=%d",s["insert_failed"],s["drop"]}' "$OUT/$1.ctstats")"
}
