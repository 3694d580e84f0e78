/* test_detect.c - every detector on hand-built session models: one positive and look-alikes that
 * must stay silent (thresholds, rekeys, NAT-T, keepalive-held mappings, SKF, PPTP helper...). */
#include <stdlib.h>
#include <string.h>

#include "t.h"
#include "vpnscope/config.h"
#include "vpnscope/detect.h"
#include "vpnscope/proto.h"
#include "vpnscope/session.h"
#include "vpnscope/table.h"

#define S(x) ((uint64_t)(x)*1000000ull)
#define T0 S(1800000000)

static struct ip_addr A(uint8_t a, uint8_t b, uint8_t c, uint8_t d) {
    struct ip_addr r;
    memset(&r, 0, sizeof(r));
    r.v = 4;
    r.a[0] = a, r.a[1] = b, r.a[2] = c, r.a[3] = d;
    return r;
}

static struct ip_addr C1,
    C2, SRV, SRV2, NAT, PUB1;

static struct session_model *model(uint8_t side)
{
    struct session_model *m = malloc(sizeof(*m));
    if (!m || session_model_init(m, side) != 0)
        abort();
    return m;
}

static void model_free(struct session_model *m)
{
    session_model_free(m);
    free(m);
}

static uint64_t frame_no = 1;

static struct ipsec_sa *sa_add(struct session_model *m, struct ip_addr src, struct ip_addr dst,
                               uint32_t spi, uint8_t proto, uint16_t sport, uint16_t dport,
                               uint64_t pkts, uint64_t t1, uint64_t t2)
{
    struct ipsec_sa_key k;
    memset(&k, 0, sizeof(k));
    k.src = src;
    k.dst = dst;
    k.spi = spi;
    k.proto = proto;
    k.sport = sport;
    k.dport = dport;
    k.encap = sport || dport;
    struct ipsec_sa *sa = table_put(m->ipsec, &k, NULL);
    sa->k = k;
    sa->packets = pkts;
    sa->first_seq = 1;
    sa->last_seq = (uint32_t)pkts;
    sa->first_ts = t1;
    sa->last_ts = t2;
    sa->first_frame = frame_no++;
    sa->last_frame = frame_no++;
    if (t2 > m->c.last_ts)
        m->c.last_ts = t2;
    if (!m->c.first_ts || t1 < m->c.first_ts)
        m->c.first_ts = t1;
    return sa;
}

static struct ike_sa *ike_add(struct session_model *m, uint64_t ispi, struct ip_addr i, uint16_t ip,
                              struct ip_addr r, uint16_t rp, uint64_t t1, uint64_t t2)
{
    struct ike_sa_key k;
    memset(&k, 0, sizeof(k));
    k.ispi = ispi;
    k.version = 2;
    struct ike_sa *sa = table_put(m->ike, &k, NULL);
    sa->ispi = ispi;
    sa->rspi = ispi ^ 0xffff;
    sa->version = 2;
    sa->initiator.ip = i;
    sa->initiator.port = ip;
    sa->responder.ip = r;
    sa->responder.port = rp;
    sa->first_ts = t1;
    sa->last_ts = t2;
    sa->packets = 4;
    sa->pkts_from_init = 2;
    sa->pkts_from_resp = 2;
    sa->first_frame = frame_no++;
    sa->n_exch = 1;
    sa->exch_type[0] = 34;
    sa->exch_count[0] = 2;
    return sa;
}

static struct flow *flow_add(struct session_model *m, struct ip_addr a, uint16_t pa,
                             struct ip_addr b, uint16_t pb, uint8_t proto, uint64_t t1, uint64_t t2)
{
    /* the canonical key of session_flow(): (a,pa) < (b,pb), so session_flow_lookup finds it */
    struct flow_key k;
    memset(&k, 0, sizeof(k));
    int c = memcmp(&a, &b, sizeof(a));
    if (c < 0 || (c == 0 && pa <= pb))
        k.a = a, k.pa = pa, k.b = b, k.pb = pb;
    else
        k.a = b, k.pa = pb, k.b = a, k.pb = pa;
    k.proto = proto;
    struct flow *f = table_put(m->flows, &k, NULL);
    f->rev = !(c < 0 || (c == 0 && pa <= pb)); /* (a,pa) sent first */
    f->proto = proto;
    f->pkts[0] = f->pkts[1] = 10;
    f->first_ts = t1;
    f->last_ts = t2;
    f->act_last_us = t2;
    return f;
}

static void gap_add(struct idle_gaps *a, uint64_t s, uint64_t e)
{
    a->gaps[a->n_gaps].start_us = s;
    a->gaps[a->n_gaps].end_us = e;
    a->gaps[a->n_gaps].frame_after = frame_no++;
    a->n_gaps++;
}

static void finish(struct session_model *m)
{
    session_finish(m);
}

static struct nat_timeouts TO = {NAT_UDP_TIMEOUT, NAT_UDP_STREAM_TIMEOUT, NAT_TCP_TIMEOUT,
                                 NAT_GRE_TIMEOUT, NAT_OTHER_TIMEOUT};

/* A one-capture context over m writing into out. */
static struct detect_ctx ctx_single(struct session_model *m, struct finding_list *out)
{
    struct detect_ctx c;
    memset(&c, 0, sizeof(c));
    c.single = m;
    c.to = TO;
    c.out = out;
    return c;
}

/* Runs every detector on one model into a fresh list. */
static struct finding_list run_all(struct session_model *m)
{
    struct finding_list fl = {0};
    struct detect_ctx c = ctx_single(m, &fl);
    detect_run(&c);
    return fl;
}

/* Copies of the findings handed out by run1/run2: a finding owns its evidence and frames, so the
 * copy outlives the list it came from (kept until exit). */
static struct finding_list kept;

static void hand_out(const struct finding *f, struct finding *out)
{
    struct finding_list one = {.n = 1, .cap = 1, .v = (struct finding *)f};
    if (!finding_list_append(&kept, &one))
        abort();
    *out = kept.v[kept.n - 1];
}

/* Runs all detectors on one model; returns how many findings of kind (and the first in *out). */
static unsigned run1(struct session_model *m, unsigned kind, struct finding *out)
{
    struct finding_list fl = run_all(m);
    unsigned n = 0;
    for (size_t i = 0; i < fl.n; i++)
        if (fl.v[i].kind == kind) {
            if (!n && out)
                hand_out(&fl.v[i], out);
            n++;
        }
    finding_list_free(&fl);
    return n;
}

static unsigned run2(struct session_model *in, struct session_model *outm, struct nat_result *r,
                     unsigned kind, struct finding *out)
{
    struct finding_list fl = {0};
    struct detect_ctx c;
    memset(&c, 0, sizeof(c));
    c.inside = in;
    c.outside = outm;
    c.nat = r;
    c.to = TO;
    c.out = &fl;
    detect_run(&c);
    unsigned n = 0;
    for (size_t i = 0; i < fl.n; i++)
        if (fl.v[i].kind == kind) {
            if (!n && out)
                hand_out(&fl.v[i], out);
            n++;
        }
    finding_list_free(&fl);
    return n;
}

static bool has_client(const struct finding *f, struct ip_addr ip, const char *note_part)
{
    for (unsigned i = 0; i < f->n_sessions; i++)
        if (f->sessions[i].role == ROLE_CLIENT && !memcmp(&f->sessions[i].ip, &ip, sizeof(ip)))
            return !note_part || strstr(f->sessions[i].note, note_part);
    return false;
}

