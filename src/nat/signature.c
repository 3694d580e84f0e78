/* signature.c - NAT-invariant packet signatures for the correlator (nat_pkt_sig, nat.h): the
 * bytes a NAT router leaves alone, hashed. */
#include "vpnscope/nat.h"

#include <string.h>

#include "vpnscope/pkt.h"
#include "vpnscope/proto.h"
#include "vpnscope/table.h"

struct hbuf {
    uint8_t b[192];
    size_t n;
};

static void hb_u8(struct hbuf *h, uint8_t v)
{
    if (h->n < sizeof(h->b))
        h->b[h->n++] = v;
}

static void hb_u32(struct hbuf *h, uint32_t v)
{
    if (h->n + 4 <= sizeof(h->b)) {
        memcpy(h->b + h->n, &v, 4);
        h->n += 4;
    }
}

/* First 64 and last 16 bytes of d[0..len) (the whole of it when short). */
static void hb_bytes(struct hbuf *h, const uint8_t *d, uint32_t len)
{
    if (!d)
        return;
    uint32_t first = len < 64 ? len : 64;
    if (h->n + first <= sizeof(h->b)) {
        memcpy(h->b + h->n, d, first);
        h->n += first;
    }
    if (len > 64) {
        uint32_t tail = len - 64 < 16 ? len - 64 : 16;
        if (h->n + tail <= sizeof(h->b)) {
            memcpy(h->b + h->n, d + len - tail, tail);
            h->n += tail;
        }
    }
}

static uint16_t be16(const uint8_t *p)
{
    return (uint16_t)((p[0] << 8) | p[1]);
}

/* L4 header length in a first fragment (bytes the NAT may rewrite), bounded by len. */
static uint32_t l4_hdr_skip(uint8_t proto, const uint8_t *d, uint32_t len)
{
    uint32_t s = 0;
    if (proto == IPP_UDP || ip_proto_is_icmp(proto))
        s = 8;
    else if (proto == IPP_TCP)
        s = len >= 13 ? (uint32_t)(d[12] >> 4) * 4 : 20;
    return s > len ? len : s;
}

/* A fragment not reassembled: its offset, length and data (past an L4 header it may carry). */
static void sig_fragment(const struct pkt *p, struct hbuf *h, struct nat_sig *s)
{
    uint32_t skip = p->frag_off == 0 ? l4_hdr_skip(p->l4proto, p->frag_data, p->frag_data_len) : 0;
    hb_u8(h, 0xf0);
    hb_u8(h, p->l4proto);
    hb_u8(h, p->frag_mf);
    hb_u32(h, p->frag_off);
    hb_u32(h, p->frag_data_len);
    hb_bytes(h, p->frag_data + skip, p->frag_data_len - skip);
    s->ev = NAT_EV_FRAGMENT | NAT_EV_PAYLOAD | NAT_EV_SIZE;
    s->weak = p->frag_data_len - skip < 8;
}

/* UDP: the payload (as long as the UDP length says); false when there is no UDP header. */
static bool sig_udp(const struct pkt *p, struct hbuf *h, struct nat_sig *s)
{
    const uint8_t *l4 = p->l4;
    uint32_t n = p->l4_len;
    if (!p->has_ports || n < 8)
        return false;
    uint32_t pl = n - 8;
    uint16_t ulen = be16(l4 + 4);
    if (ulen >= 8 && (uint32_t)(ulen - 8) < pl)
        pl = ulen - 8u;
    hb_u32(h, pl);
    hb_bytes(h, l4 + 8, pl);
    s->ev = NAT_EV_PAYLOAD | NAT_EV_SIZE;
    if (p->vpn == VPN_IKE)
        s->ev |= NAT_EV_SPI;
    else if (p->vpn == VPN_ESP)
        s->ev |= NAT_EV_SPI | NAT_EV_SEQ;
    s->weak = pl < 12;
    return true;
}

/* TCP: sequence and acknowledgement numbers, flags and payload length. */
static bool sig_tcp(const struct pkt *p, struct hbuf *h, struct nat_sig *s)
{
    if (!p->has_ports)
        return false;
    hb_u32(h, p->tcp_seq);
    hb_u32(h, p->tcp_ack);
    hb_u8(h, p->tcp_flags);
    hb_u32(h, p->payload_len);
    s->ev = NAT_EV_SEQ | NAT_EV_SIZE;
    return true;
}

/* ICMP / ICMPv6: an echo by sequence and data (the identifier is remapped); an error by the
 * quoted header's fields the NAT leaves alone. */
