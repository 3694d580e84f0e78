/* router_split.c - --router: one capture on the router's interfaces split into an inside and an
 * outside stream.
 * Its clock is shared, so the first reads (bare decode) only learn the split: with interface ids
 * (SLL2 ifindex, pcapng interfaces) the interface that carries the router's outside addresses
 * (given by --nat-addr, else learned from packets seen twice with a private address rewritten to a
 * public one) is outside, every other interface inside. With SLL (cooked v1: no interface id) the
 * link-layer address decides: the router's own outside MAC (outgoing packets) and its outside
 * neighbours' (incoming) are learned from packets to or from an outside address. Limitations: with
 * SLL on links without link addresses (tun, ppp), a packet is outside only when it carries an
 * outside address, so an untranslated forwarded flow looks inside-only there; several outside
 * interfaces (multi-WAN) are merged into one inside side but one of them (by_if) or all of them (by
 * MAC) outside. The router's own traffic is included.
 */

#include "pipeline_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vpnscope/decode.h"
#include "vpnscope/proto.h"
#include "vpnscope/rd.h"
#include "vpnscope/table.h"

#define MAX_IFS 64
#define DLT_LINUX_SLL_ 113
#define MAX_MACS 16

struct ifstat {
    uint32_t ifidx;
    uint64_t pkts, natted;
    uint64_t priv; /* packets with a private source or destination (address evidence) */
};

struct rsig {
    uint64_t ts;
    struct ip_addr src, dst;
    uint32_t ifidx;
};

/* SLL (cooked v1) link-layer address: the sender's for incoming packets, the router's own
 * interface for outgoing ones. 0 when absent. */
static unsigned sll_addr(const struct raw_pkt *r, uint8_t mac[8])
{
    struct rd d = rd_init(r->data, r->caplen);
    rd_skip(&d, 4); /* packet type, ARPHRD */
    uint16_t alen = rd_be16(&d);
    rd_copy(&d, mac, 8);
    if (!rd_ok(&d) || alen == 0 || alen > 8)
        return 0;
    memset(mac + alen, 0, 8 - alen);
    return alen;
}

static bool addr_in(const struct ip_addr *a, const struct ip_addr *v, int n)
{
    for (int i = 0; i < n; i++)
        if (ip_addr_eq(&v[i], a))
            return true;
    return false;
}

/* Learns outside addresses from a packet seen twice on the router with one address changed:
 * the copy whose changed address is private is the inside one, the other address is the
 * router's. */
static void learn_from_twins(const struct rsig *a, const struct pkt *b, struct ip_addr *addrs,
                             int *n)
{
    bool sdiff = memcmp(&a->src, &b->src, sizeof(a->src)) != 0;
    bool ddiff = memcmp(&a->dst, &b->dst, sizeof(a->dst)) != 0;
    if (sdiff == ddiff)
        return;
    const struct ip_addr *x = sdiff ? &a->src : &a->dst;
    const struct ip_addr *y = sdiff ? &b->src : &b->dst;
    const struct ip_addr *na;
    if (ip_addr_is_private(x) && !ip_addr_is_private(y))
        na = y;
    else if (ip_addr_is_private(y) && !ip_addr_is_private(x))
        na = x;
    else
        return;
    if (!addr_in(na, addrs, *n) && *n < 8)
        addrs[(*n)++] = *na;
}

/* The split of a router capture into inside and outside. */
struct router_split {
    bool by_if; /* interface ids (SLL2 ifindex, pcapng interface) */
    uint32_t out_if;
    bool by_mac; /* SLL: link addresses seen on the outside link */
    uint8_t macs[MAX_MACS][8];
    int nmacs;
    struct ip_addr nat[8];
    int nnat;
    bool can_split; /* by interface, or outside addresses known */
    bool undecided; /* by interface, but nothing decided which one is outside */
};

