/* frag.c - IPv4/IPv6 fragment tracking and reassembly (RFC 791 §3.2, RFC 8200 §4.5, RFC 5722). */
#include "vpnscope/frag.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "vpnscope/config.h"
#include "vpnscope/pkt.h"
#include "vpnscope/proto.h"
#include "vpnscope/rd.h"

/*
 * Layout: an array of slots grown by doubling up to FRAG_MAX_DATAGRAMS (a short capture or a fuzz
 * input does not pay for 4096 slots), a power-of-two bucket array with chains through the slots
 * (O(1) lookup), and one creation-ordered list per IP version (timeouts differ: 30 s / 60 s) from
 * which expiry and eviction take the oldest. Reassembly buffers and fragment lists stay attached to
 * a slot when it is freed and are reused by the next datagram; under FRAG_MAX_BYTES pressure idle
 * buffers are released first, then the oldest datagrams are evicted. Each datagram keeps its
 * fragments as extents sorted by offset (at most FRAG_MAX_FRAGS), so per-fragment work is
 * O(fragments of that datagram).
 *
 * Limitations:
 * - Expiry walks each list from its oldest entry and stops at the first one not yet due: with
 *   timestamps going backwards a due datagram may wait behind a younger-stamped older one.
 * - IPv4 overlaps keep the datagram (later bytes win); IPv6 overlaps with different bytes
 *   discard it (RFC 5722). Overlaps with identical bytes are only recorded.
 */

#define NONE UINT32_MAX
#define FRAG_BUCKETS 8192u /* power of two, >= FRAG_MAX_DATAGRAMS */
#define FRAG_IP_MAX 65535u /* largest IP datagram payload end */
#define FRAG_BUF_STEP 2048u
#define FRAG_EXT_MIN 8u
#define FRAG_SLOTS_MIN 16u /* slots allocated up front; doubled when all are in use */
#define FRAG_EVQ 256u      /* evictions queued for the next frag_expire */

struct frag_ext {
    uint32_t off, end; /* payload bytes [off, end) per the IP header */
    uint32_t cend;     /* end of the captured part (< end when cut by the snaplen) */
};

struct dgram {
    /* key */
    struct ip_addr src, dst;
    uint32_t id;
    uint8_t ipver;
    uint8_t key_proto; /* IPv4 only; 0 for IPv6 */
    /* links */
    bool in_use;
    bool dead; /* discarded as invalid: swallows later fragments until the deadline */
    uint32_t hash;
    uint32_t hnext;
    uint32_t lprev, lnext;
    uint64_t seq; /* creation order */
    uint64_t deadline;
    /* state */
    uint8_t proto;
    bool has_first, has_last, snapped;
    bool out_of_order, overlap, duplicate;
    bool has_ports;
    uint16_t sport, dport;
    uint32_t end;     /* datagram payload length, once has_last */
    uint32_t max_off; /* highest offset received */
    uint32_t bytes;   /* payload bytes received (distinct fragments) */
    uint16_t nfrags;
    uint64_t first_ts, last_ts;
    uint8_t nframes;
    uint64_t frames[FRAG_INFO_FRAMES];
    /* storage, kept across reuse */
    uint8_t *buf;
    uint32_t buf_cap;
    struct frag_ext *ext;
    uint32_t ext_cap;
};

struct frag_list {
    uint32_t head, tail;
};

struct frag_table {
    struct dgram *d;
    uint32_t buckets[FRAG_BUCKETS];
    struct frag_list lists[2]; /* [0] IPv4, [1] IPv6 */
    uint32_t free_head;        /* free slots chained through hnext */
    uint32_t n_slots;          /* slots allocated in d (<= FRAG_MAX_DATAGRAMS) */
    uint32_t n_used;
    uint64_t next_seq;
    uint64_t mem;      /* bytes in buffers and extent arrays, idle ones included */
    uint64_t idle_mem; /* part of mem attached to free slots */
    struct frag_stats st;
    struct frag_info evq[FRAG_EVQ];
    uint32_t n_evq;
};

