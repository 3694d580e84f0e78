/* stale_nat.c - a NAT mapping expired during an idle gap, with a visible consequence:
 *  two captures: packets from the peer to the old outside address/port that never reached the
 *    inside after the tunnel sat idle (nat unmatched, outside-only, from_peer), or the same inside
 *    endpoint and peer reappearing through a new outside port (a second nat_mapping);
 *  one capture: the same ESP SPI (ESP in UDP) continuing from a new UDP port after a gap, or an IKE
 *    SA whose DPD/INFORMATIONAL exchanges went unanswered after an idle gap longer than the NAT
 *    timeout with no keepalives holding the mapping.
 * Idle time alone is never reported: a tunnel whose keepalives held the mapping is healthy. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stale_nat.h"

void stale_ev_keepalive(struct finding *f, const struct flow *fl)
{
    if (fl && flow_ka(fl)->ka_count)
        finding_ev_seconds(f, "keepalive_interval_s", du_sec(activity_keepalive_us(flow_ka(fl))));
    else
        finding_ev_bool(f, "keepalives", false);
}

/* NAT timeout (s) for a tunnel of this protocol; replied = two-way. */
uint32_t stale_timeout_for(const struct detect_ctx *c, uint8_t proto, bool replied)
{
    switch (proto) {
    case IPP_UDP:
        return replied ? c->to.udp_stream : c->to.udp;
    case IPP_GRE:
        return c->to.gre;
    case IPP_TCP:
        return c->to.tcp;
    default:
        return c->to.other;
    }
}

/* Keepalive description of a flow (learned interval, whether they ran through the gap). */
void stale_ka_text(char *buf, size_t n, const struct flow *fl, const struct gap *g)
{
    buf[0] = 0;
    if (!fl || !flow_ka(fl)->ka_count) {
        snprintf(buf, n, "No NAT-T keepalives were seen on this tunnel.");
        return;
    }
    uint64_t ivl = activity_keepalive_us(flow_ka(fl));
    if (g && ivl && g->end_us - g->start_us > 2 * ivl)
        snprintf(buf, n,
                 "No NAT-T keepalive crossed this flow for %.1f s (keepalives seen at other times: "
                 "every "
                 "%.1f s).",
                 du_sec(g->end_us - g->start_us), du_sec(ivl));
    else if (g && flow_ka(fl)->ka_last_us <= g->start_us)
        snprintf(buf, n, "NAT-T keepalives (every %.1f s before) stopped during the idle period.",
                 du_sec(ivl));
    else if (ivl)
        snprintf(buf, n, "NAT-T keepalives ran every %.1f s.", du_sec(ivl));
    else
        snprintf(buf, n, "%llu NAT-T keepalive(s) seen.",
                 (unsigned long long)flow_ka(fl)->ka_count);
}

void stale_remedy(struct finding *f, uint64_t lost_us, uint8_t proto, const struct detect_ctx *c,
                  bool replied)
{
    if (proto == IPP_UDP && lost_us) {
        double lim = du_sec(lost_us);
        double ka = lim > 4 ? (lim / 2 < 20 ? lim / 2 : 20) : 1;
        snprintf(f->remedy, FINDING_REMEDY_SIZE,
                 "Keep NAT-T keepalives running with a period below the router's UDP timeout: "
                 "below %.0f s here "
                 "(e.g. %.0f s; strongSwan charon.keep_alive, default 20 s), or lengthen the "
                 "router's UDP "
                 "timeout (Linux: nf_conntrack_udp_timeout_stream, assumed %u s; RFC 4787 asks for "
                 ">= 120 s).",
                 lim, ka, stale_timeout_for(c, IPP_UDP, replied));
    } else if (proto == IPP_UDP) {
        snprintf(f->remedy, FINDING_REMEDY_SIZE,
                 "Enable NAT-T keepalives (strongSwan charon.keep_alive, default 20 s) with a "
                 "period below the "
                 "router's UDP timeout, or lengthen that timeout (Linux: "
                 "nf_conntrack_udp_timeout_stream).");
    } else {
        char pn[DU_PROTOSTR];
        snprintf(f->remedy, FINDING_REMEDY_SIZE,
                 "Keep traffic (DPD, keepalives) flowing more often than the router's %s timeout, "
                 "lengthen it "
                 "(Linux: nf_conntrack_%s_timeout), or switch to NAT-T with keepalives.",
                 du_proto_upper(proto, pn), proto == IPP_GRE ? "gre" : "generic");
    }
}

static const struct finding_ev *ev_get(const struct finding *f, const char *key)
{
    for (unsigned i = 0; i < f->n_ev && i < FINDING_MAX_EV; i++)
        if (strcmp(f->ev[i].key, key) == 0)
            return &f->ev[i];
    return NULL;
}

