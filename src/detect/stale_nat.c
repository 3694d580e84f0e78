/* stale_nat.c - a NAT mapping expired during an idle gap, with a visible consequence:
 *  two captures: packets from the peer to the old outside address/port that never reached the
 *    inside after the tunnel sat idle (nat unmatched, outside-only, from_peer), or the same inside
 *    endpoint and peer reappearing through a new outside port (a second nat_mapping);
 *  one capture: the same ESP SPI (ESP in UDP) continuing from a new UDP port after a gap, or an IKE
 *    SA whose DPD/INFORMATIONAL exchanges went unanswered after an idle gap longer than the NAT
 *    timeout with no keepalives holding the mapping.
 * Idle time alone is never reported: a tunnel whose keepalives held the mapping is healthy. */
#include <stdio.h>
#include <string.h>

#include "det_util.h"

#define IDLE_MIN_US                                                                                \
    2000000ull /* a drop counts as "after idle" when the tunnel was quiet this long */
#define MAX_GROUPS 64

/* NAT timeout (s) for a tunnel of this protocol; replied = two-way. */
static uint32_t timeout_for(const struct detect_ctx *c, uint8_t proto, bool replied)
{
    switch (proto) {
    case IPP_UDP:
        return replied ? c->to.udp_stream : c->to.udp;
    case IPP_GRE:
        return c->to.gre;
    case IPP_TCP:
        return c->to.tcp;
    default:
        return c->to.other;
    }
}

/* Keepalive description of a flow (learned interval, whether they ran through the gap). */
static void ka_text(char *buf, size_t n, const struct flow *fl, const struct gap *g)
{
    buf[0] = 0;
    if (!fl || !fl->act.ka_count) {
        snprintf(buf, n, "No NAT-T keepalives were seen on this tunnel.");
        return;
    }
    uint64_t ivl = activity_keepalive_us(&fl->act);
    if (g && ivl && g->end_us - g->start_us > 2 * ivl)
        snprintf(buf, n,
                 "No NAT-T keepalive crossed this flow for %.1f s (keepalives seen at other times: "
                 "every "
                 "%.1f s).",
                 du_sec(g->end_us - g->start_us), du_sec(ivl));
    else if (g && fl->act.ka_last_us <= g->start_us)
        snprintf(buf, n, "NAT-T keepalives (every %.1f s before) stopped during the idle period.",
                 du_sec(ivl));
    else if (ivl)
        snprintf(buf, n, "NAT-T keepalives ran every %.1f s.", du_sec(ivl));
    else
        snprintf(buf, n, "%llu NAT-T keepalive(s) seen.", (unsigned long long)fl->act.ka_count);
}

/* Longest recorded gap of a shorter than limit_us (survived idle), 0 when none. */
static uint64_t longest_below(const struct activity *a, uint64_t limit_us)
{
    uint64_t best = 0;
    for (unsigned i = 0; i < a->n_gaps && i < GAPS_PER_TUNNEL; i++) {
        uint64_t len = a->gaps[i].end_us - a->gaps[i].start_us;
        if (len < limit_us && len > best)
            best = len;
    }
    return best;
}

