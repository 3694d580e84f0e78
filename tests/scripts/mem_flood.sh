#!/usr/bin/env bash
# mem_flood.sh - a flood of spoofed one-packet flows (random raw-ESP SPIs and UDP ports from
# distinct sources) mixed with genuine two-way tunnels: the tables must evict (and count) the
# flood, and keep every genuine two-way SA. (Peak memory is measured by tests/bench/bench.sh.)
set -uo pipefail
src=${VPNSCOPE_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
bin=${VPNSCOPE_BIN:-$src/build/release/vpnscope}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cc -O2 -std=c11 -o "$tmp/gen" "$src/tests/bench/gen.c" -lm || { echo "cannot build the generator"; exit 1; }
"$tmp/gen" --flood -o "$tmp/flood.pcap" -n 400000 --flood-flows 350000 -c 300 2>/dev/null || exit 1
"$bin" --no-progress --no-ndpi -r "$tmp/flood.pcap" --json >"$tmp/out.jsonl"
rc=$?
# two capture points with the flood on both sides share the caps of one capture
"$bin" --no-progress --no-ndpi --inside "$tmp/flood.pcap" --outside "$tmp/flood.pcap" --json \
    >"$tmp/two.jsonl"
rc2=$?
sa_max=$(sed -n 's/^#define IPSEC_SA_MAX \([0-9]*\).*/\1/p' "$src/include/vpnscope/config.h")
python3 - "$tmp/out.jsonl" "$rc" "$tmp/two.jsonl" "$rc2" "$sa_max" <<'PY'
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
rc = int(sys.argv[2])
two = [json.loads(l) for l in open(sys.argv[3])]
rc2, sa_max = int(sys.argv[4]), int(sys.argv[5])
summ = recs[-1]
sas = [r for r in recs if r["type"] in ("esp_sa", "ah_sa")]
genuine = [s for s in sas if s["packets"] > 1]
ok = True
def check(cond, what):
    global ok
    print(("ok   - " if cond else "FAIL - ") + what)
    ok &= bool(cond)
check(rc in (0, 1), "exit status %d" % rc)
check(summ["type"] == "summary" and summ["packets"] == 400000, "every packet counted (%s)" % summ.get("packets"))
check(summ["packets"] == summ["decoded"] + summ["truncated"] + summ["invalid"] + summ["non_ip"] + summ["filtered"],
      "the summary is an exact partition")
check(summ["evicted"]["flows"] > 0, "flood flows evicted and counted (%d)" % summ["evicted"]["flows"])
check(summ["evicted"]["ipsec_sa"] > 0, "flood SAs evicted and counted (%d)" % summ["evicted"]["ipsec_sa"])
check(len(genuine) >= 100, "genuine multi-packet SAs kept (%d)" % len(genuine))
check(all(s.get("paired") for s in genuine), "every genuine SA still has its reverse SA")
check(summ["evicted"].get("mtu", 0) > 0, "flood path-MTU records evicted and counted (%d)" % summ["evicted"].get("mtu", 0))
# two capture points: each holds half of one capture's tables (memory flat), evictions counted,
# the genuine tunnels kept on both sides
check(rc2 in (0, 1), "two captures: exit status %d" % rc2)
s2 = two[-1]
check(s2["type"] == "summary" and s2["evicted"]["ipsec_sa"] > summ["evicted"]["ipsec_sa"],
      "two captures: SA evictions counted (%d)" % s2["evicted"]["ipsec_sa"])
check(s2["evicted"].get("mtu", 0) > 0, "two captures: path-MTU evictions counted")
for side in ("inside", "outside"):
    sas2 = [r for r in two if r["type"] in ("esp_sa", "ah_sa") and r.get("capture") == side]
    g2 = [r for r in sas2 if r["packets"] > 1]
    check(0 < len(sas2) <= sa_max // 2, "two captures: %s holds %d SAs (cap %d / 2)" % (side, len(sas2), sa_max))
    check(len(g2) == len(genuine) and all(r.get("paired") for r in g2),
          "two captures: %s keeps the %d genuine SAs, paired (%d)" % (side, len(genuine), len(g2)))
print("%d passed, %d failed" % ((14, 0) if ok else (0, 1)))
sys.exit(0 if ok else 1)
PY
