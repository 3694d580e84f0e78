#!/usr/bin/env bash
# analyse-bundled.sh - builds vpnscope (release) and runs it on every bundled capture in pcaps/:
# every capture on its own (--batch: one line per capture and a rollup), then each inside/outside
# pair in two-capture mode. Some bundled captures are damaged on purpose (cut-*: cut off
# mid-record; they exit 2 by design): the script fails only when vpnscope itself crashes.
set -uo pipefail
cd "$(dirname "$0")/.."
cmake -S . -B build/release -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null && cmake --build build/release -j"$(nproc)" >/dev/null || exit 2
bin=build/release/vpnscope
worst=0
echo "=================== vpnscope --batch pcaps"
"$bin" --no-progress --batch pcaps; rc=$?
[ $rc -gt $worst ] && worst=$rc
for in in pcaps/*-inside.pcap; do
    out=${in%-inside.pcap}-outside.pcap
    [ -f "$out" ] || continue
    echo "=================== vpnscope --inside $in --outside $out"
    "$bin" --no-progress --inside "$in" --outside "$out"; rc=$?
    [ $rc -gt $worst ] && worst=$rc
done
echo "analyse-bundled: done (worst exit status $worst: 0 clean, 1 findings, 2 input error or damaged capture)"
[ $worst -le 2 ]
