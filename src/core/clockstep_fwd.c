/* clockstep_fwd.c - capture clocks that jump forward mid-capture.
 *
 * A forward step looks like idle time: nothing is captured for a while. The wire tells them
 * apart where it carries per-flow counters: ESP sequence numbers (RFC 4303), WireGuard transport
 * counters and IKE message ids (RFC 7296). A step is said only when, at one instant, every flow
 * that was sending in rhythm goes silent, and after a silence far longer than their measured
 * packet intervals they all resume together, each counter continuing without a hole, in at least
 * two conversations (address pairs): the traffic went on, only the clock moved. The same silence
 * with a hole in every counter, in two conversations or more, is a capture gap (packets were sent
 * and not captured), said as such. Anything else (some flows resume later or lost packets while
 * others did not, no counters, one conversation) is left as idle time.
 *
 * With one capture the decision needs the packets after the silence, so they are held (copied,
 * at most FWD_QUEUE packets / FWD_QUEUE_BYTES) until it is made; the flows before it come from a
 * ring of the last FWD_RING packets (their first FWD_SNAP bytes: the counters are in the
 * headers). The real time across a step is taken as the smallest packet interval of the flows
 * (they kept their rhythm): the offset removes the rest. With two captures the silences are only
 * candidates (no counters needed): clock.c measures each segment against the other capture and
 * clockstep_fwd_settle() keeps those whose offset differs.
 *
 * Limitations: TCP counters (sequence numbers, timestamps) are not used; a step during a
 * capture-wide silence of real idle traffic cannot be seen in one capture.
 */
#include "clockstep_fwd.h"

#include <stdlib.h>
#include <string.h>

#include "pipeline_int.h"
#include "vpnscope/capture.h"
#include "vpnscope/clockstep.h"
#include "vpnscope/pkt.h"
#include "vpnscope/proto.h"
#include "vpnscope/tunnel.h"

#define FWD_RING 256               /* packets before a silence examined */
#define FWD_SNAP 256               /* bytes of each kept: enough for the headers */
#define FWD_QUEUE 256              /* packets held after a silence while deciding */
#define FWD_QUEUE_BYTES (8u << 20) /* and their bytes */
#define FWD_FLOWS 64               /* counter flows followed across one silence */
#define FWD_MIN_PKTS 3             /* packets of a flow in the ring to measure its interval */
#define FWD_RHYTHM 3               /* a flow still sending: its last packet within 3 intervals */
#define FWD_RATIO 20               /* the silence: at least 20 times the longest interval */
#define FWD_RESUME_MIN_US 2000000u /* all resume within max(this, 3 intervals) of the first */

enum ctr_kind { CTR_NONE = 0, CTR_ESP, CTR_WG, CTR_IKE };

/* One packet's counter, from its headers. */
struct ctr {
    uint8_t kind;
    uint64_t key;   /* the counter's flow: SPI and destination, WireGuard receiver, IKE SPIs */
    uint64_t conv;  /* the conversation: unordered address pair */
    uint64_t value; /* sequence number, counter, message id */
};

/* A packet of the ring: its first bytes are at `ref` in the reader's buffer (saved captures,
 * until the reader moves them: fwd_moved copies them then) or copied to its row of ring_data
 * (apart, so that the 64-byte entries written at every packet stay few cache lines). */
struct ring_pkt {
    uint64_t raw;
    struct raw_pkt r;
    const uint8_t *ref;
};

struct queued {
    struct raw_pkt r;
    uint64_t raw;
    uint8_t *data;
};

/* A flow that was sending in rhythm when the silence began. */
struct fwd_flow {
    struct ctr last;
    uint64_t last_ts, first_ts;
    uint32_t n;
    uint64_t interval;
    int state; /* 0 not resumed, 1 continued, -1 a hole */
};

