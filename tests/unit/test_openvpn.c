/* test_openvpn.c - unit tests for the OpenVPN decoder (src/decode/openvpn.c): every opcode, the
 * plain / tls-auth / tls-crypt layouts, each anomaly, every truncation, the HMAC size inference,
 * the structural probe and the TCP de-framer. Packets are built field by field from openvpn's
 * ssl_pkt.h layout. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "t.h"
#include "vpnscope/pkt.h"
#include "vpnscope/rd.h"
#include "vpnscope/tunnel.h"

#define SID_C 0x1122334455667788ull /* client session id */
#define SID_S 0x99aabbccddeeff00ull /* server session id */

struct pb {
    uint8_t b[512];
    size_t n;
};

static void u8(struct pb *p, uint8_t v)
{
    if (p->n < sizeof(p->b))
        p->b[p->n++] = v;
}

static void be32(struct pb *p, uint32_t v)
{
    for (int s = 24; s >= 0; s -= 8)
        u8(p, (uint8_t)(v >> s));
}

static void be64(struct pb *p, uint64_t v)
{
    be32(p, (uint32_t)(v >> 32));
    be32(p, (uint32_t)v);
}

/* `n` bytes that look like an HMAC / ciphertext (no zero bytes). */
static void fill(struct pb *p, size_t n, uint8_t seed)
{
    for (size_t i = 0; i < n; i++)
        u8(p, (uint8_t)(0x80 | ((seed + i * 37) & 0x7f)));
}

static void op(struct pb *p, uint8_t opcode, uint8_t key)
{
    p->n = 0;
    u8(p, (uint8_t)(opcode << 3 | key));
}

/* tls-auth wrapping: HMAC of h bytes, replay packet id, net time. */
static void auth(struct pb *p, size_t h, uint32_t replay)
{
    fill(p, h, (uint8_t)h);
    be32(p, replay);
    be32(p, 0x65f0a1b2u);
}

/* Control packet: opcode, session id, [tls-auth h], acks (+ peer sid), [msg id], payload. */
static void ctrl(struct pb *p, uint8_t opcode, uint8_t key, uint64_t sid, int h,
                 const uint32_t *acks, unsigned n_acks, uint64_t peer, int msg_id, size_t payload)
{
    op(p, opcode, key);
    be64(p, sid);
    if (h >= 0)
        auth(p, (size_t)h, 1);
    u8(p, (uint8_t)n_acks);
    for (unsigned i = 0; i < n_acks; i++)
        be32(p, acks[i]);
    if (n_acks)
        be64(p, peer);
    if (msg_id >= 0)
        be32(p, (uint32_t)msg_id);
    fill(p, payload, 3);
}

/* tls-crypt control packet: opcode, session id, replay id, time, tag, `enc` encrypted bytes. */
static void crypt_pkt(struct pb *p, uint8_t opcode, uint64_t sid, uint32_t replay, size_t enc)
{
    op(p, opcode, 0);
    be64(p, sid);
    be32(p, replay);
    be32(p, 0x65f0a1b2u);
    fill(p, OVPN_TLS_CRYPT_TAG_LEN, 9);
    fill(p, enc, 11);
}

static struct ovpn_msg M;
static enum anomaly A;
static uint8_t *buf;

static bool dec(const uint8_t *b, size_t captured, uint32_t len, const struct ovpn_layout *lay)
{
    free(buf);
    buf = malloc(captured ? captured : 1);
    if (captured)
        memcpy(buf, b, captured);
    struct rd r = rd_init(buf, captured);
    return ovpn_decode(&r, len, lay, &M, &A);
}

static bool decp(const struct pb *p, const struct ovpn_layout *lay)
{
    return dec(p->b, p->n, (uint32_t)p->n, lay);
}

static const struct ovpn_layout PLAIN = {OVPN_VAR_PLAIN, 0};
static const struct ovpn_layout SHA1 = {OVPN_VAR_TLS_AUTH, 20};
static const struct ovpn_layout SHA512 = {OVPN_VAR_TLS_AUTH, 64};
static const struct ovpn_layout CRYPT = {OVPN_VAR_TLS_CRYPT, 0};

static void test_plain(void)
{
    struct pb p;
    char s[OVPN_SID_STR_LEN];
    uint32_t ack0 = 0;
    /* client hard reset: no ack, message id 0 */
    ctrl(&p, OVPN_HARD_RESET_CLIENT_V2, 0, SID_C, -1, NULL, 0, 0, 0, 0);
    CHECK_EQ(p.n, 14);
    CHECK(decp(&p, &PLAIN));
    CHECK_EQ(M.opcode, OVPN_HARD_RESET_CLIENT_V2);
    CHECK_EQ(M.key_id, 0);
    CHECK(M.is_control && M.ids_valid && M.has_session_id);
    CHECK(M.session_id == SID_C);
    CHECK_STR(ovpn_sid_str(M.session_id, s, sizeof(s)), "1122334455667788");
    CHECK(M.has_acks && M.ack_count == 0 && !M.has_peer_session);
    CHECK(M.has_msg_id && M.msg_id == 0);
    CHECK_EQ(M.payload_len, 0);
    CHECK_EQ(M.variant, OVPN_VAR_PLAIN);

    /* server hard reset acks the client's message 0 and names its session */
    ctrl(&p, OVPN_HARD_RESET_SERVER_V2, 0, SID_S, -1, &ack0, 1, SID_C, 0, 0);
    CHECK_EQ(p.n, 26);
    CHECK(decp(&p, &PLAIN));
    CHECK(M.session_id == SID_S);
    CHECK(M.has_peer_session && M.peer_session_id == SID_C);
    CHECK_EQ(M.ack_count, 1);
    CHECK_EQ(M.n_acks, 1);
    CHECK_EQ(M.acks[0], 0);

    /* control with TLS payload, key id 2 (renegotiation), 3 acks */
    uint32_t acks[3] = {5, 6, 7};
    ctrl(&p, OVPN_CONTROL_V1, 2, SID_C, -1, acks, 3, SID_S, 9, 100);
    CHECK(decp(&p, &PLAIN));
    CHECK_EQ(M.key_id, 2);
    CHECK_EQ(M.n_acks, 3);
    CHECK_EQ(M.acks[2], 7);
    CHECK_EQ(M.msg_id, 9);
    CHECK_EQ(M.payload_len, 100);
    CHECK_EQ(M.payload_off, p.n - 100);

    /* ACK_V1 has no message id */
    ctrl(&p, OVPN_ACK_V1, 0, SID_S, -1, acks, 2, SID_C, -1, 0);
    CHECK(decp(&p, &PLAIN));
    CHECK(!M.has_msg_id);
    CHECK(M.peer_session_id == SID_C);
    CHECK_EQ(M.payload_len, 0);

    /* soft reset and the V1 resets decode the same way */
    ctrl(&p, OVPN_SOFT_RESET_V1, 1, SID_C, -1, NULL, 0, 0, 4, 0);
    CHECK(decp(&p, &PLAIN));
    CHECK_EQ(M.opcode, OVPN_SOFT_RESET_V1);
    ctrl(&p, OVPN_HARD_RESET_SERVER_V1, 0, SID_S, -1, &ack0, 1, SID_C, 0, 0);
    CHECK(decp(&p, &PLAIN));
    CHECK(M.peer_session_id == SID_C);

    /* unknown layout: the prefix only */
    ctrl(&p, OVPN_HARD_RESET_SERVER_V2, 0, SID_S, -1, &ack0, 1, SID_C, 0, 0);
    CHECK(decp(&p, NULL));
    CHECK(M.session_id == SID_S);
    CHECK_EQ(M.variant, OVPN_VAR_UNKNOWN);
    CHECK(!M.has_acks && !M.has_peer_session && !M.has_msg_id);
    CHECK_EQ(M.payload_off, 9);
}

