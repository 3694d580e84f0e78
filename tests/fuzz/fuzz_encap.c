/* fuzz_encap.c - libFuzzer target for the encapsulation decoders (decode/encap.c and the IP in
 * IP hook of decode.c): VXLAN, Geneve, ERSPAN I/II/III, GRE TEB, GRE with IP, MPLS, IP in IP,
 * GTP-U and L2TPv2 data. The harness builds a valid outer Ethernet + IPv4/IPv6 (+ UDP) frame
 * around the fuzzed bytes so that mutations land on the wrapper headers and what they carry,
 * not on the outer layers every other target already covers. Invariants that abort when broken:
 *  - the nesting depth never passes VPNSCOPE_MAX_LAYERS and matches the kinds recorded;
 *  - a traffic tunnel recorded as the outermost one is a tunnel kind, and is in the mask;
 *  - every pointer the decoder leaves in the packet lies within the captured bytes;
 *  - at most 8 anomalies are kept and the status is one of the four.
 * Input: byte 0 = selector: low 4 bits the carrier (table below, modulo its size), bit 4 outer
 * IPv6, bits 5..7 bytes the capture cut from the end (wire length stays whole). The rest is the
 * carrier's payload (for carrier 0 the whole Ethernet frame). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vpnscope/config.h"
#include "vpnscope/decode.h"
#include "vpnscope/encap.h"
#include "vpnscope/pkt.h"
#include "vpnscope/proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define REQUIRE(c)                                                                                 \
    do {                                                                                           \
        if (!(c)) {                                                                                \
            fprintf(stderr, "fuzz_encap: invariant failed: %s (line %d)\n", #c, __LINE__);         \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

#define DLT_EN10MB_ 1
#define ETH_HLEN 14
#define IPV4_HLEN 20
#define IPV6_HLEN 40
#define UDP_HLEN_ 8
#define MAX_BODY 65000u

enum carrier_kind { C_FRAME, C_UDP, C_GRE, C_MPLS, C_IP4IN, C_IP6IN };

static const struct carrier {
    enum carrier_kind kind;
    uint16_t sport, dport; /* C_UDP */
} carriers[] = {
    {C_FRAME, 0, 0},     {C_UDP, 49152, 4789}, {C_UDP, 49152, 8472}, {C_UDP, 49152, 6081},
    {C_UDP, 2152, 2152}, {C_UDP, 1701, 1701},  {C_UDP, 40000, 1701}, {C_GRE, 0, 0},
    {C_MPLS, 0, 0},      {C_IP4IN, 0, 0},      {C_IP6IN, 0, 0},      {C_UDP, 2152, 40000},
};
#define N_CARRIERS (sizeof(carriers) / sizeof(carriers[0]))

static void put16(uint8_t *b, uint16_t v)
{
    b[0] = (uint8_t)(v >> 8);
    b[1] = (uint8_t)v;
}

/* Ethernet + outer IP (+ UDP) in front of body: returns the frame length. */
static size_t build(uint8_t *f, const struct carrier *c, bool v6, const uint8_t *body, size_t n)
{
    if (c->kind == C_FRAME) {
        memcpy(f, body, n);
        return n;
    }
    memset(f, 0, ETH_HLEN);
    f[0] = 0x02;
    f[6] = 0x02;
    f[11] = 1;
    size_t off = ETH_HLEN;
    if (c->kind == C_MPLS) {
        put16(f + 12, 0x8847);
        memcpy(f + off, body, n);
        return off + n;
    }
    put16(f + 12, v6 ? 0x86dd : 0x0800);
    uint8_t proto = c->kind == C_UDP     ? IPP_UDP
                    : c->kind == C_GRE   ? IPP_GRE
                    : c->kind == C_IP4IN ? IPP_IPIP
                                         : IPP_IPV6;
    size_t l4 = n + (c->kind == C_UDP ? UDP_HLEN_ : 0);
    uint8_t *ip = f + off;
    if (v6) {
        memset(ip, 0, IPV6_HLEN);
        ip[0] = 0x60;
        put16(ip + 4, (uint16_t)l4);
        ip[6] = proto;
        ip[7] = 64;
        ip[8] = 0x20;
        ip[9] = 0x01;
        ip[23] = 1;
        ip[24] = 0x20;
        ip[25] = 0x01;
        ip[39] = 2;
        off += IPV6_HLEN;
    } else {
        memset(ip, 0, IPV4_HLEN);
        ip[0] = 0x45;
        put16(ip + 2, (uint16_t)(IPV4_HLEN + l4));
        ip[8] = 64;
        ip[9] = proto;
        ip[12] = 10;
        ip[15] = 1;
        ip[16] = 10;
        ip[19] = 2;
        off += IPV4_HLEN;
    }
    if (c->kind == C_UDP) {
        put16(f + off, c->sport);
        put16(f + off + 2, c->dport);
        put16(f + off + 4, (uint16_t)l4);
        put16(f + off + 6, 0);
        off += UDP_HLEN_;
    }
    memcpy(f + off, body, n);
    return off + n;
}

