/* encap.c - wrappers and tunnels around the packet under study: VXLAN (RFC 7348), Geneve
 * (RFC 8926), ERSPAN I/II/III (draft-foschiano-erspan), GRE TEB and GRE with IP (RFC 2784),
 * MPLS (RFC 3032), GTP-U (3GPP TS 29.281) and L2TPv2 data with PPP (RFC 2661, RFC 1661).
 * IP in IP is recognised in decode.c (an IP protocol number). Each function checks the wrapper
 * header through the reader and hands what it carries to decode_inner().
 *
 * Limitations:
 * - A wrapper is recognised by its port or GRE protocol only: VXLAN on another port, GRE keyed
 *   ERSPAN without the sequence bit (type I) are taken as written in the table below.
 * - VXLAN-GPE (flag P) and Geneve payloads other than Ethernet/IPv4/IPv6 stay the outer UDP.
 * - L2TPv2 data that is not PPP IPv4/IPv6 (LCP, IPCP, compressed protocols) stays L2TP.
 */
#include <stddef.h>
#include <stdint.h>

#include "decode_int.h"
#include "encap_int.h"
#include "vpnscope/config.h"
#include "vpnscope/decode.h"
#include "vpnscope/pkt.h"
#include "vpnscope/rd.h"

#define PORT_VXLAN 4789
#define PORT_VXLAN_LINUX 8472 /* Linux vxlan default before IANA assigned 4789 */
#define PORT_GENEVE 6081
#define PORT_GTPU 2152

#define VXLAN_HLEN 8
#define VXLAN_FLAG_I 0x08
#define GENEVE_HLEN 8
#define GTPU_HLEN 8
#define GTPU_OPT_LEN 4
#define GTPU_TPDU 255
#define ERSPAN2_HLEN 8
#define ERSPAN3_HLEN 12
#define ERSPAN3_PLATFORM_LEN 8

#define ETHERTYPE_TEB 0x6558
#define ETHERTYPE_ERSPAN2 0x88be
#define ETHERTYPE_ERSPAN3 0x22eb

#define GRE_FLAG_S 0x1000

#define L2TP_FLAG_T 0x8000
#define L2TP_FLAG_L 0x4000
#define L2TP_FLAG_S 0x0800
#define L2TP_FLAG_O 0x0200
#define L2TP_VER_MASK 0x000f
#define PPP_ADDR_CTRL 0xff03

static const char *const encap_names[ENCAP__COUNT] = {
    [ENCAP_NONE] = "none",     [ENCAP_VXLAN] = "vxlan",     [ENCAP_GENEVE] = "geneve",
    [ENCAP_ERSPAN] = "erspan", [ENCAP_GRE_TEB] = "gre_teb", [ENCAP_MPLS] = "mpls",
    [ENCAP_GRE_IP] = "gre_ip", [ENCAP_IPIP] = "ip_in_ip",   [ENCAP_GTPU] = "gtp_u",
    [ENCAP_L2TP] = "l2tp_ppp",
};

const char *encap_name(unsigned k)
{
    if (k >= ENCAP__COUNT || !encap_names[k])
        return "unknown";
    return encap_names[k];
}

bool encap_is_wrapper(unsigned k)
{
    return k == ENCAP_VXLAN || k == ENCAP_GENEVE || k == ENCAP_ERSPAN || k == ENCAP_GRE_TEB ||
           k == ENCAP_MPLS;
}

/*
 * VXLAN (RFC 7348 §5):
 *   |R|R|R|R|I|R|R|R|            Reserved                           |
 *   |                VXLAN Network Identifier (VNI) |   Reserved    |
 * then an Ethernet frame. The I flag must be set.
 */
static void vxlan(struct pkt *p, struct rd *r, bool cut)
{
    if (rd_left(r) < VXLAN_HLEN) {
        runs_out(p, cut, ANOM_VXLAN_TRUNC);
        return;
    }
    uint8_t flags = rd_u8(r);
    rd_skip(r, VXLAN_HLEN - 1);
    if (!(flags & VXLAN_FLAG_I)) {
        pkt_anom(p, ANOM_VXLAN_BAD_FLAGS); /* not VXLAN as RFC 7348 writes it: stays UDP */
        return;
    }
    decode_inner(p, ENCAP_VXLAN, rd_rest(r), (uint32_t)rd_left(r), INNER_ETH, cut);
}

