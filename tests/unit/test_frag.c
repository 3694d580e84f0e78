/* test_frag.c - IPv4/IPv6 fragment reassembly (flow/frag.c). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "t.h"
#include "vpnscope/config.h"
#include "vpnscope/decode.h"
#include "vpnscope/frag.h"
#include "vpnscope/pkt.h"
#include "vpnscope/proto.h"

/* A UDP datagram (the reassembly target), filled by make_dgram: UDP 500 -> 4500, length n, then
 * bytes i*7+3. */
static uint8_t orig[4000];

static void make_dgram(uint32_t n)
{
    for (uint32_t i = 0; i < n; i++)
        orig[i] = (uint8_t)(i * 7 + 3);
    /* UDP header: 500 -> 4500, length n, checksum 0 */
    orig[0] = 0x01;
    orig[1] = 0xf4;
    orig[2] = 0x11;
    orig[3] = 0x94;
    orig[4] = (uint8_t)(n >> 8);
    orig[5] = (uint8_t)n;
    orig[6] = 0;
    orig[7] = 0;
}

static struct pkt P;

static int has(const struct pkt *p, enum anomaly a)
{
    for (unsigned i = 0; i < p->n_anom; i++) {
        if (p->anom[i] == a)
            return 1;
    }
    return 0;
}

/* Fills P as decode_packet does for a fragment of `len` bytes at `off` (IPv4: 20-byte header;
 * IPv6: 40 + 8-byte fragment header); `caplen` of them captured. */
static void mk(uint8_t ipver, uint32_t id, uint8_t proto, uint32_t off, bool mf,
               const uint8_t *data, uint32_t len, uint32_t caplen, uint64_t ts, uint64_t frame)
{
    memset(&P, 0, sizeof(P));
    P.ts_us = ts;
    P.frame = frame;
    P.ipver = ipver;
    P.src.v = P.dst.v = ipver;
    if (ipver == 4) {
        static const uint8_t s4[4] = {10, 0, 0, 1}, d4[4] = {203, 0, 113, 5};
        memcpy(P.src.a, s4, 4);
        memcpy(P.dst.a, d4, 4);
    } else {
        P.src.a[0] = P.dst.a[0] = 0x20;
        P.src.a[1] = P.dst.a[1] = 0x01;
        P.src.a[15] = 1;
        P.dst.a[15] = 2;
    }
    uint32_t hdr = ipver == 4 ? 20 : 48;
    P.ip_id = id;
    P.l4proto = proto;
    P.is_frag = true;
    P.frag_off = off;
    P.frag_mf = mf;
    P.frag_data = data;
    P.frag_data_len = caplen;
    P.l3_len = hdr + caplen;
    P.ip_len = hdr + len;
    if (caplen < len)
        pkt_anom(&P, ANOM_IP_SNAPLEN_SHORT);
}

static int add(struct frag_table *t, struct frag_info *info, const uint8_t **d, uint32_t *l)
{
    return frag_add(t, &P, info, d, l);
}

/* expiry callback: records what it saw */
struct seen {
    unsigned n, timed_out, evicted, end;
    struct frag_info last;
    uint32_t first_id;
};

static void on_expire(void *ctx, const struct frag_info *i)
{
    struct seen *s = ctx;
    if (s->n == 0)
        s->first_id = i->id;
    s->n++;
    s->timed_out += i->timed_out;
    s->evicted += i->evicted;
    s->end += !i->timed_out && !i->evicted;
    s->last = *i;
}

