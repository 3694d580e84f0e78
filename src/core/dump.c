/* dump.c - -w: the frames that pass the BPF filter written as pcap with their original
 * timestamps and link type, as tcpdump -r IN -w OUT (files) or tcpdump -w OUT (live: flushed
 * whenever the kernel has handed over all it holds, so the file is current whenever the capture
 * waits; a flush per packet, as tcpdump -U, doubled the CPU per packet at 100,000 packets/s),
 * through the capture layer's checked writer, which rotates with -C size, -G seconds and -W count
 * as tcpdump does (packet time is the clock). */
#include "pipeline_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct dump {
    struct cap_writer *w;
    bool live;
    uint64_t unflushed; /* live: first frame written since the last flush, 0: none */
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
    o.flush_each = false; /* live: dump_flush when the input runs dry */
    d->live = cfg->live;
    d->w = cap_writer_open(&o, err, errlen);
    if (!d->w) {
        free(d);
        return NULL;
    }
    return d;
}

int dump_packet(struct dump *d, const struct raw_pkt *r, char *err, unsigned errlen)
{
    if (d->live && !d->unflushed)
        d->unflushed = r->frame;
    return cap_writer_write(d->w, r, err, errlen);
}

int dump_flush(struct dump *d, char *err, unsigned errlen)
{
    if (!d->unflushed)
        return 0;
    int rc = cap_writer_flush(d->w, err, errlen);
    if (rc == 0)
        d->unflushed = 0;
    return rc;
}

uint64_t dump_unflushed(const struct dump *d)
{
    return d->unflushed;
}

int dump_close(struct dump *d, char *err, unsigned errlen)
{
    int rc = cap_writer_close(d->w, err, errlen);
    free(d);
    return rc;
}
