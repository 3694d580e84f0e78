/* ndpi.c - flow labelling with libndpi 4.2+ (the only vpnscope file that includes nDPI). */
#include "vpnscope/classify.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <netinet/in.h> /* IPPROTO_TCP */

#include <ndpi_api.h>

/*
 * nDPI API gates, from nDPI's own change history. nDPI's NDPI_API_VERSION is a
 * git-count sum, not a stable gate, so gate on NDPI_MAJOR/NDPI_MINOR from
 * ndpi_define.h. < 4.4   IPsec id is NDPI_PROTOCOL_IP_IPSEC (79); 4.4 renamed
 * it NDPI_PROTOCOL_IPSEC.
 *   >= 4.6  ndpi_detection_process_packet() takes a 6th `input_info` argument
 * (NULL is allowed); ndpi_set_protocol_detection_bitmask2() returns int.
 *   >= 4.10 ndpi_init_detection_module(struct ndpi_global_context *) (NULL: no
 * global context); ndpi_finalize_initialization() returns int;
 * ndpi_detection_giveup(mod, flow, &guessed).
 *   >= 4.12 ndpi_protocol nests the ids: .proto.{master,app}_protocol;
 * ndpi_protocol2name() takes that nested ndpi_master_app_protocol.
 *   >= 5.0  no bitmask (all protocols on by default);
 * ndpi_detection_giveup(mod, flow); ndpi_extra_dissection_possible() removed:
 * the result carries .state. Only 4.2 (Debian 12) is compiled and tested here;
 * the newer branches follow the documented signatures and are kept small.
 */
#define CLASSIFY_NDPI_AT_LEAST(maj, min)                                                           \
    (NDPI_MAJOR > (maj) || (NDPI_MAJOR == (maj) && NDPI_MINOR >= (min)))

#if CLASSIFY_NDPI_AT_LEAST(4, 12)
#define NP_MASTER(p) ((p).proto.master_protocol)
#define NP_APP(p) ((p).proto.app_protocol)
#define NP_NAME_ARG(p) ((p).proto)
#else
#define NP_MASTER(p) ((p).master_protocol)
#define NP_APP(p) ((p).app_protocol)
#define NP_NAME_ARG(p) (p)
#endif

#if CLASSIFY_NDPI_AT_LEAST(4, 4)
#define CLASSIFY_ID_IPSEC NDPI_PROTOCOL_IPSEC
#else
#define CLASSIFY_ID_IPSEC NDPI_PROTOCOL_IP_IPSEC
#endif

/*
 * nDPI 4.2 keeps a TCP flow's TLS reassembly buffer (flow->l4.tcp.tls.message, tls.c
 * ndpi_search_tls_tcp_memory) from the first TCP payload it sees until ndpi_free_flow_data(): 2,048
 * bytes, realloc'ed to the largest record seen, on every TCP flow the TLS dissector runs on (every
 * TCP flow with payload: it never excludes itself on TCP), also while no record is pending. Read
 * from the 4.2 source (tls.c, ndpi_main.c, ndpi_typedefs.h):
 *  - only tls.c touches l4.tcp.tls.message (ndpi_main.c frees it), and only through
 *    ndpi_search_tls_tcp(), which first calls ndpi_search_tls_tcp_memory(): when buffer is NULL
 *    that allocates a fresh one (buffer_len 2048, buffer_used 0) with ndpi_malloc(); else it grows
 *    it by ndpi_realloc() when buffer_len - buffer_used is short, then appends the payload at
 *    buffer_used (when its seq is next_seq[dir]);
 *  - the record loop reads buffer[0 .. buffer_used) only, and consumes whole records, moving what
 *    is left to the front; so with buffer_used == 0 the bytes are never read again, and the next
 *    packet finds the same state in a fresh buffer as in the old one (only buffer_len differs,
 *    which sizes the allocation and nothing else). next_seq[] lives beside the buffer, untouched;
 *  - l4 is a union: l4.tcp is the flow's only when l4_proto is TCP (ndpi_free_flow_data tests the
 *    same); UDP flows (DTLS: ndpi_search_tls_udp, QUIC) never use message;
 *  - extra dissection (tlsInitExtraPacketProcessing) runs ndpi_search_tls_tcp() again, same path.
 * So after a packet that leaves no partial record, the buffer is freed (ndpi_free, as nDPI
 * allocated it with ndpi_malloc) and buffer/buffer_len zeroed: the next TLS packet allocates
 * again (should that allocation fail, nDPI skips the packet, as when its realloc fails). Only for
 * the layout checked (4.2); other versions keep nDPI's behaviour. Other per-flow
 * heap in 4.2 (http.* strings, tls_quic.* strings, kerberos_buf, quic_reasm_buf) is made at
 * detection, which ends the flow's state here, or holds data still pending: nothing to trim.
 */
