/* detect.c - the detector registry (nDPI init_*_dissector list, Suricata DEvents): one detector
 * per file in detect/, run in this order over the session model(s) and NAT mappings. */
#include "vpnscope/detect.h"

#include <stddef.h>

extern const struct detector det_esp_collision;
extern const struct detector det_stale_nat;
extern const struct detector det_frag_order;
extern const struct detector det_ah_nat;
extern const struct detector det_natt_not_used;
extern const struct detector det_ike_no_response;
extern const struct detector det_ike_ip_fragmented;
extern const struct detector det_pptp;
extern const struct detector det_esp_one_way;
extern const struct detector det_nat_traversal; /* info, last: skips clients with a problem */

static const struct detector *const registry[] = {
    &det_esp_collision, &det_stale_nat,       &det_frag_order,        &det_ah_nat,
    &det_natt_not_used, &det_ike_no_response, &det_ike_ip_fragmented, &det_pptp,
    &det_esp_one_way,   &det_nat_traversal,
};

void detect_run(struct detect_ctx *ctx)
{
    for (size_t i = 0; i < sizeof(registry) / sizeof(registry[0]); i++)
        registry[i]->run(ctx);
}
