/* detect.h - detectors: read the session model(s) and NAT mappings, emit findings. */
#ifndef VPNSCOPE_DETECT_H
#define VPNSCOPE_DETECT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vpnscope/finding.h"
#include "vpnscope/nat.h"
#include "vpnscope/session.h"

/* NAT timeouts in seconds (the --*-timeout options; Linux conntrack defaults in config.h). */
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

/* Bit of a finding kind in the emits / reads masks of struct detector. */
#define DETECT_KIND_BIT(kind) (1u << (kind))

/* One detector per file (detect/<name>.c), registered in detect.c. A detector is a function of
 * the models in its context: it keeps no state between runs (the dashboard re-runs every detector
 * over growing models) and sees no other detector's findings, except through run_after. */
struct detector {
    const char *name;
    void (*run)(struct detect_ctx *ctx); /* independent detectors: reads the models only */
    /* The finding kinds the detector adds (DETECT_KIND_BIT of each). */
    uint32_t emits;
    /* Set instead of run by a detector that summarises or filters on other detectors' results:
     * `reads` lists the finding kinds it needs; detect_run calls it once every detector that
     * emits one of them has run, with those detectors' findings (and all others produced so far)
     * in `earlier`, which stays unchanged while it runs. */
    uint32_t reads;
    void (*run_after)(struct detect_ctx *ctx, const struct finding_list *earlier);
};

/* Runs every registered detector and appends their findings to ctx->out: independent detectors
 * in registry order, each dependent one as soon as what it reads is complete. The findings depend
 * only on the context (running it twice gives the same list). */
void detect_run(struct detect_ctx *ctx);

/* The registry (for tests): number of detectors, *out set to the array. */
size_t detect_registry(const struct detector *const **out);

#endif
