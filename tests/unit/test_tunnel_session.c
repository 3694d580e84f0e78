/* test_tunnel_session.c - WireGuard / OpenVPN wiring and session model: decode_app recognises
 * WireGuard by its handshake on any port but not on DNS's, and transport data only on a flow
 * already known; sessions by index pair with transport each way, keepalives and an endpoint
 * change; unanswered initiations grouped by 5-tuple across new sender indexes and closed by
 * any reply; OpenVPN sessions by session id pair, peer id, and a DATA_V2 from a new 5-tuple
 * adopted into its session (float). */
#include <string.h>

#include "t.h"
#include "vpnscope/decode.h"
#include "vpnscope/session.h"
#include "vpnscope/session_tunnel.h"
#include "vpnscope/table.h"
#include "vpnscope/tunnel.h"

static struct ip_addr A4(int a, int b, int c, int d) {
    struct ip_addr x;
    memset(&x, 0, sizeof(x));
    x.v = 4;
    x.a[0] = (uint8_t)a, x.a[1] = (uint8_t)b, x.a[2] = (uint8_t)c, x.a[3] = (uint8_t)d;
    return x;
}

static uint8_t l4buf[2048];

/* A decoded UDP packet whose payload is `len` bytes of `payload` (copied after a UDP header). */
static void udp_pkt(struct pkt *p, uint64_t ts, struct ip_addr s, uint16_t sp, struct ip_addr d,
                    uint16_t dp, const uint8_t *payload, uint32_t len)
{
    static uint64_t frame;
    memset(p, 0, sizeof(*p));
    p->ts_us = ts;
    p->frame = ++frame;
    p->ipver = 4;
    p->src = s, p->dst = d;
    p->l4proto = 17;
    p->has_ports = true;
    p->sport = sp, p->dport = dp;
    p->ip_len = 28 + len;
    p->status = PKT_DECODED;
    uint32_t ulen = 8 + len;
    l4buf[0] = (uint8_t)(sp >> 8), l4buf[1] = (uint8_t)sp;
    l4buf[2] = (uint8_t)(dp >> 8), l4buf[3] = (uint8_t)dp;
    l4buf[4] = (uint8_t)(ulen >> 8), l4buf[5] = (uint8_t)ulen;
    l4buf[6] = l4buf[7] = 0;
    memcpy(l4buf + 8, payload, len);
    p->l4 = l4buf;
    p->l4_len = ulen;
    p->payload = l4buf + 8;
    p->payload_len = len;
}

static void le32(uint8_t *b, uint32_t v)
{
    b[0] = (uint8_t)v, b[1] = (uint8_t)(v >> 8), b[2] = (uint8_t)(v >> 16),
    b[3] = (uint8_t)(v >> 24);
}

/* WireGuard messages (whitepaper 5.4): type, 3 reserved zeros, indexes little-endian. */
static uint32_t wg_init(uint8_t *b, uint32_t sender)
{
    memset(b, 0x5a, WG_INITIATION_LEN);
    b[0] = 1, b[1] = b[2] = b[3] = 0;
    le32(b + 4, sender);
    return WG_INITIATION_LEN;
}

static uint32_t wg_resp(uint8_t *b, uint32_t sender, uint32_t receiver)
{
    memset(b, 0x5a, WG_RESPONSE_LEN);
    b[0] = 2, b[1] = b[2] = b[3] = 0;
    le32(b + 4, sender);
    le32(b + 8, receiver);
    return WG_RESPONSE_LEN;
}

static uint32_t wg_data(uint8_t *b, uint32_t receiver, uint64_t counter, uint32_t len)
{
    memset(b, 0x33, len);
    b[0] = 4, b[1] = b[2] = b[3] = 0;
    le32(b + 4, receiver);
    le32(b + 8, (uint32_t)counter);
    le32(b + 12, 0);
    return len;
}

/* What the engine does per packet: flow lookup, decode_app with the flow's hint, update. */
static void feed(struct session_model *m, struct pkt *p)
{
    int dir = 0;
    struct flow *f = session_flow(m, p, &dir);
    decode_app(p, f ? (enum app_hint)f->hint : HINT_NONE);
    session_update(m, p, f, dir);
}

static const struct wg_session *wg_get(const struct session_model *m, uint32_t i, uint32_t r)
{
    struct wg_key k = {i, r};
    return m->tun ? table_get(m->tun->wg, &k, false) : NULL;
}

static const struct tun_flow *tun_get(const struct session_model *m, struct ip_addr a, uint16_t pa,
                                      struct ip_addr b, uint16_t pb)
{
    return tunnel_flow_of(m, session_flow_lookup(m, 17, &a, pa, &b, pb));
}

