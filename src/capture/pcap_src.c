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

struct piece {
    pcap_t *pc;                    /* libpcap (pcap files, live) */
    struct pcapng *ng;             /* own reader (pcapng files) */
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
};

struct cap_src {
    int n;
    struct piece *p;
    int dlt;
    bool live;
    bool nsec;
    pcap_dumper_t *dump;
    uint64_t total_bytes;
    int cur;           /* piece whose packet was returned last (to refill) */
    char cut_msg[512]; /* warning for a piece cut off mid-record */
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

/* Counts the records of a file (for frame numbering across merged pieces). */
static uint64_t count_records(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (f && pcapng_is(f)) {
        char e2[256];
        struct pcapng *ng = pcapng_open(f, path, e2, sizeof(e2));
        uint64_t n = 0;
        struct pcapng_pkt pk;
        while (ng && pcapng_next(ng, &pk, e2, sizeof(e2)) == 1)
            n++;
        pcapng_close(ng);
        return n;
    }
    if (f)
        fclose(f);
    char eb[PCAP_ERRBUF_SIZE];
    pcap_t *pc = pcap_open_offline(path, eb);
    if (!pc)
        return 0;
    struct pcap_pkthdr *h;
    const u_char *d;
    uint64_t n = 0;
    while (pcap_next_ex(pc, &h, &d) == 1)
        n++;
    pcap_close(pc);
    return n;
}

struct cap_src *cap_open_files(const char *const *paths, int n, const char *bpf, char *errbuf,
                               unsigned errlen)
{
    if (n <= 0) {
        snprintf(errbuf, errlen, "no capture file given");
        return NULL;
    }
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
    uint64_t base = 0;
    for (int i = 0; i < n; i++) {
        char eb[PCAP_ERRBUF_SIZE] = "";
        struct piece *pc = &s->p[i];
        pc->path = paths[i];
        struct stat st;
        if (stat(paths[i], &st) != 0) {
            snprintf(errbuf, errlen, "%s: %s", paths[i], strerror(errno));
            goto fail;
        }
        if (S_ISDIR(st.st_mode)) {
            snprintf(errbuf, errlen, "%s: is a directory, not a capture file", paths[i]);
            goto fail;
        }
        s->total_bytes += (uint64_t)st.st_size;
        FILE *f = fopen(paths[i], "rb");
        if (!f) {
            snprintf(errbuf, errlen, "%s: %s", paths[i], strerror(errno));
            goto fail;
        }
        setvbuf(f, NULL, _IOFBF, 1u << 20); /* fewer, larger reads */
        int dlt;
        if (pcapng_is(f)) {
            pc->ng = pcapng_open(f, paths[i], errbuf, errlen);
            if (!pc->ng)
                goto fail;
            dlt = pcapng_dlt(pc->ng);
            pc->bpf = bpf && *bpf ? bpf : NULL;
            if (pc->bpf && filter_for(pc, dlt, errbuf, errlen) == NULL)
                goto fail;
        } else {
            pc->pc = pcap_fopen_offline_with_tstamp_precision(f, PCAP_TSTAMP_PRECISION_MICRO, eb);
            if (!pc->pc) {
                fclose(f);
                snprintf(errbuf, errlen, "%s: not a pcap or pcapng capture (%s)", paths[i], eb);
                goto fail;
            }
            dlt = pcap_datalink(pc->pc);
        }
        if (i == 0) {
            s->dlt = dlt;
        } else if (dlt != s->dlt) {
            snprintf(errbuf, errlen, "%s: link type %s differs from the first piece's %s", paths[i],
                     pcap_datalink_val_to_name(dlt) ? pcap_datalink_val_to_name(dlt) : "?",
                     pcap_datalink_val_to_name(s->dlt) ? pcap_datalink_val_to_name(s->dlt) : "?");
            goto fail;
        }
        if (pc->pc && compile_filter(pc, bpf, errbuf, errlen) != 0)
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

struct cap_src *cap_open_live(const char *ifname, const char *bpf, char *errbuf, unsigned errlen)
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
    pcap_set_buffer_size(pc->pc, 64 << 20);
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
    if (pc->ng) {
        int r = pcapng_next(pc->ng, &pc->ngp, errbuf, errlen);
        if (r == 1) {
            pc->hdr.ts.tv_sec = (time_t)(pc->ngp.ts_us / 1000000u);
            pc->hdr.ts.tv_usec = (suseconds_t)(pc->ngp.ts_us % 1000000u);
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
            char tmp[400];
            snprintf(tmp, sizeof(tmp), "%s", errbuf);
            snprintf(errbuf, errlen, "%s; analysed the %llu frames before it", tmp,
                     (unsigned long long)pc->frames);
            return 3;
        }
        return 0;
    }
    struct pcap_pkthdr *h;
    const u_char *d;
    int rc = pcap_next_ex(pc->pc, &h, &d);
    if (rc == 1) {
        pc->hdr = *h;
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
    /* -1: error. For a saved file this is a record cut off mid-way (or a corrupt header). */
    if (!s->live) {
        pc->cut = true;
        snprintf(errbuf, errlen,
                 "%s: capture cut off or corrupt after frame %llu (%s); analysed what came before",
                 pc->path, (unsigned long long)(pc->frame_base + pc->frames), pcap_geterr(pc->pc));
        return 3;
    }
    snprintf(errbuf, errlen, "%s: %s", pc->path, pcap_geterr(pc->pc));
    return -1;
}

int cap_next(struct cap_src *s, struct raw_pkt *out, char *errbuf, unsigned errlen)
{
    if (s->cur >= 0)
        s->p[s->cur].have = false;
    int best = -1;
    int warn = 0;
    for (int i = 0; i < s->n; i++) {
        int rc = fill(s, i, errbuf, errlen);
        if (rc == 3) {
            warn = 3;
            snprintf(s->cut_msg, sizeof(s->cut_msg), "%s", errbuf);
        }
        if (rc == -1)
            return -1;
        if (rc == 2 && s->live)
            return 2;
        if (rc != 1)
            continue;
        if (best < 0) {
            best = i;
            continue;
        }
        const struct pcap_pkthdr *a = &s->p[i].hdr, *b = &s->p[best].hdr;
        if (a->ts.tv_sec < b->ts.tv_sec ||
            (a->ts.tv_sec == b->ts.tv_sec && a->ts.tv_usec < b->ts.tv_usec))
            best = i;
    }
    s->cur = best;
    if (best < 0) {
        if (s->cut_msg[0]) {
            snprintf(errbuf, errlen, "%s", s->cut_msg);
            s->cut_msg[0] = 0;
            return 3;
        }
        return 0;
    }
    struct piece *pc = &s->p[best];
    out->ts_us = (uint64_t)pc->hdr.ts.tv_sec * 1000000u + (uint64_t)pc->hdr.ts.tv_usec;
    out->caplen = pc->hdr.caplen;
    out->len = pc->hdr.len;
    out->dlt = pc->ng ? pc->ngp.dlt : s->dlt;
    out->ifidx = pc->ng ? pc->ngp.ifid : 0;
    out->data = pc->data;
    out->frame = pc->frame_base + pc->frames;
    out->filtered = false;
    if (pc->has_prog && !s->live)
        out->filtered = pcap_offline_filter(&pc->prog, &pc->hdr, pc->data) == 0;
    if (pc->ng && pc->bpf) {
        struct bpf_program *prog = filter_for(pc, out->dlt, errbuf, errlen);
        out->filtered = !prog || pcap_offline_filter(prog, &pc->hdr, pc->data) == 0;
    }
    (void)warn; /* a cut piece is reported once every piece is exhausted */
    return 1;
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

bool cap_dump_open(struct cap_src *s, const char *path, char *errbuf, unsigned errlen)
{
    s->dump = pcap_dump_open(s->p[0].pc, path);
    if (!s->dump) {
        snprintf(errbuf, errlen, "%s: %s", path, pcap_geterr(s->p[0].pc));
        return false;
    }
    return true;
}

void cap_dump(struct cap_src *s, const struct raw_pkt *p)
{
    if (!s->dump)
        return;
    struct pcap_pkthdr h;
    h.ts.tv_sec = (time_t)(p->ts_us / 1000000u);
    h.ts.tv_usec = (suseconds_t)(p->ts_us % 1000000u);
    h.caplen = p->caplen;
    h.len = p->len;
    pcap_dump((u_char *)s->dump, &h, p->data);
    pcap_dump_flush(s->dump);
}

uint64_t cap_total_bytes(const struct cap_src *s)
{
    return s->total_bytes;
}

uint64_t cap_bytes_read(const struct cap_src *s)
{
    uint64_t b = 0;
    for (int i = 0; i < s->n; i++) {
        if (s->p[i].ng) {
            b += pcapng_offset(s->p[i].ng);
            continue;
        }
        FILE *f = pcap_file(s->p[i].pc);
        if (f) {
            long pos = ftell(f);
            if (pos > 0)
                b += (uint64_t)pos;
        }
    }
    return b;
}

void cap_close(struct cap_src *s)
{
    if (!s)
        return;
    if (s->dump)
        pcap_dump_close(s->dump);
    for (int i = 0; i < s->n; i++)
        close_piece(&s->p[i]);
    free(s->p);
    free(s);
}
