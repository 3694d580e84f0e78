/* clock.c - the first pass over two captures: bare decode, NAT-invariant signatures sampled per
 * capture (nat_sampler), the clock offset and drift between them, and which capture is really
 * inside (one swap vote). The coverage window of the correlator is each capture's first and last
 * packet time on the inside clock.
 * The pass reads a bounded prefix of each capture (CLOCK_PREFIX packets, quadrupled while a
 * capture is longer and the prefixes give no clock from CLOCK_MIN_PAIRS pairs), so the analysis
 * pass is the only full read of a long capture. A capture that fits in the prefix is read whole
 * here, and everything is measured over all of it. One that does not: the clock is the prefix's
 * (its drift extrapolated; the correlator's window absorbs the error), the capture's last time
 * reaches the correlator when its analysis pass ends (nat_corr_cover), its packet count is the
 * analysis pass's, and its clock steps are found by the analysis pass with the no-gap offsets of a
 * single capture (only steps within the prefix are measured against the other capture). */
#include "pipeline_int.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vpnscope/decode.h"
#include "vpnscope/proto.h"

#define CLOCK_PREFIX (1u << 17) /* packets per capture read by the first try of the clock pass */
#define CLOCK_MIN_PAIRS 256     /* clock pairs that end the pass before a capture ends */

struct counts {
    uint64_t n, first, last;
    bool cut;                        /* the prefix ended before the capture */
    bool quiet;                      /* no progress line (a second thread) */
    uint64_t bytes, total;           /* bytes read, bytes of the capture (the progress line) */
    char warn[VPNSCOPE_ERRBUF_SIZE]; /* the capture is cut off */
};

/* The first cut-off warning of the pass, inside first (as one thread reads them). */
static void keep_warn(struct pipeline *p, const struct counts cnt[2])
{
    for (int i = 0; i < 2 && !p->warn[0]; i++)
        if (cnt[i].warn[0])
            snprintf(p->warn, sizeof(p->warn), "%.*s", (int)sizeof(p->warn) - 1, cnt[i].warn);
}

const char *pieces_label(const char *const *paths, int n, char *buf, unsigned size)
{
    if (n <= 0 || !paths[0]) {
        snprintf(buf, size, "-");
        return buf;
    }
    if (n == 1)
        snprintf(buf, size, "%s", paths[0]);
    else
        snprintf(buf, size, "%s (+%d)", paths[0], n - 1);
    return buf;
}

static void track(struct counts *c, uint64_t ts)
{
    if (c->n == 0 || ts < c->first)
        c->first = ts;
    if (ts > c->last)
        c->last = ts;
    c->n++;
}

void bare_decode(struct pkt *p, const struct raw_pkt *r)
{
    p->ts_us = r->ts_us;
    p->frame = r->frame;
    p->caplen = r->caplen;
    p->wirelen = r->len;
    p->dlt = r->dlt;
    p->ifidx = r->ifidx;
    p->sll_pkttype = 0xffff;
    decode_packet(p, r->data, r->caplen);
    if (p->status == PKT_DECODED && !p->is_frag && (p->l4proto == IPP_UDP || p->l4proto == IPP_TCP))
        decode_app(p, HINT_NONE);
}

struct cap_src *open_side(const char *const *paths, int n, const char *bpf, char *errbuf,
                          unsigned errlen)
{
    struct cap_src *s = cap_open_files(paths, n, bpf, errbuf, errlen);
    if (!s)
        return NULL;
    if (!decode_dlt_supported(cap_dlt(s))) {
        snprintf(errbuf, errlen, "%s: unsupported link type %d", paths[0], cap_dlt(s));
        cap_close(s);
        return NULL;
    }
    return s;
}

