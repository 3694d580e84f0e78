/* test_ike.c - unit tests for ike_decode (src/decode/ike.c) and the IKE names (names.c). */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "t.h"
#include "vpnscope/config.h"
#include "vpnscope/decode.h"
#include "vpnscope/pkt.h"
#include "vpnscope/rd.h"

static struct pkt P;

/* Decodes b[0..n) from a heap copy of exactly n bytes, so ASan sees any over-read. */
static void dec(const uint8_t *b, size_t n)
{
    uint8_t *copy = malloc(n ? n : 1);
    if (n)
        memcpy(copy, b, n);
    memset(&P, 0, sizeof(P));
    P.payload = copy;
    P.payload_len = (uint32_t)n;
    struct rd r = rd_init(copy, n);
    ike_decode(&r, &P);
    P.payload = NULL; /* the copy is gone after this */
    free(copy);
}

static bool has_anom(enum anomaly a)
{
    for (unsigned i = 0; i < P.n_anom; i++)
        if (P.anom[i] == a)
            return true;
    return false;
}

/* Every proper prefix must decode without a crash and be TRUNCATED. */
static void check_prefixes(const uint8_t *b, size_t n)
{
    for (size_t k = 0; k < n; k++) {
        dec(b, k);
        if (P.status != PKT_TRUNCATED)
            fprintf(stderr, "prefix %zu of %zu: status %d\n", k, n, (int)P.status);
        CHECK_EQ(P.status, PKT_TRUNCATED);
    }
}

/* IKEv2 IKE_SA_INIT request as strongSwan sends it (KE and nonce shortened). 176 bytes. */
/* clang-format off */
static const uint8_t v2_sa_init[] = {
    /* header: SPIi c111000000000001, SPIr 0, next SA(33), v2.0, IKE_SA_INIT(34), flags I,
     * msgid 0, length 176 */
    0xc1, 0x11, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x21, 0x20, 0x22, 0x08, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0xb0,
    /* SA: next KE(34), len 48 */
    0x22, 0x00, 0x00, 0x30,
    /*   proposal: last, len 44, #1, proto IKE, spi size 0, 4 transforms */
    0x00, 0x00, 0x00, 0x2c, 0x01, 0x01, 0x00, 0x04,
    /*     transform: more, len 12, ENCR, AES-CBC(12), attr key length 128 */
    0x03, 0x00, 0x00, 0x0c, 0x01, 0x00, 0x00, 0x0c, 0x80, 0x0e, 0x00, 0x80,
    /*     transform: more, len 8, INTEG, HMAC-SHA1-96(2) */
    0x03, 0x00, 0x00, 0x08, 0x03, 0x00, 0x00, 0x02,
    /*     transform: more, len 8, PRF, HMAC-SHA1(2) */
    0x03, 0x00, 0x00, 0x08, 0x02, 0x00, 0x00, 0x02,
    /*     transform: last, len 8, DH, MODP-2048(14) */
    0x00, 0x00, 0x00, 0x08, 0x04, 0x00, 0x00, 0x0e,
    /* KE: next Nonce(40), len 16, group 14, reserved, 8 bytes of key data */
    0x28, 0x00, 0x00, 0x10, 0x00, 0x0e, 0x00, 0x00,
    0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88,
    /* Nonce: next Notify(41), len 20, 16 bytes */
    0x29, 0x00, 0x00, 0x14,
    0xa0, 0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7,
    0xa8, 0xa9, 0xaa, 0xab, 0xac, 0xad, 0xae, 0xaf,
    /* Notify: next Notify, len 28, proto 0, spi size 0, NAT_DETECTION_SOURCE_IP(16388), SHA-1 */
    0x29, 0x00, 0x00, 0x1c, 0x00, 0x00, 0x40, 0x04,
    0x51, 0x51, 0x51, 0x51, 0x51, 0x51, 0x51, 0x51, 0x51, 0x51,
    0x51, 0x51, 0x51, 0x51, 0x51, 0x51, 0x51, 0x51, 0x51, 0x5f,
    /* Notify: next Notify, len 28, NAT_DETECTION_DESTINATION_IP(16389), SHA-1 */
    0x29, 0x00, 0x00, 0x1c, 0x00, 0x00, 0x40, 0x05,
    0xd5, 0xd5, 0xd5, 0xd5, 0xd5, 0xd5, 0xd5, 0xd5, 0xd5, 0xd5,
    0xd5, 0xd5, 0xd5, 0xd5, 0xd5, 0xd5, 0xd5, 0xd5, 0xd5, 0xdf,
    /* Notify: last, len 8, IKEV2_FRAGMENTATION_SUPPORTED(16430) */
    0x00, 0x00, 0x00, 0x08, 0x00, 0x00, 0x40, 0x2e,
};
/* clang-format on */

