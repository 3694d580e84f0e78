/* session.h - the session model of one capture point: flows, IKE SAs, ESP/AH SAs, PPTP, GRE, L2TP.
 * Flow/state code fills it from decoded packets (struct pkt) and never re-parses bytes; detectors,
 * reports and the UI read it. Records are plain values (no pointers between them): relations are
 * looked up by key (an ESP SA names its IKE SA by SPI pair), so eviction never leaves a dangling
 * reference. */
#ifndef VPNSCOPE_SESSION_H
#define VPNSCOPE_SESSION_H

#include <stddef.h>
#include <stdbool.h>
#include <stdint.h>

#include "vpnscope/config.h"
#include "vpnscope/encap.h"
#include "vpnscope/pkt.h"

#define CLASSIFY_NAME_MAX_ 48 /* = CLASSIFY_NAME_MAX (classify.h) */

struct table;
struct classifier;
struct classify_flow;
struct tunnel_model;

enum cap_side { SIDE_SINGLE = 0, SIDE_INSIDE = 1, SIDE_OUTSIDE = 2 };
const char *side_name(uint8_t side); /* "single" | "inside" | "outside" */

struct endpoint {
    struct ip_addr ip;
    uint16_t port;
};

/* An idle gap within a tunnel: no packet in either direction between start and end. */
struct gap {
    uint64_t start_us, end_us;
    uint64_t frame_after; /* first frame after the gap */
};

/* Packets per time bucket each way (the dashboard's activity sparkline) of a tunnel record (IKE
 * and ESP/AH SAs, GRE flows, WireGuard/OpenVPN sessions, tunnel flows; not the generic flows),
 * allocated at the record's first packet unless the model keeps none (session_spark_off: only the
 * dashboard draws them); NULL: none. Owned by the record's table (freed on eviction and at
 * session_model_free):
 * SPARK_BUCKETS buckets of width_us from origin_us (a multiple of width_us). Saved captures:
 * the width doubles (neighbours merge) so the buckets cover the record's whole life; live
 * (session_spark_live): buckets of a fixed width, the oldest dropped as time goes on. */
#define SPARK_BUCKETS 32
#define SPARK_WIDTH0_US 1000000u     /* first width: 1 s */
#define SPARK_LIVE_WIDTH_US 4000000u /* live: 32 x 4 s, the last 128 s */
#define SPARK_OFF UINT64_MAX         /* session_model.spark_slide_us: no sparklines kept */
struct spark {
    uint64_t origin_us;
    uint64_t width_us;            /* 0 until the first packet */
    uint16_t n[2][SPARK_BUCKETS]; /* [0] the record's forward direction, [1] back; saturating */
};

/* The idle gaps of a record: the part of struct activity that flows and IKE and ESP/AH SAs
 * allocate (their latest packet time stays in the record's act_last_us) until a keepalive needs
 * the rest (flows only). Allocated with room for n_cap gaps only (idle_gaps_size(): 32 B for the
 * first gap, 24 B more for each next one, up to 104 B), grown as gaps come: gaps[] is read up
 * to n_gaps, never copied whole. */
struct idle_gaps {
    uint8_t n_gaps;
    uint8_t n_cap; /* gaps allocated (a struct activity: 0, it holds GAPS_PER_TUNNEL) */
    struct gap gaps[GAPS_PER_TUNNEL]; /* the longest gaps, longest first */
};
#define idle_gaps_size(n) (offsetof(struct idle_gaps, gaps) + (size_t)(n) * sizeof(struct gap))

/* Idle-gap and keepalive bookkeeping shared by every tunnel-like record. */
struct activity {
    uint64_t last_us;
    union { /* the gaps by name (a->n_gaps) or as a whole (a->idle) */
        struct {
            uint8_t n_gaps;
            uint8_t n_cap_;
            struct gap gaps[GAPS_PER_TUNNEL];
        };
        struct idle_gaps idle;
    };
    uint64_t ka_count; /* NAT-T keepalives */
    uint64_t ka_last_us;
    uint64_t ka_ivl_sum_us, ka_ivl_n; /* mean keepalive interval = sum / n */
    uint64_t ka_ivl_min_us, ka_ivl_max_us;
};

