#!/usr/bin/env bash
# live_netns.sh - live capture on a veth pair between two network namespaces made by the test
# (names prefixed pipeline-, veths created inside them, no route out, removed by a trap): packets of lab captures are replayed
# with tcpreplay in one namespace and `vpnscope -i <peer> --json -c N` runs in the other. It must
# report the same tunnels (IKE SPIs, ESP/AH SPIs, PPTP calls, WireGuard index pairs, OpenVPN
# session ids) and findings as `vpnscope -r` on
# the file, stream them as they happen, end on SIGINT with the summary only (nothing streamed is
# repeated; a session whose state changed gets an "update" record) and the same exit status,
# expire sessions on a silent link, save packets with -w, follow two interfaces
# (--inside-if/--outside-if) with NAT mappings, fail cleanly (exit 2) on a bad interface or filter
# and when the interface disappears. Finally it measures the highest tcpreplay --pps rate with
# zero kernel drops and prints it (a figure: only the run's correctness is asserted). Every step waits for a state with a deadline: the capture is
# open when vpnscope says "listening on" (after its filter is installed), an expiry or a mapping
# when its record is streamed, the end of a run when the process exits.
# Skips (77) when not root, without ip/tcpreplay/python3 or when namespaces cannot be made;
# under CI=true a skip is a failure (exit 1).
set -uo pipefail
. "$(dirname "$0")/lib_netns.sh"

need_bin
need_root
need_tools ip tcpreplay python3 timeout
PCAP=$SRC/pcaps/esp_collision-inside.pcap
PCAP_OUT=$SRC/pcaps/esp_collision-outside.pcap
need_files "$PCAP"

netns_setup
NS_TX2=pipeline-tx2-$ID
IFC=plv-c$ID
IFD=plv-d$ID
netns_pair pipeline-tx-$ID pipeline-rx-$ID plv-a$ID plv-b$ID
# live -w files are created after the privilege drop (as tcpdump): a directory nobody may write
chmod 711 "$TMP" && mkdir -m 1777 "$TMP/w"

# The comparable content of a JSON Lines report: tunnels and findings without capture names and
# times. --final: the final state of each (a file's report record, or the last streamed record
# of a live run: established, update or ended), --events the streamed ones.
cat >"$TMP/norm.py" <<'EOF'
import json, sys
mode, path = sys.argv[1], sys.argv[2]
out = set()
final = {}
for line in open(path):
    line = line.strip()
    if not line.startswith("{"):
        continue
    r = json.loads(line)
    t = r.get("type")
    ev = "event" in r
    if mode == "--events" and not ev and t != "finding":
        continue
    if t == "ike_sa":
        key = ("ike_sa", r["version"], r["ispi"], r["initiator"]["ip"])
        item = ("ike_sa", r["version"], r["ispi"], r["rspi"], r["initiator"]["ip"], r["responder"]["ip"])
    elif t in ("esp_sa", "ah_sa"):
        key = (t, r["src"], r["dst"], r["spi"])
        item = key + ((r["packets"],) if mode == "--final" else ())
    elif t == "pptp_call":
        key = item = ("pptp_call", r["client"]["ip"], r["server"]["ip"], r["call_id"])
    elif t == "wg_session":
        key = item = ("wg_session", r["initiator_index"], r["responder_index"], r["initiator"]["ip"])
    elif t == "ovpn_session":
        key = item = ("ovpn_session", r["transport"], r["session_id"], r["client"]["ip"])
    elif t == "finding":
        key = ("finding", r["kind"], json.dumps(r.get("sessions"), sort_keys=True))
        item = ("finding", r["kind"], r["severity"], r["confidence"])
    elif t == "summary" and mode == "--final":
        key = item = ("packets", r["packets"])
    else:
        continue
    if mode == "--final":
        final[key] = item
    else:
        out.add(item)
out |= set(final.values())
for x in sorted(out, key=str):
    print(" ".join(str(v) for v in x))
