/* pptp.c - PPTP through NAT:
 *  pptp_gre_blocked: a call set up on the control connection (OCRP/ICRP accepted) whose enhanced
 * GRE flows in one direction only; with two captures the outside tells whether the router dropped
 *    the return GRE (confirmed);
 *  pptp_call_collision: several control connections from one outside address to one server whose
 *    calls use the same Call ID at the same time: the NAT is not PPTP-aware (no Call ID rewriting),
 *    so return GRE, keyed by Call ID only, cannot reach more than one client. */
#include <stdio.h>
#include <string.h>

#include "det_util.h"

#define MIN_GRE 3

static const char *const REMEDY_HELPER =
    "Enable the router's PPTP passthrough / PPTP ALG (Linux: attach the conntrack PPTP helper: "
    "nft 'ct helper pptp-h { type \"pptp\" protocol tcp; }' and 'tcp dport 1723 ct helper set "
    "\"pptp-h\"' "
    "in a prerouting filter chain) and allow GRE (IP protocol 47) in both directions. Better: "
    "replace "
    "PPTP with IKEv2/IPsec or another VPN.";

static const char *const REMEDY_FORWARD =
    "Forward GRE (IP protocol 47) to the PPTP server along with TCP 1723 (Linux: 'meta l4proto "
    "gre dnat ip to SERVER' in the prerouting nat chain), or use a router whose PPTP helper "
    "tracks forwarded calls (nft ct helper \"pptp\" on tcp dport 1723). Better: replace PPTP "
    "with IKEv2/IPsec.";

/* Result Code 1 of an Outgoing/Incoming-Call-Reply: Connected (RFC 2637 sections 2.8, 2.10). */
#define PPTP_RESULT_CONNECTED 1

static bool call_up(const struct pptp_call *call)
{
    if (!call->has_peer || call->state == PPTP_CALL_REJECTED || call->state == PPTP_CALL_NONE)
        return false;
    return call->result == PPTP_RESULT_CONNECTED || call->state == PPTP_CALL_OUT_CONF ||
           call->state == PPTP_CALL_IN_CONF || call->state == PPTP_CALL_CLEAR_REQ ||
           call->state == PPTP_CALL_DISCONNECTED;
}

/* TCP mappings by (outside endpoint, peer address) or by (inside endpoint, peer address). */
static void tcp_maps_build(struct du_lazy *l, const struct nat_result *r, bool by_outside)
{
    l->built = true;
    du_index_init(&l->x, sizeof(struct du_key), (uint32_t)r->n_map);
    for (size_t i = 0; i < r->n_map; i++) {
        const struct nat_mapping *mp = &r->map[i];
        if (mp->proto != IPP_TCP)
            continue;
        const struct nat_id *id = by_outside ? &mp->outside : &mp->inside;
        struct du_key k;
        du_key_make(&k, 0, IPP_TCP, &id->ip, id->port, &mp->peer.ip, 0, 0);
        du_index_add(&l->x, &k, (uint32_t)i);
    }
}

/* Inside endpoint of an outside TCP endpoint (two captures), from the NAT mappings. */
static bool inside_of_tcp(const struct detect_ctx *c, struct du_lazy *l, const struct endpoint *out,
                          const struct ip_addr *server, struct endpoint *in)
{
    if (!c->nat)
        return false;
    if (!l->built)
        tcp_maps_build(l, c->nat, true);
    struct du_key k;
    du_key_make(&k, 0, IPP_TCP, &out->ip, out->port, server, 0, 0);
    for (uint32_t i = du_index_first(&l->x, &k); i != DU_NONE && i < c->nat->n_map;
         i = du_index_next(&l->x, i)) {
        const struct nat_mapping *mp = &c->nat->map[i];
        if (mp->proto == IPP_TCP && ip_addr_eq(&mp->outside.ip, &out->ip) &&
            mp->outside.port == out->port && ip_addr_eq(&mp->peer.ip, server)) {
            in->ip = mp->inside.ip;
            in->port = mp->inside.port;
            return true;
        }
    }
    return false;
}