static int side_of(const struct router_split *sp, const struct raw_pkt *r, const struct pkt *p)
{
    if (sp->by_if)
        return p->ifidx == sp->out_if ? 1 : 0;
    if (sp->by_mac) {
        uint8_t mac[8];
        if (sll_addr(r, mac)) {
            for (int i = 0; i < sp->nmacs; i++)
                if (memcmp(sp->macs[i], mac, 8) == 0)
                    return 1;
            return 0;
        }
    }
    return p->ipver && (addr_in(&p->src, sp->nat, sp->nnat) || addr_in(&p->dst, sp->nat, sp->nnat));
}

/* What the first read learns. */
struct learn {
    struct ifstat ifs[MAX_IFS];
    int nifs;
    int dlt;
    /* packets seen on two interfaces (the same NAT-invariant signature within the matching
     * window): shared[a][b] by interface slot, a != b */
    uint32_t shared[MAX_IFS][MAX_IFS];
    /* translation votes per interface slot: a copy that left it after the router rewrote the
     * source, or arrived on it before the router rewrote the destination, votes outside (source
     * NAT and port forwarding alike translate the source on the way out and the destination on
     * the way in); the mirror cases vote inside */
    uint64_t out_votes[MAX_IFS], in_votes[MAX_IFS];
};

static int if_slot(const struct learn *l, uint32_t ifidx)
{
    for (int k = 0; k < l->nifs; k++)
        if (l->ifs[k].ifidx == ifidx)
            return k;
    return -1;
}

/* A packet seen first as a (interface slot ka) and then as b (slot kb): shared and translation
 * votes. */
static void twin_votes(struct learn *l, const struct rsig *a, int ka, const struct pkt *b, int kb)
{
    if (ka < 0 || kb < 0 || ka == kb)
        return;
    if (l->shared[ka][kb] < UINT32_MAX) {
        l->shared[ka][kb]++;
        l->shared[kb][ka]++;
    }
    bool sdiff = !ip_addr_eq(&a->src, &b->src), ddiff = !ip_addr_eq(&a->dst, &b->dst);
    if (sdiff && !ddiff) { /* source rewritten on the way from ka to kb: kb is outside */
        l->out_votes[kb]++;
        l->in_votes[ka]++;
    } else if (ddiff && !sdiff) { /* destination rewritten on the way in: ka is outside */
        l->out_votes[ka]++;
        l->in_votes[kb]++;
    }
}

/* First read: the interfaces, and the router's outside addresses when not given (twins). */
static int learn_interfaces(const char *path, const char *bpf, struct router_split *sp,
                            struct learn *l, struct pkt *p, struct progress *pg, char *errbuf,
                            unsigned errlen)
{
    uint64_t n = 0;
    const char *paths[1] = {path};
    bool given = sp->nnat > 0;
    struct table *twins = table_new(sizeof(uint64_t), sizeof(struct rsig), 1u << 16, NULL, NULL);
    if (!twins) {
        snprintf(errbuf, errlen, "out of memory");
        return -1;
    }
    struct cap_src *s = open_side(paths, 1, bpf, errbuf, errlen);
    if (!s) {
        table_free(twins);
        return -1;
    }
    l->dlt = cap_dlt(s);
    struct raw_pkt r;
    char eb[VPNSCOPE_ERRBUF_SIZE];
    int rc;
    while ((rc = cap_next(s, &r, eb, sizeof(eb))) == 1) {
        if ((n++ & 4095) == 0)
            progress_show(pg, "pass 1/2 (interfaces):", cap_bytes_read(s), cap_total_bytes(s), n);
        if (r.filtered)
            continue;
        bare_decode(p, &r);
        if (!p->ipver)
            continue;
        int k = 0;
        while (k < l->nifs && l->ifs[k].ifidx != p->ifidx)
            k++;
        if (k == l->nifs && l->nifs < MAX_IFS) {
            memset(&l->ifs[l->nifs], 0, sizeof(l->ifs[l->nifs]));
            l->ifs[l->nifs++].ifidx = p->ifidx;
        }
        if (k < l->nifs) {
            l->ifs[k].pkts++;
            if (ip_addr_is_private(&p->src) || ip_addr_is_private(&p->dst))
                l->ifs[k].priv++;
        }
        struct nat_sig sg;
        nat_pkt_sig(p, &sg);
        if (!sg.h || sg.weak)
            continue;
        bool created = false;
        struct rsig *t = table_put(twins, &sg.h, &created);
        if (!t)
            continue;
        if (!created && p->ts_us >= t->ts && p->ts_us - t->ts < NAT_WINDOW_US) {
            if (!given)
                learn_from_twins(t, p, sp->nat, &sp->nnat);
            twin_votes(l, t, if_slot(l, t->ifidx), p, k < l->nifs ? k : -1);
        }
        t->ts = p->ts_us;
        t->src = p->src;
        t->dst = p->dst;
        t->ifidx = p->ifidx;
    }
    cap_close(s);
    table_free(twins);
    if (rc < 0) {
        snprintf(errbuf, errlen, "%s", eb);
        return -1;
    }
    return 0;
}

