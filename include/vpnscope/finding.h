/* finding.h - what detectors emit: kind, severity, confidence, sessions, evidence, summary, remedy.
 */
#ifndef VPNSCOPE_FINDING_H
#define VPNSCOPE_FINDING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vpnscope/config.h"
#include "vpnscope/pkt.h"

enum finding_kind {
    FINDING_ESP_COLLISION = 0,
    FINDING_STALE_NAT,
    FINDING_FRAGMENT_REORDER,
    FINDING_FRAGMENT_LOSS,
    FINDING_AH_NAT,
    FINDING_NATT_NOT_USED,
    FINDING_IKE_NO_RESPONSE,
    FINDING_IKE_IP_FRAGMENTED,
    FINDING_PPTP_GRE_BLOCKED,
    FINDING_PPTP_CALL_COLLISION,
    FINDING_ESP_ONE_WAY,
    FINDING_NAT_TRAVERSAL, /* info: a healthy NAT-T tunnel through a NAT */
    FINDING_MTU_BLACKHOLE,
    FINDING_NAT_STATE_LOST,
    FINDING_PPTP_NONSTANDARD_PORT,
    FINDING_HANDSHAKE_NO_RESPONSE, /* WireGuard initiations / OpenVPN hard resets unanswered */
    FINDING_TUNNEL_ONE_WAY,        /* a WireGuard / OpenVPN / other UDP tunnel's data one way */
    FINDING__COUNT
};

enum severity { SEV_INFO = 0, SEV_WARNING = 1, SEV_ERROR = 2 };

const char *finding_kind_name(unsigned kind); /* report names, e.g. "esp_collision" */
const char *severity_name(unsigned sev);      /* "info" | "warning" | "error" */
enum severity finding_default_severity(unsigned kind);

enum fs_role { ROLE_CLIENT = 0, ROLE_SERVER, ROLE_NAT };
const char *fs_role_name(unsigned role);

/* One session involved: every inside client appears with role client and its inside address. */
struct finding_session {
    uint8_t role;
    struct ip_addr ip;
    bool has_port;
    uint16_t port;
    bool has_outside;
    struct ip_addr out_ip;
    bool has_out_port;
    uint16_t out_port;
    bool has_spi;
    uint32_t spi;
    bool has_call_id;
    uint16_t call_id;
    char note[48]; /* e.g. "receives the return ESP", "" when none */
};

enum ev_type { EV_INT = 0, EV_STR, EV_TS, EV_SECONDS, EV_BOOL };

/* One piece of evidence (24 bytes; a finding has up to FINDING_MAX_EV of them). */
struct finding_ev {
    const char *key; /* a string that outlives the finding (a literal), at most 31 characters */
    union {
        int64_t i; /* EV_INT, EV_TS (µs), EV_BOOL */
        double d;  /* EV_SECONDS */
        char *s;   /* EV_STR: owned by the finding, at most FINDING_EV_STR_MAX characters */
    };
    uint8_t type; /* enum ev_type */
};
#define FINDING_EV_STR_MAX 95

struct frame_ref {
    uint8_t capture; /* enum cap_side */
    uint64_t frame;
};

#define FINDING_MAX_SESSIONS 12
#define FINDING_MAX_EV 16
#define FINDING_SUMMARY_SIZE 640 /* bytes of summary text, with the NUL */
#define FINDING_REMEDY_SIZE 400

struct finding {
    uint8_t kind;   /* enum finding_kind */
    uint8_t sev;    /* enum severity */
    bool confirmed; /* confirmed (two captures / conclusive) vs suspected */
    uint64_t ts_us; /* when it happened (inside clock in two-capture mode) */
    /* NUL-terminated text, allocated by finding_add: FINDING_SUMMARY_SIZE / FINDING_REMEDY_SIZE
     * bytes to write into while the detector that made the finding runs; detect_run then trims
     * them to their text (finding_list_trim), and from there they are read-only (the list
     * functions below that change a summary do it themselves). */
    char *summary;
    char *remedy;
    /* Sessions, evidence and frames are allocated as they are added (most findings have a few of
     * each, a finding with all of them inline was 6 KB), owned like more_sessions: finding_free.
     */
    uint8_t n_sessions, sessions_cap;
    struct finding_session *sessions; /* n_sessions (at most FINDING_MAX_SESSIONS); NULL: none */
    uint8_t n_ev, ev_cap;
    struct finding_ev *ev; /* n_ev of them (at most FINDING_MAX_EV); NULL when none */
    uint8_t n_frames, frames_cap;
    struct frame_ref *frames; /* n_frames of them (at most FINDING_MAX_FRAMES); NULL when none */
    /* Every distinct frame offered as evidence, listed or not: > n_frames when the list is full
     * (the report says how many were left out; never a silent sample). */
    uint32_t frames_total;
    /* What each listed frame shows (a static string, e.g. "dropped at the router"); NULL: the
     * generic "evidence". One per listed frame, allocated with frames. */
    const char **frame_role;
    /* Grouping: repeats of this finding with one cause folded into it (0: none). */
    uint32_t group_count;
    /* Sessions after the FINDING_MAX_SESSIONS listed inline (a grouped finding's members; see
     * finding_session_add_more), allocated to size. The list functions below own it: a finding
     * copied out of a list by value must not outlive the list. */
    struct finding_session *more_sessions;
    uint32_t n_more_sessions, more_sessions_cap;
};

