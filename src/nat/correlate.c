/* correlate.c - pairs the packets of an inside and an outside capture of one NAT router and
 * rebuilds the router's mappings with the evidence for each (nat.h). */
#include "corr_int.h"

#include <arpa/inet.h>
#include <stdlib.h>

#include "vpnscope/config.h"
#include "vpnscope/proto.h"
#include "vpnscope/rd.h"
#include "vpnscope/session.h"

/*
 * How it works (no identifier is assumed to survive the NAT: addresses, ports, IP IDs, ICMP
 * echo ids and PPTP Call IDs may all be rewritten):
 * - every decoded packet gets a NAT-invariant signature (nat_pkt_sig, signature.c);
 * - packets wait in a pending pool (NAT_PENDING_MAX, a slot freed as soon as it pairs) indexed by
 *   signature, with a time-ordered FIFO of (slot, generation) for expiry; a packet
 *   whose signature waits on the other side within NAT_WINDOW_US is paired with it (the best of
 *   several candidates: consistent with a known mapping, same IPv4 ID, a common endpoint, oldest;
 *   pending.c);
 * - a pair gives a direction (which endpoint the router rewrote, else TTL order, else addresses)
 *   and the identities of the client inside and outside and of the peer; the mapping with those
 *   identities is created or updated with the evidence bits the pair proves (mapping.c);
 * - IP fragments are followed per datagram: the engine reassembles, the datagram is paired by the
 *   signature of its whole payload (IPv6 routers re-fragment under a new ID), and all its fragments
 *   count as matched or unmatched together (frag_groups.c);
 * - PPTP: paired control messages (TCP, matched by seq/ack since the helper rewrites the Call ID
 *   in the payload) teach the client's Call ID on each side and the server's; GRE pairs are
 *   keyed by them (pptp_calls.c);
 * - IKE NAT-D: the client's NAT_DETECTION_SOURCE_IP hash is recomputed from the inside and from
 *   the outside address:port; neither matching means a random address (forced encapsulation;
 * mapping.c);
 * - packets that leave the window unpaired are aggregated into unmatched records, attributed to
 *   a mapping and a direction at the end (pending.c, finish.c).
 * Limitations: weak signatures (keepalives, tiny payloads) never create a mapping on their own
 * (mappings with only weak pairs and fewer than 2 of them are dropped); GRE seen without its
 * control messages gives one mapping per direction (the other side's Call ID is unknown); a NAT
 * that rewrites both addresses of a packet (twice NAT) is paired but its direction is from TTL.
 */

/* ---- lifetime -------------------------------------------------------------------------- */

struct nat_corr *nat_corr_new(const struct nat_corr_opts *o)
{
    struct nat_corr *c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    if (o)
        c->o = *o;
    c->window = c->o.window_us ? c->o.window_us : NAT_WINDOW_US;
    uint32_t cap = 1;
    while (cap < NAT_PENDING_MAX)
        cap <<= 1;
    c->pool_cap = cap;
    c->free_head = NIL;
    c->fmask = NAT_PENDING_FIFO - 1;
    /* few packets wait at a time (router latency): a small index stays in cache */
    uint32_t nb = cap / 4 >= 1024 ? cap / 4 : 1024;
    c->bmask = nb - 1;
    /* slots are touched only as packets wait at once (freed slots are reused first) */
    c->ring = malloc(sizeof(struct pend) * cap);
    c->fifo = malloc(sizeof(uint64_t) * NAT_PENDING_FIFO);
    c->bucket = malloc(sizeof(uint32_t) * (size_t)nb);
    c->mc = calloc(MC_SIZE, sizeof(struct mcache));
    c->mapidx = table_new(sizeof(struct mkey), sizeof(uint32_t), NAT_MAP_MAX, NULL, NULL);
    c->flowidx = table_new(sizeof(struct fkey), sizeof(uint32_t), NAT_MAP_MAX * 2, NULL, NULL);
    c->unmidx = table_new(sizeof(struct ukey), sizeof(uint32_t), NAT_UNMATCHED_MAX, NULL, NULL);
    c->calls = table_new(sizeof(struct ckey), sizeof(struct cval), NAT_PPTP_CALLS * 2, NULL, NULL);
    c->fgroups = table_new(sizeof(struct fgkey), sizeof(struct fgval), NAT_FRAG_GROUPS * 2,
                           corr_fg_evict, c);
    if (!c->ring || !c->fifo || !c->bucket || !c->mc || !c->mapidx || !c->flowidx || !c->unmidx ||
        !c->calls || !c->fgroups) {
        nat_corr_free(c);
        return NULL;
    }
    memset(c->bucket, 0xff, sizeof(uint32_t) * (size_t)nb);
    return c;
}

void nat_corr_cover(struct nat_corr *c, uint8_t side, uint64_t to_us)
{
    if (c && (side == SIDE_INSIDE || side == SIDE_OUTSIDE))
        c->o.cover_side_to_us[side] = to_us;
}

