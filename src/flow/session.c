/* session.c - the session model: flows, IKE SAs (with NAT-D verdicts), ESP/AH SAs, PPTP control
 * connections and calls (nf_conntrack_pptp.c model), GRE and L2TP. Reads struct pkt only. */
#include "vpnscope/session.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vpnscope/decode.h"
#include "vpnscope/frag.h"
#include "vpnscope/natd.h"
#include "vpnscope/table.h"

struct session_index;
static void index_free(struct session_index *x);

/* ---- small helpers ---- */

const char *side_name(uint8_t side)
{
    switch (side) {
    case SIDE_INSIDE:
        return "inside";
    case SIDE_OUTSIDE:
        return "outside";
    default:
        return "single";
    }
}

const char *pptp_call_state_name(uint8_t s)
{
    switch (s) {
    case PPTP_CALL_OUT_REQ:
        return "requested";
    case PPTP_CALL_OUT_CONF:
        return "established";
    case PPTP_CALL_IN_REQ:
        return "incoming_requested";
    case PPTP_CALL_IN_REP:
        return "incoming_replied";
    case PPTP_CALL_IN_CONF:
        return "established";
    case PPTP_CALL_CLEAR_REQ:
        return "clearing";
    case PPTP_CALL_DISCONNECTED:
        return "disconnected";
    case PPTP_CALL_REJECTED:
        return "rejected";
    default:
        return "unknown";
    }
}

static bool ip_eq(const struct ip_addr *a, const struct ip_addr *b)
{
    return a->v == b->v && memcmp(a->a, b->a, a->v == 4 ? 4 : 16) == 0;
}

static int ep_cmp(const struct ip_addr *a, uint16_t pa, const struct ip_addr *b, uint16_t pb)
{
    int c = memcmp(a, b, sizeof(*a));
    if (c)
        return c;
    return (int)pa - (int)pb;
}

uint64_t activity_keepalive_us(const struct activity *a)
{
    return a->ka_ivl_n ? a->ka_ivl_sum_us / a->ka_ivl_n : 0;
}

/* Records the packet time; keeps the GAPS_PER_TUNNEL longest idle gaps (longest first). */
static void activity_touch(struct activity *a, uint64_t ts, uint64_t frame)
{
    if (a->last_us && ts > a->last_us && ts - a->last_us >= GAP_MIN_US) {
        uint64_t len = ts - a->last_us;
        unsigned n = a->n_gaps;
        if (n < GAPS_PER_TUNNEL || len > a->gaps[n - 1].end_us - a->gaps[n - 1].start_us) {
            unsigned pos = n < GAPS_PER_TUNNEL ? n : GAPS_PER_TUNNEL - 1;
            while (pos > 0 && a->gaps[pos - 1].end_us - a->gaps[pos - 1].start_us < len) {
                a->gaps[pos] = a->gaps[pos - 1];
                pos--;
            }
            a->gaps[pos].start_us = a->last_us;
            a->gaps[pos].end_us = ts;
            a->gaps[pos].frame_after = frame;
            if (n < GAPS_PER_TUNNEL)
                a->n_gaps++;
        }
    }
    if (ts > a->last_us)
        a->last_us = ts;
}

static void activity_keepalive(struct activity *a, uint64_t ts)
{
    if (a->ka_count && ts > a->ka_last_us) {
        uint64_t ivl = ts - a->ka_last_us;
        a->ka_ivl_sum_us += ivl;
        a->ka_ivl_n++;
        if (!a->ka_ivl_min_us || ivl < a->ka_ivl_min_us)
            a->ka_ivl_min_us = ivl;
        if (ivl > a->ka_ivl_max_us)
            a->ka_ivl_max_us = ivl;
    }
    a->ka_count++;
    a->ka_last_us = ts;
}

/* ---- lifecycle ---- */

int session_model_init(struct session_model *m, uint8_t side)
{
    memset(m, 0, sizeof(*m));
    m->side = side;
    m->flows = table_new(sizeof(struct flow_key), sizeof(struct flow), FLOW_MAX, NULL, NULL);
    m->ike = table_new(sizeof(struct ike_sa_key), sizeof(struct ike_sa), IKE_SA_MAX, NULL, NULL);
    m->ipsec =
        table_new(sizeof(struct ipsec_sa_key), sizeof(struct ipsec_sa), IPSEC_SA_MAX, NULL, NULL);
    m->pptp = table_new(sizeof(struct pptp_ctrl_key), sizeof(struct pptp_ctrl), PPTP_CTRL_MAX, NULL,
                        NULL);
    m->gre = table_new(sizeof(struct gre_key), sizeof(struct gre_flow), GRE_MAX, NULL, NULL);
    m->l2tp = table_new(sizeof(struct l2tp_key), sizeof(struct l2tp_sess), L2TP_MAX, NULL, NULL);
    if (!m->flows || !m->ike || !m->ipsec || !m->pptp || !m->gre || !m->l2tp) {
        session_model_free(m);
        return -1;
    }
    return 0;
}

void session_model_free(struct session_model *m)
{
    index_free(m->idx);
    m->idx = NULL;
    free(m->fragdg);
    m->fragdg = NULL;
    m->n_fragdg = m->cap_fragdg = 0;
    table_free(m->flows);
    table_free(m->ike);
    table_free(m->ipsec);
    table_free(m->pptp);
    table_free(m->gre);
    table_free(m->l2tp);
    m->flows = m->ike = m->ipsec = m->pptp = m->gre = m->l2tp = NULL;
}

