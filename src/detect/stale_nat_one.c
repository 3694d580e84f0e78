/* stale_nat_one.c - stale_nat with one capture: the same ESP SPI (ESP in UDP) continuing from a
 * new UDP port after a gap or reaching another inside host, and an IKE SA whose DPD went
 * unanswered after an idle gap longer than the NAT timeout. */
#include <stdio.h>
#include <string.h>

#include "stale_nat.h"

/* The (client address, port) pairs that STALE_NAT findings name first (sessions[0]): a set kept
 * up to date as findings are added, so "already reported" is a lookup, not a scan of the list.
 * Without memory for it (t NULL) the list is scanned. */
struct named {
    struct table *t;
};

static void named_key(struct du_key *k, const struct ip_addr *ip, uint16_t port)
{
    du_key_make(k, 0, 0, ip, port, NULL, 0, 0);
}

static void named_note(struct named *nm, const struct finding *e)
{
    if (!nm->t || e->kind != FINDING_STALE_NAT || !e->n_sessions)
        return;
    struct du_key k;
    named_key(&k, &e->sessions[0].ip, e->sessions[0].port);
    if (!table_put(nm->t, &k, NULL)) {
        table_free(nm->t);
        nm->t = NULL;
    }
}

static void named_init(struct named *nm, const struct finding_list *l)
{
    nm->t = table_new(sizeof(struct du_key), 1, 0x7fffffffu, NULL, NULL);
    for (size_t q = 0; q < l->n; q++)
        named_note(nm, &l->v[q]);
}

static bool stale_named(const struct named *nm, const struct finding_list *l,
                        const struct ip_addr *ip, uint16_t port)
{
    if (nm->t) {
        struct du_key k;
        named_key(&k, ip, port);
        return table_get(nm->t, &k, false) != NULL;
    }
    for (size_t q = 0; q < l->n; q++) {
        const struct finding *e = &l->v[q];
        if (e->kind == FINDING_STALE_NAT && e->n_sessions && ip_addr_eq(&e->sessions[0].ip, ip) &&
            e->sessions[0].port == port)
            return true;
    }
    return false;
}

/* Inside view: after an idle gap the server's ESP on the same SPI reaches a different inside host.
 */
static void other_host_finding(struct detect_ctx *c, const struct session_model *m,
                               const struct ipsec_sa *a, const struct ipsec_sa *b, uint8_t cap,
                               struct named *nm)
{
    const struct ip_addr *old = &a->k.dst, *srv = &a->k.src;
    if (stale_named(nm, c->out, old, a->k.dport))
        return;
    /* the old host's own last packet to the server (its idle start), else the SA's */
    uint64_t last = a->last_ts;
    uint32_t it = 0;
    for (const struct ipsec_sa *o; (o = du_ipsec_between(m, old, srv, &it));) {
        if (o->k.encap && ip_addr_eq(&o->k.src, old) && ip_addr_eq(&o->k.dst, srv) &&
            o->last_ts > last && o->last_ts < b->first_ts)
            last = o->last_ts;
    }
    const struct flow *fl = du_flow_find(m, IPP_UDP, old, a->k.dport, srv, a->k.sport);
    const struct gap *gp = fl ? du_gap_after(flow_act(fl), last, 1000000u) : NULL;
    bool replied = fl && fl->pkts[0] && fl->pkts[1];
    uint64_t idle = gp ? ts_span(gp->start_us, gp->end_us) : ts_span(last, b->first_ts);
    struct finding *f = finding_add(c->out, FINDING_STALE_NAT, b->first_ts);
    if (!f)
        return;
    f->confirmed = true;
    char o[DU_IPSTR], n[DU_IPSTR], sv[DU_IPSTR], s[12], t[16], ka[160];
    stale_ka_text(ka, sizeof(ka), fl, gp);
    snprintf(f->summary, FINDING_SUMMARY_SIZE,
             "ESP SA %s from %s:%u reached %s:%u until the tunnel went idle, then from %s on "
             "(after %.1f s without "
             "traffic from %s) it reaches another inside host, %s:%u (%llu packets): the NAT "
             "mapping expired and "
             "the router gave the old outside port to %s, so %s's return traffic and IKE messages "
             "are lost. %s",
             du_spi(a->k.spi, s), du_ipp(srv, sv), a->k.sport, du_ipp(old, o), a->k.dport,
             du_hms(b->first_ts, t), du_sec(idle), o, du_ipp(&b->k.dst, n), b->k.dport,
             (unsigned long long)b->packets, n, o, ka);
    stale_remedy(f, idle, IPP_UDP, c, replied);
    struct finding_session *fs = finding_session_add(f, ROLE_CLIENT, old);
    if (fs) {
        fs->has_port = true;
        fs->port = a->k.dport;
        snprintf(fs->note, sizeof(fs->note), "mapping expired, return ESP lost");
    }
    if ((fs = finding_session_add(f, ROLE_CLIENT, &b->k.dst))) {
        fs->has_port = true;
        fs->port = b->k.dport;
        snprintf(fs->note, sizeof(fs->note), "receives the other client's ESP");
    }
    if ((fs = finding_session_add(f, ROLE_SERVER, srv))) {
        fs->has_port = true;
        fs->port = a->k.sport;
        fs->has_spi = true;
        fs->spi = a->k.spi;
    }
    finding_ev_seconds(f, "idle_seconds", du_sec(idle));
    finding_ev_int(f, "misdelivered_packets", (int64_t)b->packets);
    finding_ev_int(f, "configured_timeout_s", stale_timeout_for(c, IPP_UDP, replied));
    stale_ev_keepalive(f, fl);
    finding_ev_ts(f, "idle_start_ts", last);
    finding_ev_ts(f, "misdelivered_from_ts", b->first_ts);
    finding_frame(f, cap, a->last_frame);
    finding_frame(f, cap, b->first_frame);
    named_note(nm, f);
}

