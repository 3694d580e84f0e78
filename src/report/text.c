/* text.c - the human report: findings first (most severe, then by time), then the sessions in
 * aligned tables, NAT mappings, and the summary. Same content and order rules as the JSON sink;
 * every string from the capture is escaped (\xNN) before it reaches the terminal. */
#include "vpnscope/report.h"

#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "report_int.h"

#define TX_WIDTH 100 /* wrap column for prose */
#define TX_CELL 96   /* bytes per table cell (longer values are cut with "...") */
#define TX_MAXCOL 16

/* ---- strings ---- */

/* Printable ASCII is kept; backslash and every other byte become \\ and \xNN. */
static char *tx_escape(const char *in, char *out, size_t size)
{
    size_t o = 0;
    const unsigned char *s = (const unsigned char *)(in ? in : "");
    for (; *s && o + 5 < size; s++) {
        if (*s == '\\') {
            out[o++] = '\\';
            out[o++] = '\\';
        } else if (*s >= 0x20 && *s < 0x7f) {
            out[o++] = (char)*s;
        } else {
            o += (size_t)snprintf(out + o, size - o, "\\x%02x", *s);
        }
    }
    if (size)
        out[o < size ? o : size - 1] = '\0';
    return out;
}

/* Writes escaped text word-wrapped at TX_WIDTH; the cursor is at column `col` on entry and lines
 * after the first start with `indent` spaces. Ends with a newline. */
static void tx_wrap(FILE *out, const char *text, unsigned col, unsigned indent)
{
    char buf[4096]; /* 4 bytes per escaped byte of a 640-byte summary */
    tx_escape(text, buf, sizeof(buf));
    const char *p = buf;
    bool first_word = true;
    while (*p) {
        while (*p == ' ')
            p++;
        if (!*p)
            break;
        size_t len = strcspn(p, " ");
        if (!first_word && col + 1 + len > TX_WIDTH && col > indent) {
            fprintf(out, "\n%*s", (int)indent, "");
            col = indent;
        } else if (!first_word) {
            fputc(' ', out);
            col++;
        }
        fwrite(p, 1, len, out);
        col += (unsigned)len;
        p += len;
        first_word = false;
    }
    fputc('\n', out);
}

static char *tx_ip(const struct ip_addr *a, char *buf, unsigned size)
{
    if (a->v != 4 && a->v != 6) {
        snprintf(buf, size, "-");
        return buf;
    }
    return ip_addr_str(a, buf, size);
}

/* "1.2.3.4:500" or "[2001:db8::1]:500". */
static char *tx_ipport(const struct ip_addr *a, uint16_t port, char *buf, unsigned size)
{
    char ip[64];
    tx_ip(a, ip, sizeof(ip));
    if (a->v == 6)
        snprintf(buf, size, "[%s]:%u", ip, (unsigned)port);
    else
        snprintf(buf, size, "%s:%u", ip, (unsigned)port);
    return buf;
}

static const char *tx_plural(uint64_t n, const char *one, const char *many)
{
    return n == 1 ? one : many;
}

/* ---- tables: two passes over the rows, widths first ---- */

typedef void (*tx_row_fn)(const struct report_input *in, const struct rep_rec *r,
                          char cells[][TX_CELL]);