/* Second read: which interface / link addresses carry the outside addresses. */
static int learn_outside(const char *path, const char *bpf, struct router_split *sp,
                         struct learn *l, struct pkt *p, struct progress *pg, char *errbuf,
                         unsigned errlen)
{
    uint64_t n = 0;
    const char *paths[1] = {path};
    struct cap_src *s = open_side(paths, 1, bpf, errbuf, errlen);
    if (!s)
        return -1;
    struct raw_pkt r;
    char eb[VPNSCOPE_ERRBUF_SIZE];
    int rc;
    while ((rc = cap_next(s, &r, eb, sizeof(eb))) == 1) {
        if ((n++ & 4095) == 0)
            progress_show(pg, "pass 1/2 (outside link):", cap_bytes_read(s), cap_total_bytes(s), n);
        if (r.filtered)
            continue;
        bare_decode(p, &r);
        if (!p->ipver ||
            !(addr_in(&p->src, sp->nat, sp->nnat) || addr_in(&p->dst, sp->nat, sp->nnat)))
            continue;
        if (sp->by_if) {
            for (int k = 0; k < l->nifs; k++)
                if (l->ifs[k].ifidx == p->ifidx)
                    l->ifs[k].natted++;
        } else {
            uint8_t mac[8];
            if (!sll_addr(&r, mac))
                continue;
            int i = 0;
            while (i < sp->nmacs && memcmp(sp->macs[i], mac, 8) != 0)
                i++;
            if (i == sp->nmacs && sp->nmacs < MAX_MACS)
                memcpy(sp->macs[sp->nmacs++], mac, 8);
        }
    }
    cap_close(s);
    if (rc < 0) {
        snprintf(errbuf, errlen, "%s", eb);
        return -1;
    }
    return 0;
}

/* No interface carries a known outside address (none given, no twin learned: e.g. the outside
 * copies were cut by a short snaplen): address evidence decides. The outside link of a NAT
 * carries the fewest private addresses; it is taken when its share of packets with a private
 * address is strictly the lowest. Otherwise nothing decides: said, and sp->undecided set. */
