/* gre.c - GRE decoder: RFC 2784/2890 version 0 and the enhanced GRE of PPTP (RFC 2637 §4.1). */
#include "vpnscope/decode.h"

#include <stdint.h>

#include "vpnscope/pkt.h"
#include "vpnscope/rd.h"

/*
 * GRE version 0 (RFC 2784 §2.1, key and sequence number from RFC 2890 §2):
 *  0                   1                   2                   3
 *  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |C| |K|S| Reserved0       | Ver |         Protocol Type         |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |      Checksum (optional)      |       Reserved1 (Optional)    |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |                         Key (optional)                        |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |                 Sequence Number (Optional)                    |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *
 * Enhanced GRE, version 1 (RFC 2637 §4.1), carries PPTP's PPP frames:
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |C|R|K|S|s|Recur|A| Flags | Ver |         Protocol Type         |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |    Key (HW) Payload Length    |       Key (LW) Call ID        |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |                  Sequence Number (Optional)                   |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |               Acknowledgment Number (Optional)                |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * C and R must be 0, K must be 1, Protocol Type 0x880B; the Call ID is the peer's.
 *
 * On success p->payload/payload_len are moved past the GRE header.
 *
 * Limitations: RFC 1701 source routing is not supported: a version 0 header with R or s set is
 * invalid (RFC 2784 §2.3 lets a receiver that does not implement RFC 1701 discard it). A v0
 * header with protocol 0x880B is plain GRE (version 0), never PPTP.
 */

#define GRE_FLAG_C 0x8000
#define GRE_FLAG_R 0x4000
#define GRE_FLAG_K 0x2000
#define GRE_FLAG_S 0x1000
#define GRE_FLAG_SSR 0x0800
#define GRE_FLAG_A 0x0080 /* v1 only */
#define GRE_VER_MASK 0x0007
#define GRE_PROTO_PPP 0x880B

void gre_decode(struct rd *r, struct pkt *p)
{
    struct gre_hdr *g = &p->gre;
    p->vpn = VPN_GRE;
    if (rd_left(r) < 4) {
        pkt_truncated(p, ANOM_GRE_TRUNC);
        return;
    }
    g->flags = rd_be16(r);
    g->proto = rd_be16(r);
    g->version = (uint8_t)(g->flags & GRE_VER_MASK);
    if (g->version > 1) {
        pkt_invalid(p, ANOM_GRE_BAD_VERSION);
        return;
    }
    if (g->version == 0) {
        if (g->flags & (GRE_FLAG_R | GRE_FLAG_SSR)) {
            pkt_invalid(p, ANOM_GRE_BAD_FLAGS);
            return;
        }
        if (g->flags & GRE_FLAG_C)
            rd_skip(r, 4); /* checksum, reserved1 */
        if (g->flags & GRE_FLAG_K) {
            g->has_key = true;
            g->key = rd_be32(r);
        }
        if (g->flags & GRE_FLAG_S) {
            g->has_seq = true;
            g->seq = rd_be32(r);
        }
    } else {
        if ((g->flags & (GRE_FLAG_C | GRE_FLAG_R)) || !(g->flags & GRE_FLAG_K)) {
            pkt_invalid(p, ANOM_GRE_BAD_FLAGS);
            return;
        }
        if (g->proto != GRE_PROTO_PPP) {
            pkt_invalid(p, ANOM_GRE_V1_BAD_PROTO);
            return;
        }
        g->has_key = true;
        g->payload_len = rd_be16(r);
        g->call_id = rd_be16(r);
        g->key = ((uint32_t)g->payload_len << 16) | g->call_id;
        if (g->flags & GRE_FLAG_S) {
            g->has_seq = true;
            g->seq = rd_be32(r);
        }
        if (g->flags & GRE_FLAG_A) {
            g->has_ack = true;
            g->ack = rd_be32(r);
        }
    }
    if (!rd_ok(r)) {
        pkt_truncated(p, ANOM_GRE_TRUNC);
        return;
    }
    p->payload = rd_rest(r);
    p->payload_len = (uint32_t)rd_left(r);
}
