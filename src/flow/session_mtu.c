/* session_mtu.c - path-MTU facts of the session model: for each tunnel flow (ESP, ESP in UDP, GRE,
 * WireGuard, OpenVPN) and direction, which packet sizes were answered by the other direction and
 * which were not (with DF), and the ICMP "fragmentation needed" / ICMPv6 "packet too big" messages
 * by the datagram they quote. A black hole shows as large packets never answered while small
 * ones of the same flow keep being answered. */
#include "session_int.h"

#include <stdlib.h>
#include <string.h>

#include "vpnscope/proto.h"
#include "vpnscope/table.h"

/* Tunnel packets whose loss shows as silence: datagram tunnels only. OpenVPN over TCP is left out
 * (TCP acknowledges segments in bulk and retransmits; its segment sizes follow the MSS). */
static bool is_tunnel_data(const struct pkt *p)
{
    if (p->l4proto == IPP_TCP)
        return false;
    switch (p->vpn) {
    case VPN_ESP:
    case VPN_GRE:
    case VPN_WG:
    case VPN_OVPN:
        return true;
    default:
        return false;
    }
}

/* UDP between two unprivileged ports that no decoder claimed: a tunnel vpnscope may not decode
 * (timing only: mtu_blackhole looks at decoded tunnels). */
static bool maybe_tunnel(const struct pkt *p)
{
    return p->vpn == VPN_NONE && p->l4proto == IPP_UDP && p->has_ports && p->sport >= 1024 &&
           p->dport >= 1024;
}

/* The full form of a record that left the narrow range (see struct mtu_ndir): replaces nd[]. */
struct mtu_wide {
    uint64_t last_ts;    /* the flow's latest packet */
    struct mtu_dir w[2]; /* the directions (their sizes owned from here) */
};

/* A record's out-of-line part: its listed lost frames, and the full form once wide. */
struct mtu_ext {
    uint64_t lost[2][MTU_FRAMES];
    struct mtu_wide *wide; /* NULL while narrow */
};

/* Time going back this far behind a record's first packet still fits the narrow form (us). */
#define MTU_TS_SLACK (1ull << 24)

static inline uint64_t dec(uint64_t base, uint32_t c)
{
    return c ? base - 1 + c : 0;
}

/* The caller knows v fits: 0, or base <= v < base + UINT32_MAX. */
static inline uint32_t enc(uint64_t base, uint64_t v)
{
    return v ? (uint32_t)(v - (base - 1)) : 0;
}

static inline bool fits(uint64_t base, uint64_t v)
{
    return !v || v - base < UINT32_MAX;
}

/* n compact size entries c as struct mtu_size entries at w. */
static void nsizes_read(const struct mtu_nsize *c, unsigned n, struct mtu_size *w)
{
    for (unsigned k = 0; k < n; k++) {
        w[k].len = c[k].len + (uint32_t)MTU_LARGE;
        w[k].sent = c[k].c[0];
        w[k].answered = c[k].c[1];
        w[k].unanswered_df = c[k].c[2];
    }
}

static void dec_dir(const struct mtu_flow *mf, int i, struct mtu_dir *o)
{
    const struct mtu_ndir *n = &mf->nd[i];
    uint64_t bt = mf->base_ts, bf = mf->base_frame;
    o->pend = n->pend;
    o->pend_df = n->pend_df;
    o->n_sizes = n->n_sizes;
    o->sizes_cap = n->sizes_cap;
    o->pend_len = n->pend_len;
    o->sizes_dropped = n->sizes_dropped;
    o->lost_frames_total = n->lost_frames_total;
    o->n_lost_frames = n->n_lost_frames;
    o->pend_ts = dec(bt, n->pend_ts);
    o->pend_frame = dec(bf, n->pend_frame);
    o->sizes = n->sizes;
    if (n->sizes && !n->sizes_wide) {
        nsizes_read(n->sizes, n->n_sizes, o->size_buf);
        o->sizes = o->size_buf;
    }
    o->small_sent = n->small_sent;
    o->first_large_loss_ts = dec(bt, n->first_large_loss_ts);
    o->answered_after_loss = n->answered_after_loss;
    o->lost_frames = mf->ext ? mf->ext->lost[i] : NULL;
    o->n = n->n;
    o->first_ts = dec(bt, n->first_ts);
    o->last_ts = dec(bt, n->last_ts);
    o->first_since_other = dec(bt, n->first_since_other);
    o->first_since_other_frame = dec(bf, n->first_since_other_frame);
    o->sil_start = dec(bt, n->sil_start);
    o->sil_end = dec(bt, n->sil_end);
    o->sil_end_frame = dec(bf, n->sil_end_frame);
    o->sil_other = n->sil_other;
    o->n_since_peer = n->n_since_peer;
}

