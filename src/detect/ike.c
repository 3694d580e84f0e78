/* ike.c - two IKE detectors:
 *  ike_no_response: an IKE request retransmitted (>= 3 sends, or >= 2 over >= 2 s) with no reply
 *    reaching the capture point (ike_sa.max_unanswered_sends and unanswered_*); with two captures
 *    the outside tells where the exchange is lost (router, server, or the way back);
 *  ike_ip_fragmented: IKE messages that arrived as IP fragments, with no RFC 7383 SKF payloads. */
#include <stdio.h>
#include <string.h>

#include "det_util.h"

#define MIN_SENDS 3
#define MIN_SENDS_SPAN 2
#define MIN_SPAN_US 2000000ull

/* The IKE SA with this initiator SPI and version: the table's own key. */
static const struct ike_sa *ike_by_spi(const struct session_model *m, uint64_t ispi,
                                       uint8_t version)
{
    struct ike_sa_key k;
    memset(&k, 0, sizeof(k));
    k.ispi = ispi;
    k.version = version;
    const struct ike_sa *ik = table_get(m->ike, &k, false);
    return ik && ik->ispi == ispi && ik->version == version ? ik : NULL;
}

struct spiset {
    unsigned n;
    uint64_t v[128];
};

static bool spiset_add(struct spiset *s, uint64_t spi)
{
    for (unsigned i = 0; i < s->n; i++)
        if (s->v[i] == spi)
            return false;
    if (s->n < 128)
        s->v[s->n++] = spi;
    return true;
}

/* The outside address/port of an inside endpoint towards peer (two captures): the first UDP
 * mapping by (inside address, inside port, peer address). */
static bool outside_ep(const struct detect_ctx *c, struct du_lazy *mi, const struct endpoint *in,
                       const struct endpoint *peer, struct ip_addr *ip, uint16_t *port)
{
    const struct nat_mapping *mp =
        c->nat ? du_udp_mapping(c->nat, mi, &in->ip, in->port, &peer->ip, NULL) : NULL;
    if (!mp)
        return false;
    *ip = mp->outside.ip;
    *port = mp->outside.port;
    return true;
}

static bool unanswered(const struct ike_sa *ik)
{
    uint32_t s = ik->max_unanswered_sends;
    uint64_t span = ik->unanswered_last_ts > ik->unanswered_first_ts
                        ? ik->unanswered_last_ts - ik->unanswered_first_ts
                        : 0;
    return s >= MIN_SENDS || (s >= MIN_SENDS_SPAN && span >= MIN_SPAN_US);
}

/* The SA got past its first exchange (responder's SPI known and the initial exchange answered). */
static bool established(const struct ike_sa *ik)
{
    if (!ik->rspi || !ik->pkts_from_resp)
        return false;
    if (ik->version == 2)
        return du_exch_count(ik, IKEV2_EXCH_IKE_AUTH) >= 2;
    return du_exch_count(ik, IKEV1_EXCH_MAIN_MODE) >= 6 ||
           du_exch_count(ik, IKEV1_EXCH_AGGRESSIVE) >= 3;
}

/* An IKE request sent again and again without a reply: who sent it to whom. */
struct noresp {
    const struct ike_sa *ik;
    bool up;                          /* the SA was established before */
    bool from_resp;                   /* the responder is the one retransmitting */
    const struct endpoint *snd, *rcv; /* sender and receiver of the request */
    uint64_t span;
    struct ip_addr oip; /* the sender's outside endpoint (two captures) */
    uint16_t oport;
    bool have_out;
};

/* Decide who sent the unanswered request: the initiator, except an IKEv2 message ID 0 after the
 * IKE_SA_INIT was answered (each side numbers its own requests: that is the responder's, e.g. a
 * DPD), or when only the responder sends. */
static void noresp_roles(const struct ike_sa *ik, struct noresp *n)
{
    memset(n, 0, sizeof(*n));
    n->ik = ik;
    n->up = established(ik);
    n->from_resp = (ik->pkts_from_init == 0 && ik->pkts_from_resp > 0) ||
                   (ik->version == 2 && ik->unanswered_msgid == 0 && n->up);
    n->snd = n->from_resp ? &ik->responder : &ik->initiator;
    n->rcv = n->from_resp ? &ik->initiator : &ik->responder;
    if (ik->nat_t && ik->natt_initiator.port) {
        n->snd = n->from_resp ? &ik->natt_responder : &ik->natt_initiator;
        n->rcv = n->from_resp ? &ik->natt_initiator : &ik->natt_responder;
    }
    n->span = ts_span(ik->unanswered_first_ts, ik->unanswered_last_ts);
}

