/* natt_not_used.c - NAT-D (or, with two captures and no NAT-D captured, the IKE mapping across
 * the router) says there is a NAT, yet ESP stays raw (IP protocol 50) between the IKE
 * peers, or IKE stays on port 500 after IKE_AUTH (no move to 4500). Forced encapsulation (random
 * NAT-D source hash on purpose) is not a NAT. */
#include <stdio.h>
#include <string.h>

#include "det_util.h"

struct seen {
    unsigned n;
    uint64_t ispi[64];
};

static bool seen_has(struct seen *sn, uint64_t ispi)
{
    for (unsigned i = 0; i < sn->n; i++)
        if (sn->ispi[i] == ispi)
            return true;
    if (sn->n < 64)
        sn->ispi[sn->n++] = ispi;
    return false;
}

/* What one IKE SA with a NAT shows: raw ESP between its peers, IKE left on port 500. */
struct natt_facts {
    const struct ike_sa *ik;
    uint64_t raw_pkts, raw_first, raw_frame;
    unsigned raw_sas;
    uint32_t spis[4]; /* the first raw SPIs */
    bool stay500;
    uint64_t ts;
    /* two captures, no NAT-D in the capture (cut by the snaplen, or not sent): the initiator's
     * IKE mapping across the router proves the NAT instead */
    const struct nat_mapping *by_mapping;
};

/* Whether NAT-D shows a NAT for ik (not forced encapsulation, not a subnet-internal pair). */
static bool natd_says_nat(const struct ike_sa *ik)
{
    if (!ik || !ik->natd.present || ik->natd.forced_encap == 1)
        return false;
    if (ik->natd.nat_initiator != 1 && ik->natd.nat_responder != 1)
        return false;
    /* "both behind a NAT" within one subnet: rewritten capture or fake hashes, not a NAT */
    return !(ik->natd.nat_initiator == 1 && ik->natd.nat_responder == 1 &&
             du_same_subnet(&ik->initiator.ip, &ik->responder.ip));
}

/* Whether the raw ESP SA sa belongs to ik: its resolved parent is ik; or, when the parent is
 * ambiguous (several IKE SAs between the same addresses, e.g. clients behind one NAT address seen
 * from outside), ik did not move to NAT-T, or no other IKE SA between the peers stayed without
 * NAT-T (an IKE SA that moved to UDP 4500 negotiated UDP-encapsulated ESP, so raw ESP next to it
 * belongs to the one that did not). */
static bool raw_esp_of(const struct session_model *m, const struct ike_sa *ik,
                       const struct ipsec_sa *sa)
{
    const struct ike_sa *parent = session_ike_for_ipsec(m, sa);
    if (parent)
        return parent->ispi == ik->ispi && parent->version == ik->version;
    if (!ik->nat_t)
        return true;
    uint32_t it = 0;
    for (const struct ike_sa *o; (o = du_ike_between(m, &sa->k.src, &sa->k.dst, &it));)
        if (o != ik && !o->nat_t)
            return false;
    return true;
}

/* With two captures and no NAT-D seen (cut by the snaplen, or never sent): the translated UDP
 * mapping of the initiator's IKE port on the inside capture (the router rewrote its address), or
 * NULL. The mapping proves the NAT as well as NAT-D would, so a cut capture and a full one get
 * the same verdict. */
static const struct nat_mapping *mapping_says_nat(const struct detect_ctx *c,
                                                  const struct session_model *m, struct du_lazy *mi,
                                                  const struct ike_sa *ik)
{
    if (!ik || ik->natd.present || !c->nat || m != c->inside)
        return NULL;
    const struct nat_mapping *mp =
        du_udp_mapping(c->nat, mi, &ik->initiator.ip, ik->initiator.port, &ik->responder.ip, NULL);
    return mp && mp->translated ? mp : NULL;
}

/* Collect: raw ESP between the peers, and whether IKE stayed on 500 after the authentication
 * exchange. */