static void cellf(char *cell, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void cellf(char *cell, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(cell, TX_CELL, fmt, ap);
    va_end(ap);
    if (n >= TX_CELL)
        memcpy(cell + TX_CELL - 4, "...", 4);
}

static void cellts(char *cell, uint64_t ts)
{
    char b[40];
    cellf(cell, "%s", ts_iso(ts, b, sizeof(b)));
}

/* Column 0 of a table: the capture (shown only with two captures), always shown, or never. */
enum tx_col0 { TX_COL0_CAPTURE = 0, TX_COL0_ALWAYS, TX_COL0_NEVER };

struct tx_section {
    const char *title;
    uint8_t col0; /* enum tx_col0 */
    unsigned ncols;
    const char *const *head;
    tx_row_fn row;
    bool (*match)(const struct rep_rec *r);
};

/* Prints the section over the matching records (column 0, the capture, only with two captures).
 * Returns the number of rows. */
static size_t tx_section(FILE *out, const struct report_input *in, const struct rep_list *l,
                         const struct tx_section *s)
{
    size_t n = 0;
    unsigned w[TX_MAXCOL] = {0};
    char cells[TX_MAXCOL][TX_CELL];
    unsigned c0 = 1;
    if (s->col0 == TX_COL0_ALWAYS || (s->col0 == TX_COL0_CAPTURE && in->n_models >= 2))
        c0 = 0;
    for (unsigned c = c0; c < s->ncols; c++)
        w[c] = (unsigned)strlen(s->head[c]);
    for (size_t i = 0; i < l->n; i++) {
        if (!s->match(&l->v[i]))
            continue;
        memset(cells, 0, sizeof(cells));
        s->row(in, &l->v[i], cells);
        for (unsigned c = c0; c < s->ncols; c++) {
            unsigned len = (unsigned)strlen(cells[c]);
            if (len > w[c])
                w[c] = len;
        }
        n++;
    }
    if (n == 0)
        return 0;
    fprintf(out, "\n%s (%zu)\n", s->title, n);
    fputs("  ", out);
    for (unsigned c = c0; c < s->ncols; c++) {
        if (c + 1 < s->ncols)
            fprintf(out, "%-*s  ", (int)w[c], s->head[c]);
        else
            fprintf(out, "%s\n", s->head[c]);
    }
    for (size_t i = 0; i < l->n; i++) {
        if (!s->match(&l->v[i]))
            continue;
        memset(cells, 0, sizeof(cells));
        s->row(in, &l->v[i], cells);
        fputs("  ", out);
        for (unsigned c = c0; c < s->ncols; c++) {
            if (c + 1 < s->ncols)
                fprintf(out, "%-*s  ", (int)w[c], cells[c]);
            else
                fprintf(out, "%s\n", cells[c]);
        }
    }
    return n;
}

/* ---- rows ---- */

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
    cellf(c[0], "%s", side_name(rmodel(in, r)->side));
    cellf(c[1], "v%u", (unsigned)sa->version);
    tx_ipport(&sa->initiator.ip, sa->initiator.port, a, sizeof(a));
    if (sa->natt_initiator.port)
        cellf(c[2], "%s->%u", a, (unsigned)sa->natt_initiator.port);
    else
        cellf(c[2], "%s", a);
    tx_ipport(&sa->responder.ip, sa->responder.port, b, sizeof(b));
    if (sa->natt_responder.port)
        cellf(c[3], "%s->%u", b, (unsigned)sa->natt_responder.port);
    else
        cellf(c[3], "%s", b);
    rep_ike_spi(sa->ispi, c[4], TX_CELL);
    rep_ike_spi(sa->rspi, c[5], TX_CELL);
    cellf(c[6], "%s", sa->nat_t ? "yes" : "no");
    if (sa->natd.present)
        cellf(c[7], "%s", natd_words(&sa->natd));
    else
        cellf(c[7], "-");
    size_t o = 0;
    unsigned nslots = sa->n_exch < IKE_EXCH_SLOTS ? sa->n_exch : IKE_EXCH_SLOTS;
    for (unsigned s = 0; s < nslots && o < TX_CELL; s++)
        o += (size_t)snprintf(c[8] + o, TX_CELL - o, "%s%s:%u", s ? "," : "",
                              session_exch_name(sa, s), (unsigned)sa->exch_count[s]);
    if (o >= TX_CELL)
        memcpy(c[8] + TX_CELL - 4, "...", 4);
    if (!nslots)
        cellf(c[8], "-");
    cellf(c[9], "%llu", (unsigned long long)sa->retransmissions);
    cellf(c[10], "%llu", (unsigned long long)sa->packets);
    cellts(c[11], sa->first_ts);
    cellts(c[12], sa->last_ts);
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
    cellf(c[0], "%s", side_name(m->side));
    if (sa->k.proto == 51)
        cellf(c[1], "AH");
    else
        cellf(c[1], "ESP/%s", sa->k.encap ? "UDP" : "raw");
    if (sa->k.encap) {
        cellf(c[2], "%s", tx_ipport(&sa->k.src, sa->k.sport, a, sizeof(a)));
        cellf(c[3], "%s", tx_ipport(&sa->k.dst, sa->k.dport, a, sizeof(a)));
    } else {
        cellf(c[2], "%s", tx_ip(&sa->k.src, a, sizeof(a)));
        cellf(c[3], "%s", tx_ip(&sa->k.dst, a, sizeof(a)));
    }
    rep_ipsec_spi(sa->k.spi, c[4], TX_CELL);
    cellf(c[5], "%llu", (unsigned long long)sa->packets);
    cellf(c[6], "%llu", (unsigned long long)sa->bytes);
    cellf(c[7], "%u-%u", (unsigned)sa->first_seq, (unsigned)sa->last_seq);
    cellf(c[8], "%llu", (unsigned long long)sa->seq_gaps);
    cellf(c[9], "%llu", (unsigned long long)sa->replays);
    cellf(c[10], "%s", sa->paired ? "yes" : "NO");
    const struct ike_sa *ike = session_ike_for_ipsec(m, sa);
    if (ike)
        cellf(c[11], "%016llx:%016llx", (unsigned long long)ike->ispi,
              (unsigned long long)ike->rspi);
    else
        cellf(c[11], "-");
    cellts(c[12], sa->first_ts);
    cellts(c[13], sa->last_ts);
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
    cellf(c[0], "%s", side_name(m->side));
    cellf(c[1], "%s", tx_ipport(&ctl->client.ip, ctl->client.port, a, sizeof(a)));
    cellf(c[2], "%s", tx_ipport(&ctl->server.ip, ctl->server.port, a, sizeof(a)));
    tx_escape(ctl->hostname, h, sizeof(h));
    tx_escape(ctl->vendor, v, sizeof(v));
    cellf(c[8], "%s/%s", h[0] ? h : "-", v[0] ? v : "-");
    if (r->type == REC_PPTP_CTRL) {
        cellf(c[3], "-");
        cellf(c[4], "-");
        cellf(c[5], "control %s, no call", rep_pptp_sess_state_name(ctl->state));
        cellf(c[6], "-");
        cellf(c[7], "-");
        cellts(c[9], ctl->first_ts);
        cellts(c[10], ctl->last_ts);
        return;
    }
    const struct pptp_call *call = &ctl->calls[r->sub];
    uint64_t ts = 0, tc = 0;
    session_pptp_call_gre(m, ctl, call, &ts, &tc);
    cellf(c[3], "%u", (unsigned)call->call_id);
    if (call->has_peer)
        cellf(c[4], "%u", (unsigned)call->peer_call_id);
    else
        cellf(c[4], "-");
    cellf(c[5], "%s", pptp_call_state_name(call->state));
    cellf(c[6], "%llu", (unsigned long long)ts);
    cellf(c[7], "%llu", (unsigned long long)tc);
    cellts(c[9], call->first_ts);
    cellts(c[10], call->last_ts);
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
    cellf(c[0], "%s", side_name(rmodel(in, r)->side));
    cellf(c[1], "%s", tx_ip(&g->k.src, a, sizeof(a)));
    cellf(c[2], "%s", tx_ip(&g->k.dst, a, sizeof(a)));
    cellf(c[3], "%u", (unsigned)g->k.version);
    if (g->k.version == 1)
        cellf(c[4], "call %u", (unsigned)g->k.key);
    else if (g->k.has_key)
        cellf(c[4], "key %u", (unsigned)g->k.key);
    else
        cellf(c[4], "-");
    cellf(c[5], "%llu", (unsigned long long)g->packets);
    cellf(c[6], "%llu", (unsigned long long)g->bytes);
    cellts(c[7], g->first_ts);
    cellts(c[8], g->last_ts);
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
    cellf(c[0], "%s", side_name(rmodel(in, r)->side));
    cellf(c[1], "%s", tx_ipport(&s->k.src, s->k.sport, a, sizeof(a)));
    cellf(c[2], "%s", tx_ipport(&s->k.dst, s->k.dport, a, sizeof(a)));
    cellf(c[3], "%u", (unsigned)s->k.tunnel_id);
    cellf(c[4], "%u", (unsigned)s->k.session_id);
    cellf(c[5], "%llu", (unsigned long long)s->packets);
    cellf(c[6], "%llu", (unsigned long long)s->control);
    cellts(c[7], s->first_ts);
    cellts(c[8], s->last_ts);
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
    cellf(c[0], "%s", side_name(rmodel(in, r)->side));
    rep_proto_name(f->proto, c[1], TX_CELL);
    if (f->proto == 6 || f->proto == 17) {
        cellf(c[2], "%s", tx_ipport(&f->src.ip, f->src.port, a, sizeof(a)));
        cellf(c[3], "%s", tx_ipport(&f->dst.ip, f->dst.port, a, sizeof(a)));
    } else {
        cellf(c[2], "%s", tx_ip(&f->src.ip, a, sizeof(a)));
        cellf(c[3], "%s", tx_ip(&f->dst.ip, a, sizeof(a)));
    }
    cellf(c[4], "%s", tx_escape(rep_flow_app(f), app, sizeof(app)));
    cellf(c[5], "%llu", (unsigned long long)rep_add(f->pkts[0], f->pkts[1]));
    cellf(c[6], "%llu", (unsigned long long)rep_add(f->bytes[0], f->bytes[1]));
    cellts(c[7], f->first_ts);
    cellts(c[8], f->last_ts);
}