/* The first sentence: who sent what to whom, how often. */
static void noresp_head(struct finding *f, const struct noresp *n)
{
    const struct ike_sa *ik = n->ik;
    char a[DU_IPSTR], b[DU_IPSTR + 32], o[DU_IPSTR], t1[16], t2[16];
    du_ipp(&n->snd->ip, a);
    if (n->from_resp)
        snprintf(b, sizeof(b), "the initiator (%s at setup)",
                 du_ip(&ik->initiator.ip, o)); /* it may have moved */
    else
        snprintf(b, sizeof(b), "%s:%u", du_ipp(&n->rcv->ip, o), n->rcv->port);
    char what[128];
    if (n->up)
        snprintf(what, sizeof(what),
                 "message ID %u, on the established SA: a liveness check (DPD) or other "
                 "INFORMATIONAL/CREATE_CHILD_SA",
                 ik->unanswered_msgid);
    else if (ik->version == 2 && ik->unanswered_msgid == 0 && !ik->rspi)
        snprintf(what, sizeof(what), "message ID 0, IKE_SA_INIT");
    else if (ik->version == 1 && !ik->rspi)
        snprintf(what, sizeof(what), "Main/Aggressive Mode message 1");
    else
        snprintf(what, sizeof(what), "message ID %u", ik->unanswered_msgid);
    snprintf(f->summary, FINDING_SUMMARY_SIZE,
             "%s:%u (the %s) sent its IKEv%u request (%s) to %s %u times between %s and %s (%.1f "
             "s) and no reply "
             "reached it",
             a, n->snd->port, n->from_resp ? "responder" : "initiator", ik->version, what, b,
             ik->max_unanswered_sends, du_hms(ik->unanswered_first_ts, t1),
             du_hms(ik->unanswered_last_ts, t2), du_sec(n->span));
}

/* Two captures, inside request: where the requests or replies got lost (summary text, the
 * sender's outside endpoint); returns the remedy. */
static const char *noresp_outside(const struct detect_ctx *c, struct du_lazy *mi, struct finding *f,
                                  struct noresp *n)
{
    const struct ike_sa *ik = n->ik;
    char o[DU_IPSTR];
    const struct ike_sa *ok = ike_by_spi(c->outside, ik->ispi, ik->version);
    n->have_out = outside_ep(c, mi, n->snd, n->rcv, &n->oip, &n->oport);
    if (!ok || ok->packets == 0) {
        du_cat(f->summary, FINDING_SUMMARY_SIZE,
               ". None of them left the router: the outside capture has no packet of this IKE "
               "SA.");
        return "The router does not forward the IKE requests: allow outbound UDP 500 and 4500 "
               "(and the NAT for "
               "them) on the router; look for a drop rule or a full connection-tracking table.";
    }
    if (ok->pkts_from_resp > 0 && ik->pkts_from_resp == 0) {
        du_cat(f->summary, FINDING_SUMMARY_SIZE,
               ". The requests left the router (%llu packets outside) and the server answered "
               "(%llu replies seen "
               "outside), but the replies never reached the inside: the router drops them.",
               (unsigned long long)ok->pkts_from_init, (unsigned long long)ok->pkts_from_resp);
        return "The router drops the IKE replies: allow inbound UDP 500/4500 for established "
               "flows, check NAT "
               "mapping timeouts and any IPsec passthrough / ALG setting that rewrites or "
               "blocks IKE.";
    }
    if (!n->have_out) {
        n->oip = ok->initiator.ip;
        n->oport = ok->initiator.port;
        n->have_out = true;
    }
    du_cat(f->summary, FINDING_SUMMARY_SIZE,
           ". All of them left the router (%llu packets seen outside, from %s:%u) and no "
           "reply came back: "
           "the server or the path beyond the NAT does not answer.",
           (unsigned long long)ok->pkts_from_init, du_ipp(&n->oip, o), n->oport);
    return "The server does not answer: check that its IKE daemon runs and listens on UDP "
           "500/4500, that "
           "its firewall (and the provider's) allows UDP 500/4500 from the NAT address, and "
           "that this peer "
           "is configured on it (address, identity, proposals).";
}

static void noresp_sessions(struct finding *f, const struct noresp *n)
{
    struct finding_session *fs = finding_session_add(f, ROLE_CLIENT, &n->snd->ip);
    if (fs) {
        fs->has_port = true;
        fs->port = n->snd->port;
        if (n->have_out) {
            fs->has_outside = true;
            fs->out_ip = n->oip;
            fs->has_out_port = true;
            fs->out_port = n->oport;
        }
        snprintf(fs->note, sizeof(fs->note), "retransmits, no reply");
    }
    if ((fs = finding_session_add(f, ROLE_SERVER, &n->rcv->ip))) {
        fs->has_port = true;
        fs->port = n->rcv->port;
    }
    if (n->from_resp && f->n_sessions) { /* (none: out of memory) */
        /* the client is the initiator: roles follow client/server, not who retransmits */
        f->sessions[0].role = ROLE_SERVER;
        if (f->n_sessions > 1) {
            f->sessions[1].role = ROLE_CLIENT;
            snprintf(f->sessions[1].note, sizeof(f->sessions[1].note), "does not answer");
        }
    }
}

