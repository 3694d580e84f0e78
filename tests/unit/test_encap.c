/* test_encap.c - wrappers and tunnels (src/decode/encap.c, decode_inner in decode.c): per kind a
 * valid packet, each anomaly, and every truncation length (snaplen cuts and short datagrams). */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "t.h"
#include "vpnscope/config.h"
#include "vpnscope/decode.h"
#include "vpnscope/encap.h"
#include "vpnscope/pkt.h"
#include "vpnscope/proto.h"

#define DLT_EN10MB 1
#define DLT_RAW 12

static struct pkt P;

/* ---- a small frame builder ---- */

struct buf {
    uint8_t b[512];
    size_t n;
};

static void put(struct buf *b, const void *d, size_t n)
{
    if (b->n + n > sizeof(b->b)) {
        fprintf(stderr, "builder overflow\n");
        exit(2);
    }
    memcpy(b->b + b->n, d, n);
    b->n += n;
}

static void put16(struct buf *b, uint16_t v)
{
    uint8_t x[2] = {(uint8_t)(v >> 8), (uint8_t)v};
    put(b, x, 2);
}

static void put32(struct buf *b, uint32_t v)
{
    put16(b, (uint16_t)(v >> 16));
    put16(b, (uint16_t)v);
}

static void eth(struct buf *b, uint16_t type)
{
    static const uint8_t macs[12] = {0,    0x11, 0x22, 0x33, 0x44, 0x55,
                                     0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb};
    put(b, macs, 12);
    put16(b, type);
}

/* IPv4 header for `plen` payload bytes, checksum filled; addresses 10.0.0.s -> 10.0.0.d. */
static void ip4(struct buf *b, uint8_t proto, size_t plen, uint8_t s, uint8_t d)
{
    uint8_t h[20] = {0x45, 0, 0, 0, 0x12, 0x34, 0, 0, 64, proto, 0, 0, 10, 0, 0, s, 10, 0, 0, d};
    uint16_t tot = (uint16_t)(20 + plen);
    h[2] = (uint8_t)(tot >> 8);
    h[3] = (uint8_t)tot;
    uint32_t sum = 0;
    for (int i = 0; i < 20; i += 2)
        sum += (uint32_t)(h[i] << 8 | h[i + 1]);
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    h[10] = (uint8_t)(~sum >> 8);
    h[11] = (uint8_t)~sum;
    put(b, h, 20);
}

/* IPv6 header 2001:db8::s -> 2001:db8::d. */
static void ip6(struct buf *b, uint8_t nh, size_t plen, uint8_t s, uint8_t d)
{
    uint8_t h[40] = {0x60, 0, 0, 0, (uint8_t)(plen >> 8), (uint8_t)plen, nh, 64};
    h[8] = 0x20, h[9] = 0x01, h[10] = 0x0d, h[11] = 0xb8, h[23] = s;
    h[24] = 0x20, h[25] = 0x01, h[26] = 0x0d, h[27] = 0xb8, h[39] = d;
    put(b, h, 40);
}

static void udp(struct buf *b, uint16_t sp, uint16_t dp, size_t plen)
{
    put16(b, sp);
    put16(b, dp);
    put16(b, (uint16_t)(8 + plen));
    put16(b, 0);
}

/* The packet under study: IPv4 10.0.0.1:500 -> 10.0.0.2:500, an IKE-sized UDP payload of 4
 * bytes (32 bytes in all). */
static void inner_ip(struct buf *b)
{
    ip4(b, IPP_UDP, 12, 1, 2);
    udp(b, 500, 500, 4);
    put32(b, 0xdeadbeef);
}

static void inner_eth(struct buf *b)
{
    eth(b, 0x0800);
    inner_ip(b);
}

/* Outer Ethernet + IPv4 172.16.0.9 -> 172.16.0.10 + UDP sp -> dp around `w` (header + inner). */
static void outer_udp(struct buf *out, uint16_t sp, uint16_t dp, const struct buf *w)
{
    eth(out, 0x0800);
    ip4(out, IPP_UDP, 8 + w->n, 9, 10);
    out->b[out->n - 8] = 172, out->b[out->n - 7] = 16;
    out->b[out->n - 4] = 172, out->b[out->n - 3] = 16;
    /* fix the checksum after the address change */
    uint8_t *h = out->b + out->n - 20;
    h[10] = h[11] = 0;
    uint32_t sum = 0;
    for (int i = 0; i < 20; i += 2)
        sum += (uint32_t)(h[i] << 8 | h[i + 1]);
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    h[10] = (uint8_t)(~sum >> 8);
    h[11] = (uint8_t)~sum;
    udp(out, sp, dp, w->n);
    put(out, w->b, w->n);
}

