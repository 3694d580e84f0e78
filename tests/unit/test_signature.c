/* test_signature.c - NAT-invariant packet signatures (nat/signature.c): what a NAT rewrites
 * (addresses, ports, TTL, IP ID, ICMP echo identifier, PPTP Call ID) leaves the signature alone;
 * what it keeps (payload, sequence numbers, lengths) changes it. Packets are raw IPv4 frames
 * decoded by the real decoder. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "t.h"
#include "vpnscope/decode.h"
#include "vpnscope/nat.h"
#include "vpnscope/pkt.h"
#include "vpnscope/proto.h"

#define DLT_IPV4 228

struct ip4 {
    uint8_t src[4], dst[4];
    uint8_t ttl;
    uint16_t id;
    uint16_t frag; /* flags + offset field */
};

static const struct ip4 INSIDE = {{192, 168, 1, 10}, {203, 0, 113, 5}, 64, 0x1234, 0};
static const struct ip4 OUTSIDE = {{198, 51, 100, 7}, {203, 0, 113, 5}, 63, 0x9876, 0};

static void put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

/* An IPv4 frame of protocol `proto` around l4[0..len) in buf; returns its length. */
static uint32_t frame(uint8_t *buf, const struct ip4 *h, uint8_t proto, const uint8_t *l4,
                      uint32_t len)
{
    memset(buf, 0, 20);
    buf[0] = 0x45;
    put16(buf + 2, (uint16_t)(20 + len));
    put16(buf + 4, h->id);
    put16(buf + 6, h->frag);
    buf[8] = h->ttl;
    buf[9] = proto;
    memcpy(buf + 12, h->src, 4);
    memcpy(buf + 16, h->dst, 4);
    uint32_t sum = 0;
    for (int i = 0; i < 20; i += 2)
        sum += (uint32_t)(buf[i] << 8 | buf[i + 1]);
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    put16(buf + 10, (uint16_t)~sum);
    memcpy(buf + 20, l4, len);
    return 20 + len;
}

static uint8_t g_buf[2][1600];
static struct pkt g_pkt[2];

/* Decodes the frame into slot i and returns its signature. */
static struct nat_sig sig_of(int i, const struct ip4 *h, uint8_t proto, const uint8_t *l4,
                             uint32_t len)
{
    uint32_t n = frame(g_buf[i], h, proto, l4, len);
    struct pkt *p = &g_pkt[i];
    memset(p, 0, sizeof(*p));
    p->dlt = DLT_IPV4;
    p->caplen = n;
    p->wirelen = n;
    p->frame = 1;
    decode_packet(p, g_buf[i], n);
    struct nat_sig s;
    nat_pkt_sig(p, &s);
    return s;
}

/* UDP header + payload. */
static uint32_t udp(uint8_t *b, uint16_t sport, uint16_t dport, const char *payload)
{
    uint32_t pl = (uint32_t)strlen(payload);
    put16(b, sport);
    put16(b + 2, dport);
    put16(b + 4, (uint16_t)(8 + pl));
    put16(b + 6, 0);
    memcpy(b + 8, payload, pl);
    return 8 + pl;
}

static void check_udp(void)
{
    uint8_t a[64], b[64];
    uint32_t na = udp(a, 40000, 7000, "a payload long enough");
    uint32_t nb = udp(b, 1024, 7000, "a payload long enough");
    struct nat_sig si = sig_of(0, &INSIDE, IPP_UDP, a, na);
    struct nat_sig so = sig_of(1, &OUTSIDE, IPP_UDP, b, nb);
    CHECK(si.h != 0);
    CHECK(si.h == so.h); /* address, port, TTL and IP ID rewritten: same packet */
    CHECK(!si.weak);
    CHECK((si.ev & (NAT_EV_PAYLOAD | NAT_EV_SIZE)) == (NAT_EV_PAYLOAD | NAT_EV_SIZE));
    nb = udp(b, 1024, 7000, "a payload long enougH");
    so = sig_of(1, &OUTSIDE, IPP_UDP, b, nb);
    CHECK(si.h != so.h); /* one payload byte differs */
    na = udp(a, 40000, 7000, "tiny");
    si = sig_of(0, &INSIDE, IPP_UDP, a, na);
    CHECK(si.h != 0);
    CHECK(si.weak); /* under 12 payload bytes */
    /* a UDP header cut short: no signature */
    si = sig_of(0, &INSIDE, IPP_UDP, a, 6);
    CHECK_EQ(si.h, 0);
}

/* TCP header (20 bytes, ACK|PSH) + payload. */
static uint32_t tcp(uint8_t *b, uint16_t sport, uint16_t dport, uint32_t seq, const char *payload)
{
    uint32_t pl = (uint32_t)strlen(payload);
    memset(b, 0, 20);
    put16(b, sport);
    put16(b + 2, dport);
    put16(b + 4, (uint16_t)(seq >> 16));
    put16(b + 6, (uint16_t)seq);
    put16(b + 10, 77);
    b[12] = 5 << 4;
    b[13] = 0x18;
    put16(b + 14, 65535);
    memcpy(b + 20, payload, pl);
    return 20 + pl;
}

static void check_tcp(void)
{
    uint8_t a[64], b[64];
    uint32_t na = tcp(a, 40000, 1723, 1000, "control");
    uint32_t nb = tcp(b, 2048, 1723, 1000, "CONTROL"); /* a helper may rewrite the payload */
    struct nat_sig si = sig_of(0, &INSIDE, IPP_TCP, a, na);
    struct nat_sig so = sig_of(1, &OUTSIDE, IPP_TCP, b, nb);
    CHECK(si.h != 0);
    CHECK(si.h == so.h);
    CHECK((si.ev & NAT_EV_SEQ) != 0);
    nb = tcp(b, 2048, 1723, 1001, "control");
    so = sig_of(1, &OUTSIDE, IPP_TCP, b, nb);
    CHECK(si.h != so.h); /* another sequence number */
}

