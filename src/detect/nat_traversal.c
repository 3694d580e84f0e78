/* nat_traversal.c - info: a healthy NAT-T tunnel through a NAT (RFC 3947/3948). An IKE SA whose
 * NAT-D shows a real NAT (not forced encapsulation) or, with two captures, whose UDP mapping is
 * translated, that moved to UDP 4500 and carries ESP in UDP both ways. Skipped when a problem
 * finding of another detector (declared in .reads, handed over by detect_run) names the client.
 * Never changes the exit status. */
#include <stdio.h>
#include <string.h>

#include "det_util.h"

/* Addresses named by the problem findings (not info) of the other detectors, as client, server
 * or outside address (the list is handed to this detector and does not change while it runs). Items
 * are (finding, session, address) triples, PROB_PER_FINDING per finding; the full test is redone on
 * the finding of each (see du_index). */
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
            if (ip_addr_eq(&f->sessions[k].ip, ip) ||
                (f->sessions[k].has_outside && ip_addr_eq(&f->sessions[k].out_ip, ip)))
                return true;
    }
    return false;
}

/* What one healthy NAT-T tunnel showed, collected from the models for emit(). */
struct tunnel {
    const struct ike_sa *ik;
    const struct endpoint *ei, *er; /* NAT-T initiator and responder */
    const struct nat_mapping *mp;   /* its UDP mapping (two captures), else NULL */
    bool natd;                      /* NAT-D says one side is behind a NAT */
    uint64_t up, down;              /* ESP-in-UDP packets initiator -> responder and back */
    uint32_t spi_up, spi_down;      /* the first SPI seen each way, 0 none */
    uint64_t first, frame;          /* earliest such SA: first packet time and frame */
    uint64_t ka;                    /* learned keepalive interval, 0 none */
};

/* Sums the ESP in UDP both ways between the NAT-T endpoints into t. */
static void esp_both_ways(const struct session_model *m, struct tunnel *t)
{
    const struct endpoint *ei = t->ei, *er = t->er;
    uint32_t it = 0;
    for (const struct ipsec_sa *sa; (sa = du_ipsec_between(m, &ei->ip, &er->ip, &it));) {
        if (sa->k.proto != IPP_ESP || !sa->k.encap)
            continue;
        if (ip_addr_eq(&sa->k.src, &ei->ip) && sa->k.sport == ei->port &&
            ip_addr_eq(&sa->k.dst, &er->ip) && sa->k.dport == er->port) {
            t->up += sa->packets;
            t->spi_up = t->spi_up ? t->spi_up : sa->k.spi;
        } else if (ip_addr_eq(&sa->k.dst, &ei->ip) && sa->k.dport == ei->port &&
                   ip_addr_eq(&sa->k.src, &er->ip) && sa->k.sport == er->port) {
            t->down += sa->packets;
            t->spi_down = t->spi_down ? t->spi_down : sa->k.spi;
        } else {
            continue;
        }
        if (!t->first || sa->first_ts < t->first) {
            t->first = sa->first_ts;
            t->frame = sa->first_frame;
        }
    }
}

/* Collect and decide: whether IKE SA ik is a working NAT-T tunnel through a NAT whose client no
 * problem finding names (t filled). */
static bool healthy_tunnel(const struct detect_ctx *c, const struct session_model *m,
                           struct du_lazy *maps, const struct du_index *problems,
                           const struct finding_list *earlier, const struct ike_sa *ik,
                           struct tunnel *t)
{
    bool two = du_two(c);
    memset(t, 0, sizeof(*t));
    if (!ik || !ik->nat_t || !ik->natt_initiator.port || !ik->pkts_from_resp)
        return false;
    t->ik = ik;
    t->ei = &ik->natt_initiator;
    t->er = &ik->natt_responder;
    t->mp = two && c->nat
                ? du_udp_mapping(c->nat, maps, &t->ei->ip, t->ei->port, &t->er->ip, &t->er->port)
                : NULL;
    /* one capture: only a genuine initiator hash (forced_encap 0) tells a NAT from forced UDP
     * encapsulation on a routed path */
    t->natd = ik->natd.present && ik->natd.forced_encap == 0 &&
              /* exactly one side: both hashes off is typically forced encapsulation on both */
              ((ik->natd.nat_initiator == 1) != (ik->natd.nat_responder == 1));
    bool nat = two ? (t->mp && t->mp->translated) : t->natd;
    if (!nat || client_has_problem(problems, earlier, &t->ei->ip))
        return false;
    esp_both_ways(m, t);
    if (!t->up || !t->down)
        return false;
    const struct flow *fl =
        du_flow_find(m, IPP_UDP, &t->ei->ip, t->ei->port, &t->er->ip, t->er->port);
    t->ka = fl ? activity_keepalive_us(&fl->act) : 0;
    return true;
}

