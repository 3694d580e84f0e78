/* app.c - ui_run: the dashboard main loop (htop ScreenManager_run: update the snapshot, draw,
 * read keys; handlers return UI_HANDLED|UI_REDRAW|UI_QUIT) and the live streaming report loop.
 * Single-threaded: poll() on the pcap fds and stdin; packets are fed in time-boxed batches
 * between polls and the screen is redrawn at most once per refresh period. The terminal is
 * restored on every exit path: normal return, errors, atexit, SIGINT/SIGTERM and fatal signals. */
#include "ui_int.h"

#include <curses.h>
#include <errno.h>
#include <langinfo.h>
#include <locale.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vpnscope/config.h"
#include "vpnscope/report.h"

#define UI_HANDLED 1
#define UI_REDRAW 2
#define UI_QUIT 4
#define UI_REBUILD 8 /* the snapshot must be rebuilt now (detail of another tunnel) */

#define BATCH_MS 8.0 /* packets fed per batch before looking at keys / the screen */
#define MIN_ROWS 24
#define MIN_COLS 80

/* Process-wide because signal handlers and atexit need them (one dashboard per process). */
static volatile sig_atomic_t g_stop;
static volatile sig_atomic_t g_curses;

static void ui_done(void)
{
    if (g_curses) {
        g_curses = 0;
        endwin();
    }
}

static void on_stop(int sig)
{
    (void)sig;
    g_stop = 1;
}

static void on_fatal(int sig)
{
    if (g_curses) {
        g_curses = 0;
        endwin(); /* not async-signal-safe, as htop's CRT_handleSIGSEGV: the terminal matters more
                   */
    }
    signal(sig, SIG_DFL);
    raise(sig);
}

static void install_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sigemptyset(&sa.sa_mask);
    sa.sa_handler = on_stop; /* no SA_RESTART: poll() returns EINTR */
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    sa.sa_handler = on_fatal;
    sa.sa_flags = SA_RESETHAND;
    sigaction(SIGSEGV, &sa, NULL);
    sigaction(SIGBUS, &sa, NULL);
    sigaction(SIGFPE, &sa, NULL);
    sigaction(SIGABRT, &sa, NULL);
    sigaction(SIGILL, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    static bool registered;
    if (!registered) {
        registered = true;
        atexit(ui_done);
    }
}

/* ---- the dashboard ---- */

static int rows_of_view(void)
{
    return LINES - UI_HEADER_ROWS - 1;
}

static void draw(const struct ui_model *m, struct ui_state *st)
{
    int cols = COLS, rows = LINES;
    if (rows < MIN_ROWS || cols < MIN_COLS) {
        erase();
        mvaddnstr(0, 0, "vpnscope: terminal too small (needs 80x24); enlarge it or press q", cols);
        refresh();
        return;
    }
    view_header_draw(m, st, cols);
    int y0 = UI_HEADER_ROWS, n = rows_of_view();
    switch (st->view) {
    case VIEW_NAT:
        view_nat_draw(m, st, y0, n, cols);
        break;
    case VIEW_FINDINGS:
        view_findings_draw(m, st, y0, n, cols);
        break;
    case VIEW_DETAIL:
        view_detail_draw(m, st, y0, n, cols);
        break;
    default:
        view_tunnels_draw(m, st, y0, n, cols);
        break;
    }
    view_footer_draw(m, st, rows - 1, cols);
    if (st->help)
        view_help_draw(st, rows, cols);
    refresh();
}

static void set_view(struct ui_state *st, const struct ui_model *m, int v)
{
    if (v == st->view)
        return;
    if (v == VIEW_DETAIL && !st->detail_id && st->view == VIEW_TUNNELS && st->n_order > 0)
        st->detail_id = m->tun[st->order[st->sel[VIEW_TUNNELS]]].id;
    if (v == VIEW_DETAIL && !st->detail_id) {
        /* the selected tunnel of view 1, as shown */
        int keep = st->view;
        st->view = VIEW_TUNNELS;
        ui_order(st, m);
        if (st->n_order > 0 && st->sel[VIEW_TUNNELS] < (int)st->n_order)
            st->detail_id = m->tun[st->order[st->sel[VIEW_TUNNELS]]].id;
        st->view = keep;
    }
    st->prev_view = st->view;
    st->view = v;
    st->finding_open = false;
    st->jumped = false;
    ui_order(st, m);
}