/* IKEv1 Main Mode message 1: SA (AES-128, SHA, PSK, MODP-2048, 28800 s), VID RFC 3947, VID DPD.
 * 128 bytes. */
/* clang-format off */
static const uint8_t v1_mm1[] = {
    /* header: ICOOKIE 0102030405060708, RCOOKIE 0, next SA(1), v1.0, Main(2), flags 0, msgid 0,
     * length 128 */
    0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x01, 0x10, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x80,
    /* SA: next VID(13), len 60, DOI IPsec(1), situation identity-only(1) */
    0x0d, 0x00, 0x00, 0x3c, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01,
    /*   proposal: last, len 48, #1, proto ISAKMP(1), spi size 0, 1 transform */
    0x00, 0x00, 0x00, 0x30, 0x01, 0x01, 0x00, 0x01,
    /*     transform: last, len 40, #1, KEY_IKE(1), reserved */
    0x00, 0x00, 0x00, 0x28, 0x01, 0x01, 0x00, 0x00,
    /*       TV encryption AES(7), TV key length 128, TV hash SHA(2), TV auth PSK(1) */
    0x80, 0x01, 0x00, 0x07, 0x80, 0x0e, 0x00, 0x80, 0x80, 0x02, 0x00, 0x02, 0x80, 0x03, 0x00, 0x01,
    /*       TV group 14, TV life type seconds, TLV life duration (4 bytes) 28800 */
    0x80, 0x04, 0x00, 0x0e, 0x80, 0x0b, 0x00, 0x01, 0x00, 0x0c, 0x00, 0x04, 0x00, 0x00, 0x70, 0x80,
    /* VID: next VID, len 20, MD5("RFC 3947") */
    0x0d, 0x00, 0x00, 0x14,
    0x4a, 0x13, 0x1c, 0x81, 0x07, 0x03, 0x58, 0x45, 0x5c, 0x57, 0x28, 0xf2, 0x0e, 0x95, 0x45, 0x2f,
    /* VID: last, len 20, DPD (RFC 3706) */
    0x00, 0x00, 0x00, 0x14,
    0xaf, 0xca, 0xd7, 0x13, 0x68, 0xa1, 0xf1, 0xc9, 0x6b, 0x86, 0x96, 0xfc, 0x77, 0x57, 0x01, 0x00,
};
/* clang-format on */

/* IKEv1 Main Mode message 3: KE, Nonce, NAT-D (dst), NAT-D (src). 100 bytes. */
/* clang-format off */
static const uint8_t v1_mm3[] = {
    /* header: ICOOKIE 0102030405060708, RCOOKIE 1112131415161718, next KE(4), v1.0, Main(2),
     * flags 0, msgid 0, length 100 */
    0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08,
    0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18,
    0x04, 0x10, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x64,
    /* KE: next Nonce(10), len 12, 8 bytes */
    0x0a, 0x00, 0x00, 0x0c, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88,
    /* Nonce: next NAT-D(20), len 12, 8 bytes */
    0x14, 0x00, 0x00, 0x0c, 0xa0, 0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7,
    /* NAT-D: next NAT-D, len 24, SHA-1 of the destination */
    0x14, 0x00, 0x00, 0x18,
    0xd1, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01,
    0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01,
    /* NAT-D: last, len 24, SHA-1 of the source */
    0x00, 0x00, 0x00, 0x18,
    0xd2, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02,
    0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02,
};
/* clang-format on */

/* IKEv2 IKE_AUTH request, fragment 1 of 3 (RFC 7383). 52 bytes. */
/* clang-format off */
static const uint8_t v2_skf[] = {
    /* header: SPIi c111000000000001, SPIr c222000000000002, next SKF(53), v2.0, IKE_AUTH(35),
     * flags I, msgid 1, length 52 */
    0xc1, 0x11, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01,
    0xc2, 0x22, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02,
    0x35, 0x20, 0x23, 0x08, 0x00, 0x00, 0x00, 0x01,
    0x00, 0x00, 0x00, 0x34,
    /* SKF: next IDi(35), len 24, fragment 1, total 3, 16 bytes IV + ciphertext */
    0x23, 0x00, 0x00, 0x18, 0x00, 0x01, 0x00, 0x03,
    0xe0, 0xe1, 0xe2, 0xe3, 0xe4, 0xe5, 0xe6, 0xe7,
    0xe8, 0xe9, 0xea, 0xeb, 0xec, 0xed, 0xee, 0xef,
};
/* clang-format on */