static void emit_sessions(struct finding *f, const struct tunnel *t)
{
    const struct nat_mapping *mp = t->mp;
    struct finding_session *fs = finding_session_add(f, ROLE_CLIENT, &t->ei->ip);
    if (fs) {
        fs->has_port = true;
        fs->port = t->ei->port;
        fs->has_spi = t->spi_up != 0;
        fs->spi = t->spi_up;
        if (mp) {
            fs->has_outside = true;
            fs->out_ip = mp->outside.ip;
            fs->has_out_port = true;
            fs->out_port = mp->outside.port;
        }
    }
    if ((fs = finding_session_add(f, ROLE_SERVER, &t->er->ip))) {
        fs->has_port = true;
        fs->port = t->er->port;
        fs->has_spi = t->spi_down != 0;
        fs->spi = t->spi_down;
    }
    if (mp && (fs = finding_session_add(f, ROLE_NAT, &mp->outside.ip))) {
        fs->has_port = true;
        fs->port = mp->outside.port;
    }
}

/* Emit: the info finding for tunnel t; false when out of memory. */
static bool emit(struct detect_ctx *c, uint8_t cap, const struct tunnel *t)
{
    const struct ike_sa *ik = t->ik;
    struct finding *f = finding_add(c->out, FINDING_NAT_TRAVERSAL, ik->first_ts);
    if (!f)
        return false;
    f->confirmed = du_two(c) || t->natd;
    char a[DU_IPSTR], b[DU_IPSTR], o[DU_IPSTR];
    snprintf(f->summary, sizeof(f->summary), "%s reaches %s through a NAT", du_ip(&t->ei->ip, a),
             du_ip(&t->er->ip, b));
    if (t->mp)
        du_cat(f->summary, sizeof(f->summary), " (outside %s:%u)", du_ipp(&t->mp->outside.ip, o),
               t->mp->outside.port);
    du_cat(f->summary, sizeof(f->summary),
           " with NAT traversal working: IKE moved to UDP %u and ESP is UDP-encapsulated both "
           "ways (%llu packets "
           "out, %llu back).",
           t->er->port, (unsigned long long)t->up, (unsigned long long)t->down);
    if (t->ka)
        du_cat(f->summary, sizeof(f->summary), " NAT-T keepalives every %.1f s.", du_sec(t->ka));
    snprintf(f->remedy, sizeof(f->remedy),
             "Nothing to fix. Keep NAT-T keepalives below the NAT's UDP timeout (Linux: 120 s "
             "for a replied flow).");
    emit_sessions(f, t);
    du_ev_ike_spi(f, ik->ispi);
    finding_ev_int(f, "esp_packets_out", (int64_t)t->up);
    finding_ev_int(f, "esp_packets_back", (int64_t)t->down);
    if (t->ka)
        finding_ev_seconds(f, "keepalive_interval_s", du_sec(t->ka));
    finding_ev_bool(f, "natd_says_nat", t->natd);
    finding_frame(f, cap, ik->first_frame);
    if (t->frame)
        finding_frame(f, cap, t->frame);
    return true;
}

/* earlier: the problem findings of every other detector (declared in .reads). */
static void run(struct detect_ctx *c, const struct finding_list *earlier)
{
    bool two = du_two(c);
    const struct session_model *m = two ? c->inside : c->single;
    if (!m)
        return;
    uint8_t cap = du_cap(c, m);
    struct du_index problems;
    struct du_lazy maps = {0};
    problems_build(&problems, earlier);
    for (uint32_t i = 0; i < table_slots(m->ike); i++) {
        struct tunnel t;
        if (healthy_tunnel(c, m, &maps, &problems, earlier, table_slot(m->ike, i, NULL), &t) &&
            !emit(c, cap, &t))
            break;
    }
    du_lazy_free(&maps);
    du_index_free(&problems);
}

const struct detector det_nat_traversal = {
    .name = "nat_traversal",
    .emits = DETECT_KIND_BIT(FINDING_NAT_TRAVERSAL),
    /* every problem kind: a client named by one is not reported healthy */
    .reads = ((1u << FINDING__COUNT) - 1u) & ~DETECT_KIND_BIT(FINDING_NAT_TRAVERSAL),
    .run_after = run,
};