static void test_data(void)
{
    struct pb p;
    op(&p, OVPN_DATA_V2, 1);
    u8(&p, 0x00);
    u8(&p, 0x00);
    u8(&p, 0x05);
    fill(&p, 40, 1);
    CHECK(decp(&p, &PLAIN));
    CHECK_EQ(M.opcode, OVPN_DATA_V2);
    CHECK_EQ(M.key_id, 1);
    CHECK(!M.is_control && M.ids_valid && M.has_peer_id && !M.has_session_id);
    CHECK_EQ(M.peer_id, 5);
    CHECK_EQ(M.payload_off, 4);
    CHECK_EQ(M.payload_len, 40);
    p.b[1] = p.b[2] = p.b[3] = 0xff;
    CHECK(decp(&p, NULL));
    CHECK_EQ(M.peer_id, OVPN_PEER_ID_UNSET);

    op(&p, OVPN_DATA_V1, 0);
    fill(&p, 40, 1);
    CHECK(decp(&p, &SHA1)); /* the control layout does not matter to data */
    CHECK_EQ(M.opcode, OVPN_DATA_V1);
    CHECK(M.ids_valid && !M.has_peer_id && !M.has_session_id);
    CHECK_EQ(M.payload_off, 1);
    CHECK_EQ(M.payload_len, 40);
}

static void test_tls_auth(void)
{
    struct pb p;
    uint32_t ack0 = 0;
    ctrl(&p, OVPN_HARD_RESET_SERVER_V2, 0, SID_S, 20, &ack0, 1, SID_C, 0, 0);
    CHECK_EQ(p.n, 54);
    CHECK(decp(&p, &SHA1));
    CHECK_EQ(M.variant, OVPN_VAR_TLS_AUTH);
    CHECK_EQ(M.hmac_len, 20);
    CHECK(M.has_replay && M.replay_id == 1 && M.net_time == 0x65f0a1b2u);
    CHECK(M.peer_session_id == SID_C);
    CHECK(M.has_msg_id && M.msg_id == 0);

    ctrl(&p, OVPN_CONTROL_V1, 0, SID_C, 64, &ack0, 1, SID_S, 1, 50);
    CHECK(decp(&p, &SHA512));
    CHECK(M.peer_session_id == SID_S);
    CHECK_EQ(M.msg_id, 1);
    CHECK_EQ(M.payload_len, 50);
}

static void test_tls_crypt(void)
{
    struct pb p;
    crypt_pkt(&p, OVPN_HARD_RESET_SERVER_V2, SID_S, 1, 17);
    CHECK(decp(&p, &CRYPT));
    CHECK_EQ(M.variant, OVPN_VAR_TLS_CRYPT);
    CHECK(M.session_id == SID_S);
    CHECK(M.has_replay && M.replay_id == 1);
    CHECK(!M.has_acks && !M.has_peer_session && !M.has_msg_id);
    CHECK_EQ(M.payload_off, 49);
    CHECK_EQ(M.payload_len, 17);
    /* tls-crypt-v2 opcodes are tls-crypt whatever the flow learned */
    crypt_pkt(&p, OVPN_HARD_RESET_CLIENT_V3, SID_C, 1, 300);
    CHECK(decp(&p, NULL));
    CHECK_EQ(M.variant, OVPN_VAR_TLS_CRYPT);
    CHECK_EQ(M.payload_len, 300);
    crypt_pkt(&p, OVPN_CONTROL_WKC_V1, SID_C, 2, 300);
    CHECK(decp(&p, &PLAIN));
    CHECK_EQ(M.variant, OVPN_VAR_TLS_CRYPT);
    CHECK_EQ(M.replay_id, 2);
    /* encrypted part shorter than an ack count + message id */
    crypt_pkt(&p, OVPN_CONTROL_V1, SID_C, 3, 4);
    CHECK(!decp(&p, &CRYPT));
    CHECK_EQ(A, ANOM_OVPN_BAD_SIZE);
}

