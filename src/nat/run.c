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
#include "vpnscope/rd.h"
#include "vpnscope/session.h"
#include "vpnscope/table.h"

/*
 * Pass 1 reads both captures with the bare decoder (no engine, no reassembly) and samples
 * NAT-invariant signatures (nat_sampler): the clock offset and drift, and which capture is
 * really inside. Pass 2 re-reads them merged by corrected time into the two engines and the
 * correlator. --router: one capture of the router's interfaces, split into two streams (see
 * router_*); its clock is shared, so pass 1 only learns the split.
 * --router split: with interface ids (SLL2 ifindex, pcapng interfaces) the interface that carries
 * the router's outside addresses (given by --nat-addr, else learned from packets seen twice with
 * a private address rewritten to a public one) is outside, every other interface inside. With
 * SLL (cooked v1: no interface id) the link-layer address decides: the router's own outside MAC
 * (outgoing packets) and its outside neighbours' (incoming) are learned from packets to or from
 * an outside address. Limitations: with SLL on links without link addresses (tun, ppp), a packet
 * is outside only when it carries an outside address, so an untranslated forwarded flow looks
 * inside-only there; several outside interfaces (multi-WAN) are merged into one inside side but
 * one of them (by_if) or all of them (by MAC) outside. The router's own traffic is included.
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
    p->ifidx = r->ifidx;
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
    eo.all_protocols = o->all_protocols;
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
        co.cover_side_from_us[SIDE_INSIDE] = cnt[0].first;
        co.cover_side_to_us[SIDE_INSIDE] = cnt[0].last;
        co.cover_side_from_us[SIDE_OUTSIDE] = nat_clock_to_inside(&clk, cnt[1].first);
        co.cover_side_to_us[SIDE_OUTSIDE] = nat_clock_to_inside(&clk, cnt[1].last);
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
                 "%" PRIu64 " packets appear in both captures but none maps a flow",
                 res->matched_packets);
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

#define DLT_LINUX_SLL_ 113
#define MAX_MACS 16

struct ifstat {
    uint32_t ifidx;
    uint64_t pkts, natted;
};

struct rsig {
    uint64_t ts;
    struct ip_addr src, dst;
};

/* SLL (cooked v1) link-layer address: the sender's for incoming packets, the router's own
 * interface for outgoing ones. 0 when absent. */
static unsigned sll_addr(const struct raw_pkt *r, uint8_t mac[8])
{
    struct rd d = rd_init(r->data, r->caplen);
    rd_skip(&d, 4); /* packet type, ARPHRD */
    uint16_t alen = rd_be16(&d);
    rd_copy(&d, mac, 8);
    if (!rd_ok(&d) || alen == 0 || alen > 8)
        return 0;
    memset(mac + alen, 0, 8 - alen);
    return alen;
}

static bool addr_in(const struct ip_addr *a, const struct ip_addr *v, int n)
{
    for (int i = 0; i < n; i++)
        if (v[i].v == a->v && memcmp(v[i].a, a->a, a->v == 4 ? 4 : 16) == 0)
            return true;
    return false;
}

/* Learns outside addresses from a packet seen twice on the router with one address changed:
 * the copy whose changed address is private is the inside one, the other address is the
 * router's. */
static void learn_from_twins(const struct rsig *a, const struct pkt *b, struct ip_addr *addrs,
                             int *n)
{
    bool sdiff = memcmp(&a->src, &b->src, sizeof(a->src)) != 0;
    bool ddiff = memcmp(&a->dst, &b->dst, sizeof(a->dst)) != 0;
    if (sdiff == ddiff)
        return;
    const struct ip_addr *x = sdiff ? &a->src : &a->dst;
    const struct ip_addr *y = sdiff ? &b->src : &b->dst;
    const struct ip_addr *na;
    if (ip_addr_is_private(x) && !ip_addr_is_private(y))
        na = y;
    else if (ip_addr_is_private(y) && !ip_addr_is_private(x))
        na = x;
    else
        return;
    if (!addr_in(na, addrs, *n) && *n < 8)
        addrs[(*n)++] = *na;
}

