/* gen: deterministic generator of large, realistic VPN-behind-NAT captures for benchmarking
 * vpnscope.
 *
 * Standalone C11 (no vpnscope or libpcap dependency): writes classic pcap (DLT_EN10MB, microsecond
 * timestamps) with stdio. Same arguments => byte-identical files.
 *
 *   gen -o out.pcap -n PACKETS [-c CLIENTS] [--seed S]
 *   gen --pair PREFIX -n PACKETS [-c CLIENTS] [--seed S] [--offset SECONDS] [--drift-ppm P]
 *       [--latency-us U] [--drop-rate R]
 *   gen --flood -o flood.pcap -n PACKETS [--flood-flows F] [-c CLIENTS]
 *
 * Traffic per client (each client has one VPN session plus background web/DNS traffic):
 *   55% IKEv2 NAT-T: IKE_SA_INIT on UDP 500 with NAT_DETECTION_SOURCE_IP/DESTINATION_IP notifies
 *       (real SHA-1(SPIi|SPIr|IP|port); the responder hashes the address it sees, i.e. the NAT's),
 *       IKE_AUTH on 4500 behind the non-ESP marker (some IP-fragmented, some of those reordered),
 *       ESP-in-UDP both directions, NAT-T keepalives every 20 s, DPD INFORMATIONAL exchanges.
 *   10% IKEv2 on UDP 500 only (no NAT-D) + raw ESP (IP proto 50), one server per client.
 *    4% the same with AH (IP proto 51, 12-byte ICV, tunnel mode).
 *   15% PPTP: TCP 1723 handshake, SCCRQ/SCCRP/OCRQ/OCRP, echo every 60 s, enhanced GRE v1 + PPP.
 *    9% WireGuard on UDP 51820 from a random client port: handshake initiation / response
 *       (sender / receiver indexes), transport data both ways, 32-byte keepalives every 25 s.
 *    7% OpenVPN over UDP 1194 (no tls-auth): client / server hard resets V2 with session ids,
 *       control packets with ACKs, DATA_V2 with a peer id both ways, 40-byte pings every 10 s.
 *   Background (~60% of packets): HTTPS-like TCP flows (TLS application-data records) and DNS.
 * --pair: inside view (clients 10.0.x.y) and outside view of a Linux-like NAPT router with public
 *   address 203.0.113.1 (ports remapped, raw ESP/AH/GRE addresses rewritten, PPTP Call IDs
 * rewritten to the outside TCP source port, IP checksums recomputed, L4 checksums updated per RFC
 * 1624, TTL decremented). Outside time = inside + latency (default 500 us) + offset + drift. The
 * router drops --drop-rate (default 0.25%) of client->server ESP/AH/GRE/keepalive packets (present
 * inside only): about 0.1% of all outbound packets.
 * --flood: F spoofed one-packet flows (random raw-ESP SPIs / UDP source ports from distinct random
 *   sources) mixed with the genuine traffic of CLIENTS (default 300) clients.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define START_SEC 1767225600ULL /* 2026-01-01T00:00:00Z */
#define PUBLIC_IP 0xCB007101u   /* 203.0.113.1 */
#define MAXPKT 65536
/* NAPT outside ports: above 4500 so that Wireshark picks the dissector of the well-known side */
#define NAT_PORT_LO 5000u

/* ------------------------------------------------------------------ PRNG (xoshiro256**) */
typedef struct {
    uint64_t s[4];
} rng_t;
static uint64_t splitmix(uint64_t *x)
{
    uint64_t z = (*x += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}
static void rng_seed(rng_t *r, uint64_t seed)
{
    for (int i = 0; i < 4; i++)
        r->s[i] = splitmix(&seed);
}
static inline uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}
static inline uint64_t rnd64(rng_t *r)
{
    uint64_t *s = r->s, res = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return res;
}
static inline uint32_t rnd32(rng_t *r)
{
    return (uint32_t)(rnd64(r) >> 32);
}
static inline uint32_t rndr(rng_t *r, uint32_t lo, uint32_t hi)
{ /* inclusive */
    return lo + (uint32_t)(((uint64_t)rnd32(r) * (uint64_t)(hi - lo + 1)) >> 32);
}
static inline double rndu(rng_t *r)
{
    return (double)(rnd64(r) >> 11) * (1.0 / 9007199254740992.0);
}
static inline uint64_t rnd_exp_us(rng_t *r, double mean_us)
{
    return (uint64_t)(-log(1.0 - rndu(r)) * mean_us) + 1;
}

/* ------------------------------------------------------------------ SHA-1 (for NAT-D) */
typedef struct {
    uint32_t h[5];
    uint64_t n;
    uint8_t b[64];
    size_t bl;
} sha1_t;
static void sha1_block(uint32_t *h, const uint8_t *p)
{
    uint32_t w[80], a = h[0], b = h[1], c = h[2], d = h[3], e = h[4];
    for (int i = 0; i < 16; i++)
        w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 |
               (uint32_t)p[4 * i + 2] << 8 | p[4 * i + 3];
    for (int i = 16; i < 80; i++) {
        uint32_t x = w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16];
        w[i] = (x << 1) | (x >> 31);
    }
    for (int i = 0; i < 80; i++) {
        uint32_t f, k;
        if (i < 20) {
            f = (b & c) | (~b & d);
            k = 0x5A827999;
        } else if (i < 40) {
            f = b ^ c ^ d;
            k = 0x6ED9EBA1;
        } else if (i < 60) {
            f = (b & c) | (b & d) | (c & d);
            k = 0x8F1BBCDC;
        } else {
            f = b ^ c ^ d;
            k = 0xCA62C1D6;
        }
        uint32_t t = ((a << 5) | (a >> 27)) + f + e + k + w[i];
        e = d;
        d = c;
        c = (b << 30) | (b >> 2);
        b = a;
        a = t;
    }
    h[0] += a;
    h[1] += b;
    h[2] += c;
    h[3] += d;
    h[4] += e;
}
static void sha1_init(sha1_t *s)
{
    static const uint32_t iv[5] = {0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476, 0xC3D2E1F0};
    memcpy(s->h, iv, sizeof iv);
    s->n = 0;
    s->bl = 0;
}
static void sha1_update(sha1_t *s, const void *data, size_t len)
{
    const uint8_t *p = data;
    s->n += len;
    while (len) {
        size_t k = 64 - s->bl;
        if (k > len)
            k = len;
        memcpy(s->b + s->bl, p, k);
        s->bl += k;
        p += k;
        len -= k;
        if (s->bl == 64) {
            sha1_block(s->h, s->b);
            s->bl = 0;
        }
    }
}
static void sha1_final(sha1_t *s, uint8_t out[20])
{
    uint64_t bits = s->n * 8;
    uint8_t pad = 0x80, z = 0, lb[8];
    sha1_update(s, &pad, 1);
    while (s->bl != 56)
        sha1_update(s, &z, 1);
    for (int i = 0; i < 8; i++)
        lb[i] = (uint8_t)(bits >> (56 - 8 * i));
    sha1_update(s, lb, 8);
    for (int i = 0; i < 5; i++) {
        out[4 * i] = (uint8_t)(s->h[i] >> 24);
        out[4 * i + 1] = (uint8_t)(s->h[i] >> 16);
        out[4 * i + 2] = (uint8_t)(s->h[i] >> 8);
        out[4 * i + 3] = (uint8_t)s->h[i];
    }
}

/* ------------------------------------------------------------------ byte helpers, checksums */
static inline void put16(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}
static inline void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}
static inline void put64(uint8_t *p, uint64_t v)
{
    put32(p, (uint32_t)(v >> 32));
    put32(p + 4, (uint32_t)v);
}
static inline uint32_t get16(const uint8_t *p)
{
    return (uint32_t)p[0] << 8 | p[1];
}
static inline uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* One's-complement sum in network order; chunks must start at even offsets of the summed area. */
static uint64_t csum_add(uint64_t s, const uint8_t *p, size_t n)
{
    while (n >= 8) {
        s += get32(p) >> 16;
        s += get32(p) & 0xffff;
        s += get32(p + 4) >> 16;
        s += get32(p + 4) & 0xffff;
        p += 8;
        n -= 8;
    }
    while (n >= 2) {
        s += get16(p);
        p += 2;
        n -= 2;
    }
    if (n)
        s += (uint32_t)p[0] << 8;
    return s;
}
static inline uint16_t csum_fold(uint64_t s)
{
    while (s >> 16)
        s = (s & 0xffff) + (s >> 16);
    return (uint16_t)~s;
}
/* RFC 1624 incremental update of the checksum at ck for 16-bit-aligned field change old->new. */
static void csum_update(uint8_t *ck, const uint8_t *old, const uint8_t *nw, size_t n, int udp)
{
    uint32_t hc = get16(ck);
    if (udp && hc == 0)
        return; /* no UDP checksum */
    uint64_t s = (~hc) & 0xffff;
    for (size_t i = 0; i < n; i += 2) {
        s += (~get16(old + i)) & 0xffff;
        s += get16(nw + i);
    }
    uint16_t r = csum_fold(s);
    if (udp && r == 0)
        r = 0xffff;
    put16(ck, r);
}

