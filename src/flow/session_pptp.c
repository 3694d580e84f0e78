/* session_pptp.c - PPTP control connections and calls (the state machine follows Linux's
 * nf_conntrack_pptp), GRE flows and L2TP sessions of the session model. */
#include "session_int.h"

#include <stdio.h>
#include <string.h>

#include "vpnscope/decode.h"
#include "vpnscope/proto.h"
#include "vpnscope/table.h"

/* ---- PPTP (control state machine after nf_conntrack_pptp.c) ---- */

static struct pptp_call *call_find(struct pptp_ctrl *c, bool by_peer, uint16_t id)
{
    for (unsigned i = 0; i < c->n_calls && i < PPTP_CALLS_PER_CTRL; i++) {
        struct pptp_call *call = &c->calls[i];
        if (by_peer ? (call->has_peer && call->peer_call_id == id) : call->call_id == id)
            return call;
    }
    return NULL;
}

static struct pptp_call *call_new(struct pptp_ctrl *c, const struct pkt *p)
{
    struct pptp_call *call = NULL;
    if (c->n_calls < PPTP_CALLS_PER_CTRL) {
        call = &c->calls[c->n_calls++];
    } else {
        /* full: reuse the oldest finished call, else the oldest */
        unsigned best = 0;
        for (unsigned i = 0; i < PPTP_CALLS_PER_CTRL; i++)
            if (c->calls[i].state == PPTP_CALL_DISCONNECTED ||
                c->calls[i].first_ts < c->calls[best].first_ts)
                best = i;
        call = &c->calls[best];
    }
    memset(call, 0, sizeof(*call));
    call->first_ts = p->ts_us;
    call->first_frame = p->frame;
    return call;
}

static void copy_str(char *dst, size_t n, const char *src)
{
    if (!dst[0] && src[0])
        snprintf(dst, n, "%s", src);
}

/* Control-connection messages (SCCRQ, SCCRP, StopCCRQ, StopCCRP); true on a bad transition. */
static bool pptp_ctrl_msg(struct session_model *m, struct pptp_ctrl *c, const struct pptp_msg *pm,
                          bool from_client)
{
    bool bad = false;
    switch (pm->ctrl_type) {
    case PPTP_SCCRQ:
        bad = !from_client;
        c->state = PPTP_SESS_REQUESTED;
        copy_str(c->hostname, sizeof(c->hostname), pm->hostname);
        copy_str(c->vendor, sizeof(c->vendor), pm->vendor);
        break;
    case PPTP_SCCRP:
        bad = from_client || c->state != PPTP_SESS_REQUESTED;
        c->state = pm->result == 1 ? PPTP_SESS_CONFIRMED : PPTP_SESS_CLOSED;
        if (pm->result == 1)
            table_set_class(m->pptp, c, 1);
        break;
    case PPTP_STOPCCRQ:
        c->state = PPTP_SESS_STOPREQ;
        break;
    case PPTP_STOPCCRP:
        bad = c->state != PPTP_SESS_STOPREQ;
        c->state = PPTP_SESS_CLOSED;
        break;
    default:
        break;
    }
    return bad;
}

/* Outgoing calls (OCRQ, OCRP); *bad on a bad transition; the call, NULL for other types. */
static struct pptp_call *pptp_out_call_msg(struct pptp_ctrl *c, const struct pkt *p,
                                           bool from_client, bool *bad)
{
    const struct pptp_msg *pm = &p->pptp;
    struct pptp_call *call = NULL;
    switch (pm->ctrl_type) {
    case PPTP_OCRQ: /* the client's Call ID */
        *bad = !from_client;
        call = call_find(c, false, pm->call_id);
        if (!call)
            call = call_new(c, p);
        call->call_id = pm->call_id;
        call->state = PPTP_CALL_OUT_REQ;
        break;
    case PPTP_OCRP: /* the server's Call ID + the client's as peer */
        *bad = from_client;
        call = call_find(c, false, pm->peer_call_id);
        if (!call) {
            *bad = true;
            call = call_new(c, p);
            call->call_id = pm->peer_call_id;
        }
        call->peer_call_id = pm->call_id;
        call->has_peer = true;
        call->result = pm->result;
        call->state = pm->result == 1 ? PPTP_CALL_OUT_CONF : PPTP_CALL_REJECTED;
        break;
    default:
        break;
    }
    return call;
}

