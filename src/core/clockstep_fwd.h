/* clockstep_fwd.h - the forward clock step detector of one capture (clockstep_fwd.c), between
 * clockstep.c and it. */
#ifndef VPNSCOPE_CLOCKSTEP_FWD_H
#define VPNSCOPE_CLOCKSTEP_FWD_H

#include <stdbool.h>
#include <stdint.h>

struct cap_src;
struct raw_pkt;
struct clock_steps;
struct clockstep_fwd;

struct clockstep_fwd *clockstep_fwd_new(void);
void clockstep_fwd_free(struct clockstep_fwd *f);

/* Frees the bytes of the packet handed out last (called before reading the next one). */
void clockstep_fwd_release(struct clockstep_fwd *f);

/* Follows the moves of source s's buffers: from then on the ring keeps references to the bytes
 * of the packets s returns instead of copies, while they stay put (cap_watch_moves); a live
 * source is not followed (copies). */
void clockstep_fwd_watch(struct clockstep_fwd *f, struct cap_src *s);

/* Keeps the headers of packet r (captured time raw) for the examination of a later silence. */
void clockstep_fwd_ring_add(struct clockstep_fwd *f, const struct raw_pkt *r, uint64_t raw);

/* Packet r (captured at raw) ends a capture-wide silence since cs->newest_raw: true when it is
 * worth deciding (r is then held, and clockstep_fwd_next hands it out after the decision). */
bool clockstep_fwd_silence(struct clock_steps *cs, struct clockstep_fwd *f, const struct raw_pkt *r,
                           uint64_t raw);

/* Nothing to do before the next read from s: s is followed, no packet handed out is to be freed
 * and none is held (clockstep_fwd_watch, _release and _holding would do nothing). */
bool clockstep_fwd_idle(const struct clockstep_fwd *f, const struct cap_src *s);
/* Whether packets are held (or a decision is open): clockstep_fwd_next gives the next. */
bool clockstep_fwd_holding(const struct clockstep_fwd *f);

/* The next held packet, once the decision is made (cap_next's return values; -2: none held). */
int clockstep_fwd_next(struct clock_steps *cs, struct clockstep_fwd *f, struct cap_src *s,
                       struct raw_pkt *r, uint64_t *raw_ts, char *errbuf, unsigned errlen);

#endif