static void no_response_one(struct detect_ctx *c, const struct session_model *m,
                            const struct ike_sa *ik, struct du_lazy *mi)
{
    bool two = du_two(c);
    uint8_t cap = du_cap(c, m);
    struct noresp n;
    noresp_roles(ik, &n);
    struct finding *f = finding_add(c->out, FINDING_IKE_NO_RESPONSE, ik->unanswered_first_ts);
    if (!f)
        return;
    f->confirmed = two || ik->max_unanswered_sends >= MIN_SENDS;
    noresp_head(f, &n);
    const char *rem = "Check that the server is reachable on UDP 500 and 4500: IKE daemon running, "
                      "firewall/ACL on the server "
                      "and on the way allows them, the peer address and identity configured. "
                      "Capture outside the NAT as well "
                      "(--inside/--outside) to see where the messages are lost.";
    if (two && m == c->inside && !n.from_resp)
        rem = noresp_outside(c, mi, f, &n);
    else
        du_cat(f->summary, FINDING_SUMMARY_SIZE, ".");
    if (n.up)
        du_cat(f->summary, FINDING_SUMMARY_SIZE,
               " The peer will declare the tunnel dead and tear it down.");
    else
        du_cat(f->summary, FINDING_SUMMARY_SIZE, " The tunnel cannot come up.");
    if (n.up && n.from_resp)
        rem = "The initiator no longer answers at its address: behind a NAT its mapping probably "
              "expired or moved "
              "(look for stale_nat). Keep NAT-T keepalives running below the NAT's UDP timeout, "
              "and use MOBIKE "
              "or let the responder follow the initiator's new port.";
    snprintf(f->remedy, FINDING_REMEDY_SIZE, "%s", rem);
    noresp_sessions(f, &n);
    du_ev_ike_spi(f, ik->ispi);
    finding_ev_int(f, "message_id", ik->unanswered_msgid);
    finding_ev_int(f, "sends", ik->max_unanswered_sends);
    finding_ev_ts(f, "first_ts", ik->unanswered_first_ts);
    finding_ev_ts(f, "last_ts", ik->unanswered_last_ts);
    finding_ev_seconds(f, "span_seconds", du_sec(n.span));
    for (unsigned k = 0; k < ik->unanswered_nframes && k < 8; k++)
        finding_frame(f, cap, ike_unanswered_frame(ik, k));
}

static void no_response(struct detect_ctx *c)
{
    struct spiset done = {0};
    struct du_lazy maps = {0};
    const struct session_model *ms[2] = {du_two(c) ? c->inside : c->single,
                                         du_two(c) ? c->outside : NULL};
    for (unsigned mi = 0; mi < 2; mi++) {
        const struct session_model *m = ms[mi];
        if (!m)
            continue;
        for (uint32_t i = 0; i < table_slots(m->ike); i++) {
            const struct ike_sa *ik = table_slot(m->ike, i, NULL);
            if (!ik || !unanswered(ik))
                continue;
            if (!spiset_add(&done, ik->ispi))
                continue;
            no_response_one(c, m, ik, &maps);
        }
    }
    du_lazy_free(&maps);
}

/* Fragmented datagrams by frame number: the latest start (first_ts) among the datagrams that list
 * the frame, for one model. Built on first use; without memory (t NULL) fragdg[] is scanned. */
struct frame_idx {
    bool built;
    struct table *t; /* uint64_t frame -> uint64_t first_ts */
};

static uint64_t frag_start(const struct session_model *m, struct frame_idx *fx, uint64_t frame,
                           uint64_t ts)
{
    if (!fx->built) {
        fx->built = true;
        fx->t = table_new(sizeof(uint64_t), sizeof(uint64_t), 8 * (m->n_fragdg + 1), NULL, NULL);
        for (uint32_t d = 0; fx->t && d < m->n_fragdg; d++)
            for (unsigned k = 0; k < m->fragdg[d].nframes && k < 8; k++) {
                uint64_t fr = m->fragdg[d].frames[k];
                bool created = false;
                uint64_t *v = table_put(fx->t, &fr, &created);
                if (!v) {
                    table_free(fx->t);
                    fx->t = NULL;
                    break;
                }
                if (created || m->fragdg[d].first_ts > *v)
                    *v = m->fragdg[d].first_ts;
            }
    }
    if (fx->t) {
        const uint64_t *v = table_get(fx->t, &frame, false);
        return v && *v > ts ? *v : ts;
    }
    for (uint32_t d = 0; d < m->n_fragdg; d++)
        for (unsigned k = 0; k < m->fragdg[d].nframes && k < 8; k++)
            if (m->fragdg[d].frames[k] == frame && m->fragdg[d].first_ts > ts)
                ts = m->fragdg[d].first_ts;
    return ts;
}

