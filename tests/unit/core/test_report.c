/* What the outside reports about a backend beyond health (report.c): the
 * out bits (never picked, not even in panic; not panic candidates; a change
 * moves the health generation) and the reported load. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "backend.h"
#include "backend_types.h"
#include "health.h"
#include "sluice.h"
#include "snapshot_of.h"

static const char *const three[] = {"127.0.0.1:9001", "127.0.0.1:9002", "127.0.0.1:9003"};

static sluice_lb_t *lb_three(sluice_strategy_t s)
{
    sluice_lb_t *lb = sluice_lb_new();

    assert_non_null(lb);
    assert_int_equal(sluice_lb_register(lb, "a", three, 3, s), 0);
    return lb;
}

static bool panic_of(sluice_lb_t *lb)
{
    sluice_group_snapshot_t snap = group_of(lb, "a");
    bool panic = snap.panic;

    sluice_group_snapshot_free(&snap);
    return panic;
}

/* Picks <n> times (released at once) and counts each of three[]; c[3]:
 * nothing picked. */
static void pick_counts(sluice_lb_t *lb, size_t n, size_t c[4])
{
    memset(c, 0, 4 * sizeof(*c));
    for (size_t i = 0; i < n; i++) {
        char key[32];
        sluice_backend_t *b;

        snprintf(key, sizeof(key), "k%zu", i);
        b = sluice_lb_select(lb, "a", key, strlen(key));
        if (b == NULL) {
            c[3]++;
            continue;
        }
        for (size_t j = 0; j < 3; j++)
            c[j] += strcmp(sluice_backend_target(b), three[j]) == 0;
        sluice_backend_release(b, SLUICE_OUTCOME_NEUTRAL, 0);
    }
}

/* The service's health generation, through a backend's settings. */
static uint64_t health_gen(sluice_lb_t *lb)
{
    sluice_backend_t **bs;
    size_t n;
    uint64_t gen;

    assert_int_equal(sl_lb_service_backends(lb, "a", &bs, &n), 0);
    gen = atomic_load(&bs[0]->score_cfg->health_gen);
    for (size_t i = 0; i < n; i++)
        sl_backend_unref(bs[i]);
    free(bs);
    return gen;
}

/* Every strategy: an out backend gets nothing, healthy or in panic. */
static void out_backend_is_never_picked(void **state)
{
    (void)state;
    for (int s = 0; s < SLUICE_STRATEGY_COUNT; s++) {
        sluice_lb_t *lb = lb_three((sluice_strategy_t)s);
        size_t c[4];

        assert_int_equal(sl_lb_set_out(lb, "a", three[0], SL_OUT_DISCONNECTED, true), 0);
        pick_counts(lb, 300, c);
        if (c[0] != 0 || c[3] != 0)
            fail_msg("%s: out backend picked %zu times, %zu misses",
                     sluice_strategy_name((sluice_strategy_t)s), c[0], c[3]);
        assert_int_equal(sluice_lb_healthy_count(lb, "a"), 2);
        assert_int_equal(backend_of(lb, "a", three[0]).out, SL_OUT_DISCONNECTED);
        /* The other two down: panic serves them, still not the out one. */
        assert_int_equal(sluice_lb_mark_health(lb, "a", three[1], false), 0);
        assert_int_equal(sluice_lb_mark_health(lb, "a", three[2], false), 0);
        pick_counts(lb, 300, c);
        if (c[0] != 0 || c[1] + c[2] != 300)
            fail_msg("%s in panic: out backend picked %zu times, others %zu",
                     sluice_strategy_name((sluice_strategy_t)s), c[0], c[1] + c[2]);
        assert_true(panic_of(lb));
        /* All out: nothing at all, even in panic. */
        assert_int_equal(sl_lb_set_out(lb, "a", three[1], SL_OUT_STARTING, true), 0);
        assert_int_equal(sl_lb_set_out(lb, "a", three[2], SL_OUT_DISCONNECTED, true), 0);
        pick_counts(lb, 30, c);
        assert_int_equal(c[3], 30);
        /* Back in: picked again. */
        assert_int_equal(sl_lb_set_out(lb, "a", three[0], SL_OUT_DISCONNECTED, false), 0);
        pick_counts(lb, 30, c);
        assert_int_equal(c[0], 30);
        sluice_lb_free(lb);
    }
}

/* Out backends are not panic candidates, and setting a bit recomputes the
 * cached verdict without any health change. */
