/* model_rows.c - the rows of the snapshot: tunnels (IKE SAs with their child SAs, ESP/AH SAs
 * without an IKE SA, PPTP calls, GRE, L2TP, VPN flows nDPI labelled or every flow with
 * --all-flows) and NAT mappings, copied out of the models and the NAT result. */
#include "model_int.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <ctype.h>

#include "vpnscope/proto.h"
#include "vpnscope/session_tunnel.h"
#include "vpnscope/report.h"
#include "vpnscope/table.h"

/* Case-insensitive substring (strcasestr is a GNU extension). */
bool ui_ci_has(const char *hay, const char *needle)
{
    size_t n = strlen(needle);
    if (n == 0)
        return true;
    for (; *hay; hay++) {
        size_t i = 0;
        while (i < n && hay[i] &&
               tolower((unsigned char)hay[i]) == tolower((unsigned char)needle[i]))
            i++;
        if (i == n)
            return true;
    }
    return false;
}

/* ---- snapshot helpers ---- */

char *ui_ep_str(const struct ip_addr *ip, uint16_t port, char *buf, size_t n)
{
    char a[64];
    ip_addr_str(ip, a, sizeof(a));
    if (!port)
        snprintf(buf, n, "%s", a);
    else if (ip->v == 6)
        snprintf(buf, n, "[%.46s]:%u", a, port);
    else
        snprintf(buf, n, "%.46s:%u", a, port);
    return buf;
}

static void ts_hms(uint64_t ts, char *buf, size_t n)
{
    ui_fmt_time(ts, buf, n);
}

struct ui_tunnel *ui_row_new(struct builder *b, uint8_t kind, uint8_t side, const void *key,
                             size_t klen, struct row_ref **ref)
{
    b->total++;
    if (b->n >= b->cap) {
        size_t nc = b->cap ? b->cap * 2 : 256;
        if (nc > UI_MAX_TUNNELS)
            nc = UI_MAX_TUNNELS;
        if (b->n >= nc)
            return NULL;
        struct ui_tunnel *t = realloc(b->m->tun, nc * sizeof(*t));
        if (!t)
            return NULL;
        b->m->tun = t;
        struct row_ref *r = realloc(b->ref, nc * sizeof(*r));
        if (!r)
            return NULL;
        b->ref = r;
        b->cap = nc;
    }
    struct ui_tunnel *t = &b->m->tun[b->n];
    memset(t, 0, sizeof(*t));
    *ref = &b->ref[b->n];
    memset(*ref, 0, sizeof(**ref));
    b->n++;
    uint8_t buf[128];
    memset(buf, 0, sizeof(buf));
    buf[0] = kind;
    memcpy(buf + 1, key, klen < sizeof(buf) - 1 ? klen : sizeof(buf) - 1);
    t->id = hash_bytes(buf, 1 + klen);
    t->kind = kind;
    t->side = side;
    t->router_lost[0] = t->router_lost[1] = -1;
    return t;
}

static const struct nat_mapping *find_mapping(const struct pipeline_snapshot *a, uint8_t proto,
                                              const struct ip_addr *ip, uint16_t port,
                                              const struct ip_addr *peer)
{
    const struct nat_mapping *best = NULL;
    for (size_t i = 0; i < a->nat->n_map; i++) {
        const struct nat_mapping *mp = &a->nat->map[i];
        if (mp->proto != proto || !ip_addr_eq(&mp->inside.ip, ip))
            continue;
        if (port && mp->inside.has_port && mp->inside.port != port)
            continue;
        if (peer && !ip_addr_eq(&mp->peer.ip, peer))
            continue;
        if (!best || mp->last_ts > best->last_ts)
            best = mp;
    }
    return best;
}

/* Packets lost at the router over every mapping of (proto, inside ip[:port]) toward peer:
 * lost[0] toward the peer, lost[1] toward the client; -1 when no mapping matched. */
