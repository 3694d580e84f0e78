/* frag_groups.c - the fragments of one datagram on one side, counted as matched or unmatched
 * together. */
#include "corr_int.h"

#include "vpnscope/config.h"
#include "vpnscope/proto.h"
#include "vpnscope/rd.h"
#include "vpnscope/session.h"

void corr_fg_flush(struct nat_corr *c, const struct fgkey *k, const struct fgval *v)
{
    if (v->done || v->nfr == 0)
        return;
    struct pend e;
    memset(&e, 0, sizeof(e));
    e.ts = v->first_ts;
    e.nfr = v->nfr;
    memcpy(e.frames, v->frames, sizeof(e.frames));
    e.src = v->src;
    e.dst = v->dst;
    e.proto = v->proto;
    e.side = k->side;
    if (v->has_ports) {
        e.flags |= PF_PORTS;
        e.sport = v->sport;
        e.dport = v->dport;
    }
    corr_unm_add(c, &e);
}

void corr_fg_evict(void *ctx, const void *key, void *val)
{
    corr_fg_flush(ctx, key, val);
}

/* A fragment: its datagram's group on this side. Returns the group. */
struct fgval *corr_fg_add(struct nat_corr *c, uint8_t side, const struct pkt *p)
{
    struct fgkey k;
    memset(&k, 0, sizeof(k));
    k.src = ip_norm(&p->src);
    k.dst = ip_norm(&p->dst);
    k.id = p->ip_id;
    k.proto = p->ipver == 4 ? p->l4proto : 0;
    k.ipver = p->ipver;
    k.side = side;
    bool created = false;
    struct fgval *v = table_put(c->fgroups, &k, &created);
    if (!v)
        return NULL;
    uint64_t tmo = p->ipver == 6 ? FRAG6_TIMEOUT_US : FRAG_TIMEOUT_US;
    if (!created && (v->done || p->ts_us > v->first_ts + tmo)) {
        corr_fg_flush(c, &k, v);
        memset(v, 0, sizeof(*v));
        created = true;
    }
    if (created) {
        v->first_ts = p->ts_us;
        v->src = k.src;
        v->dst = k.dst;
        v->proto = p->l4proto;
    }
    if (p->frag_off == 0 && (p->l4proto == IPP_TCP || p->l4proto == IPP_UDP)) {
        /* ports of an incomplete datagram, for its unmatched record */
        struct rd r = rd_init(p->frag_data, p->frag_data_len);
        uint16_t sp = rd_be16(&r);
        uint16_t dp = rd_be16(&r);
        if (rd_ok(&r)) {
            v->has_ports = true;
            v->sport = sp;
            v->dport = dp;
        }
    }
    if (v->nfr < PENDING_FRAMES)
        v->frames[v->nfr] = p->frame;
    if (v->nfr < UINT16_MAX)
        v->nfr++;
    v->last_ts = p->ts_us;
    return v;
}
