#!/usr/bin/env python3
"""pair_check.py PREFIX [--offset S] [--drift-ppm P] [--latency-us U]

Checks that PREFIX-outside.pcap is PREFIX-inside.pcap seen through a NAPT router (as tests/bench/gen.c
simulates it), i.e. that the two files differ exactly by NAT rewriting:
  * packets appear in the same order; inside-only packets are router drops, only client->server
    ESP/AH/GRE/NAT-T keepalive, and few (<0.5%);
  * outside time = inside time + latency + offset + drift (to 2 us);
  * per packet only these bytes differ: MAC addresses, the client address (-> 203.0.113.1), TTL (+-1),
    IP checksum, the client's TCP/UDP port and the L4 checksum, the PPTP OCRQ Call ID / OCRP Peer's
    Call ID, the GRE key Call ID of server->client enhanced GRE;
  * IP and TCP/UDP checksums are valid on both sides;
  * the port mapping is a function per flow, PPTP Call IDs are rewritten to the outside TCP source port
    and server->client GRE carries that Call ID outside.
Exit 0 when all hold.
"""
import struct
import sys

PUBLIC = bytes([203, 0, 113, 1])


def read_pcap(path):
    with open(path, 'rb') as f:
        data = f.read()
    magic = struct.unpack_from('<I', data, 0)[0]
    assert magic == 0xa1b2c3d4, 'classic little-endian microsecond pcap expected'
    assert struct.unpack_from('<I', data, 20)[0] == 1, 'DLT_EN10MB expected'
    off, out = 24, []
    while off < len(data):
        s, us, incl, orig = struct.unpack_from('<IIII', data, off)
        out.append((s * 1000000 + us, data[off + 16:off + 16 + incl]))
        off += 16 + incl
    return out


