/* capture.h - packet sources: saved captures (pcap/pcapng, several pieces merged by time) and live
 * interfaces, through libpcap. The only module that calls pcap_open_* / pcap_next_ex. */
#ifndef VPNSCOPE_CAPTURE_H
#define VPNSCOPE_CAPTURE_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* One captured frame. `data` is valid until the next cap_next() on the same source. */
struct raw_pkt {
    uint64_t ts_us;
    uint32_t caplen, len;
    int dlt;
    const uint8_t *data;
    uint64_t frame; /* 1-based, numbered across the pieces in the order given */
    bool filtered;  /* did not match the BPF expression (still counted) */
    uint32_t ifidx; /* pcapng interface index (0 for pcap files and live) */
    int piece;      /* index of the piece it was read from, in the order given (0: live) */
};

struct cap_src;

/*
 * Opens n capture files as consecutive pieces of one capture point, merged by timestamp; frames
 * are numbered across the pieces in the order given. `bpf` (may be NULL) filters: non-matching
 * packets are returned with filtered=true. NULL on error with a one-line message in errbuf.
 */
struct cap_src *cap_open_files(const char *const *paths, int n, const char *bpf, char *errbuf,
                               unsigned errlen);

/* Opens a live interface (promiscuous, non-blocking; packets handed over in blocks at most 100 ms
 * late) with a kernel buffer of buffer_kib KiB (0: CAP_LIVE_BUFFER_KIB). NULL on error. */
#define CAP_LIVE_BUFFER_KIB 65536u
struct cap_src *cap_open_live(const char *ifname, const char *bpf, unsigned buffer_kib,
                              char *errbuf, unsigned errlen);

/* Next packet: 1 = got one, 0 = end of input, 2 = no packet now (live), -1 = error (errbuf),
 * 3 = the input was cut off mid-record (a warning is in errbuf; treat as end). */
int cap_next(struct cap_src *s, struct raw_pkt *out, char *errbuf, unsigned errlen);

/*
 * Saved captures: the bytes of the packets cap_next returns stay valid after later calls until
 * fn(ctx) is called (just before the reader moves them), so a caller may keep pointers instead of
 * copies; returns true. Live capture: false (a packet's bytes last until the next cap_next).
 */
bool cap_watch_moves(struct cap_src *s, void (*fn)(void *ctx), void *ctx);

/* Link type of the source (the first piece's; all pieces must agree). */
int cap_dlt(const struct cap_src *s);

/* Selectable fd for poll() (live), -1 otherwise. */
int cap_fd(const struct cap_src *s);

/* Kernel drop counter (live; pcap_stats), 0 otherwise. */
uint64_t cap_kernel_drops(struct cap_src *s);

/* Total size in bytes of the input files (for progress), 0 for live. */
uint64_t cap_total_bytes(const struct cap_src *s);
uint64_t cap_bytes_read(const struct cap_src *s);

void cap_close(struct cap_src *s);

/* ---- saved inputs: "-" is standard input; FIFOs, pipes and <(...) work (nothing is read twice
 * and nothing seeks); gzip and zstd streams are decompressed, recognised by their magic bytes;
 * pcap (microsecond, nanosecond, modified; seconds unsigned through 2106) and pcapng (every
 * if_tsresol that fits 64 bits, signed if_tsoffset) are read by vpnscope's own readers. ---- */

#define CAP_ERRMSG_SIZE 512

/* Opens a capture held in memory (pcap or pcapng, possibly gzip/zstd); `data` must outlive the
 * source. `name` names it in messages. NULL on error (errbuf). */
struct cap_src *cap_open_buffer(const void *data, size_t len, const char *name, const char *bpf,
                                char *errbuf, unsigned errlen);

/* True when every piece can be opened and read again from the start (regular files); false for
 * standard input, pipes, FIFOs and live sources. Two-pass modes must refuse a source for which
 * this is false, before reading it. */
bool cap_rereadable(const struct cap_src *s);
/* Same question about a path before opening it ("-" and non-regular files are not rereadable). */
bool cap_path_rereadable(const char *path);

/* Batch runs: a saved capture's read that a signal interrupts while *flag is set (the handler
 * installed without SA_RESTART) ends that input where it is, so a pipe or FIFO that stalls cannot
 * hold a stop request back. Process-wide; NULL turns it off. */