static void test_decode_app(void)
{
    struct pkt p;
    uint8_t b[256];
    struct ip_addr c = A4(192, 168, 3, 11), s = A4(203, 0, 113, 10);
    /* a handshake initiation on any port */
    udp_pkt(&p, 1, c, 40000, s, 443, b, wg_init(b, 0x11223344));
    decode_app(&p, HINT_NONE);
    CHECK_EQ(p.vpn, VPN_WG);
    CHECK_EQ(p.wg.type, WG_INITIATION);
    CHECK_EQ(p.wg.sender, 0x11223344u);
    CHECK_EQ(p.status, PKT_DECODED);
    /* the same bytes on DNS's port are not taken */
    udp_pkt(&p, 1, c, 40000, s, 53, b, wg_init(b, 0x11223344));
    decode_app(&p, HINT_NONE);
    CHECK_EQ(p.vpn, VPN_NONE);
    /* transport data alone is too weak a signature; on a known flow it is decoded */
    udp_pkt(&p, 1, c, 40000, s, 51820, b, wg_data(b, 7, 1, 64));
    decode_app(&p, HINT_NONE);
    CHECK_EQ(p.vpn, VPN_NONE);
    udp_pkt(&p, 1, c, 40000, s, 51820, b, wg_data(b, 7, 1, 64));
    decode_app(&p, HINT_WG);
    CHECK_EQ(p.vpn, VPN_WG);
    CHECK_EQ(p.wg.receiver, 7u);
    /* a known WireGuard flow: bytes that are not WireGuard are invalid, counted */
    uint8_t junk[40];
    memset(junk, 0xee, sizeof(junk));
    udp_pkt(&p, 1, c, 40000, s, 51820, junk, sizeof(junk));
    decode_app(&p, HINT_WG);
    CHECK_EQ(p.status, PKT_INVALID);
    CHECK(p.n_anom > 0);
    /* IKE's ports decide before any probe */
    udp_pkt(&p, 1, c, 500, s, 500, b, wg_init(b, 1));
    decode_app(&p, HINT_NONE);
    CHECK(p.vpn != VPN_WG);
}

static void test_wg_session(void)
{
    struct session_model m;
    CHECK_EQ(session_model_init(&m, SIDE_OUTSIDE), 0);
    struct pkt p;
    uint8_t b[256];
    struct ip_addr c = A4(203, 0, 113, 1), s = A4(203, 0, 113, 10);
    const uint32_t ii = 0xaaaa0001, ri = 0xbbbb0002;
    udp_pkt(&p, 1000000, c, 21878, s, 51820, b, wg_init(b, ii));
    feed(&m, &p);
    udp_pkt(&p, 1001000, s, 51820, c, 21878, b, wg_resp(b, ri, ii));
    feed(&m, &p);
    for (int k = 0; k < 3; k++) {
        udp_pkt(&p, 2000000 + k * 1000000ull, c, 21878, s, 51820, b, wg_data(b, ri, k, 128));
        feed(&m, &p);
        udp_pkt(&p, 2001000 + k * 1000000ull, s, 51820, c, 21878, b, wg_data(b, ii, k, 128));
        feed(&m, &p);
    }
    for (int k = 0; k < 3; k++) { /* keepalives every 5 s */
        udp_pkt(&p, 10000000 + k * 5000000ull, c, 21878, s, 51820, b, wg_data(b, ri, 3 + k, 32));
        feed(&m, &p);
    }
    const struct wg_session *w = wg_get(&m, ii, ri);
    CHECK(w != NULL);
    if (w) {
        CHECK_EQ(w->handshakes, 1u);
        CHECK_EQ(w->to_responder, 6u);
        CHECK_EQ(w->to_initiator, 4u);
        CHECK_EQ(w->keepalives, 3u);
        CHECK_EQ(activity_keepalive_us(&w->act), 5000000u);
        CHECK_EQ(w->changes_total, 0u);
        /* the activity sparkline counts each way: [0] to the responder, [1] back */
        unsigned n[2] = {0, 0};
        for (int d = 0; d < 2; d++)
            for (unsigned i = 0; i < SPARK_BUCKETS; i++)
                n[d] += w->spark->n[d][i];
        CHECK_EQ(n[0], 6u);
        CHECK_EQ(n[1], 4u);
    }
    /* the client comes back from a new outside port: a new flow, adopted into the session */
    udp_pkt(&p, 40000000, c, 22374, s, 51820, b, wg_data(b, ri, 9, 128));
    int dir = 0;
    struct flow *f = session_flow(&m, &p, &dir);
    decode_app(&p, f->hint);
    CHECK_EQ(p.vpn, VPN_NONE); /* transport on an unknown flow: not decoded */
    session_update(&m, &p, f, dir);
    CHECK_EQ(f->hint, HINT_WG);
    w = wg_get(&m, ii, ri);
    CHECK(w && w->changes_total == 1 && w->initiator.port == 22374);
    if (w && w->n_changes)
        CHECK(w->changes[0].from.port == 21878 && w->changes[0].to.port == 22374);
    session_model_free(&m);
}