/* ------------------------------------------------------------------ pcap output */
typedef struct {
    FILE *f;
    uint8_t *buf;
    size_t len, cap;
    uint64_t pkts, bytes;
    uint64_t last_ts;
    const char *name;
} out_t;
static void out_flush(out_t *o)
{
    if (o->len && fwrite(o->buf, 1, o->len, o->f) != o->len) {
        fprintf(stderr, "gen: write %s: %s\n", o->name, strerror(errno));
        exit(1);
    }
    o->len = 0;
}
static void out_open(out_t *o, const char *name)
{
    memset(o, 0, sizeof *o);
    o->name = name;
    o->f = fopen(name, "wb");
    if (!o->f) {
        fprintf(stderr, "gen: %s: %s\n", name, strerror(errno));
        exit(1);
    }
    o->cap = 8u << 20;
    o->buf = malloc(o->cap);
    if (!o->buf) {
        perror("malloc");
        exit(1);
    }
    uint8_t h[24];
    uint32_t v[6] = {0xa1b2c3d4u, 0, 0, 0, 262144, 1};
    memcpy(h, &v[0], 4);
    uint16_t maj = 2, min = 4;
    memcpy(h + 4, &maj, 2);
    memcpy(h + 6, &min, 2);
    memcpy(h + 8, &v[1], 4);
    memcpy(h + 12, &v[2], 4);
    memcpy(h + 16, &v[4], 4);
    memcpy(h + 20, &v[5], 4);
    memcpy(o->buf, h, 24);
    o->len = 24;
}
static void out_write(out_t *o, uint64_t ts_us, const uint8_t *p, uint32_t len)
{
    if (ts_us < o->last_ts)
        ts_us = o->last_ts; /* keep the file monotonic */
    o->last_ts = ts_us;
    if (o->len + len + 16 > o->cap)
        out_flush(o);
    uint32_t h[4] = {(uint32_t)(ts_us / 1000000u), (uint32_t)(ts_us % 1000000u), len,
                     len}; /* native order, like libpcap */
    memcpy(o->buf + o->len, h, 16);
    memcpy(o->buf + o->len + 16, p, len);
    o->len += 16 + len;
    o->pkts++;
    o->bytes += len;
}
static void out_close(out_t *o)
{
    out_flush(o);
    if (fclose(o->f)) {
        fprintf(stderr, "gen: close %s: %s\n", o->name, strerror(errno));
        exit(1);
    }
    free(o->buf);
}

/* ------------------------------------------------------------------ model */
enum { V_NATT, V_RAWESP, V_AH, V_PPTP, V_WG, V_OVPN };
enum { EV_VPN, EV_KA, EV_BG };
enum { TO_PEER = 0, FROM_PEER = 1 };
enum { BG_IDLE, BG_DNS_RESP, BG_TCP };

typedef struct {
    uint32_t ip;     /* inside address */
    uint32_t server; /* VPN server */
    uint8_t vtype, step, pend, ka_phase;
    uint16_t port_base; /* first outside port of this client's NAPT block */
    uint32_t rtt;       /* us */
    uint16_t ipid, sipid;
    uint8_t mac[6];
    /* IKE / ESP / AH */
    uint64_t spi_i, spi_r;
    uint32_t spi_out, spi_in, seq_out, seq_in, ike_mid;
    uint8_t frag_auth, frag_reorder, natt_now;
    /* PPTP */
    uint16_t pptp_sport, call_in, call_srv;
    uint32_t pseq_c, pseq_s, gseq_c, gseq_s, echo_id;
    uint8_t gsent_c, gsent_s;
    /* WireGuard / OpenVPN */
    uint16_t tun_port; /* the client's UDP port */
    uint32_t wg_i, wg_r, ovpn_peer, ovpn_pid_c, ovpn_pid_s;
    uint64_t wg_ctr_c, wg_ctr_s, ovpn_csid, ovpn_ssid;
    /* background */
    uint8_t bg_state, bg_phase, bg_rounds, bg_segs, bg_sinceack, bg_slot;
    uint16_t bg_sport, bg_dport, dns_id;
    uint32_t bg_server, tseq_c, tseq_s;
    uint16_t bg_qname;
} client_t;

typedef struct {
    uint64_t t;
    uint32_t c, k;
} ev_t;
static ev_t *heap;
static size_t hn;
static void hpush(uint64_t t, uint32_t c, uint32_t k)
{
    size_t i = hn++;
    while (i) {
        size_t p = (i - 1) / 2;
        if (heap[p].t <= t)
            break;
        heap[i] = heap[p];
        i = p;
    }
    heap[i].t = t;
    heap[i].c = c;
    heap[i].k = k;
}
static ev_t hpop(void)
{
    ev_t top = heap[0], last = heap[--hn];
    size_t i = 0;
    for (;;) {
        size_t l = 2 * i + 1, m;
        if (l >= hn)
            break;
        m = (l + 1 < hn && heap[l + 1].t < heap[l].t) ? l + 1 : l;
        if (heap[m].t >= last.t)
            break;
        heap[i] = heap[m];
        i = m;
    }
    heap[i] = last;
    return top;
}

/* globals */
static rng_t R, RD; /* traffic, drops */
static client_t *cl;
static uint32_t ncl;
static out_t oin, oout;
static int pair_mode, flood_mode;
static uint64_t npk_target, now_us, start_us;
static double offset_s, drift_ppm, drop_rate = 0.0025;
static uint32_t latency_us = 500;
static uint32_t nat_block;
static int done;
static uint8_t pool[1 << 20];

enum { C_IKE, C_ESPUDP, C_ESP, C_AH, C_KA, C_PPTP, C_GRE, C_BG, C_FLOOD, C_WG, C_OVPN };
#define N_CLASS 11
static uint64_t st_class[N_CLASS], st_drop;
static const char *class_name[N_CLASS] = {"ike",       "esp-udp",   "esp",    "ah",
                                          "keepalive", "pptp-tcp",  "gre",    "background",
                                          "flood",     "wireguard", "openvpn"};

static const uint8_t MAC_ROUTER_IN[6] = {0x02, 0x00, 0x5e, 0x00, 0x00, 0x01};
static const uint8_t MAC_ROUTER_OUT[6] = {0x02, 0x00, 0x5e, 0x00, 0x00, 0x02};
static const uint8_t MAC_UPSTREAM[6] = {0x02, 0x00, 0x5e, 0x00, 0x00, 0xfe};

static const char *domains[] = {"example", "cdn-static", "mail",      "news",  "video", "api",
                                "login",   "updates",    "telemetry", "docs",  "shop",  "maps",
                                "weather", "chat",       "storage",   "search"};
static const char *tlds[] = {"com", "net", "org", "io"};

/* outside port for slot s of a client: 0 = IKE 500, 1 = IKE 4500, 2 = PPTP control, 3.. = rotating
 */
static inline uint16_t out_port(const client_t *c, uint32_t slot)
{
    if (nat_block >= 4)
        return (uint16_t)(c->port_base + slot % nat_block);
    uint32_t h = (uint32_t)(c - cl) * 2654435761u ^ slot * 40503u; /* too many clients for blocks */
    return (uint16_t)(NAT_PORT_LO + h % (65536 - NAT_PORT_LO));
}

/* ------------------------------------------------------------------ packet building */
static uint8_t pk[MAXPKT], pko[MAXPKT];

/* Ethernet + IPv4 header; returns pointer past IP header. Addresses/macs of the inside view. */
static uint8_t *mk_ip(uint8_t *b, const client_t *c, int dir, uint32_t src, uint32_t dst,
                      uint8_t proto, uint16_t id, uint8_t ttl)
{
    if (dir == TO_PEER) {
        memcpy(b, MAC_ROUTER_IN, 6);
        memcpy(b + 6, c->mac, 6);
    } else {
        memcpy(b, c->mac, 6);
        memcpy(b + 6, MAC_ROUTER_IN, 6);
    }
    b[12] = 0x08;
    b[13] = 0x00;
    uint8_t *ip = b + 14;
    ip[0] = 0x45;
    ip[1] = 0;
    put16(ip + 2, 0);
    put16(ip + 4, id);
    put16(ip + 6, 0);
    ip[8] = ttl;
    ip[9] = proto;
    put16(ip + 10, 0);
    put32(ip + 12, src);
    put32(ip + 16, dst);
    return ip + 20;
}
static void ip_fin(uint8_t *b, uint32_t iplen)
{
    uint8_t *ip = b + 14;
    put16(ip + 2, iplen);
    put16(ip + 10, 0);
    put16(ip + 10, csum_fold(csum_add(0, ip, 20)));
}
static uint64_t pseudo(const uint8_t *ip, uint8_t proto, uint32_t l4len)
{
    uint64_t s = csum_add(0, ip + 12, 8);
    return s + proto + l4len;
}

