/* openvpn.c - OpenVPN packet decoder (openvpn src/openvpn/ssl_pkt.h, ssl.h, reliable.c,
 * tls_crypt.h; Wireshark packet-openvpn.c): opcodes, session ids, the ACK array, DATA_V2 peer
 * id, the tls-auth HMAC size inference, and the TCP stream de-framer. */
#include "vpnscope/tunnel.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "vpnscope/pkt.h"
#include "vpnscope/rd.h"

/*
 * Packet layouts (UDP payload; over TCP each packet is preceded by a 2-byte big-endian length):
 *   byte 0: opcode (high 5 bits) | key id (low 3 bits)
 *   DATA_V1:  ciphertext
 *   DATA_V2:  peer id (3, big-endian; 0xFFFFFF = unset), ciphertext
 *   control and ACK_V1, plain:
 *     session id (8) | ack count (1) | ack ids (4 each) | peer session id (8, when count > 0)
 *     | message packet id (4, not in ACK_V1) | TLS records
 *   tls-auth: an HMAC of the digest's size, replay packet id (4) and net time (4) sit between
 *     the session id and the ack count.
 *   tls-crypt (and tls-crypt-v2, opcodes 10 and 11): session id, replay packet id (4), net time
 *     (4), HMAC-SHA256 tag (32) in clear; ack array, peer session id, message id and TLS
 *     records are encrypted (AES-256-CTR, same length).
 * OpenVPN drops a packet acknowledging more than 8 ids (RELIABLE_ACK_SIZE).
 *
 * Limitations: the tls-crypt-v2 wrapped client key at the end of opcodes 10/11 is not split
 * from the encrypted part; the encrypted ping (keepalive) is only a data packet here.
 */

#define OVPN_OPCODE_SHIFT 3
#define OVPN_KEY_ID_MASK 0x07
#define OVPN_MAX_OPCODE 11
#define OVPN_CTRL_PREFIX (1 + OVPN_SID_LEN) /* opcode + session id */
#define OVPN_MSG_ID_LEN 4
#define OVPN_ACK_ID_LEN 4
#define OVPN_PEER_ID_LEN 3
#define OVPN_TLS_CRYPT_CLEAR (OVPN_CTRL_PREFIX + OVPN_REPLAY_LEN + OVPN_TLS_CRYPT_TAG_LEN)
#define OVPN_REPLAY_START_MAX 0xFFu /* replay packet id of an early packet (retries included) */
#define OVPN_TCP_PROBE_MAX 64       /* headers walked by the resynchronisation test */

const uint8_t ovpn_hmac_candidates[OVPN_N_HMAC_CANDIDATES] = {0, 16, 20, 28, 32, 48, 64};

const char *ovpn_opcode_name(uint8_t opcode)
{
    switch (opcode) {
    case OVPN_HARD_RESET_CLIENT_V1:
        return "hard_reset_client_v1";
    case OVPN_HARD_RESET_SERVER_V1:
        return "hard_reset_server_v1";
    case OVPN_SOFT_RESET_V1:
        return "soft_reset_v1";
    case OVPN_CONTROL_V1:
        return "control_v1";
    case OVPN_ACK_V1:
        return "ack_v1";
    case OVPN_DATA_V1:
        return "data_v1";
    case OVPN_HARD_RESET_CLIENT_V2:
        return "hard_reset_client_v2";
    case OVPN_HARD_RESET_SERVER_V2:
        return "hard_reset_server_v2";
    case OVPN_DATA_V2:
        return "data_v2";
    case OVPN_HARD_RESET_CLIENT_V3:
        return "hard_reset_client_v3";
    case OVPN_CONTROL_WKC_V1:
        return "control_wkc_v1";
    default:
        return "unknown";
    }
}

const char *ovpn_variant_name(uint8_t variant)
{
    switch (variant) {
    case OVPN_VAR_PLAIN:
        return "plain";
    case OVPN_VAR_TLS_AUTH:
        return "tls_auth";
    case OVPN_VAR_TLS_CRYPT:
        return "tls_crypt";
    default:
        return "unknown";
    }
}

char *ovpn_sid_str(uint64_t sid, char *buf, size_t size)
{
    if (size > 0)
        snprintf(buf, size, "%016llx", (unsigned long long)sid);
    return buf;
}

static bool ovpn_opcode_valid(uint8_t op)
{
    return op >= OVPN_HARD_RESET_CLIENT_V1 && op <= OVPN_MAX_OPCODE;
}