static void test_in_order(void)
{
    struct frag_table *t = frag_new();
    struct frag_info info;
    const uint8_t *d;
    uint32_t l;
    make_dgram(3000);
    /* 0..1480 MF, 1480..2960 MF, 2960..3000 last */
    mk(4, 0x100, IPP_UDP, 0, true, orig, 1480, 1480, 1000, 1);
    CHECK_EQ(add(t, &info, &d, &l), FRAG_PENDING);
    CHECK(info.has_ports);
    CHECK_EQ(info.sport, 500);
    CHECK_EQ(info.dport, 4500);
    CHECK_EQ(info.nfrags, 1);
    CHECK(!info.complete);
    mk(4, 0x100, IPP_UDP, 1480, true, orig + 1480, 1480, 1480, 2000, 2);
    CHECK_EQ(add(t, &info, &d, &l), FRAG_PENDING);
    CHECK_EQ(frag_pending(t), 1);
    mk(4, 0x100, IPP_UDP, 2960, false, orig + 2960, 40, 40, 3000, 3);
    CHECK_EQ(add(t, &info, &d, &l), FRAG_COMPLETE);
    CHECK(info.complete);
    CHECK(!info.out_of_order && !info.overlap && !info.duplicate);
    CHECK_EQ(info.nfrags, 3);
    CHECK_EQ(info.bytes, 3000);
    CHECK_EQ(info.proto, IPP_UDP);
    CHECK_EQ(info.id, 0x100);
    CHECK_EQ(info.first_ts, 1000);
    CHECK_EQ(info.last_ts, 3000);
    CHECK_EQ(info.nframes, 3);
    CHECK_EQ(info.frames[0], 1);
    CHECK_EQ(info.frames[2], 3);
    CHECK_EQ(l, 3000);
    CHECK(d && memcmp(d, orig, 3000) == 0);
    CHECK_EQ(P.n_anom, 0);
    /* the reassembled datagram decodes as UDP with an exact length */
    P.reassembled = true;
    decode_l4(&P, info.proto, d, l);
    CHECK_EQ(P.status, PKT_DECODED);
    CHECK_EQ(P.sport, 500);
    CHECK_EQ(P.payload_len, 2992);
    CHECK_EQ(frag_pending(t), 0);
    CHECK_EQ(frag_stats(t).completed, 1);

    /* the released buffer is reused by the next datagram: memory does not grow */
    uint64_t mem = frag_mem_bytes(t);
    for (uint32_t id = 0; id < 100; id++) {
        mk(4, id, IPP_UDP, 0, true, orig, 1480, 1480, 5000, 10);
        add(t, &info, &d, &l);
        mk(4, id, IPP_UDP, 1480, false, orig + 1480, 1520, 1520, 5000, 11);
        CHECK_EQ(add(t, &info, &d, &l), FRAG_COMPLETE);
    }
    CHECK_EQ(frag_mem_bytes(t), mem);
    frag_free(t);
}

static void test_out_of_order(void)
{
    struct frag_table *t = frag_new();
    struct frag_info info;
    const uint8_t *d;
    uint32_t l;
    make_dgram(3000);
    mk(4, 7, IPP_UDP, 2960, false, orig + 2960, 40, 40, 1, 1);
    CHECK_EQ(add(t, &info, &d, &l), FRAG_PENDING);
    CHECK(!info.has_ports);
    CHECK(!has(&P, ANOM_FRAG_OUT_OF_ORDER));
    mk(4, 7, IPP_UDP, 1480, true, orig + 1480, 1480, 1480, 2, 2);
    CHECK_EQ(add(t, &info, &d, &l), FRAG_PENDING);
    CHECK(has(&P, ANOM_FRAG_OUT_OF_ORDER));
    CHECK(info.out_of_order);
    mk(4, 7, IPP_UDP, 0, true, orig, 1480, 1480, 3, 3);
    CHECK_EQ(add(t, &info, &d, &l), FRAG_COMPLETE);
    CHECK(has(&P, ANOM_FRAG_OUT_OF_ORDER));
    CHECK(info.out_of_order);
    CHECK(info.has_ports);
    CHECK_EQ(l, 3000);
    CHECK(memcmp(d, orig, 3000) == 0);

    /* first and last, then the middle: the middle is lower than the last one */
    mk(4, 8, IPP_UDP, 0, true, orig, 1480, 1480, 1, 1);
    add(t, &info, &d, &l);
    mk(4, 8, IPP_UDP, 2960, false, orig + 2960, 40, 40, 2, 2);
    add(t, &info, &d, &l);
    CHECK(!info.out_of_order);
    mk(4, 8, IPP_UDP, 1480, true, orig + 1480, 1480, 1480, 3, 3);
    CHECK_EQ(add(t, &info, &d, &l), FRAG_COMPLETE);
    CHECK(info.out_of_order);
    CHECK(memcmp(d, orig, 3000) == 0);
    frag_free(t);
}