/* ---- esp_collision ---- */
static void test_esp_collision(void)
{
    struct finding f;
    /* inside: two clients, one server, return ESP on two SPIs to C1 only */
    struct session_model *m = model(SIDE_SINGLE);
    sa_add(m, C1, SRV, 0xa001, 50, 0, 0, 10, T0 + S(1), T0 + S(4));
    sa_add(m, SRV, C1, 0xb001, 50, 0, 0, 10, T0 + S(1), T0 + S(4));
    sa_add(m, SRV, C1, 0xb002, 50, 0, 0, 10, T0 + S(1) + 200000, T0 + S(4));
    sa_add(m, C2, SRV, 0xa002, 50, 0, 0, 10, T0 + S(1) + 300000, T0 + S(4));
    finish(m);
    CHECK_EQ(run1(m, FINDING_ESP_COLLISION, &f), 1);
    CHECK(f.confirmed);
    CHECK_EQ(f.sev, SEV_ERROR);
    CHECK(has_client(&f, C1, "receives all"));
    CHECK(has_client(&f, C2, "no return"));
    CHECK(strstr(f.summary, "192.168.1.12") != NULL);
    CHECK_EQ(f.ts_us, T0 + S(1) + 300000);
    CHECK_EQ(run1(m, FINDING_ESP_ONE_WAY, NULL), 0); /* the collision explains C2's one-way SA */
    model_free(m);

    /* too few packets from the starved client: silent */
    m = model(SIDE_SINGLE);
    sa_add(m, C1, SRV, 0xa001, 50, 0, 0, 10, T0 + S(1), T0 + S(4));
    sa_add(m, SRV, C1, 0xb001, 50, 0, 0, 10, T0 + S(1), T0 + S(4));
    sa_add(m, C2, SRV, 0xa002, 50, 0, 0, 2, T0 + S(3), T0 + S(4));
    finish(m);
    CHECK_EQ(run1(m, FINDING_ESP_COLLISION, NULL), 0);
    model_free(m);

    /* look-alike: two clients, two servers */
    m = model(SIDE_SINGLE);
    sa_add(m, C1, SRV, 0xa001, 50, 0, 0, 10, T0 + S(1), T0 + S(4));
    sa_add(m, SRV, C1, 0xb001, 50, 0, 0, 10, T0 + S(1), T0 + S(4));
    sa_add(m, C2, SRV2, 0xa002, 50, 0, 0, 10, T0 + S(1), T0 + S(4));
    sa_add(m, SRV2, C2, 0xb002, 50, 0, 0, 10, T0 + S(1), T0 + S(4));
    finish(m);
    CHECK_EQ(run1(m, FINDING_ESP_COLLISION, NULL), 0);
    model_free(m);

    /* look-alike: NAT-T (ESP in UDP), two clients, one server, return to one (others' are
     * elsewhere) */
    m = model(SIDE_SINGLE);
    sa_add(m, C1, SRV, 0xa001, 50, 4500, 4500, 10, T0 + S(1), T0 + S(4));
    sa_add(m, SRV, C1, 0xb001, 50, 4500, 4500, 10, T0 + S(1), T0 + S(4));
    sa_add(m, C2, SRV, 0xa002, 50, 4500, 4500, 10, T0 + S(1), T0 + S(4));
    finish(m);
    CHECK_EQ(run1(m, FINDING_ESP_COLLISION, NULL), 0);
    model_free(m);

    /* outside: one address, one server, two inbound SPIs at once, one outbound */
    m = model(SIDE_OUTSIDE);
    sa_add(m, NAT, SRV, 0xa001, 50, 0, 0, 10, T0 + S(1), T0 + S(4));
    sa_add(m, SRV, NAT, 0xb001, 50, 0, 0, 10, T0 + S(1), T0 + S(4));
    sa_add(m, SRV, NAT, 0xb002, 50, 0, 0, 10, T0 + S(1) + 200000, T0 + S(4));
    finish(m);
    CHECK_EQ(run1(m, FINDING_ESP_COLLISION, &f), 1);
    CHECK(!f.confirmed);
    model_free(m);

    /* outside look-alike: one client rekeying (sequential SPIs both ways, short overlap) */
    m = model(SIDE_OUTSIDE);
    sa_add(m, NAT, SRV, 0xa001, 50, 0, 0, 100, T0 + S(1), T0 + S(100));
    sa_add(m, SRV, NAT, 0xb001, 50, 0, 0, 100, T0 + S(1), T0 + S(102));
    sa_add(m, NAT, SRV, 0xa011, 50, 0, 0, 100, T0 + S(99), T0 + S(200));
    sa_add(m, SRV, NAT, 0xb011, 50, 0, 0, 100, T0 + S(98), T0 + S(200));
    ike_add(m, 0x1111, NAT, 500, SRV, 500, T0, T0 + S(200));
    finish(m);
    CHECK_EQ(run1(m, FINDING_ESP_COLLISION, NULL), 0);
    /* ... but two IKE SAs from different ports of that address at once: suspected */
    ike_add(m, 0x2222, NAT, 438, SRV, 500, T0 + S(2), T0 + S(200));
    finish(m); /* detectors read the address-pair indexes: rebuild them, as the live UI does */
    CHECK_EQ(run1(m, FINDING_ESP_COLLISION, NULL), 1);
    model_free(m);

    /* outside look-alike: one client re-initiating IKE from a new port after the NAT lost its
     * state (its SAs succeed each other): the same SPIs going on, or new SPIs after a pause */
    for (int fresh = 0; fresh < 2; fresh++) {
        m = model(SIDE_OUTSIDE);
        sa_add(m, NAT, SRV, 0xa003, 50, 0, 0, 5, T0 + S(1), fresh ? T0 + S(9) : T0 + S(30));
        sa_add(m, SRV, NAT, 0xb003, 50, 0, 0, 72, T0 + S(1), fresh ? T0 + S(11) : T0 + S(30));
        if (fresh) {
            sa_add(m, NAT, SRV, 0xa013, 50, 0, 0, 5, T0 + S(13), T0 + S(30));
            sa_add(m, SRV, NAT, 0xb013, 50, 0, 0, 20, T0 + S(13), T0 + S(30));
        }
        ike_add(m, 0x3131, NAT, 176, SRV, 500, T0, T0 + 300000);
        ike_add(m, 0x3132, NAT, 90, SRV, 500, T0 + S(12), T0 + S(12) + 300000);
        finish(m);
        CHECK_EQ(run1(m, FINDING_ESP_COLLISION, NULL), 0);
        model_free(m);
    }
    /* ... not when the earlier port's IKE SA is still active after the new port began */
    m = model(SIDE_OUTSIDE);
    sa_add(m, NAT, SRV, 0xa003, 50, 0, 0, 5, T0 + S(1), T0 + S(30));
    sa_add(m, SRV, NAT, 0xb003, 50, 0, 0, 72, T0 + S(1), T0 + S(30));
    ike_add(m, 0x3131, NAT, 176, SRV, 500, T0, T0 + S(20));
    ike_add(m, 0x3132, NAT, 90, SRV, 500, T0 + S(12), T0 + S(12) + 300000);
    finish(m);
    CHECK_EQ(run1(m, FINDING_ESP_COLLISION, &f), 1);
    CHECK(strstr(f.summary, "2 IKE SAs come from 203.0.113.1 on different ports (176, 90)") ||
          strstr(f.summary, "2 IKE SAs come from 203.0.113.1 on different ports (90, 176)"));
    model_free(m);
    /* ... nor when two clients set up one after the other before any ESP ran (the router passes
     * only the first one's ESP, the server sends on one SPI) */
    m = model(SIDE_OUTSIDE);
    sa_add(m, NAT, SRV, 0xa001, 50, 0, 0, 10, T0 + S(1), T0 + S(4));
    sa_add(m, SRV, NAT, 0xb001, 50, 0, 0, 10, T0 + S(1), T0 + S(4));
    ike_add(m, 0x1111, NAT, 500, SRV, 500, T0, T0 + 1000);
    ike_add(m, 0x1212, NAT, 159, SRV, 500, T0 + 230000, T0 + 231000);
    finish(m);
    CHECK_EQ(run1(m, FINDING_ESP_COLLISION, NULL), 1);
    model_free(m);

    /* two captures: C2's ESP dropped inside-only; return to C1 */
    struct session_model *in = model(SIDE_INSIDE), *out = model(SIDE_OUTSIDE);
    sa_add(in, C1, SRV, 0xa001, 50, 0, 0, 10, T0 + S(1), T0 + S(4));
    sa_add(in, SRV, C1, 0xb001, 50, 0, 0, 10, T0 + S(1), T0 + S(4));
    sa_add(in, SRV, C1, 0xb002, 50, 0, 0, 10, T0 + S(1), T0 + S(4));
    sa_add(in, C2, SRV, 0xa002, 50, 0, 0, 10, T0 + S(2), T0 + S(4));
    sa_add(out, NAT, SRV, 0xa001, 50, 0, 0, 10, T0 + S(1), T0 + S(4));
    sa_add(out, SRV, NAT, 0xb001, 50, 0, 0, 10, T0 + S(1), T0 + S(4));
    sa_add(out, SRV, NAT, 0xb002, 50, 0, 0, 10, T0 + S(1), T0 + S(4));
    finish(in);
    finish(out);
    struct nat_result r;
    memset(&r, 0, sizeof(r));
    struct nat_mapping mp;
    memset(&mp, 0, sizeof(mp));
    mp.proto = 50;
    mp.inside.ip = C1;
    mp.outside.ip = NAT;
    mp.peer.ip = SRV;
    mp.translated = true;
    r.map = &mp;
    r.n_map = 1;
    struct nat_unmatched un;
    memset(&un, 0, sizeof(un));
    un.side = SIDE_INSIDE;
    un.direction = 0;
    un.proto = 50;
    un.src = C2;
    un.dst = SRV;
    un.packets = 10;
    un.nframes = 2;
    un.frames[0] = 7;
    un.frames[1] = 9;
    un.mapping = -1;
    r.unm = &un;
    r.n_unm = 1;
    r.nat_addrs[0] = NAT;
    r.n_nat_addrs = 1;
    CHECK_EQ(run2(in, out, &r, FINDING_ESP_COLLISION, &f), 1);
    CHECK(f.confirmed);
    CHECK(has_client(&f, C2, "dropped"));
    CHECK(strstr(f.summary, "203.0.113.1") != NULL);
    CHECK(strstr(f.summary, "never left the router") != NULL);
    model_free(in);
    model_free(out);
}

