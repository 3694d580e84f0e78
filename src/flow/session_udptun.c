/* session_udptun.c - tunnel flows: the per 5-tuple part shared by WireGuard, OpenVPN and any
 * other UDP flow nDPI labels as a VPN (roles, data each way, idle gaps, unanswered handshake
 * runs), the dispatch to session_wg.c / session_ovpn.c, and the tunnel model's lifecycle. */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "session_int.h"
#include "vpnscope/decode.h"
#include "vpnscope/proto.h"
#include "vpnscope/session_tunnel.h"
#include "vpnscope/table.h"

static struct tunnel_model *tun_model(struct session_model *m)
{
    if (m->tun)
        return m->tun;
    struct tunnel_model *tm = calloc(1, sizeof(*tm));
    if (!tm)
        return NULL;
    tm->spark_slide_us = m->spark_slide_us;
    tm->flows =
        table_new(sizeof(struct flow_key), sizeof(struct tun_flow), session_cap(m, TUN_FLOW_MAX),
                  sess_spark_evicted, (void *)offsetof(struct tun_flow, spark));
    tm->wg =
        table_new(sizeof(struct wg_key), sizeof(struct wg_session), session_cap(m, WG_SESSION_MAX),
                  sess_spark_evicted, (void *)offsetof(struct wg_session, spark));
    tm->wg_idx = table_new(sizeof(uint32_t), sizeof(struct wg_key), session_cap(m, WG_INDEX_MAX),
                           NULL, NULL);
    tm->ovpn = table_new(sizeof(struct ovpn_key), sizeof(struct ovpn_session),
                         session_cap(m, OVPN_SESSION_MAX), sess_spark_evicted,
                         (void *)offsetof(struct ovpn_session, spark));
    tm->ovpn_peer = table_new(sizeof(struct ovpn_peer_key), sizeof(struct ovpn_key),
                              session_cap(m, OVPN_PEER_MAX), NULL, NULL);
    tm->ovpn_tcp = table_new(sizeof(struct flow_key), sizeof(struct ovpn_tcp_state),
                             session_cap(m, OVPN_TCP_MAX), NULL, NULL);
    m->tun = tm;
    if (!tm->flows || !tm->wg || !tm->wg_idx || !tm->ovpn || !tm->ovpn_peer || !tm->ovpn_tcp) {
        sess_tun_free(m);
        return NULL;
    }
    return tm;
}

void sess_tun_free(struct session_model *m)
{
    struct tunnel_model *tm = m->tun;
    if (!tm)
        return;
    sess_spark_free_all(tm->flows, offsetof(struct tun_flow, spark));
    sess_spark_free_all(tm->wg, offsetof(struct wg_session, spark));
    sess_spark_free_all(tm->ovpn, offsetof(struct ovpn_session, spark));
    table_free(tm->flows);
    table_free(tm->wg);
    table_free(tm->wg_idx);
    table_free(tm->ovpn);
    table_free(tm->ovpn_peer);
    table_free(tm->ovpn_tcp);
    free(tm);
    m->tun = NULL;
}

/* nDPI's label teaches a flow what it carries (a flow already running when the capture began
 * shows no handshake); a label nDPI only guessed from the port does not. */
static void learn_from_label(struct flow *f)
{
    if (f->hint != HINT_NONE || !f->classified || f->guessed || f->vpn != VPN_NONE)
        return;
    if (f->proto == IPP_UDP && strcmp(flow_app(f), "WireGuard") == 0)
        f->hint = HINT_WG;
    else if ((f->proto == IPP_UDP || f->proto == IPP_TCP) && strcmp(flow_app(f), "OpenVPN") == 0)
        f->hint = HINT_OVPN;
}

/* Who is the client, from the first tunnel packet of a flow: the sender of a WireGuard
 * initiation or an OpenVPN client reset, the receiver of a response / server reset, else the
 * sender of the flow's first packet. */
static void initial_roles(const struct session_model *m, struct tun_flow *t, const struct flow *f,
                          const struct pkt *p)
{
    bool to_client = false;
    bool known = false;
    if (p->vpn == VPN_WG && p->wg.ids_valid) {
        known = p->wg.type == 1 || p->wg.type == 2;
        to_client = p->wg.type == 2;
    } else if (p->vpn == VPN_OVPN && p->l4proto == IPP_UDP && p->ovpn.ids_valid) {
        uint8_t op = p->ovpn.opcode;
        known = op == 1 || op == 7 || op == 10 || op == 2 || op == 8;
        to_client = op == 2 || op == 8;
    } else if (p->vpn == VPN_OVPN && p->l4proto == IPP_TCP) {
        known = (p->tcp_flags & 0x12) == 0x02; /* SYN from the client */
    }
    if (!known) {
        t->client = flow_end(m, f, 0);
        t->server = flow_end(m, f, 1);
        return;
    }
    t->roles_known = true;
    struct endpoint s = {p->src, p->sport}, d = {p->dst, p->dport};
    t->client = to_client ? d : s;
    t->server = to_client ? s : d;
}

