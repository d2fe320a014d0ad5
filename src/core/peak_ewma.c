/* peak_ewma: two distinct eligible backends drawn at random; the one with
 * the lower cost ewma_ns x (active + 1) wins. The EWMA itself (peak
 * sensitive: a slow response raises it at once, fast ones lower it
 * gradually) is maintained by release; this file only compares. An EWMA of
 * 0 means "no response yet" and costs 0, so a new backend is tried before
 * the known ones; two unknown backends fall back to fewer active. The
 * product saturates instead of wrapping. Stateless. */
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "group.h"
#include "strategy_util.h"

static inline uint64_t product(uint64_t e, uint64_t a)
{
    return e != 0 && e > UINT64_MAX / a ? UINT64_MAX : e * a;
}

/* Slow start: a ramping backend's load counts as if it were smaller,
 * ewma x (active / factor + 1). The + 1 is not scaled: with nothing in
 * flight the ramp is select's rejection step (select.c), which holds at
 * any concurrency; scaling the whole cost would keep a ramping backend
 * whose latency is known out altogether at low concurrency. */
__attribute__((noinline, cold)) static uint64_t ramping_cost(const struct sluice_backend *b,
                                                             uint64_t e)
{
    uint32_t f = sl_ramp_factor(b);
    uint64_t a = sl_backend_active(b);

    return product(e, (a * 1024 + f - 1) / f + 1);
}

static inline __attribute__((always_inline)) uint64_t cost(const struct sluice_backend *b)
{
    uint64_t e = atomic_load_explicit(&b->ewma_ns, memory_order_relaxed);

    if (__builtin_expect(atomic_load_explicit(&b->ramp_start_ns, memory_order_relaxed) != 0, 0))
        return ramping_cost(b, e);
    return product(e, (uint64_t)sl_backend_active(b) + 1);
}

static struct sluice_backend *ewma_pick(struct sl_group *g, const struct sl_pick *p)
{
    struct sluice_backend *c[2];
    size_t got = sl_pick_two(g, p, c);
    uint64_t c0, c1;

    if (got == 0)
        return NULL;
    if (got == 1)
        return c[0];
    c0 = cost(c[0]);
    c1 = cost(c[1]);
    if (c0 != c1)
        return c1 < c0 ? c[1] : c[0];
    return sl_backend_active(c[1]) < sl_backend_active(c[0]) ? c[1] : c[0];
}

const struct sl_strategy_ops sl_peak_ewma_ops = {
    .name = "peak_ewma",
    .build = sl_strategy_build_stateless,
    .pick = ewma_pick,
    .destroy = sl_strategy_destroy_stateless,
};