/*
 * Geneve (RFC 8926 §3.4):
 *   |Ver|  Opt Len  |O|C|    Rsvd.  |          Protocol Type        |
 *   |        Virtual Network Identifier (VNI)       |    Reserved   |
 *   |                    Variable-Length Options (Opt Len * 4)      |
 */
static void geneve(struct pkt *p, struct rd *r, bool cut)
{
    if (rd_left(r) < GENEVE_HLEN) {
        runs_out(p, cut, ANOM_GENEVE_TRUNC);
        return;
    }
    uint8_t b0 = rd_u8(r);
    rd_skip(r, 1);
    uint16_t proto = rd_be16(r);
    rd_skip(r, 4);
    if ((b0 >> 6) != 0) {
        pkt_invalid(p, ANOM_GENEVE_BAD_VERSION);
        return;
    }
    size_t optlen = (size_t)(b0 & 0x3f) * 4;
    if (rd_left(r) < optlen) {
        runs_out(p, cut, ANOM_GENEVE_TRUNC);
        return;
    }
    rd_skip(r, optlen);
    if (proto == ETHERTYPE_TEB)
        decode_inner(p, ENCAP_GENEVE, rd_rest(r), (uint32_t)rd_left(r), INNER_ETH, cut);
    else if (proto == ETHERTYPE_IPV4 || proto == ETHERTYPE_IPV6)
        decode_inner(p, ENCAP_GENEVE, rd_rest(r), (uint32_t)rd_left(r), INNER_IP, cut);
}

/* Skips the GTP-U extension header chain starting with type `next` (TS 29.281 §5.2: length in
 * 4-octet units including itself, the last octet is the next type). Returns false on an anomaly
 * (recorded). */
static bool gtpu_ext(struct pkt *p, struct rd *r, uint8_t next, bool cut)
{
    for (unsigned n = 0; next != 0; n++) {
        if (n >= VPNSCOPE_MAX_GTPU_EXT) {
            pkt_invalid(p, ANOM_GTPU_EXT_CHAIN_LONG);
            return false;
        }
        if (rd_left(r) < 1) {
            runs_out(p, cut, ANOM_GTPU_TRUNC);
            return false;
        }
        size_t len = (size_t)rd_peek_u8(r) * 4;
        if (len == 0) {
            pkt_invalid(p, ANOM_GTPU_BAD_EXT_LEN);
            return false;
        }
        if (rd_left(r) < len) {
            runs_out(p, cut, ANOM_GTPU_TRUNC);
            return false;
        }
        rd_skip(r, len - 1);
        next = rd_u8(r);
    }
    return true;
}

/*
 * GTP-U (3GPP TS 29.281 §5.1):
 *   |Ver=1|PT|*|E|S|PN| Message Type |            Length            |
 *   |                 Tunnel Endpoint Identifier                    |
 *   |  Sequence Number (opt)  | N-PDU Number (opt) | Next Ext (opt) |
 * Length counts the bytes after the first 8. A T-PDU (type 255) carries an IP packet.
 */
static void gtpu(struct pkt *p, struct rd *r, bool cut)
{
    if (rd_left(r) < GTPU_HLEN) {
        runs_out(p, cut, ANOM_GTPU_TRUNC);
        return;
    }
    uint8_t flags = rd_u8(r);
    uint8_t type = rd_u8(r);
    uint16_t len = rd_be16(r);
    rd_skip(r, 4); /* TEID */
    if ((flags >> 5) != 1 || !(flags & 0x10)) {
        pkt_anom(p, ANOM_GTPU_BAD_VERSION); /* GTP' or GTPv2: not GTP-U, stays UDP */
        return;
    }
    if (len > rd_left(r)) {
        runs_out(p, cut, cut ? ANOM_GTPU_TRUNC : ANOM_GTPU_BAD_LENGTH);
        return;
    }
    struct rd body = rd_sub(r, len);
    if (flags & 0x07) {
        if (rd_left(&body) < GTPU_OPT_LEN) {
            pkt_invalid(p, ANOM_GTPU_BAD_LENGTH);
            return;
        }
        rd_skip(&body, 3); /* sequence number, N-PDU number */
        uint8_t next = rd_u8(&body);
        if ((flags & 0x04) && !gtpu_ext(p, &body, next, false))
            return;
    }
    if (type != GTPU_TPDU || rd_left(&body) < 1)
        return; /* echo, error indication, end marker: the UDP flow itself */
    uint8_t v = rd_peek_u8(&body) >> 4;
    if (v == 4 || v == 6)
        decode_inner(p, ENCAP_GTPU, rd_rest(&body), (uint32_t)rd_left(&body), INNER_IP, cut);
}

