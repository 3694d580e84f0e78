/* stream.c - the live streaming report (stdout not a terminal, or --json): one record per line,
 * flushed, for each session (IKE SA, ESP/AH SA, PPTP call, NAT mapping) when it is established
 * and when it ends or expires (idle past its NAT timeout, on packet time), and for each finding
 * the first time the detectors raise it (deduplicated by kind and sessions). JSON records carry
 * the fields of their type (doc/json-schema.md) plus "event" ("established" | "ended") and "ts";
 * findings are the report's finding records. At the end (stream_final) a session whose record
 * changed since it was streamed, or that never was, gets an "update" record with its final state;
 * then only the summary follows (stream_run.c): nothing streamed is repeated. */
#include "vpnscope/pipeline.h"
#include "vpnscope/proto.h"
#include "vpnscope/report.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "vpnscope/report.h"
#include "vpnscope/table.h"

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

static void text_prefix(struct stream *s, uint64_t ts, const char *what, int ev, uint8_t side)
{
    char b[40];
    fprintf(s->out, "%s %-11s %s %s", ts_iso(ts, b, sizeof(b)), ev_name(ev), what, side_name(side));
}

static void ev_ike(struct stream *s, int ev, uint8_t side, const struct ike_sa *sa, uint64_t ts,
                   uint32_t to)
{
    char a[64], b[64];
    if (!s->json) {
        text_prefix(s, ts, "ike_sa", ev, side);
        const struct endpoint *i =
            sa->nat_t && sa->natt_initiator.port ? &sa->natt_initiator : &sa->initiator;
        const struct endpoint *r =
            sa->nat_t && sa->natt_responder.port ? &sa->natt_responder : &sa->responder;
        fprintf(s->out, " v%u %s:%u -> %s:%u ispi %016" PRIx64 " rspi %016" PRIx64 "%s",
                sa->version, ip_addr_str(&i->ip, a, sizeof(a)), i->port,
                ip_addr_str(&r->ip, b, sizeof(b)), r->port, sa->ispi, sa->rspi,
                sa->nat_t ? " nat-t" : "");
        if (ev == ST_ENDED)
            fprintf(s->out, " (idle past the %u s NAT timeout)", to);
        fputc('\n', s->out);
        fflush(s->out);
        return;
    }
    struct jw w;
    jw_begin_record(&w, s->out, "ike_sa");
    jw_str(&w, "event", ev_name(ev));
    jw_ts(&w, "ts", ts);
    jw_str(&w, "capture", side_name(side));
    jw_u64(&w, "version", sa->version);
    jw_endpoint(&w, "initiator", &sa->initiator);
    jw_endpoint(&w, "responder", &sa->responder);
    jw_ike_spi(&w, "ispi", sa->ispi);
    jw_ike_spi(&w, "rspi", sa->rspi);
    jw_bool(&w, "nat_t", sa->nat_t);
    jw_u64(&w, "retransmissions", sa->retransmissions);
    jw_u64(&w, "packets", sa->packets);
    jw_ts(&w, "first_ts", sa->first_ts);
    jw_ts(&w, "last_ts", sa->last_ts);
    if (ev == ST_ENDED)
        jw_u64(&w, "timeout", to);
    jw_end_record(&w);
    fflush(s->out);
}

static void ev_ipsec(struct stream *s, int ev, uint8_t side, const struct session_model *m,
                     const struct ipsec_sa *sa, uint64_t ts, uint32_t to)
{
    bool ah = sa->k.proto == IPP_AH;
    char a[64], b[64];
    if (!s->json) {
        text_prefix(s, ts, ah ? "ah_sa" : "esp_sa", ev, side);
        fprintf(s->out, " %s -> %s spi 0x%08x %s", ip_addr_str(&sa->k.src, a, sizeof(a)),
                ip_addr_str(&sa->k.dst, b, sizeof(b)), sa->k.spi, sa->k.encap ? "udp" : "raw");
        if (sa->k.encap)
            fprintf(s->out, " %u -> %u", sa->k.sport, sa->k.dport);
        fprintf(s->out, " packets %" PRIu64, sa->packets);
        if (ev == ST_ENDED)
            fprintf(s->out, " (idle past the %u s NAT timeout)", to);
        fputc('\n', s->out);
        fflush(s->out);
        return;
    }
    struct jw w;
    jw_begin_record(&w, s->out, ah ? "ah_sa" : "esp_sa");
    jw_str(&w, "event", ev_name(ev));
    jw_ts(&w, "ts", ts);
    jw_str(&w, "capture", side_name(side));
    jw_ip(&w, "src", &sa->k.src);
    jw_ip(&w, "dst", &sa->k.dst);
    jw_ipsec_spi(&w, "spi", sa->k.spi);
    if (!ah)
        jw_str(&w, "encap", sa->k.encap ? "udp" : "raw");
    if (sa->k.encap) {
        jw_u64(&w, "sport", sa->k.sport);
        jw_u64(&w, "dport", sa->k.dport);
    }
    jw_u64(&w, "packets", sa->packets);
    jw_u64(&w, "bytes", sa->bytes);
    jw_u64(&w, "first_seq", sa->first_seq);
    jw_u64(&w, "last_seq", sa->last_seq);
    jw_u64(&w, "seq_gaps", sa->seq_gaps);
    jw_ts(&w, "first_ts", sa->first_ts);
    jw_ts(&w, "last_ts", sa->last_ts);
    const struct ike_sa *ike = session_ike_for_ipsec(m, sa);
    if (ike) {
        jw_obj(&w, "ike_sa");
        jw_ike_spi(&w, "ispi", ike->ispi);
        jw_ike_spi(&w, "rspi", ike->rspi);
        jw_obj_end(&w);
    } else {
        jw_null(&w, "ike_sa");
    }
    if (ev == ST_ENDED)
        jw_u64(&w, "timeout", to);
    jw_end_record(&w);
    fflush(s->out);
}

