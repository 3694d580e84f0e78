/* correlate.c - pairs the packets of an inside and an outside capture of one NAT router and
 * rebuilds the router's mappings with the evidence for each (nat.h). */
#include "vpnscope/nat.h"
#include "vpnscope/natd.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vpnscope/config.h"
#include "vpnscope/pkt.h"
#include "vpnscope/rd.h"
#include "vpnscope/session.h"
#include "vpnscope/table.h"

/*
 * How it works (STYLE.md §5: identifiers are not assumed to survive NAT):
 * - every decoded packet gets a NAT-invariant signature (nat_pkt_sig);
 * - packets wait in a pending pool (NAT_PENDING_MAX, a slot freed as soon as it pairs) indexed by
 *   signature, with a time-ordered FIFO of (slot, generation) for expiry; a packet
 *   whose signature waits on the other side within NAT_WINDOW_US is paired with it (the best of
 *   several candidates: consistent with a known mapping, same IPv4 ID, a common endpoint, oldest);
 * - a pair gives a direction (which endpoint the router rewrote, else TTL order, else addresses)
 *   and the identities of the client inside and outside and of the peer; the mapping with those
 *   identities is created or updated with the evidence bits the pair proves;
 * - IP fragments are followed per datagram: the engine reassembles, the datagram is paired by the
 *   signature of its whole payload (IPv6 routers re-fragment under a new ID), and all its fragments
 *   count as matched or unmatched together;
 * - PPTP: paired control messages (TCP, matched by seq/ack since the helper rewrites the Call ID
 *   in the payload) teach the client's Call ID on each side and the server's; GRE pairs are
 *   keyed by them;
 * - IKE NAT-D: the client's NAT_DETECTION_SOURCE_IP hash is recomputed from the inside and from
 *   the outside address:port; neither matching means a random address (forced encapsulation);
 * - packets that leave the window unpaired are aggregated into unmatched records, attributed to
 *   a mapping and a direction at the end.
 * Limitations: weak signatures (keepalives, tiny payloads) never create a mapping on their own
 * (mappings with only weak pairs and fewer than 2 of them are dropped); GRE seen without its
 * control messages gives one mapping per direction (the other side's Call ID is unknown); a NAT
 * that rewrites both addresses of a packet (twice NAT) is paired but its direction is from TTL.
 */

#define NIL 0xffffffffu
#define MAX_CAND 8

enum { DIR_TO_PEER = 0, DIR_FROM_PEER = 1 };

/* pending entry flags */
#define PF_ALIVE 0x01
#define PF_WEAK 0x02
#define PF_PORTS 0x04
#define PF_SPI 0x08
#define PF_CALL 0x10
#define PF_ECHO 0x20
#define PF_PPTP 0x40
#define PF_ICMP_ERR 0x80

#define PENDING_FRAMES 4

struct pend {
    uint64_t sig;
    uint64_t ts;
    uint64_t fh; /* hash of the packet's addresses, ports / ids and protocol (mapping cache) */
    uint64_t frames[PENDING_FRAMES];
    struct ip_addr src, dst;
    uint8_t proto, side, ttl, ipver;
    uint32_t hnext;
    uint32_t spi;
    uint32_t ip_id;
    uint32_t ip_len;
    uint32_t ev;
    uint32_t gen; /* slot generation (FIFO entries of a reused slot are stale) */
    uint16_t nfr; /* frames this entry stands for (fragments of one datagram) */
    uint16_t sport, dport;
    uint16_t call_id; /* GRE v1: the receiver's Call ID */
    uint16_t icmp_id;
    uint16_t pptp_call, pptp_peer;
    uint8_t pptp_type;
    uint8_t pptp_has; /* 1 call id, 2 peer call id */
    uint8_t flags;
    uint8_t gre_ver;
};

/* An identity, zero-padded for hashing: address plus what the protocol adds. */
enum { IK_IP = 0, IK_PORT = 1, IK_CALL = 2, IK_ICMP = 3 };
struct ident {
    struct ip_addr ip;
    uint8_t kind;
    uint16_t val;
};

struct mkey {
    struct ident in, out, peer;
    uint8_t proto;
    uint8_t pad[3];
};

struct fkey {
    struct ident client, peer;
    uint8_t proto;
    uint8_t side;
    uint8_t pad[2];
};

struct ukey {
    struct ip_addr src, dst;
    uint16_t sport, dport;
    uint32_t spi;
    uint16_t call_id;
    uint8_t side, proto;
    uint8_t has; /* 1 ports, 2 spi, 4 call id */
    uint8_t pad[3];
};

struct ckey {
    struct ip_addr client_in, server;
    uint16_t id;
    uint8_t kind; /* 0: by the client's inside Call ID, 1: by the server's Call ID */
    uint8_t pad;
};

struct cval {
    struct ip_addr client_out;
    uint16_t x, y, z; /* client's Call ID inside, outside; server's Call ID */
    bool has_xy, has_z;
};

struct fgkey {
    struct ip_addr src, dst;
    uint32_t id;
    uint8_t proto, ipver, side;
    uint8_t pad;
};

struct fgval {
    uint64_t first_ts, last_ts;
    uint64_t frames[PENDING_FRAMES];
    uint16_t nfr;
    uint8_t proto;
    bool done;
    bool has_ports; /* from the first fragment's UDP/TCP header */
    uint16_t sport, dport;
    struct ip_addr src, dst;
};

struct mint {
    struct nat_mapping m;
    struct mkey key;
    uint64_t strong, weak;
    int32_t final_idx;
    uint32_t next; /* internal index of the next record of the same inside flow, NIL if none */
};

