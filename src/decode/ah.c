/* ah.c - AH header decoder (RFC 4302): next header, length, SPI, sequence number, ICV size. */
#include "vpnscope/decode.h"

#include <stdint.h>

#include "vpnscope/pkt.h"
#include "vpnscope/rd.h"

/*
 * AH format (RFC 4302 §2):
 *  0                   1                   2                   3
 *  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * | Next Header   |  Payload Len  |          RESERVED             |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |                 Security Parameters Index (SPI)               |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |                    Sequence Number Field                      |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * ~                Integrity Check Value-ICV (variable)           ~
 *
 * Payload Len (§2.2) is the AH length in 32-bit words minus 2, so the whole header is
 * (len + 2) * 4 bytes and the ICV is that minus the 12 fixed bytes.
 * On success p->payload/payload_len are moved past the ICV (the protected next header).
 *
 * Limitations: the ICV alignment (4 bytes for IPv4, 8 for IPv6) is not checked.
 */

#define AH_FIXED_LEN 12
#define AH_SPI_RESERVED_MAX 255

void ah_decode(struct rd *r, struct pkt *p)
{
    struct ah_hdr *h = &p->ah;
    p->vpn = VPN_AH;
    if (rd_left(r) < AH_FIXED_LEN) {
        pkt_truncated(p, ANOM_AH_TRUNC);
        return;
    }
    h->next_header = rd_u8(r);
    h->len_field = rd_u8(r);
    rd_skip(r, 2); /* reserved */
    h->spi = rd_be32(r);
    h->seq = rd_be32(r);
    unsigned total = ((unsigned)h->len_field + 2u) * 4u;
    if (total < AH_FIXED_LEN) {
        pkt_invalid(p, ANOM_AH_BAD_LEN);
        return;
    }
    h->icv_len = (uint16_t)(total - AH_FIXED_LEN);
    if (h->spi == 0) {
        pkt_invalid(p, ANOM_AH_SPI_RESERVED);
        return;
    }
    if (h->spi <= AH_SPI_RESERVED_MAX)
        pkt_anom(p, ANOM_AH_SPI_RESERVED);
    if (h->icv_len > rd_left(r)) {
        pkt_truncated(p, ANOM_AH_TRUNC);
        return;
    }
    rd_skip(r, h->icv_len);
    p->payload = rd_rest(r);
    p->payload_len = (uint32_t)rd_left(r);
}