static void search_next(struct ui_state *st, const struct ui_model *m, bool from_next)
{
    if (!st->search[0] || st->n_order == 0)
        return;
    int n = (int)st->n_order, cur = st->sel[st->view];
    for (int k = from_next ? 1 : 0; k <= n; k++) {
        int i = (cur + k) % n;
        if (ui_row_matches(m, st->view, st->order[i], st->search)) {
            st->sel[st->view] = i;
            snprintf(st->flash, sizeof(st->flash), "found \"%s\" (F3: next)", st->search);
            return;
        }
    }
    snprintf(st->flash, sizeof(st->flash), "\"%s\" not found", st->search);
}

static int key_input(struct ui_state *st, const struct ui_model *m, int ch)
{
    size_t l = strlen(st->inbuf);
    if (ch == 27) {
        st->input = 0;
        return UI_REDRAW;
    }
    if (ch == '\n' || ch == '\r' || ch == KEY_ENTER) {
        if (st->input == '/') {
            snprintf(st->search, sizeof(st->search), "%s", st->inbuf);
            st->input = 0;
            search_next(st, m, false);
        } else {
            snprintf(st->filter, sizeof(st->filter), "%s", st->inbuf);
            st->input = 0;
            st->sel[st->view] = 0;
            st->top[st->view] = 0;
            ui_order(st, m);
        }
        return UI_REDRAW;
    }
    if (ch == KEY_BACKSPACE || ch == 127 || ch == 8) {
        if (l > 0)
            st->inbuf[l - 1] = 0;
        return UI_REDRAW;
    }
    if (ch >= 32 && ch < 127 && l + 1 < sizeof(st->inbuf)) {
        st->inbuf[l] = (char)ch;
        st->inbuf[l + 1] = 0;
    }
    return UI_REDRAW;
}

/* Moving the selection. 0 when ch is not such a key. */
static int key_move(struct ui_state *st, int ch)
{
    int v = st->view;
    int page = rows_of_view() - 2;
    if (page < 1)
        page = 1;
    switch (ch) {
    case KEY_UP:
    case 'k':
        st->sel[v]--;
        return UI_REDRAW;
    case KEY_DOWN:
    case 'j':
        st->sel[v]++;
        return UI_REDRAW;
    case KEY_PPAGE:
        st->sel[v] -= page;
        return UI_REDRAW;
    case KEY_NPAGE:
    case ' ':
        st->sel[v] += page;
        return UI_REDRAW;
    case KEY_HOME:
    case 'g':
        st->sel[v] = 0;
        return UI_REDRAW;
    case KEY_END:
    case 'G':
        st->sel[v] = (int)st->n_order - 1;
        return UI_REDRAW;
    default:
        return 0;
    }
}

/* Scrolling the open finding (view_finding.c clamps). 0 when ch is not such a key. */
static int key_scroll(struct ui_state *st, int ch)
{
    int page = st->find_page > 1 ? st->find_page - 1 : 1;
    switch (ch) {
    case KEY_UP:
    case 'k':
        st->find_scroll--;
        return UI_REDRAW;
    case KEY_DOWN:
    case 'j':
        st->find_scroll++;
        return UI_REDRAW;
    case KEY_PPAGE:
        st->find_scroll -= page;
        return UI_REDRAW;
    case KEY_NPAGE:
    case ' ':
        st->find_scroll += page;
        return UI_REDRAW;
    case KEY_HOME:
    case 'g':
        st->find_scroll = 0;
        return UI_REDRAW;
    case KEY_END:
    case 'G':
        st->find_scroll = 1 << 20;
        return UI_REDRAW;
    default:
        return 0;
    }
}

