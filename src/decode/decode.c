/* decode.c - link layer, IPv4 (RFC 791), IPv6 + extension headers (RFC 8200), the packet inside a
 * wrapper or tunnel, and the entry point decode_packet. The layer after IP is in decode_l4.c
 * (UDP, TCP) and decode_icmp.c, application demultiplexing in decode_app.c. */
#include "vpnscope/decode.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "decode_int.h"
#include "encap_int.h"
#include "vpnscope/config.h"
#include "vpnscope/pkt.h"
#include "vpnscope/proto.h"
#include "vpnscope/rd.h"
#include "vpnscope/tunnel.h"

/*
 * Wrappers and tunnels (encap.c, decode_inner below): the packet inside becomes the packet, at
 * most VPNSCOPE_MAX_LAYERS deep; the recursion decode_l4 -> encap -> decode_inner -> decode_l4
 * is bounded by that cap (and every layer consumes bytes).
 *
 * Limitations:
 * - ESP/AH payloads are encrypted or opaque: never decoded further.
 * - PPPoE session frames are followed (DSL captures), other EtherTypes are non-IP.
 * - An IP fragment found inside a reassembled outer datagram is not reassembled again.
 * - A jumbogram (IPv6 payload length 0 with hop-by-hop) is taken as long as the capture.
 */

/* pcap DLT values (include/pcap/dlt.h). Defined here: decode/ does no I/O and needs no libpcap. */
#define DLT_NULL_ 0
#define DLT_EN10MB_ 1
#define DLT_RAW_ 12 /* Linux and most BSDs */
#define DLT_RAW_OPENBSD_ 14
#define DLT_RAW_LINKTYPE_ 101 /* LINKTYPE_RAW; libpcap maps it to DLT_RAW when reading a file */
#define DLT_LOOP_ 108
#define DLT_LINUX_SLL_ 113
#define DLT_IPV4_ 228
#define DLT_IPV6_ 229
#define DLT_LINUX_SLL2_ 276

#define SLL_HLEN 16
#define SLL2_HLEN 20
#define ETHERTYPE_VLAN 0x8100
#define ETHERTYPE_QINQ 0x88a8
#define ETHERTYPE_QINQ_OLD 0x9100
#define ETHERTYPE_PPPOE_SESS 0x8864
#define ETHERTYPE_MPLS 0x8847
#define ETHERTYPE_MPLS_MC 0x8848

static const struct {
    int dlt;
    const char *name;
} dlt_names[] = {
    {DLT_NULL_, "NULL"},
    {DLT_EN10MB_, "EN10MB"},
    {DLT_RAW_, "RAW"},
    {DLT_RAW_OPENBSD_, "RAW"},
    {DLT_RAW_LINKTYPE_, "RAW"},
    {DLT_LOOP_, "LOOP"},
    {DLT_LINUX_SLL_, "LINUX_SLL"},
    {DLT_IPV4_, "IPV4"},
    {DLT_IPV6_, "IPV6"},
    {DLT_LINUX_SLL2_, "LINUX_SLL2"},
};

bool decode_dlt_supported(int dlt)
{
    for (size_t i = 0; i < sizeof(dlt_names) / sizeof(dlt_names[0]); i++) {
        if (dlt_names[i].dlt == dlt)
            return true;
    }
    return false;
}

const char *link_dlt_name(int dlt)
{
    for (size_t i = 0; i < sizeof(dlt_names) / sizeof(dlt_names[0]); i++) {
        if (dlt_names[i].dlt == dlt)
            return dlt_names[i].name;
    }
    return "unknown";
}

bool ipv6_is_ext(uint8_t nh)
{
    /* AH and ESP are VPN layers and end the walk. */
    return nh == IPV6_EXT_HOPOPTS || nh == IPV6_EXT_ROUTING || nh == IPV6_EXT_FRAGMENT ||
           nh == IPV6_EXT_DSTOPTS || nh == IPV6_EXT_MOBILITY || nh == IPV6_EXT_HIP ||
           nh == IPV6_EXT_SHIM6;
}

/*
 * The generic extension header (RFC 8200 §4.2); the contract is in decode_int.h.
 *
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |  Next Header  |  Hdr Ext Len  |                               |
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+                               +
 *   .            Options / routing data ((Hdr Ext Len + 1) * 8)     .
 */
