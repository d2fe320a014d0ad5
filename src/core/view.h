/* Views: a group that selects, with its parent's strategy, among the
 * parent's backends whose labels match a selector. The daemon registers
 * one per (service, route selector) so routes pick lock-free with the same
 * backend objects (scores, counters) as the service. Every transaction that
 * changes a parent rebuilds its views before it publishes (txn.c), so a
 * view never lists a backend its parent dropped. No layout here: control
 * includes this header. */
#ifndef SL_CORE_VIEW_H
#define SL_CORE_VIEW_H

#include <stddef.h>

#include "sluice.h"

struct sl_txn;

/* Registers (or replaces) view <name> over service <service> with
 * <selector>: comma-separated terms `key=value` (label equals), `key!=value`
 * (label absent or different), `key` (label present), `!key` (absent);
 * "" or NULL selects every backend. The service may not exist yet (the view
 * is empty until it does). Views are skipped by the health checker and by
 * sluice_lb_list_services(); sluice_lb_select() takes a view's name like a
 * service's. Errors: INVALID_ARG (bad selector: <err> gets a message when
 * not NULL, <errlen> bytes at most; or a service has that name), NOMEM. */
int sl_lb_register_view(sluice_lb_t *lb, const char *name, const char *service,
                        const char *selector, char *err, size_t errlen);
/* 0, UNKNOWN_SERVICE (no view of that name), NOMEM. */
int sl_lb_unregister_view(sluice_lb_t *lb, const char *name);

/* Checks a selector's syntax only; same errors as above (selector.c). */
int sl_selector_check(const char *selector, char *err, size_t errlen);

/* Core only. Puts (or replaces, keeping its seed) view <name> over
 * <service>'s backends in <tx> as they are there now, with <selector>.
 * 0, INVALID_ARG (a service has that name, or a bad selector) or NOMEM. */
int sl_view_put(struct sl_txn *tx, const char *name, const char *service, const char *selector);

#endif /* SL_CORE_VIEW_H */
