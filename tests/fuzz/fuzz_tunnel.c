/* fuzz_tunnel.c - libFuzzer target for the WireGuard and OpenVPN decoders (tunnel.h): every
 * entry point on the same bytes, plus invariants that abort when broken:
 *  - a message decoded as valid lies within its wire length and its fields are consistent;
 *  - a layout ovpn_infer_layout() reports decodes the packet with the peer session it was given;
 *  - a packet ovpn_probe() calls a hard reset decodes with its session id;
 *  - the TCP de-framer accounts for every byte fed (packets + dropped + buffered) and never
 *    hands out more than OVPN_TCP_KEEP bytes.
 * Input: byte 0 = selector (low 3 bits: bytes missing from the capture; bits 3..7: TCP segment
 * size seed), then the payload. The first 8 payload bytes double as the peer session id for the
 * inference, applied to the bytes after them. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vpnscope/pkt.h"
#include "vpnscope/rd.h"
#include "vpnscope/tunnel.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define REQUIRE(c)                                                                                 \
    do {                                                                                           \
        if (!(c)) {                                                                                \
            fprintf(stderr, "fuzz_tunnel: invariant failed: %s (line %d)\n", #c, __LINE__);        \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

static void fuzz_wg(const uint8_t *b, uint32_t n, uint32_t wire)
{
    struct wg_msg m;
    enum anomaly a;
    (void)wg_probe(b, n, wire);
    for (int pass = 0; pass < 2; pass++) {
        uint32_t len = pass ? n : wire;
        struct rd r = rd_init(b, n);
        bool ok = wg_decode(&r, len, &m, &a);
        REQUIRE(ok == (a == ANOM_NONE));
        REQUIRE(r.off <= n);
        if (ok) {
            REQUIRE(m.ids_valid && m.type >= WG_INITIATION && m.type <= WG_TRANSPORT);
            REQUIRE(wg_probe(b, n, len));
            REQUIRE(n >= len);
        }
        if (m.type == WG_TRANSPORT && m.ids_valid)
            REQUIRE(m.payload_len + WG_TRANSPORT_HDR_LEN + WG_AUTHTAG_LEN == len);
        char s[WG_INDEX_STR_LEN];
        REQUIRE(strlen(wg_index_str(m.sender, s, sizeof(s))) == WG_INDEX_STR_LEN - 1);
        (void)wg_type_name(m.type);
    }
}

static void check_ovpn(const struct ovpn_msg *m, bool ok, enum anomaly a, uint32_t len)
{
    REQUIRE(ok == (a == ANOM_NONE));
    REQUIRE(m->n_acks <= OVPN_MAX_ACKS);
    if (ok) {
        REQUIRE(m->payload_off + m->payload_len == len);
        REQUIRE(m->opcode >= OVPN_HARD_RESET_CLIENT_V1 && m->opcode <= OVPN_CONTROL_WKC_V1);
        REQUIRE(m->ids_valid);
    }
    (void)ovpn_opcode_name(m->opcode);
    (void)ovpn_variant_name(m->variant);
}

static void fuzz_ovpn(const uint8_t *b, uint32_t n, uint32_t wire)
{
    struct ovpn_layout lays[OVPN_N_HMAC_CANDIDATES + 3];
    unsigned nl = 0;
    lays[nl++] = (struct ovpn_layout){OVPN_VAR_UNKNOWN, 0};
    lays[nl++] = (struct ovpn_layout){OVPN_VAR_TLS_CRYPT, 0};
    lays[nl++] = (struct ovpn_layout){OVPN_VAR_TLS_AUTH, 255};
    for (unsigned i = 0; i < OVPN_N_HMAC_CANDIDATES; i++) {
        uint8_t h = ovpn_hmac_candidates[i];
        lays[nl++] = (struct ovpn_layout){h ? OVPN_VAR_TLS_AUTH : OVPN_VAR_PLAIN, h};
    }
    struct ovpn_msg m;
    enum anomaly a;
    for (unsigned i = 0; i < nl; i++) {
        struct rd r = rd_init(b, n);
        bool ok = ovpn_decode(&r, wire, &lays[i], &m, &a);
        check_ovpn(&m, ok, a, wire);
        r = rd_init(b, n);
        ok = ovpn_decode(&r, n, &lays[i], &m, &a);
        check_ovpn(&m, ok, a, n);
    }
    struct rd r = rd_init(b, n);
    bool ok0 = ovpn_decode(&r, n, NULL, &m, &a);
    check_ovpn(&m, ok0, a, n);
    /* a hard reset the probe accepts decodes (prefix) without an anomaly when captured whole */
    if (ovpn_probe(b, n, n) == OVPN_PROBE_RESET) {
        r = rd_init(b, n);
        REQUIRE(ovpn_decode(&r, n, NULL, &m, &a) && m.ids_valid && m.has_session_id);
    }
    (void)ovpn_probe(b, n, wire);
    (void)ovpn_tcp_probe(b, n);
    char s[OVPN_SID_STR_LEN];
    REQUIRE(strlen(ovpn_sid_str(m.session_id, s, sizeof(s))) == OVPN_SID_STR_LEN - 1);

    if (n < 8)
        return;
    struct rd sr = rd_init(b, 8);
    uint64_t sid = rd_be64(&sr);
    struct ovpn_layout lay;
    uint32_t mask;
    if (!ovpn_infer_layout(b + 8, n - 8, sid, ovpn_hmac_candidates, OVPN_N_HMAC_CANDIDATES, &lay,
                           &mask))
        return;
    if (lay.variant == OVPN_VAR_TLS_CRYPT)
        return;
    REQUIRE(mask != 0);
    r = rd_init(b + 8, n - 8);
    bool ok = ovpn_decode(&r, n - 8, &lay, &m, &a);
    REQUIRE(ok);
    REQUIRE(m.has_peer_session && m.peer_session_id == sid);
}