/* ---- generic 5-tuple flows ---- */
struct flow_key {
    struct ip_addr a, b; /* canonical order: (a,pa) < (b,pb) */
    uint16_t pa, pb;
    uint8_t proto;
    uint8_t pad; /* 40 B: a table entry (8 B header + key) fills 48 B, not 56 */
};

/* A flow's endpoints are its key's (the flows table keeps it): flow_end() gives them in the
 * flow's order, its first packet's sender first. */
struct flow {
    uint8_t proto;
    uint8_t vpn;  /* enum pkt_vpn of the first decoded VPN packet (VPN_NONE: nDPI's) */
    uint8_t hint; /* enum app_hint learned for this flow */
    bool classified;
    bool is_vpn;
    bool guessed;
    bool act_ka;       /* act is the idle member of a whole struct activity (keepalives seen) */
    uint8_t cls_pkts;  /* data packets given to nDPI */
    uint8_t cls_all;   /* all packets given to nDPI */
    bool rev;          /* its first packet came from the key's b end (read with flow_end()) */
    uint32_t cls_slot; /* index+1 into the engine's nDPI state pool, 0 = none */
    const char *app; /* nDPI label (session_label()), NULL until classified: read with flow_app() */
    uint64_t pkts[2], bytes[2]; /* [0] from flow_end(0) to flow_end(1), [1] back */
    uint64_t first_ts, last_ts;
    uint64_t first_frame;
    uint64_t act_last_us; /* latest packet time (the activity's last_us while act is NULL) */
    /* Idle gaps, allocated at the flow's first gap or keepalive: most flows have neither (a
     * flood's one-packet flows never do). NULL: none; read with flow_act(). At the first
     * keepalive it grows into a whole struct activity (act_ka; read with flow_ka()). Owned by
     * the flow table (session_flow_release on eviction and at session_model_free). */
    struct idle_gaps *act;
};

/* ---- IKE ---- */
#define IKE_EXCH_SLOTS 16
struct ike_sa_key {
    uint64_t ispi;
    uint8_t version;
    uint8_t pad[7];
};

/* NAT-D verdict: -1 unknown (not decidable), 0 false, 1 true. */
struct natd_verdict {
    bool present; /* NAT-D seen at all */
    int8_t nat_initiator, nat_responder, forced_encap;
    bool init_src_match_seen, init_src_mismatch_seen; /* initiator's source hash vs observed */
    bool resp_dst_match_seen, resp_dst_mismatch_seen; /* responder's view of the initiator */
    bool resp_src_match_seen, resp_src_mismatch_seen;
    bool init_dst_match_seen, init_dst_mismatch_seen;
};

struct ike_sa { /* the small fields together: few padding holes (448 B) */
    uint64_t ispi, rspi;
    uint8_t version;
    bool nat_t;                                     /* IKE seen with non-ESP marker */
    struct endpoint initiator, responder;           /* as in the first message seen */
    struct endpoint natt_initiator, natt_responder; /* after the move to 4500 (port 0: none) */
    uint16_t v1_hash;                               /* negotiated hash (IKEv1), 0 unknown */
    uint16_t vid_flags;
    bool frag_supported; /* v2 16430 or v1 fragmentation VID */
    uint8_t n_exch;
    uint8_t exch_type[IKE_EXCH_SLOTS];
    uint8_t unanswered_nframes; /* its frames in frames->unanswered (0 when frames is NULL) */
    uint8_t unanswered_dir;     /* who sent it: 0 initiator, 1 responder */
    struct natd_verdict natd;
    uint32_t exch_count[IKE_EXCH_SLOTS]; /* by exchange, see ike_exch_slot() */
    uint32_t max_unanswered_sends;       /* worst unanswered request over the SA's life */
    uint32_t unanswered_msgid;
    uint32_t ip_fragmented_msgs; /* IKE messages that arrived as IP fragments */
    uint32_t skf_frags;          /* RFC 7383 SKF payloads */
    uint64_t retransmissions;
    uint64_t packets, bytes;
    uint64_t pkts_from_init, pkts_from_resp;
    uint64_t first_ts, last_ts;
    uint64_t first_frame, last_frame;
    /* request/response tracking for ike_no_response */
    uint64_t last_msg_hash[2]; /* [0] from initiator, [1] from responder */
    struct ike_pending {       /* the open request of each side: [0] initiator */
        bool open;
        uint32_t msgid;
        uint32_t sends; /* transmissions of that request (its frames: min(sends, 8)) */
        uint64_t first_ts, last_ts;
        uint64_t frame0; /* its first frame (the rest in frames->pend once it is resent) */
    } pend[2];
    uint64_t unanswered_first_ts, unanswered_last_ts;
    struct ike_frames {      /* allocated at the SA's first resent request (NULL: none; owned by the
                              * table, as act is); read with ike_unanswered_frame() */
        uint64_t pend[2][8]; /* frames of each side's open request */
        uint64_t unanswered[8]; /* frames of the worst unanswered request */
    } * frames;
    uint64_t ip_frag_first_frame; /* fragmentation evidence: see ip_fragmented_msgs, skf_frags */
    uint64_t dpd_like;            /* INFORMATIONAL exchanges (DPD/liveness) */
    uint64_t act_last_us;  /* latest packet time (the activity's last_us while act is NULL) */
    struct idle_gaps *act; /* allocated at the SA's first gap (NULL: none; owned by
                            * the table, as a flow's); read with ike_act() */
    struct spark *spark;   /* packets over time: [0] from the initiator (NULL: none) */
};