int ipv6_skip_ext(struct rd *r, uint8_t *nh, unsigned *steps, unsigned budget, bool *short_ext,
                  bool *too_long)
{
    while (ipv6_is_ext(*nh) && *nh != IPV6_EXT_FRAGMENT) {
        if (*steps >= budget) {
            *too_long = true;
            return -1;
        }
        (*steps)++;
        uint8_t next = rd_u8(r);
        uint8_t hlen = rd_u8(r);
        rd_skip(r, (size_t)(hlen + 1) * 8 - 2);
        if (!rd_ok(r)) {
            *short_ext = true;
            return -1;
        }
        *nh = next;
    }
    return 0;
}

/* ---- IPv4 -------------------------------------------------------------------------------- */

/*
 * RFC 791 §3.1:
 *    0                   1                   2                   3
 *    0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |Version|  IHL  |Type of Service|          Total Length         |
 *   |         Identification        |Flags|      Fragment Offset    |
 *   |  Time to Live |    Protocol   |         Header Checksum       |
 *   |                       Source Address                          |
 *   |                    Destination Address                        |
 *   |                    Options (IHL > 5)                          |
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 */
static void decode_ipv4(struct pkt *p, struct rd *r, bool cut)
{
    size_t avail = rd_left(r);
    if (avail < 1) {
        pkt_truncated(p, ANOM_IP_TRUNC);
        return;
    }
    uint8_t vihl = rd_peek_u8(r);
    if ((vihl >> 4) != 4) {
        pkt_invalid(p, ANOM_IP_BAD_VERSION);
        return;
    }
    if (avail < IPV4_MIN_HLEN) {
        pkt_truncated(p, ANOM_IP_TRUNC);
        return;
    }
    const uint8_t *l3 = rd_rest(r);
    struct rd h = *r;                         /* header reader; r keeps the datagram start */
    struct rv v = rd_view(&h, IPV4_MIN_HLEN); /* present: avail >= IPV4_MIN_HLEN */
    if (!v.p) {
        pkt_truncated(p, ANOM_IP_TRUNC);
        return;
    }
    size_t ihl = (size_t)(vihl & 0x0f) * 4;
    p->tos = rv_u8(v, 1);
    uint16_t totlen = rv_be16(v, 2);
    p->ip_id = rv_be16(v, 4);
    uint16_t ff = rv_be16(v, 6);
    p->ttl = rv_u8(v, 8);
    p->l4proto = rv_u8(v, 9);
    /* 10: checksum, verified below */
    p->src.v = 4;
    rv_copy(v, 12, p->src.a, 4);
    p->dst.v = 4;
    rv_copy(v, 16, p->dst.a, 4);
    p->ipver = 4;
    p->l3 = l3;
    p->ip_len = totlen;
    p->frag_off = (uint32_t)(ff & 0x1fff) * 8;
    p->frag_mf = (ff & 0x2000) != 0;
    p->df = (ff & 0x4000) != 0;
    p->is_frag = p->frag_mf || p->frag_off != 0;

    if (ihl < IPV4_MIN_HLEN) {
        p->l3_len = (uint32_t)(avail < totlen ? avail : totlen);
        pkt_invalid(p, ANOM_IP_BAD_HLEN);
        return;
    }
    if (totlen < ihl) {
        p->l3_len = (uint32_t)(avail < ihl ? avail : ihl);
        pkt_invalid(p, ANOM_IP_BAD_TOTLEN);
        return;
    }
    if (avail < totlen) {
        p->l3_len = (uint32_t)avail;
        if (!cut) {
            pkt_invalid(p, ANOM_IP_BAD_TOTLEN);
            return;
        }
        pkt_anom(p, ANOM_IP_SNAPLEN_SHORT);
    } else {
        p->l3_len = totlen; /* bytes beyond are link padding */
    }
    if (p->l3_len < ihl) {
        pkt_truncated(p, ANOM_IP_TRUNC); /* options cut by the snaplen */
        return;
    }

    /* RFC 1071 one's complement sum over the header; a mismatch is recorded, not fatal. The
     * header's ihl bytes (a multiple of 4, at most 60) are taken at once from the reader, then
     * summed in place 32 bits at a time in host byte order (RFC 1071 §2 (B), (C): the folded sum
     * is the byte-swapped network-order one, and 0xffff swapped is 0xffff). */
    struct rd c = rd_init(l3, ihl);
    const uint8_t *hb = rd_ptr(&c, ihl); /* present: l3_len >= ihl */
    uint64_t sum = 0;
    for (size_t i = 0; hb && i < IPV4_MIN_HLEN; i += 4) { /* ihl >= IPV4_MIN_HLEN here */
        uint32_t w;
        memcpy(&w, hb + i, 4);
        sum += w;
    }
    for (size_t i = IPV4_MIN_HLEN; hb && i + 4 <= ihl; i += 4) { /* options */
        uint32_t w;
        memcpy(&w, hb + i, 4);
        sum += w;
    }
    sum = (sum & 0xffffffffu) + (sum >> 32); /* 15 words: at most 36 bits, then 33 */
    sum = (sum & 0xffffffffu) + (sum >> 32);
    sum = (sum & 0xffff) + (sum >> 16);
    sum = (sum & 0xffff) + (sum >> 16);
    if (sum != 0xffff)
        pkt_anom(p, ANOM_IP_BAD_CHECKSUM);

    struct rd dg = rd_sub(r, p->l3_len);
    rd_skip(&dg, ihl);
    if (p->is_frag) {
        p->frag_data = rd_rest(&dg);
        p->frag_data_len = (uint32_t)rd_left(&dg);
        return; /* L4 only after reassembly (the caller's fragment table) */
    }
    decode_l4(p, p->l4proto, rd_rest(&dg), (uint32_t)rd_left(&dg));
}

