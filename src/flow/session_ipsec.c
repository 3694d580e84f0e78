/* session_ipsec.c - ESP and AH SAs of the session model: sequence numbers, the parent IKE SA
 * and the SA of the other direction. */
#include "session_int.h"

#include <string.h>

#include "vpnscope/proto.h"
#include "vpnscope/table.h"

struct peer_key {
    struct ip_addr src, dst;
    uint8_t proto;
    uint8_t pad[3];
};

void sess_ipsec_update(struct session_model *m, const struct pkt *p, bool ah, bool two_way)
{
    struct ipsec_sa_key k;
    memset(&k, 0, sizeof(k));
    k.src = p->src;
    k.dst = p->dst;
    k.spi = ah ? p->ah.spi : p->esp.spi;
    k.proto = ah ? IPP_AH : IPP_ESP;
    if (!ah && p->esp_in_udp) {
        k.encap = 1;
        k.sport = p->sport;
        k.dport = p->dport;
    }
    bool created = false;
    struct ipsec_sa *sa = table_put(m->ipsec, &k, &created);
    if (!sa)
        return;
    uint32_t seq = ah ? p->ah.seq : p->esp.seq;
    if (created) {
        sa->k = k;
        sa->first_seq = sa->last_seq = seq;
        sa->first_ts = p->ts_us;
        sa->first_frame = p->frame;
        if (ah) {
            sa->ah_icv_len = p->ah.icv_len;
            sa->ah_next_header = p->ah.next_header;
        }
    } else if (seq == sa->last_seq + 1) {
        sa->last_seq = seq;
    } else if (seq > sa->last_seq) {
        sa->seq_gaps += (uint64_t)(seq - sa->last_seq - 1);
        sa->last_seq = seq;
    } else if (seq <= 2 && sa->last_seq > 16) {
        sa->restarts++;
        sa->last_seq = seq;
        m->c.anomalies[ANOM_ESP_SEQ_RESTART]++;
    } else {
        sa->replays++;
        m->c.anomalies[ANOM_ESP_SEQ_REPLAY]++;
    }
    sa->packets++;
    sa->bytes += p->ip_len;
    sa->last_ts = p->ts_us;
    sa->last_frame = p->frame;
    sess_activity_touch_lazy(&sa->act, &sa->act_last_us, p->ts_us, p->frame);
    sess_spark_count(&sa->spark, p->ts_us, 0, m->spark_slide_us);
    if (two_way)
        table_set_class(m->ipsec, sa, 1); /* traffic both ways between these peers: keep it */
}

/* The parent of an ESP/AH SA is the latest IKE SA between the same peers (same NAT-T ports for
 * UDP encapsulation) that began before it. When several such IKE SAs were alive at once (clients
 * behind one NAT address, seen from outside), the SPIs were negotiated encrypted and nothing on
 * the wire says which one it is: no parent is claimed. */
static bool parent_candidate(const struct ike_sa *ik, const struct ipsec_sa *sa, bool *alive)
{
    bool fwd =
        ip_addr_eq(&ik->initiator.ip, &sa->k.src) && ip_addr_eq(&ik->responder.ip, &sa->k.dst);
    bool rev =
        ip_addr_eq(&ik->initiator.ip, &sa->k.dst) && ip_addr_eq(&ik->responder.ip, &sa->k.src);
    if (!fwd && !rev)
        return false;
    if (sa->k.encap && ik->nat_t) {
        const struct endpoint *a = fwd ? &ik->natt_initiator : &ik->natt_responder;
        const struct endpoint *b = fwd ? &ik->natt_responder : &ik->natt_initiator;
        if (a->port != sa->k.sport || b->port != sa->k.dport)
            return false;
    }
    if (ik->first_ts > sa->first_ts + 1000000u)
        return false; /* the IKE SA began after this SA: not its parent */
    /* an IKE SA lives on between its messages: one heard from within the last minute counts */
    *alive = ik->last_ts + 60000000u >= sa->first_ts;
    return true;
}

/* Counts ik among sa's parent candidates: the latest one so far in *best, the live ones in *alive.
 */
static void parent_consider(const struct ike_sa *ik, const struct ipsec_sa *sa,
                            const struct ike_sa **best, unsigned *alive)
{
    bool al = false;
    if (!parent_candidate(ik, sa, &al))
        return;
    *alive += al;
    if (!*best || ik->first_ts > (*best)->first_ts)
        *best = ik;
}

const struct ike_sa *session_ike_for_ipsec(const struct session_model *m, const struct ipsec_sa *sa)
{
    if (sa->parent_done) {
        if (!sa->has_parent)
            return NULL;
        struct ike_sa_key k;
        memset(&k, 0, sizeof(k));
        k.ispi = sa->parent_ispi;
        k.version = sa->parent_version;
        return table_get(m->ike, &k, false);
    }
    /* Before session_finish (live snapshots): scan. */
    const struct ike_sa *best = NULL;
    unsigned alive = 0;
    for (uint32_t i = 0; i < table_slots(m->ike); i++) {
        const struct ike_sa *ik = table_slot(m->ike, i, NULL);
        if (ik)
            parent_consider(ik, sa, &best, &alive);
    }
    return alive > 1 ? NULL : best;
}

/* Resolves every ESP/AH SA's parent IKE SA once, through the address-pair index. */
void sess_resolve_parents(struct session_model *m)
{
    if (!m->idx)
        return; /* the report falls back to scanning */
    for (uint32_t i = 0; i < table_slots(m->ipsec); i++) {
        struct ipsec_sa *sa = table_slot(m->ipsec, i, NULL);
        if (!sa)
            continue;
        const struct ike_sa *best = NULL;
        unsigned alive = 0;
        uint32_t it = 0;
        for (const struct ike_sa *ik; (ik = session_ike_between(m, &sa->k.src, &sa->k.dst, &it));)
            parent_consider(ik, sa, &best, &alive);
        sa->parent_done = true;
        sa->has_parent = best && alive <= 1;
        if (sa->has_parent) {
            sa->parent_ispi = best->ispi;
            sa->parent_version = best->version;
        }
    }
}

/* The key of an SA's peers in the direction given (forward: src -> dst; else reversed). */
static struct peer_key peer_key_of(const struct ipsec_sa *sa, bool forward)
{
    struct peer_key k;
    memset(&k, 0, sizeof(k));
    k.src = forward ? sa->k.src : sa->k.dst;
    k.dst = forward ? sa->k.dst : sa->k.src;
    k.proto = (uint8_t)(sa->k.proto | (sa->k.encap << 7));
    return k;
}

/* Pairs SAs: an SA is paired when one exists the other way between the same peers (one pass
 * building a table of the (src, dst, proto) seen, one pass looking the reverse up). */
void sess_pair_ipsec(struct session_model *m)
{
    struct table *peers = table_new(sizeof(struct peer_key), 1, IPSEC_SA_MAX, NULL, NULL);
    if (!peers)
        return;
    for (uint32_t i = 0; i < table_slots(m->ipsec); i++) {
        const struct ipsec_sa *sa = table_slot(m->ipsec, i, NULL);
        if (!sa)
            continue;
        struct peer_key k = peer_key_of(sa, true);
        table_put(peers, &k, NULL);
    }
    for (uint32_t i = 0; i < table_slots(m->ipsec); i++) {
        struct ipsec_sa *sa = table_slot(m->ipsec, i, NULL);
        if (!sa)
            continue;
        struct peer_key k = peer_key_of(sa, false);
        sa->paired = table_get(peers, &k, false) != NULL;
    }
    table_free(peers);
}
