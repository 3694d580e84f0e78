/* session_int.h - what the files of the session model share (session.c, session_ike.c,
 * session_ipsec.c, session_pptp.c); private to src/flow/. */
#ifndef VPNSCOPE_FLOW_SESSION_INT_H
#define VPNSCOPE_FLOW_SESSION_INT_H

#include <stdbool.h>
#include <stdint.h>

#include "vpnscope/pkt.h"
#include "vpnscope/session.h"
#include "vpnscope/tunnel.h"

/* session.c: records the packet time; keeps the GAPS_PER_TUNNEL longest idle gaps. */
void sess_activity_touch(struct activity *a, uint64_t ts, uint64_t frame);
/* Counts a packet of direction dir (0 the record's forward one) in the activity sparkline *s
 * (allocated at the first one; none with SPARK_OFF or out of memory); slide_us:
 * session_model.spark_slide_us. */
void sess_spark_count(struct spark **s, uint64_t ts, unsigned dir, uint64_t slide_us);
/* Eviction hook of a table whose records hold only a spark out of line: ctx is the offset of
 * their struct spark * (offsetof); and the same for every record of t (session_model_free). */
void sess_spark_evicted(void *ctx, const void *key, void *val);
void sess_spark_free_all(struct table *t, size_t off);

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
/* sess_activity_touch for a record whose activity is allocated at its first gap (*act NULL
 * until then; *last_us the latest packet time either way). */
void sess_activity_touch_lazy(struct idle_gaps **act, uint64_t *last_us, uint64_t ts,
                              uint64_t frame);
/* The mtu table's eviction hook: frees a record's out-of-line packet sizes (ctx, key unused). */
void mtu_evicted(void *ctx, const void *key, void *val);
/* session.c: a keepalive at ts (interval statistics). */
void sess_activity_keepalive(struct activity *a, uint64_t ts);

/* session_udptun.c: WireGuard, OpenVPN and other (nDPI-labelled) UDP tunnel packets; free. */
void sess_tun_update(struct session_model *m, const struct pkt *p, struct flow *f, int dir);
void sess_tun_free(struct session_model *m);
/* A packet of a flow that continues a known tunnel session from a new 5-tuple, decoded as such
 * into *copy (returned); else p. */
const struct pkt *sess_tun_adopt(struct session_model *m, const struct pkt *p, struct flow *f,
                                 struct pkt *copy);

struct tun_flow;
struct tunnel_model;

/* OpenVPN over TCP: sequence tracking and the de-framer of each direction (0 = from client). */
struct ovpn_tcp_state {
    bool seq_init[2];
    uint32_t next_seq[2];
    struct ovpn_tcp_reasm tr[2];
};
/* A handshake message (initiation, hard reset) from direction cdir (0 = client -> server). */
void sess_tun_handshake(struct tun_flow *t, int cdir, const struct pkt *p);
/* A data packet of direction cdir (evidence frames for one-way). */
void sess_tun_data(struct tun_flow *t, int cdir, const struct pkt *p);
/* Appends an endpoint change (capped, counted). */
struct tun_change;
void sess_tun_change(struct tun_change *v, uint8_t *n, uint32_t *total, uint8_t who,
                     const struct endpoint *from, const struct endpoint *to, const struct pkt *p);

/* session_wg.c / session_ovpn.c: a decoded packet of a tunnel flow; cdir as above. */
void sess_wg_update(struct tunnel_model *tm, struct tun_flow *t, const struct pkt *p, int cdir);
void sess_ovpn_udp(struct tunnel_model *tm, struct tun_flow *t, const struct pkt *p, int cdir);
void sess_ovpn_tcp(struct session_model *m, struct tun_flow *t, const struct pkt *p,
                   const struct flow_key *k, int cdir);

#endif
