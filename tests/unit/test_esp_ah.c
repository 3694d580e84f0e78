/* test_esp_ah.c - unit tests for esp_decode and ah_decode (src/decode/esp.c, ah.c). */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "t.h"
#include "vpnscope/decode.h"
#include "vpnscope/pkt.h"
#include "vpnscope/proto.h"
#include "vpnscope/rd.h"

static struct pkt P;
static uint8_t *buf; /* heap copy of the input, kept until the next dec() (P.payload points in) */

static void dec(void (*fn)(struct rd *, struct pkt *), const uint8_t *b, size_t n)
{
    free(buf);
    buf = malloc(n ? n : 1);
    if (n)
        memcpy(buf, b, n);
    memset(&P, 0, sizeof(P));
    P.l4 = buf;
    P.l4_len = (uint32_t)n;
    struct rd r = rd_init(buf, n);
    fn(&r, &P);
}

static bool has_anom(enum anomaly a)
{
    for (unsigned i = 0; i < P.n_anom; i++)
        if (P.anom[i] == a)
            return true;
    return false;
}

/* ESP: SPI 0x0000a001, seq 5, 16 bytes of ciphertext. */
/* clang-format off */
static const uint8_t esp[] = {
    0x00, 0x00, 0xa0, 0x01, /* SPI */
    0x00, 0x00, 0x00, 0x05, /* sequence number */
    0x61, 0x62, 0x63, 0x64, 0x65, 0x66, 0x67, 0x68,
    0x69, 0x6a, 0x6b, 0x6c, 0x6d, 0x6e, 0x6f, 0x70,
};
/* clang-format on */

/* AH with HMAC-SHA1-96 (Payload Len 4 = 6 words = 24 bytes) over an ICMP echo (4 bytes shown). */
/* clang-format off */
static const uint8_t ah[] = {
    0x01,                   /* next header ICMP */
    0x04,                   /* payload len: (4 + 2) * 4 = 24 bytes */
    0x00, 0x00,             /* reserved */
    0x00, 0x00, 0xb0, 0x01, /* SPI 0x0000b001 */
    0x00, 0x00, 0x00, 0x09, /* sequence number 9 */
    0xc1, 0xc2, 0xc3, 0xc4, 0xc5, 0xc6, 0xc7, 0xc8, 0xc9, 0xca, 0xcb, 0xcc, /* ICV (12) */
    0x08, 0x00, 0xf7, 0xff, /* ICMP echo request type, code, checksum */
};
/* clang-format on */

static void test_esp(void)
{
    dec(esp_decode, esp, sizeof(esp));
    CHECK_EQ(P.status, PKT_DECODED);
    CHECK_EQ(P.n_anom, 0);
    CHECK_EQ(P.vpn, VPN_ESP);
    CHECK_EQ(P.esp.spi, 0xa001);
    CHECK_EQ(P.esp.seq, 5);

    /* ESP carries no length: prefixes shorter than SPI + seq are truncated, longer ones decode. */
    for (size_t k = 0; k < sizeof(esp); k++) {
        dec(esp_decode, esp, k);
        if (k < 8) {
            CHECK_EQ(P.status, PKT_TRUNCATED);
            CHECK(has_anom(ANOM_ESP_TRUNC));
        } else {
            CHECK_EQ(P.status, PKT_DECODED);
        }
    }

    uint8_t m[sizeof(esp)];
    memcpy(m, esp, sizeof(m));
    memset(m, 0, 4); /* SPI 0 */
    dec(esp_decode, m, sizeof(m));
    CHECK_EQ(P.status, PKT_INVALID);
    CHECK(has_anom(ANOM_ESP_SPI_ZERO));

    memcpy(m, esp, sizeof(m));
    m[2] = 0;
    m[3] = 0xff; /* SPI 255 */
    dec(esp_decode, m, sizeof(m));
    CHECK_EQ(P.status, PKT_DECODED);
    CHECK(has_anom(ANOM_ESP_SPI_RESERVED));
    CHECK_EQ(P.esp.spi, 255);

    memcpy(m, esp, sizeof(m));
    m[2] = 0x01;
    m[3] = 0x00; /* SPI 256: first unreserved value */
    dec(esp_decode, m, sizeof(m));
    CHECK_EQ(P.n_anom, 0);

    memcpy(m, esp, sizeof(m));
    m[7] = 0; /* seq 0 */
    dec(esp_decode, m, sizeof(m));
    CHECK_EQ(P.status, PKT_DECODED);
    CHECK(has_anom(ANOM_ESP_SEQ_ZERO));
    CHECK_EQ(P.esp.seq, 0);
}

static void test_ah(void)
{
    dec(ah_decode, ah, sizeof(ah));
    CHECK_EQ(P.status, PKT_DECODED);
    CHECK_EQ(P.n_anom, 0);
    CHECK_EQ(P.vpn, VPN_AH);
    CHECK_EQ(P.ah.next_header, IPP_ICMP);
    CHECK_EQ(P.ah.len_field, 4);
    CHECK_EQ(P.ah.spi, 0xb001);
    CHECK_EQ(P.ah.seq, 9);
    CHECK_EQ(P.ah.icv_len, 12);
    CHECK(P.payload == buf + 24);
    CHECK_EQ(P.payload_len, 4);

    /* every prefix shorter than the 24-byte AH header is truncated */
    for (size_t k = 0; k < 24; k++) {
        dec(ah_decode, ah, k);
        CHECK_EQ(P.status, PKT_TRUNCATED);
        CHECK(has_anom(ANOM_AH_TRUNC));
    }
    dec(ah_decode, ah, 24);
    CHECK_EQ(P.status, PKT_DECODED);
    CHECK_EQ(P.payload_len, 0);

    uint8_t m[sizeof(ah)];
    memcpy(m, ah, sizeof(m));
    m[1] = 0; /* (0 + 2) * 4 = 8 < 12 */
    dec(ah_decode, m, sizeof(m));
    CHECK_EQ(P.status, PKT_INVALID);
    CHECK(has_anom(ANOM_AH_BAD_LEN));

    memcpy(m, ah, sizeof(m));
    m[1] = 1; /* 12 bytes: no ICV at all (legal, e.g. NULL auth) */
    dec(ah_decode, m, sizeof(m));
    CHECK_EQ(P.status, PKT_DECODED);
    CHECK_EQ(P.ah.icv_len, 0);
    CHECK_EQ(P.payload_len, sizeof(ah) - 12);

    memcpy(m, ah, sizeof(m));
    m[1] = 0xff; /* 1028 bytes: ICV beyond the capture */
    dec(ah_decode, m, sizeof(m));
    CHECK_EQ(P.status, PKT_TRUNCATED);
    CHECK(has_anom(ANOM_AH_TRUNC));
    CHECK_EQ(P.ah.icv_len, 1016);

    memcpy(m, ah, sizeof(m));
    memset(m + 4, 0, 4); /* SPI 0 */
    dec(ah_decode, m, sizeof(m));
    CHECK_EQ(P.status, PKT_INVALID);
    CHECK(has_anom(ANOM_AH_SPI_RESERVED));

    memcpy(m, ah, sizeof(m));
    m[6] = 0;
    m[7] = 200; /* SPI 200 */
    dec(ah_decode, m, sizeof(m));
    CHECK_EQ(P.status, PKT_DECODED);
    CHECK(has_anom(ANOM_AH_SPI_RESERVED));
}

int main(void)
{
    test_esp();
    test_ah();
    free(buf);
    return t_done();
}
