/* Views as the writers see them: registering, replacing and removing a
 * label-filtered group over a service's backend objects. Building one is
 * group.c's (sl_group_new_view()); keeping it in step with its parent is
 * the transaction's (txn.c). */
#include "view.h"

#include "txn.h"

int sl_view_put(struct sl_txn *tx, const char *name, const char *service, const char *selector)
{
    const struct sl_group *old = sl_txn_find(tx, name);
    const char *iname;
    struct sl_group *g;
    int rc;

    if (old != NULL && old->parent == NULL)
        return SLUICE_ERR_INVALID_ARG; /* a service already has that name */
    iname = sl_txn_intern(tx, name);
    if (iname == NULL)
        return SLUICE_ERR_NOMEM;
    rc = sl_group_new_view(iname, sl_txn_find(tx, service), service, selector,
                           sl_txn_seed(tx, name), &g);
    return rc == 0 ? sl_txn_put(tx, g) : rc;
}

int sl_lb_register_view(sluice_lb_t *lb, const char *name, const char *service,
                        const char *selector, char *err, size_t errlen)
{
    struct sl_txn tx;
    int rc;

    if (lb == NULL || name == NULL || service == NULL)
        return SLUICE_ERR_INVALID_ARG;
    /* Syntax first, with a message, and off the writer lock. */
    rc = sl_selector_check(selector, err, errlen);
    if (rc == 0)
        rc = sl_txn_begin(&tx, lb);
    if (rc == 0)
        rc = sl_txn_end(&tx, sl_view_put(&tx, name, service, selector));
    return rc;
}

int sl_lb_unregister_view(sluice_lb_t *lb, const char *name)
{
    const struct sl_group *old;
    struct sl_txn tx;
    int rc;

    if (lb == NULL || name == NULL)
        return SLUICE_ERR_INVALID_ARG;
    rc = sl_txn_begin(&tx, lb);
    if (rc != 0)
        return rc;
    old = sl_txn_find(&tx, name);
    if (old == NULL || old->parent == NULL)
        return sl_txn_end(&tx, SLUICE_ERR_UNKNOWN_SERVICE);
    return sl_txn_end(&tx, sl_txn_del(&tx, name));
}