static bool outside_of_tcp(const struct detect_ctx *c, struct du_lazy *l, const struct endpoint *in,
                           const struct ip_addr *server, struct endpoint *out)
{
    if (!c->nat)
        return false;
    if (!l->built)
        tcp_maps_build(l, c->nat, false);
    struct du_key k;
    du_key_make(&k, 0, IPP_TCP, &in->ip, in->port, server, 0, 0);
    for (uint32_t i = du_index_first(&l->x, &k); i != DU_NONE && i < c->nat->n_map;
         i = du_index_next(&l->x, i)) {
        const struct nat_mapping *mp = &c->nat->map[i];
        if (mp->proto == IPP_TCP && ip_addr_eq(&mp->inside.ip, &in->ip) &&
            mp->inside.port == in->port && ip_addr_eq(&mp->peer.ip, server)) {
            out->ip = mp->outside.ip;
            out->port = mp->outside.port;
            return true;
        }
    }
    return false;
}

/* PPTP control connections of m, in slot order, by (server endpoint, client address), or with
 * by_client_port by (server address, client port). */
static void ctrl_index_build(struct du_lazy *l, const struct session_model *m, bool by_client_port)
{
    l->built = true;
    du_index_init(&l->x, sizeof(struct du_key), table_slots(m->pptp));
    for (uint32_t i = 0; i < table_slots(m->pptp); i++) {
        const struct pptp_ctrl *c = table_slot(m->pptp, i, NULL);
        if (!c)
            continue;
        struct du_key k;
        if (by_client_port)
            du_key_make(&k, 0, 0, &c->server.ip, c->client.port, NULL, 0, 0);
        else
            du_key_make(&k, 0, 0, &c->server.ip, c->server.port, &c->client.ip, 0, 0);
        du_index_add(&l->x, &k, i);
    }
}

/* The outside view of an inside call: control connection from `out`, same server Call ID. */
static void outside_call(const struct session_model *m, struct du_lazy *l,
                         const struct endpoint *out, const struct pptp_ctrl *ic,
                         const struct pptp_call *icall, const struct pptp_ctrl **oc,
                         const struct pptp_call **ocall)
{
    *oc = NULL;
    *ocall = NULL;
    if (!l->built)
        ctrl_index_build(l, m, false);
    struct du_key key;
    du_key_make(&key, 0, 0, &ic->server.ip, ic->server.port, &out->ip, 0, 0);
    for (uint32_t i = du_index_first(&l->x, &key); i != DU_NONE; i = du_index_next(&l->x, i)) {
        const struct pptp_ctrl *c = table_slot(m->pptp, i, NULL);
        if (!c || !ip_addr_eq(&c->server.ip, &ic->server.ip) || c->server.port != ic->server.port)
            continue;
        if (!ip_addr_eq(&c->client.ip, &out->ip) || (out->port && c->client.port != out->port))
            continue;
        for (unsigned k = 0; k < c->n_calls && k < PPTP_CALLS_PER_CTRL; k++) {
            const struct pptp_call *call = &c->calls[k];
            if (call->has_peer && call->peer_call_id == icall->peer_call_id) {
                *oc = c;
                *ocall = call;
                return;
            }
        }
    }
}

/* Enhanced GRE (v1) flows of m by (source address, Call ID), in slot order. */
static void gre_build(struct du_lazy *l, const struct session_model *m)
{
    l->built = true;
    du_index_init(&l->x, sizeof(struct du_key), table_slots(m->gre));
    for (uint32_t g = 0; g < table_slots(m->gre); g++) {
        const struct gre_flow *gf = table_slot(m->gre, g, NULL);
        if (!gf || gf->k.version != 1)
            continue;
        struct du_key k;
        du_key_make(&k, 0, IPP_GRE, &gf->k.src, 0, NULL, 0, gf->k.key);
        du_index_add(&l->x, &k, g);
    }
}

static uint32_t gre_first(const struct session_model *m, struct du_lazy *l,
                          const struct ip_addr *src, uint32_t key)
{
    if (!l->built)
        gre_build(l, m);
    struct du_key k;
    du_key_make(&k, 0, IPP_GRE, src, 0, NULL, 0, key);
    return du_index_first(&l->x, &k);
}

/* The lookups of one gre_blocked run, built on first use. */
struct gre_lookups {
    struct du_lazy maps, octrl, gre, unm;
};