/* ---- ESP and AH SAs (one per SPI and direction) ---- */
struct ipsec_sa_key {
    struct ip_addr src, dst;
    uint32_t spi;
    uint16_t sport, dport; /* UDP encapsulation; 0 for raw */
    uint8_t proto;         /* 50 or 51 */
    uint8_t encap;         /* 0 raw, 1 udp */
    uint8_t pad[2];
};

struct ipsec_sa {
    struct ipsec_sa_key k;
    uint64_t packets, bytes;
    uint32_t first_seq, last_seq;
    uint64_t seq_gaps; /* sequence numbers skipped (sum of forward jumps beyond +1) */
    uint64_t replays;  /* seq <= last (not a restart) */
    uint64_t restarts; /* seq fell back to a small value: SA reused from the start */
    uint64_t first_ts, last_ts;
    uint64_t first_frame, last_frame;
    uint16_t ah_icv_len;
    uint8_t ah_next_header;
    bool paired;      /* a reverse SA between the same peers exists */
    bool parent_done; /* session_finish resolved the parent IKE SA (below) */
    bool has_parent;
    uint8_t parent_version;
    uint64_t parent_ispi;
    uint64_t act_last_us;  /* latest packet time (the activity's last_us while act is NULL) */
    struct idle_gaps *act; /* allocated at the SA's first gap (NULL: none; owned by
                            * the table, as a flow's); read with ipsec_act() */
    struct spark *spark;   /* packets over time (one direction: [0]; NULL: none) */
};

/* ---- PPTP ---- */
enum pptp_sess_state {
    PPTP_SESS_NONE = 0,
    PPTP_SESS_REQUESTED,
    PPTP_SESS_CONFIRMED,
    PPTP_SESS_STOPREQ,
    PPTP_SESS_CLOSED
};
enum pptp_call_state {
    PPTP_CALL_NONE = 0,
    PPTP_CALL_OUT_REQ,
    PPTP_CALL_OUT_CONF,
    PPTP_CALL_IN_REQ,
    PPTP_CALL_IN_REP,
    PPTP_CALL_IN_CONF,
    PPTP_CALL_CLEAR_REQ,
    PPTP_CALL_DISCONNECTED,
    PPTP_CALL_REJECTED
};
const char *pptp_call_state_name(uint8_t s);

struct pptp_call {
    uint16_t call_id;      /* the client's (PNS) Call ID */
    uint16_t peer_call_id; /* the server's (PAC) Call ID */
    bool has_peer;
    uint8_t state; /* enum pptp_call_state */
    uint8_t result;
    uint64_t first_ts, last_ts;
    uint64_t first_frame;
};

struct pptp_ctrl_key {
    struct ip_addr client, server;
    uint16_t cport, sport;
    uint8_t pad[4];
};

struct pptp_ctrl {
    struct endpoint client, server; /* client = PNS (connects to 1723) */
    uint8_t state;                  /* enum pptp_sess_state */
    char hostname[PPTP_STR_MAX];    /* as received (raw bytes; escape on output): the decoder's */
    char vendor[PPTP_STR_MAX];      /* struct pptp_msg strings, at most PPTP_STR_MAX - 1 bytes */
    uint8_t n_calls;
    struct pptp_call calls[PPTP_CALLS_PER_CTRL];
    uint64_t msgs;
    uint64_t first_ts, last_ts;
};

