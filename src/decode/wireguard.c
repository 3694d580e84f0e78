/* wireguard.c - WireGuard message decoder (whitepaper "WireGuard: Next Generation Kernel Network
 * Tunnel" section 5.4; Linux drivers/net/wireguard/messages.h). */
#include "vpnscope/tunnel.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "vpnscope/pkt.h"
#include "vpnscope/rd.h"

/*
 * Every message starts with a type byte and three reserved zero bytes; integers are
 * little-endian.
 *   1 initiation   148: sender(4) ephemeral(32) static(32+16) timestamp(12+16) mac1(16) mac2(16)
 *   2 response      92: sender(4) receiver(4) ephemeral(32) empty(0+16) mac1(16) mac2(16)
 *   3 cookie reply  64: receiver(4) nonce(24) cookie(16+16)
 *   4 transport  >= 32: receiver(4) counter(8) packet(padded to 16) + tag(16);
 *                       a keepalive is exactly 32 bytes (empty packet)
 * The sizes are exact: the Linux receive path drops a handshake message of any other size and a
 * transport message shorter than 32 bytes; senders pad the packet to a multiple of 16.
 *
 * Limitations: nothing after the indexes and the counter is interpreted (encrypted or MACs).
 */

#define WG_PREFIX_LEN 4 /* type + 3 reserved bytes */

const char *wg_type_name(uint8_t type)
{
    switch (type) {
    case WG_INITIATION:
        return "initiation";
    case WG_RESPONSE:
        return "response";
    case WG_COOKIE_REPLY:
        return "cookie_reply";
    case WG_TRANSPORT:
        return "transport";
    default:
        return "unknown";
    }
}

char *wg_index_str(uint32_t idx, char *buf, size_t size)
{
    if (size > 0)
        snprintf(buf, size, "0x%08x", (unsigned)idx);
    return buf;
}

/* Whether `len` is a possible wire size for `type` (a valid type). */
static bool wg_size_ok(uint8_t type, uint32_t len)
{
    switch (type) {
    case WG_INITIATION:
        return len == WG_INITIATION_LEN;
    case WG_RESPONSE:
        return len == WG_RESPONSE_LEN;
    case WG_COOKIE_REPLY:
        return len == WG_COOKIE_REPLY_LEN;
    case WG_TRANSPORT:
        return len >= WG_KEEPALIVE_LEN && (len - WG_TRANSPORT_HDR_LEN) % 16 == 0;
    default:
        return false;
    }
}

bool wg_probe(const uint8_t *payload, uint32_t captured, uint32_t len)
{
    struct rd r = rd_init(payload, captured);
    uint8_t type = rd_u8(&r);
    uint8_t r0 = rd_u8(&r), r1 = rd_u8(&r), r2 = rd_u8(&r);
    if (!rd_ok(&r) || type < WG_INITIATION || type > WG_TRANSPORT || (r0 | r1 | r2) != 0)
        return false;
    return wg_size_ok(type, len);
}

static uint64_t rd_le64_(struct rd *r)
{
    uint64_t lo = rd_le32(r);
    uint64_t hi = rd_le32(r);
    return r->bad ? 0 : (hi << 32) | lo;
}

/* One little-endian index into *idx (flag set) when the reader has it; false when short. */
static bool wg_index(struct rd *w, uint32_t *idx, bool *has)
{
    uint32_t v = rd_le32(w);
    if (!rd_ok(w))
        return false;
    *idx = v;
    *has = true;
    return true;
}

/* Reads the identifiers of a message whose type and size are valid; false when short. */
static bool wg_fields(struct rd *w, struct wg_msg *m)
{
    switch (m->type) {
    case WG_INITIATION:
        return wg_index(w, &m->sender, &m->has_sender);
    case WG_RESPONSE:
        return wg_index(w, &m->sender, &m->has_sender) &&
               wg_index(w, &m->receiver, &m->has_receiver);
    case WG_COOKIE_REPLY:
        return wg_index(w, &m->receiver, &m->has_receiver);
    default: { /* WG_TRANSPORT */
        if (!wg_index(w, &m->receiver, &m->has_receiver))
            return false;
        uint64_t c = rd_le64_(w);
        if (!rd_ok(w))
            return false;
        m->counter = c;
        return true;
    }
    }
}

static bool wg_fail(enum anomaly *anom, enum anomaly a)
{
    *anom = a;
    return false;
}

bool wg_decode(struct rd *r, uint32_t len, struct wg_msg *m, enum anomaly *anom)
{
    memset(m, 0, sizeof(*m));
    *anom = ANOM_NONE;
    m->len = len;
    if (len < WG_PREFIX_LEN)
        return wg_fail(anom, ANOM_WG_BAD_SIZE);
    /* the message is the first `len` bytes; captured bytes beyond it are not ours */
    struct rd w = rd_sub_upto(r, len);
    bool cut = rd_left(&w) < len;
    if (rd_left(&w) < WG_PREFIX_LEN)
        return wg_fail(anom, ANOM_WG_TRUNC);
    m->type = rd_u8(&w);
    uint8_t r0 = rd_u8(&w), r1 = rd_u8(&w), r2 = rd_u8(&w);
    if (m->type < WG_INITIATION || m->type > WG_TRANSPORT)
        return wg_fail(anom, ANOM_WG_BAD_TYPE);
    if ((r0 | r1 | r2) != 0)
        return wg_fail(anom, ANOM_WG_RESERVED_NONZERO);
    if (!wg_size_ok(m->type, len))
        return wg_fail(anom, ANOM_WG_BAD_SIZE);
    if (m->type == WG_TRANSPORT) {
        /* len >= 32 checked by wg_size_ok */
        m->payload_len = len - WG_TRANSPORT_HDR_LEN - WG_AUTHTAG_LEN;
        m->is_keepalive = len == WG_KEEPALIVE_LEN;
    }
    m->ids_valid = wg_fields(&w, m);
    if (!m->ids_valid || cut)
        return wg_fail(anom, ANOM_WG_TRUNC);
    return true;
}