/* IKEv1 unencrypted phase-2 style SA (ESP, AES, UDP-Encapsulated-Tunnel). 72 bytes. */
/* clang-format off */
static const uint8_t v1_p2_sa[] = {
    /* header: cookies, next SA(1), v1.0, Quick(32), flags 0, msgid 0x01020304, length 72 */
    0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08,
    0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18,
    0x01, 0x10, 0x20, 0x00, 0x01, 0x02, 0x03, 0x04,
    0x00, 0x00, 0x00, 0x48,
    /* SA: last, len 44, DOI IPsec, situation identity-only */
    0x00, 0x00, 0x00, 0x2c, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01,
    /*   proposal: last, len 32, #1, proto ESP(3), spi size 4, 1 transform, SPI 0xcafe0001 */
    0x00, 0x00, 0x00, 0x20, 0x01, 0x03, 0x04, 0x01, 0xca, 0xfe, 0x00, 0x01,
    /*     transform: last, len 20, #1, ESP_AES(12), reserved */
    0x00, 0x00, 0x00, 0x14, 0x01, 0x0c, 0x00, 0x00,
    /*       TV encapsulation mode UDP-Encapsulated-Tunnel(3), TV auth HMAC-SHA(2),
     *       TV SA life type seconds(1) */
    0x80, 0x04, 0x00, 0x03, 0x80, 0x05, 0x00, 0x02, 0x80, 0x01, 0x00, 0x01,
};
/* clang-format on */

static void test_v2_sa_init(void)
{
    dec(v2_sa_init, sizeof(v2_sa_init));
    CHECK_EQ(P.status, PKT_DECODED);
    CHECK_EQ(P.n_anom, 0);
    CHECK_EQ(P.vpn, VPN_IKE);
    CHECK(P.ike.ispi == 0xc111000000000001ull);
    CHECK(P.ike.rspi == 0);
    CHECK_EQ(P.ike.version, 2);
    CHECK_EQ(P.ike.exch, 34);
    CHECK_STR(ike_exch_name(P.ike.version, P.ike.exch), "IKE_SA_INIT");
    CHECK_EQ(P.ike.flags, 0x08);
    CHECK_EQ(P.ike.msgid, 0);
    CHECK_EQ(P.ike.length, 176);
    CHECK(P.ike.initiator);
    CHECK(!P.ike.response);
    CHECK(!P.ike.encrypted);
    CHECK_EQ(P.ike.n_payloads, 6);
    CHECK(P.ike.has_sa);
    CHECK_EQ(P.ike.n_transforms, 4);
    CHECK_EQ(P.ike.n_natd, 2);
    CHECK_EQ(P.ike.natd[0].kind, IKE_NATD_V2_SRC);
    CHECK_EQ(P.ike.natd[0].len, 20);
    CHECK_EQ(P.ike.natd[0].h[0], 0x51);
    CHECK_EQ(P.ike.natd[0].h[19], 0x5f);
    CHECK_EQ(P.ike.natd[1].kind, IKE_NATD_V2_DST);
    CHECK_EQ(P.ike.natd[1].len, 20);
    CHECK_EQ(P.ike.natd[1].h[19], 0xdf);
    CHECK_EQ(P.ike.n_notify, 3);
    CHECK_EQ(P.ike.notify[0], 16388);
    CHECK_EQ(P.ike.notify[1], 16389);
    CHECK_EQ(P.ike.notify[2], 16430);
    CHECK(P.ike.frag_supported);
    CHECK(!P.ike.skf);
    check_prefixes(v2_sa_init, sizeof(v2_sa_init));

    /* Cut after the first NAT-D notify: header fields and what was captured are still there. */
    dec(v2_sa_init, 28 + 48 + 16 + 20 + 28);
    CHECK_EQ(P.status, PKT_TRUNCATED);
    CHECK(has_anom(ANOM_IKE_TRUNC));
    CHECK(has_anom(ANOM_IKE_PAYLOAD_TRUNC));
    CHECK_EQ(P.ike.version, 2);
    CHECK_EQ(P.ike.n_natd, 1);
    CHECK(!P.ike.frag_supported);

    /* The response: SPIr set, flag R (0x20). */
    uint8_t resp[sizeof(v2_sa_init)];
    memcpy(resp, v2_sa_init, sizeof(resp));
    resp[15] = 0x02;
    resp[19] = 0x20;
    dec(resp, sizeof(resp));
    CHECK_EQ(P.status, PKT_DECODED);
    CHECK(!P.ike.initiator);
    CHECK(P.ike.response);
    CHECK(P.ike.rspi == 2);
}

