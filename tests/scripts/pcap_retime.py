#!/usr/bin/env python3
"""pcap_retime.py - rewrites the record timestamps of a classic pcap file (struct-level, no other
byte changes), for the clock tests.

  pcap_retime.py IN OUT --base SECONDS        first record at SECONDS, the others shifted alike
  pcap_retime.py IN OUT --step FRAME DELTA    from 1-based FRAME on, every timestamp moves by DELTA
                                              seconds (negative: the clock stepped back)
  pcap_retime.py IN OUT --drop FIRST LAST   leaves out frames FIRST..LAST (1-based; a capture
                                              that missed packets)
They may be combined (--base first; --step counts frames of the input). Microsecond and
nanosecond pcap, either byte order."""
import argparse
import struct
import sys


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("inp")
    ap.add_argument("out")
    ap.add_argument("--base", type=int)
    ap.add_argument("--step", nargs=2, type=int, metavar=("FRAME", "DELTA"))
    ap.add_argument("--drop", nargs=2, type=int, metavar=("FIRST", "LAST"))
    a = ap.parse_args()
    data = open(a.inp, "rb").read()
    magic = data[:4]
    if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1"):
        e = "<"
    elif magic in (b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
        e = ">"
    else:
        sys.exit("not a classic pcap file")
    out = bytearray(data)
    keep = bytearray(data[:24])
    off, frame, shift = 24, 0, None
    while off + 16 <= len(data):
        sec, frac, caplen, _ = struct.unpack_from(e + "IIII", data, off)
        frame += 1
        if a.drop and a.drop[0] <= frame <= a.drop[1]:
            off += 16 + caplen
            continue
        if a.base is not None and shift is None:
            shift = a.base - sec
        sec += shift or 0
        if a.step and frame >= a.step[0]:
            sec += a.step[1]
        if not 0 <= sec <= 0xFFFFFFFF:
            sys.exit("frame %d: seconds %d out of the pcap range" % (frame, sec))
        struct.pack_into(e + "I", out, off, sec)
        keep += out[off:off + 16 + caplen]
        off += 16 + caplen
    open(a.out, "wb").write(keep)


if __name__ == "__main__":
    main()
