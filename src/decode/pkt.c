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

/* Zeroes the members from `from` up to (not including) `to`. */
#define PKT_ZERO(p, from, to)                                                                      \
    memset((char *)(p) + offsetof(struct pkt, from), 0,                                            \
           offsetof(struct pkt, to) - offsetof(struct pkt, from))

/*
 * Everything from `status` to the end of the struct is per-decode state; the capture fields
 * before it survive. The IKE, PPTP and OpenVPN parts (608 of the 984 bytes) are cleared only when
 * a decoder wrote them (`dirty`): most packets are none of the three, and the ~1 KB memset per
 * packet was 2.5% of a capture's instructions (perf: 1.8% of its cycles). The result is the same
 * as one memset of everything from `status` on.
 */
void pkt_reset(struct pkt *p)
{
    uint8_t d = p->dirty;
    PKT_ZERO(p, status, ike);
    PKT_ZERO(p, esp, pptp);
    PKT_ZERO(p, l2tp, ovpn);
    memset((char *)p + offsetof(struct pkt, encap_depth), 0,
           sizeof(*p) - offsetof(struct pkt, encap_depth));
    if (d & PKT_DIRTY_IKE)
        memset(&p->ike, 0, sizeof(p->ike));
    if (d & PKT_DIRTY_PPTP)
        memset(&p->pptp, 0, sizeof(p->pptp));
    if (d & PKT_DIRTY_OVPN)
        memset(&p->ovpn, 0, sizeof(p->ovpn));
    p->dirty = 0;
}

/* Addresses are formatted by hand, not with snprintf: the report formats one per mapping,
 * session and sort key (about 30x faster). Same text and the same cut as snprintf: at most
 * size - 1 characters and a NUL. */
static char *put_text(char *buf, unsigned size, const char *t, unsigned n)
{
    if (n >= size)
        n = size - 1;
    memcpy(buf, t, n);
    buf[n] = '\0';
    return buf;
}

/* Decimal 0..255, no leading zeros. */
static unsigned put_u8(char *o, unsigned v)
{
    unsigned n = 0;
    if (v >= 100)
        o[n++] = (char)('0' + v / 100);
    if (v >= 10)
        o[n++] = (char)('0' + v / 10 % 10);
    o[n++] = (char)('0' + v % 10);
    return n;
}

static unsigned put_v4(char *o, const uint8_t *a)
{
    unsigned n = put_u8(o, a[0]);
    for (int i = 1; i < 4; i++) {
        o[n++] = '.';
        n += put_u8(o + n, a[i]);
    }
    return n;
}

/* Lowercase hex 0..0xffff, no leading zeros. */
static unsigned put_x16(char *o, unsigned v)
{
    static const char hex[] = "0123456789abcdef";
    unsigned n = 0;
    for (int sh = 12; sh > 0; sh -= 4)
        if (n || (v >> sh))
            o[n++] = hex[(v >> sh) & 15];
    o[n++] = hex[v & 15];
    return n;
}

static char *fmt_v4(const uint8_t *a, char *buf, unsigned size)
{
    char t[16];
    return put_text(buf, size, t, put_v4(t, a));
}

/* RFC 5952 §4: lowercase hex, no leading zeros, the longest run (>= 2) of zero groups becomes
 * "::" (the first on a tie); §5: IPv4-mapped addresses end in dotted quad. */
static char *fmt_v6(const uint8_t *a, char *buf, unsigned size)
{
    static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    char tmp[48];
    unsigned n = 0;
    if (memcmp(a, mapped, sizeof(mapped)) == 0) {
        memcpy(tmp, "::ffff:", 7);
        n = 7 + put_v4(tmp + 7, a + 12);
        return put_text(buf, size, tmp, n);
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
    for (int i = 0; i < 8; i++) {
        if (i == best) {
            tmp[n++] = ':';
            tmp[n++] = ':';
            i += best_len - 1;
            continue;
        }
        if (n > 0 && tmp[n - 1] != ':')
            tmp[n++] = ':';
        n += put_x16(tmp + n, g[i]);
    }
    return put_text(buf, size, tmp, n);
}

char *ip_addr_str(const struct ip_addr *a, char *buf, unsigned size)
{
    if (!buf || size == 0)
        return buf;
    if (a->v == 4)
        return fmt_v4(a->a, buf, size);
    if (a->v == 6)
        return fmt_v6(a->a, buf, size);
    return put_text(buf, size, "-", 1);
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

/* pkt_reset's ranges cover every byte from `status` on */
_Static_assert(offsetof(struct pkt, esp) == offsetof(struct pkt, ike) + sizeof(struct ike_msg),
               "ike is followed by esp");
_Static_assert(offsetof(struct pkt, l2tp) == offsetof(struct pkt, pptp) + sizeof(struct pptp_msg),
               "pptp is followed by l2tp");
_Static_assert(offsetof(struct pkt, encap_depth) ==
                   offsetof(struct pkt, ovpn) + sizeof(struct ovpn_msg),
               "ovpn is followed by encap_depth");
