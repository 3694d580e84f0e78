/* frag_groups.c - the fragments of one datagram on one side, counted as matched or unmatched
 * together. */
#include "corr_int.h"

#include "vpnscope/config.h"
#include "vpnscope/proto.h"
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
struct fgval *corr_fg_add(struct nat_corr *c, uint8_t side, const struct fg_in *f)
{
    struct fgkey k;
    memset(&k, 0, sizeof(k));
    k.src = f->src;
    k.dst = f->dst;
    k.id = f->id;
    k.proto = f->ipver == 4 ? f->l4proto : 0;
    k.ipver = f->ipver;
    k.side = side;
    bool created = false;
    struct fgval *v = table_put(c->fgroups, &k, &created);
    if (!v)
        return NULL;
    uint64_t tmo = f->ipver == 6 ? FRAG6_TIMEOUT_US : FRAG_TIMEOUT_US;
    if (!created && (v->done || f->ts > v->first_ts + tmo)) {
        corr_fg_flush(c, &k, v);
        memset(v, 0, sizeof(*v));
        created = true;
    }
    if (created) {
        v->first_ts = f->ts;
        v->src = k.src;
        v->dst = k.dst;
        v->proto = f->l4proto;
    }
    if (f->has_ports) {
        v->has_ports = true;
        v->sport = f->sport;
        v->dport = f->dport;
    }
    if (v->nfr < PENDING_FRAMES)
        v->frames[v->nfr] = f->frame;
    if (v->nfr < UINT16_MAX)
        v->nfr++;
    v->last_ts = f->ts;
    return v;
}
