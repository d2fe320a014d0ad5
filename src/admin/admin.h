/* The admin API server: its own thread and event loop on admin.bind,
 * requests parsed by sluice's HTTP/1.1 parser, JSON bodies (jansson),
 * Bearer tokens (tokens.h), every change through control's change path
 * (control/change.h). See docs/api.md.
 *
 * Lifecycle, from the main thread: sl_admin_start() binds and starts the
 * thread (bind errors come back before anything runs), sl_admin_stop()
 * closes the listener, ends the connections and joins. */
#ifndef SL_ADMIN_ADMIN_H
#define SL_ADMIN_ADMIN_H

#include <stdbool.h>
#include <stddef.h>

struct sl_control;
struct sl_admin;

/* Renders the Prometheus text of the daemon's counters (workers,
 * listeners, process) into a malloc'd buffer: *out, *len. Called on the
 * admin thread; must not block on the workers. 0 or -1. */
/* NOLINTNEXTLINE(readability-identifier-naming): the name 03653a4 declared */
typedef int (*sl_admin_metrics_fn)(void *arg, char **out, size_t *len);

/* Admin connections open at once by default; more wait in the backlog. */
#define SL_ADMIN_MAX_CONNS 256
/* What the admin server holds besides its connections: its listener, its
 * loop's epoll and eventfd. */
#define SL_ADMIN_FIXED_FDS 3

struct sl_admin_opts {
    const char *bind;       /* "127.0.0.1:9090" */
    const char *token_file; /* where a first start writes the bootstrap admin token */
    bool metrics_public;    /* GET /metrics without a token */
    size_t max_conns;       /* admin connections at once; 0: SL_ADMIN_MAX_CONNS */
    sl_admin_metrics_fn metrics;
    void *metrics_arg;
};

/* 0, or -1 with a message in err[errlen]. */
int sl_admin_start(struct sl_control *c, const struct sl_admin_opts *o, struct sl_admin **out,
                   char *err, size_t errlen);
void sl_admin_stop(struct sl_admin *a);

#endif /* SL_ADMIN_ADMIN_H */
