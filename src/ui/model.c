/* model.c - what the dashboard shows, copied out of the engines (htop Machine_scan): the
 * snapshot of counters, tunnels, NAT mappings and findings that the views draw, from the
 * pipeline's snapshot (the pipeline runs the detectors). The views never read an engine.
 * Limitations: with two capture points the tunnels come from the inside model; the outside model
 * adds only IKE SAs, ESP/AH SAs and PPTP calls that the inside capture does not show. */
#include "model_int.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <ctype.h>

#include "vpnscope/proto.h"
#include "vpnscope/report.h"
#include "vpnscope/table.h"

/* ---- detail lines of the selected tunnel are formatted by view_detail from these fields ---- */

static int cmp_prev(const void *a, const void *b)
{
    const struct ui_prev *x = a, *y = b;
    return x->id < y->id ? -1 : x->id > y->id;
}

static int cmp_find(const void *a, const void *b)
{
    const struct finding *x = a, *y = b;
    if (x->sev != y->sev)
        return x->sev > y->sev ? -1 : 1;
    if (x->ts_us != y->ts_us)
        return x->ts_us < y->ts_us ? -1 : 1;
    return (int)x->kind - (int)y->kind;
}

/* Header counters and the status line. */
static void model_header(struct ui_model *m, const struct pipeline_snapshot *f, double wall)
{
    m->live = f->live;
    m->two = f->two;
    m->ended = f->ended;
    m->paused = f->paused;
    m->failed = f->failed;
    m->speed = f->cfg->speed;
    if (f->two)
        snprintf(m->sources, sizeof(m->sources), "inside %s | outside %s", f->name[0], f->name[1]);
    else
        snprintf(m->sources, sizeof(m->sources), "%s", f->name[0]);
    if (f->nat->message[0] && f->msg != f->nat->message)
        snprintf(m->status, sizeof(m->status), "%.280s; %.300s", f->msg, f->nat->message);
    else
        snprintf(m->status, sizeof(m->status), "%s", f->msg);
    m->now_us = f->now_us;
    m->first_ts = f->first_ts;
    m->packets = f->packets;
    m->bytes = f->bytes;
    m->drops = f->drops;
    m->mem = f->mem;
    if (m->prev_wall > 0) {
        /* live: per wall second; replay: per second of packet time */
        double dt = f->live ? wall - m->prev_wall : (double)(f->now_us - m->prev_now) / 1e6;
        if (dt > 0) {
            m->pps = (double)(f->packets - m->prev_packets) / dt;
            m->bps = (double)(f->bytes - m->prev_bytes) / dt;
        }
    }
}

/* Findings, most severe first, and the rows they name (marked, coloured). */
static void model_findings(struct ui_model *m, const struct builder *b)
{
    const struct finding_list *fl = b->f->findings;
    memset(m->nfind, 0, sizeof(m->nfind));
    size_t nf = fl->n < UI_MAX_FINDINGS ? fl->n : UI_MAX_FINDINGS;
    if (nf) {
        struct finding *v = realloc(m->find, nf * sizeof(*v));
        if (v) {
            m->find = v;
            memcpy(m->find, fl->v, nf * sizeof(*v));
            qsort(m->find, nf, sizeof(*v), cmp_find);
        } else {
            nf = 0;
        }
    }
    m->n_find = nf;
    for (size_t i = 0; i < fl->n; i++)
        if (fl->v[i].sev <= SEV_ERROR)
            m->nfind[fl->v[i].sev]++;
    for (size_t k = 0; k < nf; k++) {
        const struct finding *fd = &m->find[k];
        for (unsigned s = 0; s < fd->n_sessions && s < FINDING_MAX_SESSIONS; s++) {
            if (fd->sessions[s].role != ROLE_CLIENT)
                continue;
            for (size_t i = 0; i < m->n_tun; i++) {
                if (!ip_addr_eq(&b->ref[i].cip, &fd->sessions[s].ip) &&
                    !ip_addr_eq(&b->ref[i].sip, &fd->sessions[s].ip))
                    continue;
                struct ui_tunnel *t = &m->tun[i];
                t->nfind++;
                if (fd->sev > t->max_sev)
                    t->max_sev = fd->sev;
                if (fd->sev == SEV_ERROR)
                    t->color = UI_ALERT;
                else if (fd->sev == SEV_WARNING && t->color == UI_OK)
                    t->color = UI_WARN;
            }
        }
    }
}

/* Rates per tunnel against the previous snapshot, then this snapshot becomes the previous one. */
static void model_rates(struct ui_model *m, const struct pipeline_snapshot *f, double wall)
{
    double dt = f->live ? wall - m->prev_wall : (double)(f->now_us - m->prev_now) / 1e6;
    for (size_t i = 0; i < m->n_tun && m->prev && dt > 0; i++) {
        struct ui_prev key = {.id = m->tun[i].id};
        const struct ui_prev *p = bsearch(&key, m->prev, m->n_prev, sizeof(key), cmp_prev);
        for (int d = 0; d < 2; d++) {
            uint64_t before = p ? p->pkts[d] : 0;
            m->tun[i].rate[d] =
                m->tun[i].pkts[d] >= before ? (double)(m->tun[i].pkts[d] - before) / dt : 0;
        }
    }
    if (dt > 0 || !m->prev) {
        struct ui_prev *np = realloc(m->prev, (m->n_tun ? m->n_tun : 1) * sizeof(*np));
        if (np) {
            m->prev = np;
            for (size_t i = 0; i < m->n_tun; i++) {
                np[i].id = m->tun[i].id;
                np[i].pkts[0] = m->tun[i].pkts[0];
                np[i].pkts[1] = m->tun[i].pkts[1];
            }
            m->n_prev = m->n_tun;
            qsort(m->prev, m->n_prev, sizeof(*np), cmp_prev);
        }
        m->prev_now = f->now_us;
        m->prev_packets = f->packets;
        m->prev_bytes = f->bytes;
        m->prev_wall = wall;
    }
}

void ui_model_update(struct ui_model *m, const struct pipeline_snapshot *f)
{
    struct builder b;
    memset(&b, 0, sizeof(b));
    b.m = m;
    b.f = f;
    b.to = &f->cfg->to;
    /* rebuild the tunnel array: row_new grows it */
    free(m->tun);
    m->tun = NULL;
    m->n_tun = 0;
    double wall = pipeline_mono();
    model_header(m, f, wall);
    ui_rows_tunnels(&b);
    model_findings(m, &b);
    free(b.ref);
    ui_rows_nat(&b);
    model_rates(m, f, wall);
}

void ui_model_free(struct ui_model *m)
{
    free(m->tun);
    free(m->nat);
    free(m->find);
    free(m->prev);
    memset(m, 0, sizeof(*m));
}