static void outer_proto(struct buf *out, uint8_t proto, const struct buf *w)
{
    eth(out, 0x0800);
    ip4(out, proto, w->n, 9, 10);
    put(out, w->b, w->n);
}

static uint8_t *heap;

static void dec(const struct buf *b, uint32_t caplen, uint32_t wirelen)
{
    free(heap);
    heap = malloc(caplen ? caplen : 1);
    memcpy(heap, b->b, caplen);
    memset(&P, 0, sizeof(P));
    P.dlt = DLT_EN10MB;
    P.caplen = caplen;
    P.wirelen = wirelen;
    decode_packet(&P, heap, caplen);
}

static bool has_anom(enum anomaly a)
{
    for (unsigned i = 0; i < P.n_anom; i++)
        if (P.anom[i] == a)
            return true;
    return false;
}

/* The inner packet is the packet: addresses, ports, layer recorded. */
static void check_inner(enum encap_kind k, bool v6inner)
{
    CHECK_EQ(P.status, PKT_DECODED);
    CHECK_EQ(P.ipver, v6inner ? 6 : 4);
    CHECK_EQ(P.l4proto, IPP_UDP);
    CHECK_EQ(P.sport, 500);
    CHECK_EQ(P.dport, 500);
    CHECK_EQ(P.payload_len, 4);
    CHECK_EQ(P.src.a[v6inner ? 15 : 3], 1);
    CHECK_EQ(P.dst.a[v6inner ? 15 : 3], 2);
    CHECK(P.encap_mask & (1u << k));
    CHECK(P.encap_depth >= 1);
    if (encap_is_wrapper(k)) {
        CHECK_EQ(P.tunnel_kind, 0);
    } else {
        CHECK_EQ(P.tunnel_kind, k);
        CHECK_EQ(P.tunnel_src.a[3], 9);
        CHECK_EQ(P.tunnel_dst.a[3], 10);
    }
}

/* Every snaplen cut of the frame is truncated (never decoded, never invalid, no crash); a cut
 * inside the wrapper header [hs, he) records `a`. */
static void check_cuts(const struct buf *b, size_t hs, size_t he, enum anomaly a)
{
    for (size_t k = 0; k < b->n; k++) {
        dec(b, (uint32_t)k, (uint32_t)b->n);
        if (P.status != PKT_TRUNCATED)
            fprintf(stderr, "cut at %zu of %zu: status %d\n", k, b->n, (int)P.status);
        CHECK_EQ(P.status, PKT_TRUNCATED);
        if (k >= hs && k < he && a != ANOM_NONE) {
            if (!has_anom(a))
                fprintf(stderr, "cut at %zu of %zu: anomaly %s missing\n", k, b->n,
                        anomaly_name(a));
            CHECK(has_anom(a));
        }
    }
}

/* Every shortened datagram (outer IP and UDP lengths consistent, bytes missing at the end of
 * the wrapper header): invalid with `a`, never truncated since the capture was not cut. */
static void check_short_udp(uint16_t sp, uint16_t dp, const struct buf *w, size_t hlen,
                            enum anomaly a)
{
    for (size_t k = 0; k < hlen; k++) {
        struct buf s = {.n = 0};
        put(&s, w->b, k);
        struct buf f = {.n = 0};
        outer_udp(&f, sp, dp, &s);
        dec(&f, (uint32_t)f.n, (uint32_t)f.n);
        CHECK_EQ(P.status, PKT_INVALID);
        CHECK(has_anom(a));
    }
}