#if NDPI_MAJOR == 4 && NDPI_MINOR == 2
#define CLASSIFY_TRIM_TLS 1
#else
#define CLASSIFY_TRIM_TLS 0
#endif

struct classifier {
    struct ndpi_detection_module_struct *mod;
    bool keep_tls_buffers; /* classify_set_trim(c, false): nDPI's own behaviour, for tests */
};

struct classify_flow {
    struct ndpi_flow_struct *nf; /* ndpi_detection_get_sizeof_ndpi_flow_struct() bytes, zeroed, in
                                    the same allocation right after this struct */
    ndpi_protocol last;          /* what the last packet (or the give-up) returned */
    bool gave_up;                /* ndpi_detection_giveup() already ran: `last` is its answer */
    bool guessed;                /* the give-up answer came from a port/IP guess */
};

/* Offset of the nDPI flow struct in a classify_flow allocation (aligned for it). */
#define CLASSIFY_NF_ALIGN _Alignof(struct ndpi_flow_struct)
#define CLASSIFY_NF_OFFSET                                                                         \
    ((sizeof(struct classify_flow) + CLASSIFY_NF_ALIGN - 1) / CLASSIFY_NF_ALIGN * CLASSIFY_NF_ALIGN)

/*
 * VPN and tunnel protocols as nDPI 4.2 numbers them (ndpi_protocol_ids.h).
 * Protocols added after 4.2 (SoftEther, ZeroTier, ...) are not named here: nDPI
 * puts them in category VPN, which classify_result() checks too. nDPI 4.2's
 * category VPN holds 79, 115, 159, 161, 163 (Tor), 206, 209, 215, 259 and 277
 * (iCloudPrivateRelay); GRE and IP-in-IP are category Network, hence this list.
 * Tor is an anonymity overlay, not a VPN: classify_result() excludes it despite
 * its category. Teredo, AYIYA, GTP, CAPWAP and LISP are not counted as VPNs
 * either.
 */
static const uint16_t classify_vpn_ids[] = {
    CLASSIFY_ID_IPSEC,            /* 79: ESP, AH, and IKE guessed by port */
    NDPI_PROTOCOL_IP_GRE,         /* 80 */
    NDPI_PROTOCOL_IP_IP_IN_IP,    /* 86 */
    NDPI_PROTOCOL_PPTP,           /* 115 */
    NDPI_PROTOCOL_OPENVPN,        /* 159 */
    NDPI_PROTOCOL_CISCOVPN,       /* 161 */
    NDPI_PROTOCOL_WIREGUARD,      /* 206 */
    NDPI_PROTOCOL_TINC,           /* 209 */
    NDPI_PROTOCOL_HOTSPOT_SHIELD, /* 215 */
    NDPI_PROTOCOL_FORTICLIENT,    /* 259 */
};

static bool classify_is_vpn_id(uint16_t id)
{
    for (size_t i = 0; i < sizeof(classify_vpn_ids) / sizeof(classify_vpn_ids[0]); i++) {
        if (classify_vpn_ids[i] == id)
            return true;
    }
    return false;
}

static bool classify_known(ndpi_protocol p)
{
    return NP_APP(p) != NDPI_PROTOCOL_UNKNOWN || NP_MASTER(p) != NDPI_PROTOCOL_UNKNOWN;
}

static void classify_err(char *errbuf, size_t errlen, const char *msg)
{
    if (errbuf && errlen > 0)
        snprintf(errbuf, errlen, "nDPI: %s", msg);
}

#if !CLASSIFY_NDPI_AT_LEAST(5, 0)
/*
 * The dissectors that matter for VPN troubleshooting: every protocol nDPI files under the VPN
 * category, the tunnels, and the carriers SSL VPNs and their control traffic ride on (TLS, DTLS,
 * HTTP, QUIC, DNS, SSH, STUN). nDPI runs each enabled dissector on every undecided packet, so this
 * is most of its cost; --all-flows enables all protocols.
 */
