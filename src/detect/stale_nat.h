/* stale_nat.h - the stale_nat detector's parts (private to src/detect): shared text and timeouts
 * in stale_nat.c, the two-capture view in stale_nat_two.c, the one-capture view in
 * stale_nat_one.c. */
#ifndef VPNSCOPE_STALE_NAT_H
#define VPNSCOPE_STALE_NAT_H

#include "det_util.h"

#define IDLE_MIN_US                                                                                \
    2000000ull /* a drop counts as "after idle" when the tunnel was quiet this long */

/* NAT timeout (s) for a tunnel of this protocol; replied = two-way. */
uint32_t stale_timeout_for(const struct detect_ctx *c, uint8_t proto, bool replied);
/* Keepalive description of a flow (learned interval, whether they ran through the gap). */
void stale_ka_text(char *buf, size_t n, const struct flow *fl, const struct gap *g);
/* The remedy for a mapping lost after lost_us of idle (0: unknown). */
void stale_remedy(struct finding *f, uint64_t lost_us, uint8_t proto, const struct detect_ctx *c,
                  bool replied);

/* Evidence of the flow's keepalives: their learned interval, else "keepalives": false. */
void stale_ev_keepalive(struct finding *f, const struct flow *fl);

/* Two captures: expired mappings seen in the NAT result. */
void stale_two_captures(struct detect_ctx *c);
/* One capture: an ESP-in-UDP SPI continuing from a new port after a gap (or reaching another
 * inside host), and unanswered DPD after an idle gap longer than the NAT timeout. */
void stale_single(struct detect_ctx *c, const struct session_model *m);

/* WireGuard / OpenVPN (stale_nat_tun.c): the remedy naming the software's keepalive knob for a
 * timeout between surv_us (survived, 0 unknown) and lost_us; the two-capture finding of an inside
 * flow reworded for its tunnel; one capture outside the NAT. */
void stale_tunnel_remedy(struct finding *f, uint8_t vpn, uint64_t lost_us, uint64_t surv_us);
void stale_tunnel_two(struct detect_ctx *c, struct finding *f, const struct flow *inside_flow,
                      const struct endpoint *old_out, uint64_t lost_us, uint64_t surv_us);
void stale_tunnel_single(struct detect_ctx *c, const struct session_model *m);

#endif