/* NAT rewrite of a finished inside packet into the outside view. */
typedef struct {
    uint16_t port_out;
    uint16_t call_in, call_out;
} natinfo_t;
static uint32_t nat_rewrite(uint8_t *b, uint32_t len, int dir, const natinfo_t *ni)
{
    uint8_t *ip = b + 14;
    uint32_t ihl = (ip[0] & 15u) * 4, proto = ip[9], frag = get16(ip + 6) & 0x1fff;
    if (dir == TO_PEER) {
        memcpy(b, MAC_UPSTREAM, 6);
        memcpy(b + 6, MAC_ROUTER_OUT, 6);
    } else {
        memcpy(b, MAC_ROUTER_OUT, 6);
        memcpy(b + 6, MAC_UPSTREAM, 6);
    }
    uint8_t *addr = ip + (dir == TO_PEER ? 12 : 16), oldaddr[4], newaddr[4];
    memcpy(oldaddr, addr, 4);
    put32(newaddr, PUBLIC_IP);
    memcpy(addr, newaddr, 4);
    if (dir == TO_PEER)
        ip[8]--;
    else
        ip[8]++; /* the outside copy of an inbound packet is one hop earlier */
    uint8_t *l4 = ip + ihl;
    uint32_t l4len = get16(ip + 2) - ihl;
    if (frag == 0 && (proto == 6 || proto == 17)) {
        uint8_t *pp = l4 + (dir == TO_PEER ? 0 : 2), oldp[2], newp[2];
        memcpy(oldp, pp, 2);
        put16(newp, ni->port_out);
        memcpy(pp, newp, 2);
        uint8_t *ck = l4 + (proto == 6 ? 16 : 6);
        csum_update(ck, oldaddr, newaddr, 4, proto == 17);
        csum_update(ck, oldp, newp, 2, proto == 17);
        if (proto == 6) {
            uint32_t doff = (l4[12] >> 4) * 4u;
            uint8_t *pl = l4 + doff;
            if (l4len >= doff + 16 && get32(pl + 4) == 0x1A2B3C4Du && get16(pl + 2) == 1) {
                uint32_t type = get16(pl + 8);
                uint8_t *cid = NULL, nv[2];
                if (type == 7 && dir == TO_PEER)
                    cid = pl + 12; /* OCRQ Call ID */
                else if (type == 8 && dir == FROM_PEER)
                    cid = pl + 14; /* OCRP Peer's Call ID */
                if (cid) {
                    uint8_t ov[2];
                    memcpy(ov, cid, 2);
                    put16(nv, ni->call_out);
                    memcpy(cid, nv, 2);
                    csum_update(ck, ov, nv, 2, 0);
                }
            }
        }
    } else if (proto == 47 && dir == FROM_PEER) {
        put16(l4 + 6, ni->call_out); /* enhanced GRE key: peer's (the client's) call id */
    }
    ip_fin(b, get16(ip + 2));
    return len;
}

static inline uint64_t outside_ts(uint64_t ts)
{
    double el = (double)(ts - start_us);
    return (uint64_t)((double)ts + latency_us + offset_s * 1e6 + el * drift_ppm * 1e-6);
}

static void emit(client_t *c, int dir, uint32_t len, int cls, const natinfo_t *ni, uint64_t ts)
{
    if (done)
        return;
    out_write(&oin, ts, pk, len);
    st_class[cls]++;
    if (oin.pkts >= npk_target)
        done = 1;
    if (!pair_mode || !c)
        return;
    if (dir == TO_PEER &&
        (cls == C_ESPUDP || cls == C_ESP || cls == C_AH || cls == C_GRE || cls == C_KA) &&
        rndu(&RD) < drop_rate) {
        st_drop++;
        return;
    }
    memcpy(pko, pk, len);
    nat_rewrite(pko, len, dir, ni);
    out_write(&oout, outside_ts(oin.last_ts), pko, len);
}

/* UDP packet with payload already at pk+42; optional checksum */
static uint32_t mk_udp(client_t *c, int dir, uint32_t peer, uint16_t cport, uint16_t sport,
                       uint32_t plen, int cksum, uint8_t ttl_in)
{
    uint32_t src = dir == TO_PEER ? c->ip : peer, dst = dir == TO_PEER ? peer : c->ip;
    uint16_t id = dir == TO_PEER ? c->ipid++ : c->sipid++;
    uint8_t *u = mk_ip(pk, c, dir, src, dst, 17, id, ttl_in);
    put16(u, dir == TO_PEER ? cport : sport);
    put16(u + 2, dir == TO_PEER ? sport : cport);
    put16(u + 4, 8 + plen);
    put16(u + 6, 0);
    ip_fin(pk, 20 + 8 + plen);
    if (cksum) {
        uint16_t s = csum_fold(csum_add(pseudo(pk + 14, 17, 8 + plen), u, 8 + plen));
        put16(u + 6, s ? s : 0xffff);
    }
    return 14 + 20 + 8 + plen;
}

static uint32_t mk_tcp(client_t *c, int dir, uint32_t peer, uint16_t cport, uint16_t sport,
                       uint32_t seq, uint32_t ack, uint8_t flags, uint32_t plen, int syn_opts)
{
    uint32_t src = dir == TO_PEER ? c->ip : peer, dst = dir == TO_PEER ? peer : c->ip;
    uint16_t id = dir == TO_PEER ? c->ipid++ : c->sipid++;
    uint8_t *t = mk_ip(pk, c, dir, src, dst, 6, id, dir == TO_PEER ? 64 : 52);
    uint32_t hl = syn_opts ? 32 : 20;
    if (syn_opts)
        memmove(t + 32, t + 20, plen); /* payload was written assuming 20-byte header */
    put16(t, dir == TO_PEER ? cport : sport);
    put16(t + 2, dir == TO_PEER ? sport : cport);
    put32(t + 4, seq);
    put32(t + 8, ack);
    t[12] = (uint8_t)((hl / 4) << 4);
    t[13] = flags;
    put16(t + 14, dir == TO_PEER ? 64240 : 65160);
    put16(t + 16, 0);
    put16(t + 18, 0);
    if (syn_opts) {
        static const uint8_t o[12] = {2, 4, 0x05, 0xb4, 1, 1, 4, 2, 1, 3, 3, 7};
        memcpy(t + 20, o, 12);
    }
    ip_fin(pk, 20 + hl + plen);
    put16(t + 16, csum_fold(csum_add(pseudo(pk + 14, 6, hl + plen), t, hl + plen)));
    return 14 + 20 + hl + plen;
}
#define TCP_PL (pk + 14 + 20 + 20)
#define UDP_PL (pk + 14 + 20 + 8)
enum { F_FIN = 1, F_SYN = 2, F_RST = 4, F_PSH = 8, F_ACK = 16 };

static inline void rnd_fill(uint8_t *p, uint32_t n)
{
    uint32_t off = rndr(&R, 0, sizeof pool - n - 1);
    memcpy(p, pool + off, n);
}