static uint32_t mix32(uint32_t h, uint32_t v)
{
    h ^= v;
    h *= 0x01000193u;
    h ^= h >> 15;
    return h;
}

static uint32_t key_hash(const struct ip_addr *src, const struct ip_addr *dst, uint32_t id,
                         uint8_t ipver, uint8_t proto)
{
    uint32_t h = 0x811c9dc5u;
    unsigned n = ipver == 4 ? 4 : 16;
    for (unsigned i = 0; i < n; i += 4) {
        h = mix32(h, ((uint32_t)src->a[i] << 24) | ((uint32_t)src->a[i + 1] << 16) |
                         ((uint32_t)src->a[i + 2] << 8) | src->a[i + 3]);
        h = mix32(h, ((uint32_t)dst->a[i] << 24) | ((uint32_t)dst->a[i + 1] << 16) |
                         ((uint32_t)dst->a[i + 2] << 8) | dst->a[i + 3]);
    }
    h = mix32(h, id);
    h = mix32(h, ((uint32_t)ipver << 8) | proto);
    h ^= h >> 16;
    h *= 0x7feb352du;
    h ^= h >> 15;
    return h;
}

/* Adds slots (doubling, up to FRAG_MAX_DATAGRAMS) when none is free; the new ones join the free
 * list in index order, so slots are handed out in the same order as with a full-size array.
 * Callers hold slot indexes, never pointers, across this call. */
static bool grow_slots(struct frag_table *t)
{
    if (t->free_head != NONE || t->n_slots >= FRAG_MAX_DATAGRAMS)
        return false;
    uint32_t n = t->n_slots ? t->n_slots * 2 : FRAG_SLOTS_MIN;
    if (n > FRAG_MAX_DATAGRAMS)
        n = FRAG_MAX_DATAGRAMS;
    struct dgram *nd = realloc(t->d, (size_t)n * sizeof(*nd));
    if (!nd)
        return false;
    memset(nd + t->n_slots, 0, (size_t)(n - t->n_slots) * sizeof(*nd));
    t->d = nd;
    for (uint32_t i = n; i-- > t->n_slots;) {
        t->d[i].hnext = t->free_head;
        t->free_head = i;
    }
    t->n_slots = n;
    return true;
}

struct frag_table *frag_new(void)
{
    struct frag_table *t = calloc(1, sizeof(*t));
    if (!t)
        return NULL;
    memset(t->buckets, 0xff, sizeof(t->buckets)); /* every bucket NONE (UINT32_MAX) */
    for (uint32_t i = 0; i < 2; i++)
        t->lists[i].head = t->lists[i].tail = NONE;
    t->free_head = NONE;
    if (!grow_slots(t)) {
        free(t);
        return NULL;
    }
    return t;
}

void frag_free(struct frag_table *t)
{
    if (!t)
        return;
    for (uint32_t i = 0; i < t->n_slots; i++) {
        free(t->d[i].buf);
        free(t->d[i].ext);
    }
    free(t->d);
    free(t);
}

static uint64_t slot_mem(const struct dgram *d)
{
    return (uint64_t)d->buf_cap + (uint64_t)d->ext_cap * sizeof(struct frag_ext);
}

static void fill_info(const struct dgram *d, struct frag_info *info)
{
    memset(info, 0, sizeof(*info));
    info->src = d->src;
    info->dst = d->dst;
    info->ipver = d->ipver;
    info->proto = d->proto;
    info->id = d->id;
    info->nfrags = d->nfrags;
    info->bytes = d->bytes;
    info->out_of_order = d->out_of_order;
    info->overlap = d->overlap;
    info->duplicate = d->duplicate;
    info->dropped = d->dead;
    info->snapped = d->snapped;
    info->has_first = d->has_first;
    info->has_last = d->has_last;
    info->has_ports = d->has_ports;
    info->sport = d->sport;
    info->dport = d->dport;
    info->first_ts = d->first_ts;
    info->last_ts = d->last_ts;
    info->nframes = d->nframes;
    memcpy(info->frames, d->frames, sizeof(info->frames));
}

