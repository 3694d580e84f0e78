/* pptp_calls.c - PPTP Call IDs learned from paired control messages, so that GRE pairs can be
 * keyed by the call they belong to. */
#include "corr_int.h"

#include "vpnscope/proto.h"

struct cval *corr_call_get(struct nat_corr *c, const struct ip_addr *cin, const struct ip_addr *srv,
                           uint8_t kind, uint16_t id, bool create)
{
    struct ckey k;
    memset(&k, 0, sizeof(k));
    k.client_in = ip_norm(cin);
    k.server = ip_norm(srv);
    k.kind = kind;
    k.id = id;
    return create ? table_put(c->calls, &k, NULL) : table_get(c->calls, &k, false);
}

/* base 0: a client behind the router (kinds 0, 1); base 2: a server behind it (kinds 2, 3). */
static void call_learn(struct nat_corr *c, uint8_t base, const struct ip_addr *cin,
                       const struct ip_addr *cout, const struct ip_addr *srv, bool has_xy,
                       uint16_t x, uint16_t y, bool has_z, uint16_t z)
{
    struct cval v;
    memset(&v, 0, sizeof(v));
    if (has_xy) {
        struct cval *o = corr_call_get(c, cin, srv, base, x, false);
        if (o)
            v = *o;
    } else if (has_z) {
        struct cval *o = corr_call_get(c, cin, srv, base + 1, z, false);
        if (o)
            v = *o;
    }
    v.client_out = ip_norm(cout);
    if (has_xy) {
        v.x = x;
        v.y = y;
        v.has_xy = true;
    }
    if (has_z) {
        v.z = z;
        v.has_z = true;
    }
    c->call_gen++;
    if (v.has_xy) {
        struct cval *a = corr_call_get(c, cin, srv, base, v.x, true);
        if (a)
            *a = v;
    }
    if (v.has_z) {
        struct cval *b = corr_call_get(c, cin, srv, base + 1, v.z, true);
        if (b)
            *b = v;
    }
}

/* PPTP control pair (RFC 2637 §2): client Call IDs from OCRQ/ICRP/CCRQ, the server's from
 * OCRP/ICRQ; OCRP carries both (Peer's Call ID = the client's). OCRQ/CCRQ coming from the peer
 * and OCRP going to it are a server behind the router (port forwarding): then "inside" is the
 * server and the outside client's Call ID is the one a helper translates. */
void corr_pptp_pair(struct nat_corr *c, const struct pend *in, const struct pend *out, int dir)
{
    if (!(in->flags & PF_PPTP) || !(out->flags & PF_PPTP) || in->pptp_type != out->pptp_type)
        return;
    const struct ip_addr *cin = dir == DIR_TO_PEER ? &in->src : &in->dst;
    const struct ip_addr *cout = dir == DIR_TO_PEER ? &out->src : &out->dst;
    const struct ip_addr *srv = dir == DIR_TO_PEER ? &out->dst : &out->src;
    switch (in->pptp_type) {
    case PPTP_OCRQ: /* Call ID = the client's */
    case PPTP_CCRQ:
        if ((in->pptp_has & 1) && (out->pptp_has & 1))
            call_learn(c, dir == DIR_TO_PEER ? 0 : 2, cin, cout, srv, true, in->pptp_call,
                       out->pptp_call, false, 0);
        break;
    case PPTP_ICRP: /* Call ID = client's, Peer's = server's */
        if (dir == DIR_TO_PEER && (in->pptp_has & 1) && (out->pptp_has & 1))
            call_learn(c, 0, cin, cout, srv, true, in->pptp_call, out->pptp_call,
                       (in->pptp_has & 2) != 0, in->pptp_peer);
        break;
    case PPTP_OCRP: /* Call ID = server's, Peer's = client's */
        if ((in->pptp_has & 3) == 3 && (out->pptp_has & 3) == 3)
            call_learn(c, dir == DIR_FROM_PEER ? 0 : 2, cin, cout, srv, true, in->pptp_peer,
                       out->pptp_peer, true, in->pptp_call);
        break;
    default:
        break;
    }
}