static void ev_pptp(struct stream *s, int ev, uint8_t side, const struct session_model *m,
                    const struct pptp_ctrl *c, const struct pptp_call *call, uint64_t ts)
{
    uint64_t ts_srv = 0, ts_cli = 0;
    session_pptp_call_gre(m, c, call, &ts_srv, &ts_cli);
    char a[64], b[64];
    if (!s->json) {
        text_prefix(s, ts, "pptp_call", ev, side);
        fprintf(s->out, " %s:%u -> %s:%u call_id %u peer_call_id ",
                ip_addr_str(&c->client.ip, a, sizeof(a)), c->client.port,
                ip_addr_str(&c->server.ip, b, sizeof(b)), c->server.port, call->call_id);
        if (call->has_peer)
            fprintf(s->out, "%u", call->peer_call_id);
        else
            fputs("-", s->out);
        fprintf(s->out, " state %s gre %" PRIu64 "/%" PRIu64 "\n",
                pptp_call_state_name(call->state), ts_srv, ts_cli);
        fflush(s->out);
        return;
    }
    struct jw w;
    jw_begin_record(&w, s->out, "pptp_call");
    jw_str(&w, "event", ev_name(ev));
    jw_ts(&w, "ts", ts);
    jw_str(&w, "capture", side_name(side));
    jw_endpoint(&w, "client", &c->client);
    jw_endpoint(&w, "server", &c->server);
    jw_u64(&w, "call_id", call->call_id);
    if (call->has_peer)
        jw_u64(&w, "peer_call_id", call->peer_call_id);
    else
        jw_null(&w, "peer_call_id");
    jw_str(&w, "state", pptp_call_state_name(call->state));
    jw_u64(&w, "gre_to_server", ts_srv);
    jw_u64(&w, "gre_to_client", ts_cli);
    jw_ts(&w, "first_ts", call->first_ts);
    jw_ts(&w, "last_ts", call->last_ts);
    jw_end_record(&w);
    fflush(s->out);
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

static void ev_nat(struct stream *s, int ev, const struct nat_mapping *mp, uint64_t ts, uint32_t to)
{
    char pb[8];
    if (!s->json) {
        char a[96], b[96], c[96], t[40];
        nat_id_text(mp->proto, &mp->inside, a, sizeof(a));
        nat_id_text(mp->proto, &mp->outside, b, sizeof(b));
        nat_id_text(mp->proto, &mp->peer, c, sizeof(c));
        fprintf(s->out, "%s %-11s nat_mapping %s %s => %s -> %s%s", ts_iso(ts, t, sizeof(t)),
                ev_name(ev), rep_proto_name(mp->proto, pb, sizeof(pb)), a, b, c,
                mp->translated ? "" : " (not translated)");
        if (ev == ST_ENDED)
            fprintf(s->out, " (idle past the %u s NAT timeout)", to);
        fputc('\n', s->out);
        fflush(s->out);
        return;
    }
    struct jw w;
    jw_begin_record(&w, s->out, "nat_mapping");
    jw_str(&w, "event", ev_name(ev));
    jw_ts(&w, "ts", ts);
    jw_str(&w, "proto", rep_proto_name(mp->proto, pb, sizeof(pb)));
    jw_nat_id(&w, "inside", mp->proto, &mp->inside);
    jw_nat_id(&w, "outside", mp->proto, &mp->outside);
    jw_nat_id(&w, "peer", mp->proto, &mp->peer);
    jw_bool(&w, "translated", mp->translated);
    jw_arr(&w, "evidence");
    for (unsigned b = 0; b < 32; b++)
        if (mp->evidence & (1u << b))
            jw_str(&w, NULL, nat_evidence_name(1u << b));
    jw_arr_end(&w);
    jw_obj(&w, "to_peer");
    jw_u64(&w, "inside", mp->to_peer_inside);
    jw_u64(&w, "outside", mp->to_peer_outside);
    jw_obj_end(&w);
    jw_obj(&w, "from_peer");
    jw_u64(&w, "outside", mp->from_peer_outside);
    jw_u64(&w, "inside", mp->from_peer_inside);
    jw_obj_end(&w);
    jw_ts(&w, "first_ts", mp->first_ts);
    jw_ts(&w, "last_ts", mp->last_ts);
    if (ev == ST_ENDED)
        jw_u64(&w, "timeout", to);
    jw_end_record(&w);
    fflush(s->out);
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

void stream_scan(struct stream *s, const struct pipeline_snapshot *f)
{
    uint64_t now = f->now_us;
    for (int mi = 0; mi < f->n; mi++) {
        const struct session_model *m = f->models[mi];
        uint8_t side = f->two ? (uint8_t)(mi + 1) : SIDE_SINGLE;
        for (uint32_t i = 0; i < table_slots(m->ike); i++) {
            const struct ike_sa *sa = table_slot(m->ike, i, NULL);
            if (!sa)
                continue;
            struct ike_sa_key k;
            memset(&k, 0, sizeof(k));
            k.ispi = sa->ispi;
            k.version = sa->version;
            uint32_t to = report_timeout_ike(&s->to, sa);
            int ev = transition(s, key_hash(1, side, &k, sizeof(k)),
                                sa->rspi != 0 || sa->pkts_from_resp > 0, false, sa->last_ts, to,
                                now, fingerprint(sa->packets, sa->last_ts, sa->rspi));
            if (ev)
                ev_ike(s, ev, side, sa,
                       ev != ST_ENDED ? sa->last_ts : sa->last_ts + (uint64_t)to * 1000000u, to);
        }
        for (uint32_t i = 0; i < table_slots(m->ipsec); i++) {
            const void *kp;
            const struct ipsec_sa *sa = table_slot(m->ipsec, i, &kp);
            if (!sa)
                continue;
            uint32_t to = report_timeout_ipsec(&s->to, sa);
            int ev = transition(s, key_hash(2, side, kp, sizeof(struct ipsec_sa_key)),
                                sa->packets > 0, false, sa->last_ts, to, now,
                                fingerprint(sa->packets, sa->last_ts, sa->seq_gaps));
            if (ev)
                ev_ipsec(s, ev, side, m, sa,
                         ev == ST_UP       ? sa->first_ts
                         : ev == ST_UPDATE ? sa->last_ts
                                           : sa->last_ts + (uint64_t)to * 1000000u,
                         to);
        }
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
                bool closed = call->state == PPTP_CALL_DISCONNECTED ||
                              call->state == PPTP_CALL_REJECTED ||
                              call->state == PPTP_CALL_CLEAR_REQ;
                uint64_t last = call->last_ts > c->last_ts ? call->last_ts : c->last_ts;
                int ev = transition(s, key_hash(3, side, key, sizeof(key)), call->has_peer, closed,
                                    last, s->to.gre, now, fingerprint(last, call->state, 0));
                if (ev)
                    ev_pptp(s, ev, side, m, c, call,
                            ev != ST_ENDED || closed ? last
                                                     : last + (uint64_t)s->to.gre * 1000000u);
            }
        }
    }
    if (f->two) {
        for (size_t i = 0; i < f->nat->n_map; i++) {
            const struct nat_mapping *mp = &f->nat->map[i];
            uint8_t key[sizeof(struct nat_id) * 3];
            memcpy(key, &mp->inside, sizeof(struct nat_id));
            memcpy(key + sizeof(struct nat_id), &mp->outside, sizeof(struct nat_id));
            memcpy(key + 2 * sizeof(struct nat_id), &mp->peer, sizeof(struct nat_id));
            uint32_t to = report_timeout_proto(&s->to, mp->proto, mp->from_peer_outside > 0);
            uint64_t fp = fingerprint(mp->last_ts, mp->to_peer_inside + mp->to_peer_outside,
                                      mp->from_peer_outside + mp->from_peer_inside);
            int ev = transition(s, key_hash(4, mp->proto, key, sizeof(key)), true, false,
                                mp->last_ts, to, now, fp);
            if (ev)
                ev_nat(s, ev, mp,
                       ev == ST_UP       ? mp->first_ts
                       : ev == ST_UPDATE ? mp->last_ts
                                         : mp->last_ts + (uint64_t)to * 1000000u,
                       to);
        }
    }
    scan_findings(s, f->findings);
}

void stream_final(struct stream *s, const struct pipeline_snapshot *snap)
{
    s->final = true;
    stream_scan(s, snap);
}

bool report_flow_listed(const struct flow *f, bool all_flows)
{
    return rep_flow_listed(f, all_flows);
}