/* ---- stale_nat ---- */
static void test_stale_nat(void)
{
    struct finding f;
    struct session_model *in = model(SIDE_INSIDE), *out = model(SIDE_OUTSIDE);
    struct flow *fl = flow_add(in, C1, 4500, SRV, 4500, 17, T0, T0 + S(25));
    struct activity *a = calloc(1, sizeof(*a)); /* owned by the model's flow table from here on */
    if (!a)
        abort();
    fl->act = &a->idle; /* gaps and keepalives: the whole activity */
    fl->act_ka = true;
    a->last_us = fl->act_last_us;
    gap_add(&a->idle, T0 + S(4), T0 + S(22));
    a->ka_count = 3;
    a->ka_ivl_sum_us = S(4);
    a->ka_ivl_n = 2;
    a->ka_last_us = T0 + S(3);
    flow_add(out, NAT, 4500, SRV, 4500, 17, T0, T0 + S(25));
    finish(in);
    finish(out);
    struct nat_result r;
    memset(&r, 0, sizeof(r));
    struct nat_mapping mp;
    memset(&mp, 0, sizeof(mp));
    mp.proto = 17;
    mp.inside.ip = C1, mp.inside.has_port = true, mp.inside.port = 4500;
    mp.outside.ip = NAT, mp.outside.has_port = true, mp.outside.port = 4500;
    mp.peer.ip = SRV, mp.peer.has_port = true, mp.peer.port = 4500;
    mp.translated = true;
    mp.to_peer_inside = mp.to_peer_outside = 15;
    mp.from_peer_inside = 15, mp.from_peer_outside = 18;
    mp.first_ts = T0, mp.last_ts = T0 + S(25);
    r.map = &mp;
    r.n_map = 1;
    struct nat_unmatched un;
    memset(&un, 0, sizeof(un));
    un.side = SIDE_OUTSIDE;
    un.direction = 1;
    un.proto = 17;
    un.src = SRV, un.dst = NAT;
    un.has_ports = true, un.sport = 4500, un.dport = 4500;
    un.has_spi = true, un.spi = 0xb001;
    un.packets = 3;
    un.first_ts = T0 + S(17), un.last_ts = T0 + S(18);
    un.nframes = 1, un.frames[0] = 40;
    un.mapping = 0;
    r.unm = &un;
    r.n_unm = 1;
    CHECK_EQ(run2(in, out, &r, FINDING_STALE_NAT, &f), 1);
    CHECK(f.confirmed);
    CHECK(strstr(f.summary, "13.0 s") != NULL);
    CHECK(has_client(&f, C1, NULL));
    CHECK_EQ(f.ts_us, T0 + S(17));
    /* look-alike: the drop happened while the tunnel was busy (no idle): not stale */
    un.first_ts = T0 + S(2), un.last_ts = T0 + S(3);
    CHECK_EQ(run2(in, out, &r, FINDING_STALE_NAT, NULL), 0);
    /* new outside port after the idle gap */
    un.packets = 0;
    r.n_unm = 0;
    struct nat_mapping mps[2] = {mp, mp};
    mps[0].last_ts = T0 + S(4);
    mps[1].first_ts = T0 + S(22);
    mps[1].outside.port = 1024;
    r.map = mps;
    r.n_map = 2;
    CHECK_EQ(run2(in, out, &r, FINDING_STALE_NAT, &f), 1);
    CHECK(strstr(f.summary, "new outside port 1024") != NULL);
    model_free(in);
    model_free(out);

    /* one capture: same SPI continues from a new port after 18 s */
    struct session_model *m = model(SIDE_OUTSIDE);
    sa_add(m, NAT, SRV, 0xa001, 50, 4500, 4500, 10, T0 + S(1), T0 + S(4));
    sa_add(m, SRV, NAT, 0xb001, 50, 4500, 4500, 10, T0 + S(1), T0 + S(4));
    sa_add(m, NAT, SRV, 0xa001, 50, 1024, 4500, 5, T0 + S(22), T0 + S(24));
    sa_add(m, SRV, NAT, 0xb001, 50, 4500, 1024, 5, T0 + S(22), T0 + S(24));
    finish(m);
    CHECK_EQ(run1(m, FINDING_STALE_NAT, &f), 1);
    CHECK(strstr(f.summary, "port 1024") != NULL);
    model_free(m);

    /* look-alike: idle ESP but keepalives held the mapping, same port throughout */
    m = model(SIDE_OUTSIDE);
    sa_add(m, NAT, SRV, 0xa001, 50, 4500, 4500, 10, T0 + S(1), T0 + S(4));
    sa_add(m, SRV, NAT, 0xb001, 50, 4500, 4500, 10, T0 + S(1), T0 + S(4));
    struct ipsec_sa *sa = sa_add(m, NAT, SRV, 0xa002, 50, 4500, 4500, 15, T0 + S(1), T0 + S(300));
    sa->act = calloc(1, sizeof(*sa->act)); /* owned by the model's SA table from here on */
    if (!sa->act)
        abort();
    gap_add(sa->act, T0 + S(4), T0 + S(290));
    flow_add(m, NAT, 4500, SRV, 4500, 17, T0, T0 + S(300));
    finish(m);
    CHECK_EQ(run1(m, FINDING_STALE_NAT, NULL), 0);
    model_free(m);
}

