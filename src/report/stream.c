/* stream.c - the live streaming report (stdout not a terminal, or --json): one record per line,
 * flushed, for each session (IKE SA, ESP/AH SA, PPTP call, WireGuard session, OpenVPN session,
 * NAT mapping) when it is established
 * and when it ends or expires (idle past its NAT timeout, on packet time), and for each finding
 * the first time the detectors raise it (deduplicated by kind and sessions). JSON records carry
 * the fields of their type (doc/json-schema.md) plus "event" ("established" | "ended") and "ts";
 * findings are the report's finding records. At the end (stream_final) a session whose record
 * changed since it was streamed, or that never was, gets an "update" record with its final state;
 * then only the summary follows (stream_run.c): nothing streamed is repeated. Every session event
 * goes through one emitter (emit) and a descriptor per record type (rec_descs). */
#include "vpnscope/pipeline.h"
#include "vpnscope/proto.h"
#include "vpnscope/report.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "vpnscope/session_tunnel.h"
#include "vpnscope/table.h"
#include "vpnscope/tunnel.h"

#include "jsonw.h"
#include "report_int.h"

enum { ST_NONE = 0, ST_UP, ST_ENDED, ST_UPDATE };

struct sess {
    uint8_t st;
    uint64_t last_ts; /* last_ts of the record when it ended */
    uint64_t fp;      /* what the last streamed record said (counters, times) */
};

struct stream {
    FILE *out;
    bool json;
    struct nat_timeouts to;
    struct table *sess;  /* uint64 hash -> struct sess */
    struct table *found; /* uint64 hash -> uint64 severity and confidence as streamed */
    bool final;          /* the last scan (stream_final): sessions whose state changed since they
                            were streamed, or never were, get an "update" record */
};

struct stream *stream_new(FILE *out, bool json, const struct nat_timeouts *to)
{
    struct stream *s = calloc(1, sizeof(*s));
    if (!s)
        return NULL;
    s->out = out;
    s->json = json;
    s->to = *to;
    s->sess = table_new(sizeof(uint64_t), sizeof(struct sess), 1u << 20, NULL, NULL);
    s->found = table_new(sizeof(uint64_t), sizeof(uint64_t), 1u << 16, NULL, NULL);
    if (!s->sess || !s->found) {
        stream_free(s);
        return NULL;
    }
    return s;
}

void stream_free(struct stream *s)
{
    if (!s)
        return;
    table_free(s->sess);
    table_free(s->found);
    free(s);
}

/* ---- timeouts ---- */

uint32_t report_timeout_proto(const struct nat_timeouts *to, uint8_t proto, bool replied)
{
    switch (proto) {
    case IPP_UDP:
        return replied ? to->udp_stream : to->udp;
    case IPP_TCP:
        return to->tcp;
    case IPP_GRE:
        return to->gre;
    default:
        return to->other;
    }
}

uint32_t report_timeout_ike(const struct nat_timeouts *to, const struct ike_sa *sa)
{
    return report_timeout_proto(to, IPP_UDP, sa->nat_t || sa->pkts_from_resp > 0);
}

uint32_t report_timeout_ipsec(const struct nat_timeouts *to, const struct ipsec_sa *sa)
{
    return sa->k.encap ? to->udp_stream : to->other;
}

/* ---- events ---- */

static const char *ev_name(int ev)
{
    return ev == ST_UP ? "established" : ev == ST_UPDATE ? "update" : "ended";
}

/* A session's streamed state: what changes in its record as packets arrive. */
static uint64_t fingerprint(uint64_t a, uint64_t b, uint64_t c)
{
    uint64_t v[3] = {a, b, c};
    return hash_bytes(v, sizeof(v));
}

static uint64_t key_hash(uint8_t kind, uint8_t side, const void *k, size_t n)
{
    uint8_t b[160];
    memset(b, 0, sizeof(b));
    b[0] = kind;
    b[1] = side;
    memcpy(b + 2, k, n < sizeof(b) - 2 ? n : sizeof(b) - 2);
    return hash_bytes(b, 2 + n);
}

/* Decides the event for one session: ST_UP when first established (or back after it ended),
 * ST_ENDED when it closed or idled past its timeout; in the final scan ST_UPDATE when its record
 * changed since it was streamed (fp) or it never was; ST_NONE otherwise. */
