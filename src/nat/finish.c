/* finish.c - the end of a correlation: remaining packets become unmatched, mappings are kept,
 * sorted and attributed, and the nat_result is filled (nat_corr_finish, nat.h). */
#include "corr_int.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "vpnscope/proto.h"
#include "vpnscope/session.h"

static int cmp_mint(const void *a, const void *b)
{
    const struct mint *x = *(const struct mint *const *)a;
    const struct mint *y = *(const struct mint *const *)b;
    if (x->m.first_ts != y->m.first_ts)
        return x->m.first_ts < y->m.first_ts ? -1 : 1;
    return memcmp(&x->key, &y->key, sizeof(x->key));
}

static int cmp_unm(const void *a, const void *b)
{
    const struct uint_rec *x = a;
    const struct uint_rec *y = b;
    if (x->u.first_ts != y->u.first_ts)
        return x->u.first_ts < y->u.first_ts ? -1 : 1;
    return memcmp(&x->key, &y->key, sizeof(x->key));
}

static void learn_nat_addrs(struct nat_corr *c, struct nat_result *res)
{
    if (c->o.n_nat_addrs > 0) {
        for (int i = 0; i < c->o.n_nat_addrs && i < 8; i++)
            res->nat_addrs[i] = c->o.nat_addrs[i];
        res->n_nat_addrs = (uint8_t)(c->o.n_nat_addrs < 8 ? c->o.n_nat_addrs : 8);
        return;
    }
    struct cand {
        struct ip_addr a;
        uint64_t n;
    } cand[64];
    unsigned nc = 0;
    for (size_t i = 0; i < res->n_map; i++) {
        const struct nat_mapping *m = &res->map[i];
        if (!m->translated || ip_addr_eq(&m->inside.ip, &m->outside.ip))
            continue;
        unsigned j = 0;
        while (j < nc && !ip_addr_eq(&cand[j].a, &m->outside.ip))
            j++;
        if (j == nc) {
            if (nc == 64)
                continue;
            cand[nc].a = ip_norm(&m->outside.ip);
            cand[nc].n = 0;
            nc++;
        }
        cand[j].n += m->pairs;
    }
    /* by evidence, then address: deterministic */
    for (unsigned i = 1; i < nc; i++) {
        for (unsigned j = i; j > 0; j--) {
            bool before = cand[j].n > cand[j - 1].n ||
                          (cand[j].n == cand[j - 1].n &&
                           memcmp(&cand[j].a, &cand[j - 1].a, sizeof(cand[j].a)) < 0);
            if (!before)
                break;
            struct cand t = cand[j];
            cand[j] = cand[j - 1];
            cand[j - 1] = t;
        }
    }
    res->n_nat_addrs = (uint8_t)(nc < 8 ? nc : 8);
    for (unsigned i = 0; i < res->n_nat_addrs; i++)
        res->nat_addrs[i] = cand[i].a;
}

static bool res_is_nat_addr(const struct nat_result *res, const struct ip_addr *a)
{
    for (unsigned i = 0; i < res->n_nat_addrs; i++)
        if (ip_addr_eq(&res->nat_addrs[i], a))
            return true;
    return false;
}

/* Direction and mapping of an unmatched record (final indexes). */
static void resolve_unmatched(struct nat_corr *c, struct nat_result *res, struct nat_unmatched *u)
{
    struct pend e;
    memset(&e, 0, sizeof(e));
    e.src = u->src;
    e.dst = u->dst;
    if (u->has_ports) {
        e.flags |= PF_PORTS;
        e.sport = u->sport;
        e.dport = u->dport;
    }
    struct ident cl;
    struct ident pe;
    for (int d = 0; d < 2; d++) {
        corr_flow_ident(&e, d == DIR_TO_PEER, &cl, &pe);
        uint32_t mi = corr_flow_lookup(c, u->proto, u->side, &cl, &pe);
        if (mi != NIL && c->maps[mi].final_idx >= 0) {
            u->direction = (uint8_t)d;
            u->mapping = c->maps[mi].final_idx;
            struct nat_mapping *m = &res->map[u->mapping];
            if (d == DIR_TO_PEER) {
                if (u->side == SIDE_INSIDE)
                    m->to_peer_inside += u->packets;
                else
                    m->to_peer_outside += u->packets;
            } else {
                if (u->side == SIDE_INSIDE)
                    m->from_peer_inside += u->packets;
                else
                    m->from_peer_outside += u->packets;
            }
            return;
        }
    }
    u->mapping = -1;
    if (u->side == SIDE_OUTSIDE) {
        if (res_is_nat_addr(res, &u->dst))
            u->direction = DIR_FROM_PEER;
        else if (res_is_nat_addr(res, &u->src))
            u->direction = DIR_TO_PEER;
        else
            u->direction = ip_addr_is_private(&u->dst) ? DIR_FROM_PEER : DIR_TO_PEER;
    } else {
        bool sp = ip_addr_is_private(&u->src);
        bool dp = ip_addr_is_private(&u->dst);
        u->direction = (!sp && dp) ? DIR_FROM_PEER : DIR_TO_PEER;
    }
}

