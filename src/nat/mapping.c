/* mapping.c - the correlator's mapping records: the direction and identities of a pair, the
 * flow index, the evidence a pair adds and the NAT-D check. */
#include "corr_int.h"

#include <stdlib.h>

#include "vpnscope/natd.h"
#include "vpnscope/proto.h"
#include "vpnscope/session.h"

static bool is_nat_addr(const struct nat_corr *c, const struct ip_addr *a)
{
    for (int i = 0; i < c->o.n_nat_addrs && i < 8; i++)
        if (ip_addr_eq(&c->o.nat_addrs[i], a))
            return true;
    return false;
}

static void to_nat_id(const struct ident *id, struct nat_id *n)
{
    memset(n, 0, sizeof(*n));
    n->ip = id->ip;
    if (id->kind == IK_PORT) {
        n->has_port = true;
        n->port = id->val;
    } else if (id->kind == IK_CALL) {
        n->has_call_id = true;
        n->call_id = id->val;
    } else if (id->kind == IK_ICMP) {
        n->has_icmp_id = true;
        n->icmp_id = id->val;
    }
}

/* ---- pairing --------------------------------------------------------------------------- */

static bool ep_same(const struct ip_addr *a, uint16_t pa, const struct ip_addr *b, uint16_t pb,
                    bool ports)
{
    return ip_addr_eq(a, b) && (!ports || pa == pb);
}

/* The pair's direction; *by_time: decided by the packets' times alone (not by their tuples). */
static int pair_dir(const struct nat_corr *c, const struct pend *in, const struct pend *out,
                    bool *by_time)
{
    *by_time = false;
    bool ports = (in->flags & PF_PORTS) && (out->flags & PF_PORTS);
    bool s_same = ep_same(&in->src, in->sport, &out->src, out->sport, ports);
    bool d_same = ep_same(&in->dst, in->dport, &out->dst, out->dport, ports);
    if (!s_same && d_same)
        return DIR_TO_PEER;
    if (s_same && !d_same)
        return DIR_FROM_PEER;
    if (in->ttl > out->ttl)
        return DIR_TO_PEER;
    if (in->ttl < out->ttl)
        return DIR_FROM_PEER;
    if (is_nat_addr(c, &out->src))
        return DIR_TO_PEER;
    if (is_nat_addr(c, &out->dst))
        return DIR_FROM_PEER;
    bool sp = ip_addr_is_private(&in->src);
    bool dp = ip_addr_is_private(&in->dst);
    if (sp != dp)
        return sp ? DIR_TO_PEER : DIR_FROM_PEER;
    *by_time = true;
    return in->ts <= out->ts ? DIR_TO_PEER : DIR_FROM_PEER;
}

/* Identities of a pair as used for the flow index: address + port (UDP/TCP), + echo id (ICMP),
 * address only otherwise (GRE Call IDs are the receiver's, not an endpoint's). */
struct pair_ids {
    int dir;
    bool by_time; /* the direction came from the packets' times (pair_dir) */
    struct ident cin, cout, peer;
};

void corr_flow_ident(const struct pend *e, bool client_is_src, struct ident *client,
                     struct ident *peer)
{
    const struct ip_addr *cip = client_is_src ? &e->src : &e->dst;
    const struct ip_addr *pip = client_is_src ? &e->dst : &e->src;
    uint16_t cport = client_is_src ? e->sport : e->dport;
    uint16_t pport = client_is_src ? e->dport : e->sport;
    if (e->flags & PF_PORTS) {
        *client = mk_ident(cip, IK_PORT, cport);
        *peer = mk_ident(pip, IK_PORT, pport);
    } else if (e->flags & PF_ECHO) {
        *client = mk_ident(cip, IK_ICMP, e->icmp_id);
        *peer = mk_ident(pip, IK_IP, 0);
    } else {
        *client = mk_ident(cip, IK_IP, 0);
        *peer = mk_ident(pip, IK_IP, 0);
    }
}

static void pair_ids(const struct nat_corr *c, const struct pend *in, const struct pend *out,
                     struct pair_ids *ids)
{
    ids->dir = pair_dir(c, in, out, &ids->by_time);
    bool src = ids->dir == DIR_TO_PEER;
    struct ident pin;
    corr_flow_ident(in, src, &ids->cin, &pin);
    corr_flow_ident(out, src, &ids->cout, &ids->peer);
}