static void test_vxlan(void)
{
    struct buf w = {.n = 0};
    put32(&w, 0x08000000);
    put32(&w, 0x00123400);
    inner_eth(&w);
    struct buf f = {.n = 0};
    outer_udp(&f, 40000, 4789, &w);
    dec(&f, (uint32_t)f.n, (uint32_t)f.n);
    check_inner(ENCAP_VXLAN, false);
    check_cuts(&f, 42, 50, ANOM_VXLAN_TRUNC);
    check_short_udp(40000, 4789, &w, 8, ANOM_VXLAN_TRUNC);
    /* Linux port 8472 */
    f.n = 0;
    outer_udp(&f, 40000, 8472, &w);
    dec(&f, (uint32_t)f.n, (uint32_t)f.n);
    check_inner(ENCAP_VXLAN, false);
    /* I flag clear: not VXLAN, stays the outer UDP with the anomaly */
    w.b[0] = 0;
    f.n = 0;
    outer_udp(&f, 40000, 4789, &w);
    dec(&f, (uint32_t)f.n, (uint32_t)f.n);
    CHECK(has_anom(ANOM_VXLAN_BAD_FLAGS));
    CHECK_EQ(P.dport, 4789);
    CHECK_EQ(P.encap_mask, 0);
    /* inner frame shorter than an Ethernet header, datagram complete: invalid */
    struct buf s = {.n = 0};
    put32(&s, 0x08000000);
    put32(&s, 0);
    put(&s, "\x00\x11\x22", 3);
    f.n = 0;
    outer_udp(&f, 40000, 4789, &s);
    dec(&f, (uint32_t)f.n, (uint32_t)f.n);
    CHECK_EQ(P.status, PKT_INVALID);
    CHECK(has_anom(ANOM_ENCAP_INNER_TRUNC));
}

static void test_geneve(void)
{
    struct buf w = {.n = 0};
    put16(&w, 0x0200); /* version 0, 2 option words */
    put16(&w, 0x6558);
    put32(&w, 0x00abcd00);
    put32(&w, 0x01020301); /* option: class 0x0102 type 3 len 1 */
    put32(&w, 0xaabbccdd);
    inner_eth(&w);
    struct buf f = {.n = 0};
    outer_udp(&f, 40000, 6081, &w);
    dec(&f, (uint32_t)f.n, (uint32_t)f.n);
    check_inner(ENCAP_GENEVE, false);
    check_cuts(&f, 42, 58, ANOM_GENEVE_TRUNC);
    check_short_udp(40000, 6081, &w, 16, ANOM_GENEVE_TRUNC);
    /* IPv4 protocol type */
    struct buf w4 = {.n = 0};
    put16(&w4, 0x0000);
    put16(&w4, 0x0800);
    put32(&w4, 0);
    inner_ip(&w4);
    f.n = 0;
    outer_udp(&f, 40000, 6081, &w4);
    dec(&f, (uint32_t)f.n, (uint32_t)f.n);
    check_inner(ENCAP_GENEVE, false);
    /* version 1 */
    w.b[0] |= 0x40;
    f.n = 0;
    outer_udp(&f, 40000, 6081, &w);
    dec(&f, (uint32_t)f.n, (uint32_t)f.n);
    CHECK_EQ(P.status, PKT_INVALID);
    CHECK(has_anom(ANOM_GENEVE_BAD_VERSION));
}

/* GRE v0 header with the S bit and protocol `proto`, then `inner`. */
static void gre_seq(struct buf *w, uint16_t proto)
{
    put16(w, 0x1000);
    put16(w, proto);
    put32(w, 7);
}

static void test_erspan(void)
{
    /* type II */
    struct buf w = {.n = 0};
    gre_seq(&w, 0x88be);
    put32(&w, 0x10000064); /* ver 1, session 100 */
    put32(&w, 0);
    inner_eth(&w);
    struct buf f = {.n = 0};
    outer_proto(&f, IPP_GRE, &w);
    dec(&f, (uint32_t)f.n, (uint32_t)f.n);
    check_inner(ENCAP_ERSPAN, false);
    check_cuts(&f, 42, 50, ANOM_ERSPAN_TRUNC);
    f.b[42] = 0x20; /* version 2 in a type II header */
    dec(&f, (uint32_t)f.n, (uint32_t)f.n);
    CHECK_EQ(P.status, PKT_INVALID);
    CHECK(has_anom(ANOM_ERSPAN_BAD_VERSION));
    /* type III with the platform sub-header (O bit) */
    w.n = 0;
    gre_seq(&w, 0x22eb);
    put32(&w, 0x20000064);
    put32(&w, 0x11223344); /* timestamp */
    put32(&w, 0x00000001); /* SGT 0, FT 0 (Ethernet), O */
    put32(&w, 0);
    put32(&w, 0);
    inner_eth(&w);
    f.n = 0;
    outer_proto(&f, IPP_GRE, &w);
    dec(&f, (uint32_t)f.n, (uint32_t)f.n);
    check_inner(ENCAP_ERSPAN, false);
    check_cuts(&f, 42, 62, ANOM_ERSPAN_TRUNC);
    /* type III without it, short datagram: invalid */
    w.n = 0;
    gre_seq(&w, 0x22eb);
    put32(&w, 0x20000064);
    put32(&w, 0);
    struct buf s = w;
    f.n = 0;
    outer_proto(&f, IPP_GRE, &s);
    dec(&f, (uint32_t)f.n, (uint32_t)f.n);
    CHECK_EQ(P.status, PKT_INVALID);
    CHECK(has_anom(ANOM_ERSPAN_TRUNC));
    /* type I: no S bit, the frame follows GRE */
    w.n = 0;
    put16(&w, 0);
    put16(&w, 0x88be);
    inner_eth(&w);
    f.n = 0;
    outer_proto(&f, IPP_GRE, &w);
    dec(&f, (uint32_t)f.n, (uint32_t)f.n);
    check_inner(ENCAP_ERSPAN, false);
}