static void test_v1_main_mode(void)
{
    dec(v1_mm1, sizeof(v1_mm1));
    CHECK_EQ(P.status, PKT_DECODED);
    CHECK_EQ(P.n_anom, 0);
    CHECK_EQ(P.vpn, VPN_IKE);
    CHECK_EQ(P.ike.version, 1);
    CHECK_EQ(P.ike.exch, 2);
    CHECK_STR(ike_exch_name(1, P.ike.exch), "identity_protection");
    CHECK(!P.ike.initiator);
    CHECK(!P.ike.response);
    CHECK_EQ(P.ike.n_payloads, 3);
    CHECK(P.ike.has_sa);
    CHECK_EQ(P.ike.n_transforms, 1);
    CHECK_EQ(P.ike.v1_hash, 2);
    CHECK_EQ(P.ike.v1_encap, 0);
    CHECK_EQ(P.ike.vid_flags, IKE_VID_RFC3947 | IKE_VID_DPD);
    check_prefixes(v1_mm1, sizeof(v1_mm1));

    dec(v1_mm3, sizeof(v1_mm3));
    CHECK_EQ(P.status, PKT_DECODED);
    CHECK_EQ(P.n_anom, 0);
    CHECK_EQ(P.ike.n_payloads, 4);
    CHECK_EQ(P.ike.n_natd, 2);
    CHECK_EQ(P.ike.natd[0].kind, IKE_NATD_V1);
    CHECK_EQ(P.ike.natd[0].len, 20);
    CHECK_EQ(P.ike.natd[0].h[0], 0xd1);
    CHECK_EQ(P.ike.natd[1].kind, IKE_NATD_V1);
    CHECK_EQ(P.ike.natd[1].h[0], 0xd2);
    CHECK(!P.ike.has_sa);
    check_prefixes(v1_mm3, sizeof(v1_mm3));

    /* Draft NAT-D payload type 130 counts too. */
    uint8_t draft[sizeof(v1_mm3)];
    memcpy(draft, v1_mm3, sizeof(draft));
    draft[28 + 12] = 130; /* Nonce's next payload */
    draft[28 + 24] = 130; /* first NAT-D's next payload */
    dec(draft, sizeof(draft));
    CHECK_EQ(P.status, PKT_DECODED);
    CHECK_EQ(P.ike.n_natd, 2);

    dec(v1_p2_sa, sizeof(v1_p2_sa));
    CHECK_EQ(P.status, PKT_DECODED);
    CHECK_STR(ike_exch_name(1, P.ike.exch), "quick_mode");
    CHECK(P.ike.has_sa);
    CHECK_EQ(P.ike.n_transforms, 1);
    CHECK_EQ(P.ike.v1_encap, 3);
    CHECK_EQ(P.ike.v1_hash, 0); /* attribute 2 is not the hash in an IPsec transform */
    check_prefixes(v1_p2_sa, sizeof(v1_p2_sa));

    /* E flag: the body is ciphertext and is not walked. */
    uint8_t enc[sizeof(v1_mm3)];
    memcpy(enc, v1_mm3, sizeof(enc));
    enc[19] = 0x01;
    dec(enc, sizeof(enc));
    CHECK_EQ(P.status, PKT_DECODED);
    CHECK(P.ike.encrypted);
    CHECK_EQ(P.ike.n_payloads, 0);
    CHECK_EQ(P.ike.n_natd, 0);
}

