/* The scrape's text for the per-backend and per-route families: sums of
 * every worker's counters (stats.h) plus the library's own state (active
 * connections, health, score) from sluice_lb_snapshot(). Admin thread. */
#ifndef SL_PROXY_STATS_RENDER_H
#define SL_PROXY_STATS_RENDER_H

#include <stddef.h>

#include "proxy/prom.h"
#include "proxy/stats.h"
#include "sluice.h"

/* Appends the sluice_backend_* families (counters summed over ws[0..n),
 * gauges of every service of <lb>; <lb> may be NULL). Takes and drops the
 * workers' scrape locks itself. */
void sl_stats_render_backends(struct sl_prom *p, struct sl_stats_worker *const *ws, size_t n,
                              const sluice_lb_t *lb);
/* Appends sluice_route_requests_total for every route slot handed out. */
void sl_stats_render_routes(struct sl_prom *p, struct sl_stats_worker *const *ws, size_t n);

#endif /* SL_PROXY_STATS_RENDER_H */
