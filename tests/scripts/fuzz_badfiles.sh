#!/usr/bin/env bash
# fuzz_badfiles.sh - malformed capture FILES (not packets): generates broken pcap/pcapng files with
# python3 (stdlib only) and runs `vpnscope -r FILE --json` on each. Expected per file:
#   cut  exit 0/1 and a "warning" line on stderr (corrupt or cut-off tail; what came before stands)
#   bad  exit 2 and exactly one line on stderr (unreadable file)
#   ok   exit 0/1, stderr empty or warnings only (odd but readable)
# Never a crash (exit >= 128, sanitizer report) or a hang (timeout 20).
set -uo pipefail
bin=${VPNSCOPE_BIN:-build/release/vpnscope}
. "$(dirname "$0")/lib_check.sh" # skip, ok, ko, check_done
command -v python3 >/dev/null || skip "python3 not found"
[ -x "$bin" ] || skip "vpnscope binary not found: $bin (set VPNSCOPE_BIN)"
command -v timeout >/dev/null || skip "timeout not found"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/vpnscope-badfiles.XXXXXX") || exit 1
[ -n "${BADFILES_KEEP:-}" ] || trap 'rm -rf "$tmp"' EXIT
# Sanitizer reports must not hide behind exit 1 (a "finding" status).
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}exitcode=199"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:+$UBSAN_OPTIONS:}halt_on_error=1:exitcode=199"

python3 - "$tmp" <<'EOF' || exit 1
import os, struct, sys

out = sys.argv[1]
manifest = []


def put(name, kind, data):
    with open(os.path.join(out, name), "wb") as f:
        f.write(data)
    manifest.append((name, kind))


# A small valid frame: Ethernet / IPv4 / UDP 500 -> 500, 28 bytes of IKE-looking payload.
def frame(n=0):
    ike = bytes(range(8)) + bytes(8) + b"\x21\x20\x22\x08" + b"\x00\x00\x00\x00" + b"\x00\x00\x00\x1c"
    udp = struct.pack(">HHHH", 500, 500, 8 + len(ike), 0) + ike
    ip = struct.pack(">BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), n, 0, 64, 17, 0,
                     bytes([10, 0, 0, 1]), bytes([10, 0, 0, 2])) + udp
    return b"\x02\x00\x00\x00\x00\x02" + b"\x02\x00\x00\x00\x00\x01" + b"\x08\x00" + ip


F = frame()


# ---- pcap ----
def ghdr(magic=0xA1B2C3D4, major=2, minor=4, snap=65535, lt=1, e="<"):
    return struct.pack(e + "IHHiIII", magic, major, minor, 0, 0, snap, lt)


def rec(data, caplen=None, length=None, sec=1700000000, usec=0, e="<"):
    c = len(data) if caplen is None else caplen
    l = len(data) if length is None else length
    return struct.pack(e + "IIII", sec, usec, c, l) + data


good = ghdr() + rec(F) + rec(frame(1), usec=1000)
put("pcap_ok.pcap", "ok", good)
put("pcap_empty.pcap", "bad", b"")
put("pcap_hdr_cut.pcap", "bad", ghdr()[:10])
put("pcap_hdr_only_magic.pcap", "bad", ghdr()[:4])
put("pcap_wrong_magic.pcap", "bad", b"\xde\xad\xbe\xef" + ghdr()[4:] + rec(F))
put("pcap_text.pcap", "bad", b"this is not a capture file at all\n" * 4)
put("pcap_archaic_version.pcap", "bad", ghdr(major=1, minor=0) + rec(F))
put("pcap_unknown_linktype.pcap", "bad", ghdr(lt=147) + rec(F))
put("pcap_no_records.pcap", "ok", ghdr())
put("pcap_big_endian.pcap", "ok", ghdr(e=">") + rec(F, e=">"))
put("pcap_nsec_bad_frac.pcap", "ok", ghdr(magic=0xA1B23C4D) + rec(F, usec=0xFFFFFFFF))
put("pcap_usec_bad_frac.pcap", "ok", ghdr() + rec(F, usec=0xFFFFFFFF) + rec(F, usec=5))
put("pcap_snaplen_zero.pcap", "ok", ghdr(snap=0) + rec(F))
put("pcap_snaplen_huge.pcap", "ok", ghdr(snap=0x7FFFFFFF) + rec(F))
put("pcap_caplen_gt_snaplen.pcap", "ok", ghdr(snap=40) + rec(F) + rec(F))
put("pcap_caplen_gt_len.pcap", "ok", ghdr() + rec(F, length=20) + rec(F, length=0))
put("pcap_len_absurd.pcap", "ok", ghdr() + rec(F, length=0xFFFFFFFF))
put("pcap_caplen_zero.pcap", "ok", ghdr() + rec(b"") + rec(F))
put("pcap_caplen_absurd.pcap", "cut", ghdr() + rec(F) + rec(F, caplen=0xFFFFFFFF))
put("pcap_caplen_absurd_first.pcap", "cut", ghdr() + rec(F, caplen=0xFFFFFFFF))
put("pcap_caplen_big.pcap", "cut", ghdr() + rec(F) + rec(F, caplen=0x7FFFFF00))
put("pcap_last_record_cut.pcap", "cut", good[:-7])
put("pcap_last_header_cut.pcap", "cut", good + rec(F)[:9])
put("pcap_tiny_frames.pcap", "ok", ghdr() + b"".join(rec(F[:n]) for n in range(len(F))))
put("pcap_raw_garbage.pcap", "ok", ghdr(lt=101) + b"".join(rec(bytes([0x45 + i % 3]) * (i % 60)) for i in range(64)))

