/* least_request: power of two choices. Two distinct eligible backends drawn
 * at random; the one with fewer active connections per unit of weight wins
 * (ties: the first drawn, itself random). O(1) at any group size and far
 * flatter than random under load, without least_connections' scan.
 * Stateless. */
#include <stddef.h>

#include "group.h"
#include "strategy_util.h"

static struct sluice_backend *p2c_pick(struct sl_group *g, const struct sl_pick *p)
{
    struct sluice_backend *c[2];
    size_t got = sl_pick_two(g, p, c);

    if (got == 0)
        return NULL;
    if (got == 1)
        return c[0];
    return sl_less_loaded(c[1], c[0]) ? c[1] : c[0];
}

const struct sl_strategy_ops sl_p2c_ops = {
    .name = "least_request",
    .build = sl_strategy_build_stateless,
    .pick = p2c_pick,
    .destroy = sl_strategy_destroy_stateless,
};
