/* esp.c - ESP header decoder (RFC 4303): SPI and sequence number; the rest is ciphertext. */
#include "vpnscope/decode.h"

#include <stdint.h>

#include "vpnscope/pkt.h"
#include "vpnscope/rd.h"

/*
 * ESP packet format (RFC 4303 §2):
 *  0                   1                   2                   3
 *  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |               Security Parameters Index (SPI)                 |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |                      Sequence Number                          |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * ~          Payload Data, Padding, Pad Length, Next Header       ~
 * ~                 Integrity Check Value (variable)              ~
 *
 * SPI 0 is reserved and never sent (§2.1); 1..255 are reserved by IANA. With ESN only the low
 * 32 bits of the sequence number are on the wire (§2.2.1); the first packet of an SA has seq 1.
 *
 * Limitations: nothing after the sequence number is interpreted (it is encrypted).
 */

#define ESP_HDR_LEN 8
#define ESP_SPI_RESERVED_MAX 255

void esp_decode(struct rd *r, struct pkt *p)
{
    p->vpn = VPN_ESP;
    if (rd_left(r) < ESP_HDR_LEN) {
        pkt_truncated(p, ANOM_ESP_TRUNC);
        return;
    }
    p->esp.spi = rd_be32(r);
    p->esp.seq = rd_be32(r);
    if (p->esp.spi == 0) {
        pkt_invalid(p, ANOM_ESP_SPI_ZERO);
        return;
    }
    if (p->esp.spi <= ESP_SPI_RESERVED_MAX)
        pkt_anom(p, ANOM_ESP_SPI_RESERVED);
    if (p->esp.seq == 0)
        pkt_anom(p, ANOM_ESP_SEQ_ZERO);
}