static void remedy(struct finding *f, uint64_t lost_us, uint8_t proto, const struct detect_ctx *c,
                   bool replied)
{
    if (proto == IPP_UDP && lost_us) {
        double lim = du_sec(lost_us);
        double ka = lim > 4 ? (lim / 2 < 20 ? lim / 2 : 20) : 1;
        snprintf(f->remedy, sizeof(f->remedy),
                 "Keep NAT-T keepalives running with a period below the router's UDP timeout: "
                 "below %.0f s here "
                 "(e.g. %.0f s; strongSwan charon.keep_alive, default 20 s), or lengthen the "
                 "router's UDP "
                 "timeout (Linux: nf_conntrack_udp_timeout_stream, assumed %u s; RFC 4787 asks for "
                 ">= 120 s).",
                 lim, ka, timeout_for(c, IPP_UDP, replied));
    } else if (proto == IPP_UDP) {
        snprintf(f->remedy, sizeof(f->remedy),
                 "Enable NAT-T keepalives (strongSwan charon.keep_alive, default 20 s) with a "
                 "period below the "
                 "router's UDP timeout, or lengthen that timeout (Linux: "
                 "nf_conntrack_udp_timeout_stream).");
    } else {
        char pn[DU_PROTOSTR];
        snprintf(f->remedy, sizeof(f->remedy),
                 "Keep traffic (DPD, keepalives) flowing more often than the router's %s timeout, "
                 "lengthen it "
                 "(Linux: nf_conntrack_%s_timeout), or switch to NAT-T with keepalives.",
                 du_proto_upper(proto, pn), proto == IPP_GRE ? "gre" : "generic");
    }
}

/* ---- two captures ---- */

struct group {
    int map; /* mapping index of the first mapping of the inside endpoint */
    uint64_t drop_pkts, drop_first, drop_last;
    uint64_t idle_us; /* idle before the first drop */
    uint64_t gap_start;
    uint64_t frames[6];
    unsigned nframes;
    bool has_spi;
    uint32_t spi;
    int moved_map; /* a later mapping with a new outside port, -1 none */
    int taken_map; /* another inside endpoint got the old outside port, -1 none */
    uint64_t move_idle_us, move_ts;
};

static bool same_inside(const struct nat_mapping *a, const struct nat_mapping *b)
{
    return a->proto == b->proto && ip_addr_eq(&a->inside.ip, &b->inside.ip) &&
           a->inside.port == b->inside.port && ip_addr_eq(&a->peer.ip, &b->peer.ip) &&
           a->peer.port == b->peer.port;
}

static bool map_matches(const struct nat_mapping *mp, const struct nat_unmatched *u)
{
    if (mp->proto != u->proto || !ip_addr_eq(&mp->outside.ip, &u->dst) ||
        !ip_addr_eq(&mp->peer.ip, &u->src))
        return false;
    return !(u->has_ports && mp->outside.has_port &&
             (mp->outside.port != u->dport || mp->peer.port != u->sport));
}

/* Mappings by (proto, outside address, peer address), and the same with the ports for mappings
 * that have them (tag 1) or without (tag 2): built on first use. */
struct map_idx {
    bool built;
    struct du_index loose, exact;
};

static void map_key(struct du_key *k, const struct nat_mapping *mp, bool ports)
{
    if (!ports)
        du_key_make(k, 0, mp->proto, &mp->outside.ip, 0, &mp->peer.ip, 0, 0);
    else if (mp->outside.has_port)
        du_key_make(k, 1, mp->proto, &mp->outside.ip, mp->outside.port, &mp->peer.ip, mp->peer.port,
                    0);
    else
        du_key_make(k, 2, mp->proto, &mp->outside.ip, 0, &mp->peer.ip, 0, 0);
}

static uint32_t chain_first_match(const struct du_index *x, const struct du_key *k,
                                  const struct nat_result *r, const struct nat_unmatched *u)
{
    for (uint32_t i = du_index_first(x, k); i != DU_NONE; i = du_index_next(x, i))
        if (i < r->n_map && map_matches(&r->map[i], u))
            return i;
    return DU_NONE;
}

