/* encap.h - the wrappers and tunnels decode/encap.c removes to reach the packet under study. */
#ifndef VPNSCOPE_ENCAP_H
#define VPNSCOPE_ENCAP_H

#include <stdbool.h>

/* Kinds of encapsulation (bit positions of struct pkt's encap_mask). */
enum encap_kind {
    ENCAP_NONE = 0,
    /* mirror wrappers and link-layer labels: counted, otherwise invisible */
    ENCAP_VXLAN,   /* RFC 7348, UDP 4789 / 8472 */
    ENCAP_GENEVE,  /* RFC 8926, UDP 6081 */
    ENCAP_ERSPAN,  /* ERSPAN I/II/III in GRE 0x88BE / 0x22EB */
    ENCAP_GRE_TEB, /* GRE 0x6558 (Linux gretap) */
    ENCAP_MPLS,    /* RFC 3032 label stack */
    /* tunnels that are network traffic themselves */
    ENCAP_GRE_IP, /* GRE v0 carrying IPv4/IPv6 (RFC 2784) */
    ENCAP_IPIP,   /* 4in4, 6in4, 4in6, 6in6 (RFC 2003, RFC 4213, RFC 2473) */
    ENCAP_GTPU,   /* GTP-U T-PDU, UDP 2152 (3GPP TS 29.281) */
    ENCAP_L2TP,   /* L2TPv2 data carrying PPP IPv4/IPv6 (RFC 2661) */
    ENCAP__COUNT
};

/* Stable name of a kind ("vxlan", "geneve", ..., "unknown" out of range). */
const char *encap_name(unsigned k);

/* Mirror wrappers and MPLS (not traffic under study): true; traffic tunnels: false. */
bool encap_is_wrapper(unsigned k);

#endif
