/* round_robin: the group's cursor walks the backend list. When its backend
 * is not eligible the turn goes to a backend drawn at random (a few draws,
 * then a fair O(n) scan), not to the next one in the list: with one of n
 * down, its successor would otherwise get 2/n of the picks, while a random
 * draw spreads the down backend's share evenly, 1/(n-1) each. A pick costs
 * at most 1 + RR_TRIES + 2n checks. Stateless: nothing to build. */
#include <stddef.h>

#include "group.h"
#include "strategy_util.h"

/* Random draws before the scan: with half the group down, 1 pick in 256
 * falls through to it. */
#define RR_TRIES 8

static int rr_build(struct sl_group *g)
{
    g->state = NULL;
    return 0;
}

static struct sluice_backend *rr_pick(struct sl_group *g, const struct sl_pick *p)
{
    size_t n = g->n;
    size_t i;

    if (n == 0)
        return NULL;
    i = (size_t)(sl_group_cursor_next(g) % n);
    if (sl_pick_eligible(p, g->backends[i]))
        return g->backends[i];
    for (int t = 0; t < RR_TRIES; t++) {
        i = sl_range32((uint32_t)sl_group_rand(g), n);
        sl_walk_visits++;
        if (sl_pick_eligible(p, g->backends[i]))
            return g->backends[i];
    }
    return sl_scan_fair(g, p, false);
}

static void rr_destroy(struct sl_group *g)
{
    g->state = NULL;
}

const struct sl_strategy_ops sl_rr_ops = {
    .name = "round_robin",
    .build = rr_build,
    .pick = rr_pick,
    .destroy = rr_destroy,
};