/* Incoming calls (ICRQ, ICRP, ICCN); *bad on a bad transition; the call, NULL for other types. */
static struct pptp_call *pptp_in_call_msg(struct pptp_ctrl *c, const struct pkt *p,
                                          bool from_client, bool *bad)
{
    const struct pptp_msg *pm = &p->pptp;
    struct pptp_call *call = NULL;
    switch (pm->ctrl_type) {
    case PPTP_ICRQ: /* from the server, its Call ID */
        *bad = from_client;
        call = call_find(c, true, pm->call_id);
        if (!call)
            call = call_new(c, p);
        call->peer_call_id = pm->call_id;
        call->has_peer = true;
        call->state = PPTP_CALL_IN_REQ;
        break;
    case PPTP_ICRP: /* from the client, its Call ID, peer = server's */
        *bad = !from_client;
        call = call_find(c, true, pm->peer_call_id);
        if (!call) {
            *bad = true;
            call = call_new(c, p);
            call->peer_call_id = pm->peer_call_id;
            call->has_peer = true;
        }
        call->call_id = pm->call_id;
        call->result = pm->result;
        call->state = pm->result == 1 ? PPTP_CALL_IN_REP : PPTP_CALL_REJECTED;
        break;
    case PPTP_ICCN: /* from the server, peer = client's Call ID */
        call = call_find(c, false, pm->peer_call_id);
        if (call)
            call->state = PPTP_CALL_IN_CONF;
        else
            *bad = true;
        break;
    default:
        break;
    }
    return call;
}

/* Call clearing (CCRQ, CDN); *bad when the call is unknown; the call, NULL for other types. */
static struct pptp_call *pptp_clear_msg(struct pptp_ctrl *c, const struct pptp_msg *pm, bool *bad)
{
    struct pptp_call *call = NULL;
    switch (pm->ctrl_type) {
    case PPTP_CCRQ: /* from the client, its Call ID */
        call = call_find(c, false, pm->call_id);
        if (call)
            call->state = PPTP_CALL_CLEAR_REQ;
        else
            *bad = true;
        break;
    case PPTP_CDN: /* from the server, its Call ID (Linux's helper rewrites it) */
        call = call_find(c, true, pm->call_id);
        if (!call)
            call = call_find(c, false, pm->call_id);
        if (call)
            call->state = PPTP_CALL_DISCONNECTED;
        else
            *bad = true;
        break;
    default:
        break;
    }
    return call;
}

/* Whether p goes from the PNS (client) to the PAC (server): towards TCP 1723; on another port,
 * by the message when only one side sends it (RFC 2637 section 2), else from the endpoint that
 * opened the TCP connection (the first sender seen on the flow). */
static bool pptp_from_client(const struct session_model *m, const struct pkt *p)
{
    if (p->dport == PORT_PPTP || p->sport == PORT_PPTP)
        return p->dport == PORT_PPTP;
    switch (p->pptp.ctrl_type) {
    case PPTP_OCRQ:
    case PPTP_ICRP:
    case PPTP_CCRQ:
    case PPTP_SLI:
        return true;
    case PPTP_OCRP:
    case PPTP_ICRQ:
    case PPTP_ICCN:
    case PPTP_CDN:
    case PPTP_WEN:
        return false;
    default:
        break;
    }
    const struct flow *f = session_flow_lookup(m, IPP_TCP, &p->src, p->sport, &p->dst, p->dport);
    if (!f)
        return true;
    struct endpoint s = flow_end(m, f, 0);
    return ip_addr_eq(&s.ip, &p->src) && s.port == p->sport;
}

void sess_pptp_update(struct session_model *m, const struct pkt *p)
{
    const struct pptp_msg *pm = &p->pptp;
    bool from_client = pptp_from_client(m, p);
    struct pptp_ctrl_key k;
    memset(&k, 0, sizeof(k));
    k.client = from_client ? p->src : p->dst;
    k.server = from_client ? p->dst : p->src;
    k.cport = from_client ? p->sport : p->dport;
    k.sport = from_client ? p->dport : p->sport;
    bool created = false;
    struct pptp_ctrl *c = table_put(m->pptp, &k, &created);
    if (!c)
        return;
    if (created) {
        c->client.ip = k.client;
        c->client.port = k.cport;
        c->server.ip = k.server;
        c->server.port = k.sport;
        c->first_ts = p->ts_us;
    }
    c->msgs++;
    c->last_ts = p->ts_us;
    bool bad = false;
    struct pptp_call *call = NULL;
    switch (pm->ctrl_type) {
    case PPTP_SCCRQ:
    case PPTP_SCCRP:
    case PPTP_STOPCCRQ:
    case PPTP_STOPCCRP:
        bad = pptp_ctrl_msg(m, c, pm, from_client);
        break;
    case PPTP_OCRQ:
    case PPTP_OCRP:
        call = pptp_out_call_msg(c, p, from_client, &bad);
        break;
    case PPTP_ICRQ:
    case PPTP_ICRP:
    case PPTP_ICCN:
        call = pptp_in_call_msg(c, p, from_client, &bad);
        break;
    case PPTP_CCRQ:
    case PPTP_CDN:
        call = pptp_clear_msg(c, pm, &bad);
        break;
    default:
        break;
    }
    if (call)
        call->last_ts = p->ts_us;
    if (bad)
        m->c.anomalies[ANOM_PPTP_BAD_TRANSITION]++;
}

