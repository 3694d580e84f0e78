/* session.c - the session model: flows, the per-packet dispatch to the IKE, ESP/AH and
 * PPTP/GRE/L2TP files, fragments, address-pair indexes and the end-of-capture pass. Reads struct
 * pkt only. */
#include "session_int.h"
#include "vpnscope/session_tunnel.h"

#include <pthread.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "vpnscope/decode.h"
#include "vpnscope/frag.h"
#include "vpnscope/proto.h"
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

static inline uint64_t ld_be64(const uint8_t *p)
{
    uint64_t w;
    memcpy(&w, p, 8);
    return __builtin_bswap64(w);
}

/* The order of memcmp(a, b, sizeof(*a)) then the ports (only the sign counts): the family byte,
 * then the 16 address bytes as two big-endian words (no library call: two a packet). */
static inline int ep_cmp(const struct ip_addr *a, uint16_t pa, const struct ip_addr *b, uint16_t pb)
{
    _Static_assert(sizeof(struct ip_addr) == 17, "struct ip_addr: family byte + 16 address bytes");
    if (a->v != b->v)
        return a->v < b->v ? -1 : 1;
    uint64_t x = ld_be64(a->a), y = ld_be64(b->a);
    if (x == y) {
        x = ld_be64(a->a + 8);
        y = ld_be64(b->a + 8);
    }
    if (x != y)
        return x < y ? -1 : 1;
    return (int)pa - (int)pb;
}

uint64_t activity_keepalive_us(const struct activity *a)
{
    return a->ka_ivl_n ? a->ka_ivl_sum_us / a->ka_ivl_n : 0;
}

/* Records the packet time; keeps the GAPS_PER_TUNNEL longest idle gaps (longest first). */
static void gaps_touch(struct idle_gaps *a, uint64_t *last_us, uint64_t ts, uint64_t frame)
{
    uint64_t last = *last_us;
    if (last && ts > last && ts - last >= GAP_MIN_US) {
        uint64_t len = ts - last;
        unsigned n = a->n_gaps;
        if (n < GAPS_PER_TUNNEL || len > a->gaps[n - 1].end_us - a->gaps[n - 1].start_us) {
            unsigned pos = n < GAPS_PER_TUNNEL ? n : GAPS_PER_TUNNEL - 1;
            while (pos > 0 && a->gaps[pos - 1].end_us - a->gaps[pos - 1].start_us < len) {
                a->gaps[pos] = a->gaps[pos - 1];
                pos--;
            }
            a->gaps[pos].start_us = last;
            a->gaps[pos].end_us = ts;
            a->gaps[pos].frame_after = frame;
            if (n < GAPS_PER_TUNNEL)
                a->n_gaps++;
        }
    }
    if (ts > last)
        *last_us = ts;
}

void sess_activity_touch(struct activity *a, uint64_t ts, uint64_t frame)
{
    gaps_touch(&a->idle, &a->last_us, ts, frame);
}

/* Merges neighbouring buckets so that the width doubles; the origin stays a multiple of the
 * width (one bucket earlier when it was not), so records of one capture share bucket edges. */
static void spark_double(struct spark *s)
{
    uint64_t w2 = s->width_us * 2;
    unsigned shift = s->origin_us % w2 ? 1 : 0; /* old bucket i goes to (i + shift) / 2 */
    for (int d = 0; d < 2; d++) {
        uint16_t nb[SPARK_BUCKETS];
        memset(nb, 0, sizeof(nb));
        for (unsigned i = 0; i < SPARK_BUCKETS; i++) {
            unsigned j = (i + shift) / 2;
            uint32_t v = (uint32_t)nb[j] + s->n[d][i];
            nb[j] = v > UINT16_MAX ? UINT16_MAX : (uint16_t)v;
        }
        memcpy(s->n[d], nb, sizeof(nb));
    }
    s->origin_us -= shift * s->width_us;
    s->width_us = w2;
}

/* Moves a live window forward so that ts falls in its last bucket. */
static void spark_slide(struct spark *s, uint64_t ts)
{
    uint64_t k = (ts - s->origin_us) / s->width_us - (SPARK_BUCKETS - 1);
    for (int d = 0; d < 2; d++) {
        if (k >= SPARK_BUCKETS) {
            memset(s->n[d], 0, sizeof(s->n[d]));
            continue;
        }
        memmove(s->n[d], s->n[d] + k, (SPARK_BUCKETS - k) * sizeof(s->n[d][0]));
        memset(s->n[d] + SPARK_BUCKETS - k, 0, k * sizeof(s->n[d][0]));
    }
    s->origin_us += k * s->width_us;
}

