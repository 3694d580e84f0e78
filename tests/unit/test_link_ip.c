/* test_link_ip.c - link layers, IPv4/IPv6, UDP/TCP/ICMP, decode entry points and pkt helpers. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "t.h"
#include "t_ip4.h"
#include "vpnscope/config.h"
#include "vpnscope/decode.h"
#include "vpnscope/pkt.h"
#include "vpnscope/proto.h"
#include "vpnscope/rd.h"

#define DLT_NULL 0
#define DLT_EN10MB 1
#define DLT_RAW 12
#define DLT_RAW14 14
#define DLT_LINKTYPE_RAW 101
#define DLT_LOOP 108
#define DLT_LINUX_SLL 113
#define DLT_IPV4 228
#define DLT_IPV6 229
#define DLT_LINUX_SLL2 276

/* Ethernet + IPv4 + UDP 500 -> 500, 4 bytes payload (46 bytes). */
static const uint8_t eth_ip4_udp[] = {
    /* Ethernet: dst 00:11:22:33:44:55, src 66:77:88:99:aa:bb, type 0x0800 */
    0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0x08, 0x00,
    /* IPv4: v4 IHL 5, tos 0, total 32, id 0x1234, no frag, ttl 64, proto 17, csum 0x6ae1,
     * 192.168.1.10 -> 203.0.113.5 */
    0x45, 0x00, 0x00, 0x20, 0x12, 0x34, 0x00, 0x00, 0x40, 0x11, 0x6a, 0xe1, 0xc0, 0xa8, 0x01, 0x0a,
    0xcb, 0x00, 0x71, 0x05,
    /* UDP: 500 -> 500, length 12, checksum 0 */
    0x01, 0xf4, 0x01, 0xf4, 0x00, 0x0c, 0x00, 0x00,
    /* payload */
    0xde, 0xad, 0xbe, 0xef};

/* The IPv4 datagram of eth_ip4_udp alone (raw IP link types), 32 bytes. */
#define IP4_UDP_OFF 14

/* Ethernet + IPv6 + hop-by-hop + destination options + UDP 4500 -> 4500, 4 bytes (82 bytes). */
static const uint8_t eth_ip6_ext_udp[] = {
    /* Ethernet: dst 00:11:22:33:44:55, src 66:77:88:99:aa:bb, type 0x86dd */
    0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0x86, 0xdd,
    /* IPv6: v6 tc 0 flow 0, payload length 28, next header 0 (hop-by-hop), hop limit 64 */
    0x60, 0x00, 0x00, 0x00, 0x00, 0x1c, 0x00, 0x40,
    /* src 2001:db8::1 */
    0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01,
    /* dst 2001:db8::2 */
    0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x02,
    /* hop-by-hop: next 60 (dst opts), len 0 (8 bytes), PadN(4) */
    0x3c, 0x00, 0x01, 0x04, 0x00, 0x00, 0x00, 0x00,
    /* destination options: next 17 (UDP), len 0, PadN(4) */
    0x11, 0x00, 0x01, 0x04, 0x00, 0x00, 0x00, 0x00,
    /* UDP: 4500 -> 4500, length 12, checksum 0 */
    0x11, 0x94, 0x11, 0x94, 0x00, 0x0c, 0x00, 0x00,
    /* payload: ESP SPI 0x01020304 */
    0x01, 0x02, 0x03, 0x04};
#define IP6_OFF 14

/* Ethernet + IPv4 + TCP 40000 -> 1723 with 4 bytes of options (NOPs), 3 bytes payload (61). */
static const uint8_t eth_ip4_tcp[] = {
    /* Ethernet, type 0x0800 */
    0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0x08, 0x00,
    /* IPv4: total 47, id 0x1235, DF, ttl 64, proto 6, csum 0x2adc, 192.168.1.10 -> 203.0.113.5 */
    0x45, 0x00, 0x00, 0x2f, 0x12, 0x35, 0x40, 0x00, 0x40, 0x06, 0x2a, 0xdc, 0xc0, 0xa8, 0x01, 0x0a,
    0xcb, 0x00, 0x71, 0x05,
    /* TCP: 40000 -> 1723, seq 0x01020304, ack 0x05060708, data offset 6, flags PSH|ACK (0x18),
     * window 0x1000, checksum 0, urgent 0, options NOP NOP NOP NOP */
    0x9c, 0x40, 0x06, 0xbb, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x60, 0x18, 0x10, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x01, 0x01, 0x01, 0x01,
    /* payload */
    0xaa, 0xbb, 0xcc};

/* Ethernet + IPv4 + ICMP echo request id 0x4242 seq 1, 4 bytes data (46). */
static const uint8_t eth_ip4_icmp[] = {0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99,
                                       0xaa, 0xbb, 0x08, 0x00,
                                       /* IPv4: total 32, id 0x1236, ttl 64, proto 1, csum 0x6aef */
                                       0x45, 0x00, 0x00, 0x20, 0x12, 0x36, 0x00, 0x00, 0x40, 0x01,
                                       0x6a, 0xef, 0xc0, 0xa8, 0x01, 0x0a, 0xcb, 0x00, 0x71, 0x05,
                                       /* ICMP: type 8 code 0, checksum 0, id 0x4242, seq 1 */
                                       0x08, 0x00, 0x00, 0x00, 0x42, 0x42, 0x00, 0x01,
                                       /* data */
                                       0x61, 0x62, 0x63, 0x64};

/* Ethernet + IPv4 first fragment (MF, offset 0), proto UDP, 16 bytes of payload (50). */
static const uint8_t eth_ip4_frag1[] = {
    0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0x08, 0x00,
    /* IPv4: total 36, id 0x1237, flags MF (0x2000), ttl 64, proto 17, csum 0x4ada */
    0x45, 0x00, 0x00, 0x24, 0x12, 0x37, 0x20, 0x00, 0x40, 0x11, 0x4a, 0xda, 0xc0, 0xa8, 0x01, 0x0a,
    0xcb, 0x00, 0x71, 0x05,
    /* UDP 500 -> 500, length 24, then 8 bytes of data */
    0x01, 0xf4, 0x01, 0xf4, 0x00, 0x18, 0x00, 0x00, 1, 2, 3, 4, 5, 6, 7, 8};

/* Ethernet + IPv4 last fragment (offset 2 = 16 bytes), 8 bytes (42). */
static const uint8_t eth_ip4_frag2[] = {
    0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0x08, 0x00,
    /* IPv4: total 28, id 0x1237, offset 2 (16 bytes), ttl 64, proto 17, csum 0x6ae0 */
    0x45, 0x00, 0x00, 0x1c, 0x12, 0x37, 0x00, 0x02, 0x40, 0x11, 0x6a, 0xe0, 0xc0, 0xa8, 0x01, 0x0a,
    0xcb, 0x00, 0x71, 0x05,
    /* data */
    9, 10, 11, 12, 13, 14, 15, 16};

/* Raw IPv6 + fragment header (first fragment, MF, id 0xdeadbeef) + UDP header + 8 bytes (64). */
static const uint8_t ip6_frag_first[] = {
    /* IPv6: payload length 24, next header 44 (fragment), hop limit 64 */
    0x60, 0x00, 0x00, 0x00, 0x00, 0x18, 0x2c, 0x40,
    /* src 2001:db8::1, dst 2001:db8::2 */
    0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01, 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0x02,
    /* fragment: next 17, reserved, offset 0 + M (0x0001), id 0xdeadbeef */
    0x11, 0x00, 0x00, 0x01, 0xde, 0xad, 0xbe, 0xef,
    /* UDP 500 -> 500, length 40, checksum 0, 8 bytes */
    0x01, 0xf4, 0x01, 0xf4, 0x00, 0x28, 0x00, 0x00, 1, 2, 3, 4, 5, 6, 7, 8};

static struct pkt P;

static void dec_cut(int dlt, const uint8_t *b, uint32_t caplen, uint32_t wirelen)
{
    memset(&P, 0, sizeof(P));
    P.dlt = dlt;
    P.caplen = caplen;
    P.wirelen = wirelen;
    P.frame = 1;
    decode_packet(&P, b, caplen);
}

static void dec(int dlt, const uint8_t *b, uint32_t len)
{
    dec_cut(dlt, b, len, len);
}