/* ---- IPv6 -------------------------------------------------------------------------------- */

/* The fixed header and the datagram's extent. Returns false when the packet ends here (status
 * set); otherwise *dg holds the bytes after the fixed header and *nh its Next Header. */
static bool ipv6_fixed_header(struct pkt *p, struct rd *r, bool cut, struct rd *dg, uint8_t *nh)
{
    size_t avail = rd_left(r);
    if (avail < 1) {
        pkt_truncated(p, ANOM_IP_TRUNC);
        return false;
    }
    if ((rd_peek_u8(r) >> 4) != 6) {
        pkt_invalid(p, ANOM_IP_BAD_VERSION);
        return false;
    }
    if (avail < IPV6_HLEN) {
        pkt_truncated(p, ANOM_IP_TRUNC);
        return false;
    }
    const uint8_t *l3 = rd_rest(r);
    struct rd h = *r;
    uint32_t vtcfl = rd_be32(&h);
    uint16_t plen = rd_be16(&h);
    *nh = rd_u8(&h);
    p->ttl = rd_u8(&h);
    p->src.v = 6;
    rd_copy(&h, p->src.a, 16);
    p->dst.v = 6;
    rd_copy(&h, p->dst.a, 16);
    p->tos = (uint8_t)(vtcfl >> 20);
    p->ipver = 6;
    p->l3 = l3;
    p->l4proto = *nh;

    size_t totlen = (size_t)IPV6_HLEN + plen;
    if (plen == 0 && *nh == IPV6_EXT_HOPOPTS)
        totlen = avail; /* jumbogram (RFC 2675): length in hop-by-hop, not checked */
    p->ip_len = (uint32_t)(totlen > UINT32_MAX ? UINT32_MAX : totlen);
    if (avail < totlen) {
        p->l3_len = (uint32_t)avail;
        if (!cut) {
            pkt_invalid(p, ANOM_IP_BAD_TOTLEN);
            return false;
        }
        pkt_anom(p, ANOM_IP_SNAPLEN_SHORT);
    } else {
        p->l3_len = (uint32_t)totlen;
    }
    *dg = rd_sub(r, p->l3_len);
    rd_skip(dg, IPV6_HLEN);
    return true;
}

/* RFC 7112: the first fragment holds the whole header chain incl. the upper-layer header.
 * Checked on a copy of the reader; the fragment itself stays undecoded until reassembly. */