static void list_unlink(struct frag_table *t, uint32_t i)
{
    struct dgram *d = &t->d[i];
    struct frag_list *l = &t->lists[d->ipver == 6];
    if (d->lprev != NONE)
        t->d[d->lprev].lnext = d->lnext;
    else
        l->head = d->lnext;
    if (d->lnext != NONE)
        t->d[d->lnext].lprev = d->lprev;
    else
        l->tail = d->lprev;
    d->lprev = d->lnext = NONE;
}

/* Forgets slot i (hash chain, list); buffers stay attached for reuse. */
static void release(struct frag_table *t, uint32_t i)
{
    struct dgram *d = &t->d[i];
    uint32_t *pp = &t->buckets[d->hash & (FRAG_BUCKETS - 1)];
    for (uint32_t n = 0; *pp != NONE && n <= FRAG_MAX_DATAGRAMS; n++) {
        if (*pp == i) {
            *pp = d->hnext;
            break;
        }
        pp = &t->d[*pp].hnext;
    }
    list_unlink(t, i);
    d->in_use = false;
    d->hnext = t->free_head;
    t->free_head = i;
    t->n_used--;
    t->idle_mem += slot_mem(d);
}

/* The oldest live-or-dead datagram other than `except`, or NONE. */
static uint32_t oldest(const struct frag_table *t, uint32_t except)
{
    uint32_t best = NONE;
    for (int v = 0; v < 2; v++) {
        uint32_t i = t->lists[v].head;
        if (i != NONE && i == except)
            i = t->d[i].lnext;
        if (i != NONE && (best == NONE || t->d[i].seq < t->d[best].seq))
            best = i;
    }
    return best;
}

/* Evicts the oldest datagram (not `except`); false when there is none. */
static bool evict_one(struct frag_table *t, struct pkt *p, uint32_t except)
{
    uint32_t i = oldest(t, except);
    if (i == NONE)
        return false;
    struct dgram *d = &t->d[i];
    if (!d->dead) {
        t->st.evicted++;
        if (t->n_evq < FRAG_EVQ) {
            fill_info(d, &t->evq[t->n_evq]);
            t->evq[t->n_evq].evicted = true;
            t->n_evq++;
        } else {
            t->st.evict_reports_lost++;
        }
        if (p)
            pkt_anom(p, ANOM_FRAG_TABLE_FULL);
    }
    release(t, i);
    return true;
}

/* Makes room for `delta` more bytes: idle buffers first, then the oldest datagrams. */
static bool reserve_mem(struct frag_table *t, struct pkt *p, uint64_t delta, uint32_t except)
{
    if (t->mem + delta <= FRAG_MAX_BYTES)
        return true;
    for (uint32_t i = t->free_head, n = 0; i != NONE && t->idle_mem > 0 && n < FRAG_MAX_DATAGRAMS;
         i = t->d[i].hnext, n++) {
        struct dgram *d = &t->d[i];
        uint64_t m = slot_mem(d);
        if (m == 0)
            continue;
        free(d->buf);
        free(d->ext);
        d->buf = NULL;
        d->ext = NULL;
        d->buf_cap = d->ext_cap = 0;
        t->mem -= m;
        t->idle_mem -= m;
        if (t->mem + delta <= FRAG_MAX_BYTES)
            return true;
    }
    while (t->mem + delta > FRAG_MAX_BYTES) {
        if (!evict_one(t, p, except))
            return false;
        /* the evicted slot's storage is idle now: free it */
        struct dgram *d = &t->d[t->free_head];
        uint64_t m = slot_mem(d);
        free(d->buf);
        free(d->ext);
        d->buf = NULL;
        d->ext = NULL;
        d->buf_cap = d->ext_cap = 0;
        t->mem -= m;
        t->idle_mem -= m;
    }
    return true;
}