static int has(enum anomaly a)
{
    for (unsigned i = 0; i < P.n_anom; i++) {
        if (P.anom[i] == a)
            return 1;
    }
    return 0;
}

static const char *addr(const struct ip_addr *a)
{
    static char buf[64];
    return ip_addr_str(a, buf, sizeof(buf));
}

static void check_ip4_udp(void)
{
    CHECK_EQ(P.status, PKT_DECODED);
    CHECK_EQ(P.n_anom, 0);
    CHECK_EQ(P.ipver, 4);
    CHECK_STR(addr(&P.src), "192.168.1.10");
    CHECK_STR(addr(&P.dst), "203.0.113.5");
    CHECK_EQ(P.l4proto, IPP_UDP);
    CHECK_EQ(P.ttl, 64);
    CHECK_EQ(P.ip_id, 0x1234);
    CHECK_EQ(P.l3_len, 32);
    CHECK_EQ(P.ip_len, 32);
    CHECK(P.has_ports);
    CHECK_EQ(P.sport, 500);
    CHECK_EQ(P.dport, 500);
    CHECK_EQ(P.payload_len, 4);
    CHECK(P.payload && P.payload[0] == 0xde);
    CHECK_EQ(P.l4_len, 12);
    CHECK(!P.is_frag);
}

static void test_ethernet(void)
{
    dec(DLT_EN10MB, eth_ip4_udp, sizeof(eth_ip4_udp));
    check_ip4_udp();
    CHECK(P.l3 == eth_ip4_udp + 14);
    CHECK_EQ(P.sll_pkttype, 0xffff);

    /* minimum-size Ethernet frame: 14 bytes of padding after the IP datagram */
    uint8_t b[128];
    memset(b, 0, sizeof(b));
    memcpy(b, eth_ip4_udp, sizeof(eth_ip4_udp));
    dec(DLT_EN10MB, b, 60);
    check_ip4_udp();

    /* ARP (0x0806) -> non-IP */
    memcpy(b, eth_ip4_udp, sizeof(eth_ip4_udp));
    b[12] = 0x08;
    b[13] = 0x06;
    dec(DLT_EN10MB, b, sizeof(eth_ip4_udp));
    CHECK_EQ(P.status, PKT_NON_IP);
    CHECK_EQ(P.ipver, 0);

    /* 802.3 length field (< 0x0600) -> non-IP */
    b[12] = 0x00;
    b[13] = 0x2e;
    dec(DLT_EN10MB, b, sizeof(eth_ip4_udp));
    CHECK_EQ(P.status, PKT_NON_IP);
}

/* Builds MACs | tags (each: tpid, TCI 0x0064) | 0x0800 | IPv4+UDP. Returns the length. */
static uint32_t build_vlan(uint8_t *b, const uint16_t *tpids, unsigned n)
{
    memcpy(b, eth_ip4_udp, 12);
    uint32_t o = 12;
    for (unsigned i = 0; i < n; i++) {
        b[o++] = (uint8_t)(tpids[i] >> 8);
        b[o++] = (uint8_t)tpids[i];
        b[o++] = 0x00; /* TCI: PCP 0, VID 100 */
        b[o++] = 0x64;
    }
    memcpy(b + o, eth_ip4_udp + 12, sizeof(eth_ip4_udp) - 12);
    return o + (uint32_t)sizeof(eth_ip4_udp) - 12;
}

static void test_vlan(void)
{
    uint8_t b[128];
    static const uint16_t one[] = {0x8100};
    uint32_t n = build_vlan(b, one, 1);
    dec(DLT_EN10MB, b, n);
    check_ip4_udp();

    static const uint16_t qinq[] = {0x88a8, 0x8100};
    n = build_vlan(b, qinq, 2);
    dec(DLT_EN10MB, b, n);
    check_ip4_udp();

    static const uint16_t old[] = {0x9100, 0x9100, 0x8100};
    n = build_vlan(b, old, 3);
    dec(DLT_EN10MB, b, n);
    check_ip4_udp();

    static const uint16_t four[] = {0x88a8, 0x8100, 0x8100, 0x8100};
    n = build_vlan(b, four, VPNSCOPE_MAX_VLANS);
    dec(DLT_EN10MB, b, n);
    check_ip4_udp();

    static const uint16_t five[] = {0x88a8, 0x8100, 0x8100, 0x8100, 0x8100};
    n = build_vlan(b, five, 5);
    dec(DLT_EN10MB, b, n);
    CHECK_EQ(P.status, PKT_INVALID);
    CHECK(has(ANOM_LINK_TOO_MANY_VLANS));

    /* tag cut in the middle */
    n = build_vlan(b, qinq, 2);
    dec(DLT_EN10MB, b, 17);
    CHECK_EQ(P.status, PKT_TRUNCATED);
    CHECK(has(ANOM_LINK_TRUNC));
}

static void test_pppoe(void)
{
    uint8_t b[128];
    /* MACs | 0x8864 | ver/type 0x11, code 0, session 0x0001, length 34 | PPP 0x0021 | IPv4+UDP */
    memcpy(b, eth_ip4_udp, 12);
    static const uint8_t hdr[] = {0x88, 0x64, 0x11, 0x00, 0x00, 0x01, 0x00, 0x22, 0x00, 0x21};
    memcpy(b + 12, hdr, sizeof(hdr));
    memcpy(b + 22, eth_ip4_udp + 14, 32);
    dec(DLT_EN10MB, b, 54);
    check_ip4_udp();
    b[21] = 0x23; /* PPP protocol 0x0023: not IP */
    dec(DLT_EN10MB, b, 54);
    CHECK_EQ(P.status, PKT_NON_IP);
}

static void test_sll(void)
{
    uint8_t b[128];
    /* SLL: packet type 4 (outgoing), ARPHRD 1, addr len 6, addr 66:77:88:99:aa:bb + 2 pad,
     * protocol 0x0800, then IPv4+UDP */
    static const uint8_t sll[] = {0x00, 0x04, 0x00, 0x01, 0x00, 0x06, 0x66, 0x77,
                                  0x88, 0x99, 0xaa, 0xbb, 0x00, 0x00, 0x08, 0x00};
    memcpy(b, sll, sizeof(sll));
    memcpy(b + 16, eth_ip4_udp + 14, 32);
    dec(DLT_LINUX_SLL, b, 48);
    check_ip4_udp();
    CHECK_EQ(P.sll_pkttype, 4);
    CHECK_EQ(P.ifidx, 0);
    dec(DLT_LINUX_SLL, b, 15);
    CHECK_EQ(P.status, PKT_TRUNCATED);
    CHECK(has(ANOM_LINK_TRUNC));
    /* protocol 0x0004 (802.2 frames) -> non-IP */
    b[14] = 0x00;
    b[15] = 0x04;
    dec(DLT_LINUX_SLL, b, 48);
    CHECK_EQ(P.status, PKT_NON_IP);

    /* SLL2: protocol 0x86dd, reserved, ifindex 7, ARPHRD 1, packet type 0 (host), addr len 6,
     * addr + 2 pad, then IPv6 + ext + UDP */
    static const uint8_t sll2[] = {0x86, 0xdd, 0x00, 0x00, 0x00, 0x00, 0x00, 0x07, 0x00, 0x01,
                                   0x00, 0x06, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0x00, 0x00};
    memcpy(b, sll2, sizeof(sll2));
    memcpy(b + 20, eth_ip6_ext_udp + IP6_OFF, sizeof(eth_ip6_ext_udp) - IP6_OFF);
    dec(DLT_LINUX_SLL2, b, 20 + (uint32_t)sizeof(eth_ip6_ext_udp) - IP6_OFF);
    CHECK_EQ(P.status, PKT_DECODED);
    CHECK_EQ(P.ipver, 6);
    CHECK_EQ(P.ifidx, 7);
    CHECK_EQ(P.sll_pkttype, 0);
    CHECK_EQ(P.dport, 4500);
    dec(DLT_LINUX_SLL2, b, 19);
    CHECK_EQ(P.status, PKT_TRUNCATED);
}

