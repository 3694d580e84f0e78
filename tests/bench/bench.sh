#!/usr/bin/env bash
# vpnscope benchmark: builds vpnscope (CMake Release) and the generator, generates captures at 1x (1M packets,
# 2000 clients/tunnels), 4x and 16x (inside + outside of a NAPT router), then times on the same files:
#   floor (bare libpcap loop), vpnscope -r, vpnscope --inside/--outside, tcpdump, tshark (1x), ndpiReader (1x, 4x)
# and vpnscope's peak RSS on a flood capture (5M spoofed flows; target <= 64 MB), single and as both
# sides of a two-capture run (target <= 128 MB). vpnscope runs with --threads 1 and with --threads
# $(nproc) (the default) at every scale, the 16x pair included (16x files are 8.5 GB each: check
# the free space of --dir first); every row gives wall seconds and CPU seconds (user+sys: the
# comparison to trust when the machine is loaded).
# Writes a markdown report to BENCHMARKS.md at the repository root.
#
# usage: tests/bench/bench.sh [--quick] [--dir DIR] [--scales "1 4 16"] [--clients N] [--no-flood]
#                             [--no-verify] [--no-hyperfine] [--vpnscope BIN] [--out FILE] [--clean] [--live]
#   --quick       100k packets, 1x only, small flood (500k flows): a smoke run of a minute or two
#   --dir DIR     work directory for builds and captures (default $VPNSCOPE_BENCH_DIR or /tmp/vpnscope-bench);
#                 captures are kept and reused while the generator and its arguments are unchanged
#   --vpnscope B  use this binary instead of building one
#   --clean       delete the captures at the end
#   --live        also the live zero-drop rate (tests/bench/live_bench.sh: root, network namespaces;
#                 more of its options in $LIVE_BENCH_ARGS)
# Exit status 0 unless the harness itself failed (a vpnscope that is missing or fails is reported "n/a").
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
HERE="$ROOT/tests/bench"
DIR=${VPNSCOPE_BENCH_DIR:-/tmp/vpnscope-bench}
SCALES="1 4 16"
BASE=1000000
CLIENTS=2000
QUICK=0 FLOOD=1 VERIFY=1 HYPER=1 CLEAN=0 LIVE=0
VPNSCOPE=""
OUT="$ROOT/BENCHMARKS.md"
TIMEOUT=${BENCH_TIMEOUT:-3600}
FLOOD_N=6000000 FLOOD_FLOWS=5000000 FLOOD_CLIENTS=300
RSS_CAP_MB=64
RSS_CAP2_MB=128
ARGS_ORIG="$*"

while [ $# -gt 0 ]; do
    case "$1" in
    --quick) QUICK=1; SCALES="1"; BASE=100000; FLOOD_N=600000; FLOOD_FLOWS=500000 ;;
    --dir) DIR=$2; shift ;;
    --scales) SCALES=$2; shift ;;
    --clients) CLIENTS=$2; shift ;;
    --no-flood) FLOOD=0 ;;
    --no-verify) VERIFY=0 ;;
    --no-hyperfine) HYPER=0 ;;
    --vpnscope) VPNSCOPE=$2; shift ;;
    --out) OUT=$2; shift ;;
    --clean) CLEAN=1 ;;
    --live) LIVE=1 ;;
    -h|--help) sed -n '2,21p' "$0"; exit 0 ;;
    *) echo "bench.sh: unknown argument $1" >&2; exit 2 ;;
    esac
    shift
done

mkdir -p "$DIR" || exit 2
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
LOG="$DIR/bench.log"
: >"$LOG"
say() { echo "bench: $*" >&2; }

# ------------------------------------------------------------------ build
say "building the generator and the floor reader"
gcc -O2 -std=c11 -Wall -Wextra -o "$DIR/gen" "$HERE/gen.c" -lm || { say "gen.c does not build"; exit 2; }
gcc -O2 -std=c11 -Wall -Wextra -o "$DIR/pcap_floor" "$HERE/pcap_floor.c" -lpcap || { say "pcap_floor.c does not build"; exit 2; }

