/* test_wireguard.c - unit tests for wg_decode / wg_probe (src/decode/wireguard.c). */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "t.h"
#include "vpnscope/pkt.h"
#include "vpnscope/rd.h"
#include "vpnscope/tunnel.h"

static struct wg_msg M;
static enum anomaly A;
static uint8_t *buf; /* heap copy of the captured bytes, so ASan sees reads past them */

/* Decodes the first `captured` bytes of b as a message of wire length `len`. */
static bool dec(const uint8_t *b, size_t captured, uint32_t len)
{
    free(buf);
    buf = malloc(captured ? captured : 1);
    if (captured)
        memcpy(buf, b, captured);
    struct rd r = rd_init(buf, captured);
    return wg_decode(&r, len, &M, &A);
}

static void put_le32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

/* A message of `len` bytes: type, reserved zeros, filler 0xA5 (encrypted fields / MACs). */
static void msg(uint8_t *b, uint8_t type, size_t len)
{
    memset(b, 0xA5, len);
    b[0] = type;
    b[1] = b[2] = b[3] = 0;
}

static uint8_t init_m[WG_INITIATION_LEN], resp_m[WG_RESPONSE_LEN], cookie_m[WG_COOKIE_REPLY_LEN];
static uint8_t keep_m[WG_KEEPALIVE_LEN], data_m[WG_KEEPALIVE_LEN + 64];

static void build(void)
{
    msg(init_m, WG_INITIATION, sizeof(init_m));
    /* sender index bytes 12 34 56 78: little-endian value 0x78563412 */
    init_m[4] = 0x12;
    init_m[5] = 0x34;
    init_m[6] = 0x56;
    init_m[7] = 0x78;
    msg(resp_m, WG_RESPONSE, sizeof(resp_m));
    put_le32(resp_m + 4, 0xdeadbeef);
    put_le32(resp_m + 8, 0x78563412);
    msg(cookie_m, WG_COOKIE_REPLY, sizeof(cookie_m));
    put_le32(cookie_m + 4, 0x78563412);
    msg(keep_m, WG_TRANSPORT, sizeof(keep_m));
    put_le32(keep_m + 4, 0xdeadbeef);
    put_le32(keep_m + 8, 7); /* counter 0x0000000100000007 */
    put_le32(keep_m + 12, 1);
    msg(data_m, WG_TRANSPORT, sizeof(data_m));
    put_le32(data_m + 4, 0x78563412);
    put_le32(data_m + 8, 0xffffffffu);
    put_le32(data_m + 12, 0);
}

static void test_valid(void)
{
    char s[WG_INDEX_STR_LEN];
    CHECK(dec(init_m, sizeof(init_m), sizeof(init_m)));
    CHECK_EQ(A, ANOM_NONE);
    CHECK_EQ(M.type, WG_INITIATION);
    CHECK(M.ids_valid && M.has_sender && !M.has_receiver);
    CHECK_EQ(M.sender, 0x78563412u);
    CHECK_STR(wg_index_str(M.sender, s, sizeof(s)), "0x78563412");
    CHECK_STR(wg_type_name(M.type), "initiation");

    CHECK(dec(resp_m, sizeof(resp_m), sizeof(resp_m)));
    CHECK_EQ(M.type, WG_RESPONSE);
    CHECK(M.has_sender && M.has_receiver);
    CHECK_EQ(M.sender, 0xdeadbeefu);
    CHECK_EQ(M.receiver, 0x78563412u);
    CHECK_STR(wg_type_name(M.type), "response");

    CHECK(dec(cookie_m, sizeof(cookie_m), sizeof(cookie_m)));
    CHECK_EQ(M.type, WG_COOKIE_REPLY);
    CHECK(!M.has_sender && M.has_receiver);
    CHECK_EQ(M.receiver, 0x78563412u);
    CHECK_STR(wg_type_name(M.type), "cookie_reply");

    CHECK(dec(keep_m, sizeof(keep_m), sizeof(keep_m)));
    CHECK_EQ(M.type, WG_TRANSPORT);
    CHECK(M.is_keepalive);
    CHECK_EQ(M.payload_len, 0);
    CHECK_EQ(M.receiver, 0xdeadbeefu);
    CHECK(M.counter == 0x0000000100000007ull);
    CHECK_STR(wg_type_name(M.type), "transport");

    CHECK(dec(data_m, sizeof(data_m), sizeof(data_m)));
    CHECK(!M.is_keepalive);
    CHECK_EQ(M.payload_len, 64);
    CHECK(M.counter == 0xffffffffull);
    CHECK_EQ(M.len, sizeof(data_m));

    /* captured bytes beyond the wire length (e.g. Ethernet padding) are not part of it */
    uint8_t pad[WG_KEEPALIVE_LEN + 6];
    memcpy(pad, keep_m, WG_KEEPALIVE_LEN);
    memset(pad + WG_KEEPALIVE_LEN, 0, 6);
    CHECK(dec(pad, sizeof(pad), WG_KEEPALIVE_LEN));
    CHECK(M.is_keepalive);

    CHECK_STR(wg_type_name(0), "unknown");
    CHECK_STR(wg_type_name(5), "unknown");
    CHECK_STR(wg_index_str(0, s, sizeof(s)), "0x00000000");
    CHECK_STR(wg_index_str(0xffffffffu, s, sizeof(s)), "0xffffffff");
}