static bool sig_icmp(const struct pkt *p, struct hbuf *h, struct nat_sig *s)
{
    const uint8_t *l4 = p->l4;
    uint32_t n = p->l4_len;
    if (n < 8)
        return false;
    uint8_t type = l4[0];
    bool echo = p->l4proto == IPP_ICMP ? (type == 0 || type == 8) : (type == 128 || type == 129);
    hb_u8(h, type);
    hb_u8(h, l4[1]);
    if (echo) {
        hb_u8(h, l4[6]); /* sequence; the identifier is remapped */
        hb_u8(h, l4[7]);
        hb_u32(h, n - 8);
        hb_bytes(h, l4 + 8, n - 8);
        s->ev = NAT_EV_PAYLOAD | NAT_EV_SIZE | NAT_EV_ICMP_ID;
        s->weak = n - 8 < 8;
        return true;
    }
    /* an error quotes a header the NAT rewrites: keep its ID, protocol and length */
    const uint8_t *q = l4 + 8;
    uint32_t qn = n - 8;
    hb_u32(h, qn);
    if (qn >= 20 && (q[0] >> 4) == 4) {
        hb_u8(h, q[4]);
        hb_u8(h, q[5]);
        hb_u8(h, q[9]);
        hb_u8(h, q[2]);
        hb_u8(h, q[3]);
    } else if (qn >= 40 && (q[0] >> 4) == 6) {
        hb_u8(h, q[4]);
        hb_u8(h, q[5]);
        hb_u8(h, q[6]);
    }
    s->ev = NAT_EV_SIZE;
    s->weak = true;
    return true;
}

/* GRE: the whole packet but a version 1 Call ID, which the PPTP helper rewrites. */
static void sig_gre(const struct pkt *p, struct hbuf *h, struct nat_sig *s)
{
    const uint8_t *l4 = p->l4;
    uint32_t n = p->l4_len;
    uint8_t b[64];
    uint32_t first = n < 64 ? n : 64;
    memcpy(b, l4, first);
    bool v1 = n >= 2 && (l4[1] & 7) == 1;
    if (v1 && first >= 8) {
        b[6] = 0; /* the Call ID: rewritten by the PPTP helper */
        b[7] = 0;
    }
    hb_u32(h, n);
    hb_bytes(h, b, first);
    if (n > 64)
        hb_bytes(h, l4 + 64, n - 64);
    s->ev = NAT_EV_PAYLOAD | NAT_EV_SIZE;
    if (p->gre.has_seq || p->gre.has_ack)
        s->ev |= NAT_EV_SEQ;
    s->weak = !(p->gre.has_seq || p->gre.has_ack) && n < 16;
}

/* ESP, AH and other protocols: the whole L4 part; `min` is the length below which it is weak. */
static void sig_whole(const struct pkt *p, struct hbuf *h, struct nat_sig *s, uint32_t ev,
                      uint32_t min)
{
    hb_u32(h, p->l4_len);
    hb_bytes(h, p->l4, p->l4_len);
    s->ev = ev;
    s->weak = p->l4_len < min;
}

void nat_pkt_sig(const struct pkt *p, struct nat_sig *s)
{
    memset(s, 0, sizeof(*s));
    if (!p->ipver || p->status == PKT_NON_IP)
        return;
    struct hbuf h;
    h.n = 0;
    if (p->is_frag && !p->reassembled) {
        if (!p->frag_data)
            return;
        sig_fragment(p, &h, s);
        s->h = hash_bytes(h.b, h.n) | 1;
        return;
    }
    if (!p->l4)
        return;
    hb_u8(&h, p->l4proto);
    bool ok = true;
    switch (p->l4proto) {
    case IPP_UDP:
        ok = sig_udp(p, &h, s);
        break;
    case IPP_TCP:
        ok = sig_tcp(p, &h, s);
        break;
    case IPP_ICMP:
    case IPP_ICMPV6:
        ok = sig_icmp(p, &h, s);
        break;
    case IPP_ESP:
    case IPP_AH:
        sig_whole(p, &h, s, NAT_EV_SPI | NAT_EV_SEQ | NAT_EV_SIZE | NAT_EV_PAYLOAD, 8);
        break;
    case IPP_GRE:
        sig_gre(p, &h, s);
        break;
    default:
        sig_whole(p, &h, s, NAT_EV_PAYLOAD | NAT_EV_SIZE, 12);
        break;
    }
    if (!ok)
        return;
    s->h = hash_bytes(h.b, h.n) | 1; /* never 0 */
}
