/* dump.c - -w when reading files: the frames that pass the BPF filter written to a pcap file
 * with their original timestamps and link type, as tcpdump -r IN -w OUT does. Every write is
 * checked (the capture writer): the first failure is kept and ends the run. */
#include "pipeline_int.h"

#include <stdio.h>
#include <stdlib.h>

struct dump {
    struct cap_writer *w;
    char err[CAP_ERRMSG_SIZE]; /* the first failure */
};

struct dump *dump_open(const char *path, int dlt, char *err, unsigned errlen)
{
    struct dump *d = calloc(1, sizeof(*d));
    if (!d) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    struct cap_writer_opts o = {.path = path, .dlt = dlt, .snaplen = 262144};
    d->w = cap_writer_open(&o, err, errlen);
    if (!d->w) {
        free(d);
        return NULL;
    }
    return d;
}

int dump_packet(struct dump *d, const struct raw_pkt *r)
{
    if (!d->w)
        return -1;
    if (cap_writer_write(d->w, r, d->err, sizeof(d->err)) == 0)
        return 0;
    char eb[CAP_ERRMSG_SIZE];
    cap_writer_close(d->w, eb, sizeof(eb));
    d->w = NULL;
    return -1;
}

const char *dump_error(const struct dump *d)
{
    return d->err;
}

int dump_close(struct dump *d, char *err, unsigned errlen)
{
    int rc = d->err[0] ? -1 : 0;
    if (d->w && cap_writer_close(d->w, d->err, sizeof(d->err)) != 0)
        rc = -1;
    if (rc != 0)
        snprintf(err, errlen, "%s", d->err);
    free(d);
    return rc;
}
