/* t_ip4.h - raw IPv4 frames for the unit tests that feed the real decoder (DLT_IPV4). */
#ifndef VPNSCOPE_T_IP4_H
#define VPNSCOPE_T_IP4_H

#include <stdint.h>
#include <string.h>

#include "vpnscope/proto.h"

#define T_DLT_IPV4 228

static inline void t_put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

/* An IPv4 header (checksummed) and UDP header src:sport -> dst:dport with payload pl[0..n) into
 * b (room for 28 + n bytes); returns the frame's length. */
static inline uint32_t t_ip4_udp(uint8_t *b, const uint8_t *src, uint16_t sport, const uint8_t *dst,
                                 uint16_t dport, uint16_t id, uint8_t ttl, const uint8_t *pl,
                                 uint32_t n)
{
    memset(b, 0, 28);
    b[0] = 0x45;
    t_put16(b + 2, (uint16_t)(28 + n));
    t_put16(b + 4, id);
    b[8] = ttl;
    b[9] = IPP_UDP;
    memcpy(b + 12, src, 4);
    memcpy(b + 16, dst, 4);
    uint32_t sum = 0;
    for (int i = 0; i < 20; i += 2)
        sum += (uint32_t)(b[i] << 8 | b[i + 1]);
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    t_put16(b + 10, (uint16_t)~sum);
    t_put16(b + 20, sport);
    t_put16(b + 22, dport);
    t_put16(b + 24, (uint16_t)(8 + n));
    memcpy(b + 28, pl, n);
    return 28 + n;
}

#endif
