/* pipeline.c - the one driver of every mode: opens the sources and one engine per capture point,
 * feeds them (source.c), runs detection over the models (one place builds struct detect_ctx),
 * finishes engines and correlator, and hands the result to the sinks (report, stream, dashboard
 * snapshot). */
#include "pipeline_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vpnscope/evidence.h"
#include "vpnscope/report.h"

struct pipeline *pipeline_open(const struct vpnscope_config *cfg, char *err, unsigned errlen)
{
    struct pipeline *p = calloc(1, sizeof(*p));
    if (!p) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    p->cfg = cfg;
    p->live = cfg->live;
    p->router = cfg->router != NULL;
    p->two = cfg->ninside > 0 || p->router || cfg->inside_if != NULL;
    p->n = p->two ? 2 : 1;
    p->nsrc = p->router ? 1 : p->n;
    p->paced = cfg->mode == MODE_DASHBOARD && !p->live;
    p->threads = cfg->threads > 0 ? cfg->threads : (int)sysconf(_SC_NPROCESSORS_ONLN);
    if (p->threads < 1)
        p->threads = 1;
    progress_init(&p->prog, cfg->mode == MODE_BATCH && !p->live && !cfg->no_progress &&
                                isatty(STDERR_FILENO));
    if (sources_open(p, err, errlen) != 0) {
        pipeline_close(p);
        return NULL;
    }
    struct engine_opts *eo = &p->eo;
    eo->no_ndpi = cfg->no_ndpi;
    eo->all_protocols = cfg->all_flows;
    eo->classifier = cfg->classifier;
    /* two capture points hold as many flows together as one capture does (memory goal of
     * two-capture mode; evictions are counted in the summary) */
    eo->flow_max = p->two ? FLOW_MAX / 2 : 0;
    eo->tables_share = p->two ? 2 : 1; /* and as many IKE/IPsec/PPTP/GRE/MTU/tunnel records */
    /* a report of two files on two threads: the side threads make their engines (the nDPI
     * modules) at the same time instead of this thread before them */
    p->eng_late = cfg->mode == MODE_BATCH && sides_wanted(p);
    for (int i = 0; i < p->n && !p->eng_late; i++) {
        if (engine_open(p, i, err, errlen) != 0) {
            pipeline_close(p);
            return NULL;
        }
    }
    return p;
}

int engine_open(struct pipeline *p, int i, char *err, unsigned errlen)
{
    uint8_t side = p->two ? (uint8_t)(SIDE_INSIDE + i)
                          : (p->cfg->side_given ? p->cfg->side : (uint8_t)SIDE_SINGLE);
    p->eng[i] = engine_new(side, &p->eo, err, errlen);
    if (!p->eng[i])
        return -1;
    if (p->cfg->mode != MODE_DASHBOARD) /* only the dashboard draws sparklines */
        session_spark_off(engine_model(p->eng[i]));
    else if (p->live) /* the dashboard's sparklines: the last minutes, not the whole life */
        session_spark_live(engine_model(p->eng[i]), SPARK_LIVE_WIDTH_US);
    return 0;
}

long pipeline_step(struct pipeline *p, double budget_ms, int *wait_ms)
{
    return sources_step(p, budget_ms, wait_ms);
}

void pipeline_stop_flag(struct pipeline *p, const volatile sig_atomic_t *flag)
{
    p->stop = flag;
}

void pipeline_interrupt(struct pipeline *p, int sig)
{
    if (!p->live)
        p->interrupted = sig;
}

bool pipeline_ended(const struct pipeline *p)
{
    return p->ended;
}

bool pipeline_failed(const struct pipeline *p)
{
    return p->failed;
}

const char *pipeline_message(const struct pipeline *p)
{
    return p->msg;
}

/* ---- detection ---- */

/* The NAT mappings so far (two capture points, before the end). */
static void nat_so_far(struct pipeline *p)
{
    if (!p->corr)
        return;
    size_t n = nat_corr_mappings(p->corr, NULL, 0);
    if (n > p->nat.cap_map) {
        struct nat_mapping *v = realloc(p->nat.map, n * sizeof(*v));
        if (v) {
            p->nat.map = v;
            p->nat.cap_map = n;
        }
    }
    p->nat.n_map = nat_corr_mappings(p->corr, p->nat.map, p->nat.cap_map);
    if (p->nat.n_map > p->nat.cap_map)
        p->nat.n_map = p->nat.cap_map;
}