struct uint_rec {
    struct nat_unmatched u;
    struct ukey key;
};

/* Pair -> mapping cache: the same two tuples always give the same mapping and direction (GRE
 * keys also depend on the PPTP calls learned: entries carry the call generation). */
#define MC_SIZE 16384
struct mcache {
    uint64_t a, b; /* tuple hashes of the inside and the outside packet */
    uint32_t idx;
    uint32_t gen;
    uint32_t extra_ev;
    uint8_t dir;
    uint8_t valid;
};

struct nat_corr {
    struct nat_corr_opts o;
    uint64_t window;
    uint64_t now;
    /* pending pool (free list through hnext) + FIFO of (slot, gen) + signature index */
    struct pend *ring;
    uint32_t pool_cap, pool_top, free_head, alive;
    uint64_t *fifo;
    uint32_t fmask;
    uint64_t head, tail;
    uint32_t *bucket;
    uint32_t bmask;
    /* mappings */
    struct mint *maps;
    size_t n_maps, cap_maps;
    struct table *mapidx;  /* mkey -> uint32 */
    struct table *flowidx; /* fkey -> uint32 (latest mapping) */
    /* unmatched */
    struct uint_rec *unm;
    size_t n_unm, cap_unm;
    struct table *unmidx; /* ukey -> uint32 */
    /* PPTP calls and fragment groups */
    struct table *calls;
    struct table *fgroups;
    uint32_t call_gen;
    struct mcache *mc;
    /* counters */
    uint64_t pairs, only[3], uncovered, pending_evicted, dropped_records;
    uint64_t dir_pairs[2];
    bool oom;
};

/* ---- signatures ------------------------------------------------------------------------ */

struct hbuf {
    uint8_t b[192];
    size_t n;
};

static void hb_u8(struct hbuf *h, uint8_t v)
{
    if (h->n < sizeof(h->b))
        h->b[h->n++] = v;
}

static void hb_u32(struct hbuf *h, uint32_t v)
{
    if (h->n + 4 <= sizeof(h->b)) {
        memcpy(h->b + h->n, &v, 4);
        h->n += 4;
    }
}

/* First 64 and last 16 bytes of d[0..len) (the whole of it when short). */
static void hb_bytes(struct hbuf *h, const uint8_t *d, uint32_t len)
{
    if (!d)
        return;
    uint32_t first = len < 64 ? len : 64;
    if (h->n + first <= sizeof(h->b)) {
        memcpy(h->b + h->n, d, first);
        h->n += first;
    }
    if (len > 64) {
        uint32_t tail = len - 64 < 16 ? len - 64 : 16;
        if (h->n + tail <= sizeof(h->b)) {
            memcpy(h->b + h->n, d + len - tail, tail);
            h->n += tail;
        }
    }
}

static uint16_t be16(const uint8_t *p)
{
    return (uint16_t)((p[0] << 8) | p[1]);
}

/* L4 header length in a first fragment (bytes the NAT may rewrite), bounded by len. */
static uint32_t l4_hdr_skip(uint8_t proto, const uint8_t *d, uint32_t len)
{
    uint32_t s = 0;
    if (proto == 17 || proto == 1 || proto == 58)
        s = 8;
    else if (proto == 6)
        s = len >= 13 ? (uint32_t)(d[12] >> 4) * 4 : 20;
    return s > len ? len : s;
}

