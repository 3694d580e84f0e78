/* nat_state_lost.c - several NAT mappings of one router lost at the same instant while in use (a
 * reboot, a conntrack flush, a failover to another box), as opposed to one mapping expiring after
 * an idle period (stale_nat):
 *  - two captures: inbound packets of several tunnels dying at the router (outside only, from the
 *    peer, to a mapping that carried traffic moments before) from one instant on; each tunnel's
 *    new outside port when it came back;
 *  - outside capture alone: several clients of one outside address reappearing on new ports at
 *    about the same time, each old port still receiving inbound packets it no longer answered;
 *  - inside capture alone: the return traffic of several tunnels falling silent at the same
 *    instant while their clients kept sending (large-packet loss excluded: mtu_blackhole).
 * The tunnels of one group are named with when they stopped and came back. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "det_util.h"

#define IN_USE_US 5000000ull     /* a mapping is in use when it carried traffic this recently */
#define TWO_WINDOW_US 1000000ull /* drops of one instant start within this (two captures) */
#define IN_WINDOW_US 500000ull   /* silences of one instant start within this (inside) */
#define OUT_WINDOW_US                                                                              \
    5000000ull                /* reappearances of one instant (outside: each client's own          \
                               * next packet decides when it comes back) */
#define SIL_MIN_US 1000000ull /* a silence of the return traffic: at least this long, */
#define SIL_RATIO 4           /* and this many times its mean interval */
#define MAX_LOST 64

struct lost {
    uint8_t proto;
    bool has_inside;
    struct endpoint inside; /* inside endpoint (two captures, inside capture) */
    bool has_outside;
    struct endpoint outside; /* the old outside endpoint (two captures, outside capture) */
    bool has_new;
    uint16_t new_port;
    struct endpoint peer;
    bool has_spi;
    uint32_t spi;
    uint64_t t_event; /* first drop / start of the silence / reappearance */
    uint64_t t_back;  /* the tunnel's traffic back (0: not seen) */
    uint64_t died;    /* inbound packets lost (two captures) or unanswered (one capture) */
    uint8_t cap;
    uint8_t nframes;
    uint64_t frames[3];
};

struct lost_set {
    unsigned n;
    struct lost v[MAX_LOST];
};

static struct lost *lost_add(struct lost_set *s)
{
    if (s->n >= MAX_LOST)
        return NULL;
    struct lost *l = &s->v[s->n++];
    memset(l, 0, sizeof(*l));
    return l;
}

/* ---- two captures ---- */

/* Whether the inside flow of mp carried traffic within IN_USE_US before ts. */
static bool in_use(const struct detect_ctx *c, const struct nat_mapping *mp, uint64_t ts)
{
    const struct flow *fl = du_flow_find(c->inside, mp->proto, &mp->inside.ip, mp->inside.port,
                                         &mp->peer.ip, mp->peer.port);
    if (!fl || fl->first_ts > ts)
        return false;
    const struct gap *g = du_gap_at(flow_act(fl), ts);
    if (g)
        return ts - g->start_us < IN_USE_US;
    return fl->last_ts + IN_USE_US >= ts;
}

