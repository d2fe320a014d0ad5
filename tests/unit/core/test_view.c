/* Views follow their parent service. */
#include <netinet/in.h>
#include <sys/socket.h>

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "backend.h"
#include "select.h"
#include "sluice.h"
#include "view.h"

static void add(sluice_lb_t *lb, const char *name, const char *target, const char *version)
{
    sluice_backend_builder_t *b = sluice_backend_builder_new(name, target);

    assert_int_equal(sluice_backend_builder_label(b, "version", version), 0);
    assert_int_equal(sluice_backend_builder_finish(b, lb, "api"), 0);
}

static void view_follows_its_parent(void **state)
{
    sluice_lb_t *lb = sluice_lb_new();
    sluice_group_snapshot_t snap;
    const char *names[4];
    sluice_backend_t *b;
    (void)state;

    /* Registered before the service exists: empty until it does. */
    assert_int_equal(sl_lb_register_view(lb, "api/v2", "api", "version=v2", NULL, 0), 0);
    errno = 0;
    assert_null(sluice_lb_select(lb, "api/v2", NULL, 0));
    assert_int_equal(errno, EHOSTUNREACH);
    add(lb, "a1", "127.0.0.1:3001", "v1");
    assert_int_equal(sluice_lb_backend_count(lb, "api/v2"), 0);
    add(lb, "a2", "127.0.0.1:3002", "v2");
    assert_int_equal(sluice_lb_backend_count(lb, "api/v2"), 1);
    add(lb, "a3", "127.0.0.1:3003", "v2");
    assert_int_equal(sluice_lb_backend_count(lb, "api/v2"), 2);

    /* Same objects as the parent: a selection through the view counts there. */
    b = sluice_lb_select(lb, "api/v2", NULL, 0);
    assert_non_null(b);
    assert_string_equal(sluice_backend_label(b, "version"), "v2");
    assert_int_equal(sluice_lb_snapshot(lb, "api", &snap), 0);
    assert_int_equal(
        snap.backends[0].requests + snap.backends[1].requests + snap.backends[2].requests, 1);
    sluice_group_snapshot_free(&snap);
    sluice_backend_release(b, SLUICE_OUTCOME_OK, 1);

    /* Marks through the parent show in the view. */
    assert_int_equal(sluice_lb_mark_health(lb, "api", "a2", false), 0);
    assert_int_equal(sluice_lb_healthy_count(lb, "api/v2"), 1);
    assert_int_equal(sluice_lb_remove_backend(lb, "api", "a3"), 0);
    assert_int_equal(sluice_lb_backend_count(lb, "api/v2"), 1);
    assert_int_equal(sluice_lb_set_panic(lb, "api", 0), 0); /* else panic serves a2 */
    assert_null(sluice_lb_select(lb, "api/v2", NULL, 0));

    /* Not a service: not listed. */
    assert_int_equal(sluice_lb_list_services(lb, names, 4), 1);
    assert_string_equal(names[0], "api");

    /* The parent's strategy, and its replacement. */
    assert_int_equal(
        sluice_lb_register(lb, "api", (const char *const[]){"127.0.0.1:1"}, 1, SLUICE_MAGLEV), 0);
    assert_int_equal(sluice_lb_snapshot(lb, "api/v2", &snap), 0);
    assert_int_equal(snap.n, 0); /* plain targets have no labels */
    sluice_group_snapshot_free(&snap);
    assert_int_equal(sl_lb_register_view(lb, "api/all", "api", "", NULL, 0), 0);
    assert_int_equal(sluice_lb_snapshot(lb, "api/all", &snap), 0);
    assert_int_equal(snap.strategy, SLUICE_MAGLEV);
    assert_int_equal(snap.n, 1);
    sluice_group_snapshot_free(&snap);

    assert_int_equal(sluice_lb_unregister(lb, "api"), 0);
    assert_int_equal(sluice_lb_backend_count(lb, "api/all"), 0);
    assert_int_equal(sl_lb_unregister_view(lb, "api/all"), 0);
    assert_int_equal(sl_lb_unregister_view(lb, "api/all"), SLUICE_ERR_UNKNOWN_SERVICE);
    errno = 0;
    assert_null(sluice_lb_select(lb, "api/all", NULL, 0));
    assert_int_equal(errno, ENOENT);
    sluice_lb_free(lb);
}

