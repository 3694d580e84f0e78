/* esp_one_way.c - an ESP SA (raw or in UDP) with no SA in the reverse direction between the same
 * peers (ipsec_sa.paired, set by session_finish), with enough packets over enough time to rule out
 * a tunnel that was just starting or ending. Clients already named by an esp_collision finding are
 * left out (the collision explains their missing return traffic). With two captures the inside
 * SA is reported, with what the outside saw. */
#include <stdio.h>
#include <string.h>

#include "det_util.h"

#define MIN_PACKETS 5
#define MIN_SPAN_US 2000000ull

/* The first ESP SA (slot order) with sa's SPI and the same destination or source (si: the ESP
 * SAs of m by SPI, in slot order). */
static const struct ipsec_sa *sa_by_spi(const struct session_model *m, struct du_lazy *si,
                                        const struct ipsec_sa *sa)
{
    if (!si->built) {
        si->built = true;
        du_index_init(&si->x, sizeof(struct du_key), table_slots(m->ipsec));
        for (uint32_t i = 0; i < table_slots(m->ipsec); i++) {
            const struct ipsec_sa *o = table_slot(m->ipsec, i, NULL);
            if (!o || o->k.proto != IPP_ESP)
                continue;
            struct du_key k;
            du_key_make(&k, 0, IPP_ESP, NULL, 0, NULL, 0, o->k.spi);
            du_index_add(&si->x, &k, i);
        }
    }
    struct du_key k;
    du_key_make(&k, 0, IPP_ESP, NULL, 0, NULL, 0, sa->k.spi);
    for (uint32_t i = du_index_first(&si->x, &k); i != DU_NONE; i = du_index_next(&si->x, i)) {
        const struct ipsec_sa *o = table_slot(m->ipsec, i, NULL);
        if (o && o->k.proto == IPP_ESP && o->k.spi == sa->k.spi &&
            (ip_addr_eq(&o->k.dst, &sa->k.dst) || ip_addr_eq(&o->k.src, &sa->k.src)))
            return o;
    }
    return NULL;
}

static bool reverse_any(const struct session_model *m, const struct ip_addr *src,
                        const struct ip_addr *dst, uint64_t *pkts)
{
    *pkts = 0;
    bool r = false;
    uint32_t it = 0;
    for (const struct ipsec_sa *o; (o = du_ipsec_between(m, src, dst, &it));) {
        if (o->k.proto == IPP_ESP && ip_addr_eq(&o->k.src, dst) && ip_addr_eq(&o->k.dst, src)) {
            *pkts += o->packets;
            r = true;
        }
    }
    return r;
}

/* The clients named by the esp_collision findings in l (handed to this detector, which declares
 * that it reads them): items are (finding, session) pairs, chained by the session's address. */
static void collision_clients(struct du_index *x, const struct finding_list *l)
{
    du_index_init(x, sizeof(struct du_key), (uint32_t)(l->n * FINDING_MAX_SESSIONS));
    for (size_t i = 0; i < l->n; i++) {
        const struct finding *f = &l->v[i];
        if (f->kind != FINDING_ESP_COLLISION)
            continue;
        for (unsigned j = 0; j < f->n_sessions && j < FINDING_MAX_SESSIONS; j++) {
            if (f->sessions[j].role != ROLE_CLIENT)
                continue;
            struct du_key k;
            du_key_make(&k, 0, 0, &f->sessions[j].ip, 0, NULL, 0, 0);
            du_index_add(x, &k, (uint32_t)(i * FINDING_MAX_SESSIONS + j));
        }
    }
}

static bool collision_client(const struct du_index *x, const struct finding_list *l,
                             const struct ip_addr *ip)
{
    struct du_key k;
    du_key_make(&k, 0, 0, ip, 0, NULL, 0, 0);
    for (uint32_t it = du_index_first(x, &k); it != DU_NONE; it = du_index_next(x, it)) {
        size_t i = it / FINDING_MAX_SESSIONS;
        if (i >= l->n)
            break;
        const struct finding *f = &l->v[i];
        if (f->kind != FINDING_ESP_COLLISION)
            continue;
        for (unsigned j = 0; j < f->n_sessions; j++)
            if (f->sessions[j].role == ROLE_CLIENT && ip_addr_eq(&f->sessions[j].ip, ip))
                return true;
    }
    return false;
}

