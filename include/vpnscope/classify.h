/* classify.h - flow labelling with libndpi (the only module that knows nDPI; see
 * src/classify/ndpi.c). */
#ifndef VPNSCOPE_CLASSIFY_H
#define VPNSCOPE_CLASSIFY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct classifier;    /* one nDPI detection module */
struct classify_flow; /* per-flow nDPI state (about 700 bytes; freed as soon as the label is final)
                       */

#define CLASSIFY_NAME_MAX 48

struct classify_label {
    char name[CLASSIFY_NAME_MAX]; /* nDPI protocol name, e.g. "OpenVPN", "WireGuard", "TLS",
                                     "Unknown" */
    char category[24];            /* nDPI category name, e.g. "VPN" */
    bool is_vpn;  /* a VPN or tunnel protocol (category VPN, or OpenVPN/WireGuard/...) */
    bool guessed; /* label came from a port guess at give-up */
};

/* Creates the nDPI module: with all_protocols every protocol is enabled, else only the VPN
 * category and the carriers VPNs ride on (TLS, DTLS, HTTP, QUIC, DNS, SSH, STUN), which is most of
 * nDPI's cost saved. NULL on failure (errbuf filled). */
struct classifier *classify_new(bool all_protocols, char *errbuf, size_t errlen);
void classify_free(struct classifier *c);

/* Per-flow state; NULL on allocation failure. */
struct classify_flow *classify_flow_new(struct classifier *c);
void classify_flow_free(struct classify_flow *f);

/*
 * With nDPI 4.2, a TCP flow's TLS reassembly buffer is freed after every packet that leaves no
 * partial TLS record in it (nDPI allocates a new one at the next packet), instead of living until
 * the flow state is freed: labels are the same either way. On by default; off gives nDPI's own
 * behaviour (tests compare the two). Other nDPI versions: no effect.
 */
void classify_set_trim(struct classifier *c, bool trim);
/* The flow's TLS reassembly buffer now: bytes allocated (`held`) and bytes of a partial record
 * waiting in it (`pending`); both 0 when there is none (or with an nDPI version other than 4.2,
 * the only layout this reads). Either pointer may be NULL. */
void classify_flow_buffer(const struct classify_flow *f, size_t *held, size_t *pending);

/*
 * Feeds one packet of the flow: `l3` points at its IPv4/IPv6 header, `len` captured bytes of it.
 * Returns true when the label is final (detected, or nDPI has nothing more to learn). Call at
 * most CLASSIFY_MAX_PACKETS times per flow (config.h), then classify_giveup().
 */
bool classify_packet(struct classifier *c, struct classify_flow *f, const uint8_t *l3, uint32_t len,
                     uint64_t ts_us);

/* The flow's label now; with `giveup` true, asks nDPI for its best guess (port based). */
void classify_result(struct classifier *c, struct classify_flow *f, bool giveup,
                     struct classify_label *out);

/* "nDPI x.y.z" for --version. */
const char *classify_version(void);

#endif
