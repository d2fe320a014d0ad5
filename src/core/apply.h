/* Batch apply: replaces a whole desired state (services with their
 * backends, label views, removals) in ONE lb transaction, so readers see
 * either the old state or the new one, never a step in between. Internal:
 * the control plane's reload goes through it. */
#ifndef SL_CORE_APPLY_H
#define SL_CORE_APPLY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "backend.h" /* struct sl_backend_spec */
#include "sluice.h"

/* A service as wanted: registered when new, replaced when present. */
struct sl_group_spec {
    const char *name;
    sluice_strategy_t strategy;
    const struct sl_backend_spec *backends;
    size_t n;
};

/* A view as wanted (see sl_lb_register_view()). */
struct sl_view_spec {
    const char *name;
    const char *service;
    const char *selector; /* NULL or "": every backend */
};

/* Applies, in one transaction and one publish:
 *  1. removes the services and views named in remove[0..nremove) (names
 *     that are not there are ignored);
 *  2. puts each service of groups[0..n) with exactly the backends listed.
 *     A running backend of that service with the same name, canonical
 *     target, labels, timeouts and override host is carried over (score,
 *     failures, counters and active selections survive; a new weight is
 *     stored into it in place); every other one is created, and resolved,
 *     before the writer lock is taken;
 *  3. puts each view of views[0..nviews) over its service's new backends;
 *     views of changed services are rebuilt in the same publish.
 * Services of the lb not named in <groups> or <remove> stay as they are.
 * Explicitly named backends must be unique across the lb (NAME_IN_USE when
 * a service outside <groups> holds that name); config backends never count
 * as dynamic, so sluice_lb_allow_dynamic() does not apply.
 *
 * Returns   0; INVALID_ARG (NULL name, bad strategy or selector, a service
 *           named like a view or the reverse, a name listed twice);
 *           INVALID_TARGET; DUPLICATE_TARGET (two backends of one service
 *           with one canonical target); NAME_IN_USE; NOMEM. On any error
 *           the lb is unchanged (weights included) and <err> (when not
 *           NULL, <errlen> bytes at most) names the culprit.
 * Ownership copies what it keeps; nothing of the caller's is retained.
 * Threads   any thread; serialized with the lb's other writers; waits one
 *           grace period after publishing (not inside a read section). */
int sl_lb_apply(sluice_lb_t *lb, const struct sl_group_spec *groups, size_t n,
                const struct sl_view_spec *views, size_t nviews, const char *const *remove,
                size_t nremove, char *err, size_t errlen);

#endif /* SL_CORE_APPLY_H */
