/* view_header.c - the dashboard header (sources, capture time, rates, kernel drops, tunnel and
 * finding counts, view tabs with the sort indicator) and the bottom line (keys, input, messages).
 */
#include "ui_int.h"

#include <curses.h>
#include <string.h>

#include "vpnscope/config.h"
#include "vpnscope/report.h"

static void fill_line(int y, int cols, int attr)
{
    attron(attr);
    mvhline(y, 0, ' ', cols);
    attroff(attr);
}

/* Line 0: what is shown and in which mode */
static void header_mode(const struct ui_model *m, const struct ui_state *st, int cols)
{
    char buf[1024];
    int head = ui_attr(st, UI_HEAD);
    const char *mode;
    char mbuf[64];
    if (m->failed)
        mode = "FAILED";
    else if (m->live)
        mode = m->ended ? "ENDED" : st->frozen ? "LIVE (view paused)" : "LIVE";
    else if (m->ended)
        mode = "REPLAY FINISHED";
    else if (m->paused)
        mode = "REPLAY PAUSED";
    else {
        if (m->speed > 0)
            snprintf(mbuf, sizeof(mbuf), "REPLAY x%g", m->speed);
        else
            snprintf(mbuf, sizeof(mbuf), "REPLAY max speed");
        mode = mbuf;
    }
    fill_line(0, cols, head);
    attron(head | A_BOLD);
    snprintf(buf, sizeof(buf), " vpnscope %s  %s", VPNSCOPE_VERSION, m->sources);
    int ml = (int)strlen(mode) + 2;
    mvaddnstr(0, 0, buf, cols - ml - 1 > 0 ? cols - ml - 1 : cols);
    if (cols > ml)
        mvaddnstr(0, cols - ml, mode, ml);
    attroff(head | A_BOLD);
}
/* Line 1: time, traffic, drops */
static void header_traffic(const struct ui_model *m, const struct ui_state *st, int cols)
{
    char buf[1024], a[32], b[32], c[32], d[32], e[32], t[40];
    ts_iso(m->now_us, t, sizeof(t));
    t[19] = 0; /* seconds are enough here */
    uint64_t span = m->now_us > m->first_ts && m->first_ts ? m->now_us - m->first_ts : 0;
    move(1, 0);
    clrtoeol();
    snprintf(buf, sizeof(buf), " Time %s UTC (+%s)  Packets %s (%s/s)  Bytes %s (%sB/s)  ",
             m->now_us ? t : "-", ui_fmt_age(span, d, sizeof(d)),
             ui_fmt_count(m->packets, a, sizeof(a)), ui_fmt_rate(m->pps, b, sizeof(b)),
             ui_fmt_count(m->bytes, c, sizeof(c)), ui_fmt_rate(m->bps, e, sizeof(e)));
    mvaddnstr(1, 0, buf, cols);
    int x = (int)strlen(buf);
    if (m->live && x < cols) {
        snprintf(buf, sizeof(buf), "Drops %s", ui_fmt_count(m->drops, a, sizeof(a)));
        int at = m->drops ? ui_attr(st, UI_ALERT) : (int)A_NORMAL;
        attron(at);
        mvaddnstr(1, x, buf, cols - x);
        attroff(at);
        x += (int)strlen(buf);
    }
    if (x + 2 < cols) {
        snprintf(buf, sizeof(buf), "  Mem %s", ui_fmt_count(m->mem, a, sizeof(a)));
        mvaddnstr(1, x, buf, cols - x);
    }
}
/* Line 2: tunnels and findings */
static void header_counts(const struct ui_model *m, const struct ui_state *st, int cols)
{
    char buf[1024];
    move(2, 0);
    clrtoeol();
    snprintf(buf, sizeof(buf),
             " Tunnels %zu%s (IKE %u ESP %u AH %u PPTP %u GRE %u L2TP %u other %u)  NAT %zu   "
             "Findings: ",
             m->tun_total, m->tun_total > m->n_tun ? "+" : "", m->n_by_kind[UK_IKE],
             m->n_by_kind[UK_ESP], m->n_by_kind[UK_AH], m->n_by_kind[UK_PPTP], m->n_by_kind[UK_GRE],
             m->n_by_kind[UK_L2TP], m->n_by_kind[UK_FLOW], m->n_nat);
    mvaddnstr(2, 0, buf, cols);
    int x = (int)strlen(buf);
    static const char *const sev[3] = {"info", "warning", "error"};
    static const int col[3] = {UI_OK, UI_WARN, UI_ALERT};
    for (int s = 2; s >= 0 && x < cols; s--) {
        snprintf(buf, sizeof(buf), "%llu %s%s", (unsigned long long)m->nfind[s], sev[s],
                 s ? "  " : "");
        int at = m->nfind[s] ? ui_attr(st, col[s]) : (int)A_NORMAL;
        attron(at);
        mvaddnstr(2, x, buf, cols - x);
        attroff(at);
        x += (int)strlen(buf);
    }
}
/* Line 3: view tabs, sort indicator, filter */
static void header_tabs(const struct ui_state *st, int cols)
{
    char buf[1024];
    move(3, 0);
    clrtoeol();
    static const char *const names[VIEW__COUNT] = {"1 Tunnels", "2 NAT", "3 Findings", "4 Detail"};
    int x = 1;
    for (int v = 0; v < VIEW__COUNT && x < cols; v++) {
        int at = v == st->view ? ui_attr(st, UI_SEL) | A_BOLD : (int)A_NORMAL;
        attron(at);
        mvaddnstr(3, x, names[v], cols - x);
        attroff(at);
        x += (int)strlen(names[v]) + 2;
    }
    const char *sn = ui_sort_name(st->view, st->sort[st->view]);
    if (sn) {
        snprintf(buf, sizeof(buf), "  sort: %s %s", sn, st->sort_desc[st->view] ? "v" : "^");
        if (x < cols)
            mvaddnstr(3, x, buf, cols - x);
        x += (int)strlen(buf);
    }
    if (st->filter[0]) {
        snprintf(buf, sizeof(buf), "  filter: %s", st->filter);
        int at = ui_attr(st, UI_WARN);
        attron(at);
        if (x < cols)
            mvaddnstr(3, x, buf, cols - x);
        attroff(at);
    }
}

