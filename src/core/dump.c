/* dump.c - -w: the frames that pass the BPF filter written as pcap with their original
 * timestamps and link type, as tcpdump -r IN -w OUT (files) or tcpdump -w OUT (live, flushed
 * after every packet as tcpdump -U) does, through the capture layer's checked writer, which
 * rotates with -C size, -G seconds and -W count as tcpdump does (packet time is the clock). */
#include "pipeline_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct dump {
    struct cap_writer *w;
};

struct dump *dump_open(const struct vpnscope_config *cfg, const char *path,
                       const struct cap_src *src, char *err, unsigned errlen)
{
    struct dump *d = calloc(1, sizeof(*d));
    if (!d) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    struct cap_writer_opts o;
    memset(&o, 0, sizeof(o));
    o.path = path;
    o.dlt = cap_dlt(src);
    o.snaplen = cap_snaplen(src);
    o.rotate_bytes = cfg->rotate_bytes;
    o.rotate_secs = cfg->rotate_secs;
    o.max_files = cfg->max_files;
    o.flush_each = cfg->live;
    d->w = cap_writer_open(&o, err, errlen);
    if (!d->w) {
        free(d);
        return NULL;
    }
    return d;
}

int dump_packet(struct dump *d, const struct raw_pkt *r, char *err, unsigned errlen)
{
    return cap_writer_write(d->w, r, err, errlen);
}

int dump_close(struct dump *d, char *err, unsigned errlen)
{
    int rc = cap_writer_close(d->w, err, errlen);
    free(d);
    return rc;
}
