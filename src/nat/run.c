/* run.c - the two-capture driver: clock pass, then engines + correlator merged by corrected time
 * (nat.h nat_run). */
#include "vpnscope/nat.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vpnscope/capture.h"
#include "vpnscope/config.h"
#include "vpnscope/decode.h"
#include "vpnscope/engine.h"
#include "vpnscope/session.h"
#include "vpnscope/table.h"

/*
 * Pass 1 reads both captures with the bare decoder (no engine, no reassembly) and samples
 * NAT-invariant signatures (nat_sampler): the clock offset and drift, and which capture is
 * really inside. Pass 2 re-reads them merged by corrected time into the two engines and the
 * correlator. --router: one capture of the router's interfaces, split into two streams (see
 * router_*); its clock is shared, so pass 1 only learns the split.
 * Limitations (--router): with SLL (no interface index) a packet's side comes from its addresses:
 * a packet to or from a router outside address (given by --nat-addr or learned from pairs whose
 * source address changed) is outside, any other is inside; an untranslated forwarded flow then
 * looks inside-only. With SLL2 or pcapng interface ids, the interface that carries the router's
 * outside addresses (else the one with fewest private addresses) is outside, all others inside.
 */

#define MAX_IFS 64

struct counts {
    uint64_t n, first, last;
};

static const char *label(const char *const *paths, int n, char *buf, unsigned size)
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

/* Bare decode of one raw frame (pass 1). */
static void bare_decode(struct pkt *p, const struct raw_pkt *r)
{
    p->ts_us = r->ts_us;
    p->frame = r->frame;
    p->caplen = r->caplen;
    p->wirelen = r->len;
    p->dlt = r->dlt;
    p->ifidx = 0;
    p->sll_pkttype = 0xffff;
    decode_packet(p, r->data, r->caplen);
    if (p->status == PKT_DECODED && !p->is_frag && (p->l4proto == 17 || p->l4proto == 6))
        decode_app(p, HINT_NONE);
}

