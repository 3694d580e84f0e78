/* natd.h - NAT-D hashes: HASH(SPIi | SPIr | IP | port) (RFC 7296 §2.23 with SHA-1; RFC 3947 §3
 * with the IKEv1 negotiated hash). Shared by the session model (one capture) and the correlator. */
#ifndef VPNSCOPE_NATD_H
#define VPNSCOPE_NATD_H

#include <stdbool.h>
#include <stdint.h>

#include "vpnscope/pkt.h"

/*
 * Whether nd holds the NAT-D hash of (ispi, rspi, ip, port). IKEv2 notifies use SHA-1; an IKEv1
 * NAT-D payload uses the negotiated hash: v1_hash (IKEv1 attribute value, 0 when unknown) or, when
 * unknown, the algorithm implied by the hash length (16 MD5, 20 SHA-1, 32/48/64 SHA-2).
 */
bool natd_matches(const struct ike_natd *nd, uint16_t v1_hash, uint64_t ispi, uint64_t rspi,
                  const struct ip_addr *ip, uint16_t port);

#endif
