/* text_tunnels.c - the WireGuard and OpenVPN session tables of the text report. */
#include "text_int.h"

#include "vpnscope/proto.h"
#include "vpnscope/session_tunnel.h"
#include "vpnscope/tunnel.h"

static bool m_wg(const struct rep_rec *r)
{
    return r->type == REC_WG_SESSION;
}

static bool m_ovpn(const struct rep_rec *r)
{
    return r->type == REC_OVPN_SESSION;
}

static void cell_ka(char *cell, const struct activity *a)
{
    uint64_t us = activity_keepalive_us(a);
    if (us)
        tx_cellf(cell, "%.1f s", (double)us / 1e6);
    else
        tx_cellf(cell, "-");
}

static void cell_changes(char *cell, const struct tun_change *v, uint8_t n, uint32_t total)
{
    if (!total) {
        tx_cellf(cell, "-");
        return;
    }
    char a[80];
    tx_ipport(&v[n - 1].to.ip, v[n - 1].to.port, a, sizeof(a));
    tx_cellf(cell, "%u (last -> %s)", (unsigned)total, a);
}

static const char *const h_wg[] = {"capture",          "initiator",  "responder",   "indexes",
                                   "handshakes",       "keepalives", "ka interval", "to resp/init",
                                   "endpoint changes", "first",      "last"};

static void row_wg(const struct report_input *in, const struct rep_rec *r, char c[][TX_CELL])
{
    const struct wg_session *s = r->p;
    char a[80], b[WG_INDEX_STR_LEN], d[WG_INDEX_STR_LEN];
    tx_cellf(c[0], "%s", side_name(in->models[r->model]->side));
    tx_cellf(c[1], "%s", tx_ipport(&s->initiator.ip, s->initiator.port, a, sizeof(a)));
    tx_cellf(c[2], "%s", tx_ipport(&s->responder.ip, s->responder.port, a, sizeof(a)));
    tx_cellf(c[3], "%s/%s", wg_index_str(s->i_idx, b, sizeof(b)),
             wg_index_str(s->r_idx, d, sizeof(d)));
    tx_cellf(c[4], "%u", (unsigned)s->handshakes);
    tx_cellf(c[5], "%llu", (unsigned long long)s->keepalives);
    cell_ka(c[6], &s->act);
    tx_cellf(c[7], "%llu/%llu", (unsigned long long)s->to_responder,
             (unsigned long long)s->to_initiator);
    cell_changes(c[8], s->changes, s->n_changes, s->changes_total);
    tx_cellts(c[9], s->first_ts);
    tx_cellts(c[10], s->last_ts);
}

static const char *const h_ovpn[] = {
    "capture",          "proto",   "client",      "server",     "session ids",
    "peer id",          "key ids", "hard resets", "to srv/cli", "ping interval",
    "endpoint changes", "first",   "last"};

static void row_ovpn(const struct report_input *in, const struct rep_rec *r, char c[][TX_CELL])
{
    const struct ovpn_session *s = r->p;
    char a[80], b[OVPN_SID_STR_LEN], d[OVPN_SID_STR_LEN];
    tx_cellf(c[0], "%s", side_name(in->models[r->model]->side));
    tx_cellf(c[1], "%s", s->proto == IPP_TCP ? "tcp" : "udp");
    tx_cellf(c[2], "%s", tx_ipport(&s->client.ip, s->client.port, a, sizeof(a)));
    tx_cellf(c[3], "%s", tx_ipport(&s->server.ip, s->server.port, a, sizeof(a)));
    tx_cellf(c[4], "%s/%s", ovpn_sid_str(s->client_sid, b, sizeof(b)),
             s->has_server_sid ? ovpn_sid_str(s->server_sid, d, sizeof(d)) : "-");
    if (s->has_peer_id)
        tx_cellf(c[5], "%u", (unsigned)s->peer_id);
    else
        tx_cellf(c[5], "-");
    size_t o = 0;
    c[6][0] = '\0';
    for (unsigned k = 0; k < 8; k++)
        if (s->key_ids & (1u << k))
            o += (size_t)snprintf(c[6] + o, TX_CELL - o, "%s%u", o ? "," : "", k);
    if (!o)
        tx_cellf(c[6], "-");
    tx_cellf(c[7], "%u", (unsigned)s->hard_resets);
    tx_cellf(c[8], "%llu/%llu", (unsigned long long)s->to_server, (unsigned long long)s->to_client);
    cell_ka(c[9], &s->act);
    cell_changes(c[10], s->changes, s->n_changes, s->changes_total);
    tx_cellts(c[11], s->first_ts);
    tx_cellts(c[12], s->last_ts);
}

const struct tx_section tx_wg_section = {
    "WireGuard sessions", TX_COL0_CAPTURE, 11, h_wg, row_wg, m_wg};
const struct tx_section tx_ovpn_section = {"OpenVPN sessions", TX_COL0_CAPTURE, 13, h_ovpn,
                                           row_ovpn,           m_ovpn};
