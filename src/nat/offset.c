/* offset.c - clock offset and drift between an inside and an outside capture (nat.h). */
#include "vpnscope/nat.h"

#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "vpnscope/config.h"
#include "vpnscope/session.h"
#include "vpnscope/table.h"

/*
 * Model: t_out = t_in + seconds + drift * (t_in - ref), with ref the earliest inside time of the
 * evidence. Router latency puts packets to the peer slightly later outside and packets from the
 * peer slightly earlier, so the differences scatter by the latency around the clock offset; a
 * few pairs are wrong (identical payloads that are not the same packet). The fit is robust:
 *   1. sort the pairs by inside time and cut them into up to 32 bins of equal count;
 *   2. slope: Theil-Sen (median of pairwise slopes) over the bins' median points, when the
 *      evidence spans at least 10 s; intercept: median of the residuals;
 *   3. three rounds of least squares over the inliers (|residual| < tolerance, the tolerance
 *      shrinking from max(5 ms, 5 MAD) to max(0.5 ms, 4 sigma)).
 * Limitations: a drift over a span shorter than 10 s is not fitted (set to 0); a clock step
 * inside a capture (NTP slew) is fitted as drift.
 */

#define MIN_DRIFT_SPAN_US 10e6
#define MAX_BINS 32
#define DUP_MAX 8 /* copies of one signature paired in time order */
#define MIN_PAIRS 1