void sess_spark_count(struct spark **sp, uint64_t ts, unsigned dir, uint64_t slide_us)
{
    if (slide_us == SPARK_OFF)
        return;
    if (!*sp)
        *sp = calloc(1, sizeof(**sp));
    struct spark *s = *sp;
    if (!s)
        return; /* out of memory: no sparkline for this record */
    if (!s->width_us) {
        s->width_us = slide_us ? slide_us : SPARK_WIDTH0_US;
        s->origin_us = ts - ts % s->width_us;
        if (slide_us) /* the window ends with this bucket */
            s->origin_us = s->origin_us >= (SPARK_BUCKETS - 1) * s->width_us
                               ? s->origin_us - (SPARK_BUCKETS - 1) * s->width_us
                               : 0;
    }
    if (ts < s->origin_us)
        ts = s->origin_us; /* out of order (clock step back): the first bucket */
    if (slide_us) {
        if (ts - s->origin_us >= SPARK_BUCKETS * s->width_us)
            spark_slide(s, ts);
    } else {
        for (int cap = 0; cap < 64 && ts - s->origin_us >= SPARK_BUCKETS * s->width_us; cap++)
            spark_double(s);
    }
    uint64_t i = (ts - s->origin_us) / s->width_us;
    if (i >= SPARK_BUCKETS)
        i = SPARK_BUCKETS - 1;
    uint16_t *c = &s->n[dir ? 1 : 0][i];
    if (*c < UINT16_MAX)
        (*c)++;
}

void session_spark_live(struct session_model *m, uint64_t width_us)
{
    m->spark_slide_us = width_us;
    if (m->tun)
        m->tun->spark_slide_us = width_us;
}

void session_spark_off(struct session_model *m)
{
    session_spark_live(m, SPARK_OFF);
}

void sess_spark_evicted(void *ctx, const void *key, void *val)
{
    (void)key;
    struct spark **s = (void *)((char *)val + (uintptr_t)ctx);
    free(*s);
    *s = NULL;
}

void sess_spark_free_all(struct table *t, size_t off)
{
    for (uint32_t i = 0; t && i < table_slots(t); i++) {
        void *v = table_slot(t, i, NULL);
        if (v)
            sess_spark_evicted((void *)off, NULL, v);
    }
}

void sess_activity_keepalive(struct activity *a, uint64_t ts)
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

/* ---- flow activity (allocated on demand) ---- */

const struct activity activity_none;

/* The flow's whole activity, its gaps grown into one at the first keepalive (NULL when out of
 * memory: that keepalive is not recorded). Its last_us stays unused: the flow's act_last_us. */
static struct activity *flow_act_alloc(struct flow *f)
{
    if (!f->act_ka) {
        struct activity *a = malloc(sizeof(*a));
        if (!a)
            return NULL;
        *a = activity_none;
        if (f->act) {
            memcpy(&a->idle, f->act, idle_gaps_size(f->act->n_gaps));
            a->idle.n_cap = 0;
        }
        free(f->act);
        f->act = &a->idle;
        f->act_ka = true;
    }
    return activity_of(f->act);
}

/* Room for one more gap in *g (allocated or grown by one); false when out of memory. */
static bool gaps_grow(struct idle_gaps **g)
{
    unsigned n = *g ? (*g)->n_gaps : 0;
    if (*g && (!(*g)->n_cap || n < (*g)->n_cap || n >= GAPS_PER_TUNNEL))
        return true; /* a whole struct activity, room left, or the shortest gap is replaced */
    struct idle_gaps *ng = realloc(*g, idle_gaps_size(n + 1));
    if (!ng)
        return false;
    ng->n_gaps = (uint8_t)n;
    ng->n_cap = (uint8_t)(n + 1);
    *g = ng;
    return true;
}

void sess_activity_touch_lazy(struct idle_gaps **g, uint64_t *last_us, uint64_t ts, uint64_t frame)
{
    uint64_t last = *last_us;
    if (last && ts > last && ts - last >= GAP_MIN_US && !gaps_grow(g)) {
        *last_us = ts; /* out of memory: that gap is not recorded */
        return;
    }
    if (*g)
        gaps_touch(*g, last_us, ts, frame);
    else if (ts > last)
        *last_us = ts;
}

