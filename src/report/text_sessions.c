/* text_sessions.c - the session tables of the text report: IKE SAs, ESP/AH SAs, PPTP calls,
 * GRE, L2TP and other VPN flows, one row function per record type. */
#include "text_int.h"

#include <stdlib.h>
#include <string.h>

#include "vpnscope/proto.h"

static const struct session_model *rmodel(const struct report_input *in, const struct rep_rec *r)
{
    return in->models[r->model];
}

static bool m_ike(const struct rep_rec *r)
{
    return r->type == REC_IKE_SA;
}

static const char *const h_ike[] = {"capture", "ver",   "initiator",  "responder", "ispi",
                                    "rspi",    "nat-t", "nat-d says", "exchanges", "retr",
                                    "pkts",    "first", "last"};

/* The NAT-D verdict in words (from one capture a random source hash and a NAT look alike). */
static const char *natd_words(const struct natd_verdict *v)
{
    if (v->nat_responder == 1)
        return v->nat_initiator == 1 ? "NAT at both ends" : "NAT at responder";
    if (v->forced_encap == 1)
        return v->nat_initiator == 1 ? "NAT + forced encap" : "no NAT, forced encap";
    if (v->nat_initiator == 1)
        return v->forced_encap == 0 ? "NAT at initiator" : "NAT or forced encap";
    if (v->nat_initiator == 0)
        return "no NAT";
    return "undecided";
}

static void row_ike(const struct report_input *in, const struct rep_rec *r, char c[][TX_CELL])
{
    const struct ike_sa *sa = r->p;
    char a[80], b[80];
    tx_cellf(c[0], "%s", side_name(rmodel(in, r)->side));
    tx_cellf(c[1], "v%u", (unsigned)sa->version);
    tx_ipport(&sa->initiator.ip, sa->initiator.port, a, sizeof(a));
    if (sa->natt_initiator.port)
        tx_cellf(c[2], "%s->%u", a, (unsigned)sa->natt_initiator.port);
    else
        tx_cellf(c[2], "%s", a);
    tx_ipport(&sa->responder.ip, sa->responder.port, b, sizeof(b));
    if (sa->natt_responder.port)
        tx_cellf(c[3], "%s->%u", b, (unsigned)sa->natt_responder.port);
    else
        tx_cellf(c[3], "%s", b);
    rep_ike_spi(sa->ispi, c[4], TX_CELL);
    rep_ike_spi(sa->rspi, c[5], TX_CELL);
    tx_cellf(c[6], "%s", sa->nat_t ? "yes" : "no");
    if (sa->natd.present)
        tx_cellf(c[7], "%s", natd_words(&sa->natd));
    else
        tx_cellf(c[7], "-");
    size_t o = 0;
    unsigned nslots = sa->n_exch < IKE_EXCH_SLOTS ? sa->n_exch : IKE_EXCH_SLOTS;
    for (unsigned s = 0; s < nslots && o < TX_CELL; s++)
        o += (size_t)snprintf(c[8] + o, TX_CELL - o, "%s%s:%u", s ? "," : "",
                              session_exch_name(sa, s), (unsigned)sa->exch_count[s]);
    if (o >= TX_CELL)
        memcpy(c[8] + TX_CELL - 4, "...", 4);
    if (!nslots)
        tx_cellf(c[8], "-");
    tx_cellf(c[9], "%llu", (unsigned long long)sa->retransmissions);
    tx_cellf(c[10], "%llu", (unsigned long long)sa->packets);
    tx_cellts(c[11], sa->first_ts);
    tx_cellts(c[12], sa->last_ts);
}

static bool m_ipsec(const struct rep_rec *r)
{
    return r->type == REC_ESP_SA || r->type == REC_AH_SA;
}

static const char *const h_ipsec[] = {"capture", "proto",   "src",     "dst",
                                      "spi",     "pkts",    "bytes",   "seq",
                                      "gaps",    "replays", "reverse", "ike sa (ispi:rspi)",
                                      "first",   "last"};