/* One capture. 0 ok, -1 error. */
static int sample_side(struct pipeline *pl, const char *const *paths, int n, uint8_t side,
                       struct nat_sampler *smp, struct counts *cnt, struct clock_steps *cs,
                       uint64_t limit, char *errbuf, unsigned errlen)
{
    const char *bpf = pl->cfg->bpf;
    char *warn = cnt->warn;
    unsigned wlen = sizeof(cnt->warn);
    struct cap_src *s = open_side(paths, n, bpf, errbuf, errlen);
    if (!s)
        return -1;
    struct pkt *p = calloc(1, sizeof(*p));
    if (!p) {
        cap_close(s);
        snprintf(errbuf, errlen, "out of memory");
        return -1;
    }
    struct raw_pkt r;
    char eb[VPNSCOPE_ERRBUF_SIZE];
    int rc;
    const char *phase =
        side == SIDE_INSIDE ? "pass 1/2 (clock), inside:" : "pass 1/2 (clock), outside:";
    if (!cs->preset) {
        memset(cs, 0, sizeof(*cs));
        cs->two_captures = true; /* forward silences are candidates for the other capture */
    }
    while ((rc = clockstep_next(cs, s, &r, NULL, eb, sizeof(eb))) == 1) {
        if (limit && cnt->n >= limit) {
            cnt->cut = true;
            break;
        }
        if ((cnt->n & 4095) == 0 && !cnt->quiet)
            progress_show(&pl->prog, phase, cap_bytes_read(s), cap_total_bytes(s), cnt->n);
        track(cnt, r.ts_us);
        if (r.filtered)
            continue;
        bare_decode(p, &r);
        nat_sampler_add(smp, side, p);
    }
    if (rc == 3 && warn && !warn[0])
        snprintf(warn, wlen, "%s", eb);
    cnt->bytes = cap_bytes_read(s);
    cnt->total = cap_total_bytes(s);
    free(p);
    cap_close(s);
    if (rc < 0) {
        snprintf(errbuf, errlen, "%s", eb);
        return -1;
    }
    return 0;
}

/* Segment of a frame: how many steps precede it. */
static unsigned segment_of(const struct clock_steps *cs, uint64_t frame)
{
    unsigned k = 0;
    while (k < cs->n && cs->step[k].frame <= frame)
        k++;
    return k;
}

/* Adds one capture to the segment samplers: `seg` < 0 adds every packet (corrected) to all of them;
 * otherwise each packet, with its time as captured, to its segment's sampler. */
static int add_segments(const char *const *paths, int n, const char *bpf, uint8_t side,
                        struct nat_sampler **smp, unsigned nsmp, struct clock_steps *cs, bool all,
                        uint64_t limit, char *errbuf, unsigned errlen)
{
    struct cap_src *s = open_side(paths, n, bpf, errbuf, errlen);
    if (!s)
        return -1;
    struct pkt *p = calloc(1, sizeof(*p));
    if (!p) {
        cap_close(s);
        snprintf(errbuf, errlen, "out of memory");
        return -1;
    }
    struct raw_pkt r;
    char eb[VPNSCOPE_ERRBUF_SIZE];
    uint64_t raw;
    for (uint64_t nread = 0;
         (!limit || nread < limit) && clockstep_next(cs, s, &r, &raw, eb, sizeof(eb)) == 1;
         nread++) {
        if (r.filtered)
            continue;
        if (!all)
            r.ts_us = raw;
        bare_decode(p, &r);
        if (all) {
            for (unsigned k = 0; k < nsmp; k++)
                nat_sampler_add(smp[k], side, p);
        } else {
            nat_sampler_add(smp[segment_of(cs, r.frame)], side, p);
        }
    }
    free(p);
    cap_close(s);
    return 0;
}

#define REFINE_MAX_STEPS 4 /* more steps keep the no-gap offsets */

/* The offsets of the segments of capture `which` (0 inside, 1 outside) measured against the other
 * capture: each segment's own clock fit, relative to segment 0's. */