void nat_pkt_sig(const struct pkt *p, struct nat_sig *s)
{
    memset(s, 0, sizeof(*s));
    if (!p->ipver || p->status == PKT_NON_IP)
        return;
    struct hbuf h;
    h.n = 0;
    if (p->is_frag && !p->reassembled) {
        if (!p->frag_data)
            return;
        uint32_t skip =
            p->frag_off == 0 ? l4_hdr_skip(p->l4proto, p->frag_data, p->frag_data_len) : 0;
        hb_u8(&h, 0xf0);
        hb_u8(&h, p->l4proto);
        hb_u8(&h, p->frag_mf);
        hb_u32(&h, p->frag_off);
        hb_u32(&h, p->frag_data_len);
        hb_bytes(&h, p->frag_data + skip, p->frag_data_len - skip);
        s->ev = NAT_EV_FRAGMENT | NAT_EV_PAYLOAD | NAT_EV_SIZE;
        s->weak = p->frag_data_len - skip < 8;
        s->h = hash_bytes(h.b, h.n) | 1;
        return;
    }
    if (!p->l4)
        return;
    const uint8_t *l4 = p->l4;
    uint32_t n = p->l4_len;
    hb_u8(&h, p->l4proto);
    switch (p->l4proto) {
    case 17: {
        if (!p->has_ports || n < 8)
            return;
        uint32_t pl = n - 8;
        uint16_t ulen = be16(l4 + 4);
        if (ulen >= 8 && (uint32_t)(ulen - 8) < pl)
            pl = ulen - 8u;
        hb_u32(&h, pl);
        hb_bytes(&h, l4 + 8, pl);
        s->ev = NAT_EV_PAYLOAD | NAT_EV_SIZE;
        if (p->vpn == VPN_IKE)
            s->ev |= NAT_EV_SPI;
        else if (p->vpn == VPN_ESP)
            s->ev |= NAT_EV_SPI | NAT_EV_SEQ;
        s->weak = pl < 12;
        break;
    }
    case 6:
        if (!p->has_ports)
            return;
        hb_u32(&h, p->tcp_seq);
        hb_u32(&h, p->tcp_ack);
        hb_u8(&h, p->tcp_flags);
        hb_u32(&h, p->payload_len);
        s->ev = NAT_EV_SEQ | NAT_EV_SIZE;
        break;
    case 1:
    case 58: {
        if (n < 8)
            return;
        uint8_t type = l4[0];
        bool echo = p->l4proto == 1 ? (type == 0 || type == 8) : (type == 128 || type == 129);
        hb_u8(&h, type);
        hb_u8(&h, l4[1]);
        if (echo) {
            hb_u8(&h, l4[6]); /* sequence; the identifier is remapped */
            hb_u8(&h, l4[7]);
            hb_u32(&h, n - 8);
            hb_bytes(&h, l4 + 8, n - 8);
            s->ev = NAT_EV_PAYLOAD | NAT_EV_SIZE | NAT_EV_ICMP_ID;
            s->weak = n - 8 < 8;
        } else {
            /* an error quotes a header the NAT rewrites: keep its ID, protocol and length */
            const uint8_t *q = l4 + 8;
            uint32_t qn = n - 8;
            hb_u32(&h, qn);
            if (qn >= 20 && (q[0] >> 4) == 4) {
                hb_u8(&h, q[4]);
                hb_u8(&h, q[5]);
                hb_u8(&h, q[9]);
                hb_u8(&h, q[2]);
                hb_u8(&h, q[3]);
            } else if (qn >= 40 && (q[0] >> 4) == 6) {
                hb_u8(&h, q[4]);
                hb_u8(&h, q[5]);
                hb_u8(&h, q[6]);
            }
            s->ev = NAT_EV_SIZE;
            s->weak = true;
        }
        break;
    }
    case 50:
    case 51:
        hb_u32(&h, n);
        hb_bytes(&h, l4, n);
        s->ev = NAT_EV_SPI | NAT_EV_SEQ | NAT_EV_SIZE | NAT_EV_PAYLOAD;
        s->weak = n < 8;
        break;
    case 47: {
        uint8_t b[64];
        uint32_t first = n < 64 ? n : 64;
        memcpy(b, l4, first);
        bool v1 = n >= 2 && (l4[1] & 7) == 1;
        if (v1 && first >= 8) {
            b[6] = 0; /* the Call ID: rewritten by the PPTP helper */
            b[7] = 0;
        }
        hb_u32(&h, n);
        hb_bytes(&h, b, first);
        if (n > 64)
            hb_bytes(&h, l4 + 64, n - 64);
        s->ev = NAT_EV_PAYLOAD | NAT_EV_SIZE;
        if (p->gre.has_seq || p->gre.has_ack)
            s->ev |= NAT_EV_SEQ;
        s->weak = !(p->gre.has_seq || p->gre.has_ack) && n < 16;
        break;
    }
    default:
        hb_u32(&h, n);
        hb_bytes(&h, l4, n);
        s->ev = NAT_EV_PAYLOAD | NAT_EV_SIZE;
        s->weak = n < 12;
        break;
    }
    s->h = hash_bytes(h.b, h.n) | 1; /* never 0 */
}

/* ---- lifetime -------------------------------------------------------------------------- */

static void fg_evict(void *ctx, const void *key, void *val);

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
    c->fgroups =
        table_new(sizeof(struct fgkey), sizeof(struct fgval), NAT_FRAG_GROUPS * 2, fg_evict, c);
    if (!c->ring || !c->fifo || !c->bucket || !c->mc || !c->mapidx || !c->flowidx || !c->unmidx ||
        !c->calls || !c->fgroups) {
        nat_corr_free(c);
        return NULL;
    }
    memset(c->bucket, 0xff, sizeof(uint32_t) * (size_t)nb);
    return c;
}

void nat_corr_free(struct nat_corr *c)
{
    if (!c)
        return;
    free(c->ring);
    free(c->fifo);
    free(c->bucket);
    free(c->mc);
    free(c->maps);
    free(c->unm);
    table_free(c->mapidx);
    table_free(c->flowidx);
    table_free(c->unmidx);
    table_free(c->calls);
    table_free(c->fgroups);
    free(c);
}

/* ---- small helpers --------------------------------------------------------------------- */

static bool ip_eq(const struct ip_addr *a, const struct ip_addr *b)
{
    return a->v == b->v && memcmp(a->a, b->a, a->v == 4 ? 4 : 16) == 0;
}

/* A copy with the unused bytes zeroed (keys are compared with memcmp). */
static struct ip_addr ip_norm(const struct ip_addr *a)
{
    struct ip_addr r;
    memset(&r, 0, sizeof(r));
    r.v = a->v;
    memcpy(r.a, a->a, a->v == 4 ? 4 : a->v == 6 ? 16 : 0);
    return r;
}

static struct ident mk_ident(const struct ip_addr *ip, uint8_t kind, uint16_t val)
{
    struct ident id;
    memset(&id, 0, sizeof(id));
    id.ip = ip_norm(ip);
    id.kind = kind;
    id.val = kind == IK_IP ? 0 : val;
    return id;
}

static bool is_nat_addr(const struct nat_corr *c, const struct ip_addr *a)
{
    for (int i = 0; i < c->o.n_nat_addrs && i < 8; i++)
        if (ip_eq(&c->o.nat_addrs[i], a))
            return true;
    return false;
}

static void to_nat_id(const struct ident *id, struct nat_id *n)
{
    memset(n, 0, sizeof(*n));
    n->ip = id->ip;
    if (id->kind == IK_PORT) {
        n->has_port = true;
        n->port = id->val;
    } else if (id->kind == IK_CALL) {
        n->has_call_id = true;
        n->call_id = id->val;
    } else if (id->kind == IK_ICMP) {
        n->has_icmp_id = true;
        n->icmp_id = id->val;
    }
}