/* ---- GRE (per direction and call ID / key) ---- */
struct gre_key {
    struct ip_addr src, dst;
    uint32_t key; /* v1: call ID; v0: key (0 when absent) */
    uint8_t version;
    uint8_t has_key;
    uint8_t pad[2];
};

struct gre_flow {
    struct gre_key k;
    uint64_t packets, bytes;
    uint64_t first_ts, last_ts;
    uint64_t first_frame;
    uint32_t last_seq;
    struct activity act;
    struct spark *spark; /* packets over time (one direction: [0]; NULL: none) */
};

/* ---- L2TP ---- */
struct l2tp_key {
    struct ip_addr src, dst;
    uint16_t sport, dport;
    uint16_t tunnel_id, session_id;
};

struct l2tp_sess {
    struct l2tp_key k;
    uint8_t version;
    uint64_t packets, control, bytes;
    uint64_t first_ts, last_ts;
};

/* A fragmented datagram of VPN interest (completed, timed out or incomplete). */
struct fragdg {
    struct ip_addr src, dst;
    uint8_t proto;
    uint16_t sport, dport;
    uint32_t id;
    uint16_t nfrags;
    bool complete, out_of_order, overlap, timed_out;
    uint64_t first_ts, last_ts;
    uint64_t frames[8];
    uint8_t nframes;
    bool is_ike; /* UDP 500/4500 datagram carrying IKE (decoded after reassembly) */
};

#define FRAGDG_MAX                                                                                 \
    1024 /* fragmented VPN datagrams kept per capture (more: counted in fragdg_dropped) */

/* ---- the model ---- */
struct session_counts {
    uint64_t packets, decoded, truncated, invalid, non_ip, filtered;
    uint64_t anomalies[ANOM__COUNT];
    uint64_t bytes;
    uint64_t first_ts, last_ts;
    uint64_t vpn_packets[VPN__COUNT]; /* by enum pkt_vpn */
    uint64_t keepalives;
    uint64_t frag_datagrams, frag_completed, frag_ooo, frag_timeout, frag_incomplete, frag_evicted;
    uint64_t encap[ENCAP__COUNT];      /* packets inside each kind of wrapper/tunnel (encap.h) */
    uint64_t snap_cut;                 /* packets the capture's snaplen cut (wire > captured) */
    uint64_t snap_cut_vpn[VPN__COUNT]; /* of those, VPN layers left truncated, by enum pkt_vpn */
    uint64_t duplicate; /* frames repeating another -r piece's packet (counted, not analysed) */
};

struct session_model {
    uint8_t side;              /* enum cap_side (as given or inferred) */
    uint8_t side_inferred;     /* what the traffic says, SIDE_SINGLE when unknown */
    struct table *flows;       /* struct flow_key -> struct flow */
    struct table *ike;         /* struct ike_sa_key -> struct ike_sa */
    struct table *ipsec;       /* struct ipsec_sa_key -> struct ipsec_sa */
    struct table *pptp;        /* struct pptp_ctrl_key -> struct pptp_ctrl */
    struct table *gre;         /* struct gre_key -> struct gre_flow */
    struct table *l2tp;        /* struct l2tp_key -> struct l2tp_sess */
    struct session_index *idx; /* address-pair indexes (session_index()), NULL before */
    struct session_counts c;
    /* per-table eviction counts are in the tables; frag evictions in c.frag_evicted */
    /* fragmented datagrams worth reporting (VPN ports/protocols), bounded */
    uint32_t n_fragdg, cap_fragdg;
    struct fragdg *fragdg;   /* grown on demand up to FRAGDG_MAX */
    uint64_t fragdg_dropped; /* fragmented datagrams not kept in fragdg[] (cap) */
    /* path-MTU facts (flow/session_mtu.c): sizes of tunnel packets answered or not, per tunnel
     * flow; ICMP too-big messages by the datagram they quote */
    struct table *mtu;        /* struct flow_key -> struct mtu_flow */
    struct table *too_big;    /* struct too_big_key -> struct too_big_rec */
    struct tunnel_model *tun; /* WireGuard / OpenVPN / other UDP tunnels (session_tunnel.h) */
    uint64_t spark_slide_us;  /* struct spark: 0 saved captures, else the live bucket width;
                               * SPARK_OFF: none kept */
    uint8_t cap_share;        /* capture points sharing the caps (session_model_init_share) */
};

