/* test_l2tp.c - unit tests for l2tp_decode (src/decode/l2tp.c): L2TPv2 and L2TPv3 over UDP. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "t.h"
#include "vpnscope/decode.h"
#include "vpnscope/pkt.h"
#include "vpnscope/rd.h"

static struct pkt P;
static uint8_t *buf; /* heap copy of the input, kept until the next dec() */

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
    l2tp_decode(&r, &P);
}

static bool has_anom(enum anomaly a)
{
    for (unsigned i = 0; i < P.n_anom; i++)
        if (P.anom[i] == a)
            return true;
    return false;
}

static void check_prefixes(const uint8_t *b, size_t n)
{
    for (size_t k = 0; k < n; k++) {
        dec(b, k);
        if (P.status != PKT_TRUNCATED)
            fprintf(stderr, "prefix %zu of %zu: status %d\n", k, n, (int)P.status);
        CHECK_EQ(P.status, PKT_TRUNCATED);
    }
}

/* L2TPv2 SCCRQ: T L S, version 2, length 28, tunnel 0, session 0, Ns 0, Nr 0,
 * AVP Message Type = 1 (SCCRQ), AVP Protocol Version 1.0. */
/* clang-format off */
static const uint8_t v2_sccrq[] = {
    0xc8, 0x02,             /* flags T|L|S, version 2 */
    0x00, 0x1c,             /* length 28 */
    0x00, 0x00, 0x00, 0x00, /* tunnel ID 0, session ID 0 */
    0x00, 0x00, 0x00, 0x00, /* Ns 0, Nr 0 */
    0x80, 0x08, 0x00, 0x00, /* AVP: M, length 8, vendor 0 */
    0x00, 0x00, 0x00, 0x01, /*      type 0 Message Type, value 1 SCCRQ */
    0x80, 0x08, 0x00, 0x00, /* AVP: M, length 8, vendor 0 */
    0x00, 0x02, 0x01, 0x00, /*      type 2 Protocol Version, 1.0 */
};
/* clang-format on */

/* L2TPv2 ZLB acknowledgement: T L S, length 12, tunnel 0x1234, session 0, Ns 1, Nr 2. */
/* clang-format off */
static const uint8_t v2_zlb[] = {
    0xc8, 0x02, 0x00, 0x0c, /* flags T|L|S, v2, length 12 */
    0x12, 0x34, 0x00, 0x00, /* tunnel 0x1234, session 0 */
    0x00, 0x01, 0x00, 0x02, /* Ns 1, Nr 2 */
};
/* clang-format on */

/* L2TPv2 data, no optional fields: tunnel 0x1234, session 0x5678, PPP LCP. */
/* clang-format off */
static const uint8_t v2_data[] = {
    0x00, 0x02,             /* flags 0, version 2 */
    0x12, 0x34, 0x56, 0x78, /* tunnel 0x1234, session 0x5678 */
    0xff, 0x03, 0xc0, 0x21, /* PPP */
};
/* clang-format on */

/* L2TPv2 data with L and O: length 16, tunnel 0x0001, session 0x0002, offset 2 + pad. */
/* clang-format off */
static const uint8_t v2_data_lo[] = {
    0x42, 0x02, 0x00, 0x10, /* flags L|O, v2, length 16 */
    0x00, 0x01, 0x00, 0x02, /* tunnel 1, session 2 */
    0x00, 0x02, 0x00, 0x00, /* offset size 2, offset pad */
    0xff, 0x03, 0xc0, 0x21, /* PPP */
};
/* clang-format on */

/* L2TPv3 control over UDP: T L S, version 3, length 20, control connection ID 0x00001234,
 * Ns 0, Nr 0, AVP Message Type = 1 (SCCRQ). */
/* clang-format off */
static const uint8_t v3_ctrl[] = {
    0xc8, 0x03, 0x00, 0x14, /* flags T|L|S, version 3, length 20 */
    0x00, 0x00, 0x12, 0x34, /* control connection ID */
    0x00, 0x00, 0x00, 0x00, /* Ns, Nr */
    0x80, 0x08, 0x00, 0x00, /* AVP: M, length 8, vendor 0 */
    0x00, 0x00, 0x00, 0x01, /*      Message Type SCCRQ */
};
/* clang-format on */

/* L2TPv3 data over UDP: version 3, reserved, session ID 0x0000abcd, payload. */
/* clang-format off */
static const uint8_t v3_data[] = {
    0x00, 0x03, 0x00, 0x00, /* flags 0, version 3, reserved */
    0x00, 0x00, 0xab, 0xcd, /* session ID */
    0x00, 0x00, 0x00, 0x00, /* L2-specific sublayer / payload */
};
/* clang-format on */

