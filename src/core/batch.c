/* batch.c - --batch PATH...: every capture analysed on its own by the pipeline, in a child
 * process of its own (a capture that crashes the analysis is one failed line, not the end of the
 * run), -j at a time. Directories are walked recursively for captures recognised by their magic
 * bytes; the list is sorted by path so the output is the same whatever -j: the records of each
 * capture (each with "file"), then its capture_summary, capture after capture in path order, then
 * the rollup (JSON); a table with one row per capture and a rollup line (text). */
#include "pipeline_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "vpnscope/classify.h"
#include "vpnscope/report.h"

#define BATCH_MAX_DEPTH 64 /* directory nesting walked */

/* What a child found, in memory shared with the parent. */
struct cap_result {
    uint64_t packets;
    uint64_t tunnels;
    uint32_t kinds[FINDING__COUNT];
    int exit_status;
    bool analysed;
    char error[VPNSCOPE_ERRBUF_SIZE * 2];
    char warning[CAP_ERRMSG_SIZE];
};

struct path_list {
    char **v;
    size_t n, cap;
    uint64_t skipped; /* files in walked directories that are not captures */
};

/* A job: the child analysing capture idx, and where its records wait to be copied. */
struct job {
    pid_t pid;
    size_t idx;
};

static int add_path(struct path_list *l, const char *path)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 64;
        char **v = realloc(l->v, cap * sizeof(*v));
        if (!v)
            return -1;
        l->v = v;
        l->cap = cap;
    }
    if (!(l->v[l->n] = strdup(path)))
        return -1;
    l->n++;
    return 0;
}

/* pcap (every byte order, microsecond, nanosecond, modified), pcapng, gzip, zstd. */
static bool capture_magic(const char *path)
{
    static const uint8_t magics[][4] = {
        {0xd4, 0xc3, 0xb2, 0xa1}, {0xa1, 0xb2, 0xc3, 0xd4}, {0x4d, 0x3c, 0xb2, 0xa1},
        {0xa1, 0xb2, 0x3c, 0x4d}, {0x34, 0xcd, 0xb2, 0xa1}, {0xa1, 0xb2, 0xcd, 0x34},
        {0x0a, 0x0d, 0x0d, 0x0a}, {0x28, 0xb5, 0x2f, 0xfd},
    };
    uint8_t b[4];
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0)
        return false;
    ssize_t n = read(fd, b, sizeof(b));
    close(fd);
    if (n >= 2 && b[0] == 0x1f && b[1] == 0x8b)
        return true; /* gzip */
    if (n != 4)
        return false;
    for (size_t i = 0; i < sizeof(magics) / sizeof(magics[0]); i++)
        if (memcmp(b, magics[i], 4) == 0)
            return true;
    return false;
}

static int cmp_path(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Regular files with a capture's magic bytes under dir (symbolic links to files are followed,
 * to directories not: no cycles). 0, or -1 with err. */
static int walk(struct path_list *l, const char *dir, int depth, char *err, unsigned errlen)
{
    if (depth > BATCH_MAX_DEPTH) {
        snprintf(err, errlen, "%s: directories nested deeper than %d", dir, BATCH_MAX_DEPTH);
        return -1;
    }
    DIR *d = opendir(dir);
    if (!d) {
        snprintf(err, errlen, "%s: %s", dir, strerror(errno));
        return -1;
    }
    struct dirent *e;
    int rc = 0;
    while (rc == 0 && (e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        char path[4096];
        if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, e->d_name) >= sizeof(path))
            continue;
        struct stat lst, st;
        if (lstat(path, &lst) != 0 || stat(path, &st) != 0)
            continue; /* vanished or a dangling link */
        if (S_ISDIR(lst.st_mode)) {
            rc = walk(l, path, depth + 1, err, errlen);
        } else if (S_ISREG(st.st_mode)) {
            if (capture_magic(path))
                rc = add_path(l, path) == 0 ? 0 : -1;
            else
                l->skipped++;
            if (rc)
                snprintf(err, errlen, "out of memory");
        }
    }
    closedir(d);
    return rc;
}

/* The captures named by the --batch paths, sorted by path. A file named explicitly is always
 * analysed (a file that is not a capture is a failed line); a missing path is an error. */
static int collect(const struct vpnscope_config *cfg, struct path_list *l, char *err,
                   unsigned errlen)
{
    for (int i = 0; i < cfg->nbatch; i++) {
        const char *p = cfg->batch_paths[i];
        struct stat st;
        if (stat(p, &st) != 0) {
            snprintf(err, errlen, "%s: %s", p, strerror(errno));
            return -1;
        }
        if (S_ISDIR(st.st_mode)) {
            char dir[4096];
            snprintf(dir, sizeof(dir), "%s", p);
            size_t n = strlen(dir);
            while (n > 1 && dir[n - 1] == '/')
                dir[--n] = '\0';
            if (walk(l, dir, 0, err, errlen) != 0)
                return -1;
        } else if (add_path(l, p) != 0) {
            snprintf(err, errlen, "out of memory");
            return -1;
        }
    }
    if (l->n > 1)
        qsort(l->v, l->n, sizeof(*l->v), cmp_path);
    return 0;
}

