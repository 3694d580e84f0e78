/* ike.c - IKEv1/IKEv2 header and payload-chain decoder (RFC 2408, RFC 7296). */
#include "vpnscope/decode.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "vpnscope/config.h"
#include "vpnscope/pkt.h"
#include "vpnscope/rd.h"

/*
 * ISAKMP / IKE header, 28 bytes, same layout in v1 and v2 (RFC 2408 §3.1, RFC 7296 §3.1):
 *
 *                      1                   2                   3
 *  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |                   Initiator's SPI (ICOOKIE)                   |
 * |                                                               |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |                   Responder's SPI (RCOOKIE)                   |
 * |                                                               |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |  Next Payload | MjVer | MnVer | Exchange Type |     Flags     |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |                          Message ID                           |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |                   Length (whole message)                      |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *
 * Generic payload header (RFC 2408 §3.2, RFC 7296 §3.2); the SA substructures (proposal,
 * transform) use the same 4 bytes:
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * | Next Payload  |C|  RESERVED   |         Payload Length        |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *
 * Limitations:
 * - IKEv1 messages with the E flag are not walked (the body is ciphertext); IKEv2 stops at SK/SKF.
 * - IKEv1 SA payloads are walked only for the IPsec DOI (1) with situation SIT_IDENTITY_ONLY;
 *   labelled situations (secrecy/integrity) carry variable fields that are not parsed.
 * - Proposals, transforms and attributes past the config.h caps are ignored without an anomaly.
 *   An SA without proposals, or a proposal without transforms, is not an anomaly.
 * - A payload running past the captured bytes but inside the declared message length is a
 *   truncation (ANOM_IKE_PAYLOAD_TRUNC, status TRUNCATED); one running past the declared message
 *   length is malformed (the same anomaly, status INVALID).
 */

#define IKE_HDR_LEN 28
#define IKE_GEN_HDR_LEN 4

/* Header flags (tcpdump print-isakmp.c ISAKMP_FLAG_*). */
#define IKE_FLAG_V1_E 0x01
#define IKE_FLAG_V2_I 0x08
#define IKE_FLAG_V2_R 0x20

/* Payload types (RFC 2408 §3.1, RFC 3947, RFC 7296 §3.2, RFC 7383). */
#define IKE_V1_PT_SA 1
#define IKE_V1_PT_P 2
#define IKE_V1_PT_T 3
#define IKE_V1_PT_N 11
#define IKE_V1_PT_VID 13
#define IKE_V1_PT_NATD 20
#define IKE_V1_PT_NATD_DRAFT 130
#define IKE_V1_PT_FRAG 132
#define IKE_V2_PT_SA 33
#define IKE_V2_PT_N 41
#define IKE_V2_PT_VID 43
#define IKE_V2_PT_SK 46
#define IKE_V2_PT_SKF 53

/* IKEv2 notify message types (RFC 7296 §3.10.1, RFC 7383). */
#define IKE_N_NAT_DETECTION_SOURCE_IP 16388
#define IKE_N_NAT_DETECTION_DESTINATION_IP 16389
#define IKE_N_IKEV2_FRAGMENTATION_SUPPORTED 16430

/* IKEv1 SA details (RFC 2407 §4.2, §4.5; RFC 2409 Appendix A). */
#define IKE_DOI_IPSEC 1
#define IKE_SIT_IDENTITY_ONLY 0x01
#define IKE_PROTO_ISAKMP 1
#define IKE_ATTR_AF 0x8000
#define IKE_V1_ATTR_HASH 2  /* in ISAKMP (phase 1) transforms */
#define IKE_V1_ATTR_ENCAP 4 /* "Encapsulation Mode" in IPsec (phase 2) transforms */

/* Known vendor IDs: MD5 of a string, compared on the first vid_len bytes. */
struct ike_vid {
    uint8_t len;
    uint16_t flag;
    uint8_t id[16];
};

