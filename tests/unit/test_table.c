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

int main(void)
{
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
