/* format.c - helpers shared by the report sinks: UTC timestamps, JSON string escaping, SPI and
 * protocol formatting, totals, and the sorted record list both sinks print from. */
#include "vpnscope/report.h"

#include <stdlib.h>
#include <string.h>

#include "report_int.h"
#include "vpnscope/proto.h"
#include "vpnscope/session_tunnel.h"
#include "vpnscope/table.h"

/* ---- timestamps ---- */

/* Days since 1970-01-01 -> civil date (proleptic Gregorian; H. Hinnant's civil_from_days), so the
 * output never depends on TZ, locale or the libc's time functions. */
static void civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    uint64_t doe = (uint64_t)(z - era * 146097);
    uint64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    uint64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    uint64_t mp = (5 * doy + 2) / 153;
    *d = (unsigned)(doy - (153 * mp + 2) / 5 + 1);
    *m = (unsigned)(mp < 10 ? mp + 3 : mp - 9);
    *y = (int64_t)yoe + era * 400 + (*m <= 2);
}

char *ts_iso(uint64_t ts_us, char *buf, unsigned size)
{
    if (!buf || size == 0)
        return buf;
    uint64_t secs = ts_us / 1000000u;
    unsigned usec = (unsigned)(ts_us % 1000000u);
    uint64_t days = secs / 86400u;
    unsigned sod = (unsigned)(secs % 86400u);
    int64_t y;
    unsigned m, d;
    civil_from_days((int64_t)days, &y, &m, &d);
    if (y < 0 || y > 9999 || size < 28) {
        snprintf(buf, size, "%04lld-%02u-%02uT%02u:%02u:%02u.%06uZ", (long long)y, m, d, sod / 3600,
                 (sod / 60) % 60, sod % 60, usec);
        return buf;
    }
    /* the common case without printf: reports print a timestamp in nearly every record */
    unsigned v[7] = {(unsigned)y, m, d, sod / 3600, (sod / 60) % 60, sod % 60, usec};
    static const unsigned width[7] = {4, 2, 2, 2, 2, 2, 6};
    static const char sep[7] = {'-', '-', 'T', ':', ':', '.', 'Z'};
    char *o = buf;
    for (unsigned i = 0; i < 7; i++) {
        for (unsigned k = width[i]; k-- > 0;) {
            o[k] = (char)('0' + v[i] % 10);
            v[i] /= 10;
        }
        o += width[i];
        *o++ = sep[i];
    }
    *o = 0;
    return buf;
}

/* ---- JSON strings ---- */

/* Length of the valid UTF-8 sequence at s (RFC 3629: no overlongs, no surrogates, <= U+10FFFF),
 * or 0 when the byte at s does not start one. */
static unsigned utf8_valid_len(const unsigned char *s)
{
    unsigned char c = s[0];
    if (c >= 0xc2 && c <= 0xdf)
        return (s[1] & 0xc0) == 0x80 ? 2 : 0;
    if (c >= 0xe0 && c <= 0xef) {
        unsigned char lo = c == 0xe0 ? 0xa0 : 0x80;
        unsigned char hi = c == 0xed ? 0x9f : 0xbf;
        if (s[1] < lo || s[1] > hi || (s[2] & 0xc0) != 0x80)
            return 0;
        return 3;
    }
    if (c >= 0xf0 && c <= 0xf4) {
        unsigned char lo = c == 0xf0 ? 0x90 : 0x80;
        unsigned char hi = c == 0xf4 ? 0x8f : 0xbf;
        if (s[1] < lo || s[1] > hi || (s[2] & 0xc0) != 0x80 || (s[3] & 0xc0) != 0x80)
            return 0;
        return 4;
    }
    return 0;
}

/* Printable ASCII that JSON takes as it is. */
static inline bool json_plain(unsigned char c)
{
    return c >= 0x20 && c < 0x7f && c != '"' && c != '\\';
}