/* One ESP-in-UDP SA that continued from a new port: the facts its finding states. */
struct portmove {
    const struct ipsec_sa *a, *b; /* before and after the gap */
    const struct ip_addr *cli, *srv;
    uint16_t oldp, newp, srvp;
    uint64_t idle;      /* SA silence */
    uint64_t flow_idle; /* the old UDP flow's own idle gap, 0 when unknown */
    const struct flow *fl;
    const struct gap *gp;
    bool replied;
};

/* Decide: the move facts of SA a followed by b (up: the client's side moved, else the server
 * saw the client's port move on its return traffic). */
static void portmove_facts(const struct session_model *m, const struct ipsec_sa *a,
                           const struct ipsec_sa *b, bool up, struct portmove *p)
{
    p->a = a;
    p->b = b;
    p->cli = up ? &a->k.src : &a->k.dst;
    p->srv = up ? &a->k.dst : &a->k.src;
    p->oldp = up ? a->k.sport : a->k.dport;
    p->newp = up ? b->k.sport : b->k.dport;
    p->srvp = up ? a->k.dport : a->k.sport;
    p->idle = b->first_ts - a->last_ts;
    p->fl = du_flow_find(m, IPP_UDP, p->cli, p->oldp, p->srv, p->srvp);
    p->replied = p->fl && p->fl->pkts[0] && p->fl->pkts[1];
    p->gp = p->fl ? du_gap_after(flow_act(p->fl), a->last_ts, 1000000u) : NULL;
    p->flow_idle = p->gp ? p->gp->end_us - p->gp->start_us
                         : (p->fl && p->fl->last_ts > a->last_ts ? 0 : p->idle);
}