static struct tun_flow *tun_flow_get(const struct session_model *m, struct tunnel_model *tm,
                                     const struct flow *f, const struct pkt *p, uint8_t vpn,
                                     bool *created)
{
    struct flow_key k;
    session_flow_key(m, f, &k);
    struct tun_flow *t = table_put(tm->flows, &k, created);
    if (!t || !*created)
        return t;
    initial_roles(m, t, f, p);
    t->vpn = vpn;
    t->proto = f->proto;
    snprintf(t->app, sizeof(t->app), "%s", flow_app(f));
    t->first_ts = p->ts_us;
    t->first_frame = p->frame;
    if (vpn == VPN_NONE) {
        /* nDPI labels a flow after its first packets (this one included): they count too */
        for (int d = 0; d < 2; d++) {
            t->pkts[d] = f->pkts[d];
            t->data[d] = f->pkts[d];
        }
        t->last_ts = p->ts_us;
        t->last_frame = p->frame;
        t->first_ts = f->first_ts;
        t->first_frame = f->first_frame;
        session_flow_activity(f, &t->act);
    }
    return t;
}

void sess_tun_handshake(struct tun_flow *t, int cdir, const struct pkt *p)
{
    t->handshakes[cdir]++;
    if (!t->run_open || t->run_dir != (uint8_t)cdir) {
        t->run_open = true;
        t->run_dir = (uint8_t)cdir;
        t->run_sends = 0;
        t->run_first_ts = p->ts_us;
        t->run_nframes = 0;
    }
    t->run_sends++;
    t->run_last_ts = p->ts_us;
    if (t->run_nframes < TUN_MAX_FRAMES)
        t->run_frames[t->run_nframes++] = p->frame;
}

void sess_tun_data(struct tun_flow *t, int cdir, const struct pkt *p)
{
    t->data[cdir]++;
    if (t->n_data_frames[cdir] < TUN_MAX_FRAMES)
        t->data_frames[cdir][t->n_data_frames[cdir]++] = p->frame;
}

void sess_tun_change(struct tun_change *v, uint8_t *n, uint32_t *total, uint8_t who,
                     const struct endpoint *from, const struct endpoint *to, const struct pkt *p)
{
    (*total)++;
    if (*n >= TUN_MAX_CHANGES)
        return;
    struct tun_change *c = &v[(*n)++];
    c->who = who;
    c->from = *from;
    c->to = *to;
    c->ts = p->ts_us;
    c->frame = p->frame;
}

/*
 * A UDP flow nothing identified, whose first packets go to a known tunnel server with an
 * identifier of a known session: WireGuard transport data to an index a handshake established,
 * or an OpenVPN DATA_V2 with a peer id that server assigned. That is the same session from a new
 * 5-tuple (the NAT gave the client a new outside port, or the client roamed): the flow is
 * adopted (decided once per flow) and *copy holds the packet decoded as such.
 */
static bool is_handshake(const struct pkt *p)
{
    if (p->vpn == VPN_WG)
        return p->wg.type == WG_INITIATION;
    if (p->vpn == VPN_OVPN && p->l4proto == IPP_UDP)
        return p->ovpn.opcode == OVPN_HARD_RESET_CLIENT_V2 ||
               p->ovpn.opcode == OVPN_HARD_RESET_SERVER_V2 ||
               p->ovpn.opcode == OVPN_HARD_RESET_CLIENT_V1 ||
               p->ovpn.opcode == OVPN_HARD_RESET_SERVER_V1;
    return false;
}

/* Server packets after an idle gap, until the client speaks again (see struct tun_srun). */
static void stale_run(struct tun_flow *t, const struct pkt *p, int cdir)
{
    uint64_t idle = t->act.last_us && p->ts_us > t->act.last_us ? p->ts_us - t->act.last_us : 0;
    struct tun_srun *r = &t->run_cur;
    if (cdir == 0) {
        if (t->in_srun) {
            r->answered_ts = p->ts_us;
            if (r->n >= t->run_max.n)
                t->run_max = *r;
            t->in_srun = false;
        }
        return;
    }
    if (!t->in_srun && idle >= TUN_STALE_IDLE_US) {
        memset(r, 0, sizeof(*r));
        t->in_srun = true;
        r->gap_us = idle;
        r->first_ts = p->ts_us;
    }
    if (!t->in_srun)
        return;
    r->n++;
    r->last_ts = p->ts_us;
    if (is_handshake(p))
        r->handshakes++;
    if (r->nframes < TUN_MAX_FRAMES)
        r->frames[r->nframes++] = p->frame;
}

