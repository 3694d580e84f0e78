/* test_table.c - bounded hash table: lookups, growth/rehash, two-class LRU eviction. */
#include "t.h"
#include "vpnscope/table.h"

#include <stdint.h>

struct val {
    uint64_t n;
};

static int evictions;
static uint32_t last_evicted;

static void on_evict(void *ctx, const void *key, void *val)
{
    (void)ctx;
    (void)val;
    evictions++;
    memcpy(&last_evicted, key, sizeof(last_evicted));
}

/*
 * Model check: random gets/puts/class changes on keys of many sizes against a plain reference
 * (linear search, LRU by stamp, slots handed out in order then reused by the evicted entry), with
 * caps small enough for chains (256 buckets at first), growth and eviction of both classes.
 */
#define M_MAX 1200

struct model {
    uint32_t ks, vs, cap, top, count;
    uint64_t stamp_now, evicted;
    uint32_t id[M_MAX]; /* by slot: key id; UINT32_MAX unused */
    uint64_t stamp[M_MAX];
    int cls[M_MAX];
};

static uint32_t m_evicted_id;
static int m_evict_calls;
static uint32_t m_ks;

static void mk_key(uint8_t *k, uint32_t ks, uint32_t id)
{
    /* distinct ids give distinct keys (id < 256^ks); the other bytes vary with it too */
    for (uint32_t j = 0; j < ks; j++)
        k[j] = (uint8_t)(j < 4 ? id >> (8 * j) : (id * 2654435761u) >> (j % 24));
}

static uint32_t key_id(const uint8_t *k, uint32_t ks)
{
    uint32_t id = 0;
    for (uint32_t j = 0; j < ks && j < 4; j++)
        id |= (uint32_t)k[j] << (8 * j);
    return id;
}

static void m_on_evict(void *ctx, const void *key, void *val)
{
    (void)ctx;
    (void)val;
    m_evict_calls++;
    m_evicted_id = key_id(key, m_ks);
}

static void fill_val(uint8_t *v, uint32_t vs, uint32_t id)
{
    for (uint32_t j = 0; j < vs; j++)
        v[j] = (uint8_t)(id * 31u + j);
}

static int val_ok(const uint8_t *v, uint32_t vs, uint32_t id)
{
    for (uint32_t j = 0; j < vs; j++)
        if (v[j] != (uint8_t)(id * 31u + j))
            return 0;
    return 1;
}

static int m_find(const struct model *m, uint32_t id)
{
    for (uint32_t i = 0; i < m->top; i++)
        if (m->id[i] == id)
            return (int)i;
    return -1;
}

static uint64_t rng_state = 88172645463325252ull;
static uint32_t rnd(uint32_t n)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state % n);
}

/* runs ops random operations; returns the number of disagreements */
static int model_run(uint32_t ks, uint32_t vs, uint32_t cap, uint32_t space, int ops)
{
    static struct model m;
    memset(&m, 0, sizeof(m));
    m.ks = ks;
    m.vs = vs;
    m.cap = cap;
    m_ks = ks;
    m_evict_calls = 0;
    struct table *t = table_new(ks, vs, cap, m_on_evict, NULL);
    if (!t)
        return 1;
    int bad = 0;
    uint8_t key[128];
    uint32_t align = vs ? vs & (~vs + 1) : 1;
    if (align > 8)
        align = 8;
    for (int op = 0; op < ops; op++) {
        uint32_t id = rnd(space);
        mk_key(key, ks, id);
        int r = (int)rnd(10);
        int slot = m_find(&m, id);
        if (r < 4) { /* get, touching or not */
            bool touch = r < 2;
            uint8_t *v = table_get(t, key, touch);
            if ((v != NULL) != (slot >= 0) || (v && !val_ok(v, vs, id)))
                bad++;
            if (v && ((uintptr_t)v % align) != 0)
                bad++;
            if (slot >= 0 && touch)
                m.stamp[slot] = ++m.stamp_now;
        } else if (r < 8) { /* put */
            bool created = false;
            int calls = m_evict_calls;
            uint8_t *v = table_put(t, key, &created);
            if (!v || created != (slot < 0)) {
                bad++;
                continue;
            }
            if (slot >= 0) {
                m.stamp[slot] = ++m.stamp_now;
                if (!val_ok(v, vs, id))
                    bad++;
                continue;
            }
            if (m.top < cap) {
                slot = (int)m.top++;
                m.count++;
            } else { /* evict the LRU of class 0, else of class 1 */
                int victim = -1;
                for (int c = 0; c < 2 && victim < 0; c++)
                    for (uint32_t i = 0; i < m.top; i++)
                        if (m.id[i] != UINT32_MAX && m.cls[i] == c &&
                            (victim < 0 || m.stamp[i] < m.stamp[victim]))
                            victim = (int)i;
                if (m_evict_calls != calls + 1 || m_evicted_id != m.id[victim])
                    bad++;
                m.evicted++;
                slot = victim;
            }
            m.id[slot] = id;
            m.cls[slot] = 0;
            m.stamp[slot] = ++m.stamp_now;
            for (uint32_t j = 0; j < vs; j++)
                if (v[j] != 0) /* a new value starts zeroed */
                    bad++;
            fill_val(v, vs, id);
        } else if (slot >= 0) { /* class change through the value pointer */
            uint8_t *v = table_get(t, key, false);
            int c = (int)rnd(2);
            table_set_class(t, v, c);
            if (m.cls[slot] != c) {
                m.cls[slot] = c;
                m.stamp[slot] = ++m.stamp_now; /* moves to its new class's tail */
            }
        }
        if (table_count(t) != m.count || table_evicted(t) != m.evicted)
            bad++;
    }
    /* iteration in index order gives the model's slots */
    if (table_slots(t) != m.top)
        bad++;
    for (uint32_t i = 0; i < table_slots(t) && i < M_MAX; i++) {
        const void *k = NULL;
        uint8_t *v = table_slot(t, i, &k);
        if (!v || !k || key_id(k, ks) != m.id[i] || !val_ok(v, vs, m.id[i]))
            bad++;
        else {
            mk_key(key, ks, m.id[i]);
            if (memcmp(k, key, ks) != 0)
                bad++;
        }
    }
    if (table_bytes(t) < (size_t)m.top * (ks + vs))
        bad++;
    table_free(t);
    return bad;
}