void nat_corr_free(struct nat_corr *c)
{
    if (!c)
        return;
    free(c->ring);
    free(c->fifo);
    free(c->bucket);
    free(c->mc);
    free(c->natd_pkt);
    free(c->maps);
    free(c->unm);
    table_free(c->mapidx);
    table_free(c->flowidx);
    table_free(c->unmidx);
    table_free(c->calls);
    table_free(c->fgroups);
    free(c);
}

/* ---- packets --------------------------------------------------------------------------- */

static inline uint64_t mix64(uint64_t h)
{
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ull;
    h ^= h >> 33;
    return h;
}

/* Hash of what decides a pair's mapping: addresses, ports, echo id, GRE Call ID, protocol. */
static uint64_t tuple_hash(const struct pend *e)
{
    uint64_t h;
    if (e->src.v == 4 && e->dst.v == 4) {
        uint32_t s4;
        uint32_t d4;
        memcpy(&s4, e->src.a, 4);
        memcpy(&d4, e->dst.a, 4);
        h = (uint64_t)ntohl(s4) << 32 | ntohl(d4); /* the addresses' bytes in order */
    } else {
        h = hash_bytes(e->src.a, 16) ^ (hash_bytes(e->dst.a, 16) * 0x9e3779b97f4a7c15ull) ^
            ((uint64_t)e->src.v << 4 | e->dst.v);
    }
    uint64_t x = (uint64_t)e->sport << 48 | (uint64_t)e->dport << 32 | (uint64_t)e->icmp_id << 16 |
                 e->call_id;
    uint64_t y = (uint64_t)e->proto << 8 |
                 (e->flags & (PF_PORTS | PF_ECHO | PF_CALL | PF_ICMP_ERR)) |
                 (uint64_t)e->gre_ver << 16;
    return mix64(mix64(h) ^ x) ^ mix64(y + 0x632be59bd9b4e019ull);
}

static void pend_fill(struct pend *e, uint8_t side, const struct pkt *p, const struct nat_sig *s)
{
    memset(e, 0, sizeof(*e));
    e->sig = s->h;
    e->ts = p->ts_us;
    e->frames[0] = p->frame;
    e->nfr = 1;
    e->src = ip_norm(&p->src);
    e->dst = ip_norm(&p->dst);
    e->proto = p->l4proto;
    e->side = side;
    e->ttl = p->ttl;
    e->ipver = p->ipver;
    e->ip_id = p->ip_id;
    e->ip_len = p->ip_len;
    e->ev = s->ev;
    e->hnext = NIL;
    e->vpn = p->vpn != VPN_NONE;
    if (s->weak)
        e->flags |= PF_WEAK;
    if (p->has_ports && (p->l4proto == IPP_TCP || p->l4proto == IPP_UDP)) {
        e->flags |= PF_PORTS;
        e->sport = p->sport;
        e->dport = p->dport;
    }
    if (ip_proto_is_icmp(p->l4proto)) {
        bool echo = p->l4proto == IPP_ICMP ? (p->icmp_type == 0 || p->icmp_type == 8)
                                           : (p->icmp_type == 128 || p->icmp_type == 129);
        if (echo) {
            e->flags |= PF_ECHO;
            e->icmp_id = p->icmp_id;
        } else {
            e->flags |= PF_ICMP_ERR;
        }
    }
    if (p->vpn == VPN_ESP || p->vpn == VPN_AH) {
        e->flags |= PF_SPI;
        e->spi = p->vpn == VPN_ESP ? p->esp.spi : p->ah.spi;
    }
    if (p->vpn == VPN_GRE) {
        e->gre_ver = p->gre.version;
        if (p->gre.version == 1) {
            e->flags |= PF_CALL;
            e->call_id = p->gre.call_id;
        }
    }
    if (p->vpn == VPN_PPTP) {
        e->flags |= PF_PPTP;
        e->pptp_type = (uint8_t)p->pptp.ctrl_type;
        e->pptp_call = p->pptp.call_id;
        e->pptp_peer = p->pptp.peer_call_id;
        e->pptp_has = (uint8_t)((p->pptp.has_call_id ? 1 : 0) | (p->pptp.has_peer_call_id ? 2 : 0));
    }
    e->fh = tuple_hash(e);
}

static void match_or_wait(struct nat_corr *c, const struct pend *e, const struct pkt *cur)
{
    uint32_t slot = corr_find_match(c, e);
    if (slot == NIL) {
        corr_pend_insert(c, e);
        return;
    }
    const struct pend *o = &c->ring[slot];
    if (e->side == SIDE_INSIDE)
        corr_on_pair(c, e, o, cur);
    else
        corr_on_pair(c, o, e, cur);
    c->pair_sole = false; /* set by corr_find_match for this pair only */
    corr_slot_free(c, slot);
}

/* ---- correlation records ---------------------------------------------------------------- */