/* ---- flows ---- */

static void make_flow_key(struct flow_key *k, uint8_t proto, const struct ip_addr *a, uint16_t pa,
                          const struct ip_addr *b, uint16_t pb)
{
    memset(k, 0, sizeof(*k));
    if (ep_cmp(a, pa, b, pb) <= 0) {
        k->a = *a, k->pa = pa, k->b = *b, k->pb = pb;
    } else {
        k->a = *b, k->pa = pb, k->b = *a, k->pb = pa;
    }
    k->proto = proto;
}

struct flow *session_flow(struct session_model *m, const struct pkt *p, int *dir)
{
    if (!p->ipver)
        return NULL;
    uint16_t sp = p->has_ports ? p->sport : 0, dp = p->has_ports ? p->dport : 0;
    if (p->l4proto == 1 || p->l4proto == 58) {
        sp = dp = p->icmp_id; /* echo flows by identifier */
    }
    struct flow_key k;
    make_flow_key(&k, p->l4proto, &p->src, sp, &p->dst, dp);
    bool created = false;
    struct flow *f = table_put(m->flows, &k, &created);
    if (!f)
        return NULL;
    if (created) {
        f->src.ip = p->src;
        f->src.port = sp;
        f->dst.ip = p->dst;
        f->dst.port = dp;
        f->proto = p->l4proto;
        f->first_ts = p->ts_us;
        f->first_frame = p->frame;
    }
    *dir = (ip_eq(&f->src.ip, &p->src) && f->src.port == sp) ? 0 : 1;
    if (f->src.port == f->dst.port && ip_eq(&p->src, &p->dst))
        *dir = 0;
    return f;
}

/*
 * NAT-D verdicts from one capture point. Each hash says what its sender believed an address was;
 * comparing it with the address seen here tells where a translation happened:
 *   initiator's source hash  vs observed source:   NAT between initiator and here, or random;
 *   responder's destination  vs observed dest.:    NAT between here and the responder (certain);
 *   responder's source hash  vs observed source:   NAT between responder and here, or random;
 *   initiator's destination  vs observed dest.:    DNAT between initiator and here (certain).
 * A random source hash (strongSwan encap=yes, or a kernel that needs UDP encapsulation) is
 * "forced encapsulation": it is proven when the sender's own hash is wrong although nothing
 * translated its address on the way here (the peer saw the same address, or it is private and
 * the peer confirmed it); otherwise "NAT or forced encapsulation" stays undecided (null).
 */
static void natd_verdict_update(struct natd_verdict *v, const struct ip_addr *init_ip,
                                const struct ip_addr *resp_ip)
{
    bool isrc_mis = v->init_src_mismatch_seen, isrc_ok = v->init_src_match_seen && !isrc_mis;
    bool rdst_mis = v->resp_dst_mismatch_seen, rdst_ok = v->resp_dst_match_seen && !rdst_mis;
    bool rsrc_mis = v->resp_src_mismatch_seen, rsrc_ok = v->resp_src_match_seen && !rsrc_mis;
    bool idst_mis = v->init_dst_mismatch_seen;
    v->forced_encap = -1;
    if (rdst_mis) {
        v->nat_initiator = 1;
        if (isrc_mis)
            v->forced_encap = 1; /* inside the NAT, yet the initiator's own hash is wrong */
    } else if (isrc_mis) {
        if (rdst_ok && ip_addr_is_private(init_ip)) {
            v->nat_initiator = 0;
            v->forced_encap = 1;
        } else {
            v->nat_initiator = 1; /* NAT or forced encapsulation: forced_encap stays null */
        }
    } else if (isrc_ok && rdst_ok) {
        v->nat_initiator = 0;
    } else {
        v->nat_initiator = -1;
    }
    if (isrc_ok)
        v->forced_encap = 0;
    if (idst_mis)
        v->nat_responder = 1;
    else if (rsrc_mis)
        v->nat_responder = ip_addr_is_private(resp_ip) ? 0 : -1;
    else if (rsrc_ok)
        v->nat_responder = 0;
    else
        v->nat_responder = -1;
}

/* ---- IKE ---- */

static unsigned exch_slot(struct ike_sa *sa, uint8_t exch)
{
    for (unsigned i = 0; i < sa->n_exch; i++)
        if (sa->exch_type[i] == exch)
            return i;
    if (sa->n_exch < IKE_EXCH_SLOTS) {
        sa->exch_type[sa->n_exch] = exch;
        return sa->n_exch++;
    }
    return IKE_EXCH_SLOTS;
}

const char *session_exch_name(const struct ike_sa *sa, unsigned slot)
{
    if (slot >= sa->n_exch)
        return "unknown";
    return ike_exch_name(sa->version, sa->exch_type[slot]);
}