void analysis_run(struct pipeline *p)
{
    finding_list_free(&p->fl);
    memset(&p->fl, 0, sizeof(p->fl));
    if (!p->finished) {
        if (p->two)
            nat_so_far(p);
        for (int i = 0; i < p->n; i++)
            session_finish(engine_model(p->eng[i])); /* pairs SAs so far (idempotent) */
    }
    struct detect_ctx dc;
    memset(&dc, 0, sizeof(dc));
    dc.to = p->cfg->to;
    dc.out = &p->fl;
    if (p->two) {
        dc.inside = engine_model(p->eng[0]);
        dc.outside = engine_model(p->eng[1]);
        dc.nat = &p->nat;
    } else {
        dc.single = engine_model(p->eng[0]);
    }
    detect_run(&dc);
}

const struct pipeline_snapshot *pipeline_analyze(struct pipeline *p)
{
    analysis_run(p);
    return pipeline_snapshot(p);
}

const struct pipeline_snapshot *pipeline_snapshot(struct pipeline *p)
{
    struct pipeline_snapshot *s = &p->snap;
    memset(s, 0, sizeof(*s));
    s->cfg = p->cfg;
    s->n = p->n;
    s->two = p->two;
    s->live = p->live;
    for (int i = 0; i < p->n; i++) {
        s->models[i] = engine_model_const(p->eng[i]);
        s->mem += engine_bytes(p->eng[i]);
        s->name[i] = p->name[i];
    }
    s->nat = &p->nat;
    s->findings = &p->fl;
    s->paused = p->paused;
    s->ended = p->ended;
    s->finished = p->finished;
    s->failed = p->failed;
    s->now_us = p->now_us;
    s->first_ts = p->first_ts;
    s->last_ts = p->last_ts;
    s->packets = p->packets;
    s->bytes = p->bytes;
    s->drops = p->drops;
    s->msg = p->msg[0] ? p->msg : p->nat.message;
    return s;
}

/* ---- end ---- */

int pipeline_finish(struct pipeline *p, char *err, unsigned errlen)
{
    if (p->finished)
        return 0;
    p->finished = true;
    sides_stop(p);
    pipeline_drops(p);
    for (int i = 0; i < 2; i++) {
        if (p->dump[i] && dump_close(p->dump[i], err, errlen) != 0) {
            p->dump[i] = NULL;
            if (p->failed && p->msg[0]) /* the write that failed first says what and where */
                snprintf(err, errlen, "%s", p->msg);
            return -1; /* the -w file is incomplete: the run failed */
        }
        p->dump[i] = NULL;
    }
    for (int i = 0; i < p->n; i++) {
        if (!p->eng[i] && engine_open(p, i, err, errlen) != 0)
            return -1; /* stopped before its side thread made it */
        if (!p->eng_finished[i])
            engine_finish(p->eng[i]);
        struct session_model *m = engine_model(p->eng[i]);
        if (!p->two && !p->cfg->side_given)
            m->side = SIDE_SINGLE;
    }
    int rc = 0;
    if (p->corr) {
        free(p->nat.map); /* the mappings so far */
        p->nat.map = NULL;
        p->nat.n_map = p->nat.cap_map = 0;
        if (nat_corr_finish(p->corr, &p->nat) != 0) {
            snprintf(err, errlen, "out of memory");
            rc = -1;
        }
    }
    if (p->two && !p->live && !p->router)
        clock_final_message(p);
    if (p->router) {
        p->nat.packets_inside = p->nside[0];
        p->nat.packets_outside = p->nside[1];
        p->nat.clock.valid = true;
        p->nat.clock.seconds = 0;
        p->nat.clock.drift_ppm = 0;
        p->nat.clock.evidence_packets = p->nat.matched_packets;
    }
    for (int i = 0; i < p->nsrc; i++)
        if (p->pw[i])
            pieces_watch_finish(p->pw[i], p->cfg->mode == MODE_DASHBOARD);
    /* the result holds copies: the correlator's tables go before detection and the report */
    nat_corr_free(p->corr);
    p->corr = NULL;
    analysis_run(p);
    return rc;
}

void pipeline_take_nat(struct pipeline *p, struct nat_result *out)
{
    *out = p->nat;
    memset(&p->nat, 0, sizeof(p->nat));
}

int pipeline_run_all(struct pipeline *p, char *err, unsigned errlen)
{
    int wait;
    while (!p->ended)
        sources_step(p, -1.0, &wait);
    if (p->failed) {
        snprintf(err, errlen, "%s", p->msg);
        return -1;
    }
    return pipeline_finish(p, err, errlen);
}

