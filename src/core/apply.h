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

/* What leaves the lb with a batch (either list may be empty, NULL with a
 * count of 0). */
struct sl_apply_gone {
    const char *const *remove; /* services and views: gone at once */
    size_t nremove;
    const char *const *retire; /* services and views: retiring (see below) */
    size_t nretire;
};

/* Applies, in one transaction and one publish:
 *  1. removes the services and views named in remove[0..nremove) (names
 *     that are not there are ignored);
 *  2. marks the services and views named in retire[0..nretire) as
 *     retiring (names that are not there are ignored): they stay
 *     selectable until they are unregistered (control does so once no
 *     routing table in use routes to them). A retiring service keeps its
 *     backends and views, but its backend names no longer count as taken,
 *     so another service may take them in this very batch. A retiring view
 *     keeps the backends it has now, whatever its service becomes (a label
 *     or selector change must not empty it under an old table). Putting a
 *     retiring service or view (steps 3, 4) makes it an ordinary one
 *     again;
 *  3. puts each service of groups[0..n) with exactly the backends listed.
 *     A running backend of that service with the same name, canonical
 *     target, labels, timeouts and override host is carried over (score,
 *     failures, counters and active selections survive; a new weight is
 *     stored into it in place); every other one is created, and resolved,
 *     before the writer lock is taken;
 *  4. puts each view of views[0..nviews) over its service's new backends;
 *     views of changed services are rebuilt in the same publish.
 * Services of the lb not named in <groups>, <remove> or <retire> stay as
 * they are. Explicitly named backends must be unique across the lb
 * (NAME_IN_USE when a service outside <groups> that is not retiring holds
 * that name); config backends never count as dynamic, so
 * sluice_lb_allow_dynamic() does not apply. Retiring services are skipped
 * by every other lb-wide name check too: a dynamic add
 * (sluice_backend_builder_finish()) may take a name that only a retiring
 * service holds.
 *
 * Returns   0; INVALID_ARG (NULL name, bad strategy or selector, a service
 *           named like a view or the reverse, a name listed twice, a
 *           service or view both put and retired);
 *           INVALID_TARGET; DUPLICATE_TARGET (two backends of one service
 *           with one canonical target); NAME_IN_USE; NOMEM. On any error
 *           the lb is unchanged (weights included) and <err> (when not
 *           NULL, <errlen> bytes at most) names the culprit.
 * Ownership copies what it keeps; nothing of the caller's is retained.
 * Threads   any thread; serialized with the lb's other writers; waits one
 *           grace period after publishing (not inside a read section). */
int sl_lb_apply(sluice_lb_t *lb, const struct sl_group_spec *groups, size_t n,
                const struct sl_view_spec *views, size_t nviews, const struct sl_apply_gone *gone,
                char *err, size_t errlen);

#endif /* SL_CORE_APPLY_H */
