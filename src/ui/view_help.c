/* view_help.c - the key list (F1 or ?), drawn over the current view. */
#include "ui_int.h"

#include <curses.h>
#include <string.h>

static const char *const help_lines[] = {
    "vpnscope dashboard keys",
    "  F1 ? h       this help (any key closes it)    q F10  quit (exit status 0)",
    "  1 2 3 4 Tab  views: Tunnels, NAT, Findings, Detail (Shift-Tab: back)",
    "  j k Up Down  move the selection   PgUp PgDn Home End g G  page/first/last",
    "  Enter        Tunnels: the tunnel's detail  Findings: open the finding",
    "  open finding j k PgUp PgDn Home End scroll it (line x/y at the bottom)",
    "  t            Findings: select its tunnel in view 1 (Esc or t: back)",
    "  x            Findings: write its packets (pcapng) into --export DIR",
    "               (default ./vpnscope-export-<capture name>/)",
    "  Esc          back: close a finding/the detail, cancel input, clear filter",
    "  /            search: jump to the next row with the text (F3 repeats)",
    "  f \\          filter: show only rows containing the text (empty clears)",
    "  s < >        sort column: next / previous (shown in the tab line)",
    "  r I          reverse the sort order",
    "  p P          replay: pause/resume  live: freeze the view (capture goes on)",
    "  n N          paused replay: step one packet / one second of capture time",
    "",
    "Colours: green up; yellow idle past half its NAT timeout, one-way, no reply;",
    "red expired or named by an error finding; blue closed. '*': in a finding.",
    "Idle bar: time since the last packet against the NAT timeout ('!' past it).",
    "Activity (100+ columns): packets each way over the capture (live: 128 s);",
    "a blank: no packet (idle gaps). NO_COLOR=1: monochrome.",
    NULL,
};

void view_help_draw(const struct ui_state *st, int rows, int cols)
{
    int n = 0, w = 0;
    while (help_lines[n]) {
        int l = (int)strlen(help_lines[n]);
        if (l > w)
            w = l;
        n++;
    }
    w += 4;
    if (w > cols)
        w = cols;
    int h = n + 2;
    if (h > rows)
        h = rows;
    int y0 = (rows - h) / 2, x0 = (cols - w) / 2;
    int at = ui_attr(st, UI_HEAD);
    attron(at);
    for (int y = 0; y < h; y++)
        mvhline(y0 + y, x0, ' ', w);
    for (int i = 0; i < n && i + 1 < h - 1 + 1 && 1 + i < h; i++)
        mvaddnstr(y0 + 1 + i, x0 + 2, help_lines[i], w - 4);
    attroff(at);
}
