/* encap_int.h - between decode.c (link and IP layers) and encap.c (wrappers and tunnels). */
#ifndef VPNSCOPE_ENCAP_INT_H
#define VPNSCOPE_ENCAP_INT_H

#include <stdbool.h>
#include <stdint.h>

#include "vpnscope/encap.h"
#include "vpnscope/pkt.h"
#include "vpnscope/rd.h"

/* What follows a wrapper header. */
enum inner_link {
    INNER_ETH, /* an Ethernet frame */
    INNER_IP,  /* IPv4 or IPv6 by the version nibble */
};

/*
 * decode.c: makes the packet found inside a wrapper or tunnel of kind `k` the packet itself.
 * Keeps the capture fields, status and anomalies; clears the outer layers; records the layer in
 * the encapsulation block. `cut` says the capture cut the outer datagram. At the depth cap the
 * outer packet stays and ENCAP_TOO_DEEP is recorded.
 */
void decode_inner(struct pkt *p, enum encap_kind k, const uint8_t *d, uint32_t len,
                  enum inner_link link, bool cut);

/* encap.c: after a UDP header (payload set): VXLAN, Geneve, GTP-U, L2TPv2 data. */
void encap_udp(struct pkt *p, bool cut);

/* encap.c: after a GRE v0 header (payload set): ERSPAN, TEB, IPv4/IPv6. */
void encap_gre(struct pkt *p, bool cut);

/* encap.c: an MPLS label stack at r (EtherType 0x8847/0x8848): walks it and decodes what the
 * bottom label carries. */
void encap_mpls(struct pkt *p, struct rd *r, bool cut);

#endif