/* The first mapping (lowest index) the unmatched packets belong to, or -1. */
static int find_mapping(const struct nat_result *r, const struct nat_unmatched *u,
                        struct map_idx *mi)
{
    if (u->mapping >= 0 && (size_t)u->mapping < r->n_map)
        return u->mapping;
    if (!mi->built) {
        mi->built = true;
        du_index_init(&mi->loose, sizeof(struct du_key), (uint32_t)r->n_map);
        du_index_init(&mi->exact, sizeof(struct du_key), (uint32_t)r->n_map);
        for (size_t i = 0; i < r->n_map; i++) {
            struct du_key k;
            map_key(&k, &r->map[i], false);
            du_index_add(&mi->loose, &k, (uint32_t)i);
            map_key(&k, &r->map[i], true);
            du_index_add(&mi->exact, &k, (uint32_t)i);
        }
    }
    struct du_key k;
    uint32_t best;
    if (!u->has_ports) {
        du_key_make(&k, 0, u->proto, &u->dst, 0, &u->src, 0, 0);
        best = chain_first_match(&mi->loose, &k, r, u);
    } else {
        du_key_make(&k, 1, u->proto, &u->dst, u->dport, &u->src, u->sport, 0);
        best = chain_first_match(&mi->exact, &k, r, u);
        du_key_make(&k, 2, u->proto, &u->dst, 0, &u->src, 0, 0);
        uint32_t other = chain_first_match(&mi->exact, &k, r, u);
        if (other < best)
            best = other;
    }
    return best == DU_NONE ? -1 : (int)best;
}

static int group_of(struct group *g, unsigned *ng, const struct nat_result *r, int map)
{
    for (unsigned i = 0; i < *ng; i++)
        if (g[i].map == map || same_inside(&r->map[g[i].map], &r->map[map]))
            return (int)i;
    if (*ng >= MAX_GROUPS)
        return -1;
    memset(&g[*ng], 0, sizeof(g[*ng]));
    g[*ng].map = map;
    g[*ng].moved_map = -1;
    g[*ng].taken_map = -1;
    return (int)(*ng)++;
}

/* Collect (a): inbound packets to an idle mapping that never reached the inside, grouped by
 * inside endpoint. */
static void collect_drops(const struct detect_ctx *c, const struct nat_result *r, struct group *g,
                          unsigned *ng)
{
    struct map_idx mix = {0};
    for (size_t i = 0; i < r->n_unm; i++) {
        const struct nat_unmatched *u = &r->unm[i];
        if (u->side != SIDE_OUTSIDE || u->direction != 1)
            continue;
        if (u->proto != IPP_UDP && u->proto != IPP_ESP && u->proto != IPP_AH && u->proto != IPP_GRE)
            continue;
        int mi = find_mapping(r, u, &mix);
        if (mi < 0)
            continue;
        const struct nat_mapping *mp = &r->map[mi];
        if (!mp->to_peer_inside && !mp->from_peer_inside)
            continue; /* never worked: not an expiry */
        /* how long the tunnel had been quiet inside when these arrived */
        const struct flow *fl = du_flow_find(c->inside, mp->proto, &mp->inside.ip, mp->inside.port,
                                             &mp->peer.ip, mp->peer.port);
        uint64_t start = 0;
        if (fl) {
            const struct gap *gp = du_gap_at(&fl->act, u->first_ts);
            if (gp)
                start = gp->start_us;
            else if (fl->last_ts < u->first_ts)
                start = fl->last_ts;
        } else if (mp->last_ts && mp->last_ts < u->first_ts) {
            start = mp->last_ts;
        }
        if (!start || u->first_ts - start < IDLE_MIN_US)
            continue;
        int gi = group_of(g, ng, r, mi);
        if (gi < 0)
            continue;
        struct group *gr = &g[gi];
        if (!gr->drop_pkts || u->first_ts < gr->drop_first) {
            gr->drop_first = u->first_ts;
            gr->idle_us = u->first_ts - start;
            gr->gap_start = start;
        }
        if (u->last_ts > gr->drop_last)
            gr->drop_last = u->last_ts;
        gr->drop_pkts += u->packets;
        for (unsigned k = 0; k < u->nframes && gr->nframes < 6; k++)
            gr->frames[gr->nframes++] = u->frames[k];
        if (u->has_spi && !gr->has_spi) {
            gr->has_spi = true;
            gr->spi = u->spi;
        }
    }
    if (mix.built) {
        du_index_free(&mix.loose);
        du_index_free(&mix.exact);
    }
}