static void sum_lost(const struct pipeline_snapshot *a, uint8_t proto, const struct ip_addr *ip,
                     uint16_t port, const struct ip_addr *peer, int64_t lost[2])
{
    for (size_t i = 0; i < a->nat->n_map; i++) {
        const struct nat_mapping *mp = &a->nat->map[i];
        if (mp->proto != proto || !ip_addr_eq(&mp->inside.ip, ip) ||
            !ip_addr_eq(&mp->peer.ip, peer))
            continue;
        if (port && mp->inside.has_port && mp->inside.port != port)
            continue;
        if (lost[0] < 0)
            lost[0] = lost[1] = 0;
        if (mp->to_peer_inside > mp->to_peer_outside)
            lost[0] += (int64_t)(mp->to_peer_inside - mp->to_peer_outside);
        if (mp->from_peer_outside > mp->from_peer_inside)
            lost[1] += (int64_t)(mp->from_peer_outside - mp->from_peer_inside);
    }
    /* packets that never crossed at all have no mapping: the client's unmatched inside packets */
    for (size_t i = 0; i < a->nat->n_unm; i++) {
        const struct nat_unmatched *u = &a->nat->unm[i];
        if (u->mapping >= 0 || u->side != SIDE_INSIDE || u->direction != 0 || u->proto != proto ||
            !ip_addr_eq(&u->src, ip) || !ip_addr_eq(&u->dst, peer) ||
            (port && u->has_ports && u->sport != port))
            continue;
        if (lost[0] < 0)
            lost[0] = lost[1] = 0;
        lost[0] += (int64_t)u->packets;
    }
}

/* Whether ip answers IKE as a responder in model m (a server, for orienting lone SAs). */
static bool is_ike_responder(const struct session_model *m, const struct ip_addr *ip)
{
    for (uint32_t i = 0; i < table_slots(m->ike); i++) {
        const struct ike_sa *sa = table_slot(m->ike, i, NULL);
        if (sa && ip_addr_eq(&sa->responder.ip, ip))
            return true;
    }
    return false;
}

void ui_row_state(struct builder *b, struct ui_tunnel *t, const char *closed)
{
    uint64_t now = b->f->now_us;
    uint64_t idle = now > t->last_ts ? now - t->last_ts : 0;
    uint64_t to = (uint64_t)t->timeout_s * 1000000u;
    if (closed) {
        snprintf(t->state, sizeof(t->state), "%s", closed);
        t->color = UI_DIM;
    } else if (to && idle > to) {
        snprintf(t->state, sizeof(t->state), "expired");
        t->color = UI_ALERT;
    } else if (to && idle > to / 2) {
        snprintf(t->state, sizeof(t->state), "idle");
        t->color = UI_WARN;
    } else if (t->pkts[1] == 0 && t->pkts[0] > 0) {
        snprintf(t->state, sizeof(t->state), "one-way");
        t->color = UI_WARN;
    } else {
        snprintf(t->state, sizeof(t->state), "up");
        t->color = UI_OK;
    }
}

static void add_child(struct ui_tunnel *t, const char *s)
{
    if (t->nchild < UI_MAX_CHILD)
        snprintf(t->child[t->nchild++], sizeof(t->child[0]), "%s", s);
}

static void ipsec_child_line(const struct ipsec_sa *sa, bool to_server, char *buf, size_t n)
{
    char a[56], c[56], l[16];
    ui_ep_str(&sa->k.src, sa->k.sport, a, sizeof(a));
    ui_ep_str(&sa->k.dst, sa->k.dport, c, sizeof(c));
    ts_hms(sa->last_ts, l, sizeof(l));
    snprintf(buf, n, "%s%s 0x%08x %s %.24s -> %.24s  %" PRIu64 " pkts  gaps %" PRIu64 "  last %.8s",
             sa->k.proto == IPP_AH ? "AH" : "ESP", sa->k.encap ? "/udp" : "", sa->k.spi,
             to_server ? ">" : "<", a, c, sa->packets, sa->seq_gaps, l);
}

/* ---- rows of one model ---- */

struct ike_idx_key {
    uint64_t ispi;
    uint8_t version;
    uint8_t pad[7];
};

struct grp_key {
    struct ip_addr a, b;
    uint16_t pa, pb;
    uint8_t proto, encap;
    uint8_t pad[2];
};

static bool ike_on_inside(const struct pipeline_snapshot *f, const struct ike_sa *sa)
{
    if (!f->two)
        return false;
    struct ike_sa_key k;
    memset(&k, 0, sizeof(k));
    k.ispi = sa->ispi;
    k.version = sa->version;
    return table_get(f->models[0]->ike, &k, false) != NULL;
}

static bool spi_on_inside(const struct pipeline_snapshot *f, uint32_t spi)
{
    const struct session_model *m = f->models[0];
    for (uint32_t i = 0; i < table_slots(m->ipsec); i++) {
        const struct ipsec_sa *o = table_slot(m->ipsec, i, NULL);
        if (o && o->k.spi == spi)
            return true;
    }
    return false;
}

