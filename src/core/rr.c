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

static struct sluice_backend *rr_pick(struct sl_group *g, const struct sl_pick *p)
{
    return sl_pick_rotating(g, p, g->backends, g->n, RR_TRIES, false);
}

const struct sl_strategy_ops sl_rr_ops = {
    .name = "round_robin",
    .build = sl_strategy_build_stateless,
    .pick = rr_pick,
    .destroy = sl_strategy_destroy_stateless,
};
