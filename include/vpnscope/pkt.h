/* pkt.h - the decoded packet: what decoders fill and everything downstream reads. */
#ifndef VPNSCOPE_PKT_H
#define VPNSCOPE_PKT_H

#include <stdbool.h>
#include <stdint.h>

#include "vpnscope/tunnel_msg.h"

enum anomaly {
    ANOM_NONE = 0,
#define ANOM(e, s) ANOM_##e,
#include "vpnscope/anomalies.def"
#undef ANOM
    ANOM__COUNT
};

/* Stable name of an anomaly ("unknown" for out-of-range values). */
const char *anomaly_name(unsigned a);

/* Exactly one status per packet: the summary's partition. */
enum pkt_status {
    PKT_DECODED = 0, /* decoded to the deepest layer vpnscope understands */
    PKT_TRUNCATED,   /* a layer ran out of captured bytes */
    PKT_INVALID,     /* a layer's fields are impossible */
    PKT_NON_IP,      /* link layer fine, not IPv4/IPv6 (ARP, LLDP...) */
};

/* An address: v = 4 (a[0..3]) or 6 (a[0..15]); 0 = none. Compare with memcmp over the struct. */
struct ip_addr {
    uint8_t v;
    uint8_t a[16];
};

/* What the VPN layer of the packet is. */
enum pkt_vpn {
    VPN_NONE = 0,
    VPN_IKE, /* IKE on UDP (500, or after a non-ESP marker on 4500 / learned NAT-T flows) */
    VPN_NATT_KEEPALIVE, /* single 0xFF on a NAT-T flow (RFC 3948 §2.3) */
    VPN_ESP,            /* ESP, raw (proto 50) or in UDP (esp_in_udp) */
    VPN_AH,             /* AH (proto 51 / IPv6 next header 51) */
    VPN_GRE,            /* GRE v0 or enhanced GRE v1 (PPTP data) */
    VPN_PPTP,           /* PPTP control message on TCP 1723 */
    VPN_L2TP,           /* L2TP on UDP 1701 */
    VPN_WG,             /* WireGuard (any UDP port, recognised by structure) */
    VPN_OVPN,           /* OpenVPN over UDP or TCP */
    VPN__COUNT
};

/* IKE vendor ID recognition bits (MD5 of known strings, ike.c). */
#define IKE_VID_RFC3947 0x0001u       /* MD5("RFC 3947") */
#define IKE_VID_NATT_DRAFT 0x0002u    /* draft-ietf-ipsec-nat-t-ike-00/02/02n/03 */
#define IKE_VID_DPD 0x0004u           /* RFC 3706 */
#define IKE_VID_FRAGMENTATION 0x0008u /* Cisco/racoon IKE fragmentation */
#define IKE_VID_XAUTH 0x0010u
#define IKE_VID_OTHER 0x8000u

#define IKE_MAX_NATD 4
#define IKE_MAX_NOTIFY 16
#define IKE_NATD_MAXLEN 64

enum ike_natd_kind {
    IKE_NATD_V1 = 1, /* IKEv1 NAT-D payload (20 or draft 130): first = dst, then src(s) */
    IKE_NATD_V2_SRC, /* IKEv2 notify 16388 NAT_DETECTION_SOURCE_IP */
    IKE_NATD_V2_DST, /* IKEv2 notify 16389 NAT_DETECTION_DESTINATION_IP */
};

struct ike_natd {
    uint8_t kind; /* enum ike_natd_kind */
    uint8_t len;  /* hash length as on the wire (capped at IKE_NATD_MAXLEN) */
    uint8_t h[IKE_NATD_MAXLEN];
};

