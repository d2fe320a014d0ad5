/* The strategy registry and the per-thread helpers every strategy shares:
 * the random source, the batched cursor and the two-choices draw. */
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>

#include "group.h"
#include "strategy_util.h"

/* Indexed by sluice_strategy_t; nothing registers at run time. */
static const struct sl_strategy_ops *const registry[SLUICE_STRATEGY_COUNT] = {
    [SLUICE_ROUND_ROBIN] = &sl_rr_ops,
    [SLUICE_WEIGHTED_ROUND_ROBIN] = &sl_wrr_ops,
    [SLUICE_LEAST_CONNECTIONS] = &sl_least_conn_ops,
    [SLUICE_LEAST_REQUEST] = &sl_p2c_ops,
    [SLUICE_RANDOM] = &sl_random_ops,
    [SLUICE_MAGLEV] = &sl_maglev_ops,
    [SLUICE_RING_HASH] = &sl_ring_hash_ops,
    [SLUICE_PEAK_EWMA] = &sl_peak_ewma_ops,
    [SLUICE_LEAST_LOAD] = &sl_least_load_ops,
};

const struct sl_strategy_ops *sl_strategy_ops(sluice_strategy_t s)
{
    if ((unsigned)s >= SLUICE_STRATEGY_COUNT)
        return NULL;
    return registry[s];
}

/* splitmix64 over a per-thread Weyl sequence. Thread-local, so picks on
 * different threads never share a cache line; seeded lazily from the
 * address of the state (unique per live thread) and the group's seed. */
static _Thread_local uint64_t rand_state;

int sl_strategy_build_stateless(struct sl_group *g)
{
    g->state = NULL;
    return 0;
}

void sl_strategy_destroy_stateless(struct sl_group *g)
{
    g->state = NULL;
}

void sl_strategy_free_state(struct sl_group *g)
{
    free(g->state);
    g->state = NULL;
}

uint64_t sl_group_rand(struct sl_group *g)
{
    uint64_t s = rand_state;

    if (s == 0)
        s = sl_mix64((uint64_t)(uintptr_t)&rand_state ^ g->seed ^ UINT64_C(0x2545f4914f6cdd1d));
    s += UINT64_C(0x9e3779b97f4a7c15);
    rand_state = s;
    return sl_mix64(s);
}

/* Per-thread slice of one group's cursor. A thread that keeps picking in
 * the same group doubles its slice up to SL_CURSOR_BATCH, so the shared
 * fetch_add happens once per 16 picks; a thread that alternates groups
 * takes one value at a time, which keeps strict rotation (a fixed slice
 * would leave each thread landing on the same residues). The group is
 * recognised by address and seed; a stale match after a group is freed
 * only shifts where the rotation resumes. */
#define SL_CURSOR_BATCH 16

struct cursor_slice {
    const struct sl_group *g;
    uint64_t seed;
    uint64_t next;
    uint64_t end;
    uint64_t batch;
};

static _Thread_local struct cursor_slice slice;

uint64_t sl_group_cursor_next(struct sl_group *g)
{
    struct cursor_slice *c = &slice;
    uint64_t v;

    if (c->g == g && c->seed == g->seed) {
        if (c->next < c->end)
            return c->next++;
        if (c->batch < SL_CURSOR_BATCH)
            c->batch *= 2;
    } else {
        c->g = g;
        c->seed = g->seed;
        c->batch = 1;
    }
    v = atomic_fetch_add_explicit(&g->cursor, c->batch, memory_order_relaxed);
    c->next = v + 1;
    c->end = v + c->batch;
    return v;
}

_Thread_local uint64_t sl_walk_visits;

/* What one eligible backend adds to the draw. */
static uint64_t share(const struct sluice_backend *b, bool weighted)
{
    return weighted ? atomic_load_explicit(&b->weight, memory_order_relaxed) : 1;
}

struct sluice_backend *sl_scan_fair(struct sl_group *g, const struct sl_pick *p, bool weighted)
{
    size_t n = g->n;
    uint64_t sum = 0, r;
    struct sluice_backend *last = NULL;

    for (size_t i = 0; i < n; i++)
        if (sl_pick_eligible(p, g->backends[i]))
            sum += share(g->backends[i], weighted);
    sl_walk_visits += n;
    if (sum == 0)
        return NULL;
    /* sum < 2^32 x n: the 64-bit draw modulo it is near uniform. */
    r = sl_group_rand(g) % sum;
    for (size_t i = 0; i < n; i++) {
        struct sluice_backend *b = g->backends[i];
        uint64_t s;

        if (!sl_pick_eligible(p, b))
            continue;
        s = share(b, weighted);
        last = b;
        if (r < s) {
            sl_walk_visits += i + 1;
            return b;
        }
        r -= s;
    }
    /* Health or weights moved between the passes: any eligible one. */
    sl_walk_visits += n;
    return last;
}

/* Collects up to two eligible backends scanning from <start>. */
static size_t scan_two(const struct sl_group *g, const struct sl_pick *p, size_t start,
                       struct sluice_backend *out[2])
{
    size_t n = g->n, found = 0;

    for (size_t k = 0; k < n && found < 2; k++) {
        size_t i = start + k < n ? start + k : start + k - n;

        if (sl_pick_eligible(p, g->backends[i]))
            out[found++] = g->backends[i];
    }
    return found;
}

size_t sl_pick_two(struct sl_group *g, const struct sl_pick *p, struct sluice_backend *out[2])
{
    size_t n = g->n;
    uint64_t r = 0;

    if (n == 0)
        return 0;
    if (n == 1) {
        if (!sl_pick_eligible(p, g->backends[0]))
            return 0;
        out[0] = g->backends[0];
        return 1;
    }
    /* A few draws find two eligible ones unless most are down or skipped;
     * then the scan keeps the worst case at n checks. */
    for (int tries = 0; tries < 4; tries++) {
        r = sl_group_rand(g);
        size_t i = sl_range32((uint32_t)r, n);
        size_t j = sl_range32((uint32_t)(r >> 32), n - 1);

        if (j >= i)
            j++;
        if (sl_pick_eligible(p, g->backends[i]) && sl_pick_eligible(p, g->backends[j])) {
            out[0] = g->backends[i];
            out[1] = g->backends[j];
            return 2;
        }
    }
    return scan_two(g, p, sl_range32((uint32_t)(r >> 16), n), out);
}

bool sl_less_loaded_ramping(const struct sluice_backend *a, const struct sluice_backend *b)
{
    uint64_t wa = atomic_load_explicit(&a->weight, memory_order_relaxed) * sl_ramp_factor(a);
    uint64_t wb = atomic_load_explicit(&b->weight, memory_order_relaxed) * sl_ramp_factor(b);

    wa = wa ? wa : 1;
    wb = wb ? wb : 1;
    return (uint64_t)sl_backend_active(a) * wb < (uint64_t)sl_backend_active(b) * wa;
}
