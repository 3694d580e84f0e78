/* clockstep.h - a capture clock that steps mid-capture (an NTP step, a manual date change):
 * detected per capture point as packets are read, stated in the summary (frame, time before and
 * after, size) and handled with one offset per segment, so the times after the step continue the
 * timeline before it. */
#ifndef VPNSCOPE_CLOCKSTEP_H
#define VPNSCOPE_CLOCKSTEP_H

#include <stdbool.h>
#include <stdint.h>

struct cap_src;
struct raw_pkt;

/* A packet this much older than the newest one before it is a backward clock step; less is
 * reordering (the timestamp_backwards anomaly). */
#define CLOCKSTEP_MIN_US 2000000u
#define CLOCKSTEP_MAX 16 /* steps kept per capture point; more are counted */

struct clock_step {
    uint64_t frame;     /* the first frame after the step */
    uint64_t before_us; /* the newest time before it, as captured */
    uint64_t after_us;  /* its time, as captured */
    int64_t step_us;    /* after - before (negative: the clock went back) */
    int64_t offset_us;  /* added to every time from this frame on (until the next step) */
    bool refined;       /* offset measured against the other capture (else: no gap assumed) */
    bool forward;       /* the clock jumped ahead (step_us > 0): see clockstep_fwd.c */
    bool candidate;     /* a capture-wide silence not yet proven a step (offset unchanged) */
    int64_t assumed_us; /* forward, one capture: the real time assumed across the silence */
};

struct clock_steps {
    struct clock_step step[CLOCKSTEP_MAX];
    unsigned n;     /* kept */
    uint64_t total; /* detected */
    /* reading state */
    uint64_t newest_raw; /* newest time as captured since the last step */
    int64_t offset_us;   /* current offset */
    bool started;
    bool preset; /* the steps were found by an earlier pass: apply them, detect nothing */
    /* Forward steps (appended): with two captures every capture-wide silence of at least
     * CLOCKSTEP_FWD_MIN_US is a candidate the clock pass keeps only when the matched pairs after
     * it read a different offset (clockstep_fwd_settle); with one capture the wire decides
     * (clockstep_fwd.c: counters that continue without a hole across the silence). */
    bool two_captures;
    struct clockstep_fwd *fwd; /* one capture: the detector's state, NULL until used */
    uint64_t gaps_total;       /* silences with holes in the counters: capture gaps, not steps */
    uint64_t gap_frame[CLOCKSTEP_MAX]; /* the first frame after each (CLOCKSTEP_MAX kept) */
    uint64_t gap_before_us[CLOCKSTEP_MAX], gap_after_us[CLOCKSTEP_MAX];
};

/* cap_next through the detector: the packet's ts_us is corrected (the captured time is in
 * *raw_ts when raw_ts is not NULL). Same return values as cap_next. */
int clockstep_next(struct clock_steps *cs, struct cap_src *s, struct raw_pkt *r, uint64_t *raw_ts,
                   char *errbuf, unsigned errlen);

/* The corrected time of a captured time at `frame`, using the steps found so far. */
uint64_t clockstep_apply(const struct clock_steps *cs, uint64_t frame, uint64_t raw_us);

/* A capture-wide silence this long is examined as a forward step. */
#define CLOCKSTEP_FWD_MIN_US 10000000u

/* Two captures, after the per-segment offsets were measured (clock.c): forward candidates whose
 * segment reads within CLOCKSTEP_MIN_US of the segment before are silences, not steps, and are
 * dropped, as are those nothing measured; the kept ones become forward steps. */
void clockstep_fwd_settle(struct clock_steps *cs);

/* One capture read from files: turns the forward step detector on (0, or -1 out of memory). */
int clockstep_fwd_enable(struct clock_steps *cs);

/* Frees what the one-capture forward detector holds. */
void clockstep_free(struct clock_steps *cs);

#endif
