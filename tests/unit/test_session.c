/* test_session.c - the session model from hand-made decoded packets: IKE SA creation and
 * retransmissions, unanswered requests per side, NAT-D verdicts (real NAT, forced encapsulation,
 * undecided), ESP sequence gaps/replays/restarts and pairing, the PPTP call state machine. */
#include <gcrypt.h>
#include <string.h>

#include "t.h"
#include "vpnscope/decode.h"
#include "vpnscope/proto.h"
#include "vpnscope/session.h"
#include "vpnscope/table.h"

static struct ip_addr A4(int a, int b, int c, int d) {
    struct ip_addr x;
    memset(&x, 0, sizeof(x));
    x.v = 4;
    x.a[0] = (uint8_t)a, x.a[1] = (uint8_t)b, x.a[2] = (uint8_t)c, x.a[3] = (uint8_t)d;
    return x;
}

static void
udp_pkt(struct pkt *p, uint64_t ts, struct ip_addr s, uint16_t sp, struct ip_addr d, uint16_t dp)
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
    p->ip_len = 100;
    p->status = PKT_DECODED;
}

/* SHA-1(SPIi | SPIr | IP | port) as IKEv2 puts it in NAT_DETECTION_*_IP */
static void natd(struct ike_natd *n, int kind, uint64_t ispi, uint64_t rspi, struct ip_addr ip,
                 uint16_t port)
{
    uint8_t b[22];
    for (int i = 0; i < 8; i++) {
        b[i] = (uint8_t)(ispi >> (56 - 8 * i));
        b[8 + i] = (uint8_t)(rspi >> (56 - 8 * i));
    }
    memcpy(b + 16, ip.a, 4);
    b[20] = (uint8_t)(port >> 8), b[21] = (uint8_t)port;
    n->kind = (uint8_t)kind;
    n->len = 20;
    gcry_md_hash_buffer(GCRY_MD_SHA1, n->h, b, sizeof(b));
}

/* IKE_SA_INIT request and response as seen at one capture point. init_seen: the initiator's
 * address here; init_real: the one it hashed (its own); resp_view: what the responder saw. */
static const struct ike_sa *sa_init(struct session_model *m, uint64_t ispi,
                                    struct ip_addr init_seen, struct ip_addr init_hashed,
                                    struct ip_addr resp_view, struct ip_addr server)
{
    struct pkt p;
    const uint64_t rspi = 0x5e5e5e5e00000001ull;
    udp_pkt(&p, 1000000, init_seen, 500, server, 500);
    p.vpn = VPN_IKE;
    p.ike.ispi = ispi, p.ike.version = 2, p.ike.exch = 34, p.ike.initiator = true;
    p.ike.n_natd = 2;
    natd(&p.ike.natd[0], IKE_NATD_V2_SRC, ispi, 0, init_hashed, 500);
    natd(&p.ike.natd[1], IKE_NATD_V2_DST, ispi, 0, server, 500);
    uint8_t body[1] = {1};
    p.payload = body, p.payload_len = 1;
    int dir;
    {
        struct flow *f = session_flow(m, &p, &dir);
        session_update(m, &p, f, dir);
    }
    udp_pkt(&p, 1010000, server, 500, init_seen, 500);
    p.vpn = VPN_IKE;
    p.ike.ispi = ispi, p.ike.rspi = rspi, p.ike.version = 2, p.ike.exch = 34, p.ike.response = true;
    p.ike.n_natd = 2;
    natd(&p.ike.natd[0], IKE_NATD_V2_SRC, ispi, rspi, server, 500);
    natd(&p.ike.natd[1], IKE_NATD_V2_DST, ispi, rspi, resp_view, 500);
    uint8_t body2[1] = {2};
    p.payload = body2, p.payload_len = 1;
    {
        struct flow *f = session_flow(m, &p, &dir);
        session_update(m, &p, f, dir);
    }
    struct ike_sa_key k;
    memset(&k, 0, sizeof(k));
    k.ispi = ispi, k.version = 2;
    return table_get(m->ike, &k, false);
}