/* ICMP echo request: identifier, sequence, data. */
static uint32_t echo(uint8_t *b, uint16_t ident, uint16_t seq)
{
    memset(b, 0, 8);
    b[0] = 8;
    put16(b + 4, ident);
    put16(b + 6, seq);
    memcpy(b + 8, "0123456789abcdef", 16);
    return 24;
}

static void check_icmp(void)
{
    uint8_t a[64], b[64];
    struct nat_sig si = sig_of(0, &INSIDE, IPP_ICMP, a, echo(a, 0x0101, 7));
    struct nat_sig so = sig_of(1, &OUTSIDE, IPP_ICMP, b, echo(b, 0x2222, 7));
    CHECK(si.h != 0);
    CHECK(si.h == so.h); /* the identifier is remapped */
    CHECK((si.ev & NAT_EV_ICMP_ID) != 0);
    CHECK(!si.weak);
    so = sig_of(1, &OUTSIDE, IPP_ICMP, b, echo(b, 0x2222, 8));
    CHECK(si.h != so.h); /* another sequence number */
    /* an error (port unreachable) quoting an IPv4 header: weak, keyed by the quoted ID */
    uint8_t e[64];
    memset(e, 0, sizeof(e));
    e[0] = 3;
    e[1] = 3;
    frame(e + 8, &INSIDE, IPP_UDP, (const uint8_t *)"\x9c\x40\x1b\x58\x00\x08\x00\x00", 8);
    si = sig_of(0, &OUTSIDE, IPP_ICMP, e, 36);
    CHECK(si.h != 0);
    CHECK(si.weak);
    CHECK_EQ(si.ev, NAT_EV_SIZE);
    /* an ICMP header cut short: no signature */
    si = sig_of(0, &INSIDE, IPP_ICMP, a, 4);
    CHECK_EQ(si.h, 0);
}

static void check_esp(void)
{
    uint8_t a[40];
    for (unsigned i = 0; i < sizeof(a); i++)
        a[i] = (uint8_t)(i * 7 + 1);
    struct nat_sig si = sig_of(0, &INSIDE, IPP_ESP, a, sizeof(a));
    struct nat_sig so = sig_of(1, &OUTSIDE, IPP_ESP, a, sizeof(a));
    CHECK(si.h != 0);
    CHECK(si.h == so.h);
    CHECK((si.ev & (NAT_EV_SPI | NAT_EV_SEQ)) == (NAT_EV_SPI | NAT_EV_SEQ));
    a[39] ^= 1;
    so = sig_of(1, &OUTSIDE, IPP_ESP, a, sizeof(a));
    CHECK(si.h != so.h); /* the last bytes (ICV) count */
}

/* Enhanced GRE (PPTP, version 1) with a sequence number and a PPP payload. */
static uint32_t gre1(uint8_t *b, uint16_t call_id, uint8_t ppp_last)
{
    b[0] = 0x30; /* K, S */
    b[1] = 0x01; /* version 1 */
    put16(b + 2, 0x880b);
    put16(b + 4, 12); /* payload length */
    put16(b + 6, call_id);
    put16(b + 8, 0);
    put16(b + 10, 5); /* sequence */
    for (int i = 0; i < 12; i++)
        b[12 + i] = (uint8_t)(0xff - i);
    b[23] = ppp_last;
    return 24;
}

static void check_gre(void)
{
    uint8_t a[32], b[32];
    struct nat_sig si = sig_of(0, &INSIDE, IPP_GRE, a, gre1(a, 100, 1));
    struct nat_sig so = sig_of(1, &OUTSIDE, IPP_GRE, b, gre1(b, 4321, 1));
    CHECK(si.h != 0);
    CHECK(si.h == so.h); /* the PPTP helper rewrites the Call ID */
    CHECK((si.ev & NAT_EV_SEQ) != 0);
    so = sig_of(1, &OUTSIDE, IPP_GRE, b, gre1(b, 4321, 2));
    CHECK(si.h != so.h);
}

static void check_fragment(void)
{
    /* first fragment of a UDP datagram: the L4 header (ports) is left out */
    uint8_t a[64], b[64];
    uint32_t na = udp(a, 40000, 500, "first fragment data....");
    uint32_t nb = udp(b, 4500, 500, "first fragment data....");
    struct ip4 in = INSIDE, out = OUTSIDE;
    in.frag = 0x2000; /* MF, offset 0 */
    out.frag = 0x2000;
    struct nat_sig si = sig_of(0, &in, IPP_UDP, a, na);
    struct nat_sig so = sig_of(1, &out, IPP_UDP, b, nb);
    CHECK(g_pkt[0].is_frag);
    CHECK(si.h != 0);
    CHECK(si.h == so.h);
    CHECK((si.ev & NAT_EV_FRAGMENT) != 0);
    /* the same bytes as a whole datagram sign otherwise */
    struct nat_sig whole = sig_of(1, &OUTSIDE, IPP_UDP, b, nb);
    CHECK(whole.h != si.h);
}

static void check_not_ip(void)
{
    struct pkt p;
    memset(&p, 0, sizeof(p));
    p.status = PKT_NON_IP;
    struct nat_sig s;
    memset(&s, 0xff, sizeof(s));
    nat_pkt_sig(&p, &s);
    CHECK_EQ(s.h, 0);
    CHECK_EQ(s.ev, 0);
}

int main(void)
{
    check_udp();
    check_tcp();
    check_icmp();
    check_esp();
    check_gre();
    check_fragment();
    check_not_ip();
    return t_done();
}
