/* sides.c - two capture files (--inside/--outside) on a thread each: a side thread reads its file
 * (clock steps corrected, the outside on the inside clock), decodes, reassembles and models it in
 * its own engine, and hands one correlation record per frame (struct nat_rec; filtered frames
 * too, as NAT_REC_NONE) to the main thread through a bounded ring. The main thread merges the
 * two record streams with the rule of the one-thread loop (source.c: the smaller time first, the
 * inside on a tie) and feeds the correlator, so the correlator sees the same sequence and the
 * engines the same packets whatever the scheduling: the report is the same as with one thread.
 * The engines are independent until correlation (each has its own nDPI module); in a report run
 * each side thread makes its engine before its first frame and finishes it after its last.
 * Limitations: -w, dashboard replay, --router and live capture run on one thread (source.c); a
 * run stopped by a signal leaves the side threads a little ahead of the correlator (the report
 * of an interrupted run is partial either way). */
#include "pipeline_int.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RING_CAP 2048u /* records per side (power of 2; ~540 bytes each) */
#define RING_BATCH 64u /* records published / released at a time */

struct srec {
    struct nat_rec nr;
    uint32_t len;  /* original frame length */
    bool filtered; /* rejected by the BPF filter */
    uint8_t end;   /* 0 a frame, 1 the input ended, 2 it failed (side.msg) */
};

struct side {
    struct pipeline *p;
    int i;
    pthread_t th;
    struct srec *slot;
    pthread_mutex_t mu;
    pthread_cond_t cv; /* producer waiting for room or consumer waiting for records: never both */
    uint64_t head;     /* records published (mu) */
    uint64_t tail;     /* records released by the consumer (mu) */
    bool pwait, cwait, stop;
    uint64_t w, pub, ctail; /* producer: next record, last published, tail last seen */
    uint64_t r, avail, rel; /* consumer: next record, published as last seen, last released */
    _Atomic uint64_t bytes, total; /* bytes read so far, bytes of the pieces opened (progress) */
    char msg[VPNSCOPE_ERRBUF_SIZE * 2];
};

struct sides {
    struct side s[2];
    bool started, joined;
    bool need[2];             /* the side's next record must be looked at */
    const struct srec *hd[2]; /* else its next record (not released: the slot stays valid) */
};

/* ---- ring ---- */

static struct srec *prod_slot(struct side *sd)
{
    if (sd->w - sd->ctail >= RING_CAP) {
        pthread_mutex_lock(&sd->mu);
        sd->head = sd->pub = sd->w;
        if (sd->cwait)
            pthread_cond_signal(&sd->cv);
        while (sd->w - sd->tail >= RING_CAP && !sd->stop) {
            sd->pwait = true;
            pthread_cond_wait(&sd->cv, &sd->mu);
            sd->pwait = false;
        }
        sd->ctail = sd->tail;
        bool stop = sd->stop;
        pthread_mutex_unlock(&sd->mu);
        if (stop)
            return NULL;
    }
    return &sd->slot[sd->w & (RING_CAP - 1)];
}

static void prod_commit(struct side *sd, bool flush)
{
    sd->w++;
    if (!flush && sd->w - sd->pub < RING_BATCH)
        return;
    pthread_mutex_lock(&sd->mu);
    sd->head = sd->pub = sd->w;
    sd->ctail = sd->tail;
    if (sd->cwait)
        pthread_cond_signal(&sd->cv);
    pthread_mutex_unlock(&sd->mu);
}

static bool prod_stopped(struct side *sd)
{
    pthread_mutex_lock(&sd->mu);
    bool s = sd->stop;
    pthread_mutex_unlock(&sd->mu);
    return s;
}

static const struct srec *cons_peek(struct side *sd)
{
    if (sd->r == sd->avail) {
        pthread_mutex_lock(&sd->mu);
        sd->tail = sd->rel = sd->r;
        if (sd->pwait)
            pthread_cond_signal(&sd->cv);
        while (sd->head == sd->r) {
            sd->cwait = true;
            pthread_cond_wait(&sd->cv, &sd->mu);
            sd->cwait = false;
        }
        sd->avail = sd->head;
        pthread_mutex_unlock(&sd->mu);
    }
    return &sd->slot[sd->r & (RING_CAP - 1)];
}

