/* pending.c - the correlator's pending window (packets waiting for their counterpart on the
 * other side) and the unmatched records of those that leave it unpaired. */
#include "corr_int.h"

#include <stdlib.h>

#include "vpnscope/proto.h"
#include "vpnscope/session.h"

#define MAX_CAND 8

/* ---- unmatched ------------------------------------------------------------------------- */

/* A new unmatched record for key k, first seen with e; its index, or NIL when none can be kept
 * (the caps, out of memory). */
static uint32_t unm_new(struct nat_corr *c, const struct ukey *k, const struct pend *e)
{
    if (c->n_unm >= NAT_UNMATCHED_MAX) {
        c->dropped_records++;
        return NIL;
    }
    if (c->n_unm == c->cap_unm) {
        size_t nc = c->cap_unm ? c->cap_unm * 2 : 64;
        struct uint_rec *nu = realloc(c->unm, nc * sizeof(*nu));
        if (!nu) {
            c->oom = true;
            return NIL;
        }
        c->unm = nu;
        c->cap_unm = nc;
    }
    uint32_t idx = (uint32_t)c->n_unm;
    struct uint_rec *r = &c->unm[c->n_unm++];
    memset(r, 0, sizeof(*r));
    r->key = *k;
    r->u.side = e->side;
    r->u.proto = e->proto;
    r->u.src = k->src;
    r->u.dst = k->dst;
    r->u.has_ports = (k->has & 1) != 0;
    r->u.sport = k->sport;
    r->u.dport = k->dport;
    r->u.has_spi = (k->has & 2) != 0;
    r->u.spi = k->spi;
    r->u.has_call_id = (k->has & 4) != 0;
    r->u.call_id = k->call_id;
    r->u.first_ts = e->ts;
    r->u.mapping = -1;
    return idx;
}

void corr_unm_add(struct nat_corr *c, const struct pend *e)
{
    uint8_t other = e->side == SIDE_INSIDE ? SIDE_OUTSIDE : SIDE_INSIDE;
    uint64_t from = c->o.cover_side_from_us[other];
    uint64_t to = c->o.cover_side_to_us[other];
    bool outside_cover =
        to ? (e->ts + c->window < from || e->ts > to + c->window)
           : (e->ts < c->o.cover_from_us || (c->o.cover_to_us && e->ts > c->o.cover_to_us));
    if (outside_cover) {
        c->uncovered += e->nfr;
        return;
    }
    c->only[e->side] += e->nfr;
    struct ukey k;
    memset(&k, 0, sizeof(k));
    k.src = ip_norm(&e->src);
    k.dst = ip_norm(&e->dst);
    k.side = e->side;
    k.proto = e->proto;
    if (e->flags & PF_PORTS) {
        k.has |= 1;
        k.sport = e->sport;
        k.dport = e->dport;
    }
    if (e->flags & PF_SPI) {
        k.has |= 2;
        k.spi = e->spi;
    }
    if (e->flags & PF_CALL) {
        k.has |= 4;
        k.call_id = e->call_id;
    }
    bool created = false;
    uint32_t *slot = table_put(c->unmidx, &k, &created);
    if (!slot) {
        c->dropped_records++;
        return;
    }
    if (created)
        *slot = unm_new(c, &k, e);
    if (*slot == NIL)
        return;
    struct nat_unmatched *u = &c->unm[*slot].u;
    u->packets += e->nfr;
    if (e->ts < u->first_ts)
        u->first_ts = e->ts;
    if (e->ts > u->last_ts)
        u->last_ts = e->ts;
    for (unsigned i = 0; i < e->nfr && i < PENDING_FRAMES; i++) {
        if (u->nframes < UNMATCHED_MAX_FRAMES && u->nframes < 20 && e->frames[i])
            u->frames[u->nframes++] = e->frames[i];
    }
}

/* ---- the pending ring ------------------------------------------------------------------ */

static void chain_unlink(struct nat_corr *c, uint32_t slot)
{
    struct pend *e = &c->ring[slot];
    uint32_t *pp = &c->bucket[e->sig & c->bmask];
    while (*pp != NIL && *pp != slot)
        pp = &c->ring[*pp].hnext;
    if (*pp == slot)
        *pp = e->hnext;
    e->hnext = NIL;
}

void corr_slot_free(struct nat_corr *c, uint32_t slot)
{
    struct pend *e = &c->ring[slot];
    e->flags = 0;
    e->hnext = c->free_head;
    c->free_head = slot;
    c->alive--;
}

/* The FIFO's oldest entry still waiting, or NIL (stale entries are dropped on the way). */
static uint32_t fifo_oldest(struct nat_corr *c)
{
    while (c->head < c->tail) {
        uint64_t v = c->fifo[c->head & c->fmask];
        uint32_t slot = (uint32_t)v;
        const struct pend *e = &c->ring[slot];
        if ((e->flags & PF_ALIVE) && e->gen == (uint32_t)(v >> 32))
            return slot;
        c->head++;
    }
    return NIL;
}

