/* session_mtu.c - path-MTU facts of the session model: for each tunnel flow (ESP, ESP in UDP, GRE,
 * WireGuard, OpenVPN) and direction, which packet sizes were answered by the other direction and
 * which were not (with DF), and the ICMP "fragmentation needed" / ICMPv6 "packet too big" messages
 * by the datagram they quote. A black hole shows as large packets never answered while small
 * ones of the same flow keep being answered. */
#include "session_int.h"

#include <stdlib.h>
#include <string.h>

#include "vpnscope/proto.h"
#include "vpnscope/table.h"

/* Tunnel packets whose loss shows as silence: datagram tunnels only. OpenVPN over TCP is left out
 * (TCP acknowledges segments in bulk and retransmits; its segment sizes follow the MSS). */
static bool is_tunnel_data(const struct pkt *p)
{
    if (p->l4proto == IPP_TCP)
        return false;
    switch (p->vpn) {
    case VPN_ESP:
    case VPN_GRE:
    case VPN_WG:
    case VPN_OVPN:
        return true;
    default:
        return false;
    }
}

/* UDP between two unprivileged ports that no decoder claimed: a tunnel vpnscope may not decode
 * (timing only: mtu_blackhole looks at decoded tunnels). */
static bool maybe_tunnel(const struct pkt *p)
{
    return p->vpn == VPN_NONE && p->l4proto == IPP_UDP && p->has_ports && p->sport >= 1024 &&
           p->dport >= 1024;
}

static struct mtu_size *size_slot(struct mtu_dir *d, uint32_t len)
{
    for (unsigned i = 0; i < d->n_sizes; i++)
        if (d->sizes[i].len == len)
            return &d->sizes[i];
    if (d->n_sizes >= MTU_SIZES) {
        d->sizes_dropped++;
        return NULL;
    }
    if (d->n_sizes >= d->sizes_cap) {
        /* most tunnel flows see a few sizes (and one-packet flood flows one): grown to need */
        unsigned nc = d->sizes_cap ? d->sizes_cap * 2u : 2u;
        if (nc > MTU_SIZES)
            nc = MTU_SIZES;
        struct mtu_size *ns = realloc(d->sizes, nc * sizeof(*ns));
        if (!ns) {
            d->sizes_dropped++; /* out of memory: counted as a size not kept */
            return NULL;
        }
        d->sizes = ns;
        d->sizes_cap = (uint8_t)nc;
    }
    struct mtu_size *s = &d->sizes[d->n_sizes++];
    memset(s, 0, sizeof(*s));
    s->len = len;
    return s;
}

/* The mtu table's eviction hook (and session_model_free): the record's out-of-line sizes. */
void mtu_evicted(void *ctx, const void *key, void *val)
{
    (void)ctx;
    (void)key;
    struct mtu_flow *mf = val;
    for (int d = 0; d < 2; d++) {
        free(mf->d[d].sizes);
        mf->d[d].sizes = NULL;
        mf->d[d].n_sizes = mf->d[d].sizes_cap = 0;
        free(mf->d[d].lost_frames);
        mf->d[d].lost_frames = NULL;
        mf->d[d].n_lost_frames = 0;
    }
}

/* The waiting packet of d got its answer (answered) or was followed by another send (lost). */
static void settle(struct mtu_dir *d, bool answered)
{
    if (!d->pend)
        return;
    d->pend = false;
    bool large = d->pend_len >= MTU_LARGE;
    if (answered) {
        if (d->first_large_loss_ts)
            d->answered_after_loss++;
        if (!large)
            return;
        struct mtu_size *s = size_slot(d, d->pend_len);
        if (s)
            s->answered++;
        return;
    }
    if (!large || !d->pend_df)
        return;
    struct mtu_size *s = size_slot(d, d->pend_len);
    if (!s)
        return;
    s->unanswered_df++;
    if (!d->first_large_loss_ts)
        d->first_large_loss_ts = d->pend_ts;
    d->lost_frames_total++;
    if (!d->lost_frames)
        d->lost_frames = calloc(MTU_FRAMES, sizeof(*d->lost_frames));
    if (d->lost_frames && d->n_lost_frames < MTU_FRAMES) /* out of memory: not listed */
        d->lost_frames[d->n_lost_frames++] = d->pend_frame;
}

/* Direction d's packet p: its timing, and the silence it ends while the other direction o sent. */
static void timing(struct mtu_dir *d, struct mtu_dir *o, const struct pkt *p)
{
    if (d->n && o->last_ts > d->last_ts && o->first_since_other > d->last_ts) {
        if (p->ts_us - d->last_ts > d->sil_end - d->sil_start) {
            d->sil_start = d->last_ts;
            d->sil_end = p->ts_us;
            d->sil_end_frame = p->frame;
            d->sil_other = d->n_since_peer;
        }
    }
    if (!d->n || o->last_ts > d->last_ts) {
        d->first_since_other = p->ts_us;
        d->first_since_other_frame = p->frame;
    }
    if (!d->n)
        d->first_ts = p->ts_us;
    d->n++;
    d->last_ts = p->ts_us;
    d->last_frame = p->frame;
    d->n_since_peer = 0;
    o->n_since_peer++;
}

