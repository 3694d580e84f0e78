/* json_sessions.c - the session records of the JSON report (doc/json-schema.md): ike_sa, esp_sa and
 * ah_sa, pptp_call and pptp_ctrl, gre, l2tp and flow; the ike, ipsec and pptp fields are the
 * stream's too (stream.c). */
#include <string.h>

#include "json_int.h"
#include "jsonw.h"
#include "report_int.h"

/* NAT-D results and the exchanges of an IKE SA (report records only). */
static void ike_exchanges(struct jw *w, const struct ike_sa *sa)
{
    if (sa->natd.present) {
        jw_obj(w, "natd");
        jw_tristate(w, "nat_initiator", sa->natd.nat_initiator);
        jw_tristate(w, "nat_responder", sa->natd.nat_responder);
        jw_tristate(w, "forced_encap", sa->natd.forced_encap);
        jw_obj_end(w);
    }
    /* exchanges in first-seen slot order; equal names (e.g. two "unknown") merged */
    const char *names[IKE_EXCH_SLOTS];
    uint64_t counts[IKE_EXCH_SLOTS];
    unsigned n = 0;
    unsigned nslots = sa->n_exch < IKE_EXCH_SLOTS ? sa->n_exch : IKE_EXCH_SLOTS;
    for (unsigned s = 0; s < nslots; s++) {
        const char *nm = session_exch_name(sa, s);
        unsigned k = 0;
        while (k < n && strcmp(names[k], nm) != 0)
            k++;
        if (k == n) {
            names[n] = nm;
            counts[n++] = 0;
        }
        counts[k] += sa->exch_count[s];
    }
    jw_obj(w, "exchanges");
    for (unsigned k = 0; k < n; k++)
        jw_u64(w, names[k], counts[k]);
    jw_obj_end(w);
}

void rep_json_ike_fields(struct jw *w, const struct ike_sa *sa, bool full)
{
    jw_u64(w, "version", sa->version);
    jw_endpoint(w, "initiator", &sa->initiator);
    jw_endpoint(w, "responder", &sa->responder);
    jw_ike_spi(w, "ispi", sa->ispi);
    jw_ike_spi(w, "rspi", sa->rspi);
    jw_bool(w, "nat_t", sa->nat_t);
    if (full)
        ike_exchanges(w, sa);
    jw_u64(w, "retransmissions", sa->retransmissions);
    jw_u64(w, "packets", sa->packets);
    jw_ts(w, "first_ts", sa->first_ts);
    jw_ts(w, "last_ts", sa->last_ts);
    if (!full)
        return;
    /* extensions */
    if (sa->natt_initiator.port)
        jw_endpoint(w, "natt_initiator", &sa->natt_initiator);
    if (sa->natt_responder.port)
        jw_endpoint(w, "natt_responder", &sa->natt_responder);
    jw_bool(w, "frag_supported", sa->frag_supported);
    jw_u64(w, "ip_fragmented_msgs", sa->ip_fragmented_msgs);
    jw_u64(w, "skf_frags", sa->skf_frags);
}

void rep_json_ike(struct jw *w, const struct session_model *m, const struct ike_sa *sa)
{
    jw_str(w, "capture", side_name(m->side));
    rep_json_ike_fields(w, sa, true);
}

void rep_json_ipsec_fields(struct jw *w, const struct session_model *m, const struct ipsec_sa *sa,
                           bool full)
{
    bool ah = sa->k.proto == IPP_AH;
    jw_ip(w, "src", &sa->k.src);
    jw_ip(w, "dst", &sa->k.dst);
    jw_ipsec_spi(w, "spi", sa->k.spi);
    if (!ah)
        jw_str(w, "encap", sa->k.encap ? "udp" : "raw");
    if (sa->k.encap) {
        jw_u64(w, "sport", sa->k.sport);
        jw_u64(w, "dport", sa->k.dport);
    }
    jw_u64(w, "packets", sa->packets);
    jw_u64(w, "bytes", sa->bytes);
    jw_u64(w, "first_seq", sa->first_seq);
    jw_u64(w, "last_seq", sa->last_seq);
    jw_u64(w, "seq_gaps", sa->seq_gaps);
    jw_ts(w, "first_ts", sa->first_ts);
    jw_ts(w, "last_ts", sa->last_ts);
    const struct ike_sa *ike = session_ike_for_ipsec(m, sa);
    if (ike) {
        jw_obj(w, "ike_sa");
        jw_ike_spi(w, "ispi", ike->ispi);
        jw_ike_spi(w, "rspi", ike->rspi);
        jw_obj_end(w);
    } else {
        jw_null(w, "ike_sa");
    }
    if (!full)
        return;
    /* extensions */
    jw_u64(w, "replays", sa->replays);
    jw_u64(w, "restarts", sa->restarts);
    jw_bool(w, "paired", sa->paired);
    if (ah) {
        jw_u64(w, "icv_len", sa->ah_icv_len);
        jw_u64(w, "next_header", sa->ah_next_header);
    }
}