static const struct ike_sa *outside_ike(const struct pipeline_snapshot *f, const struct ike_sa *sa)
{
    if (!f->two)
        return NULL;
    struct ike_sa_key k;
    memset(&k, 0, sizeof(k));
    k.ispi = sa->ispi;
    k.version = sa->version;
    return table_get(f->models[1]->ike, &k, false);
}

static void rows_ike(struct builder *b, uint8_t mi, struct table *ikeidx)
{
    const struct session_model *m = b->f->models[mi];
    for (uint32_t i = 0; i < table_slots(m->ike); i++) {
        const struct ike_sa *sa = table_slot(m->ike, i, NULL);
        if (!sa || (mi == 1 && ike_on_inside(b->f, sa)))
            continue;
        struct ike_idx_key k;
        memset(&k, 0, sizeof(k));
        k.ispi = sa->ispi;
        k.version = sa->version;
        struct row_ref *ref;
        struct ui_tunnel *t = ui_row_new(b, UK_IKE, m->side, &k, sizeof(k), &ref);
        if (!t)
            return;
        ref->model = mi;
        ref->slot = i;
        ref->cip = sa->initiator.ip;
        ref->sip = sa->responder.ip;
        uint32_t *ix = table_put(ikeidx, &k, NULL);
        if (ix)
            *ix = (uint32_t)(b->n - 1);
        const struct endpoint *ci =
            sa->nat_t && sa->natt_initiator.port ? &sa->natt_initiator : &sa->initiator;
        const struct endpoint *si =
            sa->nat_t && sa->natt_responder.port ? &sa->natt_responder : &sa->responder;
        ui_ep_str(&ci->ip, ci->port, t->client, sizeof(t->client));
        ui_ep_str(&si->ip, si->port, t->server, sizeof(t->server));
        const struct ike_sa *o = mi == 0 ? outside_ike(b->f, sa) : NULL;
        if (o) {
            const struct endpoint *oi =
                o->nat_t && o->natt_initiator.port ? &o->natt_initiator : &o->initiator;
            ui_ep_str(&oi->ip, oi->port, t->client_out, sizeof(t->client_out));
        }
        if (mi == 0 && b->f->two) {
            /* lost at the router: every IKE/NAT-T mapping (also expired ones) and raw ESP */
            sum_lost(b->f, IPP_UDP, &ci->ip, ci->port, &si->ip, t->router_lost);
            if (ci->port != sa->initiator.port)
                sum_lost(b->f, IPP_UDP, &sa->initiator.ip, sa->initiator.port, &sa->responder.ip,
                         t->router_lost);
            sum_lost(b->f, IPP_ESP, &ci->ip, 0, &si->ip, t->router_lost);
        }
        snprintf(t->proto, sizeof(t->proto), "IKEv%u%s", sa->version, sa->nat_t ? " NAT-T" : "");
        snprintf(t->ids, sizeof(t->ids), "%016" PRIx64 "/%016" PRIx64, sa->ispi, sa->rspi);
        t->pkts[0] = sa->pkts_from_init;
        t->pkts[1] = sa->pkts_from_resp;
        t->first_ts = sa->first_ts;
        t->last_ts = sa->last_ts;
        t->timeout_s = report_timeout_ike(b->to, sa);
        session_ike_activity(sa, &t->act);
        ui_spark_add(b->m, t, sa->spark, sa->first_ts, sa->last_ts, false);
        t->retrans = sa->retransmissions;
        t->dpd = sa->dpd_like;
        size_t off = 0;
        for (unsigned s = 0; s < sa->n_exch && s < IKE_EXCH_SLOTS; s++) {
            const char *nm = session_exch_name(sa, s);
            if (ui_ci_has(nm, "CHILD") || ui_ci_has(nm, "quick"))
                t->rekeys += sa->exch_count[s];
            if (off < sizeof(t->exch))
                off += (size_t)snprintf(t->exch + off, sizeof(t->exch) - off, "%s%s:%u",
                                        off ? " " : "", nm, sa->exch_count[s]);
        }
        if (sa->natd.present)
            snprintf(t->natd, sizeof(t->natd), "NAT-D: NAT at init %s, at resp %s%s",
                     sa->natd.nat_initiator < 0 ? "?"
                     : sa->natd.nat_initiator   ? "yes"
                                                : "no",
                     sa->natd.nat_responder < 0 ? "?"
                     : sa->natd.nat_responder   ? "yes"
                                                : "no",
                     sa->natd.forced_encap == 1 ? ", forced encapsulation" : "");
    }
}