struct finding_list {
    size_t n, cap;
    struct finding *v;
};

/* A new zeroed finding appended to the list (kind, default severity, ts set; empty summary and
 * remedy of FINDING_SUMMARY_SIZE / FINDING_REMEDY_SIZE bytes); NULL on OOM. */
struct finding *finding_add(struct finding_list *l, unsigned kind, uint64_t ts_us);
/* Trims what every finding of l holds to what it uses: the summary and remedy to their text
 * (read-only from then on), evidence, sessions and frames to their counts. */
void finding_list_trim(struct finding_list *l);
void finding_list_free(struct finding_list *l);
/* Frees what a finding owns (evidence, frames, allocated sessions; the lists do it for theirs):
 * for a finding made outside a list (a zeroed struct). */
void finding_free(struct finding *f);

/* Evidence helpers (silently capped at FINDING_MAX_EV / FINDING_MAX_SESSIONS / frames; out of
 * memory: the evidence is left out, a frame is counted in frames_total only). key: a string that
 * outlives the finding (a literal); a string value is copied (cut at FINDING_EV_STR_MAX). */
void finding_ev_int(struct finding *f, const char *key, int64_t v);
void finding_ev_str(struct finding *f, const char *key, const char *v);
void finding_ev_ts(struct finding *f, const char *key, uint64_t ts_us);
void finding_ev_seconds(struct finding *f, const char *key, double secs);
void finding_ev_bool(struct finding *f, const char *key, bool v);
void finding_frame(struct finding *f, uint8_t capture, uint64_t frame);
struct finding_session *finding_session_add(struct finding *f, unsigned role,
                                            const struct ip_addr *ip);

/* Sorts: severity (error first), then ts, then kind (the text report's order). */
void finding_list_sort_severity(struct finding_list *l);
/* Sorts by ts, then kind (JSON order). */
void finding_list_sort_ts(struct finding_list *l);

/* Highest severity present (SEV_INFO when empty). */
enum severity finding_list_max_severity(const struct finding_list *l);

/* Appends copies of src's findings to dst, in order; false on OOM (dst keeps what fitted). */
bool finding_list_append(struct finding_list *dst, const struct finding_list *src);

/* finding_frame with what the frame shows (role: a string that outlives the finding, e.g. a
 * literal). A frame already listed keeps its first role unless it had none. */
void finding_frame_role(struct finding *f, uint8_t capture, uint64_t frame, const char *role);
/* The role of listed frame i: its role, else "evidence". */
const char *finding_frame_role_name(const struct finding *f, unsigned i);

/* Folds repeats of one kind with one cause into the first of them (group_count, its sessions and
 * frames appended, a sentence added to the summary). One cause, conservatively: esp_one_way SAs
 * of one sender (same client address, encapsulation, severity and confidence): one host whose
 * ESP nobody answers. Returns how many findings were folded away. */
size_t finding_list_group(struct finding_list *l);

/* Drops the findings below min_sev (enum severity); returns how many were dropped. */
size_t finding_list_min_severity(struct finding_list *l, unsigned min_sev);
/* Appends every finding of src to dst and empties src (src's array is taken over without a copy
 * when dst is empty). false on OOM (dst then holds part of them). */
bool finding_list_move(struct finding_list *dst, struct finding_list *src);

/* Every session of f: the inline ones, then the allocated ones. */
uint32_t finding_n_sessions(const struct finding *f);
const struct finding_session *finding_session_at(const struct finding *f, uint32_t i);
/* Like finding_session_add, but past FINDING_MAX_SESSIONS the session goes to the allocated list
 * (no cap): for a grouped finding whose sessions are its members. NULL only when out of memory. */
struct finding_session *finding_session_add_more(struct finding *f, unsigned role,
                                                 const struct ip_addr *ip);

#endif
