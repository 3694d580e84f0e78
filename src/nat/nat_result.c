/* nat_result.c - nat_result lifetime and evidence-bit names (nat.h). */
#include "vpnscope/nat.h"

#include <stdlib.h>
#include <string.h>

/* `bit` is one NAT_EV_* mask value (not a bit index). */
const char *nat_evidence_name(unsigned bit)
{
    switch (bit) {
    case NAT_EV_SPI:
        return "spi";
    case NAT_EV_PAYLOAD:
        return "payload";
    case NAT_EV_IP_ID:
        return "ip_id";
    case NAT_EV_TIMING:
        return "timing";
    case NAT_EV_NATD:
        return "natd";
    case NAT_EV_PPTP_CONTROL:
        return "pptp_control";
    case NAT_EV_SIZE:
        return "size";
    case NAT_EV_SEQ:
        return "seq";
    case NAT_EV_ICMP_ID:
        return "icmp_id";
    case NAT_EV_FRAGMENT:
        return "fragment";
    default:
        return "unknown";
    }
}

void nat_result_free(struct nat_result *r)
{
    if (!r)
        return;
    free(r->map);
    free(r->unm);
    r->map = NULL;
    r->unm = NULL;
    r->n_map = r->cap_map = 0;
    r->n_unm = r->cap_unm = 0;
}
