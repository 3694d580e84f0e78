/* dump.c - -w when reading files: the frames that pass the BPF filter written to a pcap file
 * with their original timestamps and link type, as tcpdump -r IN -w OUT does. */
#include "pipeline_int.h"

#include <stdio.h>
#include <stdlib.h>

#include <pcap/pcap.h>

struct dump {
    pcap_t *dead;
    pcap_dumper_t *d;
};

struct dump *dump_open(const char *path, int dlt, char *err, unsigned errlen)
{
    struct dump *d = calloc(1, sizeof(*d));
    if (!d) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    d->dead = pcap_open_dead(dlt, 262144);
    if (d->dead)
        d->d = pcap_dump_open(d->dead, path);
    if (!d->d) {
        snprintf(err, errlen, "%s: %s", path, d->dead ? pcap_geterr(d->dead) : "out of memory");
        if (d->dead)
            pcap_close(d->dead);
        free(d);
        return NULL;
    }
    return d;
}

void dump_packet(struct dump *d, const struct raw_pkt *r)
{
    struct pcap_pkthdr h;
    h.ts.tv_sec = (time_t)(r->ts_us / 1000000u);
    h.ts.tv_usec = (suseconds_t)(r->ts_us % 1000000u);
    h.caplen = r->caplen;
    h.len = r->len;
    pcap_dump((u_char *)d->d, &h, r->data);
}

int dump_close(struct dump *d)
{
    int rc = pcap_dump_flush(d->d);
    pcap_dump_close(d->d);
    pcap_close(d->dead);
    free(d);
    return rc;
}
