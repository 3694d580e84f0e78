/* session_ovpn.c - OpenVPN sessions (openvpn src/openvpn/ssl_pkt.h, ssl.c): a session is the
 * client's 64-bit session id from its hard reset; the server answers with a session id of its
 * own. Control packets carry the sender's session id; data packets none, but DATA_V2 carries the
 * peer id the server assigned, which leads a client that reappears from another 5-tuple (a NAT
 * that lost its mapping, "float") back to its session. Key ids count renegotiations. OpenVPN's
 * ping (--ping / keepalive) is a data packet with a fixed 16-byte payload: encrypted it is the
 * smallest data packet of the session, so the interval of the smallest data packets the client
 * sends estimates it. Over TCP each packet has a 2-byte length prefix: the stream of each
 * direction is de-framed (tunnel.h ovpn_tcp_feed) in sequence order. */
#include <stddef.h>
#include <string.h>

#include "session_int.h"
#include "vpnscope/proto.h"
#include "vpnscope/session_tunnel.h"
#include "vpnscope/table.h"

static bool is_client_reset(uint8_t op)
{
    return op == OVPN_HARD_RESET_CLIENT_V1 || op == OVPN_HARD_RESET_CLIENT_V2 ||
           op == OVPN_HARD_RESET_CLIENT_V3;
}

static bool is_server_reset(uint8_t op)
{
    return op == OVPN_HARD_RESET_SERVER_V1 || op == OVPN_HARD_RESET_SERVER_V2;
}

/* What one OpenVPN packet needs besides its decoded header. */
struct ovpn_ctx {
    struct tunnel_model *tm;
    struct tun_flow *t;
    const struct pkt *p; /* addresses, time, frame (TCP: the segment that completed it) */
    int cdir;
};

static struct ovpn_session *session_get(struct ovpn_ctx *c, uint64_t csid, bool create)
{
    struct ovpn_key k;
    memset(&k, 0, sizeof(k));
    k.client_sid = csid;
    if (!create)
        return table_get(c->tm->ovpn, &k, true);
    bool created = false;
    struct ovpn_session *s = table_put(c->tm->ovpn, &k, &created);
    if (s && created) {
        s->client_sid = csid;
        s->proto = c->t->proto;
        s->client = c->t->client;
        s->server = c->t->server;
        s->first_ts = c->p->ts_us;
        s->first_frame = c->p->frame;
    }
    return s;
}

static void peer_key(struct ovpn_peer_key *k, const struct endpoint *server, uint32_t peer_id)
{
    memset(k, 0, sizeof(*k));
    k->server = server->ip;
    k->port = server->port;
    k->peer_id = peer_id;
}

/* A data packet on a 5-tuple that showed no control packet: its DATA_V2 peer id names the
 * session (the same server, the same peer id). */
static struct ovpn_session *session_by_peer(struct ovpn_ctx *c, const struct ovpn_msg *o)
{
    if (!o->has_peer_id || o->peer_id == OVPN_PEER_ID_UNSET || c->cdir != 0)
        return NULL;
    struct ovpn_peer_key k;
    peer_key(&k, &c->t->server, o->peer_id);
    const struct ovpn_key *v = table_get(c->tm->ovpn_peer, &k, true);
    if (!v)
        return NULL;
    struct ovpn_session *s = session_get(c, v->client_sid, false);
    if (!s)
        return NULL;
    c->t->has_ovpn = true;
    c->t->ovpn_csid = s->client_sid;
    return s;
}

static void control(struct ovpn_ctx *c, const struct ovpn_msg *o)
{
    struct tun_flow *t = c->t;
    if (!o->has_session_id)
        return;
    t->has_sid[c->cdir] = true;
    t->sid[c->cdir] = o->session_id;
    if (is_client_reset(o->opcode) || is_server_reset(o->opcode))
        sess_tun_handshake(t, c->cdir, c->p);
    struct ovpn_session *s = NULL;
    if (c->cdir == 0) {
        s = session_get(c, o->session_id, true);
        if (s && is_client_reset(o->opcode))
            s->hard_resets++;
    } else if (t->has_sid[0]) {
        s = session_get(c, t->sid[0], true);
        if (s) {
            s->server_sid = o->session_id;
            s->has_server_sid = true;
        }
    }
    if (!s)
        return;
    t->has_ovpn = true;
    t->ovpn_csid = s->client_sid;
    if (o->opcode == OVPN_SOFT_RESET_V1)
        s->soft_resets++;
}

/* OpenVPN pings: data packets of the smallest size seen (at most OVPN_PING_MAX_LEN). */
static void ping_estimate(struct ovpn_ctx *c, struct ovpn_session *s, const struct ovpn_msg *o)
{
    struct tun_flow *t = c->t;
    if (o->len > OVPN_PING_MAX_LEN)
        return;
    if (!t->min_data_len || o->len < t->min_data_len) {
        t->min_data_len = o->len;
        t->small[0] = t->small[1] = 0;
        memset(&t->act.ka_count, 0,
               sizeof(t->act) - offsetof(struct activity, ka_count)); /* restart the estimate */
    }
    if (o->len == t->min_data_len) {
        t->small[c->cdir]++;
        if (c->cdir == 0)
            sess_activity_keepalive(&t->act, c->p->ts_us);
    }
    if (!s)
        return;
    if (!s->ping_len || o->len < s->ping_len) {
        s->ping_len = o->len;
        s->pings = 0;
        memset(&s->act.ka_count, 0, sizeof(s->act) - offsetof(struct activity, ka_count));
    }
    if (o->len == s->ping_len) {
        s->pings++;
        if (c->cdir == 0)
            sess_activity_keepalive(&s->act, c->p->ts_us);
    }
}