/* ---- unmatched ------------------------------------------------------------------------- */

static void unm_add(struct nat_corr *c, const struct pend *e)
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
    if (created) {
        if (c->n_unm >= NAT_UNMATCHED_MAX) {
            c->dropped_records++;
            *slot = NIL;
            return;
        }
        if (c->n_unm == c->cap_unm) {
            size_t nc = c->cap_unm ? c->cap_unm * 2 : 64;
            struct uint_rec *nu = realloc(c->unm, nc * sizeof(*nu));
            if (!nu) {
                c->oom = true;
                *slot = NIL;
                return;
            }
            c->unm = nu;
            c->cap_unm = nc;
        }
        *slot = (uint32_t)c->n_unm;
        struct uint_rec *r = &c->unm[c->n_unm++];
        memset(r, 0, sizeof(*r));
        r->key = k;
        r->u.side = e->side;
        r->u.proto = e->proto;
        r->u.src = k.src;
        r->u.dst = k.dst;
        r->u.has_ports = (k.has & 1) != 0;
        r->u.sport = k.sport;
        r->u.dport = k.dport;
        r->u.has_spi = (k.has & 2) != 0;
        r->u.spi = k.spi;
        r->u.has_call_id = (k.has & 4) != 0;
        r->u.call_id = k.call_id;
        r->u.first_ts = e->ts;
        r->u.mapping = -1;
    }
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

static void slot_free(struct nat_corr *c, uint32_t slot)
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
    unm_add(c, e);
    slot_free(c, slot);
    c->head++;
}

static void expire(struct nat_corr *c, uint64_t now)
{
    for (;;) {
        uint32_t slot = fifo_oldest(c);
        if (slot == NIL || c->ring[slot].ts + c->window >= now)
            return;
        drop_oldest(c, slot, false);
    }
}

static void pend_insert(struct nat_corr *c, const struct pend *src)
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

/* ---- pairing --------------------------------------------------------------------------- */

static bool ep_same(const struct ip_addr *a, uint16_t pa, const struct ip_addr *b, uint16_t pb,
                    bool ports)
{
    return ip_eq(a, b) && (!ports || pa == pb);
}

static int pair_dir(const struct nat_corr *c, const struct pend *in, const struct pend *out)
{
    bool ports = (in->flags & PF_PORTS) && (out->flags & PF_PORTS);
    bool s_same = ep_same(&in->src, in->sport, &out->src, out->sport, ports);
    bool d_same = ep_same(&in->dst, in->dport, &out->dst, out->dport, ports);
    if (!s_same && d_same)
        return DIR_TO_PEER;
    if (s_same && !d_same)
        return DIR_FROM_PEER;
    if (in->ttl > out->ttl)
        return DIR_TO_PEER;
    if (in->ttl < out->ttl)
        return DIR_FROM_PEER;
    if (is_nat_addr(c, &out->src))
        return DIR_TO_PEER;
    if (is_nat_addr(c, &out->dst))
        return DIR_FROM_PEER;
    bool sp = ip_addr_is_private(&in->src);
    bool dp = ip_addr_is_private(&in->dst);
    if (sp != dp)
        return sp ? DIR_TO_PEER : DIR_FROM_PEER;
    return in->ts <= out->ts ? DIR_TO_PEER : DIR_FROM_PEER;
}

/* Identities of a pair as used for the flow index: address + port (UDP/TCP), + echo id (ICMP),
 * address only otherwise (GRE Call IDs are the receiver's, not an endpoint's). */
struct pair_ids {
    int dir;
    struct ident cin, cout, peer;
};

static void flow_ident(const struct pend *e, bool client_is_src, struct ident *client,
                       struct ident *peer)
{
    const struct ip_addr *cip = client_is_src ? &e->src : &e->dst;
    const struct ip_addr *pip = client_is_src ? &e->dst : &e->src;
    uint16_t cport = client_is_src ? e->sport : e->dport;
    uint16_t pport = client_is_src ? e->dport : e->sport;
    if (e->flags & PF_PORTS) {
        *client = mk_ident(cip, IK_PORT, cport);
        *peer = mk_ident(pip, IK_PORT, pport);
    } else if (e->flags & PF_ECHO) {
        *client = mk_ident(cip, IK_ICMP, e->icmp_id);
        *peer = mk_ident(pip, IK_IP, 0);
    } else {
        *client = mk_ident(cip, IK_IP, 0);
        *peer = mk_ident(pip, IK_IP, 0);
    }
}

static void pair_ids(const struct nat_corr *c, const struct pend *in, const struct pend *out,
                     struct pair_ids *ids)
{
    ids->dir = pair_dir(c, in, out);
    bool src = ids->dir == DIR_TO_PEER;
    struct ident pin;
    flow_ident(in, src, &ids->cin, &pin);
    flow_ident(out, src, &ids->cout, &ids->peer);
}

static uint32_t flow_lookup(struct nat_corr *c, uint8_t proto, uint8_t side,
                            const struct ident *client, const struct ident *peer)
{
    struct fkey k;
    memset(&k, 0, sizeof(k));
    k.client = *client;
    k.peer = *peer;
    k.proto = proto;
    k.side = side;
    uint32_t *v = table_get(c->flowidx, &k, false);
    return v ? *v : NIL;
}