/* Live: the -w files, which hold every captured packet in order (the kernel filters), so that
 * frame N is the file's Nth packet; NULL with rotation (-C/-G) or -w - (standard output). */
static bool live_written(struct pipeline *p)
{
    const struct vpnscope_config *c = p->cfg;
    if (!c->write_path || !strcmp(c->write_path, "-") || c->rotate_bytes || c->rotate_secs)
        return false;
    static const char *const suffix[2] = {"inside", "outside"};
    for (int i = 0; i < p->nsrc && i < 2; i++) { /* the names source.c gives the -w files */
        if (p->nsrc == 1)
            snprintf(p->wpath[i], sizeof(p->wpath[i]), "%s", c->write_path);
        else
            snprintf(p->wpath[i], sizeof(p->wpath[i]), "%s-%s.pcap", c->write_path, suffix[i]);
        p->wlist[i][0] = p->wpath[i];
        p->wlist[i][1] = NULL;
    }
    return true;
}

bool pipeline_evidence_inputs(struct pipeline *p, struct evidence_inputs *ei, char *err,
                              unsigned errlen)
{
    memset(ei, 0, sizeof(*ei));
    ei->n = p->n;
    ei->same_file = p->router;
    ei->captures[0] = p->captures[0];
    ei->captures[1] = p->captures[1];
    ei->clock = p->two && !p->router && !p->live ? &p->clk : NULL;
    for (int i = 0; i < 2; i++)
        ei->pieces[i] = pieces_watch_result(p->pw[i]);
    if (p->live && live_written(p)) {
        ei->captures[0] = p->wlist[0];
        ei->captures[1] = p->nsrc > 1 ? p->wlist[1] : NULL;
        return true;
    }
    if (p->live) {
        snprintf(err, errlen,
                 "live capture: the packets are not kept to be read again (record them with -w "
                 "FILE, without -C/-G)");
        return false;
    }
    for (int i = 0; i < 2; i++)
        for (size_t k = 0; p->captures[i] && p->captures[i][k]; k++)
            if (strcmp(p->captures[i][k], "-") == 0) {
                snprintf(err, errlen,
                         "standard input cannot be read again: save the capture "
                         "to a file");
                return false;
            }
    return true;
}

/* --export DIR and --html FILE after the report. 0, or 2 with one line on stderr. */
static int evidence_outputs(struct pipeline *p, const struct report_input *ri)
{
    const struct vpnscope_config *c = p->cfg;
    struct evidence_inputs ei;
    char err[VPNSCOPE_ERRBUF_SIZE * 2];
    pipeline_evidence_inputs(p, &ei, err, sizeof(err));
    int rc = 0;
    if (c->export_dir && evidence_export(c->export_dir, &p->fl, &ei, err, sizeof(err)) != 0) {
        fprintf(stderr, "vpnscope: %s\n", err);
        rc = 2;
    }
    if (c->html_path) {
        FILE *h = fopen(c->html_path, "w");
        if (!h) {
            fprintf(stderr, "vpnscope: --html: %s: cannot create it\n", c->html_path);
            return 2;
        }
        int bad = report_html(h, ri) != 0;
        if (fclose(h) != 0 || bad) {
            fprintf(stderr, "vpnscope: --html: write to %s failed\n", c->html_path);
            rc = 2;
        }
    }
    return rc;
}

/* Saved captures that stopped being readable: into the report input (st holds the strings). */
static bool input_cut(const struct pipeline *p, struct report_input *ri, struct cap_status st[2])
{
    bool any = false;
    for (int i = 0; i < p->nsrc && i < 2; i++) {
        if (p->live || !p->src[i] || !cap_input_status(p->src[i], &st[i]))
            continue;
        int m = p->router ? 0 : i; /* --router: one file feeds both capture points */
        ri->cut[m].cut = true;
        ri->cut[m].path = st[i].path;
        ri->cut[m].offset = st[i].offset;
        ri->cut[m].records = st[i].records;
        ri->cut[m].what = st[i].message;
        any = true;
    }
    return any;
}

