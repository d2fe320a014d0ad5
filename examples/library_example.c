/* libsluice in one page: register a service, add a dynamic backend, pick
 * backends, report outcomes, and read the state back.
 *
 *   cc library_example.c $(pkg-config --cflags --libs sluice)
 */
#include <stdio.h>
#include <string.h>

#include "sluice.h"

static int check(int rc, const char *what)
{
    if (rc != 0)
        fprintf(stderr, "%s: %s\n", what, sluice_strerror(rc));
    return rc;
}

int main(void)
{
    static const char *const targets[] = {"127.0.0.1:3001", "127.0.0.1:3002"};
    sluice_group_snapshot_t snap;
    sluice_backend_builder_t *bb;
    sluice_lb_t *lb = sluice_lb_new();

    if (lb == NULL)
        return 1;
    if (check(sluice_lb_register(lb, "api", targets, 2, SLUICE_ROUND_ROBIN), "register"))
        goto fail;

    /* A dynamic backend with a name, a weight and a label. */
    bb = sluice_backend_builder_new("api-3", "127.0.0.1:3003");
    sluice_backend_builder_weight(bb, 2);
    sluice_backend_builder_label(bb, "version", "v2");
    if (check(sluice_backend_builder_finish(bb, lb, "api"), "builder")) /* consumes bb */
        goto fail;

    /* Each selection is held until released with its outcome. */
    for (int i = 0; i < 6; i++) {
        sluice_backend_t *b = sluice_lb_select(lb, "api", NULL, 0);

        if (b == NULL) {
            perror("select");
            goto fail;
        }
        printf("request %d -> %s (%s)\n", i, sluice_backend_name(b), sluice_backend_target(b));
        /* Pretend 127.0.0.1:3002 times out: its score drops each time. */
        if (strcmp(sluice_backend_target(b), "127.0.0.1:3002") == 0)
            sluice_backend_release(b, SLUICE_OUTCOME_TIMEOUT, 0);
        else
            sluice_backend_release(b, SLUICE_OUTCOME_OK, 1500000 /* 1.5 ms */);
    }

    /* An operator takes api-3 out of rotation by name. */
    if (check(sluice_lb_mark_health(lb, "api", "api-3", false), "mark"))
        goto fail;

    if (check(sluice_lb_snapshot(lb, "api", &snap), "snapshot"))
        goto fail;
    printf("%s: %zu backends, %zu usable\n", sluice_strategy_name(snap.strategy), snap.n,
           sluice_lb_healthy_count(lb, "api"));
    for (size_t i = 0; i < snap.n; i++)
        printf("  %-16s %-16s score %2d requests %llu\n", snap.backends[i].target,
               snap.backends[i].name, snap.backends[i].score,
               (unsigned long long)snap.backends[i].requests);
    sluice_group_snapshot_free(&snap);
    sluice_lb_free(lb);
    return 0;

fail:
    sluice_lb_free(lb);
    return 1;
}