struct ike_msg {
    uint64_t ispi, rspi;
    uint8_t version; /* 1 or 2 (major version) */
    uint8_t exch;    /* exchange type */
    uint8_t flags;
    uint32_t msgid;
    uint32_t length;    /* header length field */
    bool initiator;     /* v2: I flag; v1: unknown -> false */
    bool response;      /* v2: R flag */
    bool encrypted;     /* v1 E flag or v2 SK/SKF payload present */
    uint8_t n_payloads; /* payloads walked (capped) */
    uint8_t n_natd;
    struct ike_natd natd[IKE_MAX_NATD];
    uint8_t n_notify;
    uint16_t notify[IKE_MAX_NOTIFY]; /* notify message types in order (capped) */
    bool frag_supported;             /* v2 notify 16430 IKEV2_FRAGMENTATION_SUPPORTED */
    uint16_t vid_flags;              /* IKE_VID_* */
    /* IKEv1 SA (first proposal, first transform when more; in a response that is the chosen one) */
    bool has_sa;
    uint8_t n_transforms;
    uint16_t v1_hash;  /* IKEv1 phase-1 hash attribute (1 MD5, 2 SHA, 3 Tiger, 4 SHA2-256, 5 -384, 6
                          -512) */
    uint16_t v1_encap; /* IKEv1 encapsulation mode attribute (1,2,3,4,61443,61444), 0 when absent */
    /* fragmentation */
    bool skf; /* v2 SKF payload (RFC 7383) */
    uint16_t frag_num, frag_total;
    bool v1_frag; /* v1 payload 132 */
};

struct esp_hdr {
    uint32_t spi, seq;
};

struct ah_hdr {
    uint8_t next_header;
    uint8_t len_field; /* payload length (32-bit words - 2) */
    uint32_t spi, seq;
    uint16_t icv_len; /* bytes */
};

struct gre_hdr {
    uint8_t version; /* 0 or 1 */
    uint16_t flags;  /* first 16 bits (C R K S s Recur A Flags Ver) */
    uint16_t proto;  /* EtherType of payload (0x880B for PPTP) */
    bool has_key, has_seq, has_ack;
    uint32_t key;         /* v0 key */
    uint16_t payload_len; /* v1 */
    uint16_t call_id;     /* v1: the peer's call ID */
    uint32_t seq, ack;
};

#define PPTP_STR_MAX 64
struct pptp_msg {
    uint16_t length;
    uint16_t msg_type;  /* 1 = control */
    uint16_t ctrl_type; /* 1..15 */
    bool has_call_id, has_peer_call_id;
    uint16_t call_id, peer_call_id;
    uint8_t result, error;       /* where the message carries them */
    uint16_t cause;              /* CDN */
    char hostname[PPTP_STR_MAX]; /* SCCRQ/SCCRP: raw bytes up to first NUL (may contain any byte) */
    char vendor[PPTP_STR_MAX];
};

struct l2tp_hdr {
    uint8_t version;
    bool control; /* T bit */
    uint16_t tunnel_id, session_id;
    uint16_t msg_type; /* control: Message Type AVP value when first AVP, else 0 */
};

/* The decoded packet. A single instance is reused per packet; pointers into packet data are
 * valid only until the next packet is read (or, for reassembled datagrams, until the fragment
 * table is next modified). */
struct pkt {
    /* capture */
    uint64_t ts_us; /* packet time, microseconds since the epoch (the only clock) */
    uint64_t frame; /* 1-based frame number within its input */
    uint32_t caplen, wirelen;
    int dlt;
    uint8_t side;         /* enum cap_side: 0 single, 1 inside, 2 outside */
    uint32_t ifidx;       /* interface index (pcapng) or SLL ifindex, 0 if unknown */
    uint16_t sll_pkttype; /* SLL packet type (0 host, 4 outgoing...), 0xffff if none */
    /* PKT_DIRTY_*: the large parts a decoder wrote since the last pkt_reset, which clears only
     * those of them (ike_decode, pptp_decode and the OpenVPN decode set them). A struct pkt is
     * zeroed once before its first decode (calloc, memset); whoever else writes p->ike, p->pptp or
     * p->ovpn of a packet that is reset later sets the bit. */
    uint8_t dirty;

    enum pkt_status status;
    uint8_t n_anom;
    uint16_t anom[8]; /* enum anomaly, capped */

    /* L3 */
    uint8_t ipver; /* 0, 4 or 6 */
    struct ip_addr src, dst;
    uint8_t l4proto; /* final protocol after IPv6 extension headers (AH is a layer of its own) */
    uint8_t ttl;
    uint32_t ip_id;    /* IPv4 ID, or IPv6 fragment ID */
    bool is_frag;      /* this packet is a fragment (any) */
    bool reassembled;  /* L4 below comes from a reassembled datagram */
    uint32_t frag_off; /* bytes */
    bool frag_mf;
    uint8_t tos;
    const uint8_t *l3;        /* start of the IP header */
    uint32_t l3_len;          /* min(captured, IP total length) */
    uint32_t ip_len;          /* IP total length from the header */
    const uint8_t *frag_data; /* fragment payload (after the IP/fragment header) */
    uint32_t frag_data_len;