/* Decide: whether sa is a one-way ESP SA worth reporting (no reverse SA, enough packets over
 * enough time, client not named by an esp_collision finding in earlier). */
static bool one_way_candidate(const struct ipsec_sa *sa, const struct du_index *coll,
                              const struct finding_list *earlier)
{
    if (!sa || sa->k.proto != IPP_ESP || sa->paired || du_is_group(&sa->k.dst))
        return false;
    if (sa->packets < MIN_PACKETS || ts_span(sa->first_ts, sa->last_ts) < MIN_SPAN_US)
        return false;
    return !collision_client(coll, earlier, &sa->k.src) &&
           !collision_client(coll, earlier, &sa->k.dst);
}

/* Which end is the client: the private one, else the sender of UDP from a non-4500 port, else
 * src. */
static bool src_is_client(const struct ipsec_sa *sa)
{
    bool src_client = ip_addr_is_private(&sa->k.src) || !ip_addr_is_private(&sa->k.dst);
    if (sa->k.encap && sa->k.sport == 4500 && sa->k.dport != 4500)
        src_client = false;
    return src_client;
}

static void one_way_head(struct finding *f, const struct ipsec_sa *sa)
{
    char a[DU_IPSTR], b[DU_IPSTR], s[12], t1[16], t2[16];
    du_ipp(&sa->k.src, a);
    du_ipp(&sa->k.dst, b);
    if (sa->k.encap)
        snprintf(f->summary, FINDING_SUMMARY_SIZE,
                 "ESP SA %s from %s:%u to %s:%u (ESP in UDP) carried %llu packets between %s "
                 "and %s (%.1f s) "
                 "and nothing came back: no ESP from %s to %s at all.",
                 du_spi(sa->k.spi, s), a, sa->k.sport, b, sa->k.dport,
                 (unsigned long long)sa->packets, du_hms(sa->first_ts, t1), du_hms(sa->last_ts, t2),
                 du_sec(ts_span(sa->first_ts, sa->last_ts)), b, a);
    else
        snprintf(f->summary, FINDING_SUMMARY_SIZE,
                 "ESP SA %s from %s to %s (raw ESP, IP protocol 50) carried %llu packets "
                 "between %s and %s "
                 "(%.1f s) and nothing came back: no ESP from %s to %s at all.",
                 du_spi(sa->k.spi, s), a, b, (unsigned long long)sa->packets,
                 du_hms(sa->first_ts, t1), du_hms(sa->last_ts, t2),
                 du_sec(ts_span(sa->first_ts, sa->last_ts)), b, a);
}

/* Two captures: what the outside saw of the inside SA sa (*o: its outside view, or NULL);
 * appends to the summary and returns the remedy. */
static const char *one_way_outside(const struct detect_ctx *c, struct du_lazy *si,
                                   struct finding *f, const struct ipsec_sa *sa,
                                   const struct ipsec_sa **o)
{
    char a[DU_IPSTR];
    *o = sa_by_spi(c->outside, si, sa);
    if (!*o) {
        du_cat(f->summary, FINDING_SUMMARY_SIZE, " None of it appeared outside the router.");
        return "The router does not forward this ESP: allow ESP (IP protocol 50) / UDP 4500 "
               "out and check "
               "its IPsec passthrough setting.";
    }
    uint64_t back = 0;
    bool rev = reverse_any(c->outside, &(*o)->k.src, &(*o)->k.dst, &back);
    if (rev && back) {
        du_cat(f->summary, FINDING_SUMMARY_SIZE,
               " Outside the router the peer did answer (%llu ESP packets to %s) but "
               "none reached the "
               "inside: the router drops the return ESP.",
               (unsigned long long)back, du_ip(&(*o)->k.src, a));
        return "The router drops the return ESP: check its IPsec passthrough / NAT "
               "mapping for ESP and "
               "UDP 4500, and use NAT-T with keepalives.";
    }
    du_cat(f->summary, FINDING_SUMMARY_SIZE,
           " It left the router (%llu packets outside) and the peer never "
           "answered: the problem is "
           "at the peer or beyond the NAT.",
           (unsigned long long)(*o)->packets);
    return NULL;
}