def csum(b):
    if len(b) % 2:
        b += b'\0'
    s = sum(struct.unpack('!%dH' % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return s


def l4_ok(p):
    ip = p[14:]
    ihl = (ip[0] & 15) * 4
    tot = struct.unpack_from('!H', ip, 2)[0]
    proto = ip[9]
    if csum(bytes(ip[:ihl])) != 0xffff:
        return 'ip checksum'
    frag = struct.unpack_from('!H', ip, 6)[0]
    if frag & 0x3fff:  # fragment: L4 checksum covers the reassembled datagram
        return None
    l4 = bytes(ip[ihl:tot])
    if proto in (6, 17):
        if proto == 17 and struct.unpack_from('!H', l4, 6)[0] == 0:
            return None
        ph = bytes(ip[12:20]) + struct.pack('!BBH', 0, proto, len(l4))
        if csum(ph + l4) != 0xffff:
            return 'l4 checksum'
    return None


def main():
    args = sys.argv[1:]
    if not args:
        print(__doc__)
        return 2
    prefix = args[0]
    opt = {'--offset': 0.0, '--drift-ppm': 0.0, '--latency-us': 500.0}
    i = 1
    while i < len(args):
        opt[args[i]] = float(args[i + 1])
        i += 2
    inside = read_pcap(prefix + '-inside.pcap')
    outside = read_pcap(prefix + '-outside.pcap')
    start = 1767225600 * 1000000
    errors = []
    drops = {}
    portmap = {}
    pptp_call_out = {}    # client ip -> outside call id
    gre_keys = {}         # client ip -> set of outside GRE keys server->client
    j = 0
    matched = 0

    def err(msg):
        if len(errors) < 20:
            errors.append(msg)

    for n, (ts, p) in enumerate(inside, 1):
        ip = p[14:]
        src, dst, proto = bytes(ip[12:16]), bytes(ip[16:20]), ip[9]
        to_peer = src[0] == 10 and src[1] == 0
        if not to_peer and not (dst[0] == 10 and dst[1] == 0):
            err('frame %d: neither side is a 10.0.x.y client' % n)
        ihl = (ip[0] & 15) * 4
        o = outside[j][1] if j < len(outside) else b''
        # a matching outside packet has the same length, protocol, IP id and peer address
        peer_off = 30 if to_peer else 26
        same = (len(o) == len(p) and o[14 + 9] == proto and o[18:20] == p[18:20]
                and o[peer_off:peer_off + 4] == p[peer_off:peer_off + 4])
        if not same:
            kind = {50: 'esp', 51: 'ah', 47: 'gre'}.get(proto, 'udp' if proto == 17 else 'tcp')
            if proto == 17:
                sp, dp = struct.unpack_from('!HH', ip, ihl)
                if dp == 4500 and len(ip) - ihl - 8 == 1:
                    kind = 'keepalive'
                elif dp == 4500 and struct.unpack_from('!I', ip, ihl + 8)[0] != 0:
                    kind = 'esp-udp'
            if not to_peer or kind not in ('esp', 'ah', 'gre', 'keepalive', 'esp-udp'):
                err('frame %d: inside packet (%s, to_peer=%s) missing outside' % (n, kind, to_peer))
            drops[kind] = drops.get(kind, 0) + 1
            continue
        ots = outside[j][0]
        j += 1
        matched += 1
        exp = ts + opt['--latency-us'] + opt['--offset'] * 1e6 + (ts - start) * opt['--drift-ppm'] * 1e-6
        if abs(ots - exp) > 2:
            err('frame %d: outside ts %d, expected %.0f' % (n, ots, exp))
        for which, pk in (('inside', p), ('outside', o)):
            e = l4_ok(pk)
            if e:
                err('frame %d: %s %s' % (n, which, e))
        # expected outside from inside by NAT rewriting
        exp_o = bytearray(p)
        exp_o[0:12] = o[0:12]
        if o[0:12] == p[0:12]:
            err('frame %d: MAC addresses not rewritten' % n)
        oip = o[14:]
        if to_peer:
            exp_o[14 + 12:14 + 16] = PUBLIC
            if oip[8] != ip[8] - 1:
                err('frame %d: TTL %d -> %d' % (n, ip[8], oip[8]))
        else:
            exp_o[14 + 16:14 + 20] = PUBLIC
            if oip[8] != ip[8] + 1:
                err('frame %d: TTL %d -> %d' % (n, ip[8], oip[8]))
        exp_o[14 + 8] = oip[8]
        exp_o[14 + 10:14 + 12] = oip[10:12]
        frag = struct.unpack_from('!H', ip, 6)[0]
        client = src if to_peer else dst
        if frag & 0x1fff == 0 and proto in (6, 17):
            po = ihl + (0 if to_peer else 2)
            pin = struct.unpack_from('!H', ip, po)[0]
            pout = struct.unpack_from('!H', oip, po)[0]
            exp_o[14 + po:14 + po + 2] = oip[po:po + 2]
            ck = ihl + (16 if proto == 6 else 6)
            exp_o[14 + ck:14 + ck + 2] = oip[ck:ck + 2]
            peer = (dst if to_peer else src, struct.unpack_from('!H', ip, ihl + (2 if to_peer else 0))[0])
            key = (proto, client, pin, peer)
            if portmap.setdefault(key, pout) != pout:
                err('frame %d: flow %s mapped to port %d and %d' % (n, key, portmap[key], pout))
            if proto == 6:
                doff = (ip[ihl + 12] >> 4) * 4
                pl = ihl + doff
                if len(ip) >= pl + 16 and struct.unpack_from('!I', ip, pl + 4)[0] == 0x1A2B3C4D:
                    mtype = struct.unpack_from('!H', ip, pl + 8)[0]
                    if mtype == 7 and to_peer:
                        cout = struct.unpack_from('!H', oip, pl + 12)[0]
                        if cout != pout:
                            err('frame %d: OCRQ Call ID %d outside, TCP source port %d' % (n, cout, pout))
                        pptp_call_out[client] = cout
                        exp_o[14 + pl + 12:14 + pl + 14] = oip[pl + 12:pl + 14]
                    if mtype == 8 and not to_peer:
                        exp_o[14 + pl + 14:14 + pl + 16] = oip[pl + 14:pl + 16]
                        if struct.unpack_from('!H', oip, pl + 14)[0] != pptp_call_out.get(client):
                            err('frame %d: OCRP Peer Call ID outside does not match OCRQ' % n)
        if proto == 47 and not to_peer:
            exp_o[14 + ihl + 6:14 + ihl + 8] = oip[ihl + 6:ihl + 8]
            k = struct.unpack_from('!H', oip, ihl + 6)[0]
            if k != pptp_call_out.get(client):
                err('frame %d: GRE key call id %d outside, expected %s' % (n, k, pptp_call_out.get(client)))
        if bytes(exp_o) != o:
            diff = [k for k in range(len(o)) if exp_o[k] != o[k]]
            err('frame %d: unexpected byte differences at offsets %s' % (n, diff[:10]))
    if j != len(outside):
        err('%d outside packets left over' % (len(outside) - j))
    ndrop = sum(drops.values())
    if ndrop > 0.005 * len(inside):
        err('too many drops: %d' % ndrop)
    print('pair_check: inside %d, outside %d, matched %d, router drops %d %s, flows mapped %d, PPTP calls %d'
          % (len(inside), len(outside), matched, ndrop, drops, len(portmap), len(pptp_call_out)))
    for e in errors:
        print('pair_check: FAIL', e)
    print('pair_check:', 'OK' if not errors else 'FAILED')
    return 1 if errors else 0


if __name__ == '__main__':
    sys.exit(main())
