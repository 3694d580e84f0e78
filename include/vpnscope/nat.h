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
    uint8_t proto; /* 17 udp, 6 tcp, 1/58 icmp, 50 esp, 51 ah, 47 gre */
    struct nat_id inside, outside, peer;
    bool translated;
    uint32_t evidence;                            /* NAT_EV_* */
    uint64_t to_peer_inside, to_peer_outside;     /* packets client->peer seen on each side */
    uint64_t from_peer_outside, from_peer_inside; /* packets peer->client seen on each side */
    uint8_t n_spis_to, n_spis_from;
    uint32_t spis_to[NAT_MAX_SPIS], spis_from[NAT_MAX_SPIS];
    uint64_t first_ts, last_ts; /* inside clock */
    /* longest idle gap that the mapping survived / that it did not survive (stale NAT), µs */
    uint64_t max_gap_survived_us, min_gap_lost_us;
    /* the client's IKE NAT_DETECTION_SOURCE_IP hash recomputed from both captures: -1 not seen, 1
     * made from the inside address, 2 from the outside address, 0 from neither (a random address:
     * forced UDP encapsulation, forced_encap set) */
    int8_t natd_src;
    bool forced_encap;
    uint64_t pairs; /* packet pairs matched across the captures for this mapping */
    /* index (in nat_result.map) of the record the same inside flow (protocol, inside
     * identity, peer) moved to next, with another outside identity: a stale mapping replaced;
     * -1 when none. Lets detectors follow a flow without comparing all mappings pairwise. */
    int32_t next_same_inside;
};

struct nat_unmatched {
    uint8_t side;      /* SIDE_INSIDE / SIDE_OUTSIDE: where the packets were seen */
    uint8_t direction; /* 0 to_peer, 1 from_peer */
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
    int32_t mapping; /* index into nat_result.mappings, -1 when none */
};

struct nat_clock {
    bool valid;
    double seconds; /* outside clock minus inside clock */
    double drift_ppm;
    uint64_t evidence_packets;
    uint64_t ref_us; /* inside-clock time at which `seconds` holds (drift origin) */
};

struct nat_result {
    size_t n_map, cap_map;
    struct nat_mapping *map;
    size_t n_unm, cap_unm;
    struct nat_unmatched *unm;
    struct nat_clock clock;
    bool swapped;      /* inside/outside were given the wrong way round and were swapped */
    char message[512]; /* one clear message when something is missing ("" otherwise) */
    struct ip_addr nat_addrs[8];
    uint8_t n_nat_addrs; /* the router's outside addresses, learned or given */
    uint64_t matched_packets, inside_only, outside_only;
    uint64_t packets_inside, packets_outside; /* frames read from each capture */
    uint64_t uncovered;       /* packets outside the time both captures cover (never unmatched) */
    uint64_t pending_evicted; /* packets pushed out of the match window by NAT_PENDING_MAX */
    uint64_t
        dropped_records; /* mappings / unmatched records beyond NAT_MAP_MAX / NAT_UNMATCHED_MAX */
};

void nat_result_free(struct nat_result *r);

/* ---- packet signatures (signature.c) and the clock-offset estimator (offset.c) ---- */

struct engine;

/*
 * The NAT-invariant signature of a decoded packet: a 64-bit hash of what a NAT (Linux conntrack
 * NAT, PPTP helper included) leaves unchanged. UDP: payload bytes and length; TCP: seq, ack,
 * flags and payload length (helpers rewrite payloads); ICMP echo: type, sequence and payload
 * (the identifier is remapped); ESP/AH: SPI, sequence and the first bytes; GRE: header and PPP
 * payload without the Call ID; a fragment not yet reassembled: its offset, length and data past
 * the L4 header (no IP ID: IPv6 routers re-fragment under a new ID). Never addresses or ports.
 * h == 0: no signature (not IP, no L4). `weak`: low entropy (NAT-T keepalives, tiny payloads,
 * ICMP errors): such a match never creates a mapping alone and is not used for the clock.
 * `ev`: NAT_EV_* bits a match proves.
 */
struct nat_sig {
    uint64_t h;
    bool weak;
    uint32_t ev;
};

/* Computes p's signature. */
void nat_pkt_sig(const struct pkt *p, struct nat_sig *sig);

/* One packet seen on both captures: its time on each clock. */
struct nat_tpair {
    int64_t t_in_us, t_out_us;
};

/*
 * Fits t_out - t_in = seconds + drift * (t_in - ref) robustly (binned medians, Theil-Sen slope,
 * then least squares over inliers). pairs may be in any order and is reordered. Fills clk
 * (valid, seconds, drift_ppm, evidence_packets = inliers, ref_us = earliest t_in). Returns 0, or
 * -1 when n is too small (clk->valid = false). Drift is fitted only over a span >= 10 s.
 */
