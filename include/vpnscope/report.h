/* report.h - text and JSON Lines sinks over the session model(s), NAT mappings and findings. */
#ifndef VPNSCOPE_REPORT_H
#define VPNSCOPE_REPORT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "vpnscope/finding.h"
#include "vpnscope/nat.h"
#include "vpnscope/session.h"

struct report_input {
    const struct session_model *models[2]; /* [0] single or inside, [1] outside (n_models 2) */
    uint8_t n_models;
    const char *const *captures[2]; /* file names per model (NULL-terminated lists) */
    const struct nat_result *nat;   /* NULL in single-capture mode */
    const struct finding_list *findings;
    bool all_flows; /* --all-flows */
    bool live;
    uint64_t kernel_drops;
    bool side_given; /* --side was given (else inferred) */
    /* a saved capture that stopped being readable (cut off or corrupt record), per capture point
     * ([0] single/inside, [1] outside); the pipeline fills it from the capture layer's status */
    struct report_cut {
        bool cut;
        const char *path; /* the damaged piece */
        uint64_t offset;  /* byte offset of the damaged record in that piece */
        uint64_t records; /* records read from that piece before it */
        const char *what; /* the capture layer's one-line message */
    } cut[2];
    bool split_unproven; /* --router: the inside/outside split matched no packet (nat message) */
};

/* Whole report, the order of doc/json-schema.md: JSON records by ts (records without one by type,
 * then key), findings before the summary, summary last. */
void report_json(FILE *out, const struct report_input *in);

/* Text report: findings first (severity, then time), then sessions, NAT mappings, summary. */
void report_text(FILE *out, const struct report_input *in);

/* Writes a JSON string literal with escaping of every byte that needs it (hostile strings). */
void json_string(FILE *out, const char *s);

/* Formats µs since the epoch as UTC "YYYY-MM-DDTHH:MM:SS.ffffffZ" into buf (>= 32 bytes). */
char *ts_iso(uint64_t ts_us, char *buf, unsigned size);

/* ---- the live streaming report (stream.c) ---- */

struct stream;
struct pipeline_snapshot;
struct ike_sa;
struct ipsec_sa;
struct nat_timeouts;
struct stream *stream_new(FILE *out, bool json, const struct nat_timeouts *to);
/* Emits sessions established/ended since the last call and findings not emitted before. */
void stream_scan(struct stream *s, const struct pipeline_snapshot *snap);
void stream_free(struct stream *s);

/* NAT timeout (seconds) that applies to a session. */
uint32_t report_timeout_proto(const struct nat_timeouts *to, uint8_t proto, bool replied);
uint32_t report_timeout_ike(const struct nat_timeouts *to, const struct ike_sa *sa);
uint32_t report_timeout_ipsec(const struct nat_timeouts *to, const struct ipsec_sa *sa);

/* Whether the reports list a flow (VPN-relevant, or every flow with --all-flows); VPN sessions
 * decoded by vpnscope are listed as sessions, not flows. */
struct flow;
bool report_flow_listed(const struct flow *f, bool all_flows);

#endif
