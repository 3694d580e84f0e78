/* det_util.c - small helpers shared by the detectors (det_util.h). */
#include "det_util.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

const char *du_ip(const struct ip_addr *a, char *buf)
{
    if (!a->v) {
        snprintf(buf, DU_IPSTR, "?");
        return buf;
    }
    return ip_addr_str(a, buf, DU_IPSTR);
}

const char *du_ipp(const struct ip_addr *a, char *buf)
{
    if (a->v != 6)
        return du_ip(a, buf);
    char t[DU_IPSTR];
    ip_addr_str(a, t, sizeof(t));
    snprintf(buf, DU_IPSTR, "[%.*s]", DU_IPSTR - 3, t);
    return buf;
}

const char *du_hms(uint64_t ts_us, char *buf)
{
    time_t t = (time_t)(ts_us / 1000000u);
    struct tm tm;
    if (!gmtime_r(&t, &tm)) {
        snprintf(buf, 16, "?");
        return buf;
    }
    snprintf(buf, 16, "%02d:%02d:%02d UTC", tm.tm_hour, tm.tm_min, tm.tm_sec);
    return buf;
}

const char *du_spi(uint32_t spi, char *buf)
{
    snprintf(buf, 12, "0x%08x", spi);
    return buf;
}

struct finding_session *du_session_endpoint(struct finding *f, unsigned role,
                                            const struct endpoint *e)
{
    struct finding_session *fs = finding_session_add(f, role, &e->ip);
    if (fs) {
        fs->has_port = true;
        fs->port = e->port;
    }
    return fs;
}

void du_ev_ike_spi(struct finding *f, uint64_t ispi)
{
    char hex[20];
    snprintf(hex, sizeof(hex), "%016llx", (unsigned long long)ispi);
    finding_ev_str(f, "ike_spi", hex);
}

void du_cat(char *buf, size_t n, const char *fmt, ...)
{
    size_t len = strlen(buf);
    if (len + 1 >= n)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf + len, n - len, fmt, ap);
    va_end(ap);
}

const char *du_proto_upper(uint8_t proto, char *buf)
{
    const char *name = ip_proto_name(proto);
    size_t i = 0;
    for (; name && name[i] && i + 1 < DU_PROTOSTR; i++)
        buf[i] = (char)toupper((unsigned char)name[i]);
    buf[i] = 0;
    if (!name)
        snprintf(buf, DU_PROTOSTR, "IP");
    return buf;
}

double du_sec(uint64_t us)
{
    return (double)us / 1e6;
}

bool du_is_group(const struct ip_addr *a)
{
    if (a->v == 4)
        return (a->a[0] & 0xf0) == 0xe0 ||
               (a->a[0] == 255 && a->a[1] == 255 && a->a[2] == 255 && a->a[3] == 255);
    if (a->v == 6)
        return a->a[0] == 0xff;
    return false;
}

