/* test_corr_cap.c - the correlator's mapping cap (NAT_MAP_MAX, of which NAT_MAP_VPN_RESERVE for
 * pairs with a VPN layer) and the mapping cache's memory of dropped pairs: once the table is full
 * for other traffic, every pair of a new flow is dropped and counted (also the repeated ones the
 * cache answers); a pair with a VPN layer still creates its mapping from the reserve, and then
 * the flow's other pairs - the same tuples the cache saw dropped - update that mapping instead of
 * being dropped. Packets are raw IPv4 UDP datagrams decoded by the real decoder. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "t.h"
#include "t_ip4.h"
#include "vpnscope/config.h"
#include "vpnscope/decode.h"
#include "vpnscope/nat.h"
#include "vpnscope/pkt.h"
#include "vpnscope/proto.h"
#include "vpnscope/session.h"

static const uint8_t NAT[4] = {203, 0, 113, 1}, SERVER[4] = {198, 51, 100, 10},
                     CX[4] = {172, 16, 0, 1}, CY[4] = {172, 16, 0, 2};

static uint64_t g_frame, g_seq;

/* One UDP datagram src:sport -> dst:dport of `side` at ts (µs): a 24-byte payload unique to this
 * call and its twin on the other side (seq), so every inside packet pairs with its outside copy.
 * vpn: marked as a WireGuard packet (a VPN layer: the mapping reserve applies). */
static void udp(struct nat_corr *c, uint8_t side, const uint8_t *src, uint16_t sport,
                const uint8_t *dst, uint16_t dport, uint64_t seq, bool vpn, uint64_t ts)
{
    uint8_t pl[24];
    for (int i = 0; i < 8; i++)
        pl[i] = (uint8_t)(seq >> (8 * i));
    memset(pl + 8, 0x5a, sizeof(pl) - 8);
    uint8_t b[64];
    uint32_t len = t_ip4_udp(b, src, sport, dst, dport, (uint16_t)seq,
                             side == SIDE_INSIDE ? 64 : 63, pl, sizeof(pl));
    struct pkt p;
    memset(&p, 0, sizeof(p));
    p.dlt = T_DLT_IPV4;
    p.caplen = p.wirelen = len;
    p.frame = ++g_frame;
    p.ts_us = ts;
    decode_packet(&p, b, len);
    if (vpn)
        p.vpn = VPN_WG;
    nat_corr_packet(c, side, &p);
}

static uint64_t g_t = 1000000;

/* A pair of the flow client:cport -> SERVER:53 translated to NAT:nport, towards the server or
 * back from it. */
static void pair(struct nat_corr *c, const uint8_t *client, uint16_t cport, uint16_t nport,
                 bool to_peer, bool vpn)
{
    uint64_t seq = ++g_seq;
    g_t += 100;
    if (to_peer) {
        udp(c, SIDE_INSIDE, client, cport, SERVER, 53, seq, vpn, g_t);
        udp(c, SIDE_OUTSIDE, NAT, nport, SERVER, 53, seq, vpn, g_t + 20);
    } else {
        udp(c, SIDE_OUTSIDE, SERVER, 53, NAT, nport, seq, vpn, g_t);
        udp(c, SIDE_INSIDE, SERVER, 53, client, cport, seq, vpn, g_t + 20);
    }
}

static const struct nat_mapping *find(const struct nat_result *r, const uint8_t *client)
{
    for (size_t i = 0; i < r->n_map; i++)
        if (r->map[i].inside.ip.v == 4 && memcmp(r->map[i].inside.ip.a, client, 4) == 0)
            return &r->map[i];
    return NULL;
}

int main(void)
{
    struct nat_corr_opts o;
    memset(&o, 0, sizeof(o));
    struct nat_corr *c = nat_corr_new(&o);
    CHECK(c != NULL);
    if (!c)
        return t_done();
    /* the table full for traffic without a VPN layer: one mapping per client 10.a.b.1 */
    unsigned fill = NAT_MAP_MAX - NAT_MAP_VPN_RESERVE;
    for (unsigned i = 0; i < fill; i++) {
        uint8_t cl[4] = {10, (uint8_t)(i >> 8), (uint8_t)i, 1};
        pair(c, cl, 40000, (uint16_t)(1024 + i), true, false);
    }
    /* CX's flow: no room; the same tuples again and again (the cache answers the repeats) */
    for (int k = 0; k < 3; k++)
        pair(c, CX, 5000, 60000, true, false);
    /* CY's flow: dropped too */
    pair(c, CY, 5001, 60001, true, false);
    /* the reply to CX with a VPN layer: created from the reserve */
    pair(c, CX, 5000, 60000, false, true);
    /* CX's tuples towards the server now update that mapping (the remembered drop is stale) */
    for (int k = 0; k < 2; k++)
        pair(c, CX, 5000, 60000, true, false);
    /* CY still has none: dropped, counted each time */
    for (int k = 0; k < 2; k++)
        pair(c, CY, 5001, 60001, true, false);

    struct nat_result r;
    memset(&r, 0, sizeof(r));
    CHECK_EQ(nat_corr_finish(c, &r), 0);
    printf("mappings %zu, dropped %llu\n", r.n_map, (unsigned long long)r.dropped_records);
    CHECK_EQ(r.n_map, (size_t)fill + 1);
    CHECK_EQ(r.dropped_records, 3 + 1 + 2);
    const struct nat_mapping *mx = find(&r, CX);
    CHECK(mx != NULL);
    if (mx) {
        CHECK_EQ(mx->pairs, 3);
        CHECK_EQ(mx->outside.port, 60000);
        CHECK_EQ(mx->inside.port, 5000);
    }
    CHECK(find(&r, CY) == NULL);
    nat_result_free(&r);
    nat_corr_free(c);
    return t_done();
}