struct clockstep_fwd {
    struct ring_pkt ring[FWD_RING];
    uint8_t ring_data[FWD_RING][FWD_SNAP];
    unsigned ring_n, ring_head;
    const struct cap_src *watched; /* the source whose moves fwd_moved follows (refs kept) */
    unsigned nref;                 /* ring packets held by reference */
    struct pkt scratch;
    /* the silence being decided */
    bool pending;
    uint64_t gap_before, gap_after, resume_by;
    struct fwd_flow fl[FWD_FLOWS];
    unsigned nfl, resumed;
    /* held packets: q[qhead..qn) still to hand out */
    struct queued q[FWD_QUEUE];
    unsigned qn, qhead;
    size_t qbytes;
    bool decided;
    bool has_end; /* the capture ended (end_rc, end_msg) while packets were held */
    int end_rc;
    char end_msg[VPNSCOPE_ERRBUF_SIZE];
    bool has_extra; /* a packet read but not held (out of memory): handed out after them */
    struct raw_pkt extra;
    uint64_t extra_raw;
    uint8_t *handed; /* the data of the packet handed out last (freed on the next call) */
};

static uint64_t mix(uint64_t h, uint64_t v)
{
    h ^= v + 0x9e3779b97f4a7c15ull + (h << 6) + (h >> 2);
    return h;
}

/* The address bytes ip_addr_eq compares (IPv4: the first 4). */
static uint64_t addr_hash(const struct ip_addr *a)
{
    unsigned n = a->v == 6 ? 16 : 4;
    uint64_t h = a->v;
    for (unsigned i = 0; i < n; i++)
        h = h * 0x100000001b3ull ^ a->a[i];
    return mix(h, n);
}

/* The counter a packet carries, from the first bytes of it (kind CTR_NONE: none). */
static void counter_of(struct clockstep_fwd *f, const struct raw_pkt *r, const uint8_t *d,
                       uint32_t caplen, struct ctr *c)
{
    memset(c, 0, sizeof(*c));
    struct raw_pkt x = *r;
    x.data = d;
    x.caplen = caplen;
    struct pkt *p = &f->scratch;
    memset(p, 0, sizeof(*p));
    bare_decode(p, &x);
    if (!p->ipver || p->is_frag)
        return;
    struct ip_addr s = p->src, t = p->dst;
    uint64_t hs = addr_hash(&s), ht = addr_hash(&t);
    c->conv = hs < ht ? mix(hs, ht) : mix(ht, hs);
    if ((p->vpn == VPN_ESP || p->ah_esp) && p->esp.seq) {
        c->kind = CTR_ESP;
        c->key = mix(mix(ht, p->esp.spi), CTR_ESP);
        c->value = p->esp.seq;
    } else if (p->vpn == VPN_WG && p->wg.type == WG_TRANSPORT && p->wg.ids_valid) {
        c->kind = CTR_WG;
        c->key = mix(mix(ht, p->wg.receiver), CTR_WG);
        c->value = p->wg.counter;
    } else if (p->vpn == VPN_IKE && p->ike.version == 2 && p->ike.ispi) {
        c->kind = CTR_IKE;
        /* one counter per direction of requests and responses (RFC 7296 §2.2) */
        c->key = mix(mix(mix(p->ike.ispi, p->ike.rspi), hs), CTR_IKE);
        c->value = p->ike.msgid;
    }
}

/* Counters continue: ESP and WireGuard count every packet; IKE repeats or takes the next id. */
static int continuity(const struct ctr *last, const struct ctr *now)
{
    if (now->value <= last->value)
        return now->kind == CTR_IKE && now->value == last->value ? 1 : 0; /* reordered: ignore */
    return now->value == last->value + 1 ? 1 : -1;
}

/* The reader is about to move the bytes of the packets it returned: the ring copies those it
 * holds by reference (every packet is copied at most once, and only when it is still in the ring
 * then: reading a file, once per buffer refill instead of at every packet). */
static void fwd_moved(void *ctx)
{
    struct clockstep_fwd *f = ctx;
    for (unsigned k = 0; f->nref && k < FWD_RING; k++) {
        struct ring_pkt *e = &f->ring[k];
        if (!e->ref)
            continue;
        memcpy(f->ring_data[k], e->ref, e->r.caplen);
        e->ref = NULL;
        f->nref--;
    }
}

