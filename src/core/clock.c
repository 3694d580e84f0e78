/* clock.c - the first pass over two captures: bare decode, NAT-invariant signatures sampled per
 * capture (nat_sampler), the clock offset and drift between them, and which capture is really
 * inside (one swap vote). The coverage window of the correlator is each capture's first and last
 * packet time on the inside clock. */
#include "pipeline_int.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vpnscope/decode.h"
#include "vpnscope/proto.h"

struct counts {
    uint64_t n, first, last;
};

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
                       struct nat_sampler *smp, struct counts *cnt, char *errbuf, unsigned errlen)
{
    const char *bpf = pl->cfg->bpf;
    char *warn = pl->warn;
    unsigned wlen = sizeof(pl->warn);
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
    while ((rc = cap_next(s, &r, eb, sizeof(eb))) == 1) {
        if ((cnt->n & 4095) == 0)
            progress_show(&pl->prog, phase, cap_bytes_read(s), cap_total_bytes(s), cnt->n);
        track(cnt, r.ts_us);
        if (r.filtered)
            continue;
        bare_decode(p, &r);
        nat_sampler_add(smp, side, p);
    }
    if (rc == 3 && warn && !warn[0])
        snprintf(warn, wlen, "%s", eb);
    free(p);
    cap_close(s);
    if (rc < 0) {
        snprintf(errbuf, errlen, "%s", eb);
        return -1;
    }
    return 0;
}

/* The vote: a valid clock with the captures the other way round wins. */
static bool vote_swapped(struct nat_sampler *smp, struct nat_clock *clk, size_t *npairs)
{
    long votes = 0;
    *npairs = nat_sampler_solve(smp, false, clk, &votes);
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

int clock_pass(struct pipeline *p, const char *const **pin, int *nin, const char *const **pout,
               int *nout, char *err, unsigned errlen)
{
    struct nat_result *res = &p->nat;
    char la[200];
    char lb[200];
    struct nat_sampler *smp = nat_sampler_new();
    if (!smp) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    struct counts cnt[2];
    memset(cnt, 0, sizeof(cnt));
    if (sample_side(p, *pin, *nin, SIDE_INSIDE, smp, &cnt[0], err, errlen) != 0 ||
        sample_side(p, *pout, *nout, SIDE_OUTSIDE, smp, &cnt[1], err, errlen) != 0) {
        nat_sampler_free(smp);
        return -1;
    }
    struct nat_clock clk;
    size_t npairs = 0;
    if (vote_swapped(smp, &clk, &npairs)) {
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
        snprintf(res->message, sizeof(res->message),
                 "inside and outside look swapped: the addresses the router rewrites are "
                 "private on %s, given as --outside; it is used as the inside capture",
                 pieces_label(*pin, *nin, la, sizeof(la)));
    }
    nat_sampler_free(smp);
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
    co.cover_side_to_us[SIDE_INSIDE] = cnt[0].last;
    co.cover_side_from_us[SIDE_OUTSIDE] = nat_clock_to_inside(&clk, cnt[1].first);
    co.cover_side_to_us[SIDE_OUTSIDE] = nat_clock_to_inside(&clk, cnt[1].last);
    p->corr = nat_corr_new(&co);
    if (!p->corr) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    return 0;
}

void clock_final_message(struct pipeline *p)
{
    struct nat_result *res = &p->nat;
    if (p->corr && res->n_map == 0 && !res->message[0])
        snprintf(res->message, sizeof(res->message),
                 "%" PRIu64 " packets appear in both captures but none maps a flow",
                 res->matched_packets);
    if (p->warn[0] && !res->message[0])
        snprintf(res->message, sizeof(res->message), "%s", p->warn);
}