static void test_anomalies(void)
{
    struct pb p;
    uint32_t acks[12] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
    /* opcodes 0 and 12..31 */
    for (unsigned o = 0; o < 32; o++) {
        if (o >= OVPN_HARD_RESET_CLIENT_V1 && o <= OVPN_CONTROL_WKC_V1)
            continue;
        ctrl(&p, (uint8_t)o, 0, SID_C, -1, NULL, 0, 0, 0, 0);
        CHECK(!decp(&p, &PLAIN));
        CHECK_EQ(A, ANOM_OVPN_BAD_OPCODE);
        CHECK_STR(ovpn_opcode_name((uint8_t)o), "unknown");
    }
    /* more than 8 acks: invalid (OpenVPN drops it), the first 8 kept */
    ctrl(&p, OVPN_ACK_V1, 0, SID_S, -1, acks, 12, SID_C, -1, 0);
    CHECK(!decp(&p, &PLAIN));
    CHECK_EQ(A, ANOM_OVPN_TOO_MANY_ACKS);
    CHECK_EQ(M.ack_count, 12);
    CHECK_EQ(M.n_acks, OVPN_MAX_ACKS);
    CHECK_EQ(M.acks[7], 8);
    CHECK(!M.has_peer_session);
    /* also when the ids are not all there (wire length 14: one id) */
    CHECK(!dec(p.b, 14, 14, &PLAIN));
    CHECK_EQ(A, ANOM_OVPN_TOO_MANY_ACKS);
    CHECK_EQ(M.n_acks, 1);
    /* wire length shorter than the fixed part: the ack array runs past the end */
    ctrl(&p, OVPN_ACK_V1, 0, SID_S, -1, acks, 3, SID_C, -1, 0);
    CHECK(!dec(p.b, p.n, 15, &PLAIN));
    CHECK_EQ(A, ANOM_OVPN_BAD_SIZE);
    CHECK(!dec(p.b, p.n, 5, &PLAIN)); /* no room for the session id */
    CHECK_EQ(A, ANOM_OVPN_BAD_SIZE);
    CHECK(!M.ids_valid);
    CHECK(!dec(p.b, 0, 0, &PLAIN));
    CHECK_EQ(A, ANOM_OVPN_BAD_SIZE);
    op(&p, OVPN_DATA_V2, 0);
    u8(&p, 0);
    CHECK(!decp(&p, NULL));
    CHECK_EQ(A, ANOM_OVPN_BAD_SIZE);
    /* classification of the result */
    CHECK(tunnel_anom_is_truncation(ANOM_OVPN_TRUNC));
    CHECK(!tunnel_anom_is_truncation(ANOM_OVPN_BAD_SIZE));
}

/* Every captured length shorter than the packet: truncated, identifiers kept once read. */
static void check_prefixes(const struct pb *p, const struct ovpn_layout *lay, size_t ids_end)
{
    for (size_t k = 0; k < p->n; k++) {
        CHECK(!dec(p->b, k, (uint32_t)p->n, lay));
        if (A != ANOM_OVPN_TRUNC)
            fprintf(stderr, "prefix %zu of %zu: anomaly %s\n", k, p->n, anomaly_name(A));
        CHECK_EQ(A, ANOM_OVPN_TRUNC);
        CHECK_EQ(M.ids_valid, k >= ids_end);
    }
}

static void test_truncation(void)
{
    struct pb p;
    uint32_t ack[2] = {0, 1};
    ctrl(&p, OVPN_HARD_RESET_CLIENT_V2, 0, SID_C, -1, NULL, 0, 0, 0, 6);
    check_prefixes(&p, &PLAIN, 9);
    check_prefixes(&p, NULL, 9);
    ctrl(&p, OVPN_HARD_RESET_SERVER_V2, 0, SID_S, -1, ack, 1, SID_C, 0, 0);
    check_prefixes(&p, &PLAIN, 9);
    ctrl(&p, OVPN_CONTROL_V1, 0, SID_C, 20, ack, 2, SID_S, 3, 30);
    check_prefixes(&p, &SHA1, 9);
    ctrl(&p, OVPN_ACK_V1, 0, SID_C, 64, ack, 2, SID_S, -1, 0);
    check_prefixes(&p, &SHA512, 9);
    crypt_pkt(&p, OVPN_HARD_RESET_SERVER_V2, SID_S, 1, 17);
    check_prefixes(&p, &CRYPT, 9);
    crypt_pkt(&p, OVPN_HARD_RESET_CLIENT_V3, SID_C, 1, 40);
    check_prefixes(&p, NULL, 9);
    op(&p, OVPN_DATA_V2, 0);
    be32(&p, 0x000102ff);
    fill(&p, 20, 0);
    check_prefixes(&p, NULL, 4);
    op(&p, OVPN_DATA_V1, 0);
    fill(&p, 20, 0);
    for (size_t k = 0; k < p.n; k++) {
        CHECK(!dec(p.b, k, (uint32_t)p.n, NULL));
        CHECK_EQ(A, ANOM_OVPN_TRUNC);
    }
}