static bool grow_buf(struct frag_table *t, struct pkt *p, uint32_t i, uint32_t need)
{
    struct dgram *d = &t->d[i];
    if (need <= d->buf_cap)
        return true;
    uint32_t cap = d->buf_cap ? d->buf_cap * 2 : FRAG_BUF_STEP;
    if (cap < need)
        cap = (need + FRAG_BUF_STEP - 1) / FRAG_BUF_STEP * FRAG_BUF_STEP;
    if (cap > FRAG_IP_MAX + 1)
        cap = FRAG_IP_MAX + 1;
    if (!reserve_mem(t, p, cap - d->buf_cap, i))
        return false;
    uint8_t *nb = realloc(d->buf, cap);
    if (!nb)
        return false;
    t->mem += cap - d->buf_cap;
    d->buf = nb;
    d->buf_cap = cap;
    return true;
}

static bool grow_ext(struct frag_table *t, struct pkt *p, uint32_t i)
{
    struct dgram *d = &t->d[i];
    if (d->nfrags < d->ext_cap)
        return true;
    uint32_t cap = d->ext_cap ? d->ext_cap * 2 : FRAG_EXT_MIN;
    if (cap > FRAG_MAX_FRAGS)
        cap = FRAG_MAX_FRAGS;
    if (cap <= d->ext_cap)
        return false;
    if (!reserve_mem(t, p, (uint64_t)(cap - d->ext_cap) * sizeof(struct frag_ext), i))
        return false;
    struct frag_ext *ne = realloc(d->ext, (size_t)cap * sizeof(*ne));
    if (!ne)
        return false;
    t->mem += (uint64_t)(cap - d->ext_cap) * sizeof(*ne);
    d->ext = ne;
    d->ext_cap = cap;
    return true;
}

static uint32_t lookup(const struct frag_table *t, const struct pkt *p, uint8_t key_proto,
                       uint32_t h)
{
    uint32_t i = t->buckets[h & (FRAG_BUCKETS - 1)];
    for (uint32_t n = 0; i != NONE && n < FRAG_MAX_DATAGRAMS; n++) {
        const struct dgram *d = &t->d[i];
        if (d->hash == h && d->id == p->ip_id && d->ipver == p->ipver &&
            d->key_proto == key_proto && ip_addr_eq(&d->src, &p->src) &&
            ip_addr_eq(&d->dst, &p->dst))
            return i;
        i = d->hnext;
    }
    return NONE;
}

static uint32_t create(struct frag_table *t, struct pkt *p, uint8_t key_proto, uint32_t h)
{
    if (t->free_head == NONE && !grow_slots(t) && !evict_one(t, p, NONE))
        return NONE;
    uint32_t i = t->free_head;
    struct dgram *d = &t->d[i];
    t->free_head = d->hnext;
    t->idle_mem -= slot_mem(d);
    /* keep storage, reset the rest */
    uint8_t *buf = d->buf;
    uint32_t buf_cap = d->buf_cap;
    struct frag_ext *ext = d->ext;
    uint32_t ext_cap = d->ext_cap;
    memset(d, 0, sizeof(*d));
    d->buf = buf;
    d->buf_cap = buf_cap;
    d->ext = ext;
    d->ext_cap = ext_cap;

    d->src = p->src;
    d->dst = p->dst;
    d->id = p->ip_id;
    d->ipver = p->ipver;
    d->key_proto = key_proto;
    d->proto = p->l4proto;
    d->in_use = true;
    d->hash = h;
    d->seq = t->next_seq++;
    d->first_ts = d->last_ts = p->ts_us;
    uint64_t to = p->ipver == 6 ? FRAG6_TIMEOUT_US : FRAG_TIMEOUT_US;
    d->deadline = p->ts_us > UINT64_MAX - to ? UINT64_MAX : p->ts_us + to;
    uint32_t *b = &t->buckets[h & (FRAG_BUCKETS - 1)];
    d->hnext = *b;
    *b = i;
    struct frag_list *l = &t->lists[p->ipver == 6];
    d->lprev = l->tail;
    d->lnext = NONE;
    if (l->tail != NONE)
        t->d[l->tail].lnext = i;
    else
        l->head = i;
    l->tail = i;
    t->n_used++;
    return i;
}