static void out_backends_leave_the_panic_count(void **state)
{
    sluice_lb_t *lb = lb_three(SLUICE_ROUND_ROBIN);
    uint64_t gen;
    size_t c[4];
    (void)state;

    assert_int_equal(sluice_lb_set_panic(lb, "a", 40), 0);
    assert_int_equal(sluice_lb_mark_health(lb, "a", three[0], false), 0);
    pick_counts(lb, 30, c); /* caches "no panic": 2 of 3 usable */
    assert_false(panic_of(lb));
    /* [1] out: 1 usable of 2 candidates, 50% >= 40%: no panic. Counted
     * as an unusable candidate it would be 1 of 3, 33%: panic. */
    gen = health_gen(lb);
    assert_int_equal(sl_lb_set_out(lb, "a", three[1], SL_OUT_DISCONNECTED, true), 0);
    assert_int_equal(health_gen(lb), gen + 1);
    assert_false(panic_of(lb));
    pick_counts(lb, 30, c);
    assert_int_equal(c[2], 30);
    /* [2] out too: 0 of 1 candidate: panic, and it serves the down one. */
    assert_int_equal(sl_lb_set_out(lb, "a", three[2], SL_OUT_STARTING, true), 0);
    assert_true(panic_of(lb));
    pick_counts(lb, 30, c);
    assert_int_equal(c[0], 30);
    /* Back: the verdict follows again. */
    assert_int_equal(sl_lb_set_out(lb, "a", three[2], SL_OUT_STARTING, false), 0);
    assert_false(panic_of(lb));
    pick_counts(lb, 30, c);
    assert_int_equal(c[2], 30);
    sluice_lb_free(lb);
}

static void out_bits_combine_and_report_errors(void **state)
{
    sluice_lb_t *lb = lb_three(SLUICE_LEAST_REQUEST);
    sluice_backend_builder_t *bb = sluice_backend_builder_new("agent-1", "127.0.0.1:9010");
    uint64_t gen;
    size_t c[4];
    (void)state;

    /* By name, as the daemon keys its agents. */
    assert_int_equal(sluice_backend_builder_finish(bb, lb, "a"), 0);
    assert_int_equal(sl_lb_set_out(lb, "a", "agent-1", SL_OUT_DISCONNECTED, true), 0);
    assert_int_equal(sl_lb_set_out(lb, "a", "agent-1", SL_OUT_STARTING, true), 0);
    assert_int_equal(backend_of(lb, "a", "127.0.0.1:9010").out,
                     SL_OUT_DISCONNECTED | SL_OUT_STARTING);
    /* Setting what is set, or clearing what is clear, moves nothing. */
    gen = health_gen(lb);
    assert_int_equal(sl_lb_set_out(lb, "a", "agent-1", SL_OUT_STARTING, true), 0);
    assert_int_equal(sl_lb_set_out(lb, "a", three[0], SL_OUT_STARTING, false), 0);
    assert_int_equal(health_gen(lb), gen);
    /* One reason left: still out. */
    assert_int_equal(sl_lb_set_out(lb, "a", "agent-1", SL_OUT_DISCONNECTED, false), 0);
    assert_int_equal(health_gen(lb), gen + 1);
    assert_int_equal(backend_of(lb, "a", "127.0.0.1:9010").out, SL_OUT_STARTING);
    assert_int_equal(sluice_lb_healthy_count(lb, "a"), 3);
    /* Kept by an update that keeps the backend object. */
    assert_int_equal(sluice_lb_set_weight(lb, "a", "agent-1", 2), 0);
    assert_int_equal(backend_of(lb, "a", "127.0.0.1:9010").out, SL_OUT_STARTING);
    assert_int_equal(sl_lb_set_out(lb, "a", "agent-1", SL_OUT_STARTING, false), 0);
    assert_int_equal(sluice_lb_healthy_count(lb, "a"), 4);

    assert_int_equal(sl_lb_set_out(lb, "zz", three[0], SL_OUT_STARTING, true),
                     SLUICE_ERR_UNKNOWN_SERVICE);
    assert_int_equal(sl_lb_set_out(lb, "a", "nope", SL_OUT_STARTING, true),
                     SLUICE_ERR_UNKNOWN_BACKEND);
    assert_int_equal(sl_lb_set_out(lb, "a", three[0], 0, true), SLUICE_ERR_INVALID_ARG);
    assert_int_equal(sl_lb_set_out(NULL, "a", three[0], 1, true), SLUICE_ERR_INVALID_ARG);
    assert_int_equal(sl_lb_set_out(lb, NULL, three[0], 1, true), SLUICE_ERR_INVALID_ARG);
    assert_int_equal(sl_lb_set_out(lb, "a", NULL, 1, true), SLUICE_ERR_INVALID_ARG);
    pick_counts(lb, 40, c);
    assert_int_equal(c[3], 0);
    sluice_lb_free(lb);
}

