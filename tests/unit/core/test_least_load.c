/* least_load through the lb: two random choices on reported load, active
 * connections where a load is missing or tied, weights, out bits. Panic
 * and slow start go through the shared pick path and are covered with the
 * other strategies in test_health.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "health.h"
#include "sluice.h"

static const char *const three[] = {"127.0.0.1:9001", "127.0.0.1:9002", "127.0.0.1:9003"};

static sluice_lb_t *lb_three(void)
{
    sluice_lb_t *lb = sluice_lb_new();

    assert_non_null(lb);
    assert_int_equal(sluice_lb_register(lb, "a", three, 3, SLUICE_LEAST_LOAD), 0);
    return lb;
}

static size_t index_of(const sluice_backend_t *b)
{
    for (size_t j = 0; j < 3; j++)
        if (strcmp(sluice_backend_target(b), three[j]) == 0)
            return j;
    fail_msg("picked %s, not one of the service's", sluice_backend_target(b));
    return 0;
}

/* <n> picks, each released at once (nothing in flight). */
static void pick_counts(sluice_lb_t *lb, size_t n, size_t c[3])
{
    memset(c, 0, 3 * sizeof(*c));
    for (size_t i = 0; i < n; i++) {
        sluice_backend_t *b = sluice_lb_select(lb, "a", NULL, 0);

        assert_non_null(b);
        c[index_of(b)]++;
        sluice_backend_release(b, SLUICE_OUTCOME_NEUTRAL, 0);
    }
}

/* <n> picks held (active grows), counted, then released. */
static void held_counts(sluice_lb_t *lb, size_t n, size_t c[3])
{
    sluice_backend_t **held = calloc(n, sizeof(*held));

    assert_non_null(held);
    memset(c, 0, 3 * sizeof(*c));
    for (size_t i = 0; i < n; i++) {
        assert_non_null(held[i] = sluice_lb_select(lb, "a", NULL, 0));
        c[index_of(held[i])]++;
    }
    for (size_t i = 0; i < n; i++)
        sluice_backend_release(held[i], SLUICE_OUTCOME_NEUTRAL, 0);
    free(held);
}

static void assert_even(const size_t c[3], size_t n)
{
    size_t lo = n / 3 - 4, hi = n / 3 + 4;

    for (size_t j = 0; j < 3; j++)
        if (c[j] < lo || c[j] > hi)
            fail_msg("uneven: %zu %zu %zu of %zu", c[0], c[1], c[2], n);
}

/* Loads 100, 200, 900: of the three pairs, [0] wins two, [1] one, [2]
 * none, so about 2/3, 1/3 and 0 of the picks. */
static void lower_load_gets_more_picks(void **state)
{
    sluice_lb_t *lb = lb_three();
    size_t c[3];
    (void)state;

    assert_int_equal(sluice_lb_set_load(lb, "a", three[0], 100), 0);
    assert_int_equal(sluice_lb_set_load(lb, "a", three[1], 200), 0);
    assert_int_equal(sluice_lb_set_load(lb, "a", three[2], 900), 0);
    pick_counts(lb, 3000, c);
    assert_int_equal(c[2], 0);
    assert_true(c[0] > 1700 && c[0] < 2300);
    assert_true(c[1] > 700 && c[1] < 1300);
    /* A new report turns it round at once (no rebuild). */
    assert_int_equal(sluice_lb_set_load(lb, "a", three[2], 0), 0);
    assert_int_equal(sluice_lb_set_load(lb, "a", three[0], 900), 0);
    pick_counts(lb, 3000, c);
    assert_int_equal(c[0], 0);
    assert_true(c[2] > 1700);
    sluice_lb_free(lb);
}

/* Load per unit of weight: 500 on weight 10 is lighter than 100 on 1. */
static void load_is_per_unit_of_weight(void **state)
{
    sluice_lb_t *lb = lb_three();
    size_t c[3];
    (void)state;

    assert_int_equal(sluice_lb_set_weight(lb, "a", three[2], 10), 0);
    assert_int_equal(sluice_lb_set_load(lb, "a", three[0], 100), 0);
    assert_int_equal(sluice_lb_set_load(lb, "a", three[1], 100), 0);
    assert_int_equal(sluice_lb_set_load(lb, "a", three[2], 500), 0);
    pick_counts(lb, 3000, c);
    /* [2] wins both pairs it is in (2/3); [0] and [1] tie on load, then on
     * active (0): the first drawn, so half of the third pair each. */
    assert_true(c[2] > 1700 && c[2] < 2300);
    assert_true(c[0] > 300 && c[1] > 300);
    sluice_lb_free(lb);
}

/* No load reported: active connections decide, as least_request. Held
 * selections spread evenly (two choices keep the gap small). */
