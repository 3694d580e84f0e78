/* engine.c - one capture point's pipeline: decode -> fragment reassembly -> flow lookup ->
 * VPN-layer demux (by port or learned flow state) -> session model -> nDPI for other flows.
 * Every frame lands in exactly one summary bucket (decoded/truncated/invalid/non_ip/filtered). */
#include "vpnscope/engine.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vpnscope/classify.h"
#include "vpnscope/decode.h"
#include "vpnscope/frag.h"
#include "vpnscope/proto.h"
#include "vpnscope/table.h"

struct engine {
    struct session_model m;
    struct frag_table *frag;
    struct classifier *cls;
    bool own_cls;                /* cls was made by this engine (else engine_opts.classifier) */
    struct classify_flow **pool; /* live nDPI states, index = flow.cls_slot - 1 */
    uint32_t *pool_free;
    uint32_t pool_nfree;
    struct flow_key *pool_key; /* the flow owning each live state */
    uint32_t *ring;            /* slots in allocation order (oldest first) */
    uint32_t ring_head, ring_n;
    struct pkt pkt;
    uint64_t last_ts;
    uint64_t next_expire;
    uint64_t ndpi_states_capped; /* flows that got no nDPI state because the pool was full */
};

/* nDPI 4.2 modules are made and freed one at a time: two side threads doing both at once
 * aborted about one run in 20 (the library is not built for ThreadSanitizer to see why). */
static pthread_mutex_t ndpi_setup_lock = PTHREAD_MUTEX_INITIALIZER;

static void flow_evicted(void *ctx, const void *key, void *val)
{
    (void)key;
    struct engine *e = ctx;
    struct flow *f = val;
    session_flow_release(f);
    if (f->cls_slot && e->pool) {
        uint32_t i = f->cls_slot - 1;
        classify_flow_free(e->pool[i]);
        e->pool[i] = NULL;
        e->pool_free[e->pool_nfree++] = i;
        f->cls_slot = 0;
    }
}

struct engine *engine_new(uint8_t side, const struct engine_opts *o, char *errbuf, unsigned errlen)
{
    struct engine *e = calloc(1, sizeof(*e));
    if (!e) {
        snprintf(errbuf, errlen, "out of memory");
        return NULL;
    }
    if (session_model_init_share(&e->m, side, o ? o->tables_share : 1) != 0) {
        free(e);
        snprintf(errbuf, errlen, "out of memory");
        return NULL;
    }
    /* flows need the eviction hook to release nDPI state */
    table_free(e->m.flows);
    uint32_t flow_max = o && o->flow_max ? o->flow_max : FLOW_MAX;
    e->m.flows = table_new(sizeof(struct flow_key), sizeof(struct flow), flow_max, flow_evicted, e);
    e->frag = frag_new();
    if (!e->m.flows || !e->frag)
        goto oom;
    if (!o || !o->no_ndpi) {
        e->own_cls = !o || !o->classifier;
        if (e->own_cls) {
            pthread_mutex_lock(&ndpi_setup_lock);
            e->cls = classify_new(o && o->all_protocols, errbuf, errlen);
            pthread_mutex_unlock(&ndpi_setup_lock);
        } else {
            e->cls = o->classifier;
        }
        if (!e->cls)
            goto fail;
        e->pool = calloc(CLASSIFY_MAX_LIVE, sizeof(*e->pool));
        e->pool_free = malloc(sizeof(uint32_t) * CLASSIFY_MAX_LIVE);
        e->pool_key = calloc(CLASSIFY_MAX_LIVE, sizeof(*e->pool_key));
        e->ring = malloc(sizeof(uint32_t) * CLASSIFY_MAX_LIVE);
        if (!e->pool || !e->pool_free || !e->pool_key || !e->ring)
            goto oom;
        for (uint32_t i = 0; i < CLASSIFY_MAX_LIVE; i++)
            e->pool_free[i] = CLASSIFY_MAX_LIVE - 1 - i;
        e->pool_nfree = CLASSIFY_MAX_LIVE;
    }
    return e;
oom:
    snprintf(errbuf, errlen, "out of memory");
fail:
    engine_free(e);
    return NULL;
}