static void test_anomalies(void)
{
    uint8_t b[WG_INITIATION_LEN];
    memcpy(b, init_m, sizeof(b));
    for (unsigned t = 0; t < 256; t++) {
        if (t >= WG_INITIATION && t <= WG_TRANSPORT)
            continue;
        b[0] = (uint8_t)t;
        CHECK(!dec(b, sizeof(b), sizeof(b)));
        CHECK_EQ(A, ANOM_WG_BAD_TYPE);
    }
    for (unsigned i = 1; i < 4; i++) {
        memcpy(b, init_m, sizeof(b));
        b[i] = 1;
        CHECK(!dec(b, sizeof(b), sizeof(b)));
        CHECK_EQ(A, ANOM_WG_RESERVED_NONZERO);
    }
    /* handshake sizes are exact */
    CHECK(!dec(init_m, sizeof(init_m), WG_INITIATION_LEN - 1));
    CHECK_EQ(A, ANOM_WG_BAD_SIZE);
    memcpy(b, init_m, sizeof(b));
    CHECK(!dec(b, sizeof(b), WG_INITIATION_LEN + 1)); /* wire says 149, 148 captured */
    CHECK_EQ(A, ANOM_WG_BAD_SIZE);
    CHECK(!dec(resp_m, sizeof(resp_m), WG_RESPONSE_LEN + 16));
    CHECK_EQ(A, ANOM_WG_BAD_SIZE);
    CHECK(!dec(cookie_m, sizeof(cookie_m), WG_COOKIE_REPLY_LEN - 16));
    CHECK_EQ(A, ANOM_WG_BAD_SIZE);
    /* transport: >= 32 and a multiple of 16 after the header */
    CHECK(!dec(data_m, 31, 31));
    CHECK_EQ(A, ANOM_WG_BAD_SIZE);
    CHECK(!dec(data_m, 16, 16));
    CHECK_EQ(A, ANOM_WG_BAD_SIZE);
    CHECK(!dec(data_m, 40, 40));
    CHECK_EQ(A, ANOM_WG_BAD_SIZE);
    CHECK(dec(data_m, 48, 48));
    /* fewer than 4 bytes on the wire cannot be a message */
    for (uint32_t n = 0; n < 4; n++) {
        CHECK(!dec(keep_m, n, n));
        CHECK_EQ(A, ANOM_WG_BAD_SIZE);
        CHECK(!M.ids_valid);
    }
}

/* Every captured length shorter than the message: truncated, never a crash, identifiers kept
 * once their bytes are there. */
static void check_prefixes(const uint8_t *b, size_t n, size_t ids_end)
{
    for (size_t k = 0; k < n; k++) {
        bool ok = dec(b, k, (uint32_t)n);
        CHECK(!ok);
        if (A != ANOM_WG_TRUNC)
            fprintf(stderr, "prefix %zu of %zu: anomaly %s\n", k, n, anomaly_name(A));
        CHECK_EQ(A, ANOM_WG_TRUNC);
        CHECK_EQ(M.ids_valid, k >= ids_end);
        if (k >= 4)
            CHECK_EQ(M.type, b[0]);
    }
}

static void test_truncation(void)
{
    check_prefixes(init_m, sizeof(init_m), 8);
    check_prefixes(resp_m, sizeof(resp_m), 12);
    check_prefixes(cookie_m, sizeof(cookie_m), 8);
    check_prefixes(keep_m, sizeof(keep_m), 16);
    check_prefixes(data_m, sizeof(data_m), 16);
    /* a truncated transport message still gives its receiver and counter */
    CHECK(!dec(data_m, 20, sizeof(data_m)));
    CHECK_EQ(M.receiver, 0x78563412u);
    CHECK(M.counter == 0xffffffffull);
    CHECK_EQ(M.payload_len, 64);
}

