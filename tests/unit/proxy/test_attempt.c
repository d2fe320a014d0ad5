/* Backend attempts: the tried set, the retry budget, outcomes reported to
 * the library, the timeouts, descriptor errors and the access-log fields,
 * on a real lb with loopback targets (nothing connects). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "net/fdbudget.h"
#include "net/log.h"
#include "net/loop.h"
#include "proxy/attempt.h"
#include "proxy/defaults.h"

/* An lb whose service "svc" has <n> backends 127.0.0.1:9001.. */
static sluice_lb_t *lb_with(size_t n)
{
    static const char *const targets[] = {"127.0.0.1:9001", "127.0.0.1:9002", "127.0.0.1:9003",
                                          "127.0.0.1:9004", "127.0.0.1:9005", "127.0.0.1:9006",
                                          "127.0.0.1:9007", "127.0.0.1:9008", "127.0.0.1:9009",
                                          "127.0.0.1:9010", "127.0.0.1:9011", "127.0.0.1:9012"};
    sluice_lb_t *lb = sluice_lb_new();

    assert_non_null(lb);
    assert_true(n <= sizeof(targets) / sizeof(targets[0]));
    assert_int_equal(sluice_lb_register(lb, "svc", targets, n, SLUICE_ROUND_ROBIN), 0);
    return lb;
}

/* The snapshot entry of <target> in "svc". */
static sluice_backend_snapshot_t entry(sluice_lb_t *lb, const char *target)
{
    sluice_group_snapshot_t snap;
    sluice_backend_snapshot_t e = {0};

    assert_int_equal(sluice_lb_snapshot(lb, "svc", &snap), 0);
    for (size_t i = 0; i < snap.n; i++)
        if (strcmp(snap.backends[i].target, target) == 0)
            e = snap.backends[i];
    e.target = e.name = NULL; /* freed with the snapshot */
    sluice_group_snapshot_free(&snap);
    return e;
}

static void a_failover_never_selects_a_backend_twice(void **state)
{
    sluice_lb_t *lb = lb_with(3);
    struct sl_attempt a;
    char seen[3][SL_ATTEMPT_TARGET_MAX];
    (void)state;

    sl_attempt_init(&a, 5);
    for (int i = 0; i < 3; i++) {
        assert_non_null(sl_attempt_select(&a, NULL, NULL, lb, "svc", NULL, 0));
        (void)snprintf(seen[i], sizeof(seen[i]), "%s", a.target);
        for (int j = 0; j < i; j++)
            assert_string_not_equal(seen[i], seen[j]);
        assert_true(sl_attempt_fail(&a, SLUICE_OUTCOME_FAIL, true, NULL, "refused"));
        assert_null(a.be);
    }
    assert_null(sl_attempt_select(&a, NULL, NULL, lb, "svc", NULL, 0));
    assert_int_equal(a.ntried, 3);
    assert_int_equal(a.tries, 3);
    assert_int_equal(sl_attempt_give_up_status(&a), 502);
    sluice_lb_free(lb);
}

static void the_retry_budget_bounds_the_failover(void **state)
{
    const struct {
        uint32_t retries;
        size_t backends;
        uint32_t tries; /* the failures that may be followed by another try */
    } cases[] = {
        {0, 4, 0},
        {1, 4, 1},
        {2, 4, 2},
        /* The tried set caps the budget: a ninth failure could not be
         * kept out of the next selection. */
        {20, 12, SL_ATTEMPT_MAX_TRIED - 1},
    };
    (void)state;

    for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
        sluice_lb_t *lb = lb_with(cases[c].backends);
        struct sl_attempt a;
        uint32_t again = 0;

        sl_attempt_init(&a, cases[c].retries);
        for (;;) {
            assert_non_null(sl_attempt_select(&a, NULL, NULL, lb, "svc", NULL, 0));
            if (!sl_attempt_fail(&a, SLUICE_OUTCOME_FAIL, true, "l", "refused"))
                break;
            again++;
        }
        assert_int_equal(again, cases[c].tries);
        assert_int_equal(a.tries, cases[c].tries);
        sluice_lb_free(lb);
    }
}

static void a_failure_that_cannot_be_resent_uses_no_retry(void **state)
{
    sluice_lb_t *lb = lb_with(2);
    struct sl_attempt a;
    (void)state;

    sl_attempt_init(&a, 2);
    assert_non_null(sl_attempt_select(&a, NULL, NULL, lb, "svc", NULL, 0));
    assert_false(sl_attempt_fail(&a, SLUICE_OUTCOME_TIMEOUT, false, NULL, "no response"));
    assert_int_equal(a.tries, 0);
    assert_int_equal(a.ntried, 1);
    assert_int_equal(sl_attempt_give_up_status(&a), 504);
    /* With nothing held it only decides. */
    assert_true(sl_attempt_fail(&a, SLUICE_OUTCOME_FAIL, true, NULL, "again"));
    assert_int_equal(a.ntried, 1);
    sluice_lb_free(lb);
}