static void two_collect(const struct detect_ctx *c, struct lost_set *s)
{
    const struct nat_result *r = c->nat;
    for (size_t i = 0; i < r->n_unm; i++) {
        const struct nat_unmatched *u = &r->unm[i];
        if (u->side != SIDE_OUTSIDE || u->direction != 1 || u->mapping < 0 ||
            (size_t)u->mapping >= r->n_map)
            continue;
        const struct nat_mapping *mp = &r->map[u->mapping];
        if (mp->first_ts > u->first_ts || !in_use(c, mp, u->first_ts))
            continue;
        struct lost *l = lost_add(s);
        if (!l)
            return;
        l->proto = mp->proto;
        l->has_inside = l->has_outside = true;
        l->inside.ip = mp->inside.ip;
        l->inside.port = mp->inside.has_port ? mp->inside.port : 0;
        l->outside.ip = mp->outside.ip;
        l->outside.port = mp->outside.has_port ? mp->outside.port : 0;
        l->peer.ip = mp->peer.ip;
        l->peer.port = mp->peer.has_port ? mp->peer.port : 0;
        l->has_spi = u->has_spi;
        l->spi = u->spi;
        l->t_event = u->first_ts;
        l->t_back = u->last_ts;
        l->died = u->packets;
        l->cap = SIDE_OUTSIDE;
        for (unsigned k = 0; k < u->nframes && k < 3; k++)
            l->frames[l->nframes++] = u->frames[k];
        int32_t nx = mp->next_same_inside;
        if (nx >= 0 && (size_t)nx < r->n_map && r->map[nx].outside.has_port &&
            r->map[nx].outside.port != l->outside.port) {
            l->has_new = true;
            l->new_port = r->map[nx].outside.port;
            l->t_back = r->map[nx].first_ts;
        }
    }
}

/* ---- inside capture alone ---- */

static uint64_t mean_interval(const struct mtu_dir *d)
{
    return d->n > 1 ? (d->last_ts - d->first_ts) / (d->n - 1) : 0;
}

static void inside_collect(const struct session_model *m, uint8_t cap, struct lost_set *s)
{
    for (uint32_t i = 0; m->mtu && i < table_slots(m->mtu); i++) {
        const struct flow_key *key;
        const struct mtu_flow *mf = session_mtu_slot(m, i, &key);
        if (!mf)
            continue;
        struct mtu_dir md[2];
        session_mtu_dir(mf, 0, &md[0]);
        session_mtu_dir(mf, 1, &md[1]);
        /* the return direction: the one whose silence is longest against its own pace while
         * the other direction sent during it */
        int d = -1;
        uint64_t best = 0;
        for (int k = 0; k < 2; k++) {
            const struct mtu_dir *rd = &md[k], *sd = &md[!k];
            uint64_t sil = rd->sil_end - rd->sil_start, ivl = mean_interval(rd);
            if (!rd->sil_other || sil < SIL_MIN_US || !ivl || sil < SIL_RATIO * ivl)
                continue;
            /* the sender's large packets were lost: a path MTU problem, not lost state */
            if (sd->first_large_loss_ts >= rd->sil_start && sd->first_large_loss_ts <= rd->sil_end)
                continue;
            if (sil / ivl > best) {
                best = sil / ivl;
                d = k;
            }
        }
        if (d >= 0) {
            const struct mtu_dir *rd = &md[d];
            struct lost *l = lost_add(s);
            if (!l)
                return;
            l->proto = key->proto;
            l->has_inside = true;
            l->inside = mtu_end(key, !d); /* the receiver of the silent direction */
            l->peer = mtu_end(key, d);
            l->t_event = rd->sil_start;
            l->t_back = rd->sil_end;
            l->died = rd->sil_other;
            l->cap = cap;
            l->frames[l->nframes++] = rd->sil_end_frame;
        }
    }
}

/* ---- outside capture alone ---- */

/* A candidate move: old flow o (client side co) to new flow n (client side cn). */
struct move {
    const struct mtu_flow *o, *n;
    const struct flow_key *ko, *kn; /* their endpoints */
    int co, cn;
    uint64_t score; /* |old port's last inbound - new port's first outbound|: the server follows */
};

/* Whether the client endpoint of o (side co) may have moved to n: the same peer endpoint reached
 * from the same address on another port, first after the old port's last packet out, and the old
 * port kept receiving inbound packets (unanswered) soon after that. */