if [ -z "$VPNSCOPE" ]; then
    say "building vpnscope (Release) in $DIR/build"
    if cmake -S "$ROOT" -B "$DIR/build" -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=OFF >>"$LOG" 2>&1 &&
       cmake --build "$DIR/build" -j"$(nproc)" --target vpnscope >>"$LOG" 2>&1; then
        VPNSCOPE="$DIR/build/vpnscope"
    else
        say "vpnscope did not build (see $LOG): its rows will read n/a"
    fi
fi
if [ -n "$VPNSCOPE" ] && [ ! -x "$VPNSCOPE" ]; then say "$VPNSCOPE is not executable"; VPNSCOPE=""; fi
NDPI=$(command -v ndpiReader || true)
if [ -z "$NDPI" ]; then
    say "ndpiReader missing: trying apt-get install libndpi-bin"
    apt-get install -y libndpi-bin >>"$LOG" 2>&1 || true
    NDPI=$(command -v ndpiReader || true)
fi

# ------------------------------------------------------------------ generation (cached)
GEN_SUM=$(sha256sum "$DIR/gen" | cut -c1-16)
declare -A GEN_SECS GEN_PKTS
gen_cached() { # name, then gen arguments; output files named in the arguments
    local name=$1; shift
    local stamp="$DIR/$name.stamp" want="$GEN_SUM $*"
    if [ -f "$stamp" ] && [ "$(head -1 "$stamp")" = "$want" ]; then
        GEN_SECS[$name]=$(sed -n 2p "$stamp"); GEN_PKTS[$name]=$(sed -n 3p "$stamp")
        say "reusing $name ($(sed -n 2p "$stamp") s when generated)"
        return 0
    fi
    rm -f "$stamp"
    say "generating $name: gen $*"
    local t0 t1
    t0=$(date +%s.%N)
    "$DIR/gen" "$@" 2>>"$LOG" || { say "gen failed for $name"; return 1; }
    t1=$(date +%s.%N)
    GEN_SECS[$name]=$(echo "$t1 - $t0" | bc -l | xargs printf '%.2f')
    GEN_PKTS[$name]=$(tail -3 "$LOG" | sed -n 's/.*: \([0-9]*\) packets (.*outside \([0-9]*\) packets.*/\1+\2/p; s/.*: \([0-9]*\) packets (.*/\1/p' | head -1)
    printf '%s\n%s\n%s\n' "$want" "${GEN_SECS[$name]}" "${GEN_PKTS[$name]}" >"$stamp"
}