# ---- pcapng ----
BOM = 0x1A2B3C4D


def blk(btype, body, e="<", blen=None, tail=None):
    body = body + b"\0" * (-len(body) % 4)
    n = 12 + len(body) if blen is None else blen
    t = 12 + len(body) if tail is None else tail
    return struct.pack(e + "II", btype, n) + body + struct.pack(e + "I", t)


def shb(e="<", bom=BOM):
    return blk(0x0A0D0D0A, struct.pack(e + "IHHq", bom, 1, 0, -1), e)


def opt(code, val, e="<"):
    return struct.pack(e + "HH", code, len(val)) + val + b"\0" * (-len(val) % 4)


def idb(lt=1, snap=0, opts=b"", e="<"):
    return blk(1, struct.pack(e + "HHI", lt, 0, snap) + opts, e)


def epb(data, ifid=0, ts=1700000000000000, caplen=None, length=None, e="<"):
    c = len(data) if caplen is None else caplen
    l = len(data) if length is None else length
    return blk(6, struct.pack(e + "IIIII", ifid, ts >> 32, ts & 0xFFFFFFFF, c, l) + data, e)


def spb(data, length=None, e="<"):
    return blk(3, struct.pack(e + "I", len(data) if length is None else length) + data, e)


ng = shb() + idb() + epb(F) + epb(frame(1), ts=1700000000001000)
put("ng_ok.pcapng", "ok", ng)
put("ng_big_endian.pcapng", "ok", shb(">") + idb(e=">") + epb(F, e=">"))
put("ng_shb_cut.pcapng", "bad", shb()[:8])
put("ng_shb_bom_cut.pcapng", "bad", shb()[:10])
put("ng_shb_bad_bom.pcapng", "bad", shb(bom=0x11223344) + idb() + epb(F))
put("ng_shb_only.pcapng", "bad", shb())
put("ng_no_idb.pcapng", "bad", shb() + blk(0x0BAD, b"x" * 8))
put("ng_packet_before_idb.pcapng", "bad", shb() + epb(F) + idb())
put("ng_first_block_len_odd.pcapng", "bad", shb() + blk(1, struct.pack("<HHI", 1, 0, 0), blen=18))
put("ng_unknown_blocks.pcapng", "ok",
    shb() + blk(0x0BAD, b"abc") + idb() + blk(0x40000BAD, b"") + epb(F) + blk(5, b"\0" * 20) +
    blk(4, b"\0" * 4) + blk(0xFFFFFFFF, b"z" * 100) + epb(F))
