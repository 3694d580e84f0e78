/* clockstep.c - detection of capture clocks that step back mid-capture, and the per-segment
 * offsets that keep the timeline monotonic. A packet more than CLOCKSTEP_MIN_US older than the
 * newest packet before it starts a new segment; by default its offset makes it follow the newest
 * packet with no gap (the gap is unknowable from one capture); with two captures the clock pass
 * measures it against the other capture (refined). A forward step cannot be told from a silent
 * link in one capture and is left as captured. */
#include "vpnscope/clockstep.h"

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

int clockstep_next(struct clock_steps *cs, struct cap_src *s, struct raw_pkt *r, uint64_t *raw_ts,
                   char *errbuf, unsigned errlen)
{
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
        cs->newest_raw = raw;
    }
    r->ts_us = clockstep_apply(cs, r->frame, raw);
    return 1;
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