static int refine_steps(struct pipeline *p, const char *const *pin, int nin,
                        const char *const *pout, int nout, int which, uint64_t limit, char *err,
                        unsigned errlen)
{
    struct clock_steps *cs = &p->cs[which];
    if (cs->n > REFINE_MAX_STEPS)
        clockstep_fwd_settle(cs); /* too many to measure: the forward candidates go */
    if (cs->n == 0 || cs->n > REFINE_MAX_STEPS || cs->total != cs->n)
        return 0;
    struct nat_sampler *smp[REFINE_MAX_STEPS + 1];
    unsigned nsmp = cs->n + 1;
    int rc = 0;
    for (unsigned k = 0; k < nsmp; k++)
        if (!(smp[k] = nat_sampler_new()))
            rc = -1;
    if (rc == 0) {
        struct clock_steps *other = &p->cs[!which];
        const char *bpf = p->cfg->bpf;
        if (which == 0)
            rc = add_segments(pin, nin, bpf, SIDE_INSIDE, smp, nsmp, cs, false, limit, err,
                              errlen) ||
                 add_segments(pout, nout, bpf, SIDE_OUTSIDE, smp, nsmp, other, true, limit, err,
                              errlen);
        else
            rc = add_segments(pin, nin, bpf, SIDE_INSIDE, smp, nsmp, other, true, limit, err,
                              errlen) ||
                 add_segments(pout, nout, bpf, SIDE_OUTSIDE, smp, nsmp, cs, false, limit, err,
                              errlen);
        rc = rc ? -1 : 0;
    }
    struct nat_clock c0 = {0};
    long votes;
    if (rc == 0)
        nat_sampler_solve(smp[0], false, &c0, &votes);
    for (unsigned k = 1; rc == 0 && c0.valid && k < nsmp; k++) {
        struct nat_clock ck = {0};
        nat_sampler_solve(smp[k], false, &ck, &votes);
        if (!ck.valid)
            continue;
        /* seconds = outside - inside: an inside segment reads (ck - c0) s behind segment 0 */
        double d = (ck.seconds - c0.seconds) * 1e6;
        cs->step[k - 1].offset_us = (int64_t)(which == 0 ? d : -d);
        cs->step[k - 1].refined = true;
    }
    cs->offset_us = cs->step[cs->n - 1].offset_us;
    for (unsigned k = 0; k < nsmp; k++)
        nat_sampler_free(smp[k]);
    if (rc != 0 && !err[0])
        snprintf(err, errlen, "out of memory");
    return rc;
}

/* A clock stepped: each segment measured against the other capture, then the clock fitted again
 * over the corrected times (cnt and clk are replaced). 0, or -1 with err. */
static int measure_steps(struct pipeline *p, const char *const *pin, int nin,
                         const char *const *pout, int nout, struct counts *cnt,
                         struct nat_clock *clk, uint64_t limit, char *err, unsigned errlen)
{
    struct clock_steps *cs = p->cs;
    struct nat_sampler *smp;
    if (refine_steps(p, pin, nin, pout, nout, 0, limit, err, errlen) != 0 ||
        refine_steps(p, pin, nin, pout, nout, 1, limit, err, errlen) != 0)
        return -1;
    /* forward candidates the other capture did not prove are silences, not steps */
    clockstep_fwd_settle(&cs[0]);
    clockstep_fwd_settle(&cs[1]);
    if (!(smp = nat_sampler_new()))
        return -1;
    memset(cnt, 0, 2 * sizeof(*cnt));
    if (sample_side(p, pin, nin, SIDE_INSIDE, smp, &cnt[0], &cs[0], limit, err, errlen) != 0 ||
        sample_side(p, pout, nout, SIDE_OUTSIDE, smp, &cnt[1], &cs[1], limit, err, errlen) != 0) {
        nat_sampler_free(smp);
        return -1;
    }
    keep_warn(p, cnt);
    long votes = 0;
    struct nat_clock c2;
    nat_sampler_solve(smp, false, &c2, &votes);
    nat_sampler_free(smp);
    if (c2.valid)
        *clk = c2;
    return 0;
}

/* The straight solve of the sampler (vote_swapped's first step), kept when the prefix test made
 * it already. */
struct solved {
    bool have;
    struct nat_clock clk;
    size_t npairs;
    long votes;
};

/* The vote: a valid clock with the captures the other way round wins. */
static bool vote_swapped(struct nat_sampler *smp, struct nat_clock *clk, size_t *npairs,
                         const struct solved *pre)
{
    long votes = 0;
    if (pre->have) {
        *clk = pre->clk;
        *npairs = pre->npairs;
        votes = pre->votes;
    } else {
        *npairs = nat_sampler_solve(smp, false, clk, &votes);
    }
    if (!clk->valid || votes < 3)
        return false;
    struct nat_clock clk2;
    long v2 = 0;
    nat_sampler_solve(smp, true, &clk2, &v2);
    if (!clk2.valid)
        return false;
    *clk = clk2;
    return true;
}

