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

static int cmp_find_ptr(const void *a, const void *b)
{
    return cmp_find(*(const struct finding *const *)a, *(const struct finding *const *)b);
}

/* How well row i matches session s of a finding (0: not at all): the address, then the endpoint
 * (inside or outside identity) and the SPI. */
static int row_score(const struct builder *b, size_t i, const struct finding_session *s)
{
    const struct ui_tunnel *t = &b->m->tun[i];
    if (!ip_addr_eq(&b->ref[i].cip, &s->ip) && !ip_addr_eq(&b->ref[i].sip, &s->ip))
        return 0;
    int sc = 1;
    char ep[80], spi[16];
    if (s->has_port) {
        ui_ep_str(&s->ip, s->port, ep, sizeof(ep));
        if (!strcmp(ep, t->client) || !strcmp(ep, t->server))
            sc += 2;
    }
    if (s->has_outside) {
        ui_ep_str(&s->out_ip, s->has_out_port ? s->out_port : 0, ep, sizeof(ep));
        if (t->client_out[0] && !strncmp(ep, t->client_out, strlen(ep)))
            sc += 1;
    }
    if (s->has_spi) {
        snprintf(spi, sizeof(spi), "0x%08x", s->spi);
        if (ui_ci_has(t->ids, spi))
            sc += 2;
    }
    return sc;
}

/* The rows finding fd names: the best row of each of its client sessions (of any session when
 * no client matches), the first one and how many distinct rows. Marks and colours them. */
static void finding_rows(struct ui_model *m, const struct builder *b, const struct finding *fd,
                         struct ui_findref *fr)
{
    uint64_t seen[FINDING_MAX_SESSIONS];
    unsigned nseen = 0;
    for (int pass = 0; pass < 2 && nseen == 0; pass++) {
        for (unsigned s = 0; s < fd->n_sessions && s < FINDING_MAX_SESSIONS; s++) {
            const struct finding_session *fs = &fd->sessions[s];
            if ((pass == 0) != (fs->role == ROLE_CLIENT))
                continue;
            size_t best = 0;
            int bsc = 0;
            for (size_t i = 0; i < m->n_tun; i++) {
                int sc = row_score(b, i, fs);
                if (sc > bsc) {
                    bsc = sc;
                    best = i;
                }
                if (sc && pass == 0) { /* every row of a named client is marked */
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
            if (!bsc)
                continue;
            unsigned k = 0;
            while (k < nseen && seen[k] != m->tun[best].id)
                k++;
            if (k == nseen)
                seen[nseen++] = m->tun[best].id;
        }
    }
    fr->tun_id = nseen ? seen[0] : 0;
    fr->n_tun = nseen;
}

/* Findings, most severe first, and the rows they name (marked, coloured). */
static void model_findings(struct ui_model *m, const struct builder *b)
{
    const struct finding_list *fl = b->f->findings;
    memset(m->nfind, 0, sizeof(m->nfind));
    size_t nf = fl->n < UI_MAX_FINDINGS ? fl->n : UI_MAX_FINDINGS;
    const struct finding **pp = nf ? malloc(nf * sizeof(*pp)) : NULL;
    if (nf) {
        struct finding *v = realloc(m->find, nf * sizeof(*v));
        struct ui_findref *r = realloc(m->fref, nf * sizeof(*r));
        if (v)
            m->find = v;
        if (r)
            m->fref = r;
        if (!v || !r || !pp)
            nf = 0;
    }
    for (size_t i = 0; i < nf; i++)
        pp[i] = &fl->v[i];
    if (nf)
        qsort(pp, nf, sizeof(*pp), cmp_find_ptr);
    for (size_t k = 0; k < nf; k++) {
        m->find[k] = *pp[k];
        memset(&m->fref[k], 0, sizeof(m->fref[k]));
        m->fref[k].pos = (size_t)(pp[k] - fl->v);
    }
    free(pp);
    m->n_find = nf;
    for (size_t i = 0; i < fl->n; i++)
        if (fl->v[i].sev <= SEV_ERROR)
            m->nfind[fl->v[i].sev]++;
    for (size_t k = 0; k < nf; k++)
        finding_rows(m, b, &m->find[k], &m->fref[k]);
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
    ui_spark_range(m, f);
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
    free(m->fref);
    free(m->prev);
    memset(m, 0, sizeof(*m));
}
