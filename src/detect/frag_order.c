/* frag_order.c - fragmented VPN datagrams (model->fragdg[]): fragment_reorder when fragments arrive
 * out of order, fragment_loss when a datagram never completed or (two captures) did not cross the
 * router. With two captures each datagram is looked up on the far side of the router (IPv4: same
 * IP ID; IPv6: a Linux router re-fragments under a new ID, so the nearest in time): if it got
 * through intact, the remedy does not blame the router. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "det_util.h"

#define MAX_GROUPS 64
#define MATCH_WINDOW_US 2000000ull
/* Incomplete datagrams this close to the capture end are not judged... */
#define END_MARGIN_US 200000ull
/* ...unless their sender sent something else this long after them. */
#define MOVED_ON_US 100000ull

/* Per scan() lookups, built on first use (du_index chains keep index / slot order). */
struct scan_idx {
    bool senders_built;
    struct table *senders; /* address -> latest last_ts of a flow it sent on (NULL: scan flows) */
    bool far_built;
    struct du_index far; /* far fragdg[] by destination (ingress inside) or source */
    bool maps_built;
    struct du_index maps; /* NAT mappings by inside address */
};

static void scan_idx_free(struct scan_idx *x)
{
    table_free(x->senders);
    if (x->far_built)
        du_index_free(&x->far);
    if (x->maps_built)
        du_index_free(&x->maps);
    memset(x, 0, sizeof(*x));
}

static bool sender_put(struct table *t, const struct ip_addr *ip, uint64_t ts)
{
    struct du_key k;
    du_key_make(&k, 0, 0, ip, 0, NULL, 0, 0);
    bool created = false;
    uint64_t *v = table_put(t, &k, &created);
    if (!v)
        return false;
    if (created || ts > *v)
        *v = ts;
    return true;
}

/* The sender of d sent another packet (any flow) well after d's last fragment. */
static bool sender_moved_on(const struct session_model *m, struct scan_idx *x,
                            const struct fragdg *d)
{
    if (!x->senders_built) {
        x->senders_built = true;
        x->senders = table_new(sizeof(struct du_key), sizeof(uint64_t),
                               2 * table_slots(m->flows) + 1, NULL, NULL);
        for (uint32_t i = 0; x->senders && i < table_slots(m->flows); i++) {
            const struct flow *f = table_slot(m->flows, i, NULL);
            if (!f)
                continue;
            struct endpoint fs = flow_end(m, f, 0), fd = flow_end(m, f, 1);
            if ((f->pkts[0] && !sender_put(x->senders, &fs.ip, f->last_ts)) ||
                (f->pkts[1] && !sender_put(x->senders, &fd.ip, f->last_ts))) {
                table_free(x->senders);
                x->senders = NULL;
            }
        }
    }
    if (x->senders) {
        struct du_key k;
        du_key_make(&k, 0, 0, &d->src, 0, NULL, 0, 0);
        const uint64_t *v = table_get(x->senders, &k, false);
        return v && *v > d->last_ts + MOVED_ON_US;
    }
    for (uint32_t i = 0; i < table_slots(m->flows); i++) {
        const struct flow *f = table_slot(m->flows, i, NULL);
        if (!f || f->last_ts <= d->last_ts + MOVED_ON_US)
            continue;
        struct endpoint fs = flow_end(m, f, 0), fd = flow_end(m, f, 1);
        if ((ip_addr_eq(&fs.ip, &d->src) && f->pkts[0]) ||
            (ip_addr_eq(&fd.ip, &d->src) && f->pkts[1]))
            return true;
    }
    return false;
}

struct fgroup {
    const struct session_model *m;
    struct ip_addr src, dst;
    uint8_t proto;
    uint16_t sport, dport;
    unsigned n, ooo, ooo_through, ooo_through_inorder, ooo_missing, incomplete, timed_out,
        not_crossed, ike;
    uint64_t first_ooo_ts, first_loss_ts;
    uint64_t ooo_frames[6], loss_frames[6], far_frames[4];
    unsigned n_ooo_frames, n_loss_frames, n_far_frames;
};

/* The far side's datagrams keyed by the address that the router leaves alone: the destination
 * for traffic entering inside, the source otherwise. */
static void far_key(struct du_key *k, const struct fragdg *d, bool ingress_inside)
{
    du_key_make(k, 0, 0, ingress_inside ? &d->dst : &d->src, 0, NULL, 0, 0);
}

