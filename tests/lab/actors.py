#!/usr/bin/python3
"""vpnscope NAT lab actors: crafted VPN clients and servers for tests/lab/lab.sh.

Run inside the lab's network namespaces (never elsewhere): each client program
talks to one server address, each server answers on its own address only.
Everything sent is built here from fixed seeds so reruns produce the same
bytes (timestamps, IP IDs chosen by the kernel and NAT ports may differ).

  actors.py server --name s1 [options]        # runs until SIGTERM
  actors.py client PROGRAM --n N --server IP [options]
  actors.py offload-off IFACE...              # no tx checksum/TSO/GSO/GRO offload

Identifiers (N = client number 1/2):
  IKE SPIi          c1N1000000000001 (c111000000000001, c121000000000001)
  IKE SPIr          5e1N00000000000K (server-side)
  ESP SPI c->s      0x0000a00N      ESP SPI s->c  0x0000b00N
  AH SPI  c->s      0x0000c00N      AH SPI  s->c  0x0000d00N
  PPTP Call ID      client: --call-id (0x4000); server: 0x0100 + k (k-th call)
  L2TP              client tunnel 0x100N / session 0x001N; server 0x200N / 0x002N
  WireGuard-like    client index 0xc1c1000N, server index 0x5e5e000N (UDP 51820 both sides)
"""
import argparse
import array
import fcntl
import hashlib
import heapq
import itertools
import os
import random
import select
import signal
import socket
import struct
import sys
import time

IPPROTO_ESP, IPPROTO_AH, IPPROTO_GRE = 50, 51, 47
# <linux/in.h>, <linux/in6.h>: path MTU discovery socket options (not all in Python's socket module)
IP_MTU_DISCOVER, IP_PMTUDISC_DO, IP_PMTUDISC_PROBE, IP_MTU = 10, 2, 3, 14
IPV6_MTU_DISCOVER, IPV6_PMTUDISC_DO, IPV6_PMTUDISC_PROBE, IPV6_MTU = 23, 2, 3, 24
WG_PORT = 51820
NAME = "actor"


def log(*a):
    print(f"{time.time():.3f} {NAME}:", *a, file=sys.stderr, flush=True)


def prng(seed, n):
    return random.Random(seed).randbytes(n)


# ---------------------------------------------------------------- event loop
class Loop:
    def __init__(self):
        self.socks = {}
        self.timers = []
        self.cnt = itertools.count()
        self.stopped = False

    def add(self, sock, fn):
        self.socks[sock.fileno()] = (sock, fn)

    def remove(self, sock):
        self.socks.pop(sock.fileno(), None)

    def at(self, delay, fn):
        heapq.heappush(self.timers, (time.monotonic() + delay, next(self.cnt), fn))

    def stop(self):
        self.stopped = True

    def run(self, duration=None):
        end = None if duration is None else time.monotonic() + duration
        while not self.stopped:
            now = time.monotonic()
            while self.timers and self.timers[0][0] <= now and not self.stopped:
                heapq.heappop(self.timers)[2]()
                now = time.monotonic()
            if self.stopped or (end is not None and now >= end):
                break
            timeout = 0.5
            if self.timers:
                timeout = min(timeout, self.timers[0][0] - now)
            if end is not None:
                timeout = min(timeout, end - now)
            try:
                r, _, _ = select.select(list(self.socks), [], [], max(0.0, timeout))
            except InterruptedError:
                continue
            for fd in r:
                if fd in self.socks:
                    sock, fn = self.socks[fd]
                    fn(sock)