static void within(const uint8_t *ptr, uint32_t len, const uint8_t *base, uint32_t caplen)
{
    if (!ptr)
        return;
    REQUIRE(ptr >= base && ptr <= base + caplen);
    REQUIRE(len <= (uint32_t)(base + caplen - ptr));
}

static void check(const struct pkt *p, const uint8_t *base, uint32_t caplen)
{
    REQUIRE(p->status == PKT_DECODED || p->status == PKT_TRUNCATED || p->status == PKT_INVALID ||
            p->status == PKT_NON_IP);
    REQUIRE(p->n_anom <= 8);
    REQUIRE(p->encap_depth <= VPNSCOPE_MAX_LAYERS);
    REQUIRE((p->encap_mask >> ENCAP__COUNT) == 0 && (p->encap_mask & 1u) == 0);
    REQUIRE((p->encap_depth == 0) == (p->encap_mask == 0));
    unsigned kinds = (unsigned)__builtin_popcount(p->encap_mask);
    REQUIRE(kinds <= p->encap_depth);
    if (p->tunnel_kind) {
        REQUIRE(p->tunnel_kind < ENCAP__COUNT && !encap_is_wrapper(p->tunnel_kind));
        REQUIRE(p->encap_mask & (1u << p->tunnel_kind));
    }
    within(p->l3, p->l3_len, base, caplen);
    within(p->l4, p->l4_len, base, caplen);
    within(p->payload, p->payload_len, base, caplen);
    if (!p->is_frag)
        REQUIRE(p->frag_data == NULL || p->frag_data_len == 0 ||
                (p->frag_data >= base && p->frag_data <= base + caplen));
    if (p->ipver)
        REQUIRE(p->ipver == 4 || p->ipver == 6);
    for (unsigned k = 0; k <= ENCAP__COUNT; k++)
        REQUIRE(encap_name(k)[0] != '\0');
    REQUIRE(strcmp(encap_name(ENCAP__COUNT), "unknown") == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size - 1 > MAX_BODY)
        return 0;
    uint8_t sel = data[0];
    const struct carrier *c = &carriers[(sel & 0x0fu) % N_CARRIERS];
    bool v6 = (sel & 0x10u) != 0;
    uint32_t cut = sel >> 5;
    size_t n = size - 1;
    uint8_t *f = malloc(ETH_HLEN + IPV6_HLEN + UDP_HLEN_ + n);
    if (!f)
        return 0;
    size_t flen = build(f, c, v6, data + 1, n);
    uint32_t caplen = (uint32_t)flen > cut ? (uint32_t)flen - cut : 0;
    /* an exact-size copy so ASan sees any read past the captured bytes */
    uint8_t *cap = malloc(caplen ? caplen : 1);
    if (!cap) {
        free(f);
        return 0;
    }
    memcpy(cap, f, caplen);
    free(f);

    struct pkt p;
    memset(&p, 0, sizeof(p));
    p.dlt = DLT_EN10MB_;
    p.caplen = caplen;
    p.wirelen = (uint32_t)flen;
    p.frame = 1;
    decode_packet(&p, cap, caplen);
    check(&p, cap, caplen);
    if (p.status == PKT_DECODED && p.has_ports && !p.is_frag) {
        decode_app(&p, HINT_NONE);
        check(&p, cap, caplen);
    }
    free(cap);
    return 0;
}
