/* input.c - forward-only capture byte streams with gzip (RFC 1952, multi-member) and zstd
 * (RFC 8878, multi-frame) decompression. The format is decided from the first bytes, which are
 * kept in the buffer: nothing is ever read twice, so FIFOs, pipes and stdin work. */
#include "input.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#define CIN_BUF (1u << 20) /* decompressed window */
#define CIN_ZBUF CIN_BUF   /* compressed input (holds the probe read as well) */

struct cin {
    int fd; /* -1 for a memory buffer */
    bool own_fd;
    const uint8_t *mem;
    size_t memlen, mempos;
    char name[256];
    enum cin_codec codec;
    uint8_t *buf; /* capture stream window buf[r..w) */
    size_t cap, r, w;
    bool buf_owned;
    uint8_t *zbuf; /* compressed bytes zbuf[zr..zw) */
    size_t zr, zw;
    z_stream z;
    bool z_init;
    ZSTD_DStream *zs;
    size_t zlast; /* last ZSTD_decompressStream hint: 0 = frame complete */
    bool raw_eof, eof;
    bool stopped; /* a stop request ended the stream (cin_stop_on) */
    char err[256];
    uint64_t off, raw;
    bool rereadable;
    uint64_t fsize;
    void (*on_move)(void *ctx); /* cin_on_move */
    void *move_ctx;
};

/* cin_stop_on: the process's stop request (a signal handler's flag), NULL when none. */
static const volatile sig_atomic_t *stop_flag;

void cin_stop_on(const volatile sig_atomic_t *flag)
{
    stop_flag = flag;
}

static void set_err(struct cin *c, const char *what)
{
    if (!c->err[0] && !c->stopped) /* a stream cut by a stop request is not broken */
        snprintf(c->err, sizeof(c->err), "%s", what);
    c->eof = true;
}

/* Reads up to n raw bytes. 0 at the end (raw_eof) or on an error (err). */
static size_t raw_read(struct cin *c, uint8_t *dst, size_t n)
{
    if (c->raw_eof || n == 0)
        return 0;
    if (c->fd < 0) {
        size_t k = c->memlen - c->mempos;
        if (k > n)
            k = n;
        memcpy(dst, c->mem + c->mempos, k);
        c->mempos += k;
        c->raw += k;
        if (k == 0)
            c->raw_eof = true;
        return k;
    }
    for (;;) {
        ssize_t k = read(c->fd, dst, n);
        if (k > 0) {
            c->raw += (uint64_t)k;
            return (size_t)k;
        }
        if (k == 0) {
            c->raw_eof = true;
            return 0;
        }
        if (errno == EINTR) {
            /* a stop request ends the stream here: a pipe that stalls would block forever */
            if (stop_flag && *stop_flag) {
                c->raw_eof = c->stopped = true;
                return 0;
            }
            continue;
        }
        char m[200];
        snprintf(m, sizeof(m), "read error: %s", strerror(errno));
        set_err(c, m);
        c->raw_eof = true;
        return 0;
    }
}

/* Ensures compressed input is available. False when there is none left. */
static bool zfill(struct cin *c)
{
    if (c->zr < c->zw)
        return true;
    c->zr = c->zw = 0;
    c->zw = raw_read(c, c->zbuf, CIN_ZBUF);
    return c->zw > 0;
}

static size_t fill_gzip(struct cin *c)
{
    size_t w0 = c->w;
    while (c->w == w0 && !c->eof) {
        bool more = zfill(c);
        if (c->err[0])
            return c->w - w0;
        c->z.next_in = c->zbuf + c->zr;
        c->z.avail_in = (uInt)(c->zw - c->zr);
        c->z.next_out = c->buf + c->w;
        c->z.avail_out = (uInt)(c->cap - c->w);
        int ret = inflate(&c->z, Z_NO_FLUSH);
        c->zr = c->zw - c->z.avail_in;
        c->w = c->cap - c->z.avail_out;
        if (ret == Z_STREAM_END) {
            /* another member may follow (concatenated gzip files) */
            if (!zfill(c)) {
                c->eof = true;
                break;
            }
            if (c->zbuf[c->zr] != 0x1f) {
                set_err(c, "unexpected data after the end of the gzip stream");
                break;
            }
            inflateReset(&c->z);
            continue;
        }
        if (ret == Z_OK)
            continue;
        if (ret == Z_BUF_ERROR && !more) {
            set_err(c, "gzip stream cut off");
            break;
        }
        if (ret == Z_BUF_ERROR)
            continue;
        char m[200];
        snprintf(m, sizeof(m), "corrupt gzip data (%s)", c->z.msg ? c->z.msg : "inflate failed");
        set_err(c, m);
    }
    return c->w - w0;
}

