/* pcapng.h - vpnscope's own capture file readers (capture/ internal). pcapng: libpcap 1.10
 * refuses files whose interfaces differ in link type or snapshot length and hides the interface of
 * each packet, which the --router mode and multi-interface captures need. pcap: read forward
 * through the same stream layer (pipes, compression), with unsigned 32-bit seconds. */
#ifndef VPNSCOPE_CAPTURE_PCAPNG_H
#define VPNSCOPE_CAPTURE_PCAPNG_H

#include <stdbool.h>
#include <stdint.h>

#include "input.h"

#define PCAPNG_MAX_BLOCK (16u << 20) /* larger blocks are treated as corruption */
#define PCAPNG_MAX_IFACES 256        /* interfaces per section */
#define PCAPF_MAX_RECORD (16u << 20) /* larger pcap records are treated as corruption */

struct pcapng_pkt {
    uint64_t ts_us;
    uint32_t caplen, len;
    int dlt;
    uint32_t ifid; /* interface index within the file (sections numbered on) */
    const uint8_t *data;
};

/* The first bytes of a capture file: which reader handles it. */
enum cap_format { CAPF_UNKNOWN, CAPF_PCAP, CAPF_PCAPNG };
enum cap_format cap_format_probe(const uint8_t *b, size_t n);

/* libpcap's LINKTYPE_ (file) to DLT_ (API) mapping for the values where they differ. */
int cap_linktype_to_dlt(uint32_t linktype);

struct pcapng;

/* Reads from `in` (not owned) up to the first interface description. `path` must outlive the
 * reader. NULL on error (errbuf). */
struct pcapng *pcapng_open(struct cin *in, const char *path, char *errbuf, unsigned errlen);

/* 1 packet, 0 end, 3 corrupt or cut off (errbuf says where; what came before stands). The packet
 * bytes stay valid until the next call. */
int pcapng_next(struct pcapng *r, struct pcapng_pkt *out, char *errbuf, unsigned errlen);

/* Link type of the first interface (-1 when none). */
int pcapng_dlt(const struct pcapng *r);
uint32_t pcapng_snaplen(const struct pcapng *r);
/* Stream offset of the last block read (where a failure was found). */
uint64_t pcapng_block_offset(const struct pcapng *r);
void pcapng_close(struct pcapng *r);

struct pcapf;

/* Reads the pcap file header from `in` (not owned). NULL on error (errbuf). */
struct pcapf *pcapf_open(struct cin *in, const char *path, char *errbuf, unsigned errlen);
int pcapf_next(struct pcapf *r, struct pcapng_pkt *out, char *errbuf, unsigned errlen);
int pcapf_dlt(const struct pcapf *r);
uint32_t pcapf_snaplen(const struct pcapf *r);
void pcapf_close(struct pcapf *r);

#endif