void json_string(FILE *out, const char *str)
{
    const unsigned char *s = (const unsigned char *)(str ? str : "");
    /* the common case, a short string of plain printable ASCII (addresses, names, times): quoted
     * in a buffer and written at once; otherwise the quote and that plain start, then the rest */
    char q[128];
    size_t k = 0;
    q[0] = '"';
    while (k < sizeof(q) - 2 && json_plain(s[k])) {
        q[k + 1] = (char)s[k];
        k++;
    }
    if (!s[k]) {
        q[k + 1] = '"';
        fwrite(q, 1, k + 2, out);
        return;
    }
    fwrite(q, 1, k + 1, out);
    s += k;
    while (*s) {
        /* a run of plain printable ASCII goes out in one write */
        const unsigned char *run = s;
        while (json_plain(*s))
            s++;
        if (s > run)
            fwrite(run, 1, (size_t)(s - run), out);
        if (!*s)
            break;
        unsigned char c = *s;
        switch (c) {
        case '"':
            fputs("\\\"", out);
            break;
        case '\\':
            fputs("\\\\", out);
            break;
        case '\n':
            fputs("\\n", out);
            break;
        case '\r':
            fputs("\\r", out);
            break;
        case '\t':
            fputs("\\t", out);
            break;
        case '\b':
            fputs("\\b", out);
            break;
        case '\f':
            fputs("\\f", out);
            break;
        default:
            if (c < 0x20 || c == 0x7f) {
                fprintf(out, "\\u%04x", c);
            } else if (c < 0x80) {
                fputc(c, out);
            } else {
                /* the NUL terminator stops utf8_valid_len before it reads past the string */
                unsigned n = utf8_valid_len(s);
                if (n == 0) {
                    fprintf(out, "\\u%04x", c);
                } else {
                    fwrite(s, 1, n, out);
                    s += n;
                    continue;
                }
            }
            break;
        }
        s++;
    }
    fputc('"', out);
}

/* ---- small formatters ---- */

/* The lowest `digits` hex digits of v (lowercase, zero-padded) after prefix, into buf as
 * snprintf would (cut to size - 1 characters): one SPI per record, formatted by hand. */
static char *put_hex(char *buf, unsigned size, const char *prefix, uint64_t v, unsigned digits)
{
    static const char hex[] = "0123456789abcdef";
    char t[24];
    unsigned n = 0;
    while (prefix[n])
        t[n] = prefix[n], n++;
    for (unsigned i = digits; i-- > 0;)
        t[n++] = hex[(v >> (4 * i)) & 15];
    if (size == 0)
        return buf;
    if (n >= size)
        n = size - 1;
    memcpy(buf, t, n);
    buf[n] = '\0';
    return buf;
}

char *rep_ike_spi(uint64_t spi, char *buf, unsigned size)
{
    return put_hex(buf, size, "", spi, 16); /* "%016llx" */
}

char *rep_ipsec_spi(uint32_t spi, char *buf, unsigned size)
{
    return put_hex(buf, size, "0x", spi, 8); /* "0x%08x" */
}

/* Records name the ICMP family "icmp" for IPv4 and IPv6 alike (the `icmp_id` identity of a
 * nat_mapping is the same for both; the address says which IP version); every other protocol
 * as ip_proto_name() names it, or its number. */
char *rep_proto_name(uint8_t proto, char *buf, unsigned size)
{
    const char *n = ip_proto_is_icmp(proto) ? ip_proto_name(IPP_ICMP) : ip_proto_name(proto);
    if (n)
        snprintf(buf, size, "%s", n);
    else
        snprintf(buf, size, "%u", (unsigned)proto);
    return buf;
}

const char *rep_pptp_sess_state_name(uint8_t s)
{
    switch (s) {
    case PPTP_SESS_NONE:
        return "none";
    case PPTP_SESS_REQUESTED:
        return "requested";
    case PPTP_SESS_CONFIRMED:
        return "confirmed";
    case PPTP_SESS_STOPREQ:
        return "stop_requested";
    case PPTP_SESS_CLOSED:
        return "closed";
    default:
        return "unknown";
    }
}

static bool app_unknown(const char *app)
{
    static const char unk[] = "unknown";
    if (!app[0])
        return true;
    for (size_t i = 0; i < sizeof(unk); i++) {
        char c = app[i];
        if (c >= 'A' && c <= 'Z')
            c = (char)(c - 'A' + 'a');
        if (c != unk[i])
            return false;
    }
    return true;
}

const char *rep_flow_app(const struct flow *f)
{
    return f->app && f->app[0] ? f->app : "Unknown";
}

static bool vpn_port(uint16_t p)
{
    return p == 500 || p == 4500 || p == 1701 || p == 1723 || p == 1194 || p == 51820;
}

