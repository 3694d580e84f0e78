/* json.c - JSON Lines sink (doc/json-schema.md): one object per line, every object with "type",
 * records by ts, findings before the summary, the summary last. The records are written in
 * parallel chunks (output byte-identical whatever the thread count); their fields are in
 * json_sessions.c, json_tunnels.c, json_nat.c, json_findings.c and json_summary.c. Also the
 * batch lines (capture_summary, rollup). */
#include "vpnscope/report.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "json_int.h"
#include "jsonw.h"
#include "report_int.h"

static void print_rec(FILE *out, const struct report_input *in, const struct rep_rec *r)
{
    struct jw w;
    const struct session_model *m = in->models[r->model];
    jw_begin_record(&w, out, rep_type_name(r->type));
    if (in->file)
        jw_str(&w, "file", in->file);
    switch (r->type) {
    case REC_IKE_SA:
        rep_json_ike(&w, m, r->p);
        break;
    case REC_ESP_SA:
    case REC_AH_SA:
        rep_json_ipsec(&w, m, r->p);
        break;
    case REC_PPTP_CALL:
        rep_json_pptp_call(&w, m, r->p, r->sub);
        break;
    case REC_PPTP_CTRL:
        rep_json_pptp_ctrl(&w, m, r->p);
        break;
    case REC_GRE:
        rep_json_gre(&w, m, r->p);
        break;
    case REC_L2TP:
        rep_json_l2tp(&w, m, r->p);
        break;
    case REC_FLOW:
        rep_json_flow(&w, m, r->p);
        break;
    case REC_NAT_MAPPING:
        rep_json_nat_mapping_fields(&w, r->p, true);
        break;
    case REC_UNMATCHED:
        rep_json_unmatched(&w, in->nat, r->p, in->pieces);
        break;
    case REC_CLOCK_OFFSET:
        rep_json_clock(&w, r->p);
        break;
    case REC_FINDING:
        rep_json_finding(&w, r->p, in->pieces);
        break;
    case REC_WG_SESSION:
        rep_json_wg(&w, m, r->p);
        break;
    case REC_OVPN_SESSION:
        rep_json_ovpn(&w, m, r->p);
        break;
    default:
        break;
    }
    jw_end_record(&w);
}

void report_json_summary(FILE *out, const struct report_input *in)
{
    struct jw w;
    jw_begin_record(&w, out, "summary");
    if (in->file)
        jw_str(&w, "file", in->file);
    rep_json_summary(&w, in);
    jw_end_record(&w);
}

/* Records formatted in parallel: each round, up to JSON_CHUNK records per thread go to a memory
 * stream of their own, then the streams are written in record order (the output is the one
 * thread's, byte for byte: a record's text depends only on the record). A grouped finding (one
 * session per member: its line can be a megabyte) is written by this thread directly, between
 * rounds, so that no stream holds it. */
#define JSON_CHUNK 128u
#define JSON_MAX_THREADS 16u

struct fmt_job {
    const struct report_input *in;
    const struct rep_list *l;
    size_t from, n;
    char *buf;
    size_t len;
    bool ok;
};

static void *fmt_chunk(void *arg)
{
    struct fmt_job *j = arg;
    FILE *f = open_memstream(&j->buf, &j->len);
    j->ok = f != NULL;
    if (!f)
        return NULL;
    for (size_t i = j->from; i < j->from + j->n; i++) {
        struct rep_rec r;
        print_rec(f, j->in, rep_get(j->l, i, &r));
    }
    if (fclose(f) != 0)
        j->ok = false;
    return NULL;
}

/* Whether record i is a grouped finding (more sessions than a finding lists inline). */
static bool big_rec(const struct rep_list *l, size_t i)
{
    struct rep_rec r;
    if (l->v[i].type != REC_FINDING)
        return false;
    const struct finding *f = rep_get(l, i, &r)->p;
    return f && f->n_more_sessions > 0;
}

