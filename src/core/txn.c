/* Writer transactions (see txn.h): edit a copy of the group list, rebuild
 * the views of what changed, publish a new table, wait a grace period,
 * free. The writer lock is taken and released here only.
 *
 * Calls run one way: writers (lb.c, view.c, apply.c) call the transaction,
 * and the transaction rebuilds views from the data a view group carries
 * (parent name, selector, seed) with sl_group_new_view(); it never calls
 * back into the writers. */
#include "txn.h"

#include <stdlib.h>
#include <string.h>

#include "backend_types.h"
#include "lb.h"
#include "score.h"

/* Appends <val> to the growable array <arr>; sets <rc> to 0 or NOMEM. A
 * macro so each array keeps its own element type. */
#define PUSH(rc, arr, n, cap, val)                              \
    do {                                                        \
        (rc) = 0;                                               \
        if ((n) == (cap)) {                                     \
            size_t ncap_ = (cap) > 0 ? (cap)*2 : 8;             \
            void *na_ = realloc((arr), ncap_ * sizeof(*(arr))); \
            if (na_ == NULL) {                                  \
                (rc) = SLUICE_ERR_NOMEM;                        \
                break;                                          \
            }                                                   \
            (arr) = na_;                                        \
            (cap) = ncap_;                                      \
        }                                                       \
        (arr)[(n)++] = (val);                                   \
    } while (0)

int sl_txn_begin(struct sl_txn *tx, sluice_lb_t *lb)
{
    memset(tx, 0, sizeof(*tx));
    tx->lb = lb;
    pthread_mutex_lock(&lb->wlock);
    /* Only writers store the pointer, and we hold their mutex. */
    tx->old = atomic_load_explicit(&lb->table, memory_order_relaxed);
    tx->cap = tx->old->n + 4;
    tx->groups = malloc(tx->cap * sizeof(*tx->groups));
    if (tx->groups == NULL) {
        pthread_mutex_unlock(&lb->wlock);
        return SLUICE_ERR_NOMEM;
    }
    memcpy(tx->groups, tx->old->groups, tx->old->n * sizeof(*tx->groups));
    tx->n = tx->old->n;
    return 0;
}

static size_t find_index(const struct sl_txn *tx, const char *name)
{
    for (size_t i = 0; i < tx->n; i++)
        if (strcmp(tx->groups[i]->name, name) == 0)
            return i;
    return SIZE_MAX;
}

struct sl_group *sl_txn_find(const struct sl_txn *tx, const char *name)
{
    size_t i = find_index(tx, name);

    return i != SIZE_MAX ? tx->groups[i] : NULL;
}

const char *sl_txn_intern(struct sl_txn *tx, const char *name)
{
    const struct sl_group *g = sl_txn_find(tx, name);
    char *copy;
    int rc;

    if (g != NULL)
        return g->name;
    for (size_t i = 0; i < tx->nnew; i++)
        if (strcmp(tx->new_names[i], name) == 0)
            return tx->new_names[i];
    copy = strdup(name);
    if (copy == NULL)
        return NULL;
    PUSH(rc, tx->new_names, tx->nnew, tx->capnew, copy);
    if (rc != 0) {
        free(copy);
        return NULL;
    }
    return copy;
}

const struct sl_group *sl_txn_find_service(const struct sl_txn *tx, const char *name, int *rc)
{
    const struct sl_group *g = sl_txn_find(tx, name);

    if (g == NULL || g->parent != NULL) {
        *rc = SLUICE_ERR_UNKNOWN_SERVICE;
        return NULL;
    }
    return g;
}