static const struct ike_vid ike_vids[] = {
    /* MD5("RFC 3947") */
    {16,
     IKE_VID_RFC3947,
     {0x4a, 0x13, 0x1c, 0x81, 0x07, 0x03, 0x58, 0x45, 0x5c, 0x57, 0x28, 0xf2, 0x0e, 0x95, 0x45,
      0x2f}},
    /* MD5("draft-ietf-ipsec-nat-t-ike-02") */
    {16,
     IKE_VID_NATT_DRAFT,
     {0xcd, 0x60, 0x46, 0x43, 0x35, 0xdf, 0x21, 0xf8, 0x7c, 0xfd, 0xb2, 0xfc, 0x68, 0xb6, 0xa4,
      0x48}},
    /* MD5("draft-ietf-ipsec-nat-t-ike-02\n") */
    {16,
     IKE_VID_NATT_DRAFT,
     {0x90, 0xcb, 0x80, 0x91, 0x3e, 0xbb, 0x69, 0x6e, 0x08, 0x63, 0x81, 0xb5, 0xec, 0x42, 0x7b,
      0x1f}},
    /* MD5("draft-ietf-ipsec-nat-t-ike-03") */
    {16,
     IKE_VID_NATT_DRAFT,
     {0x7d, 0x94, 0x19, 0xa6, 0x53, 0x10, 0xca, 0x6f, 0x2c, 0x17, 0x9d, 0x92, 0x15, 0x52, 0x9d,
      0x56}},
    /* MD5("draft-ietf-ipsec-nat-t-ike-00") */
    {16,
     IKE_VID_NATT_DRAFT,
     {0x44, 0x85, 0x15, 0x2d, 0x18, 0xb6, 0xbb, 0xcd, 0x0b, 0xe8, 0xa8, 0x46, 0x95, 0x79, 0xdd,
      0xcc}},
    /* RFC 3706 DPD */
    {16,
     IKE_VID_DPD,
     {0xaf, 0xca, 0xd7, 0x13, 0x68, 0xa1, 0xf1, 0xc9, 0x6b, 0x86, 0x96, 0xfc, 0x77, 0x57, 0x01,
      0x00}},
    /* MD5("FRAGMENTATION") (Cisco / racoon; usually followed by 4 capability bytes) */
    {16,
     IKE_VID_FRAGMENTATION,
     {0x40, 0x48, 0xb7, 0xd5, 0x6e, 0xbc, 0xe8, 0x85, 0x25, 0xe7, 0xde, 0x7f, 0x00, 0xd6, 0xc2,
      0xd3}},
    /* first 8 bytes of MD5("draft-ietf-ipsra-isakmp-xauth-06.txt") */
    {8, IKE_VID_XAUTH, {0x09, 0x00, 0x26, 0x89, 0xdf, 0xd6, 0xb7, 0x12}},
};

/* Reads one generic header (payload, proposal or transform) and hands back its body.
 * Returns false when the header or its body does not fit in `parent` or the length is < 4. */
static bool ike_sub(struct rd *parent, uint8_t *next, struct rd *body)
{
    if (rd_left(parent) < IKE_GEN_HDR_LEN)
        return false;
    *next = rd_u8(parent);
    rd_skip(parent, 1); /* critical bit / reserved */
    uint16_t len = rd_be16(parent);
    if (len < IKE_GEN_HDR_LEN)
        return false;
    if ((size_t)(len - IKE_GEN_HDR_LEN) > rd_left(parent))
        return false;
    *body = rd_sub(parent, (size_t)(len - IKE_GEN_HDR_LEN));
    return rd_ok(body);
}

/* RFC 2408 §3.4-§3.6 data attributes: AF=1 -> TV (2-byte value), AF=0 -> TLV. Only the first
 * transform of the first proposal is looked at (the chosen one in a response). */
static void ike_v1_attrs(struct rd *tr, struct pkt *p, uint8_t proto)
{
    struct ike_msg *m = &p->ike;
    for (unsigned i = 0; i < VPNSCOPE_MAX_IKE_ATTRS && rd_left(tr) > 0; i++) {
        if (rd_left(tr) < 4) {
            pkt_invalid(p, ANOM_IKE_BAD_SA);
            return;
        }
        uint16_t t = rd_be16(tr);
        uint16_t type = t & 0x7fff;
        uint32_t val = 0;
        if (t & IKE_ATTR_AF) {
            val = rd_be16(tr);
        } else {
            uint16_t alen = rd_be16(tr);
            if (alen > rd_left(tr)) {
                pkt_invalid(p, ANOM_IKE_BAD_SA);
                return;
            }
            struct rd v = rd_sub(tr, alen);
            if (alen == 2)
                val = rd_be16(&v);
            else if (alen == 4)
                val = rd_be32(&v);
        }
        if (val > 0xffff)
            continue; /* hash and encapsulation values are 16-bit */
        if (proto == IKE_PROTO_ISAKMP && type == IKE_V1_ATTR_HASH)
            m->v1_hash = (uint16_t)val;
        else if (proto != IKE_PROTO_ISAKMP && type == IKE_V1_ATTR_ENCAP)
            m->v1_encap = (uint16_t)val;
    }
}