/* One PPTP call whose GRE flows one way: what the captures show of it. */
struct gre_call {
    const struct pptp_ctrl *pc;
    const struct pptp_call *call;
    unsigned idx;               /* call index on the control connection */
    uint64_t up, down;          /* GRE packets to the server / to the client */
    bool no_return;             /* else: no GRE from the client */
    struct endpoint out;        /* the client's outside endpoint (two captures; v 0: unknown) */
    const struct pptp_ctrl *oc; /* the outside view of the control connection and call */
    const struct pptp_call *ocall;
    uint64_t oup, odown; /* GRE outside the router, to the server / to the client */
    /* server behind the router (port forwarding): the server's outside endpoint */
    bool server_behind;
    struct endpoint sout;
};

/* Collect and decide: whether call idx of pc is up and its GRE flows one way (g filled). */
static bool gre_one_way(const struct session_model *m, const struct pptp_ctrl *pc, unsigned idx,
                        struct gre_call *g)
{
    memset(g, 0, sizeof(*g));
    g->pc = pc;
    g->call = &pc->calls[idx];
    g->idx = idx;
    if (!call_up(g->call))
        return false;
    session_pptp_call_gre(m, pc, g->call, &g->up, &g->down);
    g->no_return = g->up >= MIN_GRE && g->down == 0;
    bool no_out = g->down >= MIN_GRE && g->up == 0;
    return g->no_return || no_out;
}

/* Collect (two captures): the client's outside endpoint and the call's GRE outside. */
/* Server behind the router (roles reversed): the control connection's mapping has the inside
 * server as its inside endpoint and the outside client as its peer; the outside view of the call
 * is the control connection from the same client endpoint to the server's outside endpoint, with
 * the same server Call ID. */
static bool gre_outside_reversed(const struct detect_ctx *c, struct gre_lookups *lk,
                                 struct gre_call *g)
{
    if (!outside_of_tcp(c, &lk->maps, &g->pc->server, &g->pc->client.ip, &g->sout))
        return false;
    g->server_behind = true;
    struct du_lazy l = {0};
    struct endpoint cl = g->pc->client;
    struct pptp_ctrl vc = *g->pc;
    vc.server = g->sout;
    outside_call(c->outside, &l, &cl, &vc, g->call, &g->oc, &g->ocall);
    du_lazy_free(&l);
    if (g->oc)
        session_pptp_call_gre(c->outside, g->oc, g->ocall, &g->oup, &g->odown);
    return true;
}

static void gre_outside(const struct detect_ctx *c, struct gre_lookups *lk, struct gre_call *g)
{
    bool have_out = outside_of_tcp(c, &lk->maps, &g->pc->client, &g->pc->server.ip, &g->out);
    if (!have_out && gre_outside_reversed(c, lk, g))
        return;
    if (!have_out && c->nat && c->nat->n_nat_addrs) {
        g->out.ip = c->nat->nat_addrs[0];
        g->out.port = 0;
    }
    outside_call(c->outside, &lk->octrl, &g->out, g->pc, g->call, &g->oc, &g->ocall);
    if (g->oc)
        session_pptp_call_gre(c->outside, g->oc, g->ocall, &g->oup, &g->odown);
}

/* Server behind the router (two captures): the client's GRE reached the router, or not, and
 * was not forwarded to the inside server. */
static void gre_summary_forwarded(struct finding *f, const struct gre_call *g)
{
    char so[DU_IPSTR];
    du_ip(&g->sout.ip, so);
    f->confirmed = g->oc != NULL;
    if (g->oup)
        du_cat(f->summary, FINDING_SUMMARY_SIZE,
               " The server is behind the router (its control connection is forwarded from "
               "%s:%u). The client's GRE reached the router (%llu packets to %s outside) and "
               "was not forwarded to the server: the router forwards TCP 1723 but not GRE.",
               so, g->sout.port, (unsigned long long)g->oup, so);
    else
        du_cat(f->summary, FINDING_SUMMARY_SIZE,
               " The server is behind the router (its control connection is forwarded from "
               "%s:%u); the client's GRE did not reach the router either.",
               so, g->sout.port);
    snprintf(f->remedy, FINDING_REMEDY_SIZE, "%s", REMEDY_FORWARD);
}

