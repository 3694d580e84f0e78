/* pcapfile.c - pcap file reader (the libpcap savefile format: microsecond, nanosecond and the
 * "modified" Kuznetzov variant, either byte order). Seconds are unsigned 32-bit (through 2106).
 * Records are returned in place from the stream buffer; lengths are checked before use and
 * capped (PCAPF_MAX_RECORD). */
#include "pcapng.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PCAP_MAGIC_US 0xA1B2C3D4u
#define PCAP_MAGIC_NS 0xA1B23C4Du
#define PCAP_MAGIC_MOD 0xA1B2CD34u /* modified pcap: 8 more bytes per record header */
#define PCAPNG_SHB 0x0A0D0D0Au

struct pcapf {
    struct cin *in;
    const char *path;
    bool swap, nsec;
    unsigned rec_hdr; /* 16, or 24 for the modified format */
    uint32_t snaplen;
    int dlt;
};

static uint32_t be32(const uint8_t *b)
{
    return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

static uint32_t le32(const uint8_t *b)
{
    return (uint32_t)b[3] << 24 | (uint32_t)b[2] << 16 | (uint32_t)b[1] << 8 | b[0];
}

static uint32_t bswap32(uint32_t v)
{
    return (v >> 24) | ((v >> 8) & 0xff00u) | ((v << 8) & 0xff0000u) | (v << 24);
}

enum cap_format cap_format_probe(const uint8_t *b, size_t n)
{
    if (n < 4)
        return CAPF_UNKNOWN;
    uint32_t m = be32(b);
    if (m == PCAPNG_SHB)
        return CAPF_PCAPNG;
    uint32_t s = bswap32(m);
    if (m == PCAP_MAGIC_US || m == PCAP_MAGIC_NS || m == PCAP_MAGIC_MOD || s == PCAP_MAGIC_US ||
        s == PCAP_MAGIC_NS || s == PCAP_MAGIC_MOD)
        return CAPF_PCAP;
    return CAPF_UNKNOWN;
}

int cap_linktype_to_dlt(uint32_t linktype)
{
    switch (linktype) {
    case 100: /* LINKTYPE_ATM_RFC1483 */
        return 11;
    case 101: /* LINKTYPE_RAW */
        return 12;
    case 102: /* LINKTYPE_SLIP_BSDOS */
        return 15;
    case 103: /* LINKTYPE_PPP_BSDOS */
        return 16;
    default:
        return (int)(linktype & 0x03FFFFFFu); /* upper bits: FCS length flags */
    }
}

static uint32_t rd32(const struct pcapf *r, const uint8_t *b)
{
    return r->swap ? be32(b) : le32(b);
}

struct pcapf *pcapf_open(struct cin *in, const char *path, char *errbuf, unsigned errlen)
{
    size_t got;
    const uint8_t *h = cin_peek(in, 24, &got);
    if (got < 24) {
        snprintf(errbuf, errlen, "%s: pcap file header cut off (%zu of 24 bytes)%s%s", path, got,
                 cin_error(in) ? ": " : "", cin_error(in) ? cin_error(in) : "");
        return NULL;
    }
    struct pcapf *r = calloc(1, sizeof(*r));
    if (!r) {
        snprintf(errbuf, errlen, "out of memory");
        return NULL;
    }
    r->in = in;
    r->path = path;
    uint32_t m = le32(h);
    r->swap = !(m == PCAP_MAGIC_US || m == PCAP_MAGIC_NS || m == PCAP_MAGIC_MOD);
    uint32_t magic = rd32(r, h);
    r->nsec = magic == PCAP_MAGIC_NS;
    r->rec_hdr = magic == PCAP_MAGIC_MOD ? 24 : 16;
    unsigned major = r->swap ? (unsigned)h[4] << 8 | h[5] : (unsigned)h[5] << 8 | h[4];
    unsigned minor = r->swap ? (unsigned)h[6] << 8 | h[7] : (unsigned)h[7] << 8 | h[6];
    if (major != 2) {
        snprintf(errbuf, errlen, "%s: unsupported pcap format version %u.%u", path, major, minor);
        free(r);
        return NULL;
    }
    r->snaplen = rd32(r, h + 16);
    r->dlt = cap_linktype_to_dlt(rd32(r, h + 20));
    cin_consume(in, 24);
    return r;
}

static int cut(struct pcapf *r, char *errbuf, unsigned errlen, const char *what, uint64_t at)
{
    const char *e = cin_error(r->in);
    snprintf(errbuf, errlen, "%s: %s at byte %llu%s%s", r->path, what, (unsigned long long)at,
             e ? ": " : "", e ? e : "");
    return 3;
}

static int pcapf_next_slow(struct pcapf *r, struct pcapng_pkt *out, char *errbuf, unsigned errlen);

/* A record header's four words: seconds, fraction, captured and original length. */
static inline void rec_words(const struct pcapf *r, const uint8_t *h, uint32_t w[4])
{
    if (r->swap) {
        for (int i = 0; i < 4; i++)
            w[i] = be32(h + 4 * i);
    } else {
        for (int i = 0; i < 4; i++)
            w[i] = le32(h + 4 * i);
    }
}

static inline void rec_out(const struct pcapf *r, const uint32_t w[4], const uint8_t *rec,
                           struct pcapng_pkt *out)
{
    out->ts_us = (uint64_t)w[0] * 1000000u + (r->nsec ? w[1] / 1000u : w[1]);
    out->caplen = w[2];
    out->len = w[3] < w[2] ? w[2] : w[3];
    out->dlt = r->dlt;
    out->ifid = 0;
    out->data = rec + r->rec_hdr;
}

int pcapf_next(struct pcapf *r, struct pcapng_pkt *out, char *errbuf, unsigned errlen)
{
    /* fast path: the whole record is already buffered (no peek, nothing moves) */
    size_t got;
    const uint8_t *b = cin_buffered(r->in, &got);
    if (got >= r->rec_hdr) {
        uint32_t w[4];
        rec_words(r, b, w);
        if (w[2] <= PCAPF_MAX_RECORD && got - r->rec_hdr >= w[2]) {
            rec_out(r, w, b, out);
            cin_consume(r->in, r->rec_hdr + (size_t)w[2]);
            return 1;
        }
    }
    return pcapf_next_slow(r, out, errbuf, errlen);
}

/* Every other case (a record across the buffer's end, the end of the stream, errors). */
static int pcapf_next_slow(struct pcapf *r, struct pcapng_pkt *out, char *errbuf, unsigned errlen)
{
    size_t got;
    uint64_t at = cin_offset(r->in);
    const uint8_t *h = cin_peek(r->in, r->rec_hdr, &got);
    if (got < r->rec_hdr && cin_stopped(r->in))
        return 0; /* a stop request ended the input there (the run says it was interrupted) */
    if (got == 0)
        return cin_error(r->in) ? cut(r, errbuf, errlen, "capture stream ended", at) : 0;
    if (got < r->rec_hdr)
        return cut(r, errbuf, errlen, "cut off in a record header", at);
    uint32_t w[4];
    rec_words(r, h, w);
    uint32_t caplen = w[2];
    if (caplen > PCAPF_MAX_RECORD) {
        char m[96];
        snprintf(m, sizeof(m), "corrupt record header (captured length %u)", caplen);
        return cut(r, errbuf, errlen, m, at);
    }
    size_t need = r->rec_hdr + (size_t)caplen;
    const uint8_t *p = cin_peek(r->in, need, &got);
    if (got < need && cin_stopped(r->in))
        return 0;
    if (got < need) {
        char m[96];
        snprintf(m, sizeof(m), "cut off inside a %zu-byte record (%zu bytes present)", need, got);
        return cut(r, errbuf, errlen, m, at);
    }
    rec_out(r, w, p, out);
    cin_consume(r->in, need);
    return 1;
}

int pcapf_dlt(const struct pcapf *r)
{
    return r->dlt;
}

uint32_t pcapf_snaplen(const struct pcapf *r)
{
    return r->snaplen;
}

void pcapf_close(struct pcapf *r)
{
    free(r);
}
