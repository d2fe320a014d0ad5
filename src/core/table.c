#include "table.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "group.h"
#include "sluice.h"

uint64_t sl_strhash(const char *s)
{
    /* FNV-1a, then a final mix so linear probing sees spread low bits. */
    uint64_t h = 0xcbf29ce484222325ull;

    for (; *s != '\0'; s++) {
        h ^= (unsigned char)*s;
        h *= 0x100000001b3ull;
    }
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    return h;
}

int sl_strmap_init(struct sl_strmap *m, size_t n_hint)
{
    size_t cap = 8;

    while (cap < n_hint * 2 + 1)
        cap <<= 1;
    m->ents = calloc(cap, sizeof(*m->ents));
    if (m->ents == NULL)
        return SLUICE_ERR_NOMEM;
    m->mask = cap - 1;
    m->n = 0;
    m->max = n_hint;
    return 0;
}

void sl_strmap_fini(struct sl_strmap *m)
{
    free(m->ents);
    m->ents = NULL;
}

bool sl_strmap_put(struct sl_strmap *m, const char *key, size_t val, size_t *old)
{
    uint64_t h = sl_strhash(key);

    for (size_t i = h & m->mask;; i = (i + 1) & m->mask) {
        struct sl_strmap_ent *e = &m->ents[i];

        if (e->key == NULL) {
            assert(m->n < m->max);
            e->key = key;
            e->hash = h;
            e->val = val;
            m->n++;
            return false;
        }
        if (e->hash == h && strcmp(e->key, key) == 0) {
            if (old != NULL)
                *old = e->val;
            return true;
        }
    }
}

bool sl_strmap_get(const struct sl_strmap *m, const char *key, size_t *val)
{
    uint64_t h = sl_strhash(key);

    for (size_t i = h & m->mask;; i = (i + 1) & m->mask) {
        const struct sl_strmap_ent *e = &m->ents[i];

        if (e->key == NULL)
            return false;
        if (e->hash == h && strcmp(e->key, key) == 0) {
            *val = e->val;
            return true;
        }
    }
}

struct sl_table *sl_table_new(struct sl_group *const *groups, size_t n)
{
    struct sl_table *t = calloc(1, sizeof(*t));

    if (t == NULL)
        return NULL;
    t->groups = calloc(n > 0 ? n : 1, sizeof(*t->groups));
    if (t->groups == NULL || sl_strmap_init(&t->map, n) != 0)
        goto fail;
    for (size_t i = 0; i < n; i++) {
        t->groups[i] = groups[i];
        /* Names are unique: the writer replaced any group of the same name. */
        if (sl_strmap_put(&t->map, groups[i]->name, i, NULL))
            assert(!"duplicate group name in a table");
    }
    t->n = n;
    return t;

fail:
    free(t->groups);
    free(t);
    return NULL;
}

void sl_table_free(struct sl_table *t)
{
    if (t == NULL)
        return;
    sl_strmap_fini(&t->map);
    free(t->groups);
    free(t);
}

struct sl_group *sl_table_find(const struct sl_table *t, const char *name)
{
    size_t i;

    if (t == NULL || !sl_strmap_get(&t->map, name, &i))
        return NULL;
    return t->groups[i];
}