/*
 * IKEv1 SA payload body (RFC 2407 §4.6.1): DOI (4) | Situation (4) | Proposal payloads.
 * Proposal (RFC 2408 §3.5): hdr | Proposal # | Protocol-Id | SPI Size | # of Transforms | SPI
 * Transform (§3.6): hdr | Transform # | Transform-Id | RESERVED2 (2) | SA Attributes
 */
static void ike_v1_sa(struct rd *b, struct pkt *p)
{
    struct ike_msg *m = &p->ike;
    m->has_sa = true;
    if (rd_left(b) < 8) {
        pkt_invalid(p, ANOM_IKE_BAD_SA);
        return;
    }
    uint32_t doi = rd_be32(b);
    uint32_t sit = rd_be32(b);
    if (doi != IKE_DOI_IPSEC || (sit & ~(uint32_t)IKE_SIT_IDENTITY_ONLY) != 0)
        return;
    uint8_t pnext = IKE_V1_PT_P;
    for (unsigned np = 0; pnext == IKE_V1_PT_P && rd_left(b) > 0 && np < VPNSCOPE_MAX_IKE_PROPOSALS;
         np++) {
        struct rd prop;
        if (!ike_sub(b, &pnext, &prop) || rd_left(&prop) < 4) {
            pkt_invalid(p, ANOM_IKE_BAD_SA);
            return;
        }
        rd_skip(&prop, 1); /* proposal # */
        uint8_t proto = rd_u8(&prop);
        uint8_t spi_size = rd_u8(&prop);
        rd_skip(&prop, 1); /* # of transforms: the chain is walked by next-payload instead */
        if (spi_size > rd_left(&prop)) {
            pkt_invalid(p, ANOM_IKE_BAD_SA);
            return;
        }
        rd_skip(&prop, spi_size);
        uint8_t tnext = IKE_V1_PT_T;
        for (unsigned nt = 0;
             tnext == IKE_V1_PT_T && rd_left(&prop) > 0 && nt < VPNSCOPE_MAX_IKE_TRANSFORMS; nt++) {
            struct rd tr;
            if (!ike_sub(&prop, &tnext, &tr) || rd_left(&tr) < 4) {
                pkt_invalid(p, ANOM_IKE_BAD_SA);
                return;
            }
            if (m->n_transforms < UINT8_MAX)
                m->n_transforms++;
            rd_skip(&tr, 4); /* transform #, transform id, reserved2 */
            if (np == 0 && nt == 0)
                ike_v1_attrs(&tr, p, proto);
        }
    }
}

/*
 * IKEv2 SA payload body (RFC 7296 §3.3): Proposal substructures, each
 *   hdr | Proposal Num | Protocol ID | SPI Size | Num Transforms | SPI | Transforms
 * and Transform substructures: hdr | Transform Type | RESERVED | Transform ID (2) | Attributes.
 * Only counted, not interpreted.
 */
static void ike_v2_sa(struct rd *b, struct pkt *p)
{
    struct ike_msg *m = &p->ike;
    m->has_sa = true;
    uint8_t pnext = IKE_V1_PT_P; /* same values (2 = more proposals, 0 = last) */
    for (unsigned np = 0; pnext == IKE_V1_PT_P && rd_left(b) > 0 && np < VPNSCOPE_MAX_IKE_PROPOSALS;
         np++) {
        struct rd prop;
        if (!ike_sub(b, &pnext, &prop) || rd_left(&prop) < 4) {
            pkt_invalid(p, ANOM_IKE_BAD_SA);
            return;
        }
        rd_skip(&prop, 2); /* proposal num, protocol id */
        uint8_t spi_size = rd_u8(&prop);
        rd_skip(&prop, 1);
        if (spi_size > rd_left(&prop)) {
            pkt_invalid(p, ANOM_IKE_BAD_SA);
            return;
        }
        rd_skip(&prop, spi_size);
        uint8_t tnext = IKE_V1_PT_T;
        for (unsigned nt = 0;
             tnext == IKE_V1_PT_T && rd_left(&prop) > 0 && nt < VPNSCOPE_MAX_IKE_TRANSFORMS; nt++) {
            struct rd tr;
            if (!ike_sub(&prop, &tnext, &tr) || rd_left(&tr) < 4) {
                pkt_invalid(p, ANOM_IKE_BAD_SA);
                return;
            }
            if (m->n_transforms < UINT8_MAX)
                m->n_transforms++;
        }
    }
}