void clockstep_fwd_watch(struct clockstep_fwd *f, struct cap_src *s)
{
    if (f->watched == s)
        return;
    fwd_moved(f);
    f->watched = cap_watch_moves(s, fwd_moved, f) ? s : NULL;
}

void clockstep_fwd_ring_add(struct clockstep_fwd *f, const struct raw_pkt *r, uint64_t raw)
{
    uint8_t *data = f->ring_data[f->ring_head];
    struct ring_pkt *e = &f->ring[f->ring_head];
    f->ring_head = (f->ring_head + 1) % FWD_RING;
    if (f->ring_n < FWD_RING)
        f->ring_n++;
    e->raw = raw;
    e->r = *r;
    uint32_t n = r->caplen < FWD_SNAP ? r->caplen : FWD_SNAP;
    e->r.caplen = n;
    e->r.data = NULL;
    if (e->ref)
        f->nref--;
    e->ref = NULL;
    if (f->watched) {
        e->ref = r->data; /* stays valid until fwd_moved */
        f->nref++;
    } else {
        memcpy(data, r->data, n);
    }
}

/* The flows of the ring with a measured interval that were still sending at `before`. */
static void flows_before(struct clockstep_fwd *f, uint64_t before)
{
    f->nfl = 0;
    unsigned start = (f->ring_head + FWD_RING - f->ring_n) % FWD_RING;
    for (unsigned k = 0; k < f->ring_n; k++) {
        unsigned at = (start + k) % FWD_RING;
        struct ring_pkt *e = &f->ring[at];
        struct ctr c;
        counter_of(f, &e->r, e->ref ? e->ref : f->ring_data[at], e->r.caplen, &c);
        if (c.kind == CTR_NONE)
            continue;
        unsigned i = 0;
        while (i < f->nfl && f->fl[i].last.key != c.key)
            i++;
        if (i == f->nfl) {
            if (f->nfl == FWD_FLOWS)
                continue;
            memset(&f->fl[f->nfl++], 0, sizeof(f->fl[0]));
            f->fl[i].first_ts = e->raw;
        }
        struct fwd_flow *fl = &f->fl[i];
        if (!fl->n || c.value > fl->last.value || c.kind == CTR_IKE)
            fl->last = c;
        fl->last_ts = e->raw;
        fl->n++;
    }
    unsigned o = 0;
    for (unsigned i = 0; i < f->nfl; i++) {
        struct fwd_flow *fl = &f->fl[i];
        if (fl->n < FWD_MIN_PKTS || fl->last_ts <= fl->first_ts)
            continue;
        fl->interval = (fl->last_ts - fl->first_ts) / (fl->n - 1);
        if (fl->interval == 0 || before - fl->last_ts > FWD_RHYTHM * fl->interval)
            continue;
        f->fl[o++] = *fl;
    }
    f->nfl = o;
}

/* Whether the silence from `before` to `after` is worth deciding: flows were sending in rhythm
 * and the silence is far longer than any of their intervals. */
static bool silence_begins(struct clockstep_fwd *f, uint64_t before, uint64_t after)
{
    flows_before(f, before);
    if (f->nfl == 0)
        return false;
    uint64_t longest = 0;
    for (unsigned i = 0; i < f->nfl; i++)
        longest = f->fl[i].interval > longest ? f->fl[i].interval : longest;
    if (after - before < (uint64_t)FWD_RATIO * longest)
        return false;
    uint64_t win = 3 * longest > FWD_RESUME_MIN_US ? 3 * longest : FWD_RESUME_MIN_US;
    f->pending = true;
    f->decided = false;
    f->gap_before = before;
    f->gap_after = after;
    f->resume_by = after + win;
    f->resumed = 0;
    return true;
}