bool rep_flow_listed(const struct session_model *m, const struct flow *f, bool all_flows)
{
    if (f->vpn != VPN_NONE)
        return false;
    if (all_flows || f->is_vpn)
        return true;
    if ((f->proto == IPP_TCP || f->proto == IPP_UDP) && app_unknown(flow_app(f)) &&
        (vpn_port(flow_end(m, f, 0).port) || vpn_port(flow_end(m, f, 1).port)))
        return true;
    return false;
}

uint64_t rep_add(uint64_t a, uint64_t b)
{
    return a + b < a ? UINT64_MAX : a + b;
}

uint8_t rep_single_side(const struct session_model *m)
{
    if (!m)
        return SIDE_SINGLE;
    return m->side != SIDE_SINGLE ? m->side : m->side_inferred;
}

/* ---- totals ---- */

const char *const rep_evict_names[REP_N_EVICT] = {"flows", "ike_sa",    "ipsec_sa", "pptp",   "gre",
                                                  "l2tp",  "fragments", "mtu",      "tunnels"};

static uint64_t evicted(const struct table *t)
{
    return t ? table_evicted(t) : 0;
}

static uint64_t tun_evicted(const struct tunnel_model *tm)
{
    if (!tm)
        return 0;
    uint64_t n = rep_add(evicted(tm->flows), evicted(tm->wg));
    n = rep_add(n, rep_add(evicted(tm->wg_idx), evicted(tm->ovpn)));
    return rep_add(n, rep_add(evicted(tm->ovpn_peer), evicted(tm->ovpn_tcp)));
}

void rep_totals(const struct report_input *in, struct rep_totals *t)
{
    memset(t, 0, sizeof(*t));
    for (unsigned i = 0; i < in->n_models && i < 2; i++) {
        const struct session_model *m = in->models[i];
        if (!m)
            continue;
        const struct session_counts *c = &m->c;
        struct rep_counts *p = &t->per[i];
        p->packets = c->packets;
        p->decoded = c->decoded;
        p->truncated = c->truncated;
        p->invalid = c->invalid;
        p->non_ip = c->non_ip;
        p->filtered = c->filtered;
        p->duplicate = c->duplicate;
        t->all.packets = rep_add(t->all.packets, c->packets);
        t->all.decoded = rep_add(t->all.decoded, c->decoded);
        t->all.truncated = rep_add(t->all.truncated, c->truncated);
        t->all.invalid = rep_add(t->all.invalid, c->invalid);
        t->all.non_ip = rep_add(t->all.non_ip, c->non_ip);
        t->all.filtered = rep_add(t->all.filtered, c->filtered);
        t->all.duplicate = rep_add(t->all.duplicate, c->duplicate);
        for (unsigned a = 0; a < ANOM__COUNT; a++)
            t->anomalies[a] = rep_add(t->anomalies[a], c->anomalies[a]);
        const uint64_t ev[REP_N_EVICT] = {
            evicted(m->flows),  evicted(m->ike),
            evicted(m->ipsec),  evicted(m->pptp),
            evicted(m->gre),    evicted(m->l2tp),
            c->frag_evicted,    rep_add(evicted(m->mtu), evicted(m->too_big)),
            tun_evicted(m->tun)};
        for (unsigned e = 0; e < REP_N_EVICT; e++)
            t->evicted[e] = rep_add(t->evicted[e], ev[e]);
        if (c->first_ts && (!t->first_ts || c->first_ts < t->first_ts))
            t->first_ts = c->first_ts;
        if (c->last_ts > t->last_ts)
            t->last_ts = c->last_ts;
    }
    for (size_t i = 0; in->findings && i < in->findings->n; i++) {
        unsigned s = in->findings->v[i].sev;
        if (s <= SEV_ERROR)
            t->findings[s]++;
    }
}

static int cmp_anom_name(const void *pa, const void *pb)
{
    unsigned a = *(const unsigned *)pa, b = *(const unsigned *)pb;
    int c = strcmp(anomaly_name(a), anomaly_name(b));
    if (c)
        return c;
    return a < b ? -1 : (a > b);
}

unsigned rep_anomalies_sorted(const struct rep_totals *t, unsigned *out)
{
    unsigned n = 0;
    for (unsigned a = 0; a < ANOM__COUNT; a++)
        if (t->anomalies[a])
            out[n++] = a;
    qsort(out, n, sizeof(*out), cmp_anom_name);
    return n;
}

