/* Selection beyond the public sluice_lb_select(): what the proxies' retry
 * loops use. The hot path: lock-free and allocation-free (select.c). */
#ifndef SL_CORE_SELECT_H
#define SL_CORE_SELECT_H

#include <stddef.h>

#include "sluice.h"

/* sluice_lb_select() on <group> (a service or a view) that never returns
 * one of skip[0..nskip) (borrowed; a retry passes the backends it already
 * tried). NULL with errno ENOENT (no such group) or EHOSTUNREACH (nothing
 * eligible). Any thread. */
sluice_backend_t *sl_lb_select_skip(sluice_lb_t *lb, const char *group, const void *key,
                                    size_t keylen, const sluice_backend_t *const *skip,
                                    size_t nskip);

#endif /* SL_CORE_SELECT_H */