static void test_overlap_duplicate(void)
{
    struct frag_table *t = frag_new();
    struct frag_info info;
    const uint8_t *d;
    uint32_t l;
    make_dgram(64);

    /* duplicate first fragment */
    mk(4, 1, IPP_UDP, 0, true, orig, 32, 32, 1, 1);
    CHECK_EQ(add(t, &info, &d, &l), FRAG_PENDING);
    mk(4, 1, IPP_UDP, 0, true, orig, 32, 32, 2, 2);
    CHECK_EQ(add(t, &info, &d, &l), FRAG_PENDING);
    CHECK(has(&P, ANOM_FRAG_DUPLICATE));
    CHECK(!has(&P, ANOM_FRAG_OUT_OF_ORDER));
    CHECK(info.duplicate);
    CHECK(!info.overlap);
    CHECK_EQ(info.nfrags, 1);
    mk(4, 1, IPP_UDP, 32, false, orig + 32, 32, 32, 3, 3);
    CHECK_EQ(add(t, &info, &d, &l), FRAG_COMPLETE);
    CHECK(memcmp(d, orig, 64) == 0);
    CHECK_EQ(info.nframes, 3);

    /* IPv4 overlap with the same bytes: [0,32) [16,48) [48,64) */
    mk(4, 2, IPP_UDP, 0, true, orig, 32, 32, 1, 1);
    add(t, &info, &d, &l);
    mk(4, 2, IPP_UDP, 16, true, orig + 16, 32, 32, 2, 2);
    CHECK_EQ(add(t, &info, &d, &l), FRAG_PENDING);
    CHECK(has(&P, ANOM_FRAG_OVERLAP));
    CHECK(info.overlap);
    mk(4, 2, IPP_UDP, 48, false, orig + 48, 16, 16, 3, 3);
    CHECK_EQ(add(t, &info, &d, &l), FRAG_COMPLETE);
    CHECK(info.overlap);
    CHECK(memcmp(d, orig, 64) == 0);

    /* IPv4 overlap with different bytes: kept, the later bytes win */
    uint8_t alt[32];
    memset(alt, 0xee, sizeof(alt));
    mk(4, 3, IPP_UDP, 0, true, orig, 32, 32, 1, 1);
    add(t, &info, &d, &l);
    mk(4, 3, IPP_UDP, 16, false, alt, 32, 32, 2, 2);
    CHECK_EQ(add(t, &info, &d, &l), FRAG_COMPLETE);
    CHECK(has(&P, ANOM_FRAG_OVERLAP));
    CHECK_EQ(l, 48);
    CHECK(memcmp(d, orig, 16) == 0 && d[16] == 0xee && d[47] == 0xee);

    /* IPv6 overlap with different bytes: the datagram is discarded (RFC 5722), later fragments
     * too, and it is not reported again at expiry */
    mk(6, 4, IPP_UDP, 0, true, orig, 32, 32, 1, 1);
    CHECK_EQ(add(t, &info, &d, &l), FRAG_PENDING);
    mk(6, 4, IPP_UDP, 16, true, alt, 16, 16, 2, 2);
    CHECK_EQ(add(t, &info, &d, &l), FRAG_DROPPED);
    CHECK(has(&P, ANOM_FRAG_OVERLAP));
    CHECK(info.dropped);
    mk(6, 4, IPP_UDP, 32, false, orig + 32, 32, 32, 3, 3);
    CHECK_EQ(add(t, &info, &d, &l), FRAG_DROPPED);
    CHECK_EQ(frag_stats(t).dropped, 1);
    /* IPv6 overlap with identical bytes: recorded, kept */
    mk(6, 5, IPP_UDP, 0, true, orig, 32, 32, 1, 1);
    add(t, &info, &d, &l);
    mk(6, 5, IPP_UDP, 16, true, orig + 16, 32, 32, 2, 2);
    CHECK_EQ(add(t, &info, &d, &l), FRAG_PENDING);
    CHECK(has(&P, ANOM_FRAG_OVERLAP));
    mk(6, 5, IPP_UDP, 48, false, orig + 48, 16, 16, 3, 3);
    CHECK_EQ(add(t, &info, &d, &l), FRAG_COMPLETE);
    CHECK(memcmp(d, orig, 64) == 0);

    struct seen s = {0};
    frag_expire(t, UINT64_MAX, on_expire, &s);
    CHECK_EQ(s.n, 0); /* the dropped IPv6 datagram is silent */
    CHECK_EQ(frag_pending(t), 0);
    frag_free(t);
}

