/* stream_run.c - live capture without the dashboard: the pipeline fed as packets arrive (poll on
 * the capture fds), the streaming report scanned every second of packet or wall time, then the
 * final state of what changed and the summary (nothing streamed is repeated). Needs no curses. */
#include "pipeline_int.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vpnscope/report.h"

#define STREAM_SCAN_US 1000000u /* sessions and findings every second of packet time */

static volatile sig_atomic_t g_stop;

static void on_stop(int sig)
{
    (void)sig;
    g_stop = 1;
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
    signal(SIGPIPE, SIG_IGN);
}

static bool g_out_pipe; /* stdout is a pipe or socket: its reader going away is watched */

/* Sleeps in poll() until a capture fd is readable, the next scan is due or the pacing wait ends;
 * a silent link advances packet time. Returns false when stdout's reader went away. */
static bool wait_input(struct pipeline *p, double next_wall, int wait)
{
    struct pollfd pfd[3];
    int fds[2];
    int n = pipeline_fds(p, fds);
    for (int i = 0; i < n; i++) {
        pfd[i].fd = fds[i];
        pfd[i].events = POLLIN;
        pfd[i].revents = 0;
    }
    int tmo = (int)((next_wall - pipeline_mono()) * 1000.0);
    if (tmo < 0)
        tmo = 0;
    if (wait > 0 && wait < tmo)
        tmo = wait;
    int no = n;
    if (g_out_pipe) {
        pfd[no].fd = STDOUT_FILENO;
        pfd[no].events = 0; /* only POLLERR / POLLHUP: the reader closed its end */
        pfd[no++].revents = 0;
    }
    int rc = poll(pfd, (nfds_t)no, tmo);
    if (rc == 0)
        pipeline_tick(p);
    return !(no > n && rc > 0 && (pfd[n].revents & (POLLERR | POLLHUP)));
}

static int stream_loop(struct pipeline *p, struct stream *s)
{
    uint64_t next_scan = 0;
    double next_wall = 0;
    while (!g_stop && !pipeline_ended(p)) {
        int wait = -1;
        pipeline_step(p, 50.0, &wait);
        if (pipeline_ended(p))
            break;
        double now = pipeline_mono();
        const struct pipeline_snapshot *snap = pipeline_snapshot(p);
        if (snap->now_us && (snap->now_us >= next_scan || now >= next_wall)) {
            pipeline_drops(p);
            errno = 0;
            stream_scan(s, pipeline_analyze(p));
            next_scan = snap->now_us + STREAM_SCAN_US;
            next_wall = now + 1.0;
            int w = pipeline_output_status(stdout, "the live report");
            if (w != 0)
                return w; /* nothing can be reported: the capture stops */
        }
        if (wait != 0 && !wait_input(p, next_wall, wait))
            return VPNSCOPE_EXIT_PIPE;
    }
    char err[VPNSCOPE_ERRBUF_SIZE] = "";
    if (pipeline_finish(p, err, sizeof(err)) != 0) {
        fprintf(stderr, "vpnscope: %s\n", err);
        return 2;
    }
    stream_final(s, pipeline_snapshot(p));
    int rc = pipeline_report_summary(p, stdout);
    if (rc == VPNSCOPE_EXIT_PIPE)
        return rc;
    const char *msg = pipeline_message(p);
    if (pipeline_failed(p)) {
        fprintf(stderr, "vpnscope: %s\n", msg);
        rc = 2;
    } else if (msg[0] && strncmp(msg, "warning", 7) == 0) {
        fprintf(stderr, "vpnscope: %s\n", msg);
    }
    return rc;
}

int stream_run(const struct vpnscope_config *cfg)
{
    char err[VPNSCOPE_ERRBUF_SIZE * 4] = "";
    g_stop = 0;
    install_signals();
    struct stat st;
    g_out_pipe = fstat(STDOUT_FILENO, &st) == 0 && (S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode));
    struct pipeline *p = pipeline_open(cfg, err, sizeof(err));
    if (!p) {
        fprintf(stderr, "vpnscope: %s\n", err[0] ? err : "cannot open the input");
        return 2;
    }
    if (cfg->drop_user && geteuid() == 0 && getuid() == 0)
        fprintf(stderr, "vpnscope: warning: -Z %s: still running as root\n", cfg->drop_user);
    /* as tcpdump: the capture is open and filtered from here on (scripts wait for this line) */
    const struct pipeline_snapshot *snap = pipeline_snapshot(p);
    if (snap->n == 2)
        fprintf(stderr, "vpnscope: listening on %s (inside) and %s (outside)\n", snap->name[0],
                snap->name[1]);
    else
        fprintf(stderr, "vpnscope: listening on %s\n", snap->name[0]);
    struct stream *s = stream_new(stdout, cfg->json, &cfg->to);
    if (!s) {
        fprintf(stderr, "vpnscope: out of memory\n");
        pipeline_close(p);
        return 2;
    }
    int rc = stream_loop(p, s);
    stream_free(s);
    pipeline_close(p);
    return rc;
}
