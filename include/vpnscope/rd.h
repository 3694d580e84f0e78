/* rd.h - bounds-checked reader over hostile packet bytes (tcpdump GET_* semantics, no longjmp). */
#ifndef VPNSCOPE_RD_H
#define VPNSCOPE_RD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/*
 * A reader is a window [p, p+len) with a cursor. Every accessor checks the remaining length first;
 * a short read returns 0 / NULL and sets the sticky `bad` flag. Nothing else in decode/ may touch
 * packet pointers: decoders read only through these functions.
 */
struct rd {
    const uint8_t *p;
    size_t len;
    size_t off;
    bool bad;
};

static inline struct rd rd_init(const uint8_t *p, size_t len)
{
    struct rd r = {p, p ? len : 0, 0, false};
    return r;
}

static inline size_t rd_left(const struct rd *r)
{
    return r->len - r->off;
}

static inline bool rd_ok(const struct rd *r)
{
    return !r->bad;
}

static inline bool rd_need(struct rd *r, size_t n)
{
    if (r->bad || n > r->len - r->off) {
        r->bad = true;
        return false;
    }
    return true;
}

static inline uint8_t rd_u8(struct rd *r)
{
    if (!rd_need(r, 1))
        return 0;
    return r->p[r->off++];
}

static inline uint16_t rd_be16(struct rd *r)
{
    if (!rd_need(r, 2))
        return 0;
    uint16_t v = (uint16_t)((r->p[r->off] << 8) | r->p[r->off + 1]);
    r->off += 2;
    return v;
}

static inline uint16_t rd_le16(struct rd *r)
{
    if (!rd_need(r, 2))
        return 0;
    uint16_t v = (uint16_t)(r->p[r->off] | (r->p[r->off + 1] << 8));
    r->off += 2;
    return v;
}

static inline uint32_t rd_be32(struct rd *r)
{
    if (!rd_need(r, 4))
        return 0;
    const uint8_t *b = r->p + r->off;
    r->off += 4;
    return ((uint32_t)b[0] << 24) | ((uint32_t)b[1] << 16) | ((uint32_t)b[2] << 8) | b[3];
}

static inline uint32_t rd_le32(struct rd *r)
{
    if (!rd_need(r, 4))
        return 0;
    const uint8_t *b = r->p + r->off;
    r->off += 4;
    return ((uint32_t)b[3] << 24) | ((uint32_t)b[2] << 16) | ((uint32_t)b[1] << 8) | b[0];
}

static inline uint64_t rd_be64(struct rd *r)
{
    uint64_t hi = rd_be32(r);
    uint64_t lo = rd_be32(r);
    return r->bad ? 0 : (hi << 32) | lo;
}

/* Peek without advancing; 0 and bad when short. */
static inline uint32_t rd_peek_be32(struct rd *r)
{
    size_t off = r->off;
    uint32_t v = rd_be32(r);
    r->off = off;
    return v;
}

static inline uint8_t rd_peek_u8(struct rd *r)
{
    if (!rd_need(r, 1))
        return 0;
    return r->p[r->off];
}

static inline void rd_skip(struct rd *r, size_t n)
{
    if (rd_need(r, n))
        r->off += n;
}

/* Copies n bytes into dst (dst zeroed when short). */
static inline void rd_copy(struct rd *r, void *dst, size_t n)
{
    if (!rd_need(r, n)) {
        memset(dst, 0, n);
        return;
    }
    memcpy(dst, r->p + r->off, n);
    r->off += n;
}

/* Pointer to the next n bytes (advances), NULL and bad when short. */
static inline const uint8_t *rd_ptr(struct rd *r, size_t n)
{
    if (!rd_need(r, n))
        return NULL;
    const uint8_t *q = r->p + r->off;
    r->off += n;
    return q;
}

/* Pointer to the rest of the window (does not advance); may be NULL when empty. */
static inline const uint8_t *rd_rest(const struct rd *r)
{
    return r->bad ? NULL : r->p + r->off;
}

/* A child reader over the next n bytes; the parent advances past them. Bad (child and parent)
 * when n exceeds what is left. Mirrors tcpdump's nd_push_snaplen for length-delimited items. */
static inline struct rd rd_sub(struct rd *r, size_t n)
{
    struct rd c = {NULL, 0, 0, true};
    if (!rd_need(r, n))
        return c;
    c.p = r->p + r->off;
    c.len = n;
    c.bad = false;
    r->off += n;
    return c;
}

/*
 * A fixed-size header taken at once: rd_view checks its n bytes in the reader once (bad and an
 * empty view when short); rv_* read at an offset inside it and check that offset against the
 * view's length (0 beyond it). With n and the offsets constants, as in a fixed header, those
 * checks fold away after the one of rd_view: a header of ten fields costs one length check.
 */
struct rv {
    const uint8_t *p;
    size_t n;
};

static inline struct rv rd_view(struct rd *r, size_t n)
{
    const uint8_t *q = rd_ptr(r, n);
    struct rv v = {q, q ? n : 0};
    return v;
}

static inline uint8_t rv_u8(struct rv v, size_t off)
{
    return off < v.n ? v.p[off] : 0;
}

static inline uint16_t rv_be16(struct rv v, size_t off)
{
    return off < v.n && v.n - off >= 2 ? (uint16_t)((v.p[off] << 8) | v.p[off + 1]) : 0;
}

static inline uint32_t rv_be32(struct rv v, size_t off)
{
    if (off >= v.n || v.n - off < 4)
        return 0;
    const uint8_t *b = v.p + off;
    return ((uint32_t)b[0] << 24) | ((uint32_t)b[1] << 16) | ((uint32_t)b[2] << 8) | b[3];
}

/* Copies n bytes from off into dst (zeroed when they are not all inside). */
static inline void rv_copy(struct rv v, size_t off, void *dst, size_t n)
{
    if (off < v.n && v.n - off >= n)
        memcpy(dst, v.p + off, n);
    else
        memset(dst, 0, n);
}

/* Like rd_sub but takes at most n bytes (the rest of the window when shorter); never bad. */
static inline struct rd rd_sub_upto(struct rd *r, size_t n)
{
    size_t left = r->bad ? 0 : rd_left(r);
    if (n > left)
        n = left;
    struct rd c = {r->bad ? NULL : r->p + r->off, n, 0, false};
    if (!r->bad)
        r->off += n;
    return c;
}

#endif
