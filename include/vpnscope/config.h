/* config.h - every cap, timeout and default in one place (p0f config.h style), one comment each. */
#ifndef VPNSCOPE_CONFIG_H
#define VPNSCOPE_CONFIG_H

#define VPNSCOPE_VERSION "0.1.0"
#define VPNSCOPE_ERRBUF_SIZE 256

/* decode */
#define VPNSCOPE_MAX_LAYERS 8   /* encapsulation depth (VLAN tags, IPv6 ext headers, tunnels) */
#define VPNSCOPE_MAX_VLANS 4    /* 802.1Q/QinQ tags followed */
#define VPNSCOPE_MAX_IPV6_EXT 8 /* IPv6 extension headers walked */
#define VPNSCOPE_MAX_IKE_PAYLOADS 64   /* IKE payload chain walk cap */
#define VPNSCOPE_MAX_IKE_PROPOSALS 16  /* SA proposals walked */
#define VPNSCOPE_MAX_IKE_TRANSFORMS 32 /* transforms walked per proposal */
#define VPNSCOPE_MAX_IKE_ATTRS 32      /* attributes walked per transform */
#define VPNSCOPE_MAX_L2TP_AVPS 1       /* L2TP AVPs looked at (message type only) */

/* fragments (flow/frag.c) */
#define FRAG_MAX_DATAGRAMS 4096      /* datagrams under reassembly; oldest evicted (counted) */
#define FRAG_MAX_BYTES (16u << 20)   /* bytes buffered for reassembly in all */
#define FRAG_MAX_FRAGS 128           /* fragments per datagram (more: invalid) */
#define FRAG_TIMEOUT_US 30000000ull  /* IPv4 reassembly timeout (Linux ipfrag_time 30 s) */
#define FRAG6_TIMEOUT_US 60000000ull /* IPv6 reassembly timeout (Linux ip6frag_time 60 s) */

/* session model (flow/) */
/* Every table evicts when full: least recently used one-way entries first (a flood of spoofed
 * SPIs or ports), two-way ones (live tunnels) only when nothing else is left; evictions are
 * counted in the summary. Sized so that all tables full stay under ~64 MB. Sizes below: sizeof
 * of the record (x86-64); idle gaps (struct idle_gaps, 32 B for one gap up to 104 B for four; a
 * flow with keepalives: struct activity, 160 B) and sparklines (struct spark, 144 B, dashboard
 * only) are allocated apart, when a record has them. */
#define FLOW_MAX 65536        /* 5-tuple flows tracked (96 B each + 56 B of table entry) */
#define IKE_SA_MAX 16384      /* IKE SAs (448 B each) */
#define IPSEC_SA_MAX 16384    /* ESP + AH SAs, per SPI and direction (168 B each) */
#define GRE_MAX 16384         /* GRE flows per direction and call ID / key (264 B each) */
#define L2TP_MAX 8192         /* L2TP tunnel/session pairs (88 B each) */
#define PPTP_CTRL_MAX 4096    /* PPTP control connections (456 B each) */
#define PPTP_CALLS_PER_CTRL 8 /* calls remembered per control connection */
#define GAP_MIN_US 1000000ull /* idle gaps shorter than this are not recorded */
#define GAPS_PER_TUNNEL 4     /* longest idle gaps kept per tunnel */
#define CLASSIFY_MAX_PACKETS                                                                       \
    8 /* data packets per flow given to nDPI before it must guess (ndpiReader: 24 UDP / 80 TCP);   \
         VPN handshakes are recognised in the first few */
#define CLASSIFY_MAX_LIVE                                                                          \
    4096 /* flows with live nDPI state at once (700 B + nDPI buffers each); more wait unlabelled   \
          */

/* NAT timeouts (seconds): Linux conntrack defaults, overridable on the command line. */
#define NAT_UDP_TIMEOUT 30
#define NAT_UDP_STREAM_TIMEOUT 120
#define NAT_TCP_TIMEOUT 432000
#define NAT_GRE_TIMEOUT 180
#define NAT_OTHER_TIMEOUT 600

/* output */
#define UNMATCHED_MAX_FRAMES 20 /* frames listed in an unmatched record */
#define FINDING_MAX_FRAMES 64   /* frames listed in a finding's evidence; frames_total counts all */

/* two-capture NAT correlation (nat/) */
#define NAT_OFFSET_SAMPLE 65536  /* signatures sampled per capture for the clock offset */
#define NAT_WINDOW_US 2000000ull /* a packet unmatched this long (inside clock) is unmatched */
#define NAT_PENDING_MAX 65536    /* packets waiting for their counterpart; oldest forced out */
#define NAT_PENDING_FIFO 131072  /* expiry queue entries (8 B; power of 2): caps the window too */
#define NAT_MAP_MAX 32768        /* nat_mapping records kept (more: counted, dropped) */
#define NAT_MAP_VPN_RESERVE 8192 /* of which kept for VPN traffic (mapping.c) */
#define NAT_UNMATCHED_MAX 16384  /* unmatched records kept (more: counted, dropped) */
#define NAT_FRAG_GROUPS 4096     /* datagrams under reassembly followed per capture */
#define NAT_PPTP_CALLS 16384     /* PPTP calls learned from paired control messages */

/* WireGuard / OpenVPN / other UDP tunnels (flow/session_udptun.c, session_wg.c, session_ovpn.c) */
#define TUN_FLOW_MAX 16384    /* tunnel flows (5-tuples) followed (896 B each) */
#define WG_SESSION_MAX 16384  /* WireGuard sessions (index pairs) (544 B each) */
#define WG_INDEX_MAX 32768    /* WireGuard index -> session links */
#define OVPN_SESSION_MAX 8192 /* OpenVPN sessions (client session ids) (576 B each) */
#define OVPN_PEER_MAX 8192    /* OpenVPN (server, peer id) -> session links */
#define OVPN_TCP_MAX 4096     /* OpenVPN-over-TCP flows being de-framed (368 B each) */
#define TUN_MAX_CHANGES 4     /* endpoint changes listed per session (more: counted) */
#define TUN_MAX_FRAMES 8      /* evidence frames kept per unanswered handshake run / direction */
#define TUN_STALE_IDLE_US 2000000ull /* a tunnel quiet this long may have lost its mapping */
#define OVPN_PING_MAX_LEN 96         /* an OpenVPN data packet this small may be a ping */
/* encapsulations (decode/encap.c); the nesting depth is VPNSCOPE_MAX_LAYERS */
#define VPNSCOPE_MAX_MPLS_LABELS 8 /* MPLS label stack entries followed (RFC 3032) */
#define VPNSCOPE_MAX_GTPU_EXT 8    /* GTP-U extension headers walked (3GPP TS 29.281 §5.2) */

#endif