static void natt_collect(const struct session_model *m, const struct ike_sa *ik,
                         struct natt_facts *n)
{
    memset(n, 0, sizeof(*n));
    n->ik = ik;
    uint32_t it = 0;
    for (const struct ipsec_sa *sa;
         (sa = du_ipsec_between(m, &ik->initiator.ip, &ik->responder.ip, &it));) {
        if (sa->k.proto != IPP_ESP || sa->k.encap)
            continue;
        bool fwd =
            ip_addr_eq(&sa->k.src, &ik->initiator.ip) && ip_addr_eq(&sa->k.dst, &ik->responder.ip);
        bool rev =
            ip_addr_eq(&sa->k.dst, &ik->initiator.ip) && ip_addr_eq(&sa->k.src, &ik->responder.ip);
        if ((!fwd && !rev) || !raw_esp_of(m, ik, sa))
            continue;
        if (n->raw_sas < 4)
            n->spis[n->raw_sas] = sa->k.spi;
        n->raw_sas++;
        n->raw_pkts += sa->packets;
        if (!n->raw_first || sa->first_ts < n->raw_first) {
            n->raw_first = sa->first_ts;
            n->raw_frame = sa->first_frame;
        }
    }
    uint32_t auth = ik->version == 2 ? du_exch_count(ik, IKEV2_EXCH_IKE_AUTH)
                                     : du_exch_count(ik, IKEV1_EXCH_QUICK_MODE);
    if (ik->version == 1 && du_exch_count(ik, IKEV1_EXCH_MAIN_MODE) >= 5)
        auth += du_exch_count(ik, IKEV1_EXCH_MAIN_MODE) - 4;
    n->stay500 = !ik->nat_t && auth > 0 && (ik->initiator.port == 500 || ik->responder.port == 500);
    n->ts = n->raw_sas ? n->raw_first : ik->first_ts;
}

static void natt_summary(struct finding *f, const struct natt_facts *n)
{
    const struct ike_sa *ik = n->ik;
    char a[DU_IPSTR], b[DU_IPSTR], s[12], t[16];
    du_ip(&ik->initiator.ip, a);
    du_ip(&ik->responder.ip, b);
    const char *who = ik->natd.nat_initiator == 1
                          ? (ik->natd.nat_responder == 1 ? "both peers are" : "the initiator is")
                          : "the responder is";
    if (n->by_mapping) {
        char o[DU_IPSTR];
        du_ip(&n->by_mapping->outside.ip, o);
        snprintf(f->summary, FINDING_SUMMARY_SIZE,
                 "The two captures show the router rewriting the initiator %s of IKEv%u SA %016llx "
                 "with %s to %s (no NAT-D payload was captured: the mapping itself proves the "
                 "NAT), yet",
                 a, ik->version, (unsigned long long)ik->ispi, b, o);
    } else {
        snprintf(f->summary, FINDING_SUMMARY_SIZE,
                 "NAT detection in IKEv%u SA %016llx between %s and %s shows that %s behind a "
                 "NAT, yet",
                 ik->version, (unsigned long long)ik->ispi, a, b, who);
    }
    if (n->raw_sas) {
        du_cat(f->summary, FINDING_SUMMARY_SIZE,
               " ESP stays raw (IP protocol 50: %u SA(s), %llu packets, SPI", n->raw_sas,
               (unsigned long long)n->raw_pkts);
        for (unsigned k = 0; k < n->raw_sas && k < 4; k++)
            du_cat(f->summary, FINDING_SUMMARY_SIZE, "%s %s", k ? "," : "", du_spi(n->spis[k], s));
        du_cat(f->summary, FINDING_SUMMARY_SIZE, ", since %s) instead of moving into UDP 4500",
               du_hms(n->raw_first, t));
    }
    if (n->stay500)
        du_cat(f->summary, FINDING_SUMMARY_SIZE,
               "%s IKE stays on UDP port 500 after the authentication exchange",
               n->raw_sas ? ", and" : "");
    du_cat(f->summary, FINDING_SUMMARY_SIZE,
           ". Raw ESP through a NAT works for at most one client per server and outside "
           "address, and breaks "
           "on NATs that do not pass IP protocol 50.");
    snprintf(f->remedy, FINDING_REMEDY_SIZE,
             "Enable NAT traversal on both peers so that IKE moves to UDP 4500 and ESP is "
             "UDP-encapsulated once "
             "NAT-D detects the NAT (RFC 3947/3948; strongSwan does it by default: check that "
             "NAT-T is not "
             "disabled and the peer supports it%s), and allow UDP 4500 through the firewalls.",
             ik->version == 1 && !(ik->vid_flags & (IKE_VID_RFC3947 | IKE_VID_NATT_DRAFT))
                 ? "; no NAT-T vendor ID was exchanged in IKEv1"
                 : "");
}

