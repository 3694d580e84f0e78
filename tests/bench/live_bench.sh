#!/usr/bin/env bash
# live_bench.sh - the highest packet rate `vpnscope -i IF --json` (the stream mode) captures with
# zero kernel drops. Two network namespaces made here, joined only by a veth pair made inside them
# (tests/scripts/lib_netns.sh: nothing touches the root namespace; removed at exit): vpnscope
# listens on one end, tests/bench/pktgen replays a capture's frames into the other at a fixed rate
# for --seconds, each rate step --reps times. After the generator ends, vpnscope is given time to
# empty the kernel ring (its CPU time stops growing), then SIGINT; its summary record gives the
# packets it counted and `kernel_drops`; /usr/bin/time -v its CPU seconds and peak RSS. A run is
# clean when kernel_drops is 0 and vpnscope counted every frame sent (frames lost before the
# capture socket, as veth drops, would show as a shortfall). The zero-drop rate of a variant is the
# highest rate whose every repeat was clean, every lower rate clean too.
#
# usage: tests/bench/live_bench.sh [--pcap FILE] [--rates "100000 200000 ..."] [--seconds S]
#            [--reps N] [--senders K] [--cpus LIST] [--variant 'NAME:vpnscope options']... [--flat]
#            [--drain N] [--out FILE]
#   --pcap FILE     frames to replay (Ethernet, each at most 1514 bytes); default: a 100k-packet
#                   capture of tests/bench/gen.c (200 clients), made in $VPNSCOPE_BENCH_DIR
#   --rates LIST    packets per second to step through (default "50000 100000 150000 200000
#                   250000 300000 400000 500000")
#   --seconds S     length of each run (default 10)
#   --reps N        runs per rate step (default 3)
#   --senders K     pktgen processes sharing each rate (default 2)
#   --cpus LIST     vpnscope and the generators on these CPUs only (taskset -c LIST): "0" gives
#                   the analysis no core of its own (the generators' kernel path, where the
#                   capture's copy into the ring happens, shares it)
#   --variant V     NAME:OPTIONS added to `vpnscope -i IF --json` (repeatable; default "default:")
#   --flat          first, the generator alone flat out (nothing capturing), --reps times
#   --drain N       per variant, also the analysis alone at full speed: N frames queued in the
#                   kernel ring while vpnscope is stopped, the rate at which it empties it (N must
#                   fit the ring: about 100,000 of the default capture's in 64 MiB)
#   --out FILE      the table (markdown) is appended to FILE as well as printed
# VPNSCOPE_BIN, PKTGEN: the binaries (default build/release/vpnscope, build/release/tests/pktgen).
# Needs root (network namespaces); skips (77) otherwise. The machine may be shared: every row
# gives the spread of its repeats, and CPU seconds besides rates.
set -uo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$HERE/../scripts/lib_netns.sh"
PKTGEN=${PKTGEN:-$SRC/build/release/tests/pktgen}
DIR=${VPNSCOPE_BENCH_DIR:-/tmp/vpnscope-bench}
PCAP=""
RATES="50000 100000 150000 200000 250000 300000 400000 500000"
SECS=10
REPS=3
SENDERS=2
PIN=""
VARIANTS=()
FLAT=0
DRAIN=0
OUT=""
while [ $# -gt 0 ]; do
    case "$1" in
    --pcap) PCAP=$2; shift ;;
    --rates) RATES=$2; shift ;;
    --seconds) SECS=$2; shift ;;
    --reps) REPS=$2; shift ;;
    --senders) SENDERS=$2; shift ;;
    --cpus) PIN="taskset -c $2"; shift ;;
    --variant) VARIANTS+=("$2"); shift ;;
    --flat) FLAT=1 ;;
    --drain) DRAIN=$2; shift ;;
    --out) OUT=$2; shift ;;
    -h | --help) sed -n '2,/^set -uo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "live_bench: unknown argument $1" >&2; exit 2 ;;
    esac
    shift