static const struct du_index *far_index(const struct session_model *far, struct scan_idx *x,
                                        bool ingress_inside)
{
    if (!x->far_built) {
        x->far_built = true;
        du_index_init(&x->far, sizeof(struct du_key), far->n_fragdg);
        for (uint32_t i = 0; i < far->n_fragdg; i++) {
            struct du_key k;
            far_key(&k, &far->fragdg[i], ingress_inside);
            du_index_add(&x->far, &k, i);
        }
    }
    return &x->far;
}

static const struct fragdg *counterpart(const struct session_model *far, struct scan_idx *x,
                                        const struct fragdg *d, bool ingress_inside, bool *used)
{
    const struct fragdg *best = NULL;
    uint64_t bestd = 0;
    int besti = -1;
    const struct du_index *fx = far_index(far, x, ingress_inside);
    struct du_key k;
    far_key(&k, d, ingress_inside);
    for (uint32_t i = du_index_first(fx, &k); i != DU_NONE && i < far->n_fragdg;
         i = du_index_next(fx, i)) {
        const struct fragdg *o = &far->fragdg[i];
        if (used[i] || o->proto != d->proto || o->src.v != d->src.v)
            continue;
        if (ingress_inside ? !ip_addr_eq(&o->dst, &d->dst) : !ip_addr_eq(&o->src, &d->src))
            continue;
        if (d->src.v == 4 && o->id != d->id)
            continue;
        uint64_t dt =
            o->first_ts > d->first_ts ? o->first_ts - d->first_ts : d->first_ts - o->first_ts;
        if (dt > MATCH_WINDOW_US)
            continue;
        if (!best || dt < bestd) {
            best = o;
            bestd = dt;
            besti = (int)i;
        }
    }
    if (besti >= 0)
        used[besti] = true;
    return best;
}

static bool pair_seen(const struct session_model *far, struct scan_idx *x, const struct fragdg *d,
                      bool ingress_inside)
{
    const struct du_index *fx = far_index(far, x, ingress_inside);
    struct du_key k;
    far_key(&k, d, ingress_inside);
    for (uint32_t i = du_index_first(fx, &k); i != DU_NONE && i < far->n_fragdg;
         i = du_index_next(fx, i)) {
        const struct fragdg *o = &far->fragdg[i];
        if (ingress_inside ? ip_addr_eq(&o->dst, &d->dst) : ip_addr_eq(&o->src, &d->src))
            return true;
    }
    return false;
}

/* The first NAT mapping (index order) whose inside address is ip, or DU_NONE. */
static uint32_t first_inside(const struct nat_result *r, struct scan_idx *x,
                             const struct ip_addr *ip)
{
    if (!x->maps_built) {
        x->maps_built = true;
        du_index_init(&x->maps, sizeof(struct du_key), (uint32_t)r->n_map);
        for (size_t i = 0; i < r->n_map; i++) {
            struct du_key k;
            du_key_make(&k, 0, 0, &r->map[i].inside.ip, 0, NULL, 0, 0);
            du_index_add(&x->maps, &k, (uint32_t)i);
        }
    }
    struct du_key k;
    du_key_make(&k, 0, 0, ip, 0, NULL, 0, 0);
    for (uint32_t i = du_index_first(&x->maps, &k); i != DU_NONE && i < r->n_map;
         i = du_index_next(&x->maps, i))
        if (ip_addr_eq(&r->map[i].inside.ip, ip))
            return i;
    return DU_NONE;
}

/* Two captures: does this datagram enter the router on the side of model m? */
static bool is_ingress(const struct detect_ctx *c, const struct session_model *m,
                       struct scan_idx *x, const struct fragdg *d)
{
    if (m == c->outside)
        return du_is_nat_addr(c, &d->dst) ||
               (!c->nat->n_nat_addrs && !ip_addr_is_private(&d->src) &&
                !du_is_nat_addr(c, &d->src));
    if (c->nat) {
        /* the first mapping naming either address as inside decides (source first) */
        uint32_t fs = first_inside(c->nat, x, &d->src), fd = first_inside(c->nat, x, &d->dst);
        if (fs != DU_NONE && fs <= fd)
            return true;
        if (fd != DU_NONE)
            return false;
    }
    return ip_addr_is_private(&d->src) && !ip_addr_is_private(&d->dst);
}