/* Sort column and direction. 0 when ch is not such a key. */
static int key_sort(struct ui_state *st, const struct ui_model *m, int ch)
{
    int v = st->view;
    switch (ch) {
    case 's':
    case '>':
    case '.':
    case KEY_F(6):
    case '<':
    case ',': {
        int nc = ui_sort_count(v);
        if (nc == 0)
            return UI_HANDLED;
        int d = (ch == '<' || ch == ',') ? nc - 1 : 1;
        st->sort[v] = (st->sort[v] + d) % nc;
        /* natural direction: times and counts high first, names A-Z */
        int col = st->sort[v];
        st->sort_desc[v] = v == VIEW_TUNNELS ? (col == SORT_LAST || col == SORT_PKTS ||
                                                col == SORT_RATE || col == SORT_IDLE)
                           : v == VIEW_NAT   ? (col == 0 || col == 5)
                                             : (col == 0);
        ui_order(st, m);
        snprintf(st->flash, sizeof(st->flash), "sorted by %s", ui_sort_name(v, col));
        return UI_REDRAW;
    }
    case 'r':
    case 'I':
        st->sort_desc[v] = !st->sort_desc[v];
        ui_order(st, m);
        return UI_REDRAW;
    default:
        return 0;
    }
}

/* Replay controls (pause, steps) and freezing the view. 0 when ch is not such a key. */
static int key_replay(struct ui_state *st, struct pipeline *f, int ch)
{
    const struct pipeline_snapshot *sn = pipeline_snapshot(f);
    switch (ch) {
    case 'p':
    case 'P':
        if (sn->live || sn->ended) {
            st->frozen = !st->frozen;
            snprintf(st->flash, sizeof(st->flash), "%s",
                     st->frozen ? "view paused (capture goes on): p resumes" : "view resumed");
        } else {
            pipeline_pause(f, !sn->paused);
            sn = pipeline_snapshot(f);
            snprintf(st->flash, sizeof(st->flash), "%s",
                     sn->paused ? "replay paused: n steps a packet, N a second, p resumes"
                                : "replay resumed");
        }
        return UI_REDRAW | UI_REBUILD;
    case 'n':
        if (!sn->live && sn->paused) {
            pipeline_step_packet(f);
            return UI_REDRAW | UI_REBUILD;
        }
        return UI_HANDLED;
    case 'N':
        if (!sn->live && sn->paused) {
            pipeline_step_second(f);
            return UI_REDRAW | UI_REBUILD;
        }
        return UI_HANDLED;
    default:
        return 0;
    }
}

/* What a finding leads to: t (its tunnel, and back), x (its packets), Esc after t. 0 when ch
 * is not such a key here. */
static int key_finding(struct ui_state *st, const struct ui_model *m, struct pipeline *f, int ch)
{
    int v = st->view;
    bool back = ch == 't' || ch == 27 || ch == KEY_BACKSPACE || ch == KEY_LEFT;
    if (v == VIEW_TUNNELS && st->jumped && back) {
        ui_jump_back(st, m);
        return UI_REDRAW | UI_REBUILD;
    }
    if (ch == 't')
        return v == VIEW_FINDINGS && ui_jump_tunnel(st, m) ? UI_REDRAW | UI_REBUILD : UI_REDRAW;
    if (ch == 'x') {
        if (v == VIEW_FINDINGS)
            ui_export_finding(st, m, f);
        return UI_REDRAW;
    }
    return 0;
}

