/* pcapng.c - pcapng reader (draft-ietf-opsawg-pcapng): SHB, IDB (if_tsresol, if_tsoffset), EPB,
 * SPB and the obsolete Packet Block; other blocks are skipped. Block bodies are parsed through the
 * bounds-checked reader; block lengths are checked before use and capped (PCAPNG_MAX_BLOCK).
 * Limitations: compressed/encrypted blocks are not supported (skipped as unknown). */
#include "pcapng.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vpnscope/rd.h"

#define BT_SHB 0x0A0D0D0Au
#define BT_IDB 0x00000001u
#define BT_PB 0x00000002u
#define BT_SPB 0x00000003u
#define BT_EPB 0x00000006u

struct iface {
    int dlt;
    uint32_t snaplen;
    bool base2;       /* if_tsresol: units per second are 2^exp (else 10^exp) */
    unsigned exp;     /* base 10: 0..19, base 2: 0..63 */
    uint64_t units;   /* timestamp units per second */
    int64_t tsoffset; /* seconds added to every timestamp (may be negative) */
};

struct pcapng {
    struct cin *in;
    const char *path;
    bool le; /* section byte order: little endian */
    struct iface ifs[PCAPNG_MAX_IFACES];
    uint32_t nifs;
    uint32_t if_base; /* interfaces of earlier sections */
    int first_dlt;
    uint32_t first_snaplen;
    uint64_t at; /* stream offset of the block being parsed */
    uint64_t blocks;
};

static uint32_t u32(bool le, const uint8_t *b)
{
    return le ? ((uint32_t)b[3] << 24 | (uint32_t)b[2] << 16 | (uint32_t)b[1] << 8 | b[0])
              : ((uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3]);
}

static uint32_t rd_u32x(struct rd *r, bool le)
{
    return le ? rd_le32(r) : rd_be32(r);
}

static uint16_t rd_u16x(struct rd *r, bool le)
{
    return le ? rd_le16(r) : rd_be16(r);
}

static int bad_block(struct pcapng *r, char *errbuf, unsigned errlen, const char *what)
{
    const char *e = cin_error(r->in);
    snprintf(errbuf, errlen, "%s: %s at byte %llu%s%s", r->path, what, (unsigned long long)r->at,
             e ? ": " : "", e ? e : "");
    return -1;
}

/* Reads one block: *type, body in *body[0..*blen) (valid until the next read). 1 ok, 0 clean
 * end, -1 corrupt/cut (errbuf). */
static int read_block(struct pcapng *r, uint32_t *type, const uint8_t **body, uint32_t *blen,
                      char *errbuf, unsigned errlen)
{
    size_t got;
    r->at = cin_offset(r->in);
    const uint8_t *h = cin_peek(r->in, 12, &got);
    if (got < 12 && cin_stopped(r->in))
        return 0; /* a stop request ended the input there (the run says it was interrupted) */
    if (got == 0)
        return cin_error(r->in) ? bad_block(r, errbuf, errlen, "capture stream ended") : 0;
    if (got < 8)
        return bad_block(r, errbuf, errlen, "cut off in a block header");
    uint32_t t = u32(r->le, h);
    if (t == BT_SHB) {
        /* byte order is defined by the SHB's own magic, right after its length */
        if (got < 12)
            return bad_block(r, errbuf, errlen, "cut off in a section header");
        if (u32(true, h + 8) == 0x1A2B3C4Du)
            r->le = true;
        else if (u32(false, h + 8) == 0x1A2B3C4Du)
            r->le = false;
        else
            return bad_block(r, errbuf, errlen, "bad pcapng byte-order magic");
    }
    uint32_t len = u32(r->le, h + 4);
    if (len < 12 || len % 4 != 0 || len > PCAPNG_MAX_BLOCK) {
        char m[64];
        snprintf(m, sizeof(m), "corrupt pcapng block length %u", len);
        return bad_block(r, errbuf, errlen, m);
    }
    const uint8_t *p = cin_peek(r->in, len, &got);
    if (got < len && cin_stopped(r->in))
        return 0;
    if (got < len) {
        char m[64];
        snprintf(m, sizeof(m), "cut off inside a %u-byte block (%zu bytes present)", len, got);
        return bad_block(r, errbuf, errlen, m);
    }
    if (u32(r->le, p + len - 4) != len)
        return bad_block(r, errbuf, errlen, "pcapng block with mismatched lengths");
    cin_consume(r->in, len);
    r->blocks++;
    *type = t;
    *body = p + 8;
    *blen = len - 12;
    return 1;
}