static void outside_by_addresses(const struct learn *l, struct router_split *sp, const char *path,
                                 char *msg, unsigned msglen)
{
    int best = -1;
    bool tie = false;
    for (int k = 0; k < l->nifs; k++) {
        if (!l->ifs[k].pkts)
            continue;
        if (best < 0) {
            best = k;
            continue;
        }
        /* priv_k / pkts_k against priv_best / pkts_best, without division */
        unsigned __int128 a = (unsigned __int128)l->ifs[k].priv * l->ifs[best].pkts;
        unsigned __int128 b = (unsigned __int128)l->ifs[best].priv * l->ifs[k].pkts;
        if (a < b) {
            best = k;
            tie = false;
        } else if (a == b) {
            tie = true;
        }
    }
    if (best >= 0 && !tie) {
        sp->out_if = l->ifs[best].ifidx;
        snprintf(msg, msglen,
                 "%s: no router outside address given or learned; interface %u taken as outside "
                 "because it carries the fewest private addresses (%llu of %llu packets)",
                 path, sp->out_if, (unsigned long long)l->ifs[best].priv,
                 (unsigned long long)l->ifs[best].pkts);
        return;
    }
    sp->undecided = true;
    snprintf(msg, msglen,
             "%s: no router outside address given or learned and the addresses do not tell the "
             "interfaces apart: interface %u taken as outside, a guess (give --nat-addr)",
             path, sp->out_if);
}

/* Packets the inside/outside split with outside interface slot k would share between its sides. */
static uint64_t split_shared(const struct learn *l, int k)
{
    uint64_t n = 0;
    for (int j = 0; j < l->nifs; j++)
        if (j != k)
            n += l->shared[k][j];
    return n;
}

/* The interface that the translations say is outside: the most outside votes, more outside than
 * inside votes, sharing packets with another interface; -1 when none or a tie. */
static int translation_outside(const struct learn *l)
{
    int best = -1;
    bool tie = false;
    for (int k = 0; k < l->nifs; k++) {
        if (l->out_votes[k] <= l->in_votes[k] || !split_shared(l, k))
            continue;
        if (best < 0 || l->out_votes[k] > l->out_votes[best]) {
            best = k;
            tie = false;
        } else if (l->out_votes[k] == l->out_votes[best]) {
            tie = true;
        }
    }
    return tie ? -1 : best;
}

/* No outside address given or learned (e.g. the outside uses a private range, so no twin shows a
 * private address turned public): the direction of the translations decides when it can. */
static bool outside_by_translation(const struct learn *l, struct router_split *sp, const char *path,
                                   char *msg, unsigned msglen)
{
    int k = translation_outside(l);
    if (k < 0)
        return false;
    sp->out_if = l->ifs[k].ifidx;
    snprintf(msg, msglen,
             "%s: no router outside address given or learned; interface %u taken as outside "
             "because the router translates toward it (%llu packets with a rewritten source leave "
             "it or with a rewritten destination arrive on it, %llu the other way)",
             path, sp->out_if, (unsigned long long)l->out_votes[k],
             (unsigned long long)l->in_votes[k]);
    return true;
}

/* The split chosen shares no packet between its sides (it would prove no NAT) while another
 * interface as outside would: take that one when the translations (or, failing them, shared
 * packets alone) pick it, and say so. */
static void other_assignment(const struct learn *l, struct router_split *sp, const char *path,
                             char *msg, unsigned msglen)
{
    int cur = -1;
    for (int k = 0; k < l->nifs; k++)
        if (l->ifs[k].ifidx == sp->out_if)
            cur = k;
    if (cur < 0 || split_shared(l, cur))
        return;
    int k = translation_outside(l);
    if (k < 0)
        return; /* nothing decides: the split stays and the report gives no verdict */
    size_t n = strlen(msg);
    snprintf(msg + n, msglen - n,
             "%s%s: with interface %u as outside the two sides share no packet; interface %u "
             "taken as outside instead because the router translates toward it (%llu packets, "
             "%llu the other way)",
             n ? "; " : "", path, sp->out_if, l->ifs[k].ifidx, (unsigned long long)l->out_votes[k],
             (unsigned long long)l->in_votes[k]);
    sp->out_if = l->ifs[k].ifidx;
    sp->undecided = false;
}

/* The interfaces, the router's outside addresses (when not given) and, for SLL, the link
 * addresses of the outside link. */