/* The row of an ESP/AH SA without an IKE SA: both directions between the same peers share one
 * row (grp). NULL when the rows are full. */
static struct ui_tunnel *ipsec_own_row(struct builder *b, uint8_t mi, uint32_t i,
                                       const struct ipsec_sa *sa, struct table *grp,
                                       bool *to_server)
{
    const struct session_model *m = b->f->models[mi];
    struct ui_tunnel *t = NULL;
    /* a tunnel of its own: both directions between the same peers */
    bool src_client = ip_addr_is_private(&sa->k.src) || !ip_addr_is_private(&sa->k.dst);
    if (sa->k.encap && sa->k.sport == 4500 && sa->k.dport != 4500)
        src_client = false;
    if (is_ike_responder(m, &sa->k.src) && !is_ike_responder(m, &sa->k.dst))
        src_client = false;
    else if (is_ike_responder(m, &sa->k.dst) && !is_ike_responder(m, &sa->k.src))
        src_client = true;
    struct grp_key g;
    memset(&g, 0, sizeof(g));
    g.a = src_client ? sa->k.src : sa->k.dst;
    g.b = src_client ? sa->k.dst : sa->k.src;
    g.pa = src_client ? sa->k.sport : sa->k.dport;
    g.pb = src_client ? sa->k.dport : sa->k.sport;
    g.proto = sa->k.proto;
    g.encap = sa->k.encap;
    /* the reverse SA may have grouped the other way round: look it up first */
    struct grp_key r = g;
    r.a = g.b;
    r.b = g.a;
    r.pa = g.pb;
    r.pb = g.pa;
    uint32_t *ix = table_get(grp, &r, false);
    if (ix) {
        g = r;
    } else {
        ix = table_get(grp, &g, false);
    }
    if (ix && *ix < b->n) {
        t = &b->m->tun[*ix];
    } else {
        struct row_ref *ref;
        t = ui_row_new(b, sa->k.proto == IPP_AH ? UK_AH : UK_ESP, m->side, &g, sizeof(g), &ref);
        if (!t)
            return NULL;
        ref->model = mi;
        ref->slot = i;
        ref->cip = g.a;
        ref->sip = g.b;
        uint32_t *nx = table_put(grp, &g, NULL);
        if (nx)
            *nx = (uint32_t)(b->n - 1);
        ui_ep_str(&g.a, g.pa, t->client, sizeof(t->client));
        ui_ep_str(&g.b, g.pb, t->server, sizeof(t->server));
        snprintf(t->proto, sizeof(t->proto), "%s%s", sa->k.proto == IPP_AH ? "AH" : "ESP",
                 sa->k.encap ? "/udp" : "");
        t->timeout_s = report_timeout_ipsec(b->to, sa);
        session_ipsec_activity(sa, &t->act);
        t->first_ts = sa->first_ts;
        if (mi == 0 && b->f->two) {
            const struct nat_mapping *mp =
                find_mapping(b->f, sa->k.encap ? IPP_UDP : sa->k.proto, &g.a, g.pa, &g.b);
            if (mp) {
                ui_ep_str(&mp->outside.ip, mp->outside.has_port ? mp->outside.port : 0,
                          t->client_out, sizeof(t->client_out));
            }
            sum_lost(b->f, sa->k.encap ? IPP_UDP : sa->k.proto, &g.a, g.pa, &g.b, t->router_lost);
        }
    }
    *to_server = ip_addr_eq(&sa->k.src, &g.a);
    return t;
}

