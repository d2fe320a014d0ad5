/* least_connections: the eligible backend with the fewest active
 * connections per unit of weight (active / weight, compared by cross
 * multiplication).
 *
 * Approximation: an exact minimum over n backends costs O(n) per pick,
 * which is too much at 100,000 backends. A pick looks at a window of
 * LC_WINDOW eligible backends starting at the group's rotating cursor and
 * takes the least loaded of those (ties and idle backends: the first from
 * the cursor, so equal loads rotate).
 * Groups of at most LC_WINDOW backends are therefore exact; larger groups
 * are exact within each window, and the window slides by one every pick, so
 * a lightly loaded backend is found as soon as the cursor comes within
 * LC_WINDOW of it. Ineligible entries do not count toward the window; the
 * scan stops after n entries in any case. Stateless. */
#include <stddef.h>

#include "group.h"
#include "strategy_util.h"

#define LC_WINDOW 16

static struct sluice_backend *lc_pick(struct sl_group *g, const struct sl_pick *p)
{
    size_t n = g->n;
    size_t i, seen = 0;
    struct sluice_backend *best = NULL;

    if (n == 0)
        return NULL;
    i = (size_t)(sl_group_cursor_next(g) % n);
    for (size_t k = 0; k < n && seen < LC_WINDOW; k++) {
        struct sluice_backend *b = g->backends[i];

        i = i + 1 < n ? i + 1 : 0;
        if (!sl_pick_eligible(p, b))
            continue;
        seen++;
        if (best == NULL || sl_less_loaded(b, best)) {
            best = b;
            if (sl_backend_active(b) == 0)
                break; /* nothing beats an idle backend */
        }
    }
    return best;
}

const struct sl_strategy_ops sl_least_conn_ops = {
    .name = "least_connections",
    .build = sl_strategy_build_stateless,
    .pick = lc_pick,
    .destroy = sl_strategy_destroy_stateless,
};