static void esp(struct session_model *m, uint64_t ts, struct ip_addr s, struct ip_addr d,
                uint32_t spi, uint32_t seq)
{
    struct pkt p;
    udp_pkt(&p, ts, s, 0, d, 0);
    p.l4proto = 50, p.has_ports = false, p.sport = p.dport = 0;
    p.vpn = VPN_ESP, p.esp.spi = spi, p.esp.seq = seq;
    int dir;
    {
        struct flow *f = session_flow(m, &p, &dir);
        session_update(m, &p, f, dir);
    }
}

static void pptp(struct session_model *m, bool from_client, uint16_t type, uint16_t cid,
                 uint16_t peer, uint8_t res)
{
    struct pkt p;
    struct ip_addr c = A4(192, 168, 1, 11), s = A4(203, 0, 113, 10);
    if (from_client)
        udp_pkt(&p, 2000000, c, 40000, s, PORT_PPTP);
    else
        udp_pkt(&p, 2000000, s, PORT_PPTP, c, 40000);
    p.l4proto = 6, p.vpn = VPN_PPTP;
    p.pptp.msg_type = 1, p.pptp.ctrl_type = type;
    p.pptp.call_id = cid, p.pptp.peer_call_id = peer, p.pptp.result = res;
    int dir;
    {
        struct flow *f = session_flow(m, &p, &dir);
        session_update(m, &p, f, dir);
    }
}

static uint64_t udp_at_frame; /* the frame udp_at() sent last */

static struct flow *udp_at(struct session_model *m, uint64_t ts, struct ip_addr s, uint16_t sp,
                           struct ip_addr d, uint16_t dp, int *dir)
{
    struct pkt p;
    udp_pkt(&p, ts, s, sp, d, dp);
    udp_at_frame = p.frame;
    struct flow *f = session_flow(m, &p, dir);
    session_update(m, &p, f, *dir);
    return f;
}

static bool ep_is(struct endpoint e, struct ip_addr ip, uint16_t port)
{
    return ip_addr_eq(&e.ip, &ip) && e.port == port;
}

/* A flow's endpoints come from its table key in the order of its first packet (whichever end of
 * the key sent it); its idle gaps are kept longest first whatever room they were given. */
