/* test_gre_pptp.c - unit tests for gre_decode, pptp_decode and pptp_ctrl_name. */
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

static void dec(void (*fn)(struct rd *, struct pkt *), const uint8_t *b, size_t n)
{
    free(buf);
    buf = malloc(n ? n : 1);
    if (n)
        memcpy(buf, b, n);
    memset(&P, 0, sizeof(P));
    P.l4 = buf;
    P.l4_len = (uint32_t)n;
    P.payload = buf;
    P.payload_len = (uint32_t)n;
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

static void check_prefixes(void (*fn)(struct rd *, struct pkt *), const uint8_t *b, size_t n)
{
    for (size_t k = 0; k < n; k++) {
        dec(fn, b, k);
        if (P.status != PKT_TRUNCATED)
            fprintf(stderr, "prefix %zu of %zu: status %d\n", k, n, (int)P.status);
        CHECK_EQ(P.status, PKT_TRUNCATED);
    }
}

/* ---- GRE ---------------------------------------------------------------------------------- */

/* Enhanced GRE (PPTP data): K S A, version 1, PPP, payload length 4, call ID 0x1234, seq 7,
 * ack 6, then a 4-byte PPP header. */
/* clang-format off */
static const uint8_t gre_v1[] = {
    0x30, 0x81,             /* flags K|S|A, version 1 */
    0x88, 0x0b,             /* protocol PPP */
    0x00, 0x04,             /* payload length 4 */
    0x12, 0x34,             /* peer's call ID 0x1234 */
    0x00, 0x00, 0x00, 0x07, /* sequence 7 */
    0x00, 0x00, 0x00, 0x06, /* ack 6 */
    0xff, 0x03, 0xc0, 0x21, /* PPP: address, control, LCP */
};
/* clang-format on */

/* Enhanced GRE ack only: K A, version 1, payload length 0, call ID 0x4000, ack 9. */
/* clang-format off */
static const uint8_t gre_v1_ack[] = {
    0x20, 0x81, 0x88, 0x0b, /* flags K|A, v1, PPP */
    0x00, 0x00, 0x40, 0x00, /* payload length 0, call ID 0x4000 */
    0x00, 0x00, 0x00, 0x09, /* ack 9 */
};
/* clang-format on */

/* Plain GRE v0 with a key and protocol 0x880B: stays version 0 (not PPTP). */
/* clang-format off */
static const uint8_t gre_v0_key[] = {
    0x20, 0x00,             /* flags K, version 0 */
    0x88, 0x0b,             /* protocol 0x880B */
    0x00, 0x01, 0x00, 0x02, /* key 0x00010002 */
    0x45, 0x00,             /* payload */
};
/* clang-format on */

/* GRE v0 with checksum and sequence number, carrying IPv4. */
/* clang-format off */
static const uint8_t gre_v0_cs[] = {
    0x90, 0x00,             /* flags C|S, version 0 */
    0x08, 0x00,             /* IPv4 */
    0xab, 0xcd, 0x00, 0x00, /* checksum, reserved1 */
    0x00, 0x00, 0x01, 0x00, /* sequence 256 */
    0x45, 0x00, 0x00, 0x14, /* payload */
};
/* clang-format on */

static void test_gre(void)
{
    dec(gre_decode, gre_v1, sizeof(gre_v1));
    CHECK_EQ(P.status, PKT_DECODED);
    CHECK_EQ(P.n_anom, 0);
    CHECK_EQ(P.vpn, VPN_GRE);
    CHECK_EQ(P.gre.version, 1);
    CHECK_EQ(P.gre.flags, 0x3081);
    CHECK_EQ(P.gre.proto, 0x880b);
    CHECK(P.gre.has_key);
    CHECK(P.gre.has_seq);
    CHECK(P.gre.has_ack);
    CHECK_EQ(P.gre.payload_len, 4);
    CHECK_EQ(P.gre.call_id, 0x1234);
    CHECK_EQ(P.gre.seq, 7);
    CHECK_EQ(P.gre.ack, 6);
    CHECK(P.payload == buf + 16);
    CHECK_EQ(P.payload_len, 4);
    check_prefixes(gre_decode, gre_v1, 16);

    dec(gre_decode, gre_v1_ack, sizeof(gre_v1_ack));
    CHECK_EQ(P.status, PKT_DECODED);
    CHECK(!P.gre.has_seq);
    CHECK(P.gre.has_ack);
    CHECK_EQ(P.gre.call_id, 0x4000);
    CHECK_EQ(P.gre.ack, 9);
    CHECK_EQ(P.payload_len, 0);
    check_prefixes(gre_decode, gre_v1_ack, sizeof(gre_v1_ack));

    dec(gre_decode, gre_v0_key, sizeof(gre_v0_key));
    CHECK_EQ(P.status, PKT_DECODED);
    CHECK_EQ(P.n_anom, 0);
    CHECK_EQ(P.gre.version, 0);
    CHECK_EQ(P.gre.proto, 0x880b);
    CHECK(P.gre.has_key);
    CHECK_EQ(P.gre.key, 0x00010002);
    CHECK_EQ(P.gre.call_id, 0);
    CHECK(!P.gre.has_seq);
    CHECK_EQ(P.payload_len, 2);
    check_prefixes(gre_decode, gre_v0_key, 8);

    dec(gre_decode, gre_v0_cs, sizeof(gre_v0_cs));
    CHECK_EQ(P.status, PKT_DECODED);
    CHECK(!P.gre.has_key);
    CHECK(P.gre.has_seq);
    CHECK_EQ(P.gre.seq, 256);
    CHECK(P.payload == buf + 12);
    check_prefixes(gre_decode, gre_v0_cs, 12);

    /* anomalies */
    uint8_t m[sizeof(gre_v1)];
    memcpy(m, gre_v1, sizeof(m));
    m[1] = 0x82; /* version 2 */
    dec(gre_decode, m, sizeof(m));
    CHECK_EQ(P.status, PKT_INVALID);
    CHECK(has_anom(ANOM_GRE_BAD_VERSION));

    memcpy(m, gre_v1, sizeof(m));
    m[0] = 0x10; /* v1 without K */
    dec(gre_decode, m, sizeof(m));
    CHECK_EQ(P.status, PKT_INVALID);
    CHECK(has_anom(ANOM_GRE_BAD_FLAGS));

    memcpy(m, gre_v1, sizeof(m));
    m[0] = 0xb0; /* v1 with C */
    dec(gre_decode, m, sizeof(m));
    CHECK_EQ(P.status, PKT_INVALID);
    CHECK(has_anom(ANOM_GRE_BAD_FLAGS));

    memcpy(m, gre_v1, sizeof(m));
    m[2] = 0x08;
    m[3] = 0x00; /* v1 carrying IPv4 */
    dec(gre_decode, m, sizeof(m));
    CHECK_EQ(P.status, PKT_INVALID);
    CHECK(has_anom(ANOM_GRE_V1_BAD_PROTO));

    memcpy(m, gre_v0_cs, sizeof(gre_v0_cs));
    m[0] = 0x40; /* v0 with R (RFC 1701 routing) */
    dec(gre_decode, m, sizeof(gre_v0_cs));
    CHECK_EQ(P.status, PKT_INVALID);
    CHECK(has_anom(ANOM_GRE_BAD_FLAGS));
}

/* ---- PPTP --------------------------------------------------------------------------------- */

/* Start-Control-Connection-Request, 156 bytes: version 1.0, async framing, analog bearer,
 * firmware 0x0a28, host "local", vendor "Microsoft". */
/* clang-format off */
static const uint8_t sccrq[156] = {
    0x00, 0x9c, 0x00, 0x01, 0x1a, 0x2b, 0x3c, 0x4d, /* length 156, control, magic */
    0x00, 0x01, 0x00, 0x00,                         /* SCCRQ, reserved0 */
    0x01, 0x00, 0x00, 0x00,                         /* protocol version 1.0, reserved1 */
    0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, /* framing async, bearer analog */
    0x00, 0x00, 0x0a, 0x28,                         /* max channels 0, firmware 0x0a28 */
    [28] = 'l', 'o', 'c', 'a', 'l',                 /* host name (64, NUL padded) */
    [92] = 'M', 'i', 'c', 'r', 'o', 's', 'o', 'f', 't', /* vendor (64, NUL padded) */
};
/* clang-format on */

/* Start-Control-Connection-Reply, 156 bytes: result 1 (OK), error 0, host "pptpd". */
/* clang-format off */
static const uint8_t sccrp[156] = {
    0x00, 0x9c, 0x00, 0x01, 0x1a, 0x2b, 0x3c, 0x4d, /* length 156, control, magic */
    0x00, 0x02, 0x00, 0x00,                         /* SCCRP, reserved0 */
    0x01, 0x00, 0x01, 0x00,                         /* version 1.0, result 1, error 0 */
    0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, /* framing, bearer */
    0x00, 0x01, 0x00, 0x01,                         /* max channels 1, firmware 1 */
    [28] = 'p', 'p', 't', 'p', 'd',                 /* host name */
    [92] = 'l', 'i', 'n', 'u', 'x',                 /* vendor */
};
/* clang-format on */

/* Outgoing-Call-Request, 168 bytes: call ID 0x4000, serial 1, 300..100000000 bps. */
/* clang-format off */
static const uint8_t ocrq[168] = {
    0x00, 0xa8, 0x00, 0x01, 0x1a, 0x2b, 0x3c, 0x4d, /* length 168, control, magic */
    0x00, 0x07, 0x00, 0x00,                         /* OCRQ, reserved0 */
    0x40, 0x00, 0x00, 0x01,                         /* call ID 0x4000, call serial 1 */
    0x00, 0x00, 0x01, 0x2c, 0x05, 0xf5, 0xe1, 0x00, /* min bps 300, max bps 100000000 */
    0x00, 0x00, 0x00, 0x03, 0x00, 0x00, 0x00, 0x03, /* bearer any, framing any */
    0x00, 0x40, 0x00, 0x00,                         /* recv window 64, processing delay 0 */
    0x00, 0x00, 0x00, 0x00,                         /* phone number length 0, reserved1 */
    /* phone number (64) and subaddress (64): zero */
};
/* clang-format on */

/* Outgoing-Call-Reply, 32 bytes: call ID 0x0100, peer's call ID 0x4000, result 1 (connected). */
/* clang-format off */
static const uint8_t ocrp[32] = {
    0x00, 0x20, 0x00, 0x01, 0x1a, 0x2b, 0x3c, 0x4d, /* length 32, control, magic */
    0x00, 0x08, 0x00, 0x00,                         /* OCRP, reserved0 */
    0x01, 0x00, 0x40, 0x00,                         /* call ID 0x0100, peer's call ID 0x4000 */
    0x01, 0x00, 0x00, 0x00,                         /* result 1, error 0, cause 0 */
    0x05, 0xf5, 0xe1, 0x00,                         /* connect speed 100000000 */
    0x00, 0x40, 0x00, 0x00,                         /* recv window 64, processing delay 0 */
    0x00, 0x00, 0x00, 0x00,                         /* physical channel ID 0 */
};
/* clang-format on */

/* Call-Disconnect-Notify, 148 bytes: call ID 0x4000, result 3 (admin shutdown), error 0,
 * cause 0x0010, empty call statistics. */
/* clang-format off */
static const uint8_t cdn[148] = {
    0x00, 0x94, 0x00, 0x01, 0x1a, 0x2b, 0x3c, 0x4d, /* length 148, control, magic */
    0x00, 0x0d, 0x00, 0x00,                         /* CDN, reserved0 */
    0x40, 0x00, 0x03, 0x00,                         /* call ID 0x4000, result 3, error 0 */
    0x00, 0x10, 0x00, 0x00,                         /* cause 16, reserved1 */
    /* call statistics (128): zero */
};
/* clang-format on */

/* Set-Link-Info, 24 bytes: peer's call ID 0x0100, send and receive ACCM 0xffffffff. */
/* clang-format off */
static const uint8_t sli[24] = {
    0x00, 0x18, 0x00, 0x01, 0x1a, 0x2b, 0x3c, 0x4d, /* length 24, control, magic */
    0x00, 0x0f, 0x00, 0x00,                         /* SLI, reserved0 */
    0x01, 0x00, 0x00, 0x00,                         /* peer's call ID 0x0100, reserved1 */
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, /* send ACCM, receive ACCM */
};
/* clang-format on */

/* Echo-Reply, 20 bytes: identifier 7, result 1, error 0. */
/* clang-format off */
static const uint8_t echorp[20] = {
    0x00, 0x14, 0x00, 0x01, 0x1a, 0x2b, 0x3c, 0x4d, /* length 20, control, magic */
    0x00, 0x06, 0x00, 0x00,                         /* ECHORP, reserved0 */
    0x00, 0x00, 0x00, 0x07, 0x01, 0x00, 0x00, 0x00, /* identifier 7, result 1, error 0 */
};
/* clang-format on */

static void test_pptp_valid(void)
{
    dec(pptp_decode, sccrq, sizeof(sccrq));
    CHECK_EQ(P.status, PKT_DECODED);
    CHECK_EQ(P.n_anom, 0);
    CHECK_EQ(P.vpn, VPN_PPTP);
    CHECK_EQ(P.pptp.length, 156);
    CHECK_EQ(P.pptp.msg_type, 1);
    CHECK_EQ(P.pptp.ctrl_type, 1);
    CHECK_STR(pptp_ctrl_name(P.pptp.ctrl_type), "SCCRQ");
    CHECK_STR(P.pptp.hostname, "local");
    CHECK_STR(P.pptp.vendor, "Microsoft");
    CHECK(!P.pptp.has_call_id);
    check_prefixes(pptp_decode, sccrq, sizeof(sccrq));

    dec(pptp_decode, sccrp, sizeof(sccrp));
    CHECK_EQ(P.status, PKT_DECODED);
    CHECK_EQ(P.pptp.result, 1);
    CHECK_EQ(P.pptp.error, 0);
    CHECK_STR(P.pptp.hostname, "pptpd");
    CHECK_STR(P.pptp.vendor, "linux");
    check_prefixes(pptp_decode, sccrp, sizeof(sccrp));

    dec(pptp_decode, ocrq, sizeof(ocrq));
    CHECK_EQ(P.status, PKT_DECODED);
    CHECK_STR(pptp_ctrl_name(P.pptp.ctrl_type), "OCRQ");
    CHECK(P.pptp.has_call_id);
    CHECK(!P.pptp.has_peer_call_id);
    CHECK_EQ(P.pptp.call_id, 0x4000);
    check_prefixes(pptp_decode, ocrq, sizeof(ocrq));
    /* a cut OCRQ still yields its call ID */
    dec(pptp_decode, ocrq, 14);
    CHECK_EQ(P.status, PKT_TRUNCATED);
    CHECK(has_anom(ANOM_PPTP_TRUNC));
    CHECK(P.pptp.has_call_id);
    CHECK_EQ(P.pptp.call_id, 0x4000);
    dec(pptp_decode, ocrq, 13);
    CHECK(!P.pptp.has_call_id);

    dec(pptp_decode, ocrp, sizeof(ocrp));
    CHECK_EQ(P.status, PKT_DECODED);
    CHECK(P.pptp.has_call_id);
    CHECK(P.pptp.has_peer_call_id);
    CHECK_EQ(P.pptp.call_id, 0x0100);
    CHECK_EQ(P.pptp.peer_call_id, 0x4000);
    CHECK_EQ(P.pptp.result, 1);
    CHECK_EQ(P.pptp.error, 0);
    check_prefixes(pptp_decode, ocrp, sizeof(ocrp));

    dec(pptp_decode, cdn, sizeof(cdn));
    CHECK_EQ(P.status, PKT_DECODED);
    CHECK_STR(pptp_ctrl_name(P.pptp.ctrl_type), "CDN");
    CHECK(P.pptp.has_call_id);
    CHECK_EQ(P.pptp.call_id, 0x4000);
    CHECK_EQ(P.pptp.result, 3);
    CHECK_EQ(P.pptp.cause, 16);
    check_prefixes(pptp_decode, cdn, sizeof(cdn));

    dec(pptp_decode, sli, sizeof(sli));
    CHECK_EQ(P.status, PKT_DECODED);
    CHECK(!P.pptp.has_call_id);
    CHECK(P.pptp.has_peer_call_id);
    CHECK_EQ(P.pptp.peer_call_id, 0x0100);
    check_prefixes(pptp_decode, sli, sizeof(sli));

    dec(pptp_decode, echorp, sizeof(echorp));
    CHECK_EQ(P.status, PKT_DECODED);
    CHECK_EQ(P.pptp.result, 1);
    check_prefixes(pptp_decode, echorp, sizeof(echorp));

    /* two messages in one segment: the first is decoded */
    uint8_t two[sizeof(ocrp) + sizeof(sli)];
    memcpy(two, ocrp, sizeof(ocrp));
    memcpy(two + sizeof(ocrp), sli, sizeof(sli));
    dec(pptp_decode, two, sizeof(two));
    CHECK_EQ(P.status, PKT_DECODED);
    CHECK_EQ(P.pptp.ctrl_type, 8);
}

/* Call-ID-bearing types at their RFC 2637 offsets, built on one template. */
static void test_pptp_all_types(void)
{
    static const struct {
        uint16_t type, size;
        bool call, peer;
    } t[] = {
        {1, 156, false, false}, {2, 156, false, false}, {3, 16, false, false},
        {4, 16, false, false},  {5, 16, false, false},  {6, 20, false, false},
        {7, 168, true, false},  {8, 32, true, true},    {9, 220, true, false},
        {10, 24, true, true},   {11, 28, false, true},  {12, 16, true, false},
        {13, 148, true, false}, {14, 40, false, true},  {15, 24, false, true},
    };
    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        uint8_t m[220] = {0};
        /* header: length, control, magic, type; then 0x1111 at 12 and 0x2222 at 14 */
        m[0] = (uint8_t)(t[i].size >> 8);
        m[1] = (uint8_t)t[i].size;
        m[3] = 1;
        m[4] = 0x1a;
        m[5] = 0x2b;
        m[6] = 0x3c;
        m[7] = 0x4d;
        m[9] = (uint8_t)t[i].type;
        m[12] = 0x11;
        m[13] = 0x11;
        m[14] = 0x22;
        m[15] = 0x22;
        dec(pptp_decode, m, t[i].size);
        CHECK_EQ(P.status, PKT_DECODED);
        CHECK(strcmp(pptp_ctrl_name(t[i].type), "unknown") != 0);
        CHECK_EQ(P.pptp.has_call_id, t[i].call);
        CHECK_EQ(P.pptp.has_peer_call_id, t[i].peer);
        if (t[i].call)
            CHECK_EQ(P.pptp.call_id, 0x1111);
        if (t[i].peer)
            CHECK_EQ(P.pptp.peer_call_id, t[i].call ? 0x2222 : 0x1111);
        /* one byte short of the type's size is a bad length */
        m[1] = (uint8_t)(t[i].size - 1);
        m[0] = (uint8_t)((t[i].size - 1) >> 8);
        dec(pptp_decode, m, t[i].size);
        CHECK_EQ(P.status, PKT_INVALID);
        CHECK(has_anom(ANOM_PPTP_BAD_LENGTH));
    }
}