static bool is_wide(const struct mtu_flow *mf)
{
    return mf->ext && mf->ext->wide;
}

static struct mtu_ext *ext_of(struct mtu_flow *mf)
{
    if (!mf->ext)
        mf->ext = calloc(1, sizeof(*mf->ext));
    return mf->ext;
}

/* The sizes of n move to struct mtu_size entries (false: out of memory, unchanged). */
static bool sizes_widen(struct mtu_ndir *n)
{
    if (n->sizes_wide || !n->sizes)
        return n->sizes_wide = true;
    struct mtu_size *w = malloc(n->sizes_cap * sizeof(*w));
    if (!w)
        return false;
    nsizes_read(n->sizes, n->n_sizes, w);
    free(n->sizes);
    n->sizes = w;
    n->sizes_wide = true;
    return true;
}

/* The record moves to the full form (false: out of memory, the record stays as it was). */
static bool widen(struct mtu_flow *mf)
{
    struct mtu_ext *x = ext_of(mf);
    if (!x || !sizes_widen(&mf->nd[0]) || !sizes_widen(&mf->nd[1]))
        return false;
    struct mtu_wide *w = malloc(sizeof(*w));
    if (!w)
        return false;
    for (int i = 0; i < 2; i++) {
        dec_dir(mf, i, &w->w[i]);
        mf->nd[i].sizes = NULL; /* owned by w[i] from now on */
    }
    w->last_ts = dec(mf->base_ts, mf->last_ts);
    x->wide = w;
    return true;
}

void session_mtu_dir(const struct mtu_flow *mf, int dir, struct mtu_dir *out)
{
    if (is_wide(mf))
        *out = mf->ext->wide->w[dir];
    else
        dec_dir(mf, dir, out);
}

uint64_t session_mtu_last_ts(const struct mtu_flow *mf)
{
    return is_wide(mf) ? mf->ext->wide->last_ts : dec(mf->base_ts, mf->last_ts);
}

const struct mtu_flow *session_mtu_slot(const struct session_model *m, uint32_t i,
                                        const struct flow_key **k)
{
    const void *key = NULL;
    const struct mtu_flow *mf = table_slot(m->mtu, i, &key);
    if (k)
        *k = key;
    return mf;
}

/*
 * The update works on a direction handle: the narrow form (n) or the full one (w). The functions
 * below are inlined into tunnel_packet's two calls, one with w NULL and one with n NULL, so each
 * copy reads its own form without a test per field. Times and frames go through codes in the
 * narrow form (every one came from a packet that fit, checked before the update); counts are at
 * most the direction's n, kept below UINT32_MAX.
 */
struct dh {
    struct mtu_flow *mf;
    struct mtu_ndir *n;
    struct mtu_dir *w;
    int i;
};

#define INL static inline __attribute__((always_inline))
#define F(h, f) (*((h)->w ? &(h)->w->f : &(h)->n->f)) /* a field of one width in both */
#define CNT(h, f) ((h)->w ? (h)->w->f : (uint64_t)(h)->n->f)
#define INC(h, f) ((h)->w ? (void)(h)->w->f++ : (void)(h)->n->f++)
#define GT(h, f) ((h)->w ? (h)->w->f : dec((h)->mf->base_ts, (h)->n->f))
#define ST(h, f, v)                                                                                \
    ((h)->w ? (void)((h)->w->f = (v)) : (void)((h)->n->f = enc((h)->mf->base_ts, (v))))
#define GF(h, f) ((h)->w ? (h)->w->f : dec((h)->mf->base_frame, (h)->n->f))
#define SF(h, f, v)                                                                                \
    ((h)->w ? (void)((h)->w->f = (v)) : (void)((h)->n->f = enc((h)->mf->base_frame, (v))))