/* ---- fragments ---- */
static struct fragdg *dg_add(struct session_model *m, struct ip_addr s, struct ip_addr d,
                             uint32_t id, bool ooo, bool complete, uint64_t t)
{
    if (m->n_fragdg >= m->cap_fragdg) { /* the model grows this list on demand */
        uint32_t nc = m->cap_fragdg ? m->cap_fragdg * 2 : 16;
        struct fragdg *nv = realloc(m->fragdg, sizeof(*nv) * nc);
        if (!nv)
            abort();
        m->fragdg = nv;
        m->cap_fragdg = nc;
    }
    struct fragdg *g = &m->fragdg[m->n_fragdg++];
    memset(g, 0, sizeof(*g));
    g->src = s, g->dst = d, g->proto = 17, g->sport = 4500, g->dport = 4500, g->id = id;
    g->nfrags = 3, g->complete = complete, g->out_of_order = ooo;
    g->first_ts = t, g->last_ts = t + 1000;
    g->nframes = 2, g->frames[0] = frame_no++, g->frames[1] = frame_no++;
    if (t + 1000 > m->c.last_ts)
        m->c.last_ts = t + S(5);
    return g;
}

static void test_frag(void)
{
    struct finding f;
    struct session_model *m = model(SIDE_SINGLE);
    for (int i = 0; i < 4; i++)
        dg_add(m, C1, SRV, 0x4101 + i, true, true, T0 + S(1 + i));
    finish(m);
    CHECK_EQ(run1(m, FINDING_FRAGMENT_REORDER, &f), 1);
    CHECK(strstr(f.summary, "4 of 4") != NULL);
    CHECK_EQ(run1(m, FINDING_FRAGMENT_LOSS, NULL), 0);
    model_free(m);

    m = model(SIDE_SINGLE);
    for (int i = 0; i < 4; i++)
        dg_add(m, C1, SRV, 0x4101 + i, false, i != 2, T0 + S(1 + i));
    finish(m);
    CHECK_EQ(run1(m, FINDING_FRAGMENT_REORDER, NULL), 0);
    CHECK_EQ(run1(m, FINDING_FRAGMENT_LOSS, &f), 1);
    CHECK(strstr(f.summary, "1 never completed") != NULL);
    model_free(m);

    /* look-alike: in order, complete */
    m = model(SIDE_SINGLE);
    for (int i = 0; i < 4; i++)
        dg_add(m, C1, SRV, 0x4101 + i, false, true, T0 + S(1 + i));
    finish(m);
    CHECK_EQ(run1(m, FINDING_FRAGMENT_REORDER, NULL) + run1(m, FINDING_FRAGMENT_LOSS, NULL), 0);
    model_free(m);

    /* two captures: out of order inside, reassembled and in order outside -> not the router's fault
     */
    struct session_model *in = model(SIDE_INSIDE), *out = model(SIDE_OUTSIDE);
    for (int i = 0; i < 3; i++) {
        dg_add(in, C1, SRV, 0x4101 + i, true, true, T0 + S(1 + i));
        dg_add(out, NAT, SRV, 0x4101 + i, false, true, T0 + S(1 + i) + 500);
    }
    dg_add(in, C1, SRV, 0x4110, false, true, T0 + S(6));
    finish(in);
    finish(out);
    struct nat_result r;
    memset(&r, 0, sizeof(r));
    r.nat_addrs[0] = NAT;
    r.n_nat_addrs = 1;
    CHECK_EQ(run2(in, out, &r, FINDING_FRAGMENT_REORDER, &f), 1);
    CHECK(strstr(f.summary, "crossed the router intact") != NULL);
    CHECK(strstr(f.remedy, "Nothing to change on the router") != NULL);
    CHECK_EQ(run2(in, out, &r, FINDING_FRAGMENT_LOSS, &f), 1); /* 0x4110 never crossed */
    CHECK(strstr(f.summary, "never appeared on the other side") != NULL);
    model_free(in);
    model_free(out);
}

/* ---- ah_nat ---- */
static void test_ah(void)
{
    struct finding f;
    struct session_model *m = model(SIDE_SINGLE);
    sa_add(m, C1, SRV, 0xc001, 51, 0, 0, 10, T0 + S(1), T0 + S(4));
    sa_add(m, SRV, C1, 0xd001, 51, 0, 0, 10, T0 + S(1), T0 + S(4));
    finish(m);
    CHECK_EQ(run1(m, FINDING_AH_NAT, &f), 1);
    CHECK(!f.confirmed);
    model_free(m);
    /* routed: public to public */
    m = model(SIDE_SINGLE);
    sa_add(m, PUB1, SRV, 0xc001, 51, 0, 0, 10, T0 + S(1), T0 + S(4));
    sa_add(m, SRV, PUB1, 0xd001, 51, 0, 0, 10, T0 + S(1), T0 + S(4));
    finish(m);
    CHECK_EQ(run1(m, FINDING_AH_NAT, NULL), 0);
    model_free(m);
    /* two captures: translated vs untranslated */
    struct session_model *in = model(SIDE_INSIDE), *out = model(SIDE_OUTSIDE);
    sa_add(in, C1, SRV, 0xc001, 51, 0, 0, 10, T0 + S(1), T0 + S(4));
    sa_add(out, NAT, SRV, 0xc001, 51, 0, 0, 10, T0 + S(1), T0 + S(4));
    finish(in);
    finish(out);
    struct nat_result r;
    memset(&r, 0, sizeof(r));
    CHECK_EQ(run2(in, out, &r, FINDING_AH_NAT, &f), 1);
    CHECK(f.confirmed);
    CHECK(strstr(f.summary, "203.0.113.1") != NULL);
    model_free(in);
    model_free(out);
    in = model(SIDE_INSIDE), out = model(SIDE_OUTSIDE);
    sa_add(in, PUB1, SRV, 0xc001, 51, 0, 0, 10, T0 + S(1), T0 + S(4));
    sa_add(out, PUB1, SRV, 0xc001, 51, 0, 0, 10, T0 + S(1), T0 + S(4));
    finish(in);
    finish(out);
    CHECK_EQ(run2(in, out, &r, FINDING_AH_NAT, NULL), 0);
    model_free(in);
    model_free(out);
}