/* ---- path MTU (flow/session_mtu.c) ---- */
#define MTU_SIZES 12  /* distinct large sizes kept per direction (more: counted) */
#define MTU_LARGE 576 /* packets this long or longer are sorted by size; shorter ones are small */
#define MTU_FRAMES 8  /* unanswered large packets listed per direction */

/* One packet size of one direction of a tunnel flow. A packet is answered when the other
 * direction of the same flow carries a packet before this direction's next tunnel packet. */
struct mtu_size {
    uint32_t len; /* IP length */
    uint32_t sent, answered;
    uint32_t unanswered_df; /* unanswered sends with DF (IPv6: always) */
};

/* The facts of one direction of a tunnel flow, as read with session_mtu_dir() (the record keeps
 * them in a narrower form: readers go through the accessors, never the record's fields). */
struct mtu_dir {
    bool pend; /* the last tunnel packet, waiting for an answer (pend_* valid while set) */
    bool pend_df;
    uint8_t n_sizes;
    uint8_t sizes_cap; /* entries allocated at sizes (grown 2, 4, 8, MTU_SIZES) */
    uint32_t pend_len;
    uint32_t sizes_dropped;
    uint32_t lost_frames_total;
    uint8_t n_lost_frames;
    uint64_t pend_ts, pend_frame;
    struct mtu_size *sizes; /* n_sizes of them, allocated on the first large packet (NULL: none;
                             * owned by the mtu table: freed with its record) */
    uint64_t small_sent;
    uint64_t first_large_loss_ts; /* first unanswered large packet with DF (0: none) */
    uint64_t answered_after_loss; /* answered packets of any size after it */
    uint64_t *lost_frames;        /* MTU_FRAMES of them (NULL: none; owned by the mtu table) */
    /* timing of this direction (every packet of the flow once it is a tunnel flow) */
    uint64_t n, first_ts, last_ts;
    uint64_t first_since_other; /* first packet after the other direction's latest one */
    uint64_t first_since_other_frame;
    /* the longest silence of this direction while the other one sent: from this
     * direction's packet at sil_start to its next one at sil_end, sil_other packets the other way
     */
    uint64_t sil_start, sil_end, sil_end_frame;
    uint32_t sil_other;
    uint32_t n_since_peer; /* packets of this direction since the other direction's latest */
    struct mtu_size size_buf[MTU_SIZES]; /* sizes points here when read from compact entries */
};

/* A size as the record keeps it while it fits: len - MTU_LARGE and the counts in 16 bits (a
 * direction whose size or count leaves that range moves to struct mtu_size entries). */
struct mtu_nsize {
    uint16_t len;
    uint16_t c[3]; /* sent, answered, unanswered_df */
};

/* A direction as the record stores it: every time and frame number as a 32-bit code against the
 * record's first packet (0: the value 0, else value - base + 1), counts in 32 bits. A record whose
 * packets leave that range (a flow longer than ~71 minutes, time going back more than MTU_TS_SLACK,
 * 2^32 frames or packets) moves to the full form out of line (struct mtu_ext) and stays there. */
struct mtu_ndir {
    void *sizes; /* struct mtu_nsize, or struct mtu_size once sizes_wide */
    bool sizes_wide;
    bool pend, pend_df;
    uint8_t n_sizes, sizes_cap, n_lost_frames;
    uint32_t pend_len, sizes_dropped, lost_frames_total, sil_other, n_since_peer;
    uint32_t n, small_sent, answered_after_loss;
    uint32_t pend_ts, first_large_loss_ts, first_ts, last_ts, first_since_other, sil_start, sil_end;
    uint32_t pend_frame, first_since_other_frame, sil_end_frame;
};

struct mtu_ext; /* lost frames and the full form (flow/session_mtu.c) */

/* The MTU record of a tunnel flow; its endpoints are the table's key (session_mtu_slot). */
struct mtu_flow {
    uint64_t base_ts, base_frame; /* codes of struct mtu_ndir count from these */
    uint32_t last_ts;             /* code: the flow's latest packet (session_mtu_last_ts) */
    uint8_t vpn;                  /* enum pkt_vpn of its tunnel packets */
    bool esp_in_udp;
    struct mtu_ndir nd[2]; /* d[0] = k.a -> k.b; unused once ext->wide */
    struct mtu_ext *ext;   /* NULL until a loss is listed or the record goes wide */
};

