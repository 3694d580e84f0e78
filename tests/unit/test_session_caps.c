/* test_session_caps.c - memory caps of the session model: two capture points share every table's
 * cap (session_model_init_share), the path-MTU record's packet sizes are allocated on demand and
 * freed with the record (also when the full table evicts it), evictions are counted; flows share
 * their nDPI labels (session_label). */
#include <stdlib.h>
#include <string.h>

#include "t.h"
#include "vpnscope/config.h"
#include "vpnscope/proto.h"
#include "vpnscope/session.h"
#include "vpnscope/session_tunnel.h"
#include "vpnscope/table.h"

static uint64_t frame_no = 1;

static struct ip_addr A4(uint32_t x) {
    struct ip_addr r;
    memset(&r, 0, sizeof(r));
    r.v = 4;
    r.a[0] = (uint8_t)(x >> 24), r.a[1] = (uint8_t)(x >> 16), r.a[2] = (uint8_t)(x >> 8);
    r.a[3] = (uint8_t)x;
    return r;
}

/* One ESP-in-UDP packet src:4500 -> dst:4500 of IP length len, through the real update path. */
static void
esp(struct session_model *m, struct ip_addr src, struct ip_addr dst, uint32_t len, uint64_t ts)
{
    struct pkt p;
    memset(&p, 0, sizeof(p));
    p.ts_us = ts;
    p.frame = frame_no++;
    p.ipver = 4;
    p.src = src;
    p.dst = dst;
    p.l4proto = IPP_UDP;
    p.has_ports = true;
    p.sport = p.dport = 4500;
    p.ip_len = len;
    p.df = true;
    p.vpn = VPN_ESP;
    p.esp_in_udp = true;
    p.esp.spi = 0x1000 + (uint32_t)(src.a[3]);
    p.esp.seq = (uint32_t)p.frame;
    p.status = PKT_DECODED;
    int dir = 0;
    struct flow *f = session_flow(m, &p, &dir);
    session_update(m, &p, f, dir);
}

static const struct mtu_flow *mtu_of(const struct session_model *m, struct ip_addr a,
                                     struct ip_addr b)
{
    const struct flow *f = session_flow_lookup(m, IPP_UDP, &a, 4500, &b, 4500);
    if (!f)
        return NULL;
    struct flow_key k;
    session_flow_key(m, f, &k);
    return session_mtu_of(m, &k);
}

static void test_caps_shared(void)
{
    struct session_model one, two;
    CHECK_EQ(session_model_init(&one, SIDE_SINGLE), 0);
    CHECK_EQ(session_model_init_share(&two, SIDE_INSIDE, 2), 0);
    CHECK_EQ(session_cap(&one, IKE_SA_MAX), IKE_SA_MAX);
    CHECK_EQ(session_cap(&two, IKE_SA_MAX), IKE_SA_MAX / 2);
    CHECK_EQ(session_cap(&two, 1), 1); /* never 0 */
    /* IKE SAs beyond the shared cap are evicted and counted; the single model keeps them all */
    uint32_t n = IKE_SA_MAX / 2 + 100;
    for (uint32_t i = 1; i <= n; i++) {
        struct ike_sa_key k;
        memset(&k, 0, sizeof(k));
        k.ispi = i;
        k.version = 2;
        CHECK(table_put(one.ike, &k, NULL) != NULL);
        CHECK(table_put(two.ike, &k, NULL) != NULL);
    }
    CHECK_EQ(table_count(one.ike), n);
    CHECK_EQ(table_evicted(one.ike), 0);
    CHECK_EQ(table_count(two.ike), IKE_SA_MAX / 2);
    CHECK_EQ(table_evicted(two.ike), 100);
    session_model_free(&one);
    session_model_free(&two);
}

