/* tunnel_msg.h - what the WireGuard and OpenVPN decoders (tunnel.h) fill: kept apart so that
 * struct pkt (pkt.h) can carry them without depending on the decoders' declarations. */
#ifndef VPNSCOPE_TUNNEL_MSG_H
#define VPNSCOPE_TUNNEL_MSG_H

#include <stdbool.h>
#include <stdint.h>

#define OVPN_MAX_ACKS 8 /* RELIABLE_ACK_SIZE: OpenVPN drops packets acking more */

struct wg_msg {
    uint8_t type;   /* enum wg_type (the byte as on the wire, also when invalid) */
    uint32_t len;   /* message length on the wire (the UDP payload length) */
    bool ids_valid; /* every index (and the counter) of this type was read */
    bool has_sender, has_receiver;
    uint32_t sender;      /* initiation, response: sender_index (little-endian on the wire) */
    uint32_t receiver;    /* response, cookie reply, transport: receiver_index */
    uint64_t counter;     /* transport: nonce counter */
    bool is_keepalive;    /* transport with an empty payload (exactly 32 bytes) */
    uint32_t payload_len; /* transport: encrypted payload without header and tag (padded to 16) */
};

struct ovpn_msg {
    uint8_t opcode, key_id;
    uint32_t len;        /* packet length on the wire (UDP payload, or TCP packet w/o prefix) */
    bool is_control;     /* opcode carries a session id (every opcode but DATA_V1 / DATA_V2) */
    bool ids_valid;      /* session id (control) or peer id (DATA_V2) read; DATA_V1 has none */
    bool has_session_id; /* own session id (control opcodes) */
    uint64_t session_id; /* big-endian, as Wireshark's openvpn.sessionid */
    bool has_peer_id;    /* DATA_V2 */
    uint32_t peer_id;    /* 24 bits; OVPN_PEER_ID_UNSET = not assigned */
    uint8_t variant;     /* enum ovpn_variant the fields below were decoded with */
    uint8_t hmac_len;    /* tls-auth HMAC size used */
    bool has_replay;     /* tls-auth / tls-crypt: replay packet id + net time */
    uint32_t replay_id, net_time;
    bool has_acks;     /* the ACK array was read (not under tls-crypt) */
    uint8_t ack_count; /* count byte as on the wire */
    uint8_t n_acks;    /* ids kept in acks[] (at most OVPN_MAX_ACKS) */
    uint32_t acks[OVPN_MAX_ACKS];
    bool has_peer_session; /* ack_count > 0: the session id of the peer being acknowledged */
    uint64_t peer_session_id;
    bool has_msg_id; /* reliable message packet id (control opcodes but ACK_V1) */
    uint32_t msg_id;
    uint32_t payload_off; /* where the opaque rest (TLS records / ciphertext) starts */
    uint32_t payload_len; /* its length on the wire */
};

#endif
