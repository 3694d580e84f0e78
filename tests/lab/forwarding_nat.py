#!/usr/bin/python3
"""forwarding_nat.py INSIDE OUTSIDE OUT --nat-addr A --client C - derives the outside view of a NAT
that, unlike Linux, forwards a second client's raw ESP (the classic "first come, one client"
passthrough: outbound ESP of every client leaves under the NAT address, return ESP still goes to
the first). Takes the real outside capture of the Linux lab and adds, 100 us after each, the
client C's raw ESP packets from the inside capture with their source rewritten to A. Needs Debian's
python3-scapy. Used only for the one-capture esp_collision test of that NAT behaviour."""
import argparse
from scapy.all import rdpcap, wrpcap, IP

ap = argparse.ArgumentParser()
ap.add_argument("inside")
ap.add_argument("outside")
ap.add_argument("out")
ap.add_argument("--nat-addr", required=True)
ap.add_argument("--client", required=True)
a = ap.parse_args()
out = list(rdpcap(a.outside))
added = 0
for p in rdpcap(a.inside):
    if IP in p and p[IP].proto == 50 and p[IP].src == a.client:
        q = p.copy()
        q[IP].src = a.nat_addr
        del q[IP].chksum
        q.time = p.time + 0.0001
        out.append(q)
        added += 1
out.sort(key=lambda p: float(p.time))
wrpcap(a.out, out)
print("forwarding_nat.py: %d ESP packets of %s forwarded as %s -> %s" % (added, a.client, a.nat_addr, a.out))