/* Discards the datagram's contents: later fragments are swallowed until the deadline. */
static int discard(struct frag_table *t, uint32_t i, struct pkt *p, enum anomaly a,
                   struct frag_info *info)
{
    struct dgram *d = &t->d[i];
    pkt_anom(p, a);
    if (!d->dead) {
        d->dead = true;
        t->st.dropped++;
    }
    fill_info(d, info);
    return FRAG_DROPPED;
}

/* Whether the captured bytes of [off, off+n) in the buffer equal src's first n bytes. */
static bool same_bytes(const struct dgram *d, uint32_t off, const uint8_t *src, uint32_t n)
{
    return n == 0 || memcmp(d->buf + off, src, n) == 0;
}

/* One fragment's extent in the datagram payload, per its IP header and as captured. */
struct frag_in {
    uint32_t off, end; /* [off, end) per the IP header */
    uint32_t full;     /* bytes per the IP header */
    uint32_t capd;     /* bytes captured (<= full) */
    bool mf;
    const uint8_t *src;
};

static void frag_extent(const struct pkt *p, struct frag_in *fx)
{
    uint32_t hdr = p->l3_len - p->frag_data_len;
    fx->full = p->ip_len >= hdr ? p->ip_len - hdr : p->frag_data_len;
    fx->capd = p->frag_data_len < fx->full ? p->frag_data_len : fx->full;
    fx->off = p->frag_off;
    fx->end = fx->off + fx->full; /* off <= 65528, full <= 65535 (jumbograms aside) */
    if (fx->end < fx->off)
        fx->end = UINT32_MAX;
    fx->mf = p->frag_mf;
    fx->src = p->frag_data;
}

/* The length rules of RFC 791 §3.2 and RFC 8200 §4.5 against what the datagram already holds:
 * the anomaly that discards it, or ANOM__COUNT when the fragment fits. */
static enum anomaly frag_length_error(const struct dgram *d, const struct frag_in *fx)
{
    if (fx->end > FRAG_IP_MAX)
        return ANOM_FRAG_TOO_BIG;
    if (fx->mf && (fx->full == 0 || fx->full % 8 != 0))
        return ANOM_FRAG_BAD_LENGTH;
    if (!fx->mf) {
        if (d->has_last && fx->end != d->end)
            return ANOM_FRAG_BAD_LENGTH;
        for (uint32_t k = 0; k < d->nfrags; k++) {
            if (d->ext[k].end > fx->end)
                return ANOM_FRAG_BAD_LENGTH;
        }
    } else if (d->has_last && fx->end > d->end) {
        return ANOM_FRAG_BAD_LENGTH;
    }
    return ANOM__COUNT;
}

/* Duplicates and overlaps, comparing the captured bytes both copies have. Returns true when the
 * fragment ends here, with *rc FRAG_PENDING for an exact duplicate (ignored) or FRAG_DROPPED when
 * an IPv6 overlap with different bytes discards the datagram (RFC 5722); false when it is to be
 * stored. */