static int transition(struct stream *s, uint64_t h, bool established, bool closed, uint64_t last_ts,
                      uint32_t timeout_s, uint64_t now, uint64_t fp)
{
    struct sess *v = table_get(s->sess, &h, true);
    bool expired = now > last_ts && now - last_ts > (uint64_t)timeout_s * 1000000u;
    bool up = established && !expired;
    if (!v) {
        if (!up && !s->final)
            return ST_NONE;
        v = table_put(s->sess, &h, NULL);
        if (!v)
            return ST_NONE;
        v->st = ST_UP;
        v->fp = fp;
        return up ? ST_UP : ST_UPDATE;
    }
    int ev = ST_NONE;
    if (v->st == ST_UP && (closed || expired)) {
        v->st = ST_ENDED;
        v->last_ts = last_ts;
        ev = ST_ENDED;
    } else if (v->st == ST_ENDED && !closed && last_ts > v->last_ts && !expired) {
        v->st = ST_UP;
        ev = ST_UP;
    } else if (s->final && v->fp != fp) {
        ev = ST_UPDATE;
    }
    if (ev)
        v->fp = fp;
    return ev;
}

/* ---- session records: one emitter, a descriptor per record type ---- */

/* One session event: what happened, when, to which record. */
struct ev {
    int ev; /* ST_UP, ST_ENDED, ST_UPDATE */
    uint8_t side;
    uint64_t ts;
    uint32_t timeout; /* seconds: the NAT timeout that applied (ended events) */
    const struct session_model *m;
    const void *rec; /* the session record (ike_sa, ipsec_sa, pptp_ctrl, nat_mapping, ...) */
    const void *sub; /* pptp_call: the call of the control connection */
};

/* A streamed record type: its name, which common fields it carries and its own fields. */
struct rec_desc {
    const char *type;
    bool side;    /* the capture point (not nat_mapping: it joins both) */
    bool timeout; /* an ended event names the timeout (not pptp_call: its end may be a close) */
    void (*text)(FILE *out, const struct ev *e);    /* after "ts event type [side]" */
    void (*json)(struct jw *w, const struct ev *e); /* after type, event, ts [, capture] */
};

static void text_ike(FILE *out, const struct ev *e)
{
    const struct ike_sa *sa = e->rec;
    char a[64], b[64];
    const struct endpoint *i =
        sa->nat_t && sa->natt_initiator.port ? &sa->natt_initiator : &sa->initiator;
    const struct endpoint *r =
        sa->nat_t && sa->natt_responder.port ? &sa->natt_responder : &sa->responder;
    fprintf(out, " v%u %s:%u -> %s:%u ispi %016" PRIx64 " rspi %016" PRIx64 "%s", sa->version,
            ip_addr_str(&i->ip, a, sizeof(a)), i->port, ip_addr_str(&r->ip, b, sizeof(b)), r->port,
            sa->ispi, sa->rspi, sa->nat_t ? " nat-t" : "");
}

static void json_ike(struct jw *w, const struct ev *e)
{
    rep_json_ike_fields(w, e->rec, false);
}

static void text_ipsec(FILE *out, const struct ev *e)
{
    const struct ipsec_sa *sa = e->rec;
    char a[64], b[64];
    fprintf(out, " %s -> %s spi 0x%08x %s", ip_addr_str(&sa->k.src, a, sizeof(a)),
            ip_addr_str(&sa->k.dst, b, sizeof(b)), sa->k.spi, sa->k.encap ? "udp" : "raw");
    if (sa->k.encap)
        fprintf(out, " %u -> %u", sa->k.sport, sa->k.dport);
    fprintf(out, " packets %" PRIu64, sa->packets);
}

static void json_ipsec(struct jw *w, const struct ev *e)
{
    rep_json_ipsec_fields(w, e->m, e->rec, false);
}

static void text_pptp(FILE *out, const struct ev *e)
{
    const struct pptp_ctrl *c = e->rec;
    const struct pptp_call *call = e->sub;
    uint64_t ts_srv = 0, ts_cli = 0;
    session_pptp_call_gre(e->m, c, call, &ts_srv, &ts_cli);
    char a[64], b[64];
    fprintf(out, " %s:%u -> %s:%u call_id %u peer_call_id ",
            ip_addr_str(&c->client.ip, a, sizeof(a)), c->client.port,
            ip_addr_str(&c->server.ip, b, sizeof(b)), c->server.port, call->call_id);
    if (call->has_peer)
        fprintf(out, "%u", call->peer_call_id);
    else
        fputs("-", out);
    fprintf(out, " state %s gre %" PRIu64 "/%" PRIu64, pptp_call_state_name(call->state), ts_srv,
            ts_cli);
}

