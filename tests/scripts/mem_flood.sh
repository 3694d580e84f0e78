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
python3 - "$tmp/out.jsonl" "$rc" <<'PY'
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
rc = int(sys.argv[2])
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
print("%d passed, %d failed" % ((7, 0) if ok else (0, 1)))
sys.exit(0 if ok else 1)
PY