const struct pkt *sess_tun_adopt(struct session_model *m, const struct pkt *p, struct flow *f,
                                 struct pkt *copy)
{
    struct tunnel_model *tm = m->tun;
    if (!tm || p->vpn != VPN_NONE || p->l4proto != IPP_UDP || f->hint != HINT_NONE ||
        f->vpn != VPN_NONE || p->status != PKT_DECODED || !p->payload || p->payload_len < 4 ||
        f->pkts[0] + f->pkts[1] > 2)
        return p;
    uint32_t len = p->payload_len;
    if (wg_probe(p->payload, len, len) && p->payload[0] == WG_TRANSPORT) {
        struct rd r = rd_init(p->payload, len);
        struct wg_msg w;
        enum anomaly a;
        if (!wg_decode(&r, len, &w, &a) || !table_get(tm->wg_idx, &w.receiver, false))
            return p;
        *copy = *p;
        copy->vpn = VPN_WG;
        copy->wg = w;
        f->hint = HINT_WG;
        f->vpn = VPN_WG;
        return copy;
    }
    if (ovpn_probe(p->payload, len, len) == OVPN_PROBE_NO || (p->payload[0] >> 3) != OVPN_DATA_V2)
        return p;
    struct rd r = rd_init(p->payload, len);
    struct ovpn_msg o;
    enum anomaly a;
    if (!ovpn_decode(&r, len, NULL, &o, &a) || !o.has_peer_id)
        return p;
    struct ovpn_peer_key k;
    memset(&k, 0, sizeof(k));
    k.server = p->dst;
    k.port = p->dport;
    k.peer_id = o.peer_id;
    if (!table_get(tm->ovpn_peer, &k, false))
        return p;
    *copy = *p;
    copy->vpn = VPN_OVPN;
    copy->ovpn = o;
    copy->dirty |= PKT_DIRTY_OVPN; /* pkt.h: whoever writes ovpn sets the bit */
    f->hint = HINT_OVPN;
    f->vpn = VPN_OVPN;
    return copy;
}

void sess_tun_update(struct session_model *m, const struct pkt *p, struct flow *f, int dir)
{
    (void)dir;
    if (!f || (f->proto != IPP_UDP && f->proto != IPP_TCP))
        return;
    learn_from_label(f);
    uint8_t vpn = VPN_NONE;
    if (p->vpn == VPN_WG || p->vpn == VPN_OVPN) {
        vpn = (uint8_t)p->vpn;
        f->hint = vpn == VPN_WG ? HINT_WG : HINT_OVPN; /* decided per flow from now on */
    } else if (p->vpn != VPN_NONE || f->vpn != VPN_NONE || f->proto != IPP_UDP || !f->is_vpn ||
               f->hint != HINT_NONE)
        return; /* IKE, ESP, L2TP... have models of their own */
    struct tunnel_model *tm = tun_model(m);
    if (!tm)
        return;
    bool created = false;
    struct tun_flow *t = tun_flow_get(m, tm, f, p, vpn, &created);
    if (!t || (created && vpn == VPN_NONE))
        return;
    int cdir = ip_addr_eq(&p->src, &t->client.ip) && p->sport == t->client.port ? 0 : 1;
    if (t->run_open && t->run_dir != (uint8_t)cdir)
        t->run_open = false; /* the other side answered */
    t->pkts[cdir]++;
    t->last_ts = p->ts_us;
    t->last_frame = p->frame;
    if (t->pkts[0] && t->pkts[1])
        table_set_class(tm->flows, t, 1);
    stale_run(t, p, cdir);
    sess_activity_touch(&t->act, p->ts_us, p->frame);
    sess_spark_count(&t->spark, p->ts_us, (unsigned)cdir, m->spark_slide_us);
    if (vpn == VPN_WG) {
        sess_wg_update(tm, t, p, cdir);
    } else if (vpn == VPN_OVPN && p->l4proto == IPP_UDP) {
        sess_ovpn_udp(tm, t, p, cdir);
    } else if (vpn == VPN_OVPN) {
        struct flow_key k;
        session_flow_key(m, f, &k);
        sess_ovpn_tcp(m, t, p, &k, cdir);
    } else {
        sess_tun_data(t, cdir, p);
    }
}

const struct tun_flow *tunnel_flow_of(const struct session_model *m, const struct flow *f)
{
    if (!m->tun || !f)
        return NULL;
    struct flow_key k;
    session_flow_key(m, f, &k);
    return table_get(m->tun->flows, &k, false);
}

uint64_t tun_flow_keepalive_us(const struct tun_flow *t)
{
    return activity_keepalive_us(&t->act);
}

uint64_t tun_flow_payload(const struct tun_flow *t, int dir)
{
    uint64_t d = t->data[dir & 1];
    if (t->vpn == VPN_OVPN && t->min_data_len) {
        uint64_t s = t->small[dir & 1];
        d = d > s ? d - s : 0;
    }
    return d;
}

const char *tun_flow_name(const struct tun_flow *t)
{
    if (t->vpn == VPN_WG)
        return "WireGuard";
    if (t->vpn == VPN_OVPN)
        return "OpenVPN";
    return t->app[0] ? t->app : "UDP tunnel";
}
