/* session_wg.c - WireGuard sessions (WireGuard whitepaper section 5.4): a session is the index
 * pair a handshake response establishes (the initiator's sender index, echoed as the response's
 * receiver index, and the responder's sender index). Transport messages carry only the
 * receiver's index: an index table leads them to their session. A retried initiation carries a
 * new sender index, so unanswered initiations are grouped by 5-tuple (the tunnel flow's run), not
 * by index. An endpoint change is a peer's packets of the same session arriving from another
 * address or port: WireGuard roams, and a NAT that lost its mapping hands the client a new
 * outside port. */
#include <string.h>

#include "session_int.h"
#include "vpnscope/proto.h"
#include "vpnscope/session_tunnel.h"
#include "vpnscope/table.h"

static struct wg_session *wg_by_index(struct tunnel_model *tm, uint32_t idx)
{
    const struct wg_key *k = table_get(tm->wg_idx, &idx, true);
    if (!k)
        return NULL;
    struct wg_key kk = *k;
    struct wg_session *s = table_get(tm->wg, &kk, true);
    return s && (s->i_idx == idx || s->r_idx == idx) ? s : NULL;
}

static void link_index(struct tunnel_model *tm, uint32_t idx, const struct wg_key *k)
{
    bool created = false;
    struct wg_key *v = table_put(tm->wg_idx, &idx, &created);
    if (v)
        *v = *k;
}

static void wg_response(struct tunnel_model *tm, const struct pkt *p)
{
    struct wg_key k;
    memset(&k, 0, sizeof(k));
    k.i_idx = p->wg.receiver;
    k.r_idx = p->wg.sender;
    bool created = false;
    struct wg_session *s = table_put(tm->wg, &k, &created);
    if (!s)
        return;
    if (created) {
        s->i_idx = k.i_idx;
        s->r_idx = k.r_idx;
        s->initiator.ip = p->dst;
        s->initiator.port = p->dport;
        s->responder.ip = p->src;
        s->responder.port = p->sport;
        s->first_ts = p->ts_us;
        s->first_frame = p->frame;
    }
    s->handshakes++;
    s->to_initiator++;
    s->last_ts = p->ts_us;
    s->last_frame = p->frame;
    sess_activity_touch(&s->act, p->ts_us, p->frame);
    sess_spark_count(&s->spark, p->ts_us, 1, tm->spark_slide_us);
    link_index(tm, k.i_idx, &k);
    link_index(tm, k.r_idx, &k);
}

static void wg_transport(struct tunnel_model *tm, struct tun_flow *t, const struct pkt *p, int cdir)
{
    if (p->wg.is_keepalive) {
        t->keepalives[cdir]++;
        sess_activity_keepalive(&t->act, p->ts_us);
    } else {
        sess_tun_data(t, cdir, p);
    }
    struct wg_session *s = wg_by_index(tm, p->wg.receiver);
    if (!s)
        return;
    bool to_init = p->wg.receiver == s->i_idx;
    struct endpoint from = {p->src, p->sport};
    struct endpoint *peer = to_init ? &s->responder : &s->initiator;
    if (!ip_addr_eq(&peer->ip, &from.ip) || peer->port != from.port) {
        sess_tun_change(s->changes, &s->n_changes, &s->changes_total, to_init ? 1 : 0, peer, &from,
                        p);
        *peer = from;
    }
    if (to_init)
        s->to_initiator++;
    else
        s->to_responder++;
    if (p->wg.is_keepalive) {
        s->keepalives++;
        sess_activity_keepalive(&s->act, p->ts_us);
    }
    s->last_ts = p->ts_us;
    s->last_frame = p->frame;
    sess_activity_touch(&s->act, p->ts_us, p->frame);
    sess_spark_count(&s->spark, p->ts_us, to_init ? 1 : 0, tm->spark_slide_us);
    t->wg_i_idx = s->i_idx;
    t->wg_r_idx = s->r_idx;
}

void sess_wg_update(struct tunnel_model *tm, struct tun_flow *t, const struct pkt *p, int cdir)
{
    if (!p->wg.ids_valid)
        return;
    switch (p->wg.type) {
    case WG_INITIATION:
        sess_tun_handshake(t, cdir, p);
        break;
    case WG_RESPONSE:
        wg_response(tm, p);
        break;
    case WG_TRANSPORT:
        wg_transport(tm, t, p, cdir);
        break;
    default:
        break; /* cookie reply: the responder is under load; nothing to track */
    }
}