static void ike_update(struct session_model *m, const struct pkt *p)
{
    const struct ike_msg *ik = &p->ike;
    if (ik->version != 1 && ik->version != 2)
        return;
    struct ike_sa_key k;
    memset(&k, 0, sizeof(k));
    k.ispi = ik->ispi;
    k.version = ik->version;
    bool created = false;
    struct ike_sa *sa = table_put(m->ike, &k, &created);
    if (!sa)
        return;
    if (created) {
        sa->ispi = ik->ispi;
        sa->version = ik->version;
        bool from_init = ik->version == 2 ? ik->initiator : (ik->rspi == 0 || !ik->response);
        if (ik->version == 2 && !ik->initiator && !ik->response && ik->rspi != 0)
            from_init = false;
        const struct ip_addr *ii = from_init ? &p->src : &p->dst;
        const struct ip_addr *rr = from_init ? &p->dst : &p->src;
        sa->initiator.ip = *ii;
        sa->initiator.port = from_init ? p->sport : p->dport;
        sa->responder.ip = *rr;
        sa->responder.port = from_init ? p->dport : p->sport;
        sa->first_ts = p->ts_us;
        sa->first_frame = p->frame;
    }
    if (ik->rspi && !sa->rspi)
        sa->rspi = ik->rspi;
    bool from_init;
    if (ik->version == 2)
        from_init = ik->initiator;
    else
        from_init = ip_eq(&p->src, &sa->initiator.ip) &&
                    (!ip_eq(&p->src, &p->dst) || p->sport == sa->initiator.port);
    int dir = from_init ? 0 : 1;
    sa->packets++;
    sa->bytes += p->ip_len;
    if (from_init)
        sa->pkts_from_init++;
    else
        sa->pkts_from_resp++;
    sa->last_ts = p->ts_us;
    sa->last_frame = p->frame;
    if (sa->pkts_from_init && sa->pkts_from_resp)
        table_set_class(m->ike, sa, 1);
    if (p->nonesp_marker) {
        sa->nat_t = true;
        struct endpoint *ei = &sa->natt_initiator, *er = &sa->natt_responder;
        ei->ip = from_init ? p->src : p->dst;
        ei->port = from_init ? p->sport : p->dport;
        er->ip = from_init ? p->dst : p->src;
        er->port = from_init ? p->dport : p->sport;
    }
    activity_touch(&sa->act, p->ts_us, p->frame);
    unsigned slot = exch_slot(sa, ik->exch);
    if (slot < IKE_EXCH_SLOTS)
        sa->exch_count[slot]++;
    if ((ik->version == 2 && ik->exch == 37) || (ik->version == 1 && ik->exch == 5))
        sa->dpd_like++;
    if (ik->frag_supported || (ik->vid_flags & IKE_VID_FRAGMENTATION))
        sa->frag_supported = true;
    sa->vid_flags |= ik->vid_flags;
    if (ik->version == 1 && ik->has_sa && !from_init && ik->v1_hash)
        sa->v1_hash = ik->v1_hash;
    if (ik->version == 1 && ik->has_sa && from_init && ik->v1_hash && !sa->v1_hash)
        sa->v1_hash = ik->v1_hash; /* provisional: the responder's choice overrides */
    if (p->reassembled) {
        if (!sa->ip_fragmented_msgs)
            sa->ip_frag_first_frame = p->frame;
        sa->ip_fragmented_msgs++;
    }
    if (ik->skf)
        sa->skf_frags++;

    /* retransmissions and unanswered requests, tracked per side: each side has at most one
     * request open (IKEv2 windows are 1 by default; IKEv1 exchanges alternate) */
    uint64_t h = p->payload_len ? hash_bytes(p->payload, p->payload_len) : 0;
    h ^= (uint64_t)ik->msgid << 1;
    bool is_response = ik->version == 2 ? ik->response : false;
    bool retrans = sa->last_msg_hash[dir] == h && h != 0;
    if (retrans) {
        sa->retransmissions++;
        m->c.anomalies[ANOM_IKE_RETRANSMISSION]++;
    }
    sa->last_msg_hash[dir] = h;
    if (ik->version == 1) {
        /* no response flag: any message from the other side answers this side's request */
        sa->pend[1 - dir].open = false;
    } else if (is_response) {
        struct ike_pending *q = &sa->pend[1 - dir];
        if (q->open && q->msgid == ik->msgid) {
            if (sa->max_unanswered_sends && sa->unanswered_dir == 1 - dir &&
                sa->unanswered_msgid == q->msgid && sa->unanswered_first_ts == q->first_ts)
                sa->max_unanswered_sends = 0; /* it was answered after all */
            q->open = false;
        }
    }
    if (!is_response) {
        struct ike_pending *q = &sa->pend[dir];
        if (!(q->open && q->msgid == ik->msgid && retrans)) {
            memset(q, 0, sizeof(*q));
            q->open = true;
            q->msgid = ik->msgid;
            q->first_ts = p->ts_us;
        }
        q->sends++;
        q->last_ts = p->ts_us;
        if (q->nframes < 8)
            q->frames[q->nframes++] = p->frame;
        if (q->sends > 1 && q->sends >= sa->max_unanswered_sends) {
            sa->max_unanswered_sends = q->sends;
            sa->unanswered_first_ts = q->first_ts;
            sa->unanswered_last_ts = q->last_ts;
            sa->unanswered_nframes = q->nframes;
            memcpy(sa->unanswered_frames, q->frames, sizeof(sa->unanswered_frames));
            sa->unanswered_msgid = q->msgid;
            sa->unanswered_dir = (uint8_t)dir;
        }
    }

    /* NAT-D: recompute the hashes from the addresses on the wire */
    if (ik->n_natd) {
        struct natd_verdict *v = &sa->natd;
        v->present = true;
        bool src_any_match = false, src_seen = false;
        unsigned v1_idx = 0;
        for (unsigned i = 0; i < ik->n_natd && i < IKE_MAX_NATD; i++) {
            const struct ike_natd *nd = &ik->natd[i];
            bool is_src;
            if (nd->kind == IKE_NATD_V1)
                is_src = v1_idx++ > 0; /* RFC 3947: first is the remote (destination) */
            else
                is_src = nd->kind == IKE_NATD_V2_SRC;
            const struct ip_addr *ip = is_src ? &p->src : &p->dst;
            uint16_t port = is_src ? p->sport : p->dport;
            bool match = natd_matches(nd, sa->v1_hash, ik->ispi, ik->rspi, ip, port);
            if (is_src) {
                src_seen = true;
                src_any_match |= match;
                if (from_init && !v->init_src_hash_len && nd->len <= IKE_NATD_MAXLEN) {
                    memcpy(v->init_src_hash, nd->h, nd->len);
                    v->init_src_hash_len = nd->len;
                }
            } else if (from_init) {
                if (match)
                    v->init_dst_match_seen = true;
                else
                    v->init_dst_mismatch_seen = true;
            } else {
                if (match)
                    v->resp_dst_match_seen = true;
                else
                    v->resp_dst_mismatch_seen = true;
            }
        }
        if (src_seen) {
            if (from_init) {
                if (src_any_match)
                    v->init_src_match_seen = true;
                else
                    v->init_src_mismatch_seen = true;
            } else {
                if (src_any_match)
                    v->resp_src_match_seen = true;
                else
                    v->resp_src_mismatch_seen = true;
            }
        }
        natd_verdict_update(v, &sa->initiator.ip, &sa->responder.ip);
    }
}