static bool move_candidate(const struct move *c, struct move *mv)
{
    const struct mtu_flow *o = c->o, *n = c->n;
    int co = c->co, cn = c->cn;
    if (mtu_end(c->ko, co).port == mtu_end(c->kn, cn).port)
        return false;
    struct mtu_dir oo, oi, no;
    session_mtu_dir(o, co, &oo);
    session_mtu_dir(o, !co, &oi);
    session_mtu_dir(n, cn, &no);
    const struct mtu_dir *o_out = &oo, *o_in = &oi, *n_out = &no;
    if (!n_out->n || !o_out->n || n_out->first_ts <= o_out->last_ts)
        return false;
    if (o_in->first_since_other <= o_out->last_ts || o_in->first_since_other >= n_out->first_ts ||
        o_in->first_since_other - o_out->last_ts > IN_USE_US)
        return false;
    *mv = *c;
    mv->score = o_in->last_ts > n_out->first_ts ? o_in->last_ts - n_out->first_ts
                                                : n_out->first_ts - o_in->last_ts;
    return true;
}

static void move_add(const struct move *mv, uint8_t cap, struct lost_set *s)
{
    struct mtu_dir oo, oi, no;
    session_mtu_dir(mv->o, mv->co, &oo);
    session_mtu_dir(mv->o, !mv->co, &oi);
    session_mtu_dir(mv->n, mv->cn, &no);
    const struct mtu_dir *o_out = &oo, *o_in = &oi, *n_out = &no;
    struct lost *l = lost_add(s);
    if (!l)
        return;
    l->proto = mv->ko->proto;
    l->has_outside = true;
    l->outside = mtu_end(mv->ko, mv->co);
    l->has_new = true;
    l->new_port = mtu_end(mv->kn, mv->cn).port;
    l->peer = mtu_end(mv->ko, !mv->co);
    l->t_event = n_out->first_ts;
    l->t_back = n_out->first_ts;
    l->cap = cap;
    l->frames[l->nframes++] = o_in->first_since_other_frame;
    l->died = o_in->last_ts > o_out->last_ts ? o_out->n_since_peer : 0;
}

static int by_score(const void *a, const void *b)
{
    const struct move *x = a, *y = b;
    return x->score < y->score ? -1 : x->score > y->score;
}

static void outside_key(struct du_key *k, const struct flow_key *fk, int client)
{
    struct endpoint cl = mtu_end(fk, client), pe = mtu_end(fk, !client);
    du_key_make(k, (uint8_t)client, fk->proto, &cl.ip, 0, &pe.ip, pe.port, 0);
}

static void outside_collect(const struct session_model *m, uint8_t cap, struct lost_set *s)
{
    if (!m->mtu)
        return;
    uint32_t n = table_slots(m->mtu);
    struct du_index x[2];
    for (int side = 0; side < 2; side++) {
        du_index_init(&x[side], sizeof(struct du_key), n);
        for (uint32_t i = 0; i < n; i++) {
            const struct flow_key *fk;
            const struct mtu_flow *mf = session_mtu_slot(m, i, &fk);
            if (!mf || fk->proto != IPP_UDP)
                continue;
            struct du_key k;
            outside_key(&k, fk, side);
            du_index_add(&x[side], &k, i);
        }
    }
    struct move *mv = calloc(MAX_LOST * 4, sizeof(*mv));
    unsigned nmv = 0;
    for (uint32_t i = 0; mv && i < n; i++) {
        const struct flow_key *ko;
        const struct mtu_flow *o = session_mtu_slot(m, i, &ko);
        if (!o || ko->proto != IPP_UDP)
            continue;
        for (int co = 0; co < 2; co++) {
            struct du_key k;
            outside_key(&k, ko, co);
            for (uint32_t j = du_index_first(&x[co], &k); j != DU_NONE && nmv < MAX_LOST * 4;
                 j = du_index_next(&x[co], j)) {
                struct move c = {.o = o, .ko = ko, .co = co, .cn = co};
                c.n = session_mtu_slot(m, j, &c.kn);
                if (c.n && c.n != o && move_candidate(&c, &mv[nmv]))
                    nmv++;
            }
        }
    }
    /* each old and each new port in one move at most: the closest hand-overs first */
    if (mv)
        qsort(mv, nmv, sizeof(*mv), by_score);
    for (unsigned i = 0; i < nmv; i++) {
        bool used = false;
        for (unsigned j = 0; j < i && !used; j++)
            used = mv[j].score != UINT64_MAX && (mv[j].o == mv[i].o || mv[j].n == mv[i].n);
        if (used) {
            mv[i].score = UINT64_MAX;
            continue;
        }
        move_add(&mv[i], cap, s);
    }
    free(mv);
    du_index_free(&x[0]);
    du_index_free(&x[1]);
}