/* ---- IKEv2 */
static uint8_t *ike_hdr(uint8_t *p, const client_t *c, uint64_t spir, uint8_t next, uint8_t exch,
                        uint8_t flags, uint32_t mid)
{
    put64(p, c->spi_i);
    put64(p + 8, spir);
    p[16] = next;
    p[17] = 0x20;
    p[18] = exch;
    p[19] = flags;
    put32(p + 20, mid);
    put32(p + 24, 0);
    return p + 28;
}
static void natd_hash(const client_t *c, uint64_t spir, uint32_t ip, uint16_t port, uint8_t out[20])
{
    uint8_t buf[22];
    sha1_t s;
    put64(buf, c->spi_i);
    put64(buf + 8, spir);
    put32(buf + 16, ip);
    put16(buf + 20, port);
    sha1_init(&s);
    sha1_update(&s, buf, 22);
    sha1_final(&s, out);
}
/* IKE_SA_INIT at p; returns length */
static uint32_t ike_sa_init(uint8_t *p, client_t *c, int resp, int natd)
{
    uint8_t *q = ike_hdr(p, c, resp ? c->spi_r : 0, 33, 34, resp ? 0x20 : 0x08, 0);
    /* SA: one proposal, 4 transforms */
    q[0] = 34;
    q[1] = 0;
    put16(q + 2, 48);
    q += 4;
    q[0] = 0;
    q[1] = 0;
    put16(q + 2, 44);
    q[4] = 1;
    q[5] = 1;
    q[6] = 0;
    q[7] = 4;
    q += 8;
    q[0] = 3;
    q[1] = 0;
    put16(q + 2, 12);
    q[4] = 1;
    q[5] = 0;
    put16(q + 6, 12);
    put16(q + 8, 0x800e);
    put16(q + 10, 256);
    q += 12;
    q[0] = 3;
    q[1] = 0;
    put16(q + 2, 8);
    q[4] = 2;
    q[5] = 0;
    put16(q + 6, 5);
    q += 8;
    q[0] = 3;
    q[1] = 0;
    put16(q + 2, 8);
    q[4] = 3;
    q[5] = 0;
    put16(q + 6, 12);
    q += 8;
    q[0] = 0;
    q[1] = 0;
    put16(q + 2, 8);
    q[4] = 4;
    q[5] = 0;
    put16(q + 6, 14);
    q += 8;
    /* KE group 14 */
    q[0] = 40;
    q[1] = 0;
    put16(q + 2, 264);
    put16(q + 4, 14);
    put16(q + 6, 0);
    rnd_fill(q + 8, 256);
    q += 264;
    /* Nonce */
    q[0] = natd ? 41 : 0;
    q[1] = 0;
    put16(q + 2, 36);
    rnd_fill(q + 4, 32);
    q += 36;
    if (natd) {
        uint64_t spir = resp ? c->spi_r : 0;
        uint16_t cport_out = out_port(c, 0);
        /* source = sender's own address; destination = the address the sender sends to */
        uint32_t sip = resp ? c->server : c->ip, dip = resp ? PUBLIC_IP : c->server;
        uint16_t spt = 500, dpt = resp ? cport_out : 500;
        q[0] = 41;
        q[1] = 0;
        put16(q + 2, 28);
        q[4] = 0;
        q[5] = 0;
        put16(q + 6, 16388);
        natd_hash(c, spir, sip, spt, q + 8);
        q += 28;
        q[0] = 0;
        q[1] = 0;
        put16(q + 2, 28);
        q[4] = 0;
        q[5] = 0;
        put16(q + 6, 16389);
        natd_hash(c, spir, dip, dpt, q + 8);
        q += 28;
    }
    uint32_t len = (uint32_t)(q - p);
    put32(p + 24, len);
    return len;
}
/* encrypted message (SK payload) with ciphertext of ~plen bytes */
static uint32_t ike_enc(uint8_t *p, client_t *c, uint8_t exch, int resp, uint32_t mid,
                        uint8_t inner, uint32_t ctlen)
{
    uint8_t *q = ike_hdr(p, c, c->spi_r, 46, exch, resp ? 0x20 : 0x08, mid);
    ctlen = (ctlen + 15) & ~15u;
    uint32_t sk = 4 + 16 + ctlen + 16;
    q[0] = inner;
    q[1] = 0;
    put16(q + 2, sk);
    rnd_fill(q + 4, sk - 4);
    q += sk;
    uint32_t len = (uint32_t)(q - p);
    put32(p + 24, len);
    return len;
}

static void send_ike(client_t *c, int dir, int on4500, uint32_t ikelen_written_at42, uint64_t ts)
{
    /* IKE message already at UDP_PL (+4 when on 4500) */
    natinfo_t ni = {out_port(c, on4500 ? 1 : 0), 0, 0};
    uint16_t port = on4500 ? 4500 : 500;
    uint32_t len =
        mk_udp(c, dir, c->server, port, port, ikelen_written_at42, 1, dir == TO_PEER ? 64 : 52);
    emit(c, dir, len, C_IKE, &ni, ts);
}

/* IP-fragment the UDP datagram currently in pk (full packet len `len`) and emit the pieces */
static void emit_fragmented(client_t *c, int dir, uint32_t len, const natinfo_t *ni, int reorder,
                            uint64_t ts)
{
    static uint8_t whole[MAXPKT];
    memcpy(whole, pk, len);
    uint32_t l3 = len - 14 - 20, maxd = 1480, nfr = (l3 + maxd - 1) / maxd;
    for (uint32_t k = 0; k < nfr; k++) {
        uint32_t i = reorder ? nfr - 1 - k : k;
        uint32_t off = i * maxd, n = l3 - off < maxd ? l3 - off : maxd;
        memcpy(pk, whole, 34);
        memcpy(pk + 34, whole + 34 + off, n);
        put16(pk + 14 + 6, (off / 8) | (i + 1 < nfr ? 0x2000 : 0));
        ip_fin(pk, 20 + n);
        emit(c, dir, 34 + n, C_IKE, ni, ts + k * 12);
    }
}

/* ---- ESP / AH data */
static void esp_packet(client_t *c, int dir, uint64_t ts)
{
    uint32_t ct = dir == FROM_PEER ? (rndu(&R) < 0.6 ? rndr(&R, 60, 82) * 16 : rndr(&R, 3, 30) * 16)
                                   : (rndr(&R, 2, 12) * 16 + (rndu(&R) < 0.2 ? 800 : 0));
    uint32_t spi = dir == TO_PEER ? c->spi_out : c->spi_in,
             seq = dir == TO_PEER ? ++c->seq_out : ++c->seq_in;
    uint32_t espl = 8 + 8 + ct + 16; /* spi seq iv(8, GCM) ct icv */
    uint32_t src = dir == TO_PEER ? c->ip : c->server, dst = dir == TO_PEER ? c->server : c->ip;
    if (c->vtype == V_NATT) {
        uint8_t *e = UDP_PL;
        put32(e, spi);
        put32(e + 4, seq);
        rnd_fill(e + 8, espl - 8);
        natinfo_t ni = {out_port(c, 1), 0, 0};
        uint32_t len = mk_udp(c, dir, c->server, 4500, 4500, espl, 0, dir == TO_PEER ? 64 : 52);
        emit(c, dir, len, C_ESPUDP, &ni, ts);
    } else if (c->vtype == V_RAWESP) {
        uint8_t *e = mk_ip(pk, c, dir, src, dst, 50, dir == TO_PEER ? c->ipid++ : c->sipid++,
                           dir == TO_PEER ? 64 : 52);
        put32(e, spi);
        put32(e + 4, seq);
        rnd_fill(e + 8, espl - 8);
        ip_fin(pk, 20 + espl);
        natinfo_t ni = {0, 0, 0};
        emit(c, dir, 34 + espl, C_ESP, &ni, ts);
    } else { /* AH, tunnel mode: inner IPv4 ICMP echo in clear */
        uint8_t *a = mk_ip(pk, c, dir, src, dst, 51, dir == TO_PEER ? c->ipid++ : c->sipid++,
                           dir == TO_PEER ? 64 : 52);
        uint32_t inner_pl = ct > 1300 ? 1300 : ct;
        a[0] = 4;
        a[1] = 4;
        put16(a + 2, 0);
        put32(a + 4, spi);
        put32(a + 8, seq);
        rnd_fill(a + 12, 12);
        uint8_t *in = a + 24;
        uint32_t cin = 0xAC100000u | (uint32_t)(c - cl), sin = 0x0AC80001u;
        in[0] = 0x45;
        in[1] = 0;
        put16(in + 2, 28 + inner_pl);
        put16(in + 4, (uint16_t)seq);
        put16(in + 6, 0x4000);
        in[8] = 64;
        in[9] = 1;
        put16(in + 10, 0);
        put32(in + 12, dir == TO_PEER ? cin : sin);
        put32(in + 16, dir == TO_PEER ? sin : cin);
        put16(in + 10, csum_fold(csum_add(0, in, 20)));
        uint8_t *ic = in + 20;
        ic[0] = dir == TO_PEER ? 8 : 0;
        ic[1] = 0;
        put16(ic + 2, 0);
        put16(ic + 4, (uint16_t)(c - cl));
        put16(ic + 6, (uint16_t)seq);
        rnd_fill(ic + 8, inner_pl);
        put16(ic + 2, csum_fold(csum_add(0, ic, 8 + inner_pl)));
        ip_fin(pk, 20 + 24 + 28 + inner_pl);
        natinfo_t ni = {0, 0, 0};
        emit(c, dir, 34 + 24 + 28 + inner_pl, C_AH, &ni, ts);
    }
}

