/* Views: label-filtered groups over a service's backend objects, rebuilt in
 * the same transaction as every change of their parent. */
#include "view.h"

#include <stdlib.h>

#include "lb.h"
#include "selector.h"

/* Builds a view group <name> over the matching backends of <parent> (may
 * be NULL: empty, round robin). Returns it or NULL (NOMEM), with a parsed,
 * already checked <sel>. */
static struct sl_group *view_build(struct sl_txn *tx, const char *name, const char *parent_name,
                                   const char *selector, const struct sl_selector *sel,
                                   uint64_t seed)
{
    const struct sl_group *p = sl_txn_find(tx, parent_name);
    struct sluice_backend **bs = NULL;
    struct sl_group *g;
    size_t n = 0;

    if (p != NULL && p->parent != NULL)
        p = NULL; /* a view of a view is not a thing: stay empty */
    if (p != NULL && p->n > 0) {
        bs = malloc(p->n * sizeof(*bs));
        if (bs == NULL)
            return NULL;
        for (size_t i = 0; i < p->n; i++)
            if (sl_selector_match(sel, p->backends[i]))
                bs[n++] = p->backends[i];
    }
    g = sl_group_new(name, p != NULL ? p->strategy : SLUICE_ROUND_ROBIN, bs, n, parent_name,
                     selector, seed);
    free(bs);
    return g;
}

int sl_view_rebuild(struct sl_txn *tx, const struct sl_group *v)
{
    struct sl_selector sel;
    struct sl_group *g;

    if (sl_selector_parse(v->selector, &sel, NULL, 0) != 0)
        return SLUICE_ERR_NOMEM; /* it parsed at registration: only NOMEM */
    g = view_build(tx, v->name, v->parent, v->selector, &sel, v->seed);
    sl_selector_fini(&sel);
    if (g == NULL)
        return SLUICE_ERR_NOMEM;
    return sl_txn_put(tx, g);
}

int sl_view_put(struct sl_txn *tx, const char *name, const char *service, const char *selector)
{
    const struct sl_group *old = sl_txn_find(tx, name);
    struct sl_selector sel;
    const char *iname;
    struct sl_group *g;
    int rc;

    if (old != NULL && old->parent == NULL)
        return SLUICE_ERR_INVALID_ARG;
    rc = sl_selector_parse(selector, &sel, NULL, 0);
    if (rc != 0)
        return rc;
    iname = sl_txn_intern(tx, name);
    g = iname != NULL ? view_build(tx, iname, service, selector != NULL ? selector : "", &sel,
                                   old != NULL ? old->seed : sl_txn_seed(tx))
                      : NULL;
    sl_selector_fini(&sel);
    return g != NULL ? sl_txn_put(tx, g) : SLUICE_ERR_NOMEM;
}

int sl_lb_register_view(sluice_lb_t *lb, const char *name, const char *service,
                        const char *selector, char *err, size_t errlen)
{
    struct sl_selector sel;
    const struct sl_group *old;
    struct sl_group *g;
    struct sl_txn tx;
    const char *iname;
    int rc;

    if (lb == NULL || name == NULL || service == NULL)
        return SLUICE_ERR_INVALID_ARG;
    rc = sl_selector_parse(selector, &sel, err, errlen);
    if (rc != 0)
        return rc;
    pthread_mutex_lock(&lb->wlock);
    rc = sl_txn_begin(&tx, lb);
    if (rc != 0)
        goto out;
    old = sl_txn_find(&tx, name);
    if (old != NULL && old->parent == NULL) {
        rc = SLUICE_ERR_INVALID_ARG; /* a service already has that name */
        sl_txn_abort(&tx);
        goto out;
    }
    iname = sl_txn_intern(&tx, name);
    g = iname != NULL ? view_build(&tx, iname, service, selector != NULL ? selector : "", &sel,
                                   sl_txn_seed(&tx))
                      : NULL;
    rc = g != NULL ? sl_txn_put(&tx, g) : SLUICE_ERR_NOMEM;
    if (rc != 0)
        sl_txn_abort(&tx);
    else
        rc = sl_txn_commit(&tx);
out:
    pthread_mutex_unlock(&lb->wlock);
    sl_selector_fini(&sel);
    return rc;
}

int sl_lb_unregister_view(sluice_lb_t *lb, const char *name)
{
    const struct sl_group *old;
    struct sl_txn tx;
    int rc;

    if (lb == NULL || name == NULL)
        return SLUICE_ERR_INVALID_ARG;
    pthread_mutex_lock(&lb->wlock);
    rc = sl_txn_begin(&tx, lb);
    if (rc != 0)
        goto out;
    old = sl_txn_find(&tx, name);
    if (old == NULL || old->parent == NULL) {
        sl_txn_abort(&tx);
        rc = SLUICE_ERR_UNKNOWN_SERVICE;
        goto out;
    }
    rc = sl_txn_del(&tx, name);
    if (rc != 0)
        sl_txn_abort(&tx);
    else
        rc = sl_txn_commit(&tx);
out:
    pthread_mutex_unlock(&lb->wlock);
    return rc;
}