/* Summary, confirmation and remedy of a one-way GRE call. */
static void gre_summary(struct finding *f, const struct gre_call *g, bool two)
{
    const struct pptp_ctrl *pc = g->pc;
    const struct pptp_call *call = g->call;
    bool no_return = g->no_return;
    char a[DU_IPSTR], b[DU_IPSTR], o[DU_IPSTR], t[16];
    du_ip(&pc->client.ip, a);
    du_ip(&pc->server.ip, b);
    snprintf(f->summary, FINDING_SUMMARY_SIZE,
             "PPTP call %u (Call ID 0x%04x, server's 0x%04x) of %s to %s was set up at %s "
             "on the control "
             "connection (TCP %u -> 1723), but its GRE (IP protocol 47) flows one way "
             "only: %llu packets "
             "%s, none %s.",
             g->idx + 1, call->call_id, call->peer_call_id, a, b, du_hms(call->first_ts, t),
             pc->client.port, (unsigned long long)(no_return ? g->up : g->down),
             no_return ? "to the server" : "to the client",
             no_return ? "back to the client" : "from the client");
    const char *rem = REMEDY_HELPER;
    f->confirmed = false;
    if (two && g->server_behind && !no_return) {
        gre_summary_forwarded(f, g);
        return;
    }
    if (two && g->oc) {
        if (no_return && g->odown > 0) {
            f->confirmed = true;
            du_cat(f->summary, FINDING_SUMMARY_SIZE,
                   " The server's return GRE reached the router (%llu packets for Call ID "
                   "0x%04x at %s) and "
                   "was dropped there: the router does not map return GRE back to the client.",
                   (unsigned long long)g->odown, g->ocall->call_id, du_ip(&g->oc->client.ip, o));
        } else if (no_return && g->oup == 0) {
            f->confirmed = true;
            du_cat(f->summary, FINDING_SUMMARY_SIZE,
                   " The client's GRE never left the router (none outside): the router "
                   "blocks GRE.");
        } else if (no_return) {
            f->confirmed = true;
            du_cat(f->summary, FINDING_SUMMARY_SIZE,
                   " The GRE left the router (%llu packets outside) but the server never "
                   "answered: GRE is "
                   "blocked beyond the router or the server ignores the call.",
                   (unsigned long long)g->oup);
            rem = "Allow GRE (IP protocol 47) from the NAT address on the server side and "
                  "its firewall; "
                  "check the server's PPTP/GRE configuration.";
        } else if (g->odown == 0) {
            f->confirmed = true;
            du_cat(f->summary, FINDING_SUMMARY_SIZE,
                   " The server's GRE did not appear outside either.");
        }
    } else if (!two && !no_return && ip_addr_is_private(&pc->server.ip) &&
               !ip_addr_is_private(&pc->client.ip)) {
        du_cat(f->summary, FINDING_SUMMARY_SIZE,
               " The server has a private address and the client a public one: a server behind a "
               "router that forwards TCP 1723 to it but not the client's GRE.");
        rem = REMEDY_FORWARD;
    } else if (!two) {
        du_cat(f->summary, FINDING_SUMMARY_SIZE,
               " Without the GRE the PPP session cannot start; a NAT without PPTP "
               "passthrough typically "
               "drops return GRE.");
    }
    snprintf(f->remedy, FINDING_REMEDY_SIZE, "%s", rem);
}

static void gre_sessions(struct finding *f, const struct gre_call *g, bool two)
{
    const struct pptp_ctrl *pc = g->pc;
    struct finding_session *fs = finding_session_add(f, ROLE_CLIENT, &pc->client.ip);
    if (fs) {
        fs->has_port = true;
        fs->port = pc->client.port;
        fs->has_call_id = true;
        fs->call_id = g->call->call_id;
        if (two && g->out.ip.v) {
            fs->has_outside = true;
            fs->out_ip = g->out.ip;
            fs->has_out_port = g->out.port != 0;
            fs->out_port = g->out.port;
        }
        snprintf(fs->note, sizeof(fs->note), "%s",
                 g->no_return ? "receives no GRE" : "sends no GRE");
    }
    if ((fs = finding_session_add(f, ROLE_SERVER, &pc->server.ip))) {
        fs->has_port = true;
        fs->port = pc->server.port;
        fs->has_call_id = true;
        fs->call_id = g->call->peer_call_id;
        if (g->server_behind) {
            fs->has_outside = true;
            fs->out_ip = g->sout.ip;
            fs->has_out_port = true;
            fs->out_port = g->sout.port;
            snprintf(fs->note, sizeof(fs->note), "behind the router (forwarded)");
        }
    }
    if (two && g->server_behind && (fs = finding_session_add(f, ROLE_NAT, &g->sout.ip)))
        snprintf(fs->note, sizeof(fs->note), "%s",
                 g->oup && !g->no_return ? "does not forward the GRE" : "");
    if (two && g->out.ip.v && (fs = finding_session_add(f, ROLE_NAT, &g->out.ip)))
        snprintf(fs->note, sizeof(fs->note), "%s",
                 g->odown && g->no_return ? "drops the return GRE" : "");
}

