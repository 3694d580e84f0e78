/* mtu_blackhole.c - large packets of a tunnel vanish while small ones of the same tunnel pass: a
 * path-MTU black hole (RFC 2923). From the session model's per-flow size records
 * (flow/session_mtu.c): every size from a threshold up was sent with DF several times and never
 * answered, smaller ones were answered, and small exchanges went on after the first loss. The
 * ICMP "fragmentation needed" / ICMPv6 "packet too big" quoting the flow is reported as seen (and
 * then ignored by the sender, which kept sending large), or absent. With two captures the inside
 * and outside flows of one tunnel are paired (same peer, tunnel type and threshold): the large
 * packets crossed the NAT router, and ICMP seen outside only was dropped by the router. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "det_util.h"

#define MIN_LOST 3 /* unanswered large sends with DF */

struct mtu_facts {
    const struct mtu_flow *mf;
    const struct flow_key *k; /* its endpoints */
    int dir;                  /* sender: 0 = a->b, 1 = b->a */
    struct endpoint snd, rcv; /* the lossy direction's sender and receiver */
    uint32_t threshold;       /* smallest size lost (every size from it up was lost) */
    uint32_t passed;          /* largest size answered below it (0: only small ones) */
    uint32_t lost;            /* unanswered sends >= threshold with DF */
    uint32_t max_lost;
    uint64_t first_loss_ts;
    const struct too_big_rec *tb; /* ICMP quoting the sender's datagrams in this capture */
    bool icmp_ignored;            /* large sends after the first ICMP */
};

/* The threshold of direction d, or false when its sizes do not show a black hole. */
static bool find_threshold(const struct mtu_dir *d, struct mtu_facts *x)
{
    if (d->lost_frames_total < MIN_LOST || !d->answered_after_loss)
        return false;
    /* the smallest lost size such that no size at or above it was ever answered */
    uint32_t thr = 0, passed = 0, max_lost = 0, lost = 0;
    for (unsigned i = 0; i < d->n_sizes; i++) {
        const struct mtu_size *s = &d->sizes[i];
        if (s->unanswered_df && (!thr || s->len < thr))
            thr = s->len;
    }
    if (!thr)
        return false;
    for (unsigned i = 0; i < d->n_sizes; i++) {
        const struct mtu_size *s = &d->sizes[i];
        if (s->answered && s->len >= thr) {
            /* a lost size below an answered one: raise the threshold above the answered one */
            uint32_t nt = 0;
            for (unsigned j = 0; j < d->n_sizes; j++)
                if (d->sizes[j].unanswered_df && d->sizes[j].len > s->len &&
                    (!nt || d->sizes[j].len < nt))
                    nt = d->sizes[j].len;
            if (!nt)
                return false;
            thr = nt;
            i = (unsigned)-1; /* recheck from the start with the new threshold */
        }
    }
    for (unsigned i = 0; i < d->n_sizes; i++) {
        const struct mtu_size *s = &d->sizes[i];
        if (s->len >= thr) {
            lost += s->unanswered_df;
            if (s->len > max_lost)
                max_lost = s->len;
        } else if (s->answered && s->len > passed) {
            passed = s->len;
        }
    }
    if (lost < MIN_LOST)
        return false;
    x->threshold = thr;
    x->passed = passed;
    x->lost = lost;
    x->max_lost = max_lost;
    x->first_loss_ts = d->first_large_loss_ts;
    return true;
}

static bool collect(const struct session_model *m, const struct mtu_flow *mf,
                    const struct flow_key *k, int dir, struct mtu_facts *x)
{
    memset(x, 0, sizeof(*x));
    if (mf->vpn == VPN_NONE)
        return false;
    struct mtu_dir d;
    session_mtu_dir(mf, dir, &d);
    if (!find_threshold(&d, x))
        return false;
    x->mf = mf;
    x->k = k;
    x->dir = dir;
    x->snd = mtu_end(k, dir);
    x->rcv = mtu_end(k, !dir);
    x->tb = session_too_big_for(m, k->proto, &x->snd.ip, x->snd.port, &x->rcv.ip, x->rcv.port);
    if (x->tb) {
        /* the sender kept sending the lost sizes after the first ICMP told it the MTU */
        for (unsigned i = 0; i < d.n_sizes; i++)
            if (d.sizes[i].len >= x->threshold && d.sizes[i].unanswered_df &&
                session_mtu_last_ts(mf) > x->tb->first_ts && d.sizes[i].sent > 1)
                x->icmp_ignored = true;
    }
    return true;
}

