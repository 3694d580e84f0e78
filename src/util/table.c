/* table.c - bounded hash table with two-class LRU eviction (see table.h). */
#include "vpnscope/table.h"

#include <stdlib.h>
#include <string.h>

#define NIL 0xffffffffu

struct tent {
    uint32_t hnext; /* next in bucket chain */
    uint32_t lprev; /* LRU list neighbours */
    uint32_t lnext;
    uint32_t hash;
    uint8_t used;
    uint8_t cls;
};

struct table {
    uint32_t key_size, val_size, cap;
    uint32_t count, alloc, top; /* top: slots ever handed out (<= alloc) */
    uint32_t nb;                /* buckets, power of two */
    uint32_t *bucket;
    uint8_t *slab; /* entries: struct tent then the key, `stride` bytes each (one cache
                    * line for small keys: a lookup touches one place, not two) */
    size_t stride;
    uint8_t *vals;
    uint32_t free_head;                /* free slot list through hnext */
    uint32_t lru_head[2], lru_tail[2]; /* head = least recently used */
    uint64_t evicted;
    table_evict_fn on_evict;
    void *ctx;
};

uint64_t hash_bytes(const void *p, size_t n)
{
    const uint8_t *b = p;
    uint64_t h = 0xcbf29ce484222325ull;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, b + i, 8);
        h ^= w;
        h *= 0x100000001b3ull;
        h ^= h >> 29;
    }
    for (; i < n; i++) {
        h ^= b[i];
        h *= 0x100000001b3ull;
    }
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    return h;
}

struct table *table_new(uint32_t key_size, uint32_t val_size, uint32_t cap, table_evict_fn on_evict,
                        void *ctx)
{
    if (cap == 0 || key_size == 0)
        return NULL;
    struct table *t = calloc(1, sizeof(*t));
    if (!t)
        return NULL;
    t->key_size = key_size;
    t->stride = (sizeof(struct tent) + key_size + 7) & ~(size_t)7;
    t->val_size = val_size ? val_size : 1;
    t->cap = cap;
    t->nb = 256; /* grows with the entries (rehash in grow()) */
    t->bucket = malloc(sizeof(uint32_t) * t->nb);
    if (!t->bucket) {
        free(t);
        return NULL;
    }
    memset(t->bucket, 0xff, sizeof(uint32_t) * t->nb);
    t->free_head = NIL;
    t->lru_head[0] = t->lru_head[1] = NIL;
    t->lru_tail[0] = t->lru_tail[1] = NIL;
    t->on_evict = on_evict;
    t->ctx = ctx;
    return t;
}

void table_free(struct table *t)
{
    if (!t)
        return;
    free(t->bucket);
    free(t->slab);
    free(t->vals);
    free(t);
}

static inline struct tent *E(const struct table *t, uint32_t i)
{
    return (struct tent *)(void *)(t->slab + (size_t)i * t->stride);
}

static void lru_unlink(struct table *t, uint32_t i)
{
    struct tent *e = E(t, i);
    if (e->lprev != NIL)
        E(t, e->lprev)->lnext = e->lnext;
    else
        t->lru_head[e->cls] = e->lnext;
    if (e->lnext != NIL)
        E(t, e->lnext)->lprev = e->lprev;
    else
        t->lru_tail[e->cls] = e->lprev;
    e->lprev = e->lnext = NIL;
}

static void lru_append(struct table *t, uint32_t i)
{
    struct tent *e = E(t, i);
    e->lnext = NIL;
    e->lprev = t->lru_tail[e->cls];
    if (e->lprev != NIL)
        E(t, e->lprev)->lnext = i;
    else
        t->lru_head[e->cls] = i;
    t->lru_tail[e->cls] = i;
}

static inline uint8_t *key_at(const struct table *t, uint32_t i)
{
    return t->slab + (size_t)i * t->stride + sizeof(struct tent);
}

static inline uint8_t *val_at(const struct table *t, uint32_t i)
{
    return t->vals + (size_t)i * t->val_size;
}

static uint32_t find(const struct table *t, const void *key, uint32_t h)
{
    for (uint32_t i = t->bucket[h & (t->nb - 1)]; i != NIL; i = E(t, i)->hnext)
        if (E(t, i)->hash == h && memcmp(key_at(t, i), key, t->key_size) == 0)
            return i;
    return NIL;
}

