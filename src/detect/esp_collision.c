/* esp_collision.c - several inside clients share one NAT address for raw ESP (IP protocol 50) to
 * one server. ESP has no ports: a NAPT keys raw ESP on (address, server, proto), so every return
 * ESP packet from that server goes to one client (Linux: the first one; the others' outbound ESP
 * is even dropped at the router).
 *  - inside capture (or two captures): >= 2 inside clients send raw ESP to one server and return
 * ESP reaches exactly one of them while another, having sent >= MIN_SENT packets, gets none;
 *  - outside capture alone (suspected): one (outside address, server) pair where the server sends
 * on more concurrent SPIs than come back, or several IKE SAs from different source ports that
 * overlap in time (one client re-initiating from a new port after the NAT lost its state is a
 * succession, not a collision: ike_ports_succeed). Rekeys (sequential SPIs) are not concurrency:
 * SAs overlap only when they run side by side for at least half of the shorter one's life. NAT-T
 * (ESP in UDP) and PPTP are not looked at. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "det_util.h"

#define MIN_SENT 3  /* a starved client sent at least this many ESP packets */
#define MAX_SAS 256 /* raw ESP SAs considered per (client, server) pair */

static const char *const REMEDY =
    "Use NAT traversal for every client: ESP in UDP 4500 (RFC 3948) carries ports, so the router "
    "can "
    "tell the clients apart. Do not disable NAT-D; force it where needed (strongSwan encap=yes, "
    "Windows AssumeUDPEncapsulationContextOnSendRule=2). Alternatively give each client its own "
    "public address or use a router whose IPsec passthrough tracks ESP SPIs.";

struct client_stat {
    struct ip_addr ip;
    uint64_t out_pkts, in_pkts;
    uint32_t out_spi;
    unsigned n_out_spis, n_in_spis;
    uint64_t first_ts, last_ts, first_frame, last_frame;
    uint64_t in_first_frame;
    uint64_t dropped; /* two captures: inside-only ESP (never left the router) */
    uint64_t dropped_frames[16];
    uint64_t extra_first_frame; /* the first return packet on an inbound SPI beyond its own */
    unsigned n_dropped_frames;
    uint64_t extra_pkts; /* packets on inbound SPIs beyond its own outbound SPI count */
    bool has_out;
    struct ip_addr out_ip;
};

static bool is_raw_esp(const struct ipsec_sa *sa)
{
    return sa->k.proto == IPP_ESP && sa->k.encap == 0;
}

/* Two SAs run side by side (not a rekey hand-over). */
static bool sig_overlap(const struct ipsec_sa *a, const struct ipsec_sa *b)
{
    uint64_t lo = a->first_ts > b->first_ts ? a->first_ts : b->first_ts;
    uint64_t hi = a->last_ts < b->last_ts ? a->last_ts : b->last_ts;
    if (hi <= lo)
        return false;
    uint64_t da = ts_span(a->first_ts, a->last_ts), db = ts_span(b->first_ts, b->last_ts);
    uint64_t dmin = da < db ? da : db;
    return (hi - lo) * 2 >= dmin && a->packets >= 2 && b->packets >= 2;
}

static unsigned concurrency(const struct ipsec_sa *const *v, unsigned n)
{
    unsigned best = n ? 1 : 0;
    for (unsigned i = 0; i < n; i++) {
        unsigned c = 1;
        for (unsigned j = 0; j < n; j++)
            if (j != i && sig_overlap(v[i], v[j]))
                c++;
        if (c > best)
            best = c;
    }
    return best;
}

static int cmp_sa_first(const void *pa, const void *pb)
{
    const struct ipsec_sa *a = *(const struct ipsec_sa *const *)pa,
                          *b = *(const struct ipsec_sa *const *)pb;
    if (a->first_ts != b->first_ts)
        return a->first_ts < b->first_ts ? -1 : 1;
    return a->k.spi < b->k.spi ? -1 : (a->k.spi > b->k.spi);
}

/* SAs src -> dst (raw ESP), the first cap in slot order, sorted by start; returns count. */
static unsigned collect(const struct session_model *m, const struct ip_addr *src,
                        const struct ip_addr *dst, const struct ipsec_sa **v, unsigned cap)
{
    unsigned n = 0;
    uint32_t it = 0;
    for (const struct ipsec_sa *sa; n < cap && (sa = du_ipsec_between(m, src, dst, &it));) {
        if (is_raw_esp(sa) && ip_addr_eq(&sa->k.src, src) && ip_addr_eq(&sa->k.dst, dst))
            v[n++] = sa;
    }
    qsort(v, n, sizeof(*v), cmp_sa_first);
    return n;
}