/* if_tsresol: 10^-exp or (bit 7) 2^-exp seconds. False when the units per second do not fit in
 * 64 bits (the timestamps could not be converted exactly). */
static bool set_tsresol(struct iface *i, uint8_t res)
{
    unsigned exp = res & 0x7fu;
    if (res & 0x80u) {
        if (exp > 63)
            return false;
        i->base2 = true;
        i->exp = exp;
        i->units = 1ull << exp;
        return true;
    }
    if (exp > 19)
        return false;
    uint64_t u = 1;
    for (unsigned e = 0; e < exp; e++)
        u *= 10;
    i->base2 = false;
    i->exp = exp;
    i->units = u;
    return true;
}

/* Parses an IDB. 0 ok, -1 unusable (errbuf). */
static int parse_idb(struct pcapng *r, const uint8_t *body, uint32_t blen, char *errbuf,
                     unsigned errlen)
{
    struct rd d = rd_init(body, blen);
    uint16_t linktype = rd_u16x(&d, r->le);
    rd_skip(&d, 2);
    uint32_t snap = rd_u32x(&d, r->le);
    if (!rd_ok(&d)) {
        bad_block(r, errbuf, errlen, "interface description too short");
        return -1;
    }
    if (r->nifs >= PCAPNG_MAX_IFACES)
        return 0; /* packets naming it are reported as unknown interfaces */
    struct iface *i = &r->ifs[r->nifs++];
    i->dlt = cap_linktype_to_dlt(linktype);
    i->snaplen = snap;
    set_tsresol(i, 6);
    i->tsoffset = 0;
    /* options: code(2) len(2) value padded to 4; capped walk */
    for (int k = 0; k < 256 && rd_left(&d) >= 4; k++) {
        uint16_t code = rd_u16x(&d, r->le);
        uint16_t olen = rd_u16x(&d, r->le);
        if (code == 0)
            break;
        struct rd o = rd_sub(&d, olen);
        rd_skip(&d, (4 - olen % 4) % 4);
        bool known = code == 9 || code == 14;
        if (known && (!rd_ok(&o) || olen != (code == 9 ? 1 : 8))) {
            char m[96];
            snprintf(m, sizeof(m), "interface %u: malformed %s option (length %u)", r->nifs - 1,
                     code == 9 ? "if_tsresol" : "if_tsoffset", olen);
            bad_block(r, errbuf, errlen, m);
            return -1;
        }
        if (!rd_ok(&o))
            break;
        if (code == 9) {
            uint8_t res = rd_u8(&o);
            if (!set_tsresol(i, res)) {
                char m[128];
                snprintf(m, sizeof(m),
                         "interface %u: unsupported if_tsresol 0x%02x (%s^-%u s: units per second "
                         "exceed 64 bits)",
                         r->nifs - 1, res, res & 0x80 ? "2" : "10", res & 0x7fu);
                bad_block(r, errbuf, errlen, m);
                return -1;
            }
        } else if (code == 14) {
            uint64_t hi = rd_u32x(&o, r->le), lo = rd_u32x(&o, r->le);
            i->tsoffset = (int64_t)(r->le ? (lo << 32 | hi) : (hi << 32 | lo));
        }
    }
    if (r->first_dlt < 0) {
        r->first_dlt = i->dlt;
        r->first_snaplen = snap;
    }
    return 0;
}