/* Collect (b): the same inside endpoint and peer through a new outside port after an idle gap:
 * the mappings of one inside flow (same_inside) are chained, in index order. */
static void collect_moves(const struct nat_result *r, struct group *g, unsigned *ng)
{
    struct du_index inside;
    du_index_init(&inside, sizeof(struct du_key), (uint32_t)r->n_map);
    for (size_t i = 0; i < r->n_map; i++) {
        const struct nat_mapping *a = &r->map[i];
        if (a->proto != IPP_UDP)
            continue;
        struct du_key k;
        du_key_make(&k, 0, a->proto, &a->inside.ip, a->inside.port, &a->peer.ip, a->peer.port, 0);
        du_index_add(&inside, &k, (uint32_t)i);
    }
    for (size_t i = 0; i < r->n_map; i++) {
        const struct nat_mapping *a = &r->map[i];
        if (a->proto != IPP_UDP || !a->outside.has_port)
            continue;
        struct du_key k;
        du_key_make(&k, 0, a->proto, &a->inside.ip, a->inside.port, &a->peer.ip, a->peer.port, 0);
        for (uint32_t j = du_index_first(&inside, &k); j != DU_NONE;
             j = du_index_next(&inside, j)) {
            const struct nat_mapping *b = &r->map[j];
            if (j == i || !same_inside(a, b) || b->outside.port == a->outside.port ||
                !ip_addr_eq(&b->outside.ip, &a->outside.ip) || b->first_ts < a->last_ts)
                continue;
            if (b->first_ts - a->last_ts < IDLE_MIN_US)
                continue;
            /* the first such j decides: later ones find the same group (or none) already moved */
            int gi = group_of(g, ng, r, (int)i);
            if (gi >= 0 && g[gi].moved_map < 0) {
                g[gi].moved_map = (int)j;
                g[gi].move_idle_us = b->first_ts - a->last_ts;
                g[gi].move_ts = b->first_ts;
            }
            break;
        }
    }
    du_index_free(&inside);
}

/* Collect (c): the old outside port given to another inside endpoint: what the peer keeps
 * sending there goes to the wrong host (mappings chained by protocol, outside endpoint and peer
 * endpoint). */
static void collect_taken(const struct nat_result *r, struct group *g, unsigned ng)
{
    struct du_index outside;
    du_index_init(&outside, sizeof(struct du_key), ng ? (uint32_t)r->n_map : 0);
    for (size_t j = 0; ng && j < r->n_map; j++) {
        const struct nat_mapping *b = &r->map[j];
        struct du_key k;
        du_key_make(&k, 0, b->proto, &b->outside.ip, b->outside.port, &b->peer.ip, b->peer.port, 0);
        du_index_add(&outside, &k, (uint32_t)j);
    }
    for (unsigned i = 0; i < ng; i++) {
        const struct nat_mapping *a = &r->map[g[i].map];
        if (!a->outside.has_port)
            continue;
        struct du_key k;
        du_key_make(&k, 0, a->proto, &a->outside.ip, a->outside.port, &a->peer.ip, a->peer.port, 0);
        for (uint32_t j = du_index_first(&outside, &k); j != DU_NONE;
             j = du_index_next(&outside, j)) {
            const struct nat_mapping *b = &r->map[j];
            if (b->proto != a->proto || !ip_addr_eq(&b->outside.ip, &a->outside.ip) ||
                b->outside.port != a->outside.port || !ip_addr_eq(&b->peer.ip, &a->peer.ip) ||
                b->peer.port != a->peer.port || b->first_ts < a->last_ts ||
                (ip_addr_eq(&b->inside.ip, &a->inside.ip) && b->inside.port == a->inside.port))
                continue;
            g[i].taken_map = (int)j;
            break;
        }
    }
    du_index_free(&outside);
}

