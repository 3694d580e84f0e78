/* view_findings.c - findings, most severe first (or as sorted); Enter opens one (view_finding.c).
 */
#include "ui_int.h"

#include <curses.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "vpnscope/report.h"

static int sev_color(uint8_t sev)
{
    return sev == SEV_ERROR ? UI_ALERT : sev == SEV_WARNING ? UI_WARN : UI_OK;
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
        view_finding_draw(&m->find[st->order[*sel]], st, y0, rows, cols);
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