/* ---- natt_not_used ---- */
static void test_natt_not_used(void)
{
    struct finding f;
    struct session_model *m = model(SIDE_SINGLE);
    struct ike_sa *ik = ike_add(m, 0xc111, C1, 500, SRV, 500, T0, T0 + S(1));
    ik->natd.present = true;
    ik->natd.nat_initiator = 1;
    ik->natd.nat_responder = 0;
    ik->natd.forced_encap = 0;
    sa_add(m, C1, SRV, 0xa001, 50, 0, 0, 10, T0 + S(1), T0 + S(4));
    sa_add(m, SRV, C1, 0xb001, 50, 0, 0, 10, T0 + S(1), T0 + S(4));
    finish(m);
    CHECK_EQ(run1(m, FINDING_NATT_NOT_USED, &f), 1);
    CHECK(has_client(&f, C1, NULL));
    /* forced encapsulation is not a NAT */
    ((struct ike_sa *)table_get(m->ike, &(struct ike_sa_key){.ispi = 0xc111, .version = 2}, false))
        ->natd.forced_encap = 1;
    CHECK_EQ(run1(m, FINDING_NATT_NOT_USED, NULL), 0);
    model_free(m);
    /* NAT-D says no NAT (routed) */
    m = model(SIDE_SINGLE);
    ik = ike_add(m, 0xc111, PUB1, 500, SRV, 500, T0, T0 + S(1));
    ik->natd.present = true;
    ik->natd.nat_initiator = 0;
    ik->natd.nat_responder = 0;
    sa_add(m, PUB1, SRV, 0xa001, 50, 0, 0, 10, T0 + S(1), T0 + S(4));
    finish(m);
    CHECK_EQ(run1(m, FINDING_NATT_NOT_USED, NULL), 0);
    model_free(m);
    /* NAT-T used: ESP in UDP, IKE on 4500 */
    m = model(SIDE_SINGLE);
    ik = ike_add(m, 0xc111, C1, 500, SRV, 500, T0, T0 + S(1));
    ik->natd.present = true;
    ik->natd.nat_initiator = 1;
    ik->nat_t = true;
    ik->natt_initiator.ip = C1, ik->natt_initiator.port = 4500;
    ik->natt_responder.ip = SRV, ik->natt_responder.port = 4500;
    ik->exch_type[1] = 35, ik->exch_count[1] = 2, ik->n_exch = 2;
    sa_add(m, C1, SRV, 0xa001, 50, 4500, 4500, 10, T0 + S(1), T0 + S(4));
    finish(m);
    CHECK_EQ(run1(m, FINDING_NATT_NOT_USED, NULL), 0);
    /* IKE_AUTH stays on 500 */
    ik = table_get(m->ike, &(struct ike_sa_key){.ispi = 0xc111, .version = 2}, false);
    ik->nat_t = false;
    CHECK_EQ(run1(m, FINDING_NATT_NOT_USED, NULL), 1);
    model_free(m);
}

/* ---- IKE ---- */
static void test_ike(void)
{
    struct finding f;
    struct session_model *m = model(SIDE_SINGLE);
    struct ike_sa *ik = ike_add(m, 0xc111, C1, 500, SRV, 500, T0, T0 + S(7));
    ik->rspi = 0;
    ik->pkts_from_resp = 0;
    ik->max_unanswered_sends = 4;
    ik->unanswered_first_ts = T0;
    ik->unanswered_last_ts = T0 + S(7);
    ik->unanswered_nframes = 4;
    ik->frames = calloc(1, sizeof(*ik->frames)); /* freed with the model */
    CHECK(ik->frames != NULL);
    for (int i = 0; ik->frames && i < 4; i++)
        ik->frames->unanswered[i] = (uint64_t)i + 1;
    finish(m);
    CHECK_EQ(run1(m, FINDING_IKE_NO_RESPONSE, &f), 1);
    CHECK(strstr(f.summary, "4 times") != NULL);
    CHECK(strstr(f.summary, "IKE_SA_INIT") != NULL);
    CHECK_EQ(f.n_frames, 4);
    /* 2 sends within 1 s: silent; over 3 s: reported */
    ik->max_unanswered_sends = 2;
    ik->unanswered_last_ts = T0 + S(1) - 1;
    CHECK_EQ(run1(m, FINDING_IKE_NO_RESPONSE, NULL), 0);
    ik->unanswered_last_ts = T0 + S(3);
    CHECK_EQ(run1(m, FINDING_IKE_NO_RESPONSE, NULL), 1);
    /* answered (session code resets max_unanswered_sends) */
    ik->max_unanswered_sends = 0;
    CHECK_EQ(run1(m, FINDING_IKE_NO_RESPONSE, NULL), 0);
    /* IP-fragmented IKE_AUTH without SKF; then with SKF */
    ik->ip_fragmented_msgs = 1;
    ik->ip_frag_first_frame = 9;
    CHECK_EQ(run1(m, FINDING_IKE_IP_FRAGMENTED, &f), 1);
    CHECK(strstr(f.remedy, "RFC 7383") != NULL);
    ik->skf_frags = 3;
    CHECK_EQ(run1(m, FINDING_IKE_IP_FRAGMENTED, NULL), 0);
    model_free(m);
}

/* ---- PPTP ---- */
static struct pptp_ctrl *ctrl_add(struct session_model *m, struct ip_addr cl, uint16_t cport,
                                  struct ip_addr sv, uint16_t call_id, uint16_t peer, uint64_t t1,
                                  uint64_t t2)
{
    struct pptp_ctrl_key k;
    memset(&k, 0, sizeof(k));
    k.client = cl, k.server = sv, k.cport = cport, k.sport = 1723;
    struct pptp_ctrl *c = table_put(m->pptp, &k, NULL);
    c->client.ip = cl, c->client.port = cport, c->server.ip = sv, c->server.port = 1723;
    c->state = PPTP_SESS_CONFIRMED;
    c->n_calls = 1;
    c->calls[0].call_id = call_id;
    c->calls[0].peer_call_id = peer;
    c->calls[0].has_peer = true;
    c->calls[0].result = 1;
    c->calls[0].state = PPTP_CALL_OUT_CONF;
    c->calls[0].first_ts = t1;
    c->calls[0].last_ts = t2;
    c->calls[0].first_frame = frame_no++;
    c->first_ts = t1, c->last_ts = t2;
    return c;
}

static void gre_add(struct session_model *m, struct ip_addr s, struct ip_addr d, uint16_t key,
                    uint64_t pkts)
{
    struct gre_key k;
    memset(&k, 0, sizeof(k));
    k.src = s, k.dst = d, k.key = key, k.version = 1, k.has_key = 1;
    struct gre_flow *g = table_put(m->gre, &k, NULL);
    g->k = k;
    g->packets = pkts;
    g->first_frame = frame_no++;
}

static void test_pptp(void)
{
    struct finding f;
    struct session_model *m = model(SIDE_SINGLE);
    ctrl_add(m, C1, 40001, SRV, 0x4000, 0x0001, T0, T0 + S(3));
    gre_add(m, C1, SRV, 0x0001, 6);
    finish(m);
    CHECK_EQ(run1(m, FINDING_PPTP_GRE_BLOCKED, &f), 1);
    CHECK(!f.confirmed);
    CHECK_EQ(f.sessions[0].call_id, 0x4000);
    gre_add(m, SRV, C1, 0x4000, 6);
    CHECK_EQ(run1(m, FINDING_PPTP_GRE_BLOCKED, NULL), 0);
    model_free(m);

    /* outside: two control connections from one address, same Call ID */
    m = model(SIDE_OUTSIDE);
    ctrl_add(m, NAT, 40001, SRV, 0x4000, 0x0001, T0, T0 + S(3));
    ctrl_add(m, NAT, 40002, SRV, 0x4000, 0x0002, T0 + S(1), T0 + S(4));
    gre_add(m, NAT, SRV, 0x0001, 6);
    gre_add(m, NAT, SRV, 0x0002, 6);
    gre_add(m, SRV, NAT, 0x4000, 12);
    finish(m);
    CHECK_EQ(run1(m, FINDING_PPTP_CALL_COLLISION, &f), 1);
    CHECK(strstr(f.summary, "0x4000") != NULL);
    CHECK_EQ(run1(m, FINDING_PPTP_GRE_BLOCKED, NULL), 0);
    model_free(m);
    /* PPTP-aware NAT: Call IDs rewritten */
    m = model(SIDE_OUTSIDE);
    ctrl_add(m, NAT, 40001, SRV, 40001, 0x0001, T0, T0 + S(3));
    ctrl_add(m, NAT, 40002, SRV, 40002, 0x0002, T0 + S(1), T0 + S(4));
    finish(m);
    CHECK_EQ(run1(m, FINDING_PPTP_CALL_COLLISION, NULL), 0);
    model_free(m);
    /* sequential reuse of a Call ID (not at the same time) */
    m = model(SIDE_OUTSIDE);
    ctrl_add(m, NAT, 40001, SRV, 0x4000, 0x0001, T0, T0 + S(3));
    ctrl_add(m, NAT, 40002, SRV, 0x4000, 0x0002, T0 + S(10), T0 + S(14));
    finish(m);
    CHECK_EQ(run1(m, FINDING_PPTP_CALL_COLLISION, NULL), 0);
    model_free(m);
}