/* The entry of size len in a struct mtu_size array (sz, *n of *cap; grown on demand). */
static struct mtu_size *size_slot(struct mtu_size **sz, uint8_t *n, uint8_t *cap, uint32_t *dropped,
                                  uint32_t len)
{
    for (unsigned i = 0; i < *n; i++)
        if ((*sz)[i].len == len)
            return &(*sz)[i];
    if (*n >= MTU_SIZES) {
        (*dropped)++;
        return NULL;
    }
    if (*n >= *cap) {
        /* most tunnel flows see a few sizes (and one-packet flood flows one): grown to need */
        unsigned nc = *cap ? *cap * 2u : 2u;
        if (nc > MTU_SIZES)
            nc = MTU_SIZES;
        struct mtu_size *ns = realloc(*sz, nc * sizeof(*ns));
        if (!ns) {
            (*dropped)++; /* out of memory: counted as a size not kept */
            return NULL;
        }
        *sz = ns;
        *cap = (uint8_t)nc;
    }
    struct mtu_size *s = &(*sz)[(*n)++];
    memset(s, 0, sizeof(*s));
    s->len = len;
    return s;
}

enum { S_SENT, S_ANSWERED, S_LOST };

/* Counts a packet of size len (>= MTU_LARGE) of direction h as sent, answered or lost (S_*):
 * false when the size is not kept (more than MTU_SIZES, out of memory). */
INL bool size_count(const struct dh *h, uint32_t len, int what)
{
    if (!h->w && !h->n->sizes_wide) {
        struct mtu_ndir *n = h->n;
        struct mtu_nsize *c = n->sizes;
        uint32_t code = len - MTU_LARGE;
        unsigned i = 0;
        while (i < n->n_sizes && c[i].len != code)
            i++;
        if (code <= UINT16_MAX && i < n->n_sizes && c[i].c[what] < UINT16_MAX) {
            c[i].c[what]++;
            return true;
        }
        if (code <= UINT16_MAX && i == n->n_sizes) {
            if (i >= MTU_SIZES) {
                n->sizes_dropped++;
                return false;
            }
            if (i >= n->sizes_cap) {
                unsigned nc = n->sizes_cap ? n->sizes_cap * 2u : 2u;
                if (nc > MTU_SIZES)
                    nc = MTU_SIZES;
                struct mtu_nsize *ns = realloc(c, nc * sizeof(*ns));
                if (!ns) {
                    n->sizes_dropped++; /* out of memory: counted as a size not kept */
                    return false;
                }
                n->sizes = c = ns;
                n->sizes_cap = (uint8_t)nc;
            }
            memset(&c[i], 0, sizeof(c[i]));
            c[i].len = (uint16_t)code;
            c[i].c[what] = 1;
            n->n_sizes++;
            return true;
        }
        /* a size or a count past 16 bits: this direction's sizes move to the wide entries */
        if (!sizes_widen(n)) {
            n->sizes_dropped++; /* out of memory: counted as a size not kept */
            return false;
        }
    }
    struct mtu_size *s;
    if (h->w) {
        s = size_slot(&h->w->sizes, &h->w->n_sizes, &h->w->sizes_cap, &h->w->sizes_dropped, len);
    } else {
        struct mtu_size *sz = h->n->sizes;
        s = size_slot(&sz, &h->n->n_sizes, &h->n->sizes_cap, &h->n->sizes_dropped, len);
        h->n->sizes = sz;
    }
    if (!s)
        return false;
    if (what == S_SENT)
        s->sent++;
    else if (what == S_ANSWERED)
        s->answered++;
    else
        s->unanswered_df++;
    return true;
}

/* The mtu table's eviction hook (and session_model_free): the record's out-of-line parts. */
void mtu_evicted(void *ctx, const void *key, void *val)
{
    (void)ctx;
    (void)key;
    struct mtu_flow *mf = val;
    for (int d = 0; d < 2; d++) {
        free(mf->nd[d].sizes);
        mf->nd[d].sizes = NULL;
        mf->nd[d].n_sizes = mf->nd[d].sizes_cap = 0;
        mf->nd[d].n_lost_frames = 0;
        if (is_wide(mf))
            free(mf->ext->wide->w[d].sizes);
    }
    if (mf->ext)
        free(mf->ext->wide);
    free(mf->ext);
    mf->ext = NULL;
}