static void test_infer(void)
{
    struct pb p;
    struct ovpn_layout lay;
    uint32_t mask;
    uint32_t ack0 = 0, acks[3] = {4, 5, 6};
    const uint8_t *cand = ovpn_hmac_candidates;
    const unsigned nc = OVPN_N_HMAC_CANDIDATES;

    /* plain: the server's reset names the client's session right after its ack */
    ctrl(&p, OVPN_HARD_RESET_SERVER_V2, 0, SID_S, -1, &ack0, 1, SID_C, 0, 0);
    CHECK(ovpn_infer_layout(p.b, (uint32_t)p.n, SID_C, cand, nc, &lay, &mask));
    CHECK_EQ(lay.variant, OVPN_VAR_PLAIN);
    CHECK_EQ(mask, 1u);
    /* the wrong peer session: nothing fits, and a plain reset is no tls-crypt packet */
    CHECK(!ovpn_infer_layout(p.b, (uint32_t)p.n, SID_S, cand, nc, &lay, &mask));
    CHECK_EQ(mask, 0u);

    /* tls-auth with each digest size: only that candidate fits */
    for (unsigned i = 1; i < nc; i++) {
        ctrl(&p, OVPN_HARD_RESET_SERVER_V2, 0, SID_S, cand[i], &ack0, 1, SID_C, 0, 0);
        CHECK(ovpn_infer_layout(p.b, (uint32_t)p.n, SID_C, cand, nc, &lay, &mask));
        CHECK_EQ(lay.variant, OVPN_VAR_TLS_AUTH);
        CHECK_EQ(lay.hmac_len, cand[i]);
        CHECK_EQ(mask, 1u << i);
        /* the inferred layout decodes the packet */
        CHECK(decp(&p, &lay));
        CHECK(M.peer_session_id == SID_C);
        /* a client packet with 3 acks, checked against the server's session */
        ctrl(&p, OVPN_ACK_V1, 0, SID_C, cand[i], acks, 3, SID_S, -1, 0);
        CHECK(ovpn_infer_layout(p.b, (uint32_t)p.n, SID_S, cand, nc, &lay, NULL));
        CHECK_EQ(lay.hmac_len, cand[i]);
    }
    /* a tls-auth packet with an HMAC size outside the candidates: nothing is consistent */
    ctrl(&p, OVPN_HARD_RESET_SERVER_V2, 0, SID_S, 24, &ack0, 1, SID_C, 0, 0);
    CHECK(!ovpn_infer_layout(p.b, (uint32_t)p.n, SID_C, cand, nc, &lay, &mask));
    CHECK_EQ(mask, 0u);
    /* the client's reset acks nothing: undecidable */
    ctrl(&p, OVPN_HARD_RESET_CLIENT_V2, 0, SID_C, 20, NULL, 0, 0, 0, 0);
    CHECK(!ovpn_infer_layout(p.b, (uint32_t)p.n, SID_S, cand, nc, &lay, &mask));

    /* tls-crypt: the ack array is encrypted; a server reset with an early replay id */
    crypt_pkt(&p, OVPN_HARD_RESET_SERVER_V2, SID_S, 1, 17);
    CHECK(ovpn_infer_layout(p.b, (uint32_t)p.n, SID_C, cand, nc, &lay, &mask));
    CHECK_EQ(lay.variant, OVPN_VAR_TLS_CRYPT);
    CHECK_EQ(mask, 0u);
    /* too short for the wrapping, or a replay id that is not early: not concluded */
    crypt_pkt(&p, OVPN_HARD_RESET_SERVER_V2, SID_S, 1, 8);
    CHECK(!ovpn_infer_layout(p.b, (uint32_t)p.n, SID_C, cand, nc, &lay, NULL));
    crypt_pkt(&p, OVPN_HARD_RESET_SERVER_V2, SID_S, 0x12345678, 17);
    CHECK(!ovpn_infer_layout(p.b, (uint32_t)p.n, SID_C, cand, nc, &lay, NULL));
    /* tls-crypt-v2 opcode */
    crypt_pkt(&p, OVPN_HARD_RESET_CLIENT_V3, SID_C, 1, 200);
    CHECK(ovpn_infer_layout(p.b, (uint32_t)p.n, 0, cand, nc, &lay, NULL));
    CHECK_EQ(lay.variant, OVPN_VAR_TLS_CRYPT);
    /* data packets and garbage */
    op(&p, OVPN_DATA_V2, 0);
    fill(&p, 60, 1);
    CHECK(!ovpn_infer_layout(p.b, (uint32_t)p.n, SID_C, cand, nc, &lay, NULL));
    CHECK(!ovpn_infer_layout(p.b, 0, SID_C, cand, nc, &lay, NULL));
    CHECK(!ovpn_infer_layout(p.b, 5, SID_C, cand, nc, &lay, NULL));
    /* every prefix of a consistent packet: no read past it, no false layout */
    ctrl(&p, OVPN_HARD_RESET_SERVER_V2, 0, SID_S, 32, &ack0, 1, SID_C, 0, 0);
    for (size_t k = 0; k < p.n; k++) {
        uint8_t *c = malloc(k ? k : 1);
        memcpy(c, p.b, k);
        bool ok = ovpn_infer_layout(c, (uint32_t)k, SID_C, cand, nc, &lay, &mask);
        CHECK(!ok || lay.variant == OVPN_VAR_TLS_CRYPT);
        CHECK(!(mask & (1u << 4)));
        free(c);
    }
}