static void rows_ipsec(struct builder *b, uint8_t mi, struct table *ikeidx)
{
    const struct session_model *m = b->f->models[mi];
    struct table *grp =
        table_new(sizeof(struct grp_key), sizeof(uint32_t), IPSEC_SA_MAX, NULL, NULL);
    if (!grp)
        return;
    for (uint32_t i = 0; i < table_slots(m->ipsec); i++) {
        const struct ipsec_sa *sa = table_slot(m->ipsec, i, NULL);
        if (!sa || (mi == 1 && spi_on_inside(b->f, sa->k.spi)))
            continue;
        const struct ike_sa *ike = session_ike_for_ipsec(m, sa);
        struct ui_tunnel *t = NULL;
        bool to_server = true;
        char line[112];
        if (ike) {
            struct ike_idx_key k;
            memset(&k, 0, sizeof(k));
            k.ispi = ike->ispi;
            k.version = ike->version;
            uint32_t *ix = table_get(ikeidx, &k, false);
            if (ix && *ix < b->n)
                t = &b->m->tun[*ix];
            to_server = ip_addr_eq(&sa->k.src, &ike->initiator.ip);
        }
        if (!t) {
            t = ipsec_own_row(b, mi, i, sa, grp, &to_server);
            if (!t)
                break;
        } else if (t->timeout_s < report_timeout_ipsec(b->to, sa)) {
            t->timeout_s = report_timeout_ipsec(b->to, sa);
        }
        t->pkts[to_server ? 0 : 1] += sa->packets;
        ui_spark_add(b->m, t, sa->spark, sa->first_ts, sa->last_ts, !to_server);
        t->bytes[to_server ? 0 : 1] += sa->bytes;
        t->seq_gaps += sa->seq_gaps;
        t->replays += sa->replays;
        if (sa->last_ts > t->last_ts)
            t->last_ts = sa->last_ts;
        if (!t->first_ts || sa->first_ts < t->first_ts)
            t->first_ts = sa->first_ts;
        size_t l = strlen(t->ids);
        if (t->kind == UK_IKE) {
            if (l < sizeof(t->ids) - 16)
                snprintf(t->ids + l, sizeof(t->ids) - l, " %s0x%08x%s",
                         sa->k.proto == IPP_AH ? "ah:" : "", sa->k.spi, to_server ? ">" : "<");
        } else if (l < sizeof(t->ids) - 16) {
            snprintf(t->ids + l, sizeof(t->ids) - l, "%s0x%08x%s", l ? " " : "", sa->k.spi,
                     to_server ? ">" : "<");
        }
        ipsec_child_line(sa, to_server, line, sizeof(line));
        add_child(t, line);
    }
    table_free(grp);
}

/* A PPTP call's row: ids, packets (its GRE), activity and the call line. Returns the state name
 * when the call is closed, else NULL. */
static const char *pptp_call_row(const struct ui_model *um, const struct session_model *m,
                                 const struct pptp_ctrl *c, const struct pptp_call *call,
                                 struct ui_tunnel *t)
{
    const char *closed = NULL;
    session_pptp_call_gre(m, c, call, &t->pkts[0], &t->pkts[1]);
    if (call->has_peer)
        snprintf(t->ids, sizeof(t->ids), "call %u/%u", call->call_id, call->peer_call_id);
    else
        snprintf(t->ids, sizeof(t->ids), "call %u/-", call->call_id);
    if (call->last_ts > t->last_ts)
        t->last_ts = call->last_ts;
    /* GRE of the call keeps it alive: take its newest packet */
    for (uint32_t g = 0; g < table_slots(m->gre); g++) {
        const struct gre_flow *gf = table_slot(m->gre, g, NULL);
        if (!gf || gf->k.version != 1)
            continue;
        bool to_srv = ip_addr_eq(&gf->k.src, &c->client.ip) &&
                      ip_addr_eq(&gf->k.dst, &c->server.ip) && call->has_peer &&
                      gf->k.key == call->peer_call_id;
        bool to_cli = ip_addr_eq(&gf->k.src, &c->server.ip) &&
                      ip_addr_eq(&gf->k.dst, &c->client.ip) && gf->k.key == call->call_id;
        if ((to_srv || to_cli) && gf->last_ts > t->last_ts)
            t->last_ts = gf->last_ts;
        if (to_srv || to_cli) {
            t->act = gf->act;
            ui_spark_add(um, t, gf->spark, gf->first_ts, gf->last_ts, to_cli);
        }
    }
    if (call->state == PPTP_CALL_DISCONNECTED || call->state == PPTP_CALL_REJECTED ||
        call->state == PPTP_CALL_CLEAR_REQ)
        closed = pptp_call_state_name(call->state);
    char line[112];
    snprintf(line, sizeof(line), "call %u (client) / %s (server): state %s", call->call_id,
             call->has_peer ? "" : "-", pptp_call_state_name(call->state));
    if (call->has_peer)
        snprintf(line, sizeof(line), "call %u (client) / %u (server): state %s", call->call_id,
                 call->peer_call_id, pptp_call_state_name(call->state));
    add_child(t, line);
    return closed;
}

