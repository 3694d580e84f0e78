/* pcap_src.c - libpcap packet sources: merged saved pieces and live interfaces. */
#include "vpnscope/capture.h"

#include "pcapng.h"

#include <errno.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define MAX_FILTER_DLTS 8
#define VPNSCOPE_CAP_ERRLEN 512

struct piece {
    pcap_t *pc;                    /* libpcap (live) */
    struct cin *in;                /* saved capture stream (file, pipe, stdin, buffer) */
    struct pcapng *ng;             /* own reader (pcapng files) */
    struct pcapf *pf;              /* own reader (pcap files) */
    pcap_t *dead[MAX_FILTER_DLTS]; /* pcapng: one compiled filter per link type */
    struct bpf_program dprog[MAX_FILTER_DLTS];
    int ddlt[MAX_FILTER_DLTS];
    int ndead;
    const char *bpf;
    struct pcapng_pkt ngp;
    const char *path;
    struct bpf_program prog;
    bool has_prog;
    bool eof;
    bool have; /* a packet is buffered in hdr/data */
    struct pcap_pkthdr hdr;
    const uint8_t *data;
    uint64_t frame_base; /* frames in earlier pieces */
    uint64_t frames;     /* frames read from this piece */
    bool cut;            /* ended with a truncated record */
    uint64_t ts_us;      /* buffered packet's time */
    uint64_t cut_at;     /* stream offset where the damage starts */
    char cut_msg[400];
};

struct cap_src {
    int n;
    struct piece *p;
    int dlt;
    bool live;
    bool nsec;
    uint64_t total_bytes;
    uint64_t returned; /* frames returned by cap_next */
    uint32_t snaplen;
    int cur;           /* piece whose packet was returned last (to refill) */
    char cut_msg[512]; /* warning for a piece cut off mid-record */
    bool cut_reported;
};

static void close_piece(struct piece *pc)
{
    for (int i = 0; i < pc->ndead; i++) {
        pcap_freecode(&pc->dprog[i]);
        pcap_close(pc->dead[i]);
    }
    pc->ndead = 0;
    pcapng_close(pc->ng);
    pc->ng = NULL;
    pcapf_close(pc->pf);
    pc->pf = NULL;
    cin_close(pc->in);
    pc->in = NULL;
    if (pc->has_prog)
        pcap_freecode(&pc->prog);
    if (pc->pc)
        pcap_close(pc->pc);
    pc->pc = NULL;
    pc->has_prog = false;
}

static int compile_filter(struct piece *pc, const char *bpf, char *errbuf, unsigned errlen)
{
    if (!bpf || !*bpf)
        return 0;
    if (pcap_compile(pc->pc, &pc->prog, bpf, 1, PCAP_NETMASK_UNKNOWN) != 0) {
        snprintf(errbuf, errlen, "invalid filter expression '%s': %s", bpf, pcap_geterr(pc->pc));
        return -1;
    }
    pc->has_prog = true;
    return 0;
}

/* The compiled filter for link type dlt (pcapng pieces may mix link types). NULL on error. */
static struct bpf_program *filter_for(struct piece *pc, int dlt, char *errbuf, unsigned errlen)
{
    for (int i = 0; i < pc->ndead; i++)
        if (pc->ddlt[i] == dlt)
            return &pc->dprog[i];
    if (pc->ndead >= MAX_FILTER_DLTS) {
        snprintf(errbuf, errlen, "%s: too many link types to filter", pc->path);
        return NULL;
    }
    pcap_t *d = pcap_open_dead(dlt, 262144);
    if (!d) {
        snprintf(errbuf, errlen, "out of memory");
        return NULL;
    }
    if (pcap_compile(d, &pc->dprog[pc->ndead], pc->bpf, 1, PCAP_NETMASK_UNKNOWN) != 0) {
        snprintf(errbuf, errlen, "invalid filter expression '%s': %s", pc->bpf, pcap_geterr(d));
        pcap_close(d);
        return NULL;
    }
    pc->dead[pc->ndead] = d;
    pc->ddlt[pc->ndead] = dlt;
    return &pc->dprog[pc->ndead++];
}