static int handle_key(struct ui_state *st, const struct ui_model *m, struct pipeline *f, int ch)
{
    if (ch == KEY_RESIZE)
        return UI_REDRAW;
    if (st->input)
        return key_input(st, m, ch);
    st->flash[0] = 0;
    if (st->help) {
        st->help = false;
        if (ch == 'q' || ch == KEY_F(10))
            return UI_QUIT;
        return UI_REDRAW;
    }
    int v = st->view;
    int r = v == VIEW_FINDINGS && st->finding_open ? key_scroll(st, ch) : 0;
    if (!r)
        r = key_move(st, ch);
    if (!r)
        r = key_sort(st, m, ch);
    if (!r)
        r = key_replay(st, f, ch);
    if (!r)
        r = key_finding(st, m, f, ch);
    if (r)
        return r;
    switch (ch) {
    case 'q':
    case 'Q':
    case KEY_F(10):
        return UI_QUIT;
    case '?':
    case 'h':
    case KEY_F(1):
        st->help = true;
        return UI_REDRAW;
    case '\t':
        set_view(st, m, (v + 1) % VIEW__COUNT);
        return UI_REDRAW | UI_REBUILD;
    case KEY_BTAB:
        set_view(st, m, (v + VIEW__COUNT - 1) % VIEW__COUNT);
        return UI_REDRAW | UI_REBUILD;
    case '1':
    case '2':
    case '3':
    case '4':
        set_view(st, m, ch - '1');
        return UI_REDRAW | UI_REBUILD;
    case '/':
    case KEY_F(3):
        if (ch == KEY_F(3) && st->search[0]) {
            search_next(st, m, true);
            return UI_REDRAW;
        }
        st->input = '/';
        st->inbuf[0] = 0;
        return UI_REDRAW;
    case 'f':
    case '\\':
    case KEY_F(4):
        st->input = 'f';
        snprintf(st->inbuf, sizeof(st->inbuf), "%s", st->filter);
        return UI_REDRAW;
    case '\n':
    case '\r':
    case KEY_ENTER:
        if (v == VIEW_TUNNELS && st->n_order > 0) {
            int s = st->sel[v] < (int)st->n_order ? st->sel[v] : (int)st->n_order - 1;
            st->detail_id = m->tun[st->order[s < 0 ? 0 : s]].id;
            set_view(st, m, VIEW_DETAIL);
            st->prev_view = VIEW_TUNNELS;
            return UI_REDRAW | UI_REBUILD;
        }
        if (v == VIEW_FINDINGS && st->n_order > 0) {
            st->finding_open = true;
            st->find_scroll = 0;
            return UI_REDRAW;
        }
        return UI_HANDLED;
    case 27: /* Esc */
    case KEY_BACKSPACE:
    case KEY_LEFT:
        if (v == VIEW_FINDINGS && st->finding_open) {
            st->finding_open = false;
            return UI_REDRAW;
        }
        if (v == VIEW_DETAIL) {
            set_view(st, m, st->prev_view == VIEW_DETAIL ? VIEW_TUNNELS : st->prev_view);
            return UI_REDRAW | UI_REBUILD;
        }
        if (ch == 27 && st->filter[0]) {
            st->filter[0] = 0;
            ui_order(st, m);
            return UI_REDRAW;
        }
        return UI_HANDLED;
    default:
        return UI_HANDLED;
    }
}

/* Starts curses (the terminal must be at least MIN_COLS x MIN_ROWS). 0, or 2 after a message. */
static int screen_open(void)
{
    setlocale(LC_CTYPE, ""); /* the terminal's character set (UTF-8 sparklines) */
    if (!initscr()) {
        fprintf(stderr, "vpnscope: cannot initialise the terminal\n");
        return 2;
    }
    g_curses = 1;
    if (LINES < MIN_ROWS || COLS < MIN_COLS) {
        int l = LINES, c = COLS;
        ui_done();
        fprintf(stderr,
                "vpnscope: terminal too small (%dx%d): the dashboard needs at least %dx%d\n", c, l,
                MIN_COLS, MIN_ROWS);
        return 2;
    }
    cbreak();
    noecho();
    nonl();
    keypad(stdscr, TRUE);
    nodelay(stdscr, TRUE);
    set_escdelay(25);
    curs_set(0);
    return 0;
}

/* Sleeps in poll() on the keyboard and the live capture fds until the next redraw or the end of
 * the pacing wait; a silent live link advances packet time. */
static void wait_input(struct pipeline *f, double next_draw, int wait)
{
    struct pollfd pfd[3];
    int fds[2];
    int n = pipeline_fds(f, fds);
    pfd[0].fd = STDIN_FILENO;
    pfd[0].events = POLLIN;
    pfd[0].revents = 0;
    for (int i = 0; i < n; i++) {
        pfd[1 + i].fd = fds[i];
        pfd[1 + i].events = POLLIN;
        pfd[1 + i].revents = 0;
    }
    int tmo = (int)((next_draw - pipeline_mono()) * 1000.0) + 1;
    if (tmo < 0)
        tmo = 0;
    if (wait >= 0 && wait < tmo)
        tmo = wait; /* 0: more packets are ready, only peek at the keyboard */
    const struct pipeline_snapshot *sn = pipeline_snapshot(f);
    if (sn->ended)
        n = 0;
    if (poll(pfd, (nfds_t)(1 + n), tmo) == 0 && sn->live)
        pipeline_tick(f);
}