static void print_recs(FILE *out, const struct report_input *in, const struct rep_list *l)
{
    unsigned nt = in->threads < JSON_MAX_THREADS ? in->threads : JSON_MAX_THREADS;
    struct rep_rec r;
    if (nt < 2 || l->n < 2 * JSON_CHUNK) {
        for (size_t i = 0; i < l->n; i++)
            print_rec(out, in, rep_get(l, i, &r));
        return;
    }
    struct fmt_job job[JSON_MAX_THREADS];
    pthread_t th[JSON_MAX_THREADS];
    bool started[JSON_MAX_THREADS];
    for (size_t at = 0; at < l->n;) {
        if (big_rec(l, at)) {
            print_rec(out, in, rep_get(l, at++, &r));
            continue;
        }
        unsigned k = 0;
        for (; k < nt && at < l->n && !big_rec(l, at); k++) {
            size_t n = 1;
            while (n < JSON_CHUNK && at + n < l->n && !big_rec(l, at + n))
                n++;
            job[k] = (struct fmt_job){in, l, at, n, NULL, 0, false};
            /* the first chunk on this thread, the others on their own */
            started[k] = k > 0 && pthread_create(&th[k], NULL, fmt_chunk, &job[k]) == 0;
            at += n;
        }
        fmt_chunk(&job[0]);
        for (unsigned t = 0; t < k; t++) {
            if (started[t])
                pthread_join(th[t], NULL);
            else if (t > 0)
                fmt_chunk(&job[t]);
            if (job[t].ok) {
                fwrite(job[t].buf, 1, job[t].len, out);
            } else { /* no memory for the stream: written directly */
                for (size_t i = job[t].from; i < job[t].from + job[t].n; i++)
                    print_rec(out, in, rep_get(l, i, &r));
            }
            free(job[t].buf);
        }
    }
}

void report_json(FILE *out, const struct report_input *in)
{
    struct rep_list l;
    rep_build(&l, in); /* on OOM the partial list is still printed */
    print_recs(out, in, &l);
    rep_list_free(&l);
    report_json_summary(out, in);
}

size_t report_tunnels(const struct report_input *in)
{
    struct rep_list l;
    rep_build(&l, in);
    size_t n = 0;
    for (size_t i = 0; i < l.n; i++)
        n += l.v[i].type <= REC_L2TP ? 1 : 0; /* the session record types come first */
    rep_list_free(&l);
    return n;
}

/* {kind: count} of the kinds that were found, in enum order. */
static void jw_kinds(struct jw *w, const uint32_t *k32, const uint64_t *k64)
{
    jw_obj(w, "findings");
    for (unsigned k = 0; k < FINDING__COUNT; k++) {
        uint64_t v = k32 ? k32[k] : k64[k];
        if (v)
            jw_u64(w, finding_kind_name(k), v);
    }
    jw_obj_end(w);
}

void report_capture_summary_json(FILE *out, const struct batch_capture *c)
{
    struct jw w;
    jw_begin_record(&w, out, "capture_summary");
    jw_str(&w, "file", c->file);
    jw_u64(&w, "packets", c->packets);
    jw_u64(&w, "tunnels", c->tunnels);
    jw_kinds(&w, c->kinds, NULL);
    jw_u64(&w, "exit_status", (uint64_t)c->exit_status);
    jw_str(&w, "error", c->error && c->error[0] ? c->error : NULL);
    jw_str(&w, "warning", c->warning && c->warning[0] ? c->warning : NULL);
    jw_end_record(&w);
}

void report_rollup_json(FILE *out, const struct batch_rollup *r)
{
    struct jw w;
    jw_begin_record(&w, out, "rollup");
    jw_u64(&w, "captures", r->captures);
    jw_u64(&w, "failed", r->failed);
    jw_u64(&w, "skipped", r->skipped);
    jw_u64(&w, "packets", r->packets);
    jw_u64(&w, "tunnels", r->tunnels);
    jw_kinds(&w, NULL, r->kinds);
    jw_u64(&w, "exit_status", (uint64_t)r->exit_status);
    jw_end_record(&w);
}