static void spi_list(char *buf, size_t n, const struct ipsec_sa *const *v, unsigned cnt)
{
    buf[0] = 0;
    char s[12];
    for (unsigned i = 0; i < cnt && i < 6; i++)
        du_cat(buf, n, "%s%s", i ? ", " : "", du_spi(v[i]->k.spi, s));
    if (cnt > 6)
        du_cat(buf, n, ", ...");
}

/* Per-run lookups over the NAT result (two captures), built on first use: the mappings of proto
 * 50 or 17 with an outside address by (inside address, peer), and the inside-only outbound raw ESP
 * records by (source, destination); both chains in index order. */
struct nat_idx {
    bool built;
    struct du_index maps, unm;
};

static void nat_idx_build(struct nat_idx *x, const struct nat_result *r)
{
    x->built = true;
    du_index_init(&x->maps, sizeof(struct du_key), (uint32_t)r->n_map);
    for (size_t i = 0; i < r->n_map; i++) {
        const struct nat_mapping *mp = &r->map[i];
        if (!mp->outside.ip.v || (mp->proto != IPP_ESP && mp->proto != IPP_UDP))
            continue;
        struct du_key k;
        du_key_make(&k, 0, 0, &mp->inside.ip, 0, &mp->peer.ip, 0, 0);
        du_index_add(&x->maps, &k, (uint32_t)i);
    }
    du_index_init(&x->unm, sizeof(struct du_key), (uint32_t)r->n_unm);
    for (size_t i = 0; i < r->n_unm; i++) {
        const struct nat_unmatched *un = &r->unm[i];
        if (un->side != SIDE_INSIDE || un->direction != 0 || un->proto != IPP_ESP)
            continue;
        struct du_key k;
        du_key_make(&k, 0, 0, &un->src, 0, &un->dst, 0, 0);
        du_index_add(&x->unm, &k, (uint32_t)i);
    }
}

static void nat_idx_free(struct nat_idx *x)
{
    if (!x->built)
        return;
    du_index_free(&x->maps);
    du_index_free(&x->unm);
    x->built = false;
}

/* The outside address of an inside client towards server (two captures), from the NAT mappings:
 * the first ESP mapping's, else the last UDP mapping's. */
static bool outside_of(const struct detect_ctx *c, const struct nat_idx *x,
                       const struct ip_addr *client, const struct ip_addr *server,
                       struct ip_addr *out)
{
    if (!c->nat)
        return false;
    struct du_key k;
    du_key_make(&k, 0, 0, client, 0, server, 0, 0);
    for (uint32_t i = du_index_first(&x->maps, &k); i != DU_NONE; i = du_index_next(&x->maps, i)) {
        const struct nat_mapping *mp = &c->nat->map[i];
        if (ip_addr_eq(&mp->inside.ip, client) && ip_addr_eq(&mp->peer.ip, server) &&
            mp->outside.ip.v && (mp->proto == IPP_ESP || mp->proto == IPP_UDP)) {
            *out = mp->outside.ip;
            if (mp->proto == IPP_ESP)
                return true;
        }
    }
    return out->v != 0;
}

static bool server_done(const struct du_ipset *done, const struct ip_addr *ip)
{
    return du_set_find(done, ip) >= 0;
}

/* What the inside view collects about one server and its clients, then decides and emits. */
struct server_view {
    const struct ip_addr *srv;
    struct du_ipset cl;                /* inside clients sending raw ESP to srv */
    struct client_stat st[DU_SET_MAX]; /* by client, as in cl */
    unsigned receivers, starved, dropped_clients;
    uint64_t total_in;               /* return ESP packets seen inside */
    const struct client_stat *rx;    /* the one client that receives */
    uint64_t start;                  /* the latest client start */
    struct ip_addr nat;              /* the shared outside address (v 0: unknown) */
    uint64_t ret_out, ret_out_frame; /* return ESP outside the router (two captures) */
    unsigned ret_spis_out, rx_n;     /* SPIs of it outside / towards rx inside */
    char ret_spis[96], rx_spis[96];
};