/* A NAT identity as its protocol shows it. */
static char *tx_nat_id(uint8_t proto, const struct nat_id *id, char *buf, unsigned size)
{
    char ip[64];
    tx_ip(&id->ip, ip, sizeof(ip));
    switch (proto) {
    case 6:
    case 17:
        return tx_ipport(&id->ip, id->port, buf, size);
    case 1:
    case 58:
        snprintf(buf, size, "%s id %u", ip, (unsigned)id->icmp_id);
        return buf;
    case 47:
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
    cellf(c[2], "%s", tx_nat_id(mp->proto, &mp->inside, a, sizeof(a)));
    cellf(c[3], "%s", tx_nat_id(mp->proto, &mp->outside, a, sizeof(a)));
    cellf(c[4], "%s", tx_nat_id(mp->proto, &mp->peer, a, sizeof(a)));
    cellf(c[5], "%s", mp->translated ? "yes" : "no");
    cellf(c[6], "%llu/%llu", (unsigned long long)mp->to_peer_inside,
          (unsigned long long)mp->to_peer_outside);
    cellf(c[7], "%llu/%llu", (unsigned long long)mp->from_peer_outside,
          (unsigned long long)mp->from_peer_inside);
    evidence_list(mp->evidence, c[8], TX_CELL);
    if (mp->proto == 50 || mp->proto == 51) {
        spi_list(mp->spis_to, mp->n_spis_to, s1, sizeof(s1));
        spi_list(mp->spis_from, mp->n_spis_from, s2, sizeof(s2));
        cellf(c[9], "%s / %s", s1, s2);
    } else {
        cellf(c[9], "-");
    }
    cellts(c[10], mp->first_ts);
    cellts(c[11], mp->last_ts);
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
    cellf(c[0], "%s", side_name(u->side));
    cellf(c[1], "%s", u->direction ? "from peer" : "to peer");
    rep_proto_name(u->proto, c[2], TX_CELL);
    if (u->has_ports) {
        cellf(c[3], "%s", tx_ipport(&u->src, u->sport, a, sizeof(a)));
        cellf(c[4], "%s", tx_ipport(&u->dst, u->dport, a, sizeof(a)));
    } else {
        cellf(c[3], "%s", tx_ip(&u->src, a, sizeof(a)));
        cellf(c[4], "%s", tx_ip(&u->dst, a, sizeof(a)));
    }
    if (u->has_spi)
        cellf(c[5], "0x%08x", (unsigned)u->spi);
    else if (u->has_call_id)
        cellf(c[5], "call %u", (unsigned)u->call_id);
    else
        cellf(c[5], "-");
    cellf(c[6], "%llu", (unsigned long long)u->packets);
    cellts(c[7], u->first_ts);
    cellts(c[8], u->last_ts);
    size_t o = 0;
    unsigned nf = u->nframes < UNMATCHED_MAX_FRAMES ? u->nframes : UNMATCHED_MAX_FRAMES;
    for (unsigned i = 0; i < nf && o < TX_CELL; i++)
        o += (size_t)snprintf(c[9] + o, TX_CELL - o, "%s#%llu", i ? "," : "",
                              (unsigned long long)u->frames[i]);
    if (o >= TX_CELL)
        memcpy(c[9] + TX_CELL - 4, "...", 4);
    if (!nf)
        cellf(c[9], "-");
    const struct nat_result *nr = in->nat;
    if (nr && u->mapping >= 0 && (size_t)u->mapping < nr->n_map) {
        const struct nat_mapping *mp = &nr->map[u->mapping];
        cellf(c[10], "%s -> %s", tx_nat_id(mp->proto, &mp->inside, a, sizeof(a)),
              tx_nat_id(mp->proto, &mp->outside, b, sizeof(b)));
    } else {
        cellf(c[10], "-");
    }
}

/* ---- findings ---- */

static void print_frames(FILE *out, const struct finding *f)
{
    struct frame_ref fr[FINDING_MAX_FRAMES];
    unsigned n = rep_frames_sorted(f, fr);
    if (!n)
        return;
    fputs("    frames: ", out);
    for (unsigned i = 0; i < n; i++) {
        if (i == 0 || fr[i].capture != fr[i - 1].capture)
            fprintf(out, "%s%s #%llu", i ? "; " : "", side_name(fr[i].capture),
                    (unsigned long long)fr[i].frame);
        else
            fprintf(out, ", #%llu", (unsigned long long)fr[i].frame);
    }
    fputc('\n', out);
}

static void print_sessions(FILE *out, const struct finding *f)
{
    enum { NC = 5 };
    char cells[FINDING_MAX_SESSIONS][NC][TX_CELL];
    unsigned w[NC] = {0};
    unsigned n = f->n_sessions < FINDING_MAX_SESSIONS ? f->n_sessions : FINDING_MAX_SESSIONS;
    if (!n)
        return;
    for (unsigned i = 0; i < n; i++) {
        const struct finding_session *s = &f->sessions[i];
        char a[80];
        char(*c)[TX_CELL] = cells[i];
        cellf(c[0], "%s", fs_role_name(s->role));
        if (s->has_port)
            cellf(c[1], "%s", tx_ipport(&s->ip, s->port, a, sizeof(a)));
        else
            cellf(c[1], "%s", tx_ip(&s->ip, a, sizeof(a)));
        if (s->has_outside && s->has_out_port)
            cellf(c[2], "outside %s", tx_ipport(&s->out_ip, s->out_port, a, sizeof(a)));
        else if (s->has_outside)
            cellf(c[2], "outside %s", tx_ip(&s->out_ip, a, sizeof(a)));
        else
            c[2][0] = '\0';
        if (s->has_spi && s->has_call_id)
            cellf(c[3], "spi 0x%08x call %u", (unsigned)s->spi, (unsigned)s->call_id);
        else if (s->has_spi)
            cellf(c[3], "spi 0x%08x", (unsigned)s->spi);
        else if (s->has_call_id)
            cellf(c[3], "call id %u", (unsigned)s->call_id);
        else
            c[3][0] = '\0';
        tx_escape(s->note, c[4], TX_CELL);
        for (unsigned k = 0; k < NC; k++) {
            unsigned len = (unsigned)strlen(c[k]);
            if (len > w[k])
                w[k] = len;
        }
    }
    fputs("  Sessions:\n", out);
    for (unsigned i = 0; i < n; i++) {
        /* trailing empty columns are not padded */
        unsigned last = NC;
        while (last > 1 && !cells[i][last - 1][0])
            last--;
        fputs("    ", out);
        for (unsigned k = 0; k < last; k++) {
            if (k + 1 < last)
                fprintf(out, "%-*s  ", (int)w[k], cells[i][k]);
            else
                fprintf(out, "%s\n", cells[i][k]);
        }
    }
}

static void print_evidence(FILE *out, const struct finding *f)
{
    unsigned n = f->n_ev < FINDING_MAX_EV ? f->n_ev : FINDING_MAX_EV;
    if (!n && !f->n_frames)
        return;
    fputs("  Evidence:\n", out);
    for (unsigned i = 0; i < n; i++) {
        const struct finding_ev *e = &f->ev[i];
        char key[80], v[256];
        tx_escape(e->key, key, sizeof(key));
        switch (e->type) {
        case EV_INT:
            snprintf(v, sizeof(v), "%lld", (long long)e->i);
            break;
        case EV_STR:
            tx_escape(e->s, v, sizeof(v));
            break;
        case EV_TS:
            ts_iso((uint64_t)e->i, v, sizeof(v));
            break;
        case EV_SECONDS:
            if (isfinite(e->d))
                snprintf(v, sizeof(v), "%.6f s", e->d);
            else
                snprintf(v, sizeof(v), "-");
            break;
        case EV_BOOL:
            snprintf(v, sizeof(v), "%s", e->i ? "yes" : "no");
            break;
        default:
            snprintf(v, sizeof(v), "-");
            break;
        }
        fprintf(out, "    %s: %s\n", key, v);
    }
    print_frames(out, f);
}

static void print_finding(FILE *out, const struct finding *f)
{
    static const char *const tag[] = {"[INFO]", "[WARNING]", "[ERROR]"};
    char ts[40];
    fprintf(out, "\n%s %s (%s) at %s\n", f->sev <= SEV_ERROR ? tag[f->sev] : "[?]",
            finding_kind_name(f->kind), f->confirmed ? "confirmed" : "suspected",
            ts_iso(f->ts_us, ts, sizeof(ts)));
    if (f->summary[0]) {
        fputs("  ", out);
        tx_wrap(out, f->summary, 2, 2);
    }
    print_sessions(out, f);
    print_evidence(out, f);
    if (f->remedy[0]) {
        fputs("  Remedy: ", out);
        tx_wrap(out, f->remedy, 10, 10);
    }
}

static void print_findings(FILE *out, const struct report_input *in, const struct rep_totals *t)
{
    const struct finding_list *fl = in->findings;
    if (!fl || fl->n == 0) {
        fputs("\nNo problems found.\n", out);
        return;
    }
    fprintf(out, "\nFINDINGS: %llu %s, %llu %s, %llu info\n",
            (unsigned long long)t->findings[SEV_ERROR],
            tx_plural(t->findings[SEV_ERROR], "error", "errors"),
            (unsigned long long)t->findings[SEV_WARNING],
            tx_plural(t->findings[SEV_WARNING], "warning", "warnings"),
            (unsigned long long)t->findings[SEV_INFO]);
    size_t *ix = rep_findings_by_severity(fl);
    for (size_t i = 0; i < fl->n; i++)
        print_finding(out, &fl->v[ix ? ix[i] : i]);
    free(ix);
}

/* ---- header and summary ---- */

static void print_names(FILE *out, const char *const *names)
{
    char b[512];
    if (!names || !names[0]) {
        fputs("-", out);
        return;
    }
    for (size_t i = 0; names[i]; i++)
        fprintf(out, "%s%s", i ? ", " : "", tx_escape(names[i], b, sizeof(b)));
}

static void print_span(FILE *out, const struct session_model *m)
{
    char a[40], b[40];
    const struct session_counts *c = &m->c;
    fprintf(out, "%llu %s", (unsigned long long)c->packets,
            tx_plural(c->packets, "packet", "packets"));
    if (c->packets && c->last_ts >= c->first_ts)
        fprintf(out, ", %s .. %s (%.6f s)", ts_iso(c->first_ts, a, sizeof(a)),
                ts_iso(c->last_ts, b, sizeof(b)), (double)(c->last_ts - c->first_ts) / 1e6);
    fputc('\n', out);
}

static void print_header(FILE *out, const struct report_input *in)
{
    fputs("vpnscope " VPNSCOPE_VERSION " report\n", out);
    if (in->n_models >= 2) {
        for (unsigned i = 0; i < 2; i++) {
            const struct session_model *m = in->models[i];
            if (!m)
                continue;
            fprintf(out, "%-8s capture: ", side_name(m->side));
            print_names(out, in->captures[i]);
            fputs(": ", out);
            print_span(out, m);
        }
    } else if (in->models[0]) {
        const struct session_model *m = in->models[0];
        fputs("Capture: ", out);
        print_names(out, in->captures[0]);
        uint8_t side = rep_single_side(m);
        if (side == SIDE_SINGLE)
            fputs(" (side of the NAT: not determined)\n", out);
        else
            fprintf(out, " (side of the NAT: %s, %s)\n", side_name(side),
                    in->side_given ? "given" : "inferred from the traffic");
        fputs("Traffic: ", out);
        print_span(out, m);
    }
    if (in->nat && in->nat->swapped)
        fputs("Note: the inside and outside captures were given the wrong way round; vpnscope "
              "swapped them.\n",
              out);
    if (in->nat && in->nat->message[0]) {
        fputs("Note: ", out);
        tx_wrap(out, in->nat->message, 6, 6);
    }
}

static void print_counts(FILE *out, const struct rep_counts *c)
{
    fprintf(out,
            "%llu = %llu decoded + %llu truncated + %llu invalid + %llu non-IP + %llu filtered\n",
            (unsigned long long)c->packets, (unsigned long long)c->decoded,
            (unsigned long long)c->truncated, (unsigned long long)c->invalid,
            (unsigned long long)c->non_ip, (unsigned long long)c->filtered);
}

static void print_clock(FILE *out, const struct report_input *in)
{
    if (!in->nat || !in->nat->clock.valid)
        return;
    const struct nat_clock *c = &in->nat->clock;
    fputs("\nClock offset\n  outside clock - inside clock = ", out);
    if (isfinite(c->seconds))
        fprintf(out, "%+.6f s", c->seconds);
    else
        fputs("-", out);
    if (isfinite(c->drift_ppm))
        fprintf(out, ", drift %.6f ppm", c->drift_ppm);
    char ts[40];
    fprintf(out, ", from %llu %s (offset at %s, inside clock)\n",
            (unsigned long long)c->evidence_packets,
            tx_plural(c->evidence_packets, "packet", "packets"), ts_iso(c->ref_us, ts, sizeof(ts)));
}

static void print_summary(FILE *out, const struct report_input *in, const struct rep_totals *t)
{
    fputs("\nSummary\n", out);
    fputs("  Packets:   ", out);
    print_counts(out, &t->all);
    if (in->n_models >= 2) {
        for (unsigned i = 0; i < 2; i++) {
            const struct session_model *m = in->models[i];
            fprintf(out, "  %-9s  ", side_name(m ? m->side : (uint8_t)(i + 1)));
            print_counts(out, &t->per[i]);
        }
    }
    unsigned ids[ANOM__COUNT];
    unsigned na = rep_anomalies_sorted(t, ids);
    fputs("  Anomalies: ", out);
    if (!na)
        fputs("none", out);
    for (unsigned i = 0; i < na; i++)
        fprintf(out, "%s%s %llu", i ? ", " : "", anomaly_name(ids[i]),
                (unsigned long long)t->anomalies[ids[i]]);
    fputc('\n', out);
    fputs("  Evicted:   ", out);
    unsigned ne = 0;
    for (unsigned e = 0; e < REP_N_EVICT; e++)
        if (t->evicted[e])
            fprintf(out, "%s%s %llu", ne++ ? ", " : "", rep_evict_names[e],
                    (unsigned long long)t->evicted[e]);
    fputs(ne ? " (tables were full: some sessions are missing from this report)\n" : "none\n", out);
    if (in->live)
        fprintf(out, "  Kernel drops: %llu\n", (unsigned long long)in->kernel_drops);
    fprintf(out, "  Findings:  %llu %s, %llu %s, %llu info\n",
            (unsigned long long)t->findings[SEV_ERROR],
            tx_plural(t->findings[SEV_ERROR], "error", "errors"),
            (unsigned long long)t->findings[SEV_WARNING],
            tx_plural(t->findings[SEV_WARNING], "warning", "warnings"),
            (unsigned long long)t->findings[SEV_INFO]);
}

void report_text(FILE *out, const struct report_input *in)
{
    static const struct tx_section sections[] = {
        {"IKE SAs", TX_COL0_CAPTURE, 13, h_ike, row_ike, m_ike},
        {"ESP/AH SAs", TX_COL0_CAPTURE, 14, h_ipsec, row_ipsec, m_ipsec},
        {"PPTP calls", TX_COL0_CAPTURE, 11, h_pptp, row_pptp, m_pptp},
        {"GRE (not tied to a PPTP call)", TX_COL0_CAPTURE, 9, h_gre, row_gre, m_gre},
        {"L2TP", TX_COL0_CAPTURE, 9, h_l2tp, row_l2tp, m_l2tp},
        {"Other VPN flows", TX_COL0_CAPTURE, 9, h_flow, row_flow, m_flow},
        {"NAT mappings", TX_COL0_NEVER, 12, h_nat, row_nat, m_nat},
        {"Unmatched (seen on one side only)", TX_COL0_ALWAYS, 11, h_unm, row_unm, m_unm},
    };
    struct rep_totals t;
    struct rep_list l;
    rep_totals(in, &t);
    rep_build(&l, in);
    print_header(out, in);
    print_findings(out, in, &t);
    for (size_t i = 0; i < sizeof(sections) / sizeof(sections[0]); i++) {
        size_t n = tx_section(out, in, &l, &sections[i]);
        if (n == 0 && in->nat && sections[i].match == m_nat)
            fputs("\nNAT mappings: none\n", out);
    }
    print_clock(out, in);
    print_summary(out, in, &t);
    rep_list_free(&l);
}
