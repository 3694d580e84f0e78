/* detect.h - detectors: read the session model(s) and NAT mappings, emit findings. */
#ifndef VPNSCOPE_DETECT_H
#define VPNSCOPE_DETECT_H

#include <stdbool.h>
#include <stdint.h>

#include "vpnscope/finding.h"
#include "vpnscope/nat.h"
#include "vpnscope/session.h"

/* NAT timeouts in seconds (CONTRACT.md options; Linux conntrack defaults in config.h). */
struct nat_timeouts {
    uint32_t udp, udp_stream, tcp, gre, other;
};

struct detect_ctx {
    const struct session_model *single; /* one-capture mode (else NULL) */
    const struct session_model *inside; /* two-capture mode */
    const struct session_model *outside;
    const struct nat_result *nat; /* two-capture mode */
    struct nat_timeouts to;
    struct finding_list *out;
};

/* One detector per file (detect/<name>.c), registered in detect.c. */
struct detector {
    const char *name;
    void (*run)(struct detect_ctx *ctx);
};

/* Runs every registered detector. */
void detect_run(struct detect_ctx *ctx);

#endif