static struct fgroup *group_for(struct fgroup *g, unsigned *ng, const struct session_model *m,
                                const struct fragdg *d)
{
    for (unsigned i = 0; i < *ng; i++)
        if (g[i].m == m && ip_addr_eq(&g[i].src, &d->src) && ip_addr_eq(&g[i].dst, &d->dst) &&
            g[i].proto == d->proto && g[i].sport == d->sport && g[i].dport == d->dport)
            return &g[i];
    if (*ng >= MAX_GROUPS)
        return NULL;
    struct fgroup *r = &g[(*ng)++];
    memset(r, 0, sizeof(*r));
    r->m = m;
    r->src = d->src;
    r->dst = d->dst;
    r->proto = d->proto;
    r->sport = d->sport;
    r->dport = d->dport;
    return r;
}

static void flow_text(char *buf, size_t n, const struct fgroup *g)
{
    char a[DU_IPSTR], b[DU_IPSTR], pn[DU_PROTOSTR];
    du_ipp(&g->src, a);
    du_ipp(&g->dst, b);
    if (g->proto == IPP_UDP && (g->sport || g->dport))
        snprintf(buf, n, "%s:%u -> %s:%u (UDP)", a, g->sport, b, g->dport);
    else
        snprintf(buf, n, "%s -> %s (%s)", a, b, du_proto_upper(g->proto, pn));
}

static void sessions(struct finding *f, const struct detect_ctx *c, const struct fgroup *g)
{
    bool src_client =
        g->m == c->outside ? false : (ip_addr_is_private(&g->src) || !ip_addr_is_private(&g->dst));
    if (du_two(c) && g->m == c->outside)
        src_client = false;
    const struct ip_addr *cli = src_client ? &g->src : &g->dst,
                         *srv = src_client ? &g->dst : &g->src;
    struct finding_session *fs = finding_session_add(f, ROLE_CLIENT, cli);
    if (fs && (g->sport || g->dport)) {
        fs->has_port = true;
        fs->port = src_client ? g->sport : g->dport;
    }
    if (fs && g->m == c->outside)
        snprintf(fs->note, sizeof(fs->note), "outside address (inside client unknown)");
    fs = finding_session_add(f, ROLE_SERVER, srv);
    if (fs && (g->sport || g->dport)) {
        fs->has_port = true;
        fs->port = src_client ? g->dport : g->sport;
    }
}

static void scan(struct detect_ctx *c, const struct session_model *m,
                 const struct session_model *far, struct fgroup *g, unsigned *ng)
{
    /* the far datagrams already matched, by index (each matches one near datagram at most) */
    bool *used = far ? calloc((size_t)far->n_fragdg + 1, sizeof(*used)) : NULL;
    if (far && !used)
        return;
    uint64_t end = du_model_end(m);
    struct scan_idx x;
    memset(&x, 0, sizeof(x));
    for (uint32_t i = 0; i < m->n_fragdg; i++) {
        const struct fragdg *d = &m->fragdg[i];
        if (far && !is_ingress(c, m, &x, d))
            continue;
        bool lost_here =
            !d->complete && (d->timed_out || end < d->last_ts ||
                             end - d->last_ts >= END_MARGIN_US || sender_moved_on(m, &x, d));
        const struct fragdg *o = NULL;
        bool not_crossed = false;
        if (far && d->complete) {
            o = counterpart(far, &x, d, m == c->inside, used);
            not_crossed = !o && pair_seen(far, &x, d, m == c->inside);
        }
        if (!d->out_of_order && !lost_here && !not_crossed) {
            struct fgroup *r = group_for(g, ng, m, d);
            if (r)
                r->n++;
            continue;
        }
        struct fgroup *r = group_for(g, ng, m, d);
        if (!r)
            continue;
        r->n++;
        if (d->is_ike)
            r->ike++;
        if (d->out_of_order) {
            r->ooo++;
            if (!r->first_ooo_ts || d->first_ts < r->first_ooo_ts)
                r->first_ooo_ts = d->first_ts;
            for (unsigned k = 0; k < d->nframes && r->n_ooo_frames < 6 && k < 2; k++)
                r->ooo_frames[r->n_ooo_frames++] = d->frames[k];
            if (o && o->complete) {
                r->ooo_through++;
                if (!o->out_of_order)
                    r->ooo_through_inorder++;
                if (r->n_far_frames < 4 && o->nframes)
                    r->far_frames[r->n_far_frames++] = o->frames[0];
            } else if (far && d->complete) {
                r->ooo_missing++;
            }
        }
        if (lost_here || not_crossed) {
            if (lost_here) {
                r->incomplete++;
                if (d->timed_out)
                    r->timed_out++;
            } else {
                r->not_crossed++;
            }
            if (!r->first_loss_ts || d->first_ts < r->first_loss_ts)
                r->first_loss_ts = d->first_ts;
            for (unsigned k = 0; k < d->nframes && r->n_loss_frames < 6 && k < 3; k++)
                r->loss_frames[r->n_loss_frames++] = d->frames[k];
        }
    }
    scan_idx_free(&x);
    free(used);
}

