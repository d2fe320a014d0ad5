/* Helpers shared by the strategy files (private to the src/core strategies).
 * Everything here is safe on the pick path: no lock, no allocation. */
#ifndef SL_CORE_STRATEGY_UTIL_H
#define SL_CORE_STRATEGY_UTIL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "backend_types.h"
#include "group.h"

/* Fixed seed for key hashing: consistent strategies must map a key to the
 * same slot in every group built for the service, whatever g->seed is. */
#define SL_KEY_SEED UINT64_C(0x5eed51c3a11ce5ed)

/* The next value of the group's shared cursor, for round-robin-like walks.
 * Takes SL_CURSOR_BATCH values at a time per thread so that two threads do
 * not bounce g->cursor's cache line on every pick; a single thread still
 * sees consecutive values. Any thread; lock-free (strategy.c). */
uint64_t sl_group_cursor_next(struct sl_group *g);

/* Maps a uniform 32-bit value onto [0, n) without a division (n < 2^32). */
static inline size_t sl_range32(uint32_t r, size_t n)
{
    return (size_t)(((uint64_t)r * (uint64_t)n) >> 32);
}

/* The splitmix64 finaliser: a cheap, well-spread 64-bit mix. */
static inline uint64_t sl_mix64(uint64_t x)
{
    x ^= x >> 30;
    x *= UINT64_C(0xbf58476d1ce4e5b9);
    x ^= x >> 27;
    x *= UINT64_C(0x94d049bb133111eb);
    x ^= x >> 31;
    return x;
}

/* Entries (backends, schedule slots, ring points) that the slow paths of
 * picks on this thread have looked at: the fast path (first candidate
 * eligible) does not count. Only tests read it, to show that a pick is
 * bounded without timing it (strategy.c). */
extern _Thread_local uint64_t sl_walk_visits;

/* The first eligible backend scanning g->backends from <start> (wrapping),
 * or NULL after n entries. The bounded fallback of the sampling strategies. */
static inline struct sluice_backend *sl_scan_eligible(const struct sl_group *g,
                                                      const struct sl_pick *p, size_t start)
{
    size_t n = g->n;

    if (n == 0)
        return NULL;
    start %= n;
    for (size_t k = 0; k < n; k++) {
        size_t i = start + k < n ? start + k : start + k - n;
        struct sluice_backend *b = g->backends[i];

        if (sl_pick_eligible(p, b)) {
            sl_walk_visits += k + 1;
            return b;
        }
    }
    sl_walk_visits += n;
    return NULL;
}

/* An eligible backend drawn at random, uniformly or (<weighted>) in
 * proportion to the current weights, in two passes over g->backends (at
 * most 2n checks); NULL when none is eligible. The O(n) fallback of the
 * walking strategies: unlike "the first eligible one after a point", it
 * does not hand the ineligible backends' share to their successors.
 * Any thread; lock-free (strategy.c). */
struct sluice_backend *sl_scan_fair(struct sl_group *g, const struct sl_pick *p, bool weighted);

/* sl_less_loaded() when either backend is ramping (strategy.c). */
bool sl_less_loaded_ramping(const struct sluice_backend *a, const struct sluice_backend *b);

/* Load per unit of effective weight: true when <a> is strictly less loaded
 * than <b>. Cross-multiplied so no division; a weight of 0 never gets here
 * (not eligible) but counts as 1 to stay safe against a concurrent drain.
 * Slow start (a ramping backend's weight scaled down) out of line; it
 * matters only with load in flight, select's rejection step ramps idle
 * groups (select.c). */
static inline bool sl_less_loaded(const struct sluice_backend *a, const struct sluice_backend *b)
{
    uint64_t wa, wb, aa, ab;

    if (__builtin_expect((atomic_load_explicit(&a->ramp_start_ns, memory_order_relaxed) |
                          atomic_load_explicit(&b->ramp_start_ns, memory_order_relaxed)) != 0,
                         0))
        return sl_less_loaded_ramping(a, b);
    wa = atomic_load_explicit(&a->weight, memory_order_relaxed);
    wb = atomic_load_explicit(&b->weight, memory_order_relaxed);
    aa = sl_backend_active(a);
    ab = sl_backend_active(b);
    wa = wa ? wa : 1;
    wb = wb ? wb : 1;
    return aa * wb < ab * wa;
}

/* The rotating walk of round_robin and weighted_round_robin over
 * list[0..len) (the backends, or a schedule of them): the entry at the
 * group's cursor when eligible, else up to <tries> entries drawn at random,
 * else sl_scan_fair(g, p, <weighted>). Inline: it is the whole pick. */
static inline struct sluice_backend *sl_pick_rotating(struct sl_group *g, const struct sl_pick *p,
                                                      struct sluice_backend *const *list,
                                                      size_t len, int tries, bool weighted)
{
    size_t i;

    if (len == 0)
        return NULL;
    i = (size_t)(sl_group_cursor_next(g) % len);
    if (sl_pick_eligible(p, list[i]))
        return list[i];
    for (int t = 0; t < tries; t++) {
        i = sl_range32((uint32_t)sl_group_rand(g), len);
        sl_walk_visits++;
        if (sl_pick_eligible(p, list[i]))
            return list[i];
    }
    return sl_scan_fair(g, p, weighted);
}

/* build() and destroy() of a strategy that precomputes nothing, and the
 * destroy() of one whose g->state is a single allocation (strategy.c). */
int sl_strategy_build_stateless(struct sl_group *g);
void sl_strategy_destroy_stateless(struct sl_group *g);
void sl_strategy_free_state(struct sl_group *g);

/* Two distinct eligible candidates drawn uniformly (power of two choices).
 * Writes up to two into out[] and returns how many (0: none eligible; 1:
 * only one exists). Tries a few random draws, then falls back to a linear
 * scan from a random start. */
size_t sl_pick_two(struct sl_group *g, const struct sl_pick *p, struct sluice_backend *out[2]);

#endif /* SL_CORE_STRATEGY_UTIL_H */
