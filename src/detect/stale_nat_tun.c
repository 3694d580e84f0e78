/* stale_nat_tun.c - stale_nat for WireGuard and OpenVPN: the remedy names the tunnel software's
 * knob (wg-quick PersistentKeepalive, OpenVPN keepalive) and, with one capture taken outside
 * the NAT, the evidence is the server's packets after an idle gap that nothing answered on that
 * 5-tuple, followed by the client coming back from a new outside port (the same session: a
 * WireGuard endpoint change or an OpenVPN float) or a new session / a handshake storm. */
#include <stdio.h>
#include <string.h>

#include "stale_nat.h"
#include "vpnscope/session_tunnel.h"
#include "vpnscope/tunnel.h"

#define SURVIVED_MIN_US 5000000ull /* a survived gap this long bounds the suggested period */
#define ANSWER_LATE_US 2000000ull  /* an answer this late did not come from a live mapping */

/* A keepalive period below a timeout that lies between surv (survived, 0 unknown) and lost. */
static unsigned ka_suggest(uint64_t lost_us, uint64_t surv_us)
{
    /* a short gap survived says little about the timeout: the lost one bounds it then */
    double lim = du_sec(surv_us >= SURVIVED_MIN_US ? surv_us : lost_us);
    double ka = lim / 2;
    if (ka > 25)
        ka = 25;
    return ka < 1 ? 1 : (unsigned)ka;
}

void stale_tunnel_remedy(struct finding *f, uint8_t vpn, uint64_t lost_us, uint64_t surv_us)
{
    unsigned ka = ka_suggest(lost_us, surv_us);
    char bound[96];
    if (surv_us && lost_us)
        snprintf(bound, sizeof(bound), "between %.1f s (survived) and %.1f s (lost) here",
                 du_sec(surv_us), du_sec(lost_us));
    else
        snprintf(bound, sizeof(bound), "below %.1f s here", du_sec(lost_us));
    if (vpn == VPN_WG)
        snprintf(f->remedy, FINDING_REMEDY_SIZE,
                 "Set `PersistentKeepalive = %u` in the client's [Peer] section (wg-quick): "
                 "WireGuard sends no keepalive by default, and the router's UDP mapping timeout "
                 "is %s. Or lengthen that timeout (Linux: nf_conntrack_udp_timeout_stream).",
                 ka, bound);
    else
        snprintf(f->remedy, FINDING_REMEDY_SIZE,
                 "Set `keepalive %u %u` on the OpenVPN server (it pushes ping %u / ping-restart "
                 "%u to clients): the router's UDP mapping timeout is %s. Or lengthen that "
                 "timeout (Linux: nf_conntrack_udp_timeout_stream).",
                 ka, ka * 6, ka, ka * 6, bound);
}

/* Replaces the IPsec wording of the shared summary text for a tunnel of another software. */
static void summary_tunnel_words(struct finding *f, const struct tun_flow *t)
{
    static const char from[] = "No NAT-T keepalives were seen on this tunnel.";
    char *p = strstr(f->summary, from);
    if (!p)
        return;
    char rest[FINDING_SUMMARY_SIZE];
    snprintf(rest, sizeof(rest), "%s", p + sizeof(from) - 1);
    uint64_t ka = t->act.ka_ivl_n >= 2 ? tun_flow_keepalive_us(t) : 0;
    char words[160];
    if (t->vpn == VPN_WG && ka)
        snprintf(words, sizeof(words),
                 "WireGuard keepalives ran every %.1f s but did not cover the idle period.",
                 du_sec(ka));
    else if (t->vpn == VPN_WG)
        snprintf(words, sizeof(words),
                 "No WireGuard keepalives (PersistentKeepalive) were seen on this tunnel.");
    else if (ka)
        snprintf(words, sizeof(words), "OpenVPN pings ran every %.1f s before the idle period.",
                 du_sec(ka));
    else
        snprintf(words, sizeof(words), "No OpenVPN pings (keepalive) were seen on this tunnel.");
    *p = '\0';
    du_cat(f->summary, FINDING_SUMMARY_SIZE, "%s%s", words, rest);
}

