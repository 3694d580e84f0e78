/* view_detail.c - one tunnel: identities, packets and rate each way, idle time against the NAT
 * timeout, an activity timeline (idle gaps from session.h struct activity), keepalives, IKE
 * exchanges (rekeys, DPD, retransmissions), packets lost at the router (two captures), its child
 * SAs or calls, and the findings that name its client. */
#include "ui_int.h"

#include <curses.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

static const char *kind_name(uint8_t k)
{
    static const char *const n[] = {"IKE SA", "ESP",      "AH",        "PPTP call", "GRE",
                                    "L2TP",   "VPN flow", "WireGuard", "OpenVPN"};
    return k < sizeof(n) / sizeof(n[0]) ? n[k] : "?";
}

/* The activity strip from first to last (or now): '=' traffic, '.' inside a recorded gap. */
static void timeline(char *buf, int width, const struct ui_tunnel *t, uint64_t end)
{
    uint64_t start = t->first_ts;
    if (end <= start || width < 4) {
        snprintf(buf, (size_t)width + 1, "%s", "");
        return;
    }
    double span = (double)(end - start);
    for (int i = 0; i < width; i++) {
        uint64_t a = start + (uint64_t)(span * i / width),
                 b = start + (uint64_t)(span * (i + 1) / width);
        char c = '=';
        for (unsigned g = 0; g < t->act.n_gaps && g < GAPS_PER_TUNNEL; g++)
            if (t->act.gaps[g].start_us <= a && t->act.gaps[g].end_us >= b)
                c = '.';
        if (a >= t->last_ts && b > t->last_ts)
            c = ' ';
        buf[i] = c;
    }
    buf[width] = 0;
}

/* Identity, ids, times and counters of the tunnel. Returns the next line. */
static int detail_head(const struct ui_model *m, const struct ui_state *st,
                       const struct ui_tunnel *t, int y, int ymax, int cols)
{
    char line[1024], a[32], b[32], c[32], d[32], e[32];
    snprintf(line, sizeof(line), "%s  %s -> %s  %s  state %s", kind_name(t->kind), t->client,
             t->server, t->proto, t->state);
    attron(ui_attr(st, t->color) | A_BOLD);
    mvaddnstr(y++, 1, line, cols - 1);
    attroff(ui_attr(st, t->color) | A_BOLD);
    if (t->client_out[0] && y < ymax) {
        snprintf(line, sizeof(line), "Client outside the NAT: %s (seen on the %s capture)",
                 t->client_out, t->side == SIDE_OUTSIDE ? "outside" : "inside");
        mvaddnstr(y++, 3, line, cols - 3);
    }
    if (t->ids[0] && y < ymax) {
        snprintf(line, sizeof(line), "IDs: %s", t->ids);
        mvaddnstr(y++, 3, line, cols - 3);
    }
    uint64_t idle = m->now_us > t->last_ts ? m->now_us - t->last_ts : 0;
    char bar[64];
    ui_idle_bar(bar, 22, idle, t->timeout_s);
    if (y < ymax) {
        snprintf(line, sizeof(line), "First %s  last %s  idle %s of the %u s NAT timeout %s",
                 ui_fmt_time(t->first_ts, a, sizeof(a)), ui_fmt_time(t->last_ts, b, sizeof(b)),
                 ui_fmt_age(idle, c, sizeof(c)), t->timeout_s, bar);
        mvaddnstr(y++, 3, line, cols - 3);
    }
    if (y < ymax) {
        snprintf(line, sizeof(line),
                 "Packets client->server %s (%s/s)  server->client %s (%s/s)  bytes %s / %s",
                 ui_fmt_count(t->pkts[0], a, sizeof(a)), ui_fmt_rate(t->rate[0], b, sizeof(b)),
                 ui_fmt_count(t->pkts[1], c, sizeof(c)), ui_fmt_rate(t->rate[1], d, sizeof(d)),
                 ui_fmt_count(t->bytes[0], e, sizeof(e)),
                 ui_fmt_count(t->bytes[1], bar, sizeof(bar)));
        mvaddnstr(y++, 3, line, cols - 3);
    }
    return y;
}