static int cmp_tpair(const void *a, const void *b)
{
    const struct nat_tpair *x = a;
    const struct nat_tpair *y = b;
    if (x->t_in_us != y->t_in_us)
        return x->t_in_us < y->t_in_us ? -1 : 1;
    return (x->t_out_us > y->t_out_us) - (x->t_out_us < y->t_out_us);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a;
    double y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Stable LSD radix sort of the n records of `size` bytes at v by the unsigned 64-bit key at
 * byte offset `off` (bias: XORed into the key, 1 << 63 orders signed keys), a byte a pass;
 * passes where every record has the same byte are skipped. The order of records with equal
 * keys is kept, so sorting by a minor key then by a major one orders by both, as a stable
 * comparison sort does (glibc's qsort: the order every golden file was made with). tmp holds n
 * records. O(8 n) whatever the keys: no input makes it quadratic. */
static void radix_sort(void *v, void *tmp, size_t n, size_t size, size_t off, uint64_t bias)
{
    uint8_t *a = v;
    uint8_t *b = tmp;
    for (unsigned shift = 0; shift < 64; shift += 8) {
        size_t cnt[256];
        memset(cnt, 0, sizeof(cnt));
        for (size_t i = 0; i < n; i++) {
            uint64_t k;
            memcpy(&k, a + i * size + off, sizeof(k));
            cnt[((k ^ bias) >> shift) & 0xff]++;
        }
        uint64_t k0;
        memcpy(&k0, a + off, sizeof(k0));
        if (cnt[((k0 ^ bias) >> shift) & 0xff] == n)
            continue; /* one byte value: the pass would not move anything */
        size_t pos = 0;
        for (unsigned d = 0; d < 256; d++) {
            size_t c = cnt[d];
            cnt[d] = pos;
            pos += c;
        }
        for (size_t i = 0; i < n; i++) {
            uint64_t k;
            memcpy(&k, a + i * size + off, sizeof(k));
            memcpy(b + cnt[((k ^ bias) >> shift) & 0xff]++ * size, a + i * size, size);
        }
        uint8_t *t = a;
        a = b;
        b = t;
    }
    if (a != (uint8_t *)v)
        memcpy(v, a, n * size);
}

/* Sorts by the major key at offset `major`, then the minor key at `minor` (both 64-bit, biased
 * as radix_sort); equal records keep their order. qsort with cmp when no scratch memory. */
static void sort2(void *v, size_t n, size_t size, size_t major, size_t minor, uint64_t bias,
                  int (*cmp)(const void *, const void *))
{
    if (n < 2)
        return;
    void *tmp = malloc(n * size);
    if (!tmp) {
        qsort(v, n, size, cmp);
        return;
    }
    radix_sort(v, tmp, n, size, minor, bias);
    radix_sort(v, tmp, n, size, major, bias);
    free(tmp);
}

/* The k-th smallest of v[0..n) (Hoare quickselect, median-of-three pivot; reorders v). */
static double select_k(double *v, size_t n, size_t k)
{
    size_t lo = 0;
    size_t hi = n - 1;
    while (hi > lo + 16) {
        size_t mid = lo + (hi - lo) / 2;
        double a = v[lo];
        double b = v[mid];
        double c = v[hi];
        double piv = a < b ? (b < c ? b : (a < c ? c : a)) : (a < c ? a : (b < c ? c : b));
        size_t i = lo;
        size_t j = hi;
        while (i <= j) {
            while (v[i] < piv)
                i++;
            while (v[j] > piv)
                j--;
            if (i <= j) {
                double t = v[i];
                v[i] = v[j];
                v[j] = t;
                i++;
                if (j == 0)
                    break;
                j--;
            }
        }
        if (k <= j)
            hi = j;
        else if (k >= i)
            lo = i;
        else
            return v[k];
    }
    qsort(v + lo, hi - lo + 1, sizeof(double), cmp_double);
    return v[k];
}

/* Median of v[0..n) (reorders v). */
static double median(double *v, size_t n)
{
    if (n == 0)
        return 0;
    double hi = select_k(v, n, n / 2);
    if (n % 2)
        return hi;
    double lo = v[0];
    for (size_t i = 1; i < n / 2; i++)
        if (v[i] > lo)
            lo = v[i];
    return (lo + hi) / 2;
}

/* Step 1-2: a Theil-Sen slope over the medians of up to MAX_BINS bins of equal count; 0 when the
 * evidence is too short or too small for a drift. tmp has room for n values. */
static double binned_slope(const double *x, const double *y, double *tmp, size_t n, double span)
{
    double slope = 0;
    size_t nb = n / 8;
    if (nb > MAX_BINS)
        nb = MAX_BINS;
    if (nb >= 3 && span >= MIN_DRIFT_SPAN_US) {
        double bx[MAX_BINS];
        double by[MAX_BINS];
        for (size_t b = 0; b < nb; b++) {
            size_t lo = b * n / nb;
            size_t hi = (b + 1) * n / nb;
            memcpy(tmp, x + lo, (hi - lo) * sizeof(double));
            bx[b] = median(tmp, hi - lo);
            memcpy(tmp, y + lo, (hi - lo) * sizeof(double));
            by[b] = median(tmp, hi - lo);
        }
        double slopes[MAX_BINS * (MAX_BINS - 1) / 2];
        size_t ns = 0;
        for (size_t i = 0; i < nb; i++)
            for (size_t j = i + 1; j < nb; j++)
                if (bx[j] - bx[i] > 0)
                    slopes[ns++] = (by[j] - by[i]) / (bx[j] - bx[i]);
        slope = median(slopes, ns);
    }
    return slope;
}

/* The line being fitted and what the last least-squares round left for the drift test. */
struct fit {
    double slope, icpt;
    size_t inl;
    double sxx, ss, my;
};

/* Step 3, one round: least squares over the points within tol of the current line; updates the
 * fit and the tolerance. False when too few points are left (the fit is unchanged). */
static bool ls_round(const double *x, const double *y, size_t n, double span, struct fit *f,
                     double *tol)
{
    double sx = 0;
    double sy = 0;
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        double r = y[i] - f->slope * x[i] - f->icpt;
        if (fabs(r) < *tol) {
            sx += x[i];
            sy += y[i];
            m++;
        }
    }
    if (m < MIN_PAIRS)
        return false;
    double mx = sx / (double)m;
    double my = sy / (double)m;
    double sxx = 0;
    double sxy = 0;
    for (size_t i = 0; i < n; i++) {
        double r = y[i] - f->slope * x[i] - f->icpt;
        if (fabs(r) < *tol) {
            sxx += (x[i] - mx) * (x[i] - mx);
            sxy += (x[i] - mx) * (y[i] - my);
        }
    }
    double nslope = f->slope;
    if (span >= MIN_DRIFT_SPAN_US && sxx > 0 && m >= 3)
        nslope = sxy / sxx;
    double nicpt = my - nslope * mx;
    double ss = 0;
    for (size_t i = 0; i < n; i++) {
        double r = y[i] - f->slope * x[i] - f->icpt;
        if (fabs(r) < *tol) {
            double r2 = y[i] - nslope * x[i] - nicpt;
            ss += r2 * r2;
        }
    }
    f->slope = nslope;
    f->icpt = nicpt;
    f->inl = m;
    f->sxx = sxx;
    f->ss = ss;
    f->my = my;
    double sigma = sqrt(ss / (double)m);
    *tol = 4 * sigma;
    if (*tol < 500)
        *tol = 500;
    return true;
}

/* The robust fit of y over x (steps 2-3; x, y and tmp hold n values). */
static void fit_line(const double *x, const double *y, double *tmp, size_t n, struct fit *f)
{
    double span = x[n - 1] - x[0];
    f->slope = binned_slope(x, y, tmp, n, span);
    for (size_t i = 0; i < n; i++)
        tmp[i] = y[i] - f->slope * x[i];
    f->icpt = median(tmp, n);
    for (size_t i = 0; i < n; i++)
        tmp[i] = fabs(y[i] - f->slope * x[i] - f->icpt);
    double mad = median(tmp, n);
    double tol = 5 * 1.4826 * mad;
    if (tol < 5000)
        tol = 5000;
    for (int round = 0; round < 3; round++)
        if (!ls_round(x, y, n, span, f, &tol))
            break;
}

int nat_offset_estimate(struct nat_tpair *pairs, size_t n, struct nat_clock *clk)
{
    memset(clk, 0, sizeof(*clk));
    if (n < MIN_PAIRS)
        return -1;
    sort2(pairs, n, sizeof(*pairs), offsetof(struct nat_tpair, t_in_us),
          offsetof(struct nat_tpair, t_out_us), 1ull << 63, cmp_tpair);
    int64_t ref = pairs[0].t_in_us;
    double *x = malloc(n * sizeof(double));
    double *y = malloc(n * sizeof(double));
    double *tmp = malloc(n * sizeof(double));
    if (!x || !y || !tmp) {
        free(x);
        free(y);
        free(tmp);
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        x[i] = (double)(pairs[i].t_in_us - ref);
        y[i] = (double)(pairs[i].t_out_us - pairs[i].t_in_us);
    }
    struct fit f;
    memset(&f, 0, sizeof(f));
    fit_line(x, y, tmp, n, &f);
    free(x);
    free(y);
    free(tmp);
    if (f.inl < MIN_PAIRS)
        return -1;
    double slope = f.slope;
    double icpt = f.icpt;
    /* a drift within three standard errors of 0 is latency noise, not a clock rate */
    if (slope != 0 && f.inl > 2 && f.sxx > 0) {
        double se = sqrt(f.ss / (double)(f.inl - 2)) / sqrt(f.sxx);
        if (fabs(slope) < 3 * se) {
            slope = 0;
            icpt = f.my;
        }
    }
    clk->valid = true;
    clk->seconds = icpt / 1e6;
    clk->drift_ppm = slope * 1e6;
    clk->evidence_packets = f.inl;
    clk->ref_us = (uint64_t)ref;
    return 0;
}

uint64_t nat_clock_to_inside(const struct nat_clock *clk, uint64_t t_out_us)
{
    if (!clk || !clk->valid)
        return t_out_us;
    /* t_out = t_in + s + d (t_in - ref)  =>  t_in = ref + (t_out - s - ref) / (1 + d) */
    double d = clk->drift_ppm / 1e6;
    double rel =
        ((double)((int64_t)t_out_us - (int64_t)clk->ref_us) - clk->seconds * 1e6) / (1 + d);
    double t = (double)clk->ref_us + rel;
    if (t < 0)
        return 0;
    return (uint64_t)llround(t);
}

/* ---- the hash-consistent sampler ------------------------------------------------------- */

#define SF_SRC_PRIV 0x01
#define SF_DST_PRIV 0x02

struct sample {
    uint64_t sig;
    uint64_t ts;
    uint32_t srch, dsth; /* hashes of (address, port) */
    uint8_t ttl;
    uint8_t flags;
    uint8_t ipver;
    uint8_t pad;
};

struct side_sample {
    struct sample *v;
    size_t n, cap;
    unsigned level; /* keep signatures whose mixed hash has `level` leading zero bits */
};

struct nat_sampler {
    struct side_sample s[2];
};

static inline uint64_t mix64(uint64_t h)
{
    h ^= h >> 31;
    h *= 0x7fb5d329728ea185ull;
    h ^= h >> 27;
    h *= 0x81dadef4bc2dd44dull;
    h ^= h >> 33;
    return h;
}

static inline bool keep(uint64_t sig, unsigned level)
{
    return level == 0 || (mix64(sig) >> (64 - level)) == 0;
}

struct nat_sampler *nat_sampler_new(void)
{
    struct nat_sampler *s = calloc(1, sizeof(*s));
    if (!s)
        return NULL;
    for (int i = 0; i < 2; i++) {
        s->s[i].cap = NAT_OFFSET_SAMPLE;
        s->s[i].v = malloc(s->s[i].cap * sizeof(struct sample));
        if (!s->s[i].v) {
            nat_sampler_free(s);
            return NULL;
        }
    }
    return s;
}

void nat_sampler_free(struct nat_sampler *s)
{
    if (!s)
        return;
    free(s->s[0].v);
    free(s->s[1].v);
    free(s);
}

static void compact(struct side_sample *ss)
{
    size_t j = 0;
    for (size_t i = 0; i < ss->n; i++)
        if (keep(ss->v[i].sig, ss->level))
            ss->v[j++] = ss->v[i];
    ss->n = j;
}

static uint32_t ep_hash(const struct ip_addr *a, uint16_t port)
{
    uint8_t b[19];
    memcpy(b, a, sizeof(*a));
    b[17] = (uint8_t)(port >> 8);
    b[18] = (uint8_t)port;
    return (uint32_t)hash_bytes(b, sizeof(b));
}

void nat_sampler_add(struct nat_sampler *s, uint8_t side, const struct pkt *p)
{
    if (side != SIDE_INSIDE && side != SIDE_OUTSIDE)
        return;
    struct nat_sig sig;
    nat_pkt_sig(p, &sig);
    if (!sig.h || sig.weak)
        return;
    struct side_sample *ss = &s->s[side - 1];
    if (!keep(sig.h, ss->level))
        return;
    while (ss->n >= ss->cap && ss->level < 63) {
        ss->level++;
        compact(ss);
        if (!keep(sig.h, ss->level))
            return;
    }
    if (ss->n >= ss->cap)
        return;
    struct sample *e = &ss->v[ss->n++];
    e->sig = sig.h;
    e->ts = p->ts_us;
    uint16_t sp = p->has_ports ? p->sport : 0;
    uint16_t dp = p->has_ports ? p->dport : 0;
    e->srch = ep_hash(&p->src, sp);
    e->dsth = ep_hash(&p->dst, dp);
    e->ttl = p->ttl;
    e->ipver = p->ipver;
    e->flags = (uint8_t)((ip_addr_is_private(&p->src) ? SF_SRC_PRIV : 0) |
                         (ip_addr_is_private(&p->dst) ? SF_DST_PRIV : 0));
    e->pad = 0;
}

static int cmp_sample(const void *a, const void *b)
{
    const struct sample *x = a;
    const struct sample *y = b;
    if (x->sig != y->sig)
        return x->sig < y->sig ? -1 : 1;
    return (x->ts > y->ts) - (x->ts < y->ts);
}

#define SORT_BUCKET_BITS 16 /* samples are bucketed by the top bits of their signature */
#define SORT_INSERTION_MAX 32

/* Sorts v[0..n) as qsort with cmp_sample (by signature, then time; equal samples in their order,
 * as glibc's stable merge sort leaves them): the signatures are hashes, so a stable scatter by
 * their top 16 bits leaves buckets of one or two samples, each sorted in place (insertion sort;
 * a crowded bucket - signatures made to collide - by qsort, so no input makes it quadratic). */
static void sort_samples(struct sample *v, size_t n)
{
    if (n < 2)
        return;
    size_t nb = (size_t)1 << SORT_BUCKET_BITS;
    size_t *start = calloc(nb + 1, sizeof(*start));
    struct sample *t = malloc(n * sizeof(*t));
    if (!start || !t) {
        free(start);
        free(t);
        qsort(v, n, sizeof(*v), cmp_sample);
        return;
    }
    for (size_t i = 0; i < n; i++)
        start[(v[i].sig >> (64 - SORT_BUCKET_BITS)) + 1]++;
    for (size_t b = 1; b <= nb; b++)
        start[b] += start[b - 1];
    for (size_t i = 0; i < n; i++)
        t[start[v[i].sig >> (64 - SORT_BUCKET_BITS)]++] = v[i];
    /* start[b] is now the end of bucket b */
    size_t lo = 0;
    for (size_t b = 0; b < nb; b++) {
        size_t hi = start[b];
        if (hi - lo > SORT_INSERTION_MAX) {
            qsort(t + lo, hi - lo, sizeof(*t), cmp_sample);
        } else {
            for (size_t i = lo + 1; i < hi; i++) {
                struct sample x = t[i];
                size_t j = i;
                for (; j > lo && cmp_sample(&t[j - 1], &x) > 0; j--)
                    t[j] = t[j - 1];
                t[j] = x;
            }
        }
        lo = hi;
    }
    memcpy(v, t, n * sizeof(*v));
    free(start);
    free(t);
}

/*
 * Orientation vote of one pair (in, out) as given: in a correct orientation the address a NAT
 * rewrites belongs to the inside host: the source of packets going out (TTL lower outside), the
 * destination of packets coming in; and it is the private one. +1 says swapped, -1 right.
 */
static int orient_vote(const struct sample *in, const struct sample *out)
{
    bool sdiff = in->srch != out->srch;
    bool ddiff = in->dsth != out->dsth;
    if (sdiff == ddiff)
        return 0;
    int v = 0;
    if (in->ttl != out->ttl) {
        bool outward = in->ttl > out->ttl; /* crossed inside -> outside */
        v += (outward == sdiff) ? -1 : 1;
    }
    bool in_priv = sdiff ? (in->flags & SF_SRC_PRIV) : (in->flags & SF_DST_PRIV);
    bool out_priv = sdiff ? (out->flags & SF_SRC_PRIV) : (out->flags & SF_DST_PRIV);
    if (in_priv && !out_priv)
        v -= 1;
    else if (!in_priv && out_priv)
        v += 1;
    return v;
}

size_t nat_sampler_solve(struct nat_sampler *s, bool swap, struct nat_clock *clk, long *swap_votes)
{
    memset(clk, 0, sizeof(*clk));
    if (swap_votes)
        *swap_votes = 0;
    struct side_sample *a = &s->s[swap ? 1 : 0];
    struct side_sample *b = &s->s[swap ? 0 : 1];
    unsigned level = a->level > b->level ? a->level : b->level;
    a->level = b->level = level;
    compact(a);
    compact(b);
    sort_samples(a->v, a->n);
    sort_samples(b->v, b->n);
    size_t cap = a->n < b->n ? a->n : b->n;
    struct nat_tpair *pairs = malloc((cap ? cap : 1) * sizeof(*pairs));
    if (!pairs)
        return 0;
    size_t np = 0;
    long votes = 0;
    size_t i = 0;
    size_t j = 0;
    while (i < a->n && j < b->n) {
        uint64_t sa = a->v[i].sig;
        uint64_t sb = b->v[j].sig;
        if (sa < sb) {
            i++;
            continue;
        }
        if (sb < sa) {
            j++;
            continue;
        }
        size_t i2 = i;
        size_t j2 = j;
        while (i2 < a->n && a->v[i2].sig == sa)
            i2++;
        while (j2 < b->n && b->v[j2].sig == sa)
            j2++;
        /* unique on both sides; or as many copies on each (retransmissions of one message),
         * paired in time order */
        if (i2 - i == j2 - j && i2 - i <= DUP_MAX) {
            for (size_t k = 0; k < i2 - i; k++) {
                pairs[np].t_in_us = (int64_t)a->v[i + k].ts;
                pairs[np].t_out_us = (int64_t)b->v[j + k].ts;
                np++;
                votes += orient_vote(&a->v[i + k], &b->v[j + k]);
            }
        }
        i = i2;
        j = j2;
    }
    if (swap_votes)
        *swap_votes = votes;
    nat_offset_estimate(pairs, np, clk);
    free(pairs);
    return np;
}