static const char *tunnel_name(const struct mtu_flow *mf)
{
    switch (mf->vpn) {
    case VPN_ESP:
        return mf->esp_in_udp ? "ESP-in-UDP" : "ESP";
    case VPN_GRE:
        return "GRE";
    case VPN_WG:
        return "WireGuard";
    case VPN_OVPN:
        return "OpenVPN";
    default:
        return "tunnel";
    }
}

/* Outer overhead of the tunnel (bytes between the path MTU and the inner packet), assumed from
 * typical settings: ESP with AES-GCM (8 header + 8 IV + 16 ICV + up to 3 padding + 2 trailer),
 * UDP 8 for NAT-T, WireGuard 32 + UDP 8, OpenVPN about 41 + UDP 8, PPTP GRE 16 + PPP 4. */
static uint32_t overhead(const struct mtu_flow *mf, bool v6)
{
    uint32_t ip = v6 ? 40 : 20;
    switch (mf->vpn) {
    case VPN_ESP:
        return ip + 37 + (mf->esp_in_udp ? 8 : 0);
    case VPN_WG:
        return ip + 8 + 32;
    case VPN_OVPN:
        return ip + 8 + 41;
    case VPN_GRE:
        return ip + 20;
    default:
        return ip + 40;
    }
}

struct pair_view {
    const struct mtu_facts *in, *out; /* either may be NULL in one-capture mode */
};

static const char *icmp_state(const struct detect_ctx *c, const struct pair_view *v)
{
    const struct too_big_rec *ti = v->in ? v->in->tb : NULL;
    const struct too_big_rec *to = v->out ? v->out->tb : NULL;
    if (v->in && v->out) {
        if (to && !ti)
            return "blocked";
        if (ti)
            return v->in->icmp_ignored ? "ignored" : "seen";
        return "absent";
    }
    (void)c;
    const struct mtu_facts *x = v->in ? v->in : v->out;
    if (!x->tb)
        return "absent";
    return x->icmp_ignored ? "ignored" : "seen";
}

/* "addr:port", or the address alone for a protocol without ports (raw ESP, GRE). */
static void endpoint_str(const struct endpoint *e, char *buf)
{
    char ip[DU_IPSTR];
    if (e->port)
        snprintf(buf, DU_IPSTR + 8, "%s:%u", du_ipp(&e->ip, ip), e->port);
    else
        snprintf(buf, DU_IPSTR + 8, "%s", du_ip(&e->ip, ip));
}

/* A session at e: with its port unless the protocol has none. */
static struct finding_session *session_at(struct finding *f, unsigned role,
                                          const struct endpoint *e)
{
    return e->port ? du_session_endpoint(f, role, e) : finding_session_add(f, role, &e->ip);
}

static void summary(struct finding *f, const struct mtu_facts *x, const struct pair_view *v,
                    const char *icmp, uint32_t pmtu)
{
    char a[DU_IPSTR + 8], b[DU_IPSTR + 8], t[16];
    endpoint_str(&x->snd, a);
    endpoint_str(&x->rcv, b);
    const struct mtu_flow *mf = x->mf;
    snprintf(f->summary, FINDING_SUMMARY_SIZE,
             "Path MTU black hole on the %s tunnel %s -> %s: from %s on, every packet of "
             "%u bytes or more (%u sent with DF, up to %u bytes) went unanswered while smaller "
             "ones of the same tunnel kept being answered (largest answered: %u bytes)",
             tunnel_name(mf), a, b, du_hms(x->first_loss_ts, t), x->threshold, x->lost, x->max_lost,
             x->passed);
    if (v->in && v->out)
        du_cat(f->summary, FINDING_SUMMARY_SIZE,
               "; both captures show the large packets leaving the NAT router, so they die "
               "beyond it");
    bool v6 = x->snd.ip.v == 6;
    const char *what = v6 ? "ICMPv6 \"packet too big\"" : "ICMP \"fragmentation needed\"";
    if (!strcmp(icmp, "blocked"))
        du_cat(f->summary, FINDING_SUMMARY_SIZE,
               "; %s (MTU %u) reached the router's outside but not the inside: the router drops it",
               what, pmtu);
    else if (!strcmp(icmp, "ignored"))
        du_cat(f->summary, FINDING_SUMMARY_SIZE,
               "; %s (MTU %u) reached this side and the sender kept sending %u bytes and more",
               what, pmtu, x->threshold);
    else if (!strcmp(icmp, "seen"))
        du_cat(f->summary, FINDING_SUMMARY_SIZE, "; %s (MTU %u) was seen", what, pmtu);
    else
        du_cat(f->summary, FINDING_SUMMARY_SIZE, "; no %s was seen%s", what,
               v->in && v->out ? " on either side: a hop beyond the router drops them silently"
                               : "");
    du_cat(f->summary, FINDING_SUMMARY_SIZE, ".");
}

