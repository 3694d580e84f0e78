/* tunnel_one_way.c - tunnel_one_way: a WireGuard, OpenVPN or other (nDPI-labelled) UDP tunnel
 * whose data flows in one direction only. Data is WireGuard transport with a payload (not the
 * 32-byte keepalives), OpenVPN data packets other than the pings (the smallest data size), or any
 * packet of another tunnel. With two captures, the outside tells whether the missing direction
 * reached the router: then the router (or something on it) drops it. */
#include <stdio.h>
#include <string.h>

#include "det_util.h"
#include "vpnscope/session_tunnel.h"

#define MIN_DATA 3          /* WireGuard / OpenVPN data packets one way */
#define MIN_DATA_GENERIC 10 /* packets of a tunnel only nDPI's label identifies */

/* The direction that carries data alone (0 client -> server, 1 back), or -1. */
static int one_way_dir(const struct tun_flow *t)
{
    uint64_t d0 = tun_flow_payload(t, 0), d1 = tun_flow_payload(t, 1);
    uint64_t min = t->vpn == VPN_NONE ? MIN_DATA_GENERIC : MIN_DATA;
    if (d0 >= min && d1 == 0)
        return 0;
    if (d1 >= min && d0 == 0)
        return 1;
    return -1;
}

/* Data of direction dir seen in the outside capture on tunnel flows to the same server. */
static uint64_t outside_data(const struct detect_ctx *c, const struct tun_flow *in, int dir,
                             const struct tun_flow **first)
{
    *first = NULL;
    if (!du_two(c) || !c->outside || !c->outside->tun)
        return 0;
    uint64_t n = 0;
    const struct table *tb = c->outside->tun->flows;
    for (uint32_t i = 0; i < table_slots(tb); i++) {
        const struct tun_flow *t = table_slot(tb, i, NULL);
        if (!t || t->vpn != in->vpn || !ip_addr_eq(&t->server.ip, &in->server.ip) ||
            t->server.port != in->server.port)
            continue;
        uint64_t d = tun_flow_payload(t, dir);
        if (d && !*first)
            *first = t;
        n += d;
    }
    return n;
}

static void remedy(struct finding *f, const struct tun_flow *t, bool router)
{
    unsigned port = t->server.port;
    if (router)
        snprintf(f->remedy, FINDING_REMEDY_SIZE,
                 "The router drops the tunnel's packets of one direction: check its forward / "
                 "filter rules and any traffic shaping or DPI for UDP port %u (e.g. `nft list "
                 "ruleset`, `iptables -L FORWARD -v`), then %s",
                 port,
                 t->vpn == VPN_WG ? "AllowedIPs on both peers."
                                  : "the tunnel's routes (route / iroute / push).");
    else if (t->vpn == VPN_WG)
        snprintf(f->remedy, FINDING_REMEDY_SIZE,
                 "The handshake completes, so keys and endpoints are right; the other direction's "
                 "data is lost. Check AllowedIPs on the receiving peer (WireGuard drops a packet "
                 "whose inner source is outside the sender's AllowedIPs), IP forwarding and the "
                 "firewall on the peer that does not answer, and rules for UDP %u on the way "
                 "(capture outside the router too: --inside/--outside).",
                 port);
    else if (t->vpn == VPN_OVPN)
        snprintf(f->remedy, FINDING_REMEDY_SIZE,
                 "The control channel works; the other direction's data is lost. Check the "
                 "server's route / iroute / push \"route\" settings, IP forwarding and the "
                 "firewall on the tun interface of the side that does not answer, and rules for "
                 "port %u on the way (capture outside the router too: --inside/--outside).",
                 port);
    else
        snprintf(f->remedy, FINDING_REMEDY_SIZE,
                 "Check that the tunnel's server answers on UDP %u and that no firewall or NAT on "
                 "the way drops the return direction (capture outside the router too: "
                 "--inside/--outside).",
                 port);
}

static void one(struct detect_ctx *c, const struct session_model *m, const struct tun_flow *t,
                int dir)
{
    uint8_t cap = du_cap(c, m);
    const struct tun_flow *out = NULL;
    uint64_t lost = m == c->inside ? outside_data(c, t, !dir, &out) : 0;
    struct finding *f = finding_add(c->out, FINDING_TUNNEL_ONE_WAY, t->first_ts);
    if (!f)
        return;
    f->confirmed = lost > 0;
    const struct endpoint *from = dir == 0 ? &t->client : &t->server;
    const struct endpoint *to = dir == 0 ? &t->server : &t->client;
    char a[DU_IPSTR], b[DU_IPSTR];
    snprintf(f->summary, FINDING_SUMMARY_SIZE,
             "The %s tunnel between %s:%u and %s:%u carries data one way only: %llu data "
             "packet(s) %s -> %s, none back",
             tun_flow_name(t), du_ipp(&from->ip, a), (unsigned)from->port, du_ipp(&to->ip, b),
             (unsigned)to->port, (unsigned long long)tun_flow_payload(t, dir),
             dir == 0 ? "client" : "server", dir == 0 ? "server" : "client");
    if (t->vpn == VPN_WG && t->handshakes[0] + t->handshakes[1])
        du_cat(f->summary, FINDING_SUMMARY_SIZE, " (handshakes completed: %llu initiation(s))",
               (unsigned long long)(t->handshakes[0] + t->handshakes[1]));
    if (lost)
        du_cat(f->summary, FINDING_SUMMARY_SIZE,
               ". The outside capture has %llu data packet(s) of the other direction: they "
               "reached the router and died there",
               (unsigned long long)lost);
    du_cat(f->summary, FINDING_SUMMARY_SIZE, ".");
    remedy(f, t, lost > 0);
    du_session_endpoint(f, ROLE_CLIENT, &t->client);
    du_session_endpoint(f, ROLE_SERVER, &t->server);
    finding_ev_str(f, "protocol", tun_flow_name(t));
    finding_ev_str(f, "direction", dir == 0 ? "to_server" : "to_client");
    finding_ev_int(f, "data_packets", (int64_t)tun_flow_payload(t, dir));
    finding_ev_int(f, "data_packets_back", 0);
    if (du_two(c) && m == c->inside)
        finding_ev_int(f, "outside_data_packets_back", (int64_t)lost);
    finding_ev_ts(f, "first_ts", t->first_ts);
    finding_ev_ts(f, "last_ts", t->last_ts);
    for (unsigned k = 0; k < t->n_data_frames[dir] && k < TUN_MAX_FRAMES; k++)
        finding_frame(f, cap, t->data_frames[dir][k]);
    if (out)
        for (unsigned k = 0; k < out->n_data_frames[!dir] && k < TUN_MAX_FRAMES; k++)
            finding_frame(f, SIDE_OUTSIDE, out->data_frames[!dir][k]);
}

static void run(struct detect_ctx *c)
{
    const struct session_model *m = du_two(c) ? c->inside : c->single;
    if (!m || !m->tun)
        return;
    const struct table *tb = m->tun->flows;
    for (uint32_t i = 0; i < table_slots(tb); i++) {
        const struct tun_flow *t = table_slot(tb, i, NULL);
        int dir = t ? one_way_dir(t) : -1;
        if (dir >= 0)
            one(c, m, t, dir);
    }
}

const struct detector det_tunnel_one_way = {
    .name = "tunnel_one_way", .run = run, .emits = DETECT_KIND_BIT(FINDING_TUNNEL_ONE_WAY)};
