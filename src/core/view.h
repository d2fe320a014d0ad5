/* Views: a group that selects, with its parent's strategy, among the
 * parent's backends whose labels match a selector. The daemon registers
 * one per (service, route selector) so routes pick lock-free with the same
 * backend objects (scores, counters) as the service. The lb rebuilds every
 * view whenever its parent changes (update, add, remove, register). */
#ifndef SL_CORE_VIEW_H
#define SL_CORE_VIEW_H

#include <sys/socket.h>

#include <stddef.h>

#include "sluice.h"

/* Registers (or replaces) view <name> over service <service> with
 * <selector>: comma-separated terms `key=value` (label equals), `key!=value`
 * (label absent or different), `key` (label present), `!key` (absent);
 * "" or NULL selects every backend. The service may not exist yet (the view
 * is empty until it does). Views are skipped by the health checker and by
 * sluice_lb_list_services(); sluice_lb_select() takes a view's name like a
 * service's. Errors: INVALID_ARG (bad selector: <err> gets a message when
 * not NULL, <errlen> bytes at most), NOMEM. */
int sl_lb_register_view(sluice_lb_t *lb, const char *name, const char *service,
                        const char *selector, char *err, size_t errlen);
int sl_lb_unregister_view(sluice_lb_t *lb, const char *name);

/* Checks a selector's syntax only; same errors as above. */
int sl_selector_check(const char *selector, char *err, size_t errlen);

/* select with a skip list: a retry must not get <skip>[0..nskip) again. */
sluice_backend_t *sl_lb_select_skip(sluice_lb_t *lb, const char *group, const void *key,
                                    size_t keylen, const sluice_backend_t *const *skip,
                                    size_t nskip);

/* Passive recovery: raises the score of <target> in <service> by one
 * success step, but not above 0, without resetting its failure count or
 * touching anything when the score is already >= 0 (unlike sluice_lb_up(),
 * nothing succeeded). 0, UNKNOWN_SERVICE, UNKNOWN_BACKEND, INVALID_ARG.
 * Any thread, lock-free. */
int sl_lb_nudge(sluice_lb_t *lb, const char *service, const char *target);

/* Resolved address of a backend (resolved once at creation; NULL when the
 * host did not resolve). Borrowed like sluice_backend_target(). */
const struct sockaddr *sl_backend_sockaddr(const sluice_backend_t *b, unsigned *addrlen);

/* Takes an extra reference on a selected backend (e.g. an idle pooled
 * connection that outlives the selection) and drops it; the last drop
 * frees a backend removed from every group. */
void sl_backend_ref(sluice_backend_t *b);
void sl_backend_unref(sluice_backend_t *b);

#endif /* SL_CORE_VIEW_H */