/* ---- decide and emit ---- */

static int by_event(const void *a, const void *b)
{
    const struct lost *x = a, *y = b;
    return x->t_event < y->t_event ? -1 : x->t_event > y->t_event;
}

/* Distinct tunnels of v[0..n): different inside or old outside endpoints. */
static unsigned distinct(const struct lost *v, unsigned n)
{
    unsigned d = 0;
    for (unsigned i = 0; i < n; i++) {
        bool dup = false;
        for (unsigned j = 0; j < i && !dup; j++)
            dup = v[j].proto == v[i].proto && ip_addr_eq(&v[j].inside.ip, &v[i].inside.ip) &&
                  v[j].inside.port == v[i].inside.port &&
                  ip_addr_eq(&v[j].outside.ip, &v[i].outside.ip) &&
                  v[j].outside.port == v[i].outside.port;
        d += !dup;
    }
    return d;
}

static void endpoint_str(const struct endpoint *e, char *buf, size_t n)
{
    char ip[DU_IPSTR];
    if (e->port)
        snprintf(buf, n, "%s:%u", du_ipp(&e->ip, ip), e->port);
    else
        snprintf(buf, n, "%s", du_ip(&e->ip, ip));
}

static void tunnel_text(char *sum, size_t n, const struct lost *l)
{
    char a[DU_IPSTR + 8], p[DU_IPSTR + 8], pn[DU_PROTOSTR];
    endpoint_str(l->has_inside ? &l->inside : &l->outside, a, sizeof(a));
    endpoint_str(&l->peer, p, sizeof(p));
    du_cat(sum, n, "; %s %s -> %s", du_proto_upper(l->proto, pn), a, p);
    if (l->has_inside && l->has_outside && l->outside.port)
        du_cat(sum, n, " (outside port %u", l->outside.port);
    else if (l->has_outside && l->outside.port)
        du_cat(sum, n, " (old port %u", l->outside.port);
    else
        du_cat(sum, n, " (");
    if (l->has_new)
        du_cat(sum, n, "%snew port %u", l->outside.port ? ", " : "", l->new_port);
    if (l->died)
        du_cat(sum, n, "%s%llu %s", (l->outside.port || l->has_new) ? ", " : "",
               (unsigned long long)l->died,
               l->has_inside && l->has_outside ? "died at the router"
               : l->has_outside                ? "inbound after its last packet out"
                                               : "unanswered");
    du_cat(sum, n, ")");
}

