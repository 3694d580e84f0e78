/* tunnel.h - WireGuard and OpenVPN decoders: pure functions over hostile bytes (no globals, no
 * I/O, no allocation). The flow layer keeps the per-flow state they need (the OpenVPN layout
 * learned from the peer's reply, the TCP de-framer) and feeds them one payload at a time. */
#ifndef VPNSCOPE_TUNNEL_H
#define VPNSCOPE_TUNNEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vpnscope/pkt.h"
#include "vpnscope/rd.h"
#include "vpnscope/tunnel_msg.h"

/*
 * Result convention shared by wg_decode() and ovpn_decode(): they return true when the message
 * was decoded whole and valid. Otherwise *anom names the reason: WG_TRUNC / OVPN_TRUNC mean the
 * capture ended early (pkt_truncated), every other anomaly means the bytes are impossible for the
 * protocol (pkt_invalid). Fields read before the problem stay filled; `ids_valid` says the
 * identifiers of the message (indexes, session ids) were read completely and can be used.
 */
static inline bool tunnel_anom_is_truncation(enum anomaly a)
{
    return a == ANOM_WG_TRUNC || a == ANOM_OVPN_TRUNC;
}

/* ---------------------------------------------------------------- WireGuard */

/* Message types (WireGuard whitepaper section 5.4; Linux drivers/net/wireguard/messages.h). */
enum wg_type {
    WG_INITIATION = 1,
    WG_RESPONSE = 2,
    WG_COOKIE_REPLY = 3,
    WG_TRANSPORT = 4,
};

#define WG_INITIATION_LEN 148
#define WG_RESPONSE_LEN 92
#define WG_COOKIE_REPLY_LEN 64
#define WG_TRANSPORT_HDR_LEN 16 /* type, reserved, receiver index, counter */
#define WG_AUTHTAG_LEN 16       /* Poly1305 tag after the (padded) payload */
#define WG_KEEPALIVE_LEN 32     /* transport message with an empty payload */
#define WG_INDEX_STR_LEN 11     /* "0x" + 8 hex digits + NUL */

/*
 * Decodes one WireGuard message. `r` holds the captured bytes of the UDP payload (read from its
 * cursor), `len` is the payload length on the wire (UDP length - 8); fewer captured bytes than
 * `len` is a truncation. Structure checked: type 1..4, three reserved zero bytes, the exact size
 * of the type (148 / 92 / 64) or, for transport data, len >= 32 and (len - 16) % 16 == 0.
 * Advances r past the message's captured bytes. See the result convention above.
 */
bool wg_decode(struct rd *r, uint32_t len, struct wg_msg *m, enum anomaly *anom);

/* Cheap structural test for any UDP payload on any port: the first 4 bytes (type 1..4, reserved
 * zeros) and the wire length fit a WireGuard message. `len` is the wire length; only the first
 * 4 of `captured` bytes are looked at. */
bool wg_probe(const uint8_t *payload, uint32_t captured, uint32_t len);

/* "initiation", "response", "cookie_reply", "transport"; "unknown" otherwise. */
const char *wg_type_name(uint8_t type);

/* Formats an index as Wireshark's wg.sender / wg.receiver show it: "0x" + 8 lowercase hex
 * digits of the little-endian value. buf must hold WG_INDEX_STR_LEN bytes. Returns buf. */
char *wg_index_str(uint32_t idx, char *buf, size_t size);

/* ---------------------------------------------------------------- OpenVPN */

/* Opcodes (openvpn src/openvpn/ssl_pkt.h): the high 5 bits of the first byte. */
enum ovpn_opcode {
    OVPN_HARD_RESET_CLIENT_V1 = 1,
    OVPN_HARD_RESET_SERVER_V1 = 2,
    OVPN_SOFT_RESET_V1 = 3,
    OVPN_CONTROL_V1 = 4,
    OVPN_ACK_V1 = 5,
    OVPN_DATA_V1 = 6,
    OVPN_HARD_RESET_CLIENT_V2 = 7,
    OVPN_HARD_RESET_SERVER_V2 = 8,
    OVPN_DATA_V2 = 9,
    OVPN_HARD_RESET_CLIENT_V3 = 10, /* tls-crypt-v2 client reset (carries the wrapped client key) */
    OVPN_CONTROL_WKC_V1 = 11,       /* tls-crypt-v2 control packet with the wrapped client key */
};

#define OVPN_SID_LEN 8            /* session id */
#define OVPN_TLS_CRYPT_TAG_LEN 32 /* tls-crypt: HMAC-SHA256 tag after packet id + time */
#define OVPN_REPLAY_LEN 8         /* tls-auth / tls-crypt: packet id (4) + net time (4) */
#define OVPN_PEER_ID_UNSET 0xFFFFFFu
#define OVPN_SID_STR_LEN 17 /* 16 hex digits + NUL */