static void tunnel_packet(struct session_model *m, const struct pkt *p)
{
    uint16_t sp = p->has_ports ? p->sport : 0, dp = p->has_ports ? p->dport : 0;
    struct flow_key k;
    sess_flow_key(&k, p->l4proto, &p->src, sp, &p->dst, dp);
    bool data = (is_tunnel_data(p) || maybe_tunnel(p)) && !(p->is_frag && !p->reassembled);
    struct mtu_flow *mf = data ? table_put(m->mtu, &k, NULL) : table_get(m->mtu, &k, true);
    if (!mf)
        return;
    if (!mf->k.proto && !mf->k.a.v)
        mf->k = k;
    if (is_tunnel_data(p) && !mf->vpn) {
        mf->vpn = (uint8_t)p->vpn;
        mf->esp_in_udp = p->esp_in_udp;
    }
    int dir = (ip_addr_eq(&p->src, &k.a) && sp == k.pa) ? 0 : 1;
    mf->last_ts = p->ts_us;
    timing(&mf->d[dir], &mf->d[!dir], p);
    settle(&mf->d[!dir], true);
    if (!data)
        return;
    struct mtu_dir *d = &mf->d[dir];
    settle(d, false);
    d->pend = true;
    d->pend_len = p->ip_len;
    d->pend_df = p->ipver == 6 || p->df;
    d->pend_ts = p->ts_us;
    d->pend_frame = p->frame;
    if (p->ip_len < MTU_LARGE)
        d->small_sent++;
    else {
        struct mtu_size *s = size_slot(d, p->ip_len);
        if (s)
            s->sent++;
    }
    if (d->first_large_loss_ts && p->ip_len >= MTU_LARGE)
        table_set_class(m->mtu, mf, 1);
}

static void too_big(struct session_model *m, const struct pkt *p)
{
    const struct icmp_too_big *tb = &p->too_big;
    struct too_big_key k;
    memset(&k, 0, sizeof(k));
    k.src = tb->src;
    k.dst = tb->dst;
    k.proto = tb->proto;
    if (tb->has_ports) {
        k.sport = tb->sport;
        k.dport = tb->dport;
    }
    bool created = false;
    struct too_big_rec *r = table_put(m->too_big, &k, &created);
    if (!r)
        return;
    if (created) {
        r->k = k;
        r->from = p->src;
        r->mtu = tb->mtu;
        r->quoted_len_min = tb->len;
        r->first_ts = p->ts_us;
        r->first_frame = p->frame;
        r->ipver = p->ipver;
    }
    if (tb->mtu && (!r->mtu || tb->mtu < r->mtu))
        r->mtu = tb->mtu;
    if (tb->len < r->quoted_len_min)
        r->quoted_len_min = tb->len;
    r->count++;
    r->last_ts = p->ts_us;
    if (r->nframes < 4)
        r->frames[r->nframes++] = p->frame;
}

void sess_mtu_update(struct session_model *m, const struct pkt *p)
{
    if (!m->mtu || !p->ipver)
        return;
    if (p->too_big.valid) {
        too_big(m, p);
        return;
    }
    tunnel_packet(m, p);
}

/* End of input: a packet still waiting was lost when the capture went on for a while after it
 * (a retransmission timer's worth); one sent just before the end says nothing. */
void sess_mtu_finish(struct session_model *m)
{
    if (!m->mtu)
        return;
    for (uint32_t i = 0; i < table_slots(m->mtu); i++) {
        struct mtu_flow *mf = table_slot(m->mtu, i, NULL);
        if (!mf)
            continue;
        for (int d = 0; d < 2; d++)
            if (mf->d[d].pend && m->c.last_ts >= mf->d[d].pend_ts + 1000000u)
                settle(&mf->d[d], false);
    }
}

const struct mtu_flow *session_mtu_of(const struct session_model *m, const struct flow_key *k)
{
    return m->mtu ? table_get(m->mtu, k, false) : NULL;
}

const struct too_big_rec *session_too_big_for(const struct session_model *m, uint8_t proto,
                                              const struct ip_addr *src, uint16_t sport,
                                              const struct ip_addr *dst, uint16_t dport)
{
    if (!m->too_big)
        return NULL;
    struct too_big_key k;
    memset(&k, 0, sizeof(k));
    k.src = *src;
    k.dst = *dst;
    k.proto = proto;
    k.sport = sport;
    k.dport = dport;
    return table_get(m->too_big, &k, false);
}