static void test_keys(void)
{
    struct frag_table *t = frag_new();
    struct frag_info info;
    const uint8_t *d;
    uint32_t l;
    make_dgram(64);
    /* IPv6: the key has no protocol; the first fragment's next header is the protocol */
    mk(6, 0xabcdef01, 60 /* destination options */, 32, false, orig + 32, 32, 32, 1, 1);
    CHECK_EQ(add(t, &info, &d, &l), FRAG_PENDING);
    mk(6, 0xabcdef01, IPP_UDP, 0, true, orig, 32, 32, 2, 2);
    CHECK_EQ(add(t, &info, &d, &l), FRAG_COMPLETE);
    CHECK_EQ(info.proto, IPP_UDP);
    CHECK_EQ(info.ipver, 6);
    CHECK_EQ(info.id, 0xabcdef01);
    CHECK(memcmp(d, orig, 64) == 0);
    /* IPv4: the protocol is part of the key */
    mk(4, 9, IPP_ESP, 32, false, orig + 32, 32, 32, 1, 1);
    CHECK_EQ(add(t, &info, &d, &l), FRAG_PENDING);
    mk(4, 9, IPP_UDP, 0, true, orig, 32, 32, 2, 2);
    CHECK_EQ(add(t, &info, &d, &l), FRAG_PENDING);
    CHECK_EQ(frag_pending(t), 2);
    /* same id, other source: another datagram */
    mk(4, 9, IPP_UDP, 32, false, orig + 32, 32, 32, 3, 3);
    P.src.a[3] = 99;
    CHECK_EQ(add(t, &info, &d, &l), FRAG_PENDING);
    CHECK_EQ(frag_pending(t), 3);
    /* not a fragment */
    memset(&P, 0, sizeof(P));
    CHECK_EQ(add(t, &info, &d, &l), FRAG_DROPPED);
    frag_free(t);
}