struct loop {
    struct ui_state st;
    struct ui_model m;
    double refresh, analysis_period, next_draw, next_analysis;
    long frames;
    bool rebuild;
};

/* Redraws when due: a new analysis at most once per analysis period, the snapshot copied unless
 * the view is frozen. Returns false when --max-frames is reached. */
static bool redraw_due(struct loop *l, struct pipeline *f, long max_frames)
{
    double now = pipeline_mono();
    if (now < l->next_draw && !l->rebuild)
        return true;
    if (!l->st.frozen || l->frames == 0) {
        if (!pipeline_snapshot(f)->finished && (now >= l->next_analysis || l->frames == 0)) {
            pipeline_drops(f);
            pipeline_analyze(f);
            l->next_analysis = now + l->analysis_period;
        }
        ui_model_update(&l->m, pipeline_snapshot(f));
        ui_order(&l->st, &l->m);
    }
    l->rebuild = false;
    draw(&l->m, &l->st);
    l->frames++;
    l->next_draw = now + l->refresh;
    return !(max_frames >= 0 && l->frames >= max_frames);
}

static int run_dashboard(struct pipeline *f, const struct vpnscope_config *o)
{
    if (screen_open() != 0)
        return 2;
    struct loop l;
    memset(&l, 0, sizeof(l));
    ui_colors_init(&l.st);
    l.st.utf8 = strcmp(nl_langinfo(CODESET), "UTF-8") == 0;
    l.st.sort_desc[VIEW_TUNNELS] = true;
    l.st.sort_desc[VIEW_NAT] = true;
    l.st.sort_desc[VIEW_FINDINGS] = true;
    char err[VPNSCOPE_ERRBUF_SIZE] = "";
    l.refresh = (o->refresh_ms ? o->refresh_ms : 500) / 1000.0;
    l.analysis_period = l.refresh > 1.0 ? l.refresh : 1.0;
    l.rebuild = true;
    while (!g_stop) {
        int wait = -1;
        if (!pipeline_ended(f))
            pipeline_step(f, BATCH_MS, &wait);
        if (pipeline_ended(f) && !pipeline_snapshot(f)->finished) {
            if (pipeline_finish(f, err, sizeof(err)) != 0)
                break;
            l.rebuild = true;
            l.next_draw = 0;
        }
        if (!redraw_due(&l, f, o->max_frames))
            break;
        wait_input(f, l.next_draw, wait);
        int ch;
        int flags = 0;
        while (!(flags & UI_QUIT) && (ch = getch()) != ERR)
            flags |= handle_key(&l.st, &l.m, f, ch);
        if (flags & UI_QUIT)
            break;
        if (flags & UI_REBUILD)
            l.rebuild = true;
        else if (flags & UI_REDRAW)
            draw(&l.m, &l.st);
    }
    ui_done();
    if (pipeline_failed(f))
        fprintf(stderr, "vpnscope: %s\n", pipeline_message(f));
    else if (err[0])
        fprintf(stderr, "vpnscope: %s\n", err);
    ui_model_free(&l.m);
    free(l.st.order);
    return 0;
}

int ui_run(const struct vpnscope_config *o)
{
    char err[VPNSCOPE_ERRBUF_SIZE * 4] = "";
    g_stop = 0;
    install_signals();
    if (!isatty(STDIN_FILENO) || !isatty(STDOUT_FILENO)) {
        fprintf(
            stderr,
            "vpnscope: the dashboard needs a terminal (without one, live capture streams a report; "
            "--json selects JSON Lines)\n");
        return 2;
    }
    struct pipeline *f = pipeline_open(o, err, sizeof(err));
    if (!f) {
        fprintf(stderr, "vpnscope: %s\n", err[0] ? err : "cannot open the input");
        return 2;
    }
    if (o->drop_user && geteuid() == 0 && getuid() == 0)
        fprintf(stderr, "vpnscope: warning: -Z %s: still running as root\n", o->drop_user);
    int rc = run_dashboard(f, o);
    pipeline_close(f);
    return rc;
}