int nat_offset_estimate(struct nat_tpair *pairs, size_t n, struct nat_clock *clk);

/* Outside-clock time -> inside clock with clk (identity when !clk->valid). */
uint64_t nat_clock_to_inside(const struct nat_clock *clk, uint64_t t_out_us);

/*
 * Hash-consistent packet sampler for the offset pass: both captures keep the same subset of
 * signatures (those whose hash falls under a level that rises when the sample is full), so a
 * bounded sample (NAT_OFFSET_SAMPLE per side) still pairs up across the whole capture.
 */
struct nat_sampler;
struct nat_sampler *nat_sampler_new(void);
void nat_sampler_free(struct nat_sampler *s);
/* side: SIDE_INSIDE or SIDE_OUTSIDE; p decoded, with its own capture's timestamp. */
void nat_sampler_add(struct nat_sampler *s, uint8_t side, const struct pkt *p);
/*
 * Pairs the signatures unique on both sides and estimates the clock. *swap_votes gets the
 * orientation evidence: > 0 when the captures look given the wrong way round (the translated
 * address is private on the 'outside' capture / TTL order), < 0 when right. `swap` re-solves
 * with the sides exchanged. Returns the number of pairs found.
 */
size_t nat_sampler_solve(struct nat_sampler *s, bool swap, struct nat_clock *clk, long *swap_votes);

/* ---- the streaming correlator (correlate.c and the files next to it) ---- */

struct nat_corr_opts {
    uint64_t window_us;                  /* match window on the inside clock (0: NAT_WINDOW_US) */
    uint64_t cover_from_us, cover_to_us; /* time both captures cover (0, 0: all); used when
                                          * cover_side_to_us is unset */
    /* time each capture covers, by side SIDE_INSIDE/SIDE_OUTSIDE (inside clock; to 0: unknown).
     * A packet unmatched more than one window before the other capture's first packet or after
     * its last one is not "unmatched" but uncovered (nat_result.uncovered). */
    uint64_t cover_side_from_us[3], cover_side_to_us[3];
    struct ip_addr nat_addrs[8]; /* given router outside addresses (--nat-addr) */
    int n_nat_addrs;
};

struct nat_corr;
struct nat_corr *nat_corr_new(const struct nat_corr_opts *o);
/*
 * One decoded packet of side SIDE_INSIDE or SIDE_OUTSIDE, its ts_us already on the inside clock.
 * Packets of both sides must come in non-decreasing ts_us order (merge the captures by
 * corrected time). p is only read during the call (nothing is kept pointing into it).
 */
void nat_corr_packet(struct nat_corr *c, uint8_t side, const struct pkt *p);
/* End of input: expires what is pending and fills res (mappings sorted by first_ts, then by
 * identity; unmatched records by first_ts). res must be zeroed or freed before. 0 ok, -1 OOM. */
int nat_corr_finish(struct nat_corr *c, struct nat_result *res);
void nat_corr_free(struct nat_corr *c);
/* The mappings so far (for the live dashboard), as nat_corr_finish would keep them (a strong
 * pair, two weak ones, or one weak pair that is evidence on its own), in creation order, without
 * expiring anything. Copies at most max into out (out may be NULL) and returns how many there are.
 * Read-only: the run goes on unchanged. */
size_t nat_corr_mappings(const struct nat_corr *c, struct nat_mapping *out, size_t max);

/*
 * The correlator's view of one packet as a record: made where the packet was decoded
 * (nat_rec_make only reads p, so any thread may call it for its own packets) and fed to the
 * correlator later, in the same order nat_corr_packet would get the packets
 * (nat_corr_packet(c, side, p) is nat_rec_make then nat_corr_rec). NAT_REC_NONE: a frame the
 * filter rejected (no effect; it keeps the merge order of two record streams).
 */
enum { NAT_REC_NONE = 0, NAT_REC_TIME, NAT_REC_PKT, NAT_REC_FRAG };
#define NAT_REC_WORDS 64
struct nat_rec {
    uint64_t ts; /* inside clock */
    uint8_t side, kind;
    bool reassembled, has_pend, has_natd;
    uint64_t body[NAT_REC_WORDS]; /* src/nat/'s own layout */
};
void nat_rec_make(struct nat_rec *r, uint8_t side, const struct pkt *p);
void nat_corr_rec(struct nat_corr *c, const struct nat_rec *r);

/* cover_side_to_us of a capture whose end is not known yet (read once, the clock from its
 * prefix): nat_corr_cover sets it when the capture has ended, before nat_corr_finish. Until then
 * no packet of the other side is "uncovered" by that end: the captures are merged in time order,
 * so a capture still being read reaches at least the time of the packet being correlated. */
#define NAT_COVER_OPEN (UINT64_MAX / 4)
void nat_corr_cover(struct nat_corr *c, uint8_t side, uint64_t to_us);

#endif
