/* test_sampler.c - the clock sampler (nat/offset.c) pairs copies of one signature in time order
 * whatever order the capture holds them in: the samples are sorted by signature, then time. 24
 * unique datagrams cross the router 1 ms later on the outside; three copies of one more datagram
 * are seen inside out of order (at 100 ms, 50 s, 200 ms) and outside in order. Paired in time
 * order, the copies agree with the clock (27 inliers); paired in capture order, two of them would
 * be 50 s off and left out. Packets are raw IPv4 UDP datagrams decoded by the real decoder. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "t.h"
#include "t_ip4.h"
#include "vpnscope/decode.h"
#include "vpnscope/nat.h"
#include "vpnscope/pkt.h"
#include "vpnscope/session.h"

static const uint8_t CLIENT[4] = {192, 168, 1, 5}, NAT[4] = {203, 0, 113, 1},
                     SERVER[4] = {198, 51, 100, 7};

/* Datagram `id` (its 32-byte payload) of side at ts (µs) into the sampler. */
static void add(struct nat_sampler *s, uint8_t side, uint32_t id, uint64_t ts)
{
    uint8_t pl[32];
    for (unsigned i = 0; i < sizeof(pl); i++)
        pl[i] = (uint8_t)(id * 31 + i);
    uint8_t b[64];
    bool in = side == SIDE_INSIDE;
    uint32_t len = t_ip4_udp(b, in ? CLIENT : NAT, in ? 40000 : 50000, SERVER, 443, (uint16_t)id,
                             in ? 64 : 63, pl, sizeof(pl));
    struct pkt p;
    memset(&p, 0, sizeof(p));
    p.dlt = T_DLT_IPV4;
    p.caplen = p.wirelen = len;
    p.ts_us = ts;
    decode_packet(&p, b, len);
    nat_sampler_add(s, side, &p);
}

int main(void)
{
    struct nat_sampler *s = nat_sampler_new();
    CHECK(s != NULL);
    if (!s)
        return t_done();
    const uint64_t T = 1000000000;
    for (uint32_t k = 0; k < 24; k++) {
        add(s, SIDE_INSIDE, k, T + k * 1000000);
        add(s, SIDE_OUTSIDE, k, T + k * 1000000 + 1000);
    }
    const uint64_t dup[3] = {100000, 50000000, 200000}; /* inside, out of order */
    for (int k = 0; k < 3; k++)
        add(s, SIDE_INSIDE, 99, T + dup[k]);
    const uint64_t dup_out[3] = {101000, 201000, 50001000};
    for (int k = 0; k < 3; k++)
        add(s, SIDE_OUTSIDE, 99, T + dup_out[k]);
    struct nat_clock clk;
    long votes = 0;
    size_t np = nat_sampler_solve(s, false, &clk, &votes);
    printf("pairs %zu, evidence %llu, offset %.6f s, drift %.3f ppm\n", np,
           (unsigned long long)clk.evidence_packets, clk.seconds, clk.drift_ppm);
    CHECK_EQ(np, 27);
    CHECK(clk.valid);
    CHECK_EQ(clk.evidence_packets, 27);
    CHECK(clk.seconds > 0.000999 && clk.seconds < 0.001001);
    nat_sampler_free(s);
    return t_done();
}