/* ---- PPTP */
static uint32_t pptp_msg(uint8_t *p, client_t *c, uint32_t type)
{
    static const uint32_t lens[16] = {0, 156, 156, 16, 16, 16, 20, 168, 32};
    uint32_t len = lens[type];
    memset(p, 0, len);
    put16(p, len);
    put16(p + 2, 1);
    put32(p + 4, 0x1A2B3C4Du);
    put16(p + 8, type);
    switch (type) {
    case 1:
    case 2:
        put16(p + 12, 0x0100);
        if (type == 2) {
            p[14] = 1;
            p[15] = 0;
        } else
            put16(p + 14, 0);
        put32(p + 16, 3);
        put32(p + 20, 3);
        put16(p + 24, type == 1 ? 0 : 1);
        put16(p + 26, type == 1 ? 0x0a28 : 0x1000);
        memcpy(p + 28, type == 1 ? "pns-client" : "pptp-gw", type == 1 ? 10 : 7);
        memcpy(p + 92, type == 1 ? "Microsoft" : "linux", type == 1 ? 9 : 5);
        break;
    case 5:
        put32(p + 12, c->echo_id);
        break;
    case 6:
        put32(p + 12, c->echo_id);
        p[16] = 1;
        break;
    case 7:
        put16(p + 12, c->call_in);
        put16(p + 14, (uint16_t)(c - cl));
        put32(p + 16, 300);
        put32(p + 20, 100000000);
        put32(p + 24, 3);
        put32(p + 28, 3);
        put16(p + 32, 64);
        put16(p + 34, 0);
        put16(p + 36, 0);
        break;
    case 8:
        put16(p + 12, c->call_srv);
        put16(p + 14, c->call_in);
        p[16] = 1;
        p[17] = 0;
        put16(p + 18, 0);
        put32(p + 20, 100000000);
        put16(p + 24, 64);
        put16(p + 26, 0);
        put32(p + 28, 0);
        break;
    }
    return len;
}
static void pptp_ctl(client_t *c, int dir, uint32_t type, uint64_t ts)
{
    uint32_t n = pptp_msg(TCP_PL, c, type);
    natinfo_t ni = {out_port(c, 2), c->call_in, out_port(c, 2)};
    uint32_t len;
    if (dir == TO_PEER) {
        len = mk_tcp(c, dir, c->server, c->pptp_sport, 1723, c->pseq_c, c->pseq_s, F_PSH | F_ACK, n,
                     0);
        c->pseq_c += n;
    } else {
        len = mk_tcp(c, dir, c->server, c->pptp_sport, 1723, c->pseq_s, c->pseq_c, F_PSH | F_ACK, n,
                     0);
        c->pseq_s += n;
    }
    emit(c, dir, len, C_PPTP, &ni, ts);
}
static void pptp_bare(client_t *c, int dir, uint8_t flags, int opts, uint64_t ts)
{
    natinfo_t ni = {out_port(c, 2), c->call_in, out_port(c, 2)};
    uint32_t len = dir == TO_PEER ? mk_tcp(c, dir, c->server, c->pptp_sport, 1723, c->pseq_c,
                                           flags & F_ACK ? c->pseq_s : 0, flags, 0, opts)
                                  : mk_tcp(c, dir, c->server, c->pptp_sport, 1723, c->pseq_s,
                                           c->pseq_c, flags, 0, opts);
    emit(c, dir, len, C_PPTP, &ni, ts);
}
static void gre_packet(client_t *c, int dir, uint64_t ts)
{
    uint32_t src = dir == TO_PEER ? c->ip : c->server, dst = dir == TO_PEER ? c->server : c->ip;
    uint8_t *g = mk_ip(pk, c, dir, src, dst, 47, dir == TO_PEER ? c->ipid++ : c->sipid++,
                       dir == TO_PEER ? 64 : 52);
    uint32_t ppl = dir == FROM_PEER ? (rndu(&R) < 0.55 ? rndr(&R, 900, 1330) : rndr(&R, 40, 300))
                                    : rndr(&R, 40, 400);
    int have_ack = dir == TO_PEER ? c->gsent_s : c->gsent_c;
    g[0] = 0x30;
    g[1] = (uint8_t)((have_ack ? 0x80 : 0) | 1);
    put16(g + 2, 0x880B);
    put16(g + 4, ppl);
    put16(g + 6, dir == TO_PEER ? c->call_srv : c->call_in);
    uint32_t seq = dir == TO_PEER ? c->gseq_c++ : c->gseq_s++;
    put32(g + 8, seq);
    uint32_t hl = 12;
    if (have_ack) {
        put32(g + 12, dir == TO_PEER ? c->gseq_s - 1 : c->gseq_c - 1);
        hl = 16;
    }
    if (dir == TO_PEER)
        c->gsent_c = 1;
    else
        c->gsent_s = 1;
    uint8_t *ppp = g + hl;
    ppp[0] = 0xff;
    ppp[1] = 0x03;
    ppp[2] = 0x00;
    ppp[3] = 0xfd;
    rnd_fill(ppp + 4, ppl - 4);
    ip_fin(pk, 20 + hl + ppl);
    natinfo_t ni = {0, c->call_in, out_port(c, 2)};
    emit(c, dir, 34 + hl + ppl, C_GRE, &ni, ts);
}

/* ---- WireGuard (whitepaper 5.4): indexes little-endian after type + 3 reserved zeros */
#define WG_PORT 51820
#define OVPN_PORT 1194
static void put32le(uint8_t *b, uint32_t v)
{
    b[0] = (uint8_t)v, b[1] = (uint8_t)(v >> 8), b[2] = (uint8_t)(v >> 16),
    b[3] = (uint8_t)(v >> 24);
}
static void wg_send(client_t *c, int dir, uint8_t type, uint32_t len, uint64_t ts)
{
    uint8_t *w = UDP_PL;
    rnd_fill(w, len);
    w[0] = type, w[1] = w[2] = w[3] = 0;
    if (type == 1) {
        put32le(w + 4, c->wg_i);
    } else if (type == 2) {
        put32le(w + 4, c->wg_r);
        put32le(w + 8, c->wg_i);
    } else {
        put32le(w + 4, dir == TO_PEER ? c->wg_r : c->wg_i);
        uint64_t n = dir == TO_PEER ? c->wg_ctr_c++ : c->wg_ctr_s++;
        put32le(w + 8, (uint32_t)n);
        put32le(w + 12, (uint32_t)(n >> 32));
    }
    natinfo_t ni = {out_port(c, 1), 0, 0};
    uint32_t l = mk_udp(c, dir, c->server, c->tun_port, WG_PORT, len, 1, dir == TO_PEER ? 64 : 52);
    emit(c, dir, l, C_WG, &ni, ts);
}
/* transport: 16-byte header + payload padded to 16 + 16-byte tag */
static uint32_t wg_data_len(int dir)
{
    return 32 + 16 * (dir == FROM_PEER ? rndr(&R, 4, 88) : rndr(&R, 2, 40));
}

/* ---- OpenVPN over UDP, no tls-auth (openvpn ssl_pkt.h): opcode << 3 | key id, session id,
 * ACK array (count, ids, peer session id), message packet id; DATA_V2: opcode, 24-bit peer id */
static void ovpn_send(client_t *c, int dir, uint8_t op, uint32_t len, uint64_t ts)
{
    uint8_t *o = UDP_PL;
    rnd_fill(o, len);
    o[0] = (uint8_t)(op << 3);
    if (op == 9) { /* DATA_V2: peer id, then packet id and ciphertext */
        o[1] = (uint8_t)(c->ovpn_peer >> 16), o[2] = (uint8_t)(c->ovpn_peer >> 8);
        o[3] = (uint8_t)c->ovpn_peer;
    } else {
        put64(o + 1, dir == TO_PEER ? c->ovpn_csid : c->ovpn_ssid);
        uint32_t *pid = dir == TO_PEER ? &c->ovpn_pid_c : &c->ovpn_pid_s;
        uint32_t off = 9;
        if (op == 8 || op == 4) { /* acknowledges the peer's last control packet */
            o[off] = 1;
            put32(o + off + 1, dir == TO_PEER ? c->ovpn_pid_s - 1 : c->ovpn_pid_c - 1);
            put64(o + off + 5, dir == TO_PEER ? c->ovpn_ssid : c->ovpn_csid);
            off += 13;
        } else {
            o[off++] = 0;
        }
        put32(o + off, (*pid)++);
    }
    natinfo_t ni = {out_port(c, 1), 0, 0};
    uint32_t l =
        mk_udp(c, dir, c->server, c->tun_port, OVPN_PORT, len, 1, dir == TO_PEER ? 64 : 52);
    emit(c, dir, l, C_OVPN, &ni, ts);
}

/* A WireGuard or OpenVPN client: handshake, then data both ways. */
static int ev_tunnel(client_t *c, uint32_t ci, uint64_t t)
{
    uint32_t half = c->rtt / 2;
    if (c->vtype == V_WG) {
        if (c->step < 2) {
            wg_send(c, c->step ? FROM_PEER : TO_PEER, (uint8_t)(c->step + 1), c->step ? 92 : 148,
                    t);
            c->step++;
            hpush(t + half, ci, EV_VPN);
            return 1;
        }
        int dir = rndu(&R) < 0.55 ? FROM_PEER : TO_PEER;
        wg_send(c, dir, 4, wg_data_len(dir), t);
        return 0;
    }
    if (c->step < 6) { /* resets, then the TLS handshake's control packets */
        static const uint8_t ops[6] = {7, 8, 4, 4, 4, 4};
        int dir = (c->step & 1) ? FROM_PEER : TO_PEER;
        ovpn_send(c, dir, ops[c->step], c->step < 2 ? (c->step ? 26 : 14) : rndr(&R, 120, 1200), t);
        c->step++;
        hpush(t + half, ci, EV_VPN);
        return 1;
    }
    int dir = rndu(&R) < 0.55 ? FROM_PEER : TO_PEER;
    ovpn_send(c, dir, 9, 4 + 4 + 16 + (dir == FROM_PEER ? rndr(&R, 60, 1400) : rndr(&R, 40, 600)),
              t);
    return 0;
}