static void ipv6_check_first_chain(struct pkt *p, const struct rd *dg, uint8_t nh, unsigned steps)
{
    struct rd chk = *dg;
    uint8_t cnh = nh;
    unsigned csteps = steps;
    bool cshort = false;
    bool clong = false;
    bool ok = ipv6_skip_ext(&chk, &cnh, &csteps, VPNSCOPE_MAX_IPV6_EXT, &cshort, &clong) == 0;
    size_t need = cnh == IPP_UDP ? UDP_HLEN : cnh == IPP_TCP ? TCP_MIN_HLEN : 0;
    if (!ok || cnh == IPV6_EXT_FRAGMENT || rd_left(&chk) < need)
        pkt_anom(p, ANOM_IPV6_FRAG_NOT_FIRST_CHAIN);
}

/* Reads a fragment header (RFC 8200 §4.5) at *dg, *nh updated to its Next Header. Returns true
 * when the packet is a real fragment (p->is_frag and its data set), false for an atomic fragment
 * (RFC 6946: a whole datagram, the walk goes on). The caller checked the 8 bytes are there. */
static bool ipv6_fragment_header(struct pkt *p, struct rd *dg, uint8_t *nh)
{
    uint8_t fnh = rd_u8(dg);
    rd_skip(dg, 1);
    uint16_t offlg = rd_be16(dg);
    p->ip_id = rd_be32(dg);
    p->frag_off = offlg & 0xfff8;
    p->frag_mf = (offlg & 1) != 0;
    *nh = fnh;
    p->l4proto = fnh;
    if (p->frag_off == 0 && !p->frag_mf)
        return false;
    p->is_frag = true;
    p->frag_data = rd_rest(dg);
    p->frag_data_len = (uint32_t)rd_left(dg);
    return true;
}

/*
 * RFC 8200 §3:
 *   |Version| Traffic Class |           Flow Label                  |
 *   |         Payload Length        |  Next Header  |   Hop Limit   |
 *   |                 Source Address (128 bits)                     |
 *   |              Destination Address (128 bits)                   |
 * Fragment header, RFC 8200 §4.5:
 *   |  Next Header  |   Reserved    |      Fragment Offset    |Res|M|
 *   |                         Identification                        |
 */
static void decode_ipv6(struct pkt *p, struct rd *r, bool cut)
{
    struct rd dg;
    uint8_t nh;
    if (!ipv6_fixed_header(p, r, cut, &dg, &nh))
        return;

    unsigned steps = 0;
    bool short_ext = false;
    bool too_long = false;
    for (;;) {
        if (ipv6_skip_ext(&dg, &nh, &steps, VPNSCOPE_MAX_IPV6_EXT, &short_ext, &too_long) < 0)
            break;
        p->l4proto = nh;
        if (nh != IPV6_EXT_FRAGMENT)
            break;
        if (steps >= VPNSCOPE_MAX_IPV6_EXT) {
            too_long = true;
            break;
        }
        steps++;
        if (rd_left(&dg) < IPV6_FRAG_HLEN) {
            short_ext = true;
            break;
        }
        if (!ipv6_fragment_header(p, &dg, &nh))
            continue; /* atomic fragment: keep walking */
        if (p->frag_off == 0)
            ipv6_check_first_chain(p, &dg, nh, steps);
        return;
    }
    if (too_long) {
        pkt_invalid(p, ANOM_IPV6_EXT_CHAIN_LONG);
        return;
    }
    if (short_ext) {
        runs_out(p, cut, ANOM_IPV6_EXT_TRUNC);
        return;
    }
    decode_l4(p, nh, rd_rest(&dg), (uint32_t)rd_left(&dg));
}

/* ---- link layer -------------------------------------------------------------------------- */