/* Summary and remedy of a fragment_reorder finding: whether the out-of-order datagrams crossed
 * the router (two captures). */
static void reorder_text(struct finding *f, const struct detect_ctx *c, const struct fgroup *g,
                         const char *fl, const char *what)
{
    bool two = du_two(c);
    char t[16];
    snprintf(
        f->summary, FINDING_SUMMARY_SIZE,
        "%s: %u of %u fragmented %s arrived with their fragments out of order%s (first at %s).", fl,
        g->ooo, g->n, what, two ? (g->m == c->inside ? " on the inside" : " on the outside") : "",
        du_hms(g->first_ooo_ts, t));
    if (two && g->ooo_through == g->ooo) {
        du_cat(f->summary, FINDING_SUMMARY_SIZE,
               " All %u crossed the router intact (%s): the router reassembles out-of-order "
               "fragments; the "
               "reordering happens on the path before it.",
               g->ooo_through,
               g->ooo_through_inorder == g->ooo ? "re-emitted in order" : "still fragmented");
        snprintf(f->remedy, FINDING_REMEDY_SIZE,
                 "Nothing to change on the router. Avoid IP fragmentation of the tunnel "
                 "instead: lower the "
                 "tunnel MTU / clamp the TCP MSS inside it (e.g. MTU 1400, MSS 1360), check "
                 "the path MTU, and "
                 "enable IKE fragmentation (RFC 7383; strongSwan fragmentation=yes) for large "
                 "IKE messages.");
    } else if (two) {
        du_cat(f->summary, FINDING_SUMMARY_SIZE,
               " %u of them never appeared on the other side of the router: it drops "
               "out-of-order fragments "
               "(RFC 4787 REQ-14 requires accepting them).",
               g->ooo - g->ooo_through);
        snprintf(f->remedy, FINDING_REMEDY_SIZE,
                 "Make the router reassemble or requeue out-of-order fragments (RFC 4787 "
                 "REQ-14; update its "
                 "firmware or disable its fragment filter), or avoid fragmentation: lower the "
                 "tunnel MTU / MSS "
                 "(e.g. 1400/1360) and enable IKE fragmentation (RFC 7383; strongSwan "
                 "fragmentation=yes).");
    } else {
        du_cat(f->summary, FINDING_SUMMARY_SIZE,
               " NATs and firewalls that do not requeue fragments drop such datagrams.");
        snprintf(
            f->remedy, FINDING_REMEDY_SIZE,
            "Check that the NAT router requeues out-of-order fragments (RFC 4787 REQ-14); "
            "capture on both "
            "sides of it (--inside/--outside) to see whether they cross. Avoid fragmentation: "
            "lower the "
            "tunnel MTU / MSS (e.g. 1400/1360), enable IKE fragmentation (RFC 7383; strongSwan "
            "fragmentation=yes).");
    }
}

/* Emit: fragment_reorder for group g; false when out of memory. */
static bool emit_reorder(struct detect_ctx *c, const struct fgroup *g, const char *fl,
                         const char *what)
{
    bool two = du_two(c);
    uint8_t cap = du_cap(c, g->m);
    struct finding *f = finding_add(c->out, FINDING_FRAGMENT_REORDER, g->first_ooo_ts);
    if (!f)
        return false;
    f->confirmed = true;
    reorder_text(f, c, g, fl, what);
    sessions(f, c, g);
    finding_ev_int(f, "fragmented_datagrams", g->n);
    finding_ev_int(f, "out_of_order", g->ooo);
    if (two) {
        finding_ev_int(f, "crossed_router", g->ooo_through);
        finding_ev_int(f, "missing_on_other_side", g->ooo - g->ooo_through);
    }
    finding_ev_ts(f, "first_ts", g->first_ooo_ts);
    for (unsigned k = 0; k < g->n_ooo_frames; k++)
        finding_frame(f, cap, g->ooo_frames[k]);
    for (unsigned k = 0; k < g->n_far_frames; k++)
        finding_frame(f, g->m == c->inside ? SIDE_OUTSIDE : SIDE_INSIDE, g->far_frames[k]);
    return true;
}

