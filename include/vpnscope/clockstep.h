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
};

/* cap_next through the detector: the packet's ts_us is corrected (the captured time is in
 * *raw_ts when raw_ts is not NULL). Same return values as cap_next. */
int clockstep_next(struct clock_steps *cs, struct cap_src *s, struct raw_pkt *r, uint64_t *raw_ts,
                   char *errbuf, unsigned errlen);

/* The corrected time of a captured time at `frame`, using the steps found so far. */
uint64_t clockstep_apply(const struct clock_steps *cs, uint64_t frame, uint64_t raw_us);

#endif