/* ---- ESP / AH ---- */

struct peer_key {
    struct ip_addr src, dst;
    uint8_t proto;
    uint8_t pad[3];
};

static void ipsec_update(struct session_model *m, const struct pkt *p, bool ah, bool two_way)
{
    struct ipsec_sa_key k;
    memset(&k, 0, sizeof(k));
    k.src = p->src;
    k.dst = p->dst;
    k.spi = ah ? p->ah.spi : p->esp.spi;
    k.proto = ah ? 51 : 50;
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
    activity_touch(&sa->act, p->ts_us, p->frame);
    if (two_way)
        table_set_class(m->ipsec, sa, 1); /* traffic both ways between these peers: keep it */
}

/* The parent of an ESP/AH SA is the latest IKE SA between the same peers (same NAT-T ports for
 * UDP encapsulation) that began before it. When several such IKE SAs were alive at once (clients
 * behind one NAT address, seen from outside), the SPIs were negotiated encrypted and nothing on
 * the wire says which one it is: no parent is claimed. */
static bool parent_candidate(const struct ike_sa *ik, const struct ipsec_sa *sa, bool *alive)
{
    bool fwd = ip_eq(&ik->initiator.ip, &sa->k.src) && ip_eq(&ik->responder.ip, &sa->k.dst);
    bool rev = ip_eq(&ik->initiator.ip, &sa->k.dst) && ip_eq(&ik->responder.ip, &sa->k.src);
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
        if (!ik)
            continue;
        bool al = false;
        if (!parent_candidate(ik, sa, &al))
            continue;
        alive += al;
        if (!best || ik->first_ts > best->first_ts)
            best = ik;
    }
    return alive > 1 ? NULL : best;
}

void session_flow_key(const struct flow *f, struct flow_key *k)
{
    make_flow_key(k, f->proto, &f->src.ip, f->src.port, &f->dst.ip, f->dst.port);
}

const struct flow *session_flow_lookup(const struct session_model *m, uint8_t proto,
                                       const struct ip_addr *a, uint16_t pa,
                                       const struct ip_addr *b, uint16_t pb)
{
    struct flow_key k;
    make_flow_key(&k, proto, a, pa, b, pb);
    return table_get(m->flows, &k, false);
}

/* ---- PPTP (control state machine after nf_conntrack_pptp.c) ---- */

static struct pptp_call *call_find(struct pptp_ctrl *c, bool by_peer, uint16_t id)
{
    for (unsigned i = 0; i < c->n_calls && i < PPTP_CALLS_PER_CTRL; i++) {
        struct pptp_call *call = &c->calls[i];
        if (by_peer ? (call->has_peer && call->peer_call_id == id) : call->call_id == id)
            return call;
    }
    return NULL;
}

static struct pptp_call *call_new(struct pptp_ctrl *c, const struct pkt *p)
{
    struct pptp_call *call = NULL;
    if (c->n_calls < PPTP_CALLS_PER_CTRL) {
        call = &c->calls[c->n_calls++];
    } else {
        /* full: reuse the oldest finished call, else the oldest */
        unsigned best = 0;
        for (unsigned i = 0; i < PPTP_CALLS_PER_CTRL; i++)
            if (c->calls[i].state == PPTP_CALL_DISCONNECTED ||
                c->calls[i].first_ts < c->calls[best].first_ts)
                best = i;
        call = &c->calls[best];
    }
    memset(call, 0, sizeof(*call));
    call->first_ts = p->ts_us;
    call->first_frame = p->frame;
    return call;
}

static void copy_str(char *dst, size_t n, const char *src)
{
    if (!dst[0] && src[0])
        snprintf(dst, n, "%s", src);
}