/* Emit: the finding for a port move; false when out of memory. */
static bool portmove_finding(struct detect_ctx *c, uint8_t cap, const struct portmove *p)
{
    const struct ipsec_sa *a = p->a, *b = p->b;
    struct finding *f = finding_add(c->out, FINDING_STALE_NAT, b->first_ts);
    if (!f)
        return false;
    f->confirmed = true;
    char sa_[DU_IPSTR], sb[DU_IPSTR], s[12], t[16], ka[160];
    du_ipp(p->cli, sa_);
    du_ipp(p->srv, sb);
    stale_ka_text(ka, sizeof(ka), p->fl, p->gp);
    snprintf(f->summary, FINDING_SUMMARY_SIZE,
             "ESP SA %s between %s and %s:%u went idle for %.1f s and then continued from "
             "port %u instead "
             "of %u (at %s): the NAT mapping expired and the router gave the tunnel a new "
             "outside port, "
             "so the peer has to follow a new address and packets sent to the old one are "
             "lost. %s",
             du_spi(a->k.spi, s), sa_, sb, p->srvp, du_sec(p->idle), p->newp, p->oldp,
             du_hms(b->first_ts, t), ka);
    if (p->flow_idle && p->flow_idle < p->idle)
        du_cat(f->summary, FINDING_SUMMARY_SIZE, " The UDP flow itself was idle %.1f s.",
               du_sec(p->flow_idle));
    stale_remedy(f, p->flow_idle ? p->flow_idle : p->idle, IPP_UDP, c, p->replied);
    struct finding_session *fs = finding_session_add(f, ROLE_CLIENT, p->cli);
    if (fs) {
        fs->has_port = true;
        fs->port = p->oldp;
        fs->has_spi = true;
        fs->spi = a->k.spi;
        snprintf(fs->note, sizeof(fs->note), "reappeared from port %u", p->newp);
    }
    if ((fs = finding_session_add(f, ROLE_SERVER, p->srv))) {
        fs->has_port = true;
        fs->port = p->srvp;
    }
    finding_ev_seconds(f, "idle_seconds", du_sec(p->idle));
    finding_ev_int(f, "old_port", p->oldp);
    finding_ev_int(f, "new_port", p->newp);
    finding_ev_int(f, "configured_timeout_s", stale_timeout_for(c, IPP_UDP, p->replied));
    stale_ev_keepalive(f, p->fl);
    finding_ev_ts(f, "idle_start_ts", a->last_ts);
    finding_ev_ts(f, "resumed_ts", b->first_ts);
    finding_frame(f, cap, a->last_frame);
    finding_frame(f, cap, b->first_frame);
    return true;
}

static bool encap_esp(const struct ipsec_sa *a)
{
    return a && a->k.proto == IPP_ESP && a->k.encap;
}

/* The same ESP-in-UDP SPI continuing from a new port after a gap. */
static void single_portmove(struct detect_ctx *c, const struct session_model *m)
{
    uint8_t cap = du_cap(c, m);
    /* ESP-in-UDP SAs chained by SPI, in slot order */
    struct du_index spis;
    du_index_init(&spis, sizeof(struct du_key), table_slots(m->ipsec));
    for (uint32_t i = 0; i < table_slots(m->ipsec); i++) {
        const struct ipsec_sa *a = table_slot(m->ipsec, i, NULL);
        if (!encap_esp(a))
            continue;
        struct du_key k;
        du_key_make(&k, 0, IPP_ESP, NULL, 0, NULL, 0, a->k.spi);
        du_index_add(&spis, &k, i);
    }
    struct named nm;
    named_init(&nm, c->out);
    for (uint32_t i = 0; i < table_slots(m->ipsec); i++) {
        const struct ipsec_sa *a = table_slot(m->ipsec, i, NULL);
        if (!encap_esp(a))
            continue;
        struct du_key k;
        du_key_make(&k, 0, IPP_ESP, NULL, 0, NULL, 0, a->k.spi);
        for (uint32_t j = du_index_first(&spis, &k); j != DU_NONE; j = du_index_next(&spis, j)) {
            const struct ipsec_sa *b = table_slot(m->ipsec, j, NULL);
            if (j == i || !encap_esp(b) || b->k.spi != a->k.spi)
                continue;
            if (b->first_ts < a->last_ts || b->first_ts - a->last_ts < IDLE_MIN_US)
                continue;
            /* client -> server: same destination endpoint, new source port (same or new address);
             * server -> client: same source endpoint, new destination port */
            bool up = ip_addr_eq(&a->k.dst, &b->k.dst) && a->k.dport == b->k.dport &&
                      a->k.sport != b->k.sport;
            bool down = ip_addr_eq(&a->k.src, &b->k.src) && a->k.sport == b->k.sport &&
                        a->k.dport != b->k.dport;
            /* the peer's ESP for this SA now reaches another host (inside view: the old outside
             * port was handed to someone else) */
            bool other_host = ip_addr_eq(&a->k.src, &b->k.src) && a->k.sport == b->k.sport &&
                              !ip_addr_eq(&a->k.dst, &b->k.dst) && ip_addr_is_private(&b->k.dst);
            if (other_host) {
                other_host_finding(c, m, a, b, cap, &nm);
                continue;
            }
            if (!up && !down)
                continue;
            struct portmove p;
            portmove_facts(m, a, b, up, &p);
            /* one finding per client endpoint and server: skip if an earlier pair already did it */
            if (stale_named(&nm, c->out, p.cli, p.oldp))
                continue;
            if (!portmove_finding(c, cap, &p))
                goto out;
            named_note(&nm, &c->out->v[c->out->n - 1]);
        }
    }
out:
    table_free(nm.t);
    du_index_free(&spis);
}