static bool ovpn_is_data(uint8_t op)
{
    return op == OVPN_DATA_V1 || op == OVPN_DATA_V2;
}

static bool ovpn_is_tls_crypt_v2(uint8_t op)
{
    return op == OVPN_HARD_RESET_CLIENT_V3 || op == OVPN_CONTROL_WKC_V1;
}

/* Smallest packet of a valid opcode under any layout (plain control: session id, ack count,
 * message id; ACK_V1: session id and ack count). */
static uint32_t ovpn_min_len(uint8_t op)
{
    switch (op) {
    case OVPN_DATA_V1:
        return 1;
    case OVPN_DATA_V2:
        return 1 + OVPN_PEER_ID_LEN;
    case OVPN_ACK_V1:
        return OVPN_CTRL_PREFIX + 1;
    default:
        return OVPN_CTRL_PREFIX + 1 + OVPN_MSG_ID_LEN;
    }
}

/* ------------------------------------------------------------------ decoder */

/* A packet window: `w` holds the captured bytes of the packet, `len` its wire length. */
struct ovpn_win {
    struct rd w;
    uint32_t len;
    enum anomaly a;
};

/* The next n bytes exist on the wire (else bad size) and were captured (else truncated). */
static bool ov_need(struct ovpn_win *o, size_t n)
{
    if (n > o->len - o->w.off) {
        o->a = ANOM_OVPN_BAD_SIZE;
        return false;
    }
    if (n > rd_left(&o->w)) {
        o->a = ANOM_OVPN_TRUNC;
        return false;
    }
    return true;
}

/* ACK array, peer session id and message id (plain / tls-auth). */
static bool ovpn_acks(struct ovpn_win *o, struct ovpn_msg *m)
{
    if (!ov_need(o, 1))
        return false;
    m->ack_count = rd_u8(&o->w);
    if (m->ack_count > OVPN_MAX_ACKS) {
        /* OpenVPN drops it; keep the first ids when they are there */
        for (unsigned i = 0; i < OVPN_MAX_ACKS && ov_need(o, OVPN_ACK_ID_LEN); i++)
            m->acks[m->n_acks++] = rd_be32(&o->w);
        o->a = ANOM_OVPN_TOO_MANY_ACKS;
        return false;
    }
    if (!ov_need(o, (size_t)m->ack_count * OVPN_ACK_ID_LEN))
        return false;
    for (unsigned i = 0; i < m->ack_count; i++)
        m->acks[m->n_acks++] = rd_be32(&o->w);
    m->has_acks = true;
    if (m->ack_count > 0) {
        if (!ov_need(o, OVPN_SID_LEN))
            return false;
        m->peer_session_id = rd_be64(&o->w);
        m->has_peer_session = true;
    }
    if (m->opcode != OVPN_ACK_V1) {
        if (!ov_need(o, OVPN_MSG_ID_LEN))
            return false;
        m->msg_id = rd_be32(&o->w);
        m->has_msg_id = true;
    }
    return true;
}

/* The layout-dependent part of a control packet after the session id. */
static bool ovpn_ctrl_rest(struct ovpn_win *o, struct ovpn_msg *m)
{
    if (m->variant == OVPN_VAR_TLS_AUTH || m->variant == OVPN_VAR_TLS_CRYPT) {
        size_t skip = m->variant == OVPN_VAR_TLS_AUTH ? m->hmac_len : 0;
        if (!ov_need(o, skip + OVPN_REPLAY_LEN))
            return false;
        rd_skip(&o->w, skip);
        m->replay_id = rd_be32(&o->w);
        m->net_time = rd_be32(&o->w);
        m->has_replay = true;
    }
    if (m->variant == OVPN_VAR_TLS_CRYPT) {
        if (!ov_need(o, OVPN_TLS_CRYPT_TAG_LEN))
            return false;
        rd_skip(&o->w, OVPN_TLS_CRYPT_TAG_LEN);
        /* encrypted: at least the ack count (and message id); not read, so only the wire
         * length is checked */
        uint32_t min = 1 + (m->opcode == OVPN_ACK_V1 ? 0 : OVPN_MSG_ID_LEN);
        if (min > o->len - o->w.off) {
            o->a = ANOM_OVPN_BAD_SIZE;
            return false;
        }
        return true;
    }
    if (m->variant == OVPN_VAR_PLAIN || m->variant == OVPN_VAR_TLS_AUTH)
        return ovpn_acks(o, m);
    return true; /* unknown layout: the prefix only */
}

