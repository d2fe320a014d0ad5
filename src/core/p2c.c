/* least_request: power of two choices. Two distinct eligible backends drawn
 * at random; the one with fewer active connections per unit of weight wins
 * (ties: the first drawn, itself random). O(1) at any group size and far
 * flatter than random under load, without least_connections' scan.
 * Stateless. */
#include <stddef.h>

#include "group.h"
#include "strategy_util.h"

static int p2c_build(struct sl_group *g)
{
    g->state = NULL;
    return 0;
}

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

static void p2c_destroy(struct sl_group *g)
{
    g->state = NULL;
}

const struct sl_strategy_ops sl_p2c_ops = {
    .name = "least_request",
    .build = p2c_build,
    .pick = p2c_pick,
    .destroy = p2c_destroy,
};
