/* table.c - bounded hash table with two-class LRU eviction (see table.h). */
#include "vpnscope/table.h"

#include <stdlib.h>
#include <string.h>

#define NIL 0xffffffffu     /* end of a bucket chain / free list */
#define LNIL 0x7fffffffu    /* end of an LRU list (31-bit links) */
#define IDX_MAX 0x7fffffffu /* entries per table: indexes stay below LNIL */
#define TOPBIT 0x80000000u

/*
 * Layout: entry i's header and key at slab + i * stride (struct tent, 8 B, then the key), its
 * value at vals + i * val_size. Values stay apart on purpose: a chain walk (most lookups of a
 * flood miss) then reads only narrow header+key lines; with the value beside the key (tried,
 * see BENCHMARKS.md) cachegrind counted fewer misses but the flood took 10-20% more CPU.
 * The LRU links live apart in `lk` (8 B an entry): touching an entry rewires its neighbours
 * there, a dense array, instead of three more random slab lines.
 * lk[2i] = prev | used << 31, lk[2i+1] = next | cls << 31.
 */
struct tent {
    uint32_t hnext; /* next in bucket chain; next free slot when unused */
    uint32_t hash;
};

struct table;
typedef uint32_t (*find_fn)(const struct table *t, const uint8_t *key, uint32_t *hp);

