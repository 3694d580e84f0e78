/* handshake.c - handshake_no_response: WireGuard handshake initiations or OpenVPN hard resets
 * retried (>= 2 sends) with nothing from the other side since the first of them, up to the end
 * of the capture (tun_flow run_*). A WireGuard retry carries a new sender index, so the retries
 * are grouped by 5-tuple, not by index; an OpenVPN retry repeats its session id and packet id.
 * With two captures the outside tells whether the messages left the router. */
#include <stdio.h>
#include <string.h>

#include "det_util.h"
#include "vpnscope/session_tunnel.h"

#define MIN_SENDS 2
#define CONFIRM_SENDS 3

static bool unanswered(const struct tun_flow *t)
{
    return t->run_open && t->run_sends >= MIN_SENDS && (t->vpn == VPN_WG || t->vpn == VPN_OVPN);
}

/* An unanswered run towards the same server in the outside capture (two-capture mode). */
static const struct tun_flow *outside_run(const struct detect_ctx *c, const struct tun_flow *in)
{
    if (!du_two(c) || !c->outside || !c->outside->tun)
        return NULL;
    const struct table *tb = c->outside->tun->flows;
    for (uint32_t i = 0; i < table_slots(tb); i++) {
        const struct tun_flow *t = table_slot(tb, i, NULL);
        if (t && unanswered(t) && t->vpn == in->vpn && ip_addr_eq(&t->server.ip, &in->server.ip) &&
            t->server.port == in->server.port)
            return t;
    }
    return NULL;
}

static const char *what(const struct tun_flow *t)
{
    return t->vpn == VPN_WG ? "WireGuard handshake initiation(s)" : "OpenVPN hard reset(s)";
}

static void remedy(struct finding *f, const struct tun_flow *t)
{
    char s[DU_IPSTR];
    du_ip(&t->server.ip, s);
    if (t->vpn == VPN_WG)
        snprintf(f->remedy, FINDING_REMEDY_SIZE,
                 "Check that the WireGuard peer %s is up and listening on UDP %u (`wg show` there: "
                 "ListenPort), that its firewall and every one on the way accept UDP %u, that the "
                 "client's [Peer] Endpoint names it, and that the public keys match: WireGuard "
                 "silently drops an initiation it cannot authenticate.",
                 s, (unsigned)t->server.port, (unsigned)t->server.port);
    else
        snprintf(f->remedy, FINDING_REMEDY_SIZE,
                 "Check that the OpenVPN server %s runs and listens on %s %u (`proto` / `port` in "
                 "its configuration), that its firewall and every one on the way accept it, and "
                 "that the tls-auth / tls-crypt key and key-direction match the client's: the "
                 "server silently drops a reset whose HMAC does not verify.",
                 s, t->proto == IPP_TCP ? "TCP" : "UDP", (unsigned)t->server.port);
}

static void one(struct detect_ctx *c, const struct session_model *m, const struct tun_flow *t)
{
    uint8_t cap = du_cap(c, m);
    struct finding *f = finding_add(c->out, FINDING_HANDSHAKE_NO_RESPONSE, t->run_first_ts);
    if (!f)
        return;
    const struct tun_flow *out = m == c->inside ? outside_run(c, t) : NULL;
    f->confirmed = t->run_sends >= CONFIRM_SENDS || out != NULL;
    const struct endpoint *from = t->run_dir == 0 ? &t->client : &t->server;
    const struct endpoint *to = t->run_dir == 0 ? &t->server : &t->client;
    char a[DU_IPSTR], b[DU_IPSTR], t1[16], t2[16];
    uint64_t span = t->run_last_ts - t->run_first_ts;
    snprintf(f->summary, FINDING_SUMMARY_SIZE,
             "%u %s from %s:%u to %s:%u between %s and %s (%.1f s) got no reply: nothing "
             "came back from %s:%u after the first of them up to the end of the capture",
             (unsigned)t->run_sends, what(t), du_ipp(&from->ip, a), (unsigned)from->port,
             du_ipp(&to->ip, b), (unsigned)to->port, du_hms(t->run_first_ts, t1),
             du_hms(t->run_last_ts, t2), du_sec(span), b, (unsigned)to->port);
    if (t->vpn == VPN_WG)
        du_cat(f->summary, FINDING_SUMMARY_SIZE,
               " (each retry carries a new sender index; they are grouped by 5-tuple)");
    if (out)
        du_cat(f->summary, FINDING_SUMMARY_SIZE,
               ". The outside capture shows %u of them leaving the router with no reply either: "
               "the server or the path beyond the router does not answer",
               (unsigned)out->run_sends);
    else if (du_two(c) && m == c->inside)
        du_cat(f->summary, FINDING_SUMMARY_SIZE,
               ". The outside capture has none of them unanswered: look at the router");
    du_cat(f->summary, FINDING_SUMMARY_SIZE, ". The tunnel cannot come up.");
    remedy(f, t);
    du_session_endpoint(f, ROLE_CLIENT, &t->client);
    du_session_endpoint(f, ROLE_SERVER, &t->server);
    finding_ev_str(f, "protocol", t->vpn == VPN_WG ? "wireguard" : "openvpn");
    finding_ev_int(f, "sends", t->run_sends);
    finding_ev_ts(f, "first_ts", t->run_first_ts);
    finding_ev_ts(f, "last_ts", t->run_last_ts);
    finding_ev_seconds(f, "span_seconds", du_sec(span));
    if (out)
        finding_ev_int(f, "outside_sends", out->run_sends);
    for (unsigned k = 0; k < t->run_nframes && k < TUN_MAX_FRAMES; k++)
        finding_frame(f, cap, t->run_frames[k]);
    if (out)
        for (unsigned k = 0; k < out->run_nframes && k < TUN_MAX_FRAMES; k++)
            finding_frame(f, SIDE_OUTSIDE, out->run_frames[k]);
}

static void run(struct detect_ctx *c)
{
    /* two captures: the inside view, with the outside as evidence; one capture: that one */
    const struct session_model *m = du_two(c) ? c->inside : c->single;
    if (!m || !m->tun)
        return;
    const struct table *tb = m->tun->flows;
    for (uint32_t i = 0; i < table_slots(tb); i++) {
        const struct tun_flow *t = table_slot(tb, i, NULL);
        if (t && unanswered(t))
            one(c, m, t);
    }
}

const struct detector det_handshake_no_response = {
    .name = "handshake_no_response",
    .run = run,
    .emits = DETECT_KIND_BIT(FINDING_HANDSHAKE_NO_RESPONSE)};