static void one_way_sessions(struct finding *f, const struct ipsec_sa *sa, bool src_client,
                             const struct ipsec_sa *o)
{
    const struct ip_addr *cli = src_client ? &sa->k.src : &sa->k.dst,
                         *srv = src_client ? &sa->k.dst : &sa->k.src;
    struct finding_session *fs = finding_session_add(f, ROLE_CLIENT, cli);
    if (fs) {
        if (sa->k.encap) {
            fs->has_port = true;
            fs->port = src_client ? sa->k.sport : sa->k.dport;
        }
        if (src_client) {
            fs->has_spi = true;
            fs->spi = sa->k.spi;
        }
        if (o && src_client) {
            fs->has_outside = true;
            fs->out_ip = o->k.src;
            if (o->k.encap) {
                fs->has_out_port = true;
                fs->out_port = o->k.sport;
            }
        }
        snprintf(fs->note, sizeof(fs->note), "%s",
                 src_client ? "sends ESP, receives none" : "receives ESP, sends none");
    }
    if ((fs = finding_session_add(f, ROLE_SERVER, srv))) {
        if (sa->k.encap) {
            fs->has_port = true;
            fs->port = src_client ? sa->k.dport : sa->k.sport;
        }
        if (!src_client) {
            fs->has_spi = true;
            fs->spi = sa->k.spi;
        }
    }
}

/* Emit: the finding for one-way SA sa of model m; false when out of memory. */
static bool one_way_emit(struct detect_ctx *c, const struct session_model *m, struct du_lazy *si,
                         const struct ipsec_sa *sa)
{
    bool two = du_two(c);
    uint8_t cap = du_cap(c, m);
    bool src_client = src_is_client(sa);
    struct finding *f = finding_add(c->out, FINDING_ESP_ONE_WAY, sa->first_ts);
    if (!f)
        return false;
    f->confirmed = two;
    one_way_head(f, sa);
    const char *rem = "Check the peer that should answer: its SA for this SPI (ip xfrm state / "
                      "swanctl --list-sas), its "
                      "firewall for ESP or UDP 4500, and routing back to the sender. Capture "
                      "on both sides of the NAT "
                      "(--inside/--outside) to see where the traffic is lost.";
    const struct ipsec_sa *o = NULL;
    if (two && m == c->inside) {
        const char *r = one_way_outside(c, si, f, sa, &o);
        rem = r ? r : rem;
    } else if (!two) {
        du_cat(f->summary, FINDING_SUMMARY_SIZE,
               " The tunnel carries traffic in one direction only.");
    }
    snprintf(f->remedy, FINDING_REMEDY_SIZE, "%s", rem);
    one_way_sessions(f, sa, src_client, o);
    char s[12];
    finding_ev_str(f, "spi", du_spi(sa->k.spi, s));
    finding_ev_str(f, "encap", sa->k.encap ? "udp" : "raw");
    finding_ev_int(f, "packets", (int64_t)sa->packets);
    finding_ev_int(f, "reverse_packets", 0);
    finding_ev_ts(f, "first_ts", sa->first_ts);
    finding_ev_ts(f, "last_ts", sa->last_ts);
    finding_ev_seconds(f, "span_seconds", du_sec(ts_span(sa->first_ts, sa->last_ts)));
    if (o)
        finding_ev_int(f, "packets_outside", (int64_t)o->packets);
    finding_frame_role(f, cap, sa->first_frame, "first ESP packet, no answer");
    finding_frame_role(f, cap, sa->last_frame, "last ESP packet, no answer");
    if (o)
        finding_frame_role(f, SIDE_OUTSIDE, o->first_frame, "first ESP packet on the outside");
    return true;
}

static void scan(struct detect_ctx *c, const struct session_model *m,
                 const struct finding_list *earlier)
{
    struct du_index coll;
    collision_clients(&coll, earlier);
    struct du_lazy si = {0};
    for (uint32_t i = 0; i < table_slots(m->ipsec); i++) {
        const struct ipsec_sa *sa = table_slot(m->ipsec, i, NULL);
        if (one_way_candidate(sa, &coll, earlier) && !one_way_emit(c, m, &si, sa))
            break;
    }
    du_lazy_free(&si);
    du_index_free(&coll);
}

/* The inside server an outside client's traffic to the router's address dst is forwarded to: a
 * mapping (IKE on UDP) with the client as peer and dst as outside address, or NULL. */
