/* decode_l4.c - the layer after IP: UDP (RFC 768), TCP (RFC 9293), and the IP protocol switch
 * (decode_l4) that hands ICMP, ESP, AH, GRE and IP in IP to their decoders. */
#include "vpnscope/decode.h"

#include <stddef.h>
#include <stdint.h>

#include "decode_int.h"
#include "encap_int.h"
#include "vpnscope/config.h"
#include "vpnscope/pkt.h"
#include "vpnscope/proto.h"
#include "vpnscope/rd.h"
#include "vpnscope/tunnel.h"

/* Whether the anomaly is already recorded on the packet. */
static bool has_anom(const struct pkt *p, enum anomaly a)
{
    for (unsigned i = 0; i < p->n_anom && i < sizeof(p->anom) / sizeof(p->anom[0]); i++) {
        if (p->anom[i] == (uint16_t)a)
            return true;
    }
    return false;
}

/* The capture cut this IP datagram (decode_packet records IP_SNAPLEN_SHORT; frag.c records it on
 * a reassembled datagram built from cut fragments). */
static bool l4_cut(const struct pkt *p)
{
    return has_anom(p, ANOM_IP_SNAPLEN_SHORT);
}

/* ---- L4 ---------------------------------------------------------------------------------- */

/*
 * UDP (RFC 768):
 *   +--------+--------+--------+--------+
 *   |  Source Port    |  Dest Port      |
 *   |  Length         |  Checksum       |
 *   +--------+--------+--------+--------+
 */
static void decode_udp(struct pkt *p, struct rd *r, bool cut)
{
    if (rd_left(r) < UDP_HLEN) {
        runs_out(p, cut, ANOM_UDP_TRUNC);
        return;
    }
    struct rv v = rd_view(r, UDP_HLEN); /* present: checked above */
    p->sport = rv_be16(v, 0);
    p->dport = rv_be16(v, 2);
    p->has_ports = true;
    uint16_t ulen = rv_be16(v, 4);
    /* 6: checksum */
    size_t avail = rd_left(r);
    const uint8_t *pl = rd_rest(r);
    if (ulen < UDP_HLEN) {
        pkt_invalid(p, ANOM_UDP_BAD_LEN);
        return;
    }
    size_t want = (size_t)ulen - UDP_HLEN;
    p->payload = pl;
    if (want > avail) {
        /* The length field claims more than the datagram holds. */
        p->payload_len = (uint32_t)avail;
        if (cut)
            pkt_truncated(p, ANOM_UDP_TRUNC);
        else
            pkt_invalid(p, ANOM_UDP_BAD_LEN);
        return;
    }
    p->payload_len = (uint32_t)want; /* bytes after the UDP length are padding */
}

/*
 * TCP (RFC 9293 §3.1): ports, seq, ack, data offset (32-bit words), flags; options skipped.
 */
static void decode_tcp(struct pkt *p, struct rd *r, bool cut)
{
    if (rd_left(r) < TCP_MIN_HLEN) {
        runs_out(p, cut, ANOM_TCP_TRUNC);
        return;
    }
    struct rv v = rd_view(r, TCP_MIN_HLEN); /* present: checked above */
    p->sport = rv_be16(v, 0);
    p->dport = rv_be16(v, 2);
    p->has_ports = true;
    p->tcp_seq = rv_be32(v, 4);
    p->tcp_ack = rv_be32(v, 8);
    uint8_t off = rv_u8(v, 12);
    p->tcp_flags = rv_u8(v, 13);
    /* 14: window, checksum, urgent pointer */
    size_t hlen = (size_t)(off >> 4) * 4;
    if (hlen < TCP_MIN_HLEN) {
        pkt_invalid(p, ANOM_TCP_BAD_HLEN);
        return;
    }
    if (hlen - TCP_MIN_HLEN > rd_left(r)) {
        runs_out(p, cut, cut ? ANOM_TCP_TRUNC : ANOM_TCP_BAD_HLEN);
        return;
    }
    rd_skip(r, hlen - TCP_MIN_HLEN);
    p->payload = rd_rest(r);
    p->payload_len = (uint32_t)rd_left(r);
}

void decode_l4(struct pkt *p, uint8_t proto, const uint8_t *data, uint32_t len)
{
    struct rd r = rd_init(data, len);
    bool cut = l4_cut(p);

    /* A reassembled IPv6 datagram starts after the fragment header and may carry more extension
     * headers (destination options) before the upper layer. */
    if (p->ipver == 6 && ipv6_is_ext(proto) && proto != IPV6_EXT_FRAGMENT) {
        unsigned steps = 0;
        bool short_ext = false;
        bool too_long = false;
        if (ipv6_skip_ext(&r, &proto, &steps, VPNSCOPE_MAX_IPV6_EXT, &short_ext, &too_long) < 0) {
            if (too_long)
                pkt_invalid(p, ANOM_IPV6_EXT_CHAIN_LONG);
            else
                runs_out(p, cut, ANOM_IPV6_EXT_TRUNC);
            return;
        }
    }

    p->l4proto = proto;
    p->l4 = rd_rest(&r);
    p->l4_len = (uint32_t)rd_left(&r);

    switch (proto) {
    case IPP_UDP:
        decode_udp(p, &r, cut);
        /* a payload the snaplen cut still holds a wrapper header (and the packet inside) */
        if (p->status == PKT_DECODED || (cut && p->status == PKT_TRUNCATED && p->payload))
            encap_udp(p, cut);
        break;
    case IPP_TCP:
        decode_tcp(p, &r, cut);
        break;
    case IPP_ICMP:
        decode_icmp(p, &r, cut, false);
        break;
    case IPP_ICMPV6:
        decode_icmp(p, &r, cut, true);
        break;
    case IPP_ESP:
        p->vpn = VPN_ESP;
        esp_decode(&r, p);
        break;
    case IPP_AH:
        p->vpn = VPN_AH;
        ah_decode(&r, p);
        if (p->status == PKT_DECODED && p->ah.next_header == IPP_ESP && p->payload) {
            /* AH+ESP bundle (RFC 4301 §4.5): the ESP header follows the ICV */
            struct rd er = rd_init(p->payload, p->payload_len);
            esp_decode(&er, p);
            p->vpn = VPN_AH;
            p->ah_esp = true;
        }
        break;
    case IPP_GRE:
        p->vpn = VPN_GRE;
        gre_decode(&r, p);
        if (p->status == PKT_DECODED)
            encap_gre(p, cut);
        break;
    case IPP_IPIP:
    case IPP_IPV6:
        decode_inner(p, ENCAP_IPIP, rd_rest(&r), (uint32_t)rd_left(&r), INNER_IP, cut);
        break;
    default:
        break; /* other protocols: L3 only */
    }
}