static void test_v1_vids(void)
{
    /* header (v1 Main, length 28 + 3 * 20 + 12 + 24 = 124) then VIDs: draft-02\n, FRAGMENTATION
     * + capability bytes (24), XAUTH (8 bytes + 4 = 12), unknown (20) */
    /* clang-format off */
    static const uint8_t m[] = {
        0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0, 0, 0, 0, 0, 0, 0, 0,
        0x0d, 0x10, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x7c,
        /* VID draft-ietf-ipsec-nat-t-ike-02\n */
        0x0d, 0x00, 0x00, 0x14,
        0x90, 0xcb, 0x80, 0x91, 0x3e, 0xbb, 0x69, 0x6e, 0x08, 0x63, 0x81, 0xb5, 0xec, 0x42, 0x7b,
        0x1f,
        /* VID FRAGMENTATION + 80000000 */
        0x0d, 0x00, 0x00, 0x18,
        0x40, 0x48, 0xb7, 0xd5, 0x6e, 0xbc, 0xe8, 0x85, 0x25, 0xe7, 0xde, 0x7f, 0x00, 0xd6, 0xc2,
        0xd3, 0x80, 0x00, 0x00, 0x00,
        /* VID XAUTH (8 bytes) */
        0x0d, 0x00, 0x00, 0x0c, 0x09, 0x00, 0x26, 0x89, 0xdf, 0xd6, 0xb7, 0x12,
        /* VID unknown ("strongSwan"-like) */
        0x0d, 0x00, 0x00, 0x14,
        0x88, 0x2f, 0xe5, 0x6d, 0x6f, 0xd2, 0x0d, 0xbc, 0x22, 0x51, 0x61, 0x3b, 0x2e, 0xbe, 0x5b,
        0xeb,
        /* VID draft-03 */
        0x00, 0x00, 0x00, 0x14,
        0x7d, 0x94, 0x19, 0xa6, 0x53, 0x10, 0xca, 0x6f, 0x2c, 0x17, 0x9d, 0x92, 0x15, 0x52, 0x9d,
        0x56,
    };
    /* clang-format on */
    CHECK_EQ(sizeof(m), 124);
    dec(m, sizeof(m));
    CHECK_EQ(P.status, PKT_DECODED);
    CHECK_EQ(P.ike.n_payloads, 5);
    CHECK_EQ(P.ike.vid_flags,
             IKE_VID_NATT_DRAFT | IKE_VID_FRAGMENTATION | IKE_VID_XAUTH | IKE_VID_OTHER);
    check_prefixes(m, sizeof(m));
}

static void test_skf(void)
{
    dec(v2_skf, sizeof(v2_skf));
    CHECK_EQ(P.status, PKT_DECODED);
    CHECK_EQ(P.n_anom, 0);
    CHECK_STR(ike_exch_name(2, P.ike.exch), "IKE_AUTH");
    CHECK(P.ike.skf);
    CHECK(P.ike.encrypted);
    CHECK_EQ(P.ike.frag_num, 1);
    CHECK_EQ(P.ike.frag_total, 3);
    CHECK_EQ(P.ike.msgid, 1);
    check_prefixes(v2_skf, sizeof(v2_skf));

    /* fragment 0, fragment 4 of 3, total 0: invalid, fields still filled */
    static const uint8_t bad[][4] = {{0, 0, 0, 3}, {0, 4, 0, 3}, {0, 1, 0, 0}};
    for (size_t i = 0; i < 3; i++) {
        uint8_t m[sizeof(v2_skf)];
        memcpy(m, v2_skf, sizeof(m));
        memcpy(m + 32, bad[i], 4);
        dec(m, sizeof(m));
        CHECK_EQ(P.status, PKT_INVALID);
        CHECK(has_anom(ANOM_IKE_BAD_FRAGMENT));
        CHECK(P.ike.skf);
        CHECK_EQ(P.ike.frag_num, bad[i][1]);
        CHECK_EQ(P.ike.frag_total, bad[i][3]);
    }

    /* SK (46): encrypted, chain stops */
    uint8_t sk[sizeof(v2_skf)];
    memcpy(sk, v2_skf, sizeof(sk));
    sk[16] = 46;
    dec(sk, sizeof(sk));
    CHECK_EQ(P.status, PKT_DECODED);
    CHECK(P.ike.encrypted);
    CHECK(!P.ike.skf);
    CHECK_EQ(P.ike.n_payloads, 1);
}