static void test_mtu_sizes_on_demand(void)
{
    struct session_model m;
    CHECK_EQ(session_model_init(&m, SIDE_SINGLE), 0);
    struct ip_addr c = A4(0x0a000001), s = A4(0xc6336401), c2 = A4(0x0a000002);
    uint64_t t = 1800000000ull * 1000000ull;
    /* small packets only, answered: no size slots allocated */
    for (int i = 0; i < 5; i++) {
        esp(&m, c, s, 120, t);
        esp(&m, s, c, 148, t + 300);
        t += 100000;
    }
    const struct mtu_flow *mf = mtu_of(&m, c, s);
    CHECK(mf != NULL);
    if (mf) {
        CHECK(mf->d[0].sizes == NULL && mf->d[1].sizes == NULL);
        CHECK_EQ(mf->d[0].n_sizes + mf->d[1].n_sizes, 0);
        CHECK_EQ(mf->d[0].small_sent + mf->d[1].small_sent, 10);
    }
    /* another flow: MTU_SIZES + 2 distinct large sizes one way, each sent twice and answered */
    for (uint32_t k = 0; k < MTU_SIZES + 2; k++)
        for (int r = 0; r < 2; r++) {
            esp(&m, c2, s, 1000 + 10 * k, t);
            esp(&m, s, c2, 148, t + 300);
            t += 100000;
        }
    mf = mtu_of(&m, c2, s);
    CHECK(mf != NULL);
    if (mf) {
        int d = ip_addr_eq(&mf->k.a, &c2) ? 0 : 1; /* c2's direction */
        const struct mtu_dir *dd = &mf->d[d];
        CHECK_EQ(dd->n_sizes, MTU_SIZES);
        CHECK_EQ(dd->sizes_cap, MTU_SIZES);
        CHECK_EQ(dd->sizes_dropped, 8); /* two sizes past the cap, 2 sends + 2 answers each */
        for (unsigned k = 0; dd->sizes && k < dd->n_sizes; k++) {
            CHECK_EQ(dd->sizes[k].len, 1000 + 10 * k);
            CHECK_EQ(dd->sizes[k].sent, 2);
            CHECK_EQ(dd->sizes[k].answered, 2);
            CHECK_EQ(dd->sizes[k].unanswered_df, 0);
        }
        CHECK(mf->d[!d].sizes == NULL); /* the answers are small */
    }
    session_model_free(&m); /* frees the size slots (the sanitizer build checks for leaks) */
}

/* A full MTU table evicts (counted) and frees the evicted records' size slots. */
static void test_mtu_eviction(void)
{
    struct session_model m;
    CHECK_EQ(session_model_init_share(&m, SIDE_INSIDE, 2), 0);
    uint32_t cap = session_cap(&m, IPSEC_SA_MAX);
    struct ip_addr s = A4(0xc6336401);
    uint64_t t = 1800000000ull * 1000000ull;
    for (uint32_t i = 0; i < cap + 50; i++) {
        esp(&m, A4(0x0a100000 + i), s, 1400, t); /* one large packet per flow: slots allocated */
        t += 10;
    }
    CHECK_EQ(table_count(m.mtu), cap);
    CHECK_EQ(table_evicted(m.mtu), 50);
    CHECK(mtu_of(&m, A4(0x0a100000), s) == NULL); /* the oldest went first */
    const struct mtu_flow *mf = mtu_of(&m, A4(0x0a100000 + cap + 49), s);
    CHECK(mf != NULL && (mf->d[0].n_sizes + mf->d[1].n_sizes) == 1);
    session_model_free(&m);
}

/* A flow holds a shared label: one copy per distinct name, cut where the inline label was. */
static void test_labels(void)
{
    const char *a = session_label("WireGuard"), *b = session_label("TLS.Google");
    CHECK(a != NULL && b != NULL && a != b);
    CHECK(session_label("WireGuard") == a);
    CHECK_STR(a, "WireGuard");
    char longname[100];
    memset(longname, 'x', sizeof(longname) - 1);
    longname[sizeof(longname) - 1] = '\0';
    const char *l = session_label(longname);
    CHECK(l != NULL && strlen(l) == CLASSIFY_NAME_MAX_ - 1);
    CHECK(session_label(longname) == l);
    struct flow f;
    memset(&f, 0, sizeof(f));
    CHECK_STR(flow_app(&f), ""); /* not classified */
    f.app = a;
    CHECK_STR(flow_app(&f), "WireGuard");
}

int main(void)
{
    test_caps_shared();
    test_mtu_sizes_on_demand();
    test_mtu_eviction();
    test_labels();
    return t_done();
}