static bool ovpn_fail(enum anomaly *anom, enum anomaly a)
{
    *anom = a;
    return false;
}

/* `whole`: bytes beyond the captured ones exist but were not kept on purpose (TCP de-framer),
 * so only fields that are read can be truncated. */
static bool ovpn_decode_core(struct rd *r, uint32_t len, bool whole, const struct ovpn_layout *lay,
                             struct ovpn_msg *m, enum anomaly *anom)
{
    memset(m, 0, sizeof(*m));
    *anom = ANOM_NONE;
    m->len = len;
    if (len == 0)
        return ovpn_fail(anom, ANOM_OVPN_BAD_SIZE);
    struct ovpn_win o = {rd_sub_upto(r, len), len, ANOM_NONE};
    bool cut = !whole && rd_left(&o.w) < len;
    if (!ov_need(&o, 1))
        return ovpn_fail(anom, o.a);
    uint8_t b = rd_u8(&o.w);
    m->opcode = (uint8_t)(b >> OVPN_OPCODE_SHIFT);
    m->key_id = b & OVPN_KEY_ID_MASK;
    if (!ovpn_opcode_valid(m->opcode))
        return ovpn_fail(anom, ANOM_OVPN_BAD_OPCODE);
    bool ok = true;
    if (m->opcode == OVPN_DATA_V2) {
        ok = ov_need(&o, OVPN_PEER_ID_LEN);
        if (ok) {
            uint32_t hi = rd_u8(&o.w);
            uint32_t lo = rd_be16(&o.w);
            m->peer_id = (hi << 16) | lo;
            m->has_peer_id = true;
        }
        m->ids_valid = ok;
    } else if (m->opcode == OVPN_DATA_V1) {
        m->ids_valid = true;
    } else {
        m->is_control = true;
        ok = ov_need(&o, OVPN_SID_LEN);
        if (ok) {
            m->session_id = rd_be64(&o.w);
            m->has_session_id = true;
            m->ids_valid = true;
            m->variant = lay ? lay->variant : OVPN_VAR_UNKNOWN;
            m->hmac_len = m->variant == OVPN_VAR_TLS_AUTH && lay ? lay->hmac_len : 0;
            if (ovpn_is_tls_crypt_v2(m->opcode))
                m->variant = OVPN_VAR_TLS_CRYPT;
            ok = ovpn_ctrl_rest(&o, m);
        }
    }
    if (!ok)
        return ovpn_fail(anom, o.a);
    m->payload_off = (uint32_t)o.w.off;
    m->payload_len = len - m->payload_off; /* off <= len: every read was checked against len */
    if (cut)
        return ovpn_fail(anom, ANOM_OVPN_TRUNC);
    return true;
}

bool ovpn_decode(struct rd *r, uint32_t len, const struct ovpn_layout *lay, struct ovpn_msg *m,
                 enum anomaly *anom)
{
    return ovpn_decode_core(r, len, false, lay, m, anom);
}

bool ovpn_decode_tcp(const struct ovpn_tcp_pkt *pkt, const struct ovpn_layout *lay,
                     struct ovpn_msg *m, enum anomaly *anom)
{
    struct rd r = rd_init(pkt->data, pkt->captured);
    return ovpn_decode_core(&r, pkt->len, true, lay, m, anom);
}

/* ------------------------------------------------------------------ probe */

/* A hard reset under a cleartext layout whose ACK array starts at `off`: `server` resets ack
 * the client's (count 1..8), client resets ack nothing; the message id of a reset is 0. */
static bool ovpn_reset_at(const uint8_t *p, uint32_t captured, uint32_t len, size_t off,
                          bool server)
{
    struct rd r = rd_init(p, captured);
    rd_skip(&r, off);
    uint8_t count = rd_u8(&r);
    if (!rd_ok(&r) || (server ? (count < 1 || count > OVPN_MAX_ACKS) : count != 0))
        return false;
    rd_skip(&r, (size_t)count * OVPN_ACK_ID_LEN + (count ? OVPN_SID_LEN : 0));
    uint32_t msg_id = rd_be32(&r);
    return rd_ok(&r) && msg_id == 0 && r.off <= len;
}