static size_t fill_zstd(struct cin *c)
{
    size_t w0 = c->w;
    while (c->w == w0 && !c->eof) {
        bool more = zfill(c);
        if (c->err[0])
            return c->w - w0;
        if (!more && c->zlast == 0) { /* every frame complete, no input left */
            c->eof = true;
            break;
        }
        ZSTD_inBuffer in = {c->zbuf, c->zw, c->zr};
        ZSTD_outBuffer out = {c->buf, c->cap, c->w};
        size_t ret = ZSTD_decompressStream(c->zs, &out, &in);
        if (ZSTD_isError(ret)) {
            char m[200];
            snprintf(m, sizeof(m), "corrupt zstd data (%s)", ZSTD_getErrorName(ret));
            set_err(c, m);
            break;
        }
        c->zr = in.pos;
        c->w = out.pos;
        c->zlast = ret;
        if (!more && c->w == w0 && ret != 0)
            set_err(c, "zstd stream cut off");
    }
    return c->w - w0;
}

/* Appends decoded bytes to buf[w..cap). 0 at the end of the stream or on an error. */
static size_t fill(struct cin *c)
{
    if (c->eof || c->w == c->cap)
        return 0;
    if (c->codec == CIN_GZIP)
        return fill_gzip(c);
    if (c->codec == CIN_ZSTD)
        return fill_zstd(c);
    size_t k = raw_read(c, c->buf + c->w, c->cap - c->w);
    if (k == 0)
        c->eof = true;
    c->w += k;
    return k;
}

static bool start_codec(struct cin *c, char *errbuf, unsigned errlen)
{
    const uint8_t *p = c->fd < 0 ? c->mem : c->buf + c->r;
    size_t n = c->fd < 0 ? c->memlen : c->w - c->r;
    if (n >= 2 && p[0] == 0x1f && p[1] == 0x8b)
        c->codec = CIN_GZIP;
    else if (n >= 4 && p[0] == 0x28 && p[1] == 0xb5 && p[2] == 0x2f && p[3] == 0xfd)
        c->codec = CIN_ZSTD;
    else if ((n >= 6 && memcmp(p,
                               "\xfd"
                               "7zXZ\0",
                               6) == 0) ||
             (n >= 3 && memcmp(p, "BZh", 3) == 0) ||
             (n >= 4 && memcmp(p, "\x04\x22\x4d\x18", 4) == 0)) {
        snprintf(errbuf, errlen,
                 "%s: compressed with %s, which is not supported (gzip and zstd are)", c->name,
                 p[0] == 0xfd  ? "xz"
                 : p[0] == 'B' ? "bzip2"
                               : "lz4");
        return false;
    }
    if (c->codec == CIN_PLAIN) {
        if (c->fd < 0) { /* read the caller's buffer in place */
            c->buf = (uint8_t *)(uintptr_t)c->mem;
            c->buf_owned = false;
            c->cap = c->w = c->memlen;
            c->mempos = c->memlen;
            c->raw = c->memlen;
            c->raw_eof = true;
        }
        return true;
    }
    c->zbuf = malloc(CIN_ZBUF);
    if (!c->zbuf) {
        snprintf(errbuf, errlen, "out of memory");
        return false;
    }
    /* the probed bytes are compressed input */
    memcpy(c->zbuf, c->buf + c->r, c->w - c->r);
    c->zw = c->w - c->r;
    c->r = c->w = 0;
    c->eof = false;
    if (c->codec == CIN_GZIP) {
        if (inflateInit2(&c->z, 15 + 16) != Z_OK) {
            snprintf(errbuf, errlen, "%s: cannot start gzip decompression", c->name);
            return false;
        }
        c->z_init = true;
    } else {
        c->zs = ZSTD_createDStream();
        if (!c->zs || ZSTD_isError(ZSTD_initDStream(c->zs))) {
            snprintf(errbuf, errlen, "%s: cannot start zstd decompression", c->name);
            return false;
        }
        c->zlast = 1;
    }
    return true;
}

static struct cin *cin_new(const char *name, char *errbuf, unsigned errlen)
{
    struct cin *c = calloc(1, sizeof(*c));
    if (!c) {
        snprintf(errbuf, errlen, "out of memory");
        return NULL;
    }
    snprintf(c->name, sizeof(c->name), "%s", name);
    c->fd = -1;
    return c;
}

static bool alloc_buf(struct cin *c, char *errbuf, unsigned errlen)
{
    c->buf = malloc(CIN_BUF);
    if (!c->buf) {
        snprintf(errbuf, errlen, "out of memory");
        return false;
    }
    c->cap = CIN_BUF;
    c->buf_owned = true;
    return true;
}

