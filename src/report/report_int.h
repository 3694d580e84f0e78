/* report_int.h - helpers shared by the text and JSON sinks (private to src/report/). */
#ifndef VPNSCOPE_REPORT_INT_H
#define VPNSCOPE_REPORT_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "vpnscope/encap.h"
#include "vpnscope/report.h"

/* Record types, in tie-break order (records with equal ts). */
enum rep_type {
    REC_IKE_SA = 0,
    REC_ESP_SA,
    REC_AH_SA,
    REC_PPTP_CTRL, /* a control connection without calls (extension) */
    REC_PPTP_CALL,
    REC_GRE,
    REC_L2TP,
    REC_FLOW,
    REC_NAT_MAPPING,
    REC_UNMATCHED,
    REC_CLOCK_OFFSET,
    REC_FINDING,
    REC_WG_SESSION,
    REC_OVPN_SESSION,
    REC__COUNT
};
const char *rep_type_name(unsigned t); /* the JSON "type" */

/* One record to print: what it is, where it lives, and its sort keys (the tie-break key is made
 * from the record when a comparison needs it). Pointers are into the report input and valid
 * while it is. rep_get makes one from the list's entry. */
#define REP_KEY_MAX 224 /* longest tie-break key */
struct rep_rec {
    uint64_t ts;
    const void *p; /* the record (ike_sa, ipsec_sa, pptp_ctrl, gre_flow, ...) */
    uint32_t sub;  /* PPTP call index / NAT index / finding index */
    uint32_t seq;  /* build order (last tie-break) */
    bool has_ts;
    uint8_t type;  /* enum rep_type */
    uint8_t model; /* index into report_input.models */
    uint8_t side;  /* the model's side (enum cap_side), in the key */
};

/* An entry of the list: 16 bytes, the sort keys and the record's place in the input (id: its
 * position in the enumeration of its source, see format.c; ids grow in build order, so the id
 * is the build order tie-break too). */
struct rep_ref {
    uint64_t ts;
    uint32_t id;
    uint8_t type; /* enum rep_type */
    uint8_t model;
    uint8_t side;
    bool has_ts;
};

/* Where a run of ids comes from: a table of a model, the NAT result's arrays, the findings. */
#define REP_MAX_SRC 24
struct rep_src {
    uint32_t base, n; /* ids base .. base + n - 1 */
    uint8_t kind;     /* format.c's enum src_kind */
    const void *from; /* the table or array */
};

struct rep_list {
    size_t n, cap;
    struct rep_ref *v;
    unsigned n_src;
    struct rep_src src[REP_MAX_SRC];
    bool counting;                 /* rep_build's first pass: n counts, nothing is stored */
    const struct report_input *in; /* what the records come from (set by rep_build) */
    /* rep_build: per model, per GRE slot, whether the flow is a PPTP call's (a scan of the PPTP
     * table each), found in the first pass for the second; NULL: asked again */
    bool *gre_call[2];
};

/* Every record of the input in the order doc/json-schema.md gives: by ts, then type, then key;
 * records without a ts after them by type, then key. 0, or -1 on OOM (the list is then partial).
 * The list is sized exactly (a first pass counts). Free with rep_list_free. */
int rep_build(struct rep_list *l, const struct report_input *in);
void rep_list_free(struct rep_list *l);
/* Record i of the list (i < l->n) into *r; returns r. */
const struct rep_rec *rep_get(const struct rep_list *l, size_t i, struct rep_rec *r);

/* json_tunnels.c: the tie-break key of a wg_session or ovpn_session record. */
void rep_tunnel_key(const struct rep_rec *r, const char *side, char *key, size_t size);

/* Text order for findings: severity (error first), then ts, kind, list position. Returns a
 * malloc'ed array of n indexes into in->findings->v (NULL when none or OOM). */
size_t *rep_findings_by_severity(const struct finding_list *fl);

/* Whether a flow gets a `flow` record (doc/json-schema.md: VPN-labelled, or unknown on VPN ports,
 * or all with --all-flows; never flows decoded as a VPN protocol, which have records of their
 * own). */
bool rep_flow_listed(const struct session_model *m, const struct flow *f, bool all_flows);

/* Formatting into caller buffers; each returns buf. */
char *rep_ike_spi(uint64_t spi, char *buf, unsigned size);   /* 16 lowercase hex digits */
char *rep_ipsec_spi(uint32_t spi, char *buf, unsigned size); /* "0x" + 8 lowercase hex */
/* ip_proto_name() ("udp", "esp", ...; "icmp" for ICMPv6 too), or the number */
char *rep_proto_name(uint8_t proto, char *buf, unsigned size);
const char *rep_pptp_sess_state_name(uint8_t s);
const char *rep_flow_app(const struct flow *f); /* the nDPI label, "Unknown" when empty */

/* The side a single capture was taken on: as given (m->side), else as inferred (m->side_inferred);
 * SIDE_SINGLE when unknown. */
uint8_t rep_single_side(const struct session_model *m);

/* Totals over the models, as the summary prints them. */
#define REP_N_EVICT 9
#define REP_N_EVICT_ALWAYS 7 /* the JSON summary gives these always, the others when not 0 */
/* flows, ike_sa, ipsec_sa, pptp, gre, l2tp, fragments, mtu (path-MTU and too-big records),
 * tunnels (WireGuard/OpenVPN/UDP tunnel records and their links) */
extern const char *const rep_evict_names[REP_N_EVICT];
struct rep_counts {
    uint64_t packets, decoded, truncated, invalid, non_ip, filtered;
    uint64_t duplicate; /* repeats of another -r piece's packets (shown only when any) */
};
struct rep_totals {
    struct rep_counts all;
    struct rep_counts per[2];
    uint64_t anomalies[ANOM__COUNT];
    uint64_t evicted[REP_N_EVICT];
    uint64_t findings[3]; /* by enum severity */
    uint64_t first_ts, last_ts;
};
void rep_totals(const struct report_input *in, struct rep_totals *t);

/* Anomaly ids with a non-zero count, in name order; returns how many (out has ANOM__COUNT). */
unsigned rep_anomalies_sorted(const struct rep_totals *t, unsigned *out);

/* Frame references sorted by (capture, frame); returns n (out has FINDING_MAX_FRAMES). */
unsigned rep_frames_sorted(const struct finding *f, struct frame_ref *out);

/* Indexes into f->frames sorted by (capture, frame); returns n (ix has FINDING_MAX_FRAMES). */
unsigned rep_frames_sorted_ix(const struct finding *f, unsigned *ix);

/* The files of the capture point that frame references of capture `capture` (enum cap_side)
 * belong to: pieces[0] for single and inside, pieces[1] for outside; NULL when pieces is NULL or
 * the point has one file (frame numbers are then that file's). */
const struct capture_pieces *rep_pieces_of(const struct capture_pieces *const *pieces,
                                           uint8_t capture);

/* Sum of two counts, saturating. */
uint64_t rep_add(uint64_t a, uint64_t b);

/* Wrappers/tunnels removed and snaplen cuts, summed over the models. */
struct rep_capture_totals {
    uint64_t encap[ENCAP__COUNT];
    uint64_t snap_cut;
    uint64_t snap_cut_vpn[VPN__COUNT];
};
void rep_capture_totals(const struct report_input *in, struct rep_capture_totals *t);

/* Lower-case name of a VPN layer for the snap_cut summary ("ike", "esp", ...). */
const char *rep_vpn_cut_name(unsigned vpn);

#endif
