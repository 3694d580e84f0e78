/* session_ike.c - IKE SAs of the session model: exchanges, retransmissions and unanswered
 * requests, NAT-T and the NAT-D verdicts. */
#include "session_int.h"

#include <stdlib.h>
#include <string.h>

#include "vpnscope/decode.h"
#include "vpnscope/natd.h"
#include "vpnscope/proto.h"
#include "vpnscope/table.h"

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

/* The IKE SA of a message (by initiator SPI and version), created with its endpoints when new;
 * NULL when the table is full. */
static struct ike_sa *ike_sa_get(struct session_model *m, const struct pkt *p)
{
    const struct ike_msg *ik = &p->ike;
    struct ike_sa_key k;
    memset(&k, 0, sizeof(k));
    k.ispi = ik->ispi;
    k.version = ik->version;
    bool created = false;
    struct ike_sa *sa = table_put(m->ike, &k, &created);
    if (!sa)
        return NULL;
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
    return sa;
}

/* The SA's resent-request frames, allocated when absent (NULL when out of memory: those frames
 * are not listed). */
static struct ike_frames *ike_frames(struct ike_sa *sa)
{
    if (!sa->frames)
        sa->frames = calloc(1, sizeof(*sa->frames));
    return sa->frames;
}

/* Retransmissions and unanswered requests, tracked per side: each side has at most one request
 * open (IKEv2 windows are 1 by default; IKEv1 exchanges alternate). */
static void ike_requests(struct session_model *m, struct ike_sa *sa, const struct pkt *p, int dir)
{
    const struct ike_msg *ik = &p->ike;
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
        struct ike_frames *fr = q->sends > 1 ? ike_frames(sa) : NULL;
        if (q->sends == 1) {
            q->frame0 = p->frame;
        } else if (fr) {
            fr->pend[dir][0] = q->frame0;
            if (q->sends <= 8)
                fr->pend[dir][q->sends - 1] = p->frame;
        }
        if (q->sends > 1 && q->sends >= sa->max_unanswered_sends) {
            sa->max_unanswered_sends = q->sends;
            sa->unanswered_first_ts = q->first_ts;
            sa->unanswered_last_ts = q->last_ts;
            sa->unanswered_nframes = fr ? (uint8_t)(q->sends < 8 ? q->sends : 8) : 0;
            if (fr)
                memcpy(fr->unanswered, fr->pend[dir], sizeof(fr->unanswered));
            sa->unanswered_msgid = q->msgid;
            sa->unanswered_dir = (uint8_t)dir;
        }
    }
}

/* NAT-D: recompute the hashes from the addresses on the wire. */
static void ike_natd(struct ike_sa *sa, const struct pkt *p, bool from_init)
{
    const struct ike_msg *ik = &p->ike;
    if (!ik->n_natd)
        return;
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

void sess_ike_update(struct session_model *m, const struct pkt *p)
{
    const struct ike_msg *ik = &p->ike;
    if (ik->version != 1 && ik->version != 2)
        return;
    struct ike_sa *sa = ike_sa_get(m, p);
    if (!sa)
        return;
    if (ik->rspi && !sa->rspi)
        sa->rspi = ik->rspi;
    bool from_init;
    if (ik->version == 2)
        from_init = ik->initiator;
    else
        from_init = ip_addr_eq(&p->src, &sa->initiator.ip) &&
                    (!ip_addr_eq(&p->src, &p->dst) || p->sport == sa->initiator.port);
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
    sess_activity_touch_lazy(&sa->act, &sa->act_last_us, p->ts_us, p->frame);
    sess_spark_count(&sa->spark, p->ts_us, from_init ? 0 : 1, m->spark_slide_us);
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

    ike_requests(m, sa, p, dir);

    ike_natd(sa, p, from_init);
}