struct cin *cin_open_path(const char *path, char *errbuf, unsigned errlen)
{
    struct cin *c = cin_new(path, errbuf, errlen);
    if (!c)
        return NULL;
    if (strcmp(path, "-") == 0) {
        c->fd = 0;
        snprintf(c->name, sizeof(c->name), "standard input");
    } else {
        c->fd = open(path, O_RDONLY | O_CLOEXEC);
        if (c->fd < 0) {
            snprintf(errbuf, errlen, "%s: %s", path, strerror(errno));
            free(c);
            return NULL;
        }
        c->own_fd = true;
    }
    struct stat st;
    if (fstat(c->fd, &st) != 0) {
        snprintf(errbuf, errlen, "%s: %s", c->name, strerror(errno));
        cin_close(c);
        return NULL;
    }
    if (S_ISDIR(st.st_mode)) {
        snprintf(errbuf, errlen, "%s: is a directory, not a capture file", c->name);
        cin_close(c);
        return NULL;
    }
    c->rereadable = S_ISREG(st.st_mode) && c->own_fd;
    c->fsize = S_ISREG(st.st_mode) ? (uint64_t)st.st_size : 0;
    if (!alloc_buf(c, errbuf, errlen)) {
        cin_close(c);
        return NULL;
    }
    /* probe: read (without seeking) until the magic bytes are in the buffer */
    size_t got;
    cin_peek(c, 6, &got);
    if (c->err[0]) {
        snprintf(errbuf, errlen, "%s: %s", c->name, c->err);
        cin_close(c);
        return NULL;
    }
    if (!start_codec(c, errbuf, errlen)) {
        cin_close(c);
        return NULL;
    }
    return c;
}

struct cin *cin_open_mem(const void *data, size_t len, const char *name, char *errbuf,
                         unsigned errlen)
{
    struct cin *c = cin_new(name, errbuf, errlen);
    if (!c)
        return NULL;
    c->mem = data;
    c->memlen = len;
    c->fsize = len;
    c->rereadable = true;
    const uint8_t *m = data;
    if ((len >= 2 && m[0] == 0x1f && m[1] == 0x8b) ||
        (len >= 4 && m[0] == 0x28 && m[1] == 0xb5 && m[2] == 0x2f && m[3] == 0xfd)) {
        if (!alloc_buf(c, errbuf, errlen)) {
            cin_close(c);
            return NULL;
        }
        size_t got;
        cin_peek(c, 6, &got);
    }
    if (!start_codec(c, errbuf, errlen)) {
        cin_close(c);
        return NULL;
    }
    return c;
}

const uint8_t *cin_peek(struct cin *c, size_t n, size_t *got)
{
    if (n > CIN_MAX_PEEK)
        n = CIN_MAX_PEEK;
    if (c->w - c->r < n && c->buf_owned) {
        if (c->on_move && c->cap - c->r < n)
            c->on_move(c->move_ctx); /* the bytes handed out are about to move */
        if (c->cap - c->r < n) {
            memmove(c->buf, c->buf + c->r, c->w - c->r);
            c->w -= c->r;
            c->r = 0;
        }
        if (c->cap < n) {
            size_t nc = n + (n >> 2);
            uint8_t *nb = realloc(c->buf, nc);
            if (!nb) {
                set_err(c, "out of memory");
                *got = c->w - c->r;
                return c->buf + c->r;
            }
            c->buf = nb;
            c->cap = nc;
        }
        while (c->w - c->r < n && fill(c) > 0) {
        }
    }
    size_t have = c->w - c->r;
    *got = have < n ? have : n;
    return c->buf + c->r;
}

void cin_on_move(struct cin *c, void (*fn)(void *ctx), void *ctx)
{
    c->on_move = fn;
    c->move_ctx = ctx;
}

const uint8_t *cin_buffered(const struct cin *c, size_t *have)
{
    *have = c->w - c->r;
    return c->buf ? c->buf + c->r : NULL;
}

void cin_consume(struct cin *c, size_t n)
{
    if (n > c->w - c->r)
        n = c->w - c->r;
    c->r += n;
    c->off += n;
}

uint64_t cin_offset(const struct cin *c)
{
    return c->off;
}

uint64_t cin_raw_read(const struct cin *c)
{
    return c->raw;
}

bool cin_stopped(const struct cin *c)
{
    return c->stopped;
}

const char *cin_error(const struct cin *c)
{
    return c->err[0] ? c->err : NULL;
}

enum cin_codec cin_codec(const struct cin *c)
{
    return c->codec;
}

const char *cin_codec_name(enum cin_codec k)
{
    return k == CIN_GZIP ? "gzip" : k == CIN_ZSTD ? "zstd" : "none";
}

bool cin_rereadable(const struct cin *c)
{
    return c->rereadable;
}

uint64_t cin_file_size(const struct cin *c)
{
    return c->fsize;
}

void cin_close(struct cin *c)
{
    if (!c)
        return;
    if (c->own_fd && c->fd >= 0)
        close(c->fd);
    if (c->buf_owned)
        free(c->buf);
    free(c->zbuf);
    if (c->z_init)
        inflateEnd(&c->z);
    if (c->zs)
        ZSTD_freeDStream(c->zs);
    free(c);
}