static const struct nat_mapping *forwarded_server(const struct detect_ctx *c,
                                                  const struct ip_addr *client,
                                                  const struct ip_addr *dst)
{
    for (size_t i = 0; c->nat && i < c->nat->n_map; i++) {
        const struct nat_mapping *mp = &c->nat->map[i];
        if (ip_addr_eq(&mp->peer.ip, client) && ip_addr_eq(&mp->outside.ip, dst) &&
            mp->inside.has_port && mp->outside.has_port && mp->inside.port == mp->outside.port)
            return mp;
    }
    return NULL;
}

/* Two captures, server behind the router: ESP from an outside client to the router's address
 * that never reached the inside (no SA with its SPI there), while the client's IKE to that
 * address was forwarded to an inside server: the router forwards UDP but not IP protocol 50. */
static void scan_forwarded(struct detect_ctx *c, const struct finding_list *earlier)
{
    struct du_index coll;
    collision_clients(&coll, earlier);
    struct du_lazy si = {0};
    for (uint32_t i = 0; i < table_slots(c->outside->ipsec); i++) {
        const struct ipsec_sa *sa = table_slot(c->outside->ipsec, i, NULL);
        if (!one_way_candidate(sa, &coll, earlier) || !du_is_nat_addr(c, &sa->k.dst) ||
            sa_by_spi(c->inside, &si, sa))
            continue;
        const struct nat_mapping *mp = forwarded_server(c, &sa->k.src, &sa->k.dst);
        if (!mp)
            continue;
        struct finding *f = finding_add(c->out, FINDING_ESP_ONE_WAY, sa->first_ts);
        if (!f)
            break;
        f->confirmed = true;
        one_way_head(f, sa);
        char srv[DU_IPSTR], nat[DU_IPSTR];
        du_cat(f->summary, FINDING_SUMMARY_SIZE,
               " The ESP server is behind the router: the client's IKE to %s is forwarded to "
               "%s, but none of this %s reached the inside: the router does not forward it.",
               du_ip(&sa->k.dst, nat), du_ip(&mp->inside.ip, srv),
               sa->k.encap ? "ESP in UDP" : "raw ESP");
        snprintf(f->remedy, FINDING_REMEDY_SIZE,
                 "Forward ESP to the server as well as UDP 500/4500 (Linux: 'meta l4proto esp "
                 "dnat ip to %s' in the prerouting nat chain), or use NAT traversal (ESP in UDP "
                 "4500, already forwarded; strongSwan encap=yes).",
                 srv);
        struct finding_session *fs = finding_session_add(f, ROLE_CLIENT, &sa->k.src);
        if (fs) {
            fs->has_spi = true;
            fs->spi = sa->k.spi;
            snprintf(fs->note, sizeof(fs->note), "sends ESP, receives none");
        }
        if ((fs = finding_session_add(f, ROLE_SERVER, &mp->inside.ip))) {
            fs->has_outside = true;
            fs->out_ip = sa->k.dst;
            snprintf(fs->note, sizeof(fs->note), "behind the router, gets no ESP");
        }
        if ((fs = finding_session_add(f, ROLE_NAT, &sa->k.dst)))
            snprintf(fs->note, sizeof(fs->note), "does not forward ESP");
        char s[12];
        finding_ev_str(f, "spi", du_spi(sa->k.spi, s));
        finding_ev_str(f, "encap", sa->k.encap ? "udp" : "raw");
        finding_ev_int(f, "packets_outside", (int64_t)sa->packets);
        finding_ev_int(f, "packets_inside", 0);
        finding_ev_ts(f, "first_ts", sa->first_ts);
        finding_ev_ts(f, "last_ts", sa->last_ts);
        finding_frame(f, SIDE_OUTSIDE, sa->first_frame);
        finding_frame(f, SIDE_OUTSIDE, sa->last_frame);
    }
    du_lazy_free(&si);
    du_index_free(&coll);
}

/* earlier: the findings of the detectors this one reads (esp_collision). */
static void run(struct detect_ctx *c, const struct finding_list *earlier)
{
    if (du_two(c))
        scan(c, c->inside, earlier);
    if (du_two(c))
        scan_forwarded(c, earlier);
    else if (c->single)
        scan(c, c->single, earlier);
}

const struct detector det_esp_one_way = {
    .name = "esp_one_way",
    .emits = DETECT_KIND_BIT(FINDING_ESP_ONE_WAY),
    .reads = DETECT_KIND_BIT(FINDING_ESP_COLLISION),
    .run_after = run,
};