/* Outside-only return GRE records by source, in index order. */
static void unm_gre_build(struct du_lazy *l, const struct nat_result *r)
{
    l->built = true;
    du_index_init(&l->x, sizeof(struct du_key), (uint32_t)r->n_unm);
    for (size_t u = 0; u < r->n_unm; u++) {
        const struct nat_unmatched *un = &r->unm[u];
        if (un->proto != IPP_GRE || un->side != SIDE_OUTSIDE || un->direction != 1)
            continue;
        struct du_key key;
        du_key_make(&key, 0, IPP_GRE, &un->src, 0, NULL, 0, 0);
        du_index_add(&l->x, &key, (uint32_t)u);
    }
}

/* Frames of the one-way GRE and of the return GRE dropped at the router. */
static void gre_frames(struct finding *f, const struct detect_ctx *c, const struct session_model *m,
                       struct gre_lookups *lk, const struct gre_call *g, uint8_t cap)
{
    const struct pptp_ctrl *pc = g->pc;
    bool two = du_two(c);
    const struct ip_addr *gsrc = g->no_return ? &pc->client.ip : &pc->server.ip;
    uint32_t gkey = g->no_return ? g->call->peer_call_id : g->call->call_id;
    for (uint32_t i = gre_first(m, &lk->gre, gsrc, gkey); i != DU_NONE;
         i = du_index_next(&lk->gre.x, i)) {
        const struct gre_flow *gf = table_slot(m->gre, i, NULL);
        if (gf && gf->k.version == 1 && ip_addr_eq(&gf->k.src, gsrc) && gf->k.key == gkey)
            finding_frame_role(f, cap, gf->first_frame, "first GRE packet of the call");
    }
    if (two && c->nat && !lk->unm.built)
        unm_gre_build(&lk->unm, c->nat);
    struct du_key uk;
    du_key_make(&uk, 0, IPP_GRE, &pc->server.ip, 0, NULL, 0, 0);
    for (uint32_t u = two && c->nat ? du_index_first(&lk->unm.x, &uk) : DU_NONE;
         u != DU_NONE && u < c->nat->n_unm; u = du_index_next(&lk->unm.x, u)) {
        const struct nat_unmatched *un = &c->nat->unm[u];
        if (un->proto == IPP_GRE && un->side == SIDE_OUTSIDE && un->direction == 1 &&
            ip_addr_eq(&un->src, &pc->server.ip) &&
            (!un->has_call_id || !g->ocall || un->call_id == g->ocall->call_id)) {
            for (unsigned q = 0; q < un->nframes && q < UNMATCHED_MAX_FRAMES; q++)
                finding_frame_role(f, SIDE_OUTSIDE, un->frames[q],
                                   "return GRE dropped at the router");
            finding_ev_int(f, "return_gre_dropped", (int64_t)un->packets);
        }
    }
}

/* Emit: the finding of a one-way GRE call; false when out of memory. */
static bool gre_emit(struct detect_ctx *c, const struct session_model *m, struct gre_lookups *lk,
                     const struct gre_call *g, uint8_t cap)
{
    bool two = du_two(c);
    const struct pptp_call *call = g->call;
    struct finding *f = finding_add(c->out, FINDING_PPTP_GRE_BLOCKED, call->first_ts);
    if (!f)
        return false;
    gre_summary(f, g, two);
    gre_sessions(f, g, two);
    finding_ev_int(f, "call_id", call->call_id);
    finding_ev_int(f, "peer_call_id", call->peer_call_id);
    finding_ev_int(f, "gre_to_server", (int64_t)g->up);
    finding_ev_int(f, "gre_to_client", (int64_t)g->down);
    if (two && g->oc) {
        finding_ev_int(f, "gre_to_server_outside", (int64_t)g->oup);
        finding_ev_int(f, "gre_to_client_outside", (int64_t)g->odown);
    }
    finding_ev_ts(f, "call_ts", call->first_ts);
    finding_frame(f, cap, call->first_frame);
    gre_frames(f, c, m, lk, g, cap);
    return true;
}