/* What decide_group() concludes for one group, for the emit steps. */
struct verdict {
    const struct nat_mapping *mp; /* the group's first mapping */
    const struct nat_mapping *tk; /* another inside endpoint got the old outside port, or NULL */
    const struct nat_mapping *mv; /* the later mapping with a new outside port, or NULL */
    const struct flow *fl;        /* the inside flow of mp, or NULL */
    const struct gap *gp;         /* the inside idle gap before ts, or NULL */
    uint64_t ts, idle;            /* when it showed, after how long idle */
    uint64_t lost, surv;          /* shortest idle lost, longest survived (0: unknown) */
    bool replied;
};

/* Decide: the router's timeout bounds (longest idle survived, shortest lost) for a group. */
static void decide_group(const struct detect_ctx *c, const struct nat_result *r,
                         const struct group *gr, struct verdict *v)
{
    const struct nat_mapping *mp = &r->map[gr->map];
    v->mp = mp;
    v->tk = gr->taken_map >= 0 ? &r->map[gr->taken_map] : NULL;
    v->mv = gr->moved_map >= 0 ? &r->map[gr->moved_map] : NULL;
    v->ts = gr->drop_pkts ? gr->drop_first : gr->move_ts;
    v->idle = gr->drop_pkts ? gr->idle_us : gr->move_idle_us;
    v->fl = du_flow_find(c->inside, mp->proto, &mp->inside.ip, mp->inside.port, &mp->peer.ip,
                         mp->peer.port);
    v->replied = mp->from_peer_inside > 0;
    v->lost = mp->min_gap_lost_us && mp->min_gap_lost_us < v->idle ? mp->min_gap_lost_us : v->idle;
    if (v->tk && v->tk->first_ts > mp->last_ts && v->tk->first_ts - mp->last_ts < v->lost)
        v->lost = v->tk->first_ts - mp->last_ts; /* the port was free again by then */
    v->surv = mp->max_gap_survived_us;
    if (!v->surv && v->fl)
        v->surv = longest_below(&v->fl->act, v->lost);
    if (v->surv >= v->lost || v->surv < IDLE_MIN_US)
        v->surv = 0; /* sub-2 s gaps say nothing about a NAT timeout */
    v->gp = v->fl ? du_gap_at(&v->fl->act, v->ts > 0 ? v->ts - 1 : v->ts) : NULL;
}

static void group_summary(struct finding *f, const struct group *gr, const struct verdict *v)
{
    const struct nat_mapping *mp = v->mp;
    char a[DU_IPSTR], b[DU_IPSTR], o[DU_IPSTR], t[16], ka[160], pn[DU_PROTOSTR];
    du_ipp(&mp->inside.ip, a);
    du_ipp(&mp->peer.ip, b);
    du_ipp(&mp->outside.ip, o);
    ka_text(ka, sizeof(ka), v->fl, v->gp);
    if (mp->proto == IPP_UDP)
        snprintf(f->summary, sizeof(f->summary),
                 "The NAT mapping of %s:%u (outside %s:%u) towards %s:%u had expired after "
                 "%.1f s of idle",
                 a, mp->inside.port, o, mp->outside.port, b, mp->peer.port, du_sec(v->idle));
    else
        snprintf(f->summary, sizeof(f->summary),
                 "The NAT mapping of %s (outside %s) for %s towards %s had expired after %.1f "
                 "s of idle",
                 a, o, du_proto_upper(mp->proto, pn), b, du_sec(v->idle));
    if (gr->drop_pkts)
        du_cat(f->summary, sizeof(f->summary),
               ": %llu packet(s) %s sent at %s reached the router's outside but never the client.",
               (unsigned long long)gr->drop_pkts, b, du_hms(gr->drop_first, t));
    else
        du_cat(f->summary, sizeof(f->summary), ".");
    if (v->mv)
        du_cat(f->summary, sizeof(f->summary),
               " When the client sent again at %s it got a new outside port %u (was %u), so "
               "the server sees a "
               "new peer.",
               du_hms(gr->move_ts, t), v->mv->outside.port, mp->outside.port);
    if (v->tk) {
        char x[DU_IPSTR];
        du_cat(f->summary, sizeof(f->summary),
               " Meanwhile the old outside port %u went to %s:%u (from %s): %llu packets %s "
               "sent there reached "
               "that host instead.",
               mp->outside.port, du_ipp(&v->tk->inside.ip, x), v->tk->inside.port,
               du_hms(v->tk->first_ts, t), (unsigned long long)v->tk->from_peer_inside, b);
    }
    du_cat(f->summary, sizeof(f->summary), " %s", ka);
    if (v->surv)
        du_cat(f->summary, sizeof(f->summary),
               " The router's timeout for this flow is between %.1f s (longest idle it "
               "survived) and %.1f s.",
               du_sec(v->surv), du_sec(v->lost));
    else
        du_cat(f->summary, sizeof(f->summary),
               " The router's timeout for this flow is below %.1f s.", du_sec(v->lost));
}

