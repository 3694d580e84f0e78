/* text_nat.c - the NAT tables of the text report: mappings and unmatched records. */
#include "text_int.h"

#include <stdlib.h>
#include <string.h>

#include "vpnscope/proto.h"

/* A NAT identity as its protocol shows it. */
static char *tx_nat_id(uint8_t proto, const struct nat_id *id, char *buf, unsigned size)
{
    char ip[64];
    tx_ip(&id->ip, ip, sizeof(ip));
    switch (proto) {
    case IPP_TCP:
    case IPP_UDP:
        return tx_ipport(&id->ip, id->port, buf, size);
    case IPP_ICMP:
    case IPP_ICMPV6:
        snprintf(buf, size, "%s id %u", ip, (unsigned)id->icmp_id);
        return buf;
    case IPP_GRE:
        if (id->has_call_id) {
            snprintf(buf, size, "%s call %u", ip, (unsigned)id->call_id);
            return buf;
        }
        break;
    default:
        break;
    }
    snprintf(buf, size, "%s", ip);
    return buf;
}

static void evidence_list(uint32_t ev, char *buf, unsigned size)
{
    size_t o = 0;
    buf[0] = '\0';
    for (unsigned b = 0; b < 32 && o < size; b++)
        if (ev & (1u << b))
            o += (size_t)snprintf(buf + o, size - o, "%s%s", o ? "," : "",
                                  nat_evidence_name(1u << b));
    if (!buf[0])
        snprintf(buf, size, "-");
}

static bool m_nat(const struct rep_rec *r)
{
    return r->type == REC_NAT_MAPPING;
}

static const char *const h_nat[] = {
    "",         "proto",        "inside",         "outside",
    "peer",     "translated",   "to peer in/out", "from peer out/in",
    "evidence", "spis to/from", "first",          "last"};

static void spi_list(const uint32_t *v, unsigned n, char *buf, unsigned size)
{
    size_t o = 0;
    buf[0] = '\0';
    for (unsigned i = 0; i < n && i < NAT_MAX_SPIS && o < size; i++)
        o += (size_t)snprintf(buf + o, size - o, "%s0x%08x", i ? "," : "", (unsigned)v[i]);
    if (!buf[0])
        snprintf(buf, size, "-");
}

static void row_nat(const struct report_input *in, const struct rep_rec *r, char c[][TX_CELL])
{
    (void)in;
    const struct nat_mapping *mp = r->p;
    char a[80], s1[TX_CELL], s2[TX_CELL];
    rep_proto_name(mp->proto, c[1], TX_CELL);
    tx_cellf(c[2], "%s", tx_nat_id(mp->proto, &mp->inside, a, sizeof(a)));
    tx_cellf(c[3], "%s", tx_nat_id(mp->proto, &mp->outside, a, sizeof(a)));
    tx_cellf(c[4], "%s", tx_nat_id(mp->proto, &mp->peer, a, sizeof(a)));
    tx_cellf(c[5], "%s", mp->translated ? "yes" : "no");
    tx_cellf(c[6], "%llu/%llu", (unsigned long long)mp->to_peer_inside,
             (unsigned long long)mp->to_peer_outside);
    tx_cellf(c[7], "%llu/%llu", (unsigned long long)mp->from_peer_outside,
             (unsigned long long)mp->from_peer_inside);
    evidence_list(mp->evidence, c[8], TX_CELL);
    if (mp->proto == IPP_ESP || mp->proto == IPP_AH) {
        spi_list(mp->spis_to, mp->n_spis_to, s1, sizeof(s1));
        spi_list(mp->spis_from, mp->n_spis_from, s2, sizeof(s2));
        tx_cellf(c[9], "%s / %s", s1, s2);
    } else {
        tx_cellf(c[9], "-");
    }
    tx_cellts(c[10], mp->first_ts);
    tx_cellts(c[11], mp->last_ts);
}

static bool m_unm(const struct rep_rec *r)
{
    return r->type == REC_UNMATCHED;
}

static const char *const h_unm[] = {"seen on",
                                    "direction",
                                    "proto",
                                    "src",
                                    "dst",
                                    "spi/call id",
                                    "pkts",
                                    "first",
                                    "last",
                                    "frames",
                                    "mapping (inside -> outside)"};

static void row_unm(const struct report_input *in, const struct rep_rec *r, char c[][TX_CELL])
{
    const struct nat_unmatched *u = r->p;
    char a[80], b[80];
    tx_cellf(c[0], "%s", side_name(u->side));
    tx_cellf(c[1], "%s", u->direction ? "from peer" : "to peer");
    rep_proto_name(u->proto, c[2], TX_CELL);
    if (u->has_ports) {
        tx_cellf(c[3], "%s", tx_ipport(&u->src, u->sport, a, sizeof(a)));
        tx_cellf(c[4], "%s", tx_ipport(&u->dst, u->dport, a, sizeof(a)));
    } else {
        tx_cellf(c[3], "%s", tx_ip(&u->src, a, sizeof(a)));
        tx_cellf(c[4], "%s", tx_ip(&u->dst, a, sizeof(a)));
    }
    if (u->has_spi)
        tx_cellf(c[5], "0x%08x", (unsigned)u->spi);
    else if (u->has_call_id)
        tx_cellf(c[5], "call %u", (unsigned)u->call_id);
    else
        tx_cellf(c[5], "-");
    tx_cellf(c[6], "%llu", (unsigned long long)u->packets);
    tx_cellts(c[7], u->first_ts);
    tx_cellts(c[8], u->last_ts);
    size_t o = 0;
    unsigned nf = u->nframes < UNMATCHED_MAX_FRAMES ? u->nframes : UNMATCHED_MAX_FRAMES;
    const struct capture_pieces *pc = rep_pieces_of(in->pieces, u->side);
    for (unsigned i = 0; i < nf && o < TX_CELL; i++) {
        uint64_t local;
        const char *file = capture_pieces_frame(pc, u->frames[i], &local);
        o += (size_t)snprintf(c[9] + o, TX_CELL - o, "%s%s#%llu", i ? "," : "", file ? file : "",
                              (unsigned long long)local);
    }
    if (o >= TX_CELL)
        memcpy(c[9] + TX_CELL - 4, "...", 4);
    if (!nf)
        tx_cellf(c[9], "-");
    const struct nat_result *nr = in->nat;
    if (nr && u->mapping >= 0 && (size_t)u->mapping < nr->n_map) {
        const struct nat_mapping *mp = &nr->map[u->mapping];
        tx_cellf(c[10], "%s -> %s", tx_nat_id(mp->proto, &mp->inside, a, sizeof(a)),
                 tx_nat_id(mp->proto, &mp->outside, b, sizeof(b)));
    } else {
        tx_cellf(c[10], "-");
    }
}

const struct tx_section tx_nat_section = {"NAT mappings", TX_COL0_NEVER, 12, h_nat, row_nat, m_nat};
const struct tx_section tx_unmatched_section = {
    "Unmatched (seen on one side only)", TX_COL0_ALWAYS, 11, h_unm, row_unm, m_unm};