static void test_gre(void)
{
    struct buf w = {.n = 0};
    put16(&w, 0);
    put16(&w, 0x6558);
    inner_eth(&w);
    struct buf f = {.n = 0};
    outer_proto(&f, IPP_GRE, &w);
    dec(&f, (uint32_t)f.n, (uint32_t)f.n);
    check_inner(ENCAP_GRE_TEB, false);
    CHECK_EQ(P.vpn, VPN_NONE); /* the mirror wrapper's GRE is gone */
    check_cuts(&f, 34, 38, ANOM_GRE_TRUNC);
    /* GRE carrying IPv4: a tunnel */
    w.n = 0;
    put16(&w, 0);
    put16(&w, 0x0800);
    inner_ip(&w);
    f.n = 0;
    outer_proto(&f, IPP_GRE, &w);
    dec(&f, (uint32_t)f.n, (uint32_t)f.n);
    check_inner(ENCAP_GRE_IP, false);
    check_cuts(&f, 34, 38, ANOM_GRE_TRUNC);
}

static void test_ipip(void)
{
    struct buf w = {.n = 0};
    inner_ip(&w);
    struct buf f = {.n = 0};
    outer_proto(&f, IPP_IPIP, &w);
    dec(&f, (uint32_t)f.n, (uint32_t)f.n);
    check_inner(ENCAP_IPIP, false);
    check_cuts(&f, 34, 54, ANOM_IP_TRUNC);
    /* 4in6 carrying PPTP-style GRE v1 */
    struct buf g = {.n = 0};
    ip4(&g, IPP_GRE, 16, 1, 2);
    put(&g, "\x30\x81\x88\x0b\x00\x00\x00\x2a\x00\x00\x00\x01\x00\x00\x00\x00", 16);
    struct buf o = {.n = 0};
    eth(&o, 0x86dd);
    ip6(&o, IPP_IPIP, g.n, 9, 10);
    put(&o, g.b, g.n);
    dec(&o, (uint32_t)o.n, (uint32_t)o.n);
    CHECK_EQ(P.status, PKT_DECODED);
    CHECK_EQ(P.vpn, VPN_GRE);
    CHECK_EQ(P.gre.version, 1);
    CHECK_EQ(P.gre.call_id, 42);
    CHECK_EQ(P.ipver, 4);
    CHECK_EQ(P.tunnel_kind, ENCAP_IPIP);
    CHECK_EQ(P.tunnel_src.v, 6);
    check_cuts(&o, 54, 74, ANOM_IP_TRUNC);
    /* 6in4 */
    struct buf i6 = {.n = 0};
    ip6(&i6, IPP_UDP, 12, 1, 2);
    udp(&i6, 500, 500, 4);
    put32(&i6, 0);
    f.n = 0;
    outer_proto(&f, IPP_IPV6, &i6);
    dec(&f, (uint32_t)f.n, (uint32_t)f.n);
    check_inner(ENCAP_IPIP, true);
    /* nesting at the depth cap: 4in4 repeated past VPNSCOPE_MAX_LAYERS */
    struct buf n = {.n = 0};
    inner_ip(&n);
    for (int i = 0; i < VPNSCOPE_MAX_LAYERS + 1; i++) {
        struct buf t = {.n = 0};
        ip4(&t, IPP_IPIP, n.n, 9, 10);
        put(&t, n.b, n.n);
        n = t;
    }
    f.n = 0;
    eth(&f, 0x0800);
    put(&f, n.b, n.n);
    dec(&f, (uint32_t)f.n, (uint32_t)f.n);
    CHECK_EQ(P.status, PKT_INVALID);
    CHECK(has_anom(ANOM_ENCAP_TOO_DEEP));
    CHECK_EQ(P.encap_depth, VPNSCOPE_MAX_LAYERS);
}