done
[ ${#VARIANTS[@]} -gt 0 ] || VARIANTS=("default:")

need_bin
need_root
need_tools ip python3
[ -x "$PKTGEN" ] || skip "pktgen not built: '$PKTGEN' (PKTGEN)"
[ -x /usr/bin/time ] || skip "/usr/bin/time (GNU time) not installed"
if [ -z "$PCAP" ]; then
    mkdir -p "$DIR" || exit 2
    PCAP=$DIR/live-100k.pcap
    if [ ! -s "$PCAP" ]; then
        gcc -O2 -std=c11 -o "$DIR/gen" "$HERE/gen.c" -lm || exit 2
        "$DIR/gen" -o "$PCAP" -n 100000 -c 200 >/dev/null 2>&1 || exit 2
    fi
fi
need_files "$PCAP"

netns_setup
netns_pair lbench-tx-$ID lbench-rx-$ID lba$ID lbb$ID

say() { echo "$*"; [ -n "$OUT" ] && echo "$*" >>"$OUT"; return 0; }
kv() { sed -n "s/.*\b$1=\([0-9.]*\).*/\1/p" "$2"; }
txdrops() { ip -s -n "$NS_TX" -j link show "$IFA" | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["stats64"]["tx"]["dropped"])'; }
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null; }
# until the process's CPU time has not grown for 0.5 s (it emptied the ring), at most 30 s
wait_idle() {
    local last=-1 same=0 end=$((SECONDS + 30)) t
    while [ $SECONDS -le $end ] && [ $same -lt 5 ]; do
        t=$(cpu_ticks "$1")
        [ -z "$t" ] && return 0
        if [ "$t" = "$last" ]; then same=$((same + 1)); else same=0; fi
        last=$t
        sleep 0.1
    done
}
summary() { python3 -c 'import json,sys
s = None
for l in open(sys.argv[1]):
    try: r = json.loads(l)
    except ValueError: continue
    if r.get("type") == "summary": s = r
print(s["packets"], s.get("kernel_drops", "-")) if s else print("- -")' "$1"; }

# one run: rate variant-options; prints "sent achieved counted drops lost cpu rss"
run_one() {
    local rate=$1 vopts=$2 n=$(($1 * SECS))
    local f=$TMP/run
    rm -f "$f".*
    # shellcheck disable=SC2086  # the variant's options are words
    ip netns exec "$NS_RX" $PIN /usr/bin/time -v -o "$f.time" "$BIN" -i "$IFB" --json $vopts >"$f.jsonl" 2>"$f.err" &
    local tp=$! vp=""
    PIDS+=("$tp")
    wait_listening "$f.err" 20 || { echo "- - - - - - -"; kill $tp; wait $tp 2>/dev/null; return; }
    vp=$(pgrep -P $tp | head -1)
    local d0
    d0=$(txdrops)
    # SENDERS generators share the rate: the frames' kernel path (and the capture's copy into the
    # ring) runs on the sending CPU, which one sender cannot outrun on a loaded core
    local k gp=()
    for k in $(seq "$SENDERS"); do
        ip netns exec "$NS_TX" $PIN /usr/bin/time -f "cpu=%U+%S" -a -o "$f.gcpu" "$PKTGEN" -q -i "$IFA" \
            -r "$PCAP" -n $((n / SENDERS)) -t "$SECS" -p "$(python3 -c "print($rate / $SENDERS)")" >"$f.gen$k" 2>&1 &
        gp+=($!)
    done
    wait "${gp[@]}"
    cat "$f".gen[0-9]* | python3 -c 'import sys, re
s = n = 0; t = 0.0
for l in sys.stdin:
    m = dict(re.findall(r"(\w+)=([0-9.]+)", l))
    if "sent" in m: s += int(m["sent"]); t = max(t, float(m["seconds"]))
print("sent=%d pps=%.0f" % (s, s / t if t else 0))' >"$f.gen"
    gcpu=$(sed -n 's/^cpu=//p' "$f.gcpu" | tr '\n' + | sed 's/+$//')
    wait_idle "$vp"
    kill -INT "$vp" 2>/dev/null
    wait $tp 2>/dev/null
    local sent ach counted drops lost cpu rss
    sent=$(kv sent "$f.gen")
    ach=$(kv pps "$f.gen")
    read -r counted drops < <(summary "$f.jsonl")
    lost=$(($(txdrops) - d0))
    cpu=$(awk -F': ' '/User time/{u=$2} /System time/{s=$2} END{printf "%.2f", u+s}' "$f.time")
    rss=$(awk -F': ' '/Maximum resident/{printf "%.1f", $2/1024}' "$f.time")
    local gus="-"
    [ -n "$gcpu" ] && [ "${sent:-0}" -gt 0 ] && gus=$(python3 -c "print('%.2f' % (($gcpu) * 1e6 / $sent))")
    echo "${sent:--} ${ach:--} $counted $drops $lost $cpu $rss $gus"
}

# the analysis alone at full speed: DRAIN frames sent flat out while vpnscope is stopped (SIGSTOP:
# they wait in the kernel ring), then SIGCONT; the drain ends when its CPU time stops growing.
# Prints "packets/s-wall CPU-us-per-packet" (counted packets over the drain's wall and CPU time).
drain_one() {
    local vopts=$1 f=$TMP/drain
    rm -f "$f".*
    # shellcheck disable=SC2086
    ip netns exec "$NS_RX" $PIN "$BIN" -i "$IFB" --json $vopts >"$f.jsonl" 2>"$f.err" &
    local vp=$!
    PIDS+=("$vp")
    wait_listening "$f.err" 20 || { echo "- -"; kill $vp; return; }
    kill -STOP $vp
    ip netns exec "$NS_TX" $PIN "$PKTGEN" -q -i "$IFA" -r "$PCAP" -n "$DRAIN" >"$f.gen" 2>&1
    python3 - "$vp" >"$f.watch" <<'PY'
import os, sys, time
pid = int(sys.argv[1])
def ticks():
    with open("/proc/%d/stat" % pid) as f:
        v = f.read().rsplit(")", 1)[1].split()
    return int(v[11]) + int(v[12])
t0 = ticks(); os.kill(pid, 18); start = time.monotonic()  # SIGCONT
last_t, last_change = t0, start
while time.monotonic() - last_change < 0.5:
    time.sleep(0.002)
    t = ticks()
    if t != last_t: last_t, last_change = t, time.monotonic()
print("%.4f %d" % (last_change - start, last_t - t0))
PY
    kill -INT $vp
    wait $vp 2>/dev/null
    local w ticks counted drops
    read -r w ticks <"$f.watch"
    read -r counted drops < <(summary "$f.jsonl")
    python3 -c "
c, w, t, d = $counted, $w, $ticks, $drops
hz = $(getconf CLK_TCK)
print('%.0f %.2f' % (c / w if w else 0, t / hz * 1e6 / c if c else 0) if d == 0 else '- -')"
}

spread() { python3 -c 'import sys
v = [float(x) for x in sys.argv[1:] if x not in ("-", "")]
if not v: print("-"); sys.exit()
v.sort(); med = v[len(v)//2]
print("%.0f (%.0f-%.0f)" % (med, v[0], v[-1]) if max(v) >= 100 else "%.2f (%.2f-%.2f)" % (med, v[0], v[-1]))' "$@"; }

say ""
say "live_bench $(date -u '+%Y-%m-%d %H:%M UTC'): $(basename "$PCAP"), ${SECS} s per run, $REPS runs per step, $SENDERS senders${PIN:+, $PIN}, load $(cut -d' ' -f1-3 /proc/loadavg), $(nproc) cores"
if [ $FLAT = 1 ]; then
    rs=() cs=()
    for _ in $(seq "$REPS"); do
        ip netns exec "$NS_TX" /usr/bin/time -f "%U %S" -o "$TMP/flat.time" "$PKTGEN" -q -i "$IFA" -r "$PCAP" -n 2000000 >"$TMP/flat.gen" 2>&1
        rs+=("$(kv pps "$TMP/flat.gen")")
        cs+=("$(awk '{printf "%.3f", ($1 + $2) / 2}' "$TMP/flat.time")") # CPU us per packet (2 M packets)
    done
    say "generator alone, flat out (2 M frames, nothing capturing): $(spread "${rs[@]}") packets/s, $(spread "${cs[@]}") CPU us per frame"
fi
for v in "${VARIANTS[@]}"; do
    name=${v%%:*} vopts=${v#*:}
    say ""
    say "variant $name: vpnscope -i IF --json $vopts"
    say "| rate asked | reached | counted / sent | kernel drops | veth drops | vpnscope CPU s | vpnscope CPU us/packet | peak RSS MB | generators' CPU us/frame | clean runs |"
    say "|---|---|---|---|---|---|---|---|---|---|"
    best=0 broken=0
    for rate in $RATES; do
        ach=() cnt=() drp=() lst=() cpus=() us=() rss=() gen=() clean=0
        for _ in $(seq "$REPS"); do
            read -r s a c d l cpu m g < <(run_one "$rate" "$vopts")
            ach+=("$a") drp+=("$d") lst+=("$l") cpus+=("$cpu") rss+=("$m") gen+=("$g")
            cnt+=("$c/$s")
            [ "$c" != - ] && [ "$c" -gt 0 ] 2>/dev/null && us+=("$(python3 -c "print('%.2f' % ($cpu * 1e6 / $c))")")
            [ "$d" = 0 ] && [ "$c" = "$s" ] && clean=$((clean + 1))
        done
        say "| $rate | $(spread "${ach[@]}") | ${cnt[*]} | ${drp[*]} | ${lst[*]} | $(spread "${cpus[@]}") | $(spread "${us[@]}") | $(spread "${rss[@]}") | $(spread "${gen[@]}") | $clean/$REPS |"
            # a step counts at the rate the generators reached (its median), not the rate asked
        med=$(spread "${ach[@]}" | cut -d' ' -f1)
        if [ $clean = "$REPS" ] && [ $broken = 0 ]; then
            [ "${med%.*}" -gt "$best" ] 2>/dev/null && best=${med%.*}
        else
            broken=1
        fi
    done
    if [ "$DRAIN" -gt 0 ]; then
        dr=() dc=()
        for _ in $(seq "$REPS"); do
            read -r w c < <(drain_one "$vopts")
            dr+=("$w") dc+=("$c")
        done
        say "variant $name: ring drain ($DRAIN frames queued while vpnscope was stopped, then continued): $(spread "${dr[@]}") packets/s wall, $(spread "${dc[@]}") CPU us/packet"
    fi
    say "variant $name: highest rate reached with zero drops in every run (and at every lower step): $best packets/s"
done
