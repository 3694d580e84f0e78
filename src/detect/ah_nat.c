/* ah_nat.c - AH (IP protocol 51) through a NAT: AH's ICV covers the IP addresses, so a rewritten
 * address makes the receiver drop every packet (RFC 3715 §2.1). Two captures: an AH SA whose SPI
 * shows different addresses inside and outside (confirmed). One capture: AH between a private and
 * a public address, or an IKE SA between the same peers whose NAT-D says NAT (suspected). An AH SA
 * with the same addresses on both sides (routed) is healthy. */
#include <stdio.h>
#include <string.h>

#include "det_util.h"

#define MAX_PAIRS 32

static const char *const REMEDY =
    "Use ESP with NAT traversal (ESP in UDP 4500, RFC 3948) instead of AH: AH cannot cross a NAT "
    "(strongSwan: esp_proposals instead of ah_proposals; NAT-T then starts by itself). Or remove "
    "the "
    "NAT from the path (give the host a routed public address).";

struct pair {
    struct ip_addr client, server, nat;
    uint32_t spi_up, spi_down;
    bool has_up, has_down;
    uint64_t pkts_up, pkts_down;
    uint64_t first_ts;
    uint64_t frames_in[2], frames_out[2];
    bool natd;
};

static struct pair *pair_for(struct pair *p, unsigned *n, const struct ip_addr *cl,
                             const struct ip_addr *sv)
{
    for (unsigned i = 0; i < *n; i++)
        if (ip_addr_eq(&p[i].client, cl) && ip_addr_eq(&p[i].server, sv))
            return &p[i];
    if (*n >= MAX_PAIRS)
        return NULL;
    memset(&p[*n], 0, sizeof(p[*n]));
    p[*n].client = *cl;
    p[*n].server = *sv;
    return &p[(*n)++];
}

/* AH SAs of a model chained by SPI, in slot order. */
static void ah_index(struct du_index *x, const struct session_model *m)
{
    du_index_init(x, sizeof(struct du_key), table_slots(m->ipsec));
    for (uint32_t i = 0; i < table_slots(m->ipsec); i++) {
        const struct ipsec_sa *sa = table_slot(m->ipsec, i, NULL);
        if (!sa || sa->k.proto != IPP_AH)
            continue;
        struct du_key k;
        du_key_make(&k, 0, IPP_AH, NULL, 0, NULL, 0, sa->k.spi);
        du_index_add(x, &k, i);
    }
}

/* The first AH SA (slot order) with this SPI and the given source or destination. */
static const struct ipsec_sa *ah_by_spi(const struct session_model *m, const struct du_index *x,
                                        uint32_t spi, const struct ip_addr *src,
                                        const struct ip_addr *dst)
{
    struct du_key k;
    du_key_make(&k, 0, IPP_AH, NULL, 0, NULL, 0, spi);
    for (uint32_t i = du_index_first(x, &k); i != DU_NONE; i = du_index_next(x, i)) {
        const struct ipsec_sa *sa = table_slot(m->ipsec, i, NULL);
        if (!sa || sa->k.proto != IPP_AH || sa->k.spi != spi)
            continue;
        if ((src && ip_addr_eq(&sa->k.src, src)) || (dst && ip_addr_eq(&sa->k.dst, dst)))
            return sa;
    }
    return NULL;
}

