/* The lb object and the writer side: groups, backends and transactions.
 *
 * Concurrency: every change runs under lb->wlock as a transaction
 * (sl_txn_*): it builds new groups, then a new table that shares the groups
 * it did not change, publishes the table with one pointer store, waits an
 * epoch grace period and frees what it replaced. Readers (select, marks,
 * snapshots, counts) only enter an epoch read section. */
#ifndef SL_CORE_LB_H
#define SL_CORE_LB_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "backend.h"
#include "epoch.h"
#include "group.h"
#include "sluice.h"
#include "table.h"
#include "target.h"
#include "view.h"

struct sl_checker;

struct sluice_lb {
    /* Release-published by sl_txn_commit(); readers load it inside an
     * epoch read section. */
    _Atomic(struct sl_table *) table;
    struct sl_epoch epoch;
    pthread_mutex_t wlock;      /* serialises writers; readers never take it */
    struct sl_score_cfg *score; /* shared by every backend of the lb */
    _Atomic bool allow_dynamic;
    _Atomic uint64_t seed_ctr;  /* per-group seeds */
    pthread_mutex_t cklock;     /* guards <checker> */
    struct sl_checker *checker; /* NULL: not running */
};

/* ---- backends (backend.c) ---- */

/* A backend for parsed <t> named <name> (NULL: the canonical target), with
 * weight 1, the initial score and one reference held by the caller; the
 * address is resolved now (DNS may block; a failure leaves AF_UNSPEC).
 * NULL when out of memory. Writer thread, before publishing. */
struct sluice_backend *sl_backend_new(const struct sl_target *t, const char *name,
                                      struct sl_score_cfg *cfg);
/* Adds or replaces label <key>. 0 or SLUICE_ERR_NOMEM. Before publishing. */
int sl_backend_set_label(struct sluice_backend *b, const char *key, const char *value);

/* ---- groups (group.c) ---- */

/* A group <name> (borrowed: the lb keeps service names alive while any
 * group uses them) over bs[0..n), taking one reference on each, built with
 * <s>'s strategy. <parent> and <selector> (views only, else NULL) are
 * copied. NULL when out of memory or <s> is not a strategy. Writer only. */
struct sl_group *sl_group_new(const char *name, sluice_strategy_t s,
                              struct sluice_backend *const *bs, size_t n, const char *parent,
                              const char *selector, uint64_t seed);
/* Destroys the strategy state and drops the backend references; the name is
 * not freed. Only after a grace period. NULL is a no-op. */
void sl_group_free(struct sl_group *g);
/* The backend whose name or target is <key>, or whose target is <key> in
 * canonical form ("10.0.0.1" finds "10.0.0.1:80"). NULL when absent. */
struct sluice_backend *sl_group_find_backend(const struct sl_group *g, const char *key);
/* Whether a service (not a view) of gs[0..n) has a backend named <name>. */
bool sl_groups_name_in_use(struct sl_group *const *gs, size_t n, const char *name);

/* ---- transactions (txn.c) ---- */

struct sl_txn {
    sluice_lb_t *lb;
    struct sl_table *old;
    struct sl_group **groups; /* the next table, being edited */
    size_t n, cap;
    struct sl_group **fresh; /* built by this transaction: freed on abort */
    size_t nfresh, capfresh;
    struct sl_group **retired; /* listed by the old table, replaced or removed */
    size_t nretired, capretired;
    char **new_names; /* interned by this transaction: freed on abort */
    size_t nnew, capnew;
    char **dead_names; /* freed after the grace period */
    size_t ndead, capdead;
    const char **changed; /* services put or deleted (interned): their views rebuild */
    size_t nchanged, capchanged;
};

/* Starts a transaction on the current table. The caller holds lb->wlock
 * until sl_txn_commit() or sl_txn_abort() returns. 0 or NOMEM. */
int sl_txn_begin(struct sl_txn *tx, sluice_lb_t *lb);
/* The group of that name in the edited set, or NULL. */
struct sl_group *sl_txn_find(const struct sl_txn *tx, const char *name);
/* The lb's copy of <name> (the existing group's, or a new one). NULL when
 * out of memory. */
const char *sl_txn_intern(struct sl_txn *tx, const char *name);
/* A fresh seed for a new group. */
uint64_t sl_txn_seed(struct sl_txn *tx);
/* Adds or replaces the group of g->name (interned). Consumes <g>. 0 or
 * NOMEM (then <g> is freed). */
int sl_txn_put(struct sl_txn *tx, struct sl_group *g);
/* Removes the group <name>: 0, NOT_FOUND or NOMEM. */
int sl_txn_del(struct sl_txn *tx, const char *name);
/* Replaces service group <old> by a rebuild with the same strategy over
 * bs[0..n). 0 or NOMEM. */
int sl_txn_rebuild(struct sl_txn *tx, const struct sl_group *old, struct sluice_backend *const *bs,
                   size_t n);
/* Rebuilds the views of changed services, publishes, waits a grace period and frees what was
 * replaced. Ends the transaction (aborting it on failure): 0 or NOMEM. */
int sl_txn_commit(struct sl_txn *tx);
void sl_txn_abort(struct sl_txn *tx);

/* ---- writers (lb.c) ---- */

/* Adds <b> (its creation reference is consumed, even on failure) to
 * <service>. <dynamic> (the builder): DISALLOWED when dynamic backends are
 * off, NAME_IN_USE when any service has a backend of b->name, and a missing
 * service is created round robin; otherwise a missing service is
 * UNKNOWN_SERVICE. DUPLICATE_TARGET, INVALID_ARG (a view), NOMEM. */
int sl_lb_add_backend_obj(sluice_lb_t *lb, const char *service, struct sluice_backend *b,
                          bool dynamic);

/* ---- views (view.c) ---- */

/* Rebuilds view group <v> (in tx) over its parent's current backends. 0 or
 * NOMEM. Writer only. */
int sl_view_rebuild(struct sl_txn *tx, const struct sl_group *v);
/* Puts (or replaces, keeping its seed) view <name> over <service>'s
 * backends in <tx> as they are there now, with <selector> (already
 * checked). 0, INVALID_ARG (a service has that name) or NOMEM. Writer only. */
int sl_view_put(struct sl_txn *tx, const char *name, const char *service, const char *selector);

/* ---- score (score.c), via lb ---- */

/* Finds <target> in <service> inside a read section and runs <fn> on it.
 * 0, UNKNOWN_SERVICE, UNKNOWN_BACKEND, INVALID_ARG. Any thread, no lock. */
int sl_lb_with_backend(sluice_lb_t *lb, const char *service, const char *target,
                       void (*fn)(struct sluice_backend *b, void *arg), void *arg);

#endif /* SL_CORE_LB_H */