static void test_probe(void)
{
    struct pb p;
    uint32_t ack0 = 0;
    const int hs[] = {-1, 16, 20, 32, 64};
    for (unsigned i = 0; i < sizeof(hs) / sizeof(hs[0]); i++) {
        ctrl(&p, OVPN_HARD_RESET_CLIENT_V2, 0, SID_C, hs[i], NULL, 0, 0, 0, 6);
        CHECK_EQ(ovpn_probe(p.b, (uint32_t)p.n, (uint32_t)p.n), OVPN_PROBE_RESET);
        ctrl(&p, OVPN_HARD_RESET_SERVER_V2, 0, SID_S, hs[i], &ack0, 1, SID_C, 0, 0);
        CHECK_EQ(ovpn_probe(p.b, (uint32_t)p.n, (uint32_t)p.n), OVPN_PROBE_RESET);
        ctrl(&p, OVPN_HARD_RESET_CLIENT_V1, 0, SID_C, hs[i], NULL, 0, 0, 0, 0);
        CHECK_EQ(ovpn_probe(p.b, (uint32_t)p.n, (uint32_t)p.n), OVPN_PROBE_RESET);
        /* a hard reset with key id != 0 does not exist */
        ctrl(&p, OVPN_HARD_RESET_CLIENT_V2, 1, SID_C, hs[i], NULL, 0, 0, 0, 0);
        CHECK_EQ(ovpn_probe(p.b, (uint32_t)p.n, (uint32_t)p.n), OVPN_PROBE_NO);
        /* a reset whose message id is not 0 */
        ctrl(&p, OVPN_HARD_RESET_CLIENT_V2, 0, SID_C, hs[i], NULL, 0, 0, 7, 0);
        CHECK_EQ(ovpn_probe(p.b, (uint32_t)p.n, (uint32_t)p.n), OVPN_PROBE_NO);
    }
    /* session ids, HMACs and tags are random: a layout of small integers (SunRPC over UDP:
     * xid 0x3828f700, call 0, version 2, program, AUTH_UNIX fields...) is not a reset */
    ctrl(&p, OVPN_HARD_RESET_CLIENT_V2, 0, 0x28f7000000000000ull, -1, NULL, 0, 0, 0, 0);
    CHECK_EQ(ovpn_probe(p.b, (uint32_t)p.n, (uint32_t)p.n), OVPN_PROBE_NO);
    ctrl(&p, OVPN_HARD_RESET_CLIENT_V2, 0, SID_C, 20, NULL, 0, 0, 0, 0);
    memset(p.b + 9, 0, 4); /* 4 zero bytes in a 20-byte HMAC */
    CHECK_EQ(ovpn_probe(p.b, (uint32_t)p.n, (uint32_t)p.n), OVPN_PROBE_NO);
    crypt_pkt(&p, OVPN_HARD_RESET_CLIENT_V2, SID_C, 1, 5);
    CHECK_EQ(ovpn_probe(p.b, (uint32_t)p.n, (uint32_t)p.n), OVPN_PROBE_RESET);
    memset(p.b + 17, 0, 8); /* tag with 8 zero bytes */
    CHECK_EQ(ovpn_probe(p.b, (uint32_t)p.n, (uint32_t)p.n), OVPN_PROBE_NO);
    crypt_pkt(&p, OVPN_HARD_RESET_CLIENT_V2, SID_C, 1, 5);
    crypt_pkt(&p, OVPN_HARD_RESET_SERVER_V2, SID_S, 2, 17);
    CHECK_EQ(ovpn_probe(p.b, (uint32_t)p.n, (uint32_t)p.n), OVPN_PROBE_RESET);
    crypt_pkt(&p, OVPN_HARD_RESET_CLIENT_V3, SID_C, 1, 300);
    CHECK_EQ(ovpn_probe(p.b, (uint32_t)p.n, (uint32_t)p.n), OVPN_PROBE_RESET);
    /* tls-crypt wrapping on a V1 reset does not exist */
    crypt_pkt(&p, OVPN_HARD_RESET_CLIENT_V1, SID_C, 1, 5);
    CHECK_EQ(ovpn_probe(p.b, (uint32_t)p.n, (uint32_t)p.n), OVPN_PROBE_NO);

    ctrl(&p, OVPN_CONTROL_V1, 0, SID_C, 20, &ack0, 1, SID_S, 1, 40);
    CHECK_EQ(ovpn_probe(p.b, (uint32_t)p.n, (uint32_t)p.n), OVPN_PROBE_FITS);
    op(&p, OVPN_DATA_V2, 0);
    fill(&p, 60, 1);
    CHECK_EQ(ovpn_probe(p.b, (uint32_t)p.n, (uint32_t)p.n), OVPN_PROBE_FITS);
    op(&p, OVPN_ACK_V1, 0);
    fill(&p, 8, 1);
    CHECK_EQ(ovpn_probe(p.b, (uint32_t)p.n, (uint32_t)p.n), OVPN_PROBE_NO);
    /* opcode 0 / 12+; empty; QUIC short header (0x40 = opcode 8) with random bytes */
    static const uint8_t zero[32];
    CHECK_EQ(ovpn_probe(zero, sizeof(zero), sizeof(zero)), OVPN_PROBE_NO);
    static const uint8_t op12[32] = {12 << 3};
    CHECK_EQ(ovpn_probe(op12, sizeof(op12), sizeof(op12)), OVPN_PROBE_NO);
    CHECK_EQ(ovpn_probe(NULL, 0, 0), OVPN_PROBE_NO);
    op(&p, OVPN_HARD_RESET_SERVER_V2, 0);
    fill(&p, 60, 5);
    CHECK_EQ(ovpn_probe(p.b, (uint32_t)p.n, (uint32_t)p.n), OVPN_PROBE_NO);
    /* TCP: the first segment of the stream */
    struct pb t;
    ctrl(&p, OVPN_HARD_RESET_CLIENT_V2, 0, SID_C, 20, NULL, 0, 0, 0, 0);
    t.n = 0;
    u8(&t, 0);
    u8(&t, (uint8_t)p.n);
    memcpy(t.b + 2, p.b, p.n);
    t.n += p.n;
    CHECK_EQ(ovpn_tcp_probe(t.b, (uint32_t)t.n), OVPN_PROBE_RESET);
    CHECK_EQ(ovpn_tcp_probe(t.b, 1), OVPN_PROBE_NO);
    t.b[1] = 0;
    CHECK_EQ(ovpn_tcp_probe(t.b, (uint32_t)t.n), OVPN_PROBE_NO);
}

static void test_names(void)
{
    CHECK_STR(ovpn_opcode_name(OVPN_HARD_RESET_CLIENT_V1), "hard_reset_client_v1");
    CHECK_STR(ovpn_opcode_name(OVPN_HARD_RESET_SERVER_V1), "hard_reset_server_v1");
    CHECK_STR(ovpn_opcode_name(OVPN_SOFT_RESET_V1), "soft_reset_v1");
    CHECK_STR(ovpn_opcode_name(OVPN_CONTROL_V1), "control_v1");
    CHECK_STR(ovpn_opcode_name(OVPN_ACK_V1), "ack_v1");
    CHECK_STR(ovpn_opcode_name(OVPN_DATA_V1), "data_v1");
    CHECK_STR(ovpn_opcode_name(OVPN_HARD_RESET_CLIENT_V2), "hard_reset_client_v2");
    CHECK_STR(ovpn_opcode_name(OVPN_HARD_RESET_SERVER_V2), "hard_reset_server_v2");
    CHECK_STR(ovpn_opcode_name(OVPN_DATA_V2), "data_v2");
    CHECK_STR(ovpn_opcode_name(OVPN_HARD_RESET_CLIENT_V3), "hard_reset_client_v3");
    CHECK_STR(ovpn_opcode_name(OVPN_CONTROL_WKC_V1), "control_wkc_v1");
    CHECK_STR(ovpn_variant_name(OVPN_VAR_PLAIN), "plain");
    CHECK_STR(ovpn_variant_name(OVPN_VAR_TLS_AUTH), "tls_auth");
    CHECK_STR(ovpn_variant_name(OVPN_VAR_TLS_CRYPT), "tls_crypt");
    CHECK_STR(ovpn_variant_name(OVPN_VAR_UNKNOWN), "unknown");
    CHECK_STR(ovpn_variant_name(200), "unknown");
    char s[OVPN_SID_STR_LEN];
    CHECK_STR(ovpn_sid_str(0, s, sizeof(s)), "0000000000000000");
    CHECK_STR(ovpn_sid_str(~0ull, s, sizeof(s)), "ffffffffffffffff");
}

