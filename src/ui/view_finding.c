/* view_finding.c - one finding opened from the Findings view (Enter): cause, sessions, evidence
 * and frames, the Wireshark display filter per capture, remedy. Every line is word-wrapped to the
 * terminal width (nothing is cut at 80x24) and the whole text scrolls: j/k Up/Down, PgUp/PgDn,
 * Home/End, with a "line x/y" indicator on the last row. */
#include "ui_int.h"

#include <curses.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vpnscope/evidence.h"
#include "vpnscope/report.h"

/* One screen line of the text: column, attribute, text (owned). */
struct vline {
    int x;
    int attr;
    char *s;
};

struct vlines {
    struct vline *v;
    int n, cap;
    int cols;
};

static void vl_add(struct vlines *L, int x, int attr, const char *s, size_t len)
{
    if (L->n == L->cap) {
        int nc = L->cap ? L->cap * 2 : 64;
        struct vline *v = realloc(L->v, (size_t)nc * sizeof(*v));
        if (!v)
            return;
        L->v = v;
        L->cap = nc;
    }
    char *c = malloc(len + 1);
    if (!c)
        return;
    for (size_t i = 0; i < len; i++) /* wire strings: control and non-ASCII bytes as '?' */
        c[i] = (unsigned char)s[i] < 0x20 || (unsigned char)s[i] >= 0x7f ? '?' : s[i];
    c[len] = 0;
    L->v[L->n].x = x;
    L->v[L->n].attr = attr;
    L->v[L->n].s = c;
    L->n++;
}

/* Word-wraps text: the first line at column x, the following ones at column x2. */
static void vl_wrap(struct vlines *L, int x, int x2, int attr, const char *text)
{
    const char *p = text;
    int col = x;
    do {
        int width = L->cols - col - 1;
        if (width < 8)
            width = 8;
        int len = (int)strlen(p);
        int take = len;
        if (take > width) {
            take = width;
            while (take > 0 && p[take] != ' ')
                take--;
            if (take == 0)
                take = width;
        }
        vl_add(L, col, attr, p, (size_t)take);
        p += take;
        while (*p == ' ')
            p++;
        col = x2;
    } while (*p);
}

static void vl_free(struct vlines *L)
{
    for (int i = 0; i < L->n; i++)
        free(L->v[i].s);
    free(L->v);
    memset(L, 0, sizeof(*L));
}

static int sev_color(uint8_t sev)
{
    return sev == SEV_ERROR ? UI_ALERT : sev == SEV_WARNING ? UI_WARN : UI_OK;
}

static void lines_sessions(struct vlines *L, const struct finding *f)
{
    char line[512], ip[64], op[64];
    if (!f->n_sessions)
        return;
    vl_add(L, 1, A_BOLD, "Sessions:", 9);
    for (unsigned i = 0; i < f->n_sessions && i < FINDING_MAX_SESSIONS; i++) {
        const struct finding_session *s = &f->sessions[i];
        int off = snprintf(line, sizeof(line), "%-7s %s", fs_role_name(s->role),
                           ip_addr_str(&s->ip, ip, sizeof(ip)));
        if (s->has_port)
            off += snprintf(line + off, sizeof(line) - (size_t)off, ":%u", s->port);
        if (s->has_outside)
            off += snprintf(line + off, sizeof(line) - (size_t)off, "  outside %s",
                            ip_addr_str(&s->out_ip, op, sizeof(op)));
        if (s->has_out_port)
            off += snprintf(line + off, sizeof(line) - (size_t)off, ":%u", s->out_port);
        if (s->has_spi)
            off += snprintf(line + off, sizeof(line) - (size_t)off, "  spi 0x%08x", s->spi);
        if (s->has_call_id)
            off += snprintf(line + off, sizeof(line) - (size_t)off, "  call %u", s->call_id);
        if (s->note[0])
            snprintf(line + off, sizeof(line) - (size_t)off, "  %s", s->note);
        vl_wrap(L, 3, 11, A_NORMAL, line);
    }
}

static const char *cap_name(uint8_t capture)
{
    return capture == SIDE_OUTSIDE ? "outside" : capture == SIDE_INSIDE ? "inside" : "";
}

static int cmp_frame(const void *pa, const void *pb)
{
    const struct frame_ref *a = pa, *b = pb;
    if (a->capture != b->capture)
        return a->capture < b->capture ? -1 : 1;
    return a->frame < b->frame ? -1 : a->frame > b->frame;
}

/* The listed frames by capture and number: "inside #5, #6; outside #6". */
static void lines_frames(struct vlines *L, const struct finding *f)
{
    char line[FINDING_MAX_FRAMES * 32 + 128];
    struct frame_ref fr[FINDING_MAX_FRAMES];
    unsigned n = f->n_frames < FINDING_MAX_FRAMES ? f->n_frames : FINDING_MAX_FRAMES;
    if (!n)
        return;
    memcpy(fr, f->frames, n * sizeof(fr[0]));
    qsort(fr, n, sizeof(fr[0]), cmp_frame);
    int off = snprintf(line, sizeof(line), "frames (%u listed of %u):", n,
                       (unsigned)(f->frames_total > n ? f->frames_total : n));
    for (unsigned i = 0; i < n && off < (int)sizeof(line) - 40; i++) {
        const char *c = cap_name(fr[i].capture);
        if (i == 0 || fr[i].capture != fr[i - 1].capture)
            off += snprintf(line + off, sizeof(line) - (size_t)off, "%s %s%s#%" PRIu64,
                            i ? ";" : "", c, c[0] ? " " : "", fr[i].frame);
        else
            off += snprintf(line + off, sizeof(line) - (size_t)off, ", #%" PRIu64, fr[i].frame);
    }
    vl_wrap(L, 3, 5, A_NORMAL, line);
}