/* IKE SA with an idle gap longer than the NAT timeout (no keepalives through it) followed by
 * unanswered DPD / INFORMATIONAL retransmissions. */
static void single_dpd(struct detect_ctx *c, const struct session_model *m)
{
    uint8_t cap = du_cap(c, m);
    for (uint32_t i = 0; i < table_slots(m->ike); i++) {
        const struct ike_sa *ik = table_slot(m->ike, i, NULL);
        if (!ik || !ike_act(ik)->n_gaps || ik->dpd_like < 2 || ik->retransmissions < 2 ||
            ik->max_unanswered_sends < 2)
            continue;
        const struct endpoint *ei = ik->nat_t ? &ik->natt_initiator : &ik->initiator;
        const struct endpoint *er = ik->nat_t ? &ik->natt_responder : &ik->responder;
        const struct flow *fl = du_flow_find(m, IPP_UDP, &ei->ip, ei->port, &er->ip, er->port);
        bool replied = fl && fl->pkts[0] && fl->pkts[1];
        uint64_t to_us = (uint64_t)stale_timeout_for(c, IPP_UDP, replied) * 1000000u;
        /* the tunnel's own idle (keepalives and ESP count): the flow's longest gap */
        const struct gap *g =
            fl && flow_act(fl)->n_gaps ? &flow_act(fl)->gaps[0] : &ike_act(ik)->gaps[0];
        uint64_t len = g->end_us - g->start_us;
        if (!to_us || len <= to_us)
            continue;
        if (ik->unanswered_first_ts < g->end_us || ik->unanswered_first_ts - g->end_us > 60000000u)
            continue; /* the unanswered burst must follow the gap */
        struct finding *f = finding_add(c->out, FINDING_STALE_NAT, ik->unanswered_first_ts);
        if (!f)
            return;
        f->confirmed = false;
        char a[DU_IPSTR], b[DU_IPSTR], t[16], ka[160];
        stale_ka_text(ka, sizeof(ka), fl, g);
        snprintf(f->summary, FINDING_SUMMARY_SIZE,
                 "IKE SA %016llx between %s and %s sat idle %.1f s (longer than the NAT's assumed "
                 "UDP timeout of "
                 "%u s); right after it, from %s, its request (message ID %u) was sent %u times "
                 "without a reply: "
                 "the NAT mapping most likely expired. %s",
                 (unsigned long long)ik->ispi, du_ip(&ei->ip, a), du_ip(&er->ip, b), du_sec(len),
                 stale_timeout_for(c, IPP_UDP, replied), du_hms(ik->unanswered_first_ts, t),
                 ik->unanswered_msgid, ik->max_unanswered_sends, ka);
        stale_remedy(f, len, IPP_UDP, c, replied);
        du_session_endpoint(f, ROLE_CLIENT, ei);
        du_session_endpoint(f, ROLE_SERVER, er);
        finding_ev_seconds(f, "idle_seconds", du_sec(len));
        finding_ev_int(f, "configured_timeout_s", stale_timeout_for(c, IPP_UDP, replied));
        finding_ev_int(f, "unanswered_sends", ik->max_unanswered_sends);
        finding_ev_int(f, "dpd_exchanges", (int64_t)ik->dpd_like);
        stale_ev_keepalive(f, fl);
        finding_ev_ts(f, "idle_start_ts", g->start_us);
        finding_frame(f, cap, g->frame_after);
        for (unsigned k = 0; k < ik->unanswered_nframes && k < 8; k++)
            finding_frame(f, cap, ike_unanswered_frame(ik, k));
    }
}

void stale_single(struct detect_ctx *c, const struct session_model *m)
{
    single_portmove(c, m);
    single_dpd(c, m);
}