static void json_pptp(struct jw *w, const struct ev *e)
{
    rep_json_pptp_call_fields(w, e->m, e->rec, e->sub, false);
}

static void nat_id_text(uint8_t proto, const struct nat_id *id, char *buf, size_t n)
{
    char a[64];
    ip_addr_str(&id->ip, a, sizeof(a));
    if ((proto == IPP_TCP || proto == IPP_UDP) && id->has_port)
        snprintf(buf, n, "%s:%u", a, id->port);
    else if (id->has_call_id)
        snprintf(buf, n, "%s call %u", a, id->call_id);
    else
        snprintf(buf, n, "%s", a);
}

static void text_nat(FILE *out, const struct ev *e)
{
    const struct nat_mapping *mp = e->rec;
    char pb[8], a[96], b[96], c[96];
    nat_id_text(mp->proto, &mp->inside, a, sizeof(a));
    nat_id_text(mp->proto, &mp->outside, b, sizeof(b));
    nat_id_text(mp->proto, &mp->peer, c, sizeof(c));
    fprintf(out, " %s %s => %s -> %s%s", rep_proto_name(mp->proto, pb, sizeof(pb)), a, b, c,
            mp->translated ? "" : " (not translated)");
}

static void json_nat(struct jw *w, const struct ev *e)
{
    rep_json_nat_mapping_fields(w, e->rec, false);
}

static void text_wg(FILE *out, const struct ev *e)
{
    const struct wg_session *ws = e->rec;
    char a[64], b[64], ii[WG_INDEX_STR_LEN], ri[WG_INDEX_STR_LEN];
    fprintf(out, " %s:%u -> %s:%u index %s/%s handshakes %u packets %" PRIu64 "/%" PRIu64,
            ip_addr_str(&ws->initiator.ip, a, sizeof(a)), ws->initiator.port,
            ip_addr_str(&ws->responder.ip, b, sizeof(b)), ws->responder.port,
            wg_index_str(ws->i_idx, ii, sizeof(ii)), wg_index_str(ws->r_idx, ri, sizeof(ri)),
            ws->handshakes, ws->to_responder, ws->to_initiator);
}

static void json_wg(struct jw *w, const struct ev *e)
{
    rep_json_wg_fields(w, e->rec, false);
}

static void text_ovpn(FILE *out, const struct ev *e)
{
    const struct ovpn_session *os = e->rec;
    char a[64], b[64], sid[OVPN_SID_STR_LEN];
    fprintf(out, " %s %s:%u -> %s:%u session_id %s packets %" PRIu64 "/%" PRIu64,
            os->proto == IPP_TCP ? "tcp" : "udp", ip_addr_str(&os->client.ip, a, sizeof(a)),
            os->client.port, ip_addr_str(&os->server.ip, b, sizeof(b)), os->server.port,
            ovpn_sid_str(os->client_sid, sid, sizeof(sid)), os->to_server, os->to_client);
}

static void json_ovpn(struct jw *w, const struct ev *e)
{
    rep_json_ovpn_fields(w, e->rec, false);
}

enum st_rec { SR_IKE, SR_ESP, SR_AH, SR_PPTP, SR_NAT, SR_WG, SR_OVPN, SR__COUNT };

static const struct rec_desc rec_descs[SR__COUNT] = {
    [SR_IKE] = {"ike_sa", true, true, text_ike, json_ike},
    [SR_ESP] = {"esp_sa", true, true, text_ipsec, json_ipsec},
    [SR_AH] = {"ah_sa", true, true, text_ipsec, json_ipsec},
    [SR_PPTP] = {"pptp_call", true, false, text_pptp, json_pptp},
    [SR_NAT] = {"nat_mapping", false, true, text_nat, json_nat},
    [SR_WG] = {"wg_session", true, true, text_wg, json_wg},
    [SR_OVPN] = {"ovpn_session", true, true, text_ovpn, json_ovpn},
};