static void without_load_active_decides(void **state)
{
    sluice_lb_t *lb = lb_three();
    size_t c[3];
    (void)state;

    held_counts(lb, 300, c);
    assert_even(c, 300);
    /* Equal loads: the tie goes to active too. */
    for (size_t j = 0; j < 3; j++)
        assert_int_equal(sluice_lb_set_load(lb, "a", three[j], 100), 0);
    held_counts(lb, 300, c);
    assert_even(c, 300);
    sluice_lb_free(lb);
}

/* A report on one side only: active decides, so an idle-looking report
 * (load 0) does not pull every pick onto a backend the others cannot be
 * compared with, and a missing report is not shunned. */
static void mixed_reports_compare_active(void **state)
{
    sluice_lb_t *lb = lb_three();
    size_t c[3];
    (void)state;

    assert_int_equal(sluice_lb_set_load(lb, "a", three[0], 0), 0);
    held_counts(lb, 300, c);
    assert_even(c, 300);
    /* Both reported and different: the load decides even against active. */
    assert_int_equal(sluice_lb_set_load(lb, "a", three[1], 50), 0);
    held_counts(lb, 300, c);
    assert_true(c[0] > c[1]);
    sluice_lb_free(lb);
}

/* The lightest backend out (lease lapsed) or drained is never picked. */
static void out_and_drained_are_skipped(void **state)
{
    sluice_lb_t *lb = lb_three();
    size_t c[3];
    (void)state;

    assert_int_equal(sluice_lb_set_load(lb, "a", three[0], 0), 0);
    assert_int_equal(sluice_lb_set_load(lb, "a", three[1], 10), 0);
    assert_int_equal(sluice_lb_set_load(lb, "a", three[2], 900), 0);
    assert_int_equal(sl_lb_set_out(lb, "a", three[0], SL_OUT_DISCONNECTED, true), 0);
    pick_counts(lb, 600, c);
    assert_int_equal(c[0], 0);
    assert_true(c[1] > c[2]);
    assert_int_equal(sluice_lb_set_weight(lb, "a", three[1], 0), 0);
    pick_counts(lb, 300, c);
    assert_int_equal(c[2], 300);
    /* Down too: panic serves the down one, never the out or drained. */
    assert_int_equal(sluice_lb_mark_health(lb, "a", three[2], false), 0);
    pick_counts(lb, 300, c);
    assert_int_equal(c[2], 300);
    sluice_lb_free(lb);
}

/* Slow start with reports: a ramping backend that reports the lowest load
 * still gets a fraction of a normal share, not all the picks it wins. */
static void ramping_backend_with_low_load_stays_low(void **state)
{
    static const char *const four[] = {"127.0.0.1:9001", "127.0.0.1:9002", "127.0.0.1:9003",
                                       "127.0.0.1:9004"};
    sluice_lb_t *lb = sluice_lb_new();
    size_t hits = 0, n = 6000;
    (void)state;

    assert_int_equal(sluice_lb_register(lb, "a", four, 3, SLUICE_LEAST_LOAD), 0);
    assert_int_equal(sluice_lb_set_slow_start(lb, "a", 600000), 0);
    assert_int_equal(sluice_lb_add_backend(lb, "a", four[3]), 0);
    for (size_t j = 0; j < 3; j++)
        assert_int_equal(sluice_lb_set_load(lb, "a", four[j], 100), 0);
    assert_int_equal(sluice_lb_set_load(lb, "a", four[3], 0), 0);
    for (size_t i = 0; i < n; i++) {
        sluice_backend_t *b = sluice_lb_select(lb, "a", NULL, 0);

        assert_non_null(b);
        hits += strcmp(sluice_backend_target(b), four[3]) == 0;
        sluice_backend_release(b, SLUICE_OUTCOME_NEUTRAL, 0);
    }
    /* In half the pairs, kept 10% of the time: about 5%, against 50% it
     * would win without the ramp. */
    if (hits < n / 200 || hits > n / 10)
        fail_msg("ramping backend got %zu of %zu picks, wanted about 5%%", hits, n);
    sluice_lb_free(lb);
}

static void name_round_trips(void **state)
{
    sluice_strategy_t s;
    (void)state;

    assert_string_equal(sluice_strategy_name(SLUICE_LEAST_LOAD), "least_load");
    assert_int_equal(sluice_strategy_parse("least_load", &s), 0);
    assert_int_equal(s, SLUICE_LEAST_LOAD);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(lower_load_gets_more_picks),
        cmocka_unit_test(load_is_per_unit_of_weight),
        cmocka_unit_test(without_load_active_decides),
        cmocka_unit_test(mixed_reports_compare_active),
        cmocka_unit_test(out_and_drained_are_skipped),
        cmocka_unit_test(ramping_backend_with_low_load_stays_low),
        cmocka_unit_test(name_round_trips),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