static void row_ipsec(const struct report_input *in, const struct rep_rec *r, char c[][TX_CELL])
{
    const struct ipsec_sa *sa = r->p;
    const struct session_model *m = rmodel(in, r);
    char a[80];
    tx_cellf(c[0], "%s", side_name(m->side));
    if (sa->k.proto == IPP_AH)
        tx_cellf(c[1], "AH");
    else
        tx_cellf(c[1], "ESP/%s", sa->k.encap ? "UDP" : "raw");
    if (sa->k.encap) {
        tx_cellf(c[2], "%s", tx_ipport(&sa->k.src, sa->k.sport, a, sizeof(a)));
        tx_cellf(c[3], "%s", tx_ipport(&sa->k.dst, sa->k.dport, a, sizeof(a)));
    } else {
        tx_cellf(c[2], "%s", tx_ip(&sa->k.src, a, sizeof(a)));
        tx_cellf(c[3], "%s", tx_ip(&sa->k.dst, a, sizeof(a)));
    }
    rep_ipsec_spi(sa->k.spi, c[4], TX_CELL);
    tx_cellf(c[5], "%llu", (unsigned long long)sa->packets);
    tx_cellf(c[6], "%llu", (unsigned long long)sa->bytes);
    tx_cellf(c[7], "%u-%u", (unsigned)sa->first_seq, (unsigned)sa->last_seq);
    tx_cellf(c[8], "%llu", (unsigned long long)sa->seq_gaps);
    tx_cellf(c[9], "%llu", (unsigned long long)sa->replays);
    tx_cellf(c[10], "%s", sa->paired ? "yes" : "NO");
    const struct ike_sa *ike = session_ike_for_ipsec(m, sa);
    if (ike)
        tx_cellf(c[11], "%016llx:%016llx", (unsigned long long)ike->ispi,
                 (unsigned long long)ike->rspi);
    else
        tx_cellf(c[11], "-");
    tx_cellts(c[12], sa->first_ts);
    tx_cellts(c[13], sa->last_ts);
}

static bool m_pptp(const struct rep_rec *r)
{
    return r->type == REC_PPTP_CALL || r->type == REC_PPTP_CTRL;
}

static const char *const h_pptp[] = {"capture",      "client", "server",        "call id",
                                     "peer call id", "state",  "gre to server", "gre to client",
                                     "host/vendor",  "first",  "last"};

static void row_pptp(const struct report_input *in, const struct rep_rec *r, char c[][TX_CELL])
{
    const struct pptp_ctrl *ctl = r->p;
    const struct session_model *m = rmodel(in, r);
    char a[80], h[TX_CELL], v[TX_CELL];
    tx_cellf(c[0], "%s", side_name(m->side));
    tx_cellf(c[1], "%s", tx_ipport(&ctl->client.ip, ctl->client.port, a, sizeof(a)));
    tx_cellf(c[2], "%s", tx_ipport(&ctl->server.ip, ctl->server.port, a, sizeof(a)));
    tx_escape(ctl->hostname, h, sizeof(h));
    tx_escape(ctl->vendor, v, sizeof(v));
    tx_cellf(c[8], "%s/%s", h[0] ? h : "-", v[0] ? v : "-");
    if (r->type == REC_PPTP_CTRL) {
        tx_cellf(c[3], "-");
        tx_cellf(c[4], "-");
        tx_cellf(c[5], "control %s, no call", rep_pptp_sess_state_name(ctl->state));
        tx_cellf(c[6], "-");
        tx_cellf(c[7], "-");
        tx_cellts(c[9], ctl->first_ts);
        tx_cellts(c[10], ctl->last_ts);
        return;
    }
    const struct pptp_call *call = &ctl->calls[r->sub];
    uint64_t ts = 0, tc = 0;
    session_pptp_call_gre(m, ctl, call, &ts, &tc);
    tx_cellf(c[3], "%u", (unsigned)call->call_id);
    if (call->has_peer)
        tx_cellf(c[4], "%u", (unsigned)call->peer_call_id);
    else
        tx_cellf(c[4], "-");
    tx_cellf(c[5], "%s", pptp_call_state_name(call->state));
    tx_cellf(c[6], "%llu", (unsigned long long)ts);
    tx_cellf(c[7], "%llu", (unsigned long long)tc);
    tx_cellts(c[9], call->first_ts);
    tx_cellts(c[10], call->last_ts);
}

static bool m_gre(const struct rep_rec *r)
{
    return r->type == REC_GRE;
}

static const char *const h_gre[] = {"capture", "src",   "dst",   "ver", "call id/key",
                                    "pkts",    "bytes", "first", "last"};