void view_header_draw(const struct ui_model *m, const struct ui_state *st, int cols)
{
    header_mode(m, st, cols);
    header_traffic(m, st, cols);
    header_counts(m, st, cols);
    header_tabs(st, cols);
}

void view_footer_draw(const struct ui_model *m, const struct ui_state *st, int y, int cols)
{
    char buf[512];
    move(y, 0);
    clrtoeol();
    if (st->input) {
        snprintf(buf, sizeof(buf), "%s: %s_", st->input == '/' ? "Search" : "Filter", st->inbuf);
        attron(A_BOLD);
        mvaddnstr(y, 0, buf, cols);
        attroff(A_BOLD);
        return;
    }
    if (st->flash[0]) {
        mvaddnstr(y, 0, st->flash, cols);
        return;
    }
    if (st->view == VIEW_FINDINGS && !m->failed) { /* what a finding leads to */
        snprintf(buf, sizeof(buf), "%s%s",
                 !m->ended ? ""
                 : m->live ? "capture ended: "
                           : "replay finished: ",
                 st->finding_open ? "j/k scroll  t tunnel  x export packets  Esc back  q quit"
                                  : "Enter open  t tunnel  x export packets  f filter  q quit");
        attron(A_DIM);
        mvaddnstr(y, 0, buf, cols);
        attroff(A_DIM);
        return;
    }
    if (m->status[0] && (m->ended || m->failed)) {
        snprintf(buf, sizeof(buf), "%.480s  (q quits)", m->status);
        int at = m->failed ? ui_attr(st, UI_ALERT) : ui_attr(st, UI_HEAD);
        attron(at);
        mvaddnstr(y, 0, buf, cols);
        attroff(at);
        return;
    }
    const char *keys =
        m->live
            ? "F1/? help  1-4/Tab views  j/k move  Enter detail  / search  f filter  s/</> sort  "
              "p pause view  q quit"
            : "F1/? help  1-4/Tab views  j/k move  Enter detail  / search  f filter  s/</> sort  "
              "p pause  n/N step  q quit";
    attron(A_DIM);
    mvaddnstr(y, 0, keys, cols);
    attroff(A_DIM);
}