/* The flow-index key of a client and peer identity on one side. */
static struct fkey flow_key(uint8_t proto, uint8_t side, const struct ident *client,
                            const struct ident *peer)
{
    struct fkey k;
    memset(&k, 0, sizeof(k));
    k.client = *client;
    k.peer = *peer;
    k.proto = proto;
    k.side = side;
    return k;
}

uint32_t corr_flow_lookup(struct nat_corr *c, uint8_t proto, uint8_t side,
                          const struct ident *client, const struct ident *peer)
{
    struct fkey k = flow_key(proto, side, client, peer);
    uint32_t *v = table_get(c->flowidx, &k, false);
    return v ? *v : NIL;
}

static void flow_set(struct nat_corr *c, uint8_t proto, uint8_t side, const struct ident *client,
                     const struct ident *peer, uint32_t idx)
{
    struct fkey k = flow_key(proto, side, client, peer);
    uint32_t *v = table_put(c->flowidx, &k, NULL);
    if (v)
        *v = idx;
}

/* Does the pair agree with the mapping already known for its inside flow? */
bool corr_consistent(struct nat_corr *c, const struct pend *in, const struct pend *out)
{
    struct pair_ids ids;
    pair_ids(c, in, out, &ids);
    uint32_t mi = corr_flow_lookup(c, in->proto, SIDE_INSIDE, &ids.cin, &ids.peer);
    if (mi == NIL)
        return false;
    uint32_t mo = corr_flow_lookup(c, in->proto, SIDE_OUTSIDE, &ids.cout, &ids.peer);
    return mi == mo;
}

/* ---- NAT-D ----------------------------------------------------------------------------- */

static void natd_check(struct nat_corr *c, struct mint *mp, const struct pkt *p,
                       const struct pend *in, const struct pend *out, int dir)
{
    (void)c;
    if (p->vpn != VPN_IKE || p->ike.n_natd == 0)
        return;
    const struct ike_msg *m = &p->ike;
    unsigned nv1 = 0;
    for (unsigned i = 0; i < m->n_natd && i < IKE_MAX_NATD; i++) {
        const struct ike_natd *nd = &m->natd[i];
        bool v1_first = nd->kind == IKE_NATD_V1 && nv1++ == 0;
        bool src_hash = nd->kind == IKE_NATD_V2_SRC || (nd->kind == IKE_NATD_V1 && !v1_first);
        bool dst_hash = nd->kind == IKE_NATD_V2_DST || v1_first;
        if (dir == DIR_TO_PEER && src_hash) {
            /* the client hashed its own address: which one? */
            if (natd_matches(nd, 0, m->ispi, m->rspi, &in->src, in->sport)) {
                mp->m.natd_src = 1;
                mp->m.evidence |= NAT_EV_NATD;
            } else if (natd_matches(nd, 0, m->ispi, m->rspi, &out->src, out->sport)) {
                if (mp->m.natd_src != 1)
                    mp->m.natd_src = 2;
                mp->m.evidence |= NAT_EV_NATD;
            } else if (mp->m.natd_src < 0) {
                mp->m.natd_src = 0;
                mp->m.forced_encap = true;
            }
        } else if (dir == DIR_FROM_PEER && dst_hash) {
            /* the peer hashed the client's address as it sees it: the outside one */
            if (natd_matches(nd, 0, m->ispi, m->rspi, &out->dst, out->dport))
                mp->m.evidence |= NAT_EV_NATD;
        }
    }
}

/* ---- mappings -------------------------------------------------------------------------- */

static void add_spi(uint32_t *v, uint8_t *n, uint32_t spi)
{
    for (unsigned i = 0; i < *n; i++)
        if (v[i] == spi)
            return;
    if (*n < NAT_MAX_SPIS)
        v[(*n)++] = spi;
}

/* A new mapping beyond the cap is dropped (counted); the last NAT_MAP_VPN_RESERVE records are
 * kept for VPN traffic (a decoded VPN layer on either side of the pair), so that other flows
 * filling the table cannot hide the tunnels that start later. */