static void cons_next(struct side *sd)
{
    sd->r++;
    if (sd->r - sd->rel < RING_BATCH)
        return;
    pthread_mutex_lock(&sd->mu);
    sd->tail = sd->rel = sd->r;
    if (sd->pwait)
        pthread_cond_signal(&sd->cv);
    pthread_mutex_unlock(&sd->mu);
}

/* ---- a side thread ---- */

/* The input ended: the engine is finished here, beside the other side and the correlation
 * (pipeline_finish skips it; the report depends on the packets only, not on where). */
static void side_finish(struct side *sd)
{
    if (!sd->p->eng_late)
        return; /* the dashboard or a stream may look at the models while the other side runs */
    engine_finish(sd->p->eng[sd->i]);
    sd->p->eng_finished[sd->i] = true;
}

static void *side_main(void *arg)
{
    struct side *sd = arg;
    struct pipeline *p = sd->p;
    int i = sd->i;
    long fed = 0;
    char eb[VPNSCOPE_ERRBUF_SIZE * 2];
    if (!p->eng[i] && engine_open(p, i, sd->msg, sizeof(sd->msg)) != 0) {
        struct srec *o = prod_slot(sd);
        if (o) {
            o->end = 2;
            prod_commit(sd, true);
        }
        return NULL;
    }
    for (uint64_t n = 0;; n++) {
        struct srec *o = prod_slot(sd);
        if (!o)
            return NULL;
        if ((n & 4095) == 0) {
            atomic_store_explicit(&sd->bytes, cap_bytes_read(p->src[i]), memory_order_relaxed);
            atomic_store_explicit(&sd->total, cap_total_bytes(p->src[i]), memory_order_relaxed);
            if (prod_stopped(sd))
                return NULL;
        }
        struct raw_pkt r;
        uint64_t raw = 0;
        int rc = clockstep_next(&p->cs[i], p->src[i], &r, &raw, eb, sizeof(eb));
        if (rc != 1) { /* 0 end, 3 cut off (said by the clock pass and the report), < 0 failed */
            o->end = rc < 0 ? 2 : 1;
            if (rc < 0)
                snprintf(sd->msg, sizeof(sd->msg), "%s", eb);
            side_finish(sd);
            prod_commit(sd, true);
            return NULL;
        }
        if (i == 1)
            r.ts_us = nat_clock_to_inside(&p->clk, r.ts_us);
        o->end = 0;
        o->len = r.len;
        o->filtered = r.filtered;
        const struct pkt *pk = NULL;
        if (p->pw[i] && pieces_watch_repeat(p->pw[i], &r)) {
            count_duplicate(p, i, &r); /* this side's engine and watch only */
        } else {
            pk = engine_packet(p->eng[i], &r);
            if (pk && p->pw[i])
                pieces_watch_packet(p->pw[i], r.piece, pk);
        }
        if (pk) {
            nat_rec_make(&o->nr, (uint8_t)(SIDE_INSIDE + i), pk);
        } else {
            o->nr.kind = NAT_REC_NONE;
            o->nr.side = (uint8_t)(SIDE_INSIDE + i);
        }
        o->nr.ts = r.ts_us; /* the merge order: the frame's time, as source.c */
        prod_commit(sd, false);
        if (!r.filtered && p->cfg->count > 0 && ++fed >= p->cfg->count) {
            side_finish(sd);
            struct srec *e = prod_slot(sd); /* -c reached: this input ends here */
            if (!e)
                return NULL;
            e->end = 1;
            prod_commit(sd, true);
            return NULL;
        }
    }
}

/* ---- the main thread ---- */

bool sides_wanted(const struct pipeline *p)
{
    return p->threads > 1 && p->two && !p->live && !p->router && !p->paced && !p->dump[0] &&
           !p->dump[1] && p->src[0] && p->src[1];
}

static int sides_start(struct pipeline *p, char *err, unsigned errlen)
{
    struct sides *ss = calloc(1, sizeof(*ss));
    if (!ss) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    p->sides = ss;
    for (int i = 0; i < 2; i++) {
        struct side *sd = &ss->s[i];
        sd->p = p;
        sd->i = i;
        sd->slot = malloc(sizeof(*sd->slot) * RING_CAP);
        if (!sd->slot) {
            snprintf(err, errlen, "out of memory");
            return -1;
        }
        pthread_mutex_init(&sd->mu, NULL);
        pthread_cond_init(&sd->cv, NULL);
        ss->need[i] = true;
    }
    for (int i = 0; i < 2; i++) {
        if (pthread_create(&ss->s[i].th, NULL, side_main, &ss->s[i]) != 0) {
            snprintf(err, errlen, "cannot start a thread");
            if (i == 1) { /* the first one runs: stop it */
                pthread_mutex_lock(&ss->s[0].mu);
                ss->s[0].stop = true;
                pthread_cond_signal(&ss->s[0].cv);
                pthread_mutex_unlock(&ss->s[0].mu);
                pthread_join(ss->s[0].th, NULL);
            }
            ss->joined = true;
            ss->started = true;
            return -1;
        }
    }
    ss->started = true;
    return 0;
}