/* The outside capture's sampling on a second thread (each side fills its own half of the
 * sampler: nat_sampler_add touches only its side's sample). */
struct sample_job {
    struct pipeline *p;
    const char *const *paths;
    int n;
    struct nat_sampler *smp;
    struct counts *cnt;
    uint64_t limit;
    int rc;
    char err[VPNSCOPE_ERRBUF_SIZE];
};

static void *sample_thread(void *arg)
{
    struct sample_job *j = arg;
    j->rc = sample_side(j->p, j->paths, j->n, SIDE_OUTSIDE, j->smp, j->cnt, &j->p->cs[1], j->limit,
                        j->err, sizeof(j->err));
    return NULL;
}

/* Samples both prefixes of at most limit packets (0: whole captures); the two captures at once
 * with more than one thread. */
static int sample_both(struct pipeline *p, const char *const *pin, int nin, const char *const *pout,
                       int nout, struct nat_sampler **smpp, struct counts cnt[2], uint64_t limit,
                       char *err, unsigned errlen)
{
    struct nat_sampler *smp = nat_sampler_new();
    if (!smp) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    memset(cnt, 0, 2 * sizeof(*cnt));
    struct clock_steps *cs = p->cs;
    cs[0].preset = cs[1].preset = false;
    struct sample_job j = {p, pout, nout, smp, &cnt[1], limit, 0, ""};
    pthread_t th;
    bool two = p->threads > 1 && pthread_create(&th, NULL, sample_thread, &j) == 0;
    cnt[1].quiet = two;
    int rc = sample_side(p, pin, nin, SIDE_INSIDE, smp, &cnt[0], &cs[0], limit, err, errlen);
    if (two) {
        pthread_join(th, NULL);
        /* the outside capture's line, once it is read (its thread shows none) */
        progress_show(&p->prog, "pass 1/2 (clock), outside:", cnt[1].bytes, cnt[1].total, cnt[1].n);
        if (rc == 0 && j.rc != 0) {
            snprintf(err, errlen, "%s", j.err);
            rc = -1;
        }
    } else if (rc == 0) {
        rc = sample_side(p, pout, nout, SIDE_OUTSIDE, smp, &cnt[1], &cs[1], limit, err, errlen);
    }
    if (rc != 0) {
        nat_sampler_free(smp);
        return -1;
    }
    keep_warn(p, cnt);
    *smpp = smp;
    return 0;
}

/* Whether a longer prefix is needed: a capture goes on and the prefixes gave no clock from enough
 * pairs (either orientation). */
static bool prefix_short(struct nat_sampler *smp, const struct counts cnt[2], struct solved *pre)
{
    pre->have = false;
    if (!cnt[0].cut && !cnt[1].cut)
        return false;
    pre->npairs = nat_sampler_solve(smp, false, &pre->clk, &pre->votes);
    pre->have = true; /* solving again gives the same: the vote uses this one */
    if (pre->npairs >= CLOCK_MIN_PAIRS && pre->clk.valid)
        return false;
    struct nat_clock c;
    long votes;
    return !(nat_sampler_solve(smp, true, &c, &votes) >= CLOCK_MIN_PAIRS && c.valid);
}