static void vpn_bitmask(struct ndpi_detection_module_struct *mod, NDPI_PROTOCOL_BITMASK *bm)
{
    static const uint16_t keep[] = {
        NDPI_PROTOCOL_DNS,
        NDPI_PROTOCOL_HTTP,
        NDPI_PROTOCOL_DTLS,
        NDPI_PROTOCOL_STUN,
        NDPI_PROTOCOL_IP_IPSEC,
        NDPI_PROTOCOL_IP_GRE,
        NDPI_PROTOCOL_IP_IP_IN_IP,
        NDPI_PROTOCOL_TLS,
        NDPI_PROTOCOL_SSH,
        NDPI_PROTOCOL_PPTP,
        NDPI_PROTOCOL_OPENVPN,
        NDPI_PROTOCOL_CISCOVPN,
        NDPI_PROTOCOL_QUIC,
        NDPI_PROTOCOL_WIREGUARD,
        NDPI_PROTOCOL_FORTICLIENT,
        NDPI_PROTOCOL_TINC,
        NDPI_PROTOCOL_HOTSPOT_SHIELD,
    };
    NDPI_BITMASK_RESET(*bm);
    for (size_t i = 0; i < sizeof(keep) / sizeof(keep[0]); i++)
        NDPI_ADD_PROTOCOL_TO_BITMASK(*bm, keep[i]);
    ndpi_proto_defaults_t *d = ndpi_get_proto_defaults(mod);
    u_int n = ndpi_get_num_supported_protocols(mod);
    for (u_int i = 0; d && i < n && i < NDPI_MAX_SUPPORTED_PROTOCOLS; i++)
        if (d[i].protoCategory == NDPI_PROTOCOL_CATEGORY_VPN)
            NDPI_ADD_PROTOCOL_TO_BITMASK(*bm, i);
}
#endif

struct classifier *classify_new(bool all_protocols, char *errbuf, size_t errlen)
{
    struct classifier *c = calloc(1, sizeof(*c));
    if (!c) {
        classify_err(errbuf, errlen, "out of memory");
        return NULL;
    }
#if CLASSIFY_NDPI_AT_LEAST(4, 10)
    c->mod = ndpi_init_detection_module(NULL);
#else
    c->mod = ndpi_init_detection_module(ndpi_no_prefs);
#endif
    if (!c->mod) {
        classify_err(errbuf, errlen, "ndpi_init_detection_module failed");
        goto fail;
    }
#if !CLASSIFY_NDPI_AT_LEAST(5, 0)
    NDPI_PROTOCOL_BITMASK all;
    if (all_protocols)
        NDPI_BITMASK_SET_ALL(all);
    else
        vpn_bitmask(c->mod, &all);
#if CLASSIFY_NDPI_AT_LEAST(4, 6)
    if (ndpi_set_protocol_detection_bitmask2(c->mod, &all) != 0) {
        classify_err(errbuf, errlen, "ndpi_set_protocol_detection_bitmask2 failed");
        goto fail;
    }
#else
    ndpi_set_protocol_detection_bitmask2(c->mod, &all);
#endif
#endif
#if CLASSIFY_NDPI_AT_LEAST(4, 10)
    if (ndpi_finalize_initialization(c->mod) != 0) {
        classify_err(errbuf, errlen, "ndpi_finalize_initialization failed");
        goto fail;
    }
#else
    ndpi_finalize_initialization(c->mod);
#endif
    return c;

fail:
    classify_free(c);
    return NULL;
}

void classify_free(struct classifier *c)
{
    if (!c)
        return;
    if (c->mod)
        ndpi_exit_detection_module(c->mod);
    free(c);
}

struct classify_flow *classify_flow_new(struct classifier *c)
{
    (void)c;
    /* nDPI needs a zeroed flow struct; we own it (one calloc with ours) and release it with
     * free(). The header's size is the floor: this file reads fields of it. */
    size_t nf_size = ndpi_detection_get_sizeof_ndpi_flow_struct();
    if (nf_size < sizeof(struct ndpi_flow_struct))
        nf_size = sizeof(struct ndpi_flow_struct);
    unsigned char *mem = calloc(1, CLASSIFY_NF_OFFSET + nf_size);
    if (!mem)
        return NULL;
    struct classify_flow *f = (struct classify_flow *)(void *)mem;
    f->nf = (struct ndpi_flow_struct *)(void *)(mem + CLASSIFY_NF_OFFSET);
    return f;
}

void classify_flow_free(struct classify_flow *f)
{
    if (!f)
        return;
    /*
     * ndpi_free_flow() would be ndpi_free_flow_data() + ndpi_free(flow) (nDPI 4.2
     * ndpi_main.c), and ndpi_free() may be a user-set allocator; the struct came
     * from calloc(), so release the members with nDPI and the struct with free().
     */
    ndpi_free_flow_data(f->nf);
    free(f); /* the nDPI flow struct is in the same allocation */
}

void classify_set_trim(struct classifier *c, bool trim)
{
    if (c)
        c->keep_tls_buffers = !trim;
}

void classify_flow_buffer(const struct classify_flow *f, size_t *held, size_t *pending)
{
    size_t h = 0, p = 0;
#if CLASSIFY_TRIM_TLS
    if (f && f->nf->l4_proto == IPPROTO_TCP && f->nf->l4.tcp.tls.message.buffer) {
        h = f->nf->l4.tcp.tls.message.buffer_len;
        p = f->nf->l4.tcp.tls.message.buffer_used;
    }
#else
    (void)f;
#endif
    if (held)
        *held = h;
    if (pending)
        *pending = p;
}