static void act_copy(const struct idle_gaps *g, uint64_t last_us, struct activity *out)
{
    *out = activity_none;
    if (g) {
        memcpy(&out->idle, g, idle_gaps_size(g->n_gaps));
        out->idle.n_cap = 0;
    }
    out->last_us = last_us;
}

void session_flow_activity(const struct flow *f, struct activity *out)
{
    if (f->act_ka)
        *out = *flow_ka(f);
    else
        act_copy(f->act, f->act_last_us, out);
    out->last_us = f->act_last_us;
}

void session_ipsec_activity(const struct ipsec_sa *sa, struct activity *out)
{
    act_copy(sa->act, sa->act_last_us, out);
}

void session_ike_activity(const struct ike_sa *sa, struct activity *out)
{
    act_copy(sa->act, sa->act_last_us, out);
}

void session_flow_release(struct flow *f)
{
    free(f->act && f->act_ka ? (void *)activity_of(f->act) : (void *)f->act);
    f->act = NULL;
    f->act_ka = false;
}

static void flow_evict_hook(void *ctx, const void *key, void *val)
{
    (void)ctx;
    (void)key;
    session_flow_release(val);
}

static void ipsec_evict_hook(void *ctx, const void *key, void *val)
{
    (void)ctx;
    (void)key;
    struct ipsec_sa *sa = val;
    free(sa->act);
    sa->act = NULL;
    free(sa->spark);
    sa->spark = NULL;
}

static void ike_evict_hook(void *ctx, const void *key, void *val)
{
    (void)ctx;
    (void)key;
    struct ike_sa *sa = val;
    free(sa->act);
    sa->act = NULL;
    free(sa->frames);
    sa->frames = NULL;
    free(sa->spark);
    sa->spark = NULL;
}

/* ---- labels ---- */

#define LABEL_MAX 4096 /* distinct labels kept (a label past it gets its own copy, never freed) */

static pthread_mutex_t label_lock = PTHREAD_MUTEX_INITIALIZER;
static struct table *labels; /* char[CLASSIFY_NAME_MAX_] -> const char * */

const char *session_label(const char *name)
{
    char key[CLASSIFY_NAME_MAX_];
    memset(key, 0, sizeof(key));
    size_t n = strlen(name);
    if (n >= sizeof(key))
        n = sizeof(key) - 1; /* as the inline label was cut */
    memcpy(key, name, n);
    const char *out = NULL;
    pthread_mutex_lock(&label_lock);
    if (!labels)
        labels = table_new(sizeof(key), sizeof(char *), LABEL_MAX, NULL, NULL);
    bool created = false;
    char **v = labels ? table_put(labels, key, &created) : NULL;
    if (v && !created) {
        out = *v;
    } else {
        char *copy = malloc(n + 1);
        if (copy) {
            memcpy(copy, key, n + 1);
            out = copy;
        }
        if (v)
            *v = copy;
    }
    pthread_mutex_unlock(&label_lock);
    return out;
}

/* ---- lifecycle ---- */

uint32_t session_cap(const struct session_model *m, uint32_t cap)
{
    uint32_t c = m->cap_share > 1 ? cap / m->cap_share : cap;
    return c ? c : 1;
}

int session_model_init(struct session_model *m, uint8_t side)
{
    return session_model_init_share(m, side, 1);
}