/* Where configured_timeout_s came from: the compiled default or the option that set it. */
static const char *timeout_source(const struct detect_ctx *c, uint32_t v)
{
    if (v == c->to.udp)
        return v == NAT_UDP_TIMEOUT ? "default" : "--nat-udp-timeout";
    if (v == c->to.udp_stream)
        return v == NAT_UDP_STREAM_TIMEOUT ? "default" : "--nat-udp-stream-timeout";
    if (v == c->to.gre)
        return v == NAT_GRE_TIMEOUT ? "default" : "--nat-gre-timeout";
    if (v == c->to.tcp)
        return v == NAT_TCP_TIMEOUT ? "default" : "--nat-tcp-timeout";
    return v == NAT_OTHER_TIMEOUT ? "default" : "--nat-other-timeout";
}

/* Numbers that reconcile: the assumed timeout says where it came from, and a remedy never asks
 * for keepalives below the measured bound when the capture shows them running faster already (an
 * idle gap longer than their interval means they stopped, not that they were too slow). */
static void reconcile(const struct detect_ctx *c, struct finding *f)
{
    const struct finding_ev *to = ev_get(f, "configured_timeout_s");
    if (to && to->type == EV_INT && to->i >= 0 && to->i <= UINT32_MAX)
        finding_ev_str(f, "timeout_source", timeout_source(c, (uint32_t)to->i));
    const struct finding_ev *ka = ev_get(f, "keepalive_interval_s");
    const struct finding_ev *lost = ev_get(f, "shortest_idle_lost_s");
    if (!lost)
        lost = ev_get(f, "idle_seconds");
    if (!ka || !lost || ka->type != EV_SECONDS || lost->type != EV_SECONDS || ka->d <= 0 ||
        ka->d >= lost->d || strncmp(f->remedy, "Keep NAT-T keepalives", 21) != 0)
        return;
    snprintf(f->remedy, FINDING_REMEDY_SIZE,
             "NAT-T keepalives were seen every %.1f s, often enough, but none crossed this flow "
             "during the %.0f s idle before the mapping was lost: shortening the interval is not "
             "the fix. Make sure they keep running while the tunnel is idle (a stopped or "
             "restarted daemon, a firewall dropping them), or lengthen the router's UDP timeout "
             "(Linux: nf_conntrack_udp_timeout_stream; RFC 4787 asks for >= 120 s).",
             ka->d, lost->d);
}

static void run(struct detect_ctx *c)
{
    size_t first = c->out->n;
    if (du_two(c)) {
        stale_two_captures(c);
    } else if (c->single) {
        stale_single(c, c->single);
        stale_tunnel_single(c, c->single);
    }
    for (size_t i = first; i < c->out->n; i++)
        if (c->out->v[i].kind == FINDING_STALE_NAT)
            reconcile(c, &c->out->v[i]);
}

/* Whether a nat_state_lost finding of `earlier` explains f: one of its clients (same address)
 * lost its mapping at that instant, and f is about the same time or later. */
static bool explained(const struct finding *f, const struct finding_list *earlier)
{
    for (size_t i = 0; i < earlier->n; i++) {
        const struct finding *g = &earlier->v[i];
        if (g->kind != FINDING_NAT_STATE_LOST || f->ts_us + 1000000u < g->ts_us)
            continue;
        for (unsigned a = 0; a < f->n_sessions && a < FINDING_MAX_SESSIONS; a++) {
            if (f->sessions[a].role != ROLE_CLIENT)
                continue;
            for (unsigned b = 0; b < g->n_sessions && b < FINDING_MAX_SESSIONS; b++)
                if (g->sessions[b].role == ROLE_CLIENT &&
                    ip_addr_eq(&g->sessions[b].ip, &f->sessions[a].ip))
                    return true;
        }
    }
    return false;
}

/* stale_nat without the mappings a nat_state_lost finding already explains (several mappings
 * lost at one instant are not each an idle timeout). */
static void run_after(struct detect_ctx *c, const struct finding_list *earlier)
{
    struct finding_list own = {0};
    struct detect_ctx dc = *c;
    dc.out = &own;
    run(&dc);
    for (size_t i = 0; i < own.n; i++) {
        if (explained(&own.v[i], earlier))
            continue;
        struct finding *f = finding_add(c->out, own.v[i].kind, own.v[i].ts_us);
        if (!f)
            break;
        free(f->summary); /* (the new finding's empty text: the moved one brings its own) */
        free(f->remedy);
        *f = own.v[i]; /* moved: what it owns (text, evidence, frames, sessions) goes with it */
        memset(&own.v[i], 0, sizeof(own.v[i]));
    }
    finding_list_free(&own);
}

const struct detector det_stale_nat = {.name = "stale_nat",
                                       .emits = DETECT_KIND_BIT(FINDING_STALE_NAT),
                                       .reads = DETECT_KIND_BIT(FINDING_NAT_STATE_LOST),
                                       .run_after = run_after};
