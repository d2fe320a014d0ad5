/* Building the router: the immutable routing table (http/router.h) the
 * workers read, from a validated configuration. Control thread only. */
#ifndef SL_CONTROL_BUILD_ROUTER_H
#define SL_CONTROL_BUILD_ROUTER_H

#include <stddef.h>

#include "control/config.h"
#include "http/router.h"
#include "sluice.h"

/* Builds the router for <cfg> with one reference (the caller's).
 * <ls>[0..nls) are the listeners actually running (their bind and mode);
 * each takes its service and timeouts from the listener of the same name in
 * <cfg> when it is still there. SLUICE_ERR_NOMEM or 0. */
int sl_build_router(sluice_lb_t *lb, const struct sl_config *cfg, const struct sl_cfg_listener *ls,
                    size_t nls, struct sl_router **out);

#endif /* SL_CONTROL_BUILD_ROUTER_H */
