#!/usr/bin/python3
"""Recompute the NAT-D hashes in IKE captures and say which (address, port) each one matches.

  tests/lab/strongswan/natd-check.py pcaps/ss-ikev2-natt-outside.pcap [more.pcap ...]

IKEv2 (RFC 7296 s2.23): notify NAT_DETECTION_SOURCE_IP 16388 / _DESTINATION_IP 16389 in
IKE_SA_INIT, SHA-1(SPIi | SPIr | IP | port), SPIr zero in the request.
IKEv1 (RFC 3947 s3): NAT-D payloads (20) in main mode messages 3/4, HASH(CKY-I | CKY-R | IP | port)
with the negotiated hash (tried: SHA-1, SHA-256, SHA-384, SHA-512, MD5).
Candidates: both ends of the packet plus the lab addresses (inside clients, router, server), ports
500 and 4500. "no match" means the sender hashed something else (strongSwan fakes its source hash
with encap = yes or kernel-libipsec). Needs scapy (Debian python3-scapy)."""
import hashlib
import socket
import struct
import sys

from scapy.all import IP, UDP, rdpcap

LAB = ["192.168.2.11", "192.168.2.12", "192.168.2.1", "203.0.113.1", "203.0.113.10",
       "198.51.100.11", "198.51.100.12"]


def candidates(pkt):
    c = {(pkt[IP].src, pkt[UDP].sport), (pkt[IP].dst, pkt[UDP].dport)}
    for a in LAB:
        c.add((a, 500))
        c.add((a, 4500))
    return sorted(c)


def match(data, prefix, cands, algs):
    hits = []
    for ip, port in cands:
        for alg in algs:
            if hashlib.new(alg, prefix + socket.inet_aton(ip) + struct.pack("!H", port)).digest() == data:
                hits.append("%s:%d (%s)" % (ip, port, alg))
    return hits or ["no match"]


def payloads(d, first):
    np, off = first, 28
    while np and off + 4 <= len(d):
        nxt, ln = d[off], struct.unpack("!H", d[off + 2:off + 4])[0]
        if ln < 4:
            return
        yield np, d[off:off + ln]
        np, off = nxt, off + ln


def main():
    for f in sys.argv[1:]:
        print("==", f)
        for i, p in enumerate(rdpcap(f), 1):
            if IP not in p or UDP not in p:
                continue
            d = bytes(p[UDP].payload)
            if 4500 in (p[UDP].sport, p[UDP].dport):
                if d[:4] != bytes(4):
                    continue
                d = d[4:]
            if len(d) < 28:
                continue
            ver, exch, flags = d[17], d[18], d[19]
            where = "#%d %s:%d -> %s:%d" % (i, p[IP].src, p[UDP].sport, p[IP].dst, p[UDP].dport)
            if ver == 0x20 and exch == 34:
                resp = bool(flags & 0x20)
                prefix = d[0:8] + (d[8:16] if resp else bytes(8))
                for np, pl in payloads(d, d[16]):
                    if np == 41 and len(pl) >= 8:
                        t = struct.unpack("!H", pl[6:8])[0]
                        if t in (16388, 16389):
                            name = "NAT_DETECTION_SOURCE_IP" if t == 16388 else "NAT_DETECTION_DESTINATION_IP"
                            print("  %s IKEv2 %s %s = %s" % (where, "response" if resp else "request", name,
                                                            ", ".join(match(pl[8:], prefix, candidates(p), ["sha1"]))))
            elif ver == 0x10 and not flags & 0x01:
                n = 0
                for np, pl in payloads(d, d[16]):
                    if np in (20, 130):
                        hits = match(pl[4:], d[0:16], candidates(p), ["sha1", "sha256", "sha384", "sha512", "md5"])
                        print("  %s IKEv1 NAT-D #%d = %s" % (where, n, ", ".join(hits)))
                        n += 1


if __name__ == "__main__":
    main()
