/* pcapng.c - pcapng reader (draft-ietf-opsawg-pcapng): SHB, IDB (if_tsresol, if_tsoffset), EPB,
 * SPB and the obsolete Packet Block; other blocks are skipped. Block bodies are parsed through the
 * bounds-checked reader; block lengths are checked before use and capped (PCAPNG_MAX_BLOCK).
 * Limitations: compressed/encrypted blocks are not supported (skipped as unknown). */
#include "pcapng.h"

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
    uint64_t units;   /* timestamp units per second */
    int64_t tsoffset; /* seconds */
};

struct pcapng {
    FILE *f;
    const char *path;
    bool le; /* section byte order: little endian */
    uint8_t *buf;
    size_t cap;
    struct iface ifs[PCAPNG_MAX_IFACES];
    uint32_t nifs;
    uint32_t if_base; /* interfaces of earlier sections */
    int first_dlt;
    uint64_t off; /* file offset of the next block */
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

bool pcapng_is(FILE *f)
{
    uint8_t b[4];
    long pos = ftell(f);
    size_t n = fread(b, 1, 4, f);
    fseek(f, pos, SEEK_SET);
    return n == 4 && u32(false, b) == BT_SHB;
}

/* Reads one block: *type, body in r->buf[0..*blen). 1 ok, 0 clean end, -1 corrupt/cut (errbuf). */
static int read_block(struct pcapng *r, uint32_t *type, uint32_t *blen, char *errbuf,
                      unsigned errlen)
{
    uint8_t h[8];
    size_t n = fread(h, 1, 8, r->f);
    if (n == 0)
        return 0;
    if (n < 8) {
        snprintf(errbuf, errlen, "%s: cut off in a block header at byte %llu", r->path,
                 (unsigned long long)r->off);
        return -1;
    }
    uint32_t t = u32(r->le, h);
    if (t == BT_SHB) {
        /* byte order is defined by the SHB's own magic, right after its length */
        uint8_t m[4];
        if (fread(m, 1, 4, r->f) != 4) {
            snprintf(errbuf, errlen, "%s: cut off in a section header at byte %llu", r->path,
                     (unsigned long long)r->off);
            return -1;
        }
        if (u32(true, m) == 0x1A2B3C4Du)
            r->le = true;
        else if (u32(false, m) == 0x1A2B3C4Du)
            r->le = false;
        else {
            snprintf(errbuf, errlen, "%s: bad pcapng byte-order magic at byte %llu", r->path,
                     (unsigned long long)r->off);
            return -1;
        }
        if (fseek(r->f, -4, SEEK_CUR) != 0)
            return -1;
    }
    uint32_t len = u32(r->le, h + 4);
    if (len < 12 || len % 4 != 0 || len > PCAPNG_MAX_BLOCK) {
        snprintf(errbuf, errlen, "%s: corrupt pcapng block length %u at byte %llu", r->path, len,
                 (unsigned long long)r->off);
        return -1;
    }
    uint32_t body = len - 12;
    if (body + 4 > r->cap) {
        size_t nc = body + 4 + 65536;
        uint8_t *nb = realloc(r->buf, nc);
        if (!nb) {
            snprintf(errbuf, errlen, "out of memory");
            return -1;
        }
        r->buf = nb;
        r->cap = nc;
    }
    if (fread(r->buf, 1, body + 4, r->f) != body + 4) {
        snprintf(errbuf, errlen, "%s: cut off inside a %u-byte block at byte %llu", r->path, len,
                 (unsigned long long)r->off);
        return -1;
    }
    if (u32(r->le, r->buf + body) != len) {
        snprintf(errbuf, errlen, "%s: pcapng block at byte %llu has mismatched lengths", r->path,
                 (unsigned long long)r->off);
        return -1;
    }
    r->off += len;
    r->blocks++;
    *type = t;
    *blen = body;
    return 1;
}

static void parse_idb(struct pcapng *r, uint32_t blen)
{
    struct rd d = rd_init(r->buf, blen);
    uint16_t linktype = rd_u16x(&d, r->le);
    rd_skip(&d, 2);
    uint32_t snap = rd_u32x(&d, r->le);
    if (!rd_ok(&d) || r->nifs >= PCAPNG_MAX_IFACES)
        return;
    struct iface *i = &r->ifs[r->nifs++];
    i->dlt = linktype;
    i->snaplen = snap;
    i->units = 1000000;
    i->tsoffset = 0;
    /* options: code(2) len(2) value padded to 4; capped walk */
    for (int k = 0; k < 64 && rd_left(&d) >= 4; k++) {
        uint16_t code = rd_u16x(&d, r->le);
        uint16_t olen = rd_u16x(&d, r->le);
        if (code == 0)
            break;
        struct rd o = rd_sub(&d, olen);
        rd_skip(&d, (4 - olen % 4) % 4);
        if (!rd_ok(&o))
            break;
        if (code == 9 && olen >= 1) {
            uint8_t res = rd_u8(&o);
            uint64_t units = 1;
            unsigned exp = res & 0x7f;
            if (res & 0x80) {
                units = exp < 63 ? (1ull << exp) : 0;
            } else {
                for (unsigned e = 0; e < exp && e < 19; e++)
                    units *= 10;
                if (exp >= 19)
                    units = 0;
            }
            if (units)
                i->units = units;
        } else if (code == 14 && olen == 8) {
            uint64_t hi = rd_u32x(&o, r->le), lo = rd_u32x(&o, r->le);
            i->tsoffset = (int64_t)(r->le ? (lo << 32 | hi) : (hi << 32 | lo));
        }
    }
    if (r->first_dlt < 0)
        r->first_dlt = i->dlt;
}

static uint64_t to_us(const struct iface *i, uint64_t ts)
{
    uint64_t sec = ts / i->units, frac = ts % i->units;
    uint64_t us;
    if (i->units <= 1000000u)
        us = frac * (1000000u / i->units);
    else
        us = frac / (i->units / 1000000u);
    return (sec + (uint64_t)i->tsoffset) * 1000000u + us;
}

struct pcapng *pcapng_open(FILE *f, const char *path, char *errbuf, unsigned errlen)
{
    struct pcapng *r = calloc(1, sizeof(*r));
    if (!r) {
        fclose(f);
        snprintf(errbuf, errlen, "out of memory");
        return NULL;
    }
    r->f = f;
    r->path = path;
    r->first_dlt = -1;
    /* state blocks up to the first interface description (no packet can precede it) */
    while (r->first_dlt < 0) {
        uint32_t type, blen;
        int rc = read_block(r, &type, &blen, errbuf, errlen);
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
            parse_idb(r, blen);
        } else if (type == BT_EPB || type == BT_PB || type == BT_SPB) {
            snprintf(errbuf, errlen, "%s: packet before any interface description", path);
            pcapng_close(r);
            return NULL;
        }
    }
    return r;
}