/* ------------------------------------------------------------------ event handlers */
static void ev_vpn(client_t *c, uint32_t ci, uint64_t t)
{
    uint32_t half = c->rtt / 2;
    if (c->vtype == V_WG || c->vtype == V_OVPN) {
        if (ev_tunnel(c, ci, t))
            return;
        double mean = rndu(&R) < 0.8 ? 6000.0 : 5.2e6;
        hpush(t + rnd_exp_us(&R, mean), ci, EV_VPN);
        return;
    }
    if (c->vtype == V_PPTP) {
        switch (c->step) {
        case 0:
            c->pseq_c = rnd32(&R);
            c->pseq_s = rnd32(&R);
            pptp_bare(c, TO_PEER, F_SYN, 1, t);
            c->pseq_c++;
            c->step++;
            hpush(t + c->rtt / 2, ci, EV_VPN);
            return;
        case 1:
            pptp_bare(c, FROM_PEER, F_SYN | F_ACK, 1, t);
            c->pseq_s++;
            c->step++;
            hpush(t + half, ci, EV_VPN);
            return;
        case 2:
            pptp_bare(c, TO_PEER, F_ACK, 0, t);
            pptp_ctl(c, TO_PEER, 1, t + 30);
            c->step++;
            hpush(t + half, ci, EV_VPN);
            return;
        case 3:
            pptp_ctl(c, FROM_PEER, 2, t);
            c->step++;
            hpush(t + half, ci, EV_VPN);
            return;
        case 4:
            pptp_ctl(c, TO_PEER, 7, t);
            c->step++;
            hpush(t + half, ci, EV_VPN);
            return;
        case 5:
            pptp_ctl(c, FROM_PEER, 8, t);
            c->step++;
            hpush(t + 200, ci, EV_VPN);
            return;
        case 6:
            pptp_bare(c, TO_PEER, F_ACK, 0, t);
            c->step++;
            hpush(t + 1000, ci, EV_VPN);
            hpush(t + 60000000ULL, ci, EV_KA);
            return;
        default:
            break;
        }
        gre_packet(c, rndu(&R) < 0.55 ? FROM_PEER : TO_PEER, t);
    } else {
        int natt = c->vtype == V_NATT;
        if (c->pend) { /* pending DPD response */
            uint8_t *p = UDP_PL + (natt ? 4 : 0);
            if (natt)
                memset(UDP_PL, 0, 4);
            uint32_t n = ike_enc(p, c, 37, 1, c->ike_mid - 1, 0, 0);
            send_ike(c, FROM_PEER, natt, n + (natt ? 4 : 0), t);
            c->pend = 0;
            hpush(t + rnd_exp_us(&R, 300000), ci, EV_VPN);
            return;
        }
        if (c->step < 4) {
            int on4500 = natt && c->step >= 2;
            uint8_t *p = UDP_PL + (on4500 ? 4 : 0);
            if (on4500)
                memset(UDP_PL, 0, 4);
            uint32_t n;
            int dir = (c->step & 1) ? FROM_PEER : TO_PEER;
            if (c->step < 2)
                n = ike_sa_init(p, c, c->step == 1, natt);
            else if (c->step == 2)
                n = ike_enc(p, c, 35, 0, 1, 35,
                            c->frag_auth ? rndr(&R, 2000, 3600) : rndr(&R, 300, 1100));
            else
                n = ike_enc(p, c, 35, 1, 1, 36, rndr(&R, 250, 1100));
            uint32_t ulen = n + (on4500 ? 4 : 0);
            if (c->step == 2 && c->frag_auth) {
                natinfo_t ni = {out_port(c, on4500 ? 1 : 0), 0, 0};
                uint16_t port = on4500 ? 4500 : 500;
                uint32_t len = mk_udp(c, TO_PEER, c->server, port, port, ulen, 1, 64);
                emit_fragmented(c, TO_PEER, len, &ni, c->frag_reorder, t);
            } else
                send_ike(c, dir, on4500, ulen, t);
            c->step++;
            if (c->step == 4)
                c->ike_mid = 2;
            hpush(t + (c->step == 4 ? 2000 : half), ci, EV_VPN);
            return;
        }
        if (rndu(&R) < 0.002) { /* DPD / INFORMATIONAL from the client */
            uint8_t *p = UDP_PL + (natt ? 4 : 0);
            if (natt)
                memset(UDP_PL, 0, 4);
            uint32_t n = ike_enc(p, c, 37, 0, c->ike_mid++, 0, 0);
            send_ike(c, TO_PEER, natt, n + (natt ? 4 : 0), t);
            c->pend = 1;
            hpush(t + c->rtt, ci, EV_VPN);
            return;
        }
        esp_packet(c, rndu(&R) < 0.55 ? FROM_PEER : TO_PEER, t);
    }
    /* bursty data: mostly short gaps, sometimes idle periods */
    double mean = rndu(&R) < 0.8 ? 6000.0 : 5.2e6;
    hpush(t + rnd_exp_us(&R, mean), ci, EV_VPN);
}

static void ev_ka(client_t *c, uint32_t ci, uint64_t t)
{
    if (c->vtype == V_WG || c->vtype == V_OVPN) { /* PersistentKeepalive 25 / ping 10 */
        if (c->vtype == V_WG && c->step >= 2)
            wg_send(c, TO_PEER, 4, 32, t);
        else if (c->vtype == V_OVPN && c->step >= 6)
            ovpn_send(c, TO_PEER, 9, 40, t);
        hpush(t + (c->vtype == V_WG ? 25000000ULL : 10000000ULL), ci, EV_KA);
        return;
    }
    if (c->vtype == V_PPTP) { /* control-connection echo */
        if (c->ka_phase == 0) {
            c->echo_id++;
            pptp_ctl(c, TO_PEER, 5, t);
            c->ka_phase = 1;
            hpush(t + c->rtt, ci, EV_KA);
        } else if (c->ka_phase == 1) {
            pptp_ctl(c, FROM_PEER, 6, t);
            c->ka_phase = 2;
            hpush(t + 40000, ci, EV_KA);
        } else {
            pptp_bare(c, TO_PEER, F_ACK, 0, t);
            c->ka_phase = 0;
            hpush(t + 60000000ULL - c->rtt - 40000, ci, EV_KA);
        }
        return;
    }
    if (c->step >= 4) {
        UDP_PL[0] = 0xff;
        natinfo_t ni = {out_port(c, 1), 0, 0};
        uint32_t len = mk_udp(c, TO_PEER, c->server, 4500, 4500, 1, 1, 64);
        emit(c, TO_PEER, len, C_KA, &ni, t);
    }
    hpush(t + 20000000ULL + rndr(&R, 0, 20000), ci, EV_KA);
}

static uint32_t web_server(uint32_t k)
{
    static const uint32_t nets[] = {0x97650000u, 0x8EFA0000u, 0x68100000u, 0x17D80000u,
                                    0x0D200000u, 0x2C3F0000u, 0xB9C70000u, 0x34D00000u};
    return nets[k % 8] | ((k * 2654435761u >> 8) & 0xfffe) | 1;
}

/* www.<domain><nn>.<tld> A IN question after the 12-byte header; returns message length so far */
static uint32_t dns_question(uint8_t *d, uint32_t q)
{
    char lab[32];
    const char *tld = tlds[(q >> 4) % 4];
    int l2 = snprintf(lab, sizeof lab, "%s%u", domains[q % 16], (unsigned)(q >> 6) % 100);
    uint32_t n = 12, lt = (uint32_t)strlen(tld);
    d[n++] = 3;
    memcpy(d + n, "www", 3);
    n += 3;
    d[n++] = (uint8_t)l2;
    memcpy(d + n, lab, (size_t)l2);
    n += (uint32_t)l2;
    d[n++] = (uint8_t)lt;
    memcpy(d + n, tld, lt);
    n += lt;
    d[n++] = 0;
    put16(d + n, 1);
    put16(d + n + 2, 1);
    return n + 4;
}