static void test_null_loop_raw(void)
{
    uint8_t b[128];
    const uint8_t *ip4 = eth_ip4_udp + IP4_UDP_OFF;
    const uint8_t *ip6 = eth_ip6_ext_udp + IP6_OFF;
    uint32_t ip6len = (uint32_t)sizeof(eth_ip6_ext_udp) - IP6_OFF;

    /* NULL, little-endian AF_INET: 02 00 00 00 */
    static const uint8_t le2[] = {0x02, 0x00, 0x00, 0x00};
    memcpy(b, le2, 4);
    memcpy(b + 4, ip4, 32);
    dec(DLT_NULL, b, 36);
    check_ip4_udp();
    /* NULL, big-endian AF_INET: 00 00 00 02 */
    static const uint8_t be2[] = {0x00, 0x00, 0x00, 0x02};
    memcpy(b, be2, 4);
    dec(DLT_NULL, b, 36);
    check_ip4_udp();
    /* NULL AF_INET6 variants: 24 (BSD) LE, 28 (FreeBSD) BE, 30 (Darwin) LE */
    static const uint8_t fams[][4] = {{24, 0, 0, 0}, {0, 0, 0, 28}, {30, 0, 0, 0}};
    for (unsigned i = 0; i < 3; i++) {
        memcpy(b, fams[i], 4);
        memcpy(b + 4, ip6, ip6len);
        dec(DLT_NULL, b, 4 + ip6len);
        CHECK_EQ(P.status, PKT_DECODED);
        CHECK_EQ(P.ipver, 6);
        CHECK_EQ(P.sport, 4500);
    }
    /* NULL unknown family 7 -> non-IP; short -> truncated */
    static const uint8_t f7[] = {7, 0, 0, 0};
    memcpy(b, f7, 4);
    dec(DLT_NULL, b, 36);
    CHECK_EQ(P.status, PKT_NON_IP);
    dec(DLT_NULL, b, 3);
    CHECK_EQ(P.status, PKT_TRUNCATED);

    /* LOOP: network order only: 00 00 00 02 is IPv4, 02 00 00 00 is not */
    memcpy(b, be2, 4);
    memcpy(b + 4, ip4, 32);
    dec(DLT_LOOP, b, 36);
    check_ip4_udp();
    memcpy(b, le2, 4);
    dec(DLT_LOOP, b, 36);
    CHECK_EQ(P.status, PKT_NON_IP);

    /* raw IP under every raw DLT */
    static const int raws[] = {DLT_RAW, DLT_RAW14, DLT_LINKTYPE_RAW};
    for (unsigned i = 0; i < 3; i++) {
        dec(raws[i], ip4, 32);
        check_ip4_udp();
        dec(raws[i], ip6, ip6len);
        CHECK_EQ(P.status, PKT_DECODED);
        CHECK_EQ(P.ipver, 6);
    }
    /* raw IP, version 5 -> invalid */
    memcpy(b, ip4, 32);
    b[0] = 0x55;
    dec(DLT_RAW, b, 32);
    CHECK_EQ(P.status, PKT_INVALID);
    CHECK(has(ANOM_IP_BAD_VERSION));
    dec(DLT_RAW, b, 0);
    CHECK_EQ(P.status, PKT_TRUNCATED);

    dec(DLT_IPV4, ip4, 32);
    check_ip4_udp();
    dec(DLT_IPV6, ip6, ip6len);
    CHECK_EQ(P.status, PKT_DECODED);
    CHECK_EQ(P.ipver, 6);
    dec(DLT_IPV4, ip6, ip6len); /* an IPv6 packet on DLT_IPV4 */
    CHECK_EQ(P.status, PKT_INVALID);
    CHECK(has(ANOM_IP_BAD_VERSION));
    dec(DLT_IPV6, ip4, 32);
    CHECK_EQ(P.status, PKT_INVALID);

    CHECK(decode_dlt_supported(DLT_EN10MB));
    CHECK(decode_dlt_supported(DLT_LINUX_SLL2));
    CHECK(!decode_dlt_supported(105)); /* 802.11 */
    CHECK_STR(link_dlt_name(DLT_EN10MB), "EN10MB");
    CHECK_STR(link_dlt_name(DLT_LINUX_SLL), "LINUX_SLL");
    CHECK_STR(link_dlt_name(DLT_LINUX_SLL2), "LINUX_SLL2");
    CHECK_STR(link_dlt_name(DLT_NULL), "NULL");
    CHECK_STR(link_dlt_name(DLT_RAW), "RAW");
    CHECK_STR(link_dlt_name(-1), "unknown");
    dec(105, ip4, 32);
    CHECK_EQ(P.status, PKT_NON_IP);
}

static void test_ipv4_errors(void)
{
    uint8_t b[128];
    /* bad version 5 */
    memcpy(b, eth_ip4_udp, sizeof(eth_ip4_udp));
    b[14] = 0x55;
    dec(DLT_EN10MB, b, sizeof(eth_ip4_udp));
    CHECK_EQ(P.status, PKT_INVALID);
    CHECK(has(ANOM_IP_BAD_VERSION));
    /* IHL 4 (< 5) */
    b[14] = 0x44;
    dec(DLT_EN10MB, b, sizeof(eth_ip4_udp));
    CHECK_EQ(P.status, PKT_INVALID);
    CHECK(has(ANOM_IP_BAD_HLEN));
    /* IHL 15 (60 bytes) > total length 32 */
    b[14] = 0x4f;
    dec(DLT_EN10MB, b, sizeof(eth_ip4_udp));
    CHECK_EQ(P.status, PKT_INVALID);
    CHECK(has(ANOM_IP_BAD_TOTLEN));
    /* total length 10 < 20 */
    memcpy(b, eth_ip4_udp, sizeof(eth_ip4_udp));
    b[17] = 10;
    dec(DLT_EN10MB, b, sizeof(eth_ip4_udp));
    CHECK_EQ(P.status, PKT_INVALID);
    CHECK(has(ANOM_IP_BAD_TOTLEN));
    /* total length 40 > the 32 bytes on the wire (frame not cut: caplen == wirelen) */
    memcpy(b, eth_ip4_udp, sizeof(eth_ip4_udp));
    b[17] = 40;
    dec(DLT_EN10MB, b, sizeof(eth_ip4_udp));
    CHECK_EQ(P.status, PKT_INVALID);
    CHECK(has(ANOM_IP_BAD_TOTLEN));
    /* bad header checksum: recorded, still decoded */
    memcpy(b, eth_ip4_udp, sizeof(eth_ip4_udp));
    b[24] ^= 0xff;
    dec(DLT_EN10MB, b, sizeof(eth_ip4_udp));
    CHECK_EQ(P.status, PKT_DECODED);
    CHECK(has(ANOM_IP_BAD_CHECKSUM));
    /* snaplen-limited: 44 of 46 bytes captured (UDP payload cut) */
    dec_cut(DLT_EN10MB, eth_ip4_udp, 44, sizeof(eth_ip4_udp));
    CHECK_EQ(P.status, PKT_TRUNCATED);
    CHECK(has(ANOM_IP_SNAPLEN_SHORT));
    CHECK(has(ANOM_UDP_TRUNC));
    CHECK_EQ(P.l3_len, 30);
    CHECK_EQ(P.ip_len, 32);
    CHECK_EQ(P.sport, 500);
    CHECK_EQ(P.payload_len, 2);
    /* caplen > wirelen is recorded */
    dec_cut(DLT_EN10MB, eth_ip4_udp, sizeof(eth_ip4_udp), 40);
    CHECK(has(ANOM_CAPLEN_GT_LEN));
    /* IPv4 options: IHL 6 with a 4-byte NOP option; total 36 */
    static const uint8_t opt[] = {
        /* IPv4: IHL 6, total 36, id 0x1234, ttl 64, proto 17, csum filled below, 10.0.0.1
         * -> 10.0.0.2, options: NOP NOP NOP EOL */
        0x46, 0x00, 0x00, 0x24, 0x12, 0x34, 0x00, 0x00, 0x40, 0x11, 0x00, 0x00, 0x0a, 0x00, 0x00,
        0x01, 0x0a, 0x00, 0x00, 0x02, 0x01, 0x01, 0x01, 0x00,
        /* UDP 1701 -> 1701, length 12, then 4 bytes */
        0x06, 0xa5, 0x06, 0xa5, 0x00, 0x0c, 0x00, 0x00, 0xc8, 0x02, 0x00, 0x0c};
    memcpy(b, opt, sizeof(opt));
    uint32_t s = 0;
    for (unsigned i = 0; i < 24; i += 2)
        s += (uint32_t)(b[i] << 8 | b[i + 1]);
    while (s >> 16)
        s = (s & 0xffff) + (s >> 16);
    b[10] = (uint8_t)(~s >> 8);
    b[11] = (uint8_t)~s;
    dec(DLT_RAW, b, sizeof(opt));
    CHECK_EQ(P.status, PKT_DECODED);
    CHECK_EQ(P.n_anom, 0);
    CHECK_EQ(P.sport, 1701);
    CHECK_EQ(P.payload_len, 4);
}