static void natt_sessions(struct finding *f, const struct detect_ctx *c,
                          const struct session_model *m, struct du_lazy *mi,
                          const struct natt_facts *n)
{
    const struct ike_sa *ik = n->ik;
    struct finding_session *fs = finding_session_add(f, ROLE_CLIENT, &ik->initiator.ip);
    if (fs) {
        fs->has_port = true;
        fs->port = ik->initiator.port;
        if (n->raw_sas) {
            fs->has_spi = true;
            fs->spi = n->spis[0];
        }
        if (ik->natd.nat_initiator == 1)
            snprintf(fs->note, sizeof(fs->note), "behind NAT (NAT-D)");
        else if (n->by_mapping)
            snprintf(fs->note, sizeof(fs->note), "behind NAT (mapping)");
        const struct nat_mapping *mp =
            c->nat && m == c->inside ? du_udp_mapping(c->nat, mi, &ik->initiator.ip,
                                                      ik->initiator.port, &ik->responder.ip, NULL)
                                     : NULL;
        if (mp) {
            fs->has_outside = true;
            fs->out_ip = mp->outside.ip;
            fs->has_out_port = mp->outside.has_port;
            fs->out_port = mp->outside.port;
        }
    }
    if ((fs = finding_session_add(f, ROLE_SERVER, &ik->responder.ip))) {
        fs->has_port = true;
        fs->port = ik->responder.port;
    }
}

/* Emit: the finding for n; false when out of memory. */
static bool natt_emit(struct detect_ctx *c, const struct session_model *m, struct du_lazy *mi,
                      const struct natt_facts *n)
{
    const struct ike_sa *ik = n->ik;
    struct finding *f = finding_add(c->out, FINDING_NATT_NOT_USED, n->ts);
    if (!f)
        return false;
    /* both hashes off: a NAT on both sides, or addresses rewritten in the capture */
    f->confirmed = n->by_mapping || !(ik->natd.nat_initiator == 1 && ik->natd.nat_responder == 1);
    natt_summary(f, n);
    natt_sessions(f, c, m, mi, n);
    uint8_t cap = du_cap(c, m);
    du_ev_ike_spi(f, ik->ispi);
    finding_ev_int(f, "nat_initiator", ik->natd.nat_initiator);
    finding_ev_int(f, "nat_responder", ik->natd.nat_responder);
    finding_ev_bool(f, "ike_nat_t", ik->nat_t);
    finding_ev_int(f, "raw_esp_packets", (int64_t)n->raw_pkts);
    finding_ev_int(f, "raw_esp_sas", n->raw_sas);
    if (n->by_mapping)
        finding_ev_bool(f, "nat_from_mapping", true);
    finding_ev_ts(f, "first_ts", n->ts);
    finding_frame(f, cap, ik->first_frame);
    if (n->raw_frame)
        finding_frame(f, cap, n->raw_frame);
    return true;
}

static void scan(struct detect_ctx *c, const struct session_model *m, struct seen *sn)
{
    struct du_lazy mi = {0};
    for (uint32_t i = 0; i < table_slots(m->ike); i++) {
        const struct ike_sa *ik = table_slot(m->ike, i, NULL);
        const struct nat_mapping *mp = natd_says_nat(ik) ? NULL : mapping_says_nat(c, m, &mi, ik);
        if (!natd_says_nat(ik) && !mp)
            continue;
        struct natt_facts n;
        natt_collect(m, ik, &n);
        n.by_mapping = mp;
        if ((!n.raw_sas && !n.stay500) || seen_has(sn, ik->ispi))
            continue;
        if (!natt_emit(c, m, &mi, &n))
            break;
    }
    du_lazy_free(&mi);
}

static void run(struct detect_ctx *c)
{
    struct seen sn = {0};
    if (du_two(c)) {
        scan(c, c->inside, &sn);
        scan(c, c->outside, &sn);
    } else if (c->single) {
        scan(c, c->single, &sn);
    }
}

const struct detector det_natt_not_used = {
    .name = "natt_not_used", .run = run, .emits = DETECT_KIND_BIT(FINDING_NATT_NOT_USED)};