static void pptp_update(struct session_model *m, const struct pkt *p)
{
    const struct pptp_msg *pm = &p->pptp;
    bool from_client = p->dport == PORT_PPTP;
    struct pptp_ctrl_key k;
    memset(&k, 0, sizeof(k));
    k.client = from_client ? p->src : p->dst;
    k.server = from_client ? p->dst : p->src;
    k.cport = from_client ? p->sport : p->dport;
    k.sport = from_client ? p->dport : p->sport;
    bool created = false;
    struct pptp_ctrl *c = table_put(m->pptp, &k, &created);
    if (!c)
        return;
    if (created) {
        c->client.ip = k.client;
        c->client.port = k.cport;
        c->server.ip = k.server;
        c->server.port = k.sport;
        c->first_ts = p->ts_us;
    }
    c->msgs++;
    c->last_ts = p->ts_us;
    bool bad = false;
    struct pptp_call *call = NULL;
    switch (pm->ctrl_type) {
    case 1: /* SCCRQ */
        bad = !from_client;
        c->state = PPTP_SESS_REQUESTED;
        copy_str(c->hostname, sizeof(c->hostname), pm->hostname);
        copy_str(c->vendor, sizeof(c->vendor), pm->vendor);
        break;
    case 2: /* SCCRP */
        bad = from_client || c->state != PPTP_SESS_REQUESTED;
        c->state = pm->result == 1 ? PPTP_SESS_CONFIRMED : PPTP_SESS_CLOSED;
        if (pm->result == 1)
            table_set_class(m->pptp, c, 1);
        break;
    case 3: /* StopCCRQ */
        c->state = PPTP_SESS_STOPREQ;
        break;
    case 4: /* StopCCRP */
        bad = c->state != PPTP_SESS_STOPREQ;
        c->state = PPTP_SESS_CLOSED;
        break;
    case 7: /* OCRQ: the client's Call ID */
        bad = !from_client;
        call = call_find(c, false, pm->call_id);
        if (!call)
            call = call_new(c, p);
        call->call_id = pm->call_id;
        call->state = PPTP_CALL_OUT_REQ;
        break;
    case 8: /* OCRP: the server's Call ID + the client's as peer */
        bad = from_client;
        call = call_find(c, false, pm->peer_call_id);
        if (!call) {
            bad = true;
            call = call_new(c, p);
            call->call_id = pm->peer_call_id;
        }
        call->peer_call_id = pm->call_id;
        call->has_peer = true;
        call->result = pm->result;
        call->state = pm->result == 1 ? PPTP_CALL_OUT_CONF : PPTP_CALL_REJECTED;
        break;
    case 9: /* ICRQ: from the server, its Call ID */
        bad = from_client;
        call = call_find(c, true, pm->call_id);
        if (!call)
            call = call_new(c, p);
        call->peer_call_id = pm->call_id;
        call->has_peer = true;
        call->state = PPTP_CALL_IN_REQ;
        break;
    case 10: /* ICRP: from the client, its Call ID, peer = server's */
        bad = !from_client;
        call = call_find(c, true, pm->peer_call_id);
        if (!call) {
            bad = true;
            call = call_new(c, p);
            call->peer_call_id = pm->peer_call_id;
            call->has_peer = true;
        }
        call->call_id = pm->call_id;
        call->result = pm->result;
        call->state = pm->result == 1 ? PPTP_CALL_IN_REP : PPTP_CALL_REJECTED;
        break;
    case 11: /* ICCN: from the server, peer = client's Call ID */
        call = call_find(c, false, pm->peer_call_id);
        if (call)
            call->state = PPTP_CALL_IN_CONF;
        else
            bad = true;
        break;
    case 12: /* CCRQ: from the client, its Call ID */
        call = call_find(c, false, pm->call_id);
        if (call)
            call->state = PPTP_CALL_CLEAR_REQ;
        else
            bad = true;
        break;
    case 13: /* CDN: from the server, its Call ID (Linux's helper rewrites it) */
        call = call_find(c, true, pm->call_id);
        if (!call)
            call = call_find(c, false, pm->call_id);
        if (call)
            call->state = PPTP_CALL_DISCONNECTED;
        else
            bad = true;
        break;
    default:
        break;
    }
    if (call)
        call->last_ts = p->ts_us;
    if (bad)
        m->c.anomalies[ANOM_PPTP_BAD_TRANSITION]++;
}

/* ---- GRE ---- */

static void gre_update(struct session_model *m, const struct pkt *p, bool two_way)
{
    struct gre_key k;
    memset(&k, 0, sizeof(k));
    k.src = p->src;
    k.dst = p->dst;
    k.version = p->gre.version;
    if (p->gre.version == 1) {
        k.key = p->gre.call_id;
        k.has_key = 1;
    } else if (p->gre.has_key) {
        k.key = p->gre.key;
        k.has_key = 1;
    }
    bool created = false;
    struct gre_flow *g = table_put(m->gre, &k, &created);
    if (!g)
        return;
    if (created) {
        g->k = k;
        g->first_ts = p->ts_us;
        g->first_frame = p->frame;
    }
    g->packets++;
    g->bytes += p->ip_len;
    g->last_ts = p->ts_us;
    if (p->gre.has_seq)
        g->last_seq = p->gre.seq;
    if (two_way)
        table_set_class(m->gre, g, 1);
    activity_touch(&g->act, p->ts_us, p->frame);
}