/* Writes one session event: the common part, the record's own fields, the timeout of an end. */
static void emit(struct stream *s, enum st_rec type, const struct ev *e)
{
    const struct rec_desc *d = &rec_descs[type];
    bool to = d->timeout && e->ev == ST_ENDED;
    if (!s->json) {
        char t[40];
        fprintf(s->out, "%s %-11s %s", ts_iso(e->ts, t, sizeof(t)), ev_name(e->ev), d->type);
        if (d->side)
            fprintf(s->out, " %s", side_name(e->side));
        d->text(s->out, e);
        if (to)
            fprintf(s->out, " (idle past the %u s NAT timeout)", e->timeout);
        fputc('\n', s->out);
    } else {
        struct jw w;
        jw_begin_record(&w, s->out, d->type);
        jw_str(&w, "event", ev_name(e->ev));
        jw_ts(&w, "ts", e->ts);
        if (d->side)
            jw_str(&w, "capture", side_name(e->side));
        d->json(&w, e);
        if (to)
            jw_u64(&w, "timeout", e->timeout);
        jw_end_record(&w);
    }
    fflush(s->out);
}

/* A session as the scan sees it. */
struct sess_view {
    uint64_t h;       /* identity (key_hash) */
    bool established; /* answered / carrying traffic */
    bool closed;      /* cleared by the protocol itself */
    uint64_t up_ts;   /* when it counts as established */
    uint64_t last_ts;
    uint32_t timeout; /* seconds of silence after which it ended */
    uint64_t fp;      /* what its record says now (fingerprint) */
};

/* The session's event, if any: established at up_ts, ended at its last packet (closed) or that
 * plus the timeout (idled out), updated at its last packet. */
static void session_event(struct stream *s, enum st_rec type, uint64_t now,
                          const struct sess_view *v, struct ev *e)
{
    e->ev = transition(s, v->h, v->established, v->closed, v->last_ts, v->timeout, now, v->fp);
    if (!e->ev)
        return;
    e->ts = e->ev == ST_UP                    ? v->up_ts
            : e->ev == ST_UPDATE || v->closed ? v->last_ts
                                              : v->last_ts + (uint64_t)v->timeout * 1000000u;
    e->timeout = v->timeout;
    emit(s, type, e);
}

static void ev_finding(struct stream *s, const struct finding *f, bool update)
{
    char t[40];
    if (!s->json) {
        fprintf(s->out, "%s %-11s finding %s %s (%s): %s\n", ts_iso(f->ts_us, t, sizeof(t)),
                update ? "update" : "raised", severity_name(f->sev), finding_kind_name(f->kind),
                f->confirmed ? "confirmed" : "suspected", f->summary);
        fflush(s->out);
        return;
    }
    struct jw w;
    jw_begin_record(&w, s->out, "finding");
    if (update)
        jw_str(&w, "event", "update");
    rep_json_finding(&w, f, NULL);
    jw_end_record(&w);
    fflush(s->out);
}

/* A finding's identity: kind and the sessions it names (not its text, which grows with the
 * evidence). */
static uint64_t finding_hash(const struct finding *f)
{
    uint8_t b[1 + FINDING_MAX_SESSIONS * 32];
    memset(b, 0, sizeof(b));
    b[0] = f->kind;
    size_t off = 1;
    for (unsigned i = 0; i < f->n_sessions && i < FINDING_MAX_SESSIONS; i++) {
        const struct finding_session *x = &f->sessions[i];
        b[off] = x->role;
        memcpy(b + off + 1, &x->ip, sizeof(x->ip));
        if (x->has_port)
            memcpy(b + off + 18, &x->port, 2);
        if (x->has_spi)
            memcpy(b + off + 20, &x->spi, 4);
        if (x->has_call_id)
            memcpy(b + off + 24, &x->call_id, 2);
        off += 32;
    }
    return hash_bytes(b, off);
}

/* Findings: in time order, each once (the final scan: again as an update when its severity or
 * confidence changed since it was streamed). */
