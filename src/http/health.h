/* Active health checks on the workers' event loops (no thread per probe).
 *
 * Each worker runs one scheduler. It probes only its own slice of the
 * backends (hash of service and backend name modulo the workers), each at
 * a stable phase within its service's interval (hash-derived, so a new
 * table neither resets nor bunches them) plus a small random jitter, at
 * the down interval while the backend is unusable. At most
 * SL_HEALTH_MAX_INFLIGHT probes run in the whole process (an equal part
 * per worker), which is what the descriptor budget reserves for them;
 * services share a worker's part fairly (health_sched.c). The
 * same scheduler ticks the ejection backoffs (sl_health_tick()) of every
 * backend of its slice, checked or not, so each transition is seen and
 * logged once, by the worker that made it.
 *
 * The settings and the backends come from the published routing table
 * (sl_service_rt.health and .targets): whatever publishes a table (a
 * reload, an API change) moves the probes.
 *
 * Threads: a scheduler belongs to its worker's loop thread. */
#ifndef SL_HTTP_HEALTH_H
#define SL_HTTP_HEALTH_H

#include <stddef.h>
#include <stdint.h>

#include "http/router.h"
#include "net/loop.h"
#include "proxy/stats.h"

/* Probes in flight in the whole process (net/fdbudget.h reserves that
 * many descriptors, plus two). */
#define SL_HEALTH_MAX_INFLIGHT 64
/* How often each worker ticks its backends' ejection backoffs. */
#define SL_HEALTH_TICK_MS 200

struct sl_health_sched;

/* A scheduler for worker <idx> of <nworkers> on <loop>, counting
 * transitions in <stats>. NULL when out of memory. */
struct sl_health_sched *sl_health_sched_new(struct sl_loop *loop, size_t idx, size_t nworkers,
                                            struct sl_stats_worker *stats);
/* Follows <table> (NULL: none): keeps a reference on it and re-plans this
 * worker's slice; probes in flight finish on the table they started with. */
void sl_health_sched_table(struct sl_health_sched *s, struct sl_router *table);
/* Stops probing and ticking, aborts probes in flight (no verdict) and
 * drops every table reference (the worker drains). */
void sl_health_sched_stop(struct sl_health_sched *s);
/* Stops and frees; NULL is a no-op. */
void sl_health_sched_free(struct sl_health_sched *s);

/* Probes started since creation (tests and benchmarks). */
uint64_t sl_health_sched_probes(const struct sl_health_sched *s);

#endif /* SL_HTTP_HEALTH_H */