/* Raw ESP destinations (servers) and the raw ESP SAs chained by destination, in slot order. */
static void servers_index(const struct session_model *m, struct du_ipset *servers,
                          struct du_index *by_dst)
{
    du_index_init(by_dst, sizeof(struct du_key), table_slots(m->ipsec));
    for (uint32_t i = 0; i < table_slots(m->ipsec); i++) {
        const struct ipsec_sa *sa = table_slot(m->ipsec, i, NULL);
        if (sa && is_raw_esp(sa)) {
            du_set_add(servers, &sa->k.dst);
            struct du_key k;
            du_key_make(&k, 0, 0, &sa->k.dst, 0, NULL, 0, 0);
            du_index_add(by_dst, &k, i);
        }
    }
}

/* Collect: the clients sending raw ESP to srv. */
static void server_clients(const struct session_model *m, const struct du_index *by_dst,
                           const struct ip_addr *srv, struct du_ipset *cl)
{
    struct du_key dk;
    du_key_make(&dk, 0, 0, srv, 0, NULL, 0, 0);
    for (uint32_t i = du_index_first(by_dst, &dk); i != DU_NONE; i = du_index_next(by_dst, i)) {
        const struct ipsec_sa *sa = table_slot(m->ipsec, i, NULL);
        if (sa && is_raw_esp(sa) && ip_addr_eq(&sa->k.dst, srv) && !ip_addr_eq(&sa->k.src, srv))
            du_set_add(cl, &sa->k.src);
    }
}

/* One capture: whether the clients and server look like the LAN side of a NAT. */
static bool lan_side(const struct session_model *m, const struct du_ipset *cl,
                     const struct ip_addr *srv)
{
    bool all_priv = true;
    for (unsigned k = 0; k < cl->n; k++)
        all_priv &= ip_addr_is_private(&cl->v[k]);
    if (du_model_side(m) == SIDE_OUTSIDE || (!all_priv && du_model_side(m) != SIDE_INSIDE))
        return false;
    return !(ip_addr_is_private(srv) && all_priv); /* LAN-internal ESP: no NAT in between */
}

/* Collect: the ESP a client sends to srv and receives back (s->ip set). */
static void client_esp(const struct session_model *m, const struct ip_addr *srv,
                       struct client_stat *s)
{
    const struct ipsec_sa *v[MAX_SAS], *w[MAX_SAS];
    unsigned no = collect(m, &s->ip, srv, v, MAX_SAS);
    unsigned ni = collect(m, srv, &s->ip, w, MAX_SAS);
    s->n_out_spis = no;
    s->n_in_spis = ni;
    for (unsigned j = 0; j < no; j++) {
        s->out_pkts += v[j]->packets;
        if (!s->first_ts || v[j]->first_ts < s->first_ts) {
            s->first_ts = v[j]->first_ts;
            s->first_frame = v[j]->first_frame;
            s->out_spi = v[j]->k.spi;
        }
        if (v[j]->last_ts >= s->last_ts) {
            s->last_ts = v[j]->last_ts;
            s->last_frame = v[j]->last_frame;
        }
    }
    for (unsigned j = 0; j < ni; j++) {
        s->in_pkts += w[j]->packets;
        if (!s->in_first_frame || w[j]->first_frame < s->in_first_frame)
            s->in_first_frame = w[j]->first_frame;
        if (j >= (no ? concurrency(v, no) : 1)) {
            s->extra_pkts += w[j]->packets;
            if (!s->extra_first_frame || w[j]->first_frame < s->extra_first_frame)
                s->extra_first_frame = w[j]->first_frame;
        }
    }
    if (ni > 1 && concurrency(w, ni) <= (no ? concurrency(v, no) : 1)) {
        s->extra_pkts = 0; /* sequential inbound SPIs (rekeys): nothing extra */
        s->extra_first_frame = 0;
    }
}

/* Collect (two captures): the client's ESP that never left the router, and its outside address. */
static void client_nat(const struct detect_ctx *c, struct nat_idx *nx, const struct ip_addr *srv,
                       struct client_stat *s)
{
    if (!nx->built)
        nat_idx_build(nx, c->nat);
    struct du_key uk;
    du_key_make(&uk, 0, 0, &s->ip, 0, srv, 0, 0);
    for (uint32_t u = du_index_first(&nx->unm, &uk); u != DU_NONE; u = du_index_next(&nx->unm, u)) {
        const struct nat_unmatched *un = &c->nat->unm[u];
        if (un->side != SIDE_INSIDE || un->direction != 0 || un->proto != IPP_ESP ||
            !ip_addr_eq(&un->src, &s->ip) || !ip_addr_eq(&un->dst, srv))
            continue;
        s->dropped += un->packets;
        for (unsigned f = 0; f < un->nframes && s->n_dropped_frames < 16; f++)
            s->dropped_frames[s->n_dropped_frames++] = un->frames[f];
    }
    s->has_out = outside_of(c, nx, &s->ip, srv, &s->out_ip);
}

