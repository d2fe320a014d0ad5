/* round_robin: the group's cursor walks the backend list; a backend that is
 * not eligible is passed over (the next one in the list takes its turn), so
 * the scan is bounded by n. Stateless: nothing to build. */
#include <stddef.h>

#include "group.h"
#include "strategy_util.h"

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
    return sl_scan_eligible(g, p, i + 1);
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