/* RFC 1071 over 16-bit big-endian words, folded: the header checksum is right when 0xffff. */
static uint32_t ref_sum16(const uint8_t *h, unsigned n)
{
    uint32_t s = 0;
    for (unsigned i = 0; i + 1 < n; i += 2)
        s += (uint32_t)(h[i] << 8 | h[i + 1]);
    while (s >> 16)
        s = (s & 0xffff) + (s >> 16);
    return s;
}

/* The header checksum test (summed 32 bits at a time in host order) flags exactly the headers
 * whose 16-bit one's complement sum is not 0xffff: random headers of every IHL, half with the
 * checksum set right, and the edge cases of the end-around carry (all 0xff, all zero). */
static void test_ipv4_checksum(void)
{
    uint8_t b[60 + 8];
    uint64_t x = 0x9e3779b97f4a7c15ull;
    int agree = 0, n = 0;
    for (int it = 0; it < 4000; it++) {
        unsigned ihl = 5 + (unsigned)(it % 11);
        for (unsigned i = 0; i < sizeof(b); i++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            b[i] = (uint8_t)x;
        }
        if (it % 97 == 0)
            memset(b, 0xff, sizeof(b));
        b[0] = (uint8_t)(0x40 | ihl);
        b[2] = 0, b[3] = (uint8_t)(ihl * 4 + 8); /* total: header + 8 bytes */
        b[6] = 0, b[7] = 0;                      /* not a fragment */
        b[9] = 50;                               /* ESP: no port decoding */
        if (it % 2) {
            b[10] = b[11] = 0;
            uint32_t s = ref_sum16(b, ihl * 4);
            b[10] = (uint8_t)(~s >> 8);
            b[11] = (uint8_t)~s;
        }
        bool bad = ref_sum16(b, ihl * 4) != 0xffff;
        dec(DLT_RAW, b, ihl * 4 + 8);
        n++;
        agree += has(ANOM_IP_BAD_CHECKSUM) == bad;
    }
    CHECK_EQ(agree, n);
    /* a header of zeros but version and IHL: sum 0x4500, wrong */
    memset(b, 0, sizeof(b));
    b[0] = 0x45, b[3] = 28, b[9] = 50;
    dec(DLT_RAW, b, 28);
    CHECK(has(ANOM_IP_BAD_CHECKSUM));
}

/* rd_view: one length check for a fixed header; rv_* never read past the view. */
static void test_rd_view(void)
{
    static const uint8_t d[6] = {1, 2, 3, 4, 5, 6};
    struct rd r = rd_init(d, sizeof(d));
    struct rv v = rd_view(&r, 4);
    CHECK(v.p == d);
    CHECK_EQ(rd_left(&r), 2);
    CHECK_EQ(rv_u8(v, 3), 4);
    CHECK_EQ(rv_u8(v, 4), 0);
    CHECK_EQ(rv_be16(v, 2), 0x0304);
    CHECK_EQ(rv_be16(v, 3), 0);
    CHECK_EQ(rv_be32(v, 0), 0x01020304);
    CHECK_EQ(rv_be32(v, 1), 0);
    uint8_t out[3] = {9, 9, 9};
    rv_copy(v, 2, out, 3); /* one byte beyond: zeroed */
    CHECK(out[0] == 0 && out[1] == 0 && out[2] == 0);
    rv_copy(v, 1, out, 3);
    CHECK(out[0] == 2 && out[1] == 3 && out[2] == 4);
    struct rv w = rd_view(&r, 3); /* 2 left: short */
    CHECK(w.p == NULL && w.n == 0);
    CHECK(!rd_ok(&r));
    CHECK_EQ(rv_u8(w, 0), 0);
    CHECK_EQ(rv_be16(w, 0), 0);
}

static void test_udp_tcp_icmp(void)
{
    uint8_t b[128];
    /* UDP length 6 (< 8) */
    memcpy(b, eth_ip4_udp, sizeof(eth_ip4_udp));
    b[39] = 6;
    dec(DLT_EN10MB, b, sizeof(eth_ip4_udp));
    CHECK_EQ(P.status, PKT_INVALID);
    CHECK(has(ANOM_UDP_BAD_LEN));
    /* UDP length 20 > 12 available, not cut */
    b[39] = 20;
    dec(DLT_EN10MB, b, sizeof(eth_ip4_udp));
    CHECK_EQ(P.status, PKT_INVALID);
    CHECK(has(ANOM_UDP_BAD_LEN));
    /* UDP length 10 < 12 available: trailing bytes ignored */
    b[39] = 10;
    dec(DLT_EN10MB, b, sizeof(eth_ip4_udp));
    CHECK_EQ(P.status, PKT_DECODED);
    CHECK_EQ(P.payload_len, 2);

    dec(DLT_EN10MB, eth_ip4_tcp, sizeof(eth_ip4_tcp));
    CHECK_EQ(P.status, PKT_DECODED);
    CHECK_EQ(P.n_anom, 0);
    CHECK_EQ(P.l4proto, IPP_TCP);
    CHECK_EQ(P.sport, 40000);
    CHECK_EQ(P.dport, 1723);
    CHECK_EQ(P.tcp_seq, 0x01020304);
    CHECK_EQ(P.tcp_ack, 0x05060708);
    CHECK_EQ(P.tcp_flags, 0x18);
    CHECK_EQ(P.payload_len, 3);
    CHECK(P.payload && P.payload[0] == 0xaa);
    CHECK_EQ(P.l4_len, 27);
    /* data offset 4 -> invalid */
    memcpy(b, eth_ip4_tcp, sizeof(eth_ip4_tcp));
    b[46] = 0x40;
    dec(DLT_EN10MB, b, sizeof(eth_ip4_tcp));
    CHECK_EQ(P.status, PKT_INVALID);
    CHECK(has(ANOM_TCP_BAD_HLEN));
    /* data offset 15 (60 bytes) > 27 available: invalid when not cut, truncated when cut */
    b[46] = 0xf0;
    dec(DLT_EN10MB, b, sizeof(eth_ip4_tcp));
    CHECK_EQ(P.status, PKT_INVALID);
    dec_cut(DLT_EN10MB, eth_ip4_tcp, 50, sizeof(eth_ip4_tcp));
    CHECK_EQ(P.status, PKT_TRUNCATED);
    CHECK(has(ANOM_TCP_TRUNC));

    dec(DLT_EN10MB, eth_ip4_icmp, sizeof(eth_ip4_icmp));
    CHECK_EQ(P.status, PKT_DECODED);
    CHECK_EQ(P.l4proto, IPP_ICMP);
    CHECK_EQ(P.icmp_type, 8);
    CHECK_EQ(P.icmp_id, 0x4242);
    CHECK(!P.has_ports);
    CHECK_EQ(P.payload_len, 4);
    /* echo cut inside the identifier */
    dec_cut(DLT_EN10MB, eth_ip4_icmp, 37, sizeof(eth_ip4_icmp));
    CHECK_EQ(P.status, PKT_TRUNCATED);
    CHECK(has(ANOM_ICMP_TRUNC));

    /* ICMPv6 echo reply id 0x0102 over raw IPv6 */
    static const uint8_t icmp6[] = {
        /* IPv6: payload length 8, next header 58, hop limit 255, fe80::1 -> ff02::1 */
        0x60, 0x00, 0x00, 0x00, 0x00, 0x08, 0x3a, 0xff, 0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        0, 0, 0x01, 0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01,
        /* ICMPv6: type 129 code 0, checksum 0, id 0x0102, seq 7 */
        0x81, 0x00, 0x00, 0x00, 0x01, 0x02, 0x00, 0x07};
    dec(DLT_RAW, icmp6, sizeof(icmp6));
    CHECK_EQ(P.status, PKT_DECODED);
    CHECK_EQ(P.l4proto, IPP_ICMPV6);
    CHECK_EQ(P.icmp_type, 129);
    CHECK_EQ(P.icmp_id, 0x0102);
    CHECK_EQ(P.ttl, 255);
    CHECK_STR(addr(&P.src), "fe80::1");
    CHECK_STR(addr(&P.dst), "ff02::1");
}