/* The replay packet id at `off` is that of an early packet (tls-auth / tls-crypt). */
static bool ovpn_early_replay(const uint8_t *p, uint32_t captured, size_t off)
{
    struct rd r = rd_init(p, captured);
    rd_skip(&r, off);
    uint32_t id = rd_be32(&r);
    return rd_ok(&r) && id >= 1 && id <= OVPN_REPLAY_START_MAX;
}

/* The n bytes at `off` look random (session ids, HMACs and tags are): at most `max_zero` zero
 * bytes, where random bytes have one in 256. Protocols full of small integers (RPC, DNS) fail. */
static bool ovpn_random_at(const uint8_t *p, uint32_t captured, size_t off, size_t n,
                           unsigned max_zero)
{
    struct rd r = rd_init(p, captured);
    rd_skip(&r, off);
    struct rd f = rd_sub(&r, n);
    unsigned zeros = 0;
    while (rd_ok(&f) && rd_left(&f) > 0)
        zeros += rd_u8(&f) == 0;
    return rd_ok(&f) && zeros <= max_zero;
}

static bool ovpn_probe_reset(const uint8_t *p, uint32_t captured, uint32_t len, uint8_t op)
{
    bool server = op == OVPN_HARD_RESET_SERVER_V1 || op == OVPN_HARD_RESET_SERVER_V2;
    if (!ovpn_random_at(p, captured, 1, OVPN_SID_LEN, 2))
        return false;
    if (op != OVPN_HARD_RESET_CLIENT_V3) {
        for (unsigned i = 0; i < OVPN_N_HMAC_CANDIDATES; i++) {
            size_t h = ovpn_hmac_candidates[i];
            if (h == 0 && ovpn_reset_at(p, captured, len, OVPN_CTRL_PREFIX, server))
                return true;
            if (h > 0 && ovpn_random_at(p, captured, OVPN_CTRL_PREFIX, h, 1 + (unsigned)h / 16) &&
                ovpn_early_replay(p, captured, OVPN_CTRL_PREFIX + h) &&
                ovpn_reset_at(p, captured, len, OVPN_CTRL_PREFIX + h + OVPN_REPLAY_LEN, server))
                return true;
        }
    }
    if (op == OVPN_HARD_RESET_CLIENT_V1 || op == OVPN_HARD_RESET_SERVER_V1)
        return false; /* V1 predates tls-crypt */
    uint32_t enc_min = 1 + OVPN_MSG_ID_LEN + (server ? OVPN_ACK_ID_LEN + OVPN_SID_LEN : 0);
    return len >= OVPN_TLS_CRYPT_CLEAR + enc_min &&
           ovpn_early_replay(p, captured, OVPN_CTRL_PREFIX) &&
           ovpn_random_at(p, captured, OVPN_CTRL_PREFIX + OVPN_REPLAY_LEN, OVPN_TLS_CRYPT_TAG_LEN,
                          3);
}

enum ovpn_probe_result ovpn_probe(const uint8_t *payload, uint32_t captured, uint32_t len)
{
    struct rd r = rd_init(payload, captured < len ? captured : len);
    uint8_t b = rd_u8(&r);
    if (!rd_ok(&r))
        return OVPN_PROBE_NO;
    uint8_t op = (uint8_t)(b >> OVPN_OPCODE_SHIFT);
    if (!ovpn_opcode_valid(op) || len < ovpn_min_len(op))
        return OVPN_PROBE_NO;
    switch (op) {
    case OVPN_HARD_RESET_CLIENT_V1:
    case OVPN_HARD_RESET_SERVER_V1:
    case OVPN_HARD_RESET_CLIENT_V2:
    case OVPN_HARD_RESET_SERVER_V2:
    case OVPN_HARD_RESET_CLIENT_V3:
        /* a hard reset starts key 0 */
        if ((b & OVPN_KEY_ID_MASK) != 0)
            return OVPN_PROBE_NO;
        return ovpn_probe_reset(payload, captured < len ? captured : len, len, op)
                   ? OVPN_PROBE_RESET
                   : OVPN_PROBE_NO;
    case OVPN_ACK_V1:
        /* an ACK acknowledges at least one id: count, id, peer session id */
        return len >= OVPN_CTRL_PREFIX + 1 + OVPN_ACK_ID_LEN + OVPN_SID_LEN ? OVPN_PROBE_FITS
                                                                            : OVPN_PROBE_NO;
    default:
        return OVPN_PROBE_FITS;
    }
}