static void test_pptp_anomalies(void)
{
    uint8_t m[sizeof(ocrp)];

    memcpy(m, ocrp, sizeof(m));
    m[7] = 0x4e; /* magic 0x1A2B3C4E */
    dec(pptp_decode, m, sizeof(m));
    CHECK_EQ(P.status, PKT_INVALID);
    CHECK(has_anom(ANOM_PPTP_BAD_MAGIC));

    memcpy(m, ocrp, sizeof(m));
    m[1] = 8; /* length 8 < 12 */
    dec(pptp_decode, m, sizeof(m));
    CHECK_EQ(P.status, PKT_INVALID);
    CHECK(has_anom(ANOM_PPTP_BAD_LENGTH));

    memcpy(m, ocrp, sizeof(m));
    m[9] = 16; /* control type 16 */
    dec(pptp_decode, m, sizeof(m));
    CHECK_EQ(P.status, PKT_INVALID);
    CHECK(has_anom(ANOM_PPTP_BAD_TYPE));

    memcpy(m, ocrp, sizeof(m));
    m[9] = 0; /* control type 0 */
    dec(pptp_decode, m, sizeof(m));
    CHECK_EQ(P.status, PKT_INVALID);
    CHECK(has_anom(ANOM_PPTP_BAD_TYPE));

    memcpy(m, ocrp, sizeof(m));
    m[3] = 2; /* management message */
    dec(pptp_decode, m, sizeof(m));
    CHECK_EQ(P.status, PKT_INVALID);
    CHECK(has_anom(ANOM_PPTP_BAD_TYPE));

    memcpy(m, ocrp, sizeof(m));
    m[0] = 0x10; /* length 4128: the body is cut, fields present are decoded */
    dec(pptp_decode, m, sizeof(m));
    CHECK_EQ(P.status, PKT_TRUNCATED);
    CHECK(has_anom(ANOM_PPTP_TRUNC));
    CHECK_EQ(P.pptp.peer_call_id, 0x4000);

    /* hostile host name: 64 non-NUL bytes of any value; copied up to the cap, NUL-terminated */
    uint8_t h[sizeof(sccrq)];
    memcpy(h, sccrq, sizeof(h));
    for (int i = 0; i < 64; i++)
        h[28 + i] = (uint8_t)(i == 3 ? '\n' : 0xf0 + (i & 0x0f));
    dec(pptp_decode, h, sizeof(h));
    CHECK_EQ(P.status, PKT_DECODED);
    CHECK_EQ(strlen(P.pptp.hostname), PPTP_STR_MAX - 1);
    CHECK_EQ((uint8_t)P.pptp.hostname[0], 0xf0);
    CHECK_EQ(P.pptp.hostname[3], '\n');
    CHECK_STR(P.pptp.vendor, "Microsoft");
}