static void ev_bg(client_t *c, uint32_t ci, uint64_t t)
{
    natinfo_t ni = {out_port(c, 3 + c->bg_slot), 0, 0};
    uint32_t half = c->rtt / 2, len;
    if (c->bg_state == BG_IDLE) {
        c->bg_slot = (uint8_t)((c->bg_slot + 1) % (nat_block >= 4 ? nat_block - 3 : 250));
        ni.port_out = out_port(c, 3 + c->bg_slot);
        /* Linux-like ephemeral ports: random start, then increasing (no early reuse of a 5-tuple)
         */
        c->bg_sport =
            (uint16_t)(c->bg_sport ? 32768 + (c->bg_sport - 32768 + rndr(&R, 1, 4)) % 28232
                                   : rndr(&R, 32768, 60999));
        if (rndu(&R) < 0.4) { /* DNS query */
            static const uint32_t resolvers[] = {0x08080808u, 0x01010101u, 0x09090909u,
                                                 0x08080404u};
            c->bg_server = resolvers[ci % 4];
            c->dns_id = (uint16_t)rnd32(&R);
            c->bg_qname = (uint16_t)rnd32(&R);
            uint8_t *d = UDP_PL;
            put16(d, c->dns_id);
            put16(d + 2, 0x0100);
            put16(d + 4, 1);
            put16(d + 6, 0);
            put16(d + 8, 0);
            put16(d + 10, 0);
            uint32_t n = dns_question(d, c->bg_qname);
            len = mk_udp(c, TO_PEER, c->bg_server, c->bg_sport, 53, n, 1, 64);
            emit(c, TO_PEER, len, C_BG, &ni, t);
            c->bg_state = BG_DNS_RESP;
            hpush(t + rndr(&R, 3000, 40000), ci, EV_BG);
            return;
        }
        c->bg_server = web_server(rnd32(&R) % 600);
        c->bg_dport = 443;
        c->tseq_c = rnd32(&R);
        c->tseq_s = rnd32(&R);
        c->bg_state = BG_TCP;
        c->bg_phase = 0;
        c->bg_rounds = (uint8_t)rndr(&R, 1, 3);
    }
    if (c->bg_state == BG_DNS_RESP) {
        uint8_t *d = UDP_PL;
        put16(d, c->dns_id);
        put16(d + 2, 0x8180);
        put16(d + 4, 1);
        put16(d + 6, 1);
        put16(d + 8, 0);
        put16(d + 10, 0);
        uint32_t n = dns_question(d, c->bg_qname);
        put16(d + n, 0xc00c);
        put16(d + n + 2, 1);
        put16(d + n + 4, 1);
        put32(d + n + 6, 300);
        put16(d + n + 10, 4);
        put32(d + n + 12, web_server(c->bg_qname % 600));
        n += 16;
        len = mk_udp(c, FROM_PEER, c->bg_server, c->bg_sport, 53, n, 1, 57);
        emit(c, FROM_PEER, len, C_BG, &ni, t);
        c->bg_state = BG_IDLE;
        hpush(t + (rndu(&R) < 0.6 ? rndr(&R, 1000, 5000) : rnd_exp_us(&R, 9e6)), ci, EV_BG);
        return;
    }
    /* HTTPS-like TCP flow, one packet per step */
    uint64_t next = half;
    int dir = TO_PEER;
    uint16_t sp = c->bg_sport;
    uint32_t srv = c->bg_server;
    switch (c->bg_phase) {
    case 0:
        len = mk_tcp(c, TO_PEER, srv, sp, 443, c->tseq_c, 0, F_SYN, 0, 1);
        c->tseq_c++;
        c->bg_phase = 1;
        break;
    case 1:
        dir = FROM_PEER;
        len = mk_tcp(c, dir, srv, sp, 443, c->tseq_s, c->tseq_c, F_SYN | F_ACK, 0, 1);
        c->tseq_s++;
        c->bg_phase = 2;
        next = 300;
        break;
    case 2:
        len = mk_tcp(c, TO_PEER, srv, sp, 443, c->tseq_c, c->tseq_s, F_ACK, 0, 0);
        c->bg_phase = 3;
        next = 200;
        break;
    case 3: { /* client request: one TLS application-data record */
        uint32_t n = rndr(&R, 120, 700);
        uint8_t *p = TCP_PL;
        p[0] = 0x17;
        p[1] = 3;
        p[2] = 3;
        put16(p + 3, n - 5);
        rnd_fill(p + 5, n - 5);
        len = mk_tcp(c, TO_PEER, srv, sp, 443, c->tseq_c, c->tseq_s, F_PSH | F_ACK, n, 0);
        c->tseq_c += n;
        c->bg_phase = 4;
        c->bg_segs = (uint8_t)(rndu(&R) < 0.6 ? rndr(&R, 1, 2) : rndr(&R, 3, 10));
        c->bg_sinceack = 0;
        next = c->rtt;
        break;
    }
    case 4: { /* server response segments, one TLS record each */
        uint32_t n = c->bg_segs == 1 ? rndr(&R, 60, 1300) : 1346;
        uint8_t *p = TCP_PL;
        p[0] = 0x17;
        p[1] = 3;
        p[2] = 3;
        put16(p + 3, n - 5);
        rnd_fill(p + 5, n - 5);
        dir = FROM_PEER;
        len = mk_tcp(c, dir, srv, sp, 443, c->tseq_s, c->tseq_c,
                     c->bg_segs == 1 ? F_PSH | F_ACK : F_ACK, n, 0);
        c->tseq_s += n;
        c->bg_segs--;
        c->bg_sinceack++;
        if (c->bg_sinceack == 2 || c->bg_segs == 0) {
            c->bg_phase = 5;
            next = 150;
        } else
            next = rndr(&R, 80, 600);
        break;
    }
    case 5: /* client ACK */
        len = mk_tcp(c, TO_PEER, srv, sp, 443, c->tseq_c, c->tseq_s, F_ACK, 0, 0);
        c->bg_sinceack = 0;
        if (c->bg_segs) {
            c->bg_phase = 4;
            next = rndr(&R, 100, 800);
        } else if (--c->bg_rounds) {
            c->bg_phase = 3;
            next = rnd_exp_us(&R, 800000);
        } else {
            c->bg_phase = 6;
            next = rnd_exp_us(&R, 2e6);
        }
        break;
    case 6:
        len = mk_tcp(c, TO_PEER, srv, sp, 443, c->tseq_c, c->tseq_s, F_FIN | F_ACK, 0, 0);
        c->tseq_c++;
        c->bg_phase = 7;
        break;
    case 7:
        dir = FROM_PEER;
        len = mk_tcp(c, dir, srv, sp, 443, c->tseq_s, c->tseq_c, F_FIN | F_ACK, 0, 0);
        c->tseq_s++;
        c->bg_phase = 8;
        next = 200;
        break;
    default:
        len = mk_tcp(c, TO_PEER, srv, sp, 443, c->tseq_c, c->tseq_s, F_ACK, 0, 0);
        c->bg_state = BG_IDLE;
        next = rnd_exp_us(&R, 9e6);
        break;
    }
    emit(c, dir, len, C_BG, &ni, t);
    hpush(t + next, ci, EV_BG);
}

/* --------------------------------------------------------------- flood */
static uint32_t bij24(uint32_t k)
{ /* bijection on 24 bits */
    k &= 0xffffff;
    k = (k * 0x9E3779u + 0x5bd1e9u) & 0xffffff;
    k ^= k >> 11;
    k = (k * 0xC2B2AFu) & 0xffffff;
    k ^= k >> 13;
    return k;
}
static void flood_packet(uint64_t k, uint64_t t)
{
    uint32_t src = 0x0B000000u |
                   bij24((uint32_t)k); /* distinct spoofed sources: 11.0.0.0/8, then 45.0.0.0/8 */
    if (k >= 0x1000000)
        src = 0x2D000000u | bij24((uint32_t)(k >> 24) ^ (uint32_t)k);
    uint32_t dst = 0xC6336400u | (10 + (uint32_t)(k % 16)); /* 198.51.100.10-25 */
    uint8_t *b = pk;
    memcpy(b, MAC_UPSTREAM, 6);
    memcpy(b + 6, MAC_ROUTER_OUT, 6);
    b[12] = 8;
    b[13] = 0;
    uint8_t *ip = b + 14;
    ip[0] = 0x45;
    ip[1] = 0;
    put16(ip + 4, (uint16_t)rnd32(&R));
    put16(ip + 6, 0);
    ip[8] = (uint8_t)rndr(&R, 40, 120);
    put32(ip + 12, src);
    put32(ip + 16, dst);
    uint32_t spi = rnd32(&R) | 0x100, n = rndr(&R, 2, 8) * 16 + 24;
    uint8_t *l4 = ip + 20;
    uint32_t l3;
    if (k & 1) {
        ip[9] = 50;
        put32(l4, spi);
        put32(l4 + 4, 1);
        rnd_fill(l4 + 8, n);
        l3 = 20 + 8 + n;
    } else {
        ip[9] = 17;
        put16(l4, (uint16_t)rndr(&R, 1024, 65535));
        put16(l4 + 2, 4500);
        put16(l4 + 4, 8 + 8 + n);
        put16(l4 + 6, 0);
        put32(l4 + 8, spi);
        put32(l4 + 12, 1);
        rnd_fill(l4 + 16, n);
        l3 = 20 + 16 + n;
    }
    ip_fin(b, l3);
    emit(NULL, FROM_PEER, 14 + l3, C_FLOOD, NULL, t);
}