/* IPv4 header checksum (RFC 1071) over h[0..hl). */
static void ip4_csum(uint8_t *h, unsigned hl)
{
    h[10] = h[11] = 0;
    uint32_t sum = 0;
    for (unsigned i = 0; i + 1 < hl; i += 2)
        sum += (uint32_t)(h[i] << 8 | h[i + 1]);
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    h[10] = (uint8_t)(~sum >> 8);
    h[11] = (uint8_t)~sum;
}

/* An IPv4 header: total length tot, protocol, DF, src 203.0.113.2 or given, dst given. */
static void ip4_hdr(uint8_t *b, uint16_t tot, uint8_t proto, bool df, const uint8_t *src,
                    const uint8_t *dst)
{
    memset(b, 0, 20);
    b[0] = 0x45;
    b[2] = (uint8_t)(tot >> 8), b[3] = (uint8_t)tot;
    b[6] = df ? 0x40 : 0;
    b[8] = 64;
    b[9] = proto;
    memcpy(b + 12, src, 4);
    memcpy(b + 16, dst, 4);
    ip4_csum(b, 20);
}

/* DF bit; ICMP "fragmentation needed" (MTU, quoted ESP-in-UDP and raw ESP datagrams), every
 * truncation of its quote; ICMPv6 "packet too big". */
static void test_too_big(void)
{
    static const uint8_t rt[4] = {203, 0, 113, 2}, cli[4] = {203, 0, 113, 1},
                         srv[4] = {192, 0, 2, 10};
    uint8_t b[96];
    /* a DF datagram */
    ip4_hdr(b, 28, IPP_UDP, true, cli, srv);
    memset(b + 20, 0, 8);
    b[21] = 1, b[23] = 2, b[25] = 8;
    dec(DLT_RAW, b, 28);
    CHECK(P.df);
    ip4_hdr(b, 28, IPP_UDP, false, cli, srv);
    dec(DLT_RAW, b, 28);
    CHECK(!P.df);

    /* ICMP 3/4 MTU 1280 quoting 1284-byte ESP in UDP 4500 -> 4500, SPI 0xa001 */
    unsigned n = 20 + 8 + 20 + 8 + 8;
    ip4_hdr(b, (uint16_t)n, IPP_ICMP, false, rt, cli);
    uint8_t *ic = b + 20;
    memset(ic, 0, 8);
    ic[0] = 3, ic[1] = 4, ic[6] = 0x05, ic[7] = 0x00;
    ip4_hdr(ic + 8, 1284, IPP_UDP, true, cli, srv);
    uint8_t *u = ic + 28;
    u[0] = 0x11, u[1] = 0x94, u[2] = 0x11, u[3] = 0x94, u[4] = 0x04, u[5] = 0xf0, u[6] = 0,
    u[7] = 0;
    u[8] = 0, u[9] = 0, u[10] = 0xa0, u[11] = 0x01, u[12] = 0, u[13] = 0, u[14] = 0, u[15] = 9;
    dec(DLT_RAW, b, n);
    CHECK_EQ(P.status, PKT_DECODED);
    CHECK_EQ(P.icmp_type, 3);
    CHECK_EQ(P.icmp_code, 4);
    CHECK(P.too_big.valid);
    CHECK_EQ(P.too_big.mtu, 1280);
    CHECK_EQ(P.too_big.len, 1284);
    CHECK_EQ(P.too_big.proto, IPP_UDP);
    CHECK(P.too_big.has_ports && P.too_big.sport == 4500 && P.too_big.dport == 4500);
    CHECK(P.too_big.has_spi && P.too_big.spi == 0xa001);
    CHECK_STR(addr(&P.too_big.src), "203.0.113.1");
    CHECK_STR(addr(&P.too_big.dst), "192.0.2.10");
    /* the quote cut after the UDP header: ports, no SPI; cut inside the quoted IP header: invalid
     * (the capture kept everything: the message itself is short) */
    for (unsigned cut = 20 + 8; cut <= n; cut++) {
        ip4_hdr(b, (uint16_t)cut, IPP_ICMP, false, rt, cli);
        dec(DLT_RAW, b, cut);
        if (cut < 20 + 8 + 20) {
            CHECK(has(ANOM_ICMP_TRUNC));
            CHECK_EQ(P.status, PKT_INVALID);
            CHECK(!P.too_big.valid);
        } else {
            CHECK_EQ(P.status, PKT_DECODED);
            CHECK(P.too_big.valid);
            CHECK_EQ(P.too_big.has_ports, cut >= 20 + 8 + 20 + 4);
            CHECK_EQ(P.too_big.has_spi, cut >= 20 + 8 + 20 + 12);
        }
    }
    /* snaplen cut inside the quote: truncated */
    ip4_hdr(b, (uint16_t)n, IPP_ICMP, false, rt, cli);
    dec_cut(DLT_RAW, b, 20 + 8 + 10, n);
    CHECK_EQ(P.status, PKT_TRUNCATED);
    CHECK(has(ANOM_ICMP_TRUNC));
    /* quoted raw ESP: the SPI right after the header; an impossible quoted IHL: addresses only */
    ip4_hdr(b, (uint16_t)n, IPP_ICMP, false, rt, cli);
    ip4_hdr(ic + 8, 1344, IPP_ESP, true, cli, srv);
    u[0] = 0, u[1] = 0, u[2] = 0xa0, u[3] = 0x02;
    dec(DLT_RAW, b, n);
    CHECK(P.too_big.valid && P.too_big.has_spi && P.too_big.spi == 0xa002);
    CHECK(!P.too_big.has_ports);
    ic[8] = 0x42; /* IHL 2 */
    dec(DLT_RAW, b, n);
    CHECK(!P.too_big.valid);
    CHECK_EQ(P.status, PKT_DECODED);
    /* another ICMP unreachable code: no too-big record */
    ic[8] = 0x45, ic[1] = 3;
    dec(DLT_RAW, b, n);
    CHECK(!P.too_big.valid);

    /* ICMPv6 packet too big, MTU 1280, quoting UDP 4500 from fd00:1::11 */
    uint8_t v6[40 + 8 + 40 + 8];
    memset(v6, 0, sizeof(v6));
    v6[0] = 0x60, v6[5] = 8 + 40 + 8, v6[6] = IPP_ICMPV6, v6[7] = 64;
    v6[8] = 0x20, v6[9] = 0x01, v6[10] = 0x0d, v6[11] = 0xb8, v6[23] = 2;
    v6[24] = 0xfd, v6[39] = 0x11;
    uint8_t *i6 = v6 + 40;
    i6[0] = 2, i6[6] = 0x05, i6[7] = 0x00;
    uint8_t *q6 = i6 + 8;
    q6[0] = 0x60, q6[4] = 0x05, q6[5] = 0x14, q6[6] = IPP_UDP, q6[7] = 64;
    q6[8] = 0xfd, q6[23] = 0x11, q6[24] = 0x20, q6[25] = 0x01, q6[39] = 0x10;
    q6[40] = 0x11, q6[41] = 0x94, q6[42] = 0x11, q6[43] = 0x94;
    dec(DLT_RAW, v6, sizeof(v6));
    CHECK_EQ(P.status, PKT_DECODED);
    CHECK(P.too_big.valid);
    CHECK_EQ(P.too_big.mtu, 1280);
    CHECK_EQ(P.too_big.len, 0x514 + 40);
    CHECK(P.too_big.has_ports && P.too_big.sport == 4500);
    CHECK(!P.too_big.has_spi); /* the quote ends with the UDP header */
}