static struct cap_src *open_side(const char *const *paths, int n, const char *bpf, char *errbuf,
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

/* Pass 1 over one capture. 0 ok, -1 error. */
static int sample_side(const char *const *paths, int n, const char *bpf, uint8_t side,
                       struct nat_sampler *smp, struct counts *cnt, char *warn, unsigned wlen,
                       char *errbuf, unsigned errlen)
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
    int rc;
    while ((rc = cap_next(s, &r, eb, sizeof(eb))) == 1) {
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

static struct engine *mk_engine(uint8_t side, const struct nat_run_opts *o, char *errbuf,
                                unsigned errlen)
{
    struct engine_opts eo;
    memset(&eo, 0, sizeof(eo));
    eo.no_ndpi = o->no_ndpi;
    return engine_new(side, &eo, errbuf, errlen);
}

static void corr_opts(const struct nat_run_opts *o, struct nat_corr_opts *co)
{
    memset(co, 0, sizeof(*co));
    co->n_nat_addrs = o->n_nat_addrs < 8 ? o->n_nat_addrs : 8;
    for (int i = 0; i < co->n_nat_addrs; i++)
        co->nat_addrs[i] = o->nat_addrs[i];
}

/* ---- two captures ---------------------------------------------------------------------- */

static int run_two(const struct nat_run_opts *o, struct engine **ein, struct engine **eout,
                   struct nat_result *res, char *errbuf, unsigned errlen)
{
    const char *const *pin = o->inside;
    const char *const *pout = o->outside;
    int nin = o->n_inside;
    int nout = o->n_outside;
    char la[200];
    char lb[200];
    char warn[VPNSCOPE_ERRBUF_SIZE] = "";
    int ret = -1;
    struct nat_sampler *smp = nat_sampler_new();
    struct nat_corr *corr = NULL;
    struct cap_src *src[2] = {NULL, NULL};
    if (!smp) {
        snprintf(errbuf, errlen, "out of memory");
        return -1;
    }

    /* pass 1: clock and orientation */
    struct counts cnt[2];
    memset(cnt, 0, sizeof(cnt));
    if (sample_side(pin, nin, o->bpf, SIDE_INSIDE, smp, &cnt[0], warn, sizeof(warn), errbuf,
                    errlen) != 0 ||
        sample_side(pout, nout, o->bpf, SIDE_OUTSIDE, smp, &cnt[1], warn, sizeof(warn), errbuf,
                    errlen) != 0)
        goto out;
    struct nat_clock clk;
    long votes = 0;
    size_t npairs = nat_sampler_solve(smp, false, &clk, &votes);
    if (clk.valid && votes >= 3) {
        struct nat_clock clk2;
        long v2 = 0;
        nat_sampler_solve(smp, true, &clk2, &v2);
        if (clk2.valid) {
            clk = clk2;
            res->swapped = true;
            const char *const *tp = pin;
            pin = pout;
            pout = tp;
            int tn = nin;
            nin = nout;
            nout = tn;
            struct counts tc = cnt[0];
            cnt[0] = cnt[1];
            cnt[1] = tc;
            snprintf(res->message, sizeof(res->message),
                     "inside and outside look swapped: the addresses the router rewrites are "
                     "private on %s, given as --outside; it is used as the inside capture",
                     label(pin, nin, la, sizeof(la)));
        }
    }
    nat_sampler_free(smp);
    smp = NULL;
    res->clock = clk;
    res->packets_inside = cnt[0].n;
    res->packets_outside = cnt[1].n;
    if (!clk.valid) {
        snprintf(res->message, sizeof(res->message),
                 "no packet of %s appears in %s: different routers or different times? (%" PRIu64
                 " and %" PRIu64 " packets read%s)",
                 label(pin, nin, la, sizeof(la)), label(pout, nout, lb, sizeof(lb)), cnt[0].n,
                 cnt[1].n, npairs ? ", too few shared to fit a clock" : "");
    } else {
        struct nat_corr_opts co;
        corr_opts(o, &co);
        co.cover_from_us[SIDE_INSIDE] = cnt[0].first;
        co.cover_to_us[SIDE_INSIDE] = cnt[0].last;
        co.cover_from_us[SIDE_OUTSIDE] = nat_clock_to_inside(&clk, cnt[1].first);
        co.cover_to_us[SIDE_OUTSIDE] = nat_clock_to_inside(&clk, cnt[1].last);
        corr = nat_corr_new(&co);
        if (!corr) {
            snprintf(errbuf, errlen, "out of memory");
            goto out;
        }
    }

    /* pass 2: engines and correlator, merged by corrected time */
    *ein = mk_engine(SIDE_INSIDE, o, errbuf, errlen);
    if (!*ein)
        goto out;
    *eout = mk_engine(SIDE_OUTSIDE, o, errbuf, errlen);
    if (!*eout)
        goto out;
    src[0] = open_side(pin, nin, o->bpf, errbuf, errlen);
    if (!src[0])
        goto out;
    src[1] = open_side(pout, nout, o->bpf, errbuf, errlen);
    if (!src[1])
        goto out;
    struct engine *eng[2] = {*ein, *eout};
    struct raw_pkt r[2];
    bool have[2] = {false, false};
    char eb[VPNSCOPE_ERRBUF_SIZE];
    for (int i = 0; i < 2; i++) {
        int rc = cap_next(src[i], &r[i], eb, sizeof(eb));
        if (rc < 0) {
            snprintf(errbuf, errlen, "%s", eb);
            goto out;
        }
        have[i] = rc == 1;
        if (have[i] && i == 1)
            r[1].ts_us = nat_clock_to_inside(&clk, r[1].ts_us);
    }
    while (have[0] || have[1]) {
        int i = !have[0] ? 1 : !have[1] ? 0 : (r[0].ts_us <= r[1].ts_us ? 0 : 1);
        const struct pkt *p = engine_packet(eng[i], &r[i]);
        if (p && corr)
            nat_corr_packet(corr, (uint8_t)(i + 1), p);
        int rc = cap_next(src[i], &r[i], eb, sizeof(eb));
        if (rc < 0) {
            snprintf(errbuf, errlen, "%s", eb);
            goto out;
        }
        have[i] = rc == 1;
        if (have[i] && i == 1)
            r[1].ts_us = nat_clock_to_inside(&clk, r[1].ts_us);
    }
    engine_finish(*ein);
    engine_finish(*eout);
    if (corr && nat_corr_finish(corr, res) != 0) {
        snprintf(errbuf, errlen, "out of memory");
        goto out;
    }
    if (corr && res->n_map == 0 && !res->message[0])
        snprintf(res->message, sizeof(res->message),
                 "%" PRIu64 " packets appear in both captures but none maps a flow", res->matched_packets);
    if (warn[0] && !res->message[0])
        snprintf(res->message, sizeof(res->message), "%s", warn);
    ret = 0;
out:
    nat_sampler_free(smp);
    nat_corr_free(corr);
    cap_close(src[0]);
    cap_close(src[1]);
    return ret;
}

/* ---- one capture on the router --------------------------------------------------------- */

struct ifstat {
    uint32_t ifidx;
    uint64_t pkts, priv, natted;
};

struct rsig {
    uint64_t sig;
    uint64_t ts;
    struct ip_addr src, dst;
    uint32_t ifidx;
};

/* Learns outside addresses from packets seen twice on the router with one address changed: the
 * copy whose changed address is private is the inside one, the other address is the router's. */
static void learn_from_twins(const struct rsig *a, const struct rsig *b, struct ip_addr *addrs,
                             int *n)
{
    const struct ip_addr *na = NULL;
    bool sdiff = memcmp(&a->src, &b->src, sizeof(a->src)) != 0;
    bool ddiff = memcmp(&a->dst, &b->dst, sizeof(a->dst)) != 0;
    if (sdiff == ddiff)
        return;
    const struct ip_addr *x = sdiff ? &a->src : &a->dst;
    const struct ip_addr *y = sdiff ? &b->src : &b->dst;
    if (ip_addr_is_private(x) && !ip_addr_is_private(y))
        na = y;
    else if (ip_addr_is_private(y) && !ip_addr_is_private(x))
        na = x;
    else
        return;
    for (int i = 0; i < *n; i++)
        if (memcmp(&addrs[i], na, sizeof(*na)) == 0)
            return;
    if (*n < 8)
        addrs[(*n)++] = *na;
}

static bool addr_in(const struct ip_addr *a, const struct ip_addr *v, int n)
{
    for (int i = 0; i < n; i++)
        if (memcmp(&v[i], a, sizeof(*a)) == 0)
            return true;
    return false;
}

static int run_router(const struct nat_run_opts *o, struct engine **ein, struct engine **eout,
                      struct nat_result *res, char *errbuf, unsigned errlen)
{
    const char *paths[1] = {o->router};
    int ret = -1;
    struct cap_src *s = NULL;
    struct nat_corr *corr = NULL;
    struct pkt *p = calloc(1, sizeof(*p));
    struct table *twins = table_new(sizeof(uint64_t), sizeof(struct rsig), 1u << 16, NULL, NULL);
    struct ifstat ifs[MAX_IFS];
    int nifs = 0;
    struct ip_addr natad[8];
    int nnat = o->n_nat_addrs < 8 ? o->n_nat_addrs : 8;
    for (int i = 0; i < nnat; i++) {
        memset(&natad[i], 0, sizeof(natad[i]));
        natad[i].v = o->nat_addrs[i].v;
        memcpy(natad[i].a, o->nat_addrs[i].a, o->nat_addrs[i].v == 4 ? 4 : 16);
    }
    if (!p || !twins) {
        snprintf(errbuf, errlen, "out of memory");
        goto out;
    }

    /* pass 1: interfaces, and the router's outside addresses when not given */
    s = open_side(paths, 1, o->bpf, errbuf, errlen);
    if (!s)
        goto out;
    struct raw_pkt r;
    char eb[VPNSCOPE_ERRBUF_SIZE];
    int rc;
    uint64_t total = 0;
    int learned = 0;
    struct ip_addr lnat[8];
    while ((rc = cap_next(s, &r, eb, sizeof(eb))) == 1) {
        total++;
        if (r.filtered)
            continue;
        bare_decode(p, &r);
        if (!p->ipver)
            continue;
        int k = 0;
        while (k < nifs && ifs[k].ifidx != p->ifidx)
            k++;
        if (k == nifs && nifs < MAX_IFS) {
            memset(&ifs[nifs], 0, sizeof(ifs[nifs]));
            ifs[nifs++].ifidx = p->ifidx;
        }
        if (k < nifs) {
            ifs[k].pkts++;
            if (ip_addr_is_private(&p->src) || ip_addr_is_private(&p->dst))
                ifs[k].priv++;
        }
        struct nat_sig sg;
        nat_pkt_sig(p, &sg);
        if (!sg.h || sg.weak)
            continue;
        bool created = false;
        struct rsig *t = table_put(twins, &sg.h, &created);
        if (!t)
            continue;
        if (!created && r.ts_us - t->ts < NAT_WINDOW_US && nnat == 0) {
            struct rsig cur;
            memset(&cur, 0, sizeof(cur));
            cur.src = p->src;
            cur.dst = p->dst;
            learn_from_twins(t, &cur, lnat, &learned);
        }
        t->sig = sg.h;
        t->ts = r.ts_us;
        t->src = p->src;
        t->dst = p->dst;
        t->ifidx = p->ifidx;
    }
    if (rc < 0) {
        snprintf(errbuf, errlen, "%s", eb);
        goto out;
    }
    cap_close(s);
    s = NULL;
    if (nnat == 0) {
        for (int i = 0; i < learned; i++)
            natad[i] = lnat[i];
        nnat = learned;
    }

    /* which interface is outside */
    bool by_if = nifs > 1 || (nifs == 1 && ifs[0].ifidx != 0);
    uint32_t out_if = 0;
    if (by_if) {
        /* count packets with a router outside address per interface (second read) */
        s = open_side(paths, 1, o->bpf, errbuf, errlen);
        if (!s)
            goto out;
        while ((rc = cap_next(s, &r, eb, sizeof(eb))) == 1) {
            if (r.filtered)
                continue;
            bare_decode(p, &r);
            if (!p->ipver)
                continue;
            if (addr_in(&p->src, natad, nnat) || addr_in(&p->dst, natad, nnat))
                for (int k = 0; k < nifs; k++)
                    if (ifs[k].ifidx == p->ifidx)
                        ifs[k].natted++;
        }
        cap_close(s);
        s = NULL;
        int best = 0;
        for (int k = 1; k < nifs; k++) {
            bool better = ifs[k].natted > ifs[best].natted ||
                          (ifs[k].natted == ifs[best].natted &&
                           ifs[k].priv * ifs[best].pkts < ifs[best].priv * ifs[k].pkts);
            if (better)
                best = k;
        }
        out_if = nifs ? ifs[best].ifidx : 0;
        if (nifs < 2) {
            snprintf(res->message, sizeof(res->message),
                     "%s holds one interface only: no inside/outside split possible", o->router);
            by_if = false;
        }
    }
    if (!by_if && nnat == 0 && !res->message[0])
        snprintf(res->message, sizeof(res->message),
                 "%s: no interface ids and no router outside address (give --nat-addr): "
                 "no inside/outside split possible", o->router);

    struct nat_corr_opts co;
    corr_opts(o, &co);
    co.n_nat_addrs = nnat;
    for (int i = 0; i < nnat; i++)
        co.nat_addrs[i] = natad[i];
    corr = nat_corr_new(&co);
    *ein = mk_engine(SIDE_INSIDE, o, errbuf, errlen);
    if (!corr || !*ein) {
        if (!corr)
            snprintf(errbuf, errlen, "out of memory");
        goto out;
    }
    *eout = mk_engine(SIDE_OUTSIDE, o, errbuf, errlen);
    if (!*eout)
        goto out;
    res->clock.valid = true;
    res->clock.seconds = 0;
    res->clock.drift_ppm = 0;

    /* pass 2: split and feed */
    s = open_side(paths, 1, o->bpf, errbuf, errlen);
    if (!s)
        goto out;
    uint64_t nside[2] = {0, 0};
    while ((rc = cap_next(s, &r, eb, sizeof(eb))) == 1) {
        int side = 0;
        if (!r.filtered) {
            bare_decode(p, &r);
            if (by_if)
                side = p->ifidx == out_if ? 1 : 0;
            else if (p->ipver)
                side = (addr_in(&p->src, natad, nnat) || addr_in(&p->dst, natad, nnat)) ? 1 : 0;
        }
        nside[side]++;
        const struct pkt *ep = engine_packet(side ? *eout : *ein, &r);
        if (ep && (by_if || nnat > 0))
            nat_corr_packet(corr, (uint8_t)(side + 1), ep);
    }
    if (rc < 0) {
        snprintf(errbuf, errlen, "%s", eb);
        goto out;
    }
    engine_finish(*ein);
    engine_finish(*eout);
    if (nat_corr_finish(corr, res) != 0) {
        snprintf(errbuf, errlen, "out of memory");
        goto out;
    }
    res->packets_inside = nside[0];
    res->packets_outside = nside[1];
    res->clock.evidence_packets = res->matched_packets;
    (void)total;
    ret = 0;
out:
    free(p);
    table_free(twins);
    cap_close(s);
    nat_corr_free(corr);
    return ret;
}

int nat_run(const struct nat_run_opts *o, struct engine **in, struct engine **out,
            struct nat_result *res, char *errbuf, unsigned errlen)
{
    *in = NULL;
    *out = NULL;
    memset(res, 0, sizeof(*res));
    if (errbuf && errlen)
        errbuf[0] = '\0';
    if (o->router)
        return run_router(o, in, out, res, errbuf, errlen);
    if (o->n_inside <= 0 || o->n_outside <= 0) {
        snprintf(errbuf, errlen, "two-capture mode needs --inside and --outside captures");
        return -1;
    }
    return run_two(o, in, out, res, errbuf, errlen);
}