static void flow_set(struct nat_corr *c, uint8_t proto, uint8_t side, const struct ident *client,
                     const struct ident *peer, uint32_t idx)
{
    struct fkey k;
    memset(&k, 0, sizeof(k));
    k.client = *client;
    k.peer = *peer;
    k.proto = proto;
    k.side = side;
    uint32_t *v = table_put(c->flowidx, &k, NULL);
    if (v)
        *v = idx;
}

/* Does the pair agree with the mapping already known for its inside flow? */
static bool consistent(struct nat_corr *c, const struct pend *in, const struct pend *out)
{
    struct pair_ids ids;
    pair_ids(c, in, out, &ids);
    uint32_t mi = flow_lookup(c, in->proto, SIDE_INSIDE, &ids.cin, &ids.peer);
    if (mi == NIL)
        return false;
    uint32_t mo = flow_lookup(c, in->proto, SIDE_OUTSIDE, &ids.cout, &ids.peer);
    return mi == mo;
}

static int cand_score(struct nat_corr *c, const struct pend *cur, const struct pend *cand)
{
    const struct pend *in = cur->side == SIDE_INSIDE ? cur : cand;
    const struct pend *out = cur->side == SIDE_INSIDE ? cand : cur;
    int s = 0;
    if (ip_eq(&in->src, &out->src) || ip_eq(&in->dst, &out->dst))
        s += 1;
    if (in->ipver == 4 && out->ipver == 4 && in->ip_id == out->ip_id && in->ip_id != 0)
        s += 2;
    if (consistent(c, in, out))
        s += 4;
    return s;
}

/* Finds and unlinks the best counterpart of e on the other side; NIL when none. */
static uint32_t find_match(struct nat_corr *c, const struct pend *e)
{
    uint32_t cand[MAX_CAND];
    uint32_t prevs[MAX_CAND];
    unsigned nc = 0;
    uint32_t prev = NIL;
    for (uint32_t i = c->bucket[e->sig & c->bmask]; i != NIL; prev = i, i = c->ring[i].hnext) {
        const struct pend *x = &c->ring[i];
        if (x->sig != e->sig || x->side == e->side || x->proto != e->proto)
            continue;
        if (nc < MAX_CAND) {
            prevs[nc] = prev;
            cand[nc++] = i;
        }
    }
    if (nc == 0)
        return NIL;
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
    if (prevs[best] == NIL)
        c->bucket[e->sig & c->bmask] = x->hnext;
    else
        c->ring[prevs[best]].hnext = x->hnext;
    x->hnext = NIL;
    x->flags &= (uint8_t)~PF_ALIVE;
    return slot;
}

/* ---- PPTP calls ------------------------------------------------------------------------ */

static struct cval *call_get(struct nat_corr *c, const struct ip_addr *cin,
                             const struct ip_addr *srv, uint8_t kind, uint16_t id, bool create)
{
    struct ckey k;
    memset(&k, 0, sizeof(k));
    k.client_in = ip_norm(cin);
    k.server = ip_norm(srv);
    k.kind = kind;
    k.id = id;
    return create ? table_put(c->calls, &k, NULL) : table_get(c->calls, &k, false);
}

static void call_learn(struct nat_corr *c, const struct ip_addr *cin, const struct ip_addr *cout,
                       const struct ip_addr *srv, bool has_xy, uint16_t x, uint16_t y, bool has_z,
                       uint16_t z)
{
    struct cval v;
    memset(&v, 0, sizeof(v));
    if (has_xy) {
        struct cval *o = call_get(c, cin, srv, 0, x, false);
        if (o)
            v = *o;
    } else if (has_z) {
        struct cval *o = call_get(c, cin, srv, 1, z, false);
        if (o)
            v = *o;
    }
    v.client_out = ip_norm(cout);
    if (has_xy) {
        v.x = x;
        v.y = y;
        v.has_xy = true;
    }
    if (has_z) {
        v.z = z;
        v.has_z = true;
    }
    c->call_gen++;
    if (v.has_xy) {
        struct cval *a = call_get(c, cin, srv, 0, v.x, true);
        if (a)
            *a = v;
    }
    if (v.has_z) {
        struct cval *b = call_get(c, cin, srv, 1, v.z, true);
        if (b)
            *b = v;
    }
}

/* PPTP control pair (RFC 2637 §2): client Call IDs from OCRQ/ICRP/CCRQ, the server's from
 * OCRP/ICRQ; OCRP carries both (Peer's Call ID = the client's). */
static void pptp_pair(struct nat_corr *c, const struct pend *in, const struct pend *out, int dir)
{
    if (!(in->flags & PF_PPTP) || !(out->flags & PF_PPTP) || in->pptp_type != out->pptp_type)
        return;
    const struct ip_addr *cin = dir == DIR_TO_PEER ? &in->src : &in->dst;
    const struct ip_addr *cout = dir == DIR_TO_PEER ? &out->src : &out->dst;
    const struct ip_addr *srv = dir == DIR_TO_PEER ? &out->dst : &out->src;
    switch (in->pptp_type) {
    case 7:  /* Outgoing-Call-Request: Call ID = client's */
    case 12: /* Call-Clear-Request */
        if (dir == DIR_TO_PEER && (in->pptp_has & 1) && (out->pptp_has & 1))
            call_learn(c, cin, cout, srv, true, in->pptp_call, out->pptp_call, false, 0);
        break;
    case 10: /* Incoming-Call-Reply: Call ID = client's, Peer's = server's */
        if (dir == DIR_TO_PEER && (in->pptp_has & 1) && (out->pptp_has & 1))
            call_learn(c, cin, cout, srv, true, in->pptp_call, out->pptp_call,
                       (in->pptp_has & 2) != 0, in->pptp_peer);
        break;
    case 8: /* Outgoing-Call-Reply: Call ID = server's, Peer's = client's */
        if (dir == DIR_FROM_PEER && (in->pptp_has & 3) == 3 && (out->pptp_has & 3) == 3)
            call_learn(c, cin, cout, srv, true, in->pptp_peer, out->pptp_peer, true, in->pptp_call);
        break;
    default:
        break;
    }
}

