/* nat.h - NAT mapping reconstruction from a capture inside a router and one outside it. */
#ifndef VPNSCOPE_NAT_H
#define VPNSCOPE_NAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vpnscope/pkt.h"

/* Evidence bits: which signals matched (p0f NAT_* reasons). */
#define NAT_EV_SPI 0x0001u          /* IKE SPI pair or ESP/AH SPI seen on both sides */
#define NAT_EV_PAYLOAD 0x0002u      /* identical L4 payload bytes */
#define NAT_EV_IP_ID 0x0004u        /* identical IPv4 ID */
#define NAT_EV_TIMING 0x0008u       /* within the matching window after the clock correction */
#define NAT_EV_NATD 0x0010u         /* IKE NAT-D hash recomputed from the inside address */
#define NAT_EV_PPTP_CONTROL 0x0020u /* PPTP control messages paired both sides */
#define NAT_EV_SIZE 0x0040u         /* identical sizes */
#define NAT_EV_SEQ 0x0080u          /* TCP sequence / ESP sequence numbers */
#define NAT_EV_ICMP_ID 0x0100u      /* ICMP echo identifier */
#define NAT_EV_FRAGMENT 0x0200u     /* fragment offsets / reassembled payload */
const char *nat_evidence_name(unsigned bit); /* "spi", "payload", "ip_id", "timing", ... */

struct nat_id {
    struct ip_addr ip;
    bool has_port;
    uint16_t port;
    bool has_call_id;
    uint16_t call_id;
    bool has_icmp_id;
    uint16_t icmp_id;
};

#define NAT_MAX_SPIS 8

struct nat_mapping {
    uint8_t proto;            /* 17 udp, 6 tcp, 1/58 icmp, 50 esp, 51 ah, 47 gre */
    struct nat_id inside, outside, peer;
    bool translated;
    uint32_t evidence;        /* NAT_EV_* */
    uint64_t to_peer_inside, to_peer_outside;     /* packets client->peer seen on each side */
    uint64_t from_peer_outside, from_peer_inside; /* packets peer->client seen on each side */
    uint8_t n_spis_to, n_spis_from;
    uint32_t spis_to[NAT_MAX_SPIS], spis_from[NAT_MAX_SPIS];
    uint64_t first_ts, last_ts; /* inside clock */
    /* longest idle gap that the mapping survived / that it did not survive (stale NAT), µs */
    uint64_t max_gap_survived_us, min_gap_lost_us;
};

struct nat_unmatched {
    uint8_t side;             /* SIDE_INSIDE / SIDE_OUTSIDE: where the packets were seen */
    uint8_t direction;        /* 0 to_peer, 1 from_peer */
    uint8_t proto;
    struct ip_addr src, dst;
    bool has_ports;
    uint16_t sport, dport;
    bool has_spi;
    uint32_t spi;
    bool has_call_id;
    uint16_t call_id;
    uint64_t packets;
    uint64_t first_ts, last_ts;
    uint8_t nframes;
    uint64_t frames[20];
    int32_t mapping;          /* index into nat_result.mappings, -1 when none */
};

struct nat_clock {
    bool valid;
    double seconds;           /* outside clock minus inside clock */
    double drift_ppm;
    uint64_t evidence_packets;
};

struct nat_result {
    size_t n_map, cap_map;
    struct nat_mapping *map;
    size_t n_unm, cap_unm;
    struct nat_unmatched *unm;
    struct nat_clock clock;
    bool swapped;             /* inside/outside were given the wrong way round and were swapped */
    char message[512];        /* one clear message when something is missing ("" otherwise) */
    struct ip_addr nat_addrs[8];
    uint8_t n_nat_addrs;      /* the router's outside addresses, learned or given */
    uint64_t matched_packets, inside_only, outside_only;
};

void nat_result_free(struct nat_result *r);

#endif

/* ---- the two-capture driver (nat/run.c) ---- */
#ifndef VPNSCOPE_NAT_RUN
#define VPNSCOPE_NAT_RUN
struct engine;
struct nat_run_opts {
    const char *const *inside;
    int n_inside;
    const char *const *outside;
    int n_outside;
    const char *router; /* --router file (or NULL) */
    const char *bpf;
    struct ip_addr nat_addrs[8];
    int n_nat_addrs;
    bool no_ndpi;
};
/* Creates and feeds the two engines (SIDE_INSIDE / SIDE_OUTSIDE, outside timestamps corrected to
 * the inside clock), calls engine_finish on both and fills res. 0 ok, -1 error (one line in errbuf). */
int nat_run(const struct nat_run_opts *o, struct engine **in, struct engine **out, struct nat_result *res,
            char *errbuf, unsigned errlen);
#endif