struct comeback;
static void find_comeback(const struct session_model *m, const struct tun_flow *t,
                          struct comeback *cb);
static bool two_comeback(struct detect_ctx *c, struct finding *f, const struct tun_flow *t,
                         const struct endpoint *old_out);

void stale_tunnel_two(struct detect_ctx *c, struct finding *f, const struct flow *inside_flow,
                      const struct endpoint *old_out, uint64_t lost_us, uint64_t surv_us)
{
    const struct tun_flow *t = tunnel_flow_of(c->inside, inside_flow);
    if (!t || (t->vpn != VPN_WG && t->vpn != VPN_OVPN))
        return;
    summary_tunnel_words(f, t);
    if (two_comeback(c, f, t, old_out)) {
        /* the session is named */
    } else if (t->vpn == VPN_WG && t->wg_i_idx) {
        char a[WG_INDEX_STR_LEN], b[WG_INDEX_STR_LEN];
        du_cat(f->summary, FINDING_SUMMARY_SIZE, " Latest WireGuard session on it: %s / %s.",
               wg_index_str(t->wg_i_idx, a, sizeof(a)), wg_index_str(t->wg_r_idx, b, sizeof(b)));
    } else if (t->vpn == VPN_OVPN && t->has_ovpn) {
        char a[OVPN_SID_STR_LEN];
        du_cat(f->summary, FINDING_SUMMARY_SIZE, " OpenVPN session %s.",
               ovpn_sid_str(t->ovpn_csid, a, sizeof(a)));
    }
    stale_tunnel_remedy(f, t->vpn, lost_us, surv_us);
    finding_ev_str(f, "protocol", tun_flow_name(t));
}

/* ---- one capture, outside the NAT ---- */

/* The run of server packets that shows a lost mapping, or NULL. */
static const struct tun_srun *dead_run(const struct tun_flow *t)
{
    const struct tun_srun *r =
        t->in_srun && t->run_cur.n >= t->run_max.n ? &t->run_cur : &t->run_max;
    if (r->n < 2)
        return NULL; /* one packet (a passive keepalive, a ping) is answered by the next one */
    if (r->answered_ts && r->answered_ts - r->first_ts < ANSWER_LATE_US)
        return NULL; /* the client answered at once: the mapping was alive */
    return r;
}

/* Longest idle gap of the flow the mapping survived (shorter than the one it lost). */
static uint64_t survived(const struct tun_flow *t, uint64_t lost)
{
    uint64_t s = 0;
    for (unsigned i = 0; i < t->act.n_gaps && i < GAPS_PER_TUNNEL; i++) {
        uint64_t g = t->act.gaps[i].end_us - t->act.gaps[i].start_us;
        if (g < lost && g > s)
            s = g;
    }
    return s;
}

struct comeback {
    bool moved, new_session;
    struct endpoint to;
    uint64_t ts, frame;
    char id[64];
};

/* The client came back from another 5-tuple: a WireGuard endpoint change or an OpenVPN float away
 * from t's client endpoint, or a new OpenVPN session from the same address. */