static void remedy(struct finding *f, const struct mtu_facts *x, const char *icmp, uint32_t pmtu)
{
    bool v6 = x->snd.ip.v == 6;
    uint32_t oh = overhead(x->mf, v6);
    uint32_t inner = pmtu > oh + 68 ? pmtu - oh : 0;
    uint32_t mss = inner > (v6 ? 60u : 40u) ? inner - (v6 ? 60u : 40u) : 0;
    snprintf(f->remedy, FINDING_REMEDY_SIZE,
             "Lower the tunnel MTU to at most %u (path MTU %u minus about %u bytes of %s "
             "overhead) and clamp the TCP MSS to %u (strongSwan/Linux: nft 'tcp flags syn tcp "
             "option maxseg size set %u' or iptables TCPMSS)",
             inner, pmtu, oh, tunnel_name(x->mf), mss, mss);
    if (!strcmp(icmp, "blocked"))
        du_cat(f->remedy, FINDING_REMEDY_SIZE, "; let %s through the router's forward chain",
               v6 ? "ICMPv6 type 2" : "ICMP type 3 code 4");
    else if (!strcmp(icmp, "ignored"))
        du_cat(f->remedy, FINDING_REMEDY_SIZE, "; the sender ignores the ICMP: enable its PMTUD");
    else if (!strcmp(icmp, "absent"))
        du_cat(f->remedy, FINDING_REMEDY_SIZE,
               "; the hop that drops them sends no %s, so PMTUD cannot work through it",
               v6 ? "ICMPv6 type 2" : "ICMP type 3 code 4");
    if (!v6)
        du_cat(f->remedy, FINDING_REMEDY_SIZE,
               "; or clear DF and let the router fragment (WAN MTU), at a throughput cost.");
    else
        du_cat(f->remedy, FINDING_REMEDY_SIZE, " (IPv6 routers never fragment).");
}

static void sessions(struct finding *f, const struct pair_view *v)
{
    const struct mtu_facts *x = v->in ? v->in : v->out;
    struct finding_session *fs = session_at(f, ROLE_CLIENT, &x->snd);
    if (fs) {
        snprintf(fs->note, sizeof(fs->note), "sends the lost large packets");
        if (v->in && v->out) {
            fs->has_outside = true;
            fs->out_ip = v->out->snd.ip;
            fs->has_out_port = v->out->snd.port != 0;
            fs->out_port = v->out->snd.port;
        }
    }
    session_at(f, ROLE_SERVER, &x->rcv);
}

static void frames(struct finding *f, const struct detect_ctx *c, const struct session_model *m,
                   const struct mtu_facts *x)
{
    if (!x)
        return;
    uint8_t cap = du_cap(c, m);
    struct mtu_dir d;
    session_mtu_dir(x->mf, x->dir, &d);
    for (unsigned i = 0; i < d.n_lost_frames; i++)
        finding_frame(f, cap, d.lost_frames[i]);
    if (x->tb)
        for (unsigned i = 0; i < x->tb->nframes && i < 4; i++)
            finding_frame(f, cap, x->tb->frames[i]);
}

/* Lost frames listed for the lossy direction of x. */
static unsigned lost_listed(const struct mtu_facts *x)
{
    struct mtu_dir d;
    session_mtu_dir(x->mf, x->dir, &d);
    return d.n_lost_frames;
}

