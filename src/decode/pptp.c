/* pptp.c - PPTP control message decoder (RFC 2637 §2), the first message of a TCP payload. */
#include "vpnscope/decode.h"
#include "vpnscope/proto.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vpnscope/pkt.h"
#include "vpnscope/rd.h"

/*
 * Control message header (RFC 2637 §2), 12 bytes:
 *  0                   1                   2                   3
 *  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |             Length            |       PPTP Message Type       |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |                         Magic Cookie                          |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |     Control Message Type      |           Reserved0           |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *
 * Body offsets from the start of the message (RFC 2637 §2.1-§2.15, tcpdump print-pptp.c):
 *  SCCRQ (1)  12 version(2) 14 reserved1(2) 16 framing(4) 20 bearer(4) 24 max ch(2)
 *             26 firmware(2) 28 host name(64) 92 vendor(64)                         = 156
 *  SCCRP (2)  as SCCRQ with 14 result(1) 15 error(1)                                = 156
 *  StopCCRQ   12 reason(1) 13 reserved1(1) 14 reserved2(2)                          = 16
 *  StopCCRP   12 result(1) 13 error(1) 14 reserved1(2)                              = 16
 *  ECHORQ     12 identifier(4)                                                      = 16
 *  ECHORP     12 identifier(4) 16 result(1) 17 error(1) 18 reserved1(2)             = 20
 *  OCRQ (7)   12 call id(2) 14 serial(2) ... phone number, subaddress               = 168
 *  OCRP (8)   12 call id(2) 14 peer's call id(2) 16 result(1) 17 error(1) 18 cause(2) ... = 32
 *  ICRQ (9)   12 call id(2) ...                                                     = 220
 *  ICRP (10)  12 call id(2) 14 peer's call id(2) 16 result(1) 17 error(1) ...       = 24
 *  ICCN (11)  12 peer's call id(2) ...                                              = 28
 *  CCRQ (12)  12 call id(2) 14 reserved1(2)                                         = 16
 *  CDN (13)   12 call id(2) 14 result(1) 15 error(1) 16 cause(2) 18 reserved1(2)
 *             20 call statistics(128)                                               = 148
 *  WEN (14)   12 peer's call id(2) ... error counters                              = 40
 *  SLI (15)   12 peer's call id(2) 14 reserved1(2) 16 send ACCM(4) 20 recv ACCM(4) = 24
 *
 * A Length shorter than the message type's fixed size is invalid; a message cut by the
 * capture or the TCP segment is truncated and the fields present are still filled.
 *
 * Limitations: only the first message of the payload is decoded (no TCP reassembly here);
 * management messages (PPTP Message Type 2) have no defined format and are invalid.
 */

#define PPTP_HDR_LEN 12
#define PPTP_MSG_CONTROL 1
#define PPTP_MAGIC 0x1A2B3C4Du
#define PPTP_NAME_LEN 64

/* Fixed size of each control message (RFC 2637 §2); 0 for unknown types. */
static unsigned pptp_msg_size(uint16_t type)
{
    switch (type) {
    case PPTP_SCCRQ:
    case PPTP_SCCRP:
        return 156;
    case PPTP_STOPCCRQ:
    case PPTP_STOPCCRP:
    case PPTP_ECHORQ:
    case PPTP_CCRQ:
        return 16;
    case PPTP_ECHORP:
        return 20;
    case PPTP_OCRQ:
        return 168;
    case PPTP_OCRP:
        return 32;
    case PPTP_ICRQ:
        return 220;
    case PPTP_ICRP:
    case PPTP_SLI:
        return 24;
    case PPTP_ICCN:
        return 28;
    case PPTP_CDN:
        return 148;
    case PPTP_WEN:
        return 40;
    default:
        return 0;
    }
}

/* Copies a 64-byte field up to its first NUL (at most PPTP_STR_MAX - 1 bytes, any value). */
static void pptp_str(struct rd *b, char *dst)
{
    struct rd f = rd_sub(b, PPTP_NAME_LEN);
    size_t n = 0;
    while (n < PPTP_STR_MAX - 1 && rd_left(&f) > 0) {
        uint8_t c = rd_u8(&f);
        if (c == 0)
            break;
        dst[n++] = (char)c;
    }
    dst[n] = '\0';
}