static void emit(struct detect_ctx *c, const struct pair *p, bool two, uint8_t cap)
{
    struct finding *f = finding_add(c->out, FINDING_AH_NAT, p->first_ts);
    if (!f)
        return;
    f->confirmed = two;
    char a[DU_IPSTR], b[DU_IPSTR], n[DU_IPSTR], s1[12], s2[12], t[16];
    du_ip(&p->client, a);
    du_ip(&p->server, b);
    if (two) {
        snprintf(f->summary, FINDING_SUMMARY_SIZE,
                 "AH (IP protocol 51) between %s and %s crosses a NAT: the router "
                 "rewrote",
                 a, b);
        if (p->has_up)
            du_cat(f->summary, FINDING_SUMMARY_SIZE, " the source of SA %s (%llu packets) to %s",
                   du_spi(p->spi_up, s1), (unsigned long long)p->pkts_up, du_ip(&p->nat, n));
        if (p->has_down)
            du_cat(f->summary, FINDING_SUMMARY_SIZE,
                   "%s the destination of return SA %s (%llu packets) from %s",
                   p->has_up ? " and" : "", du_spi(p->spi_down, s2),
                   (unsigned long long)p->pkts_down, du_ip(&p->nat, n));
        du_cat(f->summary, FINDING_SUMMARY_SIZE, " (since %s).", du_hms(p->first_ts, t));
    } else {
        snprintf(f->summary, FINDING_SUMMARY_SIZE, "AH (IP protocol 51) between %s and %s (", a, b);
        if (p->has_up)
            du_cat(f->summary, FINDING_SUMMARY_SIZE, "SA %s, %llu packets", du_spi(p->spi_up, s1),
                   (unsigned long long)p->pkts_up);
        if (p->has_down)
            du_cat(f->summary, FINDING_SUMMARY_SIZE, "%sreturn SA %s, %llu packets",
                   p->has_up ? "; " : "", du_spi(p->spi_down, s2),
                   (unsigned long long)p->pkts_down);
        du_cat(f->summary, FINDING_SUMMARY_SIZE, ", since %s) most likely crosses a NAT: %s.",
               du_hms(p->first_ts, t),
               p->natd ? "NAT-D in the IKE SA between them detected a NAT"
                       : "a private address talks AH to a public one");
    }
    du_cat(f->summary, FINDING_SUMMARY_SIZE,
           " AH's integrity check covers the IP addresses, so the receiver rejects every "
           "translated packet: "
           "the tunnel cannot work through this NAT.");
    snprintf(f->remedy, FINDING_REMEDY_SIZE, "%s", REMEDY);
    struct finding_session *fs = finding_session_add(f, ROLE_CLIENT, &p->client);
    if (fs) {
        if (p->nat.v) {
            fs->has_outside = true;
            fs->out_ip = p->nat;
        }
        fs->has_spi = p->has_up;
        fs->spi = p->spi_up;
        snprintf(fs->note, sizeof(fs->note), "%s",
                 two ? "AH source address rewritten" : "sends AH");
    }
    if ((fs = finding_session_add(f, ROLE_SERVER, &p->server))) {
        fs->has_spi = p->has_down;
        fs->spi = p->spi_down;
    }
    if (p->nat.v && (fs = finding_session_add(f, ROLE_NAT, &p->nat)))
        snprintf(fs->note, sizeof(fs->note), "rewrites AH addresses");
    finding_ev_int(f, "packets_to_server", (int64_t)p->pkts_up);
    finding_ev_int(f, "packets_to_client", (int64_t)p->pkts_down);
    if (p->has_up)
        finding_ev_str(f, "spi", du_spi(p->spi_up, s1));
    if (p->has_down)
        finding_ev_str(f, "return_spi", du_spi(p->spi_down, s2));
    if (!two)
        finding_ev_bool(f, "natd_says_nat", p->natd);
    finding_ev_ts(f, "first_ts", p->first_ts);
    for (unsigned k = 0; k < 2; k++) {
        if (p->frames_in[k])
            finding_frame(f, cap, p->frames_in[k]);
        if (p->frames_out[k])
            finding_frame(f, SIDE_OUTSIDE, p->frames_out[k]);
    }
}

static void note_sa(struct pair *p, const struct ipsec_sa *sa, bool up,
                    const struct ipsec_sa *out_sa)
{
    if (up && !p->has_up) {
        p->has_up = true;
        p->spi_up = sa->k.spi;
    } else if (!up && !p->has_down) {
        p->has_down = true;
        p->spi_down = sa->k.spi;
    }
    if (up)
        p->pkts_up += sa->packets;
    else
        p->pkts_down += sa->packets;
    if (!p->first_ts || sa->first_ts < p->first_ts)
        p->first_ts = sa->first_ts;
    p->frames_in[up ? 0 : 1] = sa->first_frame;
    if (out_sa)
        p->frames_out[up ? 0 : 1] = out_sa->first_frame;
}

