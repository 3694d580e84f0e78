/* det_util.h - small helpers shared by the detectors in src/detect/ (private to this folder). */
#ifndef VPNSCOPE_DET_UTIL_H
#define VPNSCOPE_DET_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vpnscope/detect.h"
#include "vpnscope/finding.h"
#include "vpnscope/nat.h"
#include "vpnscope/session.h"
#include "vpnscope/table.h"

#define DU_IPSTR 48

bool du_ip_eq(const struct ip_addr *a, const struct ip_addr *b);
/* Formats an address into buf (DU_IPSTR bytes); returns buf. */
const char *du_ip(const struct ip_addr *a, char *buf);
/* Like du_ip, but IPv6 in brackets, for use before ":port" (RFC 5952 §6). */
const char *du_ipp(const struct ip_addr *a, char *buf);
/* "HH:MM:SS UTC" (from the packet clock, never the wall clock) into buf (>= 16 bytes). */
const char *du_hms(uint64_t ts_us, char *buf);
/* "0x%08x" into buf (>= 12 bytes). */
const char *du_spi(uint32_t spi, char *buf);
/* Appends printf-style text to the NUL-terminated buf of size n (truncates silently). */
void du_cat(char *buf, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
double du_sec(uint64_t us);

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
const struct gap *du_gap_at(const struct activity *a, uint64_t ts);

/* The gap of a that starts within [ts, ts + slack_us] (the idle period right after ts), or NULL. */
const struct gap *du_gap_after(const struct activity *a, uint64_t ts, uint64_t slack_us);

/* A flow by its endpoints and protocol (either order), or NULL. */
const struct flow *du_flow_find(const struct session_model *m, uint8_t proto, const struct ip_addr *a,
                                uint16_t pa, const struct ip_addr *b, uint16_t pb);

/* Small set of addresses (capped). */
#define DU_SET_MAX 64
struct du_ipset {
    unsigned n;
    struct ip_addr v[DU_SET_MAX];
};
/* Index of ip in the set, adding it when absent; -1 when full. */
int du_set_add(struct du_ipset *s, const struct ip_addr *ip);
int du_set_find(const struct du_ipset *s, const struct ip_addr *ip);

/* Whether an earlier finding of `kind` names ip as a client. */
bool du_finding_names_client(const struct finding_list *l, unsigned kind, const struct ip_addr *ip);

#endif