#if CLASSIFY_TRIM_TLS
/* Frees nDPI's TLS reassembly buffer when it holds no partial record (see CLASSIFY_TRIM_TLS). */
static void classify_trim(struct ndpi_flow_struct *nf)
{
    if (nf->l4_proto != IPPROTO_TCP)
        return;
    message_t *m = &nf->l4.tcp.tls.message;
    if (!m->buffer || m->buffer_used != 0)
        return;
    ndpi_free(m->buffer);
    m->buffer = NULL;
    m->buffer_len = 0;
}
#endif

bool classify_packet(struct classifier *c, struct classify_flow *f, const uint8_t *l3, uint32_t len,
                     uint64_t ts_us)
{
    if (!c || !f)
        return false;
    if (f->gave_up)
        return true; /* the label is already final */
    if (!l3 || len == 0)
        return false;
    unsigned short n = len > 65535u ? 65535u : (unsigned short)len;
    uint64_t ms = ts_us / 1000u;
#if CLASSIFY_NDPI_AT_LEAST(4, 6)
    f->last = ndpi_detection_process_packet(c->mod, f->nf, l3, n, ms, NULL);
#else
    f->last = ndpi_detection_process_packet(c->mod, f->nf, l3, n, ms);
#endif
#if CLASSIFY_NDPI_AT_LEAST(5, 0)
    return f->last.state == NDPI_STATE_CLASSIFIED;
#else
    /* the label is all vpnscope needs: stop at the first detection (saves most of nDPI's cost) */
    bool final = classify_known(f->last);
#if CLASSIFY_TRIM_TLS
    if (!final && !c->keep_tls_buffers)
        classify_trim(f->nf); /* a final flow is freed at once: no need */
#endif
    return final;
#endif
}

static void classify_giveup(struct classifier *c, struct classify_flow *f)
{
    bool before = classify_known(f->last);
    ndpi_protocol p;
#if CLASSIFY_NDPI_AT_LEAST(5, 0)
    p = ndpi_detection_giveup(c->mod, f->nf);
    /* 5.0 has no guessed flag: a label first seen at give-up is a guess. */
    f->guessed = !before && classify_known(p);
#else
    uint8_t g = 0;
#if CLASSIFY_NDPI_AT_LEAST(4, 10)
    p = ndpi_detection_giveup(c->mod, f->nf, &g);
#else
    p = ndpi_detection_giveup(c->mod, f->nf, 1, &g);
#endif
    f->guessed = !before && g != 0;
#endif
    /* Keep a DPI label over whatever the give-up returns. */
    if (!before || classify_known(p))
        f->last = p;
    f->gave_up = true;
}

/* snprintf(dst, size, "%s", src) without the formatter (once per classified flow, twice): the
 * same cut, at most size - 1 bytes and a NUL. */
static void copy_name(char *dst, size_t size, const char *src)
{
    size_t n = strnlen(src, size - 1);
    memcpy(dst, src, n);
    dst[n] = '\0';
}

void classify_result(struct classifier *c, struct classify_flow *f, bool giveup,
                     struct classify_label *out)
{
    if (!out)
        return;
    memset(out, 0, sizeof(*out));
    if (!c || !f) {
        snprintf(out->name, sizeof(out->name), "Unknown");
        snprintf(out->category, sizeof(out->category), "Unspecified");
        return;
    }
    if (giveup && !f->gave_up)
        classify_giveup(c, f);

    ndpi_protocol p = f->last;
    char buf[64];
    const char *name = ndpi_protocol2name(c->mod, NP_NAME_ARG(p), buf, sizeof(buf));
    copy_name(out->name, sizeof(out->name), name ? name : "Unknown");

    ndpi_protocol_category_t cat = ndpi_get_proto_category(c->mod, p);
    const char *cname = ndpi_category_get_name(c->mod, cat);
    copy_name(out->category, sizeof(out->category), cname ? cname : "Unspecified");

    bool tor = NP_APP(p) == NDPI_PROTOCOL_TOR || NP_MASTER(p) == NDPI_PROTOCOL_TOR;
    out->is_vpn = !tor && (cat == NDPI_PROTOCOL_CATEGORY_VPN || classify_is_vpn_id(NP_APP(p)) ||
                           classify_is_vpn_id(NP_MASTER(p)));
    out->guessed = f->gave_up && f->guessed;
}

const char *classify_version(void)
{
    static char version[64];
    const char *rev = ndpi_revision();
    snprintf(version, sizeof(version), "nDPI %s", rev ? rev : "?");
    return version;
}