/* Fraction of a second (frac < units) in microseconds, rounded down, exactly. */
static uint64_t frac_us(const struct iface *i, uint64_t frac)
{
    static const uint64_t p10[] = {
        1u,           10u,           100u,           1000u,          10000u,
        100000u,      1000000u,      10000000u,      100000000u,     1000000000u,
        10000000000u, 100000000000u, 1000000000000u, 10000000000000u};
    if (!i->base2) {
        if (i->exp <= 6)
            return frac * p10[6 - i->exp];
        unsigned d = i->exp - 6; /* 1..13 */
        return frac / p10[d];
    }
    if (i->exp <= 44) /* frac < 2^44: frac * 10^6 < 2^64 */
        return (frac * 1000000u) >> i->exp;
    /* frac * 10^6 = phi * 2^32 + plo with frac = hi * 2^32 + lo; for exp >= 32 the product
     * shifted right by exp is ((phi + (plo >> 32)) >> (exp - 32)) exactly */
    uint64_t phi = (frac >> 32) * 1000000u, plo = (frac & 0xffffffffu) * 1000000u;
    return (phi + (plo >> 32)) >> (i->exp - 32);
}

/* Timestamp in microseconds since the epoch. False when it falls before 1970 or beyond what 64-bit
 * microseconds hold. */
static bool to_us(const struct iface *i, uint64_t ts, uint64_t *out)
{
    uint64_t sec = i->base2 ? ts >> i->exp : ts / i->units;
    uint64_t frac = i->base2 ? ts & (i->units - 1) : ts % i->units;
    uint64_t us = frac_us(i, frac);
    if (i->tsoffset < 0) {
        uint64_t m = (uint64_t)(-(i->tsoffset + 1)) + 1;
        if (sec < m)
            return false;
        sec -= m;
    } else {
        if (sec > UINT64_MAX - (uint64_t)i->tsoffset)
            return false;
        sec += (uint64_t)i->tsoffset;
    }
    if (sec > (UINT64_MAX - us) / 1000000u)
        return false;
    *out = sec * 1000000u + us;
    return true;
}

struct pcapng *pcapng_open(struct cin *in, const char *path, char *errbuf, unsigned errlen)
{
    struct pcapng *r = calloc(1, sizeof(*r));
    if (!r) {
        snprintf(errbuf, errlen, "out of memory");
        return NULL;
    }
    r->in = in;
    r->path = path;
    r->first_dlt = -1;
    /* state blocks up to the first interface description (no packet can precede it) */
    while (r->first_dlt < 0) {
        uint32_t type, blen;
        const uint8_t *body;
        int rc = read_block(r, &type, &body, &blen, errbuf, errlen);
        if (rc <= 0) {
            if (rc == 0)
                snprintf(errbuf, errlen, "%s: pcapng file without an interface description", path);
            pcapng_close(r);
            return NULL;
        }
        if (type == BT_SHB) {
            r->if_base += r->nifs;
            r->nifs = 0;
        } else if (type == BT_IDB) {
            if (parse_idb(r, body, blen, errbuf, errlen) != 0) {
                pcapng_close(r);
                return NULL;
            }
        } else if (type == BT_EPB || type == BT_PB || type == BT_SPB) {
            snprintf(errbuf, errlen, "%s: packet before any interface description", path);
            pcapng_close(r);
            return NULL;
        }
    }
    return r;
}