void pipeline_report_input(const struct pipeline *p, struct report_input *ri_out)
{
    struct report_input ri;
    memset(&ri, 0, sizeof(ri));
    ri.n_models = (uint8_t)p->n;
    for (int i = 0; i < p->n; i++) {
        ri.models[i] = engine_model_const(p->eng[i]);
        ri.captures[i] = p->captures[i];
    }
    ri.nat = p->two ? &p->nat : NULL;
    ri.findings = &p->fl;
    ri.all_flows = p->cfg->all_flows;
    ri.live = p->live;
    ri.kernel_drops = p->drops;
    ri.side_given = p->cfg->side_given;
    ri.file = p->cfg->record_file;
    ri.min_severity = p->cfg->min_severity;
    for (int i = 0; i < p->nsrc && i < 2 && !p->router; i++)
        ri.pieces[i] = pieces_watch_result(p->pw[i]);
    ri.threads = (unsigned)p->threads;
    *ri_out = ri;
}

/* The report (or its summary only), --export/--html, and the exit status. */
static int report_out(struct pipeline *p, FILE *out, bool summary_only)
{
    /* the exit status says what the capture shows, whatever --min-severity hides */
    int rc = finding_list_max_severity(&p->fl) >= SEV_WARNING ? 1 : 0;
    finding_list_group(&p->fl);
    size_t hidden = 0;
    if (p->cfg->min_severity > SEV_INFO)
        hidden = finding_list_min_severity(&p->fl, p->cfg->min_severity);
    struct report_input ri;
    pipeline_report_input(p, &ri);
    ri.findings_hidden = hidden;
    ri.split_unproven = router_split_unproven(p);
    struct cap_status st[2];
    bool cut = input_cut(p, &ri, st);
    ri.interrupted = p->interrupted;
    if ((cut || ri.split_unproven || ri.interrupted) && rc == 0)
        rc = 2; /* the report covers part of the file: never a clean bill (README "Exit status") */
    for (int i = 0; i < p->n && i < p->nsrc; i++)
        ri.clock_steps[i] = &p->cs[i];
    errno = 0;
    /* one lock for the whole report: once threads have run, stdio locks every character */
    flockfile(out);
    if (p->cfg->json)
        (summary_only ? report_json_summary : report_json)(out, &ri);
    else
        (summary_only ? report_text_summary : report_text)(out, &ri);
    funlockfile(out);
    int w = pipeline_output_status(out, "the report");
    if (w)
        return w;
    if (evidence_outputs(p, &ri) != 0)
        rc = 2;
    return rc;
}

int pipeline_output_status(FILE *out, const char *what)
{
    int e0 = errno; /* the callers clear errno before writing: the failed write's cause */
    errno = 0;
    int rc = fflush(out);
    int e = rc != 0 && errno ? errno : e0;
    if (rc == 0 && !ferror(out))
        return 0;
    if (e == EPIPE)
        return VPNSCOPE_EXIT_PIPE; /* the reader went away: quiet, as other filters */
    fprintf(stderr, "vpnscope: writing %s to %s: %s\n", what, out == stdout ? "stdout" : "a file",
            e ? strerror(e) : "write error");
    return 2;
}

int pipeline_report(struct pipeline *p, FILE *out)
{
    return report_out(p, out, false);
}

int pipeline_report_summary(struct pipeline *p, FILE *out)
{
    return report_out(p, out, true);
}

void pipeline_close(struct pipeline *p)
{
    if (!p)
        return;
    sides_free(p); /* before the engines and sources its threads use */
    for (int i = 0; i < 2; i++) {
        cap_close(p->src[i]);
        engine_free(p->eng[i]);
        clockstep_free(&p->cs[i]);
        pieces_watch_free(p->pw[i]);
        char eb[VPNSCOPE_ERRBUF_SIZE * 2];
        /* after a failed write the failure was already said once */
        if (p->dump[i] && dump_close(p->dump[i], eb, sizeof(eb)) != 0 && !p->failed)
            fprintf(stderr, "vpnscope: %s\n", eb);
    }
    nat_corr_free(p->corr);
    nat_result_free(&p->nat);
    finding_list_free(&p->fl);
    router_split_free(p->split);
    free(p->scratch);
    free(p);
}

void pipeline_show_progress(struct pipeline *p, bool end)
{
    if (end) {
        progress_end(&p->prog);
        return;
    }
    uint64_t done = 0, total = 0;
    for (int i = 0; i < p->nsrc; i++) {
        if (!p->src[i])
            continue;
        if (p->sides) { /* the side threads own the sources */
            uint64_t t = 0;
            done += sides_bytes(p, i, &t);
            total += t;
            continue;
        }
        done += cap_bytes_read(p->src[i]);
        total += cap_total_bytes(p->src[i]);
    }
    progress_show(&p->prog, p->two && !p->live ? "pass 2/2 (analysis):" : "reading:", done, total,
                  p->packets);
}