def udp_sock(port, v6=False):
    s = socket.socket(socket.AF_INET6 if v6 else socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if v6:
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
    s.bind(("::" if v6 else "0.0.0.0", port))
    return s


def raw_sock(proto):
    # A raw socket per protocol also keeps the kernel from answering
    # "protocol unreachable" (no ESP/AH/GRE handler is built into this kernel).
    return socket.socket(socket.AF_INET, socket.SOCK_RAW, proto)


def ip_payload(data):
    """Strip the IPv4 header a raw socket delivers."""
    ihl = (data[0] & 0x0F) * 4
    return data[ihl:]


def local_addr_for(dst, v6=False):
    s = socket.socket(socket.AF_INET6 if v6 else socket.AF_INET, socket.SOCK_DGRAM)
    s.connect((dst, 9))
    a = s.getsockname()[0]
    s.close()
    return a


# ---------------------------------------------------------------- IKEv2
NP_NONE, NP_SA, NP_KE, NP_IDI, NP_IDR, NP_AUTH, NP_NONCE, NP_N = 0, 33, 34, 35, 36, 39, 40, 41
NP_SK, NP_SKF = 46, 53
EXCH_SA_INIT, EXCH_AUTH = 34, 35
N_NATD_SRC, N_NATD_DST, N_FRAG_SUPPORTED = 16388, 16389, 16430
MARKER = b"\0\0\0\0"


def ike_spii(n):
    return int(f"c1{n}1000000000001", 16)


def ike_spir(n, k=1):
    return int(f"5e1{n}{k:012x}", 16)


def chain(payloads):
    """payloads: [(type, body)] -> (first type, bytes) with generic headers."""
    out = b""
    for i, (ptype, body) in enumerate(payloads):
        nxt = payloads[i + 1][0] if i + 1 < len(payloads) else NP_NONE
        out += struct.pack("!BBH", nxt, 0, 4 + len(body)) + body
    return (payloads[0][0] if payloads else NP_NONE), out


def ike_msg(spii, spir, exch, flags, msgid, payloads=None, first=None, body=None):
    if body is None:
        first, body = chain(payloads)
    hdr = struct.pack("!QQBBBBII", spii, spir, first, 0x20, exch, flags, msgid, 28 + len(body))
    return hdr + body


def sa_body():
    def transform(last, ttype, tid, attrs=b""):
        return struct.pack("!BBHBBH", 0 if last else 3, 0, 8 + len(attrs), ttype, 0, tid) + attrs
    tr = (transform(False, 1, 12, struct.pack("!HH", 0x800E, 256))   # ENCR_AES_CBC 256
          + transform(False, 3, 12)                                  # AUTH_HMAC_SHA2_256_128
          + transform(False, 2, 5)                                   # PRF_HMAC_SHA2_256
          + transform(True, 4, 14))                                  # MODP 2048
    prop = struct.pack("!BBHBBBB", 0, 0, 8 + len(tr), 1, 1, 0, 4) + tr
    return prop


def natd_hash(spii, spir, ip, port):
    fam = socket.AF_INET6 if ":" in ip else socket.AF_INET
    return hashlib.sha1(struct.pack("!QQ", spii, spir) + socket.inet_pton(fam, ip)
                        + struct.pack("!H", port)).digest()


def notify(ntype, data=b""):
    return struct.pack("!BBH", 0, 0, ntype) + data


def sa_init(spii, spir, response, seed, natd=None, frag=False):
    """natd = (own_ip, own_port, peer_ip, peer_port) as the SENDER sees them."""
    pl = [(NP_SA, sa_body()),
          (NP_KE, struct.pack("!HH", 14, 0) + prng(seed + 1, 256)),
          (NP_NONCE, prng(seed + 2, 32))]
    if natd:
        own_ip, own_port, peer_ip, peer_port = natd
        pl.append((NP_N, notify(N_NATD_SRC, natd_hash(spii, spir if response else 0, own_ip, own_port))))
        pl.append((NP_N, notify(N_NATD_DST, natd_hash(spii, spir if response else 0, peer_ip, peer_port))))
    if frag:
        pl.append((NP_N, notify(N_FRAG_SUPPORTED)))
    return ike_msg(spii, spir, EXCH_SA_INIT, 0x20 if response else 0x08, 0, pl)


def sk_message(spii, spir, exch, response, msgid, seed, size, inner):
    """Encrypted message: one SK payload of IV|ciphertext|ICV (random bytes)."""
    body_len = max(64, size - 28 - 4)
    body_len -= (body_len - 32) % 16  # IV 16 + n*16 + ICV 16
    return ike_msg(spii, spir, exch, 0x20 if response else 0x08, msgid,
                   first=NP_SK, body=struct.pack("!BBH", inner, 0, 4 + body_len) + prng(seed, body_len))


def skf_messages(spii, spir, exch, response, msgid, seed, size, inner, frag_data):
    """RFC 7383: split an encrypted message into SKF payloads of <= frag_data bytes each."""
    data = prng(seed, max(64, size - 32))
    chunks = [data[i:i + frag_data] for i in range(0, len(data), frag_data)]
    out = []
    for i, c in enumerate(chunks, 1):
        body = struct.pack("!BBHHH", inner if i == 1 else 0, 0, 8 + len(c), i, len(chunks)) + c
        out.append(ike_msg(spii, spir, exch, 0x20 if response else 0x08, msgid, first=NP_SKF, body=body))
    return out


def parse_ike(data):
    if len(data) < 28:
        return None
    spii, spir, np_, ver, exch, flags, msgid, length = struct.unpack("!QQBBBBII", data[:28])
    pls = []
    off = 28
    while np_ and off + 4 <= len(data):
        nxt, _, plen = struct.unpack("!BBH", data[off:off + 4])
        pls.append((np_, data[off + 4:off + plen]))
        if np_ in (NP_SK, NP_SKF) or plen < 4:
            break
        np_, off = nxt, off + plen
    return dict(spii=spii, spir=spir, exch=exch, flags=flags, msgid=msgid, payloads=pls)


def ike_has_notify(msg, ntype):
    return any(t == NP_N and len(b) >= 4 and struct.unpack("!H", b[2:4])[0] == ntype
               for t, b in msg["payloads"])


# ---------------------------------------------------------------- ESP / AH
def esp(spi, seq, size=None):
    r = random.Random((spi << 32) | seq)
    if size is None:
        size = 16 + 16 * r.randint(3, 6) + 16   # IV | ciphertext | ICV
    return struct.pack("!II", spi, seq) + r.randbytes(size)


def csum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return (~s) & 0xFFFF


def icmp_echo(typ, ident, seq, data):
    h = struct.pack("!BBHHH", typ, 0, 0, ident, seq) + data
    return h[:2] + struct.pack("!H", csum(h)) + h[4:]


def udp_dgram(src, dst, sport, dport, data):
    ln = 8 + len(data)
    pseudo = socket.inet_aton(src) + socket.inet_aton(dst) + struct.pack("!BBH", 0, 17, ln)
    h = struct.pack("!HHHH", sport, dport, ln, 0) + data
    c = csum(pseudo + h) or 0xFFFF
    return h[:6] + struct.pack("!H", c) + h[8:]


def ah(spi, seq, nh, inner):
    icv = random.Random((spi << 32) | seq | 1 << 63).randbytes(12)
    return struct.pack("!BBHII", nh, 4, 0, spi, seq) + icv + inner


# ---------------------------------------------------------------- PPTP / GRE
MAGIC = 0x1A2B3C4D
SCCRQ, SCCRP, STOPCCRQ, STOPCCRP, ECHORQ, ECHORP, OCRQ, OCRP = 1, 2, 3, 4, 5, 6, 7, 8
CCRQ, CDN = 12, 13


def pptp(ctype, body):
    return struct.pack("!HHIHH", 12 + len(body), 1, MAGIC, ctype, 0) + body


def name64(s):
    return s.encode().ljust(64, b"\0")


def sccr(reply, host):
    # version 1.0 | reserved or result/error | framing | bearer | max ch | firmware | host | vendor
    mid = struct.pack("!BB", 1, 0) if reply else b"\0\0"
    return pptp(SCCRP if reply else SCCRQ,
                struct.pack("!H", 0x0100) + mid + struct.pack("!IIHH", 3, 3, 0 if not reply else 1, 0x0601)
                + name64(host) + name64("vpnscope-lab"))


def ocrq(call_id, serial):
    return pptp(OCRQ, struct.pack("!HHIIIIHHHH", call_id, serial, 300, 100000000, 3, 3, 64, 0, 0, 0)
                + b"\0" * 128)


def ocrp(call_id, peer_call_id):
    return pptp(OCRP, struct.pack("!HHBBHIHHI", call_id, peer_call_id, 1, 0, 0, 100000000, 64, 0, 0))


def ccrq(call_id):
    return pptp(CCRQ, struct.pack("!HH", call_id, 0))


def cdn(call_id):
    return pptp(CDN, struct.pack("!HBBHH", call_id, 3, 0, 0, 0) + b"\0" * 128)


def stopccr(reply):
    return pptp(STOPCCRP if reply else STOPCCRQ, struct.pack("!BBH", 1, 0, 0))


def split_pptp(buf):
    msgs = []
    while len(buf) >= 12:
        ln = struct.unpack("!H", buf[:2])[0]
        if ln < 12 or len(buf) < ln:
            break
        msgs.append(buf[:ln])
        buf = buf[ln:]
    return msgs, buf


def lcp_echo(code, ident, magic):
    data = prng((magic << 8) | ident, 8)
    return b"\xff\x03\xc0\x21" + struct.pack("!BBHI", code, ident, 8 + len(data), magic) + data


def gre_v1(peer_call_id, seq, ack, payload):
    flags = 0x3001 | (0x0080 if ack is not None else 0)
    h = struct.pack("!HHHHI", flags, 0x880B, len(payload), peer_call_id, seq)
    if ack is not None:
        h += struct.pack("!I", ack)
    return h + payload


def parse_gre(data):
    flags, proto = struct.unpack("!HH", data[:4])
    off = 4
    key = seq = ack = None
    if flags & 0x2000:
        key = struct.unpack("!I", data[off:off + 4])[0]
        off += 4
    if flags & 0x1000:
        seq = struct.unpack("!I", data[off:off + 4])[0]
        off += 4
    if flags & 0x0080:
        ack = struct.unpack("!I", data[off:off + 4])[0]
        off += 4
    return dict(flags=flags, proto=proto, call_id=(key or 0) & 0xFFFF, seq=seq, ack=ack)


# ---------------------------------------------------------------- L2TPv2
def avp(attr, value, mandatory=True):
    return struct.pack("!HHH", (0x8000 if mandatory else 0) | (6 + len(value)), 0, attr) + value


def l2tp_ctrl(tid, sid, ns, nr, avps=b""):
    return struct.pack("!HHHHHH", 0xC802, 12 + len(avps), tid, sid, ns, nr) + avps


def l2tp_data(tid, sid, payload):
    return struct.pack("!HHHH", 0x4002, 8 + len(payload), tid, sid) + payload


def msgtype(t):
    return avp(0, struct.pack("!H", t))


def parse_l2tp(data):
    flags = struct.unpack("!H", data[:2])[0]
    off = 2
    if flags & 0x4000:
        off += 2
    tid, sid = struct.unpack("!HH", data[off:off + 4])
    off += 4
    ns = nr = None
    if flags & 0x0800:
        ns, nr = struct.unpack("!HH", data[off:off + 4])
        off += 4
    avps = {}
    if flags & 0x8000:
        while off + 6 <= len(data):
            fl, vendor, attr = struct.unpack("!HHH", data[off:off + 6])
            ln = fl & 0x3FF
            if ln < 6:
                break
            avps.setdefault(attr, data[off + 6:off + ln])
            off += ln
    mt = struct.unpack("!H", avps[0])[0] if 0 in avps else None
    return dict(control=bool(flags & 0x8000), tid=tid, sid=sid, ns=ns, nr=nr, avps=avps, msgtype=mt)


# ---------------------------------------------------------------- WireGuard-like (message shapes of the
# WireGuard protocol: little-endian type word, indexes, counter; crypto fields are random bytes)
def wg_init(sender, seed):
    return struct.pack("<II", 1, sender) + prng(seed, 32 + 48 + 28 + 16) + b"\0" * 16       # 148 bytes


def wg_resp(sender, receiver, seed):
    return struct.pack("<III", 2, sender, receiver) + prng(seed, 32 + 16 + 16) + b"\0" * 16  # 92 bytes


def wg_data(receiver, counter, plen):
    """Transport data: 16-byte header + plen bytes (multiple of 16) + 16-byte tag; plen 0 = keepalive."""
    plen -= plen % 16
    return struct.pack("<IIQ", 4, receiver, counter) + random.Random((receiver << 32) | counter).randbytes(plen + 16)


# ================================================================ server
class Server:
    def __init__(self, a):
        self.a = a
        self.loop = Loop()
        self.ike_seen = {}        # (ip, port, spii) -> count of SA_INIT requests
        self.ike_peers = {}       # n -> ip (from IKE SA_INIT)
        self.natt_peers = {}      # n -> (ip, port) last ESP-in-UDP/IKE on 4500 source
        self.last_esp_udp = {}    # n -> monotonic time of last ESP-in-UDP received
        self.pushed_idle = set()
        self.seq = {}             # outbound SPI -> last seq
        self.raw_push_started = set()
        self.calls = itertools.count(1)
        self.gre_last_seq = {}    # peer ip -> last seq received
        self.l2tp = {}            # (ip, port) -> state
        self.ike_resp_cache = {}
        self.s500 = udp_sock(500)
        self.s4500 = udp_sock(4500)
        self.s1701 = udp_sock(1701)
        self.loop.add(self.s500, self.on_500)
        self.loop.add(self.s4500, self.on_4500)
        self.loop.add(self.s1701, self.on_1701)
        self.r50, self.r51, self.r47 = raw_sock(IPPROTO_ESP), raw_sock(IPPROTO_AH), raw_sock(IPPROTO_GRE)
        self.loop.add(self.r50, self.on_esp)
        self.loop.add(self.r51, self.on_ah)
        self.loop.add(self.r47, self.on_gre)
        self.tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.tcp.bind(("0.0.0.0", a.pptp_port))
        self.tcp.listen(8)
        self.loop.add(self.tcp, self.on_accept)
        if a.v6:
            self.s4500_6 = udp_sock(4500, v6=True)
            self.loop.add(self.s4500_6, self.on_4500)
            self.s500_6 = udp_sock(500, v6=True)
            self.loop.add(self.s500_6, self.on_500)
        if a.push_after_esp_idle:
            self.loop.at(0.5, self.idle_check)
        self.tun = {}             # (kind, n) -> dict(addr, last, pushed, peer_index): tunnels heard from
        self.swg = udp_sock(WG_PORT)
        self.loop.add(self.swg, self.on_wg)
        if a.stream:
            self.loop.at(a.stream, self.stream_tick)
        if a.push_after_idle:
            self.loop.at(0.5, self.tun_idle_check)

    def next_seq(self, spi):
        self.seq[spi] = self.seq.get(spi, 0) + 1
        return self.seq[spi]

    # ---- IKE on 500
    def on_500(self, sock):
        data, addr = sock.recvfrom(65535)
        self.handle_ike(sock, data, addr, natt=False)

    def handle_ike(self, sock, data, addr, natt):
        m = parse_ike(data)
        if not m or m["flags"] & 0x20:
            return
        n = (m["spii"] >> 52) & 0xF
        key = (addr[0], addr[1], m["spii"], m["exch"], m["msgid"])
        cnt = self.ike_seen[key] = self.ike_seen.get(key, 0) + 1
        log(f"IKE exch {m['exch']} msgid {m['msgid']} from {addr[0]}:{addr[1]} spii {m['spii']:016x} (#{cnt})")
        if m["exch"] == EXCH_SA_INIT:
            self.ike_peers[n] = addr[0]
            if self.a.ike == "silent" or (self.a.ike == "ignore-first" and cnt == 1):
                log("  not answering")
                return
            spir = ike_spir(n)
            natd = None
            if ike_has_notify(m, N_NATD_SRC):
                own = self.a.ip6 if ":" in addr[0] else self.a.ip
                natd = (own, sock.getsockname()[1], addr[0], addr[1])
            resp = sa_init(m["spii"], spir, True, seed=spir, natd=natd,
                           frag=ike_has_notify(m, N_FRAG_SUPPORTED) and self.a.ike_frag)
            sock.sendto(resp, addr)
            self.maybe_start_raw_push(addr[0])
        elif m["exch"] == EXCH_AUTH:
            first = m["payloads"][0] if m["payloads"] else (0, b"")
            if first[0] == NP_SKF:
                fnum, ftot = struct.unpack("!HH", first[1][:4])
                if fnum != ftot:
                    return
            self.natt_peers[n] = addr
            spir = m["spir"]
            resp = sk_message(m["spii"], spir, EXCH_AUTH, True, m["msgid"], seed=spir + 7, size=300, inner=NP_IDR)
            sock.sendto(MARKER + resp if natt else resp, addr)

    # ---- UDP 4500: IKE (marker), keepalive, ESP-in-UDP
    def on_4500(self, sock):
        data, addr = sock.recvfrom(65535)
        if data == b"\xff":
            log(f"keepalive from {addr[0]}:{addr[1]}")
            return
        if data[:4] == MARKER:
            self.handle_ike(sock, data[4:], addr, natt=True)
            return
        if len(data) < 8:
            return
        spi, seq = struct.unpack("!II", data[:8])
        n = spi & 0xF
        self.heard("natt", n, addr)
        self.natt_peers[n] = addr
        self.last_esp_udp[n] = time.monotonic()
        self.pushed_idle.discard(n)
        log(f"ESP-in-UDP spi {spi:#010x} seq {seq} len {len(data)} from {addr[0]}:{addr[1]}")
        if self.a.esp_udp == "echo":
            out = 0xB000 | n
            sock.sendto(esp(out, self.next_seq(out)), addr)

    def idle_check(self):
        now = time.monotonic()
        for n, t in list(self.last_esp_udp.items()):
            if n not in self.pushed_idle and now - t >= self.a.push_after_esp_idle:
                self.pushed_idle.add(n)
                addr = self.natt_peers[n]
                log(f"{self.a.push_after_esp_idle}s since last ESP from SA {n}: pushing to {addr[0]}:{addr[1]}")
                for i in range(3):
                    self.loop.at(0.5 * i, lambda n=n, addr=addr: self.push_udp(n, addr))
        self.loop.at(0.5, self.idle_check)

    def push_udp(self, n, addr):
        out = 0xB000 | n
        sock = self.s4500_6 if ":" in addr[0] else self.s4500
        sock.sendto(esp(out, self.next_seq(out)), addr)

    # ---- raw ESP
    def on_esp(self, sock):
        data, addr = sock.recvfrom(65535)
        p = ip_payload(data)
        spi, seq = struct.unpack("!II", p[:8])
        log(f"ESP spi {spi:#010x} seq {seq} len {len(p)} from {addr[0]}")
        self.heard("esp", spi & 0xF, (addr[0], 0))
        if self.a.esp_raw == "push":
            self.maybe_start_raw_push(addr[0], seen_esp=True)
        elif self.a.esp_raw == "echo":
            out = 0xB000 | (spi & 0xF)
            self.r50.sendto(esp(out, self.next_seq(out)), (addr[0], 0))

    def maybe_start_raw_push(self, ip, seen_esp=False):
        if self.a.esp_raw != "push":
            return
        if seen_esp:
            self.esp_from = getattr(self, "esp_from", set()) | {ip}
        if ip not in getattr(self, "esp_from", set()):
            return
        for n, pip in sorted(self.ike_peers.items()):
            if pip == ip and n not in self.raw_push_started:
                self.raw_push_started.add(n)
                log(f"raw ESP push for SA {n} to {ip}")
                for i in range(self.a.count):
                    self.loop.at(0.1 * n + self.a.interval * i, lambda n=n, ip=ip: self.push_raw(n, ip))

    def push_raw(self, n, ip):
        out = 0xB000 | n
        self.r50.sendto(esp(out, self.next_seq(out)), (ip, 0))

    # ---- tunnels heard from (NAT-T ESP-in-UDP, raw ESP, WireGuard-like): streaming and idle pushes
    def heard(self, kind, n, addr, **kw):
        t = self.tun.setdefault((kind, n), dict(addr=None))
        if t["addr"] is not None and t["addr"] != addr:
            log(f"tunnel {kind} {n}: peer moved {t['addr'][0]}:{t['addr'][1]} -> {addr[0]}:{addr[1]}")
        t.update(addr=addr, last=time.monotonic(), pushed=False, **kw)

    def tun_send(self, kind, n, t):
        out = 0xB000 | n
        if kind == "natt":
            sock = self.s4500_6 if ":" in t["addr"][0] else self.s4500
            sock.sendto(esp(out, self.next_seq(out)), t["addr"])
        elif kind == "esp":
            self.r50.sendto(esp(out, self.next_seq(out)), (t["addr"][0], 0))
        elif kind == "wg" and "peer_index" in t:
            self.swg.sendto(wg_data(t["peer_index"], self.next_seq(out), 96), t["addr"])

    def stream_tick(self):
        """--stream: one data packet per tunnel every INTERVAL, to the address the tunnel was last
        heard from, while it was heard within --stream-hold seconds (a download the peer acknowledges)."""
        now = time.monotonic()
        for (kind, n), t in sorted(self.tun.items()):
            if now - t["last"] < self.a.stream_hold:
                self.tun_send(kind, n, t)
        self.loop.at(self.a.stream, self.stream_tick)

    def tun_idle_check(self):
        now = time.monotonic()
        for (kind, n), t in sorted(self.tun.items()):
            if not t["pushed"] and now - t["last"] >= self.a.push_after_idle:
                t["pushed"] = True
                log(f"{self.a.push_after_idle}s since tunnel {kind} {n} was heard: pushing 3 to "
                    f"{t['addr'][0]}:{t['addr'][1]}")
                for i in range(3):
                    self.loop.at(0.5 * i, lambda kind=kind, n=n, t=t: self.tun_send(kind, n, t))
        self.loop.at(0.5, self.tun_idle_check)

    def on_wg(self, sock):
        data, addr = sock.recvfrom(65535)
        if len(data) < 16:
            return
        mtype, idx = struct.unpack("<II", data[:8])
        if mtype == 1:
            n = idx & 0xF
            log(f"WG handshake initiation index {idx:#010x} from {addr[0]}:{addr[1]}")
            self.heard("wg", n, addr, peer_index=idx)
            sock.sendto(wg_resp(0x5E5E0000 | n, idx, seed=idx), addr)
        elif mtype == 4:
            n = idx & 0xF
            ctr = struct.unpack("<Q", data[8:16])[0]
            log(f"WG data index {idx:#010x} counter {ctr} len {len(data)} from {addr[0]}:{addr[1]}")
            self.heard("wg", n, addr)

    # ---- AH: answer each AH packet with AH (transport mode, ICMP echo / UDP)
    def on_ah(self, sock):
        data, addr = sock.recvfrom(65535)
        p = ip_payload(data)
        nh, plen, _, spi, seq = struct.unpack("!BBHII", p[:12])
        inner = p[(plen + 2) * 4:]
        log(f"AH spi {spi:#010x} seq {seq} nh {nh} from {addr[0]}")
        if self.a.ah != "echo":
            return
        out = 0xD000 | (spi & 0xF)
        if nh == 1 and inner[0] == 8:
            ident, iseq = struct.unpack("!HH", inner[4:8])
            reply = icmp_echo(0, ident, iseq, inner[8:])
        elif nh == 17:
            sport, dport = struct.unpack("!HH", inner[:4])
            reply = udp_dgram(self.a.ip, addr[0], dport, sport, inner[8:])
        else:
            return
        self.r51.sendto(ah(out, self.next_seq(out), nh, reply), (addr[0], 0))

    # ---- PPTP control + GRE
    def on_accept(self, sock):
        c, addr = sock.accept()
        c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        log(f"PPTP control from {addr[0]}:{addr[1]}")
        st = dict(buf=b"", addr=addr, call=None)
        self.loop.add(c, lambda s, st=st: self.on_pptp(s, st))

    def on_pptp(self, sock, st):
        data = sock.recv(65535)
        if not data:
            self.loop.remove(sock)
            sock.close()
            return
        msgs, st["buf"] = split_pptp(st["buf"] + data)
        for m in msgs:
            ctype = struct.unpack("!H", m[8:10])[0]
            log(f"PPTP type {ctype} len {len(m)} from {st['addr'][0]}:{st['addr'][1]}")
            if ctype == SCCRQ:
                sock.send(sccr(True, f"pac-{self.a.name}"))
            elif ctype == OCRQ:
                peer_cid = struct.unpack("!H", m[12:14])[0]
                my_cid = 0x0100 + next(self.calls)
                st["call"] = (my_cid, peer_cid)
                log(f"  call: client Call ID {peer_cid:#06x}, ours {my_cid:#06x}")
                sock.send(ocrp(my_cid, peer_cid))
                ip = st["addr"][0]
                for i in range(self.a.count):
                    self.loop.at(0.15 + self.a.interval * i,
                                 lambda ip=ip, cid=peer_cid, i=i: self.send_gre(ip, cid, i + 1))
            elif ctype == CCRQ:
                peer_cid = st["call"][1] if st["call"] else struct.unpack("!H", m[12:14])[0]
                sock.send(cdn(peer_cid))
            elif ctype == STOPCCRQ:
                sock.send(stopccr(True))
            elif ctype == ECHORQ:
                sock.send(pptp(ECHORP, m[12:16] + struct.pack("!BBH", 1, 0, 0)))

    def send_gre(self, ip, cid, seq):
        ack = self.gre_last_seq.get(ip)
        self.r47.sendto(gre_v1(cid, seq, ack, lcp_echo(9, seq, 0x5e5e0000 | cid)), (ip, 0))

    def on_gre(self, sock):
        data, addr = sock.recvfrom(65535)
        g = parse_gre(ip_payload(data))
        log(f"GRE call {g['call_id']:#06x} seq {g['seq']} ack {g['ack']} from {addr[0]}")
        if g["seq"] is not None:
            self.gre_last_seq[addr[0]] = g["seq"]

    # ---- L2TPv2 LNS
    def on_1701(self, sock):
        data, addr = sock.recvfrom(65535)
        m = parse_l2tp(data)
        st = self.l2tp.setdefault(addr, dict(ns=0, nr=0, tid=0, sid=0, my_tid=0x2000 | (len(self.l2tp) + 1),
                                             my_sid=0x0020 | (len(self.l2tp) + 1)))
        if not m["control"]:
            log(f"L2TP data tunnel {m['tid']:#06x} session {m['sid']:#06x} from {addr[0]}:{addr[1]}")
            payload = data[8:]
            ident = payload[5] if len(payload) > 5 else 0
            sock.sendto(l2tp_data(st["tid"], st["sid"], lcp_echo(10, ident, 0x5e5e0000 | st["my_sid"])), addr)
            return
        if m["msgtype"] is None:     # ZLB ack
            return
        st["nr"] = (m["ns"] + 1) & 0xFFFF
        log(f"L2TP control msg {m['msgtype']} from {addr[0]}:{addr[1]}")
        reply = None
        if m["msgtype"] == 1:       # SCCRQ
            st["tid"] = struct.unpack("!H", m["avps"][9])[0]
            reply = (msgtype(2) + avp(2, b"\x01\x00") + avp(3, struct.pack("!I", 3))
                     + avp(7, f"lns-{self.a.name}".encode()) + avp(9, struct.pack("!H", st["my_tid"]))
                     + avp(10, struct.pack("!H", 4)))
            sid = 0
        elif m["msgtype"] == 10:    # ICRQ
            st["sid"] = struct.unpack("!H", m["avps"][14])[0]
            reply = msgtype(11) + avp(14, struct.pack("!H", st["my_sid"]))
            sid = st["sid"]
        if reply is not None:
            sock.sendto(l2tp_ctrl(st["tid"], sid, st["ns"], st["nr"], reply), addr)
            st["ns"] += 1
        else:                        # SCCCN, ICCN, StopCCN: ZLB ack
            sock.sendto(l2tp_ctrl(st["tid"], 0, st["ns"], st["nr"]), addr)

    def run(self):
        signal.signal(signal.SIGTERM, lambda *_: self.loop.stop())
        signal.signal(signal.SIGINT, lambda *_: self.loop.stop())
        log("ready")
        self.loop.run()
        log("exit")


# ================================================================ clients
class Client:
    def __init__(self, a):
        self.a = a
        self.n = a.n
        self.loop = Loop()
        self.srv = a.server
        self.own = local_addr_for(self.srv, ":" in self.srv)
        self.spii = ike_spii(self.n)
        self.spir = 0
        self.sa_init_answered = False
        self.seq = {}
        # swallow protocols the kernel has no handler for
        self.r50, self.r51, self.r47 = raw_sock(IPPROTO_ESP), raw_sock(IPPROTO_AH), raw_sock(IPPROTO_GRE)
        self.loop.add(self.r50, self.on_raw)
        self.loop.add(self.r51, self.on_raw)
        self.loop.add(self.r47, self.on_raw)
        self.rawip = None
        self.rx = 0               # ESP (raw or in UDP) received
        self.last_rx = time.monotonic()   # last ESP / WG packet received

    def next_seq(self, spi):
        self.seq[spi] = self.seq.get(spi, 0) + 1
        return self.seq[spi]

    def on_raw(self, sock):
        data, addr = sock.recvfrom(65535)
        p = ip_payload(data)
        if data[9] == IPPROTO_GRE:
            g = parse_gre(p)
            self.gre_last = g["seq"]
            log(f"GRE call {g['call_id']:#06x} seq {g['seq']} from {addr[0]}")
        else:
            off = 4 if data[9] == IPPROTO_AH else 0
            spi, seq = struct.unpack("!II", p[off:off + 8])
            self.rx += data[9] == IPPROTO_ESP
            self.last_rx = time.monotonic()
            log(f"proto {data[9]} spi {spi:#010x} seq {seq} from {addr[0]}")

    # ---- IKE helpers
    def open_ike(self):
        self.s500 = udp_sock(500, v6=":" in self.srv)
        self.s4500 = udp_sock(4500, v6=":" in self.srv)
        self.loop.add(self.s500, self.on_ike)
        self.loop.add(self.s4500, self.on_ike)

    def on_ike(self, sock):
        data, addr = sock.recvfrom(65535)
        natt = sock.getsockname()[1] == 4500
        if natt:
            if data[:4] != MARKER:
                spi, seq = struct.unpack("!II", data[:8])
                self.rx += 1
                self.last_rx = time.monotonic()
                log(f"ESP-in-UDP spi {spi:#010x} seq {seq} from {addr[0]}:{addr[1]}")
                return
            data = data[4:]
        m = parse_ike(data)
        log(f"IKE exch {m['exch']} flags {m['flags']:#04x} from {addr[0]}:{addr[1]}")
        if m["exch"] == EXCH_SA_INIT and m["flags"] & 0x20:
            self.spir = m["spir"]
            self.sa_init_answered = True

    def send_sa_init(self, natd, frag=False):
        nd = (self.own, 500, self.srv, 500) if natd else None
        self.s500.sendto(sa_init(self.spii, 0, False, seed=self.spii, natd=nd, frag=frag), (self.srv, 500))

    def send_auth(self, size=600, sock=None):
        spir = self.spir or ike_spir(self.n)
        msg = sk_message(self.spii, spir, EXCH_AUTH, False, 1, seed=self.spii + 7, size=size, inner=NP_IDI)
        (sock or self.s4500).sendto(MARKER + msg, (self.srv, 4500))

    def send_esp_udp(self, size=None):
        spi = 0xA000 | self.n
        self.s4500.sendto(esp(spi, self.next_seq(spi), size), (self.srv, 4500))

    def send_raw_esp(self):
        spi = 0xA000 | self.n
        self.r50.sendto(esp(spi, self.next_seq(spi)), (self.srv, 0))

    def keepalive(self):
        self.s4500.sendto(b"\xff", (self.srv, 4500))

    # ---- WireGuard-like
    def open_wg(self):
        self.swg = udp_sock(WG_PORT, v6=":" in self.srv)
        self.loop.add(self.swg, self.on_wg)
        self.wg_peer = 0x5E5E0000 | self.n

    def on_wg(self, sock):
        data, addr = sock.recvfrom(65535)
        mtype = data[0] if data else 0
        if mtype == 2 and len(data) >= 12:
            self.wg_peer = struct.unpack("<I", data[4:8])[0]
        self.last_rx = time.monotonic()
        log(f"WG type {mtype} len {len(data)} from {addr[0]}:{addr[1]}")

    def send_wg_init(self, gen=0):
        idx = 0xC1C10000 | (gen << 8) | self.n
        self.swg.sendto(wg_init(idx, seed=idx), (self.srv, WG_PORT))

    def send_wg_data(self, plen):
        self.swg.sendto(wg_data(self.wg_peer, self.next_seq(0xC1C10000), plen), (self.srv, WG_PORT))

    # ---- path MTU
    def pmtud_do(self, sock, probe=False):
        """Set DF on everything the socket sends and never fragment locally (IP_PMTUDISC_DO);
        probe: the same, but also ignore the path MTU the kernel learnt (IP_PMTUDISC_PROBE)."""
        if sock.family == socket.AF_INET6:
            sock.setsockopt(socket.IPPROTO_IPV6, IPV6_MTU_DISCOVER, IPV6_PMTUDISC_PROBE if probe else IPV6_PMTUDISC_DO)
        else:
            sock.setsockopt(socket.IPPROTO_IP, IP_MTU_DISCOVER, IP_PMTUDISC_PROBE if probe else IP_PMTUDISC_DO)

    def path_mtu(self):
        """The kernel's path MTU towards the server (learnt from ICMP frag-needed / packet too big)."""
        v6 = ":" in self.srv
        s = socket.socket(socket.AF_INET6 if v6 else socket.AF_INET, socket.SOCK_DGRAM)
        s.connect((self.srv, 4500))
        mtu = s.getsockopt(socket.IPPROTO_IPV6, IPV6_MTU) if v6 else s.getsockopt(socket.IPPROTO_IP, IP_MTU)
        s.close()
        return mtu

    def every(self, start, interval, count, fn):
        for i in range(count):
            self.loop.at(start + interval * i, fn)

    def finish(self, t):
        self.loop.at(t, self.loop.stop)
        self.loop.run()

    # ---- fragments (crafted, sent on an IPPROTO_RAW socket)
    def send_fragments(self, udp_payload, order, ip_id, drop_middle=False):
        from scapy.all import IP, UDP, IPv6, IPv6ExtHdrFragment, Raw, fragment, fragment6, raw
        v6 = ":" in self.srv
        if v6:
            pkt = (IPv6(src=self.own, dst=self.srv, hlim=64) / IPv6ExtHdrFragment(id=ip_id)
                   / UDP(sport=4500, dport=4500) / Raw(udp_payload))
            frags = [raw(f) for f in fragment6(pkt, 1280)]
        else:
            pkt = IP(src=self.own, dst=self.srv, id=ip_id, ttl=64) / UDP(sport=4500, dport=4500) / Raw(udp_payload)
            frags = [raw(f) for f in fragment(pkt, fragsize=1480)]
        if drop_middle:
            frags = [f for i, f in enumerate(frags) if i != len(frags) // 2]
        if order == "reverse":
            frags = frags[::-1]
        elif order == "shuffle":
            orig = list(frags)
            random.Random(ip_id).shuffle(frags)
            if frags == orig:
                frags = frags[::-1]
        if self.rawip is None:
            fam = socket.AF_INET6 if v6 else socket.AF_INET
            self.rawip = socket.socket(fam, socket.SOCK_RAW, socket.IPPROTO_RAW)
        for f in frags:
            self.rawip.sendto(f, (self.srv, 0))
        log(f"sent {len(frags)} fragments id {ip_id:#x} order {order}{' (middle missing)' if drop_middle else ''}")


def prog_ike_esp(c, a):
    """IKE_SA_INIT on 500, then raw ESP (proto 50) to the server."""
    c.open_ike()
    c.loop.at(0.0, lambda: c.send_sa_init(natd=a.natd))
    c.every(1.0, a.interval, a.count, c.send_raw_esp)
    c.finish(1.0 + a.interval * a.count + 1.5)


def prog_natt(c, a):
    """IKE_SA_INIT (NAT-D) on 500, IKE_AUTH on 4500, ESP-in-UDP both ways, keepalives.
    --idle S: after the first burst stay silent for S seconds (keepalives only with --keepalive-idle)
    then send a second burst with the same SPI."""
    c.open_ike()
    c.loop.at(0.0, lambda: c.send_sa_init(natd=True, frag=a.frag))
    c.loop.at(0.5, lambda: c.send_auth())
    t = 1.0
    c.every(t, a.interval, a.count, lambda: c.send_esp_udp())
    end = t + a.interval * a.count
    if a.keepalive:
        c.every(t + 0.05, a.keepalive, int((a.interval * a.count) / a.keepalive) + 1, c.keepalive)
    if a.idle:
        if a.keepalive_idle:
            c.every(end + a.keepalive_idle, a.keepalive_idle, int(a.idle / a.keepalive_idle) - 0, c.keepalive)
        t2 = end + a.idle
        c.every(t2, a.interval, a.count2, lambda: c.send_esp_udp())
        end = t2 + a.interval * a.count2
    c.finish(end + 1.0)


def prog_keepalive(c, a):
    """One NAT-T keepalive (0xFF on UDP 4500 -> server 4500) after --phase seconds, nothing else:
    a NAT mapping that only a single packet crosses."""
    c.open_ike()
    c.loop.at(a.phase, c.keepalive)
    c.finish(a.phase + 1.0)


def prog_ah(c, a):
    """AH (transport) over ICMP echo and UDP, answered by the server with AH."""
    spi = 0xC000 | c.n
    payload = prng(spi, 48)

    def send(i):
        if i % 2 == 0:
            inner, nh = icmp_echo(8, 0x1100 + c.n, i // 2 + 1, payload), 1
        else:
            inner, nh = udp_dgram(c.own, c.srv, 33000 + c.n, 7000, payload[:32]), 17
        c.r51.sendto(ah(spi, c.next_seq(spi), nh, inner), (c.srv, 0))
    for i in range(a.count):
        c.loop.at(0.2 + a.interval * i, lambda i=i: send(i))
    c.finish(0.2 + a.interval * a.count + 1.0)


def prog_pptp(c, a):
    """PPTP control on TCP 1723 + enhanced GRE both ways, then clear and stop."""
    t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    t.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    if a.sport:
        t.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        t.bind(("0.0.0.0", a.sport))
    t.connect((c.srv, a.port))
    st = dict(buf=b"", peer=None)
    c.gre_last = None

    def send_gre(i):
        c.r47.sendto(gre_v1(st["peer"], i, c.gre_last, lcp_echo(9, i, 0xc1c10000 | c.n)), (c.srv, 0))

    def on_ctrl(sock):
        data = sock.recv(65535)
        if not data:
            c.loop.remove(sock)
            c.loop.at(0.3, c.loop.stop)
            return
        msgs, st["buf"] = split_pptp(st["buf"] + data)
        for m in msgs:
            ctype = struct.unpack("!H", m[8:10])[0]
            log(f"PPTP type {ctype} len {len(m)}")
            if ctype == SCCRP:
                sock.send(ocrq(a.call_id, 0x0001))
            elif ctype == OCRP:
                st["peer"] = struct.unpack("!H", m[12:14])[0]
                log(f"  server Call ID {st['peer']:#06x}, our Call ID as echoed {struct.unpack('!H', m[14:16])[0]:#06x}")
                for i in range(a.count):
                    c.loop.at(a.interval * i, lambda i=i: send_gre(i + 1))
                c.loop.at(a.interval * a.count + 0.5, lambda: sock.send(ccrq(a.call_id)))
            elif ctype == CDN:
                sock.send(stopccr(False))
            elif ctype == STOPCCRP:
                sock.shutdown(socket.SHUT_WR)
    c.loop.add(t, on_ctrl)
    t.send(sccr(False, f"pns-c{c.n}"))
    c.loop.at(30, c.loop.stop)
    c.loop.run()
    t.close()


def prog_l2tp(c, a):
    """L2TPv2 LAC: tunnel + session setup, PPP data both ways, StopCCN."""
    s = udp_sock(1701)
    my_tid, my_sid = 0x1000 | c.n, 0x0010 | c.n
    st = dict(ns=0, nr=0, tid=0, sid=0)

    def ctrl(sid, avps):
        s.sendto(l2tp_ctrl(st["tid"], sid, st["ns"], st["nr"], avps), (c.srv, 1701))
        st["ns"] += 1

    def zlb():
        s.sendto(l2tp_ctrl(st["tid"], 0, st["ns"], st["nr"]), (c.srv, 1701))

    def data(i):
        s.sendto(l2tp_data(st["tid"], st["sid"], lcp_echo(9, i, 0xc1c10000 | c.n)), (c.srv, 1701))

    def on_msg(sock):
        d, addr = sock.recvfrom(65535)
        m = parse_l2tp(d)
        if not m["control"]:
            log(f"L2TP data tunnel {m['tid']:#06x} session {m['sid']:#06x}")
            return
        if m["msgtype"] is None:
            return
        st["nr"] = (m["ns"] + 1) & 0xFFFF
        log(f"L2TP control msg {m['msgtype']}")
        if m["msgtype"] == 2:        # SCCRP -> SCCCN, then ICRQ
            st["tid"] = struct.unpack("!H", m["avps"][9])[0]
            ctrl(0, msgtype(3))
            c.loop.at(0.2, lambda: ctrl(0, msgtype(10) + avp(14, struct.pack("!H", my_sid))
                                        + avp(15, struct.pack("!I", 1))))
        elif m["msgtype"] == 11:     # ICRP -> ICCN, data
            st["sid"] = struct.unpack("!H", m["avps"][14])[0]
            ctrl(st["sid"], msgtype(12) + avp(24, struct.pack("!I", 10000000)) + avp(19, struct.pack("!I", 1)))
            for i in range(a.count):
                c.loop.at(0.3 + a.interval * i, lambda i=i: data(i + 1))
            c.loop.at(0.3 + a.interval * a.count + 0.3,
                      lambda: ctrl(0, msgtype(4) + avp(9, struct.pack("!H", my_tid)) + avp(1, struct.pack("!H", 1))))
    c.loop.add(s, on_msg)
    ctrl(0, msgtype(1) + avp(2, b"\x01\x00") + avp(3, struct.pack("!I", 3)) + avp(7, f"lac-c{c.n}".encode())
         + avp(9, struct.pack("!H", my_tid)) + avp(10, struct.pack("!H", 4)))
    c.finish(0.5 + 0.3 + a.interval * a.count + 2.0)


def prog_frag(c, a):
    """NAT-T with ~3000-byte datagrams on 4500 sent as crafted IP fragments (order per --order)."""
    import scapy.all  # noqa: F401  (import before the timeline starts: it takes a while)
    c.open_ike()
    c.loop.at(0.0, lambda: c.send_sa_init(natd=True))
    auth = MARKER + sk_message(c.spii, ike_spir(c.n), EXCH_AUTH, False, 1, seed=c.spii + 7,
                               size=3000, inner=NP_IDI)
    base_id = 0x4100 + 0x100 * c.n
    c.loop.at(0.5, lambda: c.send_fragments(auth, a.order, base_id))
    spi = 0xA000 | c.n
    for i in range(a.count):
        def big(i=i):
            seq = c.next_seq(spi)
            drop = a.loss and i == a.count // 2
            c.send_fragments(esp(spi, seq, 3000 + 16 * i), a.order, base_id + 1 + i, drop_middle=drop)
        c.loop.at(1.0 + a.interval * i, big)
        c.loop.at(1.0 + a.interval * i + a.interval / 2, lambda: c.send_esp_udp())
    c.finish(1.0 + a.interval * a.count + (a.linger or 1.0))


def prog_ike_retx(c, a):
    """IKE_SA_INIT retransmitted with 1/2/4 s backoff until answered (max --count sends)."""
    c.open_ike()
    delays = [0.0]
    for i in range(1, a.count):
        delays.append(delays[-1] + 2 ** (i - 1))

    def attempt(i):
        if c.sa_init_answered:
            return
        log(f"IKE_SA_INIT transmission {i + 1}")
        c.send_sa_init(natd=a.natd)
    for i, d in enumerate(delays):
        c.loop.at(d, lambda i=i: attempt(i))
    c.finish(delays[-1] + 2.0 ** (len(delays) - 1) / 2 + 0.5)


def prog_ike_bigauth(c, a):
    """IKE_SA_INIT then a ~3000-byte IKE_AUTH on 4500: as IP fragments (kernel) or SKF payloads."""
    c.open_ike()
    c.loop.at(0.0, lambda: c.send_sa_init(natd=True, frag=(a.mode == "skf")))

    def auth():
        spir = c.spir or ike_spir(c.n)
        if a.mode == "skf":
            for m in skf_messages(c.spii, spir, EXCH_AUTH, False, 1, seed=c.spii + 7, size=3000,
                                  inner=NP_IDI, frag_data=1100):
                c.s4500.sendto(MARKER + m, (c.srv, 4500))
        else:
            c.send_auth(size=3000)   # UDP socket: the kernel fragments it
    c.loop.at(0.5, auth)
    c.every(1.5, a.interval, a.count, lambda: c.send_esp_udp())
    c.finish(1.5 + a.interval * a.count + 1.0)


def prog_tunnel(c, a):
    """A long-lived tunnel of one kind sending upstream data every --interval until --duration:
    natt (IKE_SA_INIT with NAT-D, IKE_AUTH on 4500, ESP-in-UDP, 0xFF keepalives every --keepalive),
    esp (IKE_SA_INIT on 500 without NAT-D, raw ESP) or wg (WireGuard-like handshake, transport
    data, empty keepalives every --keepalive). Nothing is sent inside a --quiet A:B window.
    --rekey-after S: when nothing came back for S seconds, start over once per silence (a new IKE SA:
    IKE_SA_INIT with the next SPIi on 500, for natt also IKE_AUTH on 4500; wg: a new handshake
    initiation with the next sender index), as a peer does when it declares the other side dead."""
    quiet = [tuple(float(x) for x in q.split(":")) for q in a.quiet]

    def at(t, fn):
        if not any(q0 <= t < q1 for q0, q1 in quiet):
            c.loop.at(t, fn)
    ka = None
    if a.kind == "natt":
        c.open_ike()
        c.loop.at(0.0, lambda: c.send_sa_init(natd=True))
        c.loop.at(0.3, lambda: c.send_auth())
        data, ka, start = (lambda: c.send_esp_udp(a.size or None)), c.keepalive, 0.6
    elif a.kind == "esp":
        c.open_ike()
        c.loop.at(0.0, lambda: c.send_sa_init(natd=False))
        data, start = c.send_raw_esp, 0.6
    else:
        c.open_wg()
        c.loop.at(0.0, c.send_wg_init)
        data, ka, start = (lambda: c.send_wg_data(a.size or 64)), (lambda: c.send_wg_data(0)), 0.3
    t = start + a.phase
    while t < a.duration:
        at(t, data)
        t += a.interval
    st = dict(gen=0, armed=False)

    def rekey():
        st["gen"] += 1
        log(f"nothing received for {a.rekey_after}s: new handshake #{st['gen']}")
        if a.kind == "wg":
            c.send_wg_init(st["gen"])
            return
        c.spii += 1
        c.send_sa_init(natd=a.kind == "natt")
        if a.kind == "natt":
            c.loop.at(0.3, lambda: c.send_auth())

    def watch():
        el = time.monotonic() - t0
        silent = time.monotonic() - c.last_rx
        if silent < a.rekey_after:
            st["armed"] = True
        elif st["armed"] and not any(q0 <= el < q1 for q0, q1 in quiet):
            st["armed"] = False
            rekey()
        if el < a.duration:
            c.loop.at(0.1, watch)
    t0 = time.monotonic()
    if a.rekey_after:
        c.loop.at(1.0, watch)
    if a.keepalive and ka:
        t = start + a.ka_phase + a.keepalive
        while t < a.duration:
            at(t, ka)
            t += a.keepalive
    c.finish(a.duration + 0.5)


def prog_mtu(c, a):
    """Probe the path with ESP of growing size (--sizes: IP packet lengths, header included): a small
    ESP, then the large one, resent (new sequence number, same size) up to --tries times while no ESP
    comes back within --wait s. --kind natt: ESP-in-UDP on 4500 with DF (IP_PMTUDISC_DO) and 0xFF
    keepalives every 2 s; with --adapt the sender clamps a datagram the kernel refuses (EMSGSIZE, path
    MTU learnt from ICMP) to the path MTU, as a tunnel lowering its MTU. --kind esp: raw ESP with the
    kernel default (DF set while it fits the known path MTU, fragmented locally once a smaller path
    MTU is known). --ignore-icmp: both kinds send with IP_PMTUDISC_PROBE (DF always set, the learnt
    path MTU ignored), a sender deaf to ICMP "fragmentation needed"."""
    v6 = ":" in c.srv
    sizes = [int(x) for x in a.sizes.split(",")]
    iphdr = 40 if v6 else 20
    natt = a.kind == "natt"
    c.open_ike()
    c.loop.at(0.0, lambda: c.send_sa_init(natd=natt))
    if not natt and a.ignore_icmp:
        c.pmtud_do(c.r50, probe=True)
    if natt:
        c.pmtud_do(c.s4500, probe=a.ignore_icmp)
        c.loop.at(0.3, lambda: c.send_auth())
        c.every(0.05, 2.0, 60, c.keepalive)
    spi = 0xA000 | c.n
    st = dict(i=0, k=0, rx0=0, t0=time.monotonic())

    def send(length):
        body = length - iphdr - (8 if natt else 0) - 8
        try:
            if natt:
                c.s4500.sendto(esp(spi, c.next_seq(spi), body), (c.srv, 4500))
            else:
                c.r50.sendto(esp(spi, c.next_seq(spi), body), (c.srv, 0))
        except OSError as e:
            if e.errno != 90 or not a.adapt:
                raise
            mtu = c.path_mtu()
            log(f"EMSGSIZE for {length}: path MTU {mtu}, sending {mtu} instead")
            send(mtu)
            return
        log(f"sent ESP of IP length {length} (try {st['k'] + 1})")

    def big():
        st["rx0"] = c.rx
        send(sizes[st["i"]])
        c.loop.at(a.wait, check)

    def check():
        if c.rx > st["rx0"]:
            log(f"size {sizes[st['i']]}: answered")
        elif st["k"] + 1 < a.tries:
            st["k"] += 1
            big()
            return
        else:
            log(f"size {sizes[st['i']]}: no answer after {a.tries} tries")
        st["i"] += 1
        st["k"] = 0
        step()

    def step():
        if st["i"] >= len(sizes):
            c.loop.at(1.0, c.loop.stop)
            return
        send(a.small)
        c.loop.at(0.3, big)
    c.loop.at(0.8, step)
    c.loop.run()


PROGRAMS = dict(ike_esp=prog_ike_esp, natt=prog_natt, keepalive=prog_keepalive, ah=prog_ah, pptp=prog_pptp, l2tp=prog_l2tp,
                frag=prog_frag, ike_retx=prog_ike_retx, ike_bigauth=prog_ike_bigauth,
                tunnel=prog_tunnel, mtu=prog_mtu)


# ---------------------------------------------------------------- offloads
def offload_off(ifaces):
    """Turn off tx checksum offload, TSO, GSO and GRO (like ethtool -K) so captures
    on the router show final checksums and wire-sized TCP segments."""
    SIOCETHTOOL = 0x8946
    cmds = [0x17, 0x1F, 0x24, 0x2C]   # ETHTOOL_STXCSUM, STSO, SGSO, SGRO
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    for ifc in ifaces:
        for cmd in cmds:
            ev = array.array("B", struct.pack("II", cmd, 0))
            addr, _ = ev.buffer_info()
            ifr = struct.pack("16sP", ifc.encode(), addr) + b"\0" * 16
            try:
                fcntl.ioctl(s, SIOCETHTOOL, ifr)
            except OSError as e:
                log(f"{ifc}: ethtool cmd {cmd:#x}: {e}")


def main():
    global NAME
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("server")
    s.add_argument("--name", default="s1")
    s.add_argument("--ip", required=True)
    s.add_argument("--ip6")
    s.add_argument("--v6", action="store_true")
    s.add_argument("--ike", choices=["answer", "silent", "ignore-first"], default="answer")
    s.add_argument("--ike-frag", action="store_true", help="echo IKEV2_FRAGMENTATION_SUPPORTED")
    s.add_argument("--esp-raw", choices=["push", "echo", "none"], default="push")
    s.add_argument("--esp-udp", choices=["echo", "none"], default="echo")
    s.add_argument("--ah", choices=["echo", "none"], default="echo")
    s.add_argument("--push-after-esp-idle", type=float, default=0)
    s.add_argument("--push-after-idle", type=float, default=0, help="any tunnel (NAT-T, raw ESP, WG)")
    s.add_argument("--stream", type=float, default=0, help="send to each tunnel every S seconds")
    s.add_argument("--stream-hold", type=float, default=5, help="... while heard within S seconds")
    s.add_argument("--pptp-port", type=int, default=1723)
    s.add_argument("--count", type=int, default=10)
    s.add_argument("--interval", type=float, default=0.3)
    c = sub.add_parser("client")
    c.add_argument("program", choices=sorted(PROGRAMS))
    c.add_argument("--n", type=int, required=True)
    c.add_argument("--server", required=True)
    c.add_argument("--count", type=int, default=10)
    c.add_argument("--count2", type=int, default=4)
    c.add_argument("--interval", type=float, default=0.3)
    c.add_argument("--natd", action="store_true")
    c.add_argument("--frag", action="store_true")
    c.add_argument("--keepalive", type=float, default=0)
    c.add_argument("--keepalive-idle", type=float, default=0)
    c.add_argument("--idle", type=float, default=0)
    c.add_argument("--call-id", type=lambda x: int(x, 0), default=0x4000)
    c.add_argument("--sport", type=int, default=0)
    c.add_argument("--order", choices=["inorder", "reverse", "shuffle"], default="inorder")
    c.add_argument("--loss", action="store_true")
    c.add_argument("--linger", type=float, default=0)
    c.add_argument("--mode", choices=["ipfrag", "skf"], default="ipfrag")
    c.add_argument("--port", type=int, default=1723, help="pptp: TCP port of the control connection")
    c.add_argument("--kind", choices=["natt", "esp", "wg"], default="natt")
    c.add_argument("--duration", type=float, default=10)
    c.add_argument("--phase", type=float, default=0)
    c.add_argument("--ka-phase", type=float, default=0)
    c.add_argument("--quiet", action="append", default=[], metavar="A:B")
    c.add_argument("--size", type=int, default=0)
    c.add_argument("--sizes", default="200,400,600,800,1000,1200,1280,1284,1344,1400")
    c.add_argument("--small", type=int, default=120)
    c.add_argument("--tries", type=int, default=3)
    c.add_argument("--wait", type=float, default=0.7)
    c.add_argument("--adapt", action="store_true")
    c.add_argument("--ignore-icmp", action="store_true")
    c.add_argument("--rekey-after", type=float, default=0)
    o = sub.add_parser("offload-off")
    o.add_argument("ifaces", nargs="+")
    a = p.parse_args()
    if a.cmd == "server":
        NAME = a.name
        Server(a).run()
    elif a.cmd == "client":
        NAME = f"c{a.n}"
        PROGRAMS[a.program](Client(a), a)
    else:
        offload_off(a.ifaces)


if __name__ == "__main__":
    main()