/* Enhanced (or obsolete) Packet Block body. 1 packet, 3 corrupt (errbuf). */
static int parse_epb(struct pcapng *r, uint32_t type, const uint8_t *body, uint32_t blen,
                     struct pcapng_pkt *out, char *errbuf, unsigned errlen)
{
    struct rd d = rd_init(body, blen);
    uint32_t ifid;
    if (type == BT_EPB) {
        ifid = rd_u32x(&d, r->le);
    } else {
        ifid = rd_u16x(&d, r->le);
        rd_skip(&d, 2);
    }
    uint64_t hi = rd_u32x(&d, r->le), lo = rd_u32x(&d, r->le);
    uint32_t caplen = rd_u32x(&d, r->le), len = rd_u32x(&d, r->le);
    if (!rd_ok(&d)) {
        snprintf(errbuf, errlen, "%s: packet block at byte %llu too short (%u bytes)", r->path,
                 (unsigned long long)r->at, blen + 12);
        return 3;
    }
    if (ifid >= r->nifs) {
        snprintf(errbuf, errlen, "%s: packet block at byte %llu names unknown interface %u",
                 r->path, (unsigned long long)r->at, ifid);
        return 3;
    }
    if (caplen > rd_left(&d)) {
        snprintf(errbuf, errlen,
                 "%s: packet block at byte %llu: captured length %u exceeds the block", r->path,
                 (unsigned long long)r->at, caplen);
        return 3;
    }
    const struct iface *i = &r->ifs[ifid];
    if (!to_us(i, hi << 32 | lo, &out->ts_us)) {
        snprintf(errbuf, errlen,
                 "%s: packet block at byte %llu: timestamp %llu (if_tsresol %s^-%u, "
                 "if_tsoffset %lld s) is before 1970 or beyond 64-bit microseconds",
                 r->path, (unsigned long long)r->at, (unsigned long long)(hi << 32 | lo),
                 i->base2 ? "2" : "10", i->exp, (long long)i->tsoffset);
        return 3;
    }
    out->caplen = caplen;
    out->len = len < caplen ? caplen : len;
    out->dlt = i->dlt;
    out->ifid = r->if_base + ifid;
    out->data = rd_ptr(&d, caplen);
    if (!out->data && caplen == 0)
        out->data = body;
    return 1;
}

/* Simple Packet Block body (no timestamp: 0). 1 packet, 3 corrupt (errbuf). */
static int parse_spb(struct pcapng *r, const uint8_t *body, uint32_t blen, struct pcapng_pkt *out,
                     char *errbuf, unsigned errlen)
{
    struct rd d = rd_init(body, blen);
    uint32_t len = rd_u32x(&d, r->le);
    if (!rd_ok(&d) || r->nifs == 0) {
        snprintf(errbuf, errlen, "%s: simple packet block at byte %llu %s", r->path,
                 (unsigned long long)r->at,
                 rd_ok(&d) ? "in a section without interfaces" : "too short");
        return 3;
    }
    uint32_t caplen = (uint32_t)rd_left(&d);
    if (caplen > len)
        caplen = len;
    if (r->ifs[0].snaplen && caplen > r->ifs[0].snaplen)
        caplen = r->ifs[0].snaplen;
    out->ts_us = 0;
    out->caplen = caplen;
    out->len = len;
    out->dlt = r->ifs[0].dlt;
    out->ifid = r->if_base;
    out->data = rd_ptr(&d, caplen);
    if (!out->data)
        out->data = body;
    return 1;
}

int pcapng_next(struct pcapng *r, struct pcapng_pkt *out, char *errbuf, unsigned errlen)
{
    for (;;) {
        uint32_t type, blen;
        const uint8_t *body;
        int rc = read_block(r, &type, &body, &blen, errbuf, errlen);
        if (rc == 0)
            return 0;
        if (rc < 0)
            return 3;
        switch (type) {
        case BT_SHB:
            r->if_base += r->nifs;
            r->nifs = 0;
            break;
        case BT_IDB:
            if (parse_idb(r, body, blen, errbuf, errlen) != 0)
                return 3;
            break;
        case BT_EPB:
        case BT_PB:
            return parse_epb(r, type, body, blen, out, errbuf, errlen);
        case BT_SPB:
            return parse_spb(r, body, blen, out, errbuf, errlen);
        default:
            break; /* NRB, ISB, DSB, custom...: not needed */
        }
    }
}

int pcapng_dlt(const struct pcapng *r)
{
    return r->first_dlt;
}

uint64_t pcapng_block_offset(const struct pcapng *r)
{
    return r->at;
}

uint32_t pcapng_snaplen(const struct pcapng *r)
{
    return r->first_snaplen;
}

void pcapng_close(struct pcapng *r)
{
    free(r);
}