static void test_vpn_l4(void)
{
    /* IPv4 proto 50: ESP SPI 0x11223344 seq 1, 4 bytes */
    static const uint8_t esp[] = {/* IPv4: total 32, id 0x1238, ttl 64, proto 50, csum 0x6abc */
                                  0x45, 0x00, 0x00, 0x20, 0x12, 0x38, 0x00, 0x00, 0x40, 0x32, 0x6a,
                                  0xbc, 0xc0, 0xa8, 0x01, 0x0a, 0xcb, 0x00, 0x71, 0x05,
                                  /* ESP: SPI 0x11223344, seq 1, 4 bytes ciphertext */
                                  0x11, 0x22, 0x33, 0x44, 0x00, 0x00, 0x00, 0x01, 0x99, 0x99, 0x99,
                                  0x99};
    dec(DLT_RAW, esp, sizeof(esp));
    CHECK_EQ(P.status, PKT_DECODED);
    CHECK_EQ(P.vpn, VPN_ESP);
    CHECK_EQ(P.esp.spi, 0x11223344);
    CHECK_EQ(P.l4_len, 12);
    CHECK(!P.has_ports);

    /* NAT-T keepalive: UDP 4500 with a single 0xff, dispatched by decode_app */
    uint8_t b[128];
    memcpy(b, eth_ip4_udp, sizeof(eth_ip4_udp));
    b[34] = 0x11; /* sport 4500 */
    b[35] = 0x94;
    b[39] = 9; /* UDP length 9 */
    b[42] = 0xff;
    dec(DLT_EN10MB, b, sizeof(eth_ip4_udp));
    CHECK_EQ(P.status, PKT_DECODED);
    CHECK_EQ(P.payload_len, 1);
    CHECK_EQ(P.vpn, VPN_NONE);
    decode_app(&P, HINT_NONE);
    CHECK_EQ(P.vpn, VPN_NATT_KEEPALIVE);
    /* the same on ports 1000 -> 1000 needs the flow hint */
    b[34] = 0x03;
    b[35] = 0xe8;
    b[36] = 0x03;
    b[37] = 0xe8;
    dec(DLT_EN10MB, b, sizeof(eth_ip4_udp));
    decode_app(&P, HINT_NONE);
    CHECK_EQ(P.vpn, VPN_NONE);
    decode_app(&P, HINT_NATT);
    CHECK_EQ(P.vpn, VPN_NATT_KEEPALIVE);
}

static void test_fragments(void)
{
    dec(DLT_EN10MB, eth_ip4_frag1, sizeof(eth_ip4_frag1));
    CHECK_EQ(P.status, PKT_DECODED);
    CHECK(P.is_frag);
    CHECK(P.frag_mf);
    CHECK_EQ(P.frag_off, 0);
    CHECK_EQ(P.l4proto, IPP_UDP);
    CHECK(!P.has_ports); /* L4 waits for reassembly */
    CHECK_EQ(P.frag_data_len, 16);
    CHECK(P.frag_data == eth_ip4_frag1 + 34);
    CHECK_EQ(P.ip_id, 0x1237);

    dec(DLT_EN10MB, eth_ip4_frag2, sizeof(eth_ip4_frag2));
    CHECK_EQ(P.status, PKT_DECODED);
    CHECK(P.is_frag);
    CHECK(!P.frag_mf);
    CHECK_EQ(P.frag_off, 16);
    CHECK_EQ(P.frag_data_len, 8);

    /* a reassembled datagram goes through decode_l4 with an exact length */
    uint8_t dg[24];
    memcpy(dg, eth_ip4_frag1 + 34, 16);
    memcpy(dg + 16, eth_ip4_frag2 + 34, 8);
    P.reassembled = true;
    decode_l4(&P, 17, dg, sizeof(dg));
    CHECK_EQ(P.status, PKT_DECODED);
    CHECK_EQ(P.sport, 500);
    CHECK_EQ(P.payload_len, 16);

    dec(DLT_RAW, ip6_frag_first, sizeof(ip6_frag_first));
    CHECK_EQ(P.status, PKT_DECODED);
    CHECK(P.is_frag);
    CHECK_EQ(P.ip_id, 0xdeadbeef);
    CHECK_EQ(P.l4proto, IPP_UDP);
    CHECK_EQ(P.frag_data_len, 16);
    CHECK(!P.has_ports);
    CHECK(!has(ANOM_IPV6_FRAG_NOT_FIRST_CHAIN));
    /* first fragment cut before the end of the UDP header (RFC 7112) */
    uint8_t b[128];
    memcpy(b, ip6_frag_first, sizeof(ip6_frag_first));
    b[5] = 12; /* payload length 12: fragment header + 4 bytes */
    dec(DLT_RAW, b, 52);
    CHECK_EQ(P.status, PKT_DECODED);
    CHECK(has(ANOM_IPV6_FRAG_NOT_FIRST_CHAIN));
    /* non-first fragment: offset 24, M=0 */
    memcpy(b, ip6_frag_first, sizeof(ip6_frag_first));
    b[42] = 0x00;
    b[43] = 0x18;
    dec(DLT_RAW, b, sizeof(ip6_frag_first));
    CHECK(P.is_frag);
    CHECK_EQ(P.frag_off, 24);
    CHECK(!P.frag_mf);
    /* atomic fragment (offset 0, M=0): a whole datagram, decoded */
    b[43] = 0x00;
    dec(DLT_RAW, b, sizeof(ip6_frag_first));
    CHECK(!P.is_frag);
    CHECK_EQ(P.status, PKT_INVALID); /* UDP length 40 > 16 bytes: not cut */
    CHECK(P.has_ports);
}

/* IPv6 with n destination-options headers then UDP (8 bytes, no payload). */
static uint32_t build_ext_chain(uint8_t *b, unsigned n)
{
    memcpy(b, eth_ip6_ext_udp + IP6_OFF, 40);
    uint32_t o = 40;
    b[6] = 60;
    for (unsigned i = 0; i < n; i++) {
        /* dst opts: next (60 or 17), len 0, PadN(4) */
        static const uint8_t dopt[] = {0x3c, 0x00, 0x01, 0x04, 0x00, 0x00, 0x00, 0x00};
        memcpy(b + o, dopt, 8);
        if (i + 1 == n)
            b[o] = 17;
        o += 8;
    }
    static const uint8_t udp[] = {0x01, 0xf4, 0x01, 0xf4, 0x00, 0x08, 0x00, 0x00};
    memcpy(b + o, udp, 8);
    o += 8;
    b[4] = (uint8_t)((o - 40) >> 8);
    b[5] = (uint8_t)(o - 40);
    return o;
}