/* --------------------------------------------------------------- main */
static void usage(void)
{
    fprintf(
        stderr,
        "usage: gen -o OUT.pcap -n PACKETS [-c CLIENTS] [--seed S]\n"
        "       gen --pair PREFIX -n PACKETS [-c CLIENTS] [--seed S] [--offset SEC] [--drift-ppm "
        "P]\n"
        "           [--latency-us U] [--drop-rate R]      (writes PREFIX-inside.pcap, "
        "PREFIX-outside.pcap)\n"
        "           R: fraction of outbound ESP/AH/GRE/keepalive packets the router drops (default "
        "0.0025)\n"
        "       gen --flood -o OUT.pcap -n PACKETS [--flood-flows F] [-c CLIENTS (default 300)]\n");
    exit(2);
}
static uint64_t parse_count(const char *s)
{
    char *e;
    double v = strtod(s, &e);
    if (*e == 'k' || *e == 'K')
        v *= 1e3;
    else if (*e == 'M' || *e == 'm')
        v *= 1e6;
    else if (*e == 'G' || *e == 'g')
        v *= 1e9;
    else if (*e)
        usage();
    if (v < 0)
        usage();
    return (uint64_t)v;
}

int main(int argc, char **argv)
{
    const char *outname = NULL, *prefix = NULL;
    uint64_t seed = 1, flood_flows = 5000000;
    int clients_set = 0;
    npk_target = 1000000;
    ncl = 2000;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
#define NEXT() (i + 1 < argc ? argv[++i] : (usage(), (char *)NULL))
        if (!strcmp(a, "-o"))
            outname = NEXT();
        else if (!strcmp(a, "-n"))
            npk_target = parse_count(NEXT());
        else if (!strcmp(a, "-c")) {
            ncl = (uint32_t)parse_count(NEXT());
            clients_set = 1;
        } else if (!strcmp(a, "--seed"))
            seed = strtoull(NEXT(), NULL, 0);
        else if (!strcmp(a, "--pair"))
            prefix = NEXT();
        else if (!strcmp(a, "--offset"))
            offset_s = strtod(NEXT(), NULL);
        else if (!strcmp(a, "--drift-ppm"))
            drift_ppm = strtod(NEXT(), NULL);
        else if (!strcmp(a, "--latency-us"))
            latency_us = (uint32_t)strtoul(NEXT(), NULL, 0);
        else if (!strcmp(a, "--drop-rate"))
            drop_rate = strtod(NEXT(), NULL);
        else if (!strcmp(a, "--flood"))
            flood_mode = 1;
        else if (!strcmp(a, "--flood-flows"))
            flood_flows = parse_count(NEXT());
        else if (!strcmp(a, "-h") || !strcmp(a, "--help"))
            usage();
        else {
            fprintf(stderr, "gen: unknown argument %s\n", a);
            usage();
        }
    }
    if (flood_mode && !clients_set)
        ncl = 300;
    if ((!!outname) == (!!prefix) || npk_target == 0 || ncl == 0 || ncl > 64000 ||
        (flood_mode && prefix))
        usage();
    pair_mode = prefix != NULL;
    nat_block = (65536 - NAT_PORT_LO) / ncl;
    if (nat_block > 256)
        nat_block = 256;
    if (pair_mode && nat_block < 4) {
        fprintf(stderr, "gen: at most 15134 clients in --pair mode\n");
        return 2;
    }
    if (flood_mode && flood_flows > npk_target * 9 / 10)
        flood_flows = npk_target * 9 / 10;

    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    rng_seed(&R, seed);
    rng_seed(&RD, seed ^ 0xD409D409ULL);
    for (size_t i = 0; i < sizeof pool; i += 8) {
        uint64_t v = rnd64(&R);
        memcpy(pool + i, &v, 8);
    }
    start_us = START_SEC * 1000000ULL;

    char nin[4096], nout[4096];
    if (pair_mode) {
        snprintf(nin, sizeof nin, "%s-inside.pcap", prefix);
        snprintf(nout, sizeof nout, "%s-outside.pcap", prefix);
        out_open(&oin, nin);
        out_open(&oout, nout);
    } else
        out_open(&oin, outname);

    cl = calloc(ncl, sizeof *cl);
    heap = malloc(sizeof *heap * ncl * 3 + 16);
    if (!cl || !heap) {
        perror("malloc");
        return 1;
    }
    uint16_t srv_call[8] = {0};
    for (uint32_t i = 0; i < ncl; i++) {
        client_t *c = &cl[i];
        uint32_t host = 0x0A000000u | ((i / 250) << 8) | (2 + i % 250); /* 10.0.x.y */
        if (!pair_mode && i % 4 == 3)
            host = 0xC0A80000u | ((i / 250) << 8) | (2 + i % 250); /* some 192.168.x.y */
        c->ip = host;
        c->mac[0] = 0x02;
        c->mac[1] = 0x10;
        put32(c->mac + 2, i + 1);
        c->port_base = (uint16_t)(NAT_PORT_LO + i * nat_block);
        double u = rndu(&R);
        c->vtype = u < 0.55   ? V_NATT
                   : u < 0.65 ? V_RAWESP
                   : u < 0.69 ? V_AH
                   : u < 0.84 ? V_PPTP
                   : u < 0.93 ? V_WG
                              : V_OVPN;
        c->rtt = rndr(&R, 8000, 90000);
        c->ipid = (uint16_t)rnd32(&R);
        c->sipid = (uint16_t)rnd32(&R);
        c->spi_i = rnd64(&R) | 1;
        c->spi_r = rnd64(&R) | 1;
        c->spi_out = rnd32(&R) | 0x1000;
        c->spi_in = rnd32(&R) | 0x1000;
        switch (c->vtype) {
        case V_NATT:
            c->server = 0xC6336400u | (10 + i % 16); /* 198.51.100.10-25 */
            c->frag_auth = rndu(&R) < 0.12;
            c->frag_reorder = c->frag_auth && rndu(&R) < 0.35;
            break;
        case V_RAWESP:
        case V_AH:
            c->server = 0xC6120000u | (i + 1);
            break; /* 198.18.x.y: one server each */
        case V_WG:
        case V_OVPN:
            c->server = 0xC6336420u | (i % 8); /* 198.51.100.32-39 */
            c->tun_port = (uint16_t)rndr(&R, 32768, 60999);
            c->wg_i = rnd32(&R);
            c->wg_r = rnd32(&R);
            c->ovpn_csid = rnd64(&R);
            c->ovpn_ssid = rnd64(&R);
            c->ovpn_peer = i & 0xffffff;
            break;
        default: {
            uint32_t s = i % 8;
            c->server = 0xCB007132u + s; /* 203.0.113.50-57 */
            c->call_in = (uint16_t)(rndr(&R, 1, 0xfff0));
            c->call_srv = ++srv_call[s] ? srv_call[s] : ++srv_call[s];
            c->pptp_sport = (uint16_t)rndr(&R, 49152, 65000);
            c->echo_id = rnd32(&R);
        }
        }
        hpush(rndr(&R, 0, 20000000) + start_us, i, EV_VPN);
        if (c->vtype == V_NATT || c->vtype == V_WG || c->vtype == V_OVPN)
            hpush(start_us + 20000000ULL + rndr(&R, 0, 20000000), i, EV_KA);
        hpush(rndr(&R, 0, 10000000) + start_us, i, EV_BG);
    }

    uint64_t flood_k = 0;
    while (!done && hn) {
        if (flood_mode && flood_k < flood_flows) {
            uint64_t left = npk_target - oin.pkts;
            if (left && (double)rnd64(&R) / 18446744073709551616.0 * (double)left <
                            (double)(flood_flows - flood_k)) {
                flood_packet(flood_k++, heap[0].t);
                continue;
            }
        }
        ev_t e = hpop();
        now_us = e.t;
        client_t *c = &cl[e.c];
        if (e.k == EV_VPN)
            ev_vpn(c, e.c, e.t);
        else if (e.k == EV_KA)
            ev_ka(c, e.c, e.t);
        else
            ev_bg(c, e.c, e.t);
    }
    uint64_t dur = oin.last_ts - start_us;
    out_close(&oin);
    if (pair_mode)
        out_close(&oout);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double el = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) * 1e-9;
    fprintf(stderr, "gen: %s%s%s: %llu packets (%llu bytes) over %.1f s of capture, %u clients",
            pair_mode ? nin : outname, pair_mode ? " + " : "", pair_mode ? nout : "",
            (unsigned long long)oin.pkts, (unsigned long long)oin.bytes, (double)dur / 1e6, ncl);
    if (pair_mode)
        fprintf(stderr, "; outside %llu packets (%llu dropped by the router)",
                (unsigned long long)oout.pkts, (unsigned long long)st_drop);
    if (flood_mode)
        fprintf(stderr, "; %llu flood flows", (unsigned long long)flood_k);
    fprintf(stderr, "\ngen: mix:");
    for (int k = 0; k < N_CLASS; k++)
        if (st_class[k])
            fprintf(stderr, " %s %.1f%%", class_name[k],
                    100.0 * (double)st_class[k] / (double)oin.pkts);
    fprintf(stderr, "\ngen: %.2f s, %.0f packets/s\n", el, (double)(oin.pkts + oout.pkts) / el);
    return 0;
}
