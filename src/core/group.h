/* A group: the immutable list of backends of one service (or view), with
 * whatever its strategy precomputed (schedules, Maglev table, ring). Built
 * by the writer, published in a table, read lock-free by select; freed
 * after an epoch grace period once no reader can see it. */
#ifndef SL_CORE_GROUP_H
#define SL_CORE_GROUP_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "backend_types.h"
#include "sluice.h"

/* What one pick may use: the hashing key and the backends a retry must not
 * get again (borrowed, usually a few entries on the caller's stack). */
struct sl_pick {
    const void *key;
    size_t keylen;
    const struct sluice_backend *const *skip;
    size_t nskip;
    bool panic; /* the group is in panic: health does not count (select.c) */
};

struct sl_group;

/* The strategy registry: a static const array indexed by sluice_strategy_t
 * (strategy.c). build() precomputes into g->state (may be NULL for
 * stateless strategies) and returns 0 or SLUICE_ERR_NOMEM; pick() reads only
 * immutable state and atomics and returns an eligible backend or NULL;
 * destroy() frees g->state. */
struct sl_strategy_ops {
    const char *name;
    int (*build)(struct sl_group *g);
    struct sluice_backend *(*pick)(struct sl_group *g, const struct sl_pick *p);
    void (*destroy)(struct sl_group *g);
};

struct sl_group {
    char *name; /* service or view name */
    sluice_strategy_t strategy;
    const struct sl_strategy_ops *ops;
    struct sluice_backend **backends; /* n entries, each holding a ref */
    size_t n;
    char *parent;   /* views: the service they select from; else NULL */
    char *selector; /* views: the label selector source; else NULL */
    void *state;    /* the strategy's precomputed data */
    uint64_t seed;  /* per-group seed for random picks */
    /* No config wants it any more; it stays selectable for the old routing
     * tables that still use it, until it is unregistered. A service's
     * backend names no longer count as taken; a view is no longer rebuilt
     * when its service changes (see sl_lb_apply()). */
    bool retiring;
    /* The service's settings (one reference; NULL for a view of a missing
     * service), set by sl_txn_put(). */
    struct sl_score_cfg *cfg;
    /* Panic as last computed: cfg->health_gen << 1 | in panic; UINT64_MAX
     * until the first select computes it (sl_group_panic()). */
    _Atomic uint64_t panic_cache;
    /* Written by every pick of RR-like strategies: its own cache line. */
    _Alignas(64) _Atomic uint64_t cursor;
    _Alignas(64) char pad_;
};

/* ---- building and finding (group.c; the writer's side) ---- */

/* A group <name> (borrowed: the lb keeps service names alive while any
 * group uses them) over bs[0..n), taking one reference on each, built with
 * <s>'s strategy. <parent> and <selector> (views only, else NULL) are
 * copied. NULL when out of memory or <s> is not a strategy. Writer only. */
struct sl_group *sl_group_new(const char *name, sluice_strategy_t s,
                              struct sluice_backend *const *bs, size_t n, const char *parent,
                              const char *selector, uint64_t seed);
/* View group <name> over the backends of service group <parent> whose
 * labels match <selector> (NULL or "": all), with <parent>'s strategy.
 * <parent> may be NULL or a view: the view is then empty, round robin, but
 * still remembers <parent_name>, so the first change of that service fills
 * it. 0 with *out set; INVALID_ARG (bad selector) or NOMEM. Writer only. */
int sl_group_new_view(const char *name, const struct sl_group *parent, const char *parent_name,
                      const char *selector, uint64_t seed, struct sl_group **out);
/* Destroys the strategy state and drops the backend references; the name is
 * not freed. Only after a grace period. NULL is a no-op. */
void sl_group_free(struct sl_group *g);
/* The backend whose name or target is <key>, or whose target is <key> in
 * canonical form ("10.0.0.1" finds "10.0.0.1:80"). NULL when absent. */
struct sluice_backend *sl_group_find_backend(const struct sl_group *g, const char *key);
/* Whether a service (not a view, not retiring) of gs[0..n) has a backend
 * named <name>. */
bool sl_groups_name_in_use(struct sl_group *const *gs, size_t n, const char *name);

/* ---- the pick side ---- */

/* Eligible for this pick: pickable (usable, or weight > 0 and no out bit
 * in panic) and
 * not in p->skip. The one place every strategy asks. */
static inline bool sl_pick_eligible(const struct sl_pick *p, const struct sluice_backend *b)
{
    if (!sl_backend_pickable(b, p->panic))
        return false;
    for (size_t i = 0; i < p->nskip; i++)
        if (p->skip[i] == b)
            return false;
    return true;
}

/* Whether <g> is in panic: fewer than the service's panic percent of its
 * candidates (weight > 0, no out bit) usable by health. Two relaxed loads while the
 * service's health generation stands still; an O(n) recount when it moved
 * (group.c). */
bool sl_group_panic_slow(struct sl_group *g, uint64_t gen);
static inline bool sl_group_panic(struct sl_group *g)
{
    uint64_t gen, cache;

    if (g->cfg == NULL)
        return false;
    gen = atomic_load_explicit(&g->cfg->health_gen, memory_order_relaxed);
    cache = atomic_load_explicit(&g->panic_cache, memory_order_relaxed);
    if (cache >> 1 == gen && cache != UINT64_MAX)
        return (cache & 1) != 0;
    return sl_group_panic_slow(g, gen);
}

/* The registry (strategy.c). */
const struct sl_strategy_ops *sl_strategy_ops(sluice_strategy_t s);

/* Per-strategy ops (one file each). */
extern const struct sl_strategy_ops sl_rr_ops, sl_wrr_ops, sl_least_conn_ops, sl_p2c_ops,
    sl_random_ops, sl_maglev_ops, sl_ring_hash_ops, sl_peak_ewma_ops, sl_least_load_ops;

/* A fast thread-safe pseudo-random 64-bit value for picks (no lock, no
 * global state: it mixes the group's cursor with a per-thread counter). */
uint64_t sl_group_rand(struct sl_group *g);

/* 64-bit hash of a key (used by maglev and ring_hash). */
uint64_t sl_hash64(const void *key, size_t len, uint64_t seed);

#endif /* SL_CORE_GROUP_H */
