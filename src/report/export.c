/* export.c - --export DIR: the packets behind each finding as a pcapng file a ticket can carry.
 * The frames are read again from the input files by frame number (the numbers the report lists),
 * so only regular files can be exported. Each file: a Section Header Block, one Interface
 * Description Block per capture point and link type (if_name "inside"/"outside"/"capture",
 * if_description the file name), and one Enhanced Packet Block per frame in time order, on one
 * clock (outside frames moved to the inside clock in two-capture mode), with an opt_comment
 * saying where the frame was captured and what it shows (pcapng, IETF draft-ietf-opsawg-pcapng). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "jsonw.h"
#include "report_int.h"
#include "vpnscope/capture.h"
#include "vpnscope/evidence.h"

/* One listed frame of one finding and, once read, its packet. */
struct ex_pkt {
    size_t fi;     /* finding index */
    unsigned slot; /* index into the finding's frames */
    uint8_t list;  /* which input list holds it: 0 single/inside, 1 outside */
    uint64_t frame;
    bool have;
    uint64_t ts_us; /* on the inside clock */
    uint32_t caplen, len;
    int dlt;
    uint8_t *data;
};

static int cmp_list_frame(const void *pa, const void *pb)
{
    const struct ex_pkt *a = pa, *b = pb;
    if (a->list != b->list)
        return a->list < b->list ? -1 : 1;
    if (a->frame != b->frame)
        return a->frame < b->frame ? -1 : 1;
    if (a->fi != b->fi)
        return a->fi < b->fi ? -1 : 1;
    return a->slot < b->slot ? -1 : (a->slot > b->slot);
}

static int cmp_finding_ts(const void *pa, const void *pb)
{
    const struct ex_pkt *a = pa, *b = pb;
    if (a->fi != b->fi)
        return a->fi < b->fi ? -1 : 1;
    if (a->ts_us != b->ts_us)
        return a->ts_us < b->ts_us ? -1 : 1;
    if (a->list != b->list)
        return a->list < b->list ? -1 : 1;
    return a->frame < b->frame ? -1 : (a->frame > b->frame);
}

static size_t list_len(const char *const *l)
{
    size_t n = 0;
    while (l && l[n])
        n++;
    return n;
}

static uint8_t list_of(const struct evidence_inputs *in, uint8_t capture)
{
    return (capture == SIDE_OUTSIDE && in->n >= 2 && !in->same_file) ? 1 : 0;
}

/* Reads the frames v[a..b) (all of list v[a].list, sorted by frame) from that list's files. */
static int read_list(struct ex_pkt *v, size_t a, size_t b, const struct evidence_inputs *in,
                     char *err, unsigned errlen)
{
    uint8_t li = v[a].list;
    const char *const *paths = in->captures[li];
    size_t np = list_len(paths);
    if (!np) {
        snprintf(err, errlen, "--export: no capture file for the %s frames",
                 li ? "outside" : "inside");
        return -1;
    }
    for (size_t i = 0; i < np; i++)
        if (!cap_path_rereadable(paths[i])) {
            snprintf(err, errlen,
                     "--export: %s cannot be read again (standard input or a pipe): export "
                     "needs capture files",
                     paths[i]);
            return -1;
        }
    char eb[CAP_ERRMSG_SIZE];
    struct cap_src *s = cap_open_files(paths, (int)np, NULL, eb, sizeof(eb));
    if (!s) {
        snprintf(err, errlen, "--export: %s", eb);
        return -1;
    }
    size_t j = a;
    struct raw_pkt r;
    while (j < b && cap_next(s, &r, eb, sizeof(eb)) == 1) {
        while (j < b && v[j].frame < r.frame)
            j++; /* not in the file: reported below */
        for (; j < b && v[j].frame == r.frame; j++) {
            v[j].data = malloc(r.caplen ? r.caplen : 1);
            if (!v[j].data) {
                cap_close(s);
                snprintf(err, errlen, "--export: out of memory");
                return -1;
            }
            memcpy(v[j].data, r.data, r.caplen);
            v[j].caplen = r.caplen;
            v[j].len = r.len;
            v[j].dlt = r.dlt;
            v[j].ts_us = r.ts_us;
            if (li == 1 && in->clock)
                v[j].ts_us = nat_clock_to_inside(in->clock, r.ts_us);
            v[j].have = true;
        }
    }
    cap_close(s);
    for (size_t k = a; k < b; k++)
        if (!v[k].have) {
            snprintf(err, errlen, "--export: frame %llu is not in %s%s",
                     (unsigned long long)v[k].frame, paths[0], np > 1 ? " (+ pieces)" : "");
            return -1;
        }
    return 0;
}