/* ---- NAT-D ----------------------------------------------------------------------------- */

static void natd_check(struct nat_corr *c, struct mint *mp, const struct pkt *p,
                       const struct pend *in, const struct pend *out, int dir)
{
    (void)c;
    if (p->vpn != VPN_IKE || p->ike.n_natd == 0)
        return;
    const struct ike_msg *m = &p->ike;
    unsigned nv1 = 0;
    for (unsigned i = 0; i < m->n_natd && i < IKE_MAX_NATD; i++) {
        const struct ike_natd *nd = &m->natd[i];
        bool v1_first = nd->kind == IKE_NATD_V1 && nv1++ == 0;
        bool src_hash = nd->kind == IKE_NATD_V2_SRC || (nd->kind == IKE_NATD_V1 && !v1_first);
        bool dst_hash = nd->kind == IKE_NATD_V2_DST || v1_first;
        if (dir == DIR_TO_PEER && src_hash) {
            /* the client hashed its own address: which one? */
            if (natd_matches(nd, 0, m->ispi, m->rspi, &in->src, in->sport)) {
                mp->m.natd_src = 1;
                mp->m.evidence |= NAT_EV_NATD;
            } else if (natd_matches(nd, 0, m->ispi, m->rspi, &out->src, out->sport)) {
                if (mp->m.natd_src != 1)
                    mp->m.natd_src = 2;
                mp->m.evidence |= NAT_EV_NATD;
            } else if (mp->m.natd_src < 0) {
                mp->m.natd_src = 0;
                mp->m.forced_encap = true;
            }
        } else if (dir == DIR_FROM_PEER && dst_hash) {
            /* the peer hashed the client's address as it sees it: the outside one */
            if (natd_matches(nd, 0, m->ispi, m->rspi, &out->dst, out->dport))
                mp->m.evidence |= NAT_EV_NATD;
        }
    }
}

/* ---- mappings -------------------------------------------------------------------------- */

static void add_spi(uint32_t *v, uint8_t *n, uint32_t spi)
{
    for (unsigned i = 0; i < *n; i++)
        if (v[i] == spi)
            return;
    if (*n < NAT_MAX_SPIS)
        v[(*n)++] = spi;
}

static struct mint *mapping_get(struct nat_corr *c, const struct mkey *k, uint64_t ts,
                                bool *created)
{
    *created = false;
    uint32_t *slot = table_get(c->mapidx, k, true);
    if (slot)
        return &c->maps[*slot];
    if (c->n_maps >= NAT_MAP_MAX) {
        c->dropped_records++;
        return NULL;
    }
    if (c->n_maps == c->cap_maps) {
        size_t nc = c->cap_maps ? c->cap_maps * 2 : 64;
        struct mint *nm = realloc(c->maps, nc * sizeof(*nm));
        if (!nm) {
            c->oom = true;
            return NULL;
        }
        c->maps = nm;
        c->cap_maps = nc;
    }
    slot = table_put(c->mapidx, k, NULL);
    if (!slot)
        return NULL;
    *slot = (uint32_t)c->n_maps;
    struct mint *mp = &c->maps[c->n_maps++];
    memset(mp, 0, sizeof(*mp));
    mp->key = *k;
    mp->m.proto = k->proto;
    to_nat_id(&k->in, &mp->m.inside);
    to_nat_id(&k->out, &mp->m.outside);
    to_nat_id(&k->peer, &mp->m.peer);
    mp->m.translated = memcmp(&k->in, &k->out, sizeof(k->in)) != 0;
    mp->m.first_ts = ts;
    mp->m.last_ts = ts;
    mp->m.natd_src = -1;
    mp->m.next_same_inside = -1;
    mp->next = NIL;
    *created = true;
    return mp;
}

static struct mint *pair_mapping(struct nat_corr *c, const struct pend *in, const struct pend *out,
                                 uint64_t t0, int *dirp, uint32_t *extra);
static void update_mapping(struct nat_corr *c, struct mint *mp, const struct pend *in,
                           const struct pend *out, const struct pkt *cur, int dir,
                           uint32_t extra_ev, uint64_t t0, uint64_t t1);

static void on_pair(struct nat_corr *c, const struct pend *in, const struct pend *out,
                    const struct pkt *cur)
{
    c->pairs++;
    if (in->flags & PF_ICMP_ERR)
        return; /* quoted headers: no mapping of their own */
    uint8_t proto = in->proto;
    uint64_t t0 = in->ts < out->ts ? in->ts : out->ts;
    uint64_t t1 = in->ts < out->ts ? out->ts : in->ts;
    bool pptp_ctl = proto == 6 && ((in->flags | out->flags) & PF_PPTP);
    /* the TTL order can decide the direction of an untranslated pair: part of the key */
    uint64_t kb = out->fh + (in->ttl > out->ttl ? 1 : in->ttl < out->ttl ? 2 : 3);
    struct mcache *ce = &c->mc[(in->fh * 0x9e3779b97f4a7c15ull ^ kb) & (MC_SIZE - 1)];
    int dir;
    uint32_t extra_ev = 0;
    struct mint *mp;
    if (!pptp_ctl && ce->valid && ce->a == in->fh && ce->b == kb &&
        (proto != 47 || ce->gen == c->call_gen)) {
        dir = ce->dir;
        extra_ev = ce->extra_ev;
        mp = &c->maps[ce->idx];
        if (t0 > mp->m.last_ts && t0 - mp->m.last_ts > mp->m.max_gap_survived_us)
            mp->m.max_gap_survived_us = t0 - mp->m.last_ts;
    } else {
        mp = pair_mapping(c, in, out, t0, &dir, &extra_ev);
        if (!mp)
            return;
        if (!pptp_ctl) {
            ce->a = in->fh;
            ce->b = kb;
            ce->idx = (uint32_t)(mp - c->maps);
            ce->gen = c->call_gen;
            ce->extra_ev = extra_ev;
            ce->dir = (uint8_t)dir;
            ce->valid = 1;
        }
    }
    c->dir_pairs[dir]++;
    update_mapping(c, mp, in, out, cur, dir, extra_ev, t0, t1);
}

