/* view_tunnels.c - one row per VPN session (IKE SA with its child SAs, ESP/AH between two peers,
 * PPTP call, GRE, L2TP, nDPI-labelled VPN flows), children and the outside identity indented
 * below it, state colour, packets and rate each way, idle bar against the NAT timeout. */
#include "ui_int.h"

#include <curses.h>
#include <stdio.h>
#include <string.h>

/* The activity sparkline line under each tunnel needs this many columns. */
#define SPARK_MIN_COLS 100

/* Extra lines under a tunnel. */
static int sub_lines(const struct ui_tunnel *t, int cols)
{
    return t->nchild + (t->client_out[0] ? 1 : 0) + (cols >= SPARK_MIN_COLS ? 1 : 0);
}

/* Column widths for the terminal width. */
struct cols {
    int state, client, server, proto, pkts, rate, idle, ids;
};

static struct cols layout(int cols)
{
    struct cols c = {8, 21, 21, 11, 10, 9, 13, 0};
    if (cols < 110) {
        /* 80 columns: shorter addresses, the IDs still get a few characters */
        c.client = 17;
        c.server = 17;
        c.proto = 7;
        c.pkts = 9;
        c.rate = 7;
    }
    int fixed = c.state + c.client + c.server + c.proto + c.pkts + c.rate + c.idle + 7;
    c.ids = cols - fixed;
    if (c.ids < 0)
        c.ids = 0;
    return c;
}

/* "`- activity > [....] < [....]": packets over the sparkline range each way. */
static int draw_spark(const struct ui_state *st, const struct cols *c, const struct ui_tunnel *t,
                      int y, int cols)
{
    char a[UI_SPARK_COLS * 3 + 1], b[UI_SPARK_COLS * 3 + 1], line[512];
    int w = (cols - c->state - 2 - 22) / 2;
    if (w > UI_SPARK_COLS)
        w = UI_SPARK_COLS;
    ui_spark_render(t, 0, w, st->utf8, a, sizeof(a));
    ui_spark_render(t, 1, w, st->utf8, b, sizeof(b));
    snprintf(line, sizeof(line), "%*s`- activity >[%s] <[%s]", c->state + 2, "", a, b);
    move(y, 0);
    clrtoeol();
    attron(ui_attr(st, UI_DIM));
    mvaddstr(y, 0, line);
    attroff(ui_attr(st, UI_DIM));
    return y + 1;
}

/* One tunnel: its row, then its outside identity and children indented. Returns the next line. */
static int draw_row(const struct ui_model *m, const struct ui_state *st, const struct cols *c,
                    const struct ui_tunnel *t, bool is_sel, int y, int ylim, int cols)
{
    char line[1024];
    char pk[40], rt[40], a[16], b[16], idle[64], bar[32], age[16];
    snprintf(pk, sizeof(pk), "%s/%s", ui_fmt_count(t->pkts[0], a, sizeof(a)),
             ui_fmt_count(t->pkts[1], b, sizeof(b)));
    snprintf(rt, sizeof(rt), "%s/%s", ui_fmt_rate(t->rate[0], a, sizeof(a)),
             ui_fmt_rate(t->rate[1], b, sizeof(b)));
    uint64_t idl = m->now_us > t->last_ts ? m->now_us - t->last_ts : 0;
    ui_idle_bar(bar, 7, idl, t->timeout_s);
    snprintf(idle, sizeof(idle), "%-5s %s", ui_fmt_age(idl, age, sizeof(age)), bar);
    move(y, 0);
    clrtoeol();
    int base = is_sel ? ui_attr(st, UI_SEL) : (int)A_NORMAL;
    if (is_sel) {
        attron(base);
        mvhline(y, 0, ' ', cols);
    }
    char stt[24];
    snprintf(stt, sizeof(stt), "%s%s", t->nfind ? "*" : "", t->state);
    int sat = is_sel ? (int)(base | A_BOLD) : ui_attr(st, t->color);
    attron(sat);
    mvaddnstr(y, 0, stt, c->state);
    attroff(sat);
    if (is_sel)
        attron(base);
    snprintf(line, sizeof(line), "%-*.*s %-*.*s %-*.*s %*s %*s %-*s %-.*s", c->client, c->client,
             t->client, c->server, c->server, t->server, c->proto, c->proto, t->proto, c->pkts, pk,
             c->rate, rt, c->idle, idle, c->ids, t->ids);
    mvaddnstr(y, c->state + 1, line, cols - c->state - 1);
    if (is_sel)
        attroff(base);
    y++;
    /* the outside identity and the children, indented */
    if (t->client_out[0] && y < ylim) {
        move(y, 0);
        clrtoeol();
        snprintf(line, sizeof(line), "%*s`- outside as %s", c->state + 2, "", t->client_out);
        attron(ui_attr(st, UI_DIM));
        mvaddnstr(y, 0, line, cols);
        attroff(ui_attr(st, UI_DIM));
        y++;
    }
    for (unsigned k = 0; k < t->nchild && y < ylim; k++) {
        move(y, 0);
        clrtoeol();
        snprintf(line, sizeof(line), "%*s`- %s", c->state + 2, "", t->child[k]);
        mvaddnstr(y, 0, line, cols);
        y++;
    }
    if (cols >= SPARK_MIN_COLS && y < ylim)
        y = draw_spark(st, c, t, y, cols);
    return y;
}

int view_tunnels_draw(const struct ui_model *m, struct ui_state *st, int y0, int rows, int cols)
{
    struct cols c = layout(cols);
    char line[1024];

    /* column header */
    snprintf(line, sizeof(line), "%-*s %-*s %-*s %-*s %*s %*s %-*s %-*s", c.state, "STATE",
             c.client, "CLIENT", c.server, "SERVER", c.proto, "PROTO", c.pkts, "PKTS >/<", c.rate,
             "PPS >/<", c.idle, "IDLE/NAT-TO", c.ids, "SPIs / IDs");
    attron(ui_attr(st, UI_HEAD));
    mvhline(y0, 0, ' ', cols);
    mvaddnstr(y0, 0, line, cols);
    attroff(ui_attr(st, UI_HEAD));
    y0++;
    rows--;

    if (st->n_order == 0) {
        move(y0, 0);
        clrtoeol();
        mvaddnstr(y0, 1, st->filter[0] ? "no tunnel matches the filter" : "no VPN session seen yet",
                  cols - 1);
        for (int y = y0 + 1; y < y0 + rows; y++) {
            move(y, 0);
            clrtoeol();
        }
        return rows;
    }
    int n = (int)st->n_order;
    int *sel = &st->sel[VIEW_TUNNELS], *top = &st->top[VIEW_TUNNELS];
    if (*sel >= n)
        *sel = n - 1;
    if (*sel < 0)
        *sel = 0;
    if (*top > *sel)
        *top = *sel;
    for (;;) {
        int used = 0;
        for (int i = *top; i <= *sel; i++)
            used += 1 + sub_lines(&m->tun[st->order[i]], cols);
        if (used <= rows || *top >= *sel)
            break;
        (*top)++;
    }

    int y = y0;
    for (int i = *top; i < n && y < y0 + rows; i++) {
        const struct ui_tunnel *t = &m->tun[st->order[i]];
        y = draw_row(m, st, &c, t, i == *sel, y, y0 + rows, cols);
    }
    for (; y < y0 + rows; y++) {
        move(y, 0);
        clrtoeol();
    }
    return rows;
}