static void find_comeback(const struct session_model *m, const struct tun_flow *t,
                          struct comeback *cb)
{
    memset(cb, 0, sizeof(*cb));
    const struct tunnel_model *tm = m->tun;
    for (uint32_t i = 0; t->vpn == VPN_WG && i < table_slots(tm->wg) && !cb->moved; i++) {
        const struct wg_session *s = table_slot(tm->wg, i, NULL);
        for (unsigned k = 0; s && k < s->n_changes && k < TUN_MAX_CHANGES; k++) {
            const struct tun_change *ch = &s->changes[k];
            if (ip_addr_eq(&ch->from.ip, &t->client.ip) && ch->from.port == t->client.port) {
                char a[WG_INDEX_STR_LEN], b[WG_INDEX_STR_LEN];
                cb->moved = true;
                cb->to = ch->to;
                cb->ts = ch->ts;
                cb->frame = ch->frame;
                snprintf(cb->id, sizeof(cb->id), "WireGuard session %s/%s",
                         wg_index_str(s->i_idx, a, sizeof(a)),
                         wg_index_str(s->r_idx, b, sizeof(b)));
                break;
            }
        }
    }
    for (uint32_t i = 0; t->vpn == VPN_OVPN && i < table_slots(tm->ovpn) && !cb->moved; i++) {
        const struct ovpn_session *s = table_slot(tm->ovpn, i, NULL);
        if (!s)
            continue;
        char a[OVPN_SID_STR_LEN];
        for (unsigned k = 0; k < s->n_changes && k < TUN_MAX_CHANGES; k++) {
            const struct tun_change *ch = &s->changes[k];
            if (ch->who == 0 && ip_addr_eq(&ch->from.ip, &t->client.ip) &&
                ch->from.port == t->client.port) {
                cb->moved = true;
                cb->to = ch->to;
                cb->ts = ch->ts;
                cb->frame = ch->frame;
                snprintf(cb->id, sizeof(cb->id), "OpenVPN session %s (peer id float)",
                         ovpn_sid_str(s->client_sid, a, sizeof(a)));
                break;
            }
        }
        if (!cb->moved && !cb->new_session && ip_addr_eq(&s->client.ip, &t->client.ip) &&
            s->client.port != t->client.port && ip_addr_eq(&s->server.ip, &t->server.ip) &&
            s->first_ts > t->first_ts) {
            cb->new_session = true;
            cb->to = s->client;
            cb->ts = s->first_ts;
            cb->frame = s->first_frame;
            snprintf(cb->id, sizeof(cb->id), "a new OpenVPN session %s",
                     ovpn_sid_str(s->client_sid, a, sizeof(a)));
        }
    }
}

/* NAT correlation: the outside capture shows the client's session continuing from another outside
 * port (the same session) or a new session of the same client. */
static bool two_comeback(struct detect_ctx *c, struct finding *f, const struct tun_flow *t,
                         const struct endpoint *old_out)
{
    if (!c->outside || !c->outside->tun)
        return false;
    struct tun_flow probe = *t;
    probe.client = *old_out;
    struct comeback cb;
    find_comeback(c->outside, &probe, &cb);
    static const char newpeer[] = ", so the server sees a new peer.";
    char *np = strstr(f->summary, newpeer);
    if (cb.moved && np) {
        /* the tunnel follows its peer: the server does not see a new one */
        memmove(np + 1, np + sizeof(newpeer) - 1, strlen(np + sizeof(newpeer) - 1) + 1);
        *np = '.';
    }
    if (cb.moved)
        du_cat(f->summary, FINDING_SUMMARY_SIZE, " Outside, the same %s went on from port %u.",
               cb.id, (unsigned)cb.to.port);
    else if (cb.new_session)
        du_cat(f->summary, FINDING_SUMMARY_SIZE, " Outside, the client started %s from port %u.",
               cb.id, (unsigned)cb.to.port);
    if (cb.moved || cb.new_session)
        finding_ev_bool(f, "same_session", cb.moved);
    return cb.moved || cb.new_session;
}

