/* writer.c - pcap dump files (libpcap savefile format, microsecond) with every write checked and
 * tcpdump's -C/-G/-W rotation driven by packet time. */
#include "vpnscope/capture.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define WRITER_BUF (256u << 10)
#define NAME_MAX_LEN 4096

struct cap_writer {
    struct cap_writer_opts o;
    char *base; /* o.path, owned */
    FILE *f;
    bool is_stdout;
    char cur[NAME_MAX_LEN];
    uint64_t size;         /* bytes in the current file */
    uint32_t linktype;     /* file header value */
    uint32_t ccount;       /* -C counter within the window */
    uint32_t gcount;       /* -G rotations so far */
    int wchars;            /* -W digits */
    bool have_window;      /* -G: window_start is set */
    uint64_t window_start; /* -G: seconds */
    uint32_t files;
    bool failed;
};

static uint32_t dlt_to_linktype(int dlt)
{
    switch (dlt) {
    case 11:
        return 100; /* ATM_RFC1483 */
    case 12:
    case 14:
        return 101; /* RAW (Linux/BSD and OpenBSD DLT values) */
    case 15:
        return 102;
    case 16:
        return 103;
    default:
        return (uint32_t)dlt;
    }
}

/* tcpdump's digit count for -W N: the digits of N-1 (0 for N <= 1). */
static int wflag_chars(uint32_t n)
{
    int c = 0;
    for (uint32_t x = n ? n - 1 : 0; x > 0; x /= 10)
        c++;
    return c;
}

static int fail(struct cap_writer *w, char *errbuf, unsigned errlen, const char *name, int err)
{
    snprintf(errbuf, errlen, "write to %s failed: %s", name, strerror(err));
    w->failed = true;
    return -1;
}

static void put32(uint8_t *b, uint32_t v)
{
    b[0] = (uint8_t)v;
    b[1] = (uint8_t)(v >> 8);
    b[2] = (uint8_t)(v >> 16);
    b[3] = (uint8_t)(v >> 24);
}

static int make_name(struct cap_writer *w, uint32_t cnt, int chars, char *errbuf, unsigned errlen)
{
    char base[NAME_MAX_LEN];
    if (w->o.rotate_secs) {
        time_t t = (time_t)w->window_start;
        struct tm tm;
        if ((w->o.utc ? gmtime_r(&t, &tm) : localtime_r(&t, &tm)) == NULL) {
            snprintf(errbuf, errlen, "%s: cannot convert packet time %llu for the file name",
                     w->base, (unsigned long long)w->window_start);
            return -1;
        }
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
        size_t k = strftime(base, sizeof(base), w->base, &tm); /* the -w name is the format */
#pragma GCC diagnostic pop
        if (k == 0 && w->base[0]) {
            snprintf(errbuf, errlen, "%s: file name too long after strftime", w->base);
            return -1;
        }
    } else {
        snprintf(base, sizeof(base), "%s", w->base);
    }
    int k = cnt == 0 && chars == 0 ? snprintf(w->cur, sizeof(w->cur), "%s", base)
                                   : snprintf(w->cur, sizeof(w->cur), "%s%0*u", base, chars, cnt);
    if (k < 0 || (size_t)k >= sizeof(w->cur)) {
        snprintf(errbuf, errlen, "%s: output file name too long", w->base);
        return -1;
    }
    return 0;
}

static int open_file(struct cap_writer *w, char *errbuf, unsigned errlen)
{
    if (w->is_stdout) {
        w->f = stdout;
        snprintf(w->cur, sizeof(w->cur), "standard output");
    } else {
        w->f = fopen(w->cur, "wb");
        if (!w->f) {
            snprintf(errbuf, errlen, "%s: cannot create: %s", w->cur, strerror(errno));
            w->failed = true;
            return -1;
        }
        setvbuf(w->f, NULL, _IOFBF, WRITER_BUF);
    }
    uint8_t h[24];
    put32(h, 0xA1B2C3D4u);
    h[4] = 2;
    h[5] = 0;
    h[6] = 4;
    h[7] = 0;
    put32(h + 8, 0);
    put32(h + 12, 0);
    put32(h + 16, w->o.snaplen ? w->o.snaplen : 262144u);
    put32(h + 20, w->linktype);
    if (fwrite(h, 1, sizeof(h), w->f) != sizeof(h))
        return fail(w, errbuf, errlen, w->cur, errno ? errno : EIO);
    w->size = sizeof(h);
    w->files++;
    return 0;
}

static int close_file(struct cap_writer *w, char *errbuf, unsigned errlen)
{
    if (!w->f)
        return 0;
    FILE *f = w->f;
    w->f = NULL;
    errno = 0;
    int bad = fflush(f) != 0 || ferror(f);
    int err = errno ? errno : EIO;
    if (f != stdout) {
        errno = 0;
        if (fclose(f) != 0 && !bad) {
            bad = 1;
            err = errno ? errno : EIO;
        }
    }
    return bad ? fail(w, errbuf, errlen, w->cur, err) : 0;
}