/* Stops the side threads (when still running) and waits for them. */
void sides_stop(struct pipeline *p)
{
    struct sides *ss = p->sides;
    if (!ss || !ss->started || ss->joined)
        return;
    for (int i = 0; i < 2; i++) {
        struct side *sd = &ss->s[i];
        pthread_mutex_lock(&sd->mu);
        sd->stop = true;
        pthread_cond_signal(&sd->cv);
        pthread_mutex_unlock(&sd->mu);
    }
    for (int i = 0; i < 2; i++)
        pthread_join(ss->s[i].th, NULL);
    ss->joined = true;
}

void sides_free(struct pipeline *p)
{
    struct sides *ss = p->sides;
    if (!ss)
        return;
    sides_stop(p);
    for (int i = 0; i < 2; i++) {
        if (!ss->s[i].slot)
            continue;
        free(ss->s[i].slot);
        pthread_mutex_destroy(&ss->s[i].mu);
        pthread_cond_destroy(&ss->s[i].cv);
    }
    free(ss);
    p->sides = NULL;
}

uint64_t sides_bytes(const struct pipeline *p, int i, uint64_t *total)
{
    *total = atomic_load_explicit(&p->sides->s[i].total, memory_order_relaxed);
    return atomic_load_explicit(&p->sides->s[i].bytes, memory_order_relaxed);
}

/* Accounting and correlation of one frame (source.c feed_one without -w). */
static void merge_one(struct pipeline *p, int i, const struct srec *o)
{
    if (p->corr && !o->filtered)
        nat_corr_rec(p->corr, &o->nr);
    p->packets++;
    p->bytes += o->len;
    uint64_t ts = o->nr.ts;
    if (!p->first_ts || ts < p->first_ts)
        p->first_ts = ts;
    if (ts > p->last_ts)
        p->last_ts = ts;
    if (ts > p->side_last[i])
        p->side_last[i] = ts;
    if (p->last_ts > p->now_us)
        p->now_us = p->last_ts;
}

static void sides_end(struct pipeline *p)
{
    sides_stop(p);
    for (int i = 0; i < 2; i++)
        p->done[i] = true;
    p->ended = true;
}

long sides_step(struct pipeline *p, double budget_ms)
{
    if (!p->sides) {
        char err[VPNSCOPE_ERRBUF_SIZE];
        if (sides_start(p, err, sizeof(err)) != 0) {
            p->failed = true;
            snprintf(p->msg, sizeof(p->msg), "%s", err);
            sides_end(p);
            return 0;
        }
    }
    struct sides *ss = p->sides;
    double t0 = budget_ms >= 0 ? pipeline_mono() : 0;
    long n = 0;
    const struct srec **h = ss->hd;
    while (!p->ended) {
        for (int i = 0; i < 2; i++) { /* the side merged last (both at first) */
            if (!ss->need[i])
                continue;
            ss->need[i] = false;
            h[i] = p->done[i] ? NULL : cons_peek(&ss->s[i]);
            if (h[i] && h[i]->end) {
                if (h[i]->end == 2) {
                    p->failed = true;
                    snprintf(p->msg, sizeof(p->msg), "%s", ss->s[i].msg);
                }
                p->done[i] = true;
                clock_side_ended(p, i);
                h[i] = NULL;
            }
        }
        if (p->failed || (!h[0] && !h[1])) {
            sides_end(p);
            break;
        }
        int best = !h[0] ? 1 : !h[1] ? 0 : h[1]->nr.ts < h[0]->nr.ts ? 1 : 0;
        merge_one(p, best, h[best]);
        cons_next(&ss->s[best]);
        ss->need[best] = true;
        n++;
        if ((n & 1023) == 0 && ((p->stop && *p->stop) ||
                                (budget_ms >= 0 && (pipeline_mono() - t0) * 1000.0 >= budget_ms)))
            break;
    }
    return n;
}