static void decode_ethertype(struct pkt *p, struct rd *r, uint16_t et, bool cut)
{
    /* 802.1Q / 802.1ad / old QinQ tags: TCI (2) | EtherType (2) */
    for (unsigned n = 0; et == ETHERTYPE_VLAN || et == ETHERTYPE_QINQ || et == ETHERTYPE_QINQ_OLD;
         n++) {
        if (n >= VPNSCOPE_MAX_VLANS) {
            pkt_invalid(p, ANOM_LINK_TOO_MANY_VLANS);
            return;
        }
        rd_skip(r, 2);
        et = rd_be16(r);
        if (!rd_ok(r)) {
            pkt_truncated(p, ANOM_LINK_TRUNC);
            return;
        }
    }
    if (et == ETHERTYPE_PPPOE_SESS) {
        /* RFC 2516 §4: VER/TYPE (1) | CODE (1) | SESSION_ID (2) | LENGTH (2), then PPP protocol */
        rd_skip(r, 6);
        uint16_t ppp = rd_be16(r);
        if (!rd_ok(r)) {
            pkt_truncated(p, ANOM_LINK_TRUNC);
            return;
        }
        et = ppp == PPP_IPV4 ? ETHERTYPE_IPV4 : ppp == PPP_IPV6 ? ETHERTYPE_IPV6 : 0;
    }
    if (et == ETHERTYPE_MPLS || et == ETHERTYPE_MPLS_MC)
        encap_mpls(p, r, cut);
    else if (et == ETHERTYPE_IPV4)
        decode_ipv4(p, r, cut);
    else if (et == ETHERTYPE_IPV6)
        decode_ipv6(p, r, cut);
    else
        p->status = PKT_NON_IP;
}

/* IP by the version nibble (raw IP link types). */
static void decode_ip_any(struct pkt *p, struct rd *r, bool cut)
{
    if (rd_left(r) < 1) {
        pkt_truncated(p, ANOM_IP_TRUNC);
        return;
    }
    uint8_t v = rd_peek_u8(r) >> 4;
    if (v == 4)
        decode_ipv4(p, r, cut);
    else if (v == 6)
        decode_ipv6(p, r, cut);
    else
        pkt_invalid(p, ANOM_IP_BAD_VERSION);
}

/* What survives when the packet is replaced by the one inside a wrapper or tunnel. */
struct pkt_keep {
    enum pkt_status status;
    uint8_t n_anom;
    uint16_t anom[8];
    bool reassembled;
    uint8_t encap_depth, tunnel_kind;
    uint16_t encap_mask;
    struct ip_addr tunnel_src, tunnel_dst;
};

static void keep_save(const struct pkt *p, struct pkt_keep *k)
{
    k->status = p->status;
    k->n_anom = p->n_anom;
    memcpy(k->anom, p->anom, sizeof(k->anom));
    k->reassembled = p->reassembled;
    k->encap_depth = p->encap_depth;
    k->encap_mask = p->encap_mask;
    k->tunnel_kind = p->tunnel_kind;
    k->tunnel_src = p->tunnel_src;
    k->tunnel_dst = p->tunnel_dst;
}

static void keep_restore(struct pkt *p, const struct pkt_keep *k)
{
    p->status = k->status;
    p->n_anom = k->n_anom;
    memcpy(p->anom, k->anom, sizeof(p->anom));
    p->reassembled = k->reassembled;
    p->encap_depth = k->encap_depth;
    p->encap_mask = k->encap_mask;
    p->tunnel_kind = k->tunnel_kind;
    p->tunnel_src = k->tunnel_src;
    p->tunnel_dst = k->tunnel_dst;
}

/* The outer UDP payload cut by the snaplen is not the inner packet's state: the inner layers
 * record their own cut (IP_SNAPLEN_SHORT and their truncation). */
static void drop_outer_cut(struct pkt_keep *k)
{
    unsigned n = 0;
    bool udp_cut = false;
    for (unsigned i = 0; i < k->n_anom && i < 8; i++) {
        if (k->anom[i] == ANOM_UDP_TRUNC)
            udp_cut = true;
        else
            k->anom[n++] = k->anom[i];
    }
    k->n_anom = (uint8_t)n;
    if (udp_cut && k->status == PKT_TRUNCATED)
        k->status = PKT_DECODED;
}

void decode_inner(struct pkt *p, enum encap_kind k, const uint8_t *d, uint32_t len,
                  enum inner_link link, bool cut)
{
    if (p->encap_depth >= VPNSCOPE_MAX_LAYERS) {
        pkt_invalid(p, ANOM_ENCAP_TOO_DEEP);
        return;
    }
    struct pkt_keep keep;
    keep_save(p, &keep);
    drop_outer_cut(&keep);
    if (!encap_is_wrapper(k) && keep.tunnel_kind == ENCAP_NONE) {
        keep.tunnel_kind = (uint8_t)k;
        keep.tunnel_src = p->src;
        keep.tunnel_dst = p->dst;
    }
    keep.encap_depth++;
    keep.encap_mask |= (uint16_t)(1u << k);
    pkt_reset(p);
    keep_restore(p, &keep);