/* A note when the pairs show one direction only (in one capture or in both). */
static void one_direction_message(const struct nat_corr *c, struct nat_result *res)
{
    if (!res->message[0] && c->pairs >= 10) {
        uint64_t tp_in = 0, tp_out = 0, fp_in = 0, fp_out = 0;
        for (size_t i = 0; i < res->n_map; i++) {
            tp_in += res->map[i].to_peer_inside;
            tp_out += res->map[i].to_peer_outside;
            fp_in += res->map[i].from_peer_inside;
            fp_out += res->map[i].from_peer_outside;
        }
        if (fp_in == 0 && fp_out == 0)
            snprintf(res->message, sizeof(res->message),
                     "only packets toward the peers appear in both captures (%" PRIu64
                     " pairs): one direction was not captured or not routed through this router",
                     c->pairs);
        else if (tp_in == 0 && tp_out == 0)
            snprintf(res->message, sizeof(res->message),
                     "only packets from the peers appear in both captures (%" PRIu64
                     " pairs): one direction was not captured or not routed through this router",
                     c->pairs);
        else if ((tp_in == 0) != (fp_in == 0))
            snprintf(res->message, sizeof(res->message),
                     "the inside capture holds one direction only (%s the peers)",
                     tp_in ? "toward" : "from");
        else if ((tp_out == 0) != (fp_out == 0))
            snprintf(res->message, sizeof(res->message),
                     "the outside capture holds one direction only (%s the peers)",
                     tp_out ? "toward" : "from");
    }
}

/* The mappings kept, in creation order, into order (corr_mapping_kept). */
static size_t select_mappings(struct nat_corr *c, struct mint **order)
{
    struct corr_nat_addrs na;
    corr_nat_addrs(c, &na);
    size_t nk = 0;
    for (size_t i = 0; i < c->n_maps; i++) {
        c->maps[i].final_idx = -1;
        if (corr_mapping_kept(&c->maps[i], &na))
            order[nk++] = &c->maps[i];
    }
    return nk;
}

int nat_corr_finish(struct nat_corr *c, struct nat_result *res)
{
    corr_expire(c, UINT64_MAX);
    for (uint32_t i = 0; i < table_slots(c->fgroups); i++) {
        const void *k;
        struct fgval *v = table_slot(c->fgroups, i, &k);
        if (v) {
            corr_fg_flush(c, k, v);
            v->done = true;
        }
    }

    /* keep mappings with a strong pair, or at least two weak ones */
    struct mint **order = malloc((c->n_maps ? c->n_maps : 1) * sizeof(*order));
    if (!order)
        return -1;
    size_t nk = select_mappings(c, order);
    if (nk > 1)
        qsort(order, nk, sizeof(*order), cmp_mint);
    res->map = calloc(nk ? nk : 1, sizeof(struct nat_mapping));
    if (!res->map) {
        free(order);
        return -1;
    }
    res->cap_map = nk;
    for (size_t i = 0; i < nk; i++)
        order[i]->final_idx = (int32_t)i;
    for (size_t i = 0; i < nk; i++) {
        res->map[i] = order[i]->m;
        /* the next kept record of the same inside flow (skipping dropped weak ones) */
        int32_t nx = -1;
        for (uint32_t j = order[i]->next, hops = 0; j != NIL && hops < 64 && nx < 0;
             j = c->maps[j].next, hops++)
            nx = c->maps[j].final_idx;
        res->map[i].next_same_inside = nx;
    }
    res->n_map = nk;
    free(order);

    learn_nat_addrs(c, res);

    if (c->n_unm > 1)
        qsort(c->unm, c->n_unm, sizeof(*c->unm), cmp_unm);
    res->unm = calloc(c->n_unm ? c->n_unm : 1, sizeof(struct nat_unmatched));
    if (!res->unm)
        return -1;
    res->cap_unm = c->n_unm;
    for (size_t i = 0; i < c->n_unm; i++) {
        res->unm[i] = c->unm[i].u;
        resolve_unmatched(c, res, &res->unm[i]);
    }
    res->n_unm = c->n_unm;

    res->matched_packets = c->pairs;
    res->inside_only = c->only[SIDE_INSIDE];
    res->outside_only = c->only[SIDE_OUTSIDE];
    res->uncovered = c->uncovered;
    res->pending_evicted = c->pending_evicted;
    res->dropped_records = c->dropped_records;

    one_direction_message(c, res);
    return c->oom ? -1 : 0;
}