static void test_anomalies(void)
{
    uint8_t m[sizeof(v1_mm3)];

    /* version 3.0 */
    memcpy(m, v1_mm3, sizeof(m));
    m[17] = 0x30;
    dec(m, sizeof(m));
    CHECK_EQ(P.status, PKT_INVALID);
    CHECK(has_anom(ANOM_IKE_BAD_VERSION));
    CHECK_EQ(P.vpn, VPN_IKE);

    /* length 20 < 28 */
    memcpy(m, v1_mm3, sizeof(m));
    m[27] = 20;
    dec(m, sizeof(m));
    CHECK_EQ(P.status, PKT_INVALID);
    CHECK(has_anom(ANOM_IKE_BAD_LENGTH));

    /* a payload length of 2 */
    memcpy(m, v1_mm3, sizeof(m));
    m[28 + 3] = 2;
    dec(m, sizeof(m));
    CHECK_EQ(P.status, PKT_INVALID);
    CHECK(has_anom(ANOM_IKE_PAYLOAD_BAD_LEN));

    /* the last NAT-D claims 40 bytes: past the declared message -> invalid */
    memcpy(m, v1_mm3, sizeof(m));
    m[76 + 3] = 40;
    dec(m, sizeof(m));
    CHECK_EQ(P.status, PKT_INVALID);
    CHECK(has_anom(ANOM_IKE_PAYLOAD_TRUNC));
    CHECK_EQ(P.ike.n_natd, 1);

    /* the last payload says another follows, but the message ends */
    memcpy(m, v1_mm3, sizeof(m));
    m[76] = 13;
    dec(m, sizeof(m));
    CHECK_EQ(P.status, PKT_INVALID);
    CHECK(has_anom(ANOM_IKE_PAYLOAD_TRUNC));

    /* zero initiator SPI: an anomaly, still decoded */
    memcpy(m, v1_mm3, sizeof(m));
    memset(m, 0, 8);
    dec(m, sizeof(m));
    CHECK_EQ(P.status, PKT_DECODED);
    CHECK(has_anom(ANOM_IKE_ZERO_ISPI));
    CHECK_EQ(P.ike.n_natd, 2);

    /* unknown exchange type 99 */
    memcpy(m, v1_mm3, sizeof(m));
    m[18] = 99;
    dec(m, sizeof(m));
    CHECK_EQ(P.status, PKT_DECODED);
    CHECK(has_anom(ANOM_IKE_BAD_EXCHANGE));

    /* trailing bytes after the declared message are ignored */
    uint8_t longer[sizeof(v1_mm3) + 5];
    memcpy(longer, v1_mm3, sizeof(v1_mm3));
    memset(longer + sizeof(v1_mm3), 0xee, 5);
    dec(longer, sizeof(longer));
    CHECK_EQ(P.status, PKT_DECODED);
    CHECK_EQ(P.ike.n_natd, 2);

    /* v1 SA whose proposal runs past the SA payload */
    uint8_t sa[sizeof(v1_mm1)];
    memcpy(sa, v1_mm1, sizeof(sa));
    sa[40 + 3] = 0x40;
    dec(sa, sizeof(sa));
    CHECK_EQ(P.status, PKT_INVALID);
    CHECK(has_anom(ANOM_IKE_BAD_SA));
    CHECK(P.ike.has_sa);

    /* v1 SA with a TLV attribute running past the transform */
    memcpy(sa, v1_mm1, sizeof(sa));
    sa[48 + 8 + 24 + 3] = 0x20;
    dec(sa, sizeof(sa));
    CHECK_EQ(P.status, PKT_INVALID);
    CHECK(has_anom(ANOM_IKE_BAD_SA));

    /* SA without proposals (v1) and a proposal without transforms (v2): not anomalies */
    /* clang-format off */
    static const uint8_t sa0[] = {
        /* header v1 Main, next SA(1), length 28 + 12 = 40 */
        1, 2, 3, 4, 5, 6, 7, 8, 0, 0, 0, 0, 0, 0, 0, 0, 0x01, 0x10, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 40,
        /* SA: last, len 12, DOI IPsec, situation identity-only, no proposals */
        0x00, 0x00, 0x00, 0x0c, 0, 0, 0, 1, 0, 0, 0, 1,
    };
    /* clang-format on */
    dec(sa0, sizeof(sa0));
    CHECK_EQ(P.status, PKT_DECODED);
    CHECK(P.ike.has_sa);
    CHECK_EQ(P.ike.n_transforms, 0);
    /* clang-format off */
    static const uint8_t sa2[] = {
        /* header v2 IKE_SA_INIT, next SA(33), flags I, length 28 + 12 = 40 */
        1, 2, 3, 4, 5, 6, 7, 8, 0, 0, 0, 0, 0, 0, 0, 0, 0x21, 0x20, 0x22, 0x08, 0, 0, 0, 0, 0, 0, 0,
        40,
        /* SA: last, len 12; proposal: last, len 8, #1, IKE, spi size 0, 0 transforms */
        0x00, 0x00, 0x00, 0x0c, 0x00, 0x00, 0x00, 0x08, 0x01, 0x01, 0x00, 0x00,
    };
    /* clang-format on */
    dec(sa2, sizeof(sa2));
    CHECK_EQ(P.status, PKT_DECODED);
    CHECK(P.ike.has_sa);
    CHECK_EQ(P.ike.n_transforms, 0);
    check_prefixes(sa2, sizeof(sa2));

    /* v2 notify with a 2-byte body */
    /* clang-format off */
    uint8_t n2[] = {
        /* header v2 INFORMATIONAL, next N(41), flags R, length 34 */
        0xc1, 0x11, 0, 0, 0, 0, 0, 1, 0xc2, 0x22, 0, 0, 0, 0, 0, 2,
        0x29, 0x20, 0x25, 0x20, 0, 0, 0, 5, 0, 0, 0, 34,
        /* Notify: last, len 6, proto 0, spi size 0 (no type) */
        0x00, 0x00, 0x00, 0x06, 0x00, 0x00,
    };
    /* clang-format on */
    dec(n2, sizeof(n2));
    CHECK_EQ(P.status, PKT_INVALID);
    CHECK(has_anom(ANOM_IKE_BAD_NOTIFY));
    CHECK_STR(ike_exch_name(2, P.ike.exch), "INFORMATIONAL");

    /* v2 notify whose SPI size overruns the payload */
    /* clang-format off */
    uint8_t n3[] = {
        /* header v2 INFORMATIONAL, next N(41), length 36 */
        0xc1, 0x11, 0, 0, 0, 0, 0, 1, 0xc2, 0x22, 0, 0, 0, 0, 0, 2,
        0x29, 0x20, 0x25, 0x20, 0, 0, 0, 5, 0, 0, 0, 36,
        /* Notify: last, len 8, proto ESP, spi size 4 (none present), AUTHENTICATION_FAILED(24) */
        0x00, 0x00, 0x00, 0x08, 0x03, 0x04, 0x00, 0x18,
    };
    /* clang-format on */
    dec(n3, sizeof(n3));
    CHECK_EQ(P.status, PKT_INVALID);
    CHECK(has_anom(ANOM_IKE_BAD_NOTIFY));
    CHECK_EQ(P.ike.n_notify, 1);
    CHECK_EQ(P.ike.notify[0], 24);

    /* v1 notify R-U-THERE (36136) */
    /* clang-format off */
    uint8_t n1[] = {
        /* header v1 Informational(5), next N(11), length 28 + 16 = 44 */
        0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17,
        0x18, 0x0b, 0x10, 0x05, 0x00, 0, 0, 0, 9, 0, 0, 0, 44,
        /* Notify: last, len 16, DOI 1, proto ISAKMP, spi size 0, type 36136, 4 bytes seq */
        0x00, 0x00, 0x00, 0x10, 0, 0, 0, 1, 0x01, 0x00, 0x8d, 0x28, 0, 0, 0, 7,
    };
    /* clang-format on */
    dec(n1, sizeof(n1));
    CHECK_EQ(P.status, PKT_DECODED);
    CHECK_EQ(P.ike.n_notify, 1);
    CHECK_EQ(P.ike.notify[0], 36136);
    CHECK_STR(ike_notify_name(P.ike.notify[0]), "R_U_THERE");
    check_prefixes(n1, sizeof(n1));

    /* v1 fragment payload (132) ends the chain */
    /* clang-format off */
    uint8_t f1[] = {
        /* header v1 Main, next FRAG(132), length 28 + 12 = 40 */
        0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17,
        0x18, 0x84, 0x10, 0x02, 0x00, 0, 0, 0, 0, 0, 0, 0, 40,
        /* FRAG: next 0, len 12, fragment id 1, number 1, flags last, 4 data bytes */
        0x00, 0x00, 0x00, 0x0c, 0x00, 0x01, 0x01, 0x01, 0xaa, 0xbb, 0xcc, 0xdd,
    };
    /* clang-format on */
    dec(f1, sizeof(f1));
    CHECK_EQ(P.status, PKT_DECODED);
    CHECK(P.ike.v1_frag);
}