static int router_learn(const struct vpnscope_config *o, const char *path, struct router_split *sp,
                        struct pkt *p, struct progress *pg, char *msg, unsigned msglen,
                        char *errbuf, unsigned errlen)
{
    struct learn l;
    memset(&l, 0, sizeof(l));
    l.dlt = -1;
    sp->nnat = o->n_nat_addrs < 8 ? o->n_nat_addrs : 8;
    for (int i = 0; i < sp->nnat; i++)
        sp->nat[i] = o->nat_addrs[i];
    if (learn_interfaces(path, o->bpf, sp, &l, p, pg, errbuf, errlen) != 0)
        return -1;
    sp->by_if = l.nifs > 1;
    sp->by_mac = !sp->by_if && l.dlt == DLT_LINUX_SLL_ && sp->nnat > 0;
    if (sp->by_if || sp->by_mac) {
        if (learn_outside(path, o->bpf, sp, &l, p, pg, errbuf, errlen) != 0)
            return -1;
        if (sp->by_if) {
            int best = 0;
            for (int k = 1; k < l.nifs; k++)
                if (l.ifs[k].natted > l.ifs[best].natted)
                    best = k;
            sp->out_if = l.ifs[best].ifidx;
            if (l.ifs[best].natted == 0 && o->n_nat_addrs > 0)
                snprintf(msg, msglen,
                         "%s: no interface carries a router outside address (give --nat-addr); "
                         "interface %u taken as outside",
                         path, sp->out_if);
            else if (l.ifs[best].natted == 0 && !outside_by_translation(&l, sp, path, msg, msglen))
                outside_by_addresses(&l, sp, path, msg, msglen);
            if (o->n_nat_addrs == 0)
                other_assignment(&l, sp, path, msg, msglen);
        }
        if (sp->by_mac && sp->nmacs == 0)
            sp->by_mac = false;
    }
    if (!sp->by_if && sp->nnat == 0)
        snprintf(msg, msglen,
                 "%s: one interface and no router outside address learned (give --nat-addr): "
                 "no inside/outside split possible",
                 path);
    return 0;
}

int router_split_open(struct pipeline *p, char *err, unsigned errlen)
{
    p->split = calloc(1, sizeof(*p->split));
    p->scratch = calloc(1, sizeof(*p->scratch));
    if (!p->split || !p->scratch) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    struct router_split *sp = p->split;
    if (router_learn(p->cfg, p->cfg->router, sp, p->scratch, &p->prog, p->nat.message,
                     sizeof(p->nat.message), err, errlen) != 0)
        return -1;
    sp->can_split = sp->by_if || sp->nnat > 0;
    struct nat_corr_opts co;
    memset(&co, 0, sizeof(co));
    co.n_nat_addrs = sp->nnat;
    for (int i = 0; i < sp->nnat; i++)
        co.nat_addrs[i] = sp->nat[i];
    p->corr = nat_corr_new(&co);
    if (!p->corr) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    return 0;
}

int router_split_side(struct pipeline *p, const struct raw_pkt *r)
{
    int side = 0;
    if (!r->filtered && p->split->can_split) {
        bare_decode(p->scratch, r);
        side = side_of(p->split, r, p->scratch);
    }
    p->nside[side]++;
    return side;
}

bool router_split_correlates(const struct pipeline *p)
{
    return p->split->can_split;
}

bool router_split_unproven(struct pipeline *p)
{
    if (!p->router || !p->split || !p->nside[0] || !p->nside[1] || p->nat.matched_packets)
        return false;
    size_t n = strlen(p->nat.message);
    snprintf(p->nat.message + n, sizeof(p->nat.message) - n,
             "%sno packet was matched between the inside and outside sides%s: the split shows no "
             "NAT, so no verdict on the router is possible (give --nat-addr, or read the file "
             "with -r as one capture)",
             n ? "; " : "", p->split->undecided ? " (the outside interface was a guess)" : "");
    return true;
}

void router_split_free(struct router_split *sp)
{
    free(sp);
}