static void test_unanswered_run(void)
{
    struct session_model m;
    CHECK_EQ(session_model_init(&m, SIDE_SINGLE), 0);
    struct pkt p;
    uint8_t b[256];
    struct ip_addr c = A4(192, 168, 3, 11), s = A4(203, 0, 113, 10);
    for (int k = 0; k < 3; k++) { /* each retry has a new sender index */
        udp_pkt(&p, 1000000 + k * 5000000ull, c, 40000, s, 51820, b, wg_init(b, 0x100 + k));
        feed(&m, &p);
    }
    const struct tun_flow *t = tun_get(&m, c, 40000, s, 51820);
    CHECK(t != NULL);
    if (t) {
        CHECK(t->run_open);
        CHECK_EQ(t->run_sends, 3u);
        CHECK_EQ(t->run_dir, 0);
        CHECK_EQ(t->run_nframes, 3);
        CHECK(t->roles_known && t->client.port == 40000);
    }
    udp_pkt(&p, 20000000, s, 51820, c, 40000, b, wg_resp(b, 0x999, 0x102));
    feed(&m, &p);
    t = tun_get(&m, c, 40000, s, 51820);
    CHECK(t && !t->run_open);
    session_model_free(&m);
}

static void ovpn_ctrl(struct pkt *p, uint8_t op, uint64_t sid)
{
    p->vpn = VPN_OVPN;
    memset(&p->ovpn, 0, sizeof(p->ovpn));
    p->ovpn.opcode = op;
    p->ovpn.is_control = true;
    p->ovpn.ids_valid = true;
    p->ovpn.has_session_id = true;
    p->ovpn.session_id = sid;
    p->ovpn.len = 60;
}

static void ovpn_data(struct pkt *p, uint32_t peer_id, uint32_t len)
{
    p->vpn = VPN_OVPN;
    memset(&p->ovpn, 0, sizeof(p->ovpn));
    p->ovpn.opcode = OVPN_DATA_V2;
    p->ovpn.ids_valid = true;
    p->ovpn.has_peer_id = true;
    p->ovpn.peer_id = peer_id;
    p->ovpn.len = len;
}

static void upd(struct session_model *m, struct pkt *p)
{
    int dir = 0;
    struct flow *f = session_flow(m, p, &dir);
    session_update(m, p, f, dir);
}

static void test_ovpn_session(void)
{
    struct session_model m;
    CHECK_EQ(session_model_init(&m, SIDE_OUTSIDE), 0);
    struct pkt p;
    uint8_t b[64] = {0};
    struct ip_addr c = A4(203, 0, 113, 1), s = A4(203, 0, 113, 10);
    const uint64_t csid = 0x330bed9df33ebad0ull, ssid = 0xaf8a8bc3f8def0f6ull;
    udp_pkt(&p, 1000000, c, 47753, s, 1194, b, 14);
    ovpn_ctrl(&p, OVPN_HARD_RESET_CLIENT_V2, csid);
    upd(&m, &p);
    udp_pkt(&p, 1001000, s, 1194, c, 47753, b, 26);
    ovpn_ctrl(&p, OVPN_HARD_RESET_SERVER_V2, ssid);
    upd(&m, &p);
    for (int k = 0; k < 4; k++) {
        udp_pkt(&p, 2000000 + k * 1000000ull, c, 47753, s, 1194, b, 40);
        ovpn_data(&p, 5, k ? 120 : 40); /* one ping-sized packet */
        upd(&m, &p);
    }
    struct ovpn_key k = {csid};
    const struct ovpn_session *o = table_get(m.tun->ovpn, &k, false);
    CHECK(o != NULL);
    if (o) {
        CHECK(o->has_server_sid && o->server_sid == ssid);
        CHECK(o->has_peer_id && o->peer_id == 5);
        CHECK_EQ(o->hard_resets, 1u);
        CHECK_EQ(o->to_server, 5u);
        CHECK_EQ(o->to_client, 1u);
        CHECK_EQ(o->pings, 1u);
        CHECK_EQ(o->key_ids, 1);
    }
    const struct tun_flow *t = tun_get(&m, c, 47753, s, 1194);
    CHECK(t && tun_flow_payload(t, 0) == 3 && tun_flow_payload(t, 1) == 0);
    /* DATA_V2 with peer id 5 from a new outside port: the same session (float) */
    uint8_t d2[40];
    memset(d2, 0x77, sizeof(d2));
    d2[0] = (uint8_t)(OVPN_DATA_V2 << 3), d2[1] = 0, d2[2] = 0, d2[3] = 5;
    udp_pkt(&p, 30000000, c, 53043, s, 1194, d2, sizeof(d2));
    upd(&m, &p);
    o = table_get(m.tun->ovpn, &k, false);
    CHECK(o && o->changes_total == 1 && o->client.port == 53043);
    /* another peer id from a new port is not adopted */
    d2[3] = 6;
    udp_pkt(&p, 31000000, c, 60000, s, 1194, d2, sizeof(d2));
    upd(&m, &p);
    CHECK(tun_get(&m, c, 60000, s, 1194) == NULL);
    session_model_free(&m);
}

int main(void)
{
    test_decode_app();
    test_wg_session();
    test_unanswered_run();
    test_ovpn_session();
    return t_done();
}
