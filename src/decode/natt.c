/* natt.c - UDP-encapsulated IPsec framing on NAT-T flows (RFC 3948): keepalive, marker, ESP. */
#include "vpnscope/decode.h"

#include <stddef.h>
#include <stdint.h>

#include "vpnscope/pkt.h"
#include "vpnscope/rd.h"

/*
 * RFC 3948 §2: what follows the UDP header on a NAT-T flow (port 4500 or a learned flow).
 *
 * NAT-keepalive (§2.3): a single octet 0xFF.
 * +-+-+-+-+-+-+-+-+
 * |     0xFF      |
 * +-+-+-+-+-+-+-+-+
 *
 * IKE (§2.2): a 4-byte non-ESP marker, then the IKE header.
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |                      Non-ESP Marker (0)                       |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * ~                    IKE header [RFC 7296]                      ~
 *
 * ESP (§2.1): the ESP header itself; its SPI is never zero (RFC 4303 §2.1), which is what tells
 * it apart from the marker. ESP bytes are never parsed as IKE.
 */

#define NATT_KEEPALIVE 0xFF
#define NATT_MARKER_LEN 4

void natt_decode(struct rd *r, struct pkt *p)
{
    size_t n = rd_left(r);
    if (n == 1) {
        if (rd_u8(r) == NATT_KEEPALIVE)
            p->vpn = VPN_NATT_KEEPALIVE;
        else
            pkt_invalid(p, ANOM_NATT_BAD_KEEPALIVE);
        return;
    }
    if (n < NATT_MARKER_LEN) {
        pkt_truncated(p, ANOM_NATT_TRUNC);
        return;
    }
    if (rd_peek_be32(r) == 0) {
        rd_skip(r, NATT_MARKER_LEN);
        p->nonesp_marker = true;
        p->payload = rd_rest(r);
        p->payload_len = (uint32_t)rd_left(r);
        ike_decode(r, p);
        return;
    }
    p->esp_in_udp = true;
    esp_decode(r, p);
}

/*
 * Probe for IKE on a UDP payload that no port identifies (NAT rewrites ports; peers may float to a
 * configured port other than 4500): a 4-byte zero non-ESP marker (or none) followed by an ISAKMP
 * header with a non-zero initiator SPI, version 1.0 or 2.0 and a length that fits. Pure: fills
 * the SPI, version and marker outputs; the caller decides (it only trusts SPIs it already knows).
 */
bool natt_probe(const uint8_t *payload, uint32_t len, uint64_t *ispi, uint8_t *version,
                bool *marker)
{
    struct rd r = rd_init(payload, len);
    *marker = false;
    if (rd_left(&r) >= NATT_MARKER_LEN + 28 && rd_peek_be32(&r) == 0) {
        rd_skip(&r, NATT_MARKER_LEN);
        *marker = true;
    }
    if (rd_left(&r) < 28)
        return false;
    size_t avail = rd_left(&r);
    *ispi = rd_be64(&r);
    rd_skip(&r, 8); /* responder SPI */
    rd_skip(&r, 1); /* next payload */
    uint8_t ver = rd_u8(&r);
    rd_skip(&r, 2); /* exchange type, flags */
    rd_skip(&r, 4); /* message ID */
    uint32_t length = rd_be32(&r);
    if (!rd_ok(&r) || *ispi == 0 || (ver != 0x10 && ver != 0x20) || length < 28 || length > avail)
        return false;
    *version = (uint8_t)(ver >> 4);
    return true;
}