static void test_gtpu(void)
{
    /* T-PDU with sequence number and one extension header (PDU session container) */
    struct buf w = {.n = 0};
    put(&w, "\x36\xff", 2); /* v1, PT, E, S */
    put16(&w, 4 + 8 + 32);
    put32(&w, 0x11223344);
    put(&w, "\x00\x01\x00\x85", 4);                 /* seq 1, N-PDU 0, next 0x85 */
    put(&w, "\x02\x00\x09\x00\x00\x00\x00\x00", 8); /* len 2 (8 bytes), next 0 */
    inner_ip(&w);
    struct buf f = {.n = 0};
    outer_udp(&f, 2152, 2152, &w);
    dec(&f, (uint32_t)f.n, (uint32_t)f.n);
    check_inner(ENCAP_GTPU, false);
    check_cuts(&f, 42, 50, ANOM_GTPU_TRUNC);
    check_short_udp(2152, 2152, &w, 8, ANOM_GTPU_TRUNC);
    /* length field beyond the datagram */
    struct buf b = w;
    b.b[3] += 1;
    f.n = 0;
    outer_udp(&f, 2152, 2152, &b);
    dec(&f, (uint32_t)f.n, (uint32_t)f.n);
    CHECK_EQ(P.status, PKT_INVALID);
    CHECK(has_anom(ANOM_GTPU_BAD_LENGTH));
    /* extension length 0 */
    b = w;
    b.b[12] = 0;
    f.n = 0;
    outer_udp(&f, 2152, 2152, &b);
    dec(&f, (uint32_t)f.n, (uint32_t)f.n);
    CHECK_EQ(P.status, PKT_INVALID);
    CHECK(has_anom(ANOM_GTPU_BAD_EXT_LEN));
    /* a chain longer than the cap: every extension points to another */
    struct buf l = {.n = 0};
    put(&l, "\x34\xff", 2);
    put16(&l, (uint16_t)(4 + 4 * (VPNSCOPE_MAX_GTPU_EXT + 1)));
    put32(&l, 1);
    put(&l, "\x00\x00\x00\x85", 4);
    for (int i = 0; i < VPNSCOPE_MAX_GTPU_EXT + 1; i++)
        put(&l, "\x01\x00\x00\x85", 4);
    f.n = 0;
    outer_udp(&f, 2152, 2152, &l);
    dec(&f, (uint32_t)f.n, (uint32_t)f.n);
    CHECK_EQ(P.status, PKT_INVALID);
    CHECK(has_anom(ANOM_GTPU_EXT_CHAIN_LONG));
    /* GTPv2-C on the port: not GTP-U, stays UDP with the anomaly */
    b = w;
    b.b[0] = 0x48;
    f.n = 0;
    outer_udp(&f, 2152, 2152, &b);
    dec(&f, (uint32_t)f.n, (uint32_t)f.n);
    CHECK(has_anom(ANOM_GTPU_BAD_VERSION));
    CHECK_EQ(P.dport, 2152);
    /* echo request: the UDP flow itself */
    struct buf e = {.n = 0};
    put(&e, "\x32\x01", 2);
    put16(&e, 4);
    put32(&e, 0);
    put32(&e, 0x00010000);
    f.n = 0;
    outer_udp(&f, 2152, 2152, &e);
    dec(&f, (uint32_t)f.n, (uint32_t)f.n);
    CHECK_EQ(P.status, PKT_DECODED);
    CHECK_EQ(P.encap_mask, 0);
}