    struct rd r = rd_init(d, len);
    if (link == INNER_IP) {
        decode_ip_any(p, &r, cut);
        return;
    }
    if (rd_left(&r) < ETH_HLEN) {
        runs_out(p, cut, ANOM_ENCAP_INNER_TRUNC);
        return;
    }
    rd_skip(&r, 12);
    decode_ethertype(p, &r, rd_be16(&r), cut);
}

/* BSD loopback address family: 2 = AF_INET; 24 (NetBSD/OpenBSD), 28 (FreeBSD), 30 (Darwin) =
 * AF_INET6; anything else is not IP. */
static void decode_family(struct pkt *p, struct rd *r, uint32_t fam, bool cut)
{
    if (fam == 2)
        decode_ipv4(p, r, cut);
    else if (fam == 24 || fam == 28 || fam == 30)
        decode_ipv6(p, r, cut);
    else
        p->status = PKT_NON_IP;
}

void decode_packet(struct pkt *p, const uint8_t *data, uint32_t caplen)
{
    pkt_reset(p);
    struct rd r = rd_init(data, caplen);
    /* wirelen 0 = unknown: assume a cut capture (the lenient reading) */
    bool cut = p->wirelen == 0 || p->wirelen > caplen;
    if (p->wirelen != 0 && p->wirelen < caplen)
        pkt_anom(p, ANOM_CAPLEN_GT_LEN);
    if (p->dlt != DLT_LINUX_SLL_ && p->dlt != DLT_LINUX_SLL2_)
        p->sll_pkttype = 0xffff;

    switch (p->dlt) {
    case DLT_EN10MB_: {
        /* dst MAC (6) | src MAC (6) | EtherType (2) */
        if (rd_left(&r) < ETH_HLEN) {
            pkt_truncated(p, ANOM_LINK_TRUNC);
            return;
        }
        rd_skip(&r, 12);
        decode_ethertype(p, &r, rd_be16(&r), cut);
        return;
    }
    case DLT_LINUX_SLL_: {
        /* packet type (2) | ARPHRD (2) | addr len (2) | addr (8) | protocol (2) */
        if (rd_left(&r) < SLL_HLEN) {
            pkt_truncated(p, ANOM_LINK_TRUNC);
            return;
        }
        p->sll_pkttype = rd_be16(&r);
        rd_skip(&r, 12);
        decode_ethertype(p, &r, rd_be16(&r), cut);
        return;
    }
    case DLT_LINUX_SLL2_: {
        /* protocol (2) | reserved (2) | ifindex (4) | ARPHRD (2) | packet type (1) |
         * addr len (1) | addr (8) */
        if (rd_left(&r) < SLL2_HLEN) {
            pkt_truncated(p, ANOM_LINK_TRUNC);
            return;
        }
        uint16_t et = rd_be16(&r);
        rd_skip(&r, 2);
        p->ifidx = rd_be32(&r);
        rd_skip(&r, 2);
        p->sll_pkttype = rd_u8(&r);
        rd_skip(&r, 9);
        decode_ethertype(p, &r, et, cut);
        return;
    }
    case DLT_NULL_:
    case DLT_LOOP_: {
        /* 4-byte address family: host order of the capturing machine (NULL), network (LOOP) */
        if (rd_left(&r) < 4) {
            pkt_truncated(p, ANOM_LINK_TRUNC);
            return;
        }
        struct rd le = r;
        uint32_t fam_be = rd_be32(&r);
        uint32_t fam_le = rd_le32(&le);
        uint32_t fam = fam_be;
        if (p->dlt == DLT_NULL_ && (fam_le == 2 || fam_le == 24 || fam_le == 28 || fam_le == 30))
            fam = fam_le;
        decode_family(p, &r, fam, cut);
        return;
    }
    case DLT_RAW_:
    case DLT_RAW_OPENBSD_:
    case DLT_RAW_LINKTYPE_:
        decode_ip_any(p, &r, cut);
        return;
    case DLT_IPV4_:
        decode_ipv4(p, &r, cut);
        return;
    case DLT_IPV6_:
        decode_ipv6(p, &r, cut);
        return;
    default:
        p->status = PKT_NON_IP; /* callers reject unsupported DLTs up front */
        return;
    }
}