/* ---- pcapng ---- */

static void put32(FILE *f, uint32_t v)
{
    fwrite(&v, 4, 1, f);
}

static void put16(FILE *f, uint16_t v)
{
    fwrite(&v, 2, 1, f);
}

static uint32_t pad4(size_t n)
{
    return (uint32_t)((n + 3) & ~(size_t)3);
}

/* An option: code, length, value padded to 32 bits. */
static void put_opt(FILE *f, uint16_t code, const void *v, size_t len)
{
    static const uint8_t zero[4] = {0};
    put16(f, code);
    put16(f, (uint16_t)len);
    fwrite(v, 1, len, f);
    fwrite(zero, 1, pad4(len) - len, f);
}

static void write_shb(FILE *f)
{
    put32(f, 0x0A0D0D0A);
    put32(f, 28);
    put32(f, 0x1A2B3C4D);
    put16(f, 1);
    put16(f, 0);
    put32(f, 0xFFFFFFFF); /* section length unknown (-1) */
    put32(f, 0xFFFFFFFF);
    put32(f, 28);
}

static void write_idb(FILE *f, int dlt, const char *name, const char *desc)
{
    size_t ln = strlen(name), ld = strlen(desc);
    if (ld > 4000)
        ld = 4000;
    uint32_t total = 20 + 4 + pad4(ln) + 4 + pad4(ld) + 4;
    put32(f, 1);
    put32(f, total);
    put16(f, (uint16_t)dlt);
    put16(f, 0);
    put32(f, 0); /* no snaplen limit */
    put_opt(f, 2, name, ln);
    put_opt(f, 3, desc, ld);
    put32(f, 0); /* opt_endofopt */
    put32(f, total);
}

static void write_epb(FILE *f, uint32_t ifid, const struct ex_pkt *p, const char *comment)
{
    static const uint8_t zero[4] = {0};
    size_t lc = strlen(comment);
    uint32_t total = 28 + pad4(p->caplen) + 4 + pad4(lc) + 4 + 4;
    put32(f, 6);
    put32(f, total);
    put32(f, ifid);
    put32(f, (uint32_t)(p->ts_us >> 32)); /* microseconds: the default if_tsresol */
    put32(f, (uint32_t)p->ts_us);
    put32(f, p->caplen);
    put32(f, p->len);
    fwrite(p->data, 1, p->caplen, f);
    fwrite(zero, 1, pad4(p->caplen) - p->caplen, f);
    put_opt(f, 1, comment, lc);
    put32(f, 0);
    put32(f, total);
}

static const char *point_name(const struct evidence_inputs *in, uint8_t capture)
{
    if (in->n < 2)
        return "capture";
    return capture == SIDE_OUTSIDE ? "outside" : "inside";
}

