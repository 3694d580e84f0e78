#!/usr/bin/env bash
# nat_clockstep_big.sh - forward clock steps in one capture larger than the reader's 1 MiB window.
# The step detector keeps the packets before a silence by reference into the reader's buffer and
# copies them only when the reader is about to move them (clockstep_fwd.c, cin_on_move): here the
# 256 packets before each silence straddle a buffer move, so a copy made too late (or a pointer
# kept past the move) reads other packets' bytes and the step is missed or misplaced.
# The capture (written below): two conversations, ESP both ways (4 SPIs), 1,400-byte packets
# every 25 ms in turn, 4,000 frames (5.7 MB); the clock jumps forward one hour at frames 800, 1500,
# 2300 and 3000 (the moves fall about every 727 frames). Checked plain, gzip and zstd, and through a
# pipe: four forward steps, each at its frame, the counters continuing.
set -uo pipefail

BIN=${VPNSCOPE_BIN:-}
. "$(dirname "$0")/lib_check.sh" # skip, ok, ko, check_done
[ -n "$BIN" ] && [ -x "$BIN" ] || skip "VPNSCOPE_BIN not set or not executable"
command -v python3 >/dev/null || skip "python3 not installed"
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

python3 - "$TMP/big.pcap" <<'EOF'
import struct, sys
STEPS = {800, 1500, 2300, 3000}
hosts = [((10, 0, 0, 1), (198, 51, 100, 1)), ((10, 0, 0, 2), (198, 51, 100, 2))]
flows = []  # (src, dst, spi)
for k, (c, s) in enumerate(hosts):
    flows.append((c, s, 0x1000 + k))
    flows.append((s, c, 0x2000 + k))
seq = [0] * len(flows)
out = open(sys.argv[1], "wb")
out.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
t = 1767225600 * 1000000
for frame in range(1, 4001):
    if frame in STEPS:
        t += 3600 * 1000000
    i = (frame - 1) % len(flows)
    src, dst, spi = flows[i]
    seq[i] += 1
    esp = struct.pack(">II", spi, seq[i]) + bytes((frame + j) & 0xFF for j in range(1392))
    ip = struct.pack(">BBHHHBBH4s4s", 0x45, 0, 20 + len(esp), frame & 0xFFFF, 0, 64, 50, 0,
                     bytes(src), bytes(dst))
    sm = sum(struct.unpack(">10H", ip))
    sm = (sm & 0xFFFF) + (sm >> 16)
    sm = (sm & 0xFFFF) + (sm >> 16)
    ip = ip[:10] + struct.pack(">H", ~sm & 0xFFFF) + ip[12:]
    eth = b"\x00\x11\x22\x33\x44\x55\x66\x77\x88\x99\xaa\xbb\x08\x00"
    pkt = eth + ip + esp
    out.write(struct.pack("<IIII", t // 1000000, t % 1000000, len(pkt), len(pkt)))
    out.write(pkt)
    t += 25000
EOF
[ -s "$TMP/big.pcap" ] || skip "could not write the capture"

want='"clock_steps":\[{"capture":"single","frame":800,[^]]*"direction":"forward"[^]]*},{"capture":"single","frame":1500,[^]]*"direction":"forward"[^]]*},{"capture":"single","frame":2300,[^]]*"direction":"forward"[^]]*},{"capture":"single","frame":3000,[^]]*"direction":"forward"[^]]*}\],"clock_steps_total":4'
check() { # DESC FILE
    if grep -q "$want" "$2"; then ok "$1: four forward steps at frames 800, 1500, 2300, 3000"; else ko "$1" "$2"; fi
}
"$BIN" -r "$TMP/big.pcap" --json >"$TMP/plain.json"
check "plain file" "$TMP/plain.json"
"$BIN" -r - --json <"$TMP/big.pcap" >"$TMP/pipe.json"
check "through a pipe" "$TMP/pipe.json"
if command -v gzip >/dev/null; then
    gzip -c "$TMP/big.pcap" >"$TMP/big.pcap.gz"
    "$BIN" -r "$TMP/big.pcap.gz" --json >"$TMP/gz.json"
    check "gzip" "$TMP/gz.json"
fi
if command -v zstd >/dev/null; then
    zstd -q -c "$TMP/big.pcap" >"$TMP/big.pcap.zst"
    "$BIN" -r "$TMP/big.pcap.zst" --json >"$TMP/zst.json"
    check "zstd" "$TMP/zst.json"
fi
check_done