static bool emit(struct detect_ctx *c, const struct pair_view *v)
{
    const struct mtu_facts *x = v->in ? v->in : v->out;
    struct finding *f = finding_add(c->out, FINDING_MTU_BLACKHOLE, x->first_loss_ts);
    if (!f)
        return false;
    const char *icmp = icmp_state(c, v);
    const struct too_big_rec *tb = v->out && v->out->tb ? v->out->tb : x->tb;
    uint32_t pmtu = tb && tb->mtu ? tb->mtu : (x->passed ? x->passed : MTU_LARGE);
    f->confirmed = (v->in && v->out) || (tb && tb->mtu && tb->mtu < x->threshold);
    summary(f, x, v, icmp, pmtu);
    remedy(f, x, icmp, pmtu);
    sessions(f, v);
    finding_ev_int(f, "threshold_bytes", x->threshold);
    finding_ev_int(f, "largest_answered_bytes", x->passed);
    finding_ev_int(f, "lost_large_packets", x->lost);
    finding_ev_int(f, "lost_frames_listed",
                   lost_listed(x) + (v->in && v->out ? lost_listed(v->out) : 0));
    finding_ev_bool(f, "df", true);
    finding_ev_str(f, "icmp", icmp);
    if (tb && tb->mtu)
        finding_ev_int(f, "icmp_mtu", tb->mtu);
    if (tb)
        finding_ev_int(f, "icmp_messages", tb->count);
    finding_ev_str(f, "path_mtu_source", tb && tb->mtu ? "measured (ICMP)" : "measured (sizes)");
    finding_ev_str(f, "overhead_source", "assumed (typical tunnel settings)");
    frames(f, c, v->in ? c->inside ? c->inside : c->single : NULL, v->in);
    if (v->out)
        frames(f, c, c->outside ? c->outside : c->single, v->out);
    return true;
}

#define MAX_HOLES 64

static unsigned scan(const struct session_model *m, struct mtu_facts *v, unsigned cap)
{
    unsigned n = 0;
    for (uint32_t i = 0; m && m->mtu && i < table_slots(m->mtu) && n < cap; i++) {
        const struct flow_key *k;
        const struct mtu_flow *mf = session_mtu_slot(m, i, &k);
        if (!mf)
            continue;
        for (int d = 0; d < 2 && n < cap; d++)
            if (collect(m, mf, k, d, &v[n]))
                n++;
    }
    return n;
}

/* Inside and outside flows of one tunnel: same receiver, tunnel type and threshold. */
static bool same_tunnel(const struct mtu_facts *a, const struct mtu_facts *b)
{
    return ip_addr_eq(&a->rcv.ip, &b->rcv.ip) && a->mf->vpn == b->mf->vpn &&
           a->mf->esp_in_udp == b->mf->esp_in_udp && a->threshold == b->threshold;
}

static void run_with(struct detect_ctx *c, struct mtu_facts *in, struct mtu_facts *out)
{
    if (!du_two(c)) {
        unsigned n = scan(c->single, in, MAX_HOLES);
        for (unsigned i = 0; i < n; i++) {
            struct pair_view v = {&in[i], NULL};
            if (!emit(c, &v))
                return;
        }
        return;
    }
    unsigned ni = scan(c->inside, in, MAX_HOLES), no = scan(c->outside, out, MAX_HOLES);
    bool used[MAX_HOLES] = {false};
    for (unsigned i = 0; i < ni; i++) {
        struct pair_view v = {&in[i], NULL};
        for (unsigned j = 0; j < no && !v.out; j++)
            if (!used[j] && same_tunnel(&in[i], &out[j])) {
                used[j] = true;
                v.out = &out[j];
            }
        if (!emit(c, &v))
            return;
    }
    for (unsigned j = 0; j < no; j++) {
        if (used[j])
            continue;
        struct pair_view v = {NULL, &out[j]};
        if (!emit(c, &v))
            return;
    }
}

static void run(struct detect_ctx *c)
{
    struct mtu_facts *in = calloc(2 * MAX_HOLES, sizeof(*in));
    if (!in)
        return;
    run_with(c, in, in + MAX_HOLES);
    free(in);
}

const struct detector det_mtu_blackhole = {
    .name = "mtu_blackhole", .run = run, .emits = DETECT_KIND_BIT(FINDING_MTU_BLACKHOLE)};
