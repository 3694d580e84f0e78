/* report.h - text and JSON Lines sinks over the session model(s), NAT mappings and findings. */
#ifndef VPNSCOPE_REPORT_H
#define VPNSCOPE_REPORT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "vpnscope/finding.h"
#include "vpnscope/nat.h"
#include "vpnscope/session.h"

struct clock_steps;

/* Two files of one capture point that overlap in time, and the packets of the later file that
 * repeat a packet of the earlier one (same time, same length, same bytes): counted as
 * "duplicate" in the summary, analysed once. */
struct pieces_overlap {
    int a, b;                /* file indexes, a < b */
    uint64_t from_us, to_us; /* the time both files cover */
    uint64_t repeated;       /* packets of one repeating a packet of the other */
};

#define PIECES_MAX_OVERLAPS 16

/* The saved files of one capture point (several -r pieces, merged by time): frame f of the
 * merged numbering is frame f - base[i] of files[i] for the last i with base[i] < f. */
struct capture_pieces {
    int n;                    /* files (> 1 when pieces) */
    const char *const *files; /* n names as given */
    const uint64_t *base;     /* n: frames in the files before file i */
    unsigned n_overlap;       /* pairs that overlap in time (listed up to PIECES_MAX_OVERLAPS) */
    struct pieces_overlap overlap[PIECES_MAX_OVERLAPS];
    uint64_t duplicates; /* packets not analysed because they repeat another file's */
    /* two files that look like the inside and outside of one NAT (-1: none): packets match by
     * IPv4 id, length and time with a translated source, and the inside's private sources never
     * appear in the outside file */
    int nat_inside, nat_outside;
    uint64_t nat_pairs; /* matched packets behind that hint */
};

/* The file and the frame number within it of merged frame `frame` of pieces pc; NULL (and
 * *local = frame) when pc is NULL or holds one file. */
const char *capture_pieces_frame(const struct capture_pieces *pc, uint64_t frame, uint64_t *local);

struct report_input {
    const struct session_model *models[2]; /* [0] single or inside, [1] outside (n_models 2) */
    uint8_t n_models;
    const char *const *captures[2]; /* file names per model (NULL-terminated lists) */
    const struct nat_result *nat;   /* NULL in single-capture mode */
    const struct finding_list *findings;
    bool all_flows; /* --all-flows */
    bool live;
    uint64_t kernel_drops;
    bool side_given;                          /* --side was given (else inferred) */
    uint64_t findings_hidden;                 /* findings below --min-severity, not in `findings` */
    uint8_t min_severity;                     /* enum severity given with --min-severity */
    const char *file;                         /* --batch: "file" of every JSON record, NULL: none */
    const struct clock_steps *clock_steps[2]; /* per model; NULL or none: no step */
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
    int interrupted;     /* saved files: the signal (SIGINT, SIGTERM) that stopped the reading
                          * before the end, 0: read to the end */
    /* several saved files per capture point ([0] single/inside, [1] outside); NULL or n <= 1:
     * one file, frame numbers are that file's */
    const struct capture_pieces *pieces[2];
    unsigned threads; /* report_json formats records on this many threads (0, 1: one) */
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
bool report_flow_listed(const struct session_model *m, const struct flow *f, bool all_flows);

/* ---- --batch: one line per capture and the rollup (json.c, text.c) ---- */

/* VPN sessions of the report (the records of a tunnel: IKE/ESP/AH SAs, PPTP, GRE, L2TP). */
size_t report_tunnels(const struct report_input *in);

struct batch_capture {
    const char *file;
    uint64_t packets;
    uint64_t tunnels;
    const uint32_t *kinds; /* findings per enum finding_kind (FINDING__COUNT) */
    int exit_status;
    const char *error;   /* NULL or "" when the capture was analysed */
    const char *warning; /* NULL or "": the capture was cut off (what came before is analysed) */
};

struct batch_rollup {
    uint64_t captures, failed, skipped, packets, tunnels;
    const uint64_t *kinds; /* findings per enum finding_kind (FINDING__COUNT) */
    int exit_status;       /* the worst */
};

void report_capture_summary_json(FILE *out, const struct batch_capture *c);
void report_rollup_json(FILE *out, const struct batch_rollup *r);
/* The table header, one row per capture, the rollup line. */
void report_batch_header_text(FILE *out);
void report_capture_row_text(FILE *out, const struct batch_capture *c);
void report_rollup_text(FILE *out, const struct batch_rollup *r);

/* ---- the end of a live stream: nothing streamed is repeated ---- */

/* The last scan after the input ended: ended sessions, new findings, and an "update" record
 * for each session whose state changed since it was streamed (or that never was). */
void stream_final(struct stream *s, const struct pipeline_snapshot *snap);
/* Only the summary of the report (JSON: the summary record; text: the findings count and the
 * summary section). */
void report_json_summary(FILE *out, const struct report_input *in);
void report_text_summary(FILE *out, const struct report_input *in);

#endif
