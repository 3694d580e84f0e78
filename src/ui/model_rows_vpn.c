/* model_rows_vpn.c - the dashboard rows of WireGuard sessions (index pair, handshakes, endpoint
 * changes) and OpenVPN sessions (session ids, peer-id, hard resets), copied out of the tunnel
 * model (session_tunnel.h). */
#include "model_int.h"

#include <stdio.h>
#include <string.h>

#include "vpnscope/proto.h"
#include "vpnscope/session_tunnel.h"
#include "vpnscope/table.h"
#include "vpnscope/tunnel.h"

/* WireGuard sessions (index pair) and OpenVPN sessions (session ids) of model mi. */
void ui_rows_vpn(struct builder *b, uint8_t mi)
{
    const struct session_model *m = b->f->models[mi];
    const struct tunnel_model *tm = m->tun;
    if (!tm)
        return;
    char x[WG_INDEX_STR_LEN], y[WG_INDEX_STR_LEN];
    for (uint32_t i = 0; i < table_slots(tm->wg); i++) {
        const void *kp;
        const struct wg_session *s = table_slot(tm->wg, i, &kp);
        if (!s)
            continue;
        struct row_ref *ref;
        struct ui_tunnel *t = ui_row_new(b, UK_WG, m->side, kp, sizeof(struct wg_key), &ref);
        if (!t)
            return;
        ref->model = mi;
        ref->slot = i;
        ref->cip = s->initiator.ip;
        ref->sip = s->responder.ip;
        ui_ep_str(&s->initiator.ip, s->initiator.port, t->client, sizeof(t->client));
        ui_ep_str(&s->responder.ip, s->responder.port, t->server, sizeof(t->server));
        snprintf(t->proto, sizeof(t->proto), "WireGuard");
        snprintf(t->ids, sizeof(t->ids), "%s/%s  %u handshake(s)  %u endpoint change(s)",
                 wg_index_str(s->i_idx, x, sizeof(x)), wg_index_str(s->r_idx, y, sizeof(y)),
                 (unsigned)s->handshakes, (unsigned)s->changes_total);
        t->pkts[0] = s->to_responder;
        t->pkts[1] = s->to_initiator;
        t->first_ts = s->first_ts;
        t->last_ts = s->last_ts;
        t->timeout_s = b->to->udp_stream;
        t->act = s->act;
        ui_spark_add(b->m, t, s->spark, s->first_ts, s->last_ts, false);
        ui_row_state(b, t, NULL);
    }
    char c1[OVPN_SID_STR_LEN], c2[OVPN_SID_STR_LEN];
    for (uint32_t i = 0; i < table_slots(tm->ovpn); i++) {
        const void *kp;
        const struct ovpn_session *s = table_slot(tm->ovpn, i, &kp);
        if (!s)
            continue;
        struct row_ref *ref;
        struct ui_tunnel *t = ui_row_new(b, UK_OVPN, m->side, kp, sizeof(struct ovpn_key), &ref);
        if (!t)
            return;
        ref->model = mi;
        ref->slot = i;
        ref->cip = s->client.ip;
        ref->sip = s->server.ip;
        ui_ep_str(&s->client.ip, s->client.port, t->client, sizeof(t->client));
        ui_ep_str(&s->server.ip, s->server.port, t->server, sizeof(t->server));
        snprintf(t->proto, sizeof(t->proto), "OpenVPN/%s", s->proto == IPP_TCP ? "tcp" : "udp");
        snprintf(t->ids, sizeof(t->ids), "%s/%s  peer-id %s%u  resets %u",
                 ovpn_sid_str(s->client_sid, c1, sizeof(c1)),
                 s->has_server_sid ? ovpn_sid_str(s->server_sid, c2, sizeof(c2)) : "-",
                 s->has_peer_id ? "" : "-", s->has_peer_id ? (unsigned)s->peer_id : 0u,
                 (unsigned)s->hard_resets);
        t->pkts[0] = s->to_server;
        t->pkts[1] = s->to_client;
        t->first_ts = s->first_ts;
        t->last_ts = s->last_ts;
        t->timeout_s = s->proto == IPP_TCP ? b->to->tcp : b->to->udp_stream;
        t->act = s->act;
        ui_spark_add(b->m, t, s->spark, s->first_ts, s->last_ts, false);
        ui_row_state(b, t, NULL);
    }
}