/* ---- GRE ---- */

void sess_gre_update(struct session_model *m, const struct pkt *p, bool two_way)
{
    struct gre_key k;
    memset(&k, 0, sizeof(k));
    k.src = p->src;
    k.dst = p->dst;
    k.version = p->gre.version;
    if (p->gre.version == 1) {
        k.key = p->gre.call_id;
        k.has_key = 1;
    } else if (p->gre.has_key) {
        k.key = p->gre.key;
        k.has_key = 1;
    }
    bool created = false;
    struct gre_flow *g = table_put(m->gre, &k, &created);
    if (!g)
        return;
    if (created) {
        g->k = k;
        g->first_ts = p->ts_us;
        g->first_frame = p->frame;
    }
    g->packets++;
    g->bytes += p->ip_len;
    g->last_ts = p->ts_us;
    if (p->gre.has_seq)
        g->last_seq = p->gre.seq;
    if (two_way)
        table_set_class(m->gre, g, 1);
    sess_activity_touch(&g->act, p->ts_us, p->frame);
    sess_spark_count(&g->spark, p->ts_us, 0, m->spark_slide_us);
}

static const struct pptp_ctrl *ctrl_between(const struct session_model *m,
                                            const struct ip_addr *client,
                                            const struct ip_addr *server, uint16_t client_call,
                                            uint16_t server_call, bool by_server_call,
                                            const struct pptp_call **out_call)
{
    for (uint32_t i = 0; i < table_slots(m->pptp); i++) {
        const struct pptp_ctrl *c = table_slot(m->pptp, i, NULL);
        if (!c || !ip_addr_eq(&c->client.ip, client) || !ip_addr_eq(&c->server.ip, server))
            continue;
        for (unsigned j = 0; j < c->n_calls && j < PPTP_CALLS_PER_CTRL; j++) {
            const struct pptp_call *call = &c->calls[j];
            if (by_server_call ? (call->has_peer && call->peer_call_id == server_call)
                               : call->call_id == client_call) {
                if (out_call)
                    *out_call = call;
                return c;
            }
        }
    }
    return NULL;
}

void session_pptp_call_gre(const struct session_model *m, const struct pptp_ctrl *c,
                           const struct pptp_call *call, uint64_t *to_server, uint64_t *to_client)
{
    *to_server = *to_client = 0;
    struct gre_key k;
    memset(&k, 0, sizeof(k));
    k.version = 1;
    k.has_key = 1;
    if (call->has_peer) {
        /* client -> server GRE carries the server's Call ID */
        k.src = c->client.ip;
        k.dst = c->server.ip;
        k.key = call->peer_call_id;
        const struct gre_flow *g = table_get(m->gre, &k, false);
        if (g)
            *to_server = g->packets;
    }
    k.src = c->server.ip;
    k.dst = c->client.ip;
    k.key = call->call_id;
    const struct gre_flow *g = table_get(m->gre, &k, false);
    if (g)
        *to_client = g->packets;
}

bool session_gre_is_pptp_call(const struct session_model *m, const struct gre_flow *g)
{
    if (g->k.version != 1)
        return false;
    /* src -> dst carrying dst's peer's id: either client->server (key = server's call id) or
     * server->client (key = client's call id) */
    if (ctrl_between(m, &g->k.src, &g->k.dst, 0, (uint16_t)g->k.key, true, NULL))
        return true;
    if (ctrl_between(m, &g->k.dst, &g->k.src, (uint16_t)g->k.key, 0, false, NULL))
        return true;
    return false;
}

/* ---- L2TP ---- */

void sess_l2tp_update(struct session_model *m, const struct pkt *p)
{
    struct l2tp_key k;
    memset(&k, 0, sizeof(k));
    k.src = p->src;
    k.dst = p->dst;
    k.sport = p->sport;
    k.dport = p->dport;
    k.tunnel_id = p->l2tp.tunnel_id;
    k.session_id = p->l2tp.session_id;
    bool created = false;
    struct l2tp_sess *s = table_put(m->l2tp, &k, &created);
    if (!s)
        return;
    if (created) {
        s->k = k;
        s->version = p->l2tp.version;
        s->first_ts = p->ts_us;
    }
    s->packets++;
    if (p->l2tp.control)
        s->control++;
    s->bytes += p->ip_len;
    s->last_ts = p->ts_us;
}
