/* corr_int.h - state shared by the files of the NAT correlator (correlate.c, signature.c,
 * pending.c, mapping.c, pptp_calls.c, frag_groups.c, finish.c); private to src/nat/. */
#ifndef VPNSCOPE_NAT_CORR_INT_H
#define VPNSCOPE_NAT_CORR_INT_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "vpnscope/nat.h"
#include "vpnscope/pkt.h"
#include "vpnscope/table.h"

#define NIL 0xffffffffu

enum { DIR_TO_PEER = 0, DIR_FROM_PEER = 1 };

/* pending entry flags */
#define PF_ALIVE 0x01
#define PF_WEAK 0x02
#define PF_PORTS 0x04
#define PF_SPI 0x08
#define PF_CALL 0x10
#define PF_ECHO 0x20
#define PF_PPTP 0x40
#define PF_ICMP_ERR 0x80

#define PENDING_FRAMES 4

struct pend {
    uint64_t sig;
    uint64_t ts;
    uint64_t fh; /* hash of the packet's addresses, ports / ids and protocol (mapping cache) */
    uint64_t frames[PENDING_FRAMES];
    struct ip_addr src, dst;
    uint8_t proto, side, ttl, ipver;
    uint32_t hnext;
    uint32_t spi;
    uint32_t ip_id;
    uint32_t ip_len;
    uint32_t ev;
    uint32_t gen; /* slot generation (FIFO entries of a reused slot are stale) */
    uint16_t nfr; /* frames this entry stands for (fragments of one datagram) */
    uint16_t sport, dport;
    uint16_t call_id; /* GRE v1: the receiver's Call ID */
    uint16_t icmp_id;
    uint16_t pptp_call, pptp_peer;
    uint8_t pptp_type;
    uint8_t pptp_has; /* 1 call id, 2 peer call id */
    uint8_t flags;
    uint8_t gre_ver;
    bool contested; /* another packet of the other side had a choice between it and a look-alike */
    bool vpn;       /* the packet has a decoded VPN layer (the mapping cap's reserve) */
};

/* An identity, zero-padded for hashing: address plus what the protocol adds. */
enum { IK_IP = 0, IK_PORT = 1, IK_CALL = 2, IK_ICMP = 3 };
struct ident {
    struct ip_addr ip;
    uint8_t kind;
    uint16_t val;
};

struct mkey {
    struct ident in, out, peer;
    uint8_t proto;
    uint8_t pad[3];
};

struct fkey {
    struct ident client, peer;
    uint8_t proto;
    uint8_t side;
    uint8_t pad[2];
};

struct ukey {
    struct ip_addr src, dst;
    uint16_t sport, dport;
    uint32_t spi;
    uint16_t call_id;
    uint8_t side, proto;
    uint8_t has; /* 1 ports, 2 spi, 4 call id */
    uint8_t pad[3];
};

struct ckey {
    struct ip_addr client_in, server;
    uint16_t id;
    uint8_t kind; /* 0: by the client's inside Call ID, 1: by the server's Call ID; 2 and 3: the
                   * same for a server behind the router (client_in: the inside server, server:
                   * the outside client; x, y: the client's Call ID as the inside and the outside
                   * see it, z: the server's) */
    uint8_t pad;
};

struct cval {
    struct ip_addr client_out;
    uint16_t x, y, z; /* client's Call ID inside, outside; server's Call ID */
    bool has_xy, has_z;
};

struct fgkey {
    struct ip_addr src, dst;
    uint32_t id;
    uint8_t proto, ipver, side;
    uint8_t pad;
};

struct fgval {
    uint64_t first_ts, last_ts;
    uint64_t frames[PENDING_FRAMES];
    uint16_t nfr;
    uint8_t proto;
    bool done;
    bool has_ports; /* from the first fragment's UDP/TCP header */
    uint16_t sport, dport;
    struct ip_addr src, dst;
};

struct mint {
    struct nat_mapping m;
    struct mkey key;
    uint64_t strong, weak;
    int32_t final_idx;
    uint32_t next; /* internal index of the next record of the same inside flow, NIL if none */
    /* weak pairs that are evidence on their own (corr_single_pair_ok): the sole candidate in
     * the window, equal IPv4 ID and length, the peer's endpoint equal on both sides */
    uint32_t single_ok;
};

struct uint_rec {
    struct nat_unmatched u;
    struct ukey key;
};

/* Pair -> mapping cache: the same two tuples always give the same mapping and direction (GRE
 * keys also depend on the PPTP calls learned: entries carry the call generation). A negative
 * entry (valid 2) remembers a pair whose mapping the cap dropped: while no mapping has been
 * created since (nmaps), the same tuples find no mapping and are dropped again, as they would be
 * by the full lookup (a pair with a VPN layer may use the reserve: it is looked up again unless
 * the entry's pair had one too). */
#define MC_SIZE 16384
struct mcache {
    uint64_t a, b; /* tuple hashes of the inside and the outside packet */
    uint32_t idx;
    uint32_t gen;
    uint32_t extra_ev;
    uint32_t nmaps; /* negative: mappings when the pair was dropped */
    uint8_t dir;
    uint8_t valid; /* 0 empty, 1 a mapping, 2 dropped by the cap */
    bool vpn;      /* negative: the dropped pair had a VPN layer */
};