/* Writes the file of finding f from its packets v[0..n) (sorted by time). */
static int write_finding(const char *path, const struct finding *f, const struct ex_pkt *v,
                         size_t n, const struct evidence_inputs *in, char *err, unsigned errlen)
{
    FILE *o = fopen(path, "wb");
    if (!o) {
        snprintf(err, errlen, "--export: %s: %s", path, strerror(errno));
        return -1;
    }
    write_shb(o);
    /* interfaces: one per (capture point, link type), in order of first use */
    struct {
        uint8_t capture;
        int dlt;
    } ifs[FINDING_MAX_FRAMES];
    unsigned nif = 0;
    for (size_t i = 0; i < n; i++) {
        uint8_t cap = f->frames[v[i].slot].capture;
        unsigned k = 0;
        while (k < nif && !(ifs[k].capture == cap && ifs[k].dlt == v[i].dlt))
            k++;
        if (k == nif) {
            ifs[nif].capture = cap;
            ifs[nif].dlt = v[i].dlt;
            nif++;
            const char *const *l = in->captures[list_of(in, cap)];
            write_idb(o, v[i].dlt, point_name(in, cap), l && l[0] ? l[0] : "");
        }
        char comment[512];
        uint64_t local;
        const char *file = capture_pieces_frame(rep_pieces_of(in->pieces, cap), v[i].frame, &local);
        if (file)
            snprintf(comment, sizeof(comment), "%s %.300s frame %llu: %s", point_name(in, cap),
                     file, (unsigned long long)local, finding_frame_role_name(f, v[i].slot));
        else
            snprintf(comment, sizeof(comment), "%s frame %llu: %s", point_name(in, cap),
                     (unsigned long long)v[i].frame, finding_frame_role_name(f, v[i].slot));
        write_epb(o, k, &v[i], comment);
    }
    int bad = ferror(o);
    if (fclose(o) != 0 || bad) {
        snprintf(err, errlen, "--export: write to %s failed: %s", path,
                 errno ? strerror(errno) : "I/O error");
        return -1;
    }
    return 0;
}

static void file_name(char *buf, size_t size, const char *dir, size_t pos, const struct finding *f)
{
    snprintf(buf, size, "%s/%03zu-%s.pcapng", dir, pos + 1, finding_kind_name(f->kind));
}

static int make_dir(const char *dir, char *err, unsigned errlen)
{
    if (mkdir(dir, 0777) != 0 && errno != EEXIST) {
        snprintf(err, errlen, "--export: %s: %s", dir, strerror(errno));
        return -1;
    }
    struct stat st;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        snprintf(err, errlen, "--export: %s: not a directory", dir);
        return -1;
    }
    return 0;
}

/* Reads every listed frame of the findings f[0..nf) (positions pos0..) and writes their files
 * (and the index when idx is not NULL). */
static int export_list(const char *dir, const struct finding *f, size_t nf, size_t pos0,
                       const struct evidence_inputs *in, FILE *idx, char *path, size_t pathlen,
                       char *err, unsigned errlen)
{
    size_t total = 0;
    for (size_t i = 0; i < nf; i++)
        total += f[i].n_frames < FINDING_MAX_FRAMES ? f[i].n_frames : FINDING_MAX_FRAMES;
    struct ex_pkt *v = calloc(total ? total : 1, sizeof(*v));
    if (!v) {
        snprintf(err, errlen, "--export: out of memory");
        return -1;
    }
    size_t n = 0;
    for (size_t i = 0; i < nf; i++)
        for (unsigned k = 0; k < f[i].n_frames && k < FINDING_MAX_FRAMES; k++) {
            v[n].fi = i;
            v[n].slot = k;
            v[n].list = list_of(in, f[i].frames[k].capture);
            v[n].frame = f[i].frames[k].frame;
            n++;
        }
    int rc = 0;
    qsort(v, n, sizeof(*v), cmp_list_frame);
    for (size_t a = 0; a < n && rc == 0;) {
        size_t b = a;
        while (b < n && v[b].list == v[a].list)
            b++;
        rc = read_list(v, a, b, in, err, errlen);
        a = b;
    }
    if (rc == 0)
        qsort(v, n, sizeof(*v), cmp_finding_ts);
    char buf[4096];
    for (size_t i = 0, a = 0; i < nf && rc == 0; i++) {
        size_t b = a;
        while (b < n && v[b].fi == i)
            b++;
        file_name(path ? path : buf, path ? pathlen : sizeof(buf), dir, pos0 + i, &f[i]);
        rc = write_finding(path ? path : buf, &f[i], v + a, b - a, in, err, errlen);
        if (rc == 0 && idx) {
            const char *base = strrchr(buf, '/');
            struct jw w;
            jw_begin_record(&w, idx, "export");
            jw_str(&w, "file", base ? base + 1 : buf);
            jw_u64(&w, "packets", b - a);
            rep_json_finding(&w, &f[i], in->pieces);
            jw_end_record(&w);
        }
        a = b;
    }
    for (size_t i = 0; i < n; i++)
        free(v[i].data);
    free(v);
    return rc;
}