static const struct pptp_ctrl *ctrl_between(const struct session_model *m,
                                            const struct ip_addr *client,
                                            const struct ip_addr *server, uint16_t client_call,
                                            uint16_t server_call, bool by_server_call,
                                            const struct pptp_call **out_call)
{
    for (uint32_t i = 0; i < table_slots(m->pptp); i++) {
        const struct pptp_ctrl *c = table_slot(m->pptp, i, NULL);
        if (!c || !ip_eq(&c->client.ip, client) || !ip_eq(&c->server.ip, server))
            continue;
        for (unsigned j = 0; j < c->n_calls && j < PPTP_CALLS_PER_CTRL; j++) {
            const struct pptp_call *call = &c->calls[j];
            if (by_server_call ? (call->has_peer && call->peer_call_id == server_call)
                               : call->call_id == client_call) {
                if (out_call)
                    *out_call = call;
                return c;
            }
        }
    }
    return NULL;
}

void session_pptp_call_gre(const struct session_model *m, const struct pptp_ctrl *c,
                           const struct pptp_call *call, uint64_t *to_server, uint64_t *to_client)
{
    *to_server = *to_client = 0;
    struct gre_key k;
    memset(&k, 0, sizeof(k));
    k.version = 1;
    k.has_key = 1;
    if (call->has_peer) {
        /* client -> server GRE carries the server's Call ID */
        k.src = c->client.ip;
        k.dst = c->server.ip;
        k.key = call->peer_call_id;
        const struct gre_flow *g = table_get(m->gre, &k, false);
        if (g)
            *to_server = g->packets;
    }
    k.src = c->server.ip;
    k.dst = c->client.ip;
    k.key = call->call_id;
    const struct gre_flow *g = table_get(m->gre, &k, false);
    if (g)
        *to_client = g->packets;
}

bool session_gre_is_pptp_call(const struct session_model *m, const struct gre_flow *g)
{
    if (g->k.version != 1)
        return false;
    /* src -> dst carrying dst's peer's id: either client->server (key = server's call id) or
     * server->client (key = client's call id) */
    if (ctrl_between(m, &g->k.src, &g->k.dst, 0, (uint16_t)g->k.key, true, NULL))
        return true;
    if (ctrl_between(m, &g->k.dst, &g->k.src, (uint16_t)g->k.key, 0, false, NULL))
        return true;
    return false;
}

/* ---- L2TP ---- */

static void l2tp_update(struct session_model *m, const struct pkt *p)
{
    struct l2tp_key k;
    memset(&k, 0, sizeof(k));
    k.src = p->src;
    k.dst = p->dst;
    k.sport = p->sport;
    k.dport = p->dport;
    k.tunnel_id = p->l2tp.tunnel_id;
    k.session_id = p->l2tp.session_id;
    bool created = false;
    struct l2tp_sess *s = table_put(m->l2tp, &k, &created);
    if (!s)
        return;
    if (created) {
        s->k = k;
        s->version = p->l2tp.version;
        s->first_ts = p->ts_us;
    }
    s->packets++;
    if (p->l2tp.control)
        s->control++;
    s->bytes += p->ip_len;
    s->last_ts = p->ts_us;
}

/* ---- per packet ---- */

void session_update(struct session_model *m, const struct pkt *p, struct flow *f, int dir)
{
    if (f) {
        f->pkts[dir]++;
        f->bytes[dir] += p->ip_len ? p->ip_len : p->caplen;
        f->last_ts = p->ts_us;
        if (f->pkts[0] && f->pkts[1] && f->pkts[0] + f->pkts[1] <= 2)
            table_set_class(m->flows, f, 1);
        else if (f->pkts[0] && f->pkts[1] && dir == 1 && f->pkts[1] == 1)
            table_set_class(m->flows, f, 1);
        activity_touch(&f->act, p->ts_us, p->frame);
        if (p->vpn != VPN_NONE && !f->vpn)
            f->vpn = (uint8_t)p->vpn;
        if (p->vpn == VPN_IKE && p->l4proto == 17)
            f->hint = p->nonesp_marker ? HINT_NATT : (f->hint ? f->hint : HINT_IKE);
    }
    bool two_way = f && f->pkts[0] && f->pkts[1];
    if (p->vpn < 8)
        m->c.vpn_packets[p->vpn]++;
    switch (p->vpn) {
    case VPN_IKE:
        if (p->status == PKT_DECODED || p->ike.ispi)
            ike_update(m, p);
        break;
    case VPN_NATT_KEEPALIVE:
        m->c.keepalives++;
        if (f)
            activity_keepalive(&f->act, p->ts_us);
        break;
    case VPN_ESP:
    case VPN_AH:
        if (p->status == PKT_DECODED || (p->vpn == VPN_ESP ? p->esp.spi : p->ah.spi))
            ipsec_update(m, p, p->vpn == VPN_AH, two_way);
        if (p->ah_esp && p->esp.spi)
            ipsec_update(m, p, false, two_way);
        break;
    case VPN_PPTP:
        if (p->pptp.ctrl_type >= 1 && p->pptp.ctrl_type <= 15)
            pptp_update(m, p);
        break;
    case VPN_GRE:
        gre_update(m, p, two_way);
        break;
    case VPN_L2TP:
        if (p->l2tp.version)
            l2tp_update(m, p);
        break;
    default:
        break;
    }
}

