/* pkt.c - small helpers on the decoded packet: anomalies, status, reset, address formatting. */
#include "vpnscope/pkt.h"
#include "vpnscope/proto.h"

#include <stddef.h>
#include <stdio.h>
#include <string.h>

static const char *const anom_names[ANOM__COUNT] = {
    [ANOM_NONE] = "none",
#define ANOM(e, s) [ANOM_##e] = s,
#include "vpnscope/anomalies.def"
#undef ANOM
};

const char *anomaly_name(unsigned a)
{
    if (a >= ANOM__COUNT || !anom_names[a])
        return "unknown";
    return anom_names[a];
}

void pkt_anom(struct pkt *p, enum anomaly a)
{
    for (unsigned i = 0; i < p->n_anom; i++) {
        if (p->anom[i] == (uint16_t)a)
            return;
    }
    if (p->n_anom < sizeof(p->anom) / sizeof(p->anom[0]))
        p->anom[p->n_anom++] = (uint16_t)a;
}

void pkt_truncated(struct pkt *p, enum anomaly a)
{
    pkt_anom(p, a);
    if (p->status == PKT_DECODED)
        p->status = PKT_TRUNCATED;
}

void pkt_invalid(struct pkt *p, enum anomaly a)
{
    pkt_anom(p, a);
    if (p->status == PKT_DECODED)
        p->status = PKT_INVALID;
}

/*
 * Everything from `status` to the end of the struct is per-decode state; the capture fields
 * before it survive. One memset of ~1 KB: measured at about 20 ns per packet (tests/unit), far
 * below the cost of reading the packet, so the lazy per-layer zeroing is not worth its bugs.
 */
void pkt_reset(struct pkt *p)
{
    memset((char *)p + offsetof(struct pkt, status), 0, sizeof(*p) - offsetof(struct pkt, status));
}

static char *fmt_v4(const uint8_t *a, char *buf, unsigned size)
{
    snprintf(buf, size, "%u.%u.%u.%u", a[0], a[1], a[2], a[3]);
    return buf;
}

/* RFC 5952 §4: lowercase hex, no leading zeros, the longest run (>= 2) of zero groups becomes
 * "::" (the first on a tie); §5: IPv4-mapped addresses end in dotted quad. */
static char *fmt_v6(const uint8_t *a, char *buf, unsigned size)
{
    static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (memcmp(a, mapped, sizeof(mapped)) == 0) {
        snprintf(buf, size, "::ffff:%u.%u.%u.%u", a[12], a[13], a[14], a[15]);
        return buf;
    }
    uint16_t g[8];
    for (int i = 0; i < 8; i++)
        g[i] = (uint16_t)((a[2 * i] << 8) | a[2 * i + 1]);
    int best = -1;
    int best_len = 0;
    for (int i = 0; i < 8;) {
        if (g[i] != 0) {
            i++;
            continue;
        }
        int j = i;
        while (j < 8 && g[j] == 0)
            j++;
        if (j - i > best_len) {
            best = i;
            best_len = j - i;
        }
        i = j;
    }
    if (best_len < 2)
        best = -1;
    char tmp[48];
    size_t n = 0;
    for (int i = 0; i < 8; i++) {
        if (i == best) {
            tmp[n++] = ':';
            tmp[n++] = ':';
            i += best_len - 1;
            continue;
        }
        if (n > 0 && tmp[n - 1] != ':')
            tmp[n++] = ':';
        n += (size_t)snprintf(tmp + n, sizeof(tmp) - n, "%x", g[i]);
    }
    tmp[n] = '\0';
    snprintf(buf, size, "%s", tmp);
    return buf;
}

char *ip_addr_str(const struct ip_addr *a, char *buf, unsigned size)
{
    if (!buf || size == 0)
        return buf;
    if (a->v == 4)
        return fmt_v4(a->a, buf, size);
    if (a->v == 6)
        return fmt_v6(a->a, buf, size);
    snprintf(buf, size, "-");
    return buf;
}

bool ip_addr_is_private(const struct ip_addr *a)
{
    const uint8_t *b = a->a;
    if (a->v == 4) {
        return b[0] == 10 ||                           /* 10/8 */
               (b[0] == 172 && (b[1] & 0xf0) == 16) || /* 172.16/12 */
               (b[0] == 192 && b[1] == 168) ||         /* 192.168/16 */
               (b[0] == 100 && (b[1] & 0xc0) == 64) || /* 100.64/10 CGNAT */
               b[0] == 127 ||                          /* 127/8 */
               (b[0] == 169 && b[1] == 254);           /* 169.254/16 */
    }
    if (a->v == 6) {
        static const uint8_t loop[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
        return (b[0] & 0xfe) == 0xfc ||                   /* fc00::/7 ULA */
               (b[0] == 0xfe && (b[1] & 0xc0) == 0x80) || /* fe80::/10 */
               memcmp(b, loop, 16) == 0;                  /* ::1 */
    }
    return false;
}

bool ip_addr_eq(const struct ip_addr *a, const struct ip_addr *b)
{
    return a->v == b->v && memcmp(a->a, b->a, a->v == 4 ? 4 : 16) == 0;
}
