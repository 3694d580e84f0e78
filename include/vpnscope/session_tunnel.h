/* session_tunnel.h - the session model of WireGuard, OpenVPN and other UDP tunnels (nDPI's VPN
 * labels): per 5-tuple tunnel flows (roles, data each way, keepalives, idle gaps, unanswered
 * handshake runs), WireGuard sessions by index pair and OpenVPN sessions by the client's session
 * id. Filled by src/flow/session_udptun.c, session_wg.c and session_ovpn.c from decoded packets;
 * detectors, reports and the UI read it. Like session.h, records are plain values related by key.
 */
#ifndef VPNSCOPE_SESSION_TUNNEL_H
#define VPNSCOPE_SESSION_TUNNEL_H

#include <stdbool.h>
#include <stdint.h>

#include "vpnscope/config.h"
#include "vpnscope/session.h"

struct table;

/* One 5-tuple of a tunnel (key: struct flow_key). Direction 0 is client -> server. */
struct tun_flow {
    struct endpoint client, server; /* client: sender of the first initiation / client reset
                                       seen, else of the first packet */
    uint8_t vpn;                    /* VPN_WG, VPN_OVPN, or VPN_NONE: another nDPI VPN label */
    uint8_t proto;                  /* IPP_UDP or IPP_TCP */
    bool roles_known;               /* from a handshake, not from the first packet */
    char app[CLASSIFY_NAME_MAX_];   /* nDPI label (other tunnels) */
    uint64_t pkts[2];
    uint64_t data[2];      /* WireGuard transport with payload, OpenVPN data packets, others: all */
    uint64_t small[2];     /* OpenVPN data packets of the smallest size seen (pings, see below) */
    uint32_t min_data_len; /* OpenVPN: smallest data packet (0 = none yet) */
    uint64_t keepalives[2]; /* WireGuard 32-byte transport */
    uint8_t n_data_frames[2];
    uint64_t data_frames[2][TUN_MAX_FRAMES]; /* first data frames of each direction */
    uint64_t first_ts, last_ts, first_frame, last_frame;
    struct activity act; /* idle gaps; keepalive (WireGuard) / ping (OpenVPN) intervals */
    /* handshake initiations (WireGuard) or client/server hard resets (OpenVPN): a run of sends
     * from one side with nothing from the other side since the run began */
    uint64_t handshakes[2]; /* initiations / hard resets sent, by direction */
    bool run_open;
    uint8_t run_dir;
    uint32_t run_sends;
    uint64_t run_first_ts, run_last_ts;
    uint8_t run_nframes;
    uint64_t run_frames[TUN_MAX_FRAMES];
    /* WireGuard: the last index pair used on this flow (0 = none) */
    uint32_t wg_i_idx, wg_r_idx;
    /* OpenVPN: the session this flow carries (client session id), learned from a control
     * packet or, for DATA_V2 on a new 5-tuple, from the peer id */
    bool has_ovpn;
    uint64_t ovpn_csid;
    bool has_sid[2];
    uint64_t sid[2]; /* own session id of each direction */
    /* stale-mapping evidence: packets from the server after an idle gap (both ways quiet for
     * at least TUN_STALE_IDLE_US) with nothing from the client since; the current run and the
     * largest one that ended (answered_ts: when the client spoke again on this 5-tuple) */
    struct tun_srun {
        uint32_t n;          /* server packets in the run */
        uint32_t handshakes; /* of them, handshake initiations / resets */
        uint64_t gap_us;     /* the idle gap before it */
        uint64_t first_ts, last_ts, answered_ts;
        uint8_t nframes;
        uint64_t frames[TUN_MAX_FRAMES];
    } run_cur, run_max;
    bool in_srun;
    struct spark *spark; /* packets over time: [0] client -> server (NULL: none) */
};

/* An endpoint change inside one session: the NAT moved the client (or it roamed). */
struct tun_change {
    uint8_t who; /* 0 initiator / client, 1 responder / server */
    struct endpoint from, to;
    uint64_t ts, frame;
};

struct wg_key {
    uint32_t i_idx, r_idx; /* initiator's and responder's sender index */
};

struct wg_session {
    uint32_t i_idx, r_idx;
    struct endpoint initiator, responder; /* the latest endpoints of each peer */
    uint32_t handshakes;                  /* responses seen for this pair */
    uint64_t to_responder, to_initiator;  /* messages of this session each way */
    uint64_t keepalives;
    struct activity act; /* idle gaps; keepalive interval */
    uint8_t n_changes;
    uint32_t changes_total;
    struct tun_change changes[TUN_MAX_CHANGES];
    uint64_t first_ts, last_ts, first_frame, last_frame;
    struct spark *spark; /* packets over time: [0] to the responder (NULL: none) */
};

struct ovpn_key {
    uint64_t client_sid;
};

/* Links a DATA_V2 peer id to its session: the same client seen from a new 5-tuple (float). */
struct ovpn_peer_key {
    struct ip_addr server;
    uint16_t port;
    uint8_t pad[2];
    uint32_t peer_id;
};

struct ovpn_session {
    uint64_t client_sid, server_sid;
    bool has_server_sid;
    uint8_t proto; /* IPP_UDP / IPP_TCP */
    struct endpoint client, server;
    bool has_peer_id;
    uint32_t peer_id;
    uint8_t key_ids;      /* bit k: key id k seen */
    uint32_t hard_resets; /* client hard resets (retransmissions included) */
    uint32_t soft_resets; /* renegotiations */
    uint64_t to_server, to_client;
    uint64_t pings;      /* data packets of the smallest size (OVPN_PING_MAX_LEN at most) */
    uint32_t ping_len;   /* that size */
    struct activity act; /* idle gaps; interval of the small data packets (pings) */
    uint8_t n_changes;
    uint32_t changes_total;
    struct tun_change changes[TUN_MAX_CHANGES];
    uint64_t first_ts, last_ts, first_frame, last_frame;
    struct spark *spark; /* packets over time: [0] to the server (NULL: none) */
};

/* Hangs off struct session_model (m->tun); NULL until the first tunnel packet. */
struct tunnel_model {
    struct table *flows;     /* struct flow_key -> struct tun_flow */
    struct table *wg;        /* struct wg_key -> struct wg_session */
    struct table *wg_idx;    /* uint32_t index -> struct wg_key */
    struct table *ovpn;      /* struct ovpn_key -> struct ovpn_session */
    struct table *ovpn_peer; /* (server, peer id) -> struct ovpn_key */
    struct table *ovpn_tcp;  /* struct flow_key -> de-framing state (session_ovpn.c) */
    uint64_t spark_slide_us; /* as session_model.spark_slide_us */
};

/* The tunnel flow of a generic flow, or NULL. */
const struct tun_flow *tunnel_flow_of(const struct session_model *m, const struct flow *f);

/* Mean keepalive (WireGuard) or ping (OpenVPN) interval of a tunnel flow in µs, 0 if unknown. */
uint64_t tun_flow_keepalive_us(const struct tun_flow *t);

/* Data packets of direction dir that are not OpenVPN pings (the smallest data size). */
uint64_t tun_flow_payload(const struct tun_flow *t, int dir);

/* Name of the tunnel software of a flow: "WireGuard", "OpenVPN" or the nDPI label. */
const char *tun_flow_name(const struct tun_flow *t);

#endif