static void view_errors(void **state)
{
    sluice_lb_t *lb = sluice_lb_new();
    char err[80] = "";
    (void)state;

    assert_int_equal(sl_lb_register_view(lb, "v", "api", "a==b", err, sizeof(err)),
                     SLUICE_ERR_INVALID_ARG);
    assert_true(strlen(err) > 0);
    assert_int_equal(sluice_lb_register(lb, "api", NULL, 0, SLUICE_ROUND_ROBIN), 0);
    /* Names are shared between services and views. */
    assert_int_equal(sl_lb_register_view(lb, "api", "api", "", NULL, 0), SLUICE_ERR_INVALID_ARG);
    assert_int_equal(sl_lb_register_view(lb, "v", "api", "x", NULL, 0), 0);
    assert_int_equal(sluice_lb_register(lb, "v", NULL, 0, SLUICE_ROUND_ROBIN),
                     SLUICE_ERR_INVALID_ARG);
    assert_int_equal(sluice_lb_add_backend(lb, "v", "127.0.0.1"), SLUICE_ERR_INVALID_ARG);
    assert_int_equal(sl_lb_unregister_view(lb, "api"), SLUICE_ERR_UNKNOWN_SERVICE);
    assert_int_equal(sluice_lb_unregister(lb, "v"), SLUICE_ERR_UNKNOWN_SERVICE);
    /* Replacing a view keeps one entry. */
    assert_int_equal(sl_lb_register_view(lb, "v", "api", "y", NULL, 0), 0);
    sluice_lb_free(lb);
}

static void select_skip_avoids_tried_backends(void **state)
{
    static const char *const two[] = {"127.0.0.1:1", "127.0.0.1:2"};
    sluice_lb_t *lb = sluice_lb_new();
    (void)state;

    for (int s = 0; s < SLUICE_STRATEGY_COUNT; s++) {
        const sluice_backend_t *skip[2];
        sluice_backend_t *a, *b;

        assert_int_equal(sluice_lb_register(lb, "api", two, 2, (sluice_strategy_t)s), 0);
        for (int round = 0; round < 10; round++) {
            a = sl_lb_select_skip(lb, "api", "k", 1, NULL, 0);
            assert_non_null(a);
            skip[0] = a;
            b = sl_lb_select_skip(lb, "api", "k", 1, skip, 1);
            assert_non_null(b);
            assert_ptr_not_equal(a, b);
            skip[1] = b;
            errno = 0;
            assert_null(sl_lb_select_skip(lb, "api", "k", 1, skip, 2));
            assert_int_equal(errno, EHOSTUNREACH);
            sluice_backend_release(a, SLUICE_OUTCOME_NEUTRAL, 0);
            sluice_backend_release(b, SLUICE_OUTCOME_NEUTRAL, 0);
        }
    }
    sluice_lb_free(lb);
}

static void sockaddr_and_refs(void **state)
{
    static const char *const ts[] = {"127.0.0.1:8080", "no-such-host.invalid:80"};
    sluice_lb_t *lb = sluice_lb_new();
    const struct sockaddr *sa;
    sluice_backend_t *b;
    unsigned len = 0;
    (void)state;

    assert_int_equal(sluice_lb_register(lb, "api", ts, 2, SLUICE_ROUND_ROBIN), 0);
    for (int i = 0; i < 2; i++) {
        b = sluice_lb_select(lb, "api", NULL, 0);
        assert_non_null(b);
        sa = sl_backend_sockaddr(b, &len);
        if (strcmp(sluice_backend_target(b), ts[0]) == 0) {
            assert_non_null(sa);
            assert_int_equal(sa->sa_family, AF_INET);
            assert_int_equal(len, sizeof(struct sockaddr_in));
        } else {
            assert_null(sa);
        }
        sl_backend_ref(b); /* e.g. a pooled connection */
        sluice_backend_release(b, SLUICE_OUTCOME_NEUTRAL, 0);
        assert_int_equal(sluice_lb_unregister(lb, "api"), 0);
        assert_non_null(sluice_backend_target(b)); /* still ours */
        sl_backend_unref(b);
        assert_int_equal(sluice_lb_register(lb, "api", ts, 2, SLUICE_ROUND_ROBIN), 0);
        if (i == 0)
            assert_int_equal(sluice_lb_set_weight(lb, "api", ts[0], 0), 0);
    }
    sluice_lb_free(lb);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(view_follows_its_parent),
        cmocka_unit_test(view_errors),
        cmocka_unit_test(select_skip_avoids_tried_backends),
        cmocka_unit_test(sockaddr_and_refs),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
