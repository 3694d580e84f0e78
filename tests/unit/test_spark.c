/* test_spark.c - the activity sparkline of the session model (struct spark): packets counted
 * each way, the bucket width doubling over a saved capture without losing a packet (origin a
 * multiple of the width, idle gaps left empty), counts saturating, a live window sliding with a
 * fixed width, and packets out of time order kept in the first bucket. */
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

/* One UDP packet a:1000 -> b:2000 (fwd) or back, at ts; returns the flow. */
static const struct flow *
udp(struct session_model *m, uint64_t ts, bool fwd)
{
    static uint64_t frame;
    struct ip_addr a = A4(192, 168, 1, 11), b = A4(203, 0, 113, 10);
    struct pkt p;
    memset(&p, 0, sizeof(p));
    p.ts_us = ts;
    p.frame = ++frame;
    p.ipver = 4;
    p.src = fwd ? a : b;
    p.dst = fwd ? b : a;
    p.l4proto = 17;
    p.has_ports = true;
    p.sport = fwd ? 1000 : 2000;
    p.dport = fwd ? 2000 : 1000;
    p.ip_len = 100;
    p.status = PKT_DECODED;
    int dir;
    struct flow *f = session_flow(m, &p, &dir);
    session_update(m, &p, f, dir);
    return f;
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
    /* a saved capture: 10 s of traffic both ways, 60 s idle, 5 s more */
    struct session_model m;
    CHECK_EQ(session_model_init(&m, SIDE_SINGLE), 0);
    uint64_t t0 = 1700000000ull * S + 300000;
    const struct flow *f = NULL;
    for (int i = 0; i < 10; i++) {
        f = udp(&m, t0 + (uint64_t)i * S, true);
        f = udp(&m, t0 + (uint64_t)i * S + 1000, false);
    }
    CHECK(f != NULL);
    if (f) {
        CHECK_EQ(f->act.spark.width_us, SPARK_WIDTH0_US);
        CHECK_EQ(f->act.spark.origin_us, t0 - 300000); /* a multiple of the width */
    }
    for (int i = 0; i < 5; i++)
        f = udp(&m, t0 + 70 * S + (uint64_t)i * S, i % 2 == 0);
    if (f) {
        const struct spark *s = &f->act.spark;
        CHECK_EQ(total(s, 0), 13);
        CHECK_EQ(total(s, 1), 12);
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
        f = udp(&m, t0 + (uint64_t)i * S, true);
    if (f) {
        CHECK_EQ(total(&f->act.spark, 0), 3600);
        CHECK_EQ(f->act.spark.width_us, 128 * S); /* 32 x 128 s >= 3600 s > 32 x 64 s */
        CHECK_EQ(f->act.spark.origin_us % f->act.spark.width_us, 0);
    }
    /* out of time order: the first bucket */
    f = udp(&m, t0 - 3600 * S, true);
    if (f) {
        CHECK_EQ(total(&f->act.spark, 0), 3601);
        CHECK(f->act.spark.n[0][0] > 0);
    }
    session_model_free(&m);

    /* counts saturate instead of wrapping */
    CHECK_EQ(session_model_init(&m, SIDE_SINGLE), 0);
    for (int i = 0; i < 70000; i++)
        f = udp(&m, t0 + (uint64_t)i, true);
    if (f)
        CHECK_EQ(f->act.spark.n[0][0], UINT16_MAX);
    session_model_free(&m);

    /* live: fixed 4 s buckets, the window follows the newest packet */
    CHECK_EQ(session_model_init(&m, SIDE_SINGLE), 0);
    session_spark_live(&m, SPARK_LIVE_WIDTH_US);
    for (int i = 0; i < 300; i++)
        f = udp(&m, t0 + (uint64_t)i * S, i % 3 != 1);
    if (f) {
        const struct spark *s = &f->act.spark;
        uint64_t last = t0 + 299 * S;
        CHECK_EQ(s->width_us, SPARK_LIVE_WIDTH_US);
        CHECK_EQ(s->origin_us % s->width_us, 0);
        CHECK(last >= s->origin_us + (SPARK_BUCKETS - 1) * s->width_us); /* the last bucket */
        CHECK(last < s->origin_us + SPARK_BUCKETS * s->width_us);
        uint64_t want[2] = {0, 0};
        for (int i = 0; i < 300; i++)
            if (t0 + (uint64_t)i * S >= s->origin_us)
                want[i % 3 != 1 ? 0 : 1]++;
        CHECK_EQ(total(s, 0), want[0]);
        CHECK_EQ(total(s, 1), want[1]);
        CHECK(want[0] + want[1] < 300); /* older packets left the window */
    }
    /* a silence longer than the window empties it */
    f = udp(&m, t0 + 1000 * S, true);
    if (f) {
        CHECK_EQ(total(&f->act.spark, 0) + total(&f->act.spark, 1), 1);
        CHECK_EQ(f->act.spark.n[0][SPARK_BUCKETS - 1], 1);
    }
    session_model_free(&m);
    return t_done();
}