static void model_checks(void)
{
    static const uint32_t ks[] = {1,  2,  3,  4,  5,  7,  8,  12, 15, 16,
                                  17, 24, 28, 33, 40, 42, 44, 48, 64, 100};
    static const uint32_t vs[] = {0, 1, 4, 8, 12, 24, 160, 3};
    for (size_t a = 0; a < sizeof(ks) / sizeof(ks[0]); a++) {
        for (size_t b = 0; b < sizeof(vs) / sizeof(vs[0]); b++) {
            uint32_t space = ks[a] == 1 ? 256 : 1500;
            /* cap 1000: growth 256 -> 512 -> 1000, then eviction; cap 300: early eviction */
            uint32_t cap = (a + b) % 2 ? 1000 : 300;
            if (ks[a] == 1)
                cap = 200;
            int bad = model_run(ks[a], vs[b], cap, space, 12000);
            if (bad)
                fprintf(stderr, "model: key %u val %u cap %u: %d disagreements\n", ks[a], vs[b],
                        cap, bad);
            CHECK_EQ(bad, 0);
        }
    }
    /* tiny caps (fewer bucket slots from the start), a cap above the index limit */
    static const uint32_t caps[] = {1, 2, 3, 7, 255, 257};
    for (size_t c = 0; c < sizeof(caps) / sizeof(caps[0]); c++)
        CHECK_EQ(model_run(42, 160, caps[c], 600, 5000), 0);
    CHECK_EQ(model_run(8, 8, 0xffffffffu, 1100, 8000), 0);
    CHECK(table_new(65537, 4, 10, NULL, NULL) == NULL);
    CHECK(table_new(4, 4, 0, NULL, NULL) == NULL);
}

int main(void)
{
    model_checks();

    /* growth and lookups across several rehashes */
    struct table *t = table_new(sizeof(uint32_t), sizeof(struct val), 100000, NULL, NULL);
    CHECK(t != NULL);
    for (uint32_t k = 0; k < 50000; k++) {
        bool created = false;
        struct val *v = table_put(t, &k, &created);
        CHECK(created);
        v->n = k * 3u;
    }
    CHECK_EQ(table_count(t), 50000);
    int bad = 0;
    for (uint32_t k = 0; k < 50000; k++) {
        struct val *v = table_get(t, &k, false);
        if (!v || v->n != k * 3u)
            bad++;
    }
    CHECK_EQ(bad, 0);
    uint32_t missing = 123456;
    CHECK(table_get(t, &missing, false) == NULL);
    bool created = true;
    uint32_t k7 = 7;
    table_put(t, &k7, &created);
    CHECK(!created);
    CHECK_EQ(table_evicted(t), 0);
    table_free(t);

    /* eviction: protected (class 1) entries survive a flood of expendable ones */
    t = table_new(sizeof(uint32_t), sizeof(struct val), 64, on_evict, NULL);
    for (uint32_t k = 0; k < 8; k++) {
        struct val *v = table_put(t, &k, NULL);
        table_set_class(t, v, 1); /* two-way tunnels */
    }
    for (uint32_t k = 1000; k < 1000 + 100000; k++)
        if (!table_put(t, &k, NULL))
            bad++;
    CHECK_EQ(bad, 0);
    CHECK_EQ(table_count(t), 64);
    CHECK_EQ(table_evicted(t), 100000 + 8 - 64);
    CHECK_EQ(evictions, 100000 + 8 - 64);
    int kept = 0;
    for (uint32_t k = 0; k < 8; k++)
        kept += table_get(t, &k, false) != NULL;
    CHECK_EQ(kept, 8);
    /* the most recent flood entries are kept, the oldest went first (LRU) */
    uint32_t newest = 1000 + 100000 - 1, oldest = 1000;
    CHECK(table_get(t, &newest, false) != NULL);
    CHECK(table_get(t, &oldest, false) == NULL);
    /* with only protected entries left, the LRU protected one goes */
    table_free(t);
    evictions = 0;
    t = table_new(sizeof(uint32_t), sizeof(struct val), 4, on_evict, NULL);
    for (uint32_t k = 0; k < 4; k++)
        table_set_class(t, table_put(t, &k, NULL), 1);
    uint32_t k0 = 0;
    table_get(t, &k0, true); /* touch 0: 1 becomes the LRU */
    uint32_t k9 = 9;
    CHECK(table_put(t, &k9, NULL) != NULL);
    CHECK_EQ(evictions, 1);
    CHECK_EQ(last_evicted, 1);
    /* iteration sees every live entry once */
    int live = 0;
    for (uint32_t i = 0; i < table_slots(t); i++)
        live += table_slot(t, i, NULL) != NULL;
    CHECK_EQ(live, 4);
    table_free(t);
    return t_done();
}
