/* least_load: power of two choices on the load backends report about
 * themselves (sluice_lb_set_load(); the daemon's agents send their host's
 * load average). Two distinct eligible backends drawn at random:
 *  - both have a reported load: the lower load per unit of weight wins;
 *    equal loads (two idle hosts reporting 0) go on to the next rule;
 *  - otherwise (either has none, or a tie): fewer active connections per
 *    unit of weight wins, least_request's rule.
 * So a service without reports behaves as least_request, and a backend
 * whose report is missing is neither favoured nor shunned for it: it is
 * compared by what sluice itself sees. Reports are seconds old; two random
 * choices (rather than the global minimum) keep every picker from piling
 * onto the one host that looked idle at the last report. Ties: the first
 * drawn, itself random. Slow start: the weight in the comparison is the
 * effective (ramped) one, as in the other load-comparing strategies, and
 * select's rejection step does the rest (select.c). Stateless. */
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "backend_types.h"
#include "group.h"
#include "strategy_util.h"

/* <a>'s load per effective weight against <b>'s, either ramping: -1, 0, 1.
 * Doubles: load x weight x factor exceeds 64 bits. */
__attribute__((noinline, cold)) static int cmp_ramping(const struct sluice_backend *a,
                                                       const struct sluice_backend *b, uint32_t la,
                                                       uint32_t lb)
{
    double wa = (double)atomic_load_explicit(&a->weight, memory_order_relaxed) * sl_ramp_factor(a);
    double wb = (double)atomic_load_explicit(&b->weight, memory_order_relaxed) * sl_ramp_factor(b);
    double x = (double)la * (wb > 0 ? wb : 1), y = (double)lb * (wa > 0 ? wa : 1);

    return (x > y) - (x < y);
}

/* <a>'s load per unit of weight against <b>'s: -1, 0, 1. Cross-multiplied
 * (both factors below 2^32: no overflow); a weight of 0 (a drain racing
 * the pick) counts as 1. */
static inline int cmp_load(const struct sluice_backend *a, const struct sluice_backend *b,
                           uint32_t la, uint32_t lb)
{
    uint64_t wa, wb, x, y;

    if (__builtin_expect((atomic_load_explicit(&a->ramp_start_ns, memory_order_relaxed) |
                          atomic_load_explicit(&b->ramp_start_ns, memory_order_relaxed)) != 0,
                         0))
        return cmp_ramping(a, b, la, lb);
    wa = atomic_load_explicit(&a->weight, memory_order_relaxed);
    wb = atomic_load_explicit(&b->weight, memory_order_relaxed);
    x = (uint64_t)la * (wb ? wb : 1);
    y = (uint64_t)lb * (wa ? wa : 1);
    return (x > y) - (x < y);
}

static struct sluice_backend *ll_pick(struct sl_group *g, const struct sl_pick *p)
{
    struct sluice_backend *c[2];
    size_t got = sl_pick_two(g, p, c);
    uint64_t l0, l1;
    int cmp;

    if (got == 0)
        return NULL;
    if (got == 1)
        return c[0];
    l0 = atomic_load_explicit(&c[0]->load, memory_order_relaxed);
    l1 = atomic_load_explicit(&c[1]->load, memory_order_relaxed);
    /* Indexed rather than branched: which of two random backends reports
     * less is a coin toss the branch predictor cannot learn, and a miss
     * cost a third of the select (about 10 ns at 1,000 backends). The
     * fallback is least_request's, as it is there. */
    if ((l0 & l1 & SL_LOAD_SET) != 0 && (cmp = cmp_load(c[1], c[0], (uint32_t)l1, (uint32_t)l0)))
        return c[cmp < 0];
    return sl_less_loaded(c[1], c[0]) ? c[1] : c[0];
}

const struct sl_strategy_ops sl_least_load_ops = {
    .name = "least_load",
    .build = sl_strategy_build_stateless,
    .pick = ll_pick,
    .destroy = sl_strategy_destroy_stateless,
};