/* Summary and remedy of a fragment_loss finding. */
static void loss_text(struct finding *f, const struct detect_ctx *c, const struct fgroup *g,
                      const char *fl, const char *what)
{
    bool two = du_two(c);
    char t[16];
    snprintf(f->summary, FINDING_SUMMARY_SIZE, "%s: of %u fragmented %s", fl, g->n, what);
    if (g->incomplete)
        du_cat(f->summary, FINDING_SUMMARY_SIZE, ", %u never completed (fragments missing%s%s)",
               g->incomplete, g->timed_out ? ", reassembly timed out" : "",
               two ? " already on the inside" : "");
    if (g->not_crossed)
        du_cat(f->summary, FINDING_SUMMARY_SIZE,
               "%s %u arrived complete but never appeared on the other side of "
               "the router",
               g->incomplete ? ", and" : ",", g->not_crossed);
    du_cat(f->summary, FINDING_SUMMARY_SIZE, " (first at %s). The receiver loses those packets%s.",
           du_hms(g->first_loss_ts, t),
           g->ike ? "; a lost IKE message stalls the negotiation" : "");
    if (g->not_crossed)
        snprintf(f->remedy, FINDING_REMEDY_SIZE,
                 "The router drops fragmented datagrams: make it reassemble them (or raise its "
                 "fragment "
                 "memory/timeout), or avoid fragmentation: lower the tunnel MTU / MSS (e.g. "
                 "1400/1360) and "
                 "enable IKE fragmentation (RFC 7383; strongSwan fragmentation=yes).");
    else
        snprintf(
            f->remedy, FINDING_REMEDY_SIZE,
            "A fragment was lost before %s; the router discards the rest after its reassembly "
            "timeout. "
            "Avoid fragmentation: lower the tunnel MTU / clamp the MSS (e.g. 1400/1360), fix "
            "the path MTU "
            "(allow ICMP fragmentation-needed), enable IKE fragmentation (RFC 7383; strongSwan "
            "fragmentation=yes).",
            two ? "the router" : "the capture point");
}

/* Emit: fragment_loss for group g. */
static void emit_loss(struct detect_ctx *c, const struct fgroup *g, const char *fl,
                      const char *what)
{
    bool two = du_two(c);
    uint8_t cap = du_cap(c, g->m);
    struct finding *f = finding_add(c->out, FINDING_FRAGMENT_LOSS, g->first_loss_ts);
    if (!f)
        return;
    f->confirmed = two;
    loss_text(f, c, g, fl, what);
    sessions(f, c, g);
    finding_ev_int(f, "fragmented_datagrams", g->n);
    finding_ev_int(f, "incomplete", g->incomplete);
    finding_ev_int(f, "timed_out", g->timed_out);
    if (two)
        finding_ev_int(f, "not_crossed_router", g->not_crossed);
    finding_ev_ts(f, "first_ts", g->first_loss_ts);
    for (unsigned k = 0; k < g->n_loss_frames; k++)
        finding_frame(f, cap, g->loss_frames[k]);
}

static void emit(struct detect_ctx *c, const struct fgroup *g)
{
    char fl[128];
    flow_text(fl, sizeof(fl), g);
    const char *what = g->ike ? "VPN datagrams (incl. IKE)" : "VPN datagrams";
    if (g->ooo && !emit_reorder(c, g, fl, what))
        return;
    if (g->incomplete || g->not_crossed)
        emit_loss(c, g, fl, what);
}

static void run(struct detect_ctx *c)
{
    struct fgroup *g = calloc(MAX_GROUPS * 2, sizeof(*g));
    if (!g)
        return;
    unsigned ng = 0;
    if (du_two(c)) {
        scan(c, c->inside, c->outside, g, &ng);
        scan(c, c->outside, c->inside, g, &ng);
    } else if (c->single) {
        scan(c, c->single, NULL, g, &ng);
    }
    for (unsigned i = 0; i < ng; i++)
        emit(c, &g[i]);
    free(g);
}

const struct detector det_frag_order = {.name = "frag_order",
                                        .run = run,
                                        .emits = DETECT_KIND_BIT(FINDING_FRAGMENT_REORDER) |
                                                 DETECT_KIND_BIT(FINDING_FRAGMENT_LOSS)};
