/* progress.c - the progress line on stderr of long runs on a terminal: nothing during the first
 * second, then at most twice a second "vpnscope: PHASE 42% (12.0 of 28.6 MB)" (or the bytes and
 * packets read when the size is unknown: standard input, pipes, compressed pieces of unknown
 * length); cleared at the end. Wall time only paces the line, never enters a report. */
#include "pipeline_int.h"

#include <stdio.h>

void progress_init(struct progress *g, bool on)
{
    g->on = on;
    g->shown = false;
    g->start = on ? pipeline_mono() : 0;
    g->next = g->start + 1.0;
}

void progress_show(struct progress *g, const char *phase, uint64_t done, uint64_t total,
                   uint64_t packets)
{
    if (!g->on)
        return;
    double now = pipeline_mono();
    if (now < g->next)
        return;
    g->next = now + 0.5;
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