static struct mint *mapping_get(struct nat_corr *c, const struct mkey *k, uint64_t ts, bool vpn,
                                bool *created)
{
    *created = false;
    uint32_t *slot = table_get(c->mapidx, k, true);
    if (slot)
        return &c->maps[*slot];
    if (c->n_maps >= NAT_MAP_MAX || (!vpn && c->n_maps >= NAT_MAP_MAX - NAT_MAP_VPN_RESERVE)) {
        c->dropped_records++;
        return NULL;
    }
    if (c->n_maps == c->cap_maps) {
        size_t nc = c->cap_maps ? c->cap_maps * 2 : 64;
        struct mint *nm = realloc(c->maps, nc * sizeof(*nm));
        if (!nm) {
            c->oom = true;
            return NULL;
        }
        c->maps = nm;
        c->cap_maps = nc;
    }
    slot = table_put(c->mapidx, k, NULL);
    if (!slot)
        return NULL;
    *slot = (uint32_t)c->n_maps;
    struct mint *mp = &c->maps[c->n_maps++];
    memset(mp, 0, sizeof(*mp));
    mp->key = *k;
    mp->m.proto = k->proto;
    to_nat_id(&k->in, &mp->m.inside);
    to_nat_id(&k->out, &mp->m.outside);
    to_nat_id(&k->peer, &mp->m.peer);
    mp->m.translated = memcmp(&k->in, &k->out, sizeof(k->in)) != 0;
    mp->m.first_ts = ts;
    mp->m.last_ts = ts;
    mp->m.natd_src = -1;
    mp->m.next_same_inside = -1;
    mp->next = NIL;
    *created = true;
    return mp;
}

static struct mint *pair_mapping(struct nat_corr *c, const struct pend *in, const struct pend *out,
                                 uint64_t t0, int *dirp, uint32_t *extra, bool *by_time);
/* A weak pair (little payload: a NAT-T keepalive, a small probe) that is evidence on its own when
 * nothing contradicts it: IPv4 on both sides with the same nonzero ID and the same total length
 * (a NAT rewrites neither), and the peer's endpoint (address, and port when there are ports)
 * the same on both sides, as a source NAT leaves it. The caller adds that it was the only
 * candidate in the matching window. */
static bool single_pair_ok(const struct pend *in, const struct pend *out, int dir)
{
    if (in->ipver != 4 || out->ipver != 4 || in->ip_id != out->ip_id || in->ip_id == 0 ||
        in->ip_len != out->ip_len || in->proto != out->proto)
        return false;
    bool ports = (in->flags & PF_PORTS) && (out->flags & PF_PORTS);
    if (dir == DIR_TO_PEER)
        return ip_addr_eq(&in->dst, &out->dst) && (!ports || in->dport == out->dport);
    return ip_addr_eq(&in->src, &out->src) && (!ports || in->sport == out->sport);
}

static void update_mapping(struct nat_corr *c, struct mint *mp, const struct pend *in,
                           const struct pend *out, const struct pkt *cur, int dir,
                           uint32_t extra_ev, uint64_t t0, uint64_t t1);

void corr_on_pair(struct nat_corr *c, const struct pend *in, const struct pend *out,
                  const struct pkt *cur)
{
    c->pairs++;
    if (in->flags & PF_ICMP_ERR)
        return; /* quoted headers: no mapping of their own */
    uint8_t proto = in->proto;
    uint64_t t0 = in->ts < out->ts ? in->ts : out->ts;
    uint64_t t1 = in->ts < out->ts ? out->ts : in->ts;
    bool pptp_ctl = proto == IPP_TCP && ((in->flags | out->flags) & PF_PPTP);
    /* the TTL order can decide the direction of an untranslated pair: part of the key */
    uint64_t kb = out->fh + (in->ttl > out->ttl ? 1 : in->ttl < out->ttl ? 2 : 3);
    struct mcache *ce = &c->mc[(in->fh * 0x9e3779b97f4a7c15ull ^ kb) & (MC_SIZE - 1)];
    int dir;
    uint32_t extra_ev = 0;
    struct mint *mp;
    bool vpn = in->vpn || out->vpn;
    bool hit = !pptp_ctl && ce->valid && ce->a == in->fh && ce->b == kb;
    if (hit && ce->valid == 2 && ce->nmaps == c->n_maps && (ce->vpn || !vpn)) {
        c->dropped_records++; /* as pair_mapping: no mapping, and none may be created */
        return;
    }
    if (hit && ce->valid == 1 && (proto != IPP_GRE || ce->gen == c->call_gen)) {
        dir = ce->dir;
        extra_ev = ce->extra_ev;
        mp = &c->maps[ce->idx];
        if (t0 > mp->m.last_ts && t0 - mp->m.last_ts > mp->m.max_gap_survived_us)
            mp->m.max_gap_survived_us = t0 - mp->m.last_ts;
    } else {
        uint64_t dropped = c->dropped_records;
        bool by_time = false;
        mp = pair_mapping(c, in, out, t0, &dir, &extra_ev, &by_time);
        /* dropped by the cap (not out of memory): remembered, unless the mapping's identities
         * depend on more than the two tuples (GRE Call IDs learned, a direction from times) */
        if (!mp && !pptp_ctl && c->dropped_records != dropped && proto != IPP_GRE && !by_time) {
            ce->a = in->fh;
            ce->b = kb;
            ce->nmaps = (uint32_t)c->n_maps;
            ce->vpn = vpn;
            ce->valid = 2;
        }
        if (!mp)
            return;
        if (!pptp_ctl) {
            ce->a = in->fh;
            ce->b = kb;
            ce->idx = (uint32_t)(mp - c->maps);
            ce->gen = c->call_gen;
            ce->extra_ev = extra_ev;
            ce->dir = (uint8_t)dir;
            ce->valid = 1;
        }
    }
    c->dir_pairs[dir]++;
    update_mapping(c, mp, in, out, cur, dir, extra_ev, t0, t1);
}