static void lines_evidence(struct vlines *L, const struct finding *f)
{
    char line[512], t[40];
    if (!f->n_ev && !f->n_frames)
        return;
    vl_add(L, 1, A_BOLD, "Evidence:", 9);
    for (unsigned i = 0; i < f->n_ev && i < FINDING_MAX_EV; i++) {
        const struct finding_ev *e = &f->ev[i];
        switch (e->type) {
        case EV_INT:
            snprintf(line, sizeof(line), "%s: %" PRId64, e->key, e->i);
            break;
        case EV_STR:
            snprintf(line, sizeof(line), "%s: %s", e->key, e->s);
            break;
        case EV_TS:
            snprintf(line, sizeof(line), "%s: %s", e->key, ts_iso((uint64_t)e->i, t, sizeof(t)));
            break;
        case EV_SECONDS:
            snprintf(line, sizeof(line), "%s: %.3f s", e->key, e->d);
            break;
        case EV_BOOL:
            snprintf(line, sizeof(line), "%s: %s", e->key, e->i ? "yes" : "no");
            break;
        default:
            snprintf(line, sizeof(line), "%s", e->key);
            break;
        }
        vl_wrap(L, 3, 5, A_NORMAL, line);
    }
    lines_frames(L, f);
}

/* One Wireshark display filter per capture that holds listed frames. */
static void lines_filters(struct vlines *L, const struct finding *f)
{
    static const uint8_t caps[] = {SIDE_SINGLE, SIDE_INSIDE, SIDE_OUTSIDE};
    char buf[EVIDENCE_FILTER_MAX], head[64];
    for (unsigned c = 0; c < sizeof(caps); c++) {
        unsigned n = evidence_display_filter(f, caps[c], buf, sizeof(buf));
        if (!n)
            continue;
        int hl = snprintf(head, sizeof(head), "Wireshark filter%s%s%s (%u frame%s):",
                          caps[c] == SIDE_SINGLE ? "" : ", ", cap_name(caps[c]),
                          caps[c] == SIDE_SINGLE ? "" : " capture", n, n == 1 ? "" : "s");
        vl_add(L, 1, A_BOLD, head, (size_t)hl);
        vl_wrap(L, 3, 5, A_NORMAL, buf);
    }
}

/* The text of finding f, wrapped for cols columns. */
static void finding_lines(struct vlines *L, const struct finding *f, const struct ui_state *st)
{
    char line[256], t[40];
    int n = snprintf(line, sizeof(line), "[%s] %s (%s) at %s", severity_name(f->sev),
                     finding_kind_name(f->kind), f->confirmed ? "confirmed" : "suspected",
                     ts_iso(f->ts_us, t, sizeof(t)));
    for (char *p = line + 1; *p && *p != ']'; p++)
        if (*p >= 'a' && *p <= 'z')
            *p = (char)(*p - 'a' + 'A');
    (void)n;
    vl_wrap(L, 1, 3, ui_attr(st, sev_color(f->sev)) | A_BOLD, line);
    vl_wrap(L, 3, 3, A_NORMAL, f->summary);
    lines_sessions(L, f);
    lines_evidence(L, f);
    lines_filters(L, f);
    vl_add(L, 1, A_BOLD, "Remedy:", 7);
    vl_wrap(L, 3, 3, A_NORMAL, f->remedy);
}

void view_finding_draw(const struct finding *f, struct ui_state *st, int y0, int rows, int cols)
{
    for (int k = y0; k < y0 + rows; k++) {
        move(k, 0);
        clrtoeol();
    }
    struct vlines L;
    memset(&L, 0, sizeof(L));
    L.cols = cols;
    finding_lines(&L, f, st);
    int page = rows - 1; /* the last row: keys and the position */
    if (page < 1)
        page = 1;
    int max = L.n > page ? L.n - page : 0;
    if (st->find_scroll > max)
        st->find_scroll = max;
    if (st->find_scroll < 0)
        st->find_scroll = 0;
    st->find_page = page;
    for (int i = 0; i < page && st->find_scroll + i < L.n; i++) {
        const struct vline *v = &L.v[st->find_scroll + i];
        attron(v->attr);
        mvaddnstr(y0 + i, v->x, v->s, cols - v->x);
        attroff(v->attr);
    }
    char foot[256];
    int last = st->find_scroll + page < L.n ? st->find_scroll + page : L.n;
    snprintf(foot, sizeof(foot),
             "line %d/%d%s  j/k PgUp/PgDn Home/End  t tunnel  x export  Esc back",
             st->find_scroll + 1, L.n, last >= L.n ? " (end)" : " (more)");
    attron(A_DIM);
    mvaddnstr(y0 + rows - 1, 1, foot, cols - 1);
    attroff(A_DIM);
    vl_free(&L);
}