_Static_assert(sizeof(struct rec_body) <= sizeof(((struct nat_rec *)0)->body),
               "NAT_REC_WORDS too small for the correlator's record");
_Static_assert(_Alignof(struct rec_body) <= _Alignof(uint64_t), "record body alignment");

static void natd_fill(struct nat_rec *r, struct rec_body *b, const struct pkt *p)
{
    if (p->vpn != VPN_IKE || p->ike.n_natd == 0)
        return;
    r->has_natd = true;
    b->ispi = p->ike.ispi;
    b->rspi = p->ike.rspi;
    b->n_natd = p->ike.n_natd < IKE_MAX_NATD ? p->ike.n_natd : IKE_MAX_NATD;
    memcpy(b->natd, p->ike.natd, sizeof(b->natd[0]) * b->n_natd);
}

/* The fragment's part of its datagram group. */
static void fg_fill(struct fg_in *f, const struct pkt *p)
{
    memset(f, 0, sizeof(*f));
    f->src = ip_norm(&p->src);
    f->dst = ip_norm(&p->dst);
    f->ts = p->ts_us;
    f->frame = p->frame;
    f->id = p->ip_id;
    f->l4proto = p->l4proto;
    f->ipver = p->ipver;
    if (p->frag_off == 0 && (p->l4proto == IPP_TCP || p->l4proto == IPP_UDP)) {
        /* ports of an incomplete datagram, for its unmatched record */
        struct rd rr = rd_init(p->frag_data, p->frag_data_len);
        uint16_t sp = rd_be16(&rr);
        uint16_t dp = rd_be16(&rr);
        if (rd_ok(&rr)) {
            f->has_ports = true;
            f->sport = sp;
            f->dport = dp;
        }
    }
}

void nat_rec_make(struct nat_rec *r, uint8_t side, const struct pkt *p)
{
    r->ts = p->ts_us;
    r->side = side;
    r->kind = NAT_REC_TIME;
    r->reassembled = r->has_pend = r->has_natd = false;
    if (!p->ipver || p->status == PKT_NON_IP)
        return;
    struct rec_body *b = (struct rec_body *)(void *)r->body;
    struct nat_sig s;
    if (p->is_frag) {
        r->kind = NAT_REC_FRAG;
        fg_fill(&b->fg, p);
        if (!p->reassembled)
            return;
        r->reassembled = true;
        nat_pkt_sig(p, &s);
        if (!s.h)
            return; /* no L4 to pair the datagram by: its fragments are unmatched */
    } else {
        nat_pkt_sig(p, &s);
        if (!s.h)
            return;
        r->kind = NAT_REC_PKT;
    }
    pend_fill(&b->e, side, p, &s);
    r->has_pend = true;
    natd_fill(r, b, p);
}

/* The packet whose IKE NAT-D payloads a pair checks (mapping.c reads its vpn and ike fields). */
static const struct pkt *natd_pkt(struct nat_corr *c, const struct nat_rec *r,
                                  const struct rec_body *b)
{
    if (!r->has_natd)
        return NULL;
    if (!c->natd_pkt && !(c->natd_pkt = calloc(1, sizeof(*c->natd_pkt))))
        return NULL;
    struct pkt *p = c->natd_pkt;
    p->vpn = VPN_IKE;
    p->ike.ispi = b->ispi;
    p->ike.rspi = b->rspi;
    p->ike.n_natd = b->n_natd;
    memcpy(p->ike.natd, b->natd, sizeof(b->natd[0]) * b->n_natd);
    return p;
}

void nat_corr_rec(struct nat_corr *c, const struct nat_rec *r)
{
    if (r->kind == NAT_REC_NONE || (r->side != SIDE_INSIDE && r->side != SIDE_OUTSIDE))
        return;
    if (r->ts > c->now) {
        c->now = r->ts;
        corr_expire(c, c->now);
    }
    const struct rec_body *b = (const struct rec_body *)(const void *)r->body;
    struct pend e;
    if (r->kind == NAT_REC_FRAG) {
        struct fgval *g = corr_fg_add(c, r->side, &b->fg);
        if (!r->reassembled || !g)
            return;
        g->done = r->has_pend;
        if (!r->has_pend)
            return;
        e = b->e;
        e.nfr = g->nfr;
        memcpy(e.frames, g->frames, sizeof(e.frames));
        if (g->nfr > 1)
            e.ev |= NAT_EV_FRAGMENT;
        match_or_wait(c, &e, natd_pkt(c, r, b));
        return;
    }
    if (r->kind != NAT_REC_PKT || !r->has_pend)
        return;
    match_or_wait(c, &b->e, natd_pkt(c, r, b)); /* read in place: the record outlives the call */
}

void nat_corr_packet(struct nat_corr *c, uint8_t side, const struct pkt *p)
{
    if (!p || (side != SIDE_INSIDE && side != SIDE_OUTSIDE))
        return;
    struct nat_rec r;
    nat_rec_make(&r, side, p);
    nat_corr_rec(c, &r);
}