int clock_pass(struct pipeline *p, const char *const **pin, int *nin, const char *const **pout,
               int *nout, char *err, unsigned errlen)
{
    struct nat_result *res = &p->nat;
    char la[200];
    char lb[200];
    struct nat_sampler *smp = NULL;
    struct counts cnt[2];
    struct clock_steps *cs = p->cs;
    uint64_t limit = CLOCK_PREFIX;
    struct solved pre;
    for (;;) {
        if (sample_both(p, *pin, *nin, *pout, *nout, &smp, cnt, limit, err, errlen) != 0)
            return -1;
        if (!prefix_short(smp, cnt, &pre))
            break;
        nat_sampler_free(smp);
        limit = limit >= (UINT64_MAX >> 2) ? 0 : limit * 4;
    }
    if (!cnt[0].cut && !cnt[1].cut)
        limit = 0; /* both read whole */
    struct nat_clock clk;
    size_t npairs = 0;
    if (vote_swapped(smp, &clk, &npairs, &pre)) {
        res->swapped = true;
        const char *const *tp = *pin;
        *pin = *pout;
        *pout = tp;
        int tn = *nin;
        *nin = *nout;
        *nout = tn;
        struct counts tc = cnt[0];
        cnt[0] = cnt[1];
        cnt[1] = tc;
        struct clock_steps ts = cs[0];
        cs[0] = cs[1];
        cs[1] = ts;
        snprintf(res->message, sizeof(res->message),
                 "inside and outside look swapped: the addresses the router rewrites are "
                 "private on %s, given as --outside; it is used as the inside capture",
                 pieces_label(*pin, *nin, la, sizeof(la)));
    }
    nat_sampler_free(smp);
    cs[0].preset = cs[1].preset = true; /* the main pass applies the same steps */
    if (clk.valid && (cs[0].n || cs[1].n) &&
        measure_steps(p, *pin, *nin, *pout, *nout, cnt, &clk, limit, err, errlen) != 0)
        return -1;
    clockstep_fwd_settle(&cs[0]); /* unmeasured candidates go (no-op once settled) */
    clockstep_fwd_settle(&cs[1]);
    for (int i = 0; i < 2; i++) {
        p->clock_cut[i] = cnt[i].cut;
        if (cnt[i].cut) /* the analysis pass finds this capture's steps itself (see the top) */
            memset(&cs[i], 0, sizeof(cs[i]));
    }
    p->clk = clk;
    res->clock = clk;
    res->packets_inside = cnt[0].n;
    res->packets_outside = cnt[1].n;
    if (!clk.valid) {
        snprintf(res->message, sizeof(res->message),
                 "no packet of %s appears in %s: different routers or different times? (%" PRIu64
                 " and %" PRIu64 " packets read%s)",
                 pieces_label(*pin, *nin, la, sizeof(la)),
                 pieces_label(*pout, *nout, lb, sizeof(lb)), cnt[0].n, cnt[1].n,
                 npairs ? ", too few shared to fit a clock" : "");
        return 0;
    }
    struct nat_corr_opts co;
    memset(&co, 0, sizeof(co));
    co.n_nat_addrs = p->cfg->n_nat_addrs;
    for (int i = 0; i < co.n_nat_addrs; i++)
        co.nat_addrs[i] = p->cfg->nat_addrs[i];
    co.cover_side_from_us[SIDE_INSIDE] = cnt[0].first;
    co.cover_side_to_us[SIDE_INSIDE] = cnt[0].cut ? NAT_COVER_OPEN : cnt[0].last;
    co.cover_side_from_us[SIDE_OUTSIDE] = nat_clock_to_inside(&clk, cnt[1].first);
    co.cover_side_to_us[SIDE_OUTSIDE] =
        cnt[1].cut ? NAT_COVER_OPEN : nat_clock_to_inside(&clk, cnt[1].last);
    p->corr = nat_corr_new(&co);
    if (!p->corr) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    return 0;
}

void clock_side_ended(struct pipeline *p, int i)
{
    if (p->clock_cut[i] && p->corr)
        nat_corr_cover(p->corr, (uint8_t)(SIDE_INSIDE + i), p->side_last[i]);
}

void clock_final_message(struct pipeline *p)
{
    for (int i = 0; i < 2; i++) /* a capture read whole by the clock pass was counted there */
        if (p->clock_cut[i])
            *(i ? &p->nat.packets_outside : &p->nat.packets_inside) =
                engine_model(p->eng[i])->c.packets;
    struct nat_result *res = &p->nat;
    if (p->corr && res->n_map == 0 && !res->message[0])
        snprintf(res->message, sizeof(res->message),
                 "%" PRIu64 " packets appear in both captures but none maps a flow",
                 res->matched_packets);
    if (p->warn[0] && !res->message[0])
        snprintf(res->message, sizeof(res->message), "%s", p->warn);
}
