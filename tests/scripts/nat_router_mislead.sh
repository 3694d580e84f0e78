#!/usr/bin/env bash
# nat_router_mislead.sh - --router captures whose interfaces mislead the inside/outside split
# (tests/lab/router_mislead.py: a third interface first in the file; "cgnat": the outside in
# 100.64/10 and the third interface public only; "busywan": the router's public address busiest on
# the third interface), made at test time from several lab scenarios: each must give the findings
# (kind, severity, confidence), the number of NAT mappings and the exit status of
# --inside/--outside on the same packets, and say on stderr which interface it took as outside
# and why. Skips (77) without scapy or mergecap; under CI=true a skip is a failure.
set -uo pipefail
src=${VPNSCOPE_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
bin=${VPNSCOPE_BIN:-$src/build/release/vpnscope}
. "$(dirname "$0")/lib_check.sh" # skip, ok, ko, check_done
py=/usr/bin/python3
[ -x "$py" ] && "$py" -c 'import scapy.all' 2>/dev/null || skip "python3-scapy not installed"
command -v mergecap >/dev/null || skip "mergecap not installed"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
summary() { # FILE.jsonl -> findings and mapping count, one line
    python3 -c 'import json,sys
r=[json.loads(l) for l in open(sys.argv[1])]
f=sorted((x["kind"],x["severity"],x["confidence"]) for x in r if x["type"]=="finding")
print(f, sum(1 for x in r if x["type"]=="nat_mapping"))' "$1"
}
for sc in esp_collision stale_nat natt_keepalive_ok pptp_nohelper wg_one_way; do
    in=$src/pcaps/$sc-inside.pcap out=$src/pcaps/$sc-outside.pcap
    "$bin" --no-progress --json --inside "$in" --outside "$out" >"$tmp/dual.jsonl" 2>/dev/null
    want_rc=$?
    want=$(summary "$tmp/dual.jsonl")
    for mode in cgnat busywan; do
        "$py" "$src/tests/lab/router_mislead.py" "$mode" "$in" "$out" "$tmp/r.pcapng" 2>"$tmp/py.err" ||
            { ko "$sc $mode: router_mislead.py" "$tmp/py.err"; continue; }
        "$bin" --no-progress --json --router "$tmp/r.pcapng" >"$tmp/r.jsonl" 2>"$tmp/r.err"
        rc=$?
        got=$(summary "$tmp/r.jsonl")
        if [ "$got" = "$want" ] && [ "$rc" = "$want_rc" ] && grep -q "interface 2 taken as outside" "$tmp/r.err"; then
            ok "$sc $mode: --router gives the two-capture verdict ($want, exit $rc)"
        else
            ko "$sc $mode: --router $got exit $rc, two captures $want exit $want_rc" "$tmp/r.err"
        fi
    done
done
check_done