uint64_t sl_txn_seed(struct sl_txn *tx, const char *name)
{
    const struct sl_group *old = sl_txn_find(tx, name);
    uint64_t z;

    if (old != NULL)
        return old->seed;
    /* splitmix64 of a counter: distinct, well-spread seeds per group. */
    z = atomic_fetch_add_explicit(&tx->lb->seed_ctr, 0x9e3779b97f4a7c15ull, memory_order_relaxed);

    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* Drops <g>, which just left the edited set: a group of the old table
 * waits for the grace period, one built here goes at once. */
static int drop(struct sl_txn *tx, struct sl_group *g)
{
    int rc;

    for (size_t i = 0; i < tx->nfresh; i++) {
        if (tx->fresh[i] == g) {
            tx->fresh[i] = tx->fresh[--tx->nfresh];
            sl_group_free(g);
            return 0;
        }
    }
    PUSH(rc, tx->retired, tx->nretired, tx->capretired, g);
    return rc;
}

static int note_changed(struct sl_txn *tx, const struct sl_group *g)
{
    int rc;

    if (g->parent != NULL)
        return 0;
    for (size_t i = 0; i < tx->nchanged; i++)
        if (tx->changed[i] == g->name)
            return 0;
    PUSH(rc, tx->changed, tx->nchanged, tx->capchanged, g->name);
    return rc;
}

/* Puts <g> at index <i> of the new list in place of the group there, or
 * appends it when <i> is SIZE_MAX. */
static int place(struct sl_txn *tx, size_t i, struct sl_group *g)
{
    int rc;

    if (i == SIZE_MAX) {
        PUSH(rc, tx->groups, tx->n, tx->cap, g);
        return rc;
    }
    rc = drop(tx, tx->groups[i]);
    if (rc == 0)
        tx->groups[i] = g;
    return rc;
}

/* Gives <g> its service's settings: a view those of its parent in <tx>; a
 * service those it already has (sluice_lb_register() brings a fresh
 * object), else those of the group it replaces, else a new object from the
 * lb's defaults. Backends new to the lb switch to them, and those joining
 * an existing service start their slow start. */
static int settle_cfg(struct sl_txn *tx, struct sl_group *g)
{
    const struct sl_group *cur = sl_txn_find(tx, g->name);
    bool existing = false;

    if (g->parent != NULL) {
        const struct sl_group *p = sl_txn_find(tx, g->parent);

        if (g->cfg == NULL && p != NULL && p->parent == NULL && p->cfg != NULL) {
            sl_score_cfg_ref(p->cfg);
            g->cfg = p->cfg;
        }
        return 0;
    }
    if (g->cfg == NULL && cur != NULL && cur->parent == NULL && cur->cfg != NULL) {
        sl_score_cfg_ref(cur->cfg);
        g->cfg = cur->cfg;
        existing = true;
    }
    if (g->cfg == NULL && (g->cfg = sl_score_cfg_clone(tx->lb->score)) == NULL)
        return SLUICE_ERR_NOMEM;
    for (size_t i = 0; i < g->n; i++) {
        struct sluice_backend *b = g->backends[i];

        /* Listed by <g> alone: created for this change, not yet published. */
        if (b->score_cfg != g->cfg && atomic_load_explicit(&b->listed, memory_order_relaxed) == 1)
            sl_score_adopt(b, g->cfg, existing);
    }
    return 0;
}

int sl_txn_put(struct sl_txn *tx, struct sl_group *g)
{
    size_t i = find_index(tx, g->name);
    int rc;

    PUSH(rc, tx->fresh, tx->nfresh, tx->capfresh, g);
    if (rc != 0) {
        sl_group_free(g);
        return rc;
    }
    if (settle_cfg(tx, g) != 0)
        return SLUICE_ERR_NOMEM; /* <g> is in fresh: the abort frees it */
    if (note_changed(tx, g) != 0)
        return SLUICE_ERR_NOMEM; /* <g> is in fresh: the abort frees it */
    return place(tx, i, g);
}

int sl_txn_del(struct sl_txn *tx, const char *name)
{
    size_t i = find_index(tx, name);
    struct sl_group *g;
    int rc;

    if (i == SIZE_MAX)
        return SLUICE_ERR_NOT_FOUND;
    g = tx->groups[i];
    /* The name outlives the group in <changed> until the commit ends. */
    if (note_changed(tx, g) != 0)
        return SLUICE_ERR_NOMEM;
    PUSH(rc, tx->dead_names, tx->ndead, tx->capdead, g->name);
    if (rc != 0)
        return rc;
    rc = drop(tx, g);
    if (rc != 0) {
        tx->ndead--;
        return rc;
    }
    memmove(&tx->groups[i], &tx->groups[i + 1], (tx->n - i - 1) * sizeof(*tx->groups));
    tx->n--;
    return 0;
}

int sl_txn_rebuild(struct sl_txn *tx, const struct sl_group *old, struct sluice_backend *const *bs,
                   size_t n)
{
    struct sl_group *g =
        sl_group_new(old->name, old->strategy, bs, n, old->parent, old->selector, old->seed);

    if (g == NULL)
        return SLUICE_ERR_NOMEM;
    g->retiring = old->retiring; /* the same service, other backends */
    return sl_txn_put(tx, g);
}

static bool parent_changed(const struct sl_txn *tx, const struct sl_group *v)
{
    for (size_t i = 0; i < tx->nchanged; i++)
        if (strcmp(tx->changed[i], v->parent) == 0)
            return true;
    return false;
}

int sl_txn_set_weight(struct sl_txn *tx, struct sluice_backend *b, uint32_t weight)
{
    struct sl_txn_weight w = {b, 0};
    int rc;

    PUSH(rc, tx->weights, tx->nweights, tx->capweights, w);
    if (rc == 0)
        tx->weights[tx->nweights - 1].old =
            atomic_exchange_explicit(&b->weight, weight, memory_order_relaxed);
    return rc;
}

/* Rebuilds view <v> over its parent as it is in <tx> now. */
static int rebuild_view(struct sl_txn *tx, const struct sl_group *v)
{
    struct sl_group *g;
    int rc =
        sl_group_new_view(v->name, sl_txn_find(tx, v->parent), v->parent, v->selector, v->seed, &g);

    /* The selector parsed when the view was put: only NOMEM is left. */
    return rc == 0 ? sl_txn_put(tx, g) : SLUICE_ERR_NOMEM;
}

/* Frees the edit arrays and releases the writer lock: the end of every
 * transaction. */
static void txn_fini(struct sl_txn *tx)
{
    free(tx->weights);
    free(tx->groups);
    free(tx->fresh);
    free(tx->retired);
    free(tx->new_names);
    free(tx->dead_names);
    free(tx->changed);
    pthread_mutex_unlock(&tx->lb->wlock);
}

void sl_txn_abort(struct sl_txn *tx)
{
    /* Last first: a backend changed twice gets its first old value back. */
    for (size_t i = tx->nweights; i-- > 0;)
        atomic_store_explicit(&tx->weights[i].b->weight, tx->weights[i].old, memory_order_relaxed);
    for (size_t i = 0; i < tx->nfresh; i++)
        sl_group_free(tx->fresh[i]);
    for (size_t i = 0; i < tx->nnew; i++)
        free(tx->new_names[i]);
    txn_fini(tx);
}

int sl_txn_commit(struct sl_txn *tx)
{
    sluice_lb_t *lb = tx->lb;
    struct sl_table *t;

    for (size_t i = 0; i < tx->n; i++) {
        const struct sl_group *v = tx->groups[i];

        /* A retiring view keeps the backends an old routing table knew. */
        if (v->parent != NULL && !v->retiring && parent_changed(tx, v) && rebuild_view(tx, v) != 0)
            goto fail;
    }
    t = sl_table_new(tx->groups, tx->n);
    if (t == NULL)
        goto fail;
    /* seq_cst: ordered before the epoch scans (see sl_epoch_synchronize()). */
    atomic_store_explicit(&lb->table, t, memory_order_seq_cst);
    sl_epoch_synchronize(&lb->epoch);
    /* No reader can see the old table or anything only it listed. */
    for (size_t i = 0; i < tx->nretired; i++)
        sl_group_free(tx->retired[i]);
    for (size_t i = 0; i < tx->ndead; i++) {
        /* A name deleted and interned again in one transaction stays. */
        if (sl_table_find(t, tx->dead_names[i]) == NULL ||
            sl_table_find(t, tx->dead_names[i])->name != tx->dead_names[i])
            free(tx->dead_names[i]);
    }
    sl_table_free(tx->old);
    txn_fini(tx);
    return 0;

fail:
    sl_txn_abort(tx);
    return SLUICE_ERR_NOMEM;
}

int sl_txn_end(struct sl_txn *tx, int rc)
{
    if (rc == 0)
        return sl_txn_commit(tx);
    sl_txn_abort(tx);
    return rc;
}

void sl_txn_exclusive(sluice_lb_t *lb,
                      void (*fn)(sluice_lb_t *lb, const struct sl_table *t, const void *arg),
                      const void *arg)
{
    pthread_mutex_lock(&lb->wlock);
    /* Only writers store the pointer, and we hold their mutex. */
    fn(lb, atomic_load_explicit(&lb->table, memory_order_relaxed), arg);
    pthread_mutex_unlock(&lb->wlock);
}
