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

/* The direction of mf sent by a (its key's endpoint a or b). */
static int mtu_dir_of(const struct session_model *m, const struct mtu_flow *mf, struct ip_addr a)
{
    for (uint32_t i = 0; i < table_slots(m->mtu); i++) {
        const struct flow_key *k;
        if (session_mtu_slot(m, i, &k) == mf)
            return ip_addr_eq(&k->a, &a) ? 0 : 1;
    }
    CHECK(!"record not in the table");
    return 0;
}

/* The directions of mf: a sent by from, b the other one. */
static void dirs_of(const struct session_model *m, const struct mtu_flow *mf, struct ip_addr from,
                    struct mtu_dir *a, struct mtu_dir *b)
{
    int d = mtu_dir_of(m, mf, from);
    session_mtu_dir(mf, d, a);
    session_mtu_dir(mf, !d, b);
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
    struct mtu_dir d0, d1;
    CHECK(mf != NULL);
    if (mf) {
        session_mtu_dir(mf, 0, &d0);
        session_mtu_dir(mf, 1, &d1);
        CHECK(d0.sizes == NULL && d1.sizes == NULL);
        CHECK_EQ(d0.n_sizes + d1.n_sizes, 0);
        CHECK_EQ(d0.small_sent + d1.small_sent, 10);
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
        int d = mtu_dir_of(&m, mf, c2);
        struct mtu_dir dv, other;
        session_mtu_dir(mf, d, &dv);
        session_mtu_dir(mf, !d, &other);
        const struct mtu_dir *dd = &dv;
        CHECK_EQ(dd->n_sizes, MTU_SIZES);
        CHECK_EQ(dd->sizes_cap, MTU_SIZES);
        CHECK_EQ(dd->sizes_dropped, 8); /* two sizes past the cap, 2 sends + 2 answers each */
        for (unsigned k = 0; dd->sizes && k < dd->n_sizes; k++) {
            CHECK_EQ(dd->sizes[k].len, 1000 + 10 * k);
            CHECK_EQ(dd->sizes[k].sent, 2);
            CHECK_EQ(dd->sizes[k].answered, 2);
            CHECK_EQ(dd->sizes[k].unanswered_df, 0);
        }
        CHECK(other.sizes == NULL); /* the answers are small */
    }
    session_model_free(&m); /* frees the size slots (the sanitizer build checks for leaks) */
}

/* A flow longer than the narrow form's ~71 minutes, one whose time steps back further than its
 * slack, and one whose frame numbers jump by more than 2^32: the records move to the full form
 * and every fact reads as it would have been counted in 64 bits. */
static void test_mtu_wide(void)
{
    struct session_model m;
    CHECK_EQ(session_model_init(&m, SIDE_SINGLE), 0);
    struct ip_addr s = A4(0xc6336401), c3 = A4(0x0a000003), c4 = A4(0x0a000004),
                   c5 = A4(0x0a000005);
    const uint64_t sec = 1000000ull, t0 = 1800000000ull * sec, h2 = 7200 * sec;
    /* c3: a large packet lost (the next one follows unanswered), an answer two hours later */
    uint64_t f1 = frame_no;
    esp(&m, c3, s, 1400, t0);
    esp(&m, c3, s, 1400, t0 + sec);
    const struct mtu_flow *mf = mtu_of(&m, c3, s);
    CHECK(mf != NULL);
    esp(&m, s, c3, 148, t0 + h2); /* 2^32 us after the first packet: the full form */
    esp(&m, c3, s, 120, t0 + h2 + sec);
    CHECK(mf != NULL && mf->ext != NULL);
    if (mf) {
        struct mtu_dir a, b;
        dirs_of(&m, mf, c3, &a, &b);
        CHECK_EQ(a.n, 3);
        CHECK_EQ(a.first_ts, t0);
        CHECK_EQ(a.last_ts, t0 + h2 + sec);
        CHECK_EQ(a.small_sent, 1);
        CHECK_EQ(a.first_large_loss_ts, t0);
        CHECK_EQ(a.answered_after_loss, 1);
        CHECK_EQ(a.lost_frames_total, 1);
        CHECK_EQ(a.n_lost_frames, 1);
        CHECK(a.lost_frames != NULL && a.lost_frames[0] == f1);
        CHECK_EQ(a.n_sizes, 1);
        if (a.sizes && a.n_sizes == 1) {
            CHECK_EQ(a.sizes[0].len, 1400);
            CHECK_EQ(a.sizes[0].sent, 2);
            CHECK_EQ(a.sizes[0].answered, 1);
            CHECK_EQ(a.sizes[0].unanswered_df, 1);
        }
        /* the silence of c3 while s sent: from its second packet to its third */
        CHECK_EQ(a.sil_start, t0 + sec);
        CHECK_EQ(a.sil_end, t0 + h2 + sec);
        CHECK_EQ(a.sil_end_frame, f1 + 3);
        CHECK_EQ(a.sil_other, 1);
        CHECK_EQ(a.first_since_other, t0 + h2 + sec);
        CHECK_EQ(b.n, 1);
        CHECK_EQ(b.first_ts, t0 + h2);
        CHECK_EQ(b.last_ts, t0 + h2);
        CHECK_EQ(b.first_since_other_frame, f1 + 2);
        CHECK_EQ(session_mtu_last_ts(mf), t0 + h2 + sec);
    }
    /* c4: the answer is stamped a minute before the request (merged captures) */
    esp(&m, c4, s, 120, t0);
    esp(&m, s, c4, 148, t0 - 60 * sec);
    esp(&m, c4, s, 120, t0 + sec);
    mf = mtu_of(&m, c4, s);
    CHECK(mf != NULL && mf->ext != NULL);
    if (mf) {
        struct mtu_dir a, b;
        dirs_of(&m, mf, c4, &a, &b);
        CHECK_EQ(b.first_ts, t0 - 60 * sec);
        CHECK_EQ(a.first_ts, t0);
        CHECK_EQ(a.last_ts, t0 + sec);
        CHECK_EQ(a.n, 2);
        CHECK_EQ(session_mtu_last_ts(mf), t0 + sec);
    }
    /* c5: a step back within the slack stays narrow; frame numbers jumping 5e9 do not */
    esp(&m, c5, s, 120, t0);
    esp(&m, s, c5, 148, t0 - 5 * sec);
    mf = mtu_of(&m, c5, s);
    CHECK(mf != NULL && mf->ext == NULL);
    frame_no += 5000000000ull;
    uint64_t fj = frame_no;
    esp(&m, c5, s, 120, t0 + sec);
    CHECK(mf != NULL && mf->ext != NULL);
    if (mf) {
        struct mtu_dir a, b;
        dirs_of(&m, mf, c5, &a, &b);
        /* the answer is stamped before c5's first packet: no packet since the other's latest */
        CHECK_EQ(a.first_since_other_frame, fj - 5000000000ull - 2);
        CHECK_EQ(b.first_ts, t0 - 5 * sec);
        CHECK_EQ(b.first_since_other_frame, fj - 5000000000ull - 1);
        CHECK_EQ(a.n + b.n, 3);
    }
    session_model_free(&m); /* frees the wide records' sizes (the sanitizer checks for leaks) */
}