/* ---- mtu_blackhole, nat_state_lost, pptp_nonstandard_port ---- */

/* One decoded packet fed through the session model's real update path. */
static void feed(struct session_model *m, struct ip_addr src, uint16_t sp, struct ip_addr dst,
                 uint16_t dp, uint8_t proto, enum pkt_vpn vpn, uint32_t len, bool df, uint64_t ts)
{
    struct pkt p;
    memset(&p, 0, sizeof(p));
    p.ts_us = ts;
    p.frame = frame_no++;
    p.ipver = 4;
    p.src = src;
    p.dst = dst;
    p.l4proto = proto;
    p.has_ports = proto == IPP_UDP;
    p.sport = sp;
    p.dport = dp;
    p.ip_len = len;
    p.df = df;
    p.vpn = vpn;
    p.esp_in_udp = vpn == VPN_ESP && proto == IPP_UDP;
    p.esp.spi = ip_addr_eq(&src, &SRV) ? 0xb001 : 0xa001;
    p.esp.seq = (uint32_t)p.frame;
    int dir = 0;
    struct flow *f = session_flow(m, &p, &dir);
    session_update(m, &p, f, dir);
    if (ts > m->c.last_ts)
        m->c.last_ts = ts;
    if (!m->c.first_ts)
        m->c.first_ts = ts;
}

/* ICMP "fragmentation needed" from router rt quoting an ESP-in-UDP datagram cli:4500 -> SRV:4500.
 */
static void feed_too_big(struct session_model *m, struct ip_addr rt, struct ip_addr cli,
                         uint32_t mtu, uint32_t qlen, uint64_t ts)
{
    struct pkt p;
    memset(&p, 0, sizeof(p));
    p.ts_us = ts;
    p.frame = frame_no++;
    p.ipver = 4;
    p.src = rt;
    p.dst = cli;
    p.l4proto = IPP_ICMP;
    p.icmp_type = 3;
    p.icmp_code = 4;
    p.ip_len = 576;
    p.too_big.valid = true;
    p.too_big.mtu = mtu;
    p.too_big.src = cli;
    p.too_big.dst = SRV;
    p.too_big.proto = IPP_UDP;
    p.too_big.len = qlen;
    p.too_big.has_ports = true;
    p.too_big.sport = p.too_big.dport = 4500;
    int dir = 0;
    struct flow *f = session_flow(m, &p, &dir);
    session_update(m, &p, f, dir);
}

/* A ladder of ESP-in-UDP sizes: each small one answered; from `dead` up, `tries` sends without
 * an answer (pmtud: after the first loss the sender sends at `after` from then on, answered). */
static void ladder(struct session_model *m, uint32_t dead, unsigned tries, uint32_t after,
                   bool with_icmp, uint64_t *t)
{
    static const uint32_t sizes[] = {200, 600, 1000, 1280, 1284, 1344, 1400};
    bool learnt = false;
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        feed(m, C1, 4500, SRV, 4500, IPP_UDP, VPN_ESP, 120, true, *t);
        feed(m, SRV, 4500, C1, 4500, IPP_UDP, VPN_ESP, 148, true, *t + 300);
        *t += S(1) / 2;
        for (unsigned k = 0; k < (sizes[i] >= dead ? tries : 1); k++) {
            uint32_t len = sizes[i] >= dead && after && (k || learnt) ? after : sizes[i];
            learnt |= len != sizes[i];
            feed(m, C1, 4500, SRV, 4500, IPP_UDP, VPN_ESP, len, true, *t);
            if (sizes[i] < dead || len < dead)
                feed(m, SRV, 4500, C1, 4500, IPP_UDP, VPN_ESP, 148, true, *t + 300);
            else if (with_icmp)
                feed_too_big(m, NAT, C1, 1280, len, *t + 200);
            *t += S(1) * 7 / 10;
        }
    }
    feed(m, C1, 4500, SRV, 4500, IPP_UDP, VPN_ESP, 120, true, *t);
    feed(m, SRV, 4500, C1, 4500, IPP_UDP, VPN_ESP, 148, true, *t + 300);
    *t += S(3);
    feed(m, C1, 4500, SRV, 4500, IPP_UDP, VPN_NATT_KEEPALIVE, 29, true, *t);
}

static void test_mtu_blackhole(void)
{
    struct finding f;
    uint64_t t = T0;
    struct session_model *m = model(SIDE_SINGLE);
    ladder(m, 1284, 3, 0, false, &t);
    finish(m);
    CHECK_EQ(run1(m, FINDING_MTU_BLACKHOLE, &f), 1);
    CHECK(strstr(f.summary, "1284 bytes or more") != NULL);
    CHECK(strstr(f.summary, "no ICMP") != NULL);
    CHECK(strstr(f.remedy, "1215") != NULL); /* 1280 - 20 IP - 8 UDP - 37 ESP */
    CHECK(!f.confirmed);
    CHECK_EQ(run1(m, FINDING_NAT_STATE_LOST, NULL), 0);
    model_free(m);

    /* ICMP delivered to the sender, which keeps sending large: seen but ignored, confirmed */
    t = T0;
    m = model(SIDE_SINGLE);
    ladder(m, 1284, 3, 0, true, &t);
    finish(m);
    CHECK_EQ(run1(m, FINDING_MTU_BLACKHOLE, &f), 1);
    CHECK(strstr(f.summary, "kept sending") != NULL);
    CHECK(f.confirmed);
    model_free(m);

    /* look-alike: PMTUD works (one large packet lost, then 1280 answered) */
    t = T0;
    m = model(SIDE_SINGLE);
    ladder(m, 1284, 3, 1280, true, &t);
    finish(m);
    CHECK_EQ(run1(m, FINDING_MTU_BLACKHOLE, NULL), 0);
    model_free(m);

    /* look-alike: large packets lost without DF (the router may fragment them) */
    t = T0;
    m = model(SIDE_SINGLE);
    for (unsigned k = 0; k < 6; k++) {
        feed(m, C1, 4500, SRV, 4500, IPP_UDP, VPN_ESP, 120, true, t);
        feed(m, SRV, 4500, C1, 4500, IPP_UDP, VPN_ESP, 148, true, t + 300);
        feed(m, C1, 4500, SRV, 4500, IPP_UDP, VPN_ESP, 1400, false, t + S(1));
        t += S(2);
    }
    finish(m);
    CHECK_EQ(run1(m, FINDING_MTU_BLACKHOLE, NULL), 0);
    model_free(m);
}

/* Two tunnels whose servers stream every 0.25 s; their return traffic stops at stop1 / stop2 and
 * comes back after each client sends again 2.5 s later. */
