/* nat_traversal.c - info: a healthy NAT-T tunnel through a NAT (RFC 3947/3948). An IKE SA whose
 * NAT-D shows a real NAT (not forced encapsulation) or, with two captures, whose UDP mapping is
 * translated, that moved to UDP 4500 and carries ESP in UDP both ways. Skipped when an earlier
 * finding (a problem) already names the client. Never changes the exit status. */
#include <stdio.h>
#include <string.h>

#include "det_util.h"

/* Addresses named by the problem findings (not info) found before this detector, as client,
 * server or outside address: nat_traversal only adds info findings, so the set stays valid for
 * the whole run. Items are (finding, session, address) triples, PROB_PER_FINDING per finding;
 * the full test is redone on the finding of each (see du_index). */
#define PROB_PER_FINDING (2 * FINDING_MAX_SESSIONS)

static void problems_build(struct du_index *x, const struct finding_list *l)
{
    du_index_init(x, sizeof(struct du_key), (uint32_t)(l->n * PROB_PER_FINDING));
    for (size_t i = 0; i < l->n; i++) {
        const struct finding *f = &l->v[i];
        if (f->sev == SEV_INFO)
            continue;
        for (unsigned k = 0; k < f->n_sessions && k < FINDING_MAX_SESSIONS; k++) {
            uint32_t item = (uint32_t)(i * PROB_PER_FINDING + 2 * k);
            struct du_key key;
            du_key_make(&key, 0, 0, &f->sessions[k].ip, 0, NULL, 0, 0);
            du_index_add(x, &key, item);
            if (f->sessions[k].has_outside) {
                du_key_make(&key, 0, 0, &f->sessions[k].out_ip, 0, NULL, 0, 0);
                du_index_add(x, &key, item + 1);
            }
        }
    }
}

static bool client_has_problem(const struct du_index *x, const struct finding_list *l,
                               const struct ip_addr *ip)
{
    struct du_key key;
    du_key_make(&key, 0, 0, ip, 0, NULL, 0, 0);
    for (uint32_t it = du_index_first(x, &key); it != DU_NONE; it = du_index_next(x, it)) {
        size_t i = it / PROB_PER_FINDING;
        if (i >= l->n)
            break;
        const struct finding *f = &l->v[i];
        if (f->sev == SEV_INFO)
            continue;
        for (unsigned k = 0; k < f->n_sessions; k++)
            if (du_ip_eq(&f->sessions[k].ip, ip) ||
                (f->sessions[k].has_outside && du_ip_eq(&f->sessions[k].out_ip, ip)))
                return true;
    }
    return false;
}

/* UDP mappings by inside and peer endpoint, in index order (two captures). */
static void udp_maps_build(struct du_index *x, const struct nat_result *r)
{
    du_index_init(x, sizeof(struct du_key), r ? (uint32_t)r->n_map : 0);
    for (size_t i = 0; r && i < r->n_map; i++) {
        const struct nat_mapping *mp = &r->map[i];
        if (mp->proto != 17)
            continue;
        struct du_key k;
        du_key_make(&k, 0, 17, &mp->inside.ip, mp->inside.port, &mp->peer.ip, mp->peer.port, 0);
        du_index_add(x, &k, (uint32_t)i);
    }
}

static const struct nat_mapping *udp_mapping(const struct detect_ctx *c, const struct du_index *x,
                                             const struct endpoint *in, const struct endpoint *peer)
{
    if (!c->nat)
        return NULL;
    struct du_key k;
    du_key_make(&k, 0, 17, &in->ip, in->port, &peer->ip, peer->port, 0);
    for (uint32_t i = du_index_first(x, &k); i != DU_NONE && i < c->nat->n_map;
         i = du_index_next(x, i)) {
        const struct nat_mapping *mp = &c->nat->map[i];
        if (mp->proto == 17 && du_ip_eq(&mp->inside.ip, &in->ip) && mp->inside.port == in->port &&
            du_ip_eq(&mp->peer.ip, &peer->ip) && mp->peer.port == peer->port)
            return mp;
    }
    return NULL;
}