static void outcomes_reach_the_library(void **state)
{
    sluice_lb_t *lb = lb_with(1);
    struct sl_attempt a;
    sluice_backend_snapshot_t e;
    (void)state;

    sl_attempt_init(&a, 0);
    assert_non_null(sl_attempt_select(&a, NULL, NULL, lb, "svc", NULL, 0));
    assert_int_equal(entry(lb, "127.0.0.1:9001").active, 1);
    (void)sl_attempt_fail(&a, SLUICE_OUTCOME_FAIL, true, NULL, "refused");
    e = entry(lb, "127.0.0.1:9001");
    assert_int_equal(e.active, 0);
    assert_int_equal(e.failures, 1);

    sl_attempt_init(&a, 0);
    assert_non_null(sl_attempt_select(&a, NULL, NULL, lb, "svc", NULL, 0));
    sl_attempt_release(&a, SLUICE_OUTCOME_OK, 5000);
    assert_null(a.be);
    sl_attempt_release(&a, SLUICE_OUTCOME_OK, 5000); /* nothing held: no-op */
    e = entry(lb, "127.0.0.1:9001");
    assert_int_equal(e.active, 0);
    assert_int_equal(e.failures, 0);
    assert_int_equal(e.ewma_ns, 5000);
    sluice_lb_free(lb);
}

static void an_empty_group_gives_up_with_503(void **state)
{
    sluice_lb_t *lb = lb_with(0);
    struct sl_attempt a;
    (void)state;

    sl_attempt_init(&a, 2);
    assert_null(sl_attempt_select(&a, NULL, NULL, lb, "svc", NULL, 0));
    assert_null(sl_attempt_select(&a, NULL, NULL, lb, "nope", NULL, 0));
    assert_int_equal(sl_attempt_give_up_status(&a), 503);
    assert_string_equal(a.target, "");
    sluice_lb_free(lb);
}

static void names_are_copied_only_when_they_differ_from_the_target(void **state)
{
    sluice_lb_t *lb = lb_with(0);
    sluice_backend_builder_t *b = sluice_backend_builder_new("api-1", "127.0.0.1:3001");
    struct sl_attempt a;
    (void)state;

    assert_int_equal(sluice_backend_builder_finish(b, lb, "svc"), 0);
    sl_attempt_init(&a, 0);
    assert_non_null(sl_attempt_select(&a, NULL, NULL, lb, "svc", NULL, 0));
    assert_string_equal(a.target, "127.0.0.1:3001");
    assert_string_equal(a.name, "api-1");
    sl_attempt_release(&a, SLUICE_OUTCOME_NEUTRAL, 0);
    /* The copies outlive the release: logs and error bodies need them. */
    assert_string_equal(a.name, "api-1");

    assert_int_equal(sluice_lb_remove_backend(lb, "svc", "api-1"), 0);
    assert_int_equal(sluice_lb_add_backend(lb, "svc", "127.0.0.1:3002"), 0);
    assert_non_null(sl_attempt_select(&a, NULL, NULL, lb, "svc", NULL, 0));
    assert_string_equal(a.target, "127.0.0.1:3002");
    assert_string_equal(a.name, "");
    sl_attempt_release(&a, SLUICE_OUTCOME_NEUTRAL, 0);
    sluice_lb_free(lb);
}

static void timeouts_take_the_backend_then_the_service_then_the_default(void **state)
{
    sluice_lb_t *lb = lb_with(0);
    sluice_backend_builder_t *b = sluice_backend_builder_new("own", "127.0.0.1:3001");
    const char *const plain[] = {"127.0.0.1:3002"};
    struct sl_attempt a;
    (void)state;

    sl_attempt_init(&a, 0);
    /* Nothing held: the service's, else the default. */
    assert_int_equal(sl_attempt_connect_timeout(&a, 0), SL_DEFAULT_CONNECT_TIMEOUT_MS);
    assert_int_equal(sl_attempt_response_timeout(&a, 0), SL_DEFAULT_RESPONSE_TIMEOUT_MS);
    assert_int_equal(sl_attempt_idle_timeout(&a, 0), SL_DEFAULT_IDLE_TIMEOUT_MS);
    assert_int_equal(sl_attempt_connect_timeout(&a, 700), 700);

    assert_int_equal(sluice_backend_builder_connect_timeout(b, 100), 0);
    assert_int_equal(sluice_backend_builder_first_byte_timeout(b, 200), 0);
    assert_int_equal(sluice_backend_builder_between_bytes_timeout(b, 300), 0);
    assert_int_equal(sluice_backend_builder_finish(b, lb, "svc"), 0);
    assert_non_null(sl_attempt_select(&a, NULL, NULL, lb, "svc", NULL, 0));
    assert_int_equal(sl_attempt_connect_timeout(&a, 700), 100);
    assert_int_equal(sl_attempt_response_timeout(&a, 700), 200);
    assert_int_equal(sl_attempt_idle_timeout(&a, 700), 300);
    sl_attempt_release(&a, SLUICE_OUTCOME_NEUTRAL, 0);

    assert_int_equal(sluice_lb_register(lb, "other", plain, 1, SLUICE_ROUND_ROBIN), 0);
    assert_non_null(sl_attempt_select(&a, NULL, NULL, lb, "other", NULL, 0));
    assert_int_equal(sl_attempt_connect_timeout(&a, 700), 700);
    assert_int_equal(sl_attempt_response_timeout(&a, 0), SL_DEFAULT_RESPONSE_TIMEOUT_MS);
    sl_attempt_release(&a, SLUICE_OUTCOME_NEUTRAL, 0);
    sluice_lb_free(lb);
}