/* The mapping of a pair (created when new) by its identities; NULL when none can be kept. */
static struct mint *pair_mapping(struct nat_corr *c, const struct pend *in, const struct pend *out,
                                 uint64_t t0, int *dirp, uint32_t *extra)
{
    struct pair_ids ids;
    pair_ids(c, in, out, &ids);
    int dir = ids.dir;
    *dirp = dir;
    uint8_t proto = in->proto;
    if (proto == 6 && ((in->flags & PF_PPTP) || (out->flags & PF_PPTP)))
        pptp_pair(c, in, out, dir);

    struct mkey k;
    memset(&k, 0, sizeof(k));
    k.proto = proto;
    k.in = ids.cin;
    k.out = ids.cout;
    k.peer = ids.peer;
    uint32_t extra_ev = 0;
    if (proto == 47 && (in->flags & PF_CALL) && in->gre_ver == 1) {
        if (dir == DIR_TO_PEER) {
            uint16_t z = in->call_id;
            struct cval *v = call_get(c, &in->src, &out->dst, 1, z, false);
            k.peer = mk_ident(&out->dst, IK_CALL, z);
            if (v && v->has_xy) {
                k.in = mk_ident(&in->src, IK_CALL, v->x);
                k.out = mk_ident(&out->src, IK_CALL, v->y);
                extra_ev |= NAT_EV_PPTP_CONTROL;
            }
        } else {
            k.in = mk_ident(&in->dst, IK_CALL, in->call_id);
            k.out = mk_ident(&out->dst, IK_CALL, out->call_id);
            struct cval *v = call_get(c, &in->dst, &out->src, 0, in->call_id, false);
            if (v && v->has_z) {
                k.peer = mk_ident(&out->src, IK_CALL, v->z);
                extra_ev |= NAT_EV_PPTP_CONTROL;
            }
        }
    }
    *extra = extra_ev;
    bool created = false;
    struct mint *mp = mapping_get(c, &k, t0, &created);
    if (!mp)
        return NULL;
    uint32_t idx = (uint32_t)(mp - c->maps);
    if (created) {
        /* the same inside flow had another outside identity before: that one was lost */
        uint32_t prev = flow_lookup(c, proto, SIDE_INSIDE, &ids.cin, &ids.peer);
        if (prev != NIL && prev != idx) {
            if (c->maps[prev].next == NIL)
                c->maps[prev].next = idx;
            struct nat_mapping *pm = &c->maps[prev].m;
            uint64_t gap = t0 > pm->last_ts ? t0 - pm->last_ts : 0;
            if (!pm->min_gap_lost_us || gap < pm->min_gap_lost_us)
                pm->min_gap_lost_us = gap;
        }
    } else if (t0 > mp->m.last_ts && t0 - mp->m.last_ts > mp->m.max_gap_survived_us) {
        mp->m.max_gap_survived_us = t0 - mp->m.last_ts;
    }
    if (created) {
        flow_set(c, proto, SIDE_INSIDE, &ids.cin, &ids.peer, idx);
        flow_set(c, proto, SIDE_OUTSIDE, &ids.cout, &ids.peer, idx);
    }
    return mp;
}

