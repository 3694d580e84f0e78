/* progress.c - the progress line on stderr of long runs on a terminal: nothing during the first
 * second (VPNSCOPE_PROGRESS_DELAY seconds when set: tests use 0), then at most twice a second and
 * at once when a new phase starts, "vpnscope: PHASE 42% (12.0 of 28.6 MB)" (or the bytes and
 * packets read when the size is unknown: standard input, pipes, compressed pieces); cleared at
 * the end. Wall time only paces the line, never enters a report. */
#include "pipeline_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void progress_init(struct progress *g, bool on)
{
    memset(g, 0, sizeof(*g));
    g->on = on;
    if (!on)
        return;
    double delay = 1.0;
    const char *e = getenv("VPNSCOPE_PROGRESS_DELAY");
    if (e && *e) {
        char *end;
        double d = strtod(e, &end);
        if (!*end && d >= 0 && d < 3600)
            delay = d;
    }
    g->start = pipeline_mono();
    g->first = g->start + delay;
    g->next = g->first;
}

void progress_show(struct progress *g, const char *phase, uint64_t done, uint64_t total,
                   uint64_t packets)
{
    if (!g->on)
        return;
    double now = pipeline_mono();
    if (now < g->first || (now < g->next && phase == g->phase))
        return;
    g->next = now + 0.5;
    g->phase = phase;
    g->shown = true;
    if (total && done <= total)
        fprintf(stderr, "\rvpnscope: %s %3.0f%% (%.1f of %.1f MB)   ", phase,
                100.0 * (double)done / (double)total, (double)done / 1e6, (double)total / 1e6);
    else
        fprintf(stderr, "\rvpnscope: %s %.1f MB, %llu packets   ", phase, (double)done / 1e6,
                (unsigned long long)packets);
    fflush(stderr);
}

void progress_end(struct progress *g)
{
    if (g->on && g->shown)
        fprintf(stderr, "\r%70s\r", "");
    g->shown = false;
}
