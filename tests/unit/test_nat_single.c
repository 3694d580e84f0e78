/* test_nat_single.c - a NAT mapping that only one weak packet crossed (a NAT-T keepalive): the
 * correlator keeps it when the pair is evidence on its own (the only candidate, or the only one
 * with the same IPv4 ID; equal ID and size; the peer unchanged) and the translated address is
 * the NAT's (proven by another mapping or given with --nat-addr); it drops it when anything
 * contradicts that. Packets are raw IPv4 frames decoded by the real decoder. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "t.h"
#include "t_ip4.h"
#include "vpnscope/decode.h"
#include "vpnscope/nat.h"
#include "vpnscope/pkt.h"
#include "vpnscope/proto.h"
#include "vpnscope/session.h"

static const uint8_t CLIENT1[4] = {192, 168, 1, 11}, CLIENT2[4] = {192, 168, 1, 12},
                     CLIENT3[4] = {192, 168, 1, 13}, NAT[4] = {203, 0, 113, 1},
                     OTHER[4] = {198, 51, 100, 99}, SERVER[4] = {203, 0, 113, 10};

static uint64_t g_frame;

/* Feeds one UDP datagram src:sport -> dst:dport (IPv4 ID id, payload pl[0..n)) of side `side` at
 * time ts (µs). */
static void udp(struct nat_corr *c, uint8_t side, const uint8_t *src, uint16_t sport,
                const uint8_t *dst, uint16_t dport, uint16_t id, const uint8_t *pl, uint32_t n,
                uint64_t ts)
{
    uint8_t b[256];
    uint32_t len = t_ip4_udp(b, src, sport, dst, dport, id, side == SIDE_INSIDE ? 64 : 63, pl, n);
    struct pkt p;
    memset(&p, 0, sizeof(p));
    p.dlt = T_DLT_IPV4;
    p.caplen = p.wirelen = len;
    p.frame = ++g_frame;
    p.ts_us = ts;
    decode_packet(&p, b, len);
    nat_corr_packet(c, side, &p);
}

static const uint8_t KEEPALIVE[1] = {0xff};

/* c1's NAT-T data (strong: an ESP-in-UDP payload of 100 bytes) through the NAT 4500 -> 4500, which
 * proves NAT as the router's outside address. */
static void strong_flow(struct nat_corr *c, uint64_t t0)
{
    uint8_t esp[100];
    for (int k = 0; k < 3; k++) {
        for (unsigned i = 0; i < sizeof(esp); i++)
            esp[i] = (uint8_t)(i * 7 + (unsigned)k);
        uint64_t t = t0 + (uint64_t)k * 300000u;
        udp(c, SIDE_INSIDE, CLIENT1, 4500, SERVER, 4500, (uint16_t)(0x100 + k), esp, sizeof(esp),
            t);
        udp(c, SIDE_OUTSIDE, NAT, 4500, SERVER, 4500, (uint16_t)(0x100 + k), esp, sizeof(esp),
            t + 20);
    }
}

struct run {
    size_t n;
    bool found; /* a mapping of CLIENT2:4500 */
    uint16_t out_port;
    uint64_t pairs;
};

static struct run finish(struct nat_corr *c)
{
    struct nat_result r;
    memset(&r, 0, sizeof(r));
    struct run o;
    memset(&o, 0, sizeof(o));
    CHECK_EQ(nat_corr_finish(c, &r), 0);
    o.n = r.n_map;
    for (size_t i = 0; i < r.n_map; i++)
        if (memcmp(r.map[i].inside.ip.a, CLIENT2, 4) == 0) {
            o.found = true;
            o.out_port = r.map[i].outside.port;
            o.pairs = r.map[i].pairs;
        }
    nat_result_free(&r);
    nat_corr_free(c);
    return o;
}

static struct nat_corr *corr(bool nat_addr)
{
    struct nat_corr_opts o;
    memset(&o, 0, sizeof(o));
    if (nat_addr) {
        o.n_nat_addrs = 1;
        o.nat_addrs[0].v = 4;
        memcpy(o.nat_addrs[0].a, NAT, 4);
    }
    return nat_corr_new(&o);
}

/* The one keepalive of CLIENT2, seen inside with id_in and outside from out_ip:out_port to
 * SERVER:out_dport with id_out. */
static void keepalive(struct nat_corr *c, uint64_t t, uint16_t id_in, uint16_t id_out,
                      const uint8_t *out_ip, uint16_t out_port, uint16_t out_dport)
{
    udp(c, SIDE_INSIDE, CLIENT2, 4500, SERVER, 4500, id_in, KEEPALIVE, 1, t);
    udp(c, SIDE_OUTSIDE, out_ip, out_port, SERVER, out_dport, id_out, KEEPALIVE, 1, t + 30);
}

