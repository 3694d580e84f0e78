#!/usr/bin/python3
"""repoint.py IN OUT --from PORT --to PORT - rewrites a UDP port in a capture (both directions),
recomputing checksums: the same real traffic as if the peers had floated NAT-T to another port
(strongSwan charon.port_nat_t) or a NAT had rewritten it. Needs Debian's python3-scapy."""
import argparse
from scapy.all import rdpcap, wrpcap, UDP, IP, IPv6

ap = argparse.ArgumentParser()
ap.add_argument("inp")
ap.add_argument("out")
ap.add_argument("--from", dest="old", type=int, required=True)
ap.add_argument("--to", dest="new", type=int, required=True)
a = ap.parse_args()
pk = rdpcap(a.inp)
n = 0
for p in pk:
    if UDP in p and (p[UDP].sport == a.old or p[UDP].dport == a.old):
        if p[UDP].sport == a.old:
            p[UDP].sport = a.new
        if p[UDP].dport == a.old:
            p[UDP].dport = a.new
        del p[UDP].chksum
        if IP in p:
            del p[IP].chksum
        n += 1
wrpcap(a.out, pk)
print("repoint.py: %d of %d packets moved from UDP %d to %d -> %s" % (n, len(pk), a.old, a.new, a.out))