static bool emit(struct detect_ctx *c, const struct lost *v, unsigned n, int mode)
{
    struct finding *f = finding_add(c->out, FINDING_NAT_STATE_LOST, v[0].t_event);
    if (!f)
        return false;
    f->confirmed = mode == 2;
    char t[16];
    unsigned k = distinct(v, n);
    static const char *const how[] = {
        "their return traffic fell silent at the same instant while the clients kept sending "
        "(inside capture only: a server or path failure looks the same)",
        "their clients reappeared on new outside ports together while the old ports kept "
        "receiving inbound packets they no longer answered (outside capture only)",
        "inbound packets to their mappings died at the router from that instant on although "
        "the mappings carried traffic moments before",
    };
    snprintf(f->summary, FINDING_SUMMARY_SIZE,
             "The router lost the NAT state of %u tunnels at once at about %s (a reboot, a "
             "connection-tracking flush or a failover): %s",
             k, du_hms(v[0].t_event, t), how[mode]);
    for (unsigned i = 0; i < n && i < 6; i++)
        tunnel_text(f->summary, FINDING_SUMMARY_SIZE, &v[i]);
    if (n > 6)
        du_cat(f->summary, FINDING_SUMMARY_SIZE, "; and %u more", n - 6);
    du_cat(f->summary, FINDING_SUMMARY_SIZE, ".");
    snprintf(f->remedy, FINDING_REMEDY_SIZE,
             "Let every tunnel recover within seconds: keepalives/DPD shorter than the outage you "
             "accept (strongSwan dpd_delay, keep_alive; WireGuard PersistentKeepalive; OpenVPN "
             "keepalive), roaming clients (IKEv2 MOBIKE, WireGuard, OpenVPN float) so a new "
             "outside port does not break the tunnel, and a router that keeps its connection "
             "state across restarts or failovers (conntrackd sync).");
    uint64_t died = 0, back = 0;
    for (unsigned i = 0; i < n; i++) {
        const struct lost *l = &v[i];
        died += l->died;
        if (l->t_back > back)
            back = l->t_back;
        struct finding_session *fs =
            finding_session_add(f, ROLE_CLIENT, l->has_inside ? &l->inside.ip : &l->outside.ip);
        if (fs) {
            const struct endpoint *e = l->has_inside ? &l->inside : &l->outside;
            fs->has_port = e->port != 0;
            fs->port = e->port;
            if (l->has_inside && l->has_outside) {
                fs->has_outside = true;
                fs->out_ip = l->outside.ip;
                fs->has_out_port = l->outside.port != 0;
                fs->out_port = l->outside.port;
            }
            fs->has_spi = l->has_spi;
            fs->spi = l->spi;
            if (l->has_new)
                snprintf(fs->note, sizeof(fs->note), "back on outside port %u", l->new_port);
        }
        for (unsigned j = 0; j < l->nframes; j++)
            finding_frame(f, du_two(c) ? l->cap : SIDE_SINGLE, l->frames[j]);
    }
    finding_ev_int(f, "tunnels", k);
    finding_ev_ts(f, "lost_at", v[0].t_event);
    finding_ev_seconds(f, "spread_s", du_sec(v[n - 1].t_event - v[0].t_event));
    static const char *const died_key[] = {"client_packets_unanswered", "inbound_after_last_out",
                                           "inbound_died"};
    finding_ev_int(f, died_key[mode], (int64_t)died);
    if (back)
        finding_ev_ts(f, "last_recovery", back);
    return true;
}

/* Groups s by event time within window; emits each group of >= 2 distinct tunnels. */
static void decide(struct detect_ctx *c, struct lost_set *s, uint64_t window, int mode)
{
    qsort(s->v, s->n, sizeof(s->v[0]), by_event);
    for (unsigned i = 0; i < s->n;) {
        unsigned j = i + 1;
        while (j < s->n && s->v[j].t_event - s->v[i].t_event <= window)
            j++;
        if (distinct(&s->v[i], j - i) >= 2 && !emit(c, &s->v[i], j - i, mode))
            return;
        i = j;
    }
}

static void run(struct detect_ctx *c)
{
    struct lost_set *s = calloc(1, sizeof(*s));
    if (!s)
        return;
    if (du_two(c) && c->nat) {
        two_collect(c, s);
        decide(c, s, TWO_WINDOW_US, 2);
    } else if (c->single) {
        /* a capture of unknown side is looked at both ways */
        uint8_t side = du_model_side(c->single);
        if (side != SIDE_INSIDE) {
            outside_collect(c->single, SIDE_SINGLE, s);
            decide(c, s, OUT_WINDOW_US, 1);
        }
        if (side != SIDE_OUTSIDE) {
            s->n = 0;
            inside_collect(c->single, SIDE_SINGLE, s);
            decide(c, s, IN_WINDOW_US, 0);
        }
    }
    free(s);
}

const struct detector det_nat_state_lost = {
    .name = "nat_state_lost", .run = run, .emits = DETECT_KIND_BIT(FINDING_NAT_STATE_LOST)};
