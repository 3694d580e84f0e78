/* clockstep.c - detection of capture clocks that step back mid-capture, and the per-segment
 * offsets that keep the timeline monotonic. A packet more than CLOCKSTEP_MIN_US older than the
 * newest packet before it starts a new segment; by default its offset makes it follow the newest
 * packet with no gap (the gap is unknowable from one capture); with two captures the clock pass
 * measures it against the other capture (refined). Forward steps: clockstep_fwd.c. */
#include "vpnscope/clockstep.h"

#include <string.h>

#include "clockstep_fwd.h"
#include "vpnscope/capture.h"

static void note_step(struct clock_steps *cs, const struct raw_pkt *r, uint64_t raw)
{
    int64_t back = (int64_t)(cs->newest_raw - raw); /* > 0 */
    cs->offset_us += back;
    cs->total++;
    if (cs->n < CLOCKSTEP_MAX) {
        struct clock_step *st = &cs->step[cs->n++];
        st->frame = r->frame;
        st->before_us = cs->newest_raw;
        st->after_us = raw;
        st->step_us = -back;
        st->offset_us = cs->offset_us;
        st->refined = false;
    }
    cs->newest_raw = raw;
}

/* Two captures: a capture-wide silence is a candidate forward step, kept if the other capture
 * proves it (clockstep_fwd_settle). Its offset is the current one until then. */
static void note_candidate(struct clock_steps *cs, const struct raw_pkt *r, uint64_t raw)
{
    cs->total++;
    if (cs->n < CLOCKSTEP_MAX) {
        struct clock_step *st = &cs->step[cs->n++];
        memset(st, 0, sizeof(*st));
        st->frame = r->frame;
        st->before_us = cs->newest_raw;
        st->after_us = raw;
        st->step_us = (int64_t)(raw - cs->newest_raw);
        st->offset_us = cs->offset_us;
        st->candidate = true;
    }
}

int clockstep_next(struct clock_steps *cs, struct cap_src *s, struct raw_pkt *r, uint64_t *raw_ts,
                   char *errbuf, unsigned errlen)
{
    if (cs->fwd && !clockstep_fwd_idle(cs->fwd, s)) {
        clockstep_fwd_watch(cs->fwd, s);
        clockstep_fwd_release(cs->fwd);
        if (clockstep_fwd_holding(cs->fwd)) {
            int hrc = clockstep_fwd_next(cs, cs->fwd, s, r, raw_ts, errbuf, errlen);
            if (hrc != -2)
                return hrc;
        }
    }
    int rc = cap_next(s, r, errbuf, errlen);
    if (rc != 1)
        return rc;
    uint64_t raw = r->ts_us;
    if (raw_ts)
        *raw_ts = raw;
    if (cs->preset) {
        /* steps known from an earlier pass */
    } else if (!cs->started) {
        cs->started = true;
        cs->newest_raw = raw;
    } else if (raw + CLOCKSTEP_MIN_US < cs->newest_raw) {
        note_step(cs, r, raw);
    } else if (raw > cs->newest_raw) {
        if (raw - cs->newest_raw >= CLOCKSTEP_FWD_MIN_US) {
            if (cs->two_captures) {
                note_candidate(cs, r, raw);
            } else if (cs->fwd && clockstep_fwd_silence(cs, cs->fwd, r, raw)) {
                clockstep_fwd_ring_add(cs->fwd, r, raw);
                cs->newest_raw = raw;
                return clockstep_fwd_next(cs, cs->fwd, s, r, raw_ts, errbuf, errlen);
            }
        }
        cs->newest_raw = raw;
    }
    if (cs->fwd && !cs->preset)
        clockstep_fwd_ring_add(cs->fwd, r, raw);
    r->ts_us = clockstep_apply(cs, r->frame, raw);
    return 1;
}

int clockstep_fwd_enable(struct clock_steps *cs)
{
    if (!cs->fwd)
        cs->fwd = clockstep_fwd_new();
    return cs->fwd ? 0 : -1;
}

uint64_t clockstep_apply(const struct clock_steps *cs, uint64_t frame, uint64_t raw_us)
{
    int64_t off = 0;
    for (unsigned i = 0; i < cs->n && cs->step[i].frame <= frame; i++)
        off = cs->step[i].offset_us;
    if (cs->n == CLOCKSTEP_MAX && frame > cs->step[CLOCKSTEP_MAX - 1].frame)
        off = cs->offset_us; /* past the steps kept: the running offset */
    if (off < 0 && (uint64_t)(-off) > raw_us)
        return 0;
    return raw_us + (uint64_t)off;
}
