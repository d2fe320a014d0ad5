/* Test helpers: the snapshot of one backend or one group through the
 * public API, failing the test when the service is missing. Include after
 * <cmocka.h>. */
#ifndef SL_TEST_SNAPSHOT_OF_H
#define SL_TEST_SNAPSHOT_OF_H

#include <string.h>

#include "sluice.h"

/* A copy of the backend of <service> whose target is <target> (strings
 * cleared: the snapshot they lived in is freed); all zero when absent. */
static inline sluice_backend_snapshot_t backend_of(sluice_lb_t *lb, const char *service,
                                                   const char *target)
{
    sluice_group_snapshot_t snap;
    sluice_backend_snapshot_t out;

    memset(&out, 0, sizeof(out));
    assert_int_equal(sluice_lb_snapshot(lb, service, &snap), 0);
    for (size_t i = 0; i < snap.n; i++)
        if (strcmp(snap.backends[i].target, target) == 0)
            out = snap.backends[i];
    out.target = out.name = NULL;
    sluice_group_snapshot_free(&snap);
    return out;
}

/* The group's snapshot: free it with sluice_group_snapshot_free(). */
static inline sluice_group_snapshot_t group_of(sluice_lb_t *lb, const char *service)
{
    sluice_group_snapshot_t snap;

    assert_int_equal(sluice_lb_snapshot(lb, service, &snap), 0);
    return snap;
}

#endif /* SL_TEST_SNAPSHOT_OF_H */
