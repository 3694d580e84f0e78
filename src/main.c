/* main.c - command line -> configuration -> batch report, dashboard or live streaming report.
 * The only file that calls exit(). */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <pcap/pcap.h>

#include "vpnscope/capture.h"
#include "vpnscope/classify.h"
#include "vpnscope/config.h"
#include "vpnscope/pipeline.h"
#include "vpnscope/report.h"
#include "vpnscope/ui.h"

static volatile sig_atomic_t g_stop;

static void on_signal(int sig)
{
    g_stop = sig;
}

/* SIGINT and SIGTERM set g_stop. restart false while the input is read: a read() blocked on a
 * stalled pipe then returns (EINTR) and the input ends there (cap_stop_on); true while the report
 * is written, so that a second signal cannot cut a write short. */
static void catch_stop(bool restart)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sigemptyset(&sa.sa_mask);
    sa.sa_handler = on_signal;
    sa.sa_flags = restart ? SA_RESTART : 0;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

/* Reads every input as fast as possible (a progress line on a terminal for long runs), then
 * writes the report. */
static int run_batch(const struct vpnscope_config *cfg)
{
    char err[VPNSCOPE_ERRBUF_SIZE * 4] = "";
    catch_stop(false);
    cap_stop_on(&g_stop);
    signal(SIGPIPE, SIG_IGN);
    struct pipeline *p = pipeline_open(cfg, err, sizeof(err));
    if (!p) {
        fprintf(stderr, "vpnscope: %s\n", err);
        return 2;
    }
    int wait;
    double budget = cfg->no_progress || !isatty(STDERR_FILENO) ? -1.0 : 200.0;
    pipeline_stop_flag(p, &g_stop);
    while (!g_stop && !pipeline_ended(p)) {
        pipeline_step(p, budget, &wait);
        pipeline_show_progress(p, false);
    }
    /* a signal that ended the reading (directly, or by cutting a blocked read short) */
    int stopped = g_stop;
    catch_stop(true);
    cap_stop_on(NULL);
    pipeline_show_progress(p, true);
    if (stopped)
        pipeline_interrupt(p, stopped);
    if (pipeline_failed(p)) {
        fprintf(stderr, "vpnscope: %s\n", pipeline_message(p));
        pipeline_close(p);
        return 2;
    }
    if (pipeline_finish(p, err, sizeof(err)) != 0) {
        fprintf(stderr, "vpnscope: %s\n", err);
        pipeline_close(p);
        return 2;
    }
    const struct pipeline_snapshot *s = pipeline_snapshot(p); /* side threads joined */
    if (stopped)
        fprintf(stderr,
                "vpnscope: %s: stopped before the end of the input; the report covers the %llu "
                "packets read\n",
                stopped == SIGTERM ? "SIGTERM" : "SIGINT", (unsigned long long)s->packets);
    if (s->nat && s->nat->message[0])
        fprintf(stderr, "vpnscope: %s\n", s->nat->message);
    static char outbuf[1 << 16];
    setvbuf(stdout, outbuf, _IOFBF, sizeof(outbuf)); /* the report is written in one go */
    int rc = pipeline_report(p, stdout);
    pipeline_close(p);
    return rc;
}

/* -D: the interfaces as tcpdump -D lists them. */
static int list_interfaces(void)
{
    char err[VPNSCOPE_ERRBUF_SIZE * 2] = "";
    if (cap_list_interfaces(stdout, err, sizeof(err)) < 0 || fflush(stdout) != 0) {
        fprintf(stderr, "vpnscope: %s\n", err[0] ? err : "cannot write the interface list");
        return 2;
    }
    return 0;
}

int main(int argc, char **argv)
{
    struct vpnscope_config cfg;
    int rc = config_parse(&cfg, argc, argv);
    if (rc != 0)
        return rc;
    if (cfg.action == CFG_HELP) {
        config_usage(stdout);
        config_free(&cfg);
        return 0;
    }
    if (cfg.action == CFG_VERSION) {
        printf("vpnscope %s\n%s\n%s\n", VPNSCOPE_VERSION, pcap_lib_version(), classify_version());
        config_free(&cfg);
        return 0;
    }
    if (cfg.action == CFG_LIST_IFACES) {
        rc = list_interfaces();
        config_free(&cfg);
        return rc;
    }
    if (cfg.batch)
        rc = batch_run(&cfg, stdout);
    else if (cfg.mode == MODE_BATCH)
        rc = run_batch(&cfg);
    else if (cfg.mode == MODE_STREAM)
        rc = stream_run(&cfg);
    else
#ifdef VPNSCOPE_HAVE_UI
        rc = ui_run(&cfg);
#else
    {
        fprintf(stderr, "vpnscope: built without the dashboard (VPNSCOPE_WITH_UI=OFF); live "
                        "capture streams a report when stdout is not a terminal or with --json\n");
        rc = 2;
    }
#endif
    config_free(&cfg);
    if (rc == VPNSCOPE_EXIT_PIPE) {
        /* standard output's reader went away: end as a filter killed by SIGPIPE does */
        signal(SIGPIPE, SIG_DFL);
        raise(SIGPIPE);
    }
    return rc;
}