/* Opens the reader of a saved capture on pc->in. 0 ok, -1 error (errbuf). */
static int open_reader(struct piece *pc, const char *path, char *errbuf, unsigned errlen)
{
    size_t got;
    const uint8_t *b = cin_peek(pc->in, 4, &got);
    const char *how = cin_codec(pc->in) == CIN_PLAIN  ? ""
                      : cin_codec(pc->in) == CIN_GZIP ? " (inside gzip)"
                                                      : " (inside zstd)";
    if (got < 4 && cin_error(pc->in)) {
        snprintf(errbuf, errlen, "%s: %s", path, cin_error(pc->in));
        return -1;
    }
    if (got == 0) {
        snprintf(errbuf, errlen, "%s: empty file%s, not a pcap or pcapng capture", path, how);
        return -1;
    }
    switch (cap_format_probe(b, got)) {
    case CAPF_PCAPNG:
        pc->ng = pcapng_open(pc->in, path, errbuf, errlen);
        return pc->ng ? 0 : -1;
    case CAPF_PCAP:
        pc->pf = pcapf_open(pc->in, path, errbuf, errlen);
        return pc->pf ? 0 : -1;
    default:
        snprintf(errbuf, errlen,
                 "%s: not a pcap or pcapng capture%s (unknown magic %02x%02x%02x%02x)", path, how,
                 b[0], got > 1 ? b[1] : 0, got > 2 ? b[2] : 0, got > 3 ? b[3] : 0);
        return -1;
    }
}

static int piece_next(struct piece *pc, struct pcapng_pkt *out, char *errbuf, unsigned errlen)
{
    return pc->ng ? pcapng_next(pc->ng, out, errbuf, errlen)
                  : pcapf_next(pc->pf, out, errbuf, errlen);
}

/* Counts the records of a file (for frame numbering across merged pieces); the file is read a
 * second time, which only regular files allow. */
static uint64_t count_records(const char *path)
{
    char eb[VPNSCOPE_CAP_ERRLEN];
    struct piece pc;
    memset(&pc, 0, sizeof(pc));
    pc.in = cin_open_path(path, eb, sizeof(eb));
    uint64_t n = 0;
    if (pc.in && open_reader(&pc, path, eb, sizeof(eb)) == 0) {
        struct pcapng_pkt pk;
        while (piece_next(&pc, &pk, eb, sizeof(eb)) == 1)
            n++;
    }
    close_piece(&pc);
    return n;
}

void cap_stop_on(const volatile sig_atomic_t *flag)
{
    cin_stop_on(flag);
}