/* The mapping of a pair (created when new) by its identities; NULL when none can be kept. */
static struct mint *pair_mapping(struct nat_corr *c, const struct pend *in, const struct pend *out,
                                 uint64_t t0, int *dirp, uint32_t *extra, bool *by_time)
{
    struct pair_ids ids;
    pair_ids(c, in, out, &ids);
    int dir = ids.dir;
    *dirp = dir;
    *by_time = ids.by_time;
    uint8_t proto = in->proto;
    if (proto == IPP_TCP && ((in->flags & PF_PPTP) || (out->flags & PF_PPTP)))
        corr_pptp_pair(c, in, out, dir);

    struct mkey k;
    memset(&k, 0, sizeof(k));
    k.proto = proto;
    k.in = ids.cin;
    k.out = ids.cout;
    k.peer = ids.peer;
    uint32_t extra_ev = 0;
    if (proto == IPP_GRE && (in->flags & PF_CALL) && in->gre_ver == 1) {
        if (dir == DIR_TO_PEER) {
            uint16_t z = in->call_id;
            struct cval *v = corr_call_get(c, &in->src, &out->dst, 1, z, false);
            k.peer = mk_ident(&out->dst, IK_CALL, z);
            struct cval *r = v ? NULL : corr_call_get(c, &in->src, &out->dst, 2, z, false);
            if (v && v->has_xy) {
                k.in = mk_ident(&in->src, IK_CALL, v->x);
                k.out = mk_ident(&out->src, IK_CALL, v->y);
                extra_ev |= NAT_EV_PPTP_CONTROL;
            } else if (r && r->has_z) {
                /* server behind the router: GRE to the client carries the client's Call ID */
                k.in = mk_ident(&in->src, IK_CALL, r->z);
                k.out = mk_ident(&out->src, IK_CALL, r->z);
                k.peer = mk_ident(&out->dst, IK_CALL, r->x);
                extra_ev |= NAT_EV_PPTP_CONTROL;
            }
        } else {
            k.in = mk_ident(&in->dst, IK_CALL, in->call_id);
            k.out = mk_ident(&out->dst, IK_CALL, out->call_id);
            struct cval *v = corr_call_get(c, &in->dst, &out->src, 0, in->call_id, false);
            struct cval *r =
                v ? NULL : corr_call_get(c, &in->dst, &out->src, 3, in->call_id, false);
            if (v && v->has_z) {
                k.peer = mk_ident(&out->src, IK_CALL, v->z);
                extra_ev |= NAT_EV_PPTP_CONTROL;
            } else if (r && r->has_xy) {
                /* server behind the router: GRE from the client carries the server's Call ID */
                k.peer = mk_ident(&out->src, IK_CALL, r->x);
                extra_ev |= NAT_EV_PPTP_CONTROL;
            }
        }
    }
    *extra = extra_ev;
    bool created = false;
    struct mint *mp = mapping_get(c, &k, t0, in->vpn || out->vpn, &created);
    if (!mp)
        return NULL;
    uint32_t idx = (uint32_t)(mp - c->maps);
    if (created) {
        /* the same inside flow had another outside identity before: that one was lost */
        uint32_t prev = corr_flow_lookup(c, proto, SIDE_INSIDE, &ids.cin, &ids.peer);
        if (prev != NIL && prev != idx) {
            if (c->maps[prev].next == NIL)
                c->maps[prev].next = idx;
            struct nat_mapping *pm = &c->maps[prev].m;
            uint64_t gap = t0 > pm->last_ts ? t0 - pm->last_ts : 0;
            if (!pm->min_gap_lost_us || gap < pm->min_gap_lost_us)
                pm->min_gap_lost_us = gap;
        }
    } else if (t0 > mp->m.last_ts && t0 - mp->m.last_ts > mp->m.max_gap_survived_us) {
        mp->m.max_gap_survived_us = t0 - mp->m.last_ts;
    }
    if (created) {
        flow_set(c, proto, SIDE_INSIDE, &ids.cin, &ids.peer, idx);
        flow_set(c, proto, SIDE_OUTSIDE, &ids.cout, &ids.peer, idx);
    }
    return mp;
}

