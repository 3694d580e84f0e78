/* pieces.c - several saved files read as one capture point (-r A -r B, --inside A B): which
 * files overlap in time, which packets one file repeats of another (the same file given twice,
 * two ring buffers of one tcpdump), and whether two files look like the two sides of one NAT
 * (then --inside/--outside is what the user meant).
 *
 * Repeats: a packet is a repeat when a packet of another file with the same timestamp, the same
 * captured and wire length and the same first PW_CMP bytes was read among the last PW_RECENT
 * packets, newest first down to the first older packet (the merge feeds packets by time, so
 * copies arrive together; a file whose clock stepped back may hide a few repeats). A repeat is
 * counted as "duplicate" in the summary partition and not analysed.
 *
 * NAT sides: each file keeps a bounded sample of IPv4 signatures (id, total length, protocol)
 * chosen by a hash of the signature itself, so the same packet seen by two files is kept by both
 * (consistent sampling: when the sample is full the hash threshold halves and entries above it
 * go). Two files look like the sides of a NAT when at least PW_NAT_MIN sampled packets match by
 * signature, destination and time (within PW_NAT_WINDOW_US) with a different source, and every
 * such source of one file is private and never a source in the other (a bitmap of sources per
 * file: a collision can only hide the hint, never invent it). */
#include "pipeline_int.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vpnscope/proto.h"
#include "vpnscope/report.h"

#define PW_RECENT 256                 /* packets compared for repeats */
#define PW_CMP 128                    /* bytes compared */
#define PW_SIGS 4096                  /* sampled IPv4 signatures per file */
#define PW_SRC_BITS 65536             /* source-address bitmap per file */
#define PW_NAT_MIN 3                  /* matched packets behind the NAT hint */
#define PW_NAT_WINDOW_US 120000000ull /* two clocks: matches within 120 s */

struct pw_recent {
    uint64_t ts;
    uint32_t caplen, len;
    int piece;
    bool used, valid;
    uint16_t nb;
    uint8_t b[PW_CMP];
};

struct pw_sig {
    uint64_t ts;
    struct ip_addr src, dst;
    uint32_t h; /* hash of (id, length, protocol) */
    uint16_t id, len;
    uint8_t proto;
};

struct pw_piece {
    uint64_t first, last, packets;
    struct pw_sig *sig;
    uint32_t nsig;
    uint32_t limit; /* signatures with h < limit are kept */
    uint8_t *srcbits;
};

struct pieces_watch {
    int n;
    const char *const *files;
    uint64_t *base;
    struct pw_piece *pc;
    uint64_t *rep; /* n * n: packets of b repeating a packet of a, at [a * n + b] */
    struct pw_recent ring[PW_RECENT];
    unsigned head;
    struct capture_pieces out;
};

static uint32_t mix32(uint32_t x)
{
    x ^= x >> 16;
    x *= 0x7feb352dU;
    x ^= x >> 15;
    x *= 0x846ca68bU;
    x ^= x >> 16;
    return x;
}

static uint32_t addr_hash(const struct ip_addr *a)
{
    uint32_t h = 2166136261u;
    unsigned len = a->v == 6 ? 16 : 4;
    for (unsigned i = 0; i < len; i++)
        h = (h ^ a->a[i]) * 16777619u;
    return mix32(h ^ a->v);
}

void pieces_watch_free(struct pieces_watch *w)
{
    if (!w)
        return;
    for (int i = 0; i < w->n; i++) {
        free(w->pc[i].sig);
        free(w->pc[i].srcbits);
    }
    free(w->pc);
    free(w->base);
    free(w->rep);
    free(w);
}

struct pieces_watch *pieces_watch_new(const struct cap_src *s, const char *const *files)
{
    int n = cap_pieces(s);
    if (n < 2)
        return NULL;
    struct pieces_watch *w = calloc(1, sizeof(*w));
    if (!w)
        return NULL;
    w->n = n;
    w->files = files;
    w->base = calloc((size_t)n, sizeof(*w->base));
    w->pc = calloc((size_t)n, sizeof(*w->pc));
    w->rep = calloc((size_t)n * (size_t)n, sizeof(*w->rep));
    if (!w->base || !w->pc || !w->rep) {
        pieces_watch_free(w);
        return NULL;
    }
    w->out.n = n;
    w->out.files = files;
    w->out.base = w->base;
    w->out.nat_inside = w->out.nat_outside = -1;
    for (int i = 0; i < n; i++) {
        w->base[i] = cap_piece_base(s, i);
        w->pc[i].limit = UINT32_MAX;
        w->pc[i].sig = malloc(PW_SIGS * sizeof(struct pw_sig));
        w->pc[i].srcbits = calloc(PW_SRC_BITS / 8, 1);
        if (!w->pc[i].sig || !w->pc[i].srcbits) {
            pieces_watch_free(w);
            return NULL;
        }
    }
    return w;
}