/* The split of a router capture into inside and outside. */
struct split {
    bool by_if; /* interface ids (SLL2 ifindex, pcapng interface) */
    uint32_t out_if;
    bool by_mac; /* SLL: link addresses seen on the outside link */
    uint8_t macs[MAX_MACS][8];
    int nmacs;
    struct ip_addr nat[8];
    int nnat;
};

static int side_of(const struct split *sp, const struct raw_pkt *r, const struct pkt *p)
{
    if (sp->by_if)
        return p->ifidx == sp->out_if ? 1 : 0;
    if (sp->by_mac) {
        uint8_t mac[8];
        if (sll_addr(r, mac)) {
            for (int i = 0; i < sp->nmacs; i++)
                if (memcmp(sp->macs[i], mac, 8) == 0)
                    return 1;
            return 0;
        }
    }
    return p->ipver && (addr_in(&p->src, sp->nat, sp->nnat) || addr_in(&p->dst, sp->nat, sp->nnat));
}

/* Pass 1 of --router: interfaces, the router's outside addresses (when not given) and, for SLL,
 * the link addresses of the outside link. */
static int router_learn(const struct nat_run_opts *o, const char *const *paths, struct split *sp,
                        struct pkt *p, char *msg, unsigned msglen, char *errbuf, unsigned errlen)
{
    int ret = -1;
    struct ifstat ifs[MAX_IFS];
    int nifs = 0;
    int dlt = -1;
    struct table *twins = table_new(sizeof(uint64_t), sizeof(struct rsig), 1u << 16, NULL, NULL);
    struct cap_src *s = NULL;
    if (!twins) {
        snprintf(errbuf, errlen, "out of memory");
        return -1;
    }
    sp->nnat = o->n_nat_addrs < 8 ? o->n_nat_addrs : 8;
    for (int i = 0; i < sp->nnat; i++) {
        memset(&sp->nat[i], 0, sizeof(sp->nat[i]));
        sp->nat[i].v = o->nat_addrs[i].v;
        memcpy(sp->nat[i].a, o->nat_addrs[i].a, o->nat_addrs[i].v == 4 ? 4 : 16);
    }
    bool given = sp->nnat > 0;
    s = open_side(paths, 1, o->bpf, errbuf, errlen);
    if (!s)
        goto out;
    dlt = cap_dlt(s);
    struct raw_pkt r;
    char eb[VPNSCOPE_ERRBUF_SIZE];
    int rc;
    while ((rc = cap_next(s, &r, eb, sizeof(eb))) == 1) {
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
        if (k < nifs)
            ifs[k].pkts++;
        if (given)
            continue;
        struct nat_sig sg;
        nat_pkt_sig(p, &sg);
        if (!sg.h || sg.weak)
            continue;
        bool created = false;
        struct rsig *t = table_put(twins, &sg.h, &created);
        if (!t)
            continue;
        if (!created && p->ts_us - t->ts < NAT_WINDOW_US)
            learn_from_twins(t, p, sp->nat, &sp->nnat);
        t->ts = p->ts_us;
        t->src = p->src;
        t->dst = p->dst;
    }
    cap_close(s);
    s = NULL;
    if (rc < 0) {
        snprintf(errbuf, errlen, "%s", eb);
        goto out;
    }

