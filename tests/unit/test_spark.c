/* test_spark.c - the activity sparkline of the session model (struct spark) on ESP SAs: the
 * bucket width doubling over a saved capture without losing a packet (origin a multiple of the
 * width, idle gaps left empty), counts saturating, a live window sliding with a fixed width, and
 * packets out of time order kept in the first bucket. (Both directions of one record:
 * test_tunnel_session.c, WireGuard.) */
#include <string.h>

#include "t.h"
#include "vpnscope/decode.h"
#include "vpnscope/session.h"
#include "vpnscope/table.h"

#define S 1000000ull

static struct ip_addr A4(int a, int b, int c, int d) {
    struct ip_addr x;
    memset(&x, 0, sizeof(x));
    x.v = 4;
    x.a[0] = (uint8_t)a, x.a[1] = (uint8_t)b, x.a[2] = (uint8_t)c, x.a[3] = (uint8_t)d;
    return x;
}

/* One raw ESP packet of SPI spi (its direction: a -> b, or back for the second SPI) at ts;
 * returns its SA. */
static const struct ipsec_sa *
esp(struct session_model *m, uint64_t ts, uint32_t spi)
{
    static uint64_t frame;
    static uint32_t seq;
    struct ip_addr a = A4(192, 168, 1, 11), b = A4(203, 0, 113, 10);
    struct pkt p;
    memset(&p, 0, sizeof(p));
    p.ts_us = ts;
    p.frame = ++frame;
    p.ipver = 4;
    p.src = spi & 1 ? a : b;
    p.dst = spi & 1 ? b : a;
    p.l4proto = 50;
    p.ip_len = 100;
    p.status = PKT_DECODED;
    p.vpn = VPN_ESP;
    p.esp.spi = spi;
    p.esp.seq = ++seq;
    int dir;
    struct flow *f = session_flow(m, &p, &dir);
    session_update(m, &p, f, dir);
    for (uint32_t i = 0; i < table_slots(m->ipsec); i++) {
        const struct ipsec_sa *sa = table_slot(m->ipsec, i, NULL);
        if (sa && sa->k.spi == spi)
            return sa;
    }
    return NULL;
}

static uint64_t total(const struct spark *s, int d)
{
    uint64_t n = 0;
    for (unsigned i = 0; i < SPARK_BUCKETS; i++)
        n += s->n[d][i];
    return n;
}

/* Whether every bucket lying wholly inside [a, b) is empty. */
static bool empty_between(const struct spark *s, uint64_t a, uint64_t b)
{
    for (unsigned i = 0; i < SPARK_BUCKETS; i++) {
        uint64_t b0 = s->origin_us + i * s->width_us, b1 = b0 + s->width_us;
        if (b0 >= a && b1 <= b && (s->n[0][i] || s->n[1][i]))
            return false;
    }
    return true;
}

