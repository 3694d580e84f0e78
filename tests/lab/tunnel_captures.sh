#!/usr/bin/env bash
# tunnel_captures.sh - real WireGuard (wireguard-go) and OpenVPN (openvpn 2.6, TLS mode) traffic
# between two network namespaces joined by a veth pair, captured with tcpdump for the decoders'
# cross-check against tshark (tests/scripts/crosscheck_tunnel.sh reads OUTDIR when it is
# tests/crosscheck/captures). Needs root and wireguard-go, wireguard-tools, openvpn, openssl,
# tcpdump, iproute2. Namespaces are wgdec-a (10.77.0.1) and wgdec-b (10.77.0.2), removed on exit.
# Usage: sudo tests/lab/tunnel_captures.sh OUTDIR
# Captures (each: handshake, 3 pings through the tunnel, keepalives / pings for a few seconds;
# keys, session ids and indexes are new on every run):
#   wg-51820.pcap            WireGuard on its default port, PersistentKeepalive 1
#   wg-port40000.pcap        WireGuard on port 40000 (recognised by structure only)
#   ovpn-udp-plain.pcap      OpenVPN UDP 1194, no tls-auth
#   ovpn-udp-tlsauth-sha1.pcap   tls-auth, --auth SHA1 (20-byte HMAC), UDP 1194
#   ovpn-udp-tlsauth-sha256-port11940.pcap  tls-auth, --auth SHA256 (32-byte HMAC), UDP 11940
#   ovpn-udp-tlscrypt.pcap   tls-crypt, UDP 1194
#   ovpn-tcp-tlsauth-sha512-port443.pcap    tls-auth, --auth SHA512 (64-byte HMAC), TCP 443
set -euo pipefail
out=${1:?usage: tunnel_captures.sh OUTDIR}
mkdir -p "$out"
out=$(cd "$out" && pwd)
for t in wireguard-go wg openvpn openssl tcpdump ip; do
    command -v $t >/dev/null || { echo "tunnel_captures: $t missing" >&2; exit 1; }
done
A=wgdec-a
B=wgdec-b
tmp=$(mktemp -d)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    ip netns del $A 2>/dev/null || true
    ip netns del $B 2>/dev/null || true
    rm -rf "$tmp"
}
trap cleanup EXIT

ip netns add $A
ip netns add $B
ip link add eth0 netns $A type veth peer name eth0 netns $B
ip -n $A addr add 10.77.0.1/24 dev eth0
ip -n $B addr add 10.77.0.2/24 dev eth0
for n in $A $B; do
    ip -n $n link set lo up
    ip -n $n link set eth0 up
done

# wait_for FILE PATTERN SECONDS: until the pattern is in the file, with a deadline
wait_for() {
    local end=$((SECONDS + $3))
    until grep -q "$2" "$1" 2>/dev/null; do
        [ $SECONDS -lt $end ] || { echo "tunnel_captures: timeout waiting for '$2' in $1" >&2; return 1; }
        sleep 0.2
    done
}

start_capture() { # NAME FILTER
    ip netns exec $A tcpdump -U -n -i eth0 -s 262144 -w "$out/$1.pcap" "$2" 2>"$tmp/tcpdump.log" &
    cap=$!
    pids+=("$cap")
    wait_for "$tmp/tcpdump.log" "listening on" 10
}

stop_capture() {
    sleep 0.5
    kill "$cap"
    wait "$cap" 2>/dev/null || true
}