static void test_ipv6(void)
{
    dec(DLT_EN10MB, eth_ip6_ext_udp, sizeof(eth_ip6_ext_udp));
    CHECK_EQ(P.status, PKT_DECODED);
    CHECK_EQ(P.n_anom, 0);
    CHECK_EQ(P.ipver, 6);
    CHECK_EQ(P.l4proto, IPP_UDP);
    CHECK_EQ(P.ttl, 64);
    CHECK_EQ(P.ip_len, 68);
    CHECK_EQ(P.l3_len, 68);
    CHECK_STR(addr(&P.src), "2001:db8::1");
    CHECK_STR(addr(&P.dst), "2001:db8::2");
    CHECK_EQ(P.sport, 4500);
    CHECK_EQ(P.payload_len, 4);

    uint8_t b[256];
    uint32_t n = build_ext_chain(b, VPNSCOPE_MAX_IPV6_EXT);
    dec(DLT_RAW, b, n);
    CHECK_EQ(P.status, PKT_DECODED);
    CHECK_EQ(P.dport, 500);
    n = build_ext_chain(b, VPNSCOPE_MAX_IPV6_EXT + 1);
    dec(DLT_RAW, b, n);
    CHECK_EQ(P.status, PKT_INVALID);
    CHECK(has(ANOM_IPV6_EXT_CHAIN_LONG));
    /* extension header longer than the payload length says (not cut) */
    n = build_ext_chain(b, 2);
    b[41] = 4; /* first dst opts claims 40 bytes */
    dec(DLT_RAW, b, n);
    CHECK_EQ(P.status, PKT_INVALID);
    CHECK(has(ANOM_IPV6_EXT_TRUNC));
    /* the same, cut by the snaplen */
    n = build_ext_chain(b, 2);
    dec_cut(DLT_RAW, b, 44, n);
    CHECK_EQ(P.status, PKT_TRUNCATED);
    CHECK(has(ANOM_IPV6_EXT_TRUNC));
    CHECK(has(ANOM_IP_SNAPLEN_SHORT));
    /* IPv6 payload length beyond the frame, not cut */
    n = build_ext_chain(b, 1);
    b[5] = (uint8_t)(b[5] + 8);
    dec(DLT_RAW, b, n);
    CHECK_EQ(P.status, PKT_INVALID);
    CHECK(has(ANOM_IP_BAD_TOTLEN));
    /* version 4 in an 0x86dd frame */
    memcpy(b, eth_ip6_ext_udp, sizeof(eth_ip6_ext_udp));
    b[14] = 0x45;
    dec(DLT_EN10MB, b, sizeof(eth_ip6_ext_udp));
    CHECK_EQ(P.status, PKT_INVALID);
    CHECK(has(ANOM_IP_BAD_VERSION));
    /* AH (51) ends the chain: hop-by-hop then AH */
    static const uint8_t ah6[] = {
        /* IPv6: payload 8 + 24, next header 0, hop limit 64, 2001:db8::1 -> 2001:db8::2 */
        0x60, 0x00, 0x00, 0x00, 0x00, 0x20, 0x00, 0x40, 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0,
        0, 0, 0, 0, 0x01, 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x02,
        /* hop-by-hop: next 51, len 0, PadN(4) */
        0x33, 0x00, 0x01, 0x04, 0x00, 0x00, 0x00, 0x00,
        /* AH: next 17, payload len 4 (24 bytes), reserved, SPI 0x00000500, seq 1, ICV 12 bytes */
        0x11, 0x04, 0x00, 0x00, 0x00, 0x00, 0x05, 0x00, 0x00, 0x00, 0x00, 0x01, 0, 0, 0, 0, 0, 0, 0,
        0, 0, 0, 0, 0};
    dec(DLT_RAW, ah6, sizeof(ah6));
    CHECK_EQ(P.l4proto, IPP_AH);
    CHECK_EQ(P.vpn, VPN_AH);
    CHECK_EQ(P.ah.spi, 0x500);
}

/* Every proper prefix of a valid frame decodes without a crash (each prefix is copied into an
 * exact-size heap block so ASan catches any read past it). Prefixes shorter than hdr_end (the end
 * of the L4 header) must be TRUNCATED; longer ones cut only payload: UDP reports it through its
 * length field (TRUNCATED), TCP and ICMP have none (DECODED with ip_snaplen_short). */
static void prefixes(const uint8_t *frame, uint32_t len, uint32_t hdr_end, bool payload_trunc,
                     const char *what)
{
    unsigned bad = 0;
    for (uint32_t n = 0; n < len; n++) {
        uint8_t *copy = malloc(n ? n : 1);
        if (!copy)
            abort();
        memcpy(copy, frame, n);
        dec_cut(DLT_EN10MB, copy, n, len);
        enum pkt_status want = (n < hdr_end || payload_trunc) ? PKT_TRUNCATED : PKT_DECODED;
        if (P.status != want || (n >= 14 && n >= hdr_end && !has(ANOM_IP_SNAPLEN_SHORT))) {
            fprintf(stderr, "%s: prefix %u: status %d\n", what, n, P.status);
            bad++;
        }
        free(copy);
    }
    CHECK_EQ(bad, 0);
}

static void test_prefixes(void)
{
    prefixes(eth_ip4_udp, sizeof(eth_ip4_udp), 42, true, "eth_ip4_udp");
    prefixes(eth_ip6_ext_udp, sizeof(eth_ip6_ext_udp), 78, true, "eth_ip6_ext_udp");
    prefixes(eth_ip4_tcp, sizeof(eth_ip4_tcp), 58, false, "eth_ip4_tcp");
    prefixes(eth_ip4_icmp, sizeof(eth_ip4_icmp), 42, false, "eth_ip4_icmp");
}