static void rows_pptp(struct builder *b, uint8_t mi)
{
    const struct session_model *m = b->f->models[mi];
    const struct session_model *in = b->f->models[0];
    for (uint32_t i = 0; i < table_slots(m->pptp); i++) {
        const void *kp;
        const struct pptp_ctrl *c = table_slot(m->pptp, i, &kp);
        if (!c)
            continue;
        if (mi == 1) {
            bool seen = false;
            for (uint32_t j = 0; j < table_slots(in->pptp) && !seen; j++) {
                const struct pptp_ctrl *o = table_slot(in->pptp, j, NULL);
                seen = o && ip_addr_eq(&o->server.ip, &c->server.ip);
            }
            if (seen)
                continue;
        }
        unsigned ncalls = c->n_calls ? c->n_calls : 1;
        for (unsigned k = 0; k < ncalls && k < PPTP_CALLS_PER_CTRL; k++) {
            uint8_t key[sizeof(struct pptp_ctrl_key) + 2];
            memcpy(key, kp, sizeof(struct pptp_ctrl_key));
            uint16_t cid = c->n_calls ? c->calls[k].call_id : 0xffff;
            memcpy(key + sizeof(struct pptp_ctrl_key), &cid, 2);
            struct row_ref *ref;
            struct ui_tunnel *t = ui_row_new(b, UK_PPTP, m->side, key, sizeof(key), &ref);
            if (!t)
                return;
            ref->model = mi;
            ref->slot = i;
            ref->call = (uint8_t)k;
            ref->cip = c->client.ip;
            ref->sip = c->server.ip;
            ui_ep_str(&c->client.ip, c->client.port, t->client, sizeof(t->client));
            ui_ep_str(&c->server.ip, c->server.port, t->server, sizeof(t->server));
            snprintf(t->proto, sizeof(t->proto), "PPTP");
            t->timeout_s = b->to->gre;
            t->first_ts = c->first_ts;
            t->last_ts = c->last_ts;
            const char *closed = NULL;
            if (c->n_calls) {
                closed = pptp_call_row(b->m, m, c, &c->calls[k], t);
            } else {
                snprintf(t->ids, sizeof(t->ids), "control only");
                if (c->state == PPTP_SESS_CLOSED)
                    closed = "closed";
            }
            if (c->hostname[0]) {
                char line[112];
                snprintf(line, sizeof(line), "host \"%.40s\" vendor \"%.40s\"", c->hostname,
                         c->vendor);
                for (char *p = line; *p; p++)
                    if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f)
                        *p = '?';
                add_child(t, line);
            }
            if (mi == 0 && b->f->two) {
                const struct nat_mapping *mp =
                    find_mapping(b->f, IPP_TCP, &c->client.ip, c->client.port, &c->server.ip);
                if (mp)
                    ui_ep_str(&mp->outside.ip, mp->outside.port, t->client_out,
                              sizeof(t->client_out));
            }
            ui_row_state(b, t, closed);
        }
    }
}