static void scan_findings(struct stream *s, const struct finding_list *fl)
{
    struct finding_list tmp = *fl;
    size_t *idx = malloc((tmp.n ? tmp.n : 1) * sizeof(*idx));
    bool *upd = malloc((tmp.n ? tmp.n : 1) * sizeof(*upd));
    if (!idx || !upd) {
        free(idx);
        free(upd);
        return;
    }
    size_t n = 0;
    for (size_t i = 0; i < tmp.n; i++) {
        uint64_t h = finding_hash(&tmp.v[i]);
        uint64_t fp = (uint64_t)tmp.v[i].sev << 1 | (tmp.v[i].confirmed ? 1u : 0u);
        uint64_t *seen = table_get(s->found, &h, false);
        if (seen) {
            if (!s->final || *seen == fp)
                continue;
            *seen = fp;
            upd[i] = true;
        } else {
            bool created = false;
            seen = table_put(s->found, &h, &created);
            if (seen)
                *seen = fp;
            upd[i] = false;
        }
        idx[n++] = i;
    }
    /* insertion sort by ts (few new findings per scan) */
    for (size_t i = 1; i < n; i++) {
        size_t v = idx[i], j = i;
        while (j > 0 && tmp.v[idx[j - 1]].ts_us > tmp.v[v].ts_us) {
            idx[j] = idx[j - 1];
            j--;
        }
        idx[j] = v;
    }
    for (size_t i = 0; i < n; i++)
        ev_finding(s, &tmp.v[idx[i]], upd[idx[i]]);
    free(idx);
    free(upd);
}

static void scan_ike(struct stream *s, uint64_t now, struct ev *e)
{
    const struct session_model *m = e->m;
    for (uint32_t i = 0; i < table_slots(m->ike); i++) {
        const struct ike_sa *sa = table_slot(m->ike, i, NULL);
        if (!sa)
            continue;
        struct ike_sa_key k;
        memset(&k, 0, sizeof(k));
        k.ispi = sa->ispi;
        k.version = sa->version;
        struct sess_view v = {
            .h = key_hash(1, e->side, &k, sizeof(k)),
            .established = sa->rspi != 0 || sa->pkts_from_resp > 0,
            .up_ts = sa->last_ts,
            .last_ts = sa->last_ts,
            .timeout = report_timeout_ike(&s->to, sa),
            .fp = fingerprint(sa->packets, sa->last_ts, sa->rspi),
        };
        e->rec = sa;
        session_event(s, SR_IKE, now, &v, e);
    }
}

static void scan_ipsec(struct stream *s, uint64_t now, struct ev *e)
{
    const struct session_model *m = e->m;
    for (uint32_t i = 0; i < table_slots(m->ipsec); i++) {
        const void *kp;
        const struct ipsec_sa *sa = table_slot(m->ipsec, i, &kp);
        if (!sa)
            continue;
        struct sess_view v = {
            .h = key_hash(2, e->side, kp, sizeof(struct ipsec_sa_key)),
            .established = sa->packets > 0,
            .up_ts = sa->first_ts,
            .last_ts = sa->last_ts,
            .timeout = report_timeout_ipsec(&s->to, sa),
            .fp = fingerprint(sa->packets, sa->last_ts, sa->seq_gaps),
        };
        e->rec = sa;
        session_event(s, sa->k.proto == IPP_AH ? SR_AH : SR_ESP, now, &v, e);
    }
}

static void scan_pptp(struct stream *s, uint64_t now, struct ev *e)
{
    const struct session_model *m = e->m;
    for (uint32_t i = 0; i < table_slots(m->pptp); i++) {
        const void *kp;
        const struct pptp_ctrl *c = table_slot(m->pptp, i, &kp);
        if (!c)
            continue;
        for (unsigned j = 0; j < c->n_calls && j < PPTP_CALLS_PER_CTRL; j++) {
            const struct pptp_call *call = &c->calls[j];
            uint8_t key[sizeof(struct pptp_ctrl_key) + 2];
            memcpy(key, kp, sizeof(struct pptp_ctrl_key));
            memcpy(key + sizeof(struct pptp_ctrl_key), &call->call_id, 2);
            uint64_t last = call->last_ts > c->last_ts ? call->last_ts : c->last_ts;
            struct sess_view v = {
                .h = key_hash(3, e->side, key, sizeof(key)),
                .established = call->has_peer,
                .closed = call->state == PPTP_CALL_DISCONNECTED ||
                          call->state == PPTP_CALL_REJECTED || call->state == PPTP_CALL_CLEAR_REQ,
                .up_ts = last,
                .last_ts = last,
                .timeout = s->to.gre,
                .fp = fingerprint(last, call->state, 0),
            };
            e->rec = c;
            e->sub = call;
            session_event(s, SR_PPTP, now, &v, e);
        }
    }
}