static void test_probe(void)
{
    CHECK(wg_probe(init_m, sizeof(init_m), sizeof(init_m)));
    CHECK(wg_probe(resp_m, sizeof(resp_m), sizeof(resp_m)));
    CHECK(wg_probe(cookie_m, sizeof(cookie_m), sizeof(cookie_m)));
    CHECK(wg_probe(keep_m, sizeof(keep_m), sizeof(keep_m)));
    CHECK(wg_probe(data_m, sizeof(data_m), sizeof(data_m)));
    /* only the first 4 bytes need to be captured */
    CHECK(wg_probe(init_m, 4, sizeof(init_m)));
    CHECK(!wg_probe(init_m, 3, sizeof(init_m)));
    CHECK(!wg_probe(NULL, 0, 0));
    CHECK(!wg_probe(init_m, sizeof(init_m), sizeof(init_m) - 1));
    CHECK(!wg_probe(data_m, sizeof(data_m), 33));
    /* a DNS query with id 0x0400: its flags (RD set) fall in the reserved bytes */
    static const uint8_t dns[48] = {0x04, 0x00, 0x01, 0x00, 0x00, 0x01};
    CHECK(!wg_probe(dns, sizeof(dns), sizeof(dns)));
    /* QUIC long header, IKE header, OpenVPN reset: not WireGuard */
    static const uint8_t quic[64] = {0xc3, 0x00, 0x00, 0x00, 0x01};
    CHECK(!wg_probe(quic, sizeof(quic), sizeof(quic)));
    static const uint8_t ovpn[64] = {0x38, 0x11, 0x22, 0x33};
    CHECK(!wg_probe(ovpn, sizeof(ovpn), sizeof(ovpn)));
}

/* A real handshake captured from wireguard-go 0.0.20220316 on UDP port 40000
 * (tests/lab/tunnel_captures.sh, wg-port40000.pcap); tshark 4.0 shows wg.sender 0x171e2f70 for
 * the initiation, wg.sender 0xd8d746b2 / wg.receiver 0x171e2f70 for the response and
 * wg.receiver 0xd8d746b2, counter 0 for the keepalive. */
static const char real_init_hex[] =
    "01000000702f1e17f7a6e7b3e751c3021217a53185ba61f31a4ae5bffe17b8e6"
    "f7e05fb9a698921825f2c808c427750feb0cfa677ebde9af28c95baa81a88aff"
    "ff5ef693b79496ac573463f76d549c8c6d069f68178737b1f934ffef8e6134bc"
    "5b1ed08f9b0fbe9692f14096af058210ea42cfe982fbdf4d650c3fa169cb0167"
    "0938f55e00000000000000000000000000000000";
static const char real_resp_hex[] =
    "02000000b246d7d8702f1e170e3f9ed7afe33f40398ce3fc752e0a5c3b3a1051"
    "dd45563ef45ed7d99ae6111b341fccf8b20e0326b9c3fc9cd9ad9f78c027e0be"
    "5323bedd659c19578c5bc64100000000000000000000000000000000";
static const char real_keep_hex[] =
    "04000000b246d7d80000000000000000cdec1f73290ebc66023344d135c95365";

/* Hex string to bytes; returns the length. */
static size_t unhex(const char *h, uint8_t *out, size_t max)
{
    size_t n = 0;
    for (; h[0] && h[1] && n < max; h += 2) {
        unsigned v;
        if (sscanf(h, "%2x", &v) != 1)
            break;
        out[n++] = (uint8_t)v;
    }
    return n;
}

static void test_real(void)
{
    uint8_t b[256];
    char s[WG_INDEX_STR_LEN], r2[WG_INDEX_STR_LEN];
    size_t n = unhex(real_init_hex, b, sizeof(b));
    CHECK_EQ(n, WG_INITIATION_LEN);
    CHECK(wg_probe(b, (uint32_t)n, (uint32_t)n));
    CHECK(dec(b, n, (uint32_t)n));
    CHECK_EQ(M.type, WG_INITIATION);
    CHECK_STR(wg_index_str(M.sender, s, sizeof(s)), "0x171e2f70");
    n = unhex(real_resp_hex, b, sizeof(b));
    CHECK_EQ(n, WG_RESPONSE_LEN);
    CHECK(dec(b, n, (uint32_t)n));
    CHECK_STR(wg_index_str(M.sender, s, sizeof(s)), "0xd8d746b2");
    CHECK_STR(wg_index_str(M.receiver, r2, sizeof(r2)), "0x171e2f70");
    n = unhex(real_keep_hex, b, sizeof(b));
    CHECK_EQ(n, WG_KEEPALIVE_LEN);
    CHECK(dec(b, n, (uint32_t)n));
    CHECK(M.is_keepalive);
    CHECK(M.counter == 0);
    CHECK_STR(wg_index_str(M.receiver, s, sizeof(s)), "0xd8d746b2");
}

int main(void)
{
    build();
    test_valid();
    test_anomalies();
    test_truncation();
    test_probe();
    test_real();
    free(buf);
    return t_done();
}