/* A packet after the silence: its flow continued, or has a hole. */
static void resume_check(struct clockstep_fwd *f, const struct raw_pkt *r, const uint8_t *d,
                         uint32_t caplen)
{
    struct ctr c;
    counter_of(f, r, d, caplen < FWD_SNAP ? caplen : FWD_SNAP, &c);
    if (c.kind == CTR_NONE)
        return;
    for (unsigned i = 0; i < f->nfl; i++) {
        struct fwd_flow *fl = &f->fl[i];
        if (fl->last.key != c.key || fl->state)
            continue;
        int k = continuity(&fl->last, &c);
        if (k) {
            fl->state = k;
            f->resumed++;
        }
        return;
    }
}

static void record_gap(struct clock_steps *cs, uint64_t frame, uint64_t before, uint64_t after)
{
    unsigned k = cs->gaps_total < CLOCKSTEP_MAX ? (unsigned)cs->gaps_total : CLOCKSTEP_MAX;
    if (k < CLOCKSTEP_MAX) {
        cs->gap_frame[k] = frame;
        cs->gap_before_us[k] = before;
        cs->gap_after_us[k] = after;
    }
    cs->gaps_total++;
}

/* The verdict on the held silence (see the top of the file). */
static void decide(struct clock_steps *cs, struct clockstep_fwd *f)
{
    f->decided = true;
    f->pending = false;
    unsigned ok = 0, holes = 0;
    uint64_t convs[2] = {0, 0};
    unsigned nconv = 0;
    uint64_t shortest = UINT64_MAX;
    for (unsigned i = 0; i < f->nfl; i++) {
        const struct fwd_flow *fl = &f->fl[i];
        if (fl->state == 0)
            continue;
        if (nconv < 2 && (nconv == 0 || convs[0] != fl->last.conv))
            convs[nconv++] = fl->last.conv;
        if (fl->state < 0) {
            holes++;
            continue;
        }
        ok++;
        shortest = fl->interval < shortest ? fl->interval : shortest;
    }
    uint64_t frame = f->qn ? f->q[0].r.frame : 0;
    if (holes + ok != f->nfl || nconv < 2)
        return; /* some flow did not resume with the others, or one conversation (its own
                 * silence, its own losses): idle time as far as we know */
    if (holes == f->nfl) {
        /* every counter skipped: the capture missed packets (a hole in one flow only is loss on
         * the network, e.g. a NAT that dropped the mapping) */
        record_gap(cs, frame, f->gap_before, f->gap_after);
        return;
    }
    if (holes || shortest >= f->gap_after - f->gap_before)
        return; /* some flows lost packets, others not: idle time as far as we know */
    int64_t jump = (int64_t)(f->gap_after - f->gap_before - shortest);
    cs->offset_us -= jump;
    cs->total++;
    if (cs->n < CLOCKSTEP_MAX) {
        struct clock_step *st = &cs->step[cs->n++];
        memset(st, 0, sizeof(*st));
        st->frame = frame;
        st->before_us = f->gap_before;
        st->after_us = f->gap_after;
        st->step_us = jump;
        st->offset_us = cs->offset_us;
        st->forward = true;
        st->assumed_us = (int64_t)shortest;
    }
}

struct clockstep_fwd *clockstep_fwd_new(void)
{
    return calloc(1, sizeof(struct clockstep_fwd));
}

void clockstep_fwd_free(struct clockstep_fwd *f)
{
    if (!f)
        return;
    for (unsigned i = f->qhead; i < f->qn; i++)
        free(f->q[i].data);
    free(f->handed);
    free(f);
}

/* Holds packet r (its bytes copied); false when the hold is full. */
static bool hold(struct clockstep_fwd *f, const struct raw_pkt *r, uint64_t raw)
{
    if (f->qn == FWD_QUEUE || f->qbytes + r->caplen > FWD_QUEUE_BYTES)
        return false;
    uint8_t *d = malloc(r->caplen ? r->caplen : 1);
    if (!d)
        return false;
    memcpy(d, r->data, r->caplen);
    struct queued *q = &f->q[f->qn++];
    q->r = *r;
    q->r.data = d;
    q->data = d;
    q->raw = raw;
    f->qbytes += r->caplen;
    return true;
}

bool clockstep_fwd_idle(const struct clockstep_fwd *f, const struct cap_src *s)
{
    return f->watched == s && !f->handed && !clockstep_fwd_holding(f);
}