/* Collect every client of sv->srv (sv->cl set) and count receivers, starved and dropped ones. */
static void collect_clients(const struct detect_ctx *c, const struct session_model *m,
                            struct nat_idx *nx, struct server_view *sv)
{
    memset(sv->st, 0, sizeof(sv->st));
    for (unsigned k = 0; k < sv->cl.n; k++) {
        struct client_stat *s = &sv->st[k];
        s->ip = sv->cl.v[k];
        client_esp(m, sv->srv, s);
        sv->total_in += s->in_pkts;
        if (du_two(c) && c->nat)
            client_nat(c, nx, sv->srv, s);
        if (s->in_pkts)
            sv->receivers++;
        else if (s->out_pkts >= MIN_SENT)
            sv->starved++;
        if (s->dropped)
            sv->dropped_clients++;
    }
}

/* Decide the rest once a collision is certain: the receiving client, the start, the NAT address
 * and the return ESP on both sides of the router. */
static void decide_collision(const struct detect_ctx *c, const struct session_model *m,
                             struct server_view *sv)
{
    bool two = du_two(c);
    for (unsigned k = 0; k < sv->cl.n; k++) {
        if (sv->st[k].in_pkts)
            sv->rx = &sv->st[k];
        if (sv->st[k].first_ts > sv->start)
            sv->start = sv->st[k].first_ts;
    }
    for (unsigned k = 0; k < sv->cl.n && two; k++)
        if (sv->st[k].has_out) {
            sv->nat = sv->st[k].out_ip;
            break;
        }
    if (two && !sv->nat.v && c->nat && c->nat->n_nat_addrs)
        sv->nat = c->nat->nat_addrs[0];
    const struct ipsec_sa *w[MAX_SAS];
    if (two && sv->nat.v) {
        unsigned n = collect(c->outside, sv->srv, &sv->nat, w, MAX_SAS);
        sv->ret_spis_out = n;
        for (unsigned j = 0; j < n; j++) {
            sv->ret_out += w[j]->packets;
            if (!sv->ret_out_frame)
                sv->ret_out_frame = w[j]->first_frame;
        }
        spi_list(sv->ret_spis, sizeof(sv->ret_spis), w, n);
    }
    sv->rx_n = collect(m, sv->srv, &sv->rx->ip, w, MAX_SAS);
    spi_list(sv->rx_spis, sizeof(sv->rx_spis), w, sv->rx_n);
    if (!sv->ret_spis[0])
        snprintf(sv->ret_spis, sizeof(sv->ret_spis), "%s", sv->rx_spis);
}

static void collision_summary(struct finding *f, const struct server_view *sv, bool two)
{
    const struct client_stat *rx = sv->rx;
    char a[DU_IPSTR], b[DU_IPSTR], d[DU_IPSTR], t[16];
    char list[200] = "";
    for (unsigned k = 0; k < sv->cl.n; k++)
        du_cat(list, sizeof(list), "%s%s", k ? ", " : "", du_ip(&sv->cl.v[k], a));
    du_ip(sv->srv, b);
    snprintf(f->summary, FINDING_SUMMARY_SIZE,
             "%u inside clients (%s) send raw ESP (IP protocol 50) to %s", sv->cl.n, list, b);
    if (sv->nat.v)
        du_cat(f->summary, FINDING_SUMMARY_SIZE, " through one NAT address %s", du_ip(&sv->nat, d));
    du_cat(f->summary, FINDING_SUMMARY_SIZE,
           ". ESP has no ports, so the router cannot tell their return traffic apart: all %llu "
           "return ESP "
           "packets (SPIs %s) went to %s",
           (unsigned long long)(two && sv->ret_out > sv->total_in ? sv->ret_out : sv->total_in),
           sv->ret_spis, du_ip(&rx->ip, a));
    for (unsigned k = 0; k < sv->cl.n; k++) {
        const struct client_stat *s = &sv->st[k];
        if (s == rx)
            continue;
        du_cat(f->summary, FINDING_SUMMARY_SIZE, "; %s received none", du_ip(&s->ip, a));
        if (s->dropped)
            du_cat(f->summary, FINDING_SUMMARY_SIZE,
                   " and %llu of its %llu ESP packets never left the router",
                   (unsigned long long)s->dropped, (unsigned long long)s->out_pkts);
    }
    du_cat(f->summary, FINDING_SUMMARY_SIZE, ", so its tunnel hangs (since %s).",
           du_hms(sv->start, t));
    if (rx->extra_pkts)
        du_cat(f->summary, FINDING_SUMMARY_SIZE,
               " %s sends on %u SPI(s) but receives on %u: %llu packets on the extra SPI(s) "
               "were meant for "
               "the other client(s).",
               du_ip(&rx->ip, a), rx->n_out_spis, rx->n_in_spis,
               (unsigned long long)rx->extra_pkts);
}

