#!/usr/bin/python3
"""mkseeds_encap.py PCAPS_DIR OUT_DIR - seeds for fuzz_encap.c.

From the wrapped lab captures (tests/lab/wrap.py outputs in pcaps/: vxlan-, geneve-, erspan2-,
erspan3-, gretap-) the first packets of each are written twice: as whole Ethernet frames (carrier
0) and with the outer Ethernet/IPv4(/UDP) removed, prefixed with the selector of the carrier the
harness rebuilds (VXLAN, Geneve, GRE). The kinds no lab capture carries (MPLS, GTP-U, L2TPv2
data, IP in IP, GRE with IP) are built around inner packets taken from the same captures.
Selector layout: fuzz_encap.c's header comment."""
import os
import struct
import sys

C_FRAME, C_VXLAN, C_VXLAN_LINUX, C_GENEVE, C_GTPU, C_L2TP, C_L2TP_HI, C_GRE, C_MPLS, C_IP4IN, \
    C_IP6IN, C_GTPU_SRC = range(12)
V6 = 0x10
PER_FILE = 6


def frames(path):
    with open(path, "rb") as f:
        hdr = f.read(24)
        magic = struct.unpack("<I", hdr[:4])[0]
        endian = "<" if magic in (0xa1b2c3d4, 0xa1b23c4d) else ">"
        if struct.unpack(endian + "I", hdr[20:24])[0] != 1:
            return
        while True:
            rh = f.read(16)
            if len(rh) < 16:
                return
            incl = struct.unpack(endian + "IIII", rh)[2]
            yield f.read(incl)


def outer_payload(fr):
    """(IP protocol, UDP dport or 0, payload after the outer IPv4 (+UDP) header) or None."""
    if len(fr) < 34 or fr[12:14] != b"\x08\x00":
        return None
    ihl = (fr[14] & 0x0f) * 4
    proto = fr[23]
    l4 = fr[14 + ihl:]
    if proto == 17 and len(l4) >= 8:
        return proto, struct.unpack("!H", l4[2:4])[0], l4[8:]
    return proto, 0, l4


def inner_ip(fr):
    """The IPv4/IPv6 packet of a plain Ethernet frame, or None."""
    if len(fr) > 14 and fr[12:14] in (b"\x08\x00", b"\x86\xdd"):
        return fr[14:]
    return None


def main():
    src, out = sys.argv[1], sys.argv[2]
    os.makedirs(out, exist_ok=True)
    n = 0
    inner = []

    def put(name, sel, body):
        nonlocal n
        with open(os.path.join(out, name), "wb") as f:
            f.write(bytes([sel]) + body)
        n += 1

    for fn in sorted(os.listdir(src)):
        if not fn.endswith(".pcap"):
            continue
        base = fn[:-5]
        wrapped = fn.split("-")[0] in ("vxlan", "geneve", "erspan2", "erspan3", "gretap")
        for i, fr in enumerate(frames(os.path.join(src, fn))):
            if i >= PER_FILE:
                break
            if not wrapped:
                ip = inner_ip(fr)
                if ip and len(inner) < 8 and i < 2:
                    inner.append((base, ip, fr))
                continue
            put(f"{base}-{i}-frame", C_FRAME, fr)
            op = outer_payload(fr)
            if not op:
                continue
            proto, dport, body = op
            if proto == 17 and dport in (4789, 8472):
                put(f"{base}-{i}-vxlan", C_VXLAN if dport == 4789 else C_VXLAN_LINUX, body)
            elif proto == 17 and dport == 6081:
                put(f"{base}-{i}-geneve", C_GENEVE, body)
            elif proto == 47:
                put(f"{base}-{i}-gre", C_GRE, body)
                put(f"{base}-{i}-gre-v6", C_GRE | V6, body)
    for j, (base, ip, fr) in enumerate(inner):
        v6 = ip[0] >> 4 == 6
        # MPLS: two labels, bottom of stack on the second
        put(f"inner{j}-mpls", C_MPLS, struct.pack("!II", (16 << 12) | 64, (17 << 12) | 0x100 | 64) + ip)
        # GTP-U T-PDU (flags 0x30), and with the sequence flag and one extension header
        put(f"inner{j}-gtpu", C_GTPU, struct.pack("!BBHI", 0x30, 255, len(ip), 0x1234) + ip)
        ext = struct.pack("!HBB", 7, 0, 0x85) + bytes([1, 0x09, 0, 0])
        put(f"inner{j}-gtpu-ext", C_GTPU_SRC,
            struct.pack("!BBHI", 0x34, 255, len(ip) + len(ext), 0x1234) + ext + ip)
        # L2TPv2 data with length and sequence, PPP address/control + protocol
        ppp = b"\xff\x03" + struct.pack("!H", 0x0057 if v6 else 0x0021) + ip
        l2 = struct.pack("!HHHHHH", 0x4802, 12 + len(ppp), 7, 9, 0, 0) + ppp
        put(f"inner{j}-l2tp", C_L2TP, l2)
        put(f"inner{j}-l2tp-plain", C_L2TP_HI, struct.pack("!HHH", 0x0002, 7, 9) + ppp[2:])
        # IP in IP and GRE with IP
        put(f"inner{j}-ipip", C_IP6IN if v6 else C_IP4IN, ip)
        put(f"inner{j}-ipip-v6outer", (C_IP6IN if v6 else C_IP4IN) | V6, ip)
        put(f"inner{j}-greip", C_GRE, struct.pack("!HH", 0, 0x86dd if v6 else 0x0800) + ip)
        # GRE TEB with the whole frame, VXLAN-in-Geneve nesting
        put(f"inner{j}-teb", C_GRE, struct.pack("!HH", 0, 0x6558) + fr)
        vx = struct.pack("!B3xI", 0x08, 4242 << 8) + fr
        put(f"inner{j}-geneve", C_GENEVE, struct.pack("!BBHI", 0, 0, 0x6558, 4242 << 8) + fr)
        put(f"inner{j}-vxlan", C_VXLAN, vx)
    print(f"{n} seeds in {out}")


if __name__ == "__main__":
    main()