struct tcp_ctx {
    uint64_t bytes; /* packet bytes handed out, with their prefixes */
};

static void on_pkt(void *ctx, const struct ovpn_tcp_pkt *pkt)
{
    struct tcp_ctx *c = ctx;
    REQUIRE(pkt->captured <= OVPN_TCP_KEEP && pkt->captured <= pkt->len);
    REQUIRE(pkt->captured == (pkt->len < OVPN_TCP_KEEP ? pkt->len : OVPN_TCP_KEEP));
    c->bytes += 2u + pkt->len;
    /* copy so ASan sees a read past the kept bytes */
    uint8_t *d = malloc(pkt->captured ? pkt->captured : 1);
    if (!d)
        return;
    memcpy(d, pkt->data, pkt->captured);
    struct ovpn_tcp_pkt p = *pkt;
    p.data = d;
    struct ovpn_msg m;
    enum anomaly a;
    static const struct ovpn_layout lays[] = {{OVPN_VAR_UNKNOWN, 0},
                                              {OVPN_VAR_PLAIN, 0},
                                              {OVPN_VAR_TLS_AUTH, 64},
                                              {OVPN_VAR_TLS_CRYPT, 0}};
    for (unsigned i = 0; i < sizeof(lays) / sizeof(lays[0]); i++) {
        bool ok = ovpn_decode_tcp(&p, &lays[i], &m, &a);
        REQUIRE(ok == (a == ANOM_NONE));
        REQUIRE(a != ANOM_OVPN_TRUNC); /* every field fits in OVPN_TCP_KEEP */
    }
    free(d);
}

static void fuzz_tcp(const uint8_t *b, uint32_t n, uint8_t seed)
{
    struct ovpn_tcp_reasm t;
    memset(&t, 0, sizeof(t));
    struct tcp_ctx c = {0};
    uint32_t off = 0, x = seed | 1u;
    while (off < n) {
        x = x * 1103515245u + 12345u;
        uint32_t seg = 1 + (x >> 16) % 97;
        if (seg > n - off)
            seg = n - off;
        uint8_t *s = malloc(seg);
        if (!s)
            return;
        memcpy(s, b + off, seg);
        enum anomaly a = ovpn_tcp_feed(&t, s, seg, on_pkt, &c);
        REQUIRE(a == ANOM_NONE || a == ANOM_OVPN_TCP_LEN_ABSURD);
        free(s);
        off += seg;
        if ((x >> 8) % 53 == 0)
            REQUIRE(ovpn_tcp_gap(&t) == ANOM_OVPN_TCP_GAP);
    }
    REQUIRE(t.stream_off == n);
    /* handed out + dropped never exceeds what was fed */
    REQUIRE(c.bytes + t.bytes_dropped <= n);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > 65536)
        return 0;
    uint8_t sel = data[0];
    uint32_t n = (uint32_t)(size - 1);
    uint8_t *b = malloc(n ? n : 1);
    if (!b)
        return 0;
    memcpy(b, data + 1, n);
    uint32_t wire = n + (sel & 0x07u);
    fuzz_wg(b, n, wire);
    fuzz_ovpn(b, n, wire);
    fuzz_tcp(b, n, (uint8_t)(sel >> 3));
    free(b);
    return 0;
}