/* Timeline, keepalives and idle gaps. Returns the next line. */
static int detail_activity(const struct ui_model *m, const struct ui_state *st,
                           const struct ui_tunnel *t, int y, int ymax, int cols)
{
    char line[1024], a[32], b[32], c[32], d[32];
    /* timeline */
    if (y + 1 < ymax) {
        int w = cols - 24;
        if (w > 100)
            w = 100;
        char strip[128];
        timeline(strip, w, t, m->now_us > t->last_ts ? m->now_us : t->last_ts);
        snprintf(line, sizeof(line), "Timeline %s |%s| %s", ui_fmt_time(t->first_ts, a, sizeof(a)),
                 strip, ui_fmt_time(m->now_us, b, sizeof(b)));
        mvaddnstr(y++, 3, line, cols - 3);
        attron(A_DIM);
        mvaddnstr(y++, 12, "(= traffic, . idle gap, blank: nothing since the last packet)",
                  cols - 12);
        attroff(A_DIM);
    }
    if (y < ymax) { /* packets each way over the capture (live: the last minutes) */
        char sa[UI_SPARK_COLS * 3 + 1], sb[UI_SPARK_COLS * 3 + 1];
        int w = (cols - 3 - 18) / 2;
        ui_spark_render(t, 0, w, st->utf8, sa, sizeof(sa));
        ui_spark_render(t, 1, w, st->utf8, sb, sizeof(sb));
        snprintf(line, sizeof(line), "Activity >[%s] <[%s]", sa, sb);
        mvaddstr(y++, 3, line);
    }
    if (y < ymax) {
        uint64_t ka = t->act.ka_ivl_n ? t->act.ka_ivl_sum_us / t->act.ka_ivl_n : 0;
        if (t->act.ka_count)
            snprintf(line, sizeof(line),
                     "Keepalives %" PRIu64 ", every %s (min %s, max %s), last %s", t->act.ka_count,
                     ui_fmt_age(ka, a, sizeof(a)), ui_fmt_age(t->act.ka_ivl_min_us, b, sizeof(b)),
                     ui_fmt_age(t->act.ka_ivl_max_us, c, sizeof(c)),
                     ui_fmt_time(t->act.ka_last_us, d, sizeof(d)));
        else
            snprintf(line, sizeof(line), "Keepalives: none seen");
        mvaddnstr(y++, 3, line, cols - 3);
    }
    if (y < ymax) {
        snprintf(line, sizeof(line), "Idle gaps (longest first, >= 1 s): %u", t->act.n_gaps);
        mvaddnstr(y++, 3, line, cols - 3);
        for (unsigned g = 0; g < t->act.n_gaps && g < GAPS_PER_TUNNEL && y < ymax; g++) {
            const struct gap *gp = &t->act.gaps[g];
            uint64_t len = gp->end_us > gp->start_us ? gp->end_us - gp->start_us : 0;
            bool over = t->timeout_s && len > (uint64_t)t->timeout_s * 1000000u;
            snprintf(line, sizeof(line), "%s -> %s  %s  (next frame #%" PRIu64 ")%s",
                     ui_fmt_time(gp->start_us, a, sizeof(a)), ui_fmt_time(gp->end_us, b, sizeof(b)),
                     ui_fmt_age(len, c, sizeof(c)), gp->frame_after,
                     over ? "  longer than the NAT timeout" : "");
            int at = over ? ui_attr(st, UI_ALERT) : (int)A_NORMAL;
            attron(at);
            mvaddnstr(y++, 5, line, cols - 5);
            attroff(at);
        }
    }
    return y;
}

/* IKE exchanges, sequence gaps, router losses, child SAs and findings. Returns the next line. */
static int detail_counters(const struct ui_model *m, const struct ui_state *st,
                           const struct ui_tunnel *t, int y, int ymax, int cols)
{
    char line[1024];
    if (t->kind == UK_IKE && y < ymax) {
        snprintf(line, sizeof(line), "IKE exchanges: %s", t->exch[0] ? t->exch : "-");
        mvaddnstr(y++, 3, line, cols - 3);
        if (y < ymax) {
            snprintf(line, sizeof(line),
                     "Rekeys %" PRIu64 "  DPD/informational %" PRIu64 "  retransmissions %" PRIu64
                     "%s%s",
                     t->rekeys, t->dpd, t->retrans, t->natd[0] ? "  " : "", t->natd);
            mvaddnstr(y++, 3, line, cols - 3);
        }
    }
    if ((t->kind == UK_IKE || t->kind == UK_ESP || t->kind == UK_AH) && y < ymax) {
        snprintf(line, sizeof(line), "ESP/AH sequence gaps %" PRIu64 "  replays %" PRIu64,
                 t->seq_gaps, t->replays);
        mvaddnstr(y++, 3, line, cols - 3);
    }
    if (y < ymax) {
        if (t->router_lost[0] >= 0)
            snprintf(line, sizeof(line),
                     "Lost at the router: %" PRId64 " toward the server, %" PRId64
                     " toward the client",
                     t->router_lost[0], t->router_lost[1]);
        else
            snprintf(line, sizeof(line), "Lost at the router: %s",
                     m->two ? "no NAT mapping matched yet"
                            : "needs two capture points (--inside/--outside)");
        int at =
            t->router_lost[0] > 0 || t->router_lost[1] > 0 ? ui_attr(st, UI_ALERT) : (int)A_NORMAL;
        attron(at);
        mvaddnstr(y++, 3, line, cols - 3);
        attroff(at);
    }
    if (t->nchild && y < ymax) {
        mvaddnstr(y++, 3, t->kind == UK_PPTP ? "Call:" : "SAs:", cols - 3);
        for (unsigned k = 0; k < t->nchild && y < ymax; k++)
            mvaddnstr(y++, 5, t->child[k], cols - 5);
    }
    if (y < ymax) {
        snprintf(line, sizeof(line), "Findings naming this client: %u%s", t->nfind,
                 t->nfind ? " (view 3, Enter for the explanation)" : "");
        int at =
            t->nfind ? ui_attr(st, t->max_sev == SEV_ERROR ? UI_ALERT : UI_WARN) : (int)A_NORMAL;
        attron(at);
        mvaddnstr(y++, 3, line, cols - 3);
        attroff(at);
    }
    return y;
}

int view_detail_draw(const struct ui_model *m, struct ui_state *st, int y0, int rows, int cols)
{
    int ymax = y0 + rows;
    for (int y = y0; y < ymax; y++) {
        move(y, 0);
        clrtoeol();
    }
    const struct ui_tunnel *t = NULL;
    for (size_t i = 0; i < m->n_tun && !t; i++)
        if (m->tun[i].id == st->detail_id)
            t = &m->tun[i];
    if (!t) {
        mvaddnstr(y0 + 1, 1,
                  st->detail_id ? "the tunnel is gone (evicted): Esc goes back"
                                : "select a tunnel in view 1 and press Enter",
                  cols - 1);
        return rows;
    }
    int y = detail_head(m, st, t, y0, ymax, cols);
    y = detail_activity(m, st, t, y, ymax, cols);
    detail_counters(m, st, t, y, ymax, cols);
    return rows;
}