put("ng_block_len_not_mult4.pcapng", "cut", ng + blk(0x0BAD, b"abcd", blen=19) + epb(F))
put("ng_block_len_zero.pcapng", "cut", ng + struct.pack("<II", 6, 0) + epb(F))
put("ng_block_len_8.pcapng", "cut", ng + struct.pack("<III", 6, 8, 8) + epb(F))
put("ng_block_len_huge.pcapng", "cut", ng + struct.pack("<II", 6, 0xFFFFFFF0) + b"\0" * 64)
put("ng_block_len_beyond_eof.pcapng", "cut", ng + struct.pack("<II", 6, 0x00100000) + b"\0" * 64)
put("ng_block_len_mismatch.pcapng", "cut", ng + blk(6, b"\0" * 20, tail=1234) + epb(F))
put("ng_last_block_cut.pcapng", "cut", ng + epb(F)[:-10])
put("ng_last_header_cut.pcapng", "cut", ng + epb(F)[:6])
put("ng_idb_after_packets.pcapng", "ok", ng + idb(lt=101) + epb(F[14:], ifid=1) + epb(F))
put("ng_epb_unknown_iface.pcapng", "cut", ng + epb(F, ifid=7) + epb(F))
put("ng_epb_iface_absurd.pcapng", "cut", ng + epb(F, ifid=0xFFFFFFFF))
put("ng_epb_caplen_gt_block.pcapng", "cut", ng + epb(F, caplen=len(F) + 200))
put("ng_epb_caplen_absurd.pcapng", "cut", ng + epb(F, caplen=0xFFFFFFFF))
put("ng_epb_short_body.pcapng", "cut", ng + blk(6, b"\0" * 8))
put("ng_epb_caplen_gt_len.pcapng", "ok", ng + epb(F, length=10) + epb(F, length=0xFFFFFFFF))
put("ng_epb_caplen_zero.pcapng", "ok", ng + epb(b"") + epb(F))
put("ng_spb.pcapng", "ok", ng + spb(F) + spb(F, length=10) + spb(F, length=0xFFFFFFFF) + spb(b""))
put("ng_spb_short.pcapng", "cut", ng + blk(3, b""))
put("ng_spb_no_iface_in_section.pcapng", "cut", ng + shb() + spb(F))
put("ng_epb_no_iface_in_section.pcapng", "cut", ng + shb() + epb(F))
put("ng_second_section.pcapng", "ok", ng + shb(">") + idb(e=">") + epb(F, e=">"))
put("ng_second_shb_bad_bom.pcapng", "cut", ng + shb(bom=0x11223344) + epb(F))
put("ng_many_ifaces.pcapng", "cut", shb() + idb() * 300 + epb(F, ifid=299) + epb(F, ifid=280))
put("ng_idb_snaplen_small.pcapng", "ok", shb() + idb(snap=20) + epb(F) + spb(F))
put("ng_idb_unsupported_lt.pcapng", "bad", shb() + idb(lt=147) + epb(F))
put("ng_idb_mixed_lt.pcapng", "ok", shb() + idb() + idb(lt=147) + epb(F, ifid=1) + epb(F))
put("ng_idb_short.pcapng", "bad", shb() + blk(1, b"") + epb(F))
# a malformed if_tsresol would make every timestamp a guess: refused
put("ng_idb_bad_options.pcapng", "bad",
    shb() + idb(opts=struct.pack("<HH", 9, 0xFFFF) + b"\x06") + epb(F))
tsres = [b"\x7f", b"\xff", b"\x00", b"\x80", b"\x13", b"\x12", b"\xbf", b"\x09"]
for i, r in enumerate(tsres):
    o = opt(9, r) + opt(14, struct.pack("<q", -(1 << 62)) if i % 2 else struct.pack("<Q", (1 << 64) - 1))
    # 10^-127 and 2^-127 units per second do not fit 64 bits: refused; the others are read and
    # a timestamp out of range (before 1970 after the offset, or past 64-bit microseconds) ends
    # the file with a warning
    put(f"ng_idb_tsresol_{i}.pcapng", "bad" if i < 2 else "ok", shb() + idb(opts=o + opt(0, b"")) + epb(F, ts=(1 << 64) - 1) + epb(F, ts=0))
put("ng_idb_opt_beyond_block.pcapng", "ok", shb() + idb(opts=struct.pack("<HH", 2, 400) + b"eth0") + epb(F))

