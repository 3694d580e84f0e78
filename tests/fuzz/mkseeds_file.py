#!/usr/bin/env python3
"""mkseeds_file.py - writes the seed corpus of the file-level fuzz target (fuzz_file.c) into
tests/fuzz/corpus-file: small pcap (microsecond, nanosecond, modified, big-endian) and pcapng
(both byte orders, if_tsresol and if_tsoffset options, several sections and interfaces, EPB, SPB
and the obsolete PB) files, and gzip/zstd copies of some. Stdlib only (zstd via the zstd tool
when present). Usage: mkseeds_file.py [OUTDIR]"""
import gzip, os, shutil, struct, subprocess, sys

out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "corpus-file")
os.makedirs(out, exist_ok=True)


def frame(n):
    udp = struct.pack(">HHHH", 4500, 4500, 8 + 12, 0) + struct.pack(">II", 0x1000 + n, n) + b"ABCD"
    ip = struct.pack(">BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), n, 0, 64, 17, 0, bytes([10, 0, 0, 1]),
                     bytes([10, 0, 0, 2])) + udp
    return b"\x02\0\0\0\0\x02\x02\0\0\0\0\x01\x08\x00" + ip


def pcap(magic=0xA1B2C3D4, e="<", lt=1, mod=False, recs=3, sec=1700000000):
    b = struct.pack(e + "IHHiIII", magic, 2, 4, 0, 0, 65535, lt)
    for i in range(recs):
        f = frame(i)
        b += struct.pack(e + "IIII", sec + i, 1000 * i, len(f), len(f))
        if mod:
            b += struct.pack(e + "IHBB", 1, 0x800, 0, 0)
        b += f
    return b


def blk(t, body, e="<"):
    body += b"\0" * (-len(body) % 4)
    return struct.pack(e + "II", t, 12 + len(body)) + body + struct.pack(e + "I", 12 + len(body))


def opt(code, val, e="<"):
    return struct.pack(e + "HH", code, len(val)) + val + b"\0" * (-len(val) % 4)


def shb(e="<"):
    return blk(0x0A0D0D0A, struct.pack(e + "IHHq", 0x1A2B3C4D, 1, 0, -1), e)


def idb(lt=1, opts=b"", e="<"):
    return blk(1, struct.pack(e + "HHI", lt, 0, 0) + opts + (opt(0, b"", e) if opts else b""), e)


def epb(d, ifid=0, ts=1700000000000000, e="<"):
    return blk(6, struct.pack(e + "IIIII", ifid, ts >> 32, ts & 0xFFFFFFFF, len(d), len(d)) + d, e)


seeds = {
    "us.pcap": pcap(),
    "ns.pcap": pcap(0xA1B23C4D),
    "be.pcap": pcap(e=">"),
    "mod.pcap": pcap(0xA1B2CD34, mod=True),
    "raw101.pcap": pcap(lt=101),
    "y2106.pcap": pcap(sec=0xFFFFFFFE, recs=2),
    "le.pcapng": shb() + idb() + epb(frame(0)) + epb(frame(1), ts=1700000000001000),
    "be.pcapng": shb(">") + idb(e=">") + epb(frame(0), e=">"),
    "ns.pcapng": shb() + idb(opts=opt(9, b"\x09")) + epb(frame(0), ts=1700000000123456789),
    "b2.pcapng": shb() + idb(opts=opt(9, b"\x94") + opt(14, struct.pack("<q", -3600)))
    + epb(frame(0), ts=(1700003600 << 20) | 5),
    "multi.pcapng": shb() + idb() + idb(lt=101, opts=opt(9, b"\x03")) + epb(frame(0)) +
    epb(frame(1)[14:], ifid=1, ts=1700000000001) + blk(3, struct.pack("<I", len(frame(2))) + frame(2)) +
    blk(2, struct.pack("<HHIIII", 0, 0, 0x60f, 0, len(frame(3)), len(frame(3))) + frame(3)) +
    shb(">") + idb(e=">") + epb(frame(4), e=">") + blk(5, b"\0" * 20, ">"),
}
for name, data in seeds.items():
    with open(os.path.join(out, name), "wb") as f:
        f.write(data)
for name in ("us.pcap", "multi.pcapng", "ns.pcapng"):
    with open(os.path.join(out, name + ".gz"), "wb") as f:
        f.write(gzip.compress(seeds[name], mtime=0))
if shutil.which("zstd"):
    for name in ("be.pcap", "multi.pcapng"):
        subprocess.run(["zstd", "-q", "-f", "-o", os.path.join(out, name + ".zst"),
                        os.path.join(out, name)], check=True)