bool cap_path_rereadable(const char *path)
{
    struct stat st;
    return strcmp(path, "-") != 0 && stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* Opens piece i (its stream already in pc->in) and checks its link type against the first's. */
static int setup_piece(struct cap_src *s, int i, const char *bpf, char *errbuf, unsigned errlen)
{
    struct piece *pc = &s->p[i];
    s->total_bytes += cin_file_size(pc->in);
    if (open_reader(pc, pc->path, errbuf, errlen) != 0)
        return -1;
    int dlt = pc->ng ? pcapng_dlt(pc->ng) : pcapf_dlt(pc->pf);
    uint32_t snap = pc->ng ? pcapng_snaplen(pc->ng) : pcapf_snaplen(pc->pf);
    pc->bpf = bpf && *bpf ? bpf : NULL;
    if (pc->bpf && filter_for(pc, dlt, errbuf, errlen) == NULL)
        return -1;
    if (i == 0) {
        s->dlt = dlt;
        s->snaplen = snap;
    } else if (dlt != s->dlt) {
        snprintf(errbuf, errlen, "%s: link type %s differs from the first piece's %s", pc->path,
                 pcap_datalink_val_to_name(dlt) ? pcap_datalink_val_to_name(dlt) : "?",
                 pcap_datalink_val_to_name(s->dlt) ? pcap_datalink_val_to_name(s->dlt) : "?");
        return -1;
    }
    if (snap > s->snaplen)
        s->snaplen = snap;
    return 0;
}

static struct cap_src *new_src(int n, char *errbuf, unsigned errlen)
{
    struct cap_src *s = calloc(1, sizeof(*s));
    if (!s) {
        snprintf(errbuf, errlen, "out of memory");
        return NULL;
    }
    s->p = calloc((size_t)n, sizeof(struct piece));
    if (!s->p) {
        free(s);
        snprintf(errbuf, errlen, "out of memory");
        return NULL;
    }
    s->n = n;
    s->cur = -1;
    return s;
}

struct cap_src *cap_open_files(const char *const *paths, int n, const char *bpf, char *errbuf,
                               unsigned errlen)
{
    if (n <= 0) {
        snprintf(errbuf, errlen, "no capture file given");
        return NULL;
    }
    struct cap_src *s = new_src(n, errbuf, errlen);
    if (!s)
        return NULL;
    uint64_t base = 0;
    for (int i = 0; i < n; i++) {
        struct piece *pc = &s->p[i];
        pc->path = strcmp(paths[i], "-") == 0 ? "standard input" : paths[i];
        if (n > 1 && i + 1 < n && !cap_path_rereadable(paths[i])) {
            /* frames are numbered across pieces: every piece but the last is counted first */
            snprintf(errbuf, errlen,
                     "%s: a pipe, FIFO or standard input can only be the last of several pieces "
                     "(the pieces before it are read twice)",
                     pc->path);
            goto fail;
        }
        pc->in = cin_open_path(paths[i], errbuf, errlen);
        if (!pc->in || setup_piece(s, i, bpf, errbuf, errlen) != 0)
            goto fail;
        pc->frame_base = base;
        if (n > 1 && i + 1 < n)
            base += count_records(paths[i]);
    }
    return s;
fail:
    cap_close(s);
    return NULL;
}

struct cap_src *cap_open_buffer(const void *data, size_t len, const char *name, const char *bpf,
                                char *errbuf, unsigned errlen)
{
    struct cap_src *s = new_src(1, errbuf, errlen);
    if (!s)
        return NULL;
    s->p[0].path = name;
    s->p[0].in = cin_open_mem(data, len, name, errbuf, errlen);
    if (!s->p[0].in || setup_piece(s, 0, bpf, errbuf, errlen) != 0) {
        cap_close(s);
        return NULL;
    }
    return s;
}

struct cap_src *cap_open_live(const char *ifname, const char *bpf, unsigned buffer_kib,
                              char *errbuf, unsigned errlen)
{
    char eb[PCAP_ERRBUF_SIZE] = "";
    struct cap_src *s = calloc(1, sizeof(*s));
    if (!s) {
        snprintf(errbuf, errlen, "out of memory");
        return NULL;
    }
    s->p = calloc(1, sizeof(struct piece));
    if (!s->p) {
        free(s);
        snprintf(errbuf, errlen, "out of memory");
        return NULL;
    }
    s->n = 1;
    s->live = true;
    s->cur = -1;
    struct piece *pc = &s->p[0];
    pc->path = ifname;
    pc->pc = pcap_create(ifname, eb);
    if (!pc->pc) {
        snprintf(errbuf, errlen, "%s: %s", ifname, eb);
        goto fail;
    }
    /* 64 KiB covers any IP datagram; a larger snaplen leaves few frames in the kernel ring */
    pcap_set_snaplen(pc->pc, 65535);
    pcap_set_promisc(pc->pc, 1);
    /* batched delivery (TPACKET_V3 blocks, at most 100 ms late) keeps up with far higher rates
     * than a wake-up per packet; the dashboard refreshes slower than that anyway */
    pcap_set_timeout(pc->pc, 100);
    /* the kernel ring absorbs what arrives while the analysis is busy (a report scan, a slow
     * moment of the machine); -B sets it, as tcpdump's -B (KiB); config caps it below 2 GiB */
    pcap_set_buffer_size(pc->pc, (int)((buffer_kib ? buffer_kib : CAP_LIVE_BUFFER_KIB) * 1024u));
    int rc = pcap_activate(pc->pc);
    if (rc < 0) {
        const char *why = rc == PCAP_ERROR_NO_SUCH_DEVICE ? "no such interface"
                          : rc == PCAP_ERROR_PERM_DENIED
                              ? "permission denied (run as root or grant CAP_NET_RAW)"
                          : rc == PCAP_ERROR_IFACE_NOT_UP ? "interface is down"
                                                          : pcap_geterr(pc->pc);
        snprintf(errbuf, errlen, "%s: cannot capture: %s", ifname, why);
        goto fail;
    }
    s->dlt = pcap_datalink(pc->pc);
    if (compile_filter(pc, bpf, errbuf, errlen) != 0)
        goto fail;
    if (pc->has_prog && pcap_setfilter(pc->pc, &pc->prog) != 0) {
        snprintf(errbuf, errlen, "%s: cannot set filter: %s", ifname, pcap_geterr(pc->pc));
        goto fail;
    }
    if (pcap_setnonblock(pc->pc, 1, eb) != 0) {
        snprintf(errbuf, errlen, "%s: %s", ifname, eb);
        goto fail;
    }
    return s;
fail:
    cap_close(s);
    return NULL;
}

/* Fills piece i's buffer. Returns 1 packet, 0 eof, 2 nothing now, -1 error, 3 cut. */
static int fill(struct cap_src *s, int i, char *errbuf, unsigned errlen)
{
    struct piece *pc = &s->p[i];
    if (pc->have || pc->eof)
        return pc->have ? 1 : 0;
    if (pc->in) {
        int r = piece_next(pc, &pc->ngp, errbuf, errlen);
        if (r == 1) {
            pc->ts_us = pc->ngp.ts_us;
            if (pc->has_prog || pc->bpf) { /* the time only for the filter's header */
                pc->hdr.ts.tv_sec = (time_t)(pc->ngp.ts_us / 1000000u);
                pc->hdr.ts.tv_usec = (suseconds_t)(pc->ngp.ts_us % 1000000u);
            }
            pc->hdr.caplen = pc->ngp.caplen;
            pc->hdr.len = pc->ngp.len;
            pc->data = pc->ngp.data;
            pc->have = true;
            pc->frames++;
            return 1;
        }
        pc->eof = true;
        if (r == 3) {
            pc->cut = true;
            pc->cut_at = pc->ng ? pcapng_block_offset(pc->ng) : cin_offset(pc->in);
            snprintf(pc->cut_msg, sizeof(pc->cut_msg), "%s", errbuf);
            snprintf(errbuf, errlen, "%s (after frame %llu); analysed what came before",
                     pc->cut_msg, (unsigned long long)(pc->frame_base + pc->frames));
            return 3;
        }
        return 0;
    }
    struct pcap_pkthdr *h;
    const u_char *d;
    int rc = pcap_next_ex(pc->pc, &h, &d);
    if (rc == 1) {
        pc->hdr = *h;
        pc->ts_us = (uint64_t)h->ts.tv_sec * 1000000u + (uint64_t)h->ts.tv_usec;
        pc->data = d;
        pc->have = true;
        pc->frames++;
        return 1;
    }
    if (rc == 0)
        return 2;
    pc->eof = true;
    if (rc == PCAP_ERROR_BREAK)
        return 0;
    snprintf(errbuf, errlen, "%s: %s", pc->path, pcap_geterr(pc->pc));
    return -1;
}

int cap_next(struct cap_src *s, struct raw_pkt *out, char *errbuf, unsigned errlen)
{
    if (s->cur >= 0)
        s->p[s->cur].have = false;
    int best = -1;
    for (int i = 0; i < s->n; i++) {
        int rc = fill(s, i, errbuf, errlen);
        if (rc == 3)
            snprintf(s->cut_msg, sizeof(s->cut_msg), "%s", errbuf);
        if (rc == -1)
            return -1;
        if (rc == 2 && s->live)
            return 2;
        if (rc != 1)
            continue;
        if (best < 0 || s->p[i].ts_us < s->p[best].ts_us)
            best = i;
    }
    s->cur = best;
    if (best < 0) {
        if (s->cut_msg[0] && !s->cut_reported) {
            snprintf(errbuf, errlen, "%s", s->cut_msg);
            s->cut_reported = true;
            return 3;
        }
        return 0;
    }
    struct piece *pc = &s->p[best];
    out->ts_us = pc->ts_us;
    out->caplen = pc->hdr.caplen;
    out->len = pc->hdr.len;
    out->dlt = pc->in ? pc->ngp.dlt : s->dlt;
    out->ifidx = pc->in ? pc->ngp.ifid : 0;
    out->data = pc->data;
    out->frame = pc->frame_base + pc->frames;
    out->piece = best;
    out->filtered = false;
    if (pc->has_prog && !s->live)
        out->filtered = pcap_offline_filter(&pc->prog, &pc->hdr, pc->data) == 0;
    if (pc->in && pc->bpf) {
        struct bpf_program *prog = filter_for(pc, out->dlt, errbuf, errlen);
        out->filtered = !prog || pcap_offline_filter(prog, &pc->hdr, pc->data) == 0;
    }
    s->returned++;
    return 1;
}

bool cap_watch_moves(struct cap_src *s, void (*fn)(void *ctx), void *ctx)
{
    for (int i = 0; i < s->n; i++)
        if (!s->p[i].in)
            return false;
    for (int i = 0; i < s->n; i++)
        cin_on_move(s->p[i].in, fn, ctx);
    return true;
}

int cap_dlt(const struct cap_src *s)
{
    return s->dlt;
}

int cap_fd(const struct cap_src *s)
{
    return s->live ? pcap_get_selectable_fd(s->p[0].pc) : -1;
}

uint64_t cap_kernel_drops(struct cap_src *s)
{
    struct pcap_stat st;
    if (!s->live || pcap_stats(s->p[0].pc, &st) != 0)
        return 0;
    return (uint64_t)st.ps_drop + (uint64_t)st.ps_ifdrop;
}

uint64_t cap_total_bytes(const struct cap_src *s)
{
    return s->total_bytes;
}

int cap_pieces(const struct cap_src *s)
{
    return s->n;
}

uint64_t cap_piece_base(const struct cap_src *s, int i)
{
    return i >= 0 && i < s->n ? s->p[i].frame_base : 0;
}

uint64_t cap_bytes_read(const struct cap_src *s)
{
    uint64_t b = 0;
    for (int i = 0; i < s->n; i++)
        if (s->p[i].in)
            b += cin_raw_read(s->p[i].in);
    return b;
}

uint32_t cap_snaplen(const struct cap_src *s)
{
    if (s->live && s->p[0].pc)
        return (uint32_t)pcap_snapshot(s->p[0].pc);
    return s->snaplen ? s->snaplen : 262144u;
}

bool cap_rereadable(const struct cap_src *s)
{
    if (s->live)
        return false;
    for (int i = 0; i < s->n; i++)
        if (!s->p[i].in || !cin_rereadable(s->p[i].in))
            return false;
    return true;
}

bool cap_input_status(const struct cap_src *s, struct cap_status *st)
{
    memset(st, 0, sizeof(*st));
    st->frames = s->returned;
    for (int i = 0; i < s->n; i++) {
        const struct piece *pc = &s->p[i];
        if (!pc->cut)
            continue;
        if (st->cut_pieces++ == 0) {
            st->cut = true;
            st->piece = i;
            st->path = pc->path;
            st->offset = pc->cut_at;
            st->records = pc->frames;
            st->compression = pc->in ? cin_codec_name(cin_codec(pc->in)) : "none";
            snprintf(st->message, sizeof(st->message), "%s", pc->cut_msg);
        }
    }
    return st->cut;
}

const char *cap_compression(const struct cap_src *s, int piece)
{
    if (piece < 0 || piece >= s->n || !s->p[piece].in)
        return "none";
    return cin_codec_name(cin_codec(s->p[piece].in));
}

void cap_close(struct cap_src *s)
{
    if (!s)
        return;
    for (int i = 0; i < s->n; i++)
        close_piece(&s->p[i]);
    free(s->p);
    free(s);
}

/* tcpdump -D's flag words: the named bits ("none" when no named bit is set), then the
 * connection status when it applies */
static void print_flags(FILE *f, bpf_u_int32 fl)
{
    static const struct {
        bpf_u_int32 bit;
        const char *name;
    } names[] = {{PCAP_IF_UP, "Up"},
                 {PCAP_IF_RUNNING, "Running"},
                 {PCAP_IF_LOOPBACK, "Loopback"},
                 {PCAP_IF_WIRELESS, "Wireless"}};
    fputs(" [", f);
    const char *sep = "";
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        if (fl & names[i].bit) {
            fprintf(f, "%s%s", sep, names[i].name);
            sep = ", ";
        }
    }
    if (!*sep)
        fputs("none", f);
    bool wl = (fl & PCAP_IF_WIRELESS) != 0;
    switch (fl & PCAP_IF_CONNECTION_STATUS) {
    case PCAP_IF_CONNECTION_STATUS_UNKNOWN:
        fputs(wl ? ", Association status unknown" : ", Connection status unknown", f);
        break;
    case PCAP_IF_CONNECTION_STATUS_CONNECTED:
        fputs(wl ? ", Associated" : ", Connected", f);
        break;
    case PCAP_IF_CONNECTION_STATUS_DISCONNECTED:
        fputs(wl ? ", Not associated" : ", Disconnected", f);
        break;
    default:
        break;
    }
    fputc(']', f);
}

int cap_list_interfaces(FILE *out, char *errbuf, unsigned errlen)
{
    char eb[PCAP_ERRBUF_SIZE] = "";
    pcap_if_t *all = NULL;
    if (pcap_findalldevs(&all, eb) != 0) {
        snprintf(errbuf, errlen, "cannot list interfaces: %s", eb);
        return -1;
    }
    int n = 0;
    for (pcap_if_t *d = all; d; d = d->next) {
        fprintf(out, "%d.%s", ++n, d->name);
        if (d->description)
            fprintf(out, " (%s)", d->description);
        if (d->flags)
            print_flags(out, d->flags);
        fputc('\n', out);
    }
    pcap_freealldevs(all);
    if (n == 0) {
        snprintf(errbuf, errlen, "no interfaces available for capture");
        return -1;
    }
    if (fflush(out) != 0 || ferror(out)) {
        snprintf(errbuf, errlen, "writing the interface list failed: %s", strerror(errno));
        return -1;
    }
    return n;
}
