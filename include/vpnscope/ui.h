/* ui.h - the curses dashboard and live monitoring (src/ui/, the only code that includes curses). */
#ifndef VPNSCOPE_UI_H
#define VPNSCOPE_UI_H

#include <stdbool.h>
#include <stdint.h>

#include "vpnscope/detect.h"

struct ui_opts {
    /* sources: exactly one of files (replay), inside/outside files, or live interfaces */
    const char *const *files;   /* -r pieces (NULL-terminated) */
    const char *const *inside;  /* --inside pieces */
    const char *const *outside; /* --outside pieces */
    const char *iface;          /* -i */
    const char *inside_if, *outside_if;
    const char *bpf;
    double speed;           /* replay: 1 = capture speed, 0 = as fast as possible */
    unsigned refresh_ms;    /* redraw period */
    long max_frames;        /* end after N redraws (smoke tests), -1 = never */
    const char *write_path; /* -w */
    const char *drop_user;  /* -Z (NULL: default policy) */
    bool json;              /* live streaming format */
    bool dashboard;         /* dashboard (else streaming report) */
    long count;             /* -c */
    struct nat_timeouts to;
    uint8_t side;
    bool side_given;
};

/* Runs the dashboard or the live streaming report. Returns the process exit status
 * (0/1 per CONTRACT.md, 2 on error after printing one line to stderr). */
int ui_run(const struct ui_opts *o);

#endif