static bool frag_overlaps(struct frag_table *t, uint32_t i, struct pkt *p, const struct frag_in *fx,
                          struct frag_info *info, int *rc)
{
    struct dgram *d = &t->d[i];
    bool overlap = false;
    bool differ = false;
    for (uint32_t k = 0; k < d->nfrags; k++) {
        const struct frag_ext *e = &d->ext[k];
        if (fx->off >= e->end || e->off >= fx->end)
            continue;
        uint32_t lo = fx->off > e->off ? fx->off : e->off;
        uint32_t hi = fx->end < e->end ? fx->end : e->end;
        uint32_t chi = e->cend < fx->off + fx->capd ? e->cend : fx->off + fx->capd;
        if (chi > hi)
            chi = hi;
        if (chi > lo && !same_bytes(d, lo, fx->src + (lo - fx->off), chi - lo))
            differ = true;
        if (e->off == fx->off && e->end == fx->end && !differ) {
            /* exact duplicate (same extent, same bytes): ignored */
            d->duplicate = true;
            pkt_anom(p, ANOM_FRAG_DUPLICATE);
            if (d->nframes < FRAG_INFO_FRAMES)
                d->frames[d->nframes++] = p->frame;
            fill_info(d, info);
            *rc = FRAG_PENDING;
            return true;
        }
        overlap = true;
    }
    if (overlap || differ) {
        d->overlap = true;
        if (p->ipver == 6 && differ) {
            *rc = discard(t, i, p, ANOM_FRAG_OVERLAP, info);
            return true;
        }
        pkt_anom(p, ANOM_FRAG_OVERLAP);
    }
    return false;
}

/* Copies the fragment into the datagram and records its extent (sorted by offset), the first
 * fragment's protocol and ports, the last one's end. False when memory is refused. */
static bool frag_store(struct frag_table *t, uint32_t i, struct pkt *p, const struct frag_in *fx)
{
    if (!grow_ext(t, p, i) || !grow_buf(t, p, i, fx->off + fx->capd))
        return false;
    struct dgram *d = &t->d[i];
    if (fx->capd > 0)
        memcpy(d->buf + fx->off, fx->src, fx->capd);
    uint32_t k = d->nfrags;
    while (k > 0 && (d->ext[k - 1].off > fx->off ||
                     (d->ext[k - 1].off == fx->off && d->ext[k - 1].end > fx->end))) {
        d->ext[k] = d->ext[k - 1];
        k--;
    }
    d->ext[k].off = fx->off;
    d->ext[k].end = fx->end;
    d->ext[k].cend = fx->off + fx->capd;
    d->nfrags++;
    d->bytes += fx->full;
    if (fx->off > d->max_off)
        d->max_off = fx->off;
    if (fx->capd < fx->full)
        d->snapped = true;
    if (d->nframes < FRAG_INFO_FRAMES)
        d->frames[d->nframes++] = p->frame;
    if (!fx->mf) {
        d->has_last = true;
        d->end = fx->end;
    }
    if (fx->off == 0) {
        d->has_first = true;
        d->proto = p->l4proto;
        if (p->l4proto == IPP_UDP || p->l4proto == IPP_TCP) {
            struct rd r = rd_init(p->frag_data, fx->capd);
            uint16_t sp = rd_be16(&r);
            uint16_t dp = rd_be16(&r);
            if (rd_ok(&r)) {
                d->has_ports = true;
                d->sport = sp;
                d->dport = dp;
            }
        }
    }
    return true;
}

/* FRAG_COMPLETE with *data and *len set when [0, end) is covered, else FRAG_PENDING. */
static int frag_try_complete(struct frag_table *t, uint32_t i, struct pkt *p,
                             struct frag_info *info, const uint8_t **data, uint32_t *len)
{
    struct dgram *d = &t->d[i];
    if (d->has_first && d->has_last) {
        uint32_t pos = 0;
        for (uint32_t n = 0; n < d->nfrags && d->ext[n].off <= pos; n++) {
            if (d->ext[n].end > pos)
                pos = d->ext[n].end;
        }
        if (pos >= d->end) {
            fill_info(d, info);
            info->complete = true;
            info->bytes = d->end;
            *data = d->buf;
            *len = d->end;
            if (d->snapped) {
                /* only the contiguous captured prefix is usable */
                uint32_t cpos = 0;
                for (uint32_t n = 0; n < d->nfrags && d->ext[n].off <= cpos; n++) {
                    if (d->ext[n].cend > cpos)
                        cpos = d->ext[n].cend;
                }
                *len = cpos < d->end ? cpos : d->end;
                pkt_anom(p, ANOM_IP_SNAPLEN_SHORT);
            }
            t->st.completed++;
            release(t, i); /* the buffer stays intact until the next frag_* call */
            return FRAG_COMPLETE;
        }
    }
    fill_info(d, info);
    return FRAG_PENDING;
}