static void test_timeout(void)
{
    struct frag_table *t = frag_new();
    struct frag_info info;
    const uint8_t *d;
    uint32_t l;
    make_dgram(64);
    uint64_t t0 = 1700000000ull * 1000000ull;
    mk(4, 1, IPP_UDP, 0, true, orig, 32, 32, t0, 1);
    add(t, &info, &d, &l);
    mk(6, 2, IPP_UDP, 0, true, orig, 32, 32, t0 + 1, 2);
    add(t, &info, &d, &l);
    struct seen s = {0};
    frag_expire(t, t0 + FRAG_TIMEOUT_US - 1, on_expire, &s);
    CHECK_EQ(s.n, 0);
    frag_expire(t, t0 + FRAG_TIMEOUT_US, on_expire, &s);
    CHECK_EQ(s.n, 1);
    CHECK_EQ(s.timed_out, 1);
    CHECK_EQ(s.last.ipver, 4);
    CHECK(!s.last.complete);
    CHECK(s.last.has_ports);
    CHECK_EQ(s.last.sport, 500);
    /* a fragment of the expired datagram starts a new one */
    mk(4, 1, IPP_UDP, 32, false, orig + 32, 32, 32, t0 + FRAG_TIMEOUT_US + 5, 3);
    CHECK_EQ(add(t, &info, &d, &l), FRAG_PENDING);
    CHECK_EQ(info.nfrags, 1);
    frag_expire(t, t0 + 1 + FRAG6_TIMEOUT_US, on_expire, &s);
    CHECK_EQ(s.n, 2);
    CHECK_EQ(s.last.ipver, 6);
    CHECK_EQ(s.timed_out, 2);
    /* end of capture: incomplete, not timed out */
    frag_expire(t, UINT64_MAX, on_expire, &s);
    CHECK_EQ(s.n, 3);
    CHECK_EQ(s.end, 1);
    CHECK(!s.last.timed_out);
    struct frag_stats st = frag_stats(t);
    CHECK_EQ(st.timed_out, 2);
    CHECK_EQ(st.incomplete_at_end, 1);
    CHECK_EQ(frag_pending(t), 0);
    frag_free(t);
}

static void test_eviction(void)
{
    struct frag_table *t = frag_new();
    struct frag_info info;
    const uint8_t *d;
    uint32_t l;
    make_dgram(64);
    for (uint32_t id = 0; id <= FRAG_MAX_DATAGRAMS; id++) {
        mk(4, id, IPP_UDP, 0, true, orig, 32, 32, 1000 + id, id + 1);
        CHECK_EQ(add(t, &info, &d, &l), FRAG_PENDING);
    }
    CHECK(has(&P, ANOM_FRAG_TABLE_FULL));
    CHECK_EQ(frag_pending(t), FRAG_MAX_DATAGRAMS);
    CHECK_EQ(frag_stats(t).evicted, 1);
    struct seen s = {0};
    frag_expire(t, 1000, on_expire, &s);
    CHECK_EQ(s.n, 1);
    CHECK_EQ(s.evicted, 1);
    CHECK_EQ(s.first_id, 0); /* the oldest */
    /* id 1 can still complete */
    mk(4, 1, IPP_UDP, 32, false, orig + 32, 32, 32, 9999, 9999);
    CHECK_EQ(add(t, &info, &d, &l), FRAG_COMPLETE);
    CHECK(memcmp(d, orig, 64) == 0);
    frag_free(t);

    /* memory cap: datagrams ending near 64 KiB need big buffers */
    t = frag_new();
    static uint8_t big[1480];
    uint64_t maxmem = 0;
    for (uint32_t id = 0; id < 600; id++) {
        mk(4, id, IPP_UDP, 64000, true, big, 1480, 1480, 1000 + id, id + 1);
        int r = add(t, &info, &d, &l);
        CHECK_EQ(r, FRAG_PENDING);
        if (frag_mem_bytes(t) > maxmem)
            maxmem = frag_mem_bytes(t);
    }
    printf("memory cap: max %llu bytes (cap %u), %u pending, %llu evicted\n",
           (unsigned long long)maxmem, (unsigned)FRAG_MAX_BYTES, frag_pending(t),
           (unsigned long long)frag_stats(t).evicted);
    CHECK(maxmem <= FRAG_MAX_BYTES);
    CHECK(frag_stats(t).evicted > 0);
    CHECK_EQ(frag_pending(t) + frag_stats(t).evicted, 600);
    s = (struct seen){0};
    frag_expire(t, 0, on_expire, &s);
    CHECK_EQ(s.evicted, frag_stats(t).evicted < 256 ? frag_stats(t).evicted : 256);
    CHECK_EQ(s.evicted + frag_stats(t).evict_reports_lost, frag_stats(t).evicted);
    frag_free(t);
}

