/* decode.h - pure decoders: link layer to VPN layer. No globals, no I/O, no allocation, no flow
 * lookups. */
#ifndef VPNSCOPE_DECODE_H
#define VPNSCOPE_DECODE_H

#include <stdbool.h>
#include <stdint.h>

#include "vpnscope/pkt.h"
#include "vpnscope/rd.h"

/* Well-known ports (IP protocol numbers: IPP_* in proto.h). */
#define PORT_IKE 500
#define PORT_NATT 4500
#define PORT_L2TP 1701
#define PORT_PPTP 1723

/* A hint from the flow layer: what this UDP flow was learned to carry (NAT rewrites ports, so a
 * flow that IKE moved to another port is still NAT-T). The decoder itself keeps no state. */
enum app_hint {
    HINT_NONE = 0,
    HINT_IKE,  /* plain IKE (no marker) on a non-standard port */
    HINT_NATT, /* RFC 3948 framing (marker / keepalive / ESP) on a non-standard port */
};

/* Link types vpnscope decodes (pcap DLT values). */
bool decode_dlt_supported(int dlt);

/*
 * Decodes one captured frame: link layer (p->dlt), IPv4/IPv6 with extension headers, and, unless
 * the packet is a fragment, the L4 header (UDP/TCP/ICMP/ESP/AH/GRE headers; see decode_l4).
 * Fills p->status (DECODED/TRUNCATED/INVALID/NON_IP) and anomalies. Does not decode the VPN
 * application layer of UDP/TCP: the caller does flow lookup and then calls decode_app().
 * `data` must stay valid while p is used.
 */
void decode_packet(struct pkt *p, const uint8_t *data, uint32_t caplen);

/* Decodes the L4 header of protocol `proto` from data[0..len) (a whole datagram payload, e.g.
 * after reassembly) and sets p->l4, p->payload, ports, and for ESP/AH/GRE the VPN layer itself. */
void decode_l4(struct pkt *p, uint8_t proto, const uint8_t *data, uint32_t len);

/* Demultiplexes the UDP/TCP payload into IKE / NAT-T / L2TP / PPTP by port or by `hint`. */
void decode_app(struct pkt *p, enum app_hint hint);

/* VPN-layer decoders. Each reads only through `r` (positioned at its header) and fills p. */
void ike_decode(struct rd *r, struct pkt *p); /* ISAKMP header + payload chain */
void natt_decode(struct rd *r,
                 struct pkt *p); /* UDP payload on a NAT-T flow: marker/keepalive/ESP */
void esp_decode(struct rd *r, struct pkt *p);
void ah_decode(struct rd *r, struct pkt *p);
void gre_decode(struct rd *r, struct pkt *p);
void pptp_decode(struct rd *r, struct pkt *p); /* first PPTP message of a TCP payload */
void l2tp_decode(struct rd *r, struct pkt *p);

/* IKE on a UDP payload no port identifies (see natt.c): true with the initiator SPI, major
 * version and whether a non-ESP marker precedes it. */
bool natt_probe(const uint8_t *payload, uint32_t len, uint64_t *ispi, uint8_t *version,
                bool *marker);

/* Names for wire values; never index arrays with wire values ("unknown" when not known). */
const char *ike_exch_name(uint8_t version, uint8_t exch);
const char *ike_notify_name(uint16_t type);
const char *pptp_ctrl_name(uint16_t ctrl_type);
const char *link_dlt_name(int dlt);

/* Whether a TCP payload on any port starts with a PPTP control message, by structure: control
 * message type 1, the magic cookie 0x1A2B3C4D, a known control type and a length that type
 * allows (RFC 2637 section 2). pptp_decode then decodes it. */
bool pptp_probe(const uint8_t *data, uint32_t len);

#endif