static void gre_blocked(struct detect_ctx *c)
{
    bool two = du_two(c);
    const struct session_model *m = two ? c->inside : c->single;
    if (!m)
        return;
    uint8_t cap = du_cap(c, m);
    struct gre_lookups lk = {0};
    for (uint32_t i = 0; i < table_slots(m->pptp); i++) {
        const struct pptp_ctrl *pc = table_slot(m->pptp, i, NULL);
        if (!pc)
            continue;
        for (unsigned k = 0; k < pc->n_calls && k < PPTP_CALLS_PER_CTRL; k++) {
            struct gre_call g;
            if (!gre_one_way(m, pc, k, &g))
                continue;
            if (two)
                gre_outside(c, &lk, &g);
            if (!gre_emit(c, m, &lk, &g, cap))
                goto out;
        }
    }
out:
    du_lazy_free(&lk.maps);
    du_lazy_free(&lk.octrl);
    du_lazy_free(&lk.gre);
    du_lazy_free(&lk.unm);
}

#define MAX_COLL 16

static bool overlap(const struct pptp_ctrl *a, const struct pptp_ctrl *b)
{
    uint64_t lo = a->first_ts > b->first_ts ? a->first_ts : b->first_ts;
    uint64_t hi = a->last_ts < b->last_ts ? a->last_ts : b->last_ts;
    return hi >= lo;
}

/* The lookups of one call_collision run: control connections by (client address, server
 * address), in slot order, and the lazily built ones. */
struct coll_lookups {
    struct du_index pairs;
    struct du_lazy maps, gre, ictrl;
};

/* Control connections from one address to one server that use the same Call ID at once. */
struct call_group {
    const struct pptp_ctrl *a; /* the first member's control connection */
    const struct pptp_call *ca;
    const struct pptp_ctrl *mem[MAX_COLL];
    const struct pptp_call *mcall[MAX_COLL];
    unsigned nm;
    uint64_t ts;                  /* the latest member call start */
    uint64_t ret, ret_frame;      /* return GRE to the shared Call ID */
    struct endpoint in[MAX_COLL]; /* two captures: each member's inside endpoint */
    bool have_in[MAX_COLL];
    unsigned named;
};

/* Collect: the group of call ka of control connection i (slot); false unless i reports it (its
 * first member) and it has two members or more. */
static bool group_collect(const struct session_model *m, const struct coll_lookups *lk, uint32_t i,
                          unsigned ka, struct call_group *g)
{
    uint32_t n = table_slots(m->pptp);
    const struct pptp_ctrl *a = table_slot(m->pptp, i, NULL);
    const struct pptp_call *ca = &a->calls[ka];
    g->a = a;
    g->ca = ca;
    g->nm = 0;
    struct du_key pk;
    du_key_make(&pk, 0, 0, &a->client.ip, 0, &a->server.ip, 0, 0);
    for (uint32_t j = du_index_first(&lk->pairs, &pk); j != DU_NONE && j < n;
         j = du_index_next(&lk->pairs, j)) {
        const struct pptp_ctrl *b = table_slot(m->pptp, j, NULL);
        if (!b || !ip_addr_eq(&b->client.ip, &a->client.ip) ||
            !ip_addr_eq(&b->server.ip, &a->server.ip) ||
            (b->client.port == a->client.port && j != i))
            continue;
        for (unsigned kb = 0; kb < b->n_calls && kb < PPTP_CALLS_PER_CTRL; kb++) {
            if (b->calls[kb].call_id != ca->call_id || (j != i && !overlap(a, b)))
                continue;
            if (j < i)
                return false; /* reported with an earlier control connection */
            if (j == i && kb != ka)
                continue;
            if (g->nm < MAX_COLL) {
                g->mem[g->nm] = b;
                g->mcall[g->nm++] = &b->calls[kb];
            }
            break;
        }
    }
    return g->nm >= 2;
}