wg_capture() { # NAME PORT
    # interface names differ: wireguard-go's control socket /var/run/wireguard/NAME.sock is
    # shared by all namespaces
    local name=$1 port=$2
    for n in $A $B; do
        wg genkey >"$tmp/$n.key"
        wg pubkey <"$tmp/$n.key" >"$tmp/$n.pub"
        WG_PROCESS_FOREGROUND=1 ip netns exec $n wireguard-go "$n" >"$tmp/$n-wg.log" 2>&1 &
        pids+=("$!")
    done
    local end=$((SECONDS + 10))
    until ip -n $A link show $A >/dev/null 2>&1 && ip -n $B link show $B >/dev/null 2>&1; do
        [ $SECONDS -lt $end ] || { echo "tunnel_captures: wireguard-go did not start" >&2; exit 1; }
        sleep 0.2
    done
    start_capture "$name" "udp port $port"
    ip netns exec $A wg set $A private-key "$tmp/$A.key" listen-port "$port" \
        peer "$(cat "$tmp/$B.pub")" allowed-ips 10.99.0.2/32
    ip netns exec $B wg set $B private-key "$tmp/$B.key" listen-port "$port" \
        peer "$(cat "$tmp/$A.pub")" allowed-ips 10.99.0.1/32 endpoint 10.77.0.1:"$port" \
        persistent-keepalive 1
    ip -n $A addr add 10.99.0.1/24 dev $A
    ip -n $B addr add 10.99.0.2/24 dev $B
    ip -n $A link set $A up
    ip -n $B link set $B up
    ip netns exec $B ping -c 3 -i 0.3 -W 5 10.99.0.1 >/dev/null
    sleep 3.5
    stop_capture
    ip -n $A link del $A
    ip -n $B link del $B
}

pki() {
    cd "$tmp"
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout ca.key \
        -out ca.crt -subj /CN=wgdec-ca -days 2 2>/dev/null
    for n in server client; do
        openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout $n.key \
            -out $n.csr -subj /CN=$n 2>/dev/null
        openssl x509 -req -in $n.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out $n.crt \
            -days 2 2>/dev/null
    done
    openvpn --genkey secret ta.key >/dev/null
    cd - >/dev/null
}

ovpn_capture() { # NAME PROTO PORT EXTRA_SERVER_OPTS EXTRA_CLIENT_OPTS
    local name=$1 proto=$2 port=$3
    local sp=$proto cp=$proto filter="udp port $port"
    if [ "$proto" = tcp ]; then sp=tcp-server; cp=tcp-client; filter="tcp port $port"; fi
    local common=(--dev tun --dev-type tun --ca "$tmp/ca.crt" --dh none --verb 3 --ping 1
        --cipher AES-256-GCM --data-ciphers AES-256-GCM --data-ciphers-fallback AES-256-GCM)
    start_capture "$name" "$filter"
    # shellcheck disable=SC2086
    ip netns exec $A openvpn "${common[@]}" --tls-server --proto $sp --lport "$port" \
        --cert "$tmp/server.crt" --key "$tmp/server.key" --ifconfig 10.88.0.1 10.88.0.2 $4 \
        >"$tmp/s.log" 2>&1 &
    pids+=("$!")
    local spid=$!
    wait_for "$tmp/s.log" "Initialization Sequence Completed\|UDPv4 link local\|Listening for incoming TCP" 10
    # shellcheck disable=SC2086
    ip netns exec $B openvpn "${common[@]}" --tls-client --proto $cp --remote 10.77.0.1 "$port" \
        --nobind --cert "$tmp/client.crt" --key "$tmp/client.key" --ifconfig 10.88.0.2 10.88.0.1 \
        $5 >"$tmp/c.log" 2>&1 &
    pids+=("$!")
    local cpid=$!
    wait_for "$tmp/c.log" "Initialization Sequence Completed" 20
    ip netns exec $B ping -c 3 -i 0.3 -W 5 10.88.0.1 >/dev/null
    sleep 2
    stop_capture
    kill "$cpid" "$spid"
    wait "$cpid" "$spid" 2>/dev/null || true
}

wg_capture wg-51820 51820
wg_capture wg-port40000 40000
pki
ovpn_capture ovpn-udp-plain udp 1194 "" ""
ovpn_capture ovpn-udp-tlsauth-sha1 udp 1194 "--tls-auth $tmp/ta.key 0 --auth SHA1" \
    "--tls-auth $tmp/ta.key 1 --auth SHA1"
ovpn_capture ovpn-udp-tlsauth-sha256-port11940 udp 11940 "--tls-auth $tmp/ta.key 0 --auth SHA256" \
    "--tls-auth $tmp/ta.key 1 --auth SHA256"
ovpn_capture ovpn-udp-tlscrypt udp 1194 "--tls-crypt $tmp/ta.key" "--tls-crypt $tmp/ta.key"
ovpn_capture ovpn-tcp-tlsauth-sha512-port443 tcp 443 "--tls-auth $tmp/ta.key 0 --auth SHA512" \
    "--tls-auth $tmp/ta.key 1 --auth SHA512"
ls -l "$out"