/* PPP (RFC 1661 §2, RFC 1662 §3.1): optional address/control 0xff03, then the protocol (one
 * byte when compressed, RFC 1661 §6.5: odd first byte). IPv4 and IPv6 go on as the packet. */
static void l2tp_ppp(struct pkt *p, struct rd *r, bool cut)
{
    if (rd_left(r) >= 1 && rd_peek_u8(r) == 0xff) {
        if (rd_left(r) < 2) {
            runs_out(p, cut, ANOM_PPP_TRUNC);
            return;
        }
        if (rd_be16(r) != PPP_ADDR_CTRL)
            return;
    }
    if (rd_left(r) < 1) {
        runs_out(p, cut, ANOM_PPP_TRUNC);
        return;
    }
    uint16_t proto = rd_u8(r);
    if (!(proto & 1)) {
        if (rd_left(r) < 1) {
            runs_out(p, cut, ANOM_PPP_TRUNC);
            return;
        }
        proto = (uint16_t)(proto << 8 | rd_u8(r));
    }
    if (proto == PPP_IPV4 || proto == PPP_IPV6)
        decode_inner(p, ENCAP_L2TP, rd_rest(r), (uint32_t)rd_left(r), INNER_IP, cut);
}

/*
 * L2TPv2 data message (RFC 2661 §3.1):
 *   |T|L|x|x|S|x|O|P|x|x|x|x|  Ver  |          Length (opt)         |
 *   |           Tunnel ID           |           Session ID          |
 *   |             Ns (opt)          |             Nr (opt)          |
 *   |      Offset Size (opt)        |    Offset pad... (opt)        |
 * Control messages, L2TPv3 and malformed headers are left to l2tp.c (which counts them).
 */
static void l2tp_data(struct pkt *p, struct rd *r, bool cut)
{
    struct rd h = *r;
    uint16_t fl = rd_be16(&h);
    if (!rd_ok(&h) || (fl & L2TP_FLAG_T) || (fl & L2TP_VER_MASK) != 2)
        return;
    size_t body = rd_left(r);
    if (fl & L2TP_FLAG_L) {
        uint16_t len = rd_be16(&h);
        if (!rd_ok(&h) || len < 8 || (len > body && !cut))
            return; /* l2tp.c reports the bad length */
        if (len < body)
            body = len;
    }
    rd_skip(&h, 4); /* tunnel ID, session ID */
    if (fl & L2TP_FLAG_S)
        rd_skip(&h, 4);
    if (fl & L2TP_FLAG_O)
        rd_skip(&h, rd_be16(&h));
    size_t used = rd_left(r) - rd_left(&h);
    if (!rd_ok(&h) || used > body)
        return;
    struct rd ppp = rd_init(rd_rest(&h), body - used);
    l2tp_ppp(p, &ppp, cut);
}

void encap_udp(struct pkt *p, bool cut)
{
    struct rd r = rd_init(p->payload, p->payload_len);
    if (p->dport == PORT_VXLAN || p->dport == PORT_VXLAN_LINUX)
        vxlan(p, &r, cut);
    else if (p->dport == PORT_GENEVE)
        geneve(p, &r, cut);
    else if (p->dport == PORT_GTPU || p->sport == PORT_GTPU)
        gtpu(p, &r, cut);
    else if (p->dport == PORT_L2TP || p->sport == PORT_L2TP)
        l2tp_data(p, &r, cut);
}