static void test_l2tp(void)
{
    /* L2TPv2 data with L and S, PPP ff03 0021 IPv4 */
    struct buf w = {.n = 0};
    put16(&w, 0x4802);
    put16(&w, (uint16_t)(12 + 4 + 32));
    put32(&w, 0x00010002);
    put32(&w, 0);
    put(&w, "\xff\x03\x00\x21", 4);
    inner_ip(&w);
    struct buf f = {.n = 0};
    outer_udp(&f, 1701, 1701, &w);
    dec(&f, (uint32_t)f.n, (uint32_t)f.n);
    check_inner(ENCAP_L2TP, false);
    check_cuts(&f, 54, 58, ANOM_PPP_TRUNC);
    /* protocol-field compression, no address/control, offset field */
    w.n = 0;
    put16(&w, 0x0202);
    put32(&w, 0x00010002);
    put16(&w, 2);
    put16(&w, 0);
    put(&w, "\x21", 1);
    inner_ip(&w);
    f.n = 0;
    outer_udp(&f, 1701, 1701, &w);
    dec(&f, (uint32_t)f.n, (uint32_t)f.n);
    check_inner(ENCAP_L2TP, false);
    /* PPP LCP stays L2TP (decode_app decodes it) */
    w.n = 0;
    put16(&w, 0x0002);
    put32(&w, 0x00010002);
    put(&w, "\xff\x03\xc0\x21\x01\x01\x00\x04", 8);
    f.n = 0;
    outer_udp(&f, 1701, 1701, &w);
    dec(&f, (uint32_t)f.n, (uint32_t)f.n);
    CHECK_EQ(P.encap_mask, 0);
    decode_app(&P, HINT_NONE);
    CHECK_EQ(P.vpn, VPN_L2TP);
    /* header, no PPP byte at all: the datagram is short */
    w.n = 0;
    put16(&w, 0x0002);
    put32(&w, 0x00010002);
    f.n = 0;
    outer_udp(&f, 1701, 1701, &w);
    dec(&f, (uint32_t)f.n, (uint32_t)f.n);
    CHECK_EQ(P.status, PKT_INVALID);
    CHECK(has_anom(ANOM_PPP_TRUNC));
}

static void test_mpls(void)
{
    struct buf f = {.n = 0};
    eth(&f, 0x8847);
    put32(&f, 0x00010040); /* label 16, not bottom */
    put32(&f, 0x00020140); /* label 32, bottom */
    inner_ip(&f);
    dec(&f, (uint32_t)f.n, (uint32_t)f.n);
    check_inner(ENCAP_MPLS, false);
    check_cuts(&f, 14, 22, ANOM_MPLS_TRUNC);
    /* no bottom-of-stack within the cap */
    struct buf l = {.n = 0};
    eth(&l, 0x8847);
    for (int i = 0; i < VPNSCOPE_MAX_MPLS_LABELS + 1; i++)
        put32(&l, 0x00010040);
    dec(&l, (uint32_t)l.n, (uint32_t)l.n);
    CHECK_EQ(P.status, PKT_INVALID);
    CHECK(has_anom(ANOM_MPLS_TOO_MANY_LABELS));
    /* pseudowire control word: not IP */
    struct buf c = {.n = 0};
    eth(&c, 0x8847);
    put32(&c, 0x00010140);
    put32(&c, 0);
    dec(&c, (uint32_t)c.n, (uint32_t)c.n);
    CHECK_EQ(P.status, PKT_NON_IP);
}

/* Wrapper around tunnel around the packet: VXLAN -> IPv4 -> GRE -> IPv4. */
static void test_nested(void)
{
    struct buf g = {.n = 0};
    put16(&g, 0);
    put16(&g, 0x0800);
    inner_ip(&g);
    struct buf t = {.n = 0};
    eth(&t, 0x0800);
    ip4(&t, IPP_GRE, g.n, 5, 6);
    put(&t, g.b, g.n);
    struct buf w = {.n = 0};
    put32(&w, 0x08000000);
    put32(&w, 0);
    put(&w, t.b, t.n);
    struct buf f = {.n = 0};
    outer_udp(&f, 1234, 4789, &w);
    dec(&f, (uint32_t)f.n, (uint32_t)f.n);
    CHECK_EQ(P.status, PKT_DECODED);
    CHECK_EQ(P.encap_depth, 2);
    CHECK(P.encap_mask & (1u << ENCAP_VXLAN));
    CHECK(P.encap_mask & (1u << ENCAP_GRE_IP));
    CHECK_EQ(P.tunnel_kind, ENCAP_GRE_IP);
    CHECK_EQ(P.tunnel_src.a[3], 5); /* the tunnel's addresses, not the mirror's */
    CHECK_EQ(P.src.a[3], 1);
    check_cuts(&f, 0, 0, ANOM_NONE);
    CHECK_STR(encap_name(ENCAP_VXLAN), "vxlan");
    CHECK_STR(encap_name(ENCAP__COUNT), "unknown");
}

int main(void)
{
    test_vxlan();
    test_geneve();
    test_erspan();
    test_gre();
    test_ipip();
    test_gtpu();
    test_l2tp();
    test_mpls();
    test_nested();
    free(heap);
    return t_done();
}
