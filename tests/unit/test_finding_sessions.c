/* test_finding_sessions.c - a finding's sessions past the inline FINDING_MAX_SESSIONS (a grouped
 * finding's members): order, the accessors, and ownership through the list operations (copy on
 * append/move, free on drop, sort). Leaks and double frees show under the ASan build. */
#include <string.h>

#include "t.h"
#include "vpnscope/finding.h"

static struct ip_addr v4(unsigned last)
{
    struct ip_addr a;
    memset(&a, 0, sizeof(a));
    a.v = 4;
    a.a[0] = 10;
    a.a[3] = (uint8_t)last;
    return a;
}

/* A finding with n sessions, the i-th at 10.0.0.i with port i. */
static struct finding *with_sessions(struct finding_list *l, unsigned kind, uint64_t ts, unsigned n)
{
    struct finding *f = finding_add(l, kind, ts);
    for (unsigned i = 0; f && i < n; i++) {
        struct ip_addr a = v4(i);
        struct finding_session *s = finding_session_add_more(f, ROLE_CLIENT, &a);
        CHECK(s != NULL);
        if (s) {
            s->has_port = true;
            s->port = (uint16_t)i;
        }
    }
    return f;
}

static bool sessions_in_order(const struct finding *f, unsigned n)
{
    if (finding_n_sessions(f) != n)
        return false;
    for (unsigned i = 0; i < n; i++) {
        const struct finding_session *s = finding_session_at(f, i);
        if (!s || s->port != i || s->ip.a[3] != (uint8_t)i)
            return false;
    }
    return finding_session_at(f, n) == NULL;
}

static void test_more_sessions(void)
{
    struct finding_list l = {0};
    struct finding *f = with_sessions(&l, FINDING_NAT_TRAVERSAL, 5, 700);
    CHECK(f != NULL);
    CHECK_EQ(f->n_sessions, FINDING_MAX_SESSIONS);
    CHECK_EQ(f->n_more_sessions, 700 - FINDING_MAX_SESSIONS);
    CHECK(sessions_in_order(f, 700));
    /* finding_session_add keeps its cap: a finding of another kind is unchanged */
    struct finding *g = with_sessions(&l, FINDING_ESP_ONE_WAY, 3, 2);
    struct ip_addr a = v4(99);
    for (unsigned i = 0; i < 20; i++)
        (void)finding_session_add(g, ROLE_SERVER, &a);
    CHECK_EQ(finding_n_sessions(g), FINDING_MAX_SESSIONS);
    CHECK_EQ(g->n_more_sessions, 0);
    finding_list_free(&l);
}

static void test_list_ownership(void)
{
    struct finding_list a = {0}, b = {0}, c = {0};
    with_sessions(&a, FINDING_NAT_TRAVERSAL, 9, 40);
    with_sessions(&a, FINDING_NAT_TRAVERSAL, 1, 13);
    with_sessions(&b, FINDING_STALE_NAT, 4, 1);
    /* append copies: a keeps its own, b gets its own */
    CHECK(finding_list_append(&b, &a));
    CHECK_EQ(b.n, 3);
    CHECK(b.v[1].more_sessions != a.v[0].more_sessions);
    CHECK(sessions_in_order(&b.v[1], 40));
    CHECK(sessions_in_order(&b.v[2], 13));
    finding_list_free(&a);
    CHECK(sessions_in_order(&b.v[1], 40)); /* still there after a is gone */
    /* sort moves them along */
    finding_list_sort_ts(&b);
    CHECK_EQ(b.v[0].ts_us, 1);
    CHECK(sessions_in_order(&b.v[0], 13));
    CHECK(sessions_in_order(&b.v[2], 40));
    /* move into a non-empty list, then drop the info findings */
    with_sessions(&c, FINDING_ESP_ONE_WAY, 2, 1);
    CHECK(finding_list_move(&c, &b));
    CHECK_EQ(b.n, 0);
    CHECK_EQ(c.n, 4);
    CHECK_EQ(finding_list_min_severity(&c, SEV_WARNING), 2);
    CHECK_EQ(c.n, 2);
    for (size_t i = 0; i < c.n; i++)
        CHECK_EQ(c.v[i].n_more_sessions, 0);
    finding_list_free(&c);
    finding_list_free(&b);
}

int main(void)
{
    test_more_sessions();
    test_list_ownership();
    return t_done();
}