void rep_json_ipsec(struct jw *w, const struct session_model *m, const struct ipsec_sa *sa)
{
    jw_str(w, "capture", side_name(m->side));
    rep_json_ipsec_fields(w, m, sa, true);
}

void rep_json_pptp_call_fields(struct jw *w, const struct session_model *m,
                               const struct pptp_ctrl *c, const struct pptp_call *call, bool full)
{
    uint64_t to_server = 0, to_client = 0;
    session_pptp_call_gre(m, c, call, &to_server, &to_client);
    jw_endpoint(w, "client", &c->client);
    jw_endpoint(w, "server", &c->server);
    jw_u64(w, "call_id", call->call_id);
    if (call->has_peer)
        jw_u64(w, "peer_call_id", call->peer_call_id);
    else
        jw_null(w, "peer_call_id");
    jw_str(w, "state", pptp_call_state_name(call->state));
    jw_u64(w, "gre_to_server", to_server);
    jw_u64(w, "gre_to_client", to_client);
    jw_ts(w, "first_ts", call->first_ts);
    jw_ts(w, "last_ts", call->last_ts);
    if (!full)
        return;
    /* extensions */
    jw_str(w, "hostname", c->hostname);
    jw_str(w, "vendor", c->vendor);
}

void rep_json_pptp_call(struct jw *w, const struct session_model *m, const struct pptp_ctrl *c,
                        unsigned k)
{
    jw_str(w, "capture", side_name(m->side));
    rep_json_pptp_call_fields(w, m, c, &c->calls[k], true);
}

void rep_json_pptp_ctrl(struct jw *w, const struct session_model *m, const struct pptp_ctrl *c)
{
    jw_str(w, "capture", side_name(m->side));
    jw_endpoint(w, "client", &c->client);
    jw_endpoint(w, "server", &c->server);
    jw_str(w, "state", rep_pptp_sess_state_name(c->state));
    jw_u64(w, "messages", c->msgs);
    jw_ts(w, "first_ts", c->first_ts);
    jw_ts(w, "last_ts", c->last_ts);
    jw_str(w, "hostname", c->hostname);
    jw_str(w, "vendor", c->vendor);
}

void rep_json_gre(struct jw *w, const struct session_model *m, const struct gre_flow *g)
{
    jw_str(w, "capture", side_name(m->side));
    jw_ip(w, "src", &g->k.src);
    jw_ip(w, "dst", &g->k.dst);
    jw_u64(w, "version", g->k.version);
    if (g->k.version == 1)
        jw_u64(w, "call_id", g->k.key);
    else if (g->k.has_key)
        jw_u64(w, "key", g->k.key);
    else
        jw_null(w, "key");
    jw_u64(w, "packets", g->packets);
    /* extensions */
    jw_u64(w, "bytes", g->bytes);
    jw_ts(w, "first_ts", g->first_ts);
    jw_ts(w, "last_ts", g->last_ts);
}

void rep_json_l2tp(struct jw *w, const struct session_model *m, const struct l2tp_sess *s)
{
    jw_str(w, "capture", side_name(m->side));
    jw_ip(w, "src", &s->k.src);
    jw_ip(w, "dst", &s->k.dst);
    jw_u64(w, "sport", s->k.sport);
    jw_u64(w, "dport", s->k.dport);
    jw_u64(w, "tunnel_id", s->k.tunnel_id);
    jw_u64(w, "session_id", s->k.session_id);
    jw_u64(w, "packets", s->packets);
    /* extensions */
    jw_u64(w, "version", s->version);
    jw_u64(w, "control", s->control);
    jw_u64(w, "bytes", s->bytes);
    jw_ts(w, "first_ts", s->first_ts);
    jw_ts(w, "last_ts", s->last_ts);
}

void rep_json_flow(struct jw *w, const struct session_model *m, const struct flow *f)
{
    jw_str(w, "capture", side_name(m->side));
    jw_u64(w, "proto", f->proto);
    struct endpoint s = flow_end(m, f, 0), d = flow_end(m, f, 1);
    jw_ip(w, "src", &s.ip);
    jw_ip(w, "dst", &d.ip);
    jw_u64(w, "sport", s.port);
    jw_u64(w, "dport", d.port);
    jw_str(w, "app", rep_flow_app(f));
    jw_u64(w, "packets", rep_add(f->pkts[0], f->pkts[1]));
    jw_u64(w, "bytes", rep_add(f->bytes[0], f->bytes[1]));
    /* extensions */
    jw_ts(w, "first_ts", f->first_ts);
    jw_ts(w, "last_ts", f->last_ts);
}