static void ike_add_natd(struct pkt *p, uint8_t kind, struct rd *data)
{
    struct ike_msg *m = &p->ike;
    if (m->n_natd >= IKE_MAX_NATD)
        return;
    struct ike_natd *d = &m->natd[m->n_natd++];
    size_t n = rd_left(data);
    if (n > IKE_NATD_MAXLEN)
        n = IKE_NATD_MAXLEN;
    d->kind = kind;
    d->len = (uint8_t)n;
    rd_copy(data, d->h, n);
}

static void ike_add_notify(struct pkt *p, uint16_t type)
{
    struct ike_msg *m = &p->ike;
    if (m->n_notify < IKE_MAX_NOTIFY)
        m->notify[m->n_notify++] = type;
}

/* IKEv1 Notification (RFC 2408 §3.14): DOI (4) | Protocol-ID | SPI Size | Type (2) | SPI | Data */
static void ike_v1_notify(struct rd *b, struct pkt *p)
{
    if (rd_left(b) < 8) {
        pkt_invalid(p, ANOM_IKE_BAD_NOTIFY);
        return;
    }
    rd_skip(b, 5); /* DOI, protocol id */
    uint8_t spi_size = rd_u8(b);
    ike_add_notify(p, rd_be16(b));
    if (spi_size > rd_left(b))
        pkt_invalid(p, ANOM_IKE_BAD_NOTIFY);
}

/* IKEv2 Notify (RFC 7296 §3.10): Protocol ID | SPI Size | Notify Message Type (2) | SPI | Data */
static void ike_v2_notify(struct rd *b, struct pkt *p)
{
    if (rd_left(b) < 4) {
        pkt_invalid(p, ANOM_IKE_BAD_NOTIFY);
        return;
    }
    rd_skip(b, 1); /* protocol id */
    uint8_t spi_size = rd_u8(b);
    uint16_t type = rd_be16(b);
    ike_add_notify(p, type);
    if (spi_size > rd_left(b)) {
        pkt_invalid(p, ANOM_IKE_BAD_NOTIFY);
        return;
    }
    rd_skip(b, spi_size);
    if (type == IKE_N_NAT_DETECTION_SOURCE_IP)
        ike_add_natd(p, IKE_NATD_V2_SRC, b);
    else if (type == IKE_N_NAT_DETECTION_DESTINATION_IP)
        ike_add_natd(p, IKE_NATD_V2_DST, b);
    else if (type == IKE_N_IKEV2_FRAGMENTATION_SUPPORTED)
        p->ike.frag_supported = true;
}

/* Vendor ID: compares the leading bytes with the known MD5 values. */
static void ike_vid(struct rd *b, struct pkt *p)
{
    size_t n = rd_left(b);
    uint8_t id[16];
    size_t take = n < sizeof(id) ? n : sizeof(id);
    rd_copy(b, id, take);
    for (size_t i = 0; i < sizeof(ike_vids) / sizeof(ike_vids[0]); i++) {
        if (take >= ike_vids[i].len && memcmp(id, ike_vids[i].id, ike_vids[i].len) == 0) {
            p->ike.vid_flags |= ike_vids[i].flag;
            return;
        }
    }
    p->ike.vid_flags |= IKE_VID_OTHER;
}

/* IKEv2 Encrypted Fragment (RFC 7383 §2.5): Fragment Number (2) | Total Fragments (2) | IV... */
static void ike_v2_skf(struct rd *b, struct pkt *p)
{
    struct ike_msg *m = &p->ike;
    m->skf = true;
    m->encrypted = true;
    if (rd_left(b) < 4) {
        pkt_invalid(p, ANOM_IKE_BAD_FRAGMENT);
        return;
    }
    m->frag_num = rd_be16(b);
    m->frag_total = rd_be16(b);
    if (m->frag_num == 0 || m->frag_total == 0 || m->frag_num > m->frag_total)
        pkt_invalid(p, ANOM_IKE_BAD_FRAGMENT);
}

