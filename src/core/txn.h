/* Writer transactions, private to src/core: the one way anything changes
 * an lb. A transaction edits a copy of the group list, rebuilds the views
 * of every service it changed, publishes one new table, waits a grace
 * period and frees what the old table alone listed.
 *
 * Locking lives here and nowhere else: sl_txn_begin() takes lb->wlock and
 * sl_txn_commit() / sl_txn_abort() (or sl_txn_end()) release it, so a
 * writer is begin, edits, end:
 *
 *     rc = sl_txn_begin(&tx, lb);
 *     if (rc != 0)
 *         return rc;                    // nothing held
 *     rc = sl_txn_end(&tx, edit(&tx));  // commit on 0, else abort
 */
#ifndef SL_CORE_TXN_H
#define SL_CORE_TXN_H

#include <stddef.h>
#include <stdint.h>

#include "group.h"
#include "sluice.h"
#include "table.h"

/* An in-place weight change, undone by an abort. */
struct sl_txn_weight {
    struct sluice_backend *b;
    uint32_t old;
};

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
    struct sl_txn_weight *weights; /* restored, last first, on abort */
    size_t nweights, capweights;
};

/* Takes lb->wlock and starts a transaction on the current table. 0 with the
 * lock held until sl_txn_commit(), sl_txn_abort() or sl_txn_end(); NOMEM
 * with nothing held. Not inside a read section. */
int sl_txn_begin(struct sl_txn *tx, sluice_lb_t *lb);
/* Rebuilds the views of changed services, publishes, waits a grace period,
 * frees what was replaced and releases the lock. Ends the transaction
 * (aborting it on failure): 0 or NOMEM. */
int sl_txn_commit(struct sl_txn *tx);
/* Frees what the transaction built, restores the weights it changed and
 * releases the lock. */
void sl_txn_abort(struct sl_txn *tx);
/* Ends <tx> after edits that returned <rc>: commits when 0 (returning the
 * commit's result), else aborts and returns <rc>. */
int sl_txn_end(struct sl_txn *tx, int rc);

/* The group of that name in the edited set, or NULL. */
struct sl_group *sl_txn_find(const struct sl_txn *tx, const char *name);
/* The service <name> (not a view) in the edited set, or NULL with *<rc>
 * set to UNKNOWN_SERVICE. */
const struct sl_group *sl_txn_find_service(const struct sl_txn *tx, const char *name, int *rc);
/* The lb's copy of <name> (the existing group's, or a new one). NULL when
 * out of memory. */
const char *sl_txn_intern(struct sl_txn *tx, const char *name);
/* The seed for group <name>: the one it has in <tx>, so a replaced group
 * keeps its random sequence, or a fresh one. */
uint64_t sl_txn_seed(struct sl_txn *tx, const char *name);
/* Adds or replaces the group of g->name (interned). Consumes <g>. 0 or
 * NOMEM (then <g> is freed). */
int sl_txn_put(struct sl_txn *tx, struct sl_group *g);
/* Removes the group <name>: 0, NOT_FOUND or NOMEM. */
int sl_txn_del(struct sl_txn *tx, const char *name);
/* Replaces service group <old> by a rebuild with the same strategy over
 * bs[0..n). 0 or NOMEM. */
int sl_txn_rebuild(struct sl_txn *tx, const struct sl_group *old, struct sluice_backend *const *bs,
                   size_t n);
/* Stores <weight> into <b> now (picks see it at once, as with any weight
 * change) and remembers the old value for an abort. 0 or NOMEM (nothing
 * changed). */
int sl_txn_set_weight(struct sl_txn *tx, struct sluice_backend *b, uint32_t weight);

/* Runs <fn>(<lb>, published table, <arg>) under the writer lock, for a
 * change that edits no group (score options): serialized with every
 * transaction, publishes nothing, allocates nothing. */
void sl_txn_exclusive(sluice_lb_t *lb,
                      void (*fn)(sluice_lb_t *lb, const struct sl_table *t, const void *arg),
                      const void *arg);

#endif /* SL_CORE_TXN_H */