static int cmp_frame(const void *pa, const void *pb)
{
    const struct frame_ref *a = pa, *b = pb;
    if (a->capture != b->capture)
        return a->capture < b->capture ? -1 : 1;
    return a->frame < b->frame ? -1 : (a->frame > b->frame);
}

unsigned rep_frames_sorted(const struct finding *f, struct frame_ref *out)
{
    unsigned n = f->n_frames < FINDING_MAX_FRAMES ? f->n_frames : FINDING_MAX_FRAMES;
    memcpy(out, f->frames, n * sizeof(*out));
    qsort(out, n, sizeof(*out), cmp_frame);
    return n;
}

/* ---- the record list ---- */

const char *rep_type_name(unsigned t)
{
    static const char *const names[REC__COUNT] = {
        [REC_IKE_SA] = "ike_sa",
        [REC_ESP_SA] = "esp_sa",
        [REC_AH_SA] = "ah_sa",
        [REC_PPTP_CTRL] = "pptp_ctrl",
        [REC_PPTP_CALL] = "pptp_call",
        [REC_GRE] = "gre",
        [REC_L2TP] = "l2tp",
        [REC_FLOW] = "flow",
        [REC_NAT_MAPPING] = "nat_mapping",
        [REC_UNMATCHED] = "unmatched",
        [REC_CLOCK_OFFSET] = "clock_offset",
        [REC_FINDING] = "finding",
        [REC_WG_SESSION] = "wg_session",
        [REC_OVPN_SESSION] = "ovpn_session",
    };
    return t < REC__COUNT ? names[t] : "unknown";
}

/* Where the ids of a list come from (struct rep_src): a table of a model (the id minus the base is
 * the slot; PPTP_CALLS_PER_CTRL ids per slot for PPTP control connections, one per call), or an
 * array of the report input (the id minus the base is the index). */
enum src_kind {
    SRC_IKE = 0,
    SRC_IPSEC,
    SRC_PPTP,
    SRC_GRE,
    SRC_L2TP,
    SRC_FLOW,
    SRC_WG,
    SRC_OVPN,
    SRC_NAT_MAP,
    SRC_UNMATCHED,
    SRC_CLOCK,
    SRC_FINDING,
};

/* Registers the next n ids as coming from `from`; *base gets the first. -1 when the ids or the
 * sources run out (the list is then partial). */
static int add_src(struct rep_list *l, unsigned kind, const void *from, uint64_t n, uint32_t *base)
{
    const struct rep_src *last = l->n_src ? &l->src[l->n_src - 1] : NULL;
    uint32_t next = last ? last->base + last->n : 0;
    if (l->n_src >= REP_MAX_SRC || n > UINT32_MAX - next)
        return -1;
    l->src[l->n_src++] = (struct rep_src){next, (uint32_t)n, (uint8_t)kind, from};
    *base = next;
    return 0;
}

/* A new entry (in the counting pass: only counted). -1 when the list is full (the counting pass
 * sized it, so only when the input changed between the passes, which it does not). */
static int rec_add(struct rep_list *l, unsigned type, uint8_t model, uint8_t side, uint32_t id,
                   bool has_ts, uint64_t ts)
{
    if (l->counting) {
        l->n++;
        return 0;
    }
    if (l->n == l->cap)
        return -1;
    struct rep_ref *r = &l->v[l->n++];
    memset(r, 0, sizeof(*r));
    r->ts = ts;
    r->id = id;
    r->type = (uint8_t)type;
    r->model = model;
    r->side = side;
    r->has_ts = has_ts;
    return 0;
}

/* The record of entry e (of list l, or a copy of one) into *r; returns r. */
static const struct rep_rec *ref_rec(const struct rep_list *l, const struct rep_ref *e,
                                     struct rep_rec *r)
{
    memset(r, 0, sizeof(*r));
    r->ts = e->ts;
    r->seq = e->id;
    r->has_ts = e->has_ts;
    r->type = e->type;
    r->model = e->model;
    r->side = e->side;
    /* the source of the id: the last one starting at or before it (bases grow) */
    unsigned lo = 0, hi = l->n_src;
    while (hi - lo > 1) {
        unsigned mid = (lo + hi) / 2;
        if (l->src[mid].base <= e->id)
            lo = mid;
        else
            hi = mid;
    }
    if (!l->n_src)
        return r;
    const struct rep_src *s = &l->src[lo];
    uint32_t off = e->id - s->base;
    switch (s->kind) {
    case SRC_PPTP:
        r->p = table_slot(s->from, off / PPTP_CALLS_PER_CTRL, NULL);
        r->sub = off % PPTP_CALLS_PER_CTRL;
        break;
    case SRC_NAT_MAP:
        r->p = (const struct nat_mapping *)s->from + off;
        r->sub = off;
        break;
    case SRC_UNMATCHED:
        r->p = (const struct nat_unmatched *)s->from + off;
        r->sub = off;
        break;
    case SRC_CLOCK:
        r->p = s->from;
        break;
    case SRC_FINDING:
        r->p = (const struct finding *)s->from + off;
        r->sub = off;
        break;
    default: /* a table */
        r->p = table_slot(s->from, off, NULL);
        break;
    }
    return r;
}