static void single_one(struct detect_ctx *c, const struct session_model *m,
                       const struct tun_flow *t, const struct tun_srun *r)
{
    struct comeback cb;
    find_comeback(m, t, &cb);
    struct finding *f = finding_add(c->out, FINDING_STALE_NAT, r->first_ts);
    if (!f)
        return;
    f->confirmed = cb.moved || cb.new_session || r->handshakes > 0;
    if (!f->confirmed)
        f->sev = SEV_INFO;
    uint8_t cap = du_cap(c, m);
    char a[DU_IPSTR], b[DU_IPSTR], h1[16];
    snprintf(f->summary, FINDING_SUMMARY_SIZE,
             "The %s tunnel of %s:%u (as seen outside the NAT) towards %s:%u was idle %.1f s; "
             "then %u packet(s) the server sent from %s got no answer on that outside port",
             tun_flow_name(t), du_ipp(&t->client.ip, a), (unsigned)t->client.port,
             du_ipp(&t->server.ip, b), (unsigned)t->server.port, du_sec(r->gap_us), (unsigned)r->n,
             du_hms(r->first_ts, h1));
    if (r->handshakes)
        du_cat(f->summary, FINDING_SUMMARY_SIZE, " (%u of them handshake retries: a storm)",
               (unsigned)r->handshakes);
    if (r->answered_ts)
        du_cat(f->summary, FINDING_SUMMARY_SIZE,
               "; the client spoke again only %.1f s later, from the same outside port (the "
               "router reused it for a new mapping)",
               du_sec(r->answered_ts - r->first_ts));
    if (cb.moved || cb.new_session)
        du_cat(f->summary, FINDING_SUMMARY_SIZE,
               "; the client came back from outside port %u (was %u): %s", (unsigned)cb.to.port,
               (unsigned)t->client.port, cb.id);
    du_cat(f->summary, FINDING_SUMMARY_SIZE,
           ". The router's mapping expired during the idle period and the server's packets died "
           "at the router%s.",
           f->confirmed ? "" : " (suspected: nothing else shows it)");
    uint64_t surv = survived(t, r->gap_us);
    stale_tunnel_remedy(f, t->vpn, r->gap_us, surv);
    struct finding_session *s = du_session_endpoint(f, ROLE_NAT, &t->client);
    (void)s;
    du_session_endpoint(f, ROLE_SERVER, &t->server);
    finding_ev_str(f, "protocol", tun_flow_name(t));
    finding_ev_seconds(f, "idle_s", du_sec(r->gap_us));
    if (surv)
        finding_ev_seconds(f, "longest_idle_survived_s", du_sec(surv));
    finding_ev_int(f, "unanswered_server_packets", r->n);
    finding_ev_int(f, "handshake_retries", r->handshakes);
    uint64_t ka = t->act.ka_ivl_n >= 2 ? tun_flow_keepalive_us(t) : 0;
    if (ka)
        finding_ev_seconds(f, "keepalive_interval_s", du_sec(ka));
    else
        finding_ev_bool(f, "keepalives", false);
    if (cb.moved || cb.new_session) {
        finding_ev_int(f, "new_outside_port", cb.to.port);
        finding_ev_ts(f, "comeback_ts", cb.ts);
        finding_ev_bool(f, "same_session", cb.moved);
    }
    for (unsigned k = 0; k < r->nframes && k < TUN_MAX_FRAMES; k++)
        finding_frame(f, cap, r->frames[k]);
    if (cb.frame)
        finding_frame(f, cap, cb.frame);
}

void stale_tunnel_single(struct detect_ctx *c, const struct session_model *m)
{
    if (!m->tun)
        return;
    const struct table *tb = m->tun->flows;
    for (uint32_t i = 0; i < table_slots(tb); i++) {
        const struct tun_flow *t = table_slot(tb, i, NULL);
        if (!t || (t->vpn != VPN_WG && t->vpn != VPN_OVPN) || t->proto != IPP_UDP)
            continue;
        /* packets that died at the router are seen only outside it */
        bool outside = m->side == SIDE_OUTSIDE ||
                       (m->side != SIDE_INSIDE && !ip_addr_is_private(&t->client.ip));
        const struct tun_srun *r = outside ? dead_run(t) : NULL;
        if (r)
            single_one(c, m, t, r);
    }
}
