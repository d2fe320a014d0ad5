/* The lb object, private to src/core.
 *
 * Concurrency: every change is one transaction (txn.h), which holds
 * lb->wlock from sl_txn_begin() to its commit or abort: it builds new
 * groups, then a new table that shares the groups it did not change,
 * publishes the table with one pointer store, waits an epoch grace period
 * and frees what it replaced. Readers (select, marks, snapshots, counts)
 * only enter an epoch read section. */
#ifndef SL_CORE_LB_H
#define SL_CORE_LB_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "epoch.h"
#include "sluice.h"
#include "table.h"

struct sl_checker;
struct sl_score_cfg;

struct sluice_lb {
    /* Release-published by sl_txn_commit(); readers load it inside an
     * epoch read section. */
    _Atomic(struct sl_table *) table;
    struct sl_epoch epoch;
    pthread_mutex_t wlock;      /* serialises writers (taken in txn.c only); readers never */
    struct sl_score_cfg *score; /* shared by every backend of the lb */
    _Atomic bool allow_dynamic;
    _Atomic uint64_t seed_ctr;  /* per-group seeds */
    pthread_mutex_t cklock;     /* guards <checker> */
    struct sl_checker *checker; /* NULL: not running */
};

/* ---- writers (lb.c) ---- */

/* Adds <b> (its creation reference is consumed, even on failure) to
 * <service>. <dynamic> (the builder): DISALLOWED when dynamic backends are
 * off, NAME_IN_USE when any service has a backend of b->name, and a missing
 * service is created round robin; otherwise a missing service is
 * UNKNOWN_SERVICE. DUPLICATE_TARGET, INVALID_ARG (a view), NOMEM. */
int sl_lb_add_backend_obj(sluice_lb_t *lb, const char *service, struct sluice_backend *b,
                          bool dynamic);

/* ---- the read side (select.c) ---- */

/* Finds <target> in <service> inside a read section and runs <fn> on it.
 * 0, UNKNOWN_SERVICE, UNKNOWN_BACKEND, INVALID_ARG. Any thread, no lock. */
int sl_lb_with_backend(sluice_lb_t *lb, const char *service, const char *target,
                       void (*fn)(struct sluice_backend *b, void *arg), void *arg);

#endif /* SL_CORE_LB_H */