bool pieces_watch_repeat(struct pieces_watch *w, const struct raw_pkt *r)
{
    if (r->piece < 0 || r->piece >= w->n)
        return false;
    struct pw_piece *pc = &w->pc[r->piece];
    if (!pc->packets || r->ts_us < pc->first)
        pc->first = r->ts_us;
    if (r->ts_us > pc->last)
        pc->last = r->ts_us;
    pc->packets++;
    if (r->filtered)
        return false;
    uint16_t nb = (uint16_t)(r->caplen < PW_CMP ? r->caplen : PW_CMP);
    /* newest first, down to the first packet older than this one (the merge feeds packets by
     * time: a copy has the same time and was read just before) */
    for (unsigned j = 0; j < PW_RECENT; j++) {
        struct pw_recent *e = &w->ring[(w->head + PW_RECENT - 1 - j) % PW_RECENT];
        if (!e->valid || e->ts < r->ts_us)
            break;
        if (e->used || e->ts != r->ts_us || e->piece == r->piece || e->caplen != r->caplen ||
            e->len != r->len || e->nb != nb || memcmp(e->b, r->data, nb) != 0)
            continue;
        e->used = true;
        int a = e->piece < r->piece ? e->piece : r->piece;
        int b = e->piece < r->piece ? r->piece : e->piece;
        w->rep[(size_t)a * (size_t)w->n + (size_t)b]++;
        return true;
    }
    struct pw_recent *e = &w->ring[w->head];
    w->head = (w->head + 1) % PW_RECENT;
    e->valid = true;
    e->used = false;
    e->ts = r->ts_us;
    e->caplen = r->caplen;
    e->len = r->len;
    e->piece = r->piece;
    e->nb = nb;
    memcpy(e->b, r->data, nb);
    return false;
}

/* Halves the sample threshold and drops what is above it. */
static void shrink_sample(struct pw_piece *pc)
{
    pc->limit /= 2;
    uint32_t k = 0;
    for (uint32_t i = 0; i < pc->nsig; i++)
        if (pc->sig[i].h < pc->limit)
            pc->sig[k++] = pc->sig[i];
    pc->nsig = k;
}

void pieces_watch_packet(struct pieces_watch *w, int piece, const struct pkt *p)
{
    if (piece < 0 || piece >= w->n || !p || p->ipver == 0)
        return;
    struct pw_piece *pc = &w->pc[piece];
    uint32_t ah = addr_hash(&p->src) % PW_SRC_BITS;
    pc->srcbits[ah / 8] |= (uint8_t)(1u << (ah % 8));
    if (p->ipver != 4 || p->is_frag)
        return;
    uint32_t h = mix32((p->ip_id & 0xffffu) | (uint32_t)(p->ip_len & 0xffffu) << 16) ^
                 mix32(p->l4proto + 0x9e3779b9u);
    if (h >= pc->limit)
        return;
    while (pc->nsig >= PW_SIGS && pc->limit > 1) {
        shrink_sample(pc);
        if (h >= pc->limit)
            return;
    }
    if (pc->nsig >= PW_SIGS)
        return;
    struct pw_sig *s = &pc->sig[pc->nsig++];
    s->ts = p->ts_us;
    s->src = p->src;
    s->dst = p->dst;
    s->h = h;
    s->id = (uint16_t)p->ip_id;
    s->len = (uint16_t)p->ip_len;
    s->proto = p->l4proto;
}

static bool src_seen(const struct pw_piece *pc, const struct ip_addr *a)
{
    uint32_t ah = addr_hash(a) % PW_SRC_BITS;
    return (pc->srcbits[ah / 8] >> (ah % 8)) & 1u;
}

static int cmp_sig(const void *pa, const void *pb)
{
    const struct pw_sig *a = pa, *b = pb;
    if (a->h != b->h)
        return a->h < b->h ? -1 : 1;
    return a->ts < b->ts ? -1 : a->ts > b->ts;
}