/* WireGuard sessions (index pairs): established once the responder answered (the session
 * exists from the handshake response on); they end idle past the UDP stream timeout. */
static void scan_wg(struct stream *s, uint64_t now, struct ev *e)
{
    const struct tunnel_model *tm = e->m->tun;
    for (uint32_t i = 0; tm && i < table_slots(tm->wg); i++) {
        const void *kp;
        const struct wg_session *ws = table_slot(tm->wg, i, &kp);
        if (!ws)
            continue;
        struct sess_view v = {
            .h = key_hash(5, e->side, kp, sizeof(struct wg_key)),
            .established = true,
            .up_ts = ws->first_ts,
            .last_ts = ws->last_ts,
            .timeout = report_timeout_proto(&s->to, IPP_UDP, true),
            .fp = fingerprint(ws->to_responder + ws->to_initiator, ws->last_ts, ws->handshakes),
        };
        e->rec = ws;
        session_event(s, SR_WG, now, &v, e);
    }
}

/* OpenVPN sessions (the client's session id): established once the server answered with its
 * own session id (the event carries the session's start, the client's first packet); they end
 * idle past the NAT timeout of their transport. */
static void scan_ovpn(struct stream *s, uint64_t now, struct ev *e)
{
    const struct tunnel_model *tm = e->m->tun;
    for (uint32_t i = 0; tm && i < table_slots(tm->ovpn); i++) {
        const void *kp;
        const struct ovpn_session *os = table_slot(tm->ovpn, i, &kp);
        if (!os)
            continue;
        struct sess_view v = {
            .h = key_hash(6, e->side, kp, sizeof(struct ovpn_key)),
            .established = os->has_server_sid,
            .up_ts = os->first_ts,
            .last_ts = os->last_ts,
            .timeout = report_timeout_proto(&s->to, os->proto, os->to_client > 0),
            .fp = fingerprint(os->to_server + os->to_client, os->last_ts, os->server_sid),
        };
        e->rec = os;
        session_event(s, SR_OVPN, now, &v, e);
    }
}

static void scan_nat(struct stream *s, uint64_t now, const struct nat_result *nr)
{
    for (size_t i = 0; i < nr->n_map; i++) {
        const struct nat_mapping *mp = &nr->map[i];
        uint8_t key[sizeof(struct nat_id) * 3];
        memcpy(key, &mp->inside, sizeof(struct nat_id));
        memcpy(key + sizeof(struct nat_id), &mp->outside, sizeof(struct nat_id));
        memcpy(key + 2 * sizeof(struct nat_id), &mp->peer, sizeof(struct nat_id));
        struct sess_view v = {
            .h = key_hash(4, mp->proto, key, sizeof(key)),
            .established = true,
            .up_ts = mp->first_ts,
            .last_ts = mp->last_ts,
            .timeout = report_timeout_proto(&s->to, mp->proto, mp->from_peer_outside > 0),
            .fp = fingerprint(mp->last_ts, mp->to_peer_inside + mp->to_peer_outside,
                              mp->from_peer_outside + mp->from_peer_inside),
        };
        struct ev e = {.rec = mp};
        session_event(s, SR_NAT, now, &v, &e);
    }
}

void stream_scan(struct stream *s, const struct pipeline_snapshot *f)
{
    uint64_t now = f->now_us;
    for (int mi = 0; mi < f->n; mi++) {
        struct ev e = {.m = f->models[mi], .side = f->two ? (uint8_t)(mi + 1) : SIDE_SINGLE};
        scan_ike(s, now, &e);
        scan_ipsec(s, now, &e);
        scan_pptp(s, now, &e);
        scan_wg(s, now, &e);
        scan_ovpn(s, now, &e);
    }
    if (f->two)
        scan_nat(s, now, f->nat);
    scan_findings(s, f->findings);
}

void stream_final(struct stream *s, const struct pipeline_snapshot *snap)
{
    s->final = true;
    stream_scan(s, snap);
}

bool report_flow_listed(const struct session_model *m, const struct flow *f, bool all_flows)
{
    return rep_flow_listed(m, f, all_flows);
}