/* Control-channel protection: decides where the ACK array and the peer session id are. */
enum ovpn_variant {
    OVPN_VAR_UNKNOWN = 0, /* not learned yet: only opcode, key id and session id are decoded */
    OVPN_VAR_PLAIN,       /* no tls-auth: the ACK array follows the session id */
    OVPN_VAR_TLS_AUTH,    /* HMAC (hmac_len bytes) + packet id + net time, then the ACK array */
    OVPN_VAR_TLS_CRYPT,   /* packet id + net time + 32-byte tag in clear; the rest is encrypted */
};

/* What a flow learned about its control channel (ovpn_infer_layout); zeroed = unknown. */
struct ovpn_layout {
    uint8_t variant;  /* enum ovpn_variant */
    uint8_t hmac_len; /* tls-auth only: 16 (MD5), 20 (SHA1), 32 (SHA256), 64 (SHA512)... */
};

/*
 * Decodes one OpenVPN packet carried in UDP (for TCP see ovpn_decode_tcp(), same checks). `r`
 * holds the captured bytes of the UDP payload, `len` its length on the wire (UDP length - 8);
 * fewer captured bytes than `len` is a truncation. Advances r past the packet's captured bytes.
 * `lay` is what the flow learned (NULL or OVPN_VAR_UNKNOWN: only the fixed prefix - opcode, key id,
 * session id or peer id - is decoded). Checks: opcode 1..11 (ovpn_bad_opcode), the wire length
 * holds the fixed part of the opcode under the layout (ovpn_bad_size), ACK count <= OVPN_MAX_ACKS
 * (ovpn_too_many_acks; the first 8 are kept). See the result convention above.
 */
bool ovpn_decode(struct rd *r, uint32_t len, const struct ovpn_layout *lay, struct ovpn_msg *m,
                 enum anomaly *anom);

/* Structural recognition of a UDP payload or de-framed TCP packet on any port. */
enum ovpn_probe_result {
    OVPN_PROBE_NO = 0, /* not OpenVPN: bad opcode, too short, impossible fields */
    OVPN_PROBE_FITS,   /* a data or mid-session control packet could look like this: use only
                          on a flow already known (nDPI label, a reset seen) */
    OVPN_PROBE_RESET,  /* a client/server hard reset with key id 0 and message id 0 under one
                          of the layouts (plain, tls-auth with an ovpn_hmac_candidates size,
                          tls-crypt); its session id, HMAC or tag look random and the replay id
                          is that of an early packet (1..255): starts a session */
};
/* `captured` bytes of the payload are readable, `len` is its wire length. */
enum ovpn_probe_result ovpn_probe(const uint8_t *payload, uint32_t captured, uint32_t len);

/* ovpn_probe() on the first packet of a TCP stream's first segment (after the length prefix). */
enum ovpn_probe_result ovpn_tcp_probe(const uint8_t *seg, uint32_t len);

/*
 * HMAC size inference. The tls-auth HMAC size is not on the wire, but a packet that acknowledges
 * something (ack count > 0) carries the session id of the peer right after its ACK array, and
 * that session id was seen in clear in the other direction. For each candidate HMAC size h
 * (0 = no HMAC: ACK array right after the session id; any other = tls-auth with an h-byte
 * HMAC, then packet id and net time; ovpn_hmac_candidates is the usual set), the ACK array would
 * start at 9 + (h ? h + 8 : 0); the candidate is consistent when the count byte there is 1..8, the
 * array and the 8-byte peer session id fit in the packet, and that peer session id equals
 * `peer_sid`. A random 64-bit match has probability 2^-64, so in practice at most one candidate
 * fits. When no candidate fits on a packet that must acknowledge (HARD_RESET_SERVER_V1/V2 always
 * acks the client's reset, ACK_V1 always acks something) and the packet is long enough for the
 * tls-crypt wrapping (opcode, session id, packet id, net time, 32-byte tag, encrypted ACK
 * count and message id) with a replay packet id after the session id that counts from 1 (1..255
 * for a server reset), the layout is tls-crypt: its ACK array is encrypted (V1 resets predate
 * tls-crypt and are never concluded so). The tls-crypt-v2
 * opcodes (HARD_RESET_CLIENT_V3, CONTROL_WKC_V1) are tls-crypt by definition.
 * Returns true and fills *out when exactly one layout is consistent; *mask gets bit i set for
 * each consistent cand[i] (i < 32; mask may be NULL). `p`/`len` are the packet's captured bytes.
 * Use: per flow, remember the session id of each direction; give each control packet to this
 * function with the other direction's session id until it returns true (the server's hard
 * reset decides at once); store the layout and pass it to ovpn_decode() from then on.
 */