static void collision_sessions(struct finding *f, const struct server_view *sv, bool two)
{
    for (unsigned k = 0; k < sv->cl.n; k++) {
        const struct client_stat *s = &sv->st[k];
        struct finding_session *fs = finding_session_add(f, ROLE_CLIENT, &s->ip);
        if (!fs)
            break;
        if (sv->nat.v) {
            fs->has_outside = true;
            fs->out_ip = sv->nat;
        }
        fs->has_spi = true;
        fs->spi = s->out_spi;
        if (s == sv->rx)
            snprintf(fs->note, sizeof(fs->note), "receives all return ESP");
        else if (s->dropped)
            snprintf(fs->note, sizeof(fs->note), "ESP dropped at the router, no return");
        else
            snprintf(fs->note, sizeof(fs->note), "receives no return ESP");
    }
    struct finding_session *fs = finding_session_add(f, ROLE_SERVER, sv->srv);
    if (fs)
        snprintf(fs->note, sizeof(fs->note), "sends return ESP on %u SPI(s)",
                 two ? sv->ret_spis_out : sv->rx_n);
    if (sv->nat.v && (fs = finding_session_add(f, ROLE_NAT, &sv->nat)))
        snprintf(fs->note, sizeof(fs->note), "one outside address for all clients");
}

static void collision_evidence(struct finding *f, const struct server_view *sv, bool two,
                               uint8_t cap)
{
    char a[DU_IPSTR];
    finding_ev_int(f, "clients", sv->cl.n);
    finding_ev_str(f, "receiving_client", du_ip(&sv->rx->ip, a));
    finding_ev_int(f, "return_packets_inside", (int64_t)sv->total_in);
    if (two)
        finding_ev_int(f, "return_packets_outside", (int64_t)sv->ret_out);
    finding_ev_str(f, "return_spis", sv->ret_spis);
    uint64_t dropped = 0, starved_sent = 0;
    for (unsigned k = 0; k < sv->cl.n; k++) {
        dropped += sv->st[k].dropped;
        if (&sv->st[k] != sv->rx)
            starved_sent += sv->st[k].out_pkts;
    }
    finding_ev_int(f, "unanswered_esp_packets", (int64_t)starved_sent);
    if (two)
        finding_ev_int(f, "dropped_at_router", (int64_t)dropped);
    if (sv->rx->extra_pkts)
        finding_ev_int(f, "misdelivered_packets", (int64_t)sv->rx->extra_pkts);
    finding_ev_ts(f, "first_ts", sv->start);
    /* frames: each client's first ESP, the return ESP, dropped packets */
    for (unsigned k = 0; k < sv->cl.n; k++) {
        const struct client_stat *s = &sv->st[k];
        if (s->extra_first_frame)
            finding_frame_role(f, cap, s->extra_first_frame,
                               "return ESP delivered to the wrong client");
        finding_frame_role(f, cap, s->first_frame, "first ESP the client sends");
        if (s->in_first_frame)
            finding_frame_role(f, cap, s->in_first_frame, "first return ESP the client receives");
        for (unsigned j = 0; j < s->n_dropped_frames; j++)
            finding_frame_role(f, SIDE_INSIDE, s->dropped_frames[j], "dropped at the router");
    }
    if (sv->ret_out_frame)
        finding_frame_role(f, SIDE_OUTSIDE, sv->ret_out_frame, "return ESP arriving at the router");
}

