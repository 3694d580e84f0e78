/* frag.h - IPv4/IPv6 fragment tracking and reassembly (RFC 791, RFC 8200 §4.5, RFC 5722). */
#ifndef VPNSCOPE_FRAG_H
#define VPNSCOPE_FRAG_H

#include <stdbool.h>
#include <stdint.h>

#include "vpnscope/pkt.h"

/*
 * One table per capture. Datagrams are keyed by (src, dst, proto, id) for IPv4 and by
 * (src, dst, id) for IPv6 (RFC 8200: the protocol is not part of the key). Caps come from config.h:
 * FRAG_MAX_DATAGRAMS datagrams, FRAG_MAX_BYTES buffered bytes (reassembly buffers and fragment
 * lists, including buffers kept for reuse), FRAG_MAX_FRAGS fragments per datagram. Timeouts
 * FRAG_TIMEOUT_US (IPv4) / FRAG6_TIMEOUT_US (IPv6) count from a datagram's first fragment, in
 * packet time (the only clock). Not thread-safe; deterministic for a given packet sequence.
 *
 * Usage per packet with p->is_frag:
 *     frag_expire(t, p->ts_us, cb, ctx);         (cheap when nothing expires)
 *     switch (frag_add(t, p, &info, &data, &len)) {
 *     case FRAG_COMPLETE: p->reassembled = true; decode_l4(p, info.proto, data, len); ...
 */

#define FRAG_PENDING 0  /* stored; the datagram is not complete yet */
#define FRAG_COMPLETE 1 /* this fragment completed the datagram */
#define FRAG_DROPPED                                                                               \
    (-1) /* invalid fragment or datagram; see info.dropped and the packet's anomalies */

struct frag_table;

#define FRAG_INFO_FRAMES 8

/* A datagram under reassembly, as reported by frag_add and frag_expire. */
struct frag_info {
    struct ip_addr src, dst;
    uint8_t ipver;     /* 4 or 6 */
    uint8_t proto;     /* IPv4 protocol; IPv6: next header of the fragment header (first frag) */
    uint32_t id;       /* IPv4 ID (16 bits) or IPv6 fragment ID */
    uint16_t nfrags;   /* distinct fragments received (duplicates not counted) */
    uint32_t bytes;    /* complete: datagram payload length; else payload bytes received */
    bool complete;     /* every byte 0..end received and the last fragment (MF=0) seen */
    bool out_of_order; /* a fragment arrived with a lower offset than an earlier one */
    bool overlap;      /* fragments overlapped (not exact duplicates) */
    bool duplicate;    /* an exact duplicate fragment arrived */
    bool timed_out;    /* frag_expire: reassembly timeout elapsed (by packet time) */
    bool evicted;      /* pushed out by the table caps (FRAG_MAX_DATAGRAMS / FRAG_MAX_BYTES) */
    bool dropped; /* discarded as invalid (too big, too many fragments, bad length, RFC 5722) */
    bool snapped; /* some fragment was cut by the capture snaplen */
    bool has_first, has_last; /* the offset-0 fragment / the MF=0 fragment was received */
    bool has_ports;           /* from the first fragment's UDP/TCP header */
    uint16_t sport, dport;
    uint64_t first_ts, last_ts;
    uint8_t nframes;                   /* frames[] entries used */
    uint64_t frames[FRAG_INFO_FRAMES]; /* frame numbers of the first fragments, arrival order */
};

struct frag_stats {
    uint64_t completed;          /* datagrams reassembled */
    uint64_t timed_out;          /* incomplete datagrams expired by timeout */
    uint64_t incomplete_at_end;  /* incomplete datagrams flushed by frag_expire(UINT64_MAX) */
    uint64_t evicted;            /* datagrams evicted by the caps */
    uint64_t dropped;            /* datagrams discarded as invalid */
    uint64_t evict_reports_lost; /* evictions counted but not reported (report queue full) */
};

/* A new empty table; NULL on allocation failure. Free with frag_free. */
struct frag_table *frag_new(void);

/* Frees the table and every buffer. NULL is fine. Reports nothing: call
 * frag_expire(t, UINT64_MAX, ...) first to learn about incomplete datagrams. */
void frag_free(struct frag_table *t);

/*
 * Adds the fragment in p (requires p->is_frag, p->frag_data/frag_data_len, p->ip_len/l3_len as
 * decode_packet sets them; p->frame and p->ts_us). Records ANOM_FRAG_* anomalies on p.
 * Always fills *info with the datagram's state after this fragment (ports when the first fragment
 * has been seen), except when p is not a fragment (returns FRAG_DROPPED, info zeroed).
 * Returns:
 *  FRAG_PENDING  - stored, datagram incomplete;
 *  FRAG_COMPLETE - *data and *len are the reassembled payload after the IP header (IPv4) or after
 * the fragment header (IPv6), i.e. what decode_l4(p, info->proto, ...) takes. The bytes stay valid
 * until the next frag_* call on t. If a fragment had been cut by the snaplen, *len is the captured
 * contiguous prefix, info->snapped is set and ANOM_IP_SNAPLEN_SHORT is recorded on p (so decode_l4
 * reports truncation); FRAG_DROPPED  - the fragment or its datagram is invalid: end > 65535
 * (ANOM_FRAG_TOO_BIG), more than FRAG_MAX_FRAGS fragments, non-last fragment length not a multiple
 * of 8 or a second different end (ANOM_FRAG_BAD_LENGTH), IPv6 overlap with different data (RFC
 * 5722, ANOM_FRAG_OVERLAP). The datagram is discarded and later fragments of it are dropped too
 * until its timeout; it is not reported again by frag_expire. Overlapping IPv4 data: the later
 * fragment's bytes win (recorded as ANOM_FRAG_OVERLAP). Datagrams pushed out by the caps are queued
 * and reported (evicted=true) by the next frag_expire call; stats.evicted counts them at once. The
 * queue holds 256 reports: beyond that they are only counted (stats.evict_reports_lost), so count
 * evictions with frag_stats(), or call frag_expire before every frag_add (O(1) when idle).
 */
int frag_add(struct frag_table *t, struct pkt *p, struct frag_info *info, const uint8_t **data,
             uint32_t *len);

/*
 * Reports queued evictions, then expires incomplete datagrams whose timeout elapsed at packet
 * time now_us (first_ts + timeout <= now_us), calling cb(ctx, info) for each (timed_out=true),
 * then forgets them. now_us = UINT64_MAX flushes everything still pending at the end of a
 * capture: cb gets timed_out=false (counted as incomplete_at_end). cb may be NULL (counting
 * only). cb must not call back into t. Cost is O(1) when nothing expires.
 */
void frag_expire(struct frag_table *t, uint64_t now_us,
                 void (*cb)(void *ctx, const struct frag_info *info), void *ctx);

/* Counters since frag_new. */
struct frag_stats frag_stats(const struct frag_table *t);

/* Datagrams currently tracked and bytes currently allocated (for tests and the UI). */
uint32_t frag_pending(const struct frag_table *t);
uint64_t frag_mem_bytes(const struct frag_table *t);

#endif