/* The waiting packet of direction h got its answer (answered) or was followed by another send
 * (lost). */
INL void settle(const struct dh *h, bool answered)
{
    if (!F(h, pend))
        return;
    F(h, pend) = false;
    uint32_t len = F(h, pend_len);
    bool large = len >= MTU_LARGE;
    if (answered) {
        if (GT(h, first_large_loss_ts))
            INC(h, answered_after_loss);
        if (large)
            size_count(h, len, S_ANSWERED);
        return;
    }
    if (!large || !F(h, pend_df) || !size_count(h, len, S_LOST))
        return;
    if (!GT(h, first_large_loss_ts))
        ST(h, first_large_loss_ts, GT(h, pend_ts));
    F(h, lost_frames_total)++;
    struct mtu_ext *x = ext_of(h->mf); /* out of memory: not listed */
    if (x && F(h, n_lost_frames) < MTU_FRAMES) {
        if (h->w)
            h->w->lost_frames = x->lost[h->i];
        x->lost[h->i][F(h, n_lost_frames)++] = GF(h, pend_frame);
    }
}

/* Direction d's packet p: its timing, and the silence it ends while the other direction o sent. */
INL void timing(const struct dh *d, const struct dh *o, const struct pkt *p)
{
    uint64_t n = CNT(d, n), last = GT(d, last_ts), o_last = GT(o, last_ts);
    if (n && o_last > last && GT(o, first_since_other) > last) {
        if (p->ts_us - last > GT(d, sil_end) - GT(d, sil_start)) {
            ST(d, sil_start, last);
            ST(d, sil_end, p->ts_us);
            SF(d, sil_end_frame, p->frame);
            F(d, sil_other) = F(d, n_since_peer);
        }
    }
    if (!n || o_last > last) {
        ST(d, first_since_other, p->ts_us);
        SF(d, first_since_other_frame, p->frame);
    }
    if (!n)
        ST(d, first_ts, p->ts_us);
    INC(d, n);
    ST(d, last_ts, p->ts_us);
    F(d, n_since_peer) = 0;
    F(o, n_since_peer)++;
}

/* Packet p of direction d (o: the other one) of its record. */
INL void update(struct session_model *m, const struct dh *d, const struct dh *o,
                const struct pkt *p, bool data)
{
    timing(d, o, p);
    settle(o, true);
    if (!data)
        return;
    settle(d, false);
    F(d, pend) = true;
    F(d, pend_len) = p->ip_len;
    F(d, pend_df) = p->ipver == 6 || p->df;
    ST(d, pend_ts, p->ts_us);
    SF(d, pend_frame, p->frame);
    if (p->ip_len < MTU_LARGE)
        INC(d, small_sent);
    else
        size_count(d, p->ip_len, S_SENT);
    if (GT(d, first_large_loss_ts) && p->ip_len >= MTU_LARGE)
        table_set_class(m->mtu, d->mf, 1);
}

static void update_narrow(struct session_model *m, struct mtu_flow *mf, int dir,
                          const struct pkt *p, bool data)
{
    struct dh d = {mf, &mf->nd[dir], NULL, dir}, o = {mf, &mf->nd[!dir], NULL, !dir};
    mf->last_ts = enc(mf->base_ts, p->ts_us);
    update(m, &d, &o, p, data);
}

static void update_wide(struct session_model *m, struct mtu_flow *mf, int dir, const struct pkt *p,
                        bool data)
{
    struct dh d = {mf, NULL, &mf->ext->wide->w[dir], dir},
              o = {mf, NULL, &mf->ext->wide->w[!dir], !dir};
    mf->ext->wide->last_ts = p->ts_us;
    update(m, &d, &o, p, data);
}