bool du_is_local(const struct ip_addr *a)
{
    static const uint8_t loop[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
    if (a->v == 4)
        return a->a[0] == 127 || (a->a[0] == 169 && a->a[1] == 254);
    if (a->v == 6)
        return (a->a[0] == 0xfe && (a->a[1] & 0xc0) == 0x80) || memcmp(a->a, loop, 16) == 0;
    return false;
}

bool du_same_subnet(const struct ip_addr *a, const struct ip_addr *b)
{
    if (a->v != b->v || !a->v)
        return false;
    return memcmp(a->a, b->a, a->v == 4 ? 3 : 8) == 0;
}

bool du_two(const struct detect_ctx *c)
{
    return c->inside && c->outside;
}

uint8_t du_model_side(const struct session_model *m)
{
    return m->side != SIDE_SINGLE ? m->side : m->side_inferred;
}

uint8_t du_cap(const struct detect_ctx *c, const struct session_model *m)
{
    if (!du_two(c))
        return SIDE_SINGLE;
    return m == c->outside ? SIDE_OUTSIDE : SIDE_INSIDE;
}

bool du_is_nat_addr(const struct detect_ctx *c, const struct ip_addr *ip)
{
    if (!c->nat)
        return false;
    for (unsigned i = 0; i < c->nat->n_nat_addrs && i < 8; i++)
        if (ip_addr_eq(&c->nat->nat_addrs[i], ip))
            return true;
    return false;
}

uint64_t du_model_end(const struct session_model *m)
{
    return m->c.last_ts;
}

const struct gap *du_gap_at(const struct idle_gaps *a, uint64_t ts)
{
    for (unsigned i = 0; i < a->n_gaps && i < GAPS_PER_TUNNEL; i++)
        if (a->gaps[i].start_us <= ts && ts <= a->gaps[i].end_us)
            return &a->gaps[i];
    return NULL;
}

const struct gap *du_gap_after(const struct idle_gaps *a, uint64_t ts, uint64_t slack_us)
{
    const struct gap *best = NULL;
    for (unsigned i = 0; i < a->n_gaps && i < GAPS_PER_TUNNEL; i++)
        if (a->gaps[i].start_us >= ts && a->gaps[i].start_us <= ts + slack_us &&
            (!best || a->gaps[i].start_us < best->start_us))
            best = &a->gaps[i];
    if (!best)
        best = du_gap_at(a, ts);
    return best;
}

const struct flow *du_flow_find(const struct session_model *m, uint8_t proto,
                                const struct ip_addr *a, uint16_t pa, const struct ip_addr *b,
                                uint16_t pb)
{
    return session_flow_lookup(m, proto, a, pa, b, pb);
}

static bool pair_eq(const struct ip_addr *x, const struct ip_addr *y, const struct ip_addr *a,
                    const struct ip_addr *b)
{
    return (ip_addr_eq(x, a) && ip_addr_eq(y, b)) || (ip_addr_eq(x, b) && ip_addr_eq(y, a));
}

const struct ike_sa *du_ike_between(const struct session_model *m, const struct ip_addr *a,
                                    const struct ip_addr *b, uint32_t *it)
{
    if (m->idx)
        return session_ike_between(m, a, b, it);
    for (uint32_t i = *it; i < table_slots(m->ike); i++) {
        const struct ike_sa *ik = table_slot(m->ike, i, NULL);
        if (ik && pair_eq(&ik->initiator.ip, &ik->responder.ip, a, b)) {
            *it = i + 1;
            return ik;
        }
    }
    *it = table_slots(m->ike);
    return NULL;
}

const struct ipsec_sa *du_ipsec_between(const struct session_model *m, const struct ip_addr *a,
                                        const struct ip_addr *b, uint32_t *it)
{
    if (m->idx)
        return session_ipsec_between(m, a, b, it);
    for (uint32_t i = *it; i < table_slots(m->ipsec); i++) {
        const struct ipsec_sa *sa = table_slot(m->ipsec, i, NULL);
        if (sa && pair_eq(&sa->k.src, &sa->k.dst, a, b)) {
            *it = i + 1;
            return sa;
        }
    }
    *it = table_slots(m->ipsec);
    return NULL;
}

void du_key_ip(struct ip_addr *dst, const struct ip_addr *ip)
{
    memset(dst, 0, sizeof(*dst));
    dst->v = ip->v;
    memcpy(dst->a, ip->a, ip->v == 4 ? 4 : 16);
}

void du_key_make(struct du_key *k, uint8_t tag, uint8_t proto, const struct ip_addr *a, uint16_t pa,
                 const struct ip_addr *b, uint16_t pb, uint32_t x)
{
    memset(k, 0, sizeof(*k));
    if (a)
        du_key_ip(&k->a, a);
    if (b)
        du_key_ip(&k->b, b);
    k->x = x;
    k->pa = pa;
    k->pb = pb;
    k->proto = proto;
    k->tag = tag;
}

struct du_chain {
    uint32_t head, tail;
};

void du_index_init(struct du_index *x, uint32_t key_size, uint32_t n)
{
    memset(x, 0, sizeof(*x));
    x->n = n;
    if (!n)
        return;
    x->t = table_new(key_size, sizeof(struct du_chain), n, NULL, NULL); /* <= n keys: no eviction */
    x->next = malloc(sizeof(uint32_t) * n);
    if (!x->t || !x->next) {
        table_free(x->t);
        free(x->next);
        x->t = NULL;
        x->next = NULL;
    }
}

void du_index_add(struct du_index *x, const void *key, uint32_t item)
{
    if (!x->t || item >= x->n)
        return;
    bool created = false;
    struct du_chain *c = table_put(x->t, key, &created);
    if (!c) {
        /* out of memory: degrade to the full scan rather than lose an item */
        table_free(x->t);
        free(x->next);
        x->t = NULL;
        x->next = NULL;
        return;
    }
    x->next[item] = DU_NONE;
    if (created) {
        c->head = c->tail = item;
    } else {
        x->next[c->tail] = item;
        c->tail = item;
    }
}

uint32_t du_index_first(const struct du_index *x, const void *key)
{
    if (!x->t)
        return x->n ? 0 : DU_NONE;
    const struct du_chain *c = table_get(x->t, key, false);
    return c ? c->head : DU_NONE;
}

uint32_t du_index_next(const struct du_index *x, uint32_t item)
{
    if (!x->t)
        return item + 1 < x->n ? item + 1 : DU_NONE;
    return item < x->n ? x->next[item] : DU_NONE;
}

void du_index_free(struct du_index *x)
{
    table_free(x->t);
    free(x->next);
    memset(x, 0, sizeof(*x));
}

int du_set_find(const struct du_ipset *s, const struct ip_addr *ip)
{
    for (unsigned i = 0; i < s->n; i++)
        if (ip_addr_eq(&s->v[i], ip))
            return (int)i;
    return -1;
}

int du_set_add(struct du_ipset *s, const struct ip_addr *ip)
{
    int i = du_set_find(s, ip);
    if (i >= 0)
        return i;
    if (s->n >= DU_SET_MAX)
        return -1;
    s->v[s->n] = *ip;
    return (int)s->n++;
}

uint32_t du_exch_count(const struct ike_sa *sa, uint8_t exch)
{
    for (unsigned i = 0; i < sa->n_exch && i < IKE_EXCH_SLOTS; i++)
        if (sa->exch_type[i] == exch)
            return sa->exch_count[i];
    return 0;
}

const struct nat_mapping *du_udp_mapping(const struct nat_result *r, struct du_lazy *mi,
                                         const struct ip_addr *ip, uint16_t port,
                                         const struct ip_addr *peer, const uint16_t *peer_port)
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
            ip_addr_eq(&mp->peer.ip, peer) && (!peer_port || mp->peer.port == *peer_port))
            return mp;
    }
    return NULL;
}

void du_lazy_free(struct du_lazy *l)
{
    if (l->built)
        du_index_free(&l->x);
    l->built = false;
}