/* Sizes kept in 16 bits (len - MTU_LARGE and the counts) move to full entries when a count passes
 * 65,535 or a length 65,535 + MTU_LARGE: every count reads exact, the record stays narrow. */
static void test_mtu_sizes_wide(void)
{
    struct session_model m;
    CHECK_EQ(session_model_init(&m, SIDE_SINGLE), 0);
    struct ip_addr s = A4(0xc6336401), c6 = A4(0x0a000006), c7 = A4(0x0a000007);
    uint64_t t = 1800000000ull * 1000000ull;
    esp(&m, c6, s, 700, t);
    esp(&m, s, c6, 148, t + 300);
    const uint32_t n = 65540;
    for (uint32_t i = 0; i < n; i++) {
        t += 1000;
        esp(&m, c6, s, 1400, t);
        esp(&m, s, c6, 148, t + 300);
    }
    const struct mtu_flow *mf = mtu_of(&m, c6, s);
    CHECK(mf != NULL && mf->ext == NULL); /* 65 s of flow: times still narrow */
    if (mf) {
        struct mtu_dir a;
        session_mtu_dir(mf, mtu_dir_of(&m, mf, c6), &a);
        CHECK_EQ(a.n_sizes, 2);
        CHECK_EQ(a.n, n + 1);
        for (unsigned k = 0; a.sizes && k < a.n_sizes; k++) {
            CHECK_EQ(a.sizes[k].len, k ? 1400 : 700);
            CHECK_EQ(a.sizes[k].sent, k ? n : 1);
            CHECK_EQ(a.sizes[k].answered, k ? n : 1);
            CHECK_EQ(a.sizes[k].unanswered_df, 0);
        }
    }
    /* a length past 16 bits (IPv6 jumbo-sized), then a small one: both kept as sent */
    esp(&m, c7, s, 70000, t);
    esp(&m, c7, s, 1000, t + 1000);
    mf = mtu_of(&m, c7, s);
    CHECK(mf != NULL);
    if (mf) {
        struct mtu_dir a;
        session_mtu_dir(mf, mtu_dir_of(&m, mf, c7), &a);
        CHECK_EQ(a.n_sizes, 2);
        if (a.sizes && a.n_sizes == 2) {
            CHECK_EQ(a.sizes[0].len, 70000);
            CHECK_EQ(a.sizes[0].sent, 1);
            CHECK_EQ(a.sizes[0].unanswered_df, 1); /* followed by another send, unanswered */
            CHECK_EQ(a.sizes[1].len, 1000);
            CHECK_EQ(a.sizes[1].sent, 1);
        }
    }
    session_model_free(&m);
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
    CHECK(mf != NULL);
    if (mf) {
        struct mtu_dir d0, d1;
        session_mtu_dir(mf, 0, &d0);
        session_mtu_dir(mf, 1, &d1);
        CHECK_EQ(d0.n_sizes + d1.n_sizes, 1);
    }
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
    test_mtu_wide();
    test_mtu_sizes_wide();
    test_labels();
    return t_done();
}
