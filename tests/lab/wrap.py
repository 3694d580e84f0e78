#!/usr/bin/python3
"""wrap.py MODE IN.pcap OUT.pcap [IN.pcap OUT.pcap...] - copies of Ethernet captures as they
arrive elsewhere.

MODE is one of
  vxlan    every frame inside VXLAN (UDP 4789, VNI 4242), as AWS VPC Traffic Mirroring delivers it
  geneve   inside Geneve (UDP 6081, one 8-byte option), as GCP Packet Mirroring delivers it
  erspan2  inside GRE 0x88BE + ERSPAN type II (session 100), as a Cisco/Arista monitor session
  erspan3  inside GRE 0x22EB + ERSPAN type III with the platform sub-header
  gretap   inside GRE 0x6558 (Linux gretap mirror)
  sll2     the frames' IP packets behind a Linux "cooked" v2 header (tcpdump -i any)

The collector's outer addresses (10.99.0.1 -> 10.99.0.2) are the same for every frame, so a
decoder that keys flows on them merges everything into one flow. Timestamps and frame order are
kept; each output frame is one input frame. Needs scapy (Debian python3-scapy).
"""
import struct
import sys

from scapy.all import (GRE, IP, UDP, Ether, PcapReader, PcapWriter, Raw)

OUTER_SRC, OUTER_DST = "10.99.0.1", "10.99.0.2"
COLLECTOR_MACS = dict(src="02:00:00:00:99:01", dst="02:00:00:00:99:02")
LINKTYPE_LINUX_SLL2 = 276


def vxlan(frame):
    hdr = struct.pack("!B3xI", 0x08, 4242 << 8)
    return Ether(**COLLECTOR_MACS) / IP(src=OUTER_SRC, dst=OUTER_DST, id=0) / \
        UDP(sport=49152 + (len(frame) % 1024), dport=4789) / Raw(hdr + frame)


def geneve(frame):
    opt = struct.pack("!HBB", 0x0101, 0x01, 1) + b"\xaa\xbb\xcc\xdd"
    hdr = struct.pack("!BBHI", len(opt) // 4, 0, 0x6558, 4242 << 8) + opt
    return Ether(**COLLECTOR_MACS) / IP(src=OUTER_SRC, dst=OUTER_DST, id=0) / \
        UDP(sport=49152, dport=6081) / Raw(hdr + frame)


def gre(proto, body, seq):
    # GRE v0 with the S bit (ERSPAN II/III require it) and a sequence number
    hdr = struct.pack("!HHI", 0x1000, proto, seq)
    return Ether(**COLLECTOR_MACS) / IP(src=OUTER_SRC, dst=OUTER_DST, id=0, proto=47) / \
        Raw(hdr + body)


def erspan2(frame, seq):
    hdr = struct.pack("!HHI", (1 << 12), 100, seq & 0xfffff)
    return gre(0x88BE, hdr + frame, seq)


def erspan3(frame, seq):
    # ver 2, session 100, timestamp, SGT 0 / P 0 / FT 0 / HW ID 1 / D 0 / Gra 0 / O 1,
    # then the 8-byte platform-specific sub-header (platform ID 3)
    last = (1 << 4) | 1
    hdr = struct.pack("!HHIHH", (2 << 12), 100, seq * 1000, 0, last)
    plat = struct.pack("!II", 3 << 26, 0)
    return gre(0x22EB, hdr + plat + frame, seq)


def gretap(frame, seq):
    return Ether(**COLLECTOR_MACS) / IP(src=OUTER_SRC, dst=OUTER_DST, id=0, proto=47) / \
        Raw(struct.pack("!HH", 0, 0x6558) + frame)


def sll2(frame, seq):
    # protocol, reserved, ifindex, ARPHRD_ETHER, packet type (0 host / 4 outgoing), addr len,
    # address (8)
    etype = frame[12:14]
    hdr = etype + b"\x00\x00" + struct.pack("!IHBB", 2, 1, 0, 6) + frame[6:12] + b"\x00\x00"
    return hdr + frame[14:]


def convert(mode, src, dst, maker):
    linktype = LINKTYPE_LINUX_SLL2 if mode == "sll2" else 1
    out = PcapWriter(dst, sync=True, linktype=linktype)
    out.write_header(None)
    seq = 0
    with PcapReader(src) as rd:
        for pkt in rd:
            seq += 1
            w = maker(bytes(pkt), seq)
            data = w if isinstance(w, bytes) else bytes(w)
            out.write_packet(data, sec=int(pkt.time), usec=int(round((pkt.time % 1) * 1e6)))
    out.close()


def main():
    if len(sys.argv) < 4 or len(sys.argv) % 2:
        sys.exit(__doc__)
    mode = sys.argv[1]
    makers = dict(vxlan=lambda f, s: vxlan(f), geneve=lambda f, s: geneve(f), erspan2=erspan2,
                  erspan3=erspan3, gretap=gretap, sll2=sll2)
    if mode not in makers:
        sys.exit(f"wrap.py: unknown mode {mode}")
    for i in range(2, len(sys.argv), 2):
        convert(mode, sys.argv[i], sys.argv[i + 1], makers[mode])


if __name__ == "__main__":
    main()