void session_fragment(struct session_model *m, const struct frag_info *fi, bool is_ike)
{
    m->c.frag_datagrams++;
    if (fi->complete)
        m->c.frag_completed++;
    if (fi->out_of_order)
        m->c.frag_ooo++;
    if (fi->timed_out)
        m->c.frag_timeout++;
    else if (!fi->complete && !fi->evicted)
        m->c.frag_incomplete++;
    if (fi->evicted)
        m->c.frag_evicted++;
    bool vpn = fi->proto == 50 || fi->proto == 51 || fi->proto == 47 || is_ike ||
               (fi->has_ports &&
                (fi->sport == PORT_IKE || fi->dport == PORT_IKE || fi->sport == PORT_NATT ||
                 fi->dport == PORT_NATT || fi->sport == PORT_L2TP || fi->dport == PORT_L2TP));
    if (!vpn)
        return;
    if (m->n_fragdg >= FRAGDG_MAX) {
        m->fragdg_dropped++;
        return;
    }
    if (m->n_fragdg >= m->cap_fragdg) {
        uint32_t nc = m->cap_fragdg ? m->cap_fragdg * 2 : 16;
        struct fragdg *nv = realloc(m->fragdg, sizeof(*nv) * nc);
        if (!nv) {
            m->fragdg_dropped++;
            return;
        }
        m->fragdg = nv;
        m->cap_fragdg = nc;
    }
    struct fragdg *d = &m->fragdg[m->n_fragdg++];
    memset(d, 0, sizeof(*d));
    d->src = fi->src;
    d->dst = fi->dst;
    d->proto = fi->proto;
    d->sport = fi->has_ports ? fi->sport : 0;
    d->dport = fi->has_ports ? fi->dport : 0;
    d->id = fi->id;
    d->nfrags = fi->nfrags;
    d->complete = fi->complete;
    d->out_of_order = fi->out_of_order;
    d->overlap = fi->overlap;
    d->timed_out = fi->timed_out;
    d->first_ts = fi->first_ts;
    d->last_ts = fi->last_ts;
    d->nframes = fi->nframes < 8 ? fi->nframes : 8;
    memcpy(d->frames, fi->frames, sizeof(uint64_t) * d->nframes);
    d->is_ike = is_ike;
}

/* ---- address-pair indexes ---- */

#define IDX_NIL 0xffffffffu
#define IT_END 0xffffffffu

struct pair_key {
    struct ip_addr lo, hi;
};

struct pair_heads {
    uint32_t ike, ipsec; /* first index of each chain */
};

struct session_index {
    struct table *pairs; /* pair_key -> pair_heads */
    uint32_t *ike_next;  /* chain links, by IKE table slot */
    uint32_t n_ike;
    uint32_t *ipsec_next; /* chain links, by ESP/AH table slot */
    uint32_t n_ipsec;
};

static struct pair_key pair_of(const struct ip_addr *a, const struct ip_addr *b)
{
    struct pair_key k;
    memset(&k, 0, sizeof(k));
    bool lo = memcmp(a, b, sizeof(struct ip_addr)) <= 0;
    k.lo = lo ? *a : *b;
    k.hi = lo ? *b : *a;
    return k;
}

static void index_free(struct session_index *x)
{
    if (!x)
        return;
    table_free(x->pairs);
    free(x->ike_next);
    free(x->ipsec_next);
    free(x);
}

int session_index(struct session_model *m)
{
    index_free(m->idx);
    m->idx = NULL;
    struct session_index *x = calloc(1, sizeof(*x));
    if (!x)
        return -1;
    x->n_ike = table_slots(m->ike);
    x->n_ipsec = table_slots(m->ipsec);
    x->pairs = table_new(sizeof(struct pair_key), sizeof(struct pair_heads),
                         IKE_SA_MAX + IPSEC_SA_MAX, NULL, NULL);
    x->ike_next = malloc(sizeof(uint32_t) * (x->n_ike + 1));
    x->ipsec_next = malloc(sizeof(uint32_t) * (x->n_ipsec + 1));
    if (!x->pairs || !x->ike_next || !x->ipsec_next) {
        index_free(x);
        return -1;
    }
    /* insert in reverse slot order so every chain lists its SAs in slot order */
    for (uint32_t i = x->n_ike; i-- > 0;) {
        const struct ike_sa *ik = table_slot(m->ike, i, NULL);
        x->ike_next[i] = IDX_NIL;
        if (!ik)
            continue;
        struct pair_key k = pair_of(&ik->initiator.ip, &ik->responder.ip);
        bool created = false;
        struct pair_heads *h = table_put(x->pairs, &k, &created);
        if (!h)
            continue;
        if (created)
            h->ike = h->ipsec = IDX_NIL;
        x->ike_next[i] = h->ike;
        h->ike = i;
    }
    for (uint32_t i = x->n_ipsec; i-- > 0;) {
        const struct ipsec_sa *sa = table_slot(m->ipsec, i, NULL);
        x->ipsec_next[i] = IDX_NIL;
        if (!sa)
            continue;
        struct pair_key k = pair_of(&sa->k.src, &sa->k.dst);
        bool created = false;
        struct pair_heads *h = table_put(x->pairs, &k, &created);
        if (!h)
            continue;
        if (created)
            h->ike = h->ipsec = IDX_NIL;
        x->ipsec_next[i] = h->ipsec;
        h->ipsec = i;
    }
    m->idx = x;
    return 0;
}