/* ---- one capture (in the child) ---- */

static void analyse(const struct vpnscope_config *cfg, const char *path, FILE *rec,
                    struct cap_result *res)
{
    struct vpnscope_config c = *cfg;
    c.batch = false;
    c.nbatch = 0;
    c.batch_paths = NULL;
    c.files[0] = path;
    c.files[1] = NULL;
    c.nfiles = 1;
    c.no_progress = true;
    c.record_file = path;
    c.mode = MODE_BATCH;
    res->exit_status = 2;
    struct pipeline *p = pipeline_open(&c, res->error, sizeof(res->error));
    if (!p)
        return;
    if (pipeline_run_all(p, res->error, sizeof(res->error)) != 0) {
        pipeline_close(p);
        return;
    }
    res->packets = p->packets;
    struct cap_status cs;
    if (p->src[0] && cap_input_status(p->src[0], &cs))
        snprintf(res->warning, sizeof(res->warning), "%s", cs.message);
    for (size_t i = 0; i < p->fl.n; i++)
        if (p->fl.v[i].kind < FINDING__COUNT)
            res->kinds[p->fl.v[i].kind]++;
    struct report_input ri;
    pipeline_report_input(p, &ri);
    res->tunnels = report_tunnels(&ri);
    int sev = finding_list_max_severity(&p->fl) >= SEV_WARNING ? 1 : 0;
    /* a capture that could not be read whole never gets a clean bill (README "Exit status") */
    int want = res->warning[0] && sev == 0 ? 2 : sev;
    res->analysed = true;
    res->exit_status = want;
    if (rec && pipeline_report(p, rec) == 2 && want != 2) {
        res->exit_status = 2;
        res->analysed = false;
        snprintf(res->error, sizeof(res->error), "writing the records failed");
    }
    pipeline_close(p);
}

/* ---- the parent ---- */

struct batch {
    const struct vpnscope_config *cfg;
    FILE *out;
    struct path_list paths;
    struct cap_result *res; /* shared, one per capture */
    FILE **rec;             /* JSON: the records of each capture until their turn */
    bool *done;
    size_t next_out; /* the next capture to print */
    struct batch_rollup roll;
    uint64_t kinds[FINDING__COUNT];
};

static int start_job(struct batch *b, size_t idx, struct job *j)
{
    if (b->cfg->json && !(b->rec[idx] = tmpfile())) {
        snprintf(b->res[idx].error, sizeof(b->res[idx].error), "temporary file: %s",
                 strerror(errno));
        b->res[idx].exit_status = 2;
        b->done[idx] = true;
        return 0;
    }
    fflush(NULL); /* nothing buffered is written twice */
    pid_t pid = fork();
    if (pid < 0) {
        snprintf(b->res[idx].error, sizeof(b->res[idx].error), "fork: %s", strerror(errno));
        b->res[idx].exit_status = 2;
        b->done[idx] = true;
        return 0;
    }
    if (pid == 0) {
        signal(SIGPIPE, SIG_DFL);
        analyse(b->cfg, b->paths.v[idx], b->rec[idx], &b->res[idx]);
        if (b->rec[idx] && fflush(b->rec[idx]) != 0)
            b->res[idx].exit_status = 2;
        _exit(b->res[idx].exit_status);
    }
    j->pid = pid;
    j->idx = idx;
    return 1;
}

/* The child of job j ended with wait status st. */
static void end_job(struct batch *b, const struct job *j, int st)
{
    struct cap_result *r = &b->res[j->idx];
    if (WIFSIGNALED(st)) {
        r->exit_status = 2;
        r->analysed = false;
        snprintf(r->error, sizeof(r->error), "the analysis ended on signal %d (%s)", WTERMSIG(st),
                 strsignal(WTERMSIG(st)));
    } else if (WIFEXITED(st) && WEXITSTATUS(st) != r->exit_status) {
        r->exit_status = 2;
        if (!r->error[0])
            snprintf(r->error, sizeof(r->error), "the analysis exited with status %d",
                     WEXITSTATUS(st));
    }
    if (r->exit_status == 2 && !r->error[0] && !r->analysed)
        snprintf(r->error, sizeof(r->error), "the analysis failed");
    b->done[j->idx] = true;
}

static void copy_records(struct batch *b, size_t i)
{
    FILE *f = b->rec[i];
    if (!f)
        return;
    if (b->res[i].analysed && fseek(f, 0, SEEK_SET) == 0) {
        char buf[65536];
        size_t n;
        while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
            fwrite(buf, 1, n, b->out);
    }
    fclose(f);
    b->rec[i] = NULL;
}