/* The oldest waiting packet leaves as unmatched (expired, or pushed out by the caps). */
static void drop_oldest(struct nat_corr *c, uint32_t slot, bool evicted)
{
    struct pend *e = &c->ring[slot];
    chain_unlink(c, slot);
    if (evicted)
        c->pending_evicted += e->nfr;
    corr_unm_add(c, e);
    corr_slot_free(c, slot);
    c->head++;
}

void corr_expire(struct nat_corr *c, uint64_t now)
{
    for (;;) {
        uint32_t slot = fifo_oldest(c);
        if (slot == NIL || c->ring[slot].ts + c->window >= now)
            return;
        drop_oldest(c, slot, false);
    }
}

void corr_pend_insert(struct nat_corr *c, const struct pend *src)
{
    /* full FIFO or pool: the oldest waiting packet leaves the window early */
    while (c->tail - c->head > c->fmask || (c->free_head == NIL && c->pool_top == c->pool_cap)) {
        uint32_t old = fifo_oldest(c);
        if (old == NIL)
            break;
        drop_oldest(c, old, true);
    }
    if (c->tail - c->head > c->fmask)
        c->head++; /* only stale entries left */
    uint32_t slot;
    if (c->free_head != NIL) {
        slot = c->free_head;
        c->free_head = c->ring[slot].hnext;
    } else if (c->pool_top < c->pool_cap) {
        slot = c->pool_top++;
        c->ring[slot].gen = 0;
    } else {
        return; /* cannot happen: the loop above freed a slot */
    }
    struct pend *e = &c->ring[slot];
    uint32_t gen = e->gen + 1;
    *e = *src;
    e->gen = gen;
    e->flags |= PF_ALIVE;
    c->alive++;
    c->fifo[c->tail & c->fmask] = (uint64_t)gen << 32 | slot;
    c->tail++;
    uint32_t *b = &c->bucket[e->sig & c->bmask];
    e->hnext = *b;
    *b = slot;
}

static int cand_score(struct nat_corr *c, const struct pend *cur, const struct pend *cand)
{
    const struct pend *in = cur->side == SIDE_INSIDE ? cur : cand;
    const struct pend *out = cur->side == SIDE_INSIDE ? cand : cur;
    int s = 0;
    if (ip_addr_eq(&in->src, &out->src) || ip_addr_eq(&in->dst, &out->dst))
        s += 1;
    if (in->ipver == 4 && out->ipver == 4 && in->ip_id == out->ip_id && in->ip_id != 0)
        s += 2;
    if (corr_consistent(c, in, out))
        s += 4;
    return s;
}

/* Finds and unlinks the best counterpart of e on the other side; NIL when none. */
uint32_t corr_find_match(struct nat_corr *c, const struct pend *e)
{
    uint32_t cand[MAX_CAND];
    uint32_t prevs[MAX_CAND];
    unsigned nc = 0;
    uint32_t prev = NIL;
    unsigned same_id = 0; /* candidates with e's IPv4 ID, every one (not only the first MAX_CAND) */
    for (uint32_t i = c->bucket[e->sig & c->bmask]; i != NIL; prev = i, i = c->ring[i].hnext) {
        const struct pend *x = &c->ring[i];
        if (x->sig != e->sig || x->side == e->side || x->proto != e->proto)
            continue;
        if (x->ipver == 4 && e->ipver == 4 && x->ip_id == e->ip_id)
            same_id++;
        if (nc < MAX_CAND) {
            prevs[nc] = prev;
            cand[nc++] = i;
        }
    }
    if (nc == 0)
        return NIL;
    /* no competitor: one candidate, or one with the same IPv4 ID (a NAT that keeps IDs, which
     * single_pair_ok then requires, cannot have turned another into this one); a candidate that
     * was one of several look-alikes before is contested for good (whichever is left last is not
     * proven by elimination) */
    bool sole = nc == 1 || same_id == 1;
    if (!sole)
        for (unsigned k = 0; k < nc; k++)
            c->ring[cand[k]].contested = true;
    unsigned best = 0;
    int best_score = -1;
    bool weak = (e->flags & PF_WEAK) != 0;
    if (nc == 1 && !weak) {
        best_score = 1;
    } else {
        for (unsigned k = 0; k < nc; k++) {
            int s = cand_score(c, e, &c->ring[cand[k]]);
            if (s > best_score ||
                (s == best_score && c->ring[cand[k]].ts < c->ring[cand[best]].ts)) {
                best = k;
                best_score = s;
            }
        }
        /* a weak signature needs a common endpoint, and more when it is ambiguous */
        if (weak && (best_score < 1 || (nc > 1 && best_score < 2)))
            return NIL;
    }
    uint32_t slot = cand[best];
    struct pend *x = &c->ring[slot];
    c->pair_sole = sole && !x->contested && !e->contested;
    if (prevs[best] == NIL)
        c->bucket[e->sig & c->bmask] = x->hnext;
    else
        c->ring[prevs[best]].hnext = x->hnext;
    x->hnext = NIL;
    x->flags &= (uint8_t)~PF_ALIVE;
    return slot;
}
