/* pptp_port.c - pptp_nonstandard_port: a PPTP control connection (recognised by its magic cookie,
 * decode/pptp.c) on a TCP port other than 1723. A NAT's PPTP helper (Linux nf_conntrack_pptp, most
 * routers' "PPTP passthrough") recognises the control connection by port 1723 only, so the GRE of
 * such a call is not tracked by Call ID: its return GRE is dropped or reaches the wrong client.
 * Reported per control connection with calls: confirmed when a call's GRE is seen one way only in
 * the capture that shows the client side (inside, or a single capture), or the outside shows the
 * return GRE reaching the router while the inside never gets it; suspected when the GRE flows both
 * ways where it was seen (a capture outside the NAT cannot tell whether it is translated). */
#include <stdio.h>
#include <string.h>

#include "det_util.h"

#define PPTP_TCP_PORT 1723 /* RFC 2637 section 1.4 */

struct port_facts {
    const struct pptp_ctrl *pc;
    unsigned calls;
    uint64_t up, down;   /* GRE of its calls in this capture: to the server, to the client */
    uint64_t oup, odown; /* the same at the outside (two captures) */
    bool outside_seen;
    uint16_t call_id, peer_call_id;
};

static void gre_of(const struct session_model *m, const struct pptp_ctrl *pc, uint64_t *up,
                   uint64_t *down, unsigned *calls, uint16_t *cid, uint16_t *pcid)
{
    *up = *down = 0;
    for (unsigned i = 0; i < pc->n_calls && i < PPTP_CALLS_PER_CTRL; i++) {
        const struct pptp_call *call = &pc->calls[i];
        uint64_t u = 0, d = 0;
        session_pptp_call_gre(m, pc, call, &u, &d);
        *up += u;
        *down += d;
        if (calls) {
            if (!*calls) {
                *cid = call->call_id;
                *pcid = call->peer_call_id;
            }
            (*calls)++;
        }
    }
}

/* The outside model's control connection to the same server port with the same client port. */
static const struct pptp_ctrl *outside_ctrl(const struct session_model *o,
                                            const struct pptp_ctrl *pc)
{
    for (uint32_t i = 0; o && i < table_slots(o->pptp); i++) {
        const struct pptp_ctrl *x = table_slot(o->pptp, i, NULL);
        if (x && ip_addr_eq(&x->server.ip, &pc->server.ip) && x->server.port == pc->server.port)
            return x;
    }
    return NULL;
}

static bool emit(struct detect_ctx *c, const struct session_model *m, const struct port_facts *x)
{
    const struct pptp_ctrl *pc = x->pc;
    struct finding *f = finding_add(c->out, FINDING_PPTP_NONSTANDARD_PORT, pc->first_ts);
    if (!f)
        return false;
    bool one_way = (x->up && !x->down) || (!x->up && x->down) || (!x->up && !x->down);
    bool dropped = x->outside_seen && x->odown > x->down;
    f->confirmed = one_way || dropped;
    char cl[DU_IPSTR], sv[DU_IPSTR];
    du_ipp(&pc->client.ip, cl);
    du_ipp(&pc->server.ip, sv);
    snprintf(f->summary, FINDING_SUMMARY_SIZE,
             "PPTP control connection %s:%u -> %s:%u runs on TCP port %u, not 1723 (recognised by "
             "its magic cookie 0x1A2B3C4D), with %u call(s): a NAT's PPTP helper tracks port 1723 "
             "only, so the GRE of these calls is not translated by Call ID",
             cl, pc->client.port, sv, pc->server.port, pc->server.port, x->calls);
    if (dropped)
        du_cat(f->summary, FINDING_SUMMARY_SIZE,
               "; the server's GRE reached the router (%llu packets outside) but %llu reached the "
               "client: the router dropped it",
               (unsigned long long)x->odown, (unsigned long long)x->down);
    else if (one_way)
        du_cat(f->summary, FINDING_SUMMARY_SIZE,
               "; its GRE flows one way only here (%llu to the server, %llu to the client)",
               (unsigned long long)x->up, (unsigned long long)x->down);
    else
        du_cat(f->summary, FINDING_SUMMARY_SIZE,
               "; its GRE flows both ways in this capture (%llu / %llu), which does not show "
               "whether a NAT on the client's side translated it",
               (unsigned long long)x->up, (unsigned long long)x->down);
    du_cat(f->summary, FINDING_SUMMARY_SIZE, ".");
    snprintf(f->remedy, FINDING_REMEDY_SIZE,
             "Run the PPTP server on TCP 1723 so that NAT helpers track the call, or configure "
             "the NAT to track port %u (Linux: 'tcp dport %u ct helper set \"pptp-h\"' with an "
             "nft ct helper of type \"pptp\"); better, replace PPTP with IKEv2/IPsec.",
             pc->server.port, pc->server.port);
    struct finding_session *fs = du_session_endpoint(f, ROLE_CLIENT, &pc->client);
    if (fs && x->calls) {
        fs->has_call_id = true;
        fs->call_id = x->call_id;
    }
    if ((fs = du_session_endpoint(f, ROLE_SERVER, &pc->server)) && x->calls) {
        fs->has_call_id = true;
        fs->call_id = x->peer_call_id;
    }
    finding_ev_int(f, "server_port", pc->server.port);
    finding_ev_int(f, "calls", x->calls);
    finding_ev_int(f, "gre_to_server", (int64_t)x->up);
    finding_ev_int(f, "gre_to_client", (int64_t)x->down);
    if (x->outside_seen) {
        finding_ev_int(f, "gre_to_server_outside", (int64_t)x->oup);
        finding_ev_int(f, "gre_to_client_outside", (int64_t)x->odown);
    }
    const struct flow *fl =
        du_flow_find(m, IPP_TCP, &pc->client.ip, pc->client.port, &pc->server.ip, pc->server.port);
    if (fl)
        finding_frame(f, du_cap(c, m), fl->first_frame);
    for (unsigned i = 0; i < pc->n_calls && i < PPTP_CALLS_PER_CTRL && i < 4; i++)
        finding_frame(f, du_cap(c, m), pc->calls[i].first_frame);
    return true;
}

static void scan(struct detect_ctx *c, const struct session_model *m, const struct session_model *o)
{
    for (uint32_t i = 0; i < table_slots(m->pptp); i++) {
        const struct pptp_ctrl *pc = table_slot(m->pptp, i, NULL);
        if (!pc || pc->server.port == PPTP_TCP_PORT || !pc->n_calls)
            continue;
        struct port_facts x;
        memset(&x, 0, sizeof(x));
        x.pc = pc;
        gre_of(m, pc, &x.up, &x.down, &x.calls, &x.call_id, &x.peer_call_id);
        const struct pptp_ctrl *oc = o ? outside_ctrl(o, pc) : NULL;
        if (oc) {
            x.outside_seen = true;
            gre_of(o, oc, &x.oup, &x.odown, NULL, NULL, NULL);
        }
        if (!emit(c, m, &x))
            return;
    }
}

static void run(struct detect_ctx *c)
{
    if (du_two(c)) {
        scan(c, c->inside, c->outside);
    } else if (c->single) {
        scan(c, c->single, NULL);
    }
}

const struct detector det_pptp_port = {.name = "pptp_nonstandard_port",
                                       .run = run,
                                       .emits = DETECT_KIND_BIT(FINDING_PPTP_NONSTANDARD_PORT)};