enum ovpn_probe_result ovpn_tcp_probe(const uint8_t *seg, uint32_t len)
{
    struct rd r = rd_init(seg, len);
    uint16_t plen = rd_be16(&r);
    if (!rd_ok(&r) || plen == 0)
        return OVPN_PROBE_NO;
    return ovpn_probe(rd_rest(&r), (uint32_t)rd_left(&r), plen);
}

/* ------------------------------------------------------------------ HMAC size inference */

/* Whether candidate HMAC size h puts `peer_sid` right after a 1..8 ACK array. */
static bool ovpn_layout_fits(const uint8_t *p, uint32_t len, uint8_t op, size_t h,
                             uint64_t peer_sid)
{
    struct rd r = rd_init(p, len);
    rd_skip(&r, OVPN_CTRL_PREFIX + (h ? h + OVPN_REPLAY_LEN : 0));
    uint8_t count = rd_u8(&r);
    if (!rd_ok(&r) || count < 1 || count > OVPN_MAX_ACKS)
        return false;
    rd_skip(&r, (size_t)count * OVPN_ACK_ID_LEN);
    uint64_t sid = rd_be64(&r);
    if (op != OVPN_ACK_V1)
        rd_skip(&r, OVPN_MSG_ID_LEN);
    return rd_ok(&r) && sid == peer_sid;
}

bool ovpn_infer_layout(const uint8_t *p, uint32_t len, uint64_t peer_sid, const uint8_t *cand,
                       unsigned n_cand, struct ovpn_layout *out, uint32_t *mask)
{
    if (mask)
        *mask = 0;
    struct rd r = rd_init(p, len);
    uint8_t b = rd_u8(&r);
    uint8_t op = (uint8_t)(b >> OVPN_OPCODE_SHIFT);
    if (!rd_ok(&r) || !ovpn_opcode_valid(op) || ovpn_is_data(op) || len < OVPN_CTRL_PREFIX)
        return false;
    if (ovpn_is_tls_crypt_v2(op)) {
        out->variant = OVPN_VAR_TLS_CRYPT;
        out->hmac_len = 0;
        return true;
    }
    unsigned hits = 0;
    uint8_t hit_h = 0;
    for (unsigned i = 0; i < n_cand && i < 32; i++) {
        if (!ovpn_layout_fits(p, len, op, cand[i], peer_sid))
            continue;
        if (mask)
            *mask |= 1u << i;
        hits++;
        hit_h = cand[i];
    }
    if (hits == 1) {
        out->variant = hit_h ? OVPN_VAR_TLS_AUTH : OVPN_VAR_PLAIN;
        out->hmac_len = hit_h;
        return true;
    }
    if (hits > 1)
        return false;
    bool must_ack =
        op == OVPN_HARD_RESET_SERVER_V1 || op == OVPN_HARD_RESET_SERVER_V2 || op == OVPN_ACK_V1;
    uint32_t enc_min =
        1 + OVPN_ACK_ID_LEN + OVPN_SID_LEN + (op == OVPN_ACK_V1 ? 0 : OVPN_MSG_ID_LEN);
    /* tls-crypt: the replay id after the session id counts from 1; a server reset is early */
    struct rd q = rd_init(p, len);
    rd_skip(&q, OVPN_CTRL_PREFIX);
    uint32_t rid = rd_be32(&q);
    bool rid_ok = rd_ok(&q) && rid >= 1 && (op == OVPN_ACK_V1 || rid <= OVPN_REPLAY_START_MAX);
    if (must_ack && op != OVPN_HARD_RESET_SERVER_V1 && len >= OVPN_TLS_CRYPT_CLEAR + enc_min &&
        rid_ok) {
        out->variant = OVPN_VAR_TLS_CRYPT;
        out->hmac_len = 0;
        return true;
    }
    return false;
}

/* ------------------------------------------------------------------ TCP de-framer */

enum ovpn_tcp_state {
    OT_LEN = 0, /* reading the 2-byte length prefix */
    OT_BODY,    /* reading the packet */
    OT_RESYNC,  /* out of step: waiting for a segment that starts with a plausible header */
};

/* A packet of length `plen` whose first byte is `b` can exist. */
static bool ovpn_tcp_len_plausible(uint16_t plen, uint8_t b)
{
    uint8_t op = (uint8_t)(b >> OVPN_OPCODE_SHIFT);
    return plen > 0 && ovpn_opcode_valid(op) && plen >= ovpn_min_len(op);
}