bool ovpn_infer_layout(const uint8_t *p, uint32_t len, uint64_t peer_sid, const uint8_t *cand,
                       unsigned n_cand, struct ovpn_layout *out, uint32_t *mask);

/* The candidate set of ovpn_infer_layout() for the usual --auth digests: 0 (no HMAC), 16 (MD5),
 * 20 (SHA1, RIPEMD160), 28 (SHA224), 32 (SHA256), 48 (SHA384), 64 (SHA512). */
#define OVPN_N_HMAC_CANDIDATES 7
extern const uint8_t ovpn_hmac_candidates[OVPN_N_HMAC_CANDIDATES];

/* "hard_reset_client_v1" ... "control_wkc_v1"; "unknown" otherwise. */
const char *ovpn_opcode_name(uint8_t opcode);

/* "plain", "tls_auth", "tls_crypt", "unknown". */
const char *ovpn_variant_name(uint8_t variant);

/* Formats a session id as 16 lowercase hex digits (Wireshark shows the same 64-bit big-endian
 * value in decimal). buf must hold OVPN_SID_STR_LEN bytes. Returns buf. */
char *ovpn_sid_str(uint64_t sid, char *buf, size_t size);

/*
 * OpenVPN over TCP: each packet is preceded by a 2-byte big-endian length. The de-framer takes
 * the in-order payload of one direction segment by segment and hands out one packet at a time:
 * several packets per segment and packets split over any number of segments. Only the first
 * OVPN_TCP_KEEP bytes of a packet are buffered (enough for the largest cleartext header: opcode,
 * session id, 64-byte HMAC, replay id, 8 ACKs, peer session id, message id); the rest is
 * counted, so the buffer is fixed and small. A length that cannot be a packet (0, shorter than
 * the fixed part of the opcode that follows, or an invalid opcode) means the stream is out of
 * step: ovpn_tcp_length_absurd is reported, the rest of that segment is dropped and framing
 * restarts at the start of a later segment that begins with a plausible header. A hole in the
 * stream (ovpn_tcp_gap()) restarts framing the same way.
 */
#define OVPN_TCP_KEEP 128

struct ovpn_tcp_pkt {
    const uint8_t *data; /* first `captured` bytes of the packet (without the length prefix) */
    uint32_t captured;   /* min(len, OVPN_TCP_KEEP) */
    uint32_t len;        /* packet length from the prefix */
    uint64_t stream_off; /* offset of the length prefix in the de-framed stream */
};

/* Per packet; the data pointer is valid during the call only. */
typedef void (*ovpn_tcp_cb)(void *ctx, const struct ovpn_tcp_pkt *pkt);

/* Embed one per flow direction; zero-initialised = at the start of the stream. */
struct ovpn_tcp_reasm {
    uint8_t state;     /* internal: length / header / skip / resync */
    uint8_t lenbuf[2]; /* partial length prefix */
    uint8_t n_lenbuf;
    uint16_t need; /* current packet length */
    uint16_t have; /* bytes of the current packet seen */
    uint8_t hdr[OVPN_TCP_KEEP];
    uint64_t stream_off;    /* bytes consumed from the stream */
    uint64_t pkt_off;       /* stream offset of the current packet's prefix */
    uint64_t packets;       /* packets handed out */
    uint64_t resyncs;       /* times framing was lost */
    uint64_t bytes_dropped; /* bytes skipped while out of step */
};

/*
 * Feeds one segment's payload (in sequence order, `len` bytes). Calls cb for each packet
 * completed by it. Returns ANOM_NONE, or ANOM_OVPN_TCP_LEN_ABSURD when framing was lost in this
 * segment (at most once per segment). Never reads beyond seg[0..len).
 */
enum anomaly ovpn_tcp_feed(struct ovpn_tcp_reasm *t, const uint8_t *seg, uint32_t len,
                           ovpn_tcp_cb cb, void *ctx);

/* A sequence hole (lost or uncaptured bytes) before the next segment: drops the partial
 * packet, framing restarts at the next plausible segment start. Returns ANOM_OVPN_TCP_GAP. */
enum anomaly ovpn_tcp_gap(struct ovpn_tcp_reasm *t);

/* Decodes a de-framed TCP packet (ovpn_decode over pkt->data with the packet length; bytes
 * beyond OVPN_TCP_KEEP were counted by the de-framer, not captured short, so they are not a
 * truncation). */
bool ovpn_decode_tcp(const struct ovpn_tcp_pkt *pkt, const struct ovpn_layout *lay,
                     struct ovpn_msg *m, enum anomaly *anom);

#endif