int main(void)
{
    /* a saved capture: 10 s of traffic, 60 s idle, 5 s more (SPI 1 one way, 2 the other) */
    struct session_model m;
    CHECK_EQ(session_model_init(&m, SIDE_SINGLE), 0);
    uint64_t t0 = 1700000000ull * S + 300000;
    const struct ipsec_sa *sa = NULL;
    for (int i = 0; i < 10; i++) {
        sa = esp(&m, t0 + (uint64_t)i * S, 1);
        esp(&m, t0 + (uint64_t)i * S + 1000, 2);
    }
    CHECK(sa != NULL && sa->spark != NULL);
    if (sa && sa->spark) {
        CHECK_EQ(sa->spark->width_us, SPARK_WIDTH0_US);
        CHECK_EQ(sa->spark->origin_us, t0 - 300000); /* a multiple of the width */
    }
    for (int i = 0; i < 5; i++)
        sa = esp(&m, t0 + 70 * S + (uint64_t)i * S, 1);
    if (sa) {
        const struct spark *s = sa->spark;
        CHECK_EQ(total(s, 0), 15);
        CHECK_EQ(total(s, 1), 0);     /* an SA is one direction */
        CHECK_EQ(s->width_us, 4 * S); /* 75 s: 32 x 1 s and 32 x 2 s are too short */
        CHECK_EQ(s->origin_us % s->width_us, 0);
        CHECK(s->origin_us <= t0);
        CHECK(t0 + 74 * S < s->origin_us + SPARK_BUCKETS * s->width_us);
        CHECK(empty_between(s, t0 + 10 * S, t0 + 70 * S)); /* the idle gap */
        CHECK(!empty_between(s, t0, t0 + 10 * S));
    }
    session_model_free(&m);

    /* an hour: the width keeps doubling, no packet is lost */
    CHECK_EQ(session_model_init(&m, SIDE_SINGLE), 0);
    for (int i = 0; i < 3600; i++)
        sa = esp(&m, t0 + (uint64_t)i * S, 1);
    if (sa) {
        CHECK_EQ(total(sa->spark, 0), 3600);
        CHECK_EQ(sa->spark->width_us, 128 * S); /* 32 x 128 s >= 3600 s > 32 x 64 s */
        CHECK_EQ(sa->spark->origin_us % sa->spark->width_us, 0);
    }
    /* out of time order: the first bucket */
    sa = esp(&m, t0 - 3600 * S, 1);
    if (sa) {
        CHECK_EQ(total(sa->spark, 0), 3601);
        CHECK(sa->spark->n[0][0] > 0);
    }
    session_model_free(&m);

    /* counts saturate instead of wrapping */
    CHECK_EQ(session_model_init(&m, SIDE_SINGLE), 0);
    for (int i = 0; i < 70000; i++)
        sa = esp(&m, t0 + (uint64_t)i, 1);
    if (sa)
        CHECK_EQ(sa->spark->n[0][0], UINT16_MAX);
    session_model_free(&m);

    /* live: fixed 4 s buckets, the window follows the newest packet */
    CHECK_EQ(session_model_init(&m, SIDE_SINGLE), 0);
    session_spark_live(&m, SPARK_LIVE_WIDTH_US);
    for (int i = 0; i < 300; i++)
        sa = esp(&m, t0 + (uint64_t)i * S, 1);
    if (sa) {
        const struct spark *s = sa->spark;
        uint64_t last = t0 + 299 * S;
        CHECK_EQ(s->width_us, SPARK_LIVE_WIDTH_US);
        CHECK_EQ(s->origin_us % s->width_us, 0);
        CHECK(last >= s->origin_us + (SPARK_BUCKETS - 1) * s->width_us); /* the last bucket */
        CHECK(last < s->origin_us + SPARK_BUCKETS * s->width_us);
        uint64_t want = 0;
        for (int i = 0; i < 300; i++)
            if (t0 + (uint64_t)i * S >= s->origin_us)
                want++;
        CHECK_EQ(total(s, 0), want);
        CHECK(want < 300); /* older packets left the window */
    }
    /* a silence longer than the window empties it */
    sa = esp(&m, t0 + 1000 * S, 1);
    if (sa) {
        CHECK_EQ(total(sa->spark, 0), 1);
        CHECK_EQ(sa->spark->n[0][SPARK_BUCKETS - 1], 1);
    }
    session_model_free(&m);

    /* sparklines off (every mode but the dashboard): no record gets one, the rest is counted */
    CHECK_EQ(session_model_init(&m, SIDE_SINGLE), 0);
    session_spark_off(&m);
    for (int i = 0; i < 10; i++)
        sa = esp(&m, t0 + (uint64_t)i * S, 1);
    CHECK(sa != NULL);
    if (sa) {
        CHECK(sa->spark == NULL);
        CHECK_EQ(sa->packets, 10);
    }
    session_model_free(&m);
    return t_done();
}
