/* jsonw.h - the one JSON writer of the reports and the live stream (private to src/report/):
 * places the commas, writes the value formats of doc/json-schema.md (timestamps, addresses, SPIs,
 * NAT ids). */
#ifndef VPNSCOPE_JSONW_H
#define VPNSCOPE_JSONW_H

#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "vpnscope/proto.h"
#include "vpnscope/report.h"

#include "report_int.h"

#define JW_MAX_DEPTH 8

struct jw {
    FILE *f;
    unsigned depth;
    bool need_comma[JW_MAX_DEPTH];
};

/* Comma and key before a value; key NULL inside arrays. */
static inline void jw_pre(struct jw *w, const char *key)
{
    if (w->need_comma[w->depth])
        fputc(',', w->f);
    w->need_comma[w->depth] = true;
    if (key) {
        json_string(w->f, key);
        fputc(':', w->f);
    }
}

static inline void jw_open(struct jw *w, const char *key, char c)
{
    jw_pre(w, key);
    fputc(c, w->f);
    if (w->depth + 1 < JW_MAX_DEPTH)
        w->depth++;
    w->need_comma[w->depth] = false;
}

static inline void jw_close(struct jw *w, char c)
{
    fputc(c, w->f);
    if (w->depth > 0)
        w->depth--;
}

static inline void jw_obj(struct jw *w, const char *key)
{
    jw_open(w, key, '{');
}

static inline void jw_obj_end(struct jw *w)
{
    jw_close(w, '}');
}

static inline void jw_arr(struct jw *w, const char *key)
{
    jw_open(w, key, '[');
}

static inline void jw_arr_end(struct jw *w)
{
    jw_close(w, ']');
}

static inline void jw_str(struct jw *w, const char *key, const char *v)
{
    jw_pre(w, key);
    if (v)
        json_string(w->f, v);
    else
        fputs("null", w->f);
}

/* Decimal digits of v, written without printf (reports print millions of counters). */
static inline void put_u64(FILE *f, uint64_t v)
{
    char b[24];
    unsigned i = sizeof(b);
    do {
        b[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v && i > 0);
    fwrite(b + i, 1, sizeof(b) - i, f);
}

static inline void jw_u64(struct jw *w, const char *key, uint64_t v)
{
    jw_pre(w, key);
    put_u64(w->f, v);
}

static inline void jw_i64(struct jw *w, const char *key, int64_t v)
{
    jw_pre(w, key);
    if (v < 0) {
        fputc('-', w->f);
        put_u64(w->f, (uint64_t)0 - (uint64_t)v);
    } else {
        put_u64(w->f, (uint64_t)v);
    }
}

static inline void jw_bool(struct jw *w, const char *key, bool v)
{
    jw_pre(w, key);
    fputs(v ? "true" : "false", w->f);
}

static inline void jw_null(struct jw *w, const char *key)
{
    jw_pre(w, key);
    fputs("null", w->f);
}

/* -1 -> null, 0 false, 1 true (NAT-D verdicts). */
static inline void jw_tristate(struct jw *w, const char *key, int v)
{
    if (v < 0)
        jw_null(w, key);
    else
        jw_bool(w, key, v != 0);
}

/* Seconds and ratios with 6 decimals; NaN/inf (never valid JSON) as null. */
static inline void jw_f6(struct jw *w, const char *key, double v)
{
    jw_pre(w, key);
    if (isfinite(v))
        fprintf(w->f, "%.6f", v);
    else
        fputs("null", w->f);
}

static inline void jw_ts(struct jw *w, const char *key, uint64_t ts_us)
{
    char buf[40];
    jw_str(w, key, ts_iso(ts_us, buf, sizeof(buf)));
}

static inline void jw_ip(struct jw *w, const char *key, const struct ip_addr *a)
{
    char buf[64];
    if (a->v != 4 && a->v != 6)
        jw_null(w, key);
    else
        jw_str(w, key, ip_addr_str(a, buf, sizeof(buf)));
}

static inline void jw_endpoint(struct jw *w, const char *key, const struct endpoint *e)
{
    jw_obj(w, key);
    jw_ip(w, "ip", &e->ip);
    jw_u64(w, "port", e->port);
    jw_obj_end(w);
}

static inline void jw_ipsec_spi(struct jw *w, const char *key, uint32_t spi)
{
    char buf[16];
    jw_str(w, key, rep_ipsec_spi(spi, buf, sizeof(buf)));
}

static inline void jw_ike_spi(struct jw *w, const char *key, uint64_t spi)
{
    char buf[24];
    jw_str(w, key, rep_ike_spi(spi, buf, sizeof(buf)));
}

/* The "capture" and "frame" keys of a packet reference, with "file" (and the frame number within
 * that file) when its capture point has several files (pc from rep_pieces_of). */
static inline void jw_frame_keys(struct jw *w, const struct capture_pieces *pc, uint8_t capture,
                                 uint64_t frame)
{
    uint64_t local;
    const char *file = capture_pieces_frame(pc, frame, &local);
    jw_str(w, "capture", side_name(capture));
    if (file)
        jw_str(w, "file", file);
    jw_u64(w, "frame", local);
}

static inline void jw_begin_record(struct jw *w, FILE *f, const char *type)
{
    memset(w, 0, sizeof(*w));
    w->f = f;
    jw_obj(w, NULL);
    jw_str(w, "type", type);
}

static inline void jw_end_record(struct jw *w)
{
    jw_obj_end(w);
    fputc('\n', w->f);
}

static inline void jw_nat_id(struct jw *w, const char *key, uint8_t proto, const struct nat_id *id)
{
    jw_obj(w, key);
    jw_ip(w, "ip", &id->ip);
    switch (proto) {
    case IPP_TCP:
    case IPP_UDP:
        jw_u64(w, "port", id->port);
        break;
    case IPP_ICMP:
    case IPP_ICMPV6:
        jw_u64(w, "icmp_id", id->icmp_id);
        break;
    case IPP_GRE:
        if (id->has_call_id)
            jw_u64(w, "call_id", id->call_id);
        break;
    case IPP_ESP:
    case IPP_AH:
        break;
    default:
        if (id->has_port)
            jw_u64(w, "port", id->port);
        break;
    }
    jw_obj_end(w);
}

/* json_findings.c: the fields of a finding record after "type": the report, the stream and the
 * exports write the same record. pieces: the files of each capture point (NULL: one file each),
 * naming the file of every frame reference. */
void rep_json_finding(struct jw *w, const struct finding *f,
                      const struct capture_pieces *const *pieces);
/* json_sessions.c, json_nat.c: the fields of the session records after "capture" (nat_mapping:
 * after "type"): the report writes them in full, the stream (stream.c) without the extensions
 * and, for ike_sa, without natd and exchanges, for nat_mapping without spis (full = false). */
void rep_json_ike_fields(struct jw *w, const struct ike_sa *sa, bool full);
void rep_json_ipsec_fields(struct jw *w, const struct session_model *m, const struct ipsec_sa *sa,
                           bool full);
void rep_json_pptp_call_fields(struct jw *w, const struct session_model *m,
                               const struct pptp_ctrl *c, const struct pptp_call *call, bool full);
void rep_json_nat_mapping_fields(struct jw *w, const struct nat_mapping *mp, bool full);
/* json_tunnels.c: the wg_session and ovpn_session records after "capture" (the stream writes its
 * own capture point); ext: with the extension fields. */
struct wg_session;
struct ovpn_session;
void rep_json_wg_fields(struct jw *w, const struct wg_session *s, bool ext);
void rep_json_ovpn_fields(struct jw *w, const struct ovpn_session *s, bool ext);

#endif
