#!/usr/bin/env bash
# analyse-bundled.sh - builds vpnscope (release) and runs it on every bundled capture in pcaps/:
# each single capture, then each inside/outside pair in two-capture mode.
set -uo pipefail
cd "$(dirname "$0")/.."
cmake -S . -B build/release -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null && cmake --build build/release -j"$(nproc)" >/dev/null || exit 2
bin=build/release/vpnscope
worst=0
for f in pcaps/*.pcap; do
    echo "=================== vpnscope -r $f"
    "$bin" --no-progress -r "$f"; rc=$?
    [ $rc -gt $worst ] && worst=$rc
done
for in in pcaps/*-inside.pcap; do
    out=${in%-inside.pcap}-outside.pcap
    [ -f "$out" ] || continue
    echo "=================== vpnscope --inside $in --outside $out"
    "$bin" --no-progress --inside "$in" --outside "$out"; rc=$?
    [ $rc -gt $worst ] && worst=$rc
done
echo "analyse-bundled: done (worst exit status $worst: 0 clean, 1 findings, 2 error)"
[ $worst -lt 2 ]
