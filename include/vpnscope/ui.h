/* ui.h - the curses dashboard (src/ui/, the only code that includes curses): draws the snapshot
 * the pipeline hands it, plus its keys. */
#ifndef VPNSCOPE_UI_H
#define VPNSCOPE_UI_H

#include "vpnscope/pipeline.h"

/* Runs the dashboard over the pipeline of cfg (replayed files or live interfaces). Returns the
 * process exit status (0, or 2 on error after printing one line to stderr). */
int ui_run(const struct vpnscope_config *cfg);

#endif