static void two_captures(struct detect_ctx *c)
{
    struct pair p[MAX_PAIRS];
    unsigned n = 0;
    const struct session_model *in = c->inside, *out = c->outside;
    struct du_index ah_out;
    ah_index(&ah_out, out);
    for (uint32_t i = 0; i < table_slots(in->ipsec); i++) {
        const struct ipsec_sa *sa = table_slot(in->ipsec, i, NULL);
        if (!sa || sa->k.proto != IPP_AH)
            continue;
        /* client -> server: same destination outside, other source; server -> client: same source
         */
        const struct ipsec_sa *o = ah_by_spi(out, &ah_out, sa->k.spi, NULL, &sa->k.dst);
        bool up = o && ip_addr_eq(&o->k.dst, &sa->k.dst);
        if (!o || (!up && !ip_addr_eq(&o->k.src, &sa->k.src))) {
            o = ah_by_spi(out, &ah_out, sa->k.spi, &sa->k.src, NULL);
            up = false;
        }
        if (!o)
            continue;
        bool translated =
            up ? !ip_addr_eq(&o->k.src, &sa->k.src) : !ip_addr_eq(&o->k.dst, &sa->k.dst);
        if (!translated)
            continue;
        const struct ip_addr *cl = up ? &sa->k.src : &sa->k.dst, *sv = up ? &sa->k.dst : &sa->k.src;
        struct pair *pp = pair_for(p, &n, cl, sv);
        if (!pp)
            break;
        pp->nat = up ? o->k.src : o->k.dst;
        note_sa(pp, sa, up, o);
    }
    du_index_free(&ah_out);
    /* NAT mappings of proto 51 that say translated (in case the SPI lookup missed) */
    for (size_t i = 0; c->nat && i < c->nat->n_map; i++) {
        const struct nat_mapping *mp = &c->nat->map[i];
        if (mp->proto != IPP_AH || !mp->translated || ip_addr_eq(&mp->inside.ip, &mp->outside.ip))
            continue;
        bool have = false;
        for (unsigned k = 0; k < n; k++)
            if (ip_addr_eq(&p[k].client, &mp->inside.ip) && ip_addr_eq(&p[k].server, &mp->peer.ip))
                have = true;
        if (have)
            continue;
        struct pair *pp = pair_for(p, &n, &mp->inside.ip, &mp->peer.ip);
        if (!pp)
            break;
        pp->nat = mp->outside.ip;
        pp->first_ts = mp->first_ts;
        pp->pkts_up = mp->to_peer_inside;
        pp->pkts_down = mp->from_peer_inside;
        if (mp->n_spis_to) {
            pp->has_up = true;
            pp->spi_up = mp->spis_to[0];
        }
        if (mp->n_spis_from) {
            pp->has_down = true;
            pp->spi_down = mp->spis_from[0];
        }
    }
    for (unsigned k = 0; k < n; k++)
        emit(c, &p[k], true, SIDE_INSIDE);
}

static bool natd_between(const struct session_model *m, const struct ip_addr *a,
                         const struct ip_addr *b)
{
    uint32_t it = 0;
    for (const struct ike_sa *ik; (ik = du_ike_between(m, a, b, &it));) {
        if (!ik->natd.present || ik->natd.forced_encap == 1)
            continue;
        bool match = (ip_addr_eq(&ik->initiator.ip, a) && ip_addr_eq(&ik->responder.ip, b)) ||
                     (ip_addr_eq(&ik->initiator.ip, b) && ip_addr_eq(&ik->responder.ip, a));
        if (match && ((ik->natd.nat_initiator == 1) != (ik->natd.nat_responder == 1)))
            return true;
    }
    return false;
}

static void single(struct detect_ctx *c, const struct session_model *m)
{
    struct pair p[MAX_PAIRS];
    unsigned n = 0;
    for (uint32_t i = 0; i < table_slots(m->ipsec); i++) {
        const struct ipsec_sa *sa = table_slot(m->ipsec, i, NULL);
        if (!sa || sa->k.proto != IPP_AH || du_is_group(&sa->k.dst) || du_is_local(&sa->k.src) ||
            du_is_local(&sa->k.dst))
            continue;
        bool ps = ip_addr_is_private(&sa->k.src), pd = ip_addr_is_private(&sa->k.dst);
        bool natd = natd_between(m, &sa->k.src, &sa->k.dst);
        if (ps == pd && !natd)
            continue;
        bool up = natd && ps == pd ? true : ps;
        const struct ip_addr *cl = up ? &sa->k.src : &sa->k.dst, *sv = up ? &sa->k.dst : &sa->k.src;
        struct pair *pp = pair_for(p, &n, cl, sv);
        if (!pp)
            break;
        pp->natd = natd;
        note_sa(pp, sa, up, NULL);
    }
    for (unsigned k = 0; k < n; k++)
        emit(c, &p[k], false, du_cap(c, m));
}

static void run(struct detect_ctx *c)
{
    if (du_two(c))
        two_captures(c);
    else if (c->single)
        single(c, c->single);
}

const struct detector det_ah_nat = {
    .name = "ah_nat", .run = run, .emits = DETECT_KIND_BIT(FINDING_AH_NAT)};
