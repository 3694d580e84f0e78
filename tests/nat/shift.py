#!/usr/bin/python3
"""shift.py IN OUT --offset SECONDS [--drift-ppm P] [--ref first|EPOCH_SECONDS]

Writes a copy of the capture IN to OUT with every timestamp moved to another clock:
    t' = t + offset + drift_ppm * 1e-6 * (t - ref)
ref is the first packet's time (default) or an absolute time in seconds. Packet bytes are
unchanged. This simulates an outside capture taken by a machine whose clock is off by `offset`
and runs fast (drift > 0) or slow, for the two-capture NAT correlation tests
(vpnscope --inside A --outside OUT must report clock_offset.seconds ~ offset, drift_ppm ~ P and
the same mappings as with the unshifted capture).

Reads and writes classic pcap (either byte order, microsecond or nanosecond resolution; the
output keeps the input's format) and pcapng (Enhanced/Simple/obsolete Packet Blocks; each
interface's if_tsresol is honoured, default microseconds). Plain struct parsing: no scapy needed.
Exit 0 on success, 2 on bad arguments or an unreadable file.
"""
import argparse
import struct
import sys


def shift_fn(offset, drift_ppm, ref):
    """Returns f(t_seconds_float, t_int, units_per_second) -> new integer time in units."""
    def f(t_units, units):
        t = t_units / units
        r = ref if ref is not None else t
        nt = t + offset + drift_ppm * 1e-6 * (t - r)
        v = int(round(nt * units))
        if v < 0:
            raise ValueError('shifted time before 1970')
        return v
    return f


def do_pcap(data, out, args):
    magic = data[:4]
    if magic in (b'\xd4\xc3\xb2\xa1', b'\x4d\x3c\xb2\xa1'):
        e = '<'
    else:
        e = '>'
    nsec = magic in (b'\x4d\x3c\xb2\xa1', b'\xa1\xb2\x3c\x4d')
    units = 1000000000 if nsec else 1000000
    out.write(data[:24])
    off = 24
    ref = args.ref_value
    first = None
    f = None
    n = 0
    while off + 16 <= len(data):
        s, sub, incl, orig = struct.unpack_from(e + 'IIII', data, off)
        t = s * units + sub
        if first is None:
            first = t / units
            f = shift_fn(args.offset, args.drift_ppm, ref if ref is not None else first)
        nt = f(t, units)
        out.write(struct.pack(e + 'IIII', nt // units, nt % units, incl, orig))
        out.write(data[off + 16:off + 16 + incl])
        off += 16 + incl
        n += 1
    if off != len(data):
        out.write(data[off:])  # a cut last record is kept as it was
    return n


def do_pcapng(data, out, args):
    off = 0
    e = '<'
    tsres = []  # units per second per interface of the current section
    ref = args.ref_value
    f = None
    n = 0
    while off + 12 <= len(data):
        btype = struct.unpack_from(e + 'I', data, off)[0]
        if btype == 0x0A0D0D0A:
            bom = data[off + 8:off + 12]
            e = '<' if bom == b'\x4d\x3c\x2b\x1a' else '>'
            tsres = []
        btype, blen = struct.unpack_from(e + 'II', data, off)
        if blen < 12 or off + blen > len(data):
            out.write(data[off:])
            break
        block = bytearray(data[off:off + blen])
        if btype == 1:  # Interface Description Block: look for if_tsresol (option 9)
            units = 1000000
            o = 16
            while o + 4 <= blen - 4:
                code, olen = struct.unpack_from(e + 'HH', block, o)
                if code == 0:
                    break
                if code == 9 and olen >= 1:
                    v = block[o + 4]
                    units = 2 ** (v & 0x7f) if v & 0x80 else 10 ** v
                o += 4 + ((olen + 3) & ~3)
            tsres.append(units)
        elif btype in (6, 2):  # Enhanced Packet Block / obsolete Packet Block
            if btype == 6:
                ifid = struct.unpack_from(e + 'I', block, 8)[0]
            else:
                ifid = struct.unpack_from(e + 'H', block, 8)[0]
            units = tsres[ifid] if ifid < len(tsres) else 1000000
            hi, lo = struct.unpack_from(e + 'II', block, 12)
            t = (hi << 32) | lo
            if f is None:
                f = shift_fn(args.offset, args.drift_ppm, ref if ref is not None else t / units)
            nt = f(t, units)
            struct.pack_into(e + 'II', block, 12, nt >> 32, nt & 0xffffffff)
            n += 1
        out.write(block)
        off += blen
    return n


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('input')
    ap.add_argument('output')
    ap.add_argument('--offset', type=float, required=True, help='seconds added to every timestamp')
    ap.add_argument('--drift-ppm', type=float, default=0.0, help='clock rate error in ppm')
    ap.add_argument('--ref', default='first', help="drift origin: 'first' packet or epoch seconds")
    args = ap.parse_args()
    args.ref_value = None if args.ref == 'first' else float(args.ref)
    try:
        with open(args.input, 'rb') as fh:
            data = fh.read()
    except OSError as ex:
        print('shift.py: %s' % ex, file=sys.stderr)
        return 2
    if len(data) < 24:
        print('shift.py: %s: not a capture' % args.input, file=sys.stderr)
        return 2
    with open(args.output, 'wb') as out:
        if data[:4] in (b'\xd4\xc3\xb2\xa1', b'\xa1\xb2\xc3\xd4', b'\x4d\x3c\xb2\xa1', b'\xa1\xb2\x3c\x4d'):
            n = do_pcap(data, out, args)
        elif data[:4] == b'\x0a\x0d\x0d\x0a':
            n = do_pcapng(data, out, args)
        else:
            print('shift.py: %s: not pcap or pcapng' % args.input, file=sys.stderr)
            return 2
    print('shift.py: %d packets, offset %+g s, drift %+g ppm -> %s' % (n, args.offset, args.drift_ppm, args.output),
          file=sys.stderr)
    return 0


if __name__ == '__main__':
    sys.exit(main())