/* A chain of empty payloads longer than the cap (tcpdump's isakmp-pointer-loop). */
static void test_payload_cap(void)
{
    enum { NPL = VPNSCOPE_MAX_IKE_PAYLOADS + 6 };
    static uint8_t m[28 + 4 * NPL];
    /* header v1 Main, next VID(13), length 28 + 4 * NPL; then NPL VIDs of length 4, each
     * pointing to another VID */
    static const uint8_t hdr[28] = {1, 2, 3,  4,    5, 6, 7, 8, 0, 0, 0, 0, 0, 0,
                                    0, 0, 13, 0x10, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0};
    memcpy(m, hdr, sizeof(hdr));
    m[26] = (uint8_t)(sizeof(m) >> 8);
    m[27] = (uint8_t)(sizeof(m) & 0xff);
    for (unsigned i = 0; i < NPL; i++) {
        uint8_t *pl = m + 28 + 4 * i;
        pl[0] = 13;
        pl[1] = 0;
        pl[2] = 0;
        pl[3] = 4;
    }
    dec(m, sizeof(m));
    CHECK(has_anom(ANOM_IKE_TOO_MANY_PAYLOADS));
    CHECK_EQ(P.ike.n_payloads, VPNSCOPE_MAX_IKE_PAYLOADS);
    CHECK_EQ(P.status, PKT_DECODED);
}

