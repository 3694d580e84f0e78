/* model_order.c - the visible order of the current view: filter (case-insensitive substring over
 * the row's columns), then sort by the view's column. */
#include "ui_int.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <ctype.h>

#include "vpnscope/proto.h"
#include "vpnscope/report.h"
#include "vpnscope/table.h"

/* ---- ordering: filter + sort of the current view ---- */

static const char *const sort_names[VIEW__COUNT][SORT__COUNT + 1] = {
    {"last seen", "client", "server", "protocol", "packets", "rate", "idle", NULL},
    {"last seen", "inside", "outside", "peer", "protocol", "packets", NULL},
    {"severity", "time", "kind", NULL},
    {NULL},
};

const char *ui_sort_name(int view, int col)
{
    if (view < 0 || view >= VIEW__COUNT || col < 0 || col >= ui_sort_count(view))
        return NULL;
    return sort_names[view][col];
}

int ui_sort_count(int view)
{
    int n = 0;
    if (view < 0 || view >= VIEW__COUNT)
        return 0;
    while (n < SORT__COUNT && sort_names[view][n])
        n++;
    return n;
}

static bool has_ci(const char *hay, const char *needle)
{
    return ui_ci_has(hay, needle);
}

bool ui_row_matches(const struct ui_model *m, int view, size_t i, const char *text)
{
    if (!text || !text[0])
        return true;
    if (view == VIEW_TUNNELS && i < m->n_tun) {
        const struct ui_tunnel *t = &m->tun[i];
        if (has_ci(t->client, text) || has_ci(t->client_out, text) || has_ci(t->server, text) ||
            has_ci(t->proto, text) || has_ci(t->ids, text) || has_ci(t->state, text))
            return true;
        for (unsigned c = 0; c < t->nchild; c++)
            if (has_ci(t->child[c], text))
                return true;
        return false;
    }
    if (view == VIEW_NAT && i < m->n_nat) {
        const struct ui_natrow *r = &m->nat[i];
        return has_ci(r->proto, text) || has_ci(r->inside, text) || has_ci(r->outside, text) ||
               has_ci(r->peer, text) || has_ci(r->evidence, text);
    }
    if (view == VIEW_FINDINGS && i < m->n_find) {
        const struct finding *fd = &m->find[i];
        return has_ci(finding_kind_name(fd->kind), text) || has_ci(severity_name(fd->sev), text) ||
               has_ci(fd->summary, text);
    }
    return false;
}

/* qsort context (single-threaded UI) */
static const struct ui_model *g_sort_m;
static int g_sort_col;
static bool g_sort_desc;

static int cmp_u64(uint64_t a, uint64_t b)
{
    return a < b ? -1 : a > b;
}

static int cmp_tun(const void *pa, const void *pb)
{
    const struct ui_tunnel *a = &g_sort_m->tun[*(const size_t *)pa],
                           *b = &g_sort_m->tun[*(const size_t *)pb];
    int c = 0;
    switch (g_sort_col) {
    case SORT_CLIENT:
        c = strcmp(a->client, b->client);
        break;
    case SORT_SERVER:
        c = strcmp(a->server, b->server);
        break;
    case SORT_PROTO:
        c = strcmp(a->proto, b->proto);
        break;
    case SORT_PKTS:
        c = cmp_u64(a->pkts[0] + a->pkts[1], b->pkts[0] + b->pkts[1]);
        break;
    case SORT_RATE: {
        double x = a->rate[0] + a->rate[1], y = b->rate[0] + b->rate[1];
        c = x < y ? -1 : x > y;
        break;
    }
    case SORT_IDLE:
        c = cmp_u64(b->last_ts, a->last_ts);
        break;
    default:
        c = cmp_u64(a->last_ts, b->last_ts);
        break;
    }
    if (c == 0)
        c = cmp_u64(a->id, b->id);
    return g_sort_desc ? -c : c;
}

static int cmp_nat(const void *pa, const void *pb)
{
    const struct ui_natrow *a = &g_sort_m->nat[*(const size_t *)pa],
                           *b = &g_sort_m->nat[*(const size_t *)pb];
    int c = 0;
    switch (g_sort_col) {
    case 1:
        c = strcmp(a->inside, b->inside);
        break;
    case 2:
        c = strcmp(a->outside, b->outside);
        break;
    case 3:
        c = strcmp(a->peer, b->peer);
        break;
    case 4:
        c = strcmp(a->proto, b->proto);
        break;
    case 5:
        c = cmp_u64(a->tp_in + a->fp_in, b->tp_in + b->fp_in);
        break;
    default:
        c = cmp_u64(a->last_ts, b->last_ts);
        break;
    }
    if (c == 0)
        c = cmp_u64(a->id, b->id);
    return g_sort_desc ? -c : c;
}

static int cmp_fnd(const void *pa, const void *pb)
{
    size_t ia = *(const size_t *)pa, ib = *(const size_t *)pb;
    const struct finding *a = &g_sort_m->find[ia], *b = &g_sort_m->find[ib];
    int c = 0;
    switch (g_sort_col) {
    case 1:
        c = cmp_u64(a->ts_us, b->ts_us);
        break;
    case 2:
        c = strcmp(finding_kind_name(a->kind), finding_kind_name(b->kind));
        break;
    default:
        c = (int)a->sev - (int)b->sev;
        break;
    }
    if (c == 0)
        c = ia < ib ? 1 : ia > ib ? -1 : 0; /* model order (most severe first) */
    return g_sort_desc ? -c : c;
}

void ui_order(struct ui_state *st, const struct ui_model *m)
{
    size_t n = st->view == VIEW_TUNNELS    ? m->n_tun
               : st->view == VIEW_NAT      ? m->n_nat
               : st->view == VIEW_FINDINGS ? m->n_find
                                           : 0;
    if (n > st->cap_order) {
        size_t *v = realloc(st->order, n * sizeof(*v));
        if (!v)
            return;
        st->order = v;
        st->cap_order = n;
    }
    st->n_order = 0;
    for (size_t i = 0; i < n; i++)
        if (ui_row_matches(m, st->view, i, st->filter))
            st->order[st->n_order++] = i;
    g_sort_m = m;
    g_sort_col = st->sort[st->view];
    g_sort_desc = st->sort_desc[st->view];
    if (st->n_order < 2) /* nothing to sort (order is NULL before the first row) */
        return;
    if (st->view == VIEW_TUNNELS)
        qsort(st->order, st->n_order, sizeof(size_t), cmp_tun);
    else if (st->view == VIEW_NAT)
        qsort(st->order, st->n_order, sizeof(size_t), cmp_nat);
    else if (st->view == VIEW_FINDINGS)
        qsort(st->order, st->n_order, sizeof(size_t), cmp_fnd);
}