/* ------------------------------------------------------------------ TCP de-framer */

#define MAX_GOT 32
static struct got {
    uint32_t len, captured;
    uint64_t off;
    uint8_t first[OVPN_TCP_KEEP];
} got[MAX_GOT];
static unsigned n_got;

static void on_pkt(void *ctx, const struct ovpn_tcp_pkt *pkt)
{
    (void)ctx;
    if (n_got >= MAX_GOT)
        return;
    got[n_got].len = pkt->len;
    got[n_got].captured = pkt->captured;
    got[n_got].off = pkt->stream_off;
    memcpy(got[n_got].first, pkt->data, pkt->captured);
    n_got++;
}

/* A stream of framed packets: server reset (26), control with payload (142), data v2 (300). */
static struct pb stream;
static size_t pkt_start[3], pkt_len[3];

static void frame(const struct pb *p, unsigned i)
{
    pkt_start[i] = stream.n;
    pkt_len[i] = p->n;
    u8(&stream, (uint8_t)(p->n >> 8));
    u8(&stream, (uint8_t)p->n);
    for (size_t k = 0; k < p->n; k++)
        u8(&stream, p->b[k]);
}

static void build_stream(void)
{
    struct pb p;
    uint32_t ack0 = 0;
    stream.n = 0;
    ctrl(&p, OVPN_HARD_RESET_SERVER_V2, 0, SID_S, -1, &ack0, 1, SID_C, 0, 0);
    frame(&p, 0);
    ctrl(&p, OVPN_CONTROL_V1, 0, SID_S, -1, &ack0, 1, SID_C, 1, 115);
    frame(&p, 1);
    op(&p, OVPN_DATA_V2, 0);
    u8(&p, 0);
    u8(&p, 0);
    u8(&p, 1);
    fill(&p, 296, 1);
    frame(&p, 2);
}

static void check_stream_got(void)
{
    CHECK_EQ(n_got, 3);
    for (unsigned i = 0; i < 3 && i < n_got; i++) {
        CHECK_EQ(got[i].len, pkt_len[i]);
        CHECK_EQ(got[i].captured, pkt_len[i] < OVPN_TCP_KEEP ? pkt_len[i] : OVPN_TCP_KEEP);
        CHECK_EQ(got[i].off, pkt_start[i]);
        CHECK(memcmp(got[i].first, stream.b + pkt_start[i] + 2, got[i].captured) == 0);
    }
}

/* Feeds stream[0..n) split at the given cut points; returns the anomalies seen. */
static unsigned feed_split(struct ovpn_tcp_reasm *t, const uint8_t *s, size_t n, const size_t *cuts,
                           unsigned n_cuts)
{
    unsigned anoms = 0;
    size_t from = 0;
    for (unsigned i = 0; i <= n_cuts; i++) {
        size_t to = i < n_cuts ? cuts[i] : n;
        uint8_t *seg = malloc(to - from ? to - from : 1);
        memcpy(seg, s + from, to - from);
        if (ovpn_tcp_feed(t, seg, (uint32_t)(to - from), on_pkt, NULL) != ANOM_NONE)
            anoms++;
        free(seg);
        from = to;
    }
    return anoms;
}

static void test_tcp(void)
{
    struct ovpn_tcp_reasm t;
    build_stream();
    /* several packets per segment */
    memset(&t, 0, sizeof(t));
    n_got = 0;
    CHECK_EQ(feed_split(&t, stream.b, stream.n, NULL, 0), 0);
    check_stream_got();
    CHECK_EQ(t.packets, 3);
    CHECK(t.stream_off == stream.n);
    /* every split into 2 segments (in the prefix, the header, the payload) */
    for (size_t c = 1; c < stream.n; c++) {
        memset(&t, 0, sizeof(t));
        n_got = 0;
        CHECK_EQ(feed_split(&t, stream.b, stream.n, &c, 1), 0);
        check_stream_got();
    }
    /* 3 segments: every pair of cut points inside the control packet (and the data packet) */
    for (size_t a = pkt_start[1]; a < pkt_start[2]; a++) {
        for (size_t b = a + 1; b < stream.n; b += 7) {
            size_t cuts[2] = {a, b};
            memset(&t, 0, sizeof(t));
            n_got = 0;
            CHECK_EQ(feed_split(&t, stream.b, stream.n, cuts, 2), 0);
            check_stream_got();
        }
    }
    /* one byte per segment, and empty segments */
    memset(&t, 0, sizeof(t));
    n_got = 0;
    for (size_t i = 0; i < stream.n; i++) {
        CHECK_EQ(ovpn_tcp_feed(&t, stream.b + i, 1, on_pkt, NULL), ANOM_NONE);
        CHECK_EQ(ovpn_tcp_feed(&t, stream.b + i, 0, on_pkt, NULL), ANOM_NONE);
    }
    check_stream_got();
    /* a large data packet is handed out with its first OVPN_TCP_KEEP bytes; decoding it is not
     * a truncation */
    struct ovpn_msg m;
    enum anomaly a;
    struct ovpn_tcp_pkt big = {got[2].first, got[2].captured, got[2].len, 0};
    CHECK(ovpn_decode_tcp(&big, &PLAIN, &m, &a));
    CHECK_EQ(m.peer_id, 1);
    CHECK_EQ(m.payload_len, 296);
    struct ovpn_tcp_pkt ctl = {got[1].first, got[1].captured, got[1].len, 0};
    CHECK(ovpn_decode_tcp(&ctl, &PLAIN, &m, &a));
    CHECK(m.peer_session_id == SID_C);
    CHECK_EQ(m.msg_id, 1);
}