static void rows_other(struct builder *b)
{
    const struct session_model *m = b->f->models[0];
    for (uint32_t i = 0; i < table_slots(m->gre); i++) {
        const void *kp;
        const struct gre_flow *g = table_slot(m->gre, i, &kp);
        if (!g || session_gre_is_pptp_call(m, g))
            continue;
        struct row_ref *ref;
        struct ui_tunnel *t = ui_row_new(b, UK_GRE, m->side, kp, sizeof(struct gre_key), &ref);
        if (!t)
            return;
        ref->slot = i;
        ref->cip = g->k.src;
        ref->sip = g->k.dst;
        ui_ep_str(&g->k.src, 0, t->client, sizeof(t->client));
        ui_ep_str(&g->k.dst, 0, t->server, sizeof(t->server));
        snprintf(t->proto, sizeof(t->proto), "GREv%u", g->k.version);
        if (g->k.version == 1)
            snprintf(t->ids, sizeof(t->ids), "call %u", g->k.key);
        else if (g->k.has_key)
            snprintf(t->ids, sizeof(t->ids), "key %u", g->k.key);
        t->pkts[0] = g->packets;
        t->bytes[0] = g->bytes;
        t->first_ts = g->first_ts;
        t->last_ts = g->last_ts;
        t->timeout_s = b->to->gre;
        t->act = g->act;
        ui_spark_add(b->m, t, g->spark, g->first_ts, g->last_ts, false);
        ui_row_state(b, t, NULL);
        if (t->color == UI_WARN && !strcmp(t->state, "one-way")) {
            snprintf(t->state, sizeof(t->state), "up");
            t->color = UI_OK; /* GRE is tracked per direction */
        }
    }
    for (uint32_t i = 0; i < table_slots(m->l2tp); i++) {
        const void *kp;
        const struct l2tp_sess *s = table_slot(m->l2tp, i, &kp);
        if (!s)
            continue;
        struct row_ref *ref;
        struct ui_tunnel *t = ui_row_new(b, UK_L2TP, m->side, kp, sizeof(struct l2tp_key), &ref);
        if (!t)
            return;
        ref->slot = i;
        ref->cip = s->k.src;
        ref->sip = s->k.dst;
        ui_ep_str(&s->k.src, s->k.sport, t->client, sizeof(t->client));
        ui_ep_str(&s->k.dst, s->k.dport, t->server, sizeof(t->server));
        snprintf(t->proto, sizeof(t->proto), "L2TPv%u", s->version);
        snprintf(t->ids, sizeof(t->ids), "tunnel %u session %u", s->k.tunnel_id, s->k.session_id);
        t->pkts[0] = s->packets;
        t->bytes[0] = s->bytes;
        t->first_ts = s->first_ts;
        t->last_ts = s->last_ts;
        t->timeout_s = b->to->udp_stream;
        ui_row_state(b, t, NULL);
        if (!strcmp(t->state, "one-way")) {
            snprintf(t->state, sizeof(t->state), "up");
            t->color = UI_OK;
        }
    }
    for (uint32_t i = 0; i < table_slots(m->flows); i++) {
        const void *kp;
        const struct flow *fl = table_slot(m->flows, i, &kp);
        if (!fl || !report_flow_listed(m, fl, b->f->cfg->all_flows))
            continue;
        struct row_ref *ref;
        struct ui_tunnel *t = ui_row_new(b, UK_FLOW, m->side, kp, sizeof(struct flow_key), &ref);
        if (!t)
            return;
        ref->slot = i;
        struct endpoint fs = flow_end(m, fl, 0), fd = flow_end(m, fl, 1);
        ref->cip = fs.ip;
        ref->sip = fd.ip;
        ui_ep_str(&fs.ip, fs.port, t->client, sizeof(t->client));
        ui_ep_str(&fd.ip, fd.port, t->server, sizeof(t->server));
        snprintf(t->proto, sizeof(t->proto), "%.31s",
                 fl->app && fl->app[0] ? fl->app
                 : fl->is_vpn          ? "VPN"
                                       : "Unknown");
        snprintf(t->ids, sizeof(t->ids), "%s",
                 ip_proto_name(fl->proto) ? ip_proto_name(fl->proto) : "ip");
        t->pkts[0] = fl->pkts[0];
        t->pkts[1] = fl->pkts[1];
        t->bytes[0] = fl->bytes[0];
        t->bytes[1] = fl->bytes[1];
        t->first_ts = fl->first_ts;
        t->last_ts = fl->last_ts;
        t->timeout_s = report_timeout_proto(b->to, fl->proto, fl->pkts[1] > 0);
        session_flow_activity(fl, &t->act);
        const struct tun_flow *tf = tunnel_flow_of(m, fl); /* UDP tunnels keep buckets */
        if (tf)
            ui_spark_add(b->m, t, tf->spark, tf->first_ts, tf->last_ts, false);
        if (b->f->two) {
            const struct nat_mapping *mp = find_mapping(b->f, fl->proto, &fs.ip, fs.port, &fd.ip);
            if (mp)
                ui_ep_str(&mp->outside.ip, mp->outside.has_port ? mp->outside.port : 0,
                          t->client_out, sizeof(t->client_out));
        }
        ui_row_state(b, t, NULL);
    }
}

/* ---- NAT rows ---- */

static void nat_id_str(uint8_t proto, const struct nat_id *id, char *buf, size_t n)
{
    char a[64];
    ip_addr_str(&id->ip, a, sizeof(a));
    if ((proto == IPP_TCP || proto == IPP_UDP) && id->has_port)
        ui_ep_str(&id->ip, id->port, buf, n);
    else if (id->has_call_id)
        snprintf(buf, n, "%.46s call %u", a, id->call_id);
    else if (id->has_icmp_id)
        snprintf(buf, n, "%.46s id %u", a, id->icmp_id);
    else
        snprintf(buf, n, "%s", a);
}