struct cap_writer *cap_writer_open(const struct cap_writer_opts *o, char *errbuf, unsigned errlen)
{
    if (!o->path || !*o->path) {
        snprintf(errbuf, errlen, "no output file given");
        return NULL;
    }
    bool is_stdout = strcmp(o->path, "-") == 0;
    if (is_stdout && (o->rotate_bytes || o->rotate_secs)) {
        snprintf(errbuf, errlen, "-w -: standard output cannot be rotated (-C/-G)");
        return NULL;
    }
    struct cap_writer *w = calloc(1, sizeof(*w));
    if (!w || !(w->base = strdup(o->path))) {
        free(w);
        snprintf(errbuf, errlen, "out of memory");
        return NULL;
    }
    w->o = *o;
    w->o.path = w->base;
    w->is_stdout = is_stdout;
    w->linktype = dlt_to_linktype(o->dlt);
    w->wchars = o->max_files ? wflag_chars(o->max_files) : 0;
    if (o->rotate_secs)
        return w; /* the first packet's time names the first file */
    if (make_name(w, 0, o->rotate_bytes ? w->wchars : 0, errbuf, errlen) != 0 ||
        open_file(w, errbuf, errlen) != 0) {
        free(w->base);
        free(w);
        return NULL;
    }
    return w;
}

/* -G: opens the first file or rotates when the packet leaves the window. 0 ok, 1 limit, -1. */
static int time_rotate(struct cap_writer *w, uint64_t sec, char *errbuf, unsigned errlen)
{
    if (w->have_window) {
        if (sec < w->window_start || sec - w->window_start < w->o.rotate_secs)
            return 0;
        if (close_file(w, errbuf, errlen) != 0)
            return -1;
        w->gcount++;
        if (!w->o.rotate_bytes && w->o.max_files && w->gcount >= w->o.max_files)
            return 1;
    }
    w->have_window = true;
    w->window_start = sec;
    w->ccount = 0;
    if (make_name(w, 0, w->o.rotate_bytes ? w->wchars : 0, errbuf, errlen) != 0)
        return -1;
    return open_file(w, errbuf, errlen);
}

static int size_rotate(struct cap_writer *w, char *errbuf, unsigned errlen)
{
    if (w->size <= w->o.rotate_bytes)
        return 0;
    if (close_file(w, errbuf, errlen) != 0)
        return -1;
    w->ccount++;
    if (w->o.max_files && w->ccount >= w->o.max_files)
        w->ccount = 0;
    if (make_name(w, w->ccount, w->wchars, errbuf, errlen) != 0)
        return -1;
    return open_file(w, errbuf, errlen);
}

int cap_writer_write(struct cap_writer *w, const struct raw_pkt *p, char *errbuf, unsigned errlen)
{
    if (w->failed) {
        snprintf(errbuf, errlen, "write to %s failed earlier", w->cur[0] ? w->cur : w->base);
        return -1;
    }
    uint64_t sec = p->ts_us / 1000000u;
    if (sec > UINT32_MAX) {
        snprintf(errbuf, errlen,
                 "write to %s failed: packet time %llu s is beyond the pcap format's "
                 "32-bit seconds (year 2106)",
                 w->cur[0] ? w->cur : w->base, (unsigned long long)sec);
        w->failed = true;
        return -1;
    }
    if (p->dlt != w->o.dlt) {
        snprintf(errbuf, errlen,
                 "write to %s failed: a packet of link type %d cannot go into a pcap file of link "
                 "type %d",
                 w->cur[0] ? w->cur : w->base, p->dlt, w->o.dlt);
        w->failed = true;
        return -1;
    }
    if (w->o.rotate_secs) {
        int r = time_rotate(w, sec, errbuf, errlen);
        if (r != 0)
            return r;
    }
    if (w->o.rotate_bytes && size_rotate(w, errbuf, errlen) != 0)
        return -1;
    uint8_t h[16];
    put32(h, (uint32_t)sec);
    put32(h + 4, (uint32_t)(p->ts_us % 1000000u));
    put32(h + 8, p->caplen);
    put32(h + 12, p->len < p->caplen ? p->caplen : p->len);
    errno = 0;
    if (fwrite(h, 1, sizeof(h), w->f) != sizeof(h) ||
        (p->caplen && fwrite(p->data, 1, p->caplen, w->f) != p->caplen))
        return fail(w, errbuf, errlen, w->cur, errno ? errno : EIO);
    w->size += sizeof(h) + p->caplen;
    if (w->o.flush_each)
        return cap_writer_flush(w, errbuf, errlen);
    return 0;
}

int cap_writer_flush(struct cap_writer *w, char *errbuf, unsigned errlen)
{
    if (w->failed) {
        snprintf(errbuf, errlen, "write to %s failed earlier", w->cur[0] ? w->cur : w->base);
        return -1;
    }
    if (!w->f)
        return 0;
    errno = 0;
    if (fflush(w->f) != 0 || ferror(w->f))
        return fail(w, errbuf, errlen, w->cur, errno ? errno : EIO);
    return 0;
}

int cap_writer_close(struct cap_writer *w, char *errbuf, unsigned errlen)
{
    if (!w)
        return 0;
    bool was_failed = w->failed;
    int rc = close_file(w, errbuf, errlen);
    if (was_failed && rc == 0) {
        snprintf(errbuf, errlen, "write to %s failed", w->cur[0] ? w->cur : w->base);
        rc = -1;
    }
    free(w->base);
    free(w);
    return rc;
}

const char *cap_writer_current(const struct cap_writer *w)
{
    return w->cur;
}

uint32_t cap_writer_files(const struct cap_writer *w)
{
    return w->files;
}