/* Decodes one payload body. Returns false when the chain ends here (encrypted content). */
static bool ike_payload(struct rd *b, struct pkt *p, uint8_t type)
{
    if (p->ike.version == 1) {
        switch (type) {
        case IKE_V1_PT_SA:
            ike_v1_sa(b, p);
            break;
        case IKE_V1_PT_N:
            ike_v1_notify(b, p);
            break;
        case IKE_V1_PT_VID:
            ike_vid(b, p);
            break;
        case IKE_V1_PT_NATD:
        case IKE_V1_PT_NATD_DRAFT:
            ike_add_natd(p, IKE_NATD_V1, b);
            break;
        case IKE_V1_PT_FRAG:
            p->ike.v1_frag = true;
            return false;
        default:
            break;
        }
        return true;
    }
    switch (type) {
    case IKE_V2_PT_SA:
        ike_v2_sa(b, p);
        break;
    case IKE_V2_PT_N:
        ike_v2_notify(b, p);
        break;
    case IKE_V2_PT_VID:
        ike_vid(b, p);
        break;
    case IKE_V2_PT_SK:
        p->ike.encrypted = true;
        return false;
    case IKE_V2_PT_SKF:
        ike_v2_skf(b, p);
        return false;
    default:
        break;
    }
    return true;
}

/* A payload does not fit: truncation when the capture is short of the declared message
 * (`missing` bytes were not captured), malformed when it runs past the declared length. */
static void ike_payload_short(struct pkt *p, const struct rd *msg, size_t need, size_t missing)
{
    if (need <= rd_left(msg) + missing)
        pkt_truncated(p, ANOM_IKE_PAYLOAD_TRUNC);
    else
        pkt_invalid(p, ANOM_IKE_PAYLOAD_TRUNC);
}

/* Walks the payload chain over `msg` (the message body, maybe cut short by the capture). */
static void ike_walk(struct rd *msg, struct pkt *p, uint8_t next, size_t missing)
{
    for (unsigned n = 0; next != 0; n++) {
        if (n >= VPNSCOPE_MAX_IKE_PAYLOADS) {
            pkt_anom(p, ANOM_IKE_TOO_MANY_PAYLOADS);
            return;
        }
        uint8_t type = next;
        if (rd_left(msg) < IKE_GEN_HDR_LEN) {
            ike_payload_short(p, msg, IKE_GEN_HDR_LEN, missing);
            return;
        }
        next = rd_u8(msg);
        rd_skip(msg, 1); /* critical bit / reserved */
        uint16_t plen = rd_be16(msg);
        if (plen < IKE_GEN_HDR_LEN) {
            pkt_invalid(p, ANOM_IKE_PAYLOAD_BAD_LEN);
            return;
        }
        size_t blen = (size_t)(plen - IKE_GEN_HDR_LEN);
        if (blen > rd_left(msg)) {
            ike_payload_short(p, msg, blen, missing);
            return;
        }
        struct rd body = rd_sub(msg, blen);
        p->ike.n_payloads++;
        if (!ike_payload(&body, p, type))
            return;
    }
}

void ike_decode(struct rd *r, struct pkt *p)
{
    struct ike_msg *m = &p->ike;
    p->dirty |= PKT_DIRTY_IKE;
    if (rd_left(r) < IKE_HDR_LEN) {
        pkt_truncated(p, ANOM_IKE_TRUNC);
        return;
    }
    m->ispi = rd_be64(r);
    m->rspi = rd_be64(r);
    uint8_t next = rd_u8(r);
    uint8_t ver = rd_u8(r);
    m->exch = rd_u8(r);
    m->flags = rd_u8(r);
    m->msgid = rd_be32(r);
    m->length = rd_be32(r);
    m->version = (uint8_t)(ver >> 4);
    p->vpn = VPN_IKE;

    if (m->ispi == 0)
        pkt_anom(p, ANOM_IKE_ZERO_ISPI);
    if (m->version != 1 && m->version != 2) {
        pkt_invalid(p, ANOM_IKE_BAD_VERSION);
        return;
    }
    if (m->version == 2) {
        m->initiator = (m->flags & IKE_FLAG_V2_I) != 0;
        m->response = (m->flags & IKE_FLAG_V2_R) != 0;
    }
    if (m->length < IKE_HDR_LEN) {
        pkt_invalid(p, ANOM_IKE_BAD_LENGTH);
        return;
    }
    if (strcmp(ike_exch_name(m->version, m->exch), "unknown") == 0)
        pkt_anom(p, ANOM_IKE_BAD_EXCHANGE);

    size_t body_len = (size_t)(m->length - IKE_HDR_LEN);
    size_t missing = 0;
    if (body_len > rd_left(r)) {
        pkt_truncated(p, ANOM_IKE_TRUNC);
        missing = body_len - rd_left(r);
        body_len = rd_left(r);
    }
    struct rd body = rd_sub(r, body_len);
    if (m->version == 1 && (m->flags & IKE_FLAG_V1_E)) {
        m->encrypted = true; /* RFC 2408 §3.1: everything after the header is encrypted */
        return;
    }
    ike_walk(&body, p, next, missing);
}