static void run(struct detect_ctx *c)
{
    bool two = du_two(c);
    const struct session_model *m = two ? c->inside : c->single;
    if (!m)
        return;
    uint8_t cap = du_cap(c, m);
    struct du_index problems, maps;
    problems_build(&problems, c->out);
    udp_maps_build(&maps, two ? c->nat : NULL);
    for (uint32_t i = 0; i < table_slots(m->ike); i++) {
        const struct ike_sa *ik = table_slot(m->ike, i, NULL);
        if (!ik || !ik->nat_t || !ik->natt_initiator.port || !ik->pkts_from_resp)
            continue;
        const struct endpoint *ei = &ik->natt_initiator, *er = &ik->natt_responder;
        const struct nat_mapping *mp = two ? udp_mapping(c, &maps, ei, er) : NULL;
        /* one capture: only a genuine initiator hash (forced_encap 0) tells a NAT from forced UDP
         * encapsulation on a routed path */
        bool natd =
            ik->natd.present && ik->natd.forced_encap == 0 &&
            /* exactly one side: both hashes off is typically forced encapsulation on both */
            ((ik->natd.nat_initiator == 1) != (ik->natd.nat_responder == 1));
        bool nat = two ? (mp && mp->translated) : natd;
        if (!nat || client_has_problem(&problems, c->out, &ei->ip))
            continue;
        /* ESP in UDP both ways between the NAT-T endpoints */
        uint64_t up = 0, down = 0, first = 0, frame = 0;
        uint32_t spi_up = 0, spi_down = 0;
        uint32_t it = 0;
        for (const struct ipsec_sa *sa; (sa = du_ipsec_between(m, &ei->ip, &er->ip, &it));) {
            if (sa->k.proto != 50 || !sa->k.encap)
                continue;
            if (du_ip_eq(&sa->k.src, &ei->ip) && sa->k.sport == ei->port &&
                du_ip_eq(&sa->k.dst, &er->ip) && sa->k.dport == er->port) {
                up += sa->packets;
                spi_up = spi_up ? spi_up : sa->k.spi;
            } else if (du_ip_eq(&sa->k.dst, &ei->ip) && sa->k.dport == ei->port &&
                       du_ip_eq(&sa->k.src, &er->ip) && sa->k.sport == er->port) {
                down += sa->packets;
                spi_down = spi_down ? spi_down : sa->k.spi;
            } else {
                continue;
            }
            if (!first || sa->first_ts < first) {
                first = sa->first_ts;
                frame = sa->first_frame;
            }
        }
        if (!up || !down)
            continue;
        const struct flow *fl = du_flow_find(m, 17, &ei->ip, ei->port, &er->ip, er->port);
        uint64_t ka = fl ? activity_keepalive_us(&fl->act) : 0;
        struct finding *f = finding_add(c->out, FINDING_NAT_TRAVERSAL, ik->first_ts);
        if (!f)
            break;
        f->confirmed = two || natd;
        char a[DU_IPSTR], b[DU_IPSTR], o[DU_IPSTR];
        snprintf(f->summary, sizeof(f->summary), "%s reaches %s through a NAT", du_ip(&ei->ip, a),
                 du_ip(&er->ip, b));
        if (mp)
            du_cat(f->summary, sizeof(f->summary), " (outside %s:%u)", du_ipp(&mp->outside.ip, o),
                   mp->outside.port);
        du_cat(f->summary, sizeof(f->summary),
               " with NAT traversal working: IKE moved to UDP %u and ESP is UDP-encapsulated both "
               "ways (%llu packets "
               "out, %llu back).",
               er->port, (unsigned long long)up, (unsigned long long)down);
        if (ka)
            du_cat(f->summary, sizeof(f->summary), " NAT-T keepalives every %.1f s.", du_sec(ka));
        snprintf(f->remedy, sizeof(f->remedy),
                 "Nothing to fix. Keep NAT-T keepalives below the NAT's UDP timeout (Linux: 120 s "
                 "for a replied flow).");
        struct finding_session *fs = finding_session_add(f, ROLE_CLIENT, &ei->ip);
        if (fs) {
            fs->has_port = true;
            fs->port = ei->port;
            fs->has_spi = spi_up != 0;
            fs->spi = spi_up;
            if (mp) {
                fs->has_outside = true;
                fs->out_ip = mp->outside.ip;
                fs->has_out_port = true;
                fs->out_port = mp->outside.port;
            }
        }
        if ((fs = finding_session_add(f, ROLE_SERVER, &er->ip))) {
            fs->has_port = true;
            fs->port = er->port;
            fs->has_spi = spi_down != 0;
            fs->spi = spi_down;
        }
        if (mp && (fs = finding_session_add(f, ROLE_NAT, &mp->outside.ip))) {
            fs->has_port = true;
            fs->port = mp->outside.port;
        }
        char hex[20];
        snprintf(hex, sizeof(hex), "%016llx", (unsigned long long)ik->ispi);
        finding_ev_str(f, "ike_spi", hex);
        finding_ev_int(f, "esp_packets_out", (int64_t)up);
        finding_ev_int(f, "esp_packets_back", (int64_t)down);
        if (ka)
            finding_ev_seconds(f, "keepalive_interval_s", du_sec(ka));
        finding_ev_bool(f, "natd_says_nat", natd);
        finding_frame(f, cap, ik->first_frame);
        if (frame)
            finding_frame(f, cap, frame);
    }
    du_index_free(&maps);
    du_index_free(&problems);
}

const struct detector det_nat_traversal = {.name = "nat_traversal", .run = run};