static void test_tcp_resync(void)
{
    struct ovpn_tcp_reasm t;
    build_stream();
    uint8_t bad[64];
    /* a zero length: framing lost, the rest of the segment dropped */
    memset(&t, 0, sizeof(t));
    n_got = 0;
    memset(bad, 0, sizeof(bad));
    CHECK_EQ(ovpn_tcp_feed(&t, bad, sizeof(bad), on_pkt, NULL), ANOM_OVPN_TCP_LEN_ABSURD);
    CHECK_EQ(t.resyncs, 1);
    CHECK(t.bytes_dropped == sizeof(bad));
    /* a segment starting mid-packet (garbage) is skipped silently */
    memset(bad, 0xff, sizeof(bad));
    CHECK_EQ(ovpn_tcp_feed(&t, bad, sizeof(bad), on_pkt, NULL), ANOM_NONE);
    CHECK_EQ(n_got, 0);
    CHECK(t.bytes_dropped == 2 * sizeof(bad));
    /* framing restarts at a segment that begins with plausible headers */
    CHECK_EQ(ovpn_tcp_feed(&t, stream.b, (uint32_t)stream.n, on_pkt, NULL), ANOM_NONE);
    CHECK_EQ(n_got, 3);
    /* an invalid opcode after a plausible length */
    memset(&t, 0, sizeof(t));
    n_got = 0;
    uint8_t inv[] = {0x00, 0x10, 0xf8, 1, 2, 3};
    CHECK_EQ(ovpn_tcp_feed(&t, stream.b, (uint32_t)pkt_start[1], on_pkt, NULL), ANOM_NONE);
    CHECK_EQ(ovpn_tcp_feed(&t, inv, sizeof(inv), on_pkt, NULL), ANOM_OVPN_TCP_LEN_ABSURD);
    CHECK_EQ(n_got, 1);
    /* a length too short for its opcode (a control packet of 5 bytes) */
    memset(&t, 0, sizeof(t));
    uint8_t shortc[] = {0x00, 0x05, OVPN_CONTROL_V1 << 3, 1, 2, 3, 4};
    CHECK_EQ(ovpn_tcp_feed(&t, shortc, sizeof(shortc), on_pkt, NULL), ANOM_OVPN_TCP_LEN_ABSURD);
    /* the opcode arrives in the next segment: detected there */
    memset(&t, 0, sizeof(t));
    CHECK_EQ(ovpn_tcp_feed(&t, inv, 2, on_pkt, NULL), ANOM_NONE);
    CHECK_EQ(ovpn_tcp_feed(&t, inv + 2, sizeof(inv) - 2, on_pkt, NULL), ANOM_OVPN_TCP_LEN_ABSURD);
    /* a gap in the middle of a packet drops it; the next aligned segment resumes */
    memset(&t, 0, sizeof(t));
    n_got = 0;
    CHECK_EQ(ovpn_tcp_feed(&t, stream.b, (uint32_t)pkt_start[1] + 10, on_pkt, NULL), ANOM_NONE);
    CHECK_EQ(ovpn_tcp_gap(&t), ANOM_OVPN_TCP_GAP);
    CHECK_EQ(t.bytes_dropped, 10);
    CHECK_EQ(ovpn_tcp_feed(&t, stream.b + pkt_start[1] + 20, 30, on_pkt, NULL), ANOM_NONE);
    CHECK_EQ(n_got, 1);
    CHECK_EQ(ovpn_tcp_feed(&t, stream.b + pkt_start[2], (uint32_t)(stream.n - pkt_start[2]), on_pkt,
                           NULL),
             ANOM_NONE);
    CHECK_EQ(n_got, 2);
    CHECK_EQ(got[1].len, pkt_len[2]);
    /* NULL callback: counted, nothing called */
    memset(&t, 0, sizeof(t));
    CHECK_EQ(ovpn_tcp_feed(&t, stream.b, (uint32_t)stream.n, NULL, NULL), ANOM_NONE);
    CHECK_EQ(t.packets, 3);
}

/* Real packets from openvpn 2.6.14 in TLS mode between two namespaces
 * (tests/lab/tunnel_captures.sh): each pair is the client's hard reset and the server's reply.
 * tshark 4.0 shows the same session ids (with openvpn.tls_auth_hmac_size set to the size used). */
static const char real_plain_c[] = "384372ad1a6035791e0000000000";
static const char real_plain_s[] = "40cc76282b178ea32b01000000004372ad1a6035791e00000000";
static const char real_sha1_c[] =
    "38a16e13a9419842e6e061b960245ee04cedf8bd7f75a8bc2b595351af000000016b1137fe0000000000";
static const char real_sha1_s[] =
    "40ca878c02d532e8a87e0d60d6f19a4570d55091f0f68876ab8210314d000000016b1137fe0100000000a16e13a9"
    "419842e600000000";
static const char real_sha256_c[] =
    "3817fb3cbf9cf21f9c1486c8e26378ba576180c11d76cf507c376e3b1d942a1af4d6fec450cd78f3790000000"
    "16b1138030000000000";
static const char real_sha256_s[] =
    "408182055450fd286730defb457df5685268e00649723f8f7a866162b9edf1d9a7d8e3a254bc516b3500000001"
    "6b113803010000000017fb3cbf9cf21f9c00000000";
static const char real_crypt_c[] =
    "385361e84325957fd6000000016b113808b23719aeebf7995fda20a54bd25f7b74f7371d27048f3d72b223374fde"
    "07a1cedb0f797f59";
static const char real_crypt_s[] =
    "40b795e5f8b988263f000000016b1138088501691b9283c21281196ce64cd950667c2300d7e1f5cc41f2d21a247a"
    "e1ac3eb09f02b1998b618984bc9bcd86d7c22b96";