    sp->by_if = nifs > 1;
    sp->by_mac = !sp->by_if && dlt == DLT_LINUX_SLL_ && sp->nnat > 0;
    if (sp->by_if || sp->by_mac) {
        /* second read: which interface / link addresses carry the outside addresses */
        s = open_side(paths, 1, o->bpf, errbuf, errlen);
        if (!s)
            goto out;
        while ((rc = cap_next(s, &r, eb, sizeof(eb))) == 1) {
            if (r.filtered)
                continue;
            bare_decode(p, &r);
            if (!p->ipver ||
                !(addr_in(&p->src, sp->nat, sp->nnat) || addr_in(&p->dst, sp->nat, sp->nnat)))
                continue;
            if (sp->by_if) {
                for (int k = 0; k < nifs; k++)
                    if (ifs[k].ifidx == p->ifidx)
                        ifs[k].natted++;
            } else {
                uint8_t mac[8];
                if (!sll_addr(&r, mac))
                    continue;
                int i = 0;
                while (i < sp->nmacs && memcmp(sp->macs[i], mac, 8) != 0)
                    i++;
                if (i == sp->nmacs && sp->nmacs < MAX_MACS)
                    memcpy(sp->macs[sp->nmacs++], mac, 8);
            }
        }
        cap_close(s);
        s = NULL;
        if (rc < 0) {
            snprintf(errbuf, errlen, "%s", eb);
            goto out;
        }
        if (sp->by_if) {
            int best = 0;
            for (int k = 1; k < nifs; k++)
                if (ifs[k].natted > ifs[best].natted)
                    best = k;
            sp->out_if = ifs[best].ifidx;
            if (ifs[best].natted == 0)
                snprintf(msg, msglen,
                         "%s: no interface carries a router outside address (give --nat-addr); "
                         "interface %u taken as outside",
                         paths[0], sp->out_if);
        }
        if (sp->by_mac && sp->nmacs == 0)
            sp->by_mac = false;
    }
    if (!sp->by_if && sp->nnat == 0)
        snprintf(msg, msglen,
                 "%s: one interface and no router outside address learned (give --nat-addr): "
                 "no inside/outside split possible",
                 paths[0]);
    ret = 0;
out:
    cap_close(s);
    table_free(twins);
    return ret;
}

static int run_router(const struct nat_run_opts *o, struct engine **ein, struct engine **eout,
                      struct nat_result *res, char *errbuf, unsigned errlen)
{
    const char *paths[1] = {o->router};
    int ret = -1;
    struct cap_src *s = NULL;
    struct nat_corr *corr = NULL;
    struct split *sp = calloc(1, sizeof(*sp));
    struct pkt *p = calloc(1, sizeof(*p));
    if (!p || !sp) {
        snprintf(errbuf, errlen, "out of memory");
        goto out;
    }
    if (router_learn(o, paths, sp, p, res->message, sizeof(res->message), errbuf, errlen) != 0)
        goto out;
    bool can_split = sp->by_if || sp->nnat > 0;

    struct nat_corr_opts co;
    corr_opts(o, &co);
    co.n_nat_addrs = sp->nnat;
    for (int i = 0; i < sp->nnat; i++)
        co.nat_addrs[i] = sp->nat[i];
    corr = nat_corr_new(&co);
    if (!corr) {
        snprintf(errbuf, errlen, "out of memory");
        goto out;
    }
    *ein = mk_engine(SIDE_INSIDE, o, errbuf, errlen);
    if (!*ein)
        goto out;
    *eout = mk_engine(SIDE_OUTSIDE, o, errbuf, errlen);
    if (!*eout)
        goto out;

    /* pass 2: split and feed; one clock */
    s = open_side(paths, 1, o->bpf, errbuf, errlen);
    if (!s)
        goto out;
    uint64_t nside[2] = {0, 0};
    struct raw_pkt r;
    char eb[VPNSCOPE_ERRBUF_SIZE];
    int rc;
    while ((rc = cap_next(s, &r, eb, sizeof(eb))) == 1) {
        int side = 0;
        if (!r.filtered && can_split) {
            bare_decode(p, &r);
            side = side_of(sp, &r, p);
        }
        nside[side]++;
        const struct pkt *ep = engine_packet(side ? *eout : *ein, &r);
        if (ep && can_split)
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
    res->clock.valid = true;
    res->clock.seconds = 0;
    res->clock.drift_ppm = 0;
    res->clock.evidence_packets = res->matched_packets;
    ret = 0;
out:
    free(p);
    free(sp);
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