void ui_rows_nat(struct builder *b)
{
    struct ui_model *m = b->m;
    const struct nat_result *r = b->f->nat;
    size_t n = r->n_map < UI_MAX_NAT ? r->n_map : UI_MAX_NAT;
    if (n > 0) {
        struct ui_natrow *v = realloc(m->nat, n * sizeof(*v));
        if (!v)
            return;
        m->nat = v;
    }
    m->n_nat = n;
    for (size_t i = 0; i < n; i++) {
        const struct nat_mapping *mp = &r->map[r->n_map - n + i];
        struct ui_natrow *row = &m->nat[i];
        memset(row, 0, sizeof(*row));
        char pb[8];
        if (ip_proto_name(mp->proto))
            snprintf(pb, sizeof(pb), "%s", ip_proto_name(mp->proto));
        else
            snprintf(pb, sizeof(pb), "%u", mp->proto);
        snprintf(row->proto, sizeof(row->proto), "%s", pb);
        nat_id_str(mp->proto, &mp->inside, row->inside, sizeof(row->inside));
        nat_id_str(mp->proto, &mp->outside, row->outside, sizeof(row->outside));
        nat_id_str(mp->proto, &mp->peer, row->peer, sizeof(row->peer));
        row->translated = mp->translated;
        row->tp_in = mp->to_peer_inside;
        row->tp_out = mp->to_peer_outside;
        row->fp_out = mp->from_peer_outside;
        row->fp_in = mp->from_peer_inside;
        row->first_ts = mp->first_ts;
        row->last_ts = mp->last_ts;
        row->timeout_s = report_timeout_proto(b->to, mp->proto, mp->from_peer_outside > 0);
        uint8_t key[sizeof(struct nat_id) * 3 + 1];
        memcpy(key, &mp->inside, sizeof(struct nat_id));
        memcpy(key + sizeof(struct nat_id), &mp->outside, sizeof(struct nat_id));
        memcpy(key + 2 * sizeof(struct nat_id), &mp->peer, sizeof(struct nat_id));
        key[sizeof(key) - 1] = mp->proto;
        row->id = hash_bytes(key, sizeof(key));
        size_t off = 0;
        for (unsigned bit = 0; bit < 16; bit++)
            if ((mp->evidence & (1u << bit)) && off < sizeof(row->evidence))
                off += (size_t)snprintf(row->evidence + off, sizeof(row->evidence) - off, "%s%s",
                                        off ? "," : "", nat_evidence_name(1u << bit));
        uint64_t idle = b->f->now_us > mp->last_ts ? b->f->now_us - mp->last_ts : 0;
        uint64_t to = (uint64_t)row->timeout_s * 1000000u;
        bool lost = mp->to_peer_inside > mp->to_peer_outside ||
                    mp->from_peer_outside > mp->from_peer_inside;
        row->color = idle > to ? UI_ALERT : (idle > to / 2 || lost) ? UI_WARN : UI_OK;
        if (mp->min_gap_lost_us)
            row->color = UI_ALERT;
    }
}

void ui_rows_tunnels(struct builder *b)
{
    struct ui_model *m = b->m;
    struct table *ikeidx =
        table_new(sizeof(struct ike_idx_key), sizeof(uint32_t), IKE_SA_MAX, NULL, NULL);
    for (uint8_t mi = 0; mi < b->f->n && ikeidx; mi++) {
        rows_ike(b, mi, ikeidx);
        rows_ipsec(b, mi, ikeidx);
        rows_pptp(b, mi);
        ui_rows_vpn(b, mi);
    }
    table_free(ikeidx);
    rows_other(b);
    m->n_tun = b->n;
    m->tun_total = b->total;
    memset(m->n_by_kind, 0, sizeof(m->n_by_kind));

    /* states of IKE/ESP rows (children were added after the row) */
    for (size_t i = 0; i < m->n_tun; i++) {
        struct ui_tunnel *t = &m->tun[i];
        if (t->kind == UK_IKE || t->kind == UK_ESP || t->kind == UK_AH) {
            ui_row_state(b, t, NULL);
            if (t->kind == UK_IKE && t->pkts[1] == 0 && t->color != UI_ALERT) {
                snprintf(t->state, sizeof(t->state), "no-reply");
                t->color = UI_WARN;
            }
        }
        if (t->kind < 8)
            m->n_by_kind[t->kind]++;
    }
}