/* The segment starts with a chain of plausible headers (each length prefix followed by a valid
 * opcode and a length that fits it) up to its end or to a packet that continues past it. */
static bool ovpn_tcp_plausible(const uint8_t *seg, uint32_t len)
{
    struct rd r = rd_init(seg, len);
    for (unsigned i = 0; i < OVPN_TCP_PROBE_MAX && rd_left(&r) > 0; i++) {
        uint16_t plen = rd_be16(&r);
        uint8_t b = rd_peek_u8(&r);
        if (!rd_ok(&r))
            return i > 0; /* a prefix cut by the segment end, after a plausible packet */
        if (!ovpn_tcp_len_plausible(plen, b))
            return false;
        if (plen >= rd_left(&r))
            return true;
        rd_skip(&r, plen);
    }
    return true;
}

static void ovpn_tcp_lost(struct ovpn_tcp_reasm *t, uint64_t seg_end)
{
    t->resyncs++;
    t->bytes_dropped += seg_end - t->pkt_off;
    t->state = OT_RESYNC;
    t->n_lenbuf = 0;
    t->have = 0;
    t->need = 0;
}

/* Consumes body bytes of the current packet; true when the packet is out of step. */
static bool ovpn_tcp_body(struct ovpn_tcp_reasm *t, struct rd *r, ovpn_tcp_cb cb, void *ctx)
{
    size_t take = t->need - t->have;
    if (take > rd_left(r))
        take = rd_left(r);
    size_t keep = 0;
    if (t->have < OVPN_TCP_KEEP) {
        keep = OVPN_TCP_KEEP - t->have;
        if (keep > take)
            keep = take;
        rd_copy(r, t->hdr + t->have, keep);
    }
    rd_skip(r, take - keep);
    bool first = t->have == 0;
    t->have = (uint16_t)(t->have + take);
    if (first && !ovpn_tcp_len_plausible(t->need, t->hdr[0]))
        return true;
    if (t->have == t->need) {
        struct ovpn_tcp_pkt pkt = {t->hdr, t->need < OVPN_TCP_KEEP ? t->need : OVPN_TCP_KEEP,
                                   t->need, t->pkt_off};
        t->packets++;
        t->state = OT_LEN;
        if (cb)
            cb(ctx, &pkt);
    }
    return false;
}

enum anomaly ovpn_tcp_feed(struct ovpn_tcp_reasm *t, const uint8_t *seg, uint32_t len,
                           ovpn_tcp_cb cb, void *ctx)
{
    uint64_t seg_end = t->stream_off + len;
    if (t->state == OT_RESYNC) {
        if (!ovpn_tcp_plausible(seg, len)) {
            t->bytes_dropped += len;
            t->stream_off = seg_end;
            return ANOM_NONE;
        }
        t->state = OT_LEN;
        t->n_lenbuf = 0;
    }
    struct rd r = rd_init(seg, len);
    /* every pass consumes at least one byte (need > 0 in OT_BODY), so this ends */
    while (rd_left(&r) > 0) {
        if (t->state == OT_LEN) {
            if (t->n_lenbuf == 0)
                t->pkt_off = t->stream_off + r.off;
            t->lenbuf[t->n_lenbuf++] = rd_u8(&r);
            if (t->n_lenbuf < 2)
                continue;
            t->need = (uint16_t)((t->lenbuf[0] << 8) | t->lenbuf[1]);
            t->have = 0;
            t->n_lenbuf = 0;
            t->state = OT_BODY;
            if (t->need == 0) {
                ovpn_tcp_lost(t, seg_end);
                t->stream_off = seg_end;
                return ANOM_OVPN_TCP_LEN_ABSURD;
            }
            continue;
        }
        if (ovpn_tcp_body(t, &r, cb, ctx)) {
            ovpn_tcp_lost(t, seg_end);
            t->stream_off = seg_end;
            return ANOM_OVPN_TCP_LEN_ABSURD;
        }
    }
    t->stream_off = seg_end;
    return ANOM_NONE;
}

enum anomaly ovpn_tcp_gap(struct ovpn_tcp_reasm *t)
{
    if (t->state == OT_BODY || t->n_lenbuf > 0)
        t->bytes_dropped += t->stream_off - t->pkt_off;
    t->resyncs++;
    t->state = OT_RESYNC;
    t->n_lenbuf = 0;
    t->have = 0;
    t->need = 0;
    return ANOM_OVPN_TCP_GAP;
}
