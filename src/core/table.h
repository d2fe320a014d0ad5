/* The published table (service or view name -> group) and the small
 * fixed-capacity string map it and the writers use. A table is immutable
 * once published; readers look names up without a lock. */
#ifndef SL_CORE_TABLE_H
#define SL_CORE_TABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct sl_group;

/* Open addressing, linear probing, keys borrowed. Capacity is fixed at init
 * for <n_hint> keys: putting more is a bug (asserted). */
struct sl_strmap_ent {
    const char *key; /* NULL: empty */
    uint64_t hash;
    size_t val;
};

struct sl_strmap {
    struct sl_strmap_ent *ents;
    size_t mask;
    size_t n;
    size_t max; /* n_hint */
};

uint64_t sl_strhash(const char *s);
/* 0 or SLUICE_ERR_NOMEM. */
int sl_strmap_init(struct sl_strmap *m, size_t n_hint);
void sl_strmap_fini(struct sl_strmap *m);
/* Inserts <key> -> <val>; when <key> is present returns true and leaves
 * the old value in *old (when not NULL) without changing it. */
bool sl_strmap_put(struct sl_strmap *m, const char *key, size_t val, size_t *old);
bool sl_strmap_get(const struct sl_strmap *m, const char *key, size_t *val);

struct sl_table {
    size_t n;
    struct sl_group **groups; /* services and views, in registration order */
    struct sl_strmap map;     /* name -> index in groups */
};

/* A table listing groups[0..n) (the array is copied; the groups are not
 * owned: the writer frees a group when the last table listing it is gone).
 * NULL when out of memory. */
struct sl_table *sl_table_new(struct sl_group *const *groups, size_t n);
/* Frees the table, not its groups. NULL is a no-op. */
void sl_table_free(struct sl_table *t);
/* Lock-free lookup; NULL when absent. */
struct sl_group *sl_table_find(const struct sl_table *t, const char *name);

#endif /* SL_CORE_TABLE_H */