static void update_mapping(struct nat_corr *c, struct mint *mp, const struct pend *in,
                           const struct pend *out, const struct pkt *cur, int dir,
                           uint32_t extra_ev, uint64_t t0, uint64_t t1)
{
    uint8_t proto = in->proto;
    struct nat_mapping *m = &mp->m;
    if (t0 < m->first_ts)
        m->first_ts = t0;
    if (t1 > m->last_ts)
        m->last_ts = t1;
    m->pairs++;
    if ((in->flags & PF_WEAK) || (out->flags & PF_WEAK))
        mp->weak++;
    else
        mp->strong++;
    uint32_t ev = (in->ev & out->ev) | NAT_EV_TIMING | extra_ev;
    if (in->ipver == 4 && out->ipver == 4 && in->ip_id == out->ip_id)
        ev |= NAT_EV_IP_ID;
    if (in->ip_len != out->ip_len)
        ev &= ~NAT_EV_SIZE;
    if (in->nfr > 1 || out->nfr > 1)
        ev |= NAT_EV_FRAGMENT;
    if (proto == 6 && ((in->flags & PF_PPTP) && (out->flags & PF_PPTP)))
        ev |= NAT_EV_PPTP_CONTROL;
    m->evidence |= ev;
    if (dir == DIR_TO_PEER) {
        m->to_peer_inside += in->nfr;
        m->to_peer_outside += out->nfr;
    } else {
        m->from_peer_inside += in->nfr;
        m->from_peer_outside += out->nfr;
    }
    if ((proto == 50 || proto == 51) && (in->flags & PF_SPI)) {
        if (dir == DIR_TO_PEER)
            add_spi(m->spis_to, &m->n_spis_to, in->spi);
        else
            add_spi(m->spis_from, &m->n_spis_from, in->spi);
    }
    if (cur)
        natd_check(c, mp, cur, in, out, dir);
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
        h = (uint64_t)e->src.a[0] << 56 | (uint64_t)e->src.a[1] << 48 |
            (uint64_t)e->src.a[2] << 40 | (uint64_t)e->src.a[3] << 32 |
            (uint64_t)e->dst.a[0] << 24 | (uint64_t)e->dst.a[1] << 16 | (uint64_t)e->dst.a[2] << 8 |
            (uint64_t)e->dst.a[3];
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
    if (s->weak)
        e->flags |= PF_WEAK;
    if (p->has_ports && (p->l4proto == 6 || p->l4proto == 17)) {
        e->flags |= PF_PORTS;
        e->sport = p->sport;
        e->dport = p->dport;
    }
    if (p->l4proto == 1 || p->l4proto == 58) {
        bool echo = p->l4proto == 1 ? (p->icmp_type == 0 || p->icmp_type == 8)
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

static void match_or_wait(struct nat_corr *c, struct pend *e, const struct pkt *p)
{
    uint32_t slot = find_match(c, e);
    if (slot == NIL) {
        pend_insert(c, e);
        return;
    }
    const struct pend *o = &c->ring[slot];
    if (e->side == SIDE_INSIDE)
        on_pair(c, e, o, p);
    else
        on_pair(c, o, e, p);
    slot_free(c, slot);
}

static void fg_flush(struct nat_corr *c, const struct fgkey *k, const struct fgval *v)
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
    unm_add(c, &e);
}

static void fg_evict(void *ctx, const void *key, void *val)
{
    fg_flush(ctx, key, val);
}

/* A fragment: its datagram's group on this side. Returns the group. */
static struct fgval *fg_add(struct nat_corr *c, uint8_t side, const struct pkt *p)
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
        fg_flush(c, &k, v);
        memset(v, 0, sizeof(*v));
        created = true;
    }
    if (created) {
        v->first_ts = p->ts_us;
        v->src = k.src;
        v->dst = k.dst;
        v->proto = p->l4proto;
    }
    if (p->frag_off == 0 && (p->l4proto == 6 || p->l4proto == 17)) {
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

void nat_corr_packet(struct nat_corr *c, uint8_t side, const struct pkt *p)
{
    if (!p || (side != SIDE_INSIDE && side != SIDE_OUTSIDE))
        return;
    if (p->ts_us > c->now) {
        c->now = p->ts_us;
        expire(c, c->now);
    }
    if (!p->ipver || p->status == PKT_NON_IP)
        return;
    struct pend e;
    if (p->is_frag) {
        struct fgval *g = fg_add(c, side, p);
        if (!p->reassembled || !g)
            return;
        struct nat_sig s;
        nat_pkt_sig(p, &s);
        g->done = true;
        if (!s.h) {
            /* no L4 to pair the datagram by: its fragments are unmatched */
            g->done = false;
            return;
        }
        pend_fill(&e, side, p, &s);
        e.nfr = g->nfr;
        memcpy(e.frames, g->frames, sizeof(e.frames));
        if (g->nfr > 1)
            e.ev |= NAT_EV_FRAGMENT;
        match_or_wait(c, &e, p);
        return;
    }
    struct nat_sig s;
    nat_pkt_sig(p, &s);
    if (!s.h)
        return;
    pend_fill(&e, side, p, &s);
    match_or_wait(c, &e, p);
}

/* ---- finish ---------------------------------------------------------------------------- */

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
        if (!m->translated || ip_eq(&m->inside.ip, &m->outside.ip))
            continue;
        unsigned j = 0;
        while (j < nc && !ip_eq(&cand[j].a, &m->outside.ip))
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
        if (ip_eq(&res->nat_addrs[i], a))
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
        flow_ident(&e, d == DIR_TO_PEER, &cl, &pe);
        uint32_t mi = flow_lookup(c, u->proto, u->side, &cl, &pe);
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

int nat_corr_finish(struct nat_corr *c, struct nat_result *res)
{
    expire(c, UINT64_MAX);
    for (uint32_t i = 0; i < table_slots(c->fgroups); i++) {
        const void *k;
        struct fgval *v = table_slot(c->fgroups, i, &k);
        if (v) {
            fg_flush(c, k, v);
            v->done = true;
        }
    }

    /* keep mappings with a strong pair, or at least two weak ones */
    struct mint **order = malloc((c->n_maps ? c->n_maps : 1) * sizeof(*order));
    if (!order)
        return -1;
    size_t nk = 0;
    for (size_t i = 0; i < c->n_maps; i++) {
        c->maps[i].final_idx = -1;
        if (c->maps[i].strong > 0 || c->maps[i].weak >= 2)
            order[nk++] = &c->maps[i];
    }
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

    /* one direction only? */
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
    return c->oom ? -1 : 0;
}

/* Appended for the live dashboard (ui/): a read-only look at the mappings so far. */
size_t nat_corr_mappings(const struct nat_corr *c, struct nat_mapping *out, size_t max)
{
    size_t n = 0;
    for (size_t i = 0; i < c->n_maps; i++) {
        if (c->maps[i].strong == 0 && c->maps[i].weak < 2)
            continue;
        if (out && n < max)
            out[n] = c->maps[i].m;
        n++;
    }
    return n;
}