/* Collect: the latest member start and the return GRE to the shared Call ID. */
static void group_return_gre(const struct session_model *m, struct coll_lookups *lk,
                             struct call_group *g)
{
    g->ts = 0;
    for (unsigned q = 0; q < g->nm; q++)
        if (g->mcall[q]->first_ts > g->ts)
            g->ts = g->mcall[q]->first_ts;
    g->ret = g->ret_frame = 0;
    const struct ip_addr *srv = &g->a->server.ip;
    for (uint32_t i = gre_first(m, &lk->gre, srv, g->ca->call_id); i != DU_NONE;
         i = du_index_next(&lk->gre.x, i)) {
        const struct gre_flow *gf = table_slot(m->gre, i, NULL);
        if (gf && gf->k.version == 1 && ip_addr_eq(&gf->k.src, srv) &&
            ip_addr_eq(&gf->k.dst, &g->a->client.ip) && gf->k.key == g->ca->call_id) {
            g->ret += gf->packets;
            g->ret_frame = gf->first_frame;
        }
    }
}

/* An inside control connection to srv with the same client port as the outside one. */
static bool inside_by_port(const struct detect_ctx *c, struct du_lazy *ictrl,
                           const struct ip_addr *srv, uint16_t port, struct endpoint *in)
{
    if (!ictrl->built)
        ctrl_index_build(ictrl, c->inside, true);
    struct du_key ik;
    du_key_make(&ik, 0, 0, srv, port, NULL, 0, 0);
    for (uint32_t r = du_index_first(&ictrl->x, &ik); r != DU_NONE;
         r = du_index_next(&ictrl->x, r)) {
        const struct pptp_ctrl *ic = table_slot(c->inside->pptp, r, NULL);
        if (ic && ip_addr_eq(&ic->server.ip, srv) && ic->client.port == port) {
            *in = ic->client;
            return true;
        }
    }
    return false;
}

/* Collect (two captures): each member's inside endpoint, from the TCP mapping, else an inside
 * control connection with the same client port. */
static void group_inside(const struct detect_ctx *c, struct coll_lookups *lk, struct call_group *g)
{
    bool two = du_two(c);
    g->named = 0;
    for (unsigned q = 0; q < g->nm; q++) {
        const struct pptp_ctrl *mq = g->mem[q];
        g->have_in[q] =
            two && inside_of_tcp(c, &lk->maps, &mq->client, &g->a->server.ip, &g->in[q]);
        if (two && !g->have_in[q])
            g->have_in[q] =
                inside_by_port(c, &lk->ictrl, &g->a->server.ip, mq->client.port, &g->in[q]);
        g->named += g->have_in[q];
    }
}

static void coll_summary(struct finding *f, const struct call_group *g)
{
    const struct pptp_ctrl *a = g->a;
    char ip1[DU_IPSTR], ip2[DU_IPSTR], t[16];
    du_ip(&a->client.ip, ip1);
    du_ip(&a->server.ip, ip2);
    char list[200] = "";
    if (g->named) {
        for (unsigned q = 0; q < g->nm; q++)
            if (g->have_in[q])
                du_cat(list, sizeof(list), "%s%s", list[0] ? ", " : "", du_ip(&g->in[q].ip, ip1));
        du_ip(&a->client.ip, ip1);
        snprintf(f->summary, FINDING_SUMMARY_SIZE,
                 "%u PPTP calls from inside clients (%s) leave the NAT address %s for "
                 "server %s with the "
                 "same Call ID 0x%04x",
                 g->nm, list, ip1, ip2, g->ca->call_id);
    } else {
        snprintf(f->summary, FINDING_SUMMARY_SIZE,
                 "%u PPTP control connections from %s to server %s (several clients behind "
                 "one NAT "
                 "address) set up calls with the same Call ID 0x%04x",
                 g->nm, ip1, ip2, g->ca->call_id);
    }
    du_cat(f->summary, FINDING_SUMMARY_SIZE, " (TCP source ports");
    for (unsigned q = 0; q < g->nm; q++)
        du_cat(f->summary, FINDING_SUMMARY_SIZE, "%s %u", q ? "," : "", g->mem[q]->client.port);
    du_cat(f->summary, FINDING_SUMMARY_SIZE,
           "; since %s): the router does not rewrite PPTP Call IDs (no PPTP-aware NAT). "
           "Return GRE carries "
           "only the Call ID, so the router cannot tell the calls apart: %llu return GRE "
           "packets for Call "
           "ID 0x%04x reached %s, at most one client can get them.",
           du_hms(g->ts, t), (unsigned long long)g->ret, g->ca->call_id, ip1);
}