/* Shared iterator: *it = 0 start, else last returned slot + 1; IT_END when done. */
static uint32_t chain_next(const struct session_model *m, const struct ip_addr *a,
                           const struct ip_addr *b, uint32_t *it, bool ike)
{
    const struct session_index *x = m->idx;
    if (!x || *it == IT_END)
        return IDX_NIL;
    const uint32_t *next = ike ? x->ike_next : x->ipsec_next;
    uint32_t n = ike ? x->n_ike : x->n_ipsec;
    uint32_t i;
    if (*it == 0) {
        struct pair_key k = pair_of(a, b);
        const struct pair_heads *h = table_get(x->pairs, &k, false);
        i = h ? (ike ? h->ike : h->ipsec) : IDX_NIL;
    } else {
        i = *it - 1 < n ? next[*it - 1] : IDX_NIL;
    }
    *it = (i == IDX_NIL || i >= n) ? IT_END : i + 1;
    return i < n ? i : IDX_NIL;
}

const struct ike_sa *session_ike_between(const struct session_model *m, const struct ip_addr *a,
                                         const struct ip_addr *b, uint32_t *it)
{
    for (;;) {
        uint32_t i = chain_next(m, a, b, it, true);
        if (i == IDX_NIL)
            return NULL;
        const struct ike_sa *sa = table_slot(m->ike, i, NULL);
        if (sa)
            return sa;
    }
}

const struct ipsec_sa *session_ipsec_between(const struct session_model *m, const struct ip_addr *a,
                                             const struct ip_addr *b, uint32_t *it)
{
    for (;;) {
        uint32_t i = chain_next(m, a, b, it, false);
        if (i == IDX_NIL)
            return NULL;
        const struct ipsec_sa *sa = table_slot(m->ipsec, i, NULL);
        if (sa)
            return sa;
    }
}

/* Resolves every ESP/AH SA's parent IKE SA once, through the address-pair index. */
static void resolve_parents(struct session_model *m)
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
        for (const struct ike_sa *ik; (ik = session_ike_between(m, &sa->k.src, &sa->k.dst, &it));) {
            bool al = false;
            if (!parent_candidate(ik, sa, &al))
                continue;
            alive += al;
            if (!best || ik->first_ts > best->first_ts)
                best = ik;
        }
        sa->parent_done = true;
        sa->has_parent = best && alive <= 1;
        if (sa->has_parent) {
            sa->parent_ispi = best->ispi;
            sa->parent_version = best->version;
        }
    }
}

void session_finish(struct session_model *m)
{
    session_index(m);
    resolve_parents(m);
    /* pair SAs: one pass building a table of (src,dst,proto) seen */
    struct table *peers = table_new(sizeof(struct peer_key), 1, IPSEC_SA_MAX, NULL, NULL);
    if (peers) {
        for (uint32_t i = 0; i < table_slots(m->ipsec); i++) {
            const struct ipsec_sa *sa = table_slot(m->ipsec, i, NULL);
            if (!sa)
                continue;
            struct peer_key k;
            memset(&k, 0, sizeof(k));
            k.src = sa->k.src;
            k.dst = sa->k.dst;
            k.proto = (uint8_t)(sa->k.proto | (sa->k.encap << 7));
            table_put(peers, &k, NULL);
        }
        for (uint32_t i = 0; i < table_slots(m->ipsec); i++) {
            struct ipsec_sa *sa = table_slot(m->ipsec, i, NULL);
            if (!sa)
                continue;
            struct peer_key k;
            memset(&k, 0, sizeof(k));
            k.src = sa->k.dst;
            k.dst = sa->k.src;
            k.proto = (uint8_t)(sa->k.proto | (sa->k.encap << 7));
            sa->paired = table_get(peers, &k, false) != NULL;
        }
        table_free(peers);
    }
    /* side inference (single capture): NAT-D says where the capture sits relative to a NAT */
    int inside = 0, outside = 0;
    for (uint32_t i = 0; i < table_slots(m->ike); i++) {
        const struct ike_sa *sa = table_slot(m->ike, i, NULL);
        if (!sa || !sa->natd.present)
            continue;
        const struct natd_verdict *v = &sa->natd;
        if (v->resp_dst_mismatch_seen)
            inside++; /* the responder saw another address for the initiator: NAT beyond here */
        else if (v->init_src_mismatch_seen && v->resp_dst_match_seen && v->forced_encap != 1)
            outside++;
    }
    if (!inside && !outside) {
        /* addresses: VPN initiators with private addresses talking to public servers */
        int priv = 0, pub = 0;
        for (uint32_t i = 0; i < table_slots(m->ike); i++) {
            const struct ike_sa *sa = table_slot(m->ike, i, NULL);
            if (!sa || ip_addr_is_private(&sa->responder.ip))
                continue;
            if (ip_addr_is_private(&sa->initiator.ip))
                priv++;
            else
                pub++;
        }
        for (uint32_t i = 0; i < table_slots(m->ipsec); i++) {
            const struct ipsec_sa *sa = table_slot(m->ipsec, i, NULL);
            if (!sa)
                continue;
            bool sp = ip_addr_is_private(&sa->k.src), dp = ip_addr_is_private(&sa->k.dst);
            if (sp != dp)
                priv++;
        }
        if (priv > pub)
            inside = 1;
        else if (pub > 0 && priv == 0)
            outside = 1; /* public peers only: if a NAT is involved, this is its outside */
    }
    m->side_inferred = inside > outside   ? SIDE_INSIDE
                       : outside > inside ? SIDE_OUTSIDE
                                          : SIDE_SINGLE;
}