/*
 * ERSPAN type II (GRE 0x88BE with the sequence bit) / type III (0x22EB):
 *   II:  |Ver=1|  VLAN  |COS|En|T| Session ID |  Reserved  |   Index   |           (8 bytes)
 *   III: |Ver=2|  VLAN  |COS|BSO|T| Session ID |  Timestamp  |  SGT |P|FT|Hw ID|D|Gra|O|
 *        (12 bytes; O set: an 8-byte platform-specific sub-header follows; FT 0 Ethernet)
 * GRE 0x88BE without the sequence bit is type I: the Ethernet frame follows the GRE header.
 */
static void erspan(struct pkt *p, struct rd *r, bool cut, bool type3)
{
    if (!type3 && !(p->gre.flags & GRE_FLAG_S)) {
        decode_inner(p, ENCAP_ERSPAN, rd_rest(r), (uint32_t)rd_left(r), INNER_ETH, cut);
        return;
    }
    size_t hlen = type3 ? ERSPAN3_HLEN : ERSPAN2_HLEN;
    if (rd_left(r) < hlen) {
        runs_out(p, cut, ANOM_ERSPAN_TRUNC);
        return;
    }
    uint8_t ver = rd_peek_u8(r) >> 4;
    if (ver != (type3 ? 2 : 1)) {
        pkt_invalid(p, ANOM_ERSPAN_BAD_VERSION);
        return;
    }
    rd_skip(r, hlen - 2);
    uint16_t last = rd_be16(r);
    if (type3 && (last & 0x0001)) {
        if (rd_left(r) < ERSPAN3_PLATFORM_LEN) {
            runs_out(p, cut, ANOM_ERSPAN_TRUNC);
            return;
        }
        rd_skip(r, ERSPAN3_PLATFORM_LEN);
    }
    enum inner_link link = type3 && ((last >> 10) & 0x1f) != 0 ? INNER_IP : INNER_ETH;
    decode_inner(p, ENCAP_ERSPAN, rd_rest(r), (uint32_t)rd_left(r), link, cut);
}

void encap_gre(struct pkt *p, bool cut)
{
    if (p->gre.version != 0)
        return;
    struct rd r = rd_init(p->payload, p->payload_len);
    switch (p->gre.proto) {
    case ETHERTYPE_ERSPAN2:
        erspan(p, &r, cut, false);
        break;
    case ETHERTYPE_ERSPAN3:
        erspan(p, &r, cut, true);
        break;
    case ETHERTYPE_TEB:
        decode_inner(p, ENCAP_GRE_TEB, p->payload, p->payload_len, INNER_ETH, cut);
        break;
    case ETHERTYPE_IPV4:
    case ETHERTYPE_IPV6:
        decode_inner(p, ENCAP_GRE_IP, p->payload, p->payload_len, INNER_IP, cut);
        break;
    default:
        break;
    }
}

/*
 * MPLS label stack entry (RFC 3032 §2.1):
 *   |                Label                  | TC  |S|       TTL     |
 * Entries until S (bottom of stack) is set; the payload is guessed by its first nibble
 * (RFC 4928: 4 IPv4, 6 IPv6; 0 is a pseudowire control word, not decoded: non-IP).
 */
void encap_mpls(struct pkt *p, struct rd *r, bool cut)
{
    for (unsigned n = 0;; n++) {
        if (n >= VPNSCOPE_MAX_MPLS_LABELS) {
            pkt_invalid(p, ANOM_MPLS_TOO_MANY_LABELS);
            return;
        }
        if (rd_left(r) < 4) {
            pkt_truncated(p, ANOM_MPLS_TRUNC);
            return;
        }
        uint32_t e = rd_be32(r);
        if (e & 0x100)
            break;
    }
    uint8_t v = rd_left(r) ? rd_peek_u8(r) >> 4 : 0;
    if (v != 4 && v != 6) {
        if (rd_left(r) == 0)
            pkt_truncated(p, ANOM_MPLS_TRUNC);
        else
            p->status = PKT_NON_IP;
        return;
    }
    decode_inner(p, ENCAP_MPLS, rd_rest(r), (uint32_t)rd_left(r), INNER_IP, cut);
}