static struct session_model *two_streams(uint64_t stop1, uint64_t stop2)
{
    struct session_model *m = model(SIDE_INSIDE);
    for (uint64_t t = T0; t < T0 + S(20); t += S(1) / 4) {
        if (t < stop1 || t > stop1 + S(3))
            feed(m, SRV, 4500, C1, 4500, IPP_UDP, VPN_ESP, 148, true, t);
        if (t < stop2 || t > stop2 + S(3))
            feed(m, SRV2, 51820, C2, 51820, IPP_UDP, VPN_NONE, 148, false, t + 1000);
        if ((t - T0) % S(2) == 0) {
            feed(m, C1, 4500, SRV, 4500, IPP_UDP, VPN_ESP, 120, true, t + 2000);
            feed(m, C2, 51820, SRV2, 51820, IPP_UDP, VPN_NONE, 120, false, t + 3000);
        }
    }
    finish(m);
    return m;
}

static void test_nat_state_lost(void)
{
    struct finding f;
    /* inside alone: both tunnels' return traffic stops at one instant */
    struct session_model *m = two_streams(T0 + S(10), T0 + S(10));
    CHECK_EQ(run1(m, FINDING_NAT_STATE_LOST, &f), 1);
    CHECK(!f.confirmed);
    CHECK(has_client(&f, C1, NULL) && has_client(&f, C2, NULL));
    CHECK_EQ(run1(m, FINDING_MTU_BLACKHOLE, NULL), 0);
    model_free(m);
    /* look-alike: the two silences are seconds apart (independent events) */
    m = two_streams(T0 + S(5), T0 + S(12));
    CHECK_EQ(run1(m, FINDING_NAT_STATE_LOST, NULL), 0);
    model_free(m);
    /* look-alike: one tunnel only */
    m = two_streams(T0 + S(10), T0 + S(40));
    CHECK_EQ(run1(m, FINDING_NAT_STATE_LOST, NULL), 0);
    model_free(m);
}

static void test_pptp_port(void)
{
    struct finding f;
    struct session_model *m = model(SIDE_SINGLE);
    struct pptp_ctrl *c = ctrl_add(m, C1, 40001, SRV, 0x4000, 0x0101, T0, T0 + S(3));
    c->server.port = 1724;
    gre_add(m, C1, SRV, 0x0101, 6);
    finish(m);
    CHECK_EQ(run1(m, FINDING_PPTP_NONSTANDARD_PORT, &f), 1);
    CHECK(strstr(f.summary, "port 1724") != NULL);
    CHECK(f.confirmed); /* GRE one way */
    CHECK_EQ(f.sev, SEV_WARNING);
    gre_add(m, SRV, C1, 0x4000, 6);
    CHECK_EQ(run1(m, FINDING_PPTP_NONSTANDARD_PORT, &f), 1);
    CHECK(!f.confirmed); /* both ways here: cannot tell */
    model_free(m);
    /* look-alike: the standard port */
    m = model(SIDE_SINGLE);
    ctrl_add(m, C1, 40001, SRV, 0x4000, 0x0101, T0, T0 + S(3));
    gre_add(m, C1, SRV, 0x0101, 6);
    finish(m);
    CHECK_EQ(run1(m, FINDING_PPTP_NONSTANDARD_PORT, NULL), 0);
    model_free(m);
}

/* ---- esp_one_way ---- */
static void test_one_way(void)
{
    struct finding f;
    struct session_model *m = model(SIDE_SINGLE);
    sa_add(m, C1, SRV, 0xa001, 50, 4500, 4500, 10, T0 + S(1), T0 + S(4));
    finish(m);
    CHECK_EQ(run1(m, FINDING_ESP_ONE_WAY, &f), 1);
    CHECK(has_client(&f, C1, NULL));
    model_free(m);
    m = model(SIDE_SINGLE);
    sa_add(m, C1, SRV, 0xa001, 50, 4500, 4500, 4, T0 + S(1), T0 + S(4));
    sa_add(m, C2, SRV, 0xa002, 50, 4500, 4500, 10, T0 + S(1), T0 + S(2));
    finish(m);
    CHECK_EQ(run1(m, FINDING_ESP_ONE_WAY, NULL), 0); /* too few packets / too short */
    model_free(m);
    m = model(SIDE_SINGLE);
    sa_add(m, C1, SRV, 0xa001, 50, 4500, 4500, 10, T0 + S(1), T0 + S(4));
    sa_add(m, SRV, C1, 0xb001, 50, 4500, 4500, 10, T0 + S(1), T0 + S(4));
    finish(m);
    CHECK_EQ(run1(m, FINDING_ESP_ONE_WAY, NULL), 0);
    model_free(m);
}

/* A NAT-T tunnel from cli to srv: IKE SA whose NAT-D puts the initiator behind a NAT, moved to
 * UDP 4500, with ESP in UDP both ways (SPIs up, down). */
static struct ike_sa *natt_tunnel(struct session_model *m, uint64_t ispi, struct ip_addr cli,
                                  struct ip_addr srv, uint32_t up, uint32_t down)
{
    struct ike_sa *ik = ike_add(m, ispi, cli, 500, srv, 500, T0, T0 + S(5));
    ik->natd.present = true;
    ik->natd.nat_initiator = 1;
    ik->natd.nat_responder = 0;
    ik->nat_t = true;
    ik->natt_initiator.ip = cli, ik->natt_initiator.port = 4500;
    ik->natt_responder.ip = srv, ik->natt_responder.port = 4500;
    sa_add(m, cli, srv, up, 50, 4500, 4500, 10, T0 + S(1), T0 + S(4));
    sa_add(m, srv, cli, down, 50, 4500, 4500, 10, T0 + S(1), T0 + S(4));
    return ik;
}

/* ---- nat_traversal (info) and the inside view of a stale mapping ---- */
static void test_nat_traversal(void)
{
    struct finding f;
    struct session_model *m = model(SIDE_SINGLE);
    struct ike_sa *ik = natt_tunnel(m, 0xc111, C1, SRV, 0xa001, 0xb001);
    ik->natd.forced_encap = 0;
    finish(m);
    CHECK_EQ(run1(m, FINDING_NAT_TRAVERSAL, &f), 1);
    CHECK_EQ(f.sev, SEV_INFO);
    /* undecidable NAT-D (forced encapsulation on a routed path looks the same): silent */
    ik = table_get(m->ike, &(struct ike_sa_key){.ispi = 0xc111, .version = 2}, false);
    ik->natd.forced_encap = -1;
    CHECK_EQ(run1(m, FINDING_NAT_TRAVERSAL, NULL), 0);
    model_free(m);

    /* inside view: after the idle gap the server's SPI reaches another inside host */
    m = model(SIDE_INSIDE);
    sa_add(m, C1, SRV, 0xa001, 50, 4500, 4500, 10, T0 + S(1), T0 + S(4));
    sa_add(m, SRV, C1, 0xb001, 50, 4500, 4500, 10, T0 + S(1), T0 + S(4));
    sa_add(m, SRV, C2, 0xb001, 50, 4500, 4500, 3, T0 + S(20), T0 + S(21));
    finish(m);
    CHECK_EQ(run1(m, FINDING_STALE_NAT, &f), 1);
    CHECK(has_client(&f, C2, "other client"));
    model_free(m);
}

/* ---- detect_run: no state between runs, declared dependencies ---- */

