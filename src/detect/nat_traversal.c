/* nat_traversal.c - info: a healthy NAT-T tunnel through a NAT (RFC 3947/3948). An IKE SA whose
 * NAT-D shows a real NAT (not forced encapsulation) or, with two captures, whose UDP mapping is
 * translated, that moved to UDP 4500 and carries ESP in UDP both ways. Skipped when a problem
 * finding of another detector (declared in .reads, handed over by detect_run) names the client.
 * Never changes the exit status.
 *
 * Tunnels with one cause are one finding (group_count: how many more it holds): the same NAT-T
 * state (confirmed or not, NAT-D verdict), the same server address and port and, with two
 * captures, the same NAT outside address. Each member keeps its own sessions (client with its
 * SPI and packet counts, server with its SPI and the IKE SPI, NAT mapping) in the sessions list;
 * a tunnel alone in its group is reported as before, on its own. */
#include <stdio.h>
#include <stdlib.h>
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
    t->ka = fl ? activity_keepalive_us(flow_ka(fl)) : 0;
    return true;
}

typedef struct finding_session *(*session_adder)(struct finding *f, unsigned role,
                                                 const struct ip_addr *ip);

/* The sessions of tunnel t; a group member's also carry its own counts and IKE SPI (notes). */
static void emit_sessions(struct finding *f, const struct tunnel *t, session_adder add, bool member)
{
    const struct nat_mapping *mp = t->mp;
    struct finding_session *fs = add(f, ROLE_CLIENT, &t->ei->ip);
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
        if (member) {
            snprintf(fs->note, sizeof(fs->note), "%llu ESP out, %llu back",
                     (unsigned long long)t->up, (unsigned long long)t->down);
            if (t->ka)
                du_cat(fs->note, sizeof(fs->note), ", keepalive %.1f s", du_sec(t->ka));
        }
    }
    if ((fs = add(f, ROLE_SERVER, &t->er->ip))) {
        fs->has_port = true;
        fs->port = t->er->port;
        fs->has_spi = t->spi_down != 0;
        fs->spi = t->spi_down;
        if (member)
            snprintf(fs->note, sizeof(fs->note), "IKE SPI %016llx",
                     (unsigned long long)t->ik->ispi);
    }
    if (mp && (fs = add(f, ROLE_NAT, &mp->outside.ip))) {
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
    snprintf(f->summary, FINDING_SUMMARY_SIZE, "%s reaches %s through a NAT", du_ip(&t->ei->ip, a),
             du_ip(&t->er->ip, b));
    if (t->mp)
        du_cat(f->summary, FINDING_SUMMARY_SIZE, " (outside %s:%u)", du_ipp(&t->mp->outside.ip, o),
               t->mp->outside.port);
    du_cat(f->summary, FINDING_SUMMARY_SIZE,
           " with NAT traversal working: IKE moved to UDP %u and ESP is UDP-encapsulated both "
           "ways (%llu packets "
           "out, %llu back).",
           t->er->port, (unsigned long long)t->up, (unsigned long long)t->down);
    if (t->ka)
        du_cat(f->summary, FINDING_SUMMARY_SIZE, " NAT-T keepalives every %.1f s.", du_sec(t->ka));
    snprintf(f->remedy, FINDING_REMEDY_SIZE,
             "Nothing to fix. Keep NAT-T keepalives below the NAT's UDP timeout (Linux: 120 s "
             "for a replied flow).");
    emit_sessions(f, t, finding_session_add, false);
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

/* One cause (see the top of the file): compared with memcmp, padding zeroed. */
struct group_key {
    struct ip_addr server, nat;
    uint16_t server_port;
    uint8_t confirmed, natd, has_nat;
};

static void group_key_make(struct group_key *k, const struct detect_ctx *c, const struct tunnel *t)
{
    memset(k, 0, sizeof(*k));
    du_key_ip(&k->server, &t->er->ip);
    k->server_port = t->er->port;
    k->confirmed = du_two(c) || t->natd;
    k->natd = t->natd;
    if (t->mp) {
        k->has_nat = 1;
        du_key_ip(&k->nat, &t->mp->outside.ip);
    }
}

/* Emit: one finding for the n > 1 tunnels of one cause (members: their indexes in tv, in slot
 * order); false when out of memory. */
static bool emit_group(struct detect_ctx *c, uint8_t cap, const struct tunnel *tv,
                       const uint32_t *members, uint32_t n)
{
    const struct tunnel *t0 = &tv[members[0]];
    uint64_t first = t0->ik->first_ts, up = 0, down = 0, ka_min = 0, ka_max = 0;
    uint32_t with_ka = 0;
    for (uint32_t k = 0; k < n; k++) {
        const struct tunnel *t = &tv[members[k]];
        first = t->ik->first_ts < first ? t->ik->first_ts : first;
        up += t->up;
        down += t->down;
        if (t->ka) {
            ka_min = !with_ka || t->ka < ka_min ? t->ka : ka_min;
            ka_max = t->ka > ka_max ? t->ka : ka_max;
            with_ka++;
        }
    }
    struct finding *f = finding_add(c->out, FINDING_NAT_TRAVERSAL, first);
    if (!f)
        return false;
    f->confirmed = du_two(c) || t0->natd;
    f->group_count = n - 1;
    char b[DU_IPSTR], o[DU_IPSTR];
    snprintf(f->summary, FINDING_SUMMARY_SIZE, "%u clients reach %s:%u through a NAT", n,
             du_ipp(&t0->er->ip, b), t0->er->port);
    if (t0->mp)
        du_cat(f->summary, FINDING_SUMMARY_SIZE, " (outside %s)", du_ip(&t0->mp->outside.ip, o));
    du_cat(f->summary, FINDING_SUMMARY_SIZE,
           " with NAT traversal working for each: IKE moved to UDP %u and ESP is "
           "UDP-encapsulated both ways (%llu packets out, %llu back in all; each client's in "
           "the sessions list).",
           t0->er->port, (unsigned long long)up, (unsigned long long)down);
    char lo[24], hi[24];
    snprintf(lo, sizeof(lo), "%.1f", du_sec(ka_min));
    snprintf(hi, sizeof(hi), "%.1f", du_sec(ka_max));
    if (with_ka && strcmp(lo, hi) == 0)
        du_cat(f->summary, FINDING_SUMMARY_SIZE,
               " NAT-T keepalives every %s s (%u of the %u clients).", lo, with_ka, n);
    else if (with_ka)
        du_cat(f->summary, FINDING_SUMMARY_SIZE,
               " NAT-T keepalives every %s-%s s (%u of the %u clients).", lo, hi, with_ka, n);
    snprintf(f->remedy, FINDING_REMEDY_SIZE,
             "Nothing to fix. Keep NAT-T keepalives below the NAT's UDP timeout (Linux: 120 s "
             "for a replied flow).");
    finding_ev_int(f, "clients", n);
    finding_ev_int(f, "esp_packets_out", (int64_t)up);
    finding_ev_int(f, "esp_packets_back", (int64_t)down);
    if (with_ka) {
        finding_ev_seconds(f, "keepalive_interval_min_s", du_sec(ka_min));
        finding_ev_seconds(f, "keepalive_interval_max_s", du_sec(ka_max));
    }
    finding_ev_bool(f, "natd_says_nat", t0->natd);
    for (uint32_t k = 0; k < n; k++) {
        const struct tunnel *t = &tv[members[k]];
        emit_sessions(f, t, finding_session_add_more, true);
        finding_frame(f, cap, t->ik->first_frame);
        if (t->frame)
            finding_frame(f, cap, t->frame);
    }
    return true;
}

/* Collect: the healthy tunnels of the model, in IKE table slot order (*n of them; NULL when
 * there are none or memory ran out). */
static struct tunnel *collect(const struct detect_ctx *c, const struct session_model *m,
                              const struct finding_list *earlier, uint32_t *n)
{
    struct du_index problems;
    struct du_lazy maps = {0};
    problems_build(&problems, earlier);
    struct tunnel *tv = NULL;
    uint32_t cap = 0;
    *n = 0;
    for (uint32_t i = 0; i < table_slots(m->ike); i++) {
        struct tunnel t;
        if (!healthy_tunnel(c, m, &maps, &problems, earlier, table_slot(m->ike, i, NULL), &t))
            continue;
        if (*n == cap) {
            uint32_t ncap = cap ? cap * 2 : 64;
            struct tunnel *v = realloc(tv, ncap * sizeof(*v));
            if (!v)
                break;
            tv = v;
            cap = ncap;
        }
        tv[(*n)++] = t;
    }
    du_lazy_free(&maps);
    du_index_free(&problems);
    return tv;
}

/* earlier: the problem findings of every other detector (declared in .reads). */
static void run(struct detect_ctx *c, const struct finding_list *earlier)
{
    bool two = du_two(c);
    const struct session_model *m = two ? c->inside : c->single;
    if (!m)
        return;
    uint8_t cap = du_cap(c, m);
    uint32_t n = 0;
    struct tunnel *tv = collect(c, m, earlier, &n);
    /* grp[i]: the group of tunnel i, numbered in order of first appearance */
    uint32_t *grp = malloc((n ? n : 1) * sizeof(*grp));
    uint32_t *members = malloc((n ? n : 1) * sizeof(*members));
    struct table *keys =
        table_new(sizeof(struct group_key), sizeof(uint32_t), n ? n : 1, NULL, NULL);
    if (!grp || !members || !keys)
        n = 0; /* out of memory: nothing said rather than half */
    uint32_t ng = 0;
    for (uint32_t i = 0; i < n; i++) {
        struct group_key k;
        group_key_make(&k, c, &tv[i]);
        bool created = false;
        uint32_t *g = table_put(keys, &k, &created);
        if (!g) {
            n = i; /* out of memory: the tunnels grouped so far */
            break;
        }
        if (created)
            *g = ng++;
        grp[i] = *g;
    }
    /* one finding per group, in the order the groups were first seen: members bucketed by
     * group (counting sort, slot order kept within a group) */
    uint32_t *start = calloc((size_t)ng + 1, sizeof(*start));
    if (!start)
        ng = 0;
    for (uint32_t i = 0; i < n && ng; i++)
        start[grp[i] + 1]++;
    for (uint32_t g = 0; g < ng; g++)
        start[g + 1] += start[g];
    for (uint32_t i = 0; i < n && ng; i++)
        members[start[grp[i]]++] = i;
    for (uint32_t g = 0, from = 0; g < ng; from = start[g], g++) {
        uint32_t cnt = start[g] - from;
        bool ok = cnt == 1 ? emit(c, cap, &tv[members[from]])
                           : emit_group(c, cap, tv, members + from, cnt);
        if (!ok)
            break;
    }
    free(start);
    table_free(keys);
    free(members);
    free(grp);
    free(tv);
}

const struct detector det_nat_traversal = {
    .name = "nat_traversal",
    .emits = DETECT_KIND_BIT(FINDING_NAT_TRAVERSAL),
    /* every problem kind: a client named by one is not reported healthy */
    .reads = ((1u << FINDING__COUNT) - 1u) & ~DETECT_KIND_BIT(FINDING_NAT_TRAVERSAL),
    .run_after = run,
};