/* nDPI's flow states and (when the engine made it) its module; no classification after this.
 * Idempotent. Modules are made and freed one at a time (ndpi_setup_lock): two side threads doing
 * it at once abort inside nDPI now and then. */
static void ndpi_release(struct engine *e)
{
    if (e->pool) {
        for (uint32_t i = 0; i < CLASSIFY_MAX_LIVE; i++)
            classify_flow_free(e->pool[i]);
    }
    free(e->pool);
    free(e->pool_free);
    free(e->pool_key);
    free(e->ring);
    e->pool = NULL;
    e->pool_free = e->ring = NULL;
    e->pool_key = NULL;
    e->pool_nfree = e->ring_n = 0;
    if (e->own_cls) {
        pthread_mutex_lock(&ndpi_setup_lock);
        classify_free(e->cls);
        pthread_mutex_unlock(&ndpi_setup_lock);
    }
    e->cls = NULL;
    e->own_cls = false;
}

void engine_free(struct engine *e)
{
    if (!e)
        return;
    ndpi_release(e);
    frag_free(e->frag);
    session_model_free(&e->m);
    free(e);
}

struct session_model *engine_model(struct engine *e)
{
    return &e->m;
}

const struct session_model *engine_model_const(const struct engine *e)
{
    return &e->m;
}

uint64_t engine_bytes(const struct engine *e)
{
    const struct session_model *m = &e->m;
    uint64_t b = sizeof(*e) + table_bytes(m->flows) + table_bytes(m->ike) + table_bytes(m->ipsec) +
                 table_bytes(m->pptp) + table_bytes(m->gre) + table_bytes(m->l2tp);
    b += frag_mem_bytes(e->frag);
    if (e->pool)
        b += (uint64_t)(CLASSIFY_MAX_LIVE - e->pool_nfree) * 700u;
    return b;
}

static bool is_ike_port(uint16_t p)
{
    return p == PORT_IKE || p == PORT_NATT;
}

/* A UDP flow on ports that say nothing: IKE of an SA already known (with or without the non-ESP
 * marker) teaches the flow that it carries IKE / NAT-T, so its ESP-in-UDP is decoded as such
 * even though a NAT or the peers' configuration moved it off 500/4500. */
static enum app_hint learn_hint(struct session_model *m, struct flow *f, const struct pkt *p)
{
    if (p->l4proto != IPP_UDP || p->payload_len < 28 || p->sport == PORT_L2TP ||
        p->dport == PORT_L2TP)
        return HINT_NONE;
    uint64_t ispi;
    uint8_t version;
    bool marker;
    if (!natt_probe(p->payload, p->payload_len, &ispi, &version, &marker))
        return HINT_NONE;
    struct ike_sa_key k;
    memset(&k, 0, sizeof(k));
    k.ispi = ispi;
    k.version = version;
    if (!table_get(m->ike, &k, false))
        return HINT_NONE;
    f->hint = marker ? HINT_NATT : HINT_IKE;
    return (enum app_hint)f->hint;
}

static void frag_cb(void *ctx, const struct frag_info *fi)
{
    struct engine *e = ctx;
    session_fragment(&e->m, fi, false);
}

/* Ends nDPI's work on a flow: records its label (nDPI's guess when it had not decided) and frees
 * the state. */
static void classify_final(struct engine *e, struct flow *f, bool giveup)
{
    uint32_t i = f->cls_slot - 1;
    struct classify_label lab;
    classify_result(e->cls, e->pool[i], giveup, &lab);
    f->app = session_label(lab.name);
    f->is_vpn = lab.is_vpn;
    f->guessed = lab.guessed;
    f->classified = true;
    classify_flow_free(e->pool[i]);
    e->pool[i] = NULL;
    e->pool_free[e->pool_nfree++] = i;
    f->cls_slot = 0;
}

/* A free nDPI state slot; when all are taken, the oldest flow still being classified is made to
 * decide now (so long-lived undecided flows cannot starve new ones). */