static void data(struct ovpn_ctx *c, const struct ovpn_msg *o)
{
    struct tun_flow *t = c->t;
    sess_tun_data(t, c->cdir, c->p);
    struct ovpn_session *s =
        t->has_ovpn ? session_get(c, t->ovpn_csid, false) : session_by_peer(c, o);
    if (s && o->has_peer_id && o->peer_id != OVPN_PEER_ID_UNSET && c->cdir == 0) {
        s->has_peer_id = true;
        s->peer_id = o->peer_id;
        struct ovpn_peer_key k;
        peer_key(&k, &t->server, o->peer_id);
        bool created = false;
        struct ovpn_key *v = table_put(c->tm->ovpn_peer, &k, &created);
        if (v) {
            memset(v, 0, sizeof(*v));
            v->client_sid = s->client_sid;
        }
    }
    ping_estimate(c, s, o);
}

static void ovpn_msg(struct ovpn_ctx *c, const struct ovpn_msg *o)
{
    if (o->opcode == OVPN_DATA_V1 || o->opcode == OVPN_DATA_V2)
        data(c, o);
    else if (o->ids_valid)
        control(c, o);
    struct ovpn_session *s = c->t->has_ovpn ? session_get(c, c->t->ovpn_csid, false) : NULL;
    if (!s)
        return;
    struct endpoint from = {c->p->src, c->p->sport};
    struct endpoint *peer = c->cdir == 0 ? &s->client : &s->server;
    if (!ip_addr_eq(&peer->ip, &from.ip) || peer->port != from.port) {
        sess_tun_change(s->changes, &s->n_changes, &s->changes_total, (uint8_t)c->cdir, peer, &from,
                        c->p);
        *peer = from;
    }
    if (o->key_id < 8)
        s->key_ids |= (uint8_t)(1u << o->key_id);
    if (c->cdir == 0)
        s->to_server++;
    else
        s->to_client++;
    s->last_ts = c->p->ts_us;
    s->last_frame = c->p->frame;
    sess_activity_touch(&s->act, c->p->ts_us, c->p->frame);
    sess_spark_count(&s->spark, c->p->ts_us, c->cdir ? 1 : 0, c->tm->spark_slide_us);
}

void sess_ovpn_udp(struct tunnel_model *tm, struct tun_flow *t, const struct pkt *p, int cdir)
{
    if (!p->ovpn.ids_valid && p->ovpn.opcode != OVPN_DATA_V1)
        return;
    struct ovpn_ctx c = {tm, t, p, cdir};
    ovpn_msg(&c, &p->ovpn);
}

struct tcp_cb_ctx {
    struct ovpn_ctx c;
    struct session_model *m;
};

static void on_tcp_pkt(void *ctx, const struct ovpn_tcp_pkt *pkt)
{
    struct tcp_cb_ctx *x = ctx;
    struct ovpn_msg o;
    enum anomaly a = ANOM_NONE;
    if (!ovpn_decode_tcp(pkt, NULL, &o, &a)) {
        if (a < ANOM__COUNT)
            x->m->c.anomalies[a]++;
        if (!o.ids_valid)
            return;
    }
    ovpn_msg(&x->c, &o);
}

void sess_ovpn_tcp(struct session_model *m, struct tun_flow *t, const struct pkt *p,
                   const struct flow_key *k, int cdir)
{
    struct tunnel_model *tm = m->tun;
    bool created = false;
    struct ovpn_tcp_state *st = table_put(tm->ovpn_tcp, k, &created);
    if (!st)
        return;
    if (t->pkts[0] && t->pkts[1])
        table_set_class(tm->ovpn_tcp, st, 1);
    uint32_t seq = p->tcp_seq, n = p->payload_len;
    if (p->tcp_flags & 0x02) { /* SYN takes one sequence number */
        st->seq_init[cdir] = true;
        st->next_seq[cdir] = seq + 1;
        seq++;
    }
    if (n == 0 || !p->payload)
        return;
    if (!st->seq_init[cdir]) {
        st->seq_init[cdir] = true;
        st->next_seq[cdir] = seq;
    }
    struct rd r = rd_init(p->payload, n);
    int32_t d = (int32_t)(seq - st->next_seq[cdir]);
    if (d < 0) {
        uint32_t old = (uint32_t)-d;
        if (old >= n)
            return; /* a retransmission of bytes already de-framed */
        rd_skip(&r, old);
        n -= old;
        seq += old;
    } else if (d > 0) {
        m->c.anomalies[ovpn_tcp_gap(&st->tr[cdir])]++;
    }
    struct tcp_cb_ctx x = {{tm, t, p, cdir}, m};
    enum anomaly a = ovpn_tcp_feed(&st->tr[cdir], rd_rest(&r), n, on_tcp_pkt, &x);
    if (a != ANOM_NONE && a < ANOM__COUNT)
        m->c.anomalies[a]++;
    st->next_seq[cdir] = seq + n;
}