int frag_add(struct frag_table *t, struct pkt *p, struct frag_info *info, const uint8_t **data,
             uint32_t *len)
{
    *data = NULL;
    *len = 0;
    if (!p->is_frag || (p->ipver != 4 && p->ipver != 6) || p->frag_data_len > p->l3_len) {
        memset(info, 0, sizeof(*info));
        return FRAG_DROPPED;
    }
    struct frag_in fx;
    frag_extent(p, &fx);

    uint8_t key_proto = p->ipver == 4 ? p->l4proto : 0;
    uint32_t h = key_hash(&p->src, &p->dst, p->ip_id, p->ipver, key_proto);
    uint32_t i = lookup(t, p, key_proto, h);
    if (i == NONE) {
        i = create(t, p, key_proto, h);
        if (i == NONE) {
            memset(info, 0, sizeof(*info));
            pkt_anom(p, ANOM_FRAG_TABLE_FULL);
            return FRAG_DROPPED;
        }
    }
    struct dgram *d = &t->d[i];
    if (p->ts_us > d->last_ts)
        d->last_ts = p->ts_us;
    if (d->dead) {
        fill_info(d, info);
        return FRAG_DROPPED;
    }

    enum anomaly bad = frag_length_error(d, &fx);
    if (bad != ANOM__COUNT)
        return discard(t, i, p, bad, info);
    int rc = FRAG_PENDING;
    if (frag_overlaps(t, i, p, &fx, info, &rc))
        return rc;
    if (d->nfrags >= FRAG_MAX_FRAGS)
        return discard(t, i, p, ANOM_FRAG_TOO_MANY, info);
    if (d->nfrags > 0 && fx.off < d->max_off) {
        d->out_of_order = true;
        pkt_anom(p, ANOM_FRAG_OUT_OF_ORDER);
    }
    if (!frag_store(t, i, p, &fx)) {
        pkt_anom(p, ANOM_FRAG_TABLE_FULL);
        d->dead = true;
        t->st.dropped++;
        fill_info(d, info);
        return FRAG_DROPPED;
    }
    return frag_try_complete(t, i, p, info, data, len);
}

void frag_expire(struct frag_table *t, uint64_t now_us,
                 void (*cb)(void *ctx, const struct frag_info *info), void *ctx)
{
    for (uint32_t q = 0; q < t->n_evq; q++) {
        if (cb)
            cb(ctx, &t->evq[q]);
    }
    t->n_evq = 0;
    bool flush = now_us == UINT64_MAX;
    for (;;) {
        uint32_t best = NONE;
        for (int v = 0; v < 2; v++) {
            uint32_t i = t->lists[v].head;
            if (i == NONE || (!flush && t->d[i].deadline > now_us))
                continue;
            if (best == NONE || t->d[i].seq < t->d[best].seq)
                best = i;
        }
        if (best == NONE)
            break;
        struct dgram *d = &t->d[best];
        if (!d->dead) {
            struct frag_info info;
            fill_info(d, &info);
            if (flush) {
                t->st.incomplete_at_end++;
            } else {
                info.timed_out = true;
                t->st.timed_out++;
            }
            if (cb)
                cb(ctx, &info);
        }
        release(t, best);
    }
}

struct frag_stats frag_stats(const struct frag_table *t)
{
    return t->st;
}

uint32_t frag_pending(const struct frag_table *t)
{
    return t->n_used;
}

uint64_t frag_mem_bytes(const struct frag_table *t)
{
    return t->mem;
}
