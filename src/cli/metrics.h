/* GET /metrics: the Prometheus text of the daemon (admin.h's
 * sl_admin_metrics_fn), rendered on the admin thread from the workers'
 * counters (proxy/stats.h), the lb's state and the process. See the
 * "Metrics" section of docs/api.md for every family. */
#ifndef SL_CLI_METRICS_H
#define SL_CLI_METRICS_H

#include <stddef.h>

struct sl_control;
struct sl_worker;

/* What the scrape reads: the workers (initialised before the admin
 * server starts, finalised after it stopped) and the control (its lb). */
struct sl_metrics_src {
    struct sl_worker *ws;
    size_t n;
    struct sl_control *ctl; /* NULL: no per-backend gauges */
};

/* <arg>: a struct sl_metrics_src. Fills *out (malloc'd) and *len; 0, or
 * -1 when out of memory. Any thread; never blocks on a worker (workers
 * only try-lock against it). */
int sl_metrics_render(void *arg, char **out, size_t *len);

#endif /* SL_CLI_METRICS_H */