# ---- compressed (detected by magic bytes, whatever the name) ----
import gzip as _gz
gz_ok = _gz.compress(good, mtime=0)
put("gz_ok.pcap", "ok", gz_ok)
put("gz_ng_ok.pcapng.gz", "ok", _gz.compress(ng, mtime=0))
put("gz_two_members.gz", "ok", _gz.compress(good[:30], mtime=0) + _gz.compress(good[30:], mtime=0))
put("gz_cut_in_header.gz", "bad", gz_ok[:12])
put("gz_cut_mid_stream.gz", "cut", _gz.compress(good + rec(F) * 50, mtime=0)[:-20])
put("gz_bad_crc.gz", "cut", gz_ok[:-8] + b"\0\0\0\0" + gz_ok[-4:])
put("gz_trailing_garbage.gz", "cut", gz_ok + b"garbage!")
put("gz_of_text.gz", "bad", _gz.compress(b"not a capture\n" * 10, mtime=0))
put("gz_empty.gz", "bad", _gz.compress(b"", mtime=0))
put("zst_bad_frame.zst", "bad", b"\x28\xb5\x2f\xfd" + b"\xff" * 40)
put("xz_magic.xz", "bad", b"\xfd7zXZ\x00" + b"\0" * 40)
# ---- time on the wire ----
put("pcap_sec_2038.pcap", "ok", ghdr() + rec(F, sec=0x7FFFFFFF) + rec(F, sec=0x80000000) + rec(F, sec=0xFFFFFFFF))
put("pcap_nsec.pcap", "ok", ghdr(magic=0xA1B23C4D) + rec(F, usec=999999999))
put("pcap_modified.pcap", "ok", struct.pack("<IHHiIII", 0xA1B2CD34, 2, 4, 0, 0, 65535, 1) +
    struct.pack("<IIII", 1700000000, 0, len(F), len(F)) + struct.pack("<IHBB", 1, 0x800, 0, 0) + F)
put("ng_tsresol_unsupported_later.pcapng", "cut", ng + idb(opts=opt(9, b"\x14")) + epb(F, ifid=1))
put("ng_tsoffset_before_1970.pcapng", "cut",
    shb() + idb(opts=opt(14, struct.pack("<q", -2000000000))) + epb(F))

with open(os.path.join(out, "MANIFEST"), "w") as f:
    for n, k in manifest:
        f.write(f"{n} {k}\n")
EOF

failed() { ko "$name ($kind): $*" "$tmp/err"; }
while read -r name kind; do
    timeout 20 "$bin" -r "$tmp/$name" --json >"$tmp/out" 2>"$tmp/err" </dev/null
    rc=$?
    lines=$(wc -l <"$tmp/err")
    if [ $rc -eq 124 ]; then
        failed "hang (killed after 20 s)"
        continue
    fi
    if [ $rc -ge 128 ] || [ $rc -eq 199 ] || grep -qE 'AddressSanitizer|runtime error:|LeakSanitizer' "$tmp/err"; then
        failed "crash or sanitizer report (exit $rc)"
        continue
    fi
    case $kind in
    bad)
        if [ $rc -ne 2 ]; then
            failed "exit $rc, want 2"
        elif [ "$lines" -ne 1 ]; then
            failed "$lines lines on stderr, want exactly 1"
        elif ! grep -qF "$name" "$tmp/err"; then
            failed "the error does not name the file"
        elif [ -s "$tmp/out" ]; then
            failed "unreadable file but a report was written"
        else
            ok "$name ($kind)"
        fi
        ;;
    cut)
        # a cut file is never a clean bill: 1 with findings, otherwise 2 (README "Exit status")
        if [ $rc -ne 1 ] && [ $rc -ne 2 ]; then
            failed "exit $rc, want 1 or 2"
        elif ! grep -q 'warning' "$tmp/err"; then
            failed "no warning on stderr"
        elif ! grep 'warning' "$tmp/err" | grep -qF "$name"; then
            failed "the warning does not name the file"
        elif grep -v 'warning' "$tmp/err" | grep -q .; then
            failed "stderr has lines other than warnings"
        elif ! [ -s "$tmp/out" ]; then
            failed "no report for the frames before the damage"
        else
            ok "$name ($kind)"
        fi
        ;;
    ok)
        # 2 is right only when the capture layer reported damage and the report says so
        if [ $rc -eq 2 ] && ! grep -qE 'input_cut|stopped being readable' "$tmp/out"; then
            failed "exit 2 without the report saying the input was damaged"
        elif [ $rc -ne 0 ] && [ $rc -ne 1 ] && [ $rc -ne 2 ]; then
            failed "exit $rc, want 0 or 1"
        elif grep -v 'warning' "$tmp/err" | grep -q .; then
            failed "stderr has lines other than warnings"
        elif ! [ -s "$tmp/out" ]; then
            failed "no report"
        else
            ok "$name ($kind)"
        fi
        ;;
    esac
done <"$tmp/MANIFEST"
check_done
