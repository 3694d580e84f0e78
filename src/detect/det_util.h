/* det_util.h - small helpers shared by the detectors in src/detect/ (private to this folder). */
#ifndef VPNSCOPE_DET_UTIL_H
#define VPNSCOPE_DET_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vpnscope/detect.h"
#include "vpnscope/finding.h"
#include "vpnscope/nat.h"
#include "vpnscope/proto.h"
#include "vpnscope/session.h"
#include "vpnscope/table.h"

#define DU_IPSTR 48

/* Formats an address into buf (DU_IPSTR bytes); returns buf. */
const char *du_ip(const struct ip_addr *a, char *buf);
/* Like du_ip, but IPv6 in brackets, for use before ":port" (RFC 5952 §6). */
const char *du_ipp(const struct ip_addr *a, char *buf);
/* "HH:MM:SS UTC" (from the packet clock, never the wall clock) into buf (>= 16 bytes). */
const char *du_hms(uint64_t ts_us, char *buf);
/* "0x%08x" into buf (>= 12 bytes). */
const char *du_spi(uint32_t spi, char *buf);
/* A session of role at endpoint e (address and port); NULL when the finding is full. */
struct finding_session *du_session_endpoint(struct finding *f, unsigned role,
                                            const struct endpoint *e);
/* Evidence "ike_spi": the initiator's IKE SPI as 16 hex digits. */
void du_ev_ike_spi(struct finding *f, uint64_t ispi);
/* Appends printf-style text to the NUL-terminated buf of size n (truncates silently). */
void du_cat(char *buf, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
double du_sec(uint64_t us);
/* The protocol's name in upper case, as the summary sentences write it ("UDP", "ESP", "AH",
 * "GRE"; "IP" for a protocol without a name), into buf (DU_PROTOSTR bytes); returns buf. */
#define DU_PROTOSTR 8
const char *du_proto_upper(uint8_t proto, char *buf);

/* Multicast or broadcast destination (no NAT session, inherently one-way). */
bool du_is_group(const struct ip_addr *a);
/* Link-local or loopback (never crosses a router). */
bool du_is_local(const struct ip_addr *a);
/* Same IPv4 /24 or IPv6 /64: no router, hence no NAT, between them. */
bool du_same_subnet(const struct ip_addr *a, const struct ip_addr *b);

/* Two-capture mode? */
bool du_two(const struct detect_ctx *c);
/* The side a model describes: given, else inferred (SIDE_SINGLE when unknown). */
uint8_t du_model_side(const struct session_model *m);
/* Frame-reference capture for a model in this context: SIDE_SINGLE in one-capture mode. */
uint8_t du_cap(const struct detect_ctx *c, const struct session_model *m);
/* Whether ip is one of the router's outside addresses known to the NAT result. */
bool du_is_nat_addr(const struct detect_ctx *c, const struct ip_addr *ip);
/* Last timestamp seen by a model (0 when empty). */
uint64_t du_model_end(const struct session_model *m);

/* The gap of a that contains ts (start <= ts <= end), or NULL. */
const struct gap *du_gap_at(const struct idle_gaps *a, uint64_t ts);

/* The gap of a that starts within [ts, ts + slack_us] (the idle period right after ts), or NULL. */
const struct gap *du_gap_after(const struct idle_gaps *a, uint64_t ts, uint64_t slack_us);

/* A flow by its endpoints and protocol (either order), or NULL: a hash lookup
 * (session_flow_lookup). */
const struct flow *du_flow_find(const struct session_model *m, uint8_t proto,
                                const struct ip_addr *a, uint16_t pa, const struct ip_addr *b,
                                uint16_t pb);

/* The IKE SAs / ESP-AH SAs between addresses a and b (either direction), in table slot order:
 * start with *it = 0; NULL at the end. session_ike_between / session_ipsec_between, or a filtered
 * scan when the model has no address-pair index (session_index() failed or was not called). */
const struct ike_sa *du_ike_between(const struct session_model *m, const struct ip_addr *a,
                                    const struct ip_addr *b, uint32_t *it);
const struct ipsec_sa *du_ipsec_between(const struct session_model *m, const struct ip_addr *a,
                                        const struct ip_addr *b, uint32_t *it);

/* Copies ip into a key field with the bytes ip_addr_eq ignores zeroed, so that keys compared with
 * memcmp (table.h) match exactly when ip_addr_eq does. */
void du_key_ip(struct ip_addr *dst, const struct ip_addr *ip);

/* A generic key for the temporary indexes below: two addresses, two ports, one 32-bit value
 * (SPI, Call ID, ...) and a tag telling keys of different meaning apart. */
struct du_key {
    struct ip_addr a, b;
    uint32_t x;
    uint16_t pa, pb;
    uint8_t proto, tag;
};
/* Fills k (padding zeroed; a or b may be NULL for none). */
void du_key_make(struct du_key *k, uint8_t tag, uint8_t proto, const struct ip_addr *a, uint16_t pa,
                 const struct ip_addr *b, uint16_t pb, uint32_t x);

/*
 * Temporary multimap for one detector run, replacing nested scans: items 0..n-1 (table slots,
 * array indexes) are chained by a fixed-size key (zero-padded, see du_key_ip); an item is under
 * one key at most (its chain link is per item). Adding the items in increasing order makes every
 * chain list them in that order, so a walk over a chain visits the matches in the order the
 * replaced scan did. Callers still test their full condition on
 * each item: when memory runs out the index degrades to one chain of all items 0..n-1 (the
 * original scan, same results). Free with du_index_free.
 */
#define DU_NONE 0xffffffffu
struct du_index {
    struct table *t; /* key -> chain head/tail; NULL: degraded (every key chains all items) */
    uint32_t *next;  /* next item of the same key, by item */
    uint32_t n;
};
void du_index_init(struct du_index *x, uint32_t key_size, uint32_t n);
/* Appends item (< n) to key's chain. Add each item once (under one key). */
void du_index_add(struct du_index *x, const void *key, uint32_t item);
/* First item of key's chain, or DU_NONE. */
uint32_t du_index_first(const struct du_index *x, const void *key);
/* Next item after `item` in its chain, or DU_NONE. */
uint32_t du_index_next(const struct du_index *x, uint32_t item);
void du_index_free(struct du_index *x);

/* Small set of addresses (capped). */
#define DU_SET_MAX 64
struct du_ipset {
    unsigned n;
    struct ip_addr v[DU_SET_MAX];
};
/* Index of ip in the set, adding it when absent; -1 when full. */
int du_set_add(struct du_ipset *s, const struct ip_addr *ip);
int du_set_find(const struct du_ipset *s, const struct ip_addr *ip);

/* IKE exchange types (RFC 7296 section 3.1; IKEv1: RFC 2408 section 3.1, RFC 2409 section 5.5). */
enum du_ike_exch {
    IKEV1_EXCH_MAIN_MODE = 2, /* Identity Protection */
    IKEV1_EXCH_AGGRESSIVE = 4,
    IKEV1_EXCH_QUICK_MODE = 32,
    IKEV2_EXCH_IKE_AUTH = 35,
};
/* How many messages of exchange type exch the IKE SA carried. */
uint32_t du_exch_count(const struct ike_sa *sa, uint8_t exch);

/* A du_index built on first use: zero-initialise, free with du_lazy_free. */
struct du_lazy {
    bool built;
    struct du_index x;
};
void du_lazy_free(struct du_lazy *l);

/* The first UDP mapping of the inside endpoint (ip, port) towards peer (and peer_port, unless
 * NULL), or NULL; mi: the UDP mappings by (inside address, inside port, peer address), in index
 * order. */
const struct nat_mapping *du_udp_mapping(const struct nat_result *r, struct du_lazy *mi,
                                         const struct ip_addr *ip, uint16_t port,
                                         const struct ip_addr *peer, const uint16_t *peer_port);

#endif