/* A client session for the inside endpoint of mapping mp, with its outside endpoint. */
static struct finding_session *mapping_client(struct finding *f, const struct nat_mapping *mp)
{
    struct finding_session *fs = finding_session_add(f, ROLE_CLIENT, &mp->inside.ip);
    if (fs) {
        fs->has_port = mp->inside.has_port;
        fs->port = mp->inside.port;
        fs->has_outside = true;
        fs->out_ip = mp->outside.ip;
        fs->has_out_port = mp->outside.has_port;
        fs->out_port = mp->outside.port;
    }
    return fs;
}

static void group_sessions(struct finding *f, const struct group *gr, const struct verdict *v)
{
    const struct nat_mapping *mp = v->mp, *tk = v->tk;
    struct finding_session *fs = mapping_client(f, mp);
    if (fs) {
        if (gr->has_spi) {
            fs->has_spi = true;
            fs->spi = gr->spi;
        }
        snprintf(fs->note, sizeof(fs->note), "%s",
                 v->mv ? "moved to a new outside port" : "mapping expired");
    }
    if (tk && (fs = mapping_client(f, tk)))
        snprintf(fs->note, sizeof(fs->note), "took over the old outside port");
    if ((fs = finding_session_add(f, ROLE_SERVER, &mp->peer.ip))) {
        fs->has_port = mp->peer.has_port;
        fs->port = mp->peer.port;
        if (gr->drop_pkts)
            snprintf(fs->note, sizeof(fs->note), "its packets after the idle were dropped");
    }
    if ((fs = finding_session_add(f, ROLE_NAT, &mp->outside.ip))) {
        fs->has_port = mp->outside.has_port;
        fs->port = mp->outside.port;
    }
}

static void group_evidence(struct finding *f, const struct detect_ctx *c, const struct group *gr,
                           const struct verdict *v)
{
    finding_ev_seconds(f, "idle_seconds", du_sec(v->idle));
    finding_ev_int(f, "configured_timeout_s", timeout_for(c, v->mp->proto, v->replied));
    if (v->fl && v->fl->act.ka_count)
        finding_ev_seconds(f, "keepalive_interval_s", du_sec(activity_keepalive_us(&v->fl->act)));
    else
        finding_ev_bool(f, "keepalives", false);
    if (v->surv)
        finding_ev_seconds(f, "longest_idle_survived_s", du_sec(v->surv));
    finding_ev_seconds(f, "shortest_idle_lost_s", du_sec(v->lost));
    if (gr->drop_pkts) {
        finding_ev_int(f, "dropped_inbound_packets", (int64_t)gr->drop_pkts);
        finding_ev_ts(f, "first_dropped_ts", gr->drop_first);
        finding_ev_ts(f, "idle_start_ts", gr->gap_start);
    }
    if (v->tk)
        finding_ev_int(f, "packets_to_other_host", (int64_t)v->tk->from_peer_inside);
    if (v->mv) {
        finding_ev_int(f, "new_outside_port", v->mv->outside.port);
        finding_ev_ts(f, "new_mapping_ts", gr->move_ts);
    }
    for (unsigned k = 0; k < gr->nframes; k++)
        finding_frame(f, SIDE_OUTSIDE, gr->frames[k]);
    if (v->gp)
        finding_frame(f, SIDE_INSIDE, v->gp->frame_after);
}