struct table {
    find_fn find; /* by key size, see pick_find */
    uint32_t key_size, val_size, cap;
    uint32_t count, alloc, top; /* top: slots ever handed out (<= alloc) */
    uint32_t nb;                /* buckets, power of two */
    uint32_t *bucket;
    uint8_t *slab;
    size_t stride;
    uint8_t *vals;
    uint32_t *lk;
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

static inline uint64_t ld8(const uint8_t *p)
{
    uint64_t w;
    memcpy(&w, p, 8);
    return w;
}

static inline uint64_t ld4(const uint8_t *p)
{
    uint32_t w;
    memcpy(&w, p, 4);
    return w;
}

/* 64x64->128 multiply folded to 64 bits (the mixing step of wyhash, public domain). */
static inline uint64_t mix(uint64_t a, uint64_t b)
{
    __extension__ typedef unsigned __int128 u128;
    u128 r = (u128)a * b;
    return (uint64_t)r ^ (uint64_t)(r >> 64);
}

#define S0 0xa0761d6478bd642full
#define S1 0xe7037ed1a0b428dbull
#define S2 0x8ebc6af09c88c6e3ull

/*
 * The table's own hash (hash_bytes stays as it was: other code keeps its values as ids). wyhash's
 * scheme: 16 bytes per multiply; the last words are read overlapping the previous ones, so any
 * length needs no byte loop. Inlined with a constant n for the common key sizes.
 */
static inline uint32_t thash(const uint8_t *p, uint32_t n)
{
    uint64_t seed = mix(S0 ^ n, S1), a, b;
    if (n >= 16) {
        uint32_t i = n;
        const uint8_t *q = p;
        while (i > 16) {
            seed = mix(ld8(q) ^ S1, ld8(q + 8) ^ seed);
            q += 16;
            i -= 16;
        }
        a = ld8(q + i - 16);
        b = ld8(q + i - 8);
    } else if (n >= 8) {
        a = ld8(p);
        b = ld8(p + n - 8);
    } else if (n >= 4) {
        a = ld4(p);
        b = ld4(p + n - 4);
    } else {
        a = ((uint64_t)p[0] << 16) | ((uint64_t)p[n >> 1] << 8) | p[n - 1];
        b = 0;
    }
    return (uint32_t)mix(mix(a ^ S1, b ^ seed) ^ S2 ^ n, S1);
}

/* memcmp(a, b, n) == 0, word at a time (the last word overlaps: fine for equality). The first
 * five words are written out: with n a constant (FIND_N) they need no loop, which -O2 kept. */
static inline int keq(const uint8_t *a, const uint8_t *b, uint32_t n)
{
    if (n >= 8) {
        uint64_t d = ld8(a + n - 8) ^ ld8(b + n - 8);
        if (n > 8)
            d |= ld8(a) ^ ld8(b);
        if (n > 16)
            d |= ld8(a + 8) ^ ld8(b + 8);
        if (n > 24)
            d |= ld8(a + 16) ^ ld8(b + 16);
        if (n > 32)
            d |= ld8(a + 24) ^ ld8(b + 24);
        if (n > 40)
            d |= ld8(a + 32) ^ ld8(b + 32);
        for (uint32_t i = 40; i + 8 < n; i += 8)
            d |= ld8(a + i) ^ ld8(b + i);
        return d == 0;
    }
    if (n >= 4)
        return ((ld4(a) ^ ld4(b)) | (ld4(a + n - 4) ^ ld4(b + n - 4))) == 0;
    return memcmp(a, b, n) == 0;
}

static inline struct tent *E(const struct table *t, uint32_t i)
{
    return (struct tent *)(void *)(t->slab + (size_t)i * t->stride);
}

static inline uint8_t *key_at(const struct table *t, uint32_t i)
{
    return t->slab + (size_t)i * t->stride + sizeof(struct tent);
}

static inline uint8_t *val_at(const struct table *t, uint32_t i)
{
    return t->vals + (size_t)i * t->val_size;
}

static inline uint32_t lprev(const struct table *t, uint32_t i)
{
    return t->lk[2 * (size_t)i] & ~TOPBIT;
}

static inline uint32_t lnext(const struct table *t, uint32_t i)
{
    return t->lk[2 * (size_t)i + 1] & ~TOPBIT;
}

static inline int used(const struct table *t, uint32_t i)
{
    return (t->lk[2 * (size_t)i] & TOPBIT) != 0;
}

static inline unsigned cls(const struct table *t, uint32_t i)
{
    return t->lk[2 * (size_t)i + 1] >> 31;
}

static inline void set_prev(struct table *t, uint32_t i, uint32_t v)
{
    t->lk[2 * (size_t)i] = (t->lk[2 * (size_t)i] & TOPBIT) | v;
}

static inline void set_next(struct table *t, uint32_t i, uint32_t v)
{
    t->lk[2 * (size_t)i + 1] = (t->lk[2 * (size_t)i + 1] & TOPBIT) | v;
}

static find_fn pick_find(uint32_t key_size);

struct table *table_new(uint32_t key_size, uint32_t val_size, uint32_t cap, table_evict_fn on_evict,
                        void *ctx)
{
    if (cap == 0 || key_size == 0 || key_size > 0x10000 || val_size > 0x10000000)
        return NULL;
    struct table *t = calloc(1, sizeof(*t));
    if (!t)
        return NULL;
    t->key_size = key_size;
    t->find = pick_find(key_size);
    t->val_size = val_size ? val_size : 1;
    t->stride = (sizeof(struct tent) + key_size + 7) & ~(size_t)7;
    t->cap = cap < IDX_MAX ? cap : IDX_MAX;
    t->nb = 256; /* grows with the entries (rehash in grow()) */
    t->bucket = malloc(sizeof(uint32_t) * t->nb);
    if (!t->bucket) {
        free(t);
        return NULL;
    }
    memset(t->bucket, 0xff, sizeof(uint32_t) * t->nb);
    t->free_head = NIL;
    t->lru_head[0] = t->lru_head[1] = LNIL;
    t->lru_tail[0] = t->lru_tail[1] = LNIL;
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
    free(t->lk);
    free(t);
}

static void lru_unlink(struct table *t, uint32_t i)
{
    uint32_t p = lprev(t, i), n = lnext(t, i), c = cls(t, i);
    if (p != LNIL)
        set_next(t, p, n);
    else
        t->lru_head[c] = n;
    if (n != LNIL)
        set_prev(t, n, p);
    else
        t->lru_tail[c] = p;
}

static void lru_append(struct table *t, uint32_t i)
{
    uint32_t c = cls(t, i), p = t->lru_tail[c];
    set_prev(t, i, p);
    set_next(t, i, LNIL);
    if (p != LNIL)
        set_next(t, p, i);
    else
        t->lru_head[c] = i;
    t->lru_tail[c] = i;
}

/* Makes i the most recently used of its class: lru_unlink then lru_append, written out for the
 * one case a lookup hit meets (i is not the tail, so it has a next and the list keeps a tail). */
static inline void touch_entry(struct table *t, uint32_t i)
{
    uint32_t *l = &t->lk[2 * (size_t)i];
    uint32_t c = l[1] >> 31;
    if (t->lru_tail[c] == i)
        return;
    uint32_t p = l[0] & ~TOPBIT, n = l[1] & ~TOPBIT, tail = t->lru_tail[c];
    if (p != LNIL)
        set_next(t, p, n);
    else
        t->lru_head[c] = n;
    set_prev(t, n, p);
    l[0] = (l[0] & TOPBIT) | tail;
    l[1] = (l[1] & TOPBIT) | LNIL;
    set_next(t, tail, i);
    t->lru_tail[c] = i;
}

static inline uint32_t find_n(const struct table *t, const void *key, uint32_t h, uint32_t n)
{
    for (uint32_t i = t->bucket[h & (t->nb - 1)]; i != NIL; i = E(t, i)->hnext)
        if (E(t, i)->hash == h && keq(key_at(t, i), key, n))
            return i;
    return NIL;
}

/* Finds key; *hp gets its hash. The common key sizes get their own copy with the size a constant
 * (table_new picks one): the hash and compare then unroll, with no memcmp call. */
#define FIND_N(c)                                                                                  \
    static uint32_t find_##c(const struct table *t, const uint8_t *k, uint32_t *hp)                \
    {                                                                                              \
        *hp = thash(k, c);                                                                         \
        return find_n(t, k, *hp, c);                                                               \
    }
FIND_N(4)
FIND_N(8)
FIND_N(16)
FIND_N(24)
FIND_N(28)
FIND_N(40)
FIND_N(42)
FIND_N(44)
FIND_N(48)
#undef FIND_N

static uint32_t find_any(const struct table *t, const uint8_t *k, uint32_t *hp)
{
    *hp = thash(k, t->key_size);
    return find_n(t, k, *hp, t->key_size);
}

static find_fn pick_find(uint32_t key_size)
{
    switch (key_size) {
    case 4:
        return find_4;
    case 8:
        return find_8;
    case 16:
        return find_16;
    case 24:
        return find_24;
    case 28:
        return find_28;
    case 40:
        return find_40;
    case 42:
        return find_42;
    case 44:
        return find_44;
    case 48:
        return find_48;
    default:
        return find_any;
    }
}

void *table_get(struct table *t, const void *key, bool touch)
{
    uint32_t h;
    uint32_t i = t->find(t, key, &h);
    if (i == NIL)
        return NULL;
    if (touch)
        touch_entry(t, i);
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
    t->lk[2 * (size_t)i] = LNIL; /* unused */
    t->lk[2 * (size_t)i + 1] = LNIL;
    e->hnext = t->free_head;
    t->free_head = i;
    t->count--;
}

static int grow(struct table *t)
{
    uint32_t na = t->alloc ? t->alloc * 2 : 256;
    if (na > t->cap || na < t->alloc)
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
    uint32_t *nl = realloc(t->lk, (size_t)na * 2 * sizeof(uint32_t));
    if (!nl)
        return -1;
    t->lk = nl;
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
                if (!used(t, i))
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
    uint32_t h;
    uint32_t i = t->find(t, key, &h);
    if (i != NIL) {
        if (created)
            *created = false;
        touch_entry(t, i);
        return val_at(t, i);
    }
    if (t->free_head == NIL && t->top == t->alloc && (t->alloc == t->cap || grow(t) != 0)) {
        /* full (or out of memory): evict an expendable entry first */
        uint32_t v = t->lru_head[0] != LNIL ? t->lru_head[0] : t->lru_head[1];
        if (v == LNIL)
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
    e->hash = h;
    e->hnext = t->bucket[h & (t->nb - 1)];
    t->bucket[h & (t->nb - 1)] = i;
    t->lk[2 * (size_t)i] = TOPBIT | LNIL; /* used, class 0 */
    t->lk[2 * (size_t)i + 1] = LNIL;
    lru_append(t, i);
    memcpy(key_at(t, i), key, t->key_size);
    memset(val_at(t, i), 0, t->val_size);
    t->count++;
    if (created)
        *created = true;
    return val_at(t, i);
}

void table_set_class(struct table *t, const void *val, int c)
{
    const uint8_t *v = val;
    if (!v || !t->vals || v < t->vals)
        return;
    size_t i = (size_t)(v - t->vals) / t->val_size;
    if (i >= t->top || !used(t, (uint32_t)i))
        return;
    uint32_t nc = c ? 1 : 0;
    if (cls(t, (uint32_t)i) == nc)
        return;
    lru_unlink(t, (uint32_t)i);
    t->lk[2 * i + 1] = (t->lk[2 * i + 1] & ~TOPBIT) | (nc << 31);
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
    if (i >= t->top || !used(t, i))
        return NULL;
    if (key)
        *key = key_at(t, i);
    return val_at(t, i);
}

const void *table_key_of(const struct table *t, const void *val)
{
    const uint8_t *v = val;
    if (!v || !t->vals || v < t->vals)
        return NULL;
    size_t i = (size_t)(v - t->vals) / t->val_size;
    if (i >= t->top || !used(t, (uint32_t)i))
        return NULL;
    return key_at(t, (uint32_t)i);
}

size_t table_bytes(const struct table *t)
{
    return sizeof(*t) + sizeof(uint32_t) * t->nb +
           (size_t)t->alloc * (t->stride + t->val_size + 2 * sizeof(uint32_t));
}