const struct rep_rec *rep_get(const struct rep_list *l, size_t i, struct rep_rec *r)
{
    return ref_rec(l, &l->v[i], r);
}

static void nat_id_key(const struct nat_id *id, char *buf, unsigned size)
{
    char ip[48];
    snprintf(buf, size, "%s/%u/%u/%u", ip_addr_str(&id->ip, ip, sizeof(ip)),
             id->has_port ? id->port : 0u, id->has_call_id ? id->call_id : 0u,
             id->has_icmp_id ? id->icmp_id : 0u);
}

/* The tie-break key of a record (records with equal ts and type are ordered by it), made when a
 * comparison needs it instead of held in every record. */
static void rec_key(const struct report_input *in, const struct rep_rec *r, char *key, size_t size)
{
    const char *side = side_name(r->side);
    char a[64], b[64], c[64];
    switch (r->type) {
    case REC_IKE_SA: {
        const struct ike_sa *sa = r->p;
        snprintf(key, size, "%s|%u|%016llx|%016llx", side, (unsigned)sa->version,
                 (unsigned long long)sa->ispi, (unsigned long long)sa->rspi);
        break;
    }
    case REC_ESP_SA:
    case REC_AH_SA: {
        const struct ipsec_sa *sa = r->p;
        snprintf(key, size, "%s|%s|%s|%08x|%u|%u|%u", side, ip_addr_str(&sa->k.src, a, sizeof(a)),
                 ip_addr_str(&sa->k.dst, b, sizeof(b)), (unsigned)sa->k.spi, (unsigned)sa->k.encap,
                 (unsigned)sa->k.sport, (unsigned)sa->k.dport);
        break;
    }
    case REC_PPTP_CTRL:
    case REC_PPTP_CALL: {
        const struct pptp_ctrl *pc = r->p;
        int n = snprintf(key, size, "%s|%s|%u|%s|%u", side,
                         ip_addr_str(&pc->client.ip, a, sizeof(a)), (unsigned)pc->client.port,
                         ip_addr_str(&pc->server.ip, b, sizeof(b)), (unsigned)pc->server.port);
        if (r->type == REC_PPTP_CALL && n > 0 && (size_t)n < size && r->sub < PPTP_CALLS_PER_CTRL)
            snprintf(key + n, size - (size_t)n, "|%05u|%u", (unsigned)pc->calls[r->sub].call_id,
                     (unsigned)r->sub);
        break;
    }
    case REC_GRE: {
        const struct gre_flow *g = r->p;
        snprintf(key, size, "%s|%s|%s|%u|%u|%010u", side, ip_addr_str(&g->k.src, a, sizeof(a)),
                 ip_addr_str(&g->k.dst, b, sizeof(b)), (unsigned)g->k.version,
                 (unsigned)g->k.has_key, (unsigned)g->k.key);
        break;
    }
    case REC_L2TP: {
        const struct l2tp_sess *s = r->p;
        snprintf(key, size, "%s|%s|%s|%u|%u|%05u|%05u", side, ip_addr_str(&s->k.src, a, sizeof(a)),
                 ip_addr_str(&s->k.dst, b, sizeof(b)), (unsigned)s->k.sport, (unsigned)s->k.dport,
                 (unsigned)s->k.tunnel_id, (unsigned)s->k.session_id);
        break;
    }
    case REC_FLOW: {
        const struct flow *f = r->p;
        const struct session_model *m = in->models[r->model]; /* the endpoints are its key's */
        struct endpoint s = flow_end(m, f, 0), d = flow_end(m, f, 1);
        snprintf(key, size, "%s|%03u|%s|%u|%s|%u", side, (unsigned)f->proto,
                 ip_addr_str(&s.ip, a, sizeof(a)), (unsigned)s.port,
                 ip_addr_str(&d.ip, b, sizeof(b)), (unsigned)d.port);
        break;
    }
    case REC_NAT_MAPPING: {
        const struct nat_mapping *mp = r->p;
        nat_id_key(&mp->inside, a, sizeof(a));
        nat_id_key(&mp->outside, b, sizeof(b));
        nat_id_key(&mp->peer, c, sizeof(c));
        snprintf(key, size, "%03u|%s|%s|%s", (unsigned)mp->proto, a, b, c);
        break;
    }
    case REC_UNMATCHED: {
        const struct nat_unmatched *u = r->p;
        snprintf(key, size, "%u|%u|%03u|%s|%s|%u|%u|%08x|%u", (unsigned)u->side,
                 (unsigned)u->direction, (unsigned)u->proto, ip_addr_str(&u->src, a, sizeof(a)),
                 ip_addr_str(&u->dst, b, sizeof(b)), (unsigned)u->sport, (unsigned)u->dport,
                 (unsigned)u->spi, (unsigned)u->call_id);
        break;
    }
    case REC_CLOCK_OFFSET:
        snprintf(key, size, "clock");
        break;
    case REC_FINDING: {
        const struct finding *f = r->p;
        snprintf(key, size, "%s|%010zu", finding_kind_name(f->kind), (size_t)r->sub);
        break;
    }
    case REC_WG_SESSION:
    case REC_OVPN_SESSION:
        rep_tunnel_key(r, side, key, size);
        break;
    default:
        if (size)
            key[0] = '\0';
    }
}