static void test_invalid(void)
{
    struct frag_table *t = frag_new();
    struct frag_info info;
    const uint8_t *d;
    uint32_t l;
    static uint8_t z[2048];
    /* end beyond 65535 */
    mk(4, 1, IPP_UDP, 65528, false, z, 16, 16, 1, 1);
    CHECK_EQ(add(t, &info, &d, &l), FRAG_DROPPED);
    CHECK(has(&P, ANOM_FRAG_TOO_BIG));
    /* non-last fragment not a multiple of 8 */
    mk(4, 2, IPP_UDP, 0, true, z, 12, 12, 1, 1);
    CHECK_EQ(add(t, &info, &d, &l), FRAG_DROPPED);
    CHECK(has(&P, ANOM_FRAG_BAD_LENGTH));
    /* two different ends */
    mk(4, 3, IPP_UDP, 16, false, z, 16, 16, 1, 1);
    CHECK_EQ(add(t, &info, &d, &l), FRAG_PENDING);
    mk(4, 3, IPP_UDP, 16, false, z, 24, 24, 2, 2);
    CHECK_EQ(add(t, &info, &d, &l), FRAG_DROPPED);
    CHECK(has(&P, ANOM_FRAG_BAD_LENGTH));
    /* data past the end */
    mk(4, 4, IPP_UDP, 16, false, z, 16, 16, 1, 1);
    add(t, &info, &d, &l);
    mk(4, 4, IPP_UDP, 64, true, z, 16, 16, 2, 2);
    CHECK_EQ(add(t, &info, &d, &l), FRAG_DROPPED);
    /* too many fragments: FRAG_MAX_FRAGS 8-byte pieces, then one more */
    int r = 0;
    for (uint32_t i = 0; i <= FRAG_MAX_FRAGS; i++) {
        mk(4, 5, IPP_UDP, 8 + i * 8, true, z, 8, 8, i, i);
        r = add(t, &info, &d, &l);
        if (i < FRAG_MAX_FRAGS)
            CHECK_EQ(r, FRAG_PENDING);
    }
    CHECK_EQ(r, FRAG_DROPPED);
    CHECK(has(&P, ANOM_FRAG_TOO_MANY));
    CHECK_EQ(frag_stats(t).dropped, 5);
    frag_free(t);
}

static void test_snapped(void)
{
    struct frag_table *t = frag_new();
    struct frag_info info;
    const uint8_t *d;
    uint32_t l;
    make_dgram(64);
    /* first fragment: 32 bytes on the wire, 20 captured */
    mk(4, 1, IPP_UDP, 0, true, orig, 32, 20, 1, 1);
    CHECK_EQ(add(t, &info, &d, &l), FRAG_PENDING);
    mk(4, 1, IPP_UDP, 32, false, orig + 32, 32, 32, 2, 2);
    CHECK_EQ(add(t, &info, &d, &l), FRAG_COMPLETE);
    CHECK(info.snapped);
    CHECK_EQ(info.bytes, 64);
    CHECK_EQ(l, 20);
    CHECK(memcmp(d, orig, 20) == 0);
    CHECK(has(&P, ANOM_IP_SNAPLEN_SHORT));
    P.reassembled = true;
    decode_l4(&P, 17, d, l);
    CHECK_EQ(P.status, PKT_TRUNCATED);
    CHECK(has(&P, ANOM_UDP_TRUNC));
    frag_free(t);
}