int evidence_export(const char *dir, const struct finding_list *fl,
                    const struct evidence_inputs *in, char *err, unsigned errlen)
{
    if (make_dir(dir, err, errlen) != 0)
        return -1;
    char ipath[4096];
    snprintf(ipath, sizeof(ipath), "%s/index.jsonl", dir);
    FILE *idx = fopen(ipath, "w");
    if (!idx) {
        snprintf(err, errlen, "--export: %s: %s", ipath, strerror(errno));
        return -1;
    }
    int rc = export_list(dir, fl->v, fl->n, 0, in, idx, NULL, 0, err, errlen);
    int bad = ferror(idx);
    if (fclose(idx) != 0 || bad) {
        if (rc == 0)
            snprintf(err, errlen, "--export: write to %s failed", ipath);
        rc = -1;
    }
    return rc;
}

/* Whether the index file already has the line of the file named base ("file":"base"). */
static bool index_has(FILE *idx, const char *base)
{
    char want[320], line[512];
    snprintf(want, sizeof(want), "\"file\":\"%s\"", base);
    rewind(idx);
    bool found = false;
    while (!found && fgets(line, sizeof(line), idx)) {
        found = strstr(line, want) != NULL;
        /* the rest of a long line: "file" comes first, it was in the part read */
        while (line[0] && line[strlen(line) - 1] != '\n' && fgets(line, sizeof(line), idx))
            ;
    }
    return found;
}

int evidence_export_one(const char *dir, const struct finding *f, size_t pos,
                        const struct evidence_inputs *in, char *path, size_t pathlen, char *err,
                        unsigned errlen)
{
    if (make_dir(dir, err, errlen) != 0)
        return -1;
    if (export_list(dir, f, 1, pos, in, NULL, path, pathlen, err, errlen) != 0)
        return -1;
    /* its line in DIR/index.jsonl (as --export writes it), once */
    char ipath[4096], name[300];
    snprintf(ipath, sizeof(ipath), "%s/index.jsonl", dir);
    file_name(name, sizeof(name), ".", pos, f);
    FILE *idx = fopen(ipath, "a+");
    if (!idx) {
        snprintf(err, errlen, "--export: %s: %s", ipath, strerror(errno));
        return -1;
    }
    if (!index_has(idx, name + 2)) {
        unsigned n = f->n_frames < FINDING_MAX_FRAMES ? f->n_frames : FINDING_MAX_FRAMES;
        struct jw w;
        fseek(idx, 0, SEEK_END);
        jw_begin_record(&w, idx, "export");
        jw_str(&w, "file", name + 2);
        jw_u64(&w, "packets", n);
        rep_json_finding(&w, f, in->pieces);
        jw_end_record(&w);
    }
    int bad = ferror(idx);
    if (fclose(idx) != 0 || bad) {
        snprintf(err, errlen, "--export: write to %s failed: %s", ipath,
                 errno ? strerror(errno) : "I/O error");
        return -1;
    }
    return 0;
}
