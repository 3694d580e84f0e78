#!/usr/bin/python3
"""Turn off TX checksum offload on the given interfaces (ethtool -K IF tx off, without ethtool).

veth devices offload checksums: a packet captured on the router would otherwise carry only the
pseudo-header sum in its UDP checksum field. Run inside the interface's network namespace."""
import array, fcntl, socket, struct, sys

SIOCETHTOOL = 0x8946
ETHTOOL_STXCSUM = 0x17

s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for ifname in sys.argv[1:]:
    ev = array.array("B", struct.pack("II", ETHTOOL_STXCSUM, 0))
    addr, _ = ev.buffer_info()
    ifr = struct.pack("16sP", ifname.encode(), addr)
    fcntl.ioctl(s.fileno(), SIOCETHTOOL, ifr)