static void test_flow_ends_and_gaps(void)
{
    struct session_model m;
    struct ip_addr cli = A4(192, 168, 1, 11), srv = A4(203, 0, 113, 10);
    CHECK_EQ(session_model_init(&m, SIDE_SINGLE), 0);
    int dir = -1;
    /* first packet from the key's b end (203.0.113.10 sorts after 192.168.1.11) */
    struct flow *f = udp_at(&m, 1000000, srv, 4500, cli, 4500, &dir);
    CHECK(f && f->rev && dir == 0);
    CHECK(f && ep_is(flow_end(&m, f, 0), srv, 4500) && ep_is(flow_end(&m, f, 1), cli, 4500));
    f = udp_at(&m, 1100000, cli, 4500, srv, 4500, &dir);
    CHECK(f && dir == 1 && f->pkts[0] == 1 && f->pkts[1] == 1);
    struct flow_key k;
    if (f)
        session_flow_key(&m, f, &k);
    CHECK(f && ip_addr_eq(&k.a, &cli) && ip_addr_eq(&k.b, &srv) && k.proto == 17);
    /* first packet from the key's a end */
    f = udp_at(&m, 1000000, cli, 40000, srv, 1194, &dir);
    CHECK(f && !f->rev && dir == 0);
    CHECK(f && ep_is(flow_end(&m, f, 0), cli, 40000) && ep_is(flow_end(&m, f, 1), srv, 1194));
    CHECK(udp_at(&m, 1000001, srv, 1194, cli, 40000, &dir) == f && dir == 1);
    /* both ends alike: every packet goes forward */
    f = udp_at(&m, 1000000, cli, 7, cli, 7, &dir);
    CHECK(f && dir == 0 && ep_is(flow_end(&m, f, 1), cli, 7));
    CHECK(udp_at(&m, 1000001, cli, 7, cli, 7, &dir) == f && dir == 0);

    /* idle gaps (s): 2, 5, 3, 7, 1.5, 4 -> the four longest 7, 5, 4, 3 */
    static const uint64_t len[6] = {2000000, 5000000, 3000000, 7000000, 1500000, 4000000};
    static const unsigned n_after[6] = {1, 2, 3, 4, 4, 4};
    uint64_t t = 100000000, start[6], frame[6];
    f = udp_at(&m, t, cli, 5000, srv, 5000, &dir);
    CHECK(f && flow_act(f)->n_gaps == 0);
    for (int i = 0; i < 6 && f; i++) {
        start[i] = t;
        t += len[i];
        f = udp_at(&m, t, i % 2 ? srv : cli, 5000, i % 2 ? cli : srv, 5000, &dir);
        frame[i] = udp_at_frame;
        CHECK(f && flow_act(f)->n_gaps == n_after[i]);
        f = udp_at(&m, t + 500000, cli, 5000, srv, 5000, &dir); /* no gap: 0.5 s */
        t += 500000;
    }
    static const int want[4] = {3, 1, 5, 2}; /* gap indexes, longest first */
    const struct idle_gaps *g = f ? flow_act(f) : NULL;
    for (int i = 0; g && i < 4; i++)
        CHECK(g->gaps[i].start_us == start[want[i]] &&
              g->gaps[i].end_us == start[want[i]] + len[want[i]] &&
              g->gaps[i].frame_after == frame[want[i]]);
    struct activity a;
    if (f)
        session_flow_activity(f, &a);
    CHECK(f && a.n_gaps == 4 && a.last_us == t && g &&
          memcmp(a.gaps, g->gaps, sizeof(a.gaps)) == 0);
    /* a keepalive grows the gaps into a whole activity: the gaps stay */
    struct pkt p;
    udp_pkt(&p, t + 100000, cli, 5000, srv, 5000);
    p.vpn = VPN_NATT_KEEPALIVE;
    f = session_flow(&m, &p, &dir);
    session_update(&m, &p, f, dir);
    CHECK(f && f->act_ka && flow_ka(f)->ka_count == 1 && flow_act(f)->n_gaps == 4);
    CHECK(f && memcmp(flow_act(f)->gaps, a.gaps, sizeof(a.gaps)) == 0);
    session_model_free(&m);
}