static void test_pkt_helpers(void)
{
    CHECK_STR(anomaly_name(ANOM_NONE), "none");
    CHECK_STR(anomaly_name(ANOM_LINK_TRUNC), "link_truncated");
    CHECK_STR(anomaly_name(ANOM_TS_BACKWARDS), "timestamp_backwards");
    CHECK_STR(anomaly_name(ANOM__COUNT), "unknown");
    CHECK_STR(anomaly_name(100000), "unknown");

    struct pkt p;
    memset(&p, 0, sizeof(p));
    pkt_anom(&p, ANOM_IP_TRUNC);
    pkt_anom(&p, ANOM_IP_TRUNC);
    CHECK_EQ(p.n_anom, 1);
    for (unsigned a = 1; a <= 12; a++)
        pkt_anom(&p, (enum anomaly)a);
    CHECK_EQ(p.n_anom, 8);
    CHECK_EQ(p.status, PKT_DECODED);
    pkt_truncated(&p, ANOM_UDP_TRUNC);
    CHECK_EQ(p.status, PKT_TRUNCATED);
    pkt_invalid(&p, ANOM_UDP_BAD_LEN);
    CHECK_EQ(p.status, PKT_TRUNCATED); /* the first status wins */
    p.status = PKT_DECODED;
    pkt_invalid(&p, ANOM_UDP_BAD_LEN);
    CHECK_EQ(p.status, PKT_INVALID);

    p.ts_us = 123;
    p.frame = 9;
    p.caplen = 60;
    p.wirelen = 70;
    p.dlt = 1;
    p.side = 2;
    p.ifidx = 3;
    p.sll_pkttype = 4;
    p.ipver = 6;
    p.vpn = VPN_ESP;
    p.ike.ispi = 77;
    p.dirty |= PKT_DIRTY_IKE; /* whoever writes ike, pptp or ovpn says so (pkt.h) */
    p.l2tp.tunnel_id = 5;
    pkt_reset(&p);
    CHECK_EQ(p.ts_us, 123);
    CHECK_EQ(p.frame, 9);
    CHECK_EQ(p.caplen, 60);
    CHECK_EQ(p.wirelen, 70);
    CHECK_EQ(p.dlt, 1);
    CHECK_EQ(p.side, 2);
    CHECK_EQ(p.ifidx, 3);
    CHECK_EQ(p.sll_pkttype, 4);
    CHECK_EQ(p.status, PKT_DECODED);
    CHECK_EQ(p.n_anom, 0);
    CHECK_EQ(p.ipver, 0);
    CHECK_EQ(p.vpn, VPN_NONE);
    CHECK_EQ(p.ike.ispi, 0);
    CHECK_EQ(p.l2tp.tunnel_id, 0);

    /* RFC 5952 formatting */
    static const struct {
        uint8_t a[16];
        const char *s;
    } v6[] = {
        {{0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}, "2001:db8::1"},
        {{0}, "::"},
        {{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}, "::1"},
        {{0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 1}, "2001:db8::1:0:0:1"},
        {{0x20, 0x01, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1}, "2001:0:0:1::1"},
        {{0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1}, "2001:db8:0:1:1:1:1:1"},
        {{0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, "fe80::"},
        {{0x20, 0x01, 0x0d, 0xb8, 0xab, 0xcd, 0, 0x12, 0, 0, 0, 0, 0, 0, 0xff, 0xff},
         "2001:db8:abcd:12::ffff"},
        {{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 192, 0, 2, 1}, "::ffff:192.0.2.1"},
        {{0x20, 0x01, 0, 0, 0, 0, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 1}, "2001:0:0:db8::1"},
    };
    for (unsigned i = 0; i < sizeof(v6) / sizeof(v6[0]); i++) {
        struct ip_addr a = {6, {0}};
        memcpy(a.a, v6[i].a, 16);
        char buf[48];
        CHECK_STR(ip_addr_str(&a, buf, sizeof(buf)), v6[i].s);
    }
    struct ip_addr a4 = {4, {10, 1, 2, 3}};
    char buf[48];
    CHECK_STR(ip_addr_str(&a4, buf, sizeof(buf)), "10.1.2.3");
    struct ip_addr none = {0, {0}};
    CHECK_STR(ip_addr_str(&none, buf, sizeof(buf)), "-");
    char small[8];
    ip_addr_str(&a4, small, sizeof(small)); /* "10.1.2.3" cut to 7 chars */
    CHECK_EQ(strlen(small), 7);

    static const struct {
        uint8_t v;
        uint8_t a[16];
        bool priv;
    } pv[] = {
        {4, {10, 0, 0, 1}, true},
        {4, {172, 16, 0, 1}, true},
        {4, {172, 31, 255, 1}, true},
        {4, {172, 32, 0, 1}, false},
        {4, {192, 168, 9, 9}, true},
        {4, {100, 64, 0, 1}, true},
        {4, {100, 127, 255, 1}, true},
        {4, {100, 128, 0, 1}, false},
        {4, {127, 0, 0, 1}, true},
        {4, {169, 254, 1, 1}, true},
        {4, {203, 0, 113, 5}, false},
        {4, {8, 8, 8, 8}, false},
        {6, {0xfc, 0}, true},
        {6, {0xfd, 0x12}, true},
        {6, {0xfe, 0x80}, true},
        {6, {0xfe, 0xbf}, true},
        {6, {0xfe, 0xc0}, false},
        {6, {0x20, 0x01, 0x0d, 0xb8}, false},
        {6, {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}, true},
    };
    for (unsigned i = 0; i < sizeof(pv) / sizeof(pv[0]); i++) {
        struct ip_addr a = {pv[i].v, {0}};
        memcpy(a.a, pv[i].a, 16);
        if (ip_addr_is_private(&a) != pv[i].priv)
            fprintf(stderr, "private check %u\n", i);
        CHECK_EQ(ip_addr_is_private(&a), pv[i].priv);
    }
}

/* pkt_reset clears the IKE, PPTP and OpenVPN parts only when their decoder wrote them: after each
 * of those packets, a plain UDP packet decoded into the same struct must be byte for byte what a
 * zeroed struct gives (a decoder that forgot its dirty bit leaves its fields behind). */
static int zero_bytes(const void *v, size_t n)
{
    const uint8_t *b = v;
    for (size_t i = 0; i < n; i++)
        if (b[i])
            return 0;
    return 1;
}

static void plain_after(struct pkt *p, const char *what)
{
    struct pkt fresh;
    memset(&fresh, 0, sizeof(fresh));
    fresh.dlt = p->dlt = DLT_EN10MB;
    fresh.caplen = fresh.wirelen = p->caplen = p->wirelen = sizeof(eth_ip4_udp);
    decode_packet(p, eth_ip4_udp, sizeof(eth_ip4_udp));
    decode_packet(&fresh, eth_ip4_udp, sizeof(eth_ip4_udp));
    size_t o = offsetof(struct pkt, status);
    if (memcmp((char *)p + o, (char *)&fresh + o, sizeof(*p) - o) != 0) {
        printf("  after %s: the next packet keeps old fields\n", what);
        CHECK(0);
    }
    CHECK_EQ(p->dirty, 0);
}

/* UDP from 192.168.1.10:sport to 203.0.113.5:dport with payload pl[0..n) decoded into p (hint:
 * the flow's), then: its VPN kind is vpn, its dirty bit is set, its part is not all zero. */
static void udp_dirty(struct pkt *p, uint16_t sport, uint16_t dport, const uint8_t *pl, uint32_t n,
                      enum app_hint hint, enum pkt_vpn vpn, uint8_t bit, const void *part,
                      size_t size)
{
    static const uint8_t c[4] = {192, 168, 1, 10}, s[4] = {203, 0, 113, 5};
    uint8_t b[128];
    uint32_t len = t_ip4_udp(b, c, sport, s, dport, 1, 64, pl, n);
    p->dlt = T_DLT_IPV4;
    p->caplen = p->wirelen = len;
    decode_packet(p, b, len);
    decode_app(p, hint);
    CHECK_EQ(p->vpn, vpn);
    CHECK(p->dirty & bit);
    CHECK(!zero_bytes(part, size));
}

static void test_reset_dirty(void)
{
    uint8_t pl[64];
    struct pkt p;
    memset(&p, 0, sizeof(p));

    /* IKEv2 IKE_SA_INIT header, 28 bytes: ispi, rspi 0, next 0, version 2.0, exchange 34 */
    memset(pl, 0, sizeof(pl));
    pl[7] = 1;
    pl[17] = 0x20;
    pl[18] = 34;
    pl[19] = 0x08;
    pl[27] = 28;
    udp_dirty(&p, 500, 500, pl, 28, HINT_NONE, VPN_IKE, PKT_DIRTY_IKE, &p.ike, sizeof(p.ike));
    plain_after(&p, "IKE");

    /* OpenVPN on a flow known as OpenVPN: a client hard reset (opcode 7, key 0) */
    memset(pl, 0, sizeof(pl));
    pl[0] = 7 << 3;
    for (int i = 1; i <= 8; i++)
        pl[i] = (uint8_t)i;
    udp_dirty(&p, 40000, 1194, pl, 14, HINT_OVPN, VPN_OVPN, PKT_DIRTY_OVPN, &p.ovpn,
              sizeof(p.ovpn));
    plain_after(&p, "OpenVPN");

    /* PPTP Echo-Request, 16 bytes: identifier 7 */
    static const uint8_t echorq[16] = {0x00, 0x10, 0x00, 0x01, 0x1a, 0x2b, 0x3c, 0x4d,
                                       0x00, 0x05, 0x00, 0x00, 0x00, 0x00, 0x00, 0x07};
    struct rd r = rd_init(echorq, sizeof(echorq));
    pptp_decode(&r, &p);
    CHECK_EQ(p.vpn, VPN_PPTP);
    CHECK(p.dirty & PKT_DIRTY_PPTP);
    CHECK(!zero_bytes(&p.pptp, sizeof(p.pptp)));
    plain_after(&p, "PPTP");

    /* the contract itself: written parts marked dirty are zero after the reset */
    memset(&p.ike, 0xa5, sizeof(p.ike));
    memset(&p.pptp, 0xa5, sizeof(p.pptp));
    memset(&p.ovpn, 0xa5, sizeof(p.ovpn));
    memset(&p.too_big, 0xa5, sizeof(p.too_big));
    p.dirty = PKT_DIRTY_IKE | PKT_DIRTY_PPTP | PKT_DIRTY_OVPN;
    p.frame = 42;
    pkt_reset(&p);
    CHECK_EQ(p.frame, 42);
    CHECK(zero_bytes((char *)&p + offsetof(struct pkt, status),
                     sizeof(p) - offsetof(struct pkt, status)));
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Informational timings (not pass/fail): pkt_reset and a whole Ethernet/IPv4/UDP decode. */
static void bench(void)
{
    enum { N = 2000000 };
    struct pkt p;
    memset(&p, 0, sizeof(p));
    double t0 = now_s();
    for (int i = 0; i < N; i++) {
        p.ts_us = (uint64_t)i;
        pkt_reset(&p);
    }
    double t1 = now_s();
    p.dlt = DLT_EN10MB;
    p.caplen = p.wirelen = sizeof(eth_ip4_udp);
    unsigned ok = 0;
    for (int i = 0; i < N; i++) {
        decode_packet(&p, eth_ip4_udp, sizeof(eth_ip4_udp));
        ok += p.status == PKT_DECODED;
    }
    double t2 = now_s();
    printf("sizeof(struct pkt) = %zu; pkt_reset %.1f ns; decode eth/ipv4/udp %.1f ns/packet\n",
           sizeof(struct pkt), (t1 - t0) * 1e9 / N, (t2 - t1) * 1e9 / N);
    CHECK_EQ(ok, N);
}

int main(void)
{
    test_pkt_helpers();
    test_reset_dirty();
    test_ethernet();
    test_vlan();
    test_pppoe();
    test_sll();
    test_null_loop_raw();
    test_ipv4_errors();
    test_ipv4_checksum();
    test_rd_view();
    test_udp_tcp_icmp();
    test_too_big();
    test_vpn_l4();
    test_fragments();
    test_ipv6();
    test_prefixes();
    bench();
    return t_done();
}