/* The first signature of b (sorted by hash) with hash h: its index, or b->nsig. */
static uint32_t sig_lower(const struct pw_piece *b, uint32_t h)
{
    uint32_t lo = 0, hi = b->nsig;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (b->sig[mid].h < h)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* Packets of a (inside) matching packets of b (outside) with a translated source; 0 when any
 * matching source of a is public or also a source in b. Both samples sorted by hash. */
static uint64_t nat_pairs(const struct pw_piece *a, const struct pw_piece *b)
{
    uint64_t n = 0;
    for (uint32_t i = 0; i < a->nsig; i++) {
        const struct pw_sig *x = &a->sig[i];
        if (x->h >= b->limit)
            continue; /* b could not have kept its copy */
        for (uint32_t j = sig_lower(b, x->h); j < b->nsig && b->sig[j].h == x->h; j++) {
            const struct pw_sig *y = &b->sig[j];
            uint64_t dt = x->ts > y->ts ? x->ts - y->ts : y->ts - x->ts;
            if (y->h != x->h || y->id != x->id || y->len != x->len || y->proto != x->proto ||
                dt > PW_NAT_WINDOW_US || !ip_addr_eq(&x->dst, &y->dst) ||
                ip_addr_eq(&x->src, &y->src))
                continue;
            if (!ip_addr_is_private(&x->src) || src_seen(b, &x->src))
                return 0;
            n++;
            break;
        }
    }
    return n;
}

static void overlaps(struct pieces_watch *w, struct capture_pieces *o)
{
    for (int a = 0; a < w->n; a++)
        for (int b = a + 1; b < w->n; b++) {
            const struct pw_piece *x = &w->pc[a], *y = &w->pc[b];
            uint64_t rep = w->rep[(size_t)a * (size_t)w->n + (size_t)b];
            o->duplicates += rep;
            if (!x->packets || !y->packets)
                continue;
            uint64_t from = x->first > y->first ? x->first : y->first;
            uint64_t to = x->last < y->last ? x->last : y->last;
            if (from > to || (from == to && !rep))
                continue;
            if (o->n_overlap < PIECES_MAX_OVERLAPS) {
                struct pieces_overlap *v = &o->overlap[o->n_overlap];
                v->a = a;
                v->b = b;
                v->from_us = from;
                v->to_us = to;
                v->repeated = rep;
            }
            o->n_overlap++;
        }
}

static void nat_hint(struct pieces_watch *w, struct capture_pieces *o)
{
    o->nat_inside = o->nat_outside = -1;
    unsigned nv = o->n_overlap < PIECES_MAX_OVERLAPS ? o->n_overlap : PIECES_MAX_OVERLAPS;
    for (unsigned k = 0; k < nv; k++) {
        const struct pieces_overlap *v = &o->overlap[k];
        for (int dir = 0; dir < 2; dir++) {
            int in = dir ? v->b : v->a, out = dir ? v->a : v->b;
            uint64_t m = nat_pairs(&w->pc[in], &w->pc[out]);
            if (m >= PW_NAT_MIN && m > o->nat_pairs) {
                o->nat_pairs = m;
                o->nat_inside = in;
                o->nat_outside = out;
            }
        }
    }
}

static void say_time(uint64_t us, char *buf, unsigned size)
{
    ts_iso(us, buf, size);
}

const struct capture_pieces *pieces_watch_finish(struct pieces_watch *w, bool quiet)
{
    struct capture_pieces *o = &w->out;
    memset(o, 0, sizeof(*o));
    o->n = w->n;
    o->files = w->files;
    o->base = w->base;
    overlaps(w, o);
    for (int i = 0; i < w->n; i++)
        if (w->pc[i].nsig > 1)
            qsort(w->pc[i].sig, w->pc[i].nsig, sizeof(struct pw_sig), cmp_sig);
    nat_hint(w, o);
    unsigned nv = o->n_overlap < PIECES_MAX_OVERLAPS ? o->n_overlap : PIECES_MAX_OVERLAPS;
    for (unsigned k = 0; k < nv && !quiet; k++) {
        const struct pieces_overlap *v = &o->overlap[k];
        char t0[40], t1[40];
        say_time(v->from_us, t0, sizeof(t0));
        say_time(v->to_us, t1, sizeof(t1));
        fprintf(stderr, "vpnscope: warning: pieces %s and %s overlap in time (%s to %s)",
                w->files[v->a], w->files[v->b], t0, t1);
        if (v->repeated)
            fprintf(stderr,
                    "; %" PRIu64 " packets repeat the same bytes at the same time (analysed once, "
                    "counted as duplicate)",
                    v->repeated);
        fputc('\n', stderr);
    }
    if (!quiet && o->n_overlap > nv)
        fprintf(stderr, "vpnscope: warning: %u more overlapping pairs of pieces not listed\n",
                o->n_overlap - nv);
    if (!quiet && o->nat_inside >= 0)
        fprintf(stderr,
                "vpnscope: hint: %s and %s look like the inside and outside of a NAT (%" PRIu64
                " packets match with a translated source): use --inside %s --outside %s\n",
                w->files[o->nat_inside], w->files[o->nat_outside], o->nat_pairs,
                w->files[o->nat_inside], w->files[o->nat_outside]);
    return o;
}

const struct capture_pieces *pieces_watch_result(const struct pieces_watch *w)
{
    return w ? &w->out : NULL;
}
