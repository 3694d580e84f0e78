/* test_evidence.c - finding frame lists (cap, total, roles), display filters, severity filter. */
#include <stdio.h>
#include <string.h>

#include "t.h"
#include "vpnscope/evidence.h"
#include "vpnscope/finding.h"
#include "vpnscope/session.h"

static void test_frames_cap_and_total(void)
{
    struct finding f;
    memset(&f, 0, sizeof(f));
    finding_frame(&f, SIDE_INSIDE, 0); /* frame 0 is "none": ignored */
    CHECK_EQ(f.n_frames, 0);
    CHECK_EQ(f.frames_total, 0);
    for (uint64_t i = 1; i <= FINDING_MAX_FRAMES + 10; i++)
        finding_frame(&f, SIDE_INSIDE, i);
    finding_frame(&f, SIDE_INSIDE, 3); /* a listed duplicate is not counted again */
    CHECK_EQ(f.n_frames, FINDING_MAX_FRAMES);
    CHECK_EQ(f.frames_total, FINDING_MAX_FRAMES + 10);
    CHECK_EQ(f.frames_cap, FINDING_MAX_FRAMES);
    CHECK_EQ(f.frames[FINDING_MAX_FRAMES - 1].frame, FINDING_MAX_FRAMES);
    finding_free(&f);
    CHECK(f.frames == NULL && f.frame_role == NULL && f.n_frames == 0);
}

/* Evidence and frames are allocated as they are added: none for a bare finding, a few slots for
 * a few, and a list copy owns copies of them. */
static void test_evidence_on_demand(void)
{
    struct finding_list l = {0};
    struct finding *f = finding_add(&l, FINDING_STALE_NAT, 5);
    CHECK(f != NULL);
    if (!f)
        return;
    CHECK(f->ev == NULL && f->frames == NULL && f->frame_role == NULL);
    finding_ev_int(f, "a", 1);
    finding_ev_str(f, "b", "two");
    finding_ev_int(f, "a", 3); /* a key appears once */
    CHECK_EQ(f->n_ev, 2);
    CHECK(f->ev_cap >= 2 && f->ev_cap < FINDING_MAX_EV);
    /* keys are literals the evidence points to */
    static const char *const keys[FINDING_MAX_EV + 4] = {
        "k0",  "k1",  "k2",  "k3",  "k4",  "k5",  "k6",  "k7",  "k8",  "k9",
        "k10", "k11", "k12", "k13", "k14", "k15", "k16", "k17", "k18", "k19"};
    for (unsigned i = 0; i < FINDING_MAX_EV + 4; i++)
        finding_ev_int(f, keys[i], i);
    CHECK_EQ(f->n_ev, FINDING_MAX_EV);
    CHECK_EQ(f->ev[0].i, 3);
    CHECK_STR(f->ev[1].s, "two");
    CHECK_STR(f->ev[FINDING_MAX_EV - 1].key, "k13");
    /* a string value is the finding's own copy, cut at FINDING_EV_STR_MAX; a key given again
     * with another type replaces it */
    char v[FINDING_EV_STR_MAX + 20];
    memset(v, 'x', sizeof(v) - 1);
    v[sizeof(v) - 1] = 0;
    finding_ev_str(f, "k2", v);
    v[0] = 'y';
    CHECK_EQ(f->ev[4].type, EV_STR);
    CHECK_EQ(strlen(f->ev[4].s), FINDING_EV_STR_MAX);
    CHECK_EQ(f->ev[4].s[0], 'x');
    finding_ev_bool(f, "k2", true);
    CHECK_EQ(f->ev[4].type, EV_BOOL);
    CHECK_EQ(f->ev[4].i, 1);
    finding_ev_str(f, "k3", "three");
    finding_frame_role(f, SIDE_INSIDE, 7, "probe");
    finding_frame(f, SIDE_INSIDE, 8);
    CHECK_EQ(f->n_frames, 2);
    CHECK(f->frames_cap >= 2 && f->frames_cap < FINDING_MAX_FRAMES);
    struct finding_list c = {0};
    CHECK(finding_list_append(&c, &l));
    finding_list_free(&l); /* the copy keeps its own evidence and frames */
    CHECK_EQ(c.n, 1);
    if (c.n == 1) {
        CHECK(c.v[0].ev != NULL && c.v[0].frames != NULL);
        CHECK_EQ(c.v[0].n_ev, FINDING_MAX_EV);
        CHECK_STR(c.v[0].ev[1].s, "two");
        CHECK_STR(c.v[0].ev[5].s, "three");
        CHECK_EQ(c.v[0].frames[1].frame, 8);
        CHECK_STR(finding_frame_role_name(&c.v[0], 0), "probe");
        CHECK_STR(finding_frame_role_name(&c.v[0], 1), "evidence");
    }
    finding_list_free(&c);
}

static void test_frame_roles(void)
{
    struct finding f;
    memset(&f, 0, sizeof(f));
    finding_frame(&f, SIDE_OUTSIDE, 9);
    finding_frame_role(&f, SIDE_INSIDE, 4, "dropped at the router");
    finding_frame_role(&f, SIDE_OUTSIDE, 9, "return ESP"); /* fills a missing role */
    finding_frame_role(&f, SIDE_INSIDE, 4, "other");       /* keeps the first role */
    CHECK_EQ(f.n_frames, 2);
    CHECK_STR(finding_frame_role_name(&f, 0), "return ESP");
    CHECK_STR(finding_frame_role_name(&f, 1), "dropped at the router");
    CHECK_STR(finding_frame_role_name(&f, 2), "evidence"); /* out of range */
    finding_frame(&f, SIDE_INSIDE, 5);
    CHECK_STR(finding_frame_role_name(&f, 2), "evidence");
    finding_free(&f);
}

