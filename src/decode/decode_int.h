/* decode_int.h - between the files of the decoder (decode.c: link layer, IPv4, IPv6;
 * decode_l4.c: UDP, TCP and the IP protocol switch; decode_icmp.c: ICMP; decode_app.c:
 * application demultiplexing; encap.c: wrappers and tunnels): header sizes, EtherTypes and the
 * helpers more than one of them uses. */
#ifndef VPNSCOPE_DECODE_INT_H
#define VPNSCOPE_DECODE_INT_H

#include <stdbool.h>
#include <stdint.h>

#include "vpnscope/pkt.h"
#include "vpnscope/rd.h"

/* Header sizes. */
#define ETH_HLEN 14      /* Ethernet: dst MAC, src MAC, EtherType */
#define IPV4_MIN_HLEN 20 /* RFC 791 */
#define IPV6_HLEN 40     /* RFC 8200 */
#define IPV6_FRAG_HLEN 8 /* RFC 8200 §4.5 */
#define UDP_HLEN 8       /* RFC 768 */
#define TCP_MIN_HLEN 20  /* RFC 9293 */

/* EtherTypes (IEEE 802) and PPP protocol numbers (RFC 1661) of IP. */
#define ETHERTYPE_IPV4 0x0800
#define ETHERTYPE_IPV6 0x86dd
#define PPP_IPV4 0x0021
#define PPP_IPV6 0x0057

/* IPv6 extension header types (IANA "IPv6 Extension Header Types"; IP protocol numbers). */
#define IPV6_EXT_HOPOPTS 0
#define IPV6_EXT_ROUTING 43
#define IPV6_EXT_FRAGMENT 44
#define IPV6_EXT_DSTOPTS 60
#define IPV6_EXT_MOBILITY 135
#define IPV6_EXT_HIP 139
#define IPV6_EXT_SHIM6 140

/* A layer needs bytes the IP datagram does not hold. If the capture was cut by the snaplen the
 * bytes existed on the wire (truncated); otherwise the datagram itself is short (invalid). */
static inline void runs_out(struct pkt *p, bool cut, enum anomaly a)
{
    if (cut)
        pkt_truncated(p, a);
    else
        pkt_invalid(p, a);
}

/* decode.c: whether nh is an IPv6 extension header (AH and ESP are VPN layers, not). */
bool ipv6_is_ext(uint8_t nh);

/*
 * decode.c: skips generic IPv6 extension headers (RFC 8200 §4.2 layout) while *nh is one of
 * them, except the fragment header, which the caller handles. Each step consumes >= 8 bytes; at
 * most `budget` steps. Returns 0 when the chain ended (or reached a fragment header), -1 on a
 * short header (*short_ext set) or a chain longer than the budget (*too_long set).
 */
int ipv6_skip_ext(struct rd *r, uint8_t *nh, unsigned *steps, unsigned budget, bool *short_ext,
                  bool *too_long);

/* decode_icmp.c: ICMP (RFC 792) / ICMPv6 (RFC 4443) at r, after the IP header; `cut`: the
 * capture cut the datagram. */
void decode_icmp(struct pkt *p, struct rd *r, bool cut, bool v6);

#endif
