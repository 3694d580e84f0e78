#!/usr/bin/env python3
"""pcap2seed.py - turn pcap/pcapng captures into fuzz_pipeline inputs (stdlib only).

Input format of tests/fuzz/fuzz_pipeline.c: byte 0 selects the link type (index into dlts[]),
then packets as [len_hi len_lo][len bytes]...

For every capture this writes one input holding all its packets (cut to --max-total bytes) and
one input per "interesting" packet: the first packet of each (ip proto, VPN port, first payload
bytes) signature, at most --per-capture of them.

Usage: pcap2seed.py OUTDIR CAPTURE... (directories are searched for *.pcap*, *.cap)
"""
import argparse
import hashlib
import os
import struct
import sys

# Same order as dlts[] in fuzz_pipeline.c and replay.c.
DLTS = [1, 113, 276, 12, 228, 229, 0, 108, 101, 14]
VPN_PORTS = {500, 4500, 1701, 1723}


def selector(linktype):
    if linktype in DLTS:
        return DLTS.index(linktype)
    return None


def read_pcap(buf):
    magic = buf[:4]
    if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1"):
        e = "<"
    elif magic in (b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
        e = ">"
    else:
        return None, []
    if len(buf) < 24:
        return None, []
    linktype = struct.unpack(e + "I", buf[20:24])[0] & 0x0FFFFFFF
    pkts = []
    off = 24
    while off + 16 <= len(buf):
        caplen = struct.unpack(e + "I", buf[off + 8:off + 12])[0]
        off += 16
        if caplen > len(buf) - off:
            break
        pkts.append((linktype, buf[off:off + caplen]))
        off += caplen
    return linktype, pkts


def read_pcapng(buf):
    pkts = []
    ifaces = []
    e = "<"
    off = 0
    while off + 12 <= len(buf):
        if buf[off:off + 4] == b"\x0a\x0d\x0d\x0a":
            bom = buf[off + 8:off + 12]
            e = "<" if bom == b"\x4d\x3c\x2b\x1a" else ">"
            ifaces = []
        btype, blen = struct.unpack(e + "II", buf[off:off + 8])
        if blen < 12 or blen % 4 or off + blen > len(buf):
            break
        body = buf[off + 8:off + blen - 4]
        if btype == 1 and len(body) >= 2:
            ifaces.append(struct.unpack(e + "H", body[:2])[0])
        elif btype == 6 and len(body) >= 20:
            ifid, _, _, caplen, _ = struct.unpack(e + "IIIII", body[:20])
            if ifid < len(ifaces) and caplen <= len(body) - 20:
                pkts.append((ifaces[ifid], body[20:20 + caplen]))
        elif btype == 3 and len(body) >= 4 and ifaces:
            pkts.append((ifaces[0], body[4:]))
        off += blen
    return (ifaces[0] if ifaces else None), pkts


def ip_offset(linktype, pkt):
    """Offset of the IP header for the common link types, or None."""
    if linktype == 1:
        off, et = 12, None
        while off + 2 <= len(pkt):
            et = struct.unpack(">H", pkt[off:off + 2])[0]
            if et in (0x8100, 0x88A8):
                off += 4
                continue
            break
        return off + 2 if et in (0x0800, 0x86DD) else None
    if linktype == 113:
        return 16
    if linktype == 276:
        return 20
    if linktype in (12, 101, 14, 228, 229):
        return 0
    if linktype in (0, 108):
        return 4
    return None


def signature(linktype, pkt):
    off = ip_offset(linktype, pkt)
    if off is None or off >= len(pkt):
        return ("raw", len(pkt) // 256)
    v = pkt[off] >> 4
    if v == 4 and off + 20 <= len(pkt):
        ihl = (pkt[off] & 15) * 4
        proto = pkt[off + 9]
        frag = struct.unpack(">H", pkt[off + 6:off + 8])[0] & 0x3FFF
        l4 = off + ihl
    elif v == 6 and off + 40 <= len(pkt):
        proto = pkt[off + 6]
        frag = 0
        l4 = off + 40
    else:
        return ("ip?", v)
    if frag:
        return ("frag", proto)
    if proto in (6, 17) and l4 + 4 <= len(pkt):
        sp, dp = struct.unpack(">HH", pkt[l4:l4 + 4])
        port = sp if sp in VPN_PORTS else dp if dp in VPN_PORTS else 0
        hl = 8 if proto == 17 else ((pkt[l4 + 12] >> 4) * 4 if l4 + 13 <= len(pkt) else 20)
        pl = pkt[l4 + hl:l4 + hl + 20]
        # IKE: exchange type and flags; NAT-T: non-ESP marker vs ESP; PPTP: message type.
        return (proto, port, bytes(pl[16:20]) if port in (500, 4500) else bytes(pl[:12]) if port else b"",
                len(pl) > 0)
    return (proto, bytes(pkt[l4:l4 + 2]))


def emit(outdir, sel, pkts, max_total):
    data = bytearray([sel])
    for p in pkts:
        p = p[:65535]
        if len(data) + 2 + len(p) > max_total:
            break
        data += struct.pack(">H", len(p)) + p
    name = hashlib.sha1(data).hexdigest()
    with open(os.path.join(outdir, name), "wb") as f:
        f.write(data)


def captures(paths):
    for p in paths:
        if os.path.isdir(p):
            for root, _, files in os.walk(p):
                for fn in sorted(files):
                    if ".pcap" in fn or fn.endswith(".cap"):
                        yield os.path.join(root, fn)
        else:
            yield p


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("outdir")
    ap.add_argument("inputs", nargs="+")
    ap.add_argument("--max-total", type=int, default=65536)
    ap.add_argument("--per-capture", type=int, default=48)
    a = ap.parse_args()
    os.makedirs(a.outdir, exist_ok=True)
    ncap = nin = 0
    for path in captures(a.inputs):
        with open(path, "rb") as f:
            buf = f.read()
        if buf[:4] == b"\x0a\x0d\x0d\x0a":
            _, pkts = read_pcapng(buf)
        else:
            _, pkts = read_pcap(buf)
        if not pkts:
            continue
        # One input per link type present (pcapng may mix interfaces).
        by_lt = {}
        for lt, p in pkts:
            by_lt.setdefault(lt, []).append(p)
        for lt, ps in by_lt.items():
            sel = selector(lt)
            if sel is None:
                continue
            ncap += 1
            emit(a.outdir, sel, ps, a.max_total)
            nin += 1
            seen = set()
            for p in ps:
                s = signature(lt, p)
                if s in seen:
                    continue
                seen.add(s)
                emit(a.outdir, sel, [p], a.max_total)
                nin += 1
                if len(seen) >= a.per_capture:
                    break
    print(f"{ncap} captures -> {nin} inputs in {a.outdir}", file=sys.stderr)


if __name__ == "__main__":
    main()
