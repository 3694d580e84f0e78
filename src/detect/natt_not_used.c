/* natt_not_used.c - NAT-D says there is a NAT, yet ESP stays raw (IP protocol 50) between the IKE
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

static uint32_t exch_count(const struct ike_sa *sa, uint8_t exch)
{
    for (unsigned i = 0; i < sa->n_exch && i < IKE_EXCH_SLOTS; i++)
        if (sa->exch_type[i] == exch)
            return sa->exch_count[i];
    return 0;
}

/* The first UDP mapping from the inside endpoint (addr, port) to peer (two captures, inside model),
 * through an index by (inside address, inside port, peer address) built on first use. */
struct map_idx {
    bool built;
    struct du_index x;
};

static const struct nat_mapping *udp_mapping(const struct nat_result *r, struct map_idx *mi,
                                             const struct ip_addr *ip, uint16_t port,
                                             const struct ip_addr *peer)
{
    if (!mi->built) {
        mi->built = true;
        du_index_init(&mi->x, sizeof(struct du_key), (uint32_t)r->n_map);
        for (size_t k = 0; k < r->n_map; k++) {
            const struct nat_mapping *mp = &r->map[k];
            if (mp->proto != IPP_UDP)
                continue;
            struct du_key key;
            du_key_make(&key, 0, IPP_UDP, &mp->inside.ip, mp->inside.port, &mp->peer.ip, 0, 0);
            du_index_add(&mi->x, &key, (uint32_t)k);
        }
    }
    struct du_key key;
    du_key_make(&key, 0, IPP_UDP, ip, port, peer, 0, 0);
    for (uint32_t k = du_index_first(&mi->x, &key); k != DU_NONE && k < r->n_map;
         k = du_index_next(&mi->x, k)) {
        const struct nat_mapping *mp = &r->map[k];
        if (mp->proto == IPP_UDP && ip_addr_eq(&mp->inside.ip, ip) && mp->inside.port == port &&
            ip_addr_eq(&mp->peer.ip, peer))
            return mp;
    }
    return NULL;
}