int pcapng_next(struct pcapng *r, struct pcapng_pkt *out, char *errbuf, unsigned errlen)
{
    for (;;) {
        uint32_t type, blen;
        int rc = read_block(r, &type, &blen, errbuf, errlen);
        if (rc == 0)
            return 0;
        if (rc < 0)
            return 3;
        struct rd d = rd_init(r->buf, blen);
        switch (type) {
        case BT_SHB:
            r->if_base += r->nifs;
            r->nifs = 0;
            break;
        case BT_IDB:
            parse_idb(r, blen);
            break;
        case BT_EPB:
        case BT_PB: {
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
                snprintf(errbuf, errlen, "%s: packet block at byte %llu too short (%u bytes)",
                         r->path, (unsigned long long)(r->off - blen - 12), blen + 12);
                return 3;
            }
            if (ifid >= r->nifs) {
                snprintf(errbuf, errlen, "%s: packet block at byte %llu names unknown interface %u",
                         r->path, (unsigned long long)(r->off - blen - 12), ifid);
                return 3;
            }
            if (caplen > rd_left(&d)) {
                snprintf(errbuf, errlen,
                         "%s: packet block at byte %llu: captured length %u exceeds the block",
                         r->path, (unsigned long long)(r->off - blen - 12), caplen);
                return 3;
            }
            const struct iface *i = &r->ifs[ifid];
            out->ts_us = to_us(i, hi << 32 | lo);
            out->caplen = caplen;
            out->len = len < caplen ? caplen : len;
            out->dlt = i->dlt;
            out->ifid = r->if_base + ifid;
            out->data = rd_ptr(&d, caplen);
            if (!out->data && caplen == 0)
                out->data = r->buf;
            return 1;
        }
        case BT_SPB: {
            uint32_t len = rd_u32x(&d, r->le);
            if (!rd_ok(&d) || r->nifs == 0) {
                snprintf(errbuf, errlen, "%s: simple packet block at byte %llu %s", r->path,
                         (unsigned long long)(r->off - blen - 12),
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
                out->data = r->buf;
            return 1;
        }
        default:
            break; /* NRB, ISB, DSB, custom...: not needed */
        }
    }
}

int pcapng_dlt(const struct pcapng *r)
{
    return r->first_dlt;
}

uint64_t pcapng_offset(const struct pcapng *r)
{
    return r->off;
}

void pcapng_close(struct pcapng *r)
{
    if (!r)
        return;
    if (r->f)
        fclose(r->f);
    free(r->buf);
    free(r);
}