/* Coming back in healthy ramps like a return to health. */
static void back_in_ramps_with_slow_start(void **state)
{
    sluice_lb_t *lb = lb_three(SLUICE_ROUND_ROBIN);
    (void)state;

    assert_int_equal(sluice_lb_set_slow_start(lb, "a", 600000), 0);
    assert_int_equal(backend_of(lb, "a", three[0]).ramp_permille, 1000);
    assert_int_equal(sl_lb_set_out(lb, "a", three[0], SL_OUT_DISCONNECTED, true), 0);
    assert_int_equal(backend_of(lb, "a", three[0]).ramp_permille, 1000);
    assert_int_equal(sl_lb_set_out(lb, "a", three[0], SL_OUT_DISCONNECTED, false), 0);
    assert_true(backend_of(lb, "a", three[0]).ramp_permille < 200);
    /* Down when it returns: its return to health will ramp it instead. */
    assert_int_equal(sl_lb_set_out(lb, "a", three[1], SL_OUT_DISCONNECTED, true), 0);
    assert_int_equal(sluice_lb_mark_health(lb, "a", three[1], false), 0);
    assert_int_equal(sl_lb_set_out(lb, "a", three[1], SL_OUT_DISCONNECTED, false), 0);
    assert_int_equal(backend_of(lb, "a", three[1]).ramp_permille, 1000);
    sluice_lb_free(lb);
}

static void load_is_set_cleared_and_shown(void **state)
{
    sluice_lb_t *lb = lb_three(SLUICE_ROUND_ROBIN);
    sluice_backend_builder_t *bb = sluice_backend_builder_new("agent-1", "127.0.0.1:9010");
    sluice_backend_snapshot_t s;
    (void)state;

    s = backend_of(lb, "a", three[0]);
    assert_false(s.load_set);
    assert_int_equal(s.load, 0);
    assert_int_equal(s.out, 0);
    assert_int_equal(sluice_lb_set_load(lb, "a", three[0], 250), 0);
    s = backend_of(lb, "a", three[0]);
    assert_true(s.load_set);
    assert_int_equal(s.load, 250);
    /* Any spelling of the target, or the name; 0 is a load like any. */
    assert_int_equal(sluice_lb_set_load(lb, "a", "127.0.0.1:9002", 0), 0);
    assert_true(backend_of(lb, "a", three[1]).load_set);
    assert_int_equal(sluice_backend_builder_finish(bb, lb, "a"), 0);
    assert_int_equal(sluice_lb_set_load(lb, "a", "agent-1", UINT32_MAX), 0);
    s = backend_of(lb, "a", "127.0.0.1:9010");
    assert_true(s.load_set);
    assert_int_equal(s.load, UINT32_MAX);
    /* Kept across a rebuild that keeps the object. */
    assert_int_equal(sluice_lb_set_weight(lb, "a", three[0], 3), 0);
    assert_int_equal(backend_of(lb, "a", three[0]).load, 250);
    assert_int_equal(sluice_lb_clear_load(lb, "a", three[0]), 0);
    s = backend_of(lb, "a", three[0]);
    assert_false(s.load_set);
    assert_int_equal(s.load, 0);

    assert_int_equal(sluice_lb_set_load(lb, "zz", three[0], 1), SLUICE_ERR_UNKNOWN_SERVICE);
    assert_int_equal(sluice_lb_set_load(lb, "a", "nope", 1), SLUICE_ERR_UNKNOWN_BACKEND);
    assert_int_equal(sluice_lb_set_load(NULL, "a", three[0], 1), SLUICE_ERR_INVALID_ARG);
    assert_int_equal(sluice_lb_set_load(lb, NULL, three[0], 1), SLUICE_ERR_INVALID_ARG);
    assert_int_equal(sluice_lb_set_load(lb, "a", NULL, 1), SLUICE_ERR_INVALID_ARG);
    assert_int_equal(sluice_lb_clear_load(lb, "zz", three[0]), SLUICE_ERR_UNKNOWN_SERVICE);
    assert_int_equal(sluice_lb_clear_load(lb, "a", "nope"), SLUICE_ERR_UNKNOWN_BACKEND);
    assert_int_equal(sluice_lb_clear_load(NULL, "a", three[0]), SLUICE_ERR_INVALID_ARG);
    sluice_lb_free(lb);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(out_backend_is_never_picked),
        cmocka_unit_test(out_backends_leave_the_panic_count),
        cmocka_unit_test(out_bits_combine_and_report_errors),
        cmocka_unit_test(back_in_ramps_with_slow_start),
        cmocka_unit_test(load_is_set_cleared_and_shown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
