/* json_tunnels.c - the wg_session and ovpn_session records (doc/json-schema.md) and their place
 * in the record list. */
#include <stdio.h>

#include "json_int.h"
#include "jsonw.h"
#include "report_int.h"
#include "vpnscope/proto.h"
#include "vpnscope/session_tunnel.h"
#include "vpnscope/table.h"
#include "vpnscope/tunnel.h"

static void jw_keepalive(struct jw *w, const char *key, const struct activity *a)
{
    uint64_t us = activity_keepalive_us(a);
    if (us)
        jw_f6(w, key, (double)us / 1e6);
    else
        jw_null(w, key);
}

static void jw_changes(struct jw *w, const struct tun_change *v, uint8_t n,
                       const char *const who[2])
{
    jw_arr(w, "endpoint_changes");
    for (unsigned i = 0; i < n && i < TUN_MAX_CHANGES; i++) {
        jw_obj(w, NULL);
        jw_str(w, "peer", who[v[i].who & 1]);
        jw_endpoint(w, "from", &v[i].from);
        jw_endpoint(w, "to", &v[i].to);
        jw_ts(w, "ts", v[i].ts);
        jw_u64(w, "frame", v[i].frame);
        jw_obj_end(w);
    }
    jw_arr_end(w);
}

void rep_json_wg_fields(struct jw *w, const struct wg_session *s, bool ext)
{
    static const char *const who[2] = {"initiator", "responder"};
    char idx[WG_INDEX_STR_LEN];
    jw_endpoint(w, "initiator", &s->initiator);
    jw_endpoint(w, "responder", &s->responder);
    jw_str(w, "initiator_index", wg_index_str(s->i_idx, idx, sizeof(idx)));
    jw_str(w, "responder_index", wg_index_str(s->r_idx, idx, sizeof(idx)));
    jw_u64(w, "handshakes", s->handshakes);
    jw_u64(w, "keepalives", s->keepalives);
    jw_keepalive(w, "keepalive_interval_s", &s->act);
    jw_obj(w, "packets");
    jw_u64(w, "to_responder", s->to_responder);
    jw_u64(w, "to_initiator", s->to_initiator);
    jw_obj_end(w);
    jw_changes(w, s->changes, s->n_changes, who);
    jw_ts(w, "first_ts", s->first_ts);
    jw_ts(w, "last_ts", s->last_ts);
    if (!ext)
        return;
    /* extensions */
    jw_u64(w, "endpoint_changes_total", s->changes_total);
}

void rep_json_wg(struct jw *w, const struct session_model *m, const struct wg_session *s)
{
    jw_str(w, "capture", side_name(m->side));
    rep_json_wg_fields(w, s, true);
}

void rep_json_ovpn_fields(struct jw *w, const struct ovpn_session *s, bool ext)
{
    static const char *const who[2] = {"client", "server"};
    char sid[OVPN_SID_STR_LEN];
    jw_str(w, "transport", s->proto == IPP_TCP ? "tcp" : "udp");
    jw_endpoint(w, "client", &s->client);
    jw_endpoint(w, "server", &s->server);
    jw_str(w, "session_id", ovpn_sid_str(s->client_sid, sid, sizeof(sid)));
    if (s->has_server_sid)
        jw_str(w, "peer_session_id", ovpn_sid_str(s->server_sid, sid, sizeof(sid)));
    else
        jw_null(w, "peer_session_id");
    if (s->has_peer_id)
        jw_u64(w, "peer_id", s->peer_id);
    else
        jw_null(w, "peer_id");
    jw_arr(w, "key_ids");
    for (unsigned k = 0; k < 8; k++)
        if (s->key_ids & (1u << k))
            jw_u64(w, NULL, k);
    jw_arr_end(w);
    jw_u64(w, "hard_resets", s->hard_resets);
    jw_obj(w, "packets");
    jw_u64(w, "to_server", s->to_server);
    jw_u64(w, "to_client", s->to_client);
    jw_obj_end(w);
    jw_ts(w, "first_ts", s->first_ts);
    jw_ts(w, "last_ts", s->last_ts);
    if (!ext)
        return;
    /* extensions */
    jw_u64(w, "soft_resets", s->soft_resets);
    jw_u64(w, "pings", s->pings);
    jw_keepalive(w, "ping_interval_s", &s->act);
    jw_changes(w, s->changes, s->n_changes, who);
}

void rep_json_ovpn(struct jw *w, const struct session_model *m, const struct ovpn_session *s)
{
    jw_str(w, "capture", side_name(m->side));
    rep_json_ovpn_fields(w, s, true);
}

void rep_tunnel_key(const struct rep_rec *r, const char *side, char *key, size_t size)
{
    if (r->type == REC_WG_SESSION) {
        const struct wg_session *s = r->p;
        snprintf(key, size, "%s|%08x|%08x", side, (unsigned)s->i_idx, (unsigned)s->r_idx);
    } else {
        const struct ovpn_session *s = r->p;
        snprintf(key, size, "%s|%016llx", side, (unsigned long long)s->client_sid);
    }
}