static bool pool_slot(struct engine *e, uint32_t *slot)
{
    while (!e->pool_nfree && e->ring_n) {
        uint32_t i = e->ring[e->ring_head];
        e->ring_head = (e->ring_head + 1) % CLASSIFY_MAX_LIVE;
        e->ring_n--;
        if (!e->pool[i])
            continue;
        struct flow *f = table_get(e->m.flows, &e->pool_key[i], false);
        if (f && f->cls_slot == i + 1) {
            classify_final(e, f, true);
        } else { /* orphan (cannot happen: eviction frees states) */
            classify_flow_free(e->pool[i]);
            e->pool[i] = NULL;
            e->pool_free[e->pool_nfree++] = i;
        }
        e->ndpi_states_capped++;
    }
    if (!e->pool_nfree)
        return false;
    *slot = e->pool_free[--e->pool_nfree];
    return true;
}

/* nDPI on flows vpnscope does not decode itself, and only on their first packets. */
static void classify(struct engine *e, struct flow *f, const struct flow_key *key,
                     const struct pkt *p)
{
    if (!e->cls || f->classified || f->vpn != VPN_NONE || !p->l3 || p->is_frag)
        return;
    if (!f->cls_slot) {
        uint32_t i;
        if (!pool_slot(e, &i))
            return;
        e->pool[i] = classify_flow_new(e->cls);
        if (!e->pool[i]) {
            e->pool_free[e->pool_nfree++] = i;
            return;
        }
        e->pool_key[i] = *key;
        e->ring[(e->ring_head + e->ring_n) % CLASSIFY_MAX_LIVE] = i;
        e->ring_n++;
        f->cls_slot = i + 1;
    }
    struct classify_flow *cf = e->pool[f->cls_slot - 1];
    bool final = classify_packet(e->cls, cf, p->l3, p->l3_len, p->ts_us);
    /* only packets that carry data count: TCP handshakes and bare ACKs teach nDPI little */
    if (p->payload_len || (p->l4proto != IPP_TCP && p->l4proto != IPP_UDP))
        f->cls_pkts++;
    if (f->cls_all < 255)
        f->cls_all++;
    if (final || f->cls_pkts >= CLASSIFY_MAX_PACKETS || f->cls_all >= 4 * CLASSIFY_MAX_PACKETS)
        classify_final(e, f, !final);
}

static void count_status(struct session_model *m, const struct pkt *p)
{
    struct session_counts *c = &m->c;
    switch (p->status) {
    case PKT_DECODED:
        c->decoded++;
        break;
    case PKT_TRUNCATED:
        c->truncated++;
        break;
    case PKT_INVALID:
        c->invalid++;
        break;
    case PKT_NON_IP:
        c->non_ip++;
        break;
    }
    for (unsigned i = 0; i < p->n_anom && i < 8; i++)
        if (p->anom[i] < ANOM__COUNT)
            c->anomalies[p->anom[i]]++;
    for (unsigned k = 1; p->encap_mask && k < ENCAP__COUNT; k++)
        if (p->encap_mask & (1u << k))
            c->encap[k]++;
    if (p->wirelen > p->caplen) {
        c->snap_cut++;
        if (p->status == PKT_TRUNCATED && p->vpn < VPN__COUNT)
            c->snap_cut_vpn[p->vpn]++;
    }
}

/* Decoded, or a UDP datagram the snaplen cut: the application decoders read the captured part
 * of its payload (an IKE header, SPIs and message ID survive a 96-byte snaplen) and record their
 * own truncation. */
static bool payload_readable(const struct pkt *p)
{
    if (p->status == PKT_DECODED)
        return true;
    return p->status == PKT_TRUNCATED && p->l4proto == IPP_UDP && p->has_ports && p->payload &&
           p->wirelen > p->caplen;
}