EOF
field() { # field FILE NAME: a number from the summary record
    python3 -c 'import json,sys
v=None
for l in open(sys.argv[1]):
    l=l.strip()
    if l.startswith("{"):
        r=json.loads(l)
        if r.get("type")=="summary": v=r.get(sys.argv[2])
print(v)' "$1" "$2"
}
npackets() { "$BIN" -r "$1" --json 2>/dev/null | python3 -c 'import json,sys
for l in sys.stdin:
    r=json.loads(l)
    if r.get("type")=="summary": print(r["packets"])'; }

# ---- 1. same tunnels and findings as -r, for every single-side capture at hand ----
caps=("$PCAP")
for extra in natt_two_clients-inside ah_nat-inside ss-ikev2-natt-inside pptp-inside wg_healthy-inside ovpn_healthy-inside ovpn_tcp-inside; do
    [ -f "$SRC/pcaps/$extra.pcap" ] && caps+=("$SRC/pcaps/$extra.pcap")
done
for f in "${caps[@]}"; do
    name=$(basename "$f" .pcap)
    n=$(npackets "$f")
    "$BIN" -r "$f" --json >"$TMP/ref.jsonl" 2>/dev/null
    ref_st=$?
    : >"$TMP/live.jsonl"; : >"$TMP/live.err" # no state of an earlier run seen by the waits
    ip netns exec "$NS_RX" timeout -s INT 30 "$BIN" -i "$IFB" --json -c "$n" >"$TMP/live.jsonl" 2>"$TMP/live.err" &
    pid=$!
    PIDS+=($pid)
    wait_listening "$TMP/live.err" || ko "$name: vpnscope listens" "$TMP/live.err"
    ip netns exec "$NS_TX" tcpreplay -q -i "$IFA" --pps 1000 "$f" >/dev/null 2>&1
    wait_exit $pid 20
    st=$?
    python3 "$TMP/norm.py" --final "$TMP/ref.jsonl" | grep -v '^packets' >"$TMP/ref.n"
    python3 "$TMP/norm.py" --final "$TMP/live.jsonl" | grep -v '^packets' >"$TMP/live.n"
    if [ -s "$TMP/ref.n" ] && diff -u "$TMP/ref.n" "$TMP/live.n" >"$TMP/diff"; then
        ok "$name: live -i -c $n reports the same tunnels and findings as -r ($(wc -l <"$TMP/ref.n") items)"
    else
        ko "$name: live vs -r" "$TMP/diff"
    fi
    [ "$st" = "$ref_st" ] && ok "$name: live exit status $st = -r's" || ko "$name: live exit status $st, -r $ref_st" "$TMP/live.err"
    [ "$(field "$TMP/live.jsonl" packets)" = "$n" ] && ok "$name: summary counts $n packets" ||
        ko "$name: summary packets $(field "$TMP/live.jsonl" packets) != $n"
    # streamed before the report: every SA established, every finding raised
    python3 "$TMP/norm.py" --events "$TMP/live.jsonl" >"$TMP/ev.n"
    python3 "$TMP/norm.py" --events "$TMP/ref.jsonl" >/dev/null
    python3 - "$TMP/ref.n" "$TMP/ev.n" >"$TMP/evdiff" <<'EOF'
import sys
ref = [l.split() for l in open(sys.argv[1])]
ev = set(l.strip() for l in open(sys.argv[2]))
missing = []
for r in ref:
    key = " ".join(r[:4]) if r[0] in ("esp_sa", "ah_sa") else " ".join(r)
    if key not in ev:
        missing.append(key)
print("\n".join(missing))
sys.exit(1 if missing else 0)
EOF
    [ $? = 0 ] && ok "$name: every session and finding was streamed as it happened" || ko "$name: not streamed" "$TMP/evdiff"
done

# ---- 2. SIGINT ends the run with its summary and the report's exit status; -w saves the packets ----
n=$(npackets "$PCAP")
"$BIN" -r "$PCAP" --json >/dev/null 2>&1
ref_st=$?
ip netns exec "$NS_RX" "$BIN" -i "$IFB" --json -w "$TMP/w/saved.pcap" \
    --nat-other-timeout 2 --nat-udp-timeout 2 --nat-udp-stream-timeout 2 >"$TMP/int.jsonl" 2>"$TMP/int.err" &
pid=$!
PIDS+=($pid)
wait_listening "$TMP/int.err" || ko "SIGINT run: vpnscope listens" "$TMP/int.err"
ip netns exec "$NS_TX" tcpreplay -q -i "$IFA" --pps 1000 "$PCAP" >/dev/null 2>&1
# a silent link: the sessions expire on time advanced by the wall clock
wait_grep "$TMP/int.jsonl" '"type":"esp_sa","event":"ended"' 15 &&
    wait_grep "$TMP/int.jsonl" '"type":"ike_sa","event":"ended"' 15
kill -INT $pid
wait $pid
st=$?
[ "$st" = "$ref_st" ] && ok "SIGINT: exit status $st (as the report of the file)" || ko "SIGINT: exit status $st, expected $ref_st" "$TMP/int.err"
last=$(tail -1 "$TMP/int.jsonl")
grep -q '"type":"summary"' <<<"$last" && grep -q '"kernel_drops":' <<<"$last" && ok "SIGINT: the summary (with kernel_drops) comes last" ||
    ko "SIGINT: summary last" "$TMP/int.jsonl"
grep -q '"event":"ended".*"spi":"0x0000a001"\|"type":"esp_sa","event":"ended"' "$TMP/int.jsonl" &&
    ok "silent link: ESP SAs expire past their NAT timeout" || ko "silent link: no ended esp_sa" "$TMP/int.jsonl"
grep -q '"type":"ike_sa","event":"ended"' "$TMP/int.jsonl" && ok "silent link: IKE SAs expire" ||
    ko "silent link: no ended ike_sa" "$TMP/int.jsonl"
# nothing streamed is repeated at the end: every record (but the summary) carries an event or is
# a finding raised once; no session record and no finding appears twice with the same content
python3 - "$TMP/int.jsonl" >"$TMP/dup.txt" <<'EOF'
import json, sys
seen, bad = set(), []
for line in open(sys.argv[1]):
    r = json.loads(line)
    if r["type"] == "summary":
        continue
    if "event" not in r and r["type"] != "finding":
        bad.append("a report record after the stream: " + line.strip()[:120])
    k = json.dumps({x: v for x, v in r.items() if x != "ts"}, sort_keys=True)
    if k in seen:
        bad.append("repeated: " + line.strip()[:120])
    seen.add(k)
print("\n".join(bad))
sys.exit(1 if bad or not seen else 0)
EOF
[ $? = 0 ] && ok "SIGINT: the stream ends with the summary only, nothing repeated" ||
    ko "SIGINT: records repeated after the stream" "$TMP/dup.txt"
[ "$(npackets "$TMP/w/saved.pcap")" = "$n" ] && ok "-w saved the $n captured packets" ||
    ko "-w saved $(npackets "$TMP/w/saved.pcap") packets, expected $n"

# text streaming: one line per event, flushed
: >"$TMP/text.out"; : >"$TMP/text.err" # no state of an earlier run seen by the waits
ip netns exec "$NS_RX" timeout -s INT 20 "$BIN" -i "$IFB" -c "$n" >"$TMP/text.out" 2>"$TMP/text.err" &
pid=$!
PIDS+=($pid)
wait_listening "$TMP/text.err" || ko "text streaming: vpnscope listens" "$TMP/text.err"
ip netns exec "$NS_TX" tcpreplay -q -i "$IFA" --pps 1000 "$PCAP" >/dev/null 2>&1
wait_exit $pid 15
grep -qE '^[0-9T:.-]+Z established ike_sa' "$TMP/text.out" && grep -qE 'raised +finding error esp_collision' "$TMP/text.out" &&
    grep -q '^  Findings:  1 error' "$TMP/text.out" && ! grep -q '^FINDINGS:' "$TMP/text.out" && ok "text streaming: event lines, then the summary only" ||
    ko "text streaming" "$TMP/text.out"

# ---- 3. two interfaces: --inside-if / --outside-if with NAT mappings ----
if [ -f "$PCAP_OUT" ] && mkns "$NS_TX2" && mkveth "$IFC" "$IFD" "$NS_TX2" "$NS_RX"; then
    ni=$(npackets "$PCAP")
    no=$(npackets "$PCAP_OUT")
    ip netns exec "$NS_RX" timeout -s INT 30 "$BIN" --inside-if "$IFB" --outside-if "$IFD" --json -c 100000 \
        -w "$TMP/w/two" >"$TMP/two.jsonl" 2>"$TMP/two.err" &
    pid=$!
    PIDS+=($pid)
    wait_listening "$TMP/two.err" || ko "two interfaces: vpnscope listens" "$TMP/two.err"
    # both sides replayed at capture speed, started together
    ip netns exec "$NS_TX" tcpreplay -q -i "$IFA" "$PCAP" >/dev/null 2>&1 &
    r1=$!
    ip netns exec "$NS_TX2" tcpreplay -q -i "$IFC" "$PCAP_OUT" >/dev/null 2>&1 &
    r2=$!
    wait $r1 $r2
    # the correlator matches a packet with its counterpart: the ESP mapping is streamed
    wait_grep "$TMP/two.jsonl" '"type":"nat_mapping","event":"established","proto":"esp"' 15
    kill -INT $pid
    wait $pid
    grep -q '"type":"nat_mapping","event":"established"' "$TMP/two.jsonl" && ok "two interfaces: NAT mappings streamed" ||
        ko "two interfaces: no nat_mapping event" "$TMP/two.err"
    grep -q '"type":"nat_mapping","event":"[a-z]*","ts":"[^"]*","proto":"esp".*"inside":{"ip":"192.168.1.11"}' "$TMP/two.jsonl" &&
        ok "two interfaces: the ESP mapping of 192.168.1.11 streamed" || ko "two interfaces: ESP mapping" "$TMP/two.jsonl"
    grep -q '"kind":"esp_collision","severity":"error","confidence":"confirmed"' "$TMP/two.jsonl" &&
        ok "two interfaces: esp_collision confirmed" || ko "two interfaces: esp_collision confirmed" "$TMP/two.jsonl"
    [ "$(npackets "$TMP/w/two-inside.pcap")" = "$ni" ] && [ "$(npackets "$TMP/w/two-outside.pcap")" = "$no" ] &&
        ok "two interfaces: -w PREFIX wrote PREFIX-inside.pcap and PREFIX-outside.pcap" ||
        ko "two interfaces: -w PREFIX files ($(npackets "$TMP/w/two-inside.pcap")/$ni, $(npackets "$TMP/w/two-outside.pcap")/$no)"
else
    ko "two interfaces: second veth pair"
fi

# ---- 4. errors: one line, exit 2 ----
ip netns exec "$NS_RX" "$BIN" -i vst-nonexistent0 --json >"$TMP/e.out" 2>"$TMP/e.err"
st=$?
[ $st = 2 ] && [ "$(wc -l <"$TMP/e.err")" = 1 ] && grep -q "no such interface\|No such device\|doesn't exist" "$TMP/e.err" &&
    ok "no such interface: one line, exit 2" || ko "no such interface (exit $st)" "$TMP/e.err"
ip netns exec "$NS_RX" "$BIN" -i "$IFB" --json "udp and and" >"$TMP/e.out" 2>"$TMP/e.err"
st=$?
[ $st = 2 ] && [ "$(wc -l <"$TMP/e.err")" = 1 ] && ok "bad filter: one line, exit 2" || ko "bad filter (exit $st)" "$TMP/e.err"

# ---- 5. the interface goes away mid-capture: message, summary, exit 2 ----
: >"$TMP/down.out"; : >"$TMP/down.err" # no state of an earlier run seen by the waits
ip netns exec "$NS_RX" "$BIN" -i "$IFB" >"$TMP/down.out" 2>"$TMP/down.err" &
pid=$!
PIDS+=($pid)
wait_listening "$TMP/down.err" || ko "interface removed: vpnscope listens" "$TMP/down.err"
ip netns exec "$NS_TX" tcpreplay -q -i "$IFA" --pps 1000 "$PCAP" >/dev/null 2>&1
wait_grep "$TMP/down.out" 'raised +finding error esp_collision' 10
ip -n "$NS_RX" link del "$IFB"
wait_exit $pid 5
st=$?
[ $st = 2 ] && grep -q "$IFB" "$TMP/down.err" && grep -q "^Summary" "$TMP/down.out" &&
    ok "interface removed mid-capture: message, summary, exit 2" || ko "interface removed (exit $st)" "$TMP/down.err"
ip -n "$NS_TX" link del "$IFA" 2>/dev/null # normally gone with its peer already
mkveth "$IFA" "$IFB" "$NS_TX" "$NS_RX" || ko "veth pair re-created"

# ---- 6. highest replay rate with zero kernel drops (reported, not asserted) ----
best=0
for pps in 1000 2000 5000 10000 20000 40000 80000 160000 320000 640000; do
    loops=$(((pps * 2 + n - 1) / n))
    total=$((loops * n))
    : >"$TMP/rate.jsonl"; : >"$TMP/rate.err" # no state of an earlier run seen by the waits
    ip netns exec "$NS_RX" timeout -s INT 30 "$BIN" -i "$IFB" --json -c "$total" >"$TMP/rate.jsonl" 2>"$TMP/rate.err" &
    pid=$!
    PIDS+=($pid)
    wait_listening "$TMP/rate.err" || ko "rate $pps: vpnscope listens" "$TMP/rate.err"
    ip netns exec "$NS_TX" tcpreplay -i "$IFA" --pps "$pps" --loop "$loops" "$PCAP" >"$TMP/tr.out" 2>&1
    achieved=$(grep -o 'Rated: [^,]*, [^,]*, [0-9.]* pps' "$TMP/tr.out" | grep -o '[0-9.]* pps' | cut -d' ' -f1 | cut -d. -f1)
    wait_exit $pid 5 # ends by itself at -c when nothing was lost
    got=$(field "$TMP/rate.jsonl" packets)
    drops=$(field "$TMP/rate.jsonl" kernel_drops)
    echo "     rate $pps pps requested, ${achieved:-?} pps sent: $got/$total packets, kernel drops $drops"
    # correctness only (a loaded machine may lose packets): the run ended with its summary and
    # counted no packet that was not sent
    if [ -z "$got" ] || [ "$got" -gt "$total" ]; then
        ko "rate $pps: summary with at most $total packets (got '${got}')" "$TMP/rate.err"
        break
    fi
    if [ "$got" = "$total" ] && [ "$drops" = 0 ]; then
        a=${achieved:-$pps}
        [ "$a" -gt "$best" ] && best=$a
    else
        break
    fi
done
echo "highest replay rate with zero kernel drops: $best pps as sent by tcpreplay ($(basename "$PCAP") looped; when the sent rate stops following the requested one, the sender is the limit)"
ok "replay rates reported (best without loss: $best pps; a rate is a benchmark figure, never a failure)"

netns_done