/* Prints the captures that are done, in path order, up to the first that is not. */
static void emit_ready(struct batch *b)
{
    while (b->next_out < b->paths.n && b->done[b->next_out]) {
        size_t i = b->next_out++;
        struct cap_result *r = &b->res[i];
        struct batch_capture c = {b->paths.v[i],  r->packets, r->tunnels, r->kinds,
                                  r->exit_status, r->error,   r->warning};
        if (b->cfg->json) {
            copy_records(b, i);
            report_capture_summary_json(b->out, &c);
        } else {
            report_capture_row_text(b->out, &c);
        }
        b->roll.captures++;
        b->roll.failed += r->analysed ? 0 : 1; /* a cut capture is analysed: exit 2, not failed */
        b->roll.packets += r->packets;
        b->roll.tunnels += r->tunnels;
        for (unsigned k = 0; k < FINDING__COUNT; k++)
            b->kinds[k] += r->kinds[k];
        if (r->exit_status > b->roll.exit_status)
            b->roll.exit_status = r->exit_status;
    }
}

/* Runs the captures, at most `jobs` children at a time and a bounded number of finished captures
 * waiting for their turn (open temporary files). */
static void run_all(struct batch *b, struct job *run, int jobs)
{
    size_t next = 0, ahead = (size_t)jobs * 4 + 16;
    int active = 0;
    while (next < b->paths.n || active > 0) {
        while (active < jobs && next < b->paths.n && next < b->next_out + ahead) {
            size_t idx = next++;
            if (start_job(b, idx, &run[active]))
                active++;
        }
        emit_ready(b);
        if (active == 0)
            continue;
        int st;
        pid_t pid = waitpid(-1, &st, 0);
        if (pid < 0 && errno == EINTR)
            continue;
        for (int k = 0; k < active; k++) {
            if (run[k].pid != pid)
                continue;
            end_job(b, &run[k], st);
            run[k] = run[--active];
            break;
        }
        if (pid < 0)
            break; /* no child left (cannot happen while active > 0) */
    }
    emit_ready(b);
}

static int batch_main(const struct vpnscope_config *cfg, FILE *out)
{
    struct batch b;
    memset(&b, 0, sizeof(b));
    b.cfg = cfg;
    b.out = out;
    char err[VPNSCOPE_ERRBUF_SIZE * 4] = "";
    signal(SIGPIPE, SIG_IGN);
    if (collect(cfg, &b.paths, err, sizeof(err)) != 0) {
        fprintf(stderr, "vpnscope: --batch: %s\n", err);
        for (size_t i = 0; i < b.paths.n; i++)
            free(b.paths.v[i]);
        free(b.paths.v);
        return 2;
    }
    size_t n = b.paths.n ? b.paths.n : 1;
    size_t shared = n * sizeof(*b.res);
    b.res = mmap(NULL, shared, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    b.rec = calloc(n, sizeof(*b.rec));
    b.done = calloc(n, sizeof(*b.done));
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    int jobs = cfg->jobs > 0 ? cfg->jobs : (cores > 0 && cores < 1024 ? (int)cores : 1);
    struct job *run = calloc((size_t)jobs, sizeof(*run));
    int rc = 2;
    if (b.res == MAP_FAILED || !b.rec || !b.done || !run) {
        fprintf(stderr, "vpnscope: --batch: out of memory\n");
    } else {
        if (!cfg->json)
            report_batch_header_text(out);
        run_all(&b, run, jobs);
        b.roll.skipped = b.paths.skipped;
        b.roll.kinds = b.kinds;
        if (cfg->json)
            report_rollup_json(out, &b.roll);
        else
            report_rollup_text(out, &b.roll);
        rc = b.roll.exit_status;
        if (b.paths.n == 0) {
            fprintf(stderr, "vpnscope: --batch: no capture found\n");
            rc = 2;
        }
        if (fflush(out) != 0 || ferror(out)) {
            fprintf(stderr, "vpnscope: error writing the report\n");
            rc = 2;
        }
    }
    if (b.res != MAP_FAILED && b.res)
        munmap(b.res, shared);
    free(run);
    free(b.rec);
    free(b.done);
    for (size_t i = 0; i < b.paths.n; i++)
        free(b.paths.v[i]);
    free(b.paths.v);
    return rc;
}

int batch_run(const struct vpnscope_config *cfg_in, FILE *out)
{
    /* nDPI's module takes most of the time of a small capture to set up: made once here, each
     * child analyses with its own copy (fork), as it would with a module of its own */
    struct vpnscope_config cfgc = *cfg_in;
    const struct vpnscope_config *cfg = &cfgc;
    char err[VPNSCOPE_ERRBUF_SIZE * 4] = "";
    if (!cfgc.no_ndpi && !cfgc.classifier &&
        !(cfgc.classifier = classify_new(cfgc.all_flows, err, sizeof(err)))) {
        fprintf(stderr, "vpnscope: %s\n", err);
        return 2;
    }
    int rc = batch_main(cfg, out);
    if (cfgc.classifier != cfg_in->classifier)
        classify_free(cfgc.classifier);
    return rc;
}