static void out_of_descriptors_is_local_and_neutral(void **state)
{
    sluice_lb_t *lb = lb_with(1);
    struct sl_fdbudget_log fl = {0};
    struct sl_attempt a;
    sluice_backend_snapshot_t e;
    (void)state;

    sl_attempt_init(&a, 2);
    assert_non_null(sl_attempt_select(&a, NULL, NULL, lb, "svc", NULL, 0));
    /* Any other error is the caller's: the backend stays held. */
    assert_false(sl_attempt_out_of_fds(&a, &fl, ECONNREFUSED, 1, "l"));
    assert_non_null(a.be);
    assert_true(sl_attempt_out_of_fds(&a, &fl, EMFILE, 1, "l"));
    assert_null(a.be);
    e = entry(lb, "127.0.0.1:9001");
    assert_int_equal(e.active, 0);
    assert_int_equal(e.failures, 0); /* not the backend's fault */
    assert_int_equal(a.ntried, 0);
    sluice_lb_free(lb);
}

static void connect_errors_read_as_text(void **state)
{
    const struct {
        int err;
        const char *what;
    } cases[] = {
        {ECONNREFUSED, "connect failed: connection refused"},
        {EHOSTUNREACH, "connect failed: unreachable"},
        {ENETUNREACH, "connect failed: unreachable"},
        {ETIMEDOUT, "connect failed: socket error 110"},
    };
    char what[96];
    (void)state;

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        sl_attempt_connect_error(cases[i].err, what, sizeof(what));
        assert_string_equal(what, cases[i].what);
    }
}

static void the_access_record_carries_time_client_backend_and_duration(void **state)
{
    sluice_lb_t *lb = lb_with(0);
    sluice_backend_builder_t *b = sluice_backend_builder_new("api-1", "127.0.0.1:3001");
    struct sl_loop l = {.now_ns = 9000000, .wall_s = 1700000000, .wall_ms = 42};
    struct sl_access_rec r;
    struct sl_attempt a;
    (void)state;

    sl_attempt_init(&a, 0);
    sl_attempt_access_rec(&a, &l, "10.0.0.1", 4000000, &r);
    assert_null(r.backend);
    assert_null(r.backend_name);

    assert_int_equal(sluice_backend_builder_finish(b, lb, "svc"), 0);
    assert_non_null(sl_attempt_select(&a, NULL, NULL, lb, "svc", NULL, 0));
    (void)sl_attempt_fail(&a, SLUICE_OUTCOME_FAIL, false, NULL, "refused");
    sl_attempt_access_rec(&a, &l, "10.0.0.1", 4000000, &r);
    assert_int_equal(r.wall_s, 1700000000);
    assert_int_equal(r.wall_ms, 42);
    assert_string_equal(r.client_ip, "10.0.0.1");
    assert_string_equal(r.backend, "127.0.0.1:3001"); /* the last one tried */
    assert_string_equal(r.backend_name, "api-1");
    assert_int_equal(r.duration_us, 5000);
    assert_null(r.method);
    assert_null(r.path);
    assert_int_equal(r.status, 0);
    assert_int_equal(r.bytes, 0);
    sluice_lb_free(lb);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_failover_never_selects_a_backend_twice),
        cmocka_unit_test(the_retry_budget_bounds_the_failover),
        cmocka_unit_test(a_failure_that_cannot_be_resent_uses_no_retry),
        cmocka_unit_test(outcomes_reach_the_library),
        cmocka_unit_test(an_empty_group_gives_up_with_503),
        cmocka_unit_test(names_are_copied_only_when_they_differ_from_the_target),
        cmocka_unit_test(timeouts_take_the_backend_then_the_service_then_the_default),
        cmocka_unit_test(out_of_descriptors_is_local_and_neutral),
        cmocka_unit_test(connect_errors_read_as_text),
        cmocka_unit_test(the_access_record_carries_time_client_backend_and_duration),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
