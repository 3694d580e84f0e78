/* view_nat.c - NAT mappings reconstructed from the inside and outside captures: inside, outside
 * and peer identities, packets each way on each side (a difference is what the router dropped),
 * idle bar against the NAT timeout, evidence. */
#include "ui_int.h"

#include <curses.h>
#include <stdio.h>
#include <string.h>

int view_nat_draw(const struct ui_model *m, struct ui_state *st, int y0, int rows, int cols)
{
    char line[1024];
    int wid = cols >= 130 ? 24 : 21;
    snprintf(line, sizeof(line), "%-5s %-*s %-*s %-*s %11s %11s %-13s %s", "PROTO", wid, "INSIDE",
             wid, "OUTSIDE", wid, "PEER", "TO in>out", "FROM out>in", "IDLE/NAT-TO", "EVIDENCE");
    attron(ui_attr(st, UI_HEAD));
    mvhline(y0, 0, ' ', cols);
    mvaddnstr(y0, 0, line, cols);
    attroff(ui_attr(st, UI_HEAD));
    y0++;
    rows--;
    int n = (int)st->n_order;
    if (n == 0) {
        for (int y = y0; y < y0 + rows; y++) {
            move(y, 0);
            clrtoeol();
        }
        const char *msg = !m->two ? "NAT mappings need two capture points: --inside/--outside or "
                                    "--inside-if/--outside-if"
                          : st->filter[0] ? "no mapping matches the filter"
                                          : "no NAT mapping seen yet";
        mvaddnstr(y0, 1, msg, cols - 1);
        return rows;
    }
    int *sel = &st->sel[VIEW_NAT], *top = &st->top[VIEW_NAT];
    if (*sel >= n)
        *sel = n - 1;
    if (*sel < 0)
        *sel = 0;
    if (*top > *sel)
        *top = *sel;
    if (*sel >= *top + rows)
        *top = *sel - rows + 1;
    int y = y0;
    for (int i = *top; i < n && y < y0 + rows; i++, y++) {
        const struct ui_natrow *r = &m->nat[st->order[i]];
        char a[16], b[16], c[16], d[16], to[40], from[40], bar[16], age[16], idle[40];
        snprintf(to, sizeof(to), "%s>%s", ui_fmt_count(r->tp_in, a, sizeof(a)),
                 ui_fmt_count(r->tp_out, b, sizeof(b)));
        snprintf(from, sizeof(from), "%s>%s", ui_fmt_count(r->fp_out, c, sizeof(c)),
                 ui_fmt_count(r->fp_in, d, sizeof(d)));
        uint64_t idl = m->now_us > r->last_ts ? m->now_us - r->last_ts : 0;
        ui_idle_bar(bar, 7, idl, r->timeout_s);
        snprintf(idle, sizeof(idle), "%-6s%s", ui_fmt_age(idl, age, sizeof(age)), bar);
        snprintf(line, sizeof(line), "%-5s %-*.*s %-*.*s %-*.*s %11s %11s %-13s %s%s", r->proto,
                 wid, wid, r->inside, wid, wid, r->translated ? r->outside : "(not translated)",
                 wid, wid, r->peer, to, from, idle, r->evidence, "");
        move(y, 0);
        clrtoeol();
        int at = i == *sel ? ui_attr(st, UI_SEL) : ui_attr(st, r->color);
        attron(at);
        if (i == *sel)
            mvhline(y, 0, ' ', cols);
        mvaddnstr(y, 0, line, cols);
        attroff(at);
    }
    for (; y < y0 + rows; y++) {
        move(y, 0);
        clrtoeol();
    }
    return rows;
}