bool clockstep_fwd_holding(const struct clockstep_fwd *f)
{
    return f && (f->pending || f->qhead < f->qn || f->has_extra || f->has_end);
}

/* Reads on after a silence until every flow resumed, the window closed or the hold is full,
 * then decides. 2 when a live capture has nothing now, else 1. */
static int read_on(struct clock_steps *cs, struct clockstep_fwd *f, struct cap_src *s)
{
    while (f->pending) {
        if (f->qn == FWD_QUEUE || f->qbytes >= FWD_QUEUE_BYTES) {
            decide(cs, f);
            break;
        }
        struct raw_pkt x;
        int rc = cap_next(s, &x, f->end_msg, sizeof(f->end_msg));
        if (rc == 2)
            return 2;
        if (rc != 1) {
            f->has_end = true;
            f->end_rc = rc;
            decide(cs, f);
            break;
        }
        uint64_t raw = x.ts_us;
        clockstep_fwd_ring_add(f, &x, raw);
        if (raw > cs->newest_raw)
            cs->newest_raw = raw;
        if (!hold(f, &x, raw)) {
            /* out of memory: x stays valid until the next read, which waits for it */
            f->has_extra = true;
            f->extra = x;
            f->extra_raw = raw;
            decide(cs, f);
            break;
        }
        resume_check(f, &x, x.data, x.caplen);
        if (f->resumed == f->nfl || raw > f->resume_by) {
            decide(cs, f);
            break;
        }
    }
    return 1;
}

void clockstep_fwd_release(struct clockstep_fwd *f)
{
    free(f->handed);
    f->handed = NULL;
}

int clockstep_fwd_next(struct clock_steps *cs, struct clockstep_fwd *f, struct cap_src *s,
                       struct raw_pkt *r, uint64_t *raw_ts, char *errbuf, unsigned errlen)
{
    clockstep_fwd_release(f);
    if (read_on(cs, f, s) == 2)
        return 2;
    uint64_t raw;
    if (f->qhead < f->qn) {
        struct queued *q = &f->q[f->qhead++];
        *r = q->r;
        f->handed = q->data;
        raw = q->raw;
        if (f->qhead == f->qn) {
            f->qhead = f->qn = 0;
            f->qbytes = 0;
        }
    } else if (f->has_extra) {
        f->has_extra = false;
        *r = f->extra;
        raw = f->extra_raw;
    } else if (f->has_end) {
        f->has_end = false;
        snprintf(errbuf, errlen, "%s", f->end_msg);
        return f->end_rc;
    } else {
        return -2; /* nothing held: the caller reads on its own */
    }
    if (raw_ts)
        *raw_ts = raw;
    r->ts_us = clockstep_apply(cs, r->frame, raw);
    return 1;
}

bool clockstep_fwd_silence(struct clock_steps *cs, struct clockstep_fwd *f, const struct raw_pkt *r,
                           uint64_t raw)
{
    if (!silence_begins(f, cs->newest_raw, raw))
        return false;
    hold(f, r, raw);
    resume_check(f, r, r->data, r->caplen);
    return true;
}

void clockstep_fwd_settle(struct clock_steps *cs)
{
    unsigned o = 0;
    int64_t prev = 0;
    for (unsigned k = 0; k < cs->n; k++) {
        struct clock_step *st = &cs->step[k];
        if (st->candidate) {
            int64_t d = st->offset_us - prev;
            if (!st->refined || (d < (int64_t)CLOCKSTEP_MIN_US && -d < (int64_t)CLOCKSTEP_MIN_US))
                continue;
            st->candidate = false;
            st->step_us = -d; /* the clock moved the other way from the correction */
            st->forward = st->step_us > 0;
        }
        prev = st->offset_us;
        cs->step[o++] = *st;
    }
    cs->total -= cs->n - o;
    cs->n = o;
    cs->offset_us = o ? cs->step[o - 1].offset_us : 0;
}

void clockstep_free(struct clock_steps *cs)
{
    clockstep_fwd_free(cs->fwd);
    cs->fwd = NULL;
}
