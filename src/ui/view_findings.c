/* view_findings.c - findings, most severe first (or as sorted); Enter opens one: explanation,
 * sessions, evidence and remedy, word-wrapped. */
#include "ui_int.h"

#include <curses.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "vpnscope/report.h"

/* Word-wraps text at width from column x; returns the next free row. */
static int wrap(int y, int ymax, int x, int width, const char *text, int attr)
{
    const char *p = text;
    attron(attr);
    while (*p && y < ymax) {
        int len = (int)strlen(p);
        int take = len;
        if (take > width) {
            take = width;
            while (take > 0 && p[take] != ' ')
                take--;
            if (take == 0)
                take = width;
        }
        move(y, 0);
        clrtoeol();
        mvaddnstr(y, x, p, take);
        p += take;
        while (*p == ' ')
            p++;
        y++;
    }
    attroff(attr);
    return y;
}

static int sev_color(uint8_t sev)
{
    return sev == SEV_ERROR ? UI_ALERT : sev == SEV_WARNING ? UI_WARN : UI_OK;
}

static void draw_open(const struct finding *f, const struct ui_state *st, int y0, int rows,
                      int cols)
{
    int y = y0, ymax = y0 + rows;
    char line[1024], t[40], ip[64], op[64];
    for (int k = y0; k < ymax; k++) {
        move(k, 0);
        clrtoeol();
    }
    snprintf(line, sizeof(line), "[%s] %s (%s) at %s", severity_name(f->sev),
             finding_kind_name(f->kind), f->confirmed ? "confirmed" : "suspected",
             ts_iso(f->ts_us, t, sizeof(t)));
    for (char *p = line + 1; *p && *p != ']'; p++)
        if (*p >= 'a' && *p <= 'z')
            *p = (char)(*p - 'a' + 'A');
    attron(ui_attr(st, sev_color(f->sev)) | A_BOLD);
    mvaddnstr(y++, 1, line, cols - 1);
    attroff(ui_attr(st, sev_color(f->sev)) | A_BOLD);
    y = wrap(y, ymax, 3, cols - 4, f->summary, A_NORMAL);
    if (y < ymax && f->n_sessions) {
        mvaddnstr(y++, 1, "Sessions:", cols - 1);
        for (unsigned i = 0; i < f->n_sessions && i < FINDING_MAX_SESSIONS && y < ymax; i++) {
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
            mvaddnstr(y++, 3, line, cols - 3);
        }
    }
    if (y < ymax && f->n_ev) {
        mvaddnstr(y++, 1, "Evidence:", cols - 1);
        for (unsigned i = 0; i < f->n_ev && i < FINDING_MAX_EV && y < ymax; i++) {
            const struct finding_ev *e = &f->ev[i];
            switch (e->type) {
            case EV_INT:
                snprintf(line, sizeof(line), "%s: %" PRId64, e->key, e->i);
                break;
            case EV_STR:
                snprintf(line, sizeof(line), "%s: %s", e->key, e->s);
                break;
            case EV_TS:
                snprintf(line, sizeof(line), "%s: %s", e->key,
                         ts_iso((uint64_t)e->i, t, sizeof(t)));
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
            mvaddnstr(y++, 3, line, cols - 3);
        }
        if (f->n_frames && y < ymax) {
            int off = snprintf(line, sizeof(line), "frames:");
            for (unsigned i = 0;
                 i < f->n_frames && i < FINDING_MAX_FRAMES && off < (int)sizeof(line) - 32; i++)
                off += snprintf(line + off, sizeof(line) - (size_t)off, " %s#%" PRIu64,
                                f->frames[i].capture == SIDE_OUTSIDE  ? "out"
                                : f->frames[i].capture == SIDE_INSIDE ? "in"
                                                                      : "",
                                f->frames[i].frame);
            mvaddnstr(y++, 3, line, cols - 3);
        }
    }
    if (y < ymax) {
        attron(A_BOLD);
        mvaddnstr(y++, 1, "Remedy:", cols - 1);
        attroff(A_BOLD);
        y = wrap(y, ymax, 3, cols - 4, f->remedy, A_NORMAL);
    }
    if (y < ymax)
        mvaddnstr(y, 1, "(Esc: back to the list)", cols - 1);
}

int view_findings_draw(const struct ui_model *m, struct ui_state *st, int y0, int rows, int cols)
{
    char line[1024], t[16];
    int n = (int)st->n_order;
    int *sel = &st->sel[VIEW_FINDINGS], *top = &st->top[VIEW_FINDINGS];
    if (*sel >= n)
        *sel = n - 1;
    if (*sel < 0)
        *sel = 0;
    if (st->finding_open && n > 0) {
        draw_open(&m->find[st->order[*sel]], st, y0, rows, cols);
        return rows;
    }
    st->finding_open = false;
    snprintf(line, sizeof(line), "%-8s %-20s %-10s %-8s %s", "SEVERITY", "KIND", "CONFIDENCE",
             "TIME", "SUMMARY");
    attron(ui_attr(st, UI_HEAD));
    mvhline(y0, 0, ' ', cols);
    mvaddnstr(y0, 0, line, cols);
    attroff(ui_attr(st, UI_HEAD));
    y0++;
    rows--;
    if (n == 0) {
        for (int y = y0; y < y0 + rows; y++) {
            move(y, 0);
            clrtoeol();
        }
        mvaddnstr(y0, 1, st->filter[0] ? "no finding matches the filter" : "no finding (yet)",
                  cols - 1);
        return rows;
    }
    if (*top > *sel)
        *top = *sel;
    if (*sel >= *top + rows)
        *top = *sel - rows + 1;
    int y = y0;
    for (int i = *top; i < n && y < y0 + rows; i++, y++) {
        const struct finding *f = &m->find[st->order[i]];
        move(y, 0);
        clrtoeol();
        bool is_sel = i == *sel;
        if (is_sel) {
            attron(ui_attr(st, UI_SEL));
            mvhline(y, 0, ' ', cols);
        }
        int sat = is_sel ? (int)(ui_attr(st, UI_SEL) | A_BOLD) : ui_attr(st, sev_color(f->sev));
        attron(sat);
        mvaddnstr(y, 0, severity_name(f->sev), 8);
        attroff(sat);
        if (is_sel)
            attron(ui_attr(st, UI_SEL));
        snprintf(line, sizeof(line), "%-20s %-10s %-8s %s", finding_kind_name(f->kind),
                 f->confirmed ? "confirmed" : "suspected", ui_fmt_time(f->ts_us, t, sizeof(t)),
                 f->summary);
        mvaddnstr(y, 9, line, cols - 9);
        if (is_sel)
            attroff(ui_attr(st, UI_SEL));
    }
    for (; y < y0 + rows; y++) {
        move(y, 0);
        clrtoeol();
    }
    return rows;
}