static void update_mapping(struct nat_corr *c, struct mint *mp, const struct pend *in,
                           const struct pend *out, const struct pkt *cur, int dir,
                           uint32_t extra_ev, uint64_t t0, uint64_t t1)
{
    uint8_t proto = in->proto;
    struct nat_mapping *m = &mp->m;
    if (t0 < m->first_ts)
        m->first_ts = t0;
    if (t1 > m->last_ts)
        m->last_ts = t1;
    m->pairs++;
    if ((in->flags & PF_WEAK) || (out->flags & PF_WEAK)) {
        mp->weak++;
        if (c->pair_sole && single_pair_ok(in, out, dir))
            mp->single_ok++;
    } else {
        mp->strong++;
    }
    uint32_t ev = (in->ev & out->ev) | NAT_EV_TIMING | extra_ev;
    if (in->ipver == 4 && out->ipver == 4 && in->ip_id == out->ip_id)
        ev |= NAT_EV_IP_ID;
    if (in->ip_len != out->ip_len)
        ev &= ~NAT_EV_SIZE;
    if (in->nfr > 1 || out->nfr > 1)
        ev |= NAT_EV_FRAGMENT;
    if (proto == IPP_TCP && ((in->flags & PF_PPTP) && (out->flags & PF_PPTP)))
        ev |= NAT_EV_PPTP_CONTROL;
    m->evidence |= ev;
    if (dir == DIR_TO_PEER) {
        m->to_peer_inside += in->nfr;
        m->to_peer_outside += out->nfr;
    } else {
        m->from_peer_inside += in->nfr;
        m->from_peer_outside += out->nfr;
    }
    if ((proto == IPP_ESP || proto == IPP_AH) && (in->flags & PF_SPI)) {
        if (dir == DIR_TO_PEER)
            add_spi(m->spis_to, &m->n_spis_to, in->spi);
        else
            add_spi(m->spis_from, &m->n_spis_from, in->spi);
    }
    if (cur)
        natd_check(c, mp, cur, in, out, dir);
}

void corr_nat_addrs(const struct nat_corr *c, struct corr_nat_addrs *na)
{
    memset(na, 0, sizeof(*na));
    if (c->o.n_nat_addrs > 0) {
        for (int i = 0; i < c->o.n_nat_addrs && i < 8; i++)
            na->a[na->n++] = ip_norm(&c->o.nat_addrs[i]);
        return;
    }
    for (size_t i = 0; i < c->n_maps; i++) {
        const struct mint *mp = &c->maps[i];
        const struct nat_mapping *m = &mp->m;
        if ((mp->strong == 0 && mp->weak < 2) || !m->translated ||
            ip_addr_eq(&m->inside.ip, &m->outside.ip))
            continue;
        unsigned k = 0;
        while (k < na->n && !ip_addr_eq(&na->a[k], &m->outside.ip))
            k++;
        if (k == na->n && na->n < CORR_NAT_ADDRS_MAX)
            na->a[na->n++] = ip_norm(&m->outside.ip);
    }
}

bool corr_mapping_kept(const struct mint *mp, const struct corr_nat_addrs *na)
{
    if (mp->strong > 0 || mp->weak >= 2)
        return true;
    if (mp->weak != 1 || mp->single_ok != 1 || !mp->m.translated ||
        ip_addr_eq(&mp->m.inside.ip, &mp->m.outside.ip))
        return false;
    for (unsigned k = 0; k < na->n; k++)
        if (ip_addr_eq(&na->a[k], &mp->m.outside.ip))
            return true;
    return false;
}

/* A read-only look at the mappings so far (the live dashboard), kept as nat_corr_finish keeps
 * them. */
size_t nat_corr_mappings(const struct nat_corr *c, struct nat_mapping *out, size_t max)
{
    struct corr_nat_addrs na;
    corr_nat_addrs(c, &na);
    size_t n = 0;
    for (size_t i = 0; i < c->n_maps; i++) {
        if (!corr_mapping_kept(&c->maps[i], &na))
            continue;
        if (out && n < max)
            out[n] = c->maps[i].m;
        n++;
    }
    return n;
}