/* What add_table needs besides the table: the list, the report input and the table's model. */
struct tab_walk {
    struct rep_list *l;
    const struct report_input *in;
    const struct session_model *m;
    uint8_t mi;
};

/* The records of table t (a source of kind `kind`): its live entries that are reported (not a
 * PPTP call's GRE flow, not an unlisted flow), with their type and ts; one per PPTP call. */
static int add_table(const struct tab_walk *w, unsigned kind, const struct table *t)
{
    uint32_t base;
    if (!t)
        return 0;
    uint32_t n = table_slots(t);
    if (add_src(w->l, kind, t, (uint64_t)n * (kind == SRC_PPTP ? PPTP_CALLS_PER_CTRL : 1), &base))
        return -1;
    const struct session_model *m = w->m;
    for (uint32_t i = 0; i < n; i++) {
        const void *p = table_slot(t, i, NULL);
        if (!p)
            continue;
        unsigned type;
        uint64_t ts;
        switch (kind) {
        case SRC_IKE:
            type = REC_IKE_SA, ts = ((const struct ike_sa *)p)->first_ts;
            break;
        case SRC_IPSEC: {
            const struct ipsec_sa *sa = p;
            type = sa->k.proto == IPP_AH ? REC_AH_SA : REC_ESP_SA, ts = sa->first_ts;
            break;
        }
        case SRC_PPTP: {
            const struct pptp_ctrl *c = p;
            unsigned nc = c->n_calls < PPTP_CALLS_PER_CTRL ? c->n_calls : PPTP_CALLS_PER_CTRL;
            uint32_t id = base + i * PPTP_CALLS_PER_CTRL;
            if (nc == 0 && rec_add(w->l, REC_PPTP_CTRL, w->mi, m->side, id, true, c->first_ts))
                return -1;
            for (unsigned k = 0; k < nc; k++)
                if (rec_add(w->l, REC_PPTP_CALL, w->mi, m->side, id + k, true,
                            c->calls[k].first_ts))
                    return -1;
            continue;
        }
        case SRC_GRE: {
            const struct gre_flow *g = p;
            bool *known = w->l->gre_call[w->mi];
            bool call = known && !w->l->counting ? known[i] : session_gre_is_pptp_call(m, g);
            if (known && w->l->counting)
                known[i] = call;
            if (call)
                continue;
            type = REC_GRE, ts = g->first_ts;
            break;
        }
        case SRC_L2TP:
            type = REC_L2TP, ts = ((const struct l2tp_sess *)p)->first_ts;
            break;
        case SRC_FLOW: {
            const struct flow *f = p;
            if (!rep_flow_listed(m, f, w->in->all_flows))
                continue;
            type = REC_FLOW, ts = f->first_ts;
            break;
        }
        case SRC_WG:
            type = REC_WG_SESSION, ts = ((const struct wg_session *)p)->first_ts;
            break;
        default: /* SRC_OVPN */
            type = REC_OVPN_SESSION, ts = ((const struct ovpn_session *)p)->first_ts;
            break;
        }
        if (rec_add(w->l, type, w->mi, m->side, base + i, true, ts))
            return -1;
    }
    return 0;
}

