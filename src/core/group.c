/* Group objects: construction with the strategy's build(), destruction
 * after a grace period, and lookups the writers and marks share. */
#include "group.h"

#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "score.h"
#include "selector.h"
#include "target.h"

/* Undoes what sl_group_new() took on each backend: the listing, then the
 * reference (which may free the backend). */
static void drop_backends(struct sl_group *g)
{
    for (size_t i = 0; i < g->n; i++) {
        /* release: everything this group did with the backend happens
         * before a pool that sees it unlisted lets go of its state. */
        atomic_fetch_sub_explicit(&g->backends[i]->listed, 1, memory_order_release);
        sl_backend_unref(g->backends[i]);
    }
    g->n = 0;
}

struct sl_group *sl_group_new(const char *name, sluice_strategy_t s,
                              struct sluice_backend *const *bs, size_t n, const char *parent,
                              const char *selector, uint64_t seed)
{
    const struct sl_strategy_ops *ops = sl_strategy_ops(s);
    size_t size = (sizeof(struct sl_group) + 63) & ~(size_t)63;
    struct sl_group *g;

    if (ops == NULL)
        return NULL;
    /* aligned_alloc: <cursor> is _Alignas(64), written by every pick. */
    g = aligned_alloc(64, size);
    if (g == NULL)
        return NULL;
    memset(g, 0, size);
    g->name = (char *)name; /* owned by the lb's intern list, not the group */
    g->strategy = s;
    g->ops = ops;
    g->seed = seed;
    atomic_init(&g->cursor, 0);
    atomic_init(&g->panic_cache, UINT64_MAX);
    g->backends = calloc(n > 0 ? n : 1, sizeof(*g->backends));
    if (g->backends == NULL)
        goto fail;
    if (parent != NULL && (g->parent = strdup(parent)) == NULL)
        goto fail;
    if (parent != NULL && (g->selector = strdup(selector != NULL ? selector : "")) == NULL)
        goto fail;
    for (size_t i = 0; i < n; i++) {
        sl_backend_ref(bs[i]);
        atomic_fetch_add_explicit(&bs[i]->listed, 1, memory_order_relaxed);
        g->backends[i] = bs[i];
    }
    g->n = n;
    /* An empty group is never picked from: strategies need not handle it. */
    if (n > 0 && ops->build(g) != 0)
        goto fail_built;
    return g;

fail_built:
    drop_backends(g);
fail:
    free(g->backends);
    free(g->parent);
    free(g->selector);
    free(g);
    return NULL;
}

int sl_group_new_view(const char *name, const struct sl_group *parent, const char *parent_name,
                      const char *selector, uint64_t seed, struct sl_group **out)
{
    struct sluice_backend **bs = NULL;
    struct sl_selector sel;
    size_t n = 0;
    int rc;

    if (parent != NULL && parent->parent != NULL)
        parent = NULL; /* a view of a view is not a thing: stay empty */
    rc = sl_selector_parse(selector, &sel, NULL, 0);
    if (rc != 0)
        return rc;
    if (parent != NULL && parent->n > 0) {
        bs = malloc(parent->n * sizeof(*bs));
        if (bs == NULL) {
            sl_selector_fini(&sel);
            return SLUICE_ERR_NOMEM;
        }
        for (size_t i = 0; i < parent->n; i++)
            if (sl_selector_match(&sel, parent->backends[i]))
                bs[n++] = parent->backends[i];
    }
    sl_selector_fini(&sel);
    *out = sl_group_new(name, parent != NULL ? parent->strategy : SLUICE_ROUND_ROBIN, bs, n,
                        parent_name, selector != NULL ? selector : "", seed);
    free(bs);
    return *out != NULL ? 0 : SLUICE_ERR_NOMEM;
}

void sl_group_free(struct sl_group *g)
{
    if (g == NULL)
        return;
    if (g->n > 0 && g->ops->destroy != NULL)
        g->ops->destroy(g);
    drop_backends(g);
    sl_score_cfg_unref(g->cfg);
    free(g->backends);
    free(g->parent);
    free(g->selector);
    free(g);
}

bool sl_group_panic_slow(struct sl_group *g, uint64_t gen)
{
    uint64_t pct = atomic_load_explicit(&g->cfg->panic_percent, memory_order_relaxed);
    uint64_t candidates = 0, usable = 0;
    bool panic = false;

    if (pct > 0) {
        for (size_t i = 0; i < g->n; i++) {
            const struct sluice_backend *b = g->backends[i];

            /* Out for another reason (weight 0, drained; an out bit: a
             * lapsed lease, a starting instance): not counted. */
            if (!sl_backend_in(b))
                continue;
            candidates++;
            usable += atomic_load_explicit(&b->score, memory_order_relaxed) >= 0;
        }
        panic = candidates > 0 && usable * 100 < pct * candidates;
    }
    /* Racing recounts store the same generation; a later move of it makes
     * the next select count again. */
    atomic_store_explicit(&g->panic_cache, gen << 1 | (uint64_t)panic, memory_order_relaxed);
    return panic;
}

struct sluice_backend *sl_group_find_backend(const struct sl_group *g, const char *key)
{
    struct sl_target t;

    for (size_t i = 0; i < g->n; i++)
        if (strcmp(g->backends[i]->target, key) == 0 || strcmp(g->backends[i]->name, key) == 0)
            return g->backends[i];
    if (sl_target_parse(key, &t) != 0)
        return NULL;
    for (size_t i = 0; i < g->n; i++)
        if (strcmp(g->backends[i]->target, t.canon) == 0)
            return g->backends[i];
    return NULL;
}

bool sl_groups_name_in_use(struct sl_group *const *gs, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++) {
        const struct sl_group *g = gs[i];

        if (g->parent != NULL || g->retiring)
            continue;
        for (size_t j = 0; j < g->n; j++)
            if (strcmp(g->backends[j]->name, name) == 0)
                return true;
    }
    return false;
}
