/* Dynamic backends through the builder. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "sluice.h"

static sluice_backend_builder_t *full(const char *name, const char *target)
{
    sluice_backend_builder_t *b = sluice_backend_builder_new(name, target);

    assert_non_null(b);
    assert_int_equal(sluice_backend_builder_weight(b, 5), 0);
    assert_int_equal(sluice_backend_builder_label(b, "version", "v1"), 0);
    assert_int_equal(sluice_backend_builder_label(b, "zone", "a"), 0);
    assert_int_equal(sluice_backend_builder_label(b, "version", "v2"), 0);
    assert_int_equal(sluice_backend_builder_connect_timeout(b, 100), 0);
    assert_int_equal(sluice_backend_builder_first_byte_timeout(b, 200), 0);
    assert_int_equal(sluice_backend_builder_between_bytes_timeout(b, 300), 0);
    assert_int_equal(sluice_backend_builder_override_host(b, "example.com"), 0);
    return b;
}

static void finish_creates_the_service_and_keeps_settings(void **state)
{
    sluice_lb_t *lb = sluice_lb_new();
    sluice_group_snapshot_t snap;
    sluice_backend_t *sel;
    (void)state;

    assert_int_equal(sluice_backend_builder_finish(full("api-1", "127.0.0.1:3001"), lb, "api"), 0);
    assert_int_equal(sluice_lb_snapshot(lb, "api", &snap), 0);
    assert_int_equal(snap.strategy, SLUICE_ROUND_ROBIN);
    assert_int_equal(snap.n, 1);
    assert_string_equal(snap.backends[0].name, "api-1");
    assert_string_equal(snap.backends[0].target, "127.0.0.1:3001");
    assert_int_equal(snap.backends[0].weight, 5);
    sluice_group_snapshot_free(&snap);

    sel = sluice_lb_select(lb, "api", NULL, 0);
    assert_non_null(sel);
    assert_string_equal(sluice_backend_name(sel), "api-1");
    assert_int_equal(sluice_backend_weight(sel), 5);
    assert_string_equal(sluice_backend_label(sel, "version"), "v2"); /* the later one */
    assert_string_equal(sluice_backend_label(sel, "zone"), "a");
    assert_null(sluice_backend_label(sel, "missing"));
    assert_int_equal(sluice_backend_connect_timeout(sel), 100);
    assert_int_equal(sluice_backend_first_byte_timeout(sel), 200);
    assert_int_equal(sluice_backend_between_bytes_timeout(sel), 300);
    assert_string_equal(sluice_backend_override_host(sel), "example.com");
    assert_int_equal(sluice_backend_health(sel), SLUICE_HEALTH_UNKNOWN);
    sluice_backend_release(sel, SLUICE_OUTCOME_OK, 1);

    /* Found by name for marks, weights and removal. */
    assert_int_equal(sluice_lb_mark_health(lb, "api", "api-1", false), 0);
    assert_int_equal(sluice_lb_healthy_count(lb, "api"), 0);
    assert_int_equal(sluice_lb_set_weight(lb, "api", "api-1", 2), 0);
    assert_int_equal(sluice_lb_remove_backend(lb, "api", "api-1"), 0);
    assert_int_equal(sluice_lb_backend_count(lb, "api"), 0);
    sluice_lb_free(lb);
}

static void finish_refuses(void **state)
{
    static const struct {
        const char *name, *target, *service;
        int rc;
    } cases[] = {
        {"a", "127.0.0.1:1", "s", 0},
        {"a", "127.0.0.1:2", "s", SLUICE_ERR_NAME_IN_USE},
        {"a", "127.0.0.1:2", "other", SLUICE_ERR_NAME_IN_USE}, /* across the lb */
        {"b", "127.0.0.1:1", "s", SLUICE_ERR_DUPLICATE_TARGET},
        {"b", "127.0.0.1", "other", 0},
        {"127.0.0.1:80", "10.0.0.1", "s", SLUICE_ERR_NAME_IN_USE}, /* a plain target's name */
        {"c", "127.0.0.1:0", "s", SLUICE_ERR_INVALID_TARGET},
        {"c", "[::1", "s", SLUICE_ERR_INVALID_TARGET},
        {"c", "", "s", SLUICE_ERR_INVALID_TARGET},
        {"", "127.0.0.1:3", "s", SLUICE_ERR_INVALID_ARG},
    };
    sluice_lb_t *lb = sluice_lb_new();
    (void)state;

    assert_int_equal(
        sluice_lb_register(lb, "plain", (const char *const[]){"127.0.0.1"}, 1, SLUICE_ROUND_ROBIN),
        0);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        sluice_backend_builder_t *b = sluice_backend_builder_new(cases[i].name, cases[i].target);

        assert_int_equal(sluice_backend_builder_finish(b, lb, cases[i].service), cases[i].rc);
    }
    assert_int_equal(sluice_lb_backend_count(lb, "s"), 1);
    assert_int_equal(sluice_lb_backend_count(lb, "other"), 1);
    sluice_lb_free(lb);
}

static void disallowed_when_dynamic_is_off(void **state)
{
    sluice_lb_t *lb = sluice_lb_new();
    (void)state;

    sluice_lb_allow_dynamic(lb, false);
    assert_int_equal(sluice_backend_builder_finish(full("x", "127.0.0.1:1"), lb, "s"),
                     SLUICE_ERR_DISALLOWED);
    assert_int_equal(sluice_lb_list_services(lb, NULL, 0), 0);
    sluice_lb_allow_dynamic(lb, true);
    assert_int_equal(sluice_backend_builder_finish(full("x", "127.0.0.1:1"), lb, "s"), 0);
    sluice_lb_free(lb);
}

static void setters_record_the_first_error(void **state)
{
    sluice_lb_t *lb = sluice_lb_new();
    sluice_backend_builder_t *b = sluice_backend_builder_new("x", "127.0.0.1:1");
    (void)state;

    assert_null(sluice_backend_builder_new(NULL, "h"));
    assert_null(sluice_backend_builder_new("n", NULL));
    assert_int_equal(sluice_backend_builder_label(b, NULL, "v"), SLUICE_ERR_INVALID_ARG);
    assert_int_equal(sluice_backend_builder_label(b, "k", "v"), 0);
    assert_int_equal(sluice_backend_builder_finish(b, lb, "s"), SLUICE_ERR_INVALID_ARG);
    assert_int_equal(sluice_lb_backend_count(lb, "s"), 0);
    assert_int_equal(sluice_backend_builder_weight(NULL, 1), SLUICE_ERR_INVALID_ARG);
    sluice_backend_builder_free(NULL);
    sluice_backend_builder_free(sluice_backend_builder_new("y", "h"));
    assert_int_equal(sluice_backend_builder_finish(NULL, lb, "s"), SLUICE_ERR_INVALID_ARG);
    sluice_lb_free(lb);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(finish_creates_the_service_and_keeps_settings),
        cmocka_unit_test(finish_refuses),
        cmocka_unit_test(disallowed_when_dynamic_is_off),
        cmocka_unit_test(setters_record_the_first_error),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
