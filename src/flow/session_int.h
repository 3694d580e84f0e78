/* session_int.h - what the files of the session model share (session.c, session_ike.c,
 * session_ipsec.c, session_pptp.c); private to src/flow/. */
#ifndef VPNSCOPE_FLOW_SESSION_INT_H
#define VPNSCOPE_FLOW_SESSION_INT_H

#include <stdbool.h>
#include <stdint.h>

#include "vpnscope/pkt.h"
#include "vpnscope/session.h"

/* session.c: records the packet time; keeps the GAPS_PER_TUNNEL longest idle gaps. */
void sess_activity_touch(struct activity *a, uint64_t ts, uint64_t frame);

/* session_ike.c: an IKE message (IKEv1 or IKEv2) updates its IKE SA. */
void sess_ike_update(struct session_model *m, const struct pkt *p);

/* session_ipsec.c: an ESP or AH packet updates its SA; at the end, parents and pairs. */
void sess_ipsec_update(struct session_model *m, const struct pkt *p, bool ah, bool two_way);
void sess_resolve_parents(struct session_model *m);
void sess_pair_ipsec(struct session_model *m);

/* session_pptp.c: PPTP control messages, GRE and L2TP. */
void sess_pptp_update(struct session_model *m, const struct pkt *p);
void sess_gre_update(struct session_model *m, const struct pkt *p, bool two_way);
void sess_l2tp_update(struct session_model *m, const struct pkt *p);

/* session.c: the canonical key of the flow between (a,pa) and (b,pb). */
void sess_flow_key(struct flow_key *k, uint8_t proto, const struct ip_addr *a, uint16_t pa,
                   const struct ip_addr *b, uint16_t pb);

/* session_mtu.c: tunnel packet sizes answered or not; ICMP too-big messages; end of input. */
void sess_mtu_update(struct session_model *m, const struct pkt *p);
void sess_mtu_finish(struct session_model *m);

#endif
