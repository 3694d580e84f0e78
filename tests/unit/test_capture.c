/* test_capture.c - the capture input layer: pcap/pcapng readers from memory (timestamps on the
 * wire: unsigned 32-bit seconds, nanoseconds, every if_tsresol, signed if_tsoffset), gzip and
 * zstd streams, the cut status, the checked dump writer and its tcpdump-style rotation. */
#define _DEFAULT_SOURCE /* libpcap headers (u_char) and mkdtemp */
#include "t.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <pcap/pcap.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#include "vpnscope/capture.h"

struct buf {
    uint8_t b[1 << 16];
    size_t n;
};

static void put(struct buf *b, const void *p, size_t n)
{
    memcpy(b->b + b->n, p, n);
    b->n += n;
}

static void le32(struct buf *b, uint32_t v)
{
    uint8_t x[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
    put(b, x, 4);
}

static void be32(struct buf *b, uint32_t v)
{
    uint8_t x[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};
    put(b, x, 4);
}

static void le16(struct buf *b, uint16_t v)
{
    uint8_t x[2] = {(uint8_t)v, (uint8_t)(v >> 8)};
    put(b, x, 2);
}

static const uint8_t FRAME[60] = {2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 8, 0, 0x45, 0, 0, 46};

static void pcap_hdr(struct buf *b, uint32_t magic)
{
    le32(b, magic);
    le16(b, 2);
    le16(b, 4);
    le32(b, 0);
    le32(b, 0);
    le32(b, 65535);
    le32(b, 1);
}

static void pcap_rec(struct buf *b, uint32_t sec, uint32_t frac, uint32_t caplen)
{
    le32(b, sec);
    le32(b, frac);
    le32(b, caplen);
    le32(b, caplen);
    put(b, FRAME, caplen);
}

/* Reads every packet; returns the last cap_next status. */
static int read_all(struct cap_src *s, uint64_t *ts, int max, int *n)
{
    struct raw_pkt r;
    char eb[CAP_ERRMSG_SIZE];
    int rc;
    *n = 0;
    while ((rc = cap_next(s, &r, eb, sizeof(eb))) == 1) {
        if (*n < max)
            ts[*n] = r.ts_us;
        (*n)++;
    }
    return rc;
}

static void test_pcap_seconds(void)
{
    struct buf b = {.n = 0};
    pcap_hdr(&b, 0xA1B2C3D4u);
    pcap_rec(&b, 0x7FFFFFFFu, 999999, 60);
    pcap_rec(&b, 0x80000000u, 0, 60); /* 2038-01-19T03:14:08Z */
    pcap_rec(&b, 0xFFFFFFFFu, 5, 60); /* 2106-02-07T06:28:15Z */
    char eb[CAP_ERRMSG_SIZE];
    struct cap_src *s = cap_open_buffer(b.b, b.n, "secs.pcap", NULL, eb, sizeof(eb));
    CHECK(s != NULL);
    if (!s)
        return;
    uint64_t ts[4];
    int n;
    CHECK_EQ(read_all(s, ts, 4, &n), 0);
    CHECK_EQ(n, 3);
    CHECK(ts[0] == 0x7FFFFFFFull * 1000000u + 999999u);
    CHECK(ts[1] == 0x80000000ull * 1000000u);
    CHECK(ts[2] == 0xFFFFFFFFull * 1000000u + 5u);
    CHECK(ts[0] < ts[1] && ts[1] < ts[2]); /* no false backwards step */
    CHECK_EQ(cap_dlt(s), 1);
    CHECK(cap_rereadable(s));
    cap_close(s);
}

static void test_pcap_nsec_and_big_endian(void)
{
    struct buf b = {.n = 0};
    pcap_hdr(&b, 0xA1B23C4Du);
    pcap_rec(&b, 1700000000u, 123456789u, 60);
    char eb[CAP_ERRMSG_SIZE];
    struct cap_src *s = cap_open_buffer(b.b, b.n, "ns.pcap", NULL, eb, sizeof(eb));
    CHECK(s != NULL);
    uint64_t ts[2];
    int n;
    if (s) {
        CHECK_EQ(read_all(s, ts, 2, &n), 0);
        CHECK_EQ(n, 1);
        CHECK(ts[0] == 1700000000ull * 1000000u + 123456u);
        cap_close(s);
    }
    /* big-endian microsecond file, raw IP link type 101 seen as DLT_RAW (12) as libpcap does */
    struct buf e = {.n = 0};
    be32(&e, 0xA1B2C3D4u);
    uint8_t ver[4] = {0, 2, 0, 4};
    put(&e, ver, 4);
    be32(&e, 0);
    be32(&e, 0);
    be32(&e, 65535);
    be32(&e, 101);
    be32(&e, 3000000000u);
    be32(&e, 7);
    be32(&e, 20);
    be32(&e, 20);
    put(&e, FRAME + 14, 20);
    s = cap_open_buffer(e.b, e.n, "be.pcap", NULL, eb, sizeof(eb));
    CHECK(s != NULL);
    if (s) {
        CHECK_EQ(cap_dlt(s), 12);
        CHECK_EQ(read_all(s, ts, 2, &n), 0);
        CHECK_EQ(n, 1);
        CHECK(ts[0] == 3000000000ull * 1000000u + 7u);
        cap_close(s);
    }
}

/* pcapng: SHB, one IDB with the given options, EPBs with the given raw timestamps. */
static void ng_block(struct buf *b, uint32_t type, const struct buf *body)
{
    uint32_t len = (uint32_t)(12 + body->n + (4 - body->n % 4) % 4);
    le32(b, type);
    le32(b, len);
    put(b, body->b, body->n);
    static const uint8_t z[4];
    put(b, z, (4 - body->n % 4) % 4);
    le32(b, len);
}

static size_t make_ng(struct buf *b, const uint8_t *tsresol, const int64_t *tsoffset,
                      const uint64_t *ts, int nts)
{
    b->n = 0;
    static struct buf body;
    body.n = 0;
    le32(&body, 0x1A2B3C4Du);
    le16(&body, 1);
    le16(&body, 0);
    le32(&body, 0xFFFFFFFFu);
    le32(&body, 0xFFFFFFFFu);
    ng_block(b, 0x0A0D0D0Au, &body);
    body.n = 0;
    le16(&body, 1);
    le16(&body, 0);
    le32(&body, 0);
    if (tsresol) {
        le16(&body, 9);
        le16(&body, 1);
        uint8_t v[4] = {*tsresol, 0, 0, 0};
        put(&body, v, 4);
    }
    if (tsoffset) {
        le16(&body, 14);
        le16(&body, 8);
        le32(&body, (uint32_t)(uint64_t)*tsoffset);
        le32(&body, (uint32_t)((uint64_t)*tsoffset >> 32));
    }
    le32(&body, 0); /* opt_endofopt */
    ng_block(b, 1, &body);
    for (int i = 0; i < nts; i++) {
        body.n = 0;
        le32(&body, 0);
        le32(&body, (uint32_t)(ts[i] >> 32));
        le32(&body, (uint32_t)ts[i]);
        le32(&body, 60);
        le32(&body, 60);
        put(&body, FRAME, 60);
        ng_block(b, 6, &body);
    }
    return b->n;
}

static uint64_t ng_ts(uint8_t res, const int64_t *off, uint64_t raw, int *rc)
{
    static struct buf b;
    make_ng(&b, &res, off, &raw, 1);
    char eb[CAP_ERRMSG_SIZE];
    struct cap_src *s = cap_open_buffer(b.b, b.n, "res.pcapng", NULL, eb, sizeof(eb));
    if (!s) {
        *rc = -2;
        return 0;
    }
    uint64_t ts[1] = {0};
    int n;
    *rc = read_all(s, ts, 1, &n);
    cap_close(s);
    return n == 1 ? ts[0] : 0;
}

static void test_pcapng_tsresol(void)
{
    int rc;
    /* 10^-9: nanoseconds */
    CHECK(ng_ts(9, NULL, 1700000000123456789ull, &rc) == 1700000000123456ull);
    CHECK_EQ(rc, 0);
    /* 10^-3: milliseconds */
    CHECK(ng_ts(3, NULL, 1700000000123ull, &rc) == 1700000000123000ull);
    /* 10^0: seconds */
    CHECK(ng_ts(0, NULL, 1700000000ull, &rc) == 1700000000000000ull);
    /* 10^-19: the finest base-10 resolution that fits 64 bits */
    CHECK(ng_ts(19, NULL, 15000000000000000000ull, &rc) == 1500000ull);
    /* 2^-20 (0x94): 1700000000 s + 2^19 units = 0.5 s */
    CHECK(ng_ts(0x94, NULL, (1700000000ull << 20) | (1u << 19), &rc) == 1700000000500000ull);
    CHECK(ng_ts(0x94, NULL, (1700000000ull << 20) | 1u, &rc) == 1700000000000000ull);
    /* 2^-30 and 2^-63: exact, rounding down */
    CHECK(ng_ts(0x9e, NULL, (5ull << 30) | ((1ull << 30) - 1), &rc) == 5999999ull);
    CHECK(ng_ts(0xbf, NULL, (1ull << 63) - 1, &rc) == 999999ull);
    CHECK_EQ(rc, 0);
    /* 2^0 */
    CHECK(ng_ts(0x80, NULL, 1700000000ull, &rc) == 1700000000000000ull);
    /* negative if_tsoffset */
    int64_t off = -3600;
    CHECK(ng_ts(6, &off, 1700003600000001ull, &rc) == 1700000000000001ull);
    CHECK_EQ(rc, 0);
    int64_t big = 1700000000;
    CHECK(ng_ts(6, &big, 250000ull, &rc) == 1700000000250000ull);
    /* an offset that puts the packet before 1970: the file stops there, clearly */
    int64_t neg = -10;
    ng_ts(6, &neg, 5000000ull, &rc);
    CHECK_EQ(rc, 3);
    /* seconds beyond 64-bit microseconds */
    ng_ts(0, NULL, 0xFFFFFFFFFFFFFFFFull, &rc);
    CHECK_EQ(rc, 3);
}

static void test_pcapng_tsresol_unsupported(void)
{
    static struct buf b;
    uint8_t bad[] = {20, 0x7f, 0xc0, 0xff};
    uint64_t ts = 1;
    for (size_t i = 0; i < sizeof(bad); i++) {
        make_ng(&b, &bad[i], NULL, &ts, 1);
        char eb[CAP_ERRMSG_SIZE] = "";
        struct cap_src *s = cap_open_buffer(b.b, b.n, "bad.pcapng", NULL, eb, sizeof(eb));
        CHECK(s == NULL);
        CHECK(strstr(eb, "unsupported if_tsresol") != NULL);
        CHECK(strstr(eb, "bad.pcapng") != NULL);
        cap_close(s);
    }
}

static void test_cut_status(void)
{
    struct buf b = {.n = 0};
    pcap_hdr(&b, 0xA1B2C3D4u);
    pcap_rec(&b, 100, 0, 60);
    pcap_rec(&b, 101, 0, 60);
    size_t cut_at = b.n;
    pcap_rec(&b, 102, 0, 60);
    b.n -= 30;
    char eb[CAP_ERRMSG_SIZE];
    struct cap_src *s = cap_open_buffer(b.b, b.n, "cut.pcap", NULL, eb, sizeof(eb));
    CHECK(s != NULL);
    if (!s)
        return;
    struct cap_status st;
    CHECK(!cap_input_status(s, &st));
    uint64_t ts[4];
    int n;
    CHECK_EQ(read_all(s, ts, 4, &n), 3);
    CHECK_EQ(n, 2);
    CHECK(cap_input_status(s, &st));
    CHECK(st.cut);
    CHECK_EQ(st.offset, cut_at);
    CHECK_EQ(st.records, 2);
    CHECK_EQ(st.frames, 2);
    CHECK_EQ(st.cut_pieces, 1);
    CHECK_STR(st.path, "cut.pcap");
    CHECK_STR(st.compression, "none");
    char at[32];
    snprintf(at, sizeof(at), "byte %zu", cut_at);
    CHECK(strstr(st.message, "cut.pcap") && strstr(st.message, at));
    cap_close(s);

    /* pcapng: a damaged block after one packet */
    static struct buf g;
    uint64_t t2[2] = {1700000000000000ull, 1700000000000001ull};
    uint8_t six = 6;
    make_ng(&g, &six, NULL, t2, 2);
    size_t second = g.n - (12 + 20 + 60);
    g.n -= 10;
    s = cap_open_buffer(g.b, g.n, "cut.pcapng", NULL, eb, sizeof(eb));
    CHECK(s != NULL);
    if (!s)
        return;
    CHECK_EQ(read_all(s, ts, 4, &n), 3);
    CHECK_EQ(n, 1);
    CHECK(cap_input_status(s, &st));
    CHECK_EQ(st.offset, second);
    CHECK_EQ(st.records, 1);
    cap_close(s);
}

static size_t gzip_buf(const uint8_t *in, size_t n, uint8_t *out, size_t cap)
{
    z_stream z;
    memset(&z, 0, sizeof(z));
    if (deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        return 0;
    z.next_in = (Bytef *)(uintptr_t)in;
    z.avail_in = (uInt)n;
    z.next_out = out;
    z.avail_out = (uInt)cap;
    int r = deflate(&z, Z_FINISH);
    size_t k = cap - z.avail_out;
    deflateEnd(&z);
    return r == Z_STREAM_END ? k : 0;
}

static void test_compressed(void)
{
    struct buf b = {.n = 0};
    pcap_hdr(&b, 0xA1B2C3D4u);
    for (uint32_t i = 0; i < 200; i++)
        pcap_rec(&b, 1000 + i, i, 60);
    static uint8_t z[1 << 17];
    char eb[CAP_ERRMSG_SIZE];
    uint64_t ts[256];
    int n;
    /* gzip, and two gzip members back to back (split after the first 1000 bytes) */
    size_t zn = gzip_buf(b.b, b.n, z, sizeof(z));
    CHECK(zn > 0);
    struct cap_src *s = cap_open_buffer(z, zn, "t.pcap.gz", NULL, eb, sizeof(eb));
    CHECK(s != NULL);
    if (s) {
        CHECK_EQ(read_all(s, ts, 256, &n), 0);
        CHECK_EQ(n, 200);
        CHECK(ts[199] == 1199ull * 1000000u + 199u);
        CHECK_STR(cap_compression(s, 0), "gzip");
        cap_close(s);
    }
    size_t m1 = gzip_buf(b.b, 1000, z, sizeof(z));
    size_t m2 = gzip_buf(b.b + 1000, b.n - 1000, z + m1, sizeof(z) - m1);
    s = cap_open_buffer(z, m1 + m2, "multi.gz", NULL, eb, sizeof(eb));
    CHECK(s != NULL);
    if (s) {
        CHECK_EQ(read_all(s, ts, 256, &n), 0);
        CHECK_EQ(n, 200);
        cap_close(s);
    }
    /* a gzip stream cut off: the packets before, then status 3 naming gzip */
    s = cap_open_buffer(z, zn / 2, "half.gz", NULL, eb, sizeof(eb));
    CHECK(s != NULL);
    if (s) {
        CHECK_EQ(read_all(s, ts, 256, &n), 3);
        CHECK(n > 0 && n < 200);
        struct cap_status st;
        CHECK(cap_input_status(s, &st));
        CHECK(strstr(st.message, "gzip stream cut off") != NULL);
        CHECK_STR(st.compression, "gzip");
        cap_close(s);
    }
    /* zstd */
    size_t sn = ZSTD_compress(z, sizeof(z), b.b, b.n, 3);
    CHECK(!ZSTD_isError(sn));
    s = cap_open_buffer(z, sn, "t.pcap.zst", NULL, eb, sizeof(eb));
    CHECK(s != NULL);
    if (s) {
        CHECK_EQ(read_all(s, ts, 256, &n), 0);
        CHECK_EQ(n, 200);
        CHECK(ts[5] == 1005ull * 1000000u + 5u);
        CHECK_STR(cap_compression(s, 0), "zstd");
        cap_close(s);
    }
    /* one zstd block holds the whole capture: cut off, nothing of it can be decoded */
    s = cap_open_buffer(z, sn - 7, "cut.zst", NULL, eb, sizeof(eb));
    CHECK(s == NULL);
    CHECK(strstr(eb, "cut.zst") && strstr(eb, "zstd stream cut off"));
    /* a format we do not read says so */
    static const uint8_t xz[] = {0xfd, '7', 'z', 'X', 'Z', 0, 1, 2};
    s = cap_open_buffer(xz, sizeof(xz), "t.xz", NULL, eb, sizeof(eb));
    CHECK(s == NULL);
    CHECK(strstr(eb, "xz") != NULL);
}

static int count_packets(const char *path)
{
    char eb[PCAP_ERRBUF_SIZE];
    pcap_t *p = pcap_open_offline(path, eb);
    if (!p)
        return -1;
    struct pcap_pkthdr *h;
    const u_char *d;
    int n = 0;
    while (pcap_next_ex(p, &h, &d) == 1)
        n++;
    pcap_close(p);
    return n;
}

static bool exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

static struct raw_pkt pkt(uint64_t ts_us)
{
    struct raw_pkt r;
    memset(&r, 0, sizeof(r));
    r.ts_us = ts_us;
    r.caplen = r.len = 60;
    r.dlt = 1;
    r.data = FRAME;
    return r;
}

static void test_writer_size_rotation(const char *dir)
{
    char path[512], name[600], eb[CAP_ERRMSG_SIZE];
    snprintf(path, sizeof(path), "%s/size.pcap", dir);
    /* -C: a new file once the current one exceeds 1000 bytes: header 24 + 76 per packet, so a
     * file takes 13 packets (24 + 13 * 76 = 1012 > 1000) before the next one starts */
    struct cap_writer_opts o = {.path = path, .dlt = 1, .snaplen = 65535, .rotate_bytes = 1000};
    struct cap_writer *w = cap_writer_open(&o, eb, sizeof(eb));
    CHECK(w != NULL);
    if (!w)
        return;
    /* a packet of another link type cannot go into this file: refused, the writer stops */
    struct raw_pkt other = pkt(0);
    other.dlt = 113;
    CHECK_EQ(cap_writer_write(w, &other, eb, sizeof(eb)), -1);
    CHECK(strstr(eb, "link type 113") != NULL);
    CHECK_EQ(cap_writer_close(w, eb, sizeof(eb)), -1);
    w = cap_writer_open(&o, eb, sizeof(eb));
    CHECK(w != NULL);
    if (!w)
        return;
    for (int i = 0; i < 40; i++) {
        struct raw_pkt r = pkt(1000000u * (uint64_t)i);
        CHECK_EQ(cap_writer_write(w, &r, eb, sizeof(eb)), 0);
    }
    CHECK_EQ(cap_writer_files(w), 4);
    CHECK_EQ(cap_writer_close(w, eb, sizeof(eb)), 0);
    CHECK_EQ(count_packets(path), 13);
    int total = 13;
    for (int i = 1; i <= 3; i++) {
        snprintf(name, sizeof(name), "%s%d", path, i);
        int k = count_packets(name);
        CHECK(k > 0);
        total += k;
    }
    CHECK_EQ(total, 40);
    snprintf(name, sizeof(name), "%s4", path);
    CHECK(!exists(name));

    /* -C with -W 3: FILE0, FILE1, FILE2 reused as a ring */
    snprintf(path, sizeof(path), "%s/ring.pcap", dir);
    o.path = path;
    o.max_files = 3;
    w = cap_writer_open(&o, eb, sizeof(eb));
    CHECK(w != NULL);
    if (!w)
        return;
    for (int i = 0; i < 60; i++) {
        struct raw_pkt r = pkt(1000000u * (uint64_t)i);
        CHECK_EQ(cap_writer_write(w, &r, eb, sizeof(eb)), 0);
    }
    CHECK_EQ(cap_writer_files(w), 5); /* 60 packets: 13+13+13+13+8 */
    snprintf(name, sizeof(name), "%s1", path);
    CHECK_STR(cap_writer_current(w), name);
    CHECK_EQ(cap_writer_close(w, eb, sizeof(eb)), 0);
    snprintf(name, sizeof(name), "%s0", path);
    CHECK_EQ(count_packets(name), 13); /* the 4th file, over the 1st */
    snprintf(name, sizeof(name), "%s1", path);
    CHECK_EQ(count_packets(name), 8);
    snprintf(name, sizeof(name), "%s2", path);
    CHECK_EQ(count_packets(name), 13);
    CHECK(!exists(path));
    snprintf(name, sizeof(name), "%s3", path);
    CHECK(!exists(name));
}

static void test_writer_time_rotation(const char *dir)
{
    char path[512], name[600], eb[CAP_ERRMSG_SIZE];
    /* -G 60 with strftime names in UTC; packets every 25 s from 2026-01-01T00:00:00Z */
    snprintf(path, sizeof(path), "%s/g-%%H%%M%%S.pcap", dir);
    struct cap_writer_opts o = {
        .path = path, .dlt = 1, .snaplen = 65535, .rotate_secs = 60, .utc = true};
    struct cap_writer *w = cap_writer_open(&o, eb, sizeof(eb));
    CHECK(w != NULL);
    if (!w)
        return;
    CHECK_EQ(cap_writer_files(w), 0);
    uint64_t t0 = 1767225600ull; /* 2026-01-01T00:00:00Z */
    for (int i = 0; i < 10; i++) {
        struct raw_pkt r = pkt((t0 + 25u * (uint64_t)i) * 1000000u);
        CHECK_EQ(cap_writer_write(w, &r, eb, sizeof(eb)), 0);
    }
    CHECK_EQ(cap_writer_close(w, eb, sizeof(eb)), 0);
    /* windows start at 0, 75, 150, 225 s: 000000 (0,25,50) 000115 (75,100,125) 000230 (150..200)
     * 000345 (225) */
    const char *names[] = {"000000", "000115", "000230", "000345"};
    const int counts[] = {3, 3, 3, 1};
    for (int i = 0; i < 4; i++) {
        snprintf(name, sizeof(name), "%s/g-%s.pcap", dir, names[i]);
        CHECK_EQ(count_packets(name), counts[i]);
    }
    /* -G with -W 2: the third window is refused (tcpdump stops there) */
    snprintf(path, sizeof(path), "%s/w-%%s.pcap", dir);
    o.path = path;
    o.max_files = 2;
    w = cap_writer_open(&o, eb, sizeof(eb));
    CHECK(w != NULL);
    if (!w)
        return;
    int rc = 0, written = 0;
    for (int i = 0; i < 10 && rc == 0; i++) {
        struct raw_pkt r = pkt((t0 + 25u * (uint64_t)i) * 1000000u);
        rc = cap_writer_write(w, &r, eb, sizeof(eb));
        written += rc == 0;
    }
    CHECK_EQ(rc, 1);
    CHECK_EQ(written, 6);
    CHECK_EQ(cap_writer_files(w), 2);
    CHECK_EQ(cap_writer_close(w, eb, sizeof(eb)), 0);
    snprintf(name, sizeof(name), "%s/w-%llu.pcap", dir, (unsigned long long)t0 + 75u);
    CHECK_EQ(count_packets(name), 3);
}

static void test_writer_errors(void)
{
    char eb[CAP_ERRMSG_SIZE] = "";
    if (!exists("/dev/full"))
        return;
    struct cap_writer_opts o = {
        .path = "/dev/full", .dlt = 1, .snaplen = 65535, .flush_each = true};
    struct cap_writer *w = cap_writer_open(&o, eb, sizeof(eb));
    CHECK(w != NULL);
    if (!w)
        return;
    struct raw_pkt r = pkt(1000000u);
    CHECK_EQ(cap_writer_write(w, &r, eb, sizeof(eb)), -1);
    CHECK(strstr(eb, "write to /dev/full failed: No space left on device") != NULL);
    CHECK_EQ(cap_writer_write(w, &r, eb, sizeof(eb)), -1);
    CHECK(cap_writer_close(w, eb, sizeof(eb)) != 0);

    /* buffered: the failure surfaces at close */
    o.flush_each = false;
    w = cap_writer_open(&o, eb, sizeof(eb));
    CHECK(w != NULL);
    if (w) {
        CHECK_EQ(cap_writer_write(w, &r, eb, sizeof(eb)), 0);
        eb[0] = 0;
        CHECK_EQ(cap_writer_close(w, eb, sizeof(eb)), -1);
        CHECK(strstr(eb, "write to /dev/full failed: No space left on device") != NULL);
    }
    /* buffered: the failure shows once the buffer is written, before the close */
    w = cap_writer_open(&o, eb, sizeof(eb));
    CHECK(w != NULL);
    if (w) {
        int rc = 0;
        eb[0] = 0;
        for (int i = 0; i < 10000 && rc == 0; i++)
            rc = cap_writer_write(w, &r, eb, sizeof(eb));
        CHECK_EQ(rc, -1);
        CHECK(strstr(eb, "write to /dev/full failed: No space left on device") != NULL);
        CHECK(cap_writer_close(w, eb, sizeof(eb)) != 0);
    }

    /* unwritable directory */
    o.path = "/nonexistent-dir/x.pcap";
    CHECK(cap_writer_open(&o, eb, sizeof(eb)) == NULL);
    CHECK(strstr(eb, "/nonexistent-dir/x.pcap") && strstr(eb, "No such file"));
}

static void test_dump_roundtrip(const char *dir)
{
    char path[512], eb[CAP_ERRMSG_SIZE];
    snprintf(path, sizeof(path), "%s/rt.pcap", dir);
    struct buf b = {.n = 0};
    pcap_hdr(&b, 0xA1B23C4Du);
    pcap_rec(&b, 0xF0000000u, 999999999u, 60);
    pcap_rec(&b, 0xF0000001u, 1000u, 60);
    struct cap_src *s = cap_open_buffer(b.b, b.n, "ns.pcap", NULL, eb, sizeof(eb));
    CHECK(s != NULL);
    if (!s)
        return;
    struct cap_writer_opts o = {.path = path, .dlt = cap_dlt(s), .snaplen = cap_snaplen(s)};
    struct cap_writer *w = cap_writer_open(&o, eb, sizeof(eb));
    CHECK(w != NULL);
    struct raw_pkt p;
    while (w && cap_next(s, &p, eb, sizeof(eb)) == 1)
        CHECK_EQ(cap_writer_write(w, &p, eb, sizeof(eb)), 0);
    CHECK(w && cap_writer_close(w, eb, sizeof(eb)) == 0);
    cap_close(s);
    const char *paths[] = {path};
    s = cap_open_files(paths, 1, NULL, eb, sizeof(eb));
    CHECK(s != NULL);
    if (!s)
        return;
    uint64_t ts[2];
    int n;
    CHECK_EQ(read_all(s, ts, 2, &n), 0);
    CHECK_EQ(n, 2);
    CHECK(ts[0] == 0xF0000000ull * 1000000u + 999999u);
    CHECK(ts[1] == 0xF0000001ull * 1000000u + 1u);
    CHECK(cap_rereadable(s));
    cap_close(s);
    CHECK(cap_path_rereadable(path));
    CHECK(!cap_path_rereadable("-"));
    CHECK(!cap_path_rereadable(dir));
}

static void test_list_interfaces(void)
{
    FILE *f = tmpfile();
    CHECK(f != NULL);
    if (!f)
        return;
    char eb[CAP_ERRMSG_SIZE];
    int n = cap_list_interfaces(f, eb, sizeof(eb));
    CHECK(n >= 1); /* "lo" and "any" exist on Linux even in an empty namespace */
    rewind(f);
    char line[512];
    int lines = 0;
    bool lo = false;
    while (fgets(line, sizeof(line), f)) {
        char want[16];
        snprintf(want, sizeof(want), "%d.", ++lines);
        CHECK(strncmp(line, want, strlen(want)) == 0);
        if (strncmp(line + strlen(want), "lo ", 3) == 0)
            lo = strstr(line, "Loopback") != NULL;
    }
    CHECK_EQ(lines, n);
    CHECK(lo);
    /* the same text as tcpdump -D when tcpdump is installed (twice: interfaces may come and go) */
    bool same = false,
         have = access("/usr/bin/tcpdump", X_OK) == 0 || access("/usr/sbin/tcpdump", X_OK) == 0;
    for (int attempt = 0; have && attempt < 2 && !same; attempt++) {
        rewind(f);
        if (ftruncate(fileno(f), 0) != 0)
            break;
        cap_list_interfaces(f, eb, sizeof(eb));
        fflush(f);
        rewind(f);
        FILE *t = popen("tcpdump -D 2>/dev/null", "r");
        if (!t)
            break;
        char a[512], b[512];
        same = true;
        for (;;) {
            char *x = fgets(a, sizeof(a), f), *y = fgets(b, sizeof(b), t);
            if (!x || !y) {
                same = same && !x && !y;
                break;
            }
            if (strcmp(a, b) != 0) {
                fprintf(stderr, "-D: ours \"%s\" tcpdump \"%s\"\n", a, b);
                same = false;
            }
        }
        pclose(t);
    }
    if (have)
        CHECK(same);
    fclose(f);
}

/* Our readers against libpcap's on one file: every packet's time (microseconds), lengths and
 * bytes. Files libpcap refuses (pcapng interfaces with different snaplens) are skipped. */
static int compare_with_libpcap(const char *path)
{
    char eb[PCAP_ERRBUF_SIZE];
    pcap_t *p = pcap_open_offline_with_tstamp_precision(path, PCAP_TSTAMP_PRECISION_MICRO, eb);
    if (!p)
        return 0;
    char e2[CAP_ERRMSG_SIZE];
    const char *paths[] = {path};
    struct cap_src *s = cap_open_files(paths, 1, NULL, e2, sizeof(e2));
    CHECK(s != NULL);
    if (!s) {
        pcap_close(p);
        return 0;
    }
    struct pcap_pkthdr *h;
    const u_char *d;
    struct raw_pkt r;
    int n = 0, bad = 0, a, b;
    for (;;) {
        a = pcap_next_ex(p, &h, &d);
        b = cap_next(s, &r, e2, sizeof(e2));
        if (a != 1 || b != 1)
            break;
        n++;
        uint64_t ts = (uint64_t)h->ts.tv_sec * 1000000u + (uint64_t)h->ts.tv_usec;
        if (ts != r.ts_us || h->caplen != r.caplen || h->len != r.len ||
            memcmp(d, r.data, r.caplen) != 0)
            bad++;
    }
    /* libpcap 1.10 stops at the first packet of a pcapng interface whose snaplen differs from
     * the first interface's: our reader reads on, so the ends are compared when libpcap ended
     * cleanly only */
    if (a == PCAP_ERROR)
        a = b;
    if (bad || (a == 1) != (b == 1))
        fprintf(stderr, "%s: %d of %d packets differ from libpcap (ends %d/%d)\n", path, bad, n, a,
                b);
    CHECK_EQ(bad, 0);
    CHECK_EQ(a == 1, b == 1);
    cap_close(s);
    pcap_close(p);
    return 1;
}

static int walk_public(const char *dir, int depth)
{
    DIR *dp = opendir(dir);
    if (!dp || depth > 6) {
        if (dp)
            closedir(dp);
        return 0;
    }
    int files = 0;
    struct dirent *e;
    while ((e = readdir(dp)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        char p[4096];
        snprintf(p, sizeof(p), "%s/%s", dir, e->d_name);
        struct stat st;
        if (stat(p, &st) != 0)
            continue;
        if (S_ISDIR(st.st_mode)) {
            files += walk_public(p, depth + 1);
            continue;
        }
        size_t l = strlen(e->d_name);
        if ((l > 5 && strcmp(e->d_name + l - 5, ".pcap") == 0) ||
            (l > 7 && strcmp(e->d_name + l - 7, ".pcapng") == 0) ||
            (l > 4 && strcmp(e->d_name + l - 4, ".cap") == 0))
            files += compare_with_libpcap(p);
    }
    closedir(dp);
    return files;
}

/* The bundled captures and (when present) the public corpus read identically to libpcap. */
static void test_against_libpcap(void)
{
    const char *src = getenv("VPNSCOPE_SRC");
    const char *shared = getenv("VPNSCOPE_SHARED");
    char d[4096];
    if (src) {
        snprintf(d, sizeof(d), "%s/pcaps", src);
        CHECK(walk_public(d, 0) > 10);
    }
    if (shared) {
        snprintf(d, sizeof(d), "%s/pcaps/public", shared);
        struct stat st;
        if (stat(d, &st) == 0)
            CHECK(walk_public(d, 0) > 50);
    }
}

int main(void)
{
    char dir[] = "/tmp/vpnscope-test-capture.XXXXXX";
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    test_pcap_seconds();
    test_pcap_nsec_and_big_endian();
    test_pcapng_tsresol();
    test_pcapng_tsresol_unsupported();
    test_cut_status();
    test_compressed();
    test_writer_size_rotation(dir);
    test_writer_time_rotation(dir);
    test_writer_errors();
    test_dump_roundtrip(dir);
    test_list_interfaces();
    test_against_libpcap();
    char cmd[600];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
    printf("%d passed, %d failed\n", t_pass, t_fail);
    return t_fail != 0;
}