static void tunnel_packet(struct session_model *m, const struct pkt *p)
{
    if (p->l4proto == IPP_TCP)
        return; /* no record is TCP: is_tunnel_data and maybe_tunnel leave it out */
    uint16_t sp = p->has_ports ? p->sport : 0, dp = p->has_ports ? p->dport : 0;
    struct flow_key k;
    sess_flow_key(&k, p->l4proto, &p->src, sp, &p->dst, dp);
    bool data = (is_tunnel_data(p) || maybe_tunnel(p)) && !(p->is_frag && !p->reassembled);
    bool created = false;
    struct mtu_flow *mf = data ? table_put(m->mtu, &k, &created) : table_get(m->mtu, &k, true);
    if (!mf)
        return;
    if (created) {
        mf->base_ts = p->ts_us > MTU_TS_SLACK ? p->ts_us - MTU_TS_SLACK : 0;
        mf->base_frame = p->frame;
    }
    if (is_tunnel_data(p) && !mf->vpn) {
        mf->vpn = (uint8_t)p->vpn;
        mf->esp_in_udp = p->esp_in_udp;
    }
    /* the key's a is the source unless sess_flow_key swapped the endpoints (then it is the
     * source only when both ends are the same endpoint) */
    int dir = (!memcmp(&k.a, &p->src, sizeof(k.a)) && k.pa == sp) ||
                      (sp == dp && ip_addr_eq(&p->src, &p->dst))
                  ? 0
                  : 1;
    if (!is_wide(mf) &&
        (!fits(mf->base_ts, p->ts_us) || !fits(mf->base_frame, p->frame) ||
         mf->nd[dir].n >= UINT32_MAX - 1) &&
        !widen(mf))
        return; /* out of memory: the packet is left out rather than stored wrapped */
    if (is_wide(mf))
        update_wide(m, mf, dir, p, data);
    else
        update_narrow(m, mf, dir, p, data);
}

static void too_big(struct session_model *m, const struct pkt *p)
{
    const struct icmp_too_big *tb = &p->too_big;
    struct too_big_key k;
    memset(&k, 0, sizeof(k));
    k.src = tb->src;
    k.dst = tb->dst;
    k.proto = tb->proto;
    if (tb->has_ports) {
        k.sport = tb->sport;
        k.dport = tb->dport;
    }
    bool created = false;
    struct too_big_rec *r = table_put(m->too_big, &k, &created);
    if (!r)
        return;
    if (created) {
        r->k = k;
        r->from = p->src;
        r->mtu = tb->mtu;
        r->quoted_len_min = tb->len;
        r->first_ts = p->ts_us;
        r->first_frame = p->frame;
        r->ipver = p->ipver;
    }
    if (tb->mtu && (!r->mtu || tb->mtu < r->mtu))
        r->mtu = tb->mtu;
    if (tb->len < r->quoted_len_min)
        r->quoted_len_min = tb->len;
    r->count++;
    r->last_ts = p->ts_us;
    if (r->nframes < 4)
        r->frames[r->nframes++] = p->frame;
}

void sess_mtu_update(struct session_model *m, const struct pkt *p)
{
    if (!m->mtu || !p->ipver)
        return;
    if (p->too_big.valid) {
        too_big(m, p);
        return;
    }
    tunnel_packet(m, p);
}

/* End of input: a packet still waiting was lost when the capture went on for a while after it
 * (a retransmission timer's worth); one sent just before the end says nothing. */
void sess_mtu_finish(struct session_model *m)
{
    if (!m->mtu)
        return;
    for (uint32_t i = 0; i < table_slots(m->mtu); i++) {
        struct mtu_flow *mf = table_slot(m->mtu, i, NULL);
        if (!mf)
            continue;
        for (int d = 0; d < 2; d++) {
            struct dh h = {mf, &mf->nd[d], is_wide(mf) ? &mf->ext->wide->w[d] : NULL, d};
            if (F(&h, pend) && m->c.last_ts >= GT(&h, pend_ts) + 1000000u)
                settle(&h, false);
        }
    }
}

const struct mtu_flow *session_mtu_of(const struct session_model *m, const struct flow_key *k)
{
    return m->mtu ? table_get(m->mtu, k, false) : NULL;
}

const struct too_big_rec *session_too_big_for(const struct session_model *m, uint8_t proto,
                                              const struct ip_addr *src, uint16_t sport,
                                              const struct ip_addr *dst, uint16_t dport)
{
    if (!m->too_big)
        return NULL;
    struct too_big_key k;
    memset(&k, 0, sizeof(k));
    k.src = *src;
    k.dst = *dst;
    k.proto = proto;
    k.sport = sport;
    k.dport = dport;
    return table_get(m->too_big, &k, false);
}
