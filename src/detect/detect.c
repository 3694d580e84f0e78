/* detect.c - the detector registry: one detector per file in detect/, each declaring the finding
 * kinds it emits and, for the few that build on other detectors' results, the kinds it reads.
 * detect_run gives every detector a list of its own to write into, so no detector sees another's
 * findings except the ones it declares, handed to it explicitly. */
#include "vpnscope/detect.h"

#include <stdbool.h>
#include <stddef.h>

extern const struct detector det_esp_collision;
extern const struct detector det_stale_nat;
extern const struct detector det_frag_order;
extern const struct detector det_ah_nat;
extern const struct detector det_natt_not_used;
extern const struct detector det_ike_no_response;
extern const struct detector det_ike_ip_fragmented;
extern const struct detector det_pptp;
extern const struct detector det_esp_one_way; /* reads esp_collision */
extern const struct detector det_mtu_blackhole;
extern const struct detector det_nat_state_lost;
extern const struct detector det_pptp_port;
extern const struct detector det_nat_traversal; /* reads every problem finding */
extern const struct detector det_handshake_no_response;
extern const struct detector det_tunnel_one_way;

/* Registry order is the order of the findings in the list (ties of the report sorts keep it). */
static const struct detector *const registry[] = {
    &det_esp_collision,
    &det_nat_state_lost,
    &det_stale_nat,
    &det_frag_order,
    &det_ah_nat,
    &det_natt_not_used,
    &det_ike_no_response,
    &det_ike_ip_fragmented,
    &det_pptp,
    &det_handshake_no_response,
    &det_tunnel_one_way,
    &det_esp_one_way,
    &det_mtu_blackhole,
    &det_pptp_port,
    &det_nat_traversal,
};
#define N_DETECTORS (sizeof(registry) / sizeof(registry[0]))

_Static_assert(FINDING__COUNT <= 32, "the emits / reads masks hold one bit per finding kind");

size_t detect_registry(const struct detector *const **out)
{
    *out = registry;
    return N_DETECTORS;
}

/* Whether every other detector that emits a kind d reads has run. */
static bool ready(size_t d, const bool *done)
{
    for (size_t j = 0; j < N_DETECTORS; j++)
        if (j != d && !done[j] && (registry[j]->emits & registry[d]->reads))
            return false;
    return true;
}

/* Runs detector d into a list of its own, then appends that list to all. */
static void run_one(struct detect_ctx *ctx, size_t d, struct finding_list *all)
{
    struct finding_list own = {0};
    struct detect_ctx dc = *ctx;
    dc.out = &own;
    if (registry[d]->run_after)
        registry[d]->run_after(&dc, all);
    else if (registry[d]->run)
        registry[d]->run(&dc);
    finding_list_trim(&own); /* the findings are complete: what they hold, cut to what they use */
    finding_list_move(all, &own);
}

void detect_run(struct detect_ctx *ctx)
{
    bool done[N_DETECTORS] = {false};
    struct finding_list all = {0};
    for (size_t left = N_DETECTORS, progress = 1; left && progress;) {
        progress = 0;
        for (size_t d = 0; d < N_DETECTORS; d++) {
            if (done[d] || (registry[d]->reads && !ready(d, done)))
                continue;
            run_one(ctx, d, &all);
            done[d] = true;
            left--;
            progress = 1;
        }
    }
    finding_list_move(ctx->out, &all);
}