static void test_names(void)
{
    static const struct {
        uint8_t v, e;
        const char *name;
    } ex[] = {
        {1, 1, "base"},
        {1, 2, "identity_protection"},
        {1, 3, "auth_only"},
        {1, 4, "aggressive"},
        {1, 5, "informational"},
        {1, 6, "transaction"},
        {1, 32, "quick_mode"},
        {1, 33, "new_group"},
        {2, 34, "IKE_SA_INIT"},
        {2, 35, "IKE_AUTH"},
        {2, 36, "CREATE_CHILD_SA"},
        {2, 37, "INFORMATIONAL"},
        {2, 38, "IKE_SESSION_RESUME"},
        {2, 43, "IKE_INTERMEDIATE"},
        {2, 44, "IKE_FOLLOWUP_KE"},
        {1, 34, "unknown"},
        {2, 2, "unknown"},
        {3, 34, "unknown"},
        {0, 1, "unknown"},
        {2, 255, "unknown"},
        {1, 0, "unknown"},
    };
    for (size_t i = 0; i < sizeof(ex) / sizeof(ex[0]); i++)
        CHECK_STR(ike_exch_name(ex[i].v, ex[i].e), ex[i].name);

    CHECK_STR(ike_notify_name(14), "NO_PROPOSAL_CHOSEN");
    CHECK_STR(ike_notify_name(17), "INVALID_KE_PAYLOAD");
    CHECK_STR(ike_notify_name(24), "AUTHENTICATION_FAILED");
    CHECK_STR(ike_notify_name(41), "UNEXPECTED_NAT_DETECTED");
    CHECK_STR(ike_notify_name(16388), "NAT_DETECTION_SOURCE_IP");
    CHECK_STR(ike_notify_name(16389), "NAT_DETECTION_DESTINATION_IP");
    CHECK_STR(ike_notify_name(16390), "COOKIE");
    CHECK_STR(ike_notify_name(16430), "IKEV2_FRAGMENTATION_SUPPORTED");
    CHECK_STR(ike_notify_name(0), "unknown");
    CHECK_STR(ike_notify_name(65535), "unknown");
    CHECK_STR(ike_notify_name(16383), "unknown");
}

/* Every truncation of every byte: a crude fuzz pass over single-byte corruptions. */
static void test_mutations(void)
{
    const struct {
        const uint8_t *b;
        size_t n;
    } in[] = {{v2_sa_init, sizeof(v2_sa_init)},
              {v1_mm1, sizeof(v1_mm1)},
              {v1_mm3, sizeof(v1_mm3)},
              {v2_skf, sizeof(v2_skf)},
              {v1_p2_sa, sizeof(v1_p2_sa)}};
    static const uint8_t vals[] = {0x00, 0x01, 0x02, 0x03, 0x04, 0x7f, 0x80, 0xff};
    unsigned runs = 0;
    for (size_t i = 0; i < sizeof(in) / sizeof(in[0]); i++) {
        uint8_t m[256];
        for (size_t pos = 0; pos < in[i].n; pos++) {
            for (size_t v = 0; v < sizeof(vals); v++) {
                memcpy(m, in[i].b, in[i].n);
                m[pos] = vals[v];
                dec(m, in[i].n);
                runs++;
                if (P.status != PKT_DECODED && P.n_anom == 0)
                    fprintf(stderr, "mutation %zu/%zu/%zu: status without anomaly\n", i, pos, v);
                CHECK(P.status == PKT_DECODED || P.n_anom > 0);
            }
        }
    }
    CHECK(runs > 1000);
}

int main(void)
{
    test_v2_sa_init();
    test_v1_main_mode();
    test_v1_vids();
    test_skf();
    test_anomalies();
    test_payload_cap();
    test_names();
    test_mutations();
    return t_done();
}
