#!/usr/bin/env bash
# golden_derived.sh - captures as they arrive elsewhere give the verdicts of the originals.
# 1. The derived captures committed in pcaps/ (pcaps/README.md "Derived captures"): the findings
#    and NAT mappings of each must equal its original's (tests/encap/compare.py; a 96-byte snaplen
#    copy is compared loosely: same kinds, confidence, sessions, frames and mappings).
# 2. When scapy (/usr/bin/python3) and editcap are there: every lab scenario below, both captures,
#    wrapped in each mirror wrapper (tests/lab/wrap.py), re-framed as Linux cooked v2 and cut to
#    96 bytes, compared the same way in two-capture mode.
# Skips (77) without python3; part 2 is skipped (said) without scapy/editcap unless CI=true.
set -uo pipefail
src=${VPNSCOPE_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
bin=${VPNSCOPE_BIN:-$src/build/release/vpnscope}
. "$(dirname "$0")/lib_check.sh" # skip, ok, ko, check_done
command -v python3 >/dev/null || skip "python3 not installed"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
p=$src/pcaps

# run NAME OUT ARGS...: vpnscope --json on the inputs
run() {
    local out=$1; shift
    "$bin" --no-progress --json "$@" >"$out" 2>"$out.err"
    local rc=$?
    [ "$rc" -le 2 ] || { echo "vpnscope exited $rc: $*"; cat "$out.err"; return 1; }
}

# check LABEL LOOSE ORIG_ARGS -- DERIVED_ARGS
check() {
    local label=$1 loose=$2; shift 2
    local a=() b=() seen=0
    for x in "$@"; do
        if [ "$x" = -- ]; then seen=1; continue; fi
        if [ $seen = 0 ]; then a+=("$x"); else b+=("$x"); fi
    done
    if run "$tmp/a.jsonl" "${a[@]}" && run "$tmp/b.jsonl" "${b[@]}" &&
        python3 "$src/tests/encap/compare.py" "$tmp/a.jsonl" "$tmp/b.jsonl" $loose >"$tmp/diff"; then
        ok "$label"
    else
        ko "$label" "$tmp/diff"
    fi
}

# 1. committed derived captures
dual() { echo --inside "$1-inside.pcap" --outside "$1-outside.pcap"; }
# shellcheck disable=SC2046
{
check vxlan-esp_collision "" $(dual "$p/esp_collision") -- $(dual "$p/vxlan-esp_collision")
check gretap-stale_nat "" $(dual "$p/stale_nat") -- $(dual "$p/gretap-stale_nat")
check erspan2-pptp_nohelper-in "" -r "$p/pptp_nohelper-inside.pcap" -- -r "$p/erspan2-pptp_nohelper-inside.pcap"
check geneve-natt_not_used-in "" -r "$p/natt_not_used-inside.pcap" -- -r "$p/geneve-natt_not_used-inside.pcap"
check erspan3-ike_no_response-in "" -r "$p/ike_no_response-inside.pcap" -- -r "$p/erspan3-ike_no_response-inside.pcap"
check sll2-esp_collision-in "" -r "$p/esp_collision-inside.pcap" -- -r "$p/sll2-esp_collision-inside.pcap"
check s96-ike_no_response-in --loose -r "$p/ike_no_response-inside.pcap" -- -r "$p/s96-ike_no_response-inside.pcap"
check s96-ike_no_response-out --loose -r "$p/ike_no_response-outside.pcap" -- -r "$p/s96-ike_no_response-outside.pcap"
check s96-ike_no_response-dual --loose $(dual "$p/ike_no_response") -- $(dual "$p/s96-ike_no_response")
check s96-natt_not_used-dual --loose $(dual "$p/natt_not_used") -- $(dual "$p/s96-natt_not_used")
}

# 2. the matrix, generated here
scen="esp_collision stale_nat pptp_nohelper ike_no_response natt_not_used"
if ! /usr/bin/python3 -c "import scapy" 2>/dev/null || ! command -v editcap >/dev/null; then
    if [ "${CI:-}" = "true" ]; then echo "FAIL: scapy or editcap missing under CI=true"; exit 1; fi
    echo "note: scapy (/usr/bin/python3) or editcap missing: the generated matrix is skipped"
else
    for mode in vxlan geneve erspan2 erspan3 gretap sll2; do
        args=()
        for s in $scen; do
            for side in inside outside; do args+=("$p/$s-$side.pcap" "$tmp/$mode-$s-$side.pcap"); done
        done
        /usr/bin/python3 "$src/tests/lab/wrap.py" "$mode" "${args[@]}" || ko "wrap.py $mode"
    done
    for s in $scen; do
        for side in inside outside; do
            editcap -s 96 "$p/$s-$side.pcap" "$tmp/s96-$s-$side.pcap" >/dev/null 2>&1 || ko "editcap $s-$side"
        done
    done
    for s in $scen; do
        for mode in vxlan geneve erspan2 erspan3 gretap sll2 s96; do
            loose=""
            [ $mode = s96 ] && loose=--loose
            # shellcheck disable=SC2046
            check "$mode-$s-dual" "$loose" $(dual "$p/$s") -- $(dual "$tmp/$mode-$s")
        done
    done
fi
check_done