    /* L4 */
    bool has_ports;
    uint16_t sport, dport;
    uint8_t tcp_flags;
    uint32_t tcp_seq, tcp_ack;
    uint16_t icmp_id; /* echo request/reply identifier */
    uint8_t icmp_type;
    const uint8_t *l4; /* start of the L4 header (UDP/TCP/ESP/AH/GRE/ICMP) */
    uint32_t l4_len;
    const uint8_t *payload; /* application payload (UDP/TCP data; after NAT-T marker for IKE) */
    uint32_t payload_len;

    /* VPN layer */
    enum pkt_vpn vpn;
    bool esp_in_udp;    /* ESP carried in UDP (RFC 3948) */
    bool nonesp_marker; /* IKE after a 4-byte zero marker */
    bool ah_esp; /* AH followed by ESP (AH+ESP bundle): esp is filled too, vpn stays VPN_AH */
    struct ike_msg ike;
    struct esp_hdr esp;
    struct ah_hdr ah;
    struct gre_hdr gre;
    struct pptp_msg pptp;
    struct l2tp_hdr l2tp;

    /* IPv4 DF bit; ICMP code; ICMP "fragmentation needed" (type 3 code 4) / ICMPv6 "packet too
     * big" (type 2): the next-hop MTU and the start of the quoted datagram (RFC 792/1191/4443). */
    bool df;
    uint8_t icmp_code;
    struct icmp_too_big {
        bool valid;              /* a too-big message whose quoted IP header was read */
        uint32_t mtu;            /* next-hop MTU (0: not given, pre-RFC 1191 router) */
        struct ip_addr src, dst; /* quoted datagram */
        uint8_t proto;           /* its upper-layer protocol (no extension headers walked) */
        uint32_t len;            /* its IP length field (IPv6: payload + 40) */
        bool has_ports;
        uint16_t sport, dport;
        bool has_spi; /* ESP SPI (raw, or after UDP 4500 ports when non-zero) */
        uint32_t spi;
    } too_big;
    struct wg_msg wg;     /* VPN_WG */
    struct ovpn_msg ovpn; /* VPN_OVPN: UDP, or the first packet of a TCP segment that starts one */
    /* encapsulation (decode/encap.c): wrappers and tunnels removed to reach the packet above.
     * Mirror wrappers (VXLAN, Geneve, ERSPAN, GRE TEB) and MPLS leave no other trace; for a
     * traffic tunnel (GRE with IP, IP in IP, GTP-U, L2TP data) the outermost one's kind and
     * addresses are kept. */
    uint8_t encap_depth;                   /* layers removed (<= VPNSCOPE_MAX_LAYERS) */
    uint16_t encap_mask;                   /* 1u << enum encap_kind of every layer removed */
    uint8_t tunnel_kind;                   /* enum encap_kind of the outermost tunnel, 0 none */
    struct ip_addr tunnel_src, tunnel_dst; /* that tunnel's outer addresses */
};

/* Records an anomaly (capped at 8 per packet; later ones are still counted by the caller's
 * summary through pkt_anom_overflow). Does not change status. */
void pkt_anom(struct pkt *p, enum anomaly a);

/* Marks the packet truncated (first status wins over DECODED; INVALID/TRUNCATED keep the first). */
void pkt_truncated(struct pkt *p, enum anomaly a);

/* Marks the packet invalid with the anomaly. */
void pkt_invalid(struct pkt *p, enum anomaly a);

#define PKT_DIRTY_IKE 0x01u
#define PKT_DIRTY_PPTP 0x02u
#define PKT_DIRTY_OVPN 0x04u

/* Resets everything except what the capture layer fills (ts, frame, lengths, dlt, side, ifidx):
 * zero, as after a memset (ike, pptp and ovpn cleared when `dirty` says they were written). */
void pkt_reset(struct pkt *p);

/* Formats an address (RFC 5952 for IPv6) into buf (at least 48 bytes). Returns buf. */
char *ip_addr_str(const struct ip_addr *a, char *buf, unsigned size);

/* Private (RFC 1918, 100.64/10 CGNAT, fc00::/7, link-local, loopback) addresses. */
bool ip_addr_is_private(const struct ip_addr *a);

#endif