int main(void)
{
    gcry_check_version(NULL);
    test_flow_ends_and_gaps();
    struct ip_addr cli = A4(192, 168, 1, 11), pub = A4(203, 0, 113, 1), srv = A4(203, 0, 113, 10);
    struct ip_addr rnd = A4(10, 99, 99, 99), pubcli = A4(198, 51, 100, 11);

    /* NAT-D: inside a real NAT (the responder saw the public address) */
    struct session_model m;
    CHECK_EQ(session_model_init(&m, SIDE_SINGLE), 0);
    const struct ike_sa *sa = sa_init(&m, 0x1111, cli, cli, pub, srv);
    CHECK(sa && sa->natd.present);
    CHECK(sa && sa->natd.nat_initiator == 1 && sa->natd.forced_encap == 0 &&
          sa->natd.nat_responder == 0);
    /* outside the same NAT: initiator hash made from the inside address -> NAT or forced
     * (undecided) */
    sa = sa_init(&m, 0x2222, pub, cli, pub, srv);
    CHECK(sa && sa->natd.nat_initiator == 1 && sa->natd.forced_encap == -1);
    /* inside, random source hash and the responder saw the NAT: NAT + forced encapsulation */
    sa = sa_init(&m, 0x3333, cli, rnd, pub, srv);
    CHECK(sa && sa->natd.nat_initiator == 1 && sa->natd.forced_encap == 1);
    /* private client, no NAT (responder saw the same address), random hash: forced, no NAT */
    sa = sa_init(&m, 0x4444, cli, rnd, cli, srv);
    CHECK(sa && sa->natd.nat_initiator == 0 && sa->natd.forced_encap == 1);
    /* public client, no NAT, random hash: cannot tell from one capture */
    sa = sa_init(&m, 0x5555, pubcli, rnd, pubcli, srv);
    CHECK(sa && sa->natd.nat_initiator == 1 && sa->natd.forced_encap == -1);
    /* no NAT at all, genuine hashes */
    sa = sa_init(&m, 0x6666, pubcli, pubcli, pubcli, srv);
    CHECK(sa && sa->natd.nat_initiator == 0 && sa->natd.forced_encap == 0 &&
          sa->natd.nat_responder == 0);
    CHECK(sa && sa->packets == 2 && sa->pkts_from_init == 1 && sa->pkts_from_resp == 1);
    CHECK(sa && sa->initiator.port == 500 && sa->n_exch == 1 && sa->exch_count[0] == 2);
    session_model_free(&m);

    /* the capture side: NAT beyond the capture point -> inside; translated source -> outside */
    CHECK_EQ(session_model_init(&m, SIDE_SINGLE), 0);
    sa_init(&m, 0x1111, cli, cli, pub, srv);
    session_finish(&m);
    CHECK_EQ(m.side_inferred, SIDE_INSIDE);
    session_model_free(&m);
    CHECK_EQ(session_model_init(&m, SIDE_SINGLE), 0);
    sa_init(&m, 0x2222, pub, cli, pub, srv);
    session_finish(&m);
    CHECK_EQ(m.side_inferred, SIDE_OUTSIDE);
    session_model_free(&m);

    /* retransmissions and an unanswered request of the responder (DPD after the NAT moved) */
    CHECK_EQ(session_model_init(&m, SIDE_SINGLE), 0);
    sa = sa_init(&m, 0x7777, cli, cli, pub, srv);
    uint8_t dpd[4] = {9, 9, 9, 9};
    for (int i = 0; i < 3; i++) {
        struct pkt p;
        udp_pkt(&p, 5000000 + (uint64_t)i * 1000000, srv, 4500, cli, 4500);
        p.vpn = VPN_IKE, p.nonesp_marker = true;
        p.ike.ispi = 0x7777, p.ike.rspi = 0x5e5e5e5e00000001ull, p.ike.version = 2, p.ike.exch = 37;
        p.ike.msgid = 0;
        p.payload = dpd, p.payload_len = sizeof(dpd);
        int dir;
        struct flow *f = session_flow(&m, &p, &dir);
        session_update(&m, &p, f, dir);
    }
    struct ike_sa_key k;
    memset(&k, 0, sizeof(k));
    k.ispi = 0x7777, k.version = 2;
    sa = table_get(m.ike, &k, false);
    CHECK(sa && sa->retransmissions == 2);
    CHECK(sa && sa->max_unanswered_sends == 3 && sa->unanswered_dir == 1 &&
          sa->unanswered_nframes == 3);
    CHECK(sa && sa->nat_t && sa->natt_initiator.port == 4500);
    CHECK_EQ(m.c.anomalies[ANOM_IKE_RETRANSMISSION], 2);
    /* the answer clears it */
    {
        struct pkt p;
        udp_pkt(&p, 9000000, cli, 4500, srv, 4500);
        p.vpn = VPN_IKE, p.nonesp_marker = true;
        p.ike.ispi = 0x7777, p.ike.rspi = 0x5e5e5e5e00000001ull, p.ike.version = 2, p.ike.exch = 37;
        p.ike.response = true, p.ike.initiator = true;
        p.payload = dpd, p.payload_len = 2;
        int dir;
        struct flow *f = session_flow(&m, &p, &dir);
        session_update(&m, &p, f, dir);
    }
    sa = table_get(m.ike, &k, false);
    CHECK(sa && sa->max_unanswered_sends == 0 && !sa->pend[1].open);

    /* ESP: in order, a gap, a replay, a restart; pairing and the parent IKE SA */
    esp(&m, 6000000, cli, srv, 0xa001, 1);
    esp(&m, 6100000, cli, srv, 0xa001, 2);
    esp(&m, 6200000, cli, srv, 0xa001, 5); /* 3 and 4 missing */
    esp(&m, 6300000, cli, srv, 0xa001, 4); /* replay (or reordered) */
    for (uint32_t q = 6; q <= 20; q++)
        esp(&m, 6300000 + q * 1000, cli, srv, 0xa001, q);
    esp(&m, 7000000, cli, srv, 0xa001, 1);                 /* the SA restarted */
    esp(&m, 7100000, srv, cli, 0xb001, 1);                 /* return SA */
    esp(&m, 7200000, cli, A4(203, 0, 113, 20), 0xc001, 1); /* one-way, other server */
    session_finish(&m);
    struct ipsec_sa_key ek;
    memset(&ek, 0, sizeof(ek));
    ek.src = cli, ek.dst = srv, ek.spi = 0xa001, ek.proto = 50;
    const struct ipsec_sa *es = table_get(m.ipsec, &ek, false);
    CHECK(es && es->packets == 20 && es->seq_gaps == 2 && es->replays == 1 && es->restarts == 1);
    CHECK(es && es->first_seq == 1 && es->paired);
    const struct ike_sa *parent = es ? session_ike_for_ipsec(&m, es) : NULL;
    CHECK(parent && parent->ispi == 0x7777);
    ek.dst = A4(203, 0, 113, 20), ek.spi = 0xc001;
    es = table_get(m.ipsec, &ek, false);
    CHECK(es && !es->paired);
    uint32_t it = 0;
    int between = 0;
    while (session_ipsec_between(&m, &cli, &srv, &it))
        between++;
    CHECK_EQ(between, 2);
    session_model_free(&m);

    /* PPTP: session and an outgoing call, then disconnect; a reply without its request */
    CHECK_EQ(session_model_init(&m, SIDE_SINGLE), 0);
    pptp(&m, true, 1, 0, 0, 0);            /* SCCRQ */
    pptp(&m, false, 2, 0, 0, 1);           /* SCCRP ok */
    pptp(&m, true, 7, 0x4000, 0, 0);       /* OCRQ: client's call id */
    pptp(&m, false, 8, 0x0123, 0x4000, 1); /* OCRP: server's id, peer = client's */
    const struct pptp_ctrl *c = NULL;
    for (uint32_t i = 0; i < table_slots(m.pptp) && !c; i++)
        c = table_slot(m.pptp, i, NULL);
    CHECK(c && c->state == PPTP_SESS_CONFIRMED && c->n_calls == 1);
    CHECK(c && c->calls[0].call_id == 0x4000 && c->calls[0].has_peer &&
          c->calls[0].peer_call_id == 0x0123);
    CHECK(c && c->calls[0].state == PPTP_CALL_OUT_CONF);
    CHECK_STR(pptp_call_state_name(c ? c->calls[0].state : 0), "established");
    pptp(&m, false, 13, 0x0123, 0, 0); /* CDN with the server's call id */
    CHECK(c && c->calls[0].state == PPTP_CALL_DISCONNECTED);
    CHECK_EQ(m.c.anomalies[ANOM_PPTP_BAD_TRANSITION], 0);
    pptp(&m, false, 8, 0x0999, 0x7777, 1); /* OCRP for a call never requested */
    CHECK_EQ(m.c.anomalies[ANOM_PPTP_BAD_TRANSITION], 1);
    session_model_free(&m);
    return t_done();
}