static void row_gre(const struct report_input *in, const struct rep_rec *r, char c[][TX_CELL])
{
    const struct gre_flow *g = r->p;
    char a[80];
    tx_cellf(c[0], "%s", side_name(rmodel(in, r)->side));
    tx_cellf(c[1], "%s", tx_ip(&g->k.src, a, sizeof(a)));
    tx_cellf(c[2], "%s", tx_ip(&g->k.dst, a, sizeof(a)));
    tx_cellf(c[3], "%u", (unsigned)g->k.version);
    if (g->k.version == 1)
        tx_cellf(c[4], "call %u", (unsigned)g->k.key);
    else if (g->k.has_key)
        tx_cellf(c[4], "key %u", (unsigned)g->k.key);
    else
        tx_cellf(c[4], "-");
    tx_cellf(c[5], "%llu", (unsigned long long)g->packets);
    tx_cellf(c[6], "%llu", (unsigned long long)g->bytes);
    tx_cellts(c[7], g->first_ts);
    tx_cellts(c[8], g->last_ts);
}

static bool m_l2tp(const struct rep_rec *r)
{
    return r->type == REC_L2TP;
}

static const char *const h_l2tp[] = {"capture", "src",     "dst",   "tunnel", "session",
                                     "pkts",    "control", "first", "last"};

static void row_l2tp(const struct report_input *in, const struct rep_rec *r, char c[][TX_CELL])
{
    const struct l2tp_sess *s = r->p;
    char a[80];
    tx_cellf(c[0], "%s", side_name(rmodel(in, r)->side));
    tx_cellf(c[1], "%s", tx_ipport(&s->k.src, s->k.sport, a, sizeof(a)));
    tx_cellf(c[2], "%s", tx_ipport(&s->k.dst, s->k.dport, a, sizeof(a)));
    tx_cellf(c[3], "%u", (unsigned)s->k.tunnel_id);
    tx_cellf(c[4], "%u", (unsigned)s->k.session_id);
    tx_cellf(c[5], "%llu", (unsigned long long)s->packets);
    tx_cellf(c[6], "%llu", (unsigned long long)s->control);
    tx_cellts(c[7], s->first_ts);
    tx_cellts(c[8], s->last_ts);
}

static bool m_flow(const struct rep_rec *r)
{
    return r->type == REC_FLOW;
}

static const char *const h_flow[] = {"capture", "proto", "src",   "dst", "app",
                                     "pkts",    "bytes", "first", "last"};

static void row_flow(const struct report_input *in, const struct rep_rec *r, char c[][TX_CELL])
{
    const struct flow *f = r->p;
    char a[80], app[TX_CELL];
    tx_cellf(c[0], "%s", side_name(rmodel(in, r)->side));
    rep_proto_name(f->proto, c[1], TX_CELL);
    struct endpoint s = flow_end(rmodel(in, r), f, 0), d = flow_end(rmodel(in, r), f, 1);
    if (f->proto == IPP_TCP || f->proto == IPP_UDP) {
        tx_cellf(c[2], "%s", tx_ipport(&s.ip, s.port, a, sizeof(a)));
        tx_cellf(c[3], "%s", tx_ipport(&d.ip, d.port, a, sizeof(a)));
    } else {
        tx_cellf(c[2], "%s", tx_ip(&s.ip, a, sizeof(a)));
        tx_cellf(c[3], "%s", tx_ip(&d.ip, a, sizeof(a)));
    }
    tx_cellf(c[4], "%s", tx_escape(rep_flow_app(f), app, sizeof(app)));
    tx_cellf(c[5], "%llu", (unsigned long long)rep_add(f->pkts[0], f->pkts[1]));
    tx_cellf(c[6], "%llu", (unsigned long long)rep_add(f->bytes[0], f->bytes[1]));
    tx_cellts(c[7], f->first_ts);
    tx_cellts(c[8], f->last_ts);
}

const struct tx_section tx_session_sections[] = {
    {"IKE SAs", TX_COL0_CAPTURE, 13, h_ike, row_ike, m_ike},
    {"ESP/AH SAs", TX_COL0_CAPTURE, 14, h_ipsec, row_ipsec, m_ipsec},
    {"PPTP calls", TX_COL0_CAPTURE, 11, h_pptp, row_pptp, m_pptp},
    {"GRE (not tied to a PPTP call)", TX_COL0_CAPTURE, 9, h_gre, row_gre, m_gre},
    {"L2TP", TX_COL0_CAPTURE, 9, h_l2tp, row_l2tp, m_l2tp},
    {"Other VPN flows", TX_COL0_CAPTURE, 9, h_flow, row_flow, m_flow},
};
const size_t tx_n_session_sections = sizeof(tx_session_sections) / sizeof(tx_session_sections[0]);