static void test_display_filter(void)
{
    struct finding f;
    memset(&f, 0, sizeof(f));
    char buf[EVIDENCE_FILTER_MAX];
    CHECK_EQ(evidence_display_filter(&f, SIDE_SINGLE, buf, sizeof(buf)), 0);
    CHECK_STR(buf, "");
    uint64_t in[] = {12, 5, 7, 6, 20, 8, 30, 31};
    for (unsigned i = 0; i < sizeof(in) / sizeof(in[0]); i++)
        finding_frame(&f, SIDE_INSIDE, in[i]);
    finding_frame(&f, SIDE_OUTSIDE, 6);
    CHECK_EQ(evidence_display_filter(&f, SIDE_INSIDE, buf, sizeof(buf)), 8);
    CHECK_STR(buf, "frame.number in {5..8, 12, 20, 30..31}");
    CHECK_EQ(evidence_display_filter(&f, SIDE_OUTSIDE, buf, sizeof(buf)), 1);
    CHECK_STR(buf, "frame.number in {6}");
    CHECK_EQ(evidence_display_filter(&f, SIDE_SINGLE, buf, sizeof(buf)), 0);
    /* a buffer too small never yields a partial filter */
    char small[36];
    CHECK_EQ(evidence_display_filter(&f, SIDE_INSIDE, small, sizeof(small)), 0);
    CHECK_STR(small, "");
    /* the largest list fits EVIDENCE_FILTER_MAX: every other frame, 20-digit numbers */
    finding_free(&f);
    memset(&f, 0, sizeof(f));
    for (unsigned i = 0; i < FINDING_MAX_FRAMES; i++)
        finding_frame(&f, SIDE_SINGLE, UINT64_MAX - 2 * (uint64_t)i);
    CHECK_EQ(evidence_display_filter(&f, SIDE_SINGLE, buf, sizeof(buf)), FINDING_MAX_FRAMES);
    finding_free(&f);
}

static void test_min_severity(void)
{
    struct finding_list l = {0};
    CHECK(finding_add(&l, FINDING_NAT_TRAVERSAL, 1) != NULL); /* info */
    CHECK(finding_add(&l, FINDING_STALE_NAT, 2) != NULL);     /* warning */
    CHECK(finding_add(&l, FINDING_ESP_COLLISION, 3) != NULL); /* error */
    CHECK_EQ(finding_list_min_severity(&l, SEV_WARNING), 1);
    CHECK_EQ(l.n, 2);
    CHECK_EQ(l.v[0].kind, FINDING_STALE_NAT);
    CHECK_EQ(finding_list_min_severity(&l, SEV_ERROR), 1);
    CHECK_EQ(l.n, 1);
    CHECK_EQ(l.v[0].kind, FINDING_ESP_COLLISION);
    CHECK_EQ(finding_list_min_severity(&l, SEV_INFO), 0);
    finding_list_free(&l);
}

static struct finding *one_way(struct finding_list *l, uint64_t ts, uint8_t client_last,
                               uint8_t server_last, const char *encap, uint64_t frame)
{
    struct finding *f = finding_add(l, FINDING_ESP_ONE_WAY, ts);
    if (!f)
        return NULL;
    struct ip_addr c = {.v = 4, .a = {10, 0, 0, client_last}};
    struct ip_addr s = {.v = 4, .a = {192, 0, 2, server_last}};
    finding_session_add(f, ROLE_CLIENT, &c);
    finding_session_add(f, ROLE_SERVER, &s);
    finding_ev_str(f, "encap", encap);
    finding_frame_role(f, SIDE_SINGLE, frame, "first ESP packet, no answer");
    snprintf(f->summary, FINDING_SUMMARY_SIZE, "one way");
    return f;
}

static void test_group(void)
{
    struct finding_list l = {0};
    CHECK(one_way(&l, 30, 1, 2, "raw", 5) != NULL);
    CHECK(one_way(&l, 10, 1, 3, "raw", 9) != NULL);  /* same sender: folded */
    CHECK(one_way(&l, 20, 2, 2, "raw", 11) != NULL); /* another sender: kept */
    CHECK(one_way(&l, 40, 1, 4, "udp", 13) != NULL); /* another encapsulation: kept */
    CHECK(finding_add(&l, FINDING_STALE_NAT, 50) != NULL);
    CHECK(finding_add(&l, FINDING_STALE_NAT, 60) != NULL); /* other kinds never fold */
    CHECK_EQ(finding_list_group(&l), 1);
    CHECK_EQ(l.n, 5);
    const struct finding *g = &l.v[0];
    CHECK_EQ(g->group_count, 1);
    CHECK_EQ(g->ts_us, 10);     /* the earliest */
    CHECK_EQ(g->n_sessions, 3); /* the one client, both servers */
    CHECK_EQ(g->n_frames, 2);
    CHECK_EQ(g->frames_total, 2);
    CHECK(strstr(g->summary, "1 more one-way ESP SA(s)") != NULL);
    CHECK_EQ(l.v[1].group_count, 0);
    CHECK_EQ(l.v[2].group_count, 0);
    CHECK_EQ(l.v[3].kind, FINDING_STALE_NAT);
    CHECK_EQ(l.v[4].kind, FINDING_STALE_NAT);
    finding_list_free(&l);
}

int main(void)
{
    test_group();
    test_frames_cap_and_total();
    test_frame_roles();
    test_evidence_on_demand();
    test_display_filter();
    test_min_severity();
    return t_done();
}
