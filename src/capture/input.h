/* input.h - capture byte streams (capture/ internal): a regular file, a FIFO, a pipe, stdin ("-")
 * or a memory buffer, read forward only (never seeks, so pipes work), and decompressed on the fly
 * when the stream starts with a gzip or zstd magic (detected from the bytes, not the name). */
#ifndef VPNSCOPE_CAPTURE_INPUT_H
#define VPNSCOPE_CAPTURE_INPUT_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CIN_MAX_PEEK (64u << 20) /* the largest contiguous window a reader may ask for */

enum cin_codec { CIN_PLAIN, CIN_GZIP, CIN_ZSTD };

struct cin;

/* Opens path ("-" is standard input). NULL on error with "path: reason" in errbuf. */
struct cin *cin_open_path(const char *path, char *errbuf, unsigned errlen);

/* Reads from a caller-owned buffer that outlives the stream. */
struct cin *cin_open_mem(const void *data, size_t len, const char *name, char *errbuf,
                         unsigned errlen);

/* Makes up to n bytes contiguous at the read position. Returns a pointer to them and sets *got
 * (less than n only at the end of the stream or on an error: see cin_error). The bytes stay valid
 * until the next cin_peek or cin_consume. */
const uint8_t *cin_peek(struct cin *c, size_t n, size_t *got);

/* The bytes already buffered at the read position, without reading more (*have may be 0). For
 * a reader's fast path: when they hold a whole record it needs no cin_peek. Valid as cin_peek's. */
const uint8_t *cin_buffered(const struct cin *c, size_t *have);

/* Bytes handed out by cin_peek stay where they are (also after later peeks and consumes) until
 * the window is compacted or grown, or the stream closed: fn(ctx) is called just before a
 * compaction or growth, for a caller that keeps pointers into them (NULL: none). */
void cin_on_move(struct cin *c, void (*fn)(void *ctx), void *ctx);

/* Advances the read position by n bytes (n <= the bytes the last peek returned). */
void cin_consume(struct cin *c, size_t n);

/* Bytes of the (decompressed) capture stream consumed so far. */
uint64_t cin_offset(const struct cin *c);

/* Bytes read from the underlying file or buffer so far (compressed size when compressed). */
uint64_t cin_raw_read(const struct cin *c);

/* The read or decompression error that ended the stream early, NULL when none. */
const char *cin_error(const struct cin *c);

enum cin_codec cin_codec(const struct cin *c);
const char *cin_codec_name(enum cin_codec k);

/* True for a regular file (can be opened and read again); false for pipes, FIFOs, stdin. */
bool cin_rereadable(const struct cin *c);

/* Size of the underlying regular file, 0 when unknown (pipes). */
uint64_t cin_file_size(const struct cin *c);

void cin_close(struct cin *c);

/* A read interrupted by a signal (EINTR) while *flag is set ends its stream there, like the end
 * of the data (the caller knows from the flag that the input was cut by the request). For every
 * stream of the process: a signal is a process-wide event. NULL: reads interrupted by signals are
 * restarted. See cap_stop_on (capture.h). */
void cin_stop_on(const volatile sig_atomic_t *flag);

/* True when a stop request ended the stream (see cin_stop_on): a record or block it cut in two
 * is the end of the input, not damage to report. */
bool cin_stopped(const struct cin *c);

#endif