/* Two findings with the same content (what they own compared by value, not by address). */
static bool finding_eq(const struct finding *x, const struct finding *y)
{
    struct finding a = *x, b = *y;
    if (strcmp(x->summary, y->summary) != 0 || strcmp(x->remedy, y->remedy) != 0)
        return false;
    a.summary = b.summary = a.remedy = b.remedy = NULL;
    a.ev = b.ev = NULL;
    a.frames = b.frames = NULL;
    a.frame_role = b.frame_role = NULL;
    a.more_sessions = b.more_sessions = NULL;
    a.sessions = b.sessions = NULL;
    a.sessions_cap = b.sessions_cap = 0;
    a.ev_cap = b.ev_cap = a.frames_cap = b.frames_cap = 0;
    a.more_sessions_cap = b.more_sessions_cap = 0;
    if (memcmp(&a, &b, sizeof(a)) != 0)
        return false;
    if (x->n_sessions && memcmp(x->sessions, y->sessions, x->n_sessions * sizeof(*x->sessions)))
        return false;
    for (unsigned i = 0; i < x->n_ev; i++) {
        const struct finding_ev *e = &x->ev[i], *g = &y->ev[i];
        if (strcmp(e->key, g->key) != 0 || e->type != g->type ||
            (e->type == EV_STR ? strcmp(e->s, g->s) != 0 : e->i != g->i))
            return false; /* (a double compared by its bits, as memcmp did) */
    }
    for (unsigned i = 0; i < x->n_frames; i++)
        if (x->frames[i].capture != y->frames[i].capture ||
            x->frames[i].frame != y->frames[i].frame || x->frame_role[i] != y->frame_role[i])
            return false;
    return !x->n_more_sessions || memcmp(x->more_sessions, y->more_sessions,
                                         x->n_more_sessions * sizeof(*x->more_sessions)) == 0;
}

static bool lists_equal(const struct finding_list *a, const struct finding_list *b)
{
    if (a->n != b->n)
        return false;
    for (size_t i = 0; i < a->n; i++)
        if (!finding_eq(&a->v[i], &b->v[i]))
            return false;
    return true;
}

static unsigned count_kind(const struct finding_list *l, unsigned kind)
{
    unsigned n = 0;
    for (size_t i = 0; i < l->n; i++)
        n += l->v[i].kind == kind;
    return n;
}

/* First part: a healthy NAT-T tunnel (C2) and a one-way SA (C1). Second part: a further one-way
 * SA from a third client, as a model that grows while the dashboard re-runs the detectors. */
static void rerun_part1(struct session_model *m)
{
    natt_tunnel(m, 0xc222, C2, SRV2, 0xa002, 0xb002);
    sa_add(m, C1, SRV, 0xa001, 50, 4500, 4500, 10, T0 + S(1), T0 + S(4));
    finish(m);
}

static void rerun_part2(struct session_model *m)
{
    sa_add(m, A(192, 168, 1, 13), SRV, 0xa003, 50, 4500, 4500, 12, T0 + S(6), T0 + S(9));
    finish(m);
}

static void test_rerun(void)
{
    /* the same model twice: identical findings, each run on its own list and both appended to
     * one list */
    frame_no = 1;
    struct session_model *m = model(SIDE_SINGLE);
    rerun_part1(m);
    struct finding_list a = run_all(m), b = run_all(m);
    CHECK_EQ(count_kind(&a, FINDING_ESP_ONE_WAY), 1);
    CHECK_EQ(count_kind(&a, FINDING_NAT_TRAVERSAL), 1);
    CHECK(lists_equal(&a, &b));
    struct finding_list both = {0};
    struct detect_ctx c = ctx_single(m, &both);
    detect_run(&c);
    detect_run(&c);
    CHECK_EQ(both.n, 2 * a.n);
    struct finding_list second = {.n = a.n, .cap = a.n, .v = both.v + a.n};
    CHECK(lists_equal(&a, &second));
    finding_list_free(&both);
    finding_list_free(&b);

    /* the model grows after a run: the next run equals a first run on the grown model */
    rerun_part2(m);
    struct finding_list grown = run_all(m);
    CHECK_EQ(count_kind(&grown, FINDING_ESP_ONE_WAY), 2);
    CHECK(!lists_equal(&a, &grown));
    frame_no = 1;
    struct session_model *fresh = model(SIDE_SINGLE);
    rerun_part1(fresh);
    rerun_part2(fresh);
    struct finding_list once = run_all(fresh);
    CHECK(lists_equal(&grown, &once));
    finding_list_free(&once);
    finding_list_free(&grown);
    finding_list_free(&a);
    model_free(fresh);
    model_free(m);
}

/* The registry's declarations hold: every detector has one entry point, emits only what it
 * declares, and every kind a detector reads is emitted by a detector registered before it. */
static void test_registry(void)
{
    const struct detector *const *reg;
    size_t n = detect_registry(&reg);
    CHECK(n > 0);
    frame_no = 1;
    struct session_model *m = model(SIDE_SINGLE);
    rerun_part1(m);
    uint32_t all = 0;
    for (size_t d = 0; d < n; d++) {
        CHECK((reg[d]->run != NULL) != (reg[d]->run_after != NULL));
        CHECK((reg[d]->reads != 0) == (reg[d]->run_after != NULL));
        CHECK(reg[d]->emits != 0);
        uint32_t before = 0;
        for (size_t j = 0; j < d; j++)
            before |= reg[j]->emits;
        uint32_t after = 0;
        for (size_t j = d; j < n; j++)
            after |= reg[j]->emits;
        CHECK_EQ(reg[d]->reads & after & ~before, 0);
        all |= reg[d]->emits;
        /* run alone (dependents on an empty list): only declared kinds */
        struct finding_list own = {0}, none = {0};
        struct detect_ctx c = ctx_single(m, &own);
        if (reg[d]->run)
            reg[d]->run(&c);
        else
            reg[d]->run_after(&c, &none);
        for (size_t i = 0; i < own.n; i++)
            CHECK(reg[d]->emits & DETECT_KIND_BIT(own.v[i].kind));
        finding_list_free(&own);
    }
    CHECK_EQ(all, (1u << FINDING__COUNT) - 1u);
    model_free(m);
}

/* A dependent detector sees other detectors' findings only through what it is handed: the same
 * one-way SA is reported with an empty list and left out when an esp_collision finding names its
 * client. */
static void test_explicit_dependency(void)
{
    const struct detector *const *reg;
    size_t n = detect_registry(&reg);
    const struct detector *ow = NULL;
    for (size_t d = 0; d < n; d++)
        if (!strcmp(reg[d]->name, "esp_one_way"))
            ow = reg[d];
    CHECK(ow && ow->run_after && (ow->reads & DETECT_KIND_BIT(FINDING_ESP_COLLISION)));
    if (!ow || !ow->run_after)
        return;
    struct session_model *m = model(SIDE_SINGLE);
    sa_add(m, C1, SRV, 0xa001, 50, 4500, 4500, 10, T0 + S(1), T0 + S(4));
    finish(m);
    struct finding_list earlier = {0}, out = {0};
    struct detect_ctx c = ctx_single(m, &out);
    ow->run_after(&c, &earlier);
    CHECK_EQ(count_kind(&out, FINDING_ESP_ONE_WAY), 1);
    finding_list_free(&out);
    struct finding *col = finding_add(&earlier, FINDING_ESP_COLLISION, T0);
    CHECK(col && finding_session_add(col, ROLE_CLIENT, &C1));
    ow->run_after(&c, &earlier);
    CHECK_EQ(count_kind(&out, FINDING_ESP_ONE_WAY), 0);
    finding_list_free(&out);
    finding_list_free(&earlier);
    model_free(m);
}

int main(void)
{
    C1 = A(192, 168, 1, 11);
    C2 = A(192, 168, 1, 12);
    SRV = A(203, 0, 113, 10);
    SRV2 = A(203, 0, 113, 20);
    NAT = A(203, 0, 113, 1);
    PUB1 = A(198, 51, 100, 11);
    test_esp_collision();
    test_stale_nat();
    test_frag();
    test_ah();
    test_natt_not_used();
    test_ike();
    test_pptp();
    test_one_way();
    test_nat_traversal();
    test_mtu_blackhole();
    test_nat_state_lost();
    test_pptp_port();
    test_rerun();
    test_registry();
    test_explicit_dependency();
    return t_done();
}
