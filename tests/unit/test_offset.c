/* test_offset.c - clock offset/drift estimator (nat/offset.c) on synthetic packet pairs. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include "t.h"
#include "vpnscope/nat.h"

/* Deterministic PRNG (xorshift64*). */
static uint64_t rng = 0x9e3779b97f4a7c15ull;
static uint64_t rnd(void)
{
    rng ^= rng >> 12;
    rng ^= rng << 25;
    rng ^= rng >> 27;
    return rng * 0x2545f4914f6cdd1dull;
}
static double urand(void) /* [0,1) */
{
    return (double)(rnd() >> 11) / 9007199254740992.0;
}

#define T0 1700000000000000ll /* inside clock start, µs */

/*
 * n pairs over `span_s` seconds: t_out = t_in + off + drift*(t_in - T0) +/- latency (up to
 * 300 µs, sign by direction), plus `outliers` fraction of wrong pairs anywhere within +/-5 s.
 * Checks the clock model maps every true pair's outside time back within 1 ms.
 */
static void scenario(double off_s, double drift_ppm, double span_s, size_t n, double outliers)
{
    struct nat_tpair *p = malloc(n * sizeof(*p));
    struct nat_tpair *truth = malloc(n * sizeof(*truth));
    size_t nt = 0;
    for (size_t i = 0; i < n; i++) {
        int64_t tin = T0 + (int64_t)(urand() * span_s * 1e6);
        double lat = 20 + urand() * 280;
        if (rnd() & 1)
            lat = -lat; /* from the peer: outside first */
        double tout = (double)tin + off_s * 1e6 + drift_ppm * 1e-6 * (double)(tin - T0) + lat;
        p[i].t_in_us = tin;
        p[i].t_out_us = (int64_t)llround(tout);
        if (urand() < outliers) {
            p[i].t_out_us += (int64_t)((urand() - 0.5) * 10e6);
        } else {
            truth[nt++] = p[i];
        }
    }
    struct nat_clock clk;
    int rc = nat_offset_estimate(p, n, &clk);
    CHECK_EQ(rc, 0);
    CHECK(clk.valid);
    /* seconds at ref (= earliest t_in, close to T0) */
    double expect_at_ref = off_s + drift_ppm * 1e-6 * (double)((int64_t)clk.ref_us - T0) / 1e6;
    double err_off_ms = fabs(clk.seconds - expect_at_ref) * 1e3;
    double err_drift = fabs(clk.drift_ppm - drift_ppm);
    double worst_ms = 0;
    for (size_t i = 0; i < nt; i++) {
        /* the packet's true outside time without latency, back to the inside clock */
        double tout = (double)truth[i].t_in_us + off_s * 1e6 +
                      drift_ppm * 1e-6 * (double)(truth[i].t_in_us - T0);
        uint64_t back = nat_clock_to_inside(&clk, (uint64_t)llround(tout));
        double e = fabs((double)back - (double)truth[i].t_in_us) / 1e3;
        if (e > worst_ms)
            worst_ms = e;
    }
    printf("off %+.3f s drift %+.1f ppm span %.0f s n %zu outl %.0f%%: got %+.6f s %+.2f ppm "
           "(evidence %llu), offset err %.3f ms, drift err %.2f ppm, worst mapped err %.3f ms\n",
           off_s, drift_ppm, span_s, n, outliers * 100, clk.seconds, clk.drift_ppm,
           (unsigned long long)clk.evidence_packets, err_off_ms, err_drift, worst_ms);
    CHECK(err_off_ms < 1.0);
    CHECK(worst_ms < 1.0);
    if (span_s >= 60)
        CHECK(err_drift < 5.0);
    CHECK(clk.evidence_packets >= (uint64_t)(nt * 9 / 10));
    free(p);
    free(truth);
}

int main(void)
{
    /* the clock cases: +/-60 s, 100 ppm drift, outliers */
    scenario(60.0, 0, 600, 5000, 0);
    scenario(-60.0, 0, 600, 5000, 0);
    scenario(60.0, 100, 3600, 20000, 0);
    scenario(-60.0, -100, 3600, 20000, 0);
    scenario(-60.0, 100, 3600, 20000, 0.10);
    scenario(0.25, 100, 7200, 50000, 0.30);
    scenario(12.5, -37, 120, 400, 0.05);
    /* short captures: no drift fit, offset still within 1 ms */
    scenario(60.0, 0, 5, 50, 0);
    scenario(-3.2, 0, 0.5, 6, 0);

    /* no pair; one pair is enough for an offset */
    struct nat_tpair one = {T0, T0 + 60000123};
    struct nat_clock clk;
    CHECK_EQ(nat_offset_estimate(&one, 0, &clk), -1);
    CHECK(!clk.valid);
    CHECK_EQ(nat_offset_estimate(&one, 1, &clk), 0);
    CHECK(clk.valid && fabs(clk.seconds - 60.000123) < 1e-9 && clk.drift_ppm == 0);
    clk.valid = false;
    /* identity when invalid */
    CHECK_EQ(nat_clock_to_inside(&clk, 12345), 12345);
    /* exact two pairs */
    struct nat_tpair two[2] = {{T0, T0 + 60000000}, {T0 + 1000, T0 + 60001000}};
    CHECK_EQ(nat_offset_estimate(two, 2, &clk), 0);
    CHECK(fabs(clk.seconds - 60.0) < 1e-6);
    CHECK_EQ(nat_clock_to_inside(&clk, (uint64_t)(T0 + 60000500)), T0 + 500);

    /* the pairs are ordered by inside time whatever their bytes: negative times first, times
     * that differ only in high bytes, equal inside times by outside time; ref = the earliest */
    struct nat_tpair mix[] = {
        {T0 + (1ll << 40), T0 + (1ll << 40) + 7000}, {-5000, 2000},   {T0, T0 + 7000},
        {-(1ll << 41), -(1ll << 41) + 7000},         {T0, T0 + 6999}, {3, 7003},
        {T0 + (1ll << 33), T0 + (1ll << 33) + 7000}, {-5000, 2001},
    };
    size_t nmix = sizeof(mix) / sizeof(mix[0]);
    CHECK_EQ(nat_offset_estimate(mix, nmix, &clk), 0);
    CHECK_EQ((int64_t)clk.ref_us, -(1ll << 41));
    for (size_t i = 1; i < nmix; i++)
        CHECK(mix[i - 1].t_in_us < mix[i].t_in_us ||
              (mix[i - 1].t_in_us == mix[i].t_in_us && mix[i - 1].t_out_us <= mix[i].t_out_us));
    CHECK(fabs(clk.seconds - 0.007) < 1e-6); /* the median of the differences: 7000 µs */
    return t_done();
}
