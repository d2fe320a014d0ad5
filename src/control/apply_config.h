/* Applying a validated configuration to the lb: services, backends, label
 * views, score options and which services have active checks (the
 * workers run them: http/health.h). The router that routes onto
 * them is build_router.c's. Control thread only. */
#ifndef SL_CONTROL_APPLY_CONFIG_H
#define SL_CONTROL_APPLY_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "control/config.h"
#include "control/control.h"
#include "http/router.h"
#include "sluice.h"

/* What control has put into the lb beyond the services themselves. */
struct sl_apply_state {
    char **views; /* names of the views registered */
    size_t nviews;
    size_t cap;
    sluice_score_opts_t score; /* set on the lb (the library's defaults until a config did) */
    bool score_set;
};

/* The lb group a route selects from: the service itself for an empty
 * selector, else the view "service\x1fselector" (\x1f cannot appear in a
 * service name, so views never collide with services). Writes at most
 * <len> bytes; -1 when it does not fit. */
int sl_apply_group_name(const char *service, const char *selector, char *out, size_t len);

/* Applies <cfg> to <lb> in one lb transaction (sl_lb_apply()): services,
 * their backends and the route views are published together, so no reader
 * sees a half-applied service. Backends whose name, target and labels stay
 * keep their score, counters and connections (a new weight is set in
 * place); a strategy change keeps them too. <prev> is unused (the lb
 * compares what runs). Services and views that <cfg> no longer uses retire
 * in the same transaction (see sl_lb_apply()): they stay selectable, as
 * they were, for the routing tables still in use until sl_apply_prune(),
 * even when a backend name they hold moves to another service, a service
 * was renamed or labels changed under a view. Score options are
 * validated first. On error (diag says why) the lb, score options and
 * <st> are as before. */
int sl_apply_config(sluice_lb_t *lb, const struct sl_config *cfg, const struct sl_config *prev,
                    struct sl_apply_state *st, struct sl_diag *diag);

/* Unregisters the services and views that neither <cfg> nor any router in
 * <keep>[0..nkeep) (still visible to a worker) uses. */
void sl_apply_prune(sluice_lb_t *lb, const struct sl_config *cfg, struct sl_apply_state *st,
                    struct sl_router *const *keep, size_t nkeep);

/* Forgets the views. */
void sl_apply_state_fini(sluice_lb_t *lb, struct sl_apply_state *st);

#endif /* SL_CONTROL_APPLY_CONFIG_H */