static void check_kept(void)
{
    struct nat_corr *c = corr(false);
    strong_flow(c, 1000000);
    keepalive(c, 1500000, 0x73a2, 0x73a2, NAT, 17653, 4500);
    struct run r = finish(c);
    CHECK_EQ(r.n, 2);
    CHECK(r.found);
    CHECK_EQ(r.out_port, 17653);
    CHECK_EQ(r.pairs, 1);
}

static void check_contradicted(void)
{
    /* a NAT that rewrites IP IDs: ID no longer evidence */
    struct nat_corr *c = corr(false);
    strong_flow(c, 1000000);
    keepalive(c, 1500000, 0x73a2, 0x1111, NAT, 17653, 4500);
    struct run r = finish(c);
    CHECK_EQ(r.n, 1);
    CHECK(!r.found);
    /* ID 0 (not a counter): not evidence */
    c = corr(false);
    strong_flow(c, 1000000);
    keepalive(c, 1500000, 0, 0, NAT, 17653, 4500);
    r = finish(c);
    CHECK(!r.found);
    /* translated to an address that is not the NAT's */
    c = corr(false);
    strong_flow(c, 1000000);
    keepalive(c, 1500000, 0x73a2, 0x73a2, OTHER, 17653, 4500);
    r = finish(c);
    CHECK(!r.found);
    /* the peer's port changed: not what a source NAT does */
    c = corr(false);
    strong_flow(c, 1000000);
    keepalive(c, 1500000, 0x73a2, 0x73a2, NAT, 17653, 4501);
    r = finish(c);
    CHECK(!r.found);
}

static void check_nat_address(void)
{
    /* nothing else proves the NAT's address: not kept */
    struct nat_corr *c = corr(false);
    keepalive(c, 1500000, 0x73a2, 0x73a2, NAT, 17653, 4500);
    struct run r = finish(c);
    CHECK_EQ(r.n, 0);
    /* ... unless --nat-addr gives it */
    c = corr(true);
    keepalive(c, 1500000, 0x73a2, 0x73a2, NAT, 17653, 4500);
    r = finish(c);
    CHECK_EQ(r.n, 1);
    CHECK(r.found);
    /* --nat-addr names another address: not kept even with a proven one elsewhere */
    c = corr(true);
    strong_flow(c, 1000000);
    keepalive(c, 1500000, 0x73a2, 0x73a2, OTHER, 17653, 4500);
    r = finish(c);
    CHECK(!r.found);
}

static void check_competitors(void)
{
    /* two look-alike keepalives pending at once, told apart by their IDs: both kept */
    struct nat_corr *c = corr(false);
    strong_flow(c, 1000000);
    udp(c, SIDE_INSIDE, CLIENT2, 4500, SERVER, 4500, 0x73a2, KEEPALIVE, 1, 1500000);
    udp(c, SIDE_INSIDE, CLIENT3, 4500, SERVER, 4500, 0x907f, KEEPALIVE, 1, 1500010);
    udp(c, SIDE_OUTSIDE, NAT, 35317, SERVER, 4500, 0x73a2, KEEPALIVE, 1, 1500030);
    udp(c, SIDE_OUTSIDE, NAT, 57998, SERVER, 4500, 0x907f, KEEPALIVE, 1, 1500040);
    struct run r = finish(c);
    CHECK_EQ(r.n, 3);
    CHECK(r.found);
    CHECK_EQ(r.out_port, 35317);
    /* the same ID on both: nothing tells them apart, neither is kept */
    c = corr(false);
    strong_flow(c, 1000000);
    udp(c, SIDE_INSIDE, CLIENT2, 4500, SERVER, 4500, 0x73a2, KEEPALIVE, 1, 1500000);
    udp(c, SIDE_INSIDE, CLIENT3, 4500, SERVER, 4500, 0x73a2, KEEPALIVE, 1, 1500010);
    udp(c, SIDE_OUTSIDE, NAT, 35317, SERVER, 4500, 0x73a2, KEEPALIVE, 1, 1500030);
    udp(c, SIDE_OUTSIDE, NAT, 57998, SERVER, 4500, 0x73a2, KEEPALIVE, 1, 1500040);
    r = finish(c);
    CHECK_EQ(r.n, 1);
    CHECK(!r.found);
}

int main(void)
{
    check_kept();
    check_contradicted();
    check_nat_address();
    check_competitors();
    return t_done();
}
