/* decode_icmp.c - ICMP (RFC 792) and ICMPv6 (RFC 4443): type, code, echo identifier, and the
 * "fragmentation needed" / "packet too big" messages with the next-hop MTU and the quoted
 * datagram (addresses, protocol, length, ports or ESP SPI) that path-MTU findings read. */
#include "vpnscope/decode.h"

#include <stddef.h>
#include <stdint.h>

#include "decode_int.h"
#include "vpnscope/pkt.h"
#include "vpnscope/proto.h"
#include "vpnscope/rd.h"

#define ICMP_UNREACH 3
#define ICMP_UNREACH_NEEDFRAG 4
#define ICMP6_PACKET_TOO_BIG 2

/* The quoted datagram's addresses, protocol, length and first 8 bytes (ports, or the ESP SPI). */
static void decode_quoted(struct pkt *p, struct rd *q, bool v6)
{
    struct icmp_too_big *tb = &p->too_big;
    size_t hlen;
    if (v6) {
        hlen = IPV6_HLEN;
        rd_skip(q, 4);
        tb->len = (uint32_t)rd_be16(q) + IPV6_HLEN;
        tb->proto = rd_u8(q);
        rd_skip(q, 1);
        tb->src.v = tb->dst.v = 6;
        rd_copy(q, tb->src.a, 16);
        rd_copy(q, tb->dst.a, 16);
    } else {
        hlen = (size_t)(rd_peek_u8(q) & 0x0f) * 4;
        rd_skip(q, 2);
        tb->len = rd_be16(q);
        rd_skip(q, 5);
        tb->proto = rd_u8(q);
        rd_skip(q, 2);
        tb->src.v = tb->dst.v = 4;
        rd_copy(q, tb->src.a, 4);
        rd_copy(q, tb->dst.a, 4);
        if (hlen < IPV4_MIN_HLEN)
            return; /* quoted header impossible: addresses only */
        rd_skip(q, hlen - IPV4_MIN_HLEN);
    }
    tb->valid = rd_ok(q);
    if (!tb->valid)
        return;
    if ((tb->proto == IPP_UDP || tb->proto == IPP_TCP) && rd_left(q) >= 4) {
        tb->has_ports = true;
        tb->sport = rd_be16(q);
        tb->dport = rd_be16(q);
        /* ESP in UDP: the SPI follows the 8-byte UDP header (a zero marker means IKE) */
        if (tb->proto == IPP_UDP && rd_left(q) >= 8) {
            rd_skip(q, 4);
            uint32_t spi = rd_be32(q);
            tb->has_spi = spi != 0;
            tb->spi = spi;
        }
    } else if (tb->proto == IPP_ESP && rd_left(q) >= 4) {
        tb->has_spi = true;
        tb->spi = rd_be32(q);
    }
}

/* ICMP "fragmentation needed" (RFC 1191: unused, next-hop MTU) / ICMPv6 "packet too big" (RFC
 * 4443: MTU), then as much of the offending datagram as fits. */
static void decode_too_big(struct pkt *p, struct rd *r, bool cut, bool v6)
{
    size_t qmin = v6 ? IPV6_HLEN : IPV4_MIN_HLEN;
    if (rd_left(r) < 4 + qmin) {
        runs_out(p, cut, ANOM_ICMP_TRUNC);
        return;
    }
    if (!v6)
        rd_skip(r, 2); /* unused */
    p->too_big.mtu = v6 ? rd_be32(r) : rd_be16(r);
    p->payload = rd_rest(r);
    p->payload_len = (uint32_t)rd_left(r);
    struct rd q = *r;
    decode_quoted(p, &q, v6);
}

/* ICMP (RFC 792) / ICMPv6 (RFC 4443): type, code, checksum; echo carries identifier, sequence;
 * too-big messages carry the MTU and the quoted datagram. */
void decode_icmp(struct pkt *p, struct rd *r, bool cut, bool v6)
{
    if (rd_left(r) < 4) {
        runs_out(p, cut, ANOM_ICMP_TRUNC);
        return;
    }
    p->icmp_type = rd_u8(r);
    p->icmp_code = rd_u8(r);
    rd_skip(r, 2); /* checksum */
    if (v6 ? p->icmp_type == ICMP6_PACKET_TOO_BIG
           : (p->icmp_type == ICMP_UNREACH && p->icmp_code == ICMP_UNREACH_NEEDFRAG)) {
        decode_too_big(p, r, cut, v6);
        return;
    }
    bool echo = v6 ? (p->icmp_type == 128 || p->icmp_type == 129)
                   : (p->icmp_type == 8 || p->icmp_type == 0);
    if (rd_left(r) < 4) {
        if (echo)
            runs_out(p, cut, ANOM_ICMP_TRUNC);
        return;
    }
    uint16_t id = rd_be16(r);
    rd_skip(r, 2);
    if (echo)
        p->icmp_id = id;
    p->payload = rd_rest(r);
    p->payload_len = (uint32_t)rd_left(r);
}
