/* view_util.c - the dashboard's palette (semantic colours, monochrome fallback) and the number,
 * time and idle-bar formatting shared by the views. */
#include "ui_int.h"

#include <curses.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

void ui_colors_init(struct ui_state *st)
{
    const char *nc = getenv("NO_COLOR");
    st->mono = (nc && nc[0]) || !has_colors();
    if (st->mono)
        return;
    start_color();
    use_default_colors();
    init_pair(UI_OK, COLOR_GREEN, -1);
    init_pair(UI_WARN, COLOR_YELLOW, -1);
    init_pair(UI_ALERT, COLOR_RED, -1);
    init_pair(UI_DIM, COLOR_BLUE, -1);
    init_pair(UI_HEAD, COLOR_BLACK, COLOR_CYAN);
    init_pair(UI_SEL, COLOR_BLACK, COLOR_WHITE);
}

int ui_attr(const struct ui_state *st, int color)
{
    if (st->mono) {
        switch (color) {
        case UI_ALERT:
            return A_BOLD;
        case UI_WARN:
            return A_UNDERLINE;
        case UI_DIM:
            return A_DIM;
        case UI_HEAD:
            return A_REVERSE;
        case UI_SEL:
            return A_REVERSE;
        default:
            return A_NORMAL;
        }
    }
    switch (color) {
    case UI_OK:
    case UI_WARN:
    case UI_DIM:
        return COLOR_PAIR(color);
    case UI_ALERT:
        return COLOR_PAIR(color) | A_BOLD;
    case UI_HEAD:
    case UI_SEL:
        return COLOR_PAIR(color);
    default:
        return A_NORMAL;
    }
}

char *ui_fmt_count(uint64_t v, char *buf, size_t n)
{
    if (v < 10000)
        snprintf(buf, n, "%" PRIu64, v);
    else if (v < 10000000)
        snprintf(buf, n, "%.1fK", (double)v / 1e3);
    else if (v < 10000000000ull)
        snprintf(buf, n, "%.1fM", (double)v / 1e6);
    else
        snprintf(buf, n, "%.1fG", (double)v / 1e9);
    return buf;
}

char *ui_fmt_rate(double v, char *buf, size_t n)
{
    if (v < 0)
        v = 0;
    if (v < 10)
        snprintf(buf, n, "%.1f", v);
    else if (v < 10000)
        snprintf(buf, n, "%.0f", v);
    else if (v < 1e7)
        snprintf(buf, n, "%.1fK", v / 1e3);
    else
        snprintf(buf, n, "%.1fM", v / 1e6);
    return buf;
}

char *ui_fmt_age(uint64_t us, char *buf, size_t n)
{
    uint64_t s = us / 1000000u;
    if (us < 10000000u)
        snprintf(buf, n, "%.1fs", (double)us / 1e6);
    else if (s < 60)
        snprintf(buf, n, "%" PRIu64 "s", s);
    else if (s < 3600)
        snprintf(buf, n, "%" PRIu64 "m%02" PRIu64 "s", s / 60, s % 60);
    else if (s < 86400)
        snprintf(buf, n, "%" PRIu64 "h%02" PRIu64 "m", s / 3600, (s / 60) % 60);
    else
        snprintf(buf, n, "%" PRIu64 "d%02" PRIu64 "h", s / 86400, (s / 3600) % 24);
    return buf;
}

char *ui_fmt_time(uint64_t ts_us, char *buf, size_t n)
{
    if (!ts_us) {
        snprintf(buf, n, "--:--:--");
        return buf;
    }
    uint64_t s = ts_us / 1000000u;
    snprintf(buf, n, "%02u:%02u:%02u", (unsigned)((s / 3600) % 24), (unsigned)((s / 60) % 60),
             (unsigned)(s % 60));
    return buf;
}

void ui_idle_bar(char *buf, int width, uint64_t idle_us, uint32_t timeout_s)
{
    if (width < 3) {
        buf[0] = 0;
        return;
    }
    int inner = width - 2;
    double frac = timeout_s ? (double)idle_us / ((double)timeout_s * 1e6) : 0;
    int fill = frac >= 1 ? inner : (int)(frac * inner + 0.5);
    buf[0] = '[';
    for (int i = 0; i < inner; i++)
        buf[1 + i] = i < fill ? (frac >= 1 ? '!' : '#') : '.';
    buf[width - 1] = ']';
    buf[width] = 0;
}
