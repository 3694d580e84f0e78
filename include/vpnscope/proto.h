/* proto.h - protocol numbers and message types shared by every module: IP protocol numbers, PPTP
 * control message types, the one address comparison and the one protocol-name table. Use these
 * names instead of bare numbers. */
#ifndef VPNSCOPE_PROTO_H
#define VPNSCOPE_PROTO_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "vpnscope/pkt.h"

/* IP protocol numbers (IANA "Assigned Internet Protocol Numbers"). */
enum ip_proto {
    IPP_ICMP = 1,
    IPP_IPIP = 4, /* IPv4 in IP (RFC 2003) */
    IPP_TCP = 6,
    IPP_UDP = 17,
    IPP_IPV6 = 41, /* IPv6 in IP (RFC 4213) */
    IPP_GRE = 47,
    IPP_ESP = 50,
    IPP_AH = 51,
    IPP_ICMPV6 = 58,
    IPP_L2TPV3 = 115,
};

/* ICMP or ICMPv6. */
static inline bool ip_proto_is_icmp(uint8_t p)
{
    return p == IPP_ICMP || p == IPP_ICMPV6;
}

/* PPTP control message types (RFC 2637 section 2). */
enum pptp_ctrl_type {
    PPTP_SCCRQ = 1, /* Start-Control-Connection-Request */
    PPTP_SCCRP,     /* Start-Control-Connection-Reply */
    PPTP_STOPCCRQ,  /* Stop-Control-Connection-Request */
    PPTP_STOPCCRP,  /* Stop-Control-Connection-Reply */
    PPTP_ECHORQ,    /* Echo-Request */
    PPTP_ECHORP,    /* Echo-Reply */
    PPTP_OCRQ,      /* Outgoing-Call-Request */
    PPTP_OCRP,      /* Outgoing-Call-Reply */
    PPTP_ICRQ,      /* Incoming-Call-Request */
    PPTP_ICRP,      /* Incoming-Call-Reply */
    PPTP_ICCN,      /* Incoming-Call-Connected */
    PPTP_CCRQ,      /* Call-Clear-Request */
    PPTP_CDN,       /* Call-Disconnect-Notify */
    PPTP_WEN,       /* WAN-Error-Notify */
    PPTP_SLI,       /* Set-Link-Info */
};

/* Same address family and address (unused bytes ignored): IPv4 compares the first 4 bytes, any
 * other family all 16. Inline, word at a time: two to four calls a packet (flow lookup, MTU). */
static inline bool ip_addr_eq(const struct ip_addr *a, const struct ip_addr *b)
{
    if (a->v != b->v)
        return false;
    if (a->v == 4) {
        uint32_t x, y;
        memcpy(&x, a->a, 4);
        memcpy(&y, b->a, 4);
        return x == y;
    }
    uint64_t x0, x1, y0, y1;
    memcpy(&x0, a->a, 8);
    memcpy(&x1, a->a + 8, 8);
    memcpy(&y0, b->a, 8);
    memcpy(&y1, b->a + 8, 8);
    return ((x0 ^ y0) | (x1 ^ y1)) == 0;
}

/* Lowercase protocol name as written in records: "udp", "tcp", "icmp", "icmpv6", "esp", "ah",
 * "gre", "ipip", "ipv6", "l2tpv3"; NULL when it has no name (callers print the number). */
const char *ip_proto_name(uint8_t proto);

/* Microseconds from `first` to `last`, 0 when `last` is not after `first` (reordered packets,
 * a clock that stepped back): a duration never wraps. */
static inline uint64_t ts_span(uint64_t first, uint64_t last)
{
    return last > first ? last - first : 0;
}

#endif
