/* test_natt.c - unit tests for natt_decode (src/decode/natt.c): RFC 3948 framing on NAT-T flows. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "t.h"
#include "vpnscope/decode.h"
#include "vpnscope/pkt.h"
#include "vpnscope/rd.h"

static struct pkt P;
static uint8_t *buf; /* heap copy of the input, kept until the next dec() (P.payload points in) */

static void dec(const uint8_t *b, size_t n)
{
    free(buf);
    buf = malloc(n ? n : 1);
    if (n)
        memcpy(buf, b, n);
    memset(&P, 0, sizeof(P));
    P.payload = buf;
    P.payload_len = (uint32_t)n;
    struct rd r = rd_init(buf, n);
    natt_decode(&r, &P);
}

static bool has_anom(enum anomaly a)
{
    for (unsigned i = 0; i < P.n_anom; i++)
        if (P.anom[i] == a)
            return true;
    return false;
}

/* NAT-keepalive (RFC 3948 §2.3) */
static const uint8_t keepalive[] = {0xff};

/* Non-ESP marker + IKEv2 INFORMATIONAL (DPD) with an SK payload. 4 + 48 bytes. */
/* clang-format off */
static const uint8_t marker_ike[] = {
    /* non-ESP marker */
    0x00, 0x00, 0x00, 0x00,
    /* IKE header: SPIi c111000000000001, SPIr c222000000000002, next SK(46), v2.0,
     * INFORMATIONAL(37), flags I, msgid 2, length 48 */
    0xc1, 0x11, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01,
    0xc2, 0x22, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02,
    0x2e, 0x20, 0x25, 0x08, 0x00, 0x00, 0x00, 0x02,
    0x00, 0x00, 0x00, 0x30,
    /* SK: next 0, len 20, IV + ciphertext + ICV (16 bytes) */
    0x00, 0x00, 0x00, 0x14,
    0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17,
    0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f,
};
/* clang-format on */

/* ESP in UDP: SPI 0xc0ffee01, seq 1, 16 bytes of ciphertext. */
/* clang-format off */
static const uint8_t esp_udp[] = {
    0xc0, 0xff, 0xee, 0x01, /* SPI */
    0x00, 0x00, 0x00, 0x01, /* sequence number 1 */
    0x9a, 0x9b, 0x9c, 0x9d, 0x9e, 0x9f, 0xa0, 0xa1,
    0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7, 0xa8, 0xa9,
};
/* clang-format on */

static void test_keepalive(void)
{
    dec(keepalive, sizeof(keepalive));
    CHECK_EQ(P.status, PKT_DECODED);
    CHECK_EQ(P.vpn, VPN_NATT_KEEPALIVE);
    CHECK_EQ(P.n_anom, 0);

    static const uint8_t bad[] = {0x00}; /* a 1-byte payload that is not 0xFF */
    dec(bad, sizeof(bad));
    CHECK_EQ(P.status, PKT_INVALID);
    CHECK(has_anom(ANOM_NATT_BAD_KEEPALIVE));

    /* 0, 2 and 3 bytes: too short for a marker or an SPI */
    static const uint8_t two[] = {0xff, 0xff};
    dec(two, 0);
    CHECK_EQ(P.status, PKT_TRUNCATED);
    CHECK(has_anom(ANOM_NATT_TRUNC));
    dec(two, 2);
    CHECK_EQ(P.status, PKT_TRUNCATED);
    CHECK(has_anom(ANOM_NATT_TRUNC));
    dec(marker_ike, 3);
    CHECK_EQ(P.status, PKT_TRUNCATED);
    CHECK(has_anom(ANOM_NATT_TRUNC));
}

static void test_marker_ike(void)
{
    dec(marker_ike, sizeof(marker_ike));
    CHECK_EQ(P.status, PKT_DECODED);
    CHECK_EQ(P.n_anom, 0);
    CHECK(P.nonesp_marker);
    CHECK(!P.esp_in_udp);
    CHECK_EQ(P.vpn, VPN_IKE);
    CHECK(P.payload == buf + 4);
    CHECK_EQ(P.payload_len, sizeof(marker_ike) - 4);
    CHECK_EQ(P.ike.version, 2);
    CHECK_EQ(P.ike.exch, 37);
    CHECK(P.ike.encrypted);
    CHECK(P.ike.ispi == 0xc111000000000001ull);

    /* Prefixes: 1 byte is a (bad) keepalive, 0/2/3 are short, 4.. are a cut IKE message. */
    for (size_t k = 0; k < sizeof(marker_ike); k++) {
        dec(marker_ike, k);
        if (k == 1) {
            CHECK_EQ(P.status, PKT_INVALID);
            CHECK(has_anom(ANOM_NATT_BAD_KEEPALIVE));
        } else {
            CHECK_EQ(P.status, PKT_TRUNCATED);
        }
        if (k >= 4) {
            CHECK(P.nonesp_marker);
            CHECK(has_anom(ANOM_IKE_TRUNC) || has_anom(ANOM_IKE_PAYLOAD_TRUNC));
        }
    }
}

static void test_esp_in_udp(void)
{
    dec(esp_udp, sizeof(esp_udp));
    CHECK_EQ(P.status, PKT_DECODED);
    CHECK_EQ(P.n_anom, 0);
    CHECK(P.esp_in_udp);
    CHECK(!P.nonesp_marker);
    CHECK_EQ(P.vpn, VPN_ESP);
    CHECK_EQ(P.esp.spi, 0xc0ffee01u);
    CHECK_EQ(P.esp.seq, 1);

    for (size_t k = 0; k < 8; k++) {
        dec(esp_udp, k);
        if (k == 1)
            CHECK_EQ(P.status, PKT_INVALID); /* 0xc0 alone is not a keepalive */
        else
            CHECK_EQ(P.status, PKT_TRUNCATED);
        if (k >= 4)
            CHECK(has_anom(ANOM_ESP_TRUNC));
    }

    /* ESP whose bytes would parse as an IKE header is still ESP, never IKE. */
    uint8_t look[sizeof(marker_ike)];
    memcpy(look, "\x00\x00\x00\x01", 4); /* SPI 1 */
    memcpy(look + 4, marker_ike + 4, sizeof(marker_ike) - 4);
    dec(look, sizeof(look));
    CHECK_EQ(P.vpn, VPN_ESP);
    CHECK(P.esp_in_udp);
    CHECK_EQ(P.esp.spi, 1);
    CHECK(P.ike.ispi == 0);
    CHECK_EQ(P.ike.version, 0);
    CHECK(has_anom(ANOM_ESP_SPI_RESERVED));
    CHECK_EQ(P.status, PKT_DECODED);
}

int main(void)
{
    test_keepalive();
    test_marker_ike();
    test_esp_in_udp();
    free(buf);
    return t_done();
}