struct nat_corr {
    struct nat_corr_opts o;
    uint64_t window;
    uint64_t now;
    /* pending pool (free list through hnext) + FIFO of (slot, gen) + signature index */
    struct pend *ring;
    uint32_t pool_cap, pool_top, free_head, alive;
    uint64_t *fifo;
    uint32_t fmask;
    uint64_t head, tail;
    uint32_t *bucket;
    uint32_t bmask;
    /* mappings */
    struct mint *maps;
    size_t n_maps, cap_maps;
    struct table *mapidx;  /* mkey -> uint32 */
    struct table *flowidx; /* fkey -> uint32 (latest mapping) */
    /* unmatched */
    struct uint_rec *unm;
    size_t n_unm, cap_unm;
    struct table *unmidx; /* ukey -> uint32 */
    /* PPTP calls and fragment groups */
    struct table *calls;
    struct table *fgroups;
    uint32_t call_gen;
    struct mcache *mc;
    /* counters */
    uint64_t pairs, only[3], uncovered, pending_evicted, dropped_records;
    uint64_t dir_pairs[2];
    bool oom;
    bool pair_sole;       /* the pair being recorded had no competing candidate in the window */
    struct pkt *natd_pkt; /* the IKE NAT-D payloads of the record being correlated */
};

/* A copy with the unused bytes zeroed (keys are compared with memcmp). */
static inline struct ip_addr ip_norm(const struct ip_addr *a)
{
    struct ip_addr r;
    memset(&r, 0, sizeof(r));
    r.v = a->v;
    if (a->v == 4) /* fixed sizes: copied inline, not by a call */
        memcpy(r.a, a->a, 4);
    else if (a->v == 6)
        memcpy(r.a, a->a, 16);
    return r;
}

static inline struct ident mk_ident(const struct ip_addr *ip, uint8_t kind, uint16_t val)
{
    struct ident id;
    memset(&id, 0, sizeof(id));
    id.ip = ip_norm(ip);
    id.kind = kind;
    id.val = kind == IK_IP ? 0 : val;
    return id;
}

/* pending.c: the pending window and the unmatched records */
void corr_unm_add(struct nat_corr *c, const struct pend *e);
void corr_slot_free(struct nat_corr *c, uint32_t slot);
void corr_expire(struct nat_corr *c, uint64_t now);
void corr_pend_insert(struct nat_corr *c, const struct pend *src);
uint32_t corr_find_match(struct nat_corr *c, const struct pend *e);

/* mapping.c: pair identities and mapping records */
void corr_flow_ident(const struct pend *e, bool client_is_src, struct ident *client,
                     struct ident *peer);
uint32_t corr_flow_lookup(struct nat_corr *c, uint8_t proto, uint8_t side,
                          const struct ident *client, const struct ident *peer);
bool corr_consistent(struct nat_corr *c, const struct pend *in, const struct pend *out);
void corr_on_pair(struct nat_corr *c, const struct pend *in, const struct pend *out,
                  const struct pkt *cur);

/* pptp_calls.c: Call IDs learned from paired PPTP control messages */
struct cval *corr_call_get(struct nat_corr *c, const struct ip_addr *cin, const struct ip_addr *srv,
                           uint8_t kind, uint16_t id, bool create);
void corr_pptp_pair(struct nat_corr *c, const struct pend *in, const struct pend *out, int dir);

/* What a fragment tells its datagram's group (from the packet, on the decoding thread). */
struct fg_in {
    struct ip_addr src, dst; /* normalised */
    uint64_t ts, frame;
    uint32_t id;
    uint8_t l4proto, ipver;
    bool has_ports; /* the first fragment's UDP/TCP ports */
    uint16_t sport, dport;
};

/* The body of a struct nat_rec (nat.h): the pending entry, the fragment and the NAT-D payloads. */
struct rec_body {
    struct pend e;       /* has_pend */
    struct fg_in fg;     /* NAT_REC_FRAG */
    uint64_t ispi, rspi; /* has_natd */
    uint8_t n_natd;
    struct ike_natd natd[IKE_MAX_NATD];
};

/* frag_groups.c: the fragments of one datagram, matched or unmatched together */
struct fgval *corr_fg_add(struct nat_corr *c, uint8_t side, const struct fg_in *f);
void corr_fg_flush(struct nat_corr *c, const struct fgkey *k, const struct fgval *v);
void corr_fg_evict(void *ctx, const void *key, void *val);

/* The NAT's outside addresses as far as the mappings prove them: given with --nat-addr, else those
 * that mappings kept on their own evidence (a strong pair or two weak ones) translate to (the
 * first CORR_NAT_ADDRS_MAX; an address beyond them proves nothing: conservative). */
#define CORR_NAT_ADDRS_MAX 64
struct corr_nat_addrs {
    struct ip_addr a[CORR_NAT_ADDRS_MAX];
    unsigned n;
};
void corr_nat_addrs(const struct nat_corr *c, struct corr_nat_addrs *na);
/* Whether a mapping is reported: a strong pair or two weak ones; or one weak pair that is evidence
 * on its own (single_ok: sole candidate, equal IPv4 ID and length, the peer unchanged) on a
 * mapping that translates the inside to a proven NAT address (a single keepalive, one probe). */
bool corr_mapping_kept(const struct mint *mp, const struct corr_nat_addrs *na);

#endif