static void two_captures(struct detect_ctx *c)
{
    const struct nat_result *r = c->nat;
    if (!r)
        return;
    struct group g[MAX_GROUPS];
    unsigned ng = 0;
    collect_drops(c, r, g, &ng);
    collect_moves(r, g, &ng);
    collect_taken(r, g, ng);
    for (unsigned i = 0; i < ng; i++) {
        struct verdict v;
        decide_group(c, r, &g[i], &v);
        struct finding *f = finding_add(c->out, FINDING_STALE_NAT, v.ts);
        if (!f)
            return;
        f->confirmed = true;
        group_summary(f, &g[i], &v);
        remedy(f, v.lost, v.mp->proto, c, v.replied);
        group_sessions(f, &g[i], &v);
        group_evidence(f, c, &g[i], &v);
    }
}

/* ---- one capture ---- */

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
    const struct gap *gp = fl ? du_gap_after(&fl->act, last, 1000000u) : NULL;
    bool replied = fl && fl->pkts[0] && fl->pkts[1];
    uint64_t idle = gp ? gp->end_us - gp->start_us : b->first_ts - last;
    struct finding *f = finding_add(c->out, FINDING_STALE_NAT, b->first_ts);
    if (!f)
        return;
    f->confirmed = true;
    char o[DU_IPSTR], n[DU_IPSTR], sv[DU_IPSTR], s[12], t[16], ka[160];
    ka_text(ka, sizeof(ka), fl, gp);
    snprintf(f->summary, sizeof(f->summary),
             "ESP SA %s from %s:%u reached %s:%u until the tunnel went idle, then from %s on "
             "(after %.1f s without "
             "traffic from %s) it reaches another inside host, %s:%u (%llu packets): the NAT "
             "mapping expired and "
             "the router gave the old outside port to %s, so %s's return traffic and IKE messages "
             "are lost. %s",
             du_spi(a->k.spi, s), du_ipp(srv, sv), a->k.sport, du_ipp(old, o), a->k.dport,
             du_hms(b->first_ts, t), du_sec(idle), o, du_ipp(&b->k.dst, n), b->k.dport,
             (unsigned long long)b->packets, n, o, ka);
    remedy(f, idle, IPP_UDP, c, replied);
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
    finding_ev_int(f, "configured_timeout_s", timeout_for(c, IPP_UDP, replied));
    if (fl && fl->act.ka_count)
        finding_ev_seconds(f, "keepalive_interval_s", du_sec(activity_keepalive_us(&fl->act)));
    else
        finding_ev_bool(f, "keepalives", false);
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
    p->gp = p->fl ? du_gap_after(&p->fl->act, a->last_ts, 1000000u) : NULL;
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
    ka_text(ka, sizeof(ka), p->fl, p->gp);
    snprintf(f->summary, sizeof(f->summary),
             "ESP SA %s between %s and %s:%u went idle for %.1f s and then continued from "
             "port %u instead "
             "of %u (at %s): the NAT mapping expired and the router gave the tunnel a new "
             "outside port, "
             "so the peer has to follow a new address and packets sent to the old one are "
             "lost. %s",
             du_spi(a->k.spi, s), sa_, sb, p->srvp, du_sec(p->idle), p->newp, p->oldp,
             du_hms(b->first_ts, t), ka);
    if (p->flow_idle && p->flow_idle < p->idle)
        du_cat(f->summary, sizeof(f->summary), " The UDP flow itself was idle %.1f s.",
               du_sec(p->flow_idle));
    remedy(f, p->flow_idle ? p->flow_idle : p->idle, IPP_UDP, c, p->replied);
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
    finding_ev_int(f, "configured_timeout_s", timeout_for(c, IPP_UDP, p->replied));
    if (p->fl && p->fl->act.ka_count)
        finding_ev_seconds(f, "keepalive_interval_s", du_sec(activity_keepalive_us(&p->fl->act)));
    else
        finding_ev_bool(f, "keepalives", false);
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
        if (!ik || !ik->act.n_gaps || ik->dpd_like < 2 || ik->retransmissions < 2 ||
            ik->max_unanswered_sends < 2)
            continue;
        const struct endpoint *ei = ik->nat_t ? &ik->natt_initiator : &ik->initiator;
        const struct endpoint *er = ik->nat_t ? &ik->natt_responder : &ik->responder;
        const struct flow *fl = du_flow_find(m, IPP_UDP, &ei->ip, ei->port, &er->ip, er->port);
        bool replied = fl && fl->pkts[0] && fl->pkts[1];
        uint64_t to_us = (uint64_t)timeout_for(c, IPP_UDP, replied) * 1000000u;
        /* the tunnel's own idle (keepalives and ESP count): the flow's longest gap */
        const struct gap *g = fl && fl->act.n_gaps ? &fl->act.gaps[0] : &ik->act.gaps[0];
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
        ka_text(ka, sizeof(ka), fl, g);
        snprintf(f->summary, sizeof(f->summary),
                 "IKE SA %016llx between %s and %s sat idle %.1f s (longer than the NAT's assumed "
                 "UDP timeout of "
                 "%u s); right after it, from %s, its request (message ID %u) was sent %u times "
                 "without a reply: "
                 "the NAT mapping most likely expired. %s",
                 (unsigned long long)ik->ispi, du_ip(&ei->ip, a), du_ip(&er->ip, b), du_sec(len),
                 timeout_for(c, IPP_UDP, replied), du_hms(ik->unanswered_first_ts, t),
                 ik->unanswered_msgid, ik->max_unanswered_sends, ka);
        remedy(f, len, IPP_UDP, c, replied);
        struct finding_session *fs = finding_session_add(f, ROLE_CLIENT, &ei->ip);
        if (fs) {
            fs->has_port = true;
            fs->port = ei->port;
        }
        if ((fs = finding_session_add(f, ROLE_SERVER, &er->ip))) {
            fs->has_port = true;
            fs->port = er->port;
        }
        finding_ev_seconds(f, "idle_seconds", du_sec(len));
        finding_ev_int(f, "configured_timeout_s", timeout_for(c, IPP_UDP, replied));
        finding_ev_int(f, "unanswered_sends", ik->max_unanswered_sends);
        finding_ev_int(f, "dpd_exchanges", (int64_t)ik->dpd_like);
        if (fl && fl->act.ka_count)
            finding_ev_seconds(f, "keepalive_interval_s", du_sec(activity_keepalive_us(&fl->act)));
        else
            finding_ev_bool(f, "keepalives", false);
        finding_ev_ts(f, "idle_start_ts", g->start_us);
        finding_frame(f, cap, g->frame_after);
        for (unsigned k = 0; k < ik->unanswered_nframes && k < 8; k++)
            finding_frame(f, cap, ik->unanswered_frames[k]);
    }
}

static void run(struct detect_ctx *c)
{
    if (du_two(c)) {
        two_captures(c);
    } else if (c->single) {
        single_portmove(c, c->single);
        single_dpd(c, c->single);
    }
}

const struct detector det_stale_nat = {
    .name = "stale_nat", .run = run, .emits = DETECT_KIND_BIT(FINDING_STALE_NAT)};