void *table_get(struct table *t, const void *key, bool touch)
{
    uint32_t h = (uint32_t)hash_bytes(key, t->key_size);
    uint32_t i = find(t, key, h);
    if (i == NIL)
        return NULL;
    if (touch && t->lru_tail[E(t, i)->cls] != i) {
        lru_unlink(t, i);
        lru_append(t, i);
    }
    return val_at(t, i);
}

static void remove_entry(struct table *t, uint32_t i)
{
    struct tent *e = E(t, i);
    uint32_t *pp = &t->bucket[e->hash & (t->nb - 1)];
    while (*pp != NIL && *pp != i)
        pp = &E(t, *pp)->hnext;
    if (*pp == i)
        *pp = e->hnext;
    lru_unlink(t, i);
    e->used = 0;
    e->hnext = t->free_head;
    t->free_head = i;
    t->count--;
}

static int grow(struct table *t)
{
    uint32_t na = t->alloc ? t->alloc * 2 : 256;
    if (na > t->cap)
        na = t->cap;
    if (na <= t->alloc)
        return -1;
    uint8_t *ns = realloc(t->slab, (size_t)na * t->stride);
    if (!ns)
        return -1;
    t->slab = ns;
    uint8_t *nv = realloc(t->vals, (size_t)na * t->val_size);
    if (!nv)
        return -1;
    t->vals = nv;
    t->alloc = na;
    /* keep the load factor <= 1: rehash every live entry into a larger bucket array */
    if (na > t->nb) {
        uint32_t nb = t->nb;
        while (nb < na)
            nb <<= 1;
        uint32_t *b = malloc(sizeof(uint32_t) * nb);
        if (b) {
            memset(b, 0xff, sizeof(uint32_t) * nb);
            for (uint32_t i = 0; i < t->top; i++) {
                if (!E(t, i)->used)
                    continue;
                uint32_t h = E(t, i)->hash & (nb - 1);
                E(t, i)->hnext = b[h];
                b[h] = i;
            }
            free(t->bucket);
            t->bucket = b;
            t->nb = nb;
        }
    }
    return 0;
}

void *table_put(struct table *t, const void *key, bool *created)
{
    uint32_t h = (uint32_t)hash_bytes(key, t->key_size);
    uint32_t i = find(t, key, h);
    if (i != NIL) {
        if (created)
            *created = false;
        if (t->lru_tail[E(t, i)->cls] != i) {
            lru_unlink(t, i);
            lru_append(t, i);
        }
        return val_at(t, i);
    }
    if (t->free_head == NIL && t->top == t->alloc && grow(t) != 0) {
        /* full (or out of memory): evict an expendable entry first */
        uint32_t v = t->lru_head[0] != NIL ? t->lru_head[0] : t->lru_head[1];
        if (v == NIL)
            return NULL;
        if (t->on_evict)
            t->on_evict(t->ctx, key_at(t, v), val_at(t, v));
        remove_entry(t, v);
        t->evicted++;
    }
    if (t->free_head != NIL) {
        i = t->free_head;
        t->free_head = E(t, i)->hnext;
    } else {
        i = t->top++;
    }
    struct tent *e = E(t, i);
    e->used = 1;
    e->cls = 0;
    e->hash = h;
    e->hnext = t->bucket[h & (t->nb - 1)];
    t->bucket[h & (t->nb - 1)] = i;
    lru_append(t, i);
    memcpy(key_at(t, i), key, t->key_size);
    memset(val_at(t, i), 0, t->val_size);
    t->count++;
    if (created)
        *created = true;
    return val_at(t, i);
}

void table_set_class(struct table *t, const void *val, int cls)
{
    const uint8_t *v = val;
    if (!v || v < t->vals)
        return;
    size_t i = (size_t)(v - t->vals) / t->val_size;
    if (i >= t->top || !E(t, i)->used)
        return;
    uint8_t c = cls ? 1 : 0;
    if (E(t, i)->cls == c)
        return;
    lru_unlink(t, (uint32_t)i);
    E(t, i)->cls = c;
    lru_append(t, (uint32_t)i);
}

uint32_t table_count(const struct table *t)
{
    return t->count;
}

uint64_t table_evicted(const struct table *t)
{
    return t->evicted;
}

uint32_t table_slots(const struct table *t)
{
    return t->top;
}

void *table_slot(const struct table *t, uint32_t i, const void **key)
{
    if (i >= t->top || !E(t, i)->used)
        return NULL;
    if (key)
        *key = key_at(t, i);
    return val_at(t, i);
}

size_t table_bytes(const struct table *t)
{
    return sizeof(*t) + sizeof(uint32_t) * t->nb + (size_t)t->alloc * (t->stride + t->val_size);
}
