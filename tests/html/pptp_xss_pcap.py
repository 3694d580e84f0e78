#!/usr/bin/env python3
# pptp_xss_pcap.py OUT.pcap - a PPTP Start-Control-Connection-Request (RFC 2637) over TCP 1723
# whose Host Name and Vendor String are HTML injections, for the --html escaping test.
import struct, sys
def csum(b):
    if len(b) % 2: b += b'\0'
    s = sum(struct.unpack('!%dH' % (len(b)//2), b)); s = (s >> 16) + (s & 0xffff); s += s >> 16
    return (~s) & 0xffff
def ip(a): return bytes(int(x) for x in a.split('.'))
def pkt(src, dst, sport, dport, seq, ack, flags, payload):
    tcp = struct.pack('!HHIIBBHHH', sport, dport, seq, ack, 5 << 4, flags, 65535, 0, 0) + payload
    ph = ip(src) + ip(dst) + struct.pack('!BBH', 0, 6, len(tcp))
    tcp = tcp[:16] + struct.pack('!H', csum(ph + tcp)) + tcp[18:]
    iph = struct.pack('!BBHHHBBH4s4s', 0x45, 0, 20 + len(tcp), 1, 0, 64, 6, 0, ip(src), ip(dst))
    iph = iph[:10] + struct.pack('!H', csum(iph)) + iph[12:]
    return b'\x02\0\0\0\0\x02' + b'\x02\0\0\0\0\x01' + b'\x08\x00' + iph + tcp
host = b'<script>alert(1)</script>'
vendor = b'"><img src=x onerror=alert(1)>'
sccrq = struct.pack('!HHIHHHHIIHH', 156, 1, 0x1A2B3C4D, 1, 0, 0x0100, 0, 1, 1, 0, 1) + host.ljust(64, b'\0') + vendor.ljust(64, b'\0')
c, s = '192.168.1.20', '203.0.113.30'
pkts = [pkt(c, s, 40000, 1723, 1000, 0, 0x02, b''), pkt(s, c, 1723, 40000, 5000, 1001, 0x12, b''),
        pkt(c, s, 40000, 1723, 1001, 5001, 0x10, b''), pkt(c, s, 40000, 1723, 1001, 5001, 0x18, sccrq)]
out = open(sys.argv[1], 'wb')
out.write(struct.pack('<IHHiIII', 0xa1b2c3d4, 2, 4, 0, 0, 65535, 1))
for i, p in enumerate(pkts):
    out.write(struct.pack('<IIII', 1764000000 + i, 0, len(p), len(p)) + p)