static void test_names(void)
{
    static const char *const names[] = {"SCCRQ",  "SCCRP", "StopCCRQ", "StopCCRP", "ECHORQ",
                                        "ECHORP", "OCRQ",  "OCRP",     "ICRQ",     "ICRP",
                                        "ICCN",   "CCRQ",  "CDN",      "WEN",      "SLI"};
    for (uint16_t i = 0; i < 15; i++)
        CHECK_STR(pptp_ctrl_name((uint16_t)(i + 1)), names[i]);
    CHECK_STR(pptp_ctrl_name(0), "unknown");
    CHECK_STR(pptp_ctrl_name(16), "unknown");
    CHECK_STR(pptp_ctrl_name(0xffff), "unknown");
}

/* pptp_probe: a control message on any port by structure (cookie, message type, control type,
 * length), every prefix too short, each field wrong; TLS and HTTP payloads are not PPTP. */
static void test_pptp_probe(void)
{
    CHECK(pptp_probe(ocrq, sizeof(ocrq)));
    CHECK(pptp_probe(ocrp, sizeof(ocrp)));
    CHECK(pptp_probe(sccrq, sizeof(sccrq)));
    for (uint32_t n = 0; n < 12; n++)
        CHECK(!pptp_probe(ocrq, n));
    CHECK(pptp_probe(ocrq, 12)); /* the header decides; pptp_decode reports a short body */
    uint8_t m[sizeof(ocrp)];
    memcpy(m, ocrp, sizeof(m));
    m[7] = 0x4e; /* magic */
    CHECK(!pptp_probe(m, sizeof(m)));
    memcpy(m, ocrp, sizeof(m));
    m[3] = 2; /* management message */
    CHECK(!pptp_probe(m, sizeof(m)));
    memcpy(m, ocrp, sizeof(m));
    m[9] = 16; /* control type 16 */
    CHECK(!pptp_probe(m, sizeof(m)));
    memcpy(m, ocrp, sizeof(m));
    m[0] = 0, m[1] = 16; /* length below the OCRP's */
    CHECK(!pptp_probe(m, sizeof(m)));
    static const uint8_t tls[] = {0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01,
                                  0xfc, 0x03, 0x03, 0x1a, 0x2b, 0x3c, 0x4d, 0x00};
    CHECK(!pptp_probe(tls, sizeof(tls)));
    static const uint8_t http[] = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
    CHECK(!pptp_probe(http, sizeof(http) - 1));
}

int main(void)
{
    test_gre();
    test_pptp_valid();
    test_pptp_all_types();
    test_pptp_anomalies();
    test_pptp_probe();
    test_names();
    free(buf);
    return t_done();
}