void cap_stop_on(const volatile sig_atomic_t *flag);

/* Where a saved capture stopped being readable (cap_next returned 3). */
struct cap_status {
    bool cut;                      /* a piece ended with a truncated or corrupt record */
    int piece;                     /* index of the first such piece, in the order given */
    const char *path;              /* its name ("standard input" for "-") */
    uint64_t offset;               /* byte offset of the damaged record or block in that piece's
                                      capture stream (after decompression when compressed) */
    uint64_t records;              /* records read from that piece before the damage */
    uint64_t frames;               /* frames cap_next returned so far, all pieces */
    int cut_pieces;                /* how many pieces ended damaged */
    const char *compression;       /* "none", "gzip" or "zstd" (the damaged piece's) */
    char message[CAP_ERRMSG_SIZE]; /* one line: file, what was wrong, byte offset */
};
/* Fills *st; returns st->cut. Valid at any time; complete once cap_next returned 0 or 3. */
bool cap_input_status(const struct cap_src *s, struct cap_status *st);

/* "none", "gzip" or "zstd" for piece i. */
const char *cap_compression(const struct cap_src *s, int piece);

/* Snapshot length of the source (the largest of the pieces'; 262144 when a file says 0). */
uint32_t cap_snaplen(const struct cap_src *s);

/* ---- dump writer with tcpdump's rotation (-w FILE -C size -G seconds -W count). Packet time is
 * the only clock: -G windows are measured on the packets' timestamps. Names follow tcpdump: with
 * -G the path is a strftime(3) format of the window's start time; with -C the files are FILE,
 * FILE1, FILE2, ... (-W N: FILE0..FILE{N-1} zero-padded to N-1's digits, reused as a ring). ---- */
struct cap_writer_opts {
    const char *path;      /* "-" = standard output (no rotation) */
    int dlt;               /* link type of every packet written (cap_dlt) */
    uint32_t snaplen;      /* for the file header (cap_snaplen) */
    uint64_t rotate_bytes; /* -C: a new file before a packet once the current one exceeds this
                              many bytes (tcpdump's -C is in units of 1,000,000); 0 = never */
    uint32_t rotate_secs;  /* -G: a new file when a packet is rotate_secs or more after the
                              current window's start; 0 = never */
    uint32_t max_files;    /* -W: with -C, the ring size; with -G alone, the number of files
                              after which cap_writer_write returns 1 (tcpdump exits) */
    bool utc;              /* -G names in UTC instead of local time (tcpdump: local) */
    bool flush_each;       /* flush after every packet (live capture, tcpdump -U) */
};

struct cap_writer;

/* Opens the first file (with -G: at the first packet, whose time names it). NULL on error. */
struct cap_writer *cap_writer_open(const struct cap_writer_opts *o, char *errbuf, unsigned errlen);
/* 0 written; 1 the -G/-W file limit is reached (nothing written: stop capturing, exit 0 as
 * tcpdump does); -1 failed (errbuf: "write to FILE failed: reason"; the writer is unusable). */
int cap_writer_write(struct cap_writer *w, const struct raw_pkt *p, char *errbuf, unsigned errlen);
/* Pushes buffered packets to the file: 0 ok, -1 (errbuf). */
int cap_writer_flush(struct cap_writer *w, char *errbuf, unsigned errlen);
/* Flushes and closes; frees w. 0 ok, -1 the last data could not be written (errbuf). */
int cap_writer_close(struct cap_writer *w, char *errbuf, unsigned errlen);
/* Name of the file being written ("" before the first with -G). */
const char *cap_writer_current(const struct cap_writer *w);
/* Files opened so far (rotations + 1). */
uint32_t cap_writer_files(const struct cap_writer *w);

/* Lists capture interfaces as tcpdump -D does ("1.eth0 [Up, Running, Connected]"). Returns the
 * count, or -1 (errbuf) when none can be listed or the output fails. */
int cap_list_interfaces(FILE *out, char *errbuf, unsigned errlen);

/* Pieces of a saved source (1 for live and buffers), and the frames numbered in the pieces before
 * piece i: frame f of the merged numbering is frame f - cap_piece_base(s, i) of piece i. */
int cap_pieces(const struct cap_src *s);
uint64_t cap_piece_base(const struct cap_src *s, int i);

#endif