const struct pkt *engine_packet(struct engine *e, const struct raw_pkt *raw)
{
    struct session_model *m = &e->m;
    struct session_counts *c = &m->c;
    c->packets++;
    if (!c->first_ts || raw->ts_us < c->first_ts)
        c->first_ts = raw->ts_us;
    if (raw->ts_us > c->last_ts)
        c->last_ts = raw->ts_us;
    if (raw->filtered) {
        c->filtered++;
        return NULL;
    }
    c->bytes += raw->len;
    struct pkt *p = &e->pkt;
    p->ts_us = raw->ts_us;
    p->frame = raw->frame;
    p->caplen = raw->caplen;
    p->wirelen = raw->len;
    p->dlt = raw->dlt;
    p->side = m->side;
    p->ifidx = raw->ifidx;
    p->sll_pkttype = 0xffff;
    decode_packet(p, raw->data, raw->caplen);
    if (raw->caplen > raw->len)
        pkt_anom(p, ANOM_CAPLEN_GT_LEN);
    if (raw->ts_us + 1000000u < e->last_ts)
        pkt_anom(p, ANOM_TS_BACKWARDS);
    if (raw->ts_us > e->last_ts)
        e->last_ts = raw->ts_us;

    if (p->ipver && p->ts_us >= e->next_expire) {
        frag_expire(e->frag, p->ts_us, frag_cb, e);
        e->next_expire = p->ts_us + 1000000u;
    }
    if (p->ipver && p->is_frag && p->status == PKT_DECODED) {
        frag_expire(e->frag, p->ts_us, frag_cb,
                    e); /* O(1) when nothing is due; reports evictions */
        struct frag_info fi;
        const uint8_t *data = NULL;
        uint32_t len = 0;
        int rc = frag_add(e->frag, p, &fi, &data, &len);
        if (rc == FRAG_COMPLETE) {
            p->reassembled = true;
            decode_l4(p, fi.proto, data, len);
            struct flow *f = NULL;
            int dir = 0;
            if (p->has_ports || p->vpn != VPN_NONE)
                f = session_flow(m, p, &dir);
            if (p->l4proto == IPP_UDP || p->l4proto == IPP_TCP)
                decode_app(p, f ? (enum app_hint)f->hint : HINT_NONE);
            session_fragment(m, &fi, p->vpn == VPN_IKE);
            if (f)
                session_update(m, p, f, dir);
            else
                session_update(m, p, NULL, 0);
        }
        count_status(m, p);
        return p;
    }
    if (p->ipver && p->status != PKT_NON_IP && p->l4) {
        int dir = 0;
        struct flow *f = session_flow(m, p, &dir);
        if (payload_readable(p) && (p->l4proto == IPP_UDP || p->l4proto == IPP_TCP)) {
            enum app_hint hint = f ? (enum app_hint)f->hint : HINT_NONE;
            if (p->l4proto == IPP_UDP && (is_ike_port(p->sport) || is_ike_port(p->dport)))
                hint = HINT_NONE; /* ports decide */
            else if (p->l4proto == IPP_UDP && f && hint == HINT_NONE && f->vpn == VPN_NONE)
                hint = learn_hint(m, f, p);
            decode_app(p, hint);
        }
        session_update(m, p, f, dir);
        if (f && !f->classified && f->vpn == VPN_NONE) {
            struct flow_key k;
            session_flow_key(m, f, &k);
            classify(e, f, &k, p);
        }
    }
    count_status(m, p);
    return p;
}

void engine_tick(struct engine *e, uint64_t now_us)
{
    if (now_us >= e->next_expire) {
        frag_expire(e->frag, now_us, frag_cb, e);
        e->next_expire = now_us + 1000000u;
    }
}

void engine_finish(struct engine *e)
{
    struct session_model *m = &e->m;
    frag_expire(e->frag, UINT64_MAX, frag_cb, e);
    if (e->cls) {
        for (uint32_t i = 0; i < table_slots(m->flows); i++) {
            struct flow *f = table_slot(m->flows, i, NULL);
            if (f && f->cls_slot)
                classify_final(e, f, true);
        }
    }
    /* nothing is classified after the end of input: nDPI goes before session_finish, detection
     * and the report, whose allocations reuse its memory (15,000 clients: -4.9 MB peak RSS; the
     * SA index session_finish makes, 1.2 MB, before nDPI went: +1.7 MB more) */
    ndpi_release(e);
    session_finish(m);
}