/* Inside view: >= 2 clients to one server, return ESP reaches one. */
static void inside_logic(struct detect_ctx *c, const struct session_model *m, struct du_ipset *done)
{
    bool two = du_two(c);
    uint8_t cap = du_cap(c, m);
    struct du_ipset servers = {0};
    struct du_index by_dst;
    servers_index(m, &servers, &by_dst);
    struct nat_idx nx = {0};
    struct server_view view, *sv = &view;
    for (unsigned si = 0; si < servers.n; si++) {
        memset(sv, 0, sizeof(*sv));
        sv->srv = &servers.v[si];
        server_clients(m, &by_dst, sv->srv, &sv->cl);
        if (sv->cl.n < 2 || (!two && !lan_side(m, &sv->cl, sv->srv)))
            continue;
        collect_clients(c, m, &nx, sv);
        if (sv->receivers != 1 || (sv->starved == 0 && sv->dropped_clients == 0))
            continue;
        decide_collision(c, m, sv);
        struct finding *f = finding_add(c->out, FINDING_ESP_COLLISION, sv->start);
        if (!f)
            break;
        f->confirmed = true;
        collision_summary(f, sv, two);
        snprintf(f->remedy, FINDING_REMEDY_SIZE, "%s", REMEDY);
        collision_sessions(f, sv, two);
        collision_evidence(f, sv, two, cap);
        du_set_add(done, sv->srv);
    }
    nat_idx_free(&nx);
    du_index_free(&by_dst);
}

struct ike_ports {
    unsigned n;
    uint16_t port[8];
    uint64_t first_ts[8], last_ts[8]; /* the IKE SAs from each port: first and last packet */
};

/* What the outside view collects about one (outside address, server) pair. */
struct pair_view {
    const struct ip_addr *nat, *srv;
    const struct ipsec_sa *v[MAX_SAS], *w[MAX_SAS]; /* raw ESP nat -> srv and back, by start */
    unsigned no, ni, co, ci;                        /* counts and concurrency of v and w */
    uint64_t esp_lo, esp_hi;                        /* the ESP period */
    struct ike_ports ip; /* initiator ports of IKE SAs nat -> srv in the ESP period */
    unsigned ike_n;      /* IKE SAs initiated by nat */
    unsigned ike_rev;    /* IKE SAs initiated by srv */
    uint64_t ike_frame;  /* the latest first frame of those counted in ip */
    bool spi_sig, ike_sig;
    uint64_t ts;
};

/* Whether (nat, srv) is a new ordered pair; records it (parallel sets). */
static bool pair_new(struct du_ipset *seen_src, struct du_ipset *seen_dst,
                     const struct ip_addr *nat, const struct ip_addr *srv)
{
    for (unsigned k = 0; k < seen_src->n; k++)
        if (ip_addr_eq(&seen_src->v[k], nat) && ip_addr_eq(&seen_dst->v[k], srv))
            return false;
    if (seen_src->n >= DU_SET_MAX)
        return false;
    seen_src->v[seen_src->n++] = *nat;
    seen_dst->v[seen_dst->n++] = *srv;
    return true;
}

/* Collect the raw ESP both ways and its period. */
static void pair_esp(const struct session_model *m, struct pair_view *p)
{
    p->no = collect(m, p->nat, p->srv, p->v, MAX_SAS);
    p->ni = collect(m, p->srv, p->nat, p->w, MAX_SAS);
    p->co = concurrency(p->v, p->no);
    p->ci = concurrency(p->w, p->ni);
    p->esp_lo = p->v[0]->first_ts;
    p->esp_hi = 0;
    for (unsigned j = 0; j < p->no; j++)
        if (p->v[j]->last_ts > p->esp_hi)
            p->esp_hi = p->v[j]->last_ts;
    for (unsigned j = 0; j < p->ni; j++) {
        if (p->w[j]->first_ts < p->esp_lo)
            p->esp_lo = p->w[j]->first_ts;
        if (p->w[j]->last_ts > p->esp_hi)
            p->esp_hi = p->w[j]->last_ts;
    }
}

/* Collect the IKE SAs from nat to srv, by initiator port, overlapping the ESP period. */
static void pair_ike(const struct session_model *m, struct pair_view *p)
{
    uint32_t it = 0;
    for (const struct ike_sa *ik; (ik = du_ike_between(m, p->nat, p->srv, &it));) {
        if (ip_addr_eq(&ik->initiator.ip, p->srv) && ip_addr_eq(&ik->responder.ip, p->nat))
            p->ike_rev++;
        if (!ip_addr_eq(&ik->initiator.ip, p->nat) || !ip_addr_eq(&ik->responder.ip, p->srv))
            continue;
        p->ike_n++;
        if (ik->first_ts > p->esp_hi + 5000000u)
            continue; /* a later, separate session */
        if (ik->nat_t)
            continue; /* moved to UDP 4500: its ESP is UDP-encapsulated, not a raw-ESP client */
        unsigned q = 0;
        while (q < p->ip.n && p->ip.port[q] != ik->initiator.port)
            q++;
        if (q == p->ip.n) {
            if (p->ip.n >= 8)
                continue;
            p->ip.n++;
            p->ip.port[q] = ik->initiator.port;
            p->ip.first_ts[q] = ik->first_ts;
            p->ip.last_ts[q] = ik->last_ts;
            if (!p->ike_frame || ik->first_frame > p->ike_frame)
                p->ike_frame = ik->first_frame;
        }
        if (ik->first_ts < p->ip.first_ts[q])
            p->ip.first_ts[q] = ik->first_ts;
        if (ik->last_ts > p->ip.last_ts[q])
            p->ip.last_ts[q] = ik->last_ts;
    }
}

