#!/usr/bin/python3
"""router_mislead.py - router captures whose interfaces mislead the --router split, made from a
lab scenario's inside and outside captures (frames and times kept):

  router_mislead.py cgnat INSIDE OUTSIDE OUT.pcapng
      the outside rewritten from the router's public address to 100.64.0.1 (a carrier-grade NAT
      range, private to vpnscope), plus a third interface first in the file carrying public
      addresses only (198.51.100.5 <-> 192.0.2.53, UDP 53): the address evidence picks the third
      interface as outside, and no twin shows a private address turned public.
  router_mislead.py busywan INSIDE OUTSIDE OUT.pcapng
      the outside as captured, plus a third interface first in the file where the router's own
      public address talks to a management host (203.0.113.1 <-> 198.51.100.7, TCP 22) more often
      than on the real outside: the interface carrying the router's address most is not the one
      the NAT translates toward.

Interfaces in the pcapng: 0 the third one, 1 inside, 2 outside (mergecap -I none, in that
order). Needs scapy and mergecap.
"""
import subprocess
import sys
import tempfile

from scapy.all import IP, TCP, UDP, Ether, Raw, PcapReader, wrpcap  # noqa: E402

ROUTER_PUBLIC = "203.0.113.1"
CGNAT = "100.64.0.1"


def times(path):
    with PcapReader(path) as r:
        ts = [float(p.time) for p in r]
    return ts[0], ts[-1], len(ts)


def rewrite(src, dst, old, new):
    out = []
    with PcapReader(src) as r:
        for p in r:
            if IP in p:
                ip = p[IP]
                if ip.src == old:
                    ip.src = new
                if ip.dst == old:
                    ip.dst = new
                del ip.chksum
                if UDP in p:
                    del p[UDP].chksum
                if TCP in p:
                    del p[TCP].chksum
                t = p.time
                p = Ether(bytes(p))
                p.time = t
            out.append(p)
    wrpcap(dst, out)


def third(path, t0, t1, n, pub_a, pub_b, tcp):
    pkts = []
    step = (t1 - t0) / max(n, 1)
    for i in range(n):
        a, b = (pub_a, pub_b) if i % 2 == 0 else (pub_b, pub_a)
        l4 = (TCP(sport=22 if i % 2 else 50022, dport=50022 if i % 2 else 22, flags="PA", seq=1000 + 64 * i)
              if tcp else UDP(sport=53 if i % 2 else 40053, dport=40053 if i % 2 else 53))
        p = (Ether(src="02:00:00:00:0c:01", dst="02:00:00:00:0c:02") / IP(src=a, dst=b, id=0x4000 + i) /
             l4 / Raw(bytes([(i * 13 + k) & 0xff for k in range(40 + i % 7)])))
        p.time = t0 + step * (i + 0.5)
        pkts.append(p)
    wrpcap(path, pkts)


def main():
    if len(sys.argv) != 5 or sys.argv[1] not in ("cgnat", "busywan"):
        sys.exit(__doc__)
    mode, inside, outside, out = sys.argv[1:]
    t0, t1, n_out = times(outside)
    with tempfile.TemporaryDirectory() as d:
        o = outside
        if mode == "cgnat":
            o = f"{d}/outside.pcap"
            rewrite(outside, o, ROUTER_PUBLIC, CGNAT)
            third(f"{d}/third.pcap", t0, t1, 30, "198.51.100.5", "192.0.2.53", tcp=False)
        else:
            third(f"{d}/third.pcap", t0, t1, 2 * n_out + 10, ROUTER_PUBLIC, "198.51.100.7", tcp=True)
        subprocess.run(["mergecap", "-I", "none", "-F", "pcapng", "-w", out, f"{d}/third.pcap", inside, o],
                       check=True)


if __name__ == "__main__":
    main()