# ------------------------------------------------------------------ measurement
ROWS=()      # markdown rows
declare -A FLOOR  # file label -> seconds
THREADS_N=$(nproc)
measure() { # tool label, threads, file label, packets, ok exit codes (comma list), command...
    local tool=$1 thr=$2 flabel=$3 pkts=$4 okc=$5; shift 5
    local tf="$DIR/time.out" t0 t1 rc secs rss pps ratio cpu
    t0=$(date +%s.%N)
    /usr/bin/time -v -o "$tf" timeout "$TIMEOUT" "$@" >/dev/null 2>>"$LOG"
    rc=$?
    t1=$(date +%s.%N)
    secs=$(echo "$t1 - $t0" | bc -l)
    rss=$(awk -F': ' '/Maximum resident set size/ {printf "%.1f", $2/1024}' "$tf" 2>/dev/null)
    cpu=$(awk -F': ' '/User time|System time/ {s += $2} END {printf "%.2f", s}' "$tf" 2>/dev/null)
    if ! echo ",$okc," | grep -q ",$rc,"; then
        say "$tool on $flabel: exit $rc (counted as n/a)"
        ROWS+=("| $tool | $thr | $flabel | $pkts | n/a (exit $rc) | n/a | n/a | ${rss:-n/a} | n/a |")
        LAST_SECS="" LAST_RSS="$rss"
        return 1
    fi
    pps=$(echo "$pkts / $secs" | bc -l | xargs printf '%.0f')
    if [ "$tool" = "floor (libpcap loop)" ]; then FLOOR[$flabel]=$secs; fi
    if [ -n "${FLOOR[$flabel]:-}" ]; then ratio=$(echo "$secs / ${FLOOR[$flabel]}" | bc -l | xargs printf '%.1f'); else ratio=n/a; fi
    ROWS+=("| $tool | $thr | $flabel | $pkts | $(printf '%.2f' "$secs") | $cpu | $(printf "%'d" "$pps" 2>/dev/null || echo "$pps") | $rss | $ratio |")
    say "$(printf '%-28s t%-2s %-18s %10s pkts %8.2f s (cpu %s) %12s pkt/s %8s MB  x%s' "$tool" "$thr" "$flabel" "$pkts" "$secs" "$cpu" "$pps" "$rss" "$ratio")"
    LAST_SECS=$secs LAST_RSS=$rss
    return 0
}
count_pkts() { "$DIR/pcap_floor" "$@" | awk '{print $1}'; }

# ------------------------------------------------------------------ verification (100k pair)
VERIFY_MD=""
if [ "$VERIFY" = 1 ]; then
    gen_cached verify --pair "$DIR/verify" -n 100000 -c "$CLIENTS" --offset 1.5 --drift-ppm 30 || exit 2
    v_in="$DIR/verify-inside.pcap" v_out="$DIR/verify-outside.pcap"
    mal_in=$(tshark -r "$v_in" -Y _ws.malformed 2>/dev/null | wc -l)
    mal_out=$(tshark -r "$v_out" -Y _ws.malformed 2>/dev/null | wc -l)
    phs=$(tshark -r "$v_in" -q -z io,phs 2>/dev/null)
    cnt() { echo "$phs" | awk -v p="$1" '$1==p {gsub("frames:","",$2); s+=$2} END {print s+0}'; }
    tcpd_err=$(tcpdump -nn -r "$v_in" 2>&1 >/dev/null | grep -v '^reading from' | wc -l)
    tcpd_bad=$(tcpdump -nn -r "$v_in" 2>/dev/null | grep -c -i -E 'truncated|malformed|\[\|' )
    pc=$(python3 "$HERE/pair_check.py" "$DIR/verify" --offset 1.5 --drift-ppm 30 2>&1)
    say "verification: malformed inside $mal_in outside $mal_out; $(echo "$pc" | tail -1)"
    VERIFY_MD=$(cat <<EOF
Generated with \`gen --pair verify -n 100000 -c $CLIENTS --offset 1.5 --drift-ppm 30\`:

| check | result |
|---|---|
| \`tshark -r verify-inside.pcap -Y _ws.malformed \| wc -l\` | $mal_in |
| \`tshark -r verify-outside.pcap -Y _ws.malformed \| wc -l\` | $mal_out |
| tcpdump errors / truncated or malformed lines (inside) | $tcpd_err / $tcpd_bad |
| frames dissected as isakmp (UDP 500 + inside udpencap) | $(cnt isakmp) |
| udpencap (UDP 4500) / esp inside it | $(cnt udpencap) / $(cnt esp) (esp total incl. raw) |
| ah / gre (ppp) / pptp / dns / tls | $(cnt ah) / $(cnt gre) / $(cnt pptp) / $(cnt dns) / $(cnt tls) |
| \`tests/bench/pair_check.py\` (outside = inside through NAPT, byte for byte) | $(echo "$pc" | head -1 | sed 's/^pair_check: //') — **$(echo "$pc" | tail -1 | sed 's/^pair_check: //')** |
EOF
)
fi

# ------------------------------------------------------------------ scales
for s in $SCALES; do
    n=$((s * BASE))
    name="s${s}x"
    gen_cached "$name" --pair "$DIR/$name" -n "$n" -c "$CLIENTS" --offset 0.25 --drift-ppm 10 || exit 2
    fin="$DIR/$name-inside.pcap" fout="$DIR/$name-outside.pcap"
    lab="${s}x inside" labp="${s}x pair"
    pin=$(count_pkts "$fin"); ppair=$(count_pkts "$fin" "$fout")
    measure "floor (libpcap loop)" 1 "$lab" "$pin" 0 "$DIR/pcap_floor" "$fin"
    measure "floor (libpcap loop)" 1 "$labp" "$ppair" 0 "$DIR/pcap_floor" "$fin" "$fout"
    if [ -n "$VPNSCOPE" ]; then
        for t in 1 "$THREADS_N"; do
            measure "vpnscope -r --json" "$t" "$lab" "$pin" 0,1 "$VPNSCOPE" --threads "$t" -r "$fin" --json
            measure "vpnscope --inside/--outside" "$t" "$labp" "$ppair" 0,1 "$VPNSCOPE" --threads "$t" --inside "$fin" --outside "$fout" --json
            [ "$THREADS_N" = 1 ] && break
        done
    else
        ROWS+=("| vpnscope -r --json | | $lab | $pin | n/a | n/a | n/a | n/a | n/a |")
        ROWS+=("| vpnscope --inside/--outside | | $labp | $ppair | n/a | n/a | n/a | n/a | n/a |")
    fi
    if [ "$s" -le 4 ]; then
        measure "tcpdump -nn -r" 1 "$lab" "$pin" 0 tcpdump -nn -r "$fin"
    fi
    if [ "$s" = 1 ]; then
        measure "tshark -T fields" 1 "$lab" "$pin" 0 tshark -r "$fin" -T fields -e frame.number -e ip.src -e ip.dst
    fi
    if [ -n "$NDPI" ] && { [ "$s" = 1 ] || [ "$s" = 4 ]; }; then
        measure "ndpiReader -q" 1 "$lab" "$pin" 0 "$NDPI" -i "$fin" -q
    fi
done

# ------------------------------------------------------------------ hyperfine (1x, cheap tools)
HYPER_MD=""
first=$(echo "$SCALES" | awk '{print $1}')
if [ "$HYPER" = 1 ] && command -v hyperfine >/dev/null; then
    fin="$DIR/s${first}x-inside.pcap" fout="$DIR/s${first}x-outside.pcap"
    cmds=("$DIR/pcap_floor $fin" "tcpdump -nn -r $fin")
    names=("floor" "tcpdump")
    if [ -n "$VPNSCOPE" ]; then
        cmds+=("$VPNSCOPE -r $fin --json" "$VPNSCOPE --inside $fin --outside $fout --json")
        names+=("vpnscope -r" "vpnscope pair")
    fi
    hargs=()
    for i in "${!cmds[@]}"; do hargs+=(-n "${names[$i]}" "${cmds[$i]}"); done
    say "hyperfine on the ${first}x files"
    if hyperfine -i --warmup 1 --runs 5 --output=null --export-markdown "$DIR/hyperfine.md" "${hargs[@]}" >>"$LOG" 2>&1; then
        HYPER_MD=$(cat "$DIR/hyperfine.md")
    fi
fi

# ------------------------------------------------------------------ flood: memory cap
FLOOD_MD=""
if [ "$FLOOD" = 1 ]; then
    gen_cached flood --flood -o "$DIR/flood.pcap" -n "$FLOOD_N" --flood-flows "$FLOOD_FLOWS" -c "$FLOOD_CLIENTS" || exit 2
    pf=$(count_pkts "$DIR/flood.pcap")
    measure "floor (libpcap loop)" 1 "flood" "$pf" 0 "$DIR/pcap_floor" "$DIR/flood.pcap"
    if [ -n "$VPNSCOPE" ] && measure "vpnscope -r --json" "$THREADS_N" "flood" "$pf" 0,1 "$VPNSCOPE" -r "$DIR/flood.pcap" --json; then
        verdict=$(echo "$LAST_RSS <= $RSS_CAP_MB" | bc -l | sed 's/1/**PASS**/; s/0/**FAIL**/')
        FLOOD_MD="vpnscope peak RSS on the flood capture: **$LAST_RSS MB** (cap $RSS_CAP_MB MB): $verdict, $(printf '%.2f' "$LAST_SECS") s."
    else
        [ -z "$VPNSCOPE" ] && ROWS+=("| vpnscope -r --json | | flood | $pf | n/a | n/a | n/a | n/a | n/a |")
        FLOOD_MD="vpnscope peak RSS on the flood capture: n/a (vpnscope missing or failed)."
    fi
    # the same flood on both sides of a two-capture run: every spoofed flow is seen inside and
    # outside (a router that forwards all of it), the worst case for the correlator's tables
    if [ -n "$VPNSCOPE" ] && measure "vpnscope --inside/--outside" "$THREADS_N" "flood both sides" "$((pf * 2))" 0,1 "$VPNSCOPE" --inside "$DIR/flood.pcap" --outside "$DIR/flood.pcap" --json; then
        verdict=$(echo "$LAST_RSS <= $RSS_CAP2_MB" | bc -l | sed 's/1/**PASS**/; s/0/**FAIL**/')
        FLOOD_MD="$FLOOD_MD Two-capture mode with the flood capture as both sides: **$LAST_RSS MB** (cap $RSS_CAP2_MB MB): $verdict, $(printf '%.2f' "$LAST_SECS") s."
    fi
    FLOOD_MD="Flood capture: \`gen --flood -n $FLOOD_N --flood-flows $FLOOD_FLOWS -c $FLOOD_CLIENTS\` ($FLOOD_FLOWS one-packet spoofed flows — raw ESP with random SPIs and UDP 4500 from random ports, from distinct sources — among the traffic of $FLOOD_CLIENTS genuine two-way tunnels). $FLOOD_MD"
fi

# ------------------------------------------------------------------ 15,000 tunnels: report memory
# One capture point with 15,000 real clients (3 M packets): the peak RSS of reading it and writing
# its report, against the same single-capture cap as the flood.
MANY_MD=""
if [ "$FLOOD" = 1 ]; then
    gen_cached many -o "$DIR/many.pcap" -n 3000000 -c 15000 || exit 2
    pm=$(count_pkts "$DIR/many.pcap")
    if [ -n "$VPNSCOPE" ] && measure "vpnscope -r --json" "$THREADS_N" "15000 clients" "$pm" 0,1 "$VPNSCOPE" -r "$DIR/many.pcap" --json; then
        verdict=$(echo "$LAST_RSS <= $RSS_CAP_MB" | bc -l | sed 's/1/**PASS**/; s/0/**FAIL**/')
        many_rss=$LAST_RSS many_secs=$LAST_SECS
        many_lines=$("$VPNSCOPE" -r "$DIR/many.pcap" 2>/dev/null | wc -l)
        many_nat=$("$VPNSCOPE" -r "$DIR/many.pcap" --json 2>/dev/null | grep -c '"kind":"nat_traversal"')
        MANY_MD="vpnscope peak RSS on \`gen -n 3000000 -c 15000\` (15,000 clients, one capture point, JSON report): **$many_rss MB** (cap $RSS_CAP_MB MB): $verdict, $(printf '%.2f' "$many_secs") s. Text report: $many_lines lines; $many_nat \`nat_traversal\` findings (healthy NAT-T tunnels grouped by cause)."
    else
        MANY_MD="vpnscope peak RSS on the 15,000-client capture: n/a (vpnscope missing or failed)."
    fi
fi

# ------------------------------------------------------------------ report
cpu=$(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //')
mem=$(awk '/MemTotal/ {printf "%.0f GB", $2/1048576}' /proc/meminfo)
vs_ver=n/a; [ -n "$VPNSCOPE" ] && vs_ver=$("$VPNSCOPE" --version 2>/dev/null | head -1); [ -z "$vs_ver" ] && vs_ver=n/a
GEN_MD="| capture | packets (inside+outside) | seconds | packets/s |
|---|---|---|---|"
for k in verify $(for s in $SCALES; do echo "s${s}x"; done) flood; do
    [ -n "${GEN_SECS[$k]:-}" ] || continue
    tot=$(echo "${GEN_PKTS[$k]}" | bc)
    GEN_MD+=$'\n'"| $k | ${GEN_PKTS[$k]} | ${GEN_SECS[$k]} | $(echo "$tot / ${GEN_SECS[$k]}" | bc -l | xargs printf '%.0f') |"
done
cmdline="tests/bench/bench.sh${ARGS_ORIG:+ $ARGS_ORIG}"
{
    echo "# vpnscope benchmarks"
    echo
    echo "Reproduce: \`$cmdline\` (from the repository root; captures go to \`$DIR\`, build log \`$LOG\`)."
    echo
    echo "- Date: $(date -u '+%Y-%m-%d %H:%M UTC')"
    echo "- Machine: $(nproc) cores, $cpu, $mem RAM, $(uname -sr), $(. /etc/os-release; echo "$PRETTY_NAME")"
    echo "- vpnscope: $vs_ver ($( [ -n "$VPNSCOPE" ] && echo "$VPNSCOPE" || echo "not built" )); $(tcpdump --version 2>&1 | head -1); $(tshark --version 2>/dev/null | head -1); nDPI $(pkg-config --modversion libndpi 2>/dev/null || echo '?')"
    echo "- Captures: \`tests/bench/gen.c\`, ${BASE} packets × scale, $CLIENTS clients each with one tunnel (65% IKEv2 NAT-T + ESP-in-UDP, 12% raw ESP, 4% AH, 19% PPTP/GRE) plus ~60% background HTTPS/DNS packets; \`--pair\` writes the inside and outside view of a NAPT router (outside: offset 0.25 s, drift 10 ppm, ~0.1% of outbound tunnel packets dropped). The \"inside\" file is the single-capture input."
    echo "- Load average (1/5/15 min) at start: $LOAD_START; at end: $(cut -d' ' -f1-3 /proc/loadavg) — with more than $(nproc) the numbers are disturbed by other work; rerun on a quiet machine."
    echo "- Seconds are wall time of one run, CPU s its user+sys time (all threads), peak RSS from \`/usr/bin/time -v\`; \"× floor\" is the time divided by the bare libpcap loop on the same file(s). Files are read from the page cache (run order: floor first). vpnscope exit status 1 (findings) counts as success."
    echo
    echo "## Results"
    echo
    echo "| tool | threads | file | packets | seconds | CPU s | packets/s | peak RSS MB | × floor |"
    echo "|---|---|---|---|---|---|---|---|---|"
    printf '%s\n' "${ROWS[@]}"
    echo
    if [ -n "$HYPER_MD" ]; then echo "## hyperfine (${first}x files, 5 runs, 1 warm-up)"; echo; echo "$HYPER_MD"; echo; fi
    if [ -n "$FLOOD_MD" ]; then echo "## Memory under a flow flood"; echo; echo "$FLOOD_MD"; echo; fi
    if [ -n "$MANY_MD" ]; then echo "## Report memory with 15,000 tunnels"; echo; echo "$MANY_MD"; echo; fi
    echo "## Capture generation"
    echo
    echo "$GEN_MD"
    echo
    echo "(Generation is bound by writing to the page cache; the generator's own CPU time is ~0.4 s per million packets.)"
    echo
    if [ -n "$VERIFY_MD" ]; then echo "## Generated captures verified"; echo; echo "$VERIFY_MD"; echo; fi
} >"$OUT"
say "wrote $OUT"
column -t -s'|' <(printf '%s\n' "${ROWS[@]}") >&2 || true

if [ "$LIVE" = 1 ] && [ -n "$VPNSCOPE" ]; then
    say "live capture: zero-drop rate (tests/bench/live_bench.sh)"
    if gcc -O2 -std=c11 -Wall -Wextra -o "$DIR/pktgen" "$HERE/pktgen.c" -lpcap; then
        printf '\n## Live capture (tests/bench/live_bench.sh, this run)\n' >>"$OUT"
        VPNSCOPE_BIN="$VPNSCOPE" PKTGEN="$DIR/pktgen" VPNSCOPE_BENCH_DIR="$DIR" \
            bash "$HERE/live_bench.sh" --flat --drain 80000 ${LIVE_BENCH_ARGS:-} --out "$OUT" >&2 ||
            say "live_bench.sh ended with status $? (77: skipped, not root)"
    else
        say "pktgen.c does not build"
    fi
fi
if [ "$CLEAN" = 1 ]; then rm -f "$DIR"/*.pcap "$DIR"/*.stamp; fi
exit 0