static void scan(struct detect_ctx *c, const struct session_model *m, struct seen *sn)
{
    uint8_t cap = du_cap(c, m);
    struct map_idx mi = {0};
    for (uint32_t i = 0; i < table_slots(m->ike); i++) {
        const struct ike_sa *ik = table_slot(m->ike, i, NULL);
        if (!ik || !ik->natd.present || ik->natd.forced_encap == 1)
            continue;
        if (ik->natd.nat_initiator != 1 && ik->natd.nat_responder != 1)
            continue;
        if (ik->natd.nat_initiator == 1 && ik->natd.nat_responder == 1 &&
            du_same_subnet(&ik->initiator.ip, &ik->responder.ip))
            continue; /* "both behind a NAT" within one subnet: rewritten capture or fake hashes,
                         not a NAT */
        /* raw ESP between the peers */
        uint64_t raw_pkts = 0, raw_first = 0, raw_frame = 0;
        unsigned raw_sas = 0;
        uint32_t spis[4];
        uint32_t it = 0;
        for (const struct ipsec_sa *sa;
             (sa = du_ipsec_between(m, &ik->initiator.ip, &ik->responder.ip, &it));) {
            if (sa->k.proto != IPP_ESP || sa->k.encap)
                continue;
            bool fwd = ip_addr_eq(&sa->k.src, &ik->initiator.ip) &&
                       ip_addr_eq(&sa->k.dst, &ik->responder.ip);
            bool rev = ip_addr_eq(&sa->k.dst, &ik->initiator.ip) &&
                       ip_addr_eq(&sa->k.src, &ik->responder.ip);
            if (!fwd && !rev)
                continue;
            if (raw_sas < 4)
                spis[raw_sas] = sa->k.spi;
            raw_sas++;
            raw_pkts += sa->packets;
            if (!raw_first || sa->first_ts < raw_first) {
                raw_first = sa->first_ts;
                raw_frame = sa->first_frame;
            }
        }
        /* IKE stayed on 500 after the authentication exchange */
        uint32_t auth = ik->version == 2 ? exch_count(ik, 35) : exch_count(ik, 32);
        if (ik->version == 1 && exch_count(ik, 2) >= 5)
            auth += exch_count(ik, 2) - 4;
        bool stay500 =
            !ik->nat_t && auth > 0 && (ik->initiator.port == 500 || ik->responder.port == 500);
        if ((!raw_sas && !stay500) || seen_has(sn, ik->ispi))
            continue;
        uint64_t ts = raw_sas ? raw_first : ik->first_ts;
        struct finding *f = finding_add(c->out, FINDING_NATT_NOT_USED, ts);
        if (!f)
            break;
        /* both hashes off: a NAT on both sides, or addresses rewritten in the capture */
        f->confirmed = !(ik->natd.nat_initiator == 1 && ik->natd.nat_responder == 1);
        char a[DU_IPSTR], b[DU_IPSTR], s[12], t[16];
        du_ip(&ik->initiator.ip, a);
        du_ip(&ik->responder.ip, b);
        const char *who =
            ik->natd.nat_initiator == 1
                ? (ik->natd.nat_responder == 1 ? "both peers are" : "the initiator is")
                : "the responder is";
        snprintf(
            f->summary, sizeof(f->summary),
            "NAT detection in IKEv%u SA %016llx between %s and %s shows that %s behind a NAT, yet",
            ik->version, (unsigned long long)ik->ispi, a, b, who);
        if (raw_sas) {
            du_cat(f->summary, sizeof(f->summary),
                   " ESP stays raw (IP protocol 50: %u SA(s), %llu packets, SPI", raw_sas,
                   (unsigned long long)raw_pkts);
            for (unsigned k = 0; k < raw_sas && k < 4; k++)
                du_cat(f->summary, sizeof(f->summary), "%s %s", k ? "," : "", du_spi(spis[k], s));
            du_cat(f->summary, sizeof(f->summary), ", since %s) instead of moving into UDP 4500",
                   du_hms(raw_first, t));
        }
        if (stay500)
            du_cat(f->summary, sizeof(f->summary),
                   "%s IKE stays on UDP port 500 after the authentication exchange",
                   raw_sas ? ", and" : "");
        du_cat(f->summary, sizeof(f->summary),
               ". Raw ESP through a NAT works for at most one client per server and outside "
               "address, and breaks "
               "on NATs that do not pass IP protocol 50.");
        snprintf(f->remedy, sizeof(f->remedy),
                 "Enable NAT traversal on both peers so that IKE moves to UDP 4500 and ESP is "
                 "UDP-encapsulated once "
                 "NAT-D detects the NAT (RFC 3947/3948; strongSwan does it by default: check that "
                 "NAT-T is not "
                 "disabled and the peer supports it%s), and allow UDP 4500 through the firewalls.",
                 ik->version == 1 && !(ik->vid_flags & (IKE_VID_RFC3947 | IKE_VID_NATT_DRAFT))
                     ? "; no NAT-T vendor ID was exchanged in IKEv1"
                     : "");
        struct finding_session *fs = finding_session_add(f, ROLE_CLIENT, &ik->initiator.ip);
        if (fs) {
            fs->has_port = true;
            fs->port = ik->initiator.port;
            if (raw_sas) {
                fs->has_spi = true;
                fs->spi = spis[0];
            }
            if (ik->natd.nat_initiator == 1)
                snprintf(fs->note, sizeof(fs->note), "behind NAT (NAT-D)");
            const struct nat_mapping *mp = c->nat && m == c->inside
                                               ? udp_mapping(c->nat, &mi, &ik->initiator.ip,
                                                             ik->initiator.port, &ik->responder.ip)
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
        char hex[20];
        snprintf(hex, sizeof(hex), "%016llx", (unsigned long long)ik->ispi);
        finding_ev_str(f, "ike_spi", hex);
        finding_ev_int(f, "nat_initiator", ik->natd.nat_initiator);
        finding_ev_int(f, "nat_responder", ik->natd.nat_responder);
        finding_ev_bool(f, "ike_nat_t", ik->nat_t);
        finding_ev_int(f, "raw_esp_packets", (int64_t)raw_pkts);
        finding_ev_int(f, "raw_esp_sas", raw_sas);
        finding_ev_ts(f, "first_ts", ts);
        finding_frame(f, cap, ik->first_frame);
        if (raw_frame)
            finding_frame(f, cap, raw_frame);
    }
    if (mi.built)
        du_index_free(&mi.x);
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