static void test_v2(void)
{
    dec(v2_sccrq, sizeof(v2_sccrq));
    CHECK_EQ(P.status, PKT_DECODED);
    CHECK_EQ(P.n_anom, 0);
    CHECK_EQ(P.vpn, VPN_L2TP);
    CHECK_EQ(P.l2tp.version, 2);
    CHECK(P.l2tp.control);
    CHECK_EQ(P.l2tp.tunnel_id, 0);
    CHECK_EQ(P.l2tp.session_id, 0);
    CHECK_EQ(P.l2tp.msg_type, 1);
    check_prefixes(v2_sccrq, sizeof(v2_sccrq));

    dec(v2_zlb, sizeof(v2_zlb));
    CHECK_EQ(P.status, PKT_DECODED);
    CHECK(P.l2tp.control);
    CHECK_EQ(P.l2tp.tunnel_id, 0x1234);
    CHECK_EQ(P.l2tp.msg_type, 0);
    check_prefixes(v2_zlb, sizeof(v2_zlb));

    dec(v2_data, sizeof(v2_data));
    CHECK_EQ(P.status, PKT_DECODED);
    CHECK_EQ(P.n_anom, 0);
    CHECK(!P.l2tp.control);
    CHECK_EQ(P.l2tp.tunnel_id, 0x1234);
    CHECK_EQ(P.l2tp.session_id, 0x5678);
    /* without a Length field only the 6-byte header can be cut */
    check_prefixes(v2_data, 6);

    dec(v2_data_lo, sizeof(v2_data_lo));
    CHECK_EQ(P.status, PKT_DECODED);
    CHECK_EQ(P.n_anom, 0);
    CHECK_EQ(P.l2tp.tunnel_id, 1);
    CHECK_EQ(P.l2tp.session_id, 2);
    check_prefixes(v2_data_lo, sizeof(v2_data_lo));
}

static void test_v3(void)
{
    dec(v3_ctrl, sizeof(v3_ctrl));
    CHECK_EQ(P.status, PKT_DECODED);
    CHECK_EQ(P.n_anom, 0);
    CHECK_EQ(P.l2tp.version, 3);
    CHECK(P.l2tp.control);
    CHECK_EQ(P.l2tp.tunnel_id, 0x1234);
    CHECK_EQ(P.l2tp.msg_type, 1);
    check_prefixes(v3_ctrl, sizeof(v3_ctrl));

    dec(v3_data, sizeof(v3_data));
    CHECK_EQ(P.status, PKT_DECODED);
    CHECK_EQ(P.l2tp.version, 3);
    CHECK(!P.l2tp.control);
    CHECK_EQ(P.l2tp.session_id, 0xabcd);
    check_prefixes(v3_data, 8);
}

static void test_anomalies(void)
{
    uint8_t m[sizeof(v2_sccrq)];

    memcpy(m, v2_sccrq, sizeof(m));
    m[1] = 0x01; /* version 1 (L2F) */
    dec(m, sizeof(m));
    CHECK_EQ(P.status, PKT_INVALID);
    CHECK(has_anom(ANOM_L2TP_BAD_VERSION));
    CHECK_EQ(P.l2tp.version, 1);

    memcpy(m, v2_sccrq, sizeof(m));
    m[1] = 0x04; /* version 4 */
    dec(m, sizeof(m));
    CHECK_EQ(P.status, PKT_INVALID);
    CHECK(has_anom(ANOM_L2TP_BAD_VERSION));

    /* control message without the S bit: Ns/Nr missing, the flags are invalid */
    /* clang-format off */
    static const uint8_t nos[] = {
        0xc0, 0x02, 0x00, 0x0e, /* flags T|L, v2, length 14 */
        0x00, 0x01, 0x00, 0x00, /* tunnel 1, session 0 */
        0x80, 0x08, 0x00, 0x00, 0x00, 0x00, /* partial AVP */
    };
    /* clang-format on */
    dec(nos, sizeof(nos));
    CHECK_EQ(P.status, PKT_INVALID);
    CHECK(has_anom(ANOM_L2TP_BAD_FLAGS));

    /* Length smaller than the header */
    memcpy(m, v2_sccrq, sizeof(m));
    m[3] = 8;
    dec(m, sizeof(m));
    CHECK_EQ(P.status, PKT_INVALID);
    CHECK(has_anom(ANOM_L2TP_BAD_LENGTH));

    /* AVP length 4 < 6 */
    memcpy(m, v2_sccrq, sizeof(m));
    m[13] = 4;
    dec(m, sizeof(m));
    CHECK_EQ(P.status, PKT_INVALID);
    CHECK(has_anom(ANOM_L2TP_BAD_LENGTH));

    /* AVP running past the message (the capture holds the whole message) */
    memcpy(m, v2_sccrq, sizeof(m));
    m[13] = 40;
    dec(m, sizeof(m));
    CHECK_EQ(P.status, PKT_INVALID);
    CHECK(has_anom(ANOM_L2TP_BAD_LENGTH));

    /* Length beyond the capture: truncated, the first AVP still read */
    memcpy(m, v2_sccrq, sizeof(m));
    m[3] = 60;
    dec(m, sizeof(m));
    CHECK_EQ(P.status, PKT_TRUNCATED);
    CHECK(has_anom(ANOM_L2TP_TRUNC));
    CHECK_EQ(P.l2tp.msg_type, 1);

    /* hidden Message Type AVP is not taken */
    memcpy(m, v2_sccrq, sizeof(m));
    m[12] = 0xc0;
    dec(m, sizeof(m));
    CHECK_EQ(P.status, PKT_DECODED);
    CHECK_EQ(P.l2tp.msg_type, 0);

    /* a vendor AVP first is not the Message Type */
    memcpy(m, v2_sccrq, sizeof(m));
    m[15] = 9;
    dec(m, sizeof(m));
    CHECK_EQ(P.status, PKT_DECODED);
    CHECK_EQ(P.l2tp.msg_type, 0);
}

int main(void)
{
    test_v2();
    test_v3();
    test_anomalies();
    free(buf);
    return t_done();
}
