/* stale_nat_two.c - stale_nat with two captures: packets from the peer to an idle mapping that
 * never reached the inside, the same inside endpoint reappearing through a new outside port, and
 * the old outside port handed to another inside endpoint. */
#include <stdio.h>
#include <string.h>

#include "stale_nat.h"

#define MAX_GROUPS 64

/* Longest recorded gap of a shorter than limit_us (survived idle), 0 when none. */
static uint64_t longest_below(const struct idle_gaps *a, uint64_t limit_us)
{
    uint64_t best = 0;
    for (unsigned i = 0; i < a->n_gaps && i < GAPS_PER_TUNNEL; i++) {
        uint64_t len = a->gaps[i].end_us - a->gaps[i].start_us;
        if (len < limit_us && len > best)
            best = len;
    }
    return best;
}

struct group {
    int map; /* mapping index of the first mapping of the inside endpoint */
    uint64_t drop_pkts, drop_first, drop_last;
    uint64_t idle_us; /* idle before the first drop */
    uint64_t gap_start;
    uint64_t frames[UNMATCHED_MAX_FRAMES];
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
            const struct gap *gp = du_gap_at(flow_act(fl), u->first_ts);
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
        for (unsigned k = 0; k < u->nframes && gr->nframes < UNMATCHED_MAX_FRAMES; k++)
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
        v->surv = longest_below(flow_act(v->fl), v->lost);
    if (v->surv >= v->lost || v->surv < IDLE_MIN_US)
        v->surv = 0; /* sub-2 s gaps say nothing about a NAT timeout */
    v->gp = v->fl ? du_gap_at(flow_act(v->fl), v->ts > 0 ? v->ts - 1 : v->ts) : NULL;
}

static void group_summary(struct finding *f, const struct group *gr, const struct verdict *v)
{
    const struct nat_mapping *mp = v->mp;
    char a[DU_IPSTR], b[DU_IPSTR], o[DU_IPSTR], t[16], ka[160], pn[DU_PROTOSTR];
    du_ipp(&mp->inside.ip, a);
    du_ipp(&mp->peer.ip, b);
    du_ipp(&mp->outside.ip, o);
    stale_ka_text(ka, sizeof(ka), v->fl, v->gp);
    if (mp->proto == IPP_UDP)
        snprintf(f->summary, FINDING_SUMMARY_SIZE,
                 "The NAT mapping of %s:%u (outside %s:%u) towards %s:%u had expired after "
                 "%.1f s of idle",
                 a, mp->inside.port, o, mp->outside.port, b, mp->peer.port, du_sec(v->idle));
    else
        snprintf(f->summary, FINDING_SUMMARY_SIZE,
                 "The NAT mapping of %s (outside %s) for %s towards %s had expired after %.1f "
                 "s of idle",
                 a, o, du_proto_upper(mp->proto, pn), b, du_sec(v->idle));
    if (gr->drop_pkts)
        du_cat(f->summary, FINDING_SUMMARY_SIZE,
               ": %llu packet(s) %s sent at %s reached the router's outside but never the client.",
               (unsigned long long)gr->drop_pkts, b, du_hms(gr->drop_first, t));
    else
        du_cat(f->summary, FINDING_SUMMARY_SIZE, ".");
    if (v->mv)
        du_cat(f->summary, FINDING_SUMMARY_SIZE,
               " When the client sent again at %s it got a new outside port %u (was %u), so "
               "the server sees a "
               "new peer.",
               du_hms(gr->move_ts, t), v->mv->outside.port, mp->outside.port);
    if (v->tk) {
        char x[DU_IPSTR];
        du_cat(f->summary, FINDING_SUMMARY_SIZE,
               " Meanwhile the old outside port %u went to %s:%u (from %s): %llu packets %s "
               "sent there reached "
               "that host instead.",
               mp->outside.port, du_ipp(&v->tk->inside.ip, x), v->tk->inside.port,
               du_hms(v->tk->first_ts, t), (unsigned long long)v->tk->from_peer_inside, b);
    }
    du_cat(f->summary, FINDING_SUMMARY_SIZE, " %s", ka);
    if (v->surv)
        du_cat(f->summary, FINDING_SUMMARY_SIZE,
               " The router's timeout for this flow is between %.1f s (longest idle it "
               "survived) and %.1f s.",
               du_sec(v->surv), du_sec(v->lost));
    else
        du_cat(f->summary, FINDING_SUMMARY_SIZE,
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
    finding_ev_int(f, "configured_timeout_s", stale_timeout_for(c, v->mp->proto, v->replied));
    stale_ev_keepalive(f, v->fl);
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
        finding_frame_role(f, SIDE_OUTSIDE, gr->frames[k], "dropped at the router");
    if (v->gp)
        finding_frame_role(f, SIDE_INSIDE, v->gp->frame_after, "first packet after the idle gap");
}

void stale_two_captures(struct detect_ctx *c)
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
        stale_remedy(f, v.lost, v.mp->proto, c, v.replied);
        group_sessions(f, &g[i], &v);
        group_evidence(f, c, &g[i], &v);
        if (v.fl) {
            struct endpoint old_out = {v.mp->outside.ip, v.mp->outside.port};
            stale_tunnel_two(c, f, v.fl, &old_out, v.lost, v.surv);
        }
    }
}