int session_model_init_share(struct session_model *m, uint8_t side, unsigned share)
{
    memset(m, 0, sizeof(*m));
    m->side = side;
    m->cap_share = (uint8_t)(share > 1 && share <= 255 ? share : 1);
    m->flows = table_new(sizeof(struct flow_key), sizeof(struct flow), session_cap(m, FLOW_MAX),
                         flow_evict_hook, NULL);
    m->ike = table_new(sizeof(struct ike_sa_key), sizeof(struct ike_sa), session_cap(m, IKE_SA_MAX),
                       ike_evict_hook, NULL);
    m->ipsec = table_new(sizeof(struct ipsec_sa_key), sizeof(struct ipsec_sa),
                         session_cap(m, IPSEC_SA_MAX), ipsec_evict_hook, NULL);
    m->pptp = table_new(sizeof(struct pptp_ctrl_key), sizeof(struct pptp_ctrl),
                        session_cap(m, PPTP_CTRL_MAX), NULL, NULL);
    m->gre = table_new(sizeof(struct gre_key), sizeof(struct gre_flow), session_cap(m, GRE_MAX),
                       sess_spark_evicted, (void *)offsetof(struct gre_flow, spark));
    m->l2tp = table_new(sizeof(struct l2tp_key), sizeof(struct l2tp_sess), session_cap(m, L2TP_MAX),
                        NULL, NULL);
    m->mtu = table_new(sizeof(struct flow_key), sizeof(struct mtu_flow),
                       session_cap(m, IPSEC_SA_MAX), mtu_evicted, NULL);
    m->too_big = table_new(sizeof(struct too_big_key), sizeof(struct too_big_rec),
                           session_cap(m, IPSEC_SA_MAX), NULL, NULL);
    if (!m->flows || !m->ike || !m->ipsec || !m->pptp || !m->gre || !m->l2tp || !m->mtu ||
        !m->too_big) {
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
    for (uint32_t i = 0; m->flows && i < table_slots(m->flows); i++) {
        struct flow *f = table_slot(m->flows, i, NULL);
        if (f)
            session_flow_release(f);
    }
    for (uint32_t i = 0; m->ipsec && i < table_slots(m->ipsec); i++) {
        void *sa = table_slot(m->ipsec, i, NULL);
        if (sa)
            ipsec_evict_hook(NULL, NULL, sa);
    }
    for (uint32_t i = 0; m->ike && i < table_slots(m->ike); i++) {
        void *sa = table_slot(m->ike, i, NULL);
        if (sa)
            ike_evict_hook(NULL, NULL, sa);
    }
    table_free(m->flows);
    table_free(m->ike);
    table_free(m->ipsec);
    table_free(m->pptp);
    sess_spark_free_all(m->gre, offsetof(struct gre_flow, spark));
    table_free(m->gre);
    table_free(m->l2tp);
    for (uint32_t i = 0; m->mtu && i < table_slots(m->mtu); i++) {
        void *mf = table_slot(m->mtu, i, NULL);
        if (mf)
            mtu_evicted(NULL, NULL, mf);
    }
    table_free(m->mtu);
    table_free(m->too_big);
    m->mtu = m->too_big = NULL;
    sess_tun_free(m);
    m->flows = m->ike = m->ipsec = m->pptp = m->gre = m->l2tp = NULL;
}

/* ---- flows ---- */

/* The canonical key of the endpoints (a,pa) and (b,pb); true when (a,pa) is its a end. */
static bool flow_key_make(struct flow_key *k, uint8_t proto, const struct ip_addr *a, uint16_t pa,
                          const struct ip_addr *b, uint16_t pb, int *cmp)
{
    memset(k, 0, sizeof(*k));
    int c = ep_cmp(a, pa, b, pb);
    if (c <= 0) {
        k->a = *a, k->pa = pa, k->b = *b, k->pb = pb;
    } else {
        k->a = *b, k->pa = pb, k->b = *a, k->pb = pa;
    }
    k->proto = proto;
    *cmp = c;
    return c <= 0;
}

void sess_flow_key(struct flow_key *k, uint8_t proto, const struct ip_addr *a, uint16_t pa,
                   const struct ip_addr *b, uint16_t pb)
{
    int c;
    flow_key_make(k, proto, a, pa, b, pb, &c);
}

struct flow *session_flow(struct session_model *m, const struct pkt *p, int *dir)
{
    if (!p->ipver)
        return NULL;
    uint16_t sp = p->has_ports ? p->sport : 0, dp = p->has_ports ? p->dport : 0;
    if (ip_proto_is_icmp(p->l4proto)) {
        sp = dp = p->icmp_id; /* echo flows by identifier */
    }
    struct flow_key k;
    int c;
    bool from_a = flow_key_make(&k, p->l4proto, &p->src, sp, &p->dst, dp, &c);
    bool created = false;
    struct flow *f = table_put(m->flows, &k, &created);
    if (!f)
        return NULL;
    if (created) {
        f->rev = !from_a;
        f->proto = p->l4proto;
        f->first_ts = p->ts_us;
        f->first_frame = p->frame;
    }
    /* 0: sent by the flow's first sender; both ends alike (c == 0): always 0 */
    *dir = c == 0 || from_a != f->rev ? 0 : 1;
    return f;
}

void session_flow_key(const struct session_model *m, const struct flow *f, struct flow_key *k)
{
    const struct flow_key *tk = table_key_of(m->flows, f);
    if (tk)
        *k = *tk;
    else
        memset(k, 0, sizeof(*k));
}

struct endpoint flow_end(const struct session_model *m, const struct flow *f, int which)
{
    struct endpoint e;
    memset(&e, 0, sizeof(e));
    const struct flow_key *k = table_key_of(m->flows, f);
    if (k) {
        bool b = (which != 0) != f->rev; /* the key's b end */
        e.ip = b ? k->b : k->a;
        e.port = b ? k->pb : k->pa;
    }
    return e;
}

const struct flow *session_flow_lookup(const struct session_model *m, uint8_t proto,
                                       const struct ip_addr *a, uint16_t pa,
                                       const struct ip_addr *b, uint16_t pb)
{
    struct flow_key k;
    sess_flow_key(&k, proto, a, pa, b, pb);
    return table_get(m->flows, &k, false);
}

/* ---- per packet ---- */

void session_update(struct session_model *m, const struct pkt *p, struct flow *f, int dir)
{
    struct pkt adopted;
    if (f)
        p = sess_tun_adopt(m, p, f, &adopted);
    if (f) {
        f->pkts[dir]++;
        f->bytes[dir] += p->ip_len ? p->ip_len : p->caplen;
        f->last_ts = p->ts_us;
        if (f->pkts[0] && f->pkts[1] && f->pkts[0] + f->pkts[1] <= 2)
            table_set_class(m->flows, f, 1);
        else if (f->pkts[0] && f->pkts[1] && dir == 1 && f->pkts[1] == 1)
            table_set_class(m->flows, f, 1);
        sess_activity_touch_lazy(&f->act, &f->act_last_us, p->ts_us, p->frame);
        if (p->vpn != VPN_NONE && !f->vpn)
            f->vpn = (uint8_t)p->vpn;
        if (p->vpn == VPN_IKE && p->l4proto == IPP_UDP)
            f->hint = p->nonesp_marker ? HINT_NATT : (f->hint ? f->hint : HINT_IKE);
    }
    sess_tun_update(m, p, f, dir);
    bool two_way = f && f->pkts[0] && f->pkts[1];
    sess_mtu_update(m, p);
    if ((unsigned)p->vpn < VPN__COUNT)
        m->c.vpn_packets[p->vpn]++;
    switch (p->vpn) {
    case VPN_IKE:
        if (p->status == PKT_DECODED || p->ike.ispi)
            sess_ike_update(m, p);
        break;
    case VPN_NATT_KEEPALIVE:
        m->c.keepalives++;
        if (f) {
            struct activity *a = flow_act_alloc(f);
            if (a)
                sess_activity_keepalive(a, p->ts_us);
        }
        break;
    case VPN_ESP:
    case VPN_AH:
        if (p->status == PKT_DECODED || (p->vpn == VPN_ESP ? p->esp.spi : p->ah.spi))
            sess_ipsec_update(m, p, p->vpn == VPN_AH, two_way);
        if (p->ah_esp && p->esp.spi)
            sess_ipsec_update(m, p, false, two_way);
        break;
    case VPN_PPTP:
        if (p->pptp.ctrl_type >= PPTP_SCCRQ && p->pptp.ctrl_type <= PPTP_SLI)
            sess_pptp_update(m, p);
        break;
    case VPN_GRE:
        sess_gre_update(m, p, two_way);
        break;
    case VPN_L2TP:
        if (p->l2tp.version)
            sess_l2tp_update(m, p);
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
    bool vpn = fi->proto == IPP_ESP || fi->proto == IPP_AH || fi->proto == IPP_GRE || is_ike ||
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

/* Side inference (single capture): NAT-D says where the capture sits relative to a NAT; without
 * NAT-D, the addresses do. */
static uint8_t infer_side(const struct session_model *m)
{
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
    return inside > outside ? SIDE_INSIDE : outside > inside ? SIDE_OUTSIDE : SIDE_SINGLE;
}

void session_finish(struct session_model *m)
{
    session_index(m);
    sess_resolve_parents(m);
    sess_pair_ipsec(m);
    sess_mtu_finish(m);
    m->side_inferred = infer_side(m);
}