static void pptp_call_id(struct rd *b, struct pptp_msg *m)
{
    m->call_id = rd_be16(b);
    m->has_call_id = rd_ok(b);
}

static void pptp_peer_call_id(struct rd *b, struct pptp_msg *m)
{
    m->peer_call_id = rd_be16(b);
    m->has_peer_call_id = rd_ok(b);
}

/* Decodes the body (offset 12 on) of a control message of a known type. */
static void pptp_body(struct rd *b, struct pptp_msg *m)
{
    switch (m->ctrl_type) {
    case PPTP_SCCRQ:
    case PPTP_SCCRP:
        rd_skip(b, 2); /* protocol version */
        if (m->ctrl_type == PPTP_SCCRP) {
            m->result = rd_u8(b);
            m->error = rd_u8(b);
        } else {
            rd_skip(b, 2); /* reserved1 */
        }
        rd_skip(b, 12); /* framing, bearer, max channels, firmware revision */
        pptp_str(b, m->hostname);
        pptp_str(b, m->vendor);
        break;
    case PPTP_STOPCCRP:
        m->result = rd_u8(b);
        m->error = rd_u8(b);
        break;
    case PPTP_ECHORP:
        rd_skip(b, 4); /* identifier */
        m->result = rd_u8(b);
        m->error = rd_u8(b);
        break;
    case PPTP_OCRQ:
    case PPTP_ICRQ:
    case PPTP_CCRQ:
        pptp_call_id(b, m);
        break;
    case PPTP_OCRP:
    case PPTP_ICRP:
        pptp_call_id(b, m);
        pptp_peer_call_id(b, m);
        m->result = rd_u8(b);
        m->error = rd_u8(b);
        if (m->ctrl_type == PPTP_OCRP)
            m->cause = rd_be16(b);
        break;
    case PPTP_CDN:
        pptp_call_id(b, m);
        m->result = rd_u8(b);
        m->error = rd_u8(b);
        m->cause = rd_be16(b);
        break;
    case PPTP_ICCN:
    case PPTP_WEN:
    case PPTP_SLI:
        pptp_peer_call_id(b, m);
        break;
    default: /* StopCCRQ, ECHORQ: nothing vpnscope uses */
        break;
    }
}

bool pptp_probe(const uint8_t *data, uint32_t len)
{
    struct rd r = rd_init(data, len);
    if (rd_left(&r) < PPTP_HDR_LEN)
        return false;
    uint16_t length = rd_be16(&r);
    uint16_t msg_type = rd_be16(&r);
    uint32_t magic = rd_be32(&r);
    uint16_t ctrl_type = rd_be16(&r);
    unsigned need = pptp_msg_size(ctrl_type);
    return magic == PPTP_MAGIC && msg_type == PPTP_MSG_CONTROL && need && length >= need;
}

void pptp_decode(struct rd *r, struct pkt *p)
{
    struct pptp_msg *m = &p->pptp;
    p->dirty |= PKT_DIRTY_PPTP;
    size_t avail = rd_left(r);
    if (avail < PPTP_HDR_LEN) {
        pkt_truncated(p, ANOM_PPTP_TRUNC);
        return;
    }
    m->length = rd_be16(r);
    m->msg_type = rd_be16(r);
    uint32_t magic = rd_be32(r);
    m->ctrl_type = rd_be16(r);
    rd_skip(r, 2); /* reserved0 */
    p->vpn = VPN_PPTP;

    if (magic != PPTP_MAGIC) {
        pkt_invalid(p, ANOM_PPTP_BAD_MAGIC);
        return;
    }
    if (m->length < PPTP_HDR_LEN) {
        pkt_invalid(p, ANOM_PPTP_BAD_LENGTH);
        return;
    }
    unsigned need = pptp_msg_size(m->ctrl_type);
    if (m->msg_type != PPTP_MSG_CONTROL || need == 0) {
        pkt_invalid(p, ANOM_PPTP_BAD_TYPE);
        return;
    }
    if (m->length < need) {
        pkt_invalid(p, ANOM_PPTP_BAD_LENGTH);
        return;
    }
    size_t body_len = (size_t)(m->length - PPTP_HDR_LEN);
    if (body_len > rd_left(r))
        pkt_truncated(p, ANOM_PPTP_TRUNC);
    struct rd body = rd_sub_upto(r, body_len);
    pptp_body(&body, m);
}