/*
 * Whether the IKE SAs from several ports are one client re-initiating from a new port (the NAT
 * gave it another port after losing its state, or its DPD gave up): the ESP shows one client at a
 * time (no two SPIs run side by side either way), each port's IKE SAs succeed the previous
 * port's (no IKE packet of an earlier port after a later port began), and each later port began
 * after the ESP was already running (a tunnel re-initiated, not several clients setting up).
 * Several clients sharing the address overlap in time instead: concurrent SPIs, or IKE SAs of
 * one port still active when another port begins, or several setups before any ESP.
 */
static bool ike_ports_succeed(const struct pair_view *p)
{
    if (p->co > 1 || p->ci > 1)
        return false;
    unsigned ord[8];
    unsigned n = p->ip.n < 8 ? p->ip.n : 8;
    for (unsigned i = 0; i < n; i++) {
        unsigned j = i;
        for (; j > 0 && p->ip.first_ts[ord[j - 1]] > p->ip.first_ts[i]; j--)
            ord[j] = ord[j - 1];
        ord[j] = i;
    }
    for (unsigned k = 1; k < n; k++) {
        uint64_t start = p->ip.first_ts[ord[k]];
        if (start <= p->esp_lo)
            return false; /* set up before any ESP ran */
        for (unsigned e = 0; e < k; e++)
            if (p->ip.last_ts[ord[e]] >= start)
                return false; /* an earlier port still active */
    }
    return true;
}

/* Decide: whether the pair shows several clients behind nat (spi_sig / ike_sig, ts set). */
static bool pair_decide(struct pair_view *p)
{
    if (p->ike_rev && !p->ike_n)
        return false; /* the "server" initiates: wrong orientation */
    /* more inbound SPIs than outbound counts only when no IKE SA shows a single client (one IKE
     * SA may negotiate several child SAs used unevenly) and for IPv4 (NAPT) */
    p->spi_sig = p->ci >= 2 && p->ci > p->co && p->nat->v == 4 && p->ike_n == 0;
    p->ike_sig = p->ip.n >= 2 && p->no > 0 && !ike_ports_succeed(p);
    if (p->ike_sig && p->ci >= 2 && p->ci > p->co)
        p->spi_sig = true; /* report the SPI asymmetry too */
    if (!p->spi_sig && !p->ike_sig)
        return false;
    p->ts = p->esp_lo;
    for (unsigned j = 0; j < p->ni; j++)
        if (j > 0 && sig_overlap(p->w[j], p->w[0])) {
            p->ts = p->w[j]->first_ts;
            break;
        }
    return true;
}

static void pair_summary(struct finding *f, const struct pair_view *p, uint64_t in_pkts)
{
    char a[DU_IPSTR], b[DU_IPSTR], sl[96], sr[96], t[16];
    du_ip(p->nat, a);
    du_ip(p->srv, b);
    spi_list(sl, sizeof(sl), p->v, p->no);
    spi_list(sr, sizeof(sr), p->w, p->ni);
    snprintf(f->summary, FINDING_SUMMARY_SIZE,
             "Raw ESP (IP protocol 50) between %s and server %s looks like several clients "
             "behind one NAT "
             "address (seen from outside only, since %s):",
             a, b, du_hms(p->ts, t));
    if (p->spi_sig)
        du_cat(f->summary, FINDING_SUMMARY_SIZE,
               " the server sends on %u SPIs at once (%s, %llu packets) while only %u outbound "
               "SPI runs at a "
               "time from %s (%s)",
               p->ci, sr, (unsigned long long)in_pkts, p->co, a, sl);
    if (p->ike_sig) {
        du_cat(f->summary, FINDING_SUMMARY_SIZE, "%s %u IKE SAs come from %s on different ports (",
               p->spi_sig ? ";" : "", p->ip.n, a);
        for (unsigned q = 0; q < p->ip.n; q++)
            du_cat(f->summary, FINDING_SUMMARY_SIZE, "%s%u", q ? ", " : "", p->ip.port[q]);
        du_cat(f->summary, FINDING_SUMMARY_SIZE, ")");
    }
    du_cat(f->summary, FINDING_SUMMARY_SIZE,
           ". ESP has no ports, so the router can deliver the return ESP to only one inside "
           "client; the "
           "others' tunnels hang. Capture inside the router too (--inside/--outside) to name "
           "the clients.");
}