/* Direction dir (0: k.a -> k.b) of an MTU record, and the time of its latest packet. */
void session_mtu_dir(const struct mtu_flow *mf, int dir, struct mtu_dir *out);
uint64_t session_mtu_last_ts(const struct mtu_flow *mf);
/* MTU record i of the table (i < table_slots(m->mtu); NULL when unused) and its key. */
const struct mtu_flow *session_mtu_slot(const struct session_model *m, uint32_t i,
                                        const struct flow_key **k);

/* Endpoint a (which 0) or b (1) of an MTU record's key: the sender of d[0] or of d[1]. */
static inline struct endpoint mtu_end(const struct flow_key *k, int which)
{
    struct endpoint e = {.ip = which ? k->b : k->a, .port = which ? k->pb : k->pa};
    return e;
}

/* ICMP "fragmentation needed" / ICMPv6 "packet too big", by the datagram it quotes. */
struct too_big_key {
    struct ip_addr src, dst; /* of the quoted datagram */
    uint16_t sport, dport;
    uint8_t proto;
    uint8_t pad[3];
};

struct too_big_rec {
    struct too_big_key k;
    struct ip_addr from; /* the router that sent the first one */
    uint32_t mtu;        /* smallest next-hop MTU given (0: none given) */
    uint32_t count;
    uint32_t quoted_len_min;
    uint64_t first_ts, last_ts;
    uint64_t first_frame;
    uint8_t nframes;
    uint64_t frames[4];
    uint8_t ipver;
};

/* The MTU record of a flow (NULL when none), and the too-big record for datagrams of a flow
 * direction: src/sport -> dst/dport of protocol proto (NULL when none). */
const struct mtu_flow *session_mtu_of(const struct session_model *m, const struct flow_key *k);
const struct too_big_rec *session_too_big_for(const struct session_model *m, uint8_t proto,
                                              const struct ip_addr *src, uint16_t sport,
                                              const struct ip_addr *dst, uint16_t dport);

/* Lifecycle. `side` is SIDE_* as given (SIDE_SINGLE for one capture: inferred later). */
int session_model_init(struct session_model *m, uint8_t side);
/* The same for one of `share` capture points analysed together: every session table's cap is
 * divided by share (two-capture mode: 2, so both points hold what one capture holds). */
int session_model_init_share(struct session_model *m, uint8_t side, unsigned share);
/* A table cap for m: cap divided by the model's share (at least 1). */
uint32_t session_cap(const struct session_model *m, uint32_t cap);
void session_model_free(struct session_model *m);

/* The ESP/AH SA's IKE SA (by addresses/ports and time), or NULL. */
const struct ike_sa *session_ike_for_ipsec(const struct session_model *m,
                                           const struct ipsec_sa *sa);

/* GRE packets of a PPTP call, each direction (call ID match on the control connection's peers). */
void session_pptp_call_gre(const struct session_model *m, const struct pptp_ctrl *c,
                           const struct pptp_call *call, uint64_t *to_server, uint64_t *to_client);

/* (Re)builds the address-pair indexes over the IKE and ESP/AH SA tables: session_finish does it;
 * call it again after more packets (live snapshots). 0, or -1 on OOM (iterators then return NULL).
 */
int session_index(struct session_model *m);

/* Iterate the IKE SAs / ESP-AH SAs between addresses a and b (either direction, any ports):
 * start with *it = 0; each call returns the next one, NULL at the end. Needs session_index(). */
const struct ike_sa *session_ike_between(const struct session_model *m, const struct ip_addr *a,
                                         const struct ip_addr *b, uint32_t *it);
const struct ipsec_sa *session_ipsec_between(const struct session_model *m, const struct ip_addr *a,
                                             const struct ip_addr *b, uint32_t *it);

/* The flow between (a,pa) and (b,pb) of protocol proto, either direction; NULL when absent. */
const struct flow *session_flow_lookup(const struct session_model *m, uint8_t proto,
                                       const struct ip_addr *a, uint16_t pa,
                                       const struct ip_addr *b, uint16_t pb);

/* A flow's idle gaps (none when it had none; its last_us is not kept there:
 * session_flow_activity gives a full copy). */
