/* pcapng.h - vpnscope's own pcapng reader (capture/ internal): libpcap 1.10 refuses files whose
 * interfaces differ in link type or snapshot length and hides the interface of each packet,
 * which the --router mode and multi-interface captures need. */
#ifndef VPNSCOPE_CAPTURE_PCAPNG_H
#define VPNSCOPE_CAPTURE_PCAPNG_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#define PCAPNG_MAX_BLOCK (16u << 20) /* larger blocks are treated as corruption */
#define PCAPNG_MAX_IFACES 256        /* interfaces per section */

struct pcapng_pkt {
    uint64_t ts_us;
    uint32_t caplen, len;
    int dlt;
    uint32_t ifid; /* interface index within the file (sections numbered on) */
    const uint8_t *data;
};

struct pcapng;

/* True when the file starts with a pcapng Section Header Block. */
bool pcapng_is(FILE *f);

/* Takes ownership of f (positioned at the start). Reads up to the first interface description.
 * NULL on error (errbuf). */
struct pcapng *pcapng_open(FILE *f, const char *path, char *errbuf, unsigned errlen);

/* 1 packet, 0 end, 3 corrupt or cut off (errbuf says where; what came before stands). */
int pcapng_next(struct pcapng *r, struct pcapng_pkt *out, char *errbuf, unsigned errlen);

/* Link type of the first interface (-1 when none). */
int pcapng_dlt(const struct pcapng *r);
uint64_t pcapng_offset(const struct pcapng *r);
void pcapng_close(struct pcapng *r);

#endif