/* Through decode_packet: two Ethernet/IPv4 fragments of a UDP 500 datagram, last one first. */
static const uint8_t frag1[] = {
    /* Ethernet: dst 00:11:22:33:44:55, src 66:77:88:99:aa:bb, type 0x0800 */
    0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0x08, 0x00,
    /* IPv4: total 36, id 0x1237, MF, ttl 64, proto 17, csum 0x4ada, 192.168.1.10 -> 203.0.113.5 */
    0x45, 0x00, 0x00, 0x24, 0x12, 0x37, 0x20, 0x00, 0x40, 0x11, 0x4a, 0xda, 0xc0, 0xa8, 0x01, 0x0a,
    0xcb, 0x00, 0x71, 0x05,
    /* UDP 500 -> 500, length 24, checksum 0, data 1..8 */
    0x01, 0xf4, 0x01, 0xf4, 0x00, 0x18, 0x00, 0x00, 1, 2, 3, 4, 5, 6, 7, 8};
static const uint8_t frag2[] = {
    0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0x08, 0x00,
    /* IPv4: total 28, id 0x1237, offset 2 (16 bytes), ttl 64, proto 17, csum 0x6ae0 */
    0x45, 0x00, 0x00, 0x1c, 0x12, 0x37, 0x00, 0x02, 0x40, 0x11, 0x6a, 0xe0, 0xc0, 0xa8, 0x01, 0x0a,
    0xcb, 0x00, 0x71, 0x05,
    /* data 9..16 */
    9, 10, 11, 12, 13, 14, 15, 16};

static void test_pipeline(void)
{
    struct frag_table *t = frag_new();
    struct frag_info info;
    const uint8_t *d;
    uint32_t l;
    memset(&P, 0, sizeof(P));
    P.dlt = 1;
    P.caplen = P.wirelen = sizeof(frag2);
    P.frame = 1;
    P.ts_us = 10;
    decode_packet(&P, frag2, sizeof(frag2));
    CHECK(P.is_frag);
    CHECK_EQ(frag_add(t, &P, &info, &d, &l), FRAG_PENDING);
    P.caplen = P.wirelen = sizeof(frag1);
    P.frame = 2;
    P.ts_us = 20;
    decode_packet(&P, frag1, sizeof(frag1));
    CHECK_EQ(frag_add(t, &P, &info, &d, &l), FRAG_COMPLETE);
    CHECK(has(&P, ANOM_FRAG_OUT_OF_ORDER));
    CHECK_EQ(l, 24);
    P.reassembled = true;
    decode_l4(&P, info.proto, d, l);
    CHECK_EQ(P.status, PKT_DECODED);
    CHECK_EQ(P.sport, 500);
    CHECK_EQ(P.payload_len, 16);
    CHECK(P.payload && P.payload[0] == 1 && P.payload[15] == 16);
    frag_free(t);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Informational: 1M two-fragment 1500-byte datagrams, 64 interleaved. */
static void bench(void)
{
    struct frag_table *t = frag_new();
    struct frag_info info;
    const uint8_t *d;
    uint32_t l;
    make_dgram(3000);
    enum { N = 1000000 };
    unsigned done = 0;
    double t0 = now_s();
    for (uint32_t i = 0; i < N; i += 64) {
        for (uint32_t k = 0; k < 64; k++) {
            mk(4, i + k, IPP_UDP, 0, true, orig, 1480, 1480, i, i);
            frag_add(t, &P, &info, &d, &l);
        }
        for (uint32_t k = 0; k < 64; k++) {
            mk(4, i + k, IPP_UDP, 1480, false, orig + 1480, 20, 20, i, i);
            done += frag_add(t, &P, &info, &d, &l) == FRAG_COMPLETE;
        }
    }
    double t1 = now_s();
    printf("reassembly: %u datagrams, %.1f ns per fragment (incl. test setup)\n", done,
           (t1 - t0) * 1e9 / (2.0 * N));
    CHECK(done >= N - 64);
    frag_free(t);
}

int main(void)
{
    test_in_order();
    test_out_of_order();
    test_overlap_duplicate();
    test_keys();
    test_timeout();
    test_eviction();
    test_invalid();
    test_snapped();
    test_pipeline();
    bench();
    return t_done();
}