static int add_model(struct rep_list *l, const struct report_input *in, uint8_t mi)
{
    const struct session_model *m = in->models[mi];
    const struct tab_walk w = {l, in, m, mi};
    const struct tunnel_model *tm = m->tun;
    if (add_table(&w, SRC_IKE, m->ike) || add_table(&w, SRC_IPSEC, m->ipsec) ||
        add_table(&w, SRC_PPTP, m->pptp) || add_table(&w, SRC_GRE, m->gre) ||
        add_table(&w, SRC_L2TP, m->l2tp) || add_table(&w, SRC_FLOW, m->flows))
        return -1;
    if (tm && (add_table(&w, SRC_WG, tm->wg) || add_table(&w, SRC_OVPN, tm->ovpn)))
        return -1;
    return 0;
}

static int add_nat(struct rep_list *l, const struct nat_result *nr)
{
    uint32_t base;
    if (add_src(l, SRC_NAT_MAP, nr->map, nr->n_map, &base))
        return -1;
    for (size_t i = 0; i < nr->n_map; i++)
        if (rec_add(l, REC_NAT_MAPPING, 0, 0, base + (uint32_t)i, true, nr->map[i].first_ts))
            return -1;
    if (add_src(l, SRC_UNMATCHED, nr->unm, nr->n_unm, &base))
        return -1;
    for (size_t i = 0; i < nr->n_unm; i++)
        if (rec_add(l, REC_UNMATCHED, 0, 0, base + (uint32_t)i, true, nr->unm[i].first_ts))
            return -1;
    if (nr->clock.valid && (add_src(l, SRC_CLOCK, &nr->clock, 1, &base) ||
                            rec_add(l, REC_CLOCK_OFFSET, 0, 0, base, false, 0)))
        return -1;
    return 0;
}

static int add_all(struct rep_list *l, const struct report_input *in)
{
    int rc = 0;
    for (uint8_t i = 0; i < in->n_models && i < 2 && rc == 0; i++)
        if (in->models[i])
            rc = add_model(l, in, i);
    if (rc == 0 && in->nat)
        rc = add_nat(l, in->nat);
    const struct finding_list *fl = in->findings;
    uint32_t base;
    if (rc == 0 && fl && fl->n && add_src(l, SRC_FINDING, fl->v, fl->n, &base))
        rc = -1;
    for (size_t i = 0; rc == 0 && fl && i < fl->n; i++)
        rc = rec_add(l, REC_FINDING, 0, 0, base + (uint32_t)i, true, fl->v[i].ts_us);
    return rc;
}

/* The list being sorted, for its sources (qsort gives the comparison no context; --batch sorts
 * on several threads at once). */
static _Thread_local const struct rep_list *sorting;

static int cmp_rec(const void *pa, const void *pb)
{
    const struct rep_ref *a = pa, *b = pb;
    if (a->has_ts != b->has_ts)
        return a->has_ts ? -1 : 1;
    if (a->has_ts && a->ts != b->ts)
        return a->ts < b->ts ? -1 : 1;
    if (a->type != b->type)
        return a->type < b->type ? -1 : 1;
    char ka[REP_KEY_MAX], kb[REP_KEY_MAX];
    struct rep_rec ra, rb;
    rec_key(sorting->in, ref_rec(sorting, a, &ra), ka, sizeof(ka));
    rec_key(sorting->in, ref_rec(sorting, b, &rb), kb, sizeof(kb));
    int c = strcmp(ka, kb);
    if (c)
        return c;
    return a->id < b->id ? -1 : (a->id > b->id);
}