static void ip_fragmented(struct detect_ctx *c)
{
    struct spiset done = {0};
    bool two = du_two(c);
    const struct session_model *ms[2] = {two ? c->inside : c->single, two ? c->outside : NULL};
    for (unsigned mi = 0; mi < 2; mi++) {
        const struct session_model *m = ms[mi];
        if (!m)
            continue;
        struct frame_idx fx = {0};
        for (uint32_t i = 0; i < table_slots(m->ike); i++) {
            const struct ike_sa *ik = table_slot(m->ike, i, NULL);
            if (!ik || !ik->ip_fragmented_msgs || ik->skf_frags)
                continue;
            const struct ike_sa *other =
                two ? ike_by_spi(mi == 0 ? c->outside : c->inside, ik->ispi, ik->version) : NULL;
            if (other && other->skf_frags)
                continue;
            if (!spiset_add(&done, ik->ispi))
                continue;
            /* when it happened: the first fragmented message (its datagram's first fragment) */
            uint64_t ts = frag_start(m, &fx, ik->ip_frag_first_frame, ik->first_ts);
            struct finding *f = finding_add(c->out, FINDING_IKE_IP_FRAGMENTED, ts);
            if (!f) {
                table_free(fx.t);
                return;
            }
            f->confirmed = true;
            const struct endpoint *ei =
                ik->nat_t && ik->natt_initiator.port ? &ik->natt_initiator : &ik->initiator;
            const struct endpoint *er =
                ik->nat_t && ik->natt_responder.port ? &ik->natt_responder : &ik->responder;
            char a[DU_IPSTR], b[DU_IPSTR];
            du_ipp(&ei->ip, a);
            du_ipp(&er->ip, b);
            snprintf(f->summary, FINDING_SUMMARY_SIZE,
                     "IKEv%u SA %016llx between %s:%u and %s:%u: %u IKE message(s) travelled as IP "
                     "fragments instead of "
                     "IKE fragmentation (RFC 7383, no SKF payloads)%s. Only the first IP fragment "
                     "carries the UDP "
                     "ports, so NATs and firewalls often drop the rest and large IKE_AUTH messages "
                     "(certificates) "
                     "never arrive.",
                     ik->version, (unsigned long long)ik->ispi, a, ei->port, b, er->port,
                     ik->ip_fragmented_msgs,
                     ik->frag_supported ? " although fragmentation support was announced" : "");
            if (two)
                du_cat(f->summary, FINDING_SUMMARY_SIZE, " Seen as fragments %s: %u, %s: %u.",
                       mi == 0 ? "inside" : "outside", ik->ip_fragmented_msgs,
                       mi == 0 ? "outside" : "inside", other ? other->ip_fragmented_msgs : 0);
            snprintf(
                f->remedy, FINDING_REMEDY_SIZE,
                "Enable IKE fragmentation on both peers (RFC 7383; strongSwan fragmentation=yes, "
                "charon.fragment_size 1280 or less; Windows: IKEv2 fragmentation is on from 1803 "
                "with "
                "EnableFragmentation), or lower the MTU / certificate chain size so IKE_AUTH fits "
                "in one "
                "packet.");
            du_session_endpoint(f, ROLE_CLIENT, ei);
            du_session_endpoint(f, ROLE_SERVER, er);
            du_ev_ike_spi(f, ik->ispi);
            finding_ev_int(f, "ip_fragmented_messages", ik->ip_fragmented_msgs);
            finding_ev_int(f, "skf_fragments", 0);
            finding_ev_bool(f, "fragmentation_announced", ik->frag_supported);
            finding_ev_ts(f, "ike_sa_first_ts", ik->first_ts);
            finding_frame(f, du_cap(c, m), ik->ip_frag_first_frame);
        }
        table_free(fx.t);
    }
}

const struct detector det_ike_no_response = {.name = "ike_no_response",
                                             .run = no_response,
                                             .emits = DETECT_KIND_BIT(FINDING_IKE_NO_RESPONSE)};
const struct detector det_ike_ip_fragmented = {.name = "ike_ip_fragmented",
                                               .run = ip_fragmented,
                                               .emits = DETECT_KIND_BIT(FINDING_IKE_IP_FRAGMENTED)};
