/* table.h - bounded hash table with two-class LRU eviction (expendable before protected). */
#ifndef VPNSCOPE_TABLE_H
#define VPNSCOPE_TABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Fixed-size keys and values stored inline in arrays that grow (doubling) up to `cap` entries.
 * When full, an insert evicts the least recently used entry of class 0 (expendable: e.g. one-way
 * flows, unpaired SAs); only when no class-0 entry exists, the LRU entry of class 1 (protected:
 * two-way tunnels). A flood of spoofed one-way flows therefore cannot evict live tunnels.
 * Pointers returned by table_get/table_put are valid until the next table_put on the same table
 * (growth may move entries). Entries are identified by a stable index (table_index).
 */
struct table;

typedef void (*table_evict_fn)(void *ctx, const void *key, void *val);

/* key_size and val_size in bytes; cap > 0. on_evict (may be NULL) is called before an entry is
 * dropped. Keys are compared with memcmp: zero padding in keys before use. NULL on OOM. */
struct table *table_new(uint32_t key_size, uint32_t val_size, uint32_t cap, table_evict_fn on_evict,
                        void *ctx);
void table_free(struct table *t);

/* The value for key, or NULL. Marks it most recently used when `touch`. */
void *table_get(struct table *t, const void *key, bool touch);

/* The value for key, inserting a zeroed one (evicting if full) when absent; *created tells which.
 */
void *table_put(struct table *t, const void *key, bool *created);

/* Moves an entry to class 0 or 1 (see above). */
void table_set_class(struct table *t, const void *val, int cls);

/* Number of entries, evictions so far, and the cap. */
uint32_t table_count(const struct table *t);
uint64_t table_evicted(const struct table *t);

/* Iteration over live entries in index order: i from 0 while i < table_slots(t). */
uint32_t table_slots(const struct table *t);
void *table_slot(const struct table *t, uint32_t i, const void **key); /* NULL if slot unused */

/* The key of a value of t (a pointer table_get/table_put/table_slot gave, still valid); NULL
 * when val is not one of t's live values. */
const void *table_key_of(const struct table *t, const void *val);

/* Approximate bytes allocated. */
size_t table_bytes(const struct table *t);

/* 64-bit hash of bytes (FNV-1a variant with a final mix). */
uint64_t hash_bytes(const void *p, size_t n);

/* Limits of table_new (NULL beyond): key_size <= 65536, val_size <= 2^28; a cap above 2^31 - 1
 * acts as 2^31 - 1. The table hashes keys with its own function, not hash_bytes. */

#endif