int rep_build(struct rep_list *l, const struct report_input *in)
{
    memset(l, 0, sizeof(*l));
    bool *gre_call[2] = {NULL, NULL};
    for (uint8_t i = 0; i < in->n_models && i < 2; i++)
        if (in->models[i] && in->models[i]->gre && table_slots(in->models[i]->gre))
            gre_call[i] = calloc(table_slots(in->models[i]->gre), sizeof(bool));
    l->counting = true;
    memcpy(l->gre_call, gre_call, sizeof(gre_call));
    add_all(l, in);
    size_t n = l->n;
    memset(l, 0, sizeof(*l));
    l->v = n ? malloc(n * sizeof(*l->v)) : NULL;
    int rc = n && !l->v ? -1 : 0;
    l->cap = l->v ? n : 0;
    l->in = in;
    memcpy(l->gre_call, gre_call, sizeof(gre_call));
    if (rc == 0)
        rc = add_all(l, in);
    for (unsigned i = 0; i < 2; i++) {
        free(gre_call[i]);
        l->gre_call[i] = NULL;
    }
    if (l->n > 1) {
        sorting = l;
        qsort(l->v, l->n, sizeof(*l->v), cmp_rec);
        sorting = NULL;
    }
    return rc;
}

void rep_list_free(struct rep_list *l)
{
    free(l->v);
    memset(l, 0, sizeof(*l));
}

struct sev_ix {
    const struct finding *f;
    size_t i;
};

static int cmp_sev(const void *pa, const void *pb)
{
    const struct sev_ix *x = pa, *y = pb;
    const struct finding *a = x->f, *b = y->f;
    if (a->sev != b->sev)
        return a->sev > b->sev ? -1 : 1;
    if (a->ts_us != b->ts_us)
        return a->ts_us < b->ts_us ? -1 : 1;
    if (a->kind != b->kind)
        return a->kind < b->kind ? -1 : 1;
    return x->i < y->i ? -1 : (x->i > y->i);
}

size_t *rep_findings_by_severity(const struct finding_list *fl)
{
    if (!fl || fl->n == 0)
        return NULL;
    size_t *ix = malloc(fl->n * sizeof(*ix));
    struct sev_ix *tmp = malloc(fl->n * sizeof(*tmp));
    if (!ix || !tmp) {
        free(ix);
        free(tmp);
        return NULL;
    }
    for (size_t i = 0; i < fl->n; i++) {
        tmp[i].f = &fl->v[i];
        tmp[i].i = i;
    }
    qsort(tmp, fl->n, sizeof(*tmp), cmp_sev);
    for (size_t i = 0; i < fl->n; i++)
        ix[i] = tmp[i].i;
    free(tmp);
    return ix;
}

/* ---- capture shape: wrappers, tunnels, snaplen ---- */

void rep_capture_totals(const struct report_input *in, struct rep_capture_totals *t)
{
    memset(t, 0, sizeof(*t));
    for (unsigned i = 0; i < in->n_models && i < 2; i++) {
        const struct session_model *m = in->models[i];
        if (!m)
            continue;
        for (unsigned k = 0; k < ENCAP__COUNT; k++)
            t->encap[k] = rep_add(t->encap[k], m->c.encap[k]);
        t->snap_cut = rep_add(t->snap_cut, m->c.snap_cut);
        for (unsigned v = 0; v < VPN__COUNT; v++)
            t->snap_cut_vpn[v] = rep_add(t->snap_cut_vpn[v], m->c.snap_cut_vpn[v]);
    }
}

const char *rep_vpn_cut_name(unsigned vpn)
{
    switch (vpn) {
    case VPN_IKE:
        return "ike";
    case VPN_NATT_KEEPALIVE:
        return "natt_keepalive";
    case VPN_ESP:
        return "esp";
    case VPN_AH:
        return "ah";
    case VPN_GRE:
        return "gre";
    case VPN_PPTP:
        return "pptp";
    case VPN_L2TP:
        return "l2tp";
    case VPN_WG:
        return "wireguard";
    case VPN_OVPN:
        return "openvpn";
    default:
        return "other";
    }
}

const char *capture_pieces_frame(const struct capture_pieces *pc, uint64_t frame, uint64_t *local)
{
    *local = frame;
    if (!pc || pc->n <= 1 || !pc->base || !pc->files)
        return NULL;
    int k = 0;
    for (int i = 1; i < pc->n; i++)
        if (pc->base[i] < frame)
            k = i;
    *local = frame - pc->base[k];
    return pc->files[k];
}

const struct capture_pieces *rep_pieces_of(const struct capture_pieces *const *pieces,
                                           uint8_t capture)
{
    if (!pieces)
        return NULL;
    const struct capture_pieces *pc = pieces[capture == SIDE_OUTSIDE ? 1 : 0];
    return pc && pc->n > 1 ? pc : NULL;
}