static void coll_sessions(struct finding *f, const struct call_group *g)
{
    for (unsigned q = 0; q < g->nm; q++) {
        const struct pptp_ctrl *mq = g->mem[q];
        struct finding_session *fs =
            finding_session_add(f, ROLE_CLIENT, g->have_in[q] ? &g->in[q].ip : &mq->client.ip);
        if (!fs)
            break;
        fs->has_port = true;
        fs->port = g->have_in[q] ? g->in[q].port : mq->client.port;
        fs->has_outside = true;
        fs->out_ip = mq->client.ip;
        fs->has_out_port = true;
        fs->out_port = mq->client.port;
        fs->has_call_id = true;
        fs->call_id = g->mcall[q]->call_id;
        if (!g->have_in[q])
            snprintf(fs->note, sizeof(fs->note), "inside address unknown (outside shown)");
    }
    struct finding_session *fs = finding_session_add(f, ROLE_SERVER, &g->a->server.ip);
    if (fs) {
        fs->has_port = true;
        fs->port = g->a->server.port;
    }
    if ((fs = finding_session_add(f, ROLE_NAT, &g->a->client.ip)))
        snprintf(fs->note, sizeof(fs->note), "does not rewrite Call IDs");
}

/* Emit: the finding of a call group; false when out of memory. */
static bool coll_emit(struct detect_ctx *c, uint8_t cap, const struct call_group *g)
{
    struct finding *f = finding_add(c->out, FINDING_PPTP_CALL_COLLISION, g->ts);
    if (!f)
        return false;
    f->confirmed = du_two(c);
    coll_summary(f, g);
    snprintf(f->remedy, FINDING_REMEDY_SIZE,
             "Enable a PPTP-aware NAT so each client's Call ID is rewritten (Linux: "
             "nf_conntrack_pptp / "
             "nf_nat_pptp helper attached with nft 'ct helper set' on TCP 1723; on home "
             "routers \"PPTP "
             "passthrough\"), or keep one PPTP client per outside address. Better: replace "
             "PPTP.");
    coll_sessions(f, g);
    finding_ev_int(f, "call_id", g->ca->call_id);
    finding_ev_int(f, "calls", g->nm);
    finding_ev_int(f, "return_gre_packets", (int64_t)g->ret);
    finding_ev_ts(f, "first_ts", g->ts);
    for (unsigned q = 0; q < g->nm; q++)
        finding_frame(f, cap, g->mcall[q]->first_frame);
    if (g->ret_frame)
        finding_frame(f, cap, g->ret_frame);
    return true;
}

static void call_collision(struct detect_ctx *c)
{
    bool two = du_two(c);
    const struct session_model *m = two ? c->outside : c->single;
    if (!m)
        return;
    uint8_t cap = du_cap(c, m);
    uint32_t n = table_slots(m->pptp);
    struct coll_lookups lk = {0};
    du_index_init(&lk.pairs, sizeof(struct du_key), n);
    for (uint32_t i = 0; i < n; i++) {
        const struct pptp_ctrl *a = table_slot(m->pptp, i, NULL);
        if (!a)
            continue;
        struct du_key k;
        du_key_make(&k, 0, 0, &a->client.ip, 0, &a->server.ip, 0, 0);
        du_index_add(&lk.pairs, &k, i);
    }
    struct call_group g;
    for (uint32_t i = 0; i < n; i++) {
        const struct pptp_ctrl *a = table_slot(m->pptp, i, NULL);
        for (unsigned ka = 0; a && ka < a->n_calls && ka < PPTP_CALLS_PER_CTRL; ka++) {
            if (!group_collect(m, &lk, i, ka, &g))
                continue;
            group_return_gre(m, &lk, &g);
            group_inside(c, &lk, &g);
            if (!coll_emit(c, cap, &g))
                goto out;
        }
    }
out:
    du_lazy_free(&lk.maps);
    du_lazy_free(&lk.gre);
    du_lazy_free(&lk.ictrl);
    du_index_free(&lk.pairs);
}

static void run(struct detect_ctx *c)
{
    gre_blocked(c);
    call_collision(c);
}

const struct detector det_pptp = {.name = "pptp",
                                  .run = run,
                                  .emits = DETECT_KIND_BIT(FINDING_PPTP_GRE_BLOCKED) |
                                           DETECT_KIND_BIT(FINDING_PPTP_CALL_COLLISION)};