/* OpenVPN over TCP 443, tls-auth with --auth SHA512: the first segment of each direction. */
static const char real_tcp_c[] =
    "005638d985dab044f3f79d890c07e01b24507ec8a1cbd80b3f4c6f3c70a2c74af8941b45bc3082d560b3b0393a0a"
    "858cbb024786d846034fc505924dc0f59edccbe243d2163d1ea863dcc4000000016b11380d0000000000";
static const char real_tcp_s[] =
    "006240c92efdec3521f1aa42220a105d18a64a094565ced53aaf0d7108b28ceec43c2aec4463bc965326ca58665a"
    "ffc66bdcb2cbc8e376714ba1078ee2537fa6bcba9f8c1d0d2d60cdabd1000000016b11380e0100000000d985dab0"
    "44f3f79d00000000";

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

/* The client's reset gives its session id; the server's reply names it after its ACK under
 * exactly one layout. */
static void check_real_pair(const char *c_hex, const char *s_hex, uint8_t variant, uint8_t hmac,
                            const char *c_sid, const char *s_sid)
{
    uint8_t c[256], s[256];
    char str[OVPN_SID_STR_LEN];
    size_t nc = unhex(c_hex, c, sizeof(c)), ns = unhex(s_hex, s, sizeof(s));
    CHECK_EQ(ovpn_probe(c, (uint32_t)nc, (uint32_t)nc), OVPN_PROBE_RESET);
    CHECK_EQ(ovpn_probe(s, (uint32_t)ns, (uint32_t)ns), OVPN_PROBE_RESET);
    CHECK(dec(c, nc, (uint32_t)nc, NULL));
    CHECK_STR(ovpn_sid_str(M.session_id, str, sizeof(str)), c_sid);
    uint64_t client = M.session_id;
    CHECK(dec(s, ns, (uint32_t)ns, NULL));
    CHECK_STR(ovpn_sid_str(M.session_id, str, sizeof(str)), s_sid);
    struct ovpn_layout lay;
    CHECK(ovpn_infer_layout(s, (uint32_t)ns, client, ovpn_hmac_candidates, OVPN_N_HMAC_CANDIDATES,
                            &lay, NULL));
    CHECK_EQ(lay.variant, variant);
    CHECK_EQ(lay.hmac_len, hmac);
    /* with the layout both decode whole, and the reply names the client's session */
    CHECK(dec(c, nc, (uint32_t)nc, &lay));
    CHECK(dec(s, ns, (uint32_t)ns, &lay));
    if (variant != OVPN_VAR_TLS_CRYPT) {
        CHECK(M.has_peer_session && M.peer_session_id == client);
        CHECK(M.has_msg_id && M.msg_id == 0);
        CHECK_EQ(M.payload_len, 0);
    }
}

static void test_real(void)
{
    check_real_pair(real_plain_c, real_plain_s, OVPN_VAR_PLAIN, 0, "4372ad1a6035791e",
                    "cc76282b178ea32b");
    check_real_pair(real_sha1_c, real_sha1_s, OVPN_VAR_TLS_AUTH, 20, "a16e13a9419842e6",
                    "ca878c02d532e8a8");
    check_real_pair(real_sha256_c, real_sha256_s, OVPN_VAR_TLS_AUTH, 32, "17fb3cbf9cf21f9c",
                    "8182055450fd2867");
    check_real_pair(real_crypt_c, real_crypt_s, OVPN_VAR_TLS_CRYPT, 0, "5361e84325957fd6",
                    "b795e5f8b988263f");

    /* TCP: de-frame each direction's first segment, infer from the server's reply */
    uint8_t c[256], s[256];
    size_t nc = unhex(real_tcp_c, c, sizeof(c)), ns = unhex(real_tcp_s, s, sizeof(s));
    CHECK_EQ(ovpn_tcp_probe(c, (uint32_t)nc), OVPN_PROBE_RESET);
    CHECK_EQ(ovpn_tcp_probe(s, (uint32_t)ns), OVPN_PROBE_RESET);
    struct ovpn_tcp_reasm tc, ts;
    memset(&tc, 0, sizeof(tc));
    memset(&ts, 0, sizeof(ts));
    n_got = 0;
    CHECK_EQ(ovpn_tcp_feed(&tc, c, (uint32_t)nc, on_pkt, NULL), ANOM_NONE);
    CHECK_EQ(ovpn_tcp_feed(&ts, s, (uint32_t)ns, on_pkt, NULL), ANOM_NONE);
    CHECK_EQ(n_got, 2);
    struct ovpn_msg m;
    enum anomaly a;
    struct ovpn_tcp_pkt pc = {got[0].first, got[0].captured, got[0].len, 0};
    struct ovpn_tcp_pkt ps = {got[1].first, got[1].captured, got[1].len, 0};
    CHECK(ovpn_decode_tcp(&pc, NULL, &m, &a));
    uint64_t client = m.session_id;
    struct ovpn_layout lay;
    uint32_t mask;
    CHECK(ovpn_infer_layout(ps.data, ps.captured, client, ovpn_hmac_candidates,
                            OVPN_N_HMAC_CANDIDATES, &lay, &mask));
    CHECK_EQ(lay.variant, OVPN_VAR_TLS_AUTH);
    CHECK_EQ(lay.hmac_len, 64);
    CHECK_EQ(mask, 1u << 6);
    CHECK(ovpn_decode_tcp(&ps, &lay, &m, &a));
    CHECK(m.peer_session_id == client);
    char str[OVPN_SID_STR_LEN];
    CHECK_STR(ovpn_sid_str(m.session_id, str, sizeof(str)), "c92efdec3521f1aa");
}

int main(void)
{
    test_plain();
    test_data();
    test_tls_auth();
    test_tls_crypt();
    test_anomalies();
    test_truncation();
    test_infer();
    test_probe();
    test_names();
    test_tcp();
    test_tcp_resync();
    test_real();
    free(buf);
    return t_done();
}