extern const struct activity activity_none;
static inline const struct idle_gaps *flow_act(const struct flow *f)
{
    return f->act ? f->act : &activity_none.idle;
}
/* The whole activity whose idle member g is. */
static inline struct activity *activity_of(struct idle_gaps *g)
{
    return (struct activity *)(void *)((char *)g - offsetof(struct activity, idle));
}
/* A flow's keepalives (none when it had none; read only its ka_ fields). */
static inline const struct activity *flow_ka(const struct flow *f)
{
    return f->act && f->act_ka ? activity_of(f->act) : &activity_none;
}
/* A copy of the flow's activity, last_us included. */
void session_flow_activity(const struct flow *f, struct activity *out);
/* The same for an ESP/AH SA. */
static inline const struct idle_gaps *ipsec_act(const struct ipsec_sa *sa)
{
    return sa->act ? sa->act : &activity_none.idle;
}
void session_ipsec_activity(const struct ipsec_sa *sa, struct activity *out);
/* The same for an IKE SA. */
static inline const struct idle_gaps *ike_act(const struct ike_sa *sa)
{
    return sa->act ? sa->act : &activity_none.idle;
}
void session_ike_activity(const struct ike_sa *sa, struct activity *out);
/* Frame k (< unanswered_nframes) of the SA's worst unanswered request. */
static inline uint64_t ike_unanswered_frame(const struct ike_sa *sa, unsigned k)
{
    return sa->frames && k < 8 ? sa->frames->unanswered[k] : 0;
}
/* Frees what a flow owns (its activity): the flows table's eviction hook calls it. */
void session_flow_release(struct flow *f);

/* A flow's nDPI label, "" until classified. */
static inline const char *flow_app(const struct flow *f)
{
    return f->app ? f->app : "";
}

/* One shared copy of a label for the whole process (a flow holds a pointer, not 48 bytes):
 * nDPI's names are a finite set (protocols and master.app pairs), so this grows with nDPI, not
 * with the traffic. Thread-safe; the copies live until exit. NULL when out of memory. */
const char *session_label(const char *name);

/* The table key of a flow of m (canonical order of its two endpoints): a copy of the flows
 * table's key, where the flow's endpoints are kept (f must be a value of m->flows). */
void session_flow_key(const struct session_model *m, const struct flow *f, struct flow_key *k);

/* Endpoint `which` of a flow of m: 0 the sender of its first packet, 1 the other one. Every
 * reader of a flow's endpoints goes through it (f must be a value of m->flows). */
struct endpoint flow_end(const struct session_model *m, const struct flow *f, int which);

/* Whether a GRE flow belongs to a known PPTP call. */
bool session_gre_is_pptp_call(const struct session_model *m, const struct gre_flow *g);

/* Name of an IKE exchange slot. */
const char *session_exch_name(const struct ike_sa *sa, unsigned slot);

/* Mean keepalive interval in µs (0 when fewer than 2 keepalives). */
uint64_t activity_keepalive_us(const struct activity *a);

/* Live capture: the activity sparklines of m (and its tunnel model) keep the last
 * SPARK_BUCKETS buckets of width_us (SPARK_LIVE_WIDTH_US) instead of the whole life. */
void session_spark_live(struct session_model *m, uint64_t width_us);
/* No sparklines at all (a report reads none): records carry a NULL spark. Before any packet. */
void session_spark_off(struct session_model *m);

#endif

/* ---- updates (flow/session.c), called by the engine for every decoded packet ---- */
#ifndef VPNSCOPE_SESSION_UPDATE
#define VPNSCOPE_SESSION_UPDATE
/* The flow of packet p (created when absent; NULL when p has no IP layer or the table failed).
 * *dir is 0 when p goes src->dst of the flow, 1 otherwise. */
struct flow *session_flow(struct session_model *m, const struct pkt *p, int *dir);
/* Updates IKE/ESP/AH/PPTP/GRE/L2TP state and the flow's counters from p. */
void session_update(struct session_model *m, const struct pkt *p, struct flow *f, int dir);
/* Records a fragmented datagram of VPN interest (completed, timed out or incomplete). */
struct frag_info;
void session_fragment(struct session_model *m, const struct frag_info *fi, bool is_ike);
/* End of input: pairs SAs, infers the capture side. */
void session_finish(struct session_model *m);
#endif
