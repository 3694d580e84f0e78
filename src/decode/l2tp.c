/* l2tp.c - L2TP header decoder on UDP: L2TPv2 (RFC 2661 §3.1) and the L2TPv3 UDP headers (RFC
 * 3931). */
#include "vpnscope/decode.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vpnscope/config.h"
#include "vpnscope/pkt.h"
#include "vpnscope/rd.h"

/*
 * L2TPv2 header (RFC 2661 §3.1):
 *  0                   1                   2                   3
 *  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |T|L|x|x|S|x|O|P|x|x|x|x|  Ver  |          Length (opt)         |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |           Tunnel ID           |           Session ID          |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |             Ns (opt)          |             Nr (opt)          |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |      Offset Size (opt)        |    Offset pad... (opt)
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * Control messages (T=1) must have L=1, S=1 and O=0 (§3.1).
 *
 * L2TPv3 over UDP (RFC 3931 §3.2.1 control, §4.1.2.1 data):
 * |T|L|x|x|S|x|x|x|x|x|x|x|  Ver  |             Length            |  control
 * |                     Control Connection ID                     |
 * |               Ns              |               Nr              |
 *
 * |T|x|x|x|x|x|x|x|x|x|x|x|  Ver  |             Reserved          |  data
 * |                           Session ID                          |
 *
 * AVP (RFC 2661 §4.1, RFC 3931 §5.1), the first one of a control message being Message Type:
 * |M|H| rsvd  |      Length       |           Vendor ID           |
 * |         Attribute Type        |        Attribute Value ...    |
 *
 * Limitations: L2TPv3 identifiers are 32-bit; tunnel_id (Control Connection ID) and session_id
 * keep their low 16 bits. Only the first AVP is looked at (VPNSCOPE_MAX_L2TP_AVPS). L2TPv3
 * over IP (protocol 115) is not decoded here.
 */

#define L2TP_FLAG_T 0x8000
#define L2TP_FLAG_L 0x4000
#define L2TP_FLAG_S 0x0800
#define L2TP_FLAG_O 0x0200
#define L2TP_VER_MASK 0x000F
#define L2TP_AVP_HDR_LEN 6
#define L2TP_AVP_LEN_MASK 0x03FF
#define L2TP_AVP_H 0x4000
#define L2TP_AVP_MESSAGE_TYPE 0

/*
 * Looks at the first AVP of a control message body. `cut` says the body is short because the
 * capture is (the Length field promised more), so a short AVP is a truncation, not malformed.
 */
static void l2tp_avps(struct rd *b, struct pkt *p, bool cut)
{
    for (unsigned i = 0; i < VPNSCOPE_MAX_L2TP_AVPS && rd_left(b) > 0; i++) {
        if (rd_left(b) < L2TP_AVP_HDR_LEN) {
            if (cut)
                pkt_truncated(p, ANOM_L2TP_TRUNC);
            else
                pkt_invalid(p, ANOM_L2TP_BAD_LENGTH);
            return;
        }
        uint16_t fl = rd_be16(b);
        uint16_t vendor = rd_be16(b);
        uint16_t type = rd_be16(b);
        uint16_t alen = fl & L2TP_AVP_LEN_MASK;
        if (alen < L2TP_AVP_HDR_LEN) {
            pkt_invalid(p, ANOM_L2TP_BAD_LENGTH);
            return;
        }
        if ((size_t)(alen - L2TP_AVP_HDR_LEN) > rd_left(b)) {
            if (cut)
                pkt_truncated(p, ANOM_L2TP_TRUNC);
            else
                pkt_invalid(p, ANOM_L2TP_BAD_LENGTH);
            return;
        }
        struct rd v = rd_sub(b, (size_t)(alen - L2TP_AVP_HDR_LEN));
        if (i == 0 && vendor == 0 && type == L2TP_AVP_MESSAGE_TYPE && !(fl & L2TP_AVP_H) &&
            rd_left(&v) >= 2)
            p->l2tp.msg_type = rd_be16(&v);
    }
}

/*
 * Checks the Length field of a message whose header took `hdr` bytes out of `avail` captured
 * ones (invalid when shorter than the header, truncated when longer than the capture), then
 * walks the body of a control message.
 */
static void l2tp_ctrl(struct rd *r, struct pkt *p, uint16_t length, size_t hdr, size_t avail)
{
    if (length < hdr) {
        pkt_invalid(p, ANOM_L2TP_BAD_LENGTH);
        return;
    }
    bool cut = length > avail;
    if (cut)
        pkt_truncated(p, ANOM_L2TP_TRUNC);
    struct rd body = rd_sub_upto(r, (size_t)(length - hdr));
    if (p->l2tp.control)
        l2tp_avps(&body, p, cut);
}

static void l2tp_v3(struct rd *r, struct pkt *p, size_t avail)
{
    struct l2tp_hdr *h = &p->l2tp;
    if (!h->control) {
        rd_skip(r, 2); /* reserved */
        uint32_t sid = rd_be32(r);
        if (!rd_ok(r)) {
            pkt_truncated(p, ANOM_L2TP_TRUNC);
            return;
        }
        h->session_id = (uint16_t)(sid & 0xffff);
        return;
    }
    uint16_t length = rd_be16(r);
    uint32_t ccid = rd_be32(r);
    rd_skip(r, 4); /* Ns, Nr */
    if (!rd_ok(r)) {
        pkt_truncated(p, ANOM_L2TP_TRUNC);
        return;
    }
    h->tunnel_id = (uint16_t)(ccid & 0xffff);
    l2tp_ctrl(r, p, length, avail - rd_left(r), avail);
}

void l2tp_decode(struct rd *r, struct pkt *p)
{
    struct l2tp_hdr *h = &p->l2tp;
    size_t avail = rd_left(r);
    if (avail < 2) {
        pkt_truncated(p, ANOM_L2TP_TRUNC);
        return;
    }
    uint16_t fl = rd_be16(r);
    h->version = (uint8_t)(fl & L2TP_VER_MASK);
    h->control = (fl & L2TP_FLAG_T) != 0;
    p->vpn = VPN_L2TP;
    if (h->version == 3) {
        l2tp_v3(r, p, avail);
        return;
    }
    if (h->version != 2) {
        pkt_invalid(p, ANOM_L2TP_BAD_VERSION);
        return;
    }
    uint16_t length = 0;
    if (fl & L2TP_FLAG_L)
        length = rd_be16(r);
    h->tunnel_id = rd_be16(r);
    h->session_id = rd_be16(r);
    if (fl & L2TP_FLAG_S)
        rd_skip(r, 4); /* Ns, Nr */
    if (!rd_ok(r)) {
        pkt_truncated(p, ANOM_L2TP_TRUNC);
        return;
    }
    if (h->control && (!(fl & L2TP_FLAG_L) || !(fl & L2TP_FLAG_S) || (fl & L2TP_FLAG_O))) {
        pkt_invalid(p, ANOM_L2TP_BAD_FLAGS);
        return;
    }
    if (fl & L2TP_FLAG_O) {
        uint16_t off = rd_be16(r);
        rd_skip(r, off);
        if (!rd_ok(r)) {
            pkt_truncated(p, ANOM_L2TP_TRUNC);
            return;
        }
    }
    if (fl & L2TP_FLAG_L)
        l2tp_ctrl(r, p, length, avail - rd_left(r), avail);
}