/* Emit: the suspected collision of a pair; false when out of memory. */
static bool pair_emit(struct detect_ctx *c, uint8_t cap, const struct pair_view *p)
{
    struct finding *f = finding_add(c->out, FINDING_ESP_COLLISION, p->ts);
    if (!f)
        return false;
    f->confirmed = false;
    uint64_t in_pkts = 0, out_pkts = 0;
    for (unsigned j = 0; j < p->ni; j++)
        in_pkts += p->w[j]->packets;
    for (unsigned j = 0; j < p->no; j++)
        out_pkts += p->v[j]->packets;
    pair_summary(f, p, in_pkts);
    snprintf(f->remedy, FINDING_REMEDY_SIZE, "%s", REMEDY);
    struct finding_session *fs = finding_session_add(f, ROLE_NAT, p->nat);
    if (fs) {
        fs->has_spi = p->no > 0;
        fs->spi = p->no ? p->v[0]->k.spi : 0;
        snprintf(fs->note, sizeof(fs->note), "%u outbound SPI(s), %u IKE port(s)", p->no, p->ip.n);
    }
    fs = finding_session_add(f, ROLE_SERVER, p->srv);
    if (fs)
        snprintf(fs->note, sizeof(fs->note), "%u inbound SPI(s) at once", p->ci);
    finding_ev_int(f, "outbound_spis", p->no);
    finding_ev_int(f, "inbound_spis", p->ni);
    finding_ev_int(f, "concurrent_outbound_spis", p->co);
    finding_ev_int(f, "concurrent_inbound_spis", p->ci);
    finding_ev_int(f, "ike_source_ports", p->ip.n);
    finding_ev_int(f, "outbound_packets", (int64_t)out_pkts);
    finding_ev_int(f, "inbound_packets", (int64_t)in_pkts);
    finding_ev_ts(f, "first_ts", p->ts);
    for (unsigned j = 0; j < p->no && j < 4; j++)
        finding_frame(f, cap, p->v[j]->first_frame);
    for (unsigned j = 0; j < p->ni && j < 4; j++)
        finding_frame(f, cap, p->w[j]->first_frame);
    if (p->ike_frame)
        finding_frame(f, cap, p->ike_frame);
    return true;
}

/* Outside view (suspected): one (address, server) pair, more concurrent inbound SPIs than
 * outbound, or IKE SAs from several source ports of one address. */
static void outside_logic(struct detect_ctx *c, const struct session_model *m,
                          struct du_ipset *done)
{
    uint8_t cap = du_cap(c, m);
    struct du_ipset seen_src = {0}, seen_dst = {0}; /* processed ordered pairs (parallel arrays) */
    struct pair_view p;
    for (uint32_t i = 0; i < table_slots(m->ipsec); i++) {
        const struct ipsec_sa *sa = table_slot(m->ipsec, i, NULL);
        if (!sa || !is_raw_esp(sa))
            continue;
        const struct ip_addr *nat = &sa->k.src, *srv = &sa->k.dst;
        if (!pair_new(&seen_src, &seen_dst, nat, srv))
            continue;
        if (server_done(done, srv) || server_done(done, nat))
            continue;
        if (ip_addr_is_private(nat) && du_model_side(m) != SIDE_OUTSIDE)
            continue; /* an inside client: inside_logic's business */
        memset(&p, 0, sizeof(p));
        p.nat = nat;
        p.srv = srv;
        pair_esp(m, &p);
        pair_ike(m, &p);
        if (!pair_decide(&p))
            continue;
        if (!pair_emit(c, cap, &p))
            return;
        du_set_add(done, srv);
    }
}

static void run(struct detect_ctx *c)
{
    struct du_ipset done = {0};
    if (du_two(c)) {
        inside_logic(c, c->inside, &done);
    } else if (c->single) {
        inside_logic(c, c->single, &done);
        outside_logic(c, c->single, &done);
    }
}

const struct detector det_esp_collision = {
    .name = "esp_collision", .run = run, .emits = DETECT_KIND_BIT(FINDING_ESP_COLLISION)};
