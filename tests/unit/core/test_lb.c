/* The lb's lifecycle, writers and the select/release contract. */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "backend_types.h"
#include "score.h"
#include "sluice.h"

static const char *const three[] = {"10.0.0.1:80", "10.0.0.2:80", "10.0.0.3:80"};

static sluice_lb_t *lb_three(sluice_strategy_t s)
{
    sluice_lb_t *lb = sluice_lb_new();

    assert_non_null(lb);
    assert_int_equal(sluice_lb_register(lb, "api", three, 3, s), 0);
    return lb;
}

static void register_refuses_bad_input(void **state)
{
    static const char *const dup[] = {"10.0.0.1", "10.0.0.1:80"};
    static const char *const bad[] = {"10.0.0.1", "h:0"};
    sluice_lb_t *lb = sluice_lb_new();
    (void)state;

    assert_int_equal(sluice_lb_register(lb, "a", dup, 2, SLUICE_ROUND_ROBIN),
                     SLUICE_ERR_DUPLICATE_TARGET);
    assert_int_equal(sluice_lb_register(lb, "a", bad, 2, SLUICE_ROUND_ROBIN),
                     SLUICE_ERR_INVALID_TARGET);
    assert_int_equal(sluice_lb_register(lb, "a", three, 3, SLUICE_STRATEGY_COUNT),
                     SLUICE_ERR_INVALID_ARG);
    assert_int_equal(sluice_lb_register(lb, NULL, three, 3, SLUICE_ROUND_ROBIN),
                     SLUICE_ERR_INVALID_ARG);
    assert_int_equal(sluice_lb_register(lb, "a", NULL, 1, SLUICE_ROUND_ROBIN),
                     SLUICE_ERR_INVALID_ARG);
    /* A failed call changes nothing. */
    assert_int_equal(sluice_lb_list_services(lb, NULL, 0), 0);
    assert_int_equal(sluice_lb_register(lb, "empty", NULL, 0, SLUICE_MAGLEV), 0);
    assert_int_equal(sluice_lb_backend_count(lb, "empty"), 0);
    sluice_lb_free(lb);
}

static void select_reports_why_nothing(void **state)
{
    sluice_lb_t *lb = lb_three(SLUICE_ROUND_ROBIN);
    (void)state;

    errno = 0;
    assert_null(sluice_lb_select(lb, "nope", NULL, 0));
    assert_int_equal(errno, ENOENT);
    for (size_t i = 0; i < 3; i++)
        assert_int_equal(sluice_lb_mark_health(lb, "api", three[i], false), 0);
    /* All down: panic (on by default) still serves; off, nothing is. */
    sluice_backend_release(sluice_lb_select(lb, "api", NULL, 0), SLUICE_OUTCOME_NEUTRAL, 0);
    assert_int_equal(sluice_lb_set_panic(lb, "api", 0), 0);
    errno = 0;
    assert_null(sluice_lb_select(lb, "api", NULL, 0));
    assert_int_equal(errno, EHOSTUNREACH);
    assert_int_equal(sluice_lb_register(lb, "empty", NULL, 0, SLUICE_ROUND_ROBIN), 0);
    errno = 0;
    assert_null(sluice_lb_select(lb, "empty", "k", 1));
    assert_int_equal(errno, EHOSTUNREACH);
    sluice_lb_free(lb);
}

static void every_strategy_selects_and_counts(void **state)
{
    (void)state;

    for (int s = 0; s < SLUICE_STRATEGY_COUNT; s++) {
        sluice_lb_t *lb = lb_three((sluice_strategy_t)s);
        sluice_group_snapshot_t snap;
        sluice_backend_t *b = sluice_lb_select(lb, "api", "key", 3);
        uint64_t requests = 0;

        assert_non_null(b);
        assert_non_null(sluice_backend_target(b));
        assert_int_equal(sluice_lb_snapshot(lb, "api", &snap), 0);
        assert_int_equal(snap.strategy, s);
        assert_int_equal(snap.n, 3);
        for (size_t i = 0; i < 3; i++) {
            requests += snap.backends[i].requests;
            if (strcmp(snap.backends[i].target, sluice_backend_target(b)) == 0)
                assert_int_equal(snap.backends[i].active, 1);
            else
                assert_int_equal(snap.backends[i].active, 0);
        }
        assert_int_equal(requests, 1);
        sluice_group_snapshot_free(&snap);
        sluice_backend_release(b, SLUICE_OUTCOME_NEUTRAL, 0);
        sluice_lb_free(lb);
    }
}

static void snapshot_fields(void **state)
{
    sluice_lb_t *lb = lb_three(SLUICE_ROUND_ROBIN);
    sluice_group_snapshot_t snap;
    (void)state;

    assert_int_equal(sluice_lb_set_weight(lb, "api", "10.0.0.2", 0), 0);
    assert_int_equal(sluice_lb_down(lb, "api", "10.0.0.3:80"), 0);
    assert_int_equal(sluice_lb_snapshot(lb, "api", &snap), 0);
    assert_int_equal(snap.strategy, SLUICE_ROUND_ROBIN);
    assert_int_equal(snap.n, 3);
    for (size_t i = 0; i < 3; i++) {
        assert_string_equal(snap.backends[i].target, three[i]);
        assert_string_equal(snap.backends[i].name, three[i]);
        assert_int_equal(snap.backends[i].requests, 0);
        assert_int_equal(snap.backends[i].ewma_ns, 0);
        assert_int_equal(snap.backends[i].active, 0);
    }
    assert_int_equal(snap.backends[0].health, SLUICE_HEALTH_UNKNOWN);
    assert_int_equal(snap.backends[0].score, 1);
    assert_int_equal(snap.backends[0].weight, 1);
    assert_int_equal(snap.backends[1].weight, 0);
    assert_int_equal(snap.backends[2].score, 0);
    assert_int_equal(snap.backends[2].failures, 1);
    assert_int_equal(snap.backends[2].health, SLUICE_HEALTH_HEALTHY);
    sluice_group_snapshot_free(&snap);
    assert_int_equal(sluice_lb_healthy_count(lb, "api"), 2); /* weight 0 is not usable */
    assert_int_equal(sluice_lb_snapshot(lb, "nope", &snap), SLUICE_ERR_UNKNOWN_SERVICE);
    sluice_lb_free(lb);
}

static void update_keeps_state_of_staying_targets(void **state)
{
    static const char *const next[] = {"10.0.0.4:80", "10.0.0.2", "10.0.0.5:80"};
    sluice_lb_t *lb = lb_three(SLUICE_ROUND_ROBIN);
    sluice_group_snapshot_t snap;
    sluice_backend_t *held[3];
    (void)state;

    for (size_t i = 0; i < 3; i++)
        held[i] = sluice_lb_select(lb, "api", NULL, 0);
    assert_int_equal(sluice_lb_down(lb, "api", "10.0.0.2:80"), 0);
    assert_int_equal(sluice_lb_set_weight(lb, "api", "10.0.0.2:80", 7), 0);
    assert_int_equal(sluice_lb_update_backends(lb, "api", next, 3), 0);
    assert_int_equal(sluice_lb_snapshot(lb, "api", &snap), 0);
    assert_int_equal(snap.n, 3);
    assert_string_equal(snap.backends[0].target, "10.0.0.4:80");
    assert_int_equal(snap.backends[0].score, 1);
    assert_int_equal(snap.backends[0].active, 0);
    assert_string_equal(snap.backends[1].target, "10.0.0.2:80");
    assert_int_equal(snap.backends[1].score, 0);
    assert_int_equal(snap.backends[1].failures, 1);
    assert_int_equal(snap.backends[1].active, 1);
    assert_int_equal(snap.backends[1].requests, 1);
    assert_int_equal(snap.backends[1].weight, 7);
    assert_int_equal(snap.backends[2].score, 1);
    sluice_group_snapshot_free(&snap);
    /* Removed targets' selections stay valid until released. */
    for (size_t i = 0; i < 3; i++) {
        assert_non_null(sluice_backend_target(held[i]));
        sluice_backend_release(held[i], SLUICE_OUTCOME_OK, 10);
    }
    assert_int_equal(sluice_lb_update_backends(lb, "nope", next, 3), SLUICE_ERR_UNKNOWN_SERVICE);
    assert_int_equal(sluice_lb_update_backends(lb, "api", three, 2), 0);
    assert_int_equal(sluice_lb_backend_count(lb, "api"), 2);
    sluice_lb_free(lb);
}

static void update_scales_to_ten_thousand(void **state)
{
    enum { N = 10000 };
    char(*buf)[32] = calloc(N + N / 2, sizeof(*buf));
    const char **ts = calloc(N + N / 2, sizeof(*ts));
    sluice_lb_t *lb = sluice_lb_new();
    (void)state;

    for (size_t i = 0; i < N + N / 2; i++) {
        snprintf(buf[i], sizeof(buf[i]), "10.%zu.%zu.%zu:80", i >> 16, (i >> 8) & 255, i & 255);
        ts[i] = buf[i];
    }
    assert_int_equal(sluice_lb_register(lb, "big", ts, N, SLUICE_ROUND_ROBIN), 0);
    assert_int_equal(sluice_lb_update_backends(lb, "big", ts + N / 2, N), 0);
    assert_int_equal(sluice_lb_backend_count(lb, "big"), N);
    sluice_lb_free(lb);
    free(ts);
    free(buf);
}

static void selected_backend_survives_removal(void **state)
{
    sluice_lb_t *lb = lb_three(SLUICE_ROUND_ROBIN);
    sluice_backend_t *b = sluice_lb_select(lb, "api", NULL, 0);
    char target[64];
    (void)state;

    assert_non_null(b);
    snprintf(target, sizeof(target), "%s", sluice_backend_target(b));
    assert_int_equal(sluice_lb_remove_backend(lb, "api", target), 0);
    assert_int_equal(sluice_lb_backend_count(lb, "api"), 2);
    assert_int_equal(sluice_lb_remove_backend(lb, "api", target), SLUICE_ERR_UNKNOWN_BACKEND);
    assert_int_equal(sluice_lb_unregister(lb, "api"), 0);
    assert_string_equal(sluice_backend_target(b), target);
    sluice_backend_release(b, SLUICE_OUTCOME_FAIL, 0);
    /* Even the lb may go first. */
    assert_int_equal(sluice_lb_register(lb, "api", three, 3, SLUICE_ROUND_ROBIN), 0);
    b = sluice_lb_select(lb, "api", NULL, 0);
    sluice_lb_free(lb);
    assert_non_null(sluice_backend_name(b));
    sluice_backend_release(b, SLUICE_OUTCOME_OK, 5);
}

static void add_remove_and_list(void **state)
{
    sluice_lb_t *lb = lb_three(SLUICE_WEIGHTED_ROUND_ROBIN);
    const char *names[4];
    (void)state;

    assert_int_equal(sluice_lb_add_backend(lb, "api", "10.0.0.9"), 0);
    assert_int_equal(sluice_lb_add_backend(lb, "api", "10.0.0.9:80"), SLUICE_ERR_DUPLICATE_TARGET);
    assert_int_equal(sluice_lb_add_backend(lb, "api", "10.0.0.9:"), SLUICE_ERR_INVALID_TARGET);
    assert_int_equal(sluice_lb_add_backend(lb, "zzz", "10.0.0.9"), SLUICE_ERR_UNKNOWN_SERVICE);
    assert_int_equal(sluice_lb_backend_count(lb, "api"), 4);
    assert_int_equal(sluice_lb_remove_backend(lb, "api", "10.0.0.9"), 0);
    assert_int_equal(sluice_lb_remove_backend(lb, "nope", "10.0.0.9"), SLUICE_ERR_UNKNOWN_SERVICE);
    assert_int_equal(sluice_lb_register(lb, "web", three, 1, SLUICE_RANDOM), 0);
    assert_int_equal(sluice_lb_list_services(lb, names, 1), 2);
    assert_int_equal(sluice_lb_list_services(lb, names, 4), 2);
    assert_string_equal(names[0], "api");
    assert_string_equal(names[1], "web");
    /* Names stay valid across changes of their service. */
    assert_int_equal(sluice_lb_add_backend(lb, "api", "10.0.0.8"), 0);
    assert_string_equal(names[0], "api");
    assert_int_equal(sluice_lb_unregister(lb, "api"), 0);
    assert_int_equal(sluice_lb_unregister(lb, "api"), SLUICE_ERR_UNKNOWN_SERVICE);
    assert_int_equal(sluice_lb_list_services(lb, names, 4), 1);
    assert_string_equal(names[0], "web");
    assert_int_equal(sluice_lb_set_weight(lb, "web", "10.0.0.5", 3), SLUICE_ERR_UNKNOWN_BACKEND);
    sluice_lb_free(lb);
}

static void names_and_errors(void **state)
{
    sluice_strategy_t s;
    (void)state;

    for (int i = 0; i < SLUICE_STRATEGY_COUNT; i++) {
        assert_int_equal(sluice_strategy_parse(sluice_strategy_name((sluice_strategy_t)i), &s), 0);
        assert_int_equal(s, i);
    }
    assert_string_equal(sluice_strategy_name(SLUICE_LEAST_REQUEST), "least_request");
    assert_null(sluice_strategy_name(SLUICE_STRATEGY_COUNT));
    assert_int_equal(sluice_strategy_parse("fastest", &s), SLUICE_ERR_INVALID_ARG);
    for (int e = 0; e >= SLUICE_ERR_IO; e--)
        assert_string_not_equal(sluice_strerror(e), "unknown error");
    assert_string_equal(sluice_strerror(-100), "unknown error");
    assert_string_equal(sluice_strerror(5), "unknown error");
    sluice_lb_free(NULL);
}

/* Readers select and release while a writer keeps replacing the group:
 * the sanitizers see any use after free. */
struct race {
    sluice_lb_t *lb;
    int iterations;
};

static void *reader(void *arg)
{
    struct race *r = arg;

    for (int i = 0; i < r->iterations; i++) {
        sluice_backend_t *b = sluice_lb_select(r->lb, "api", &i, sizeof(i));

        if (b != NULL)
            sluice_backend_release(b, (i & 7) == 0 ? SLUICE_OUTCOME_FAIL : SLUICE_OUTCOME_OK,
                                   (uint64_t)i);
    }
    return NULL;
}

static void readers_race_writers(void **state)
{
    static const char *const alt[] = {"10.0.0.3:80", "10.0.0.4:80"};
    sluice_lb_t *lb = lb_three(SLUICE_MAGLEV);
    struct race r = {lb, 20000};
    pthread_t th[3];
    (void)state;

    for (int i = 0; i < 3; i++)
        assert_int_equal(pthread_create(&th[i], NULL, reader, &r), 0);
    for (int i = 0; i < 200; i++) {
        assert_int_equal(
            sluice_lb_update_backends(lb, "api", (i & 1) ? alt : three, (i & 1) ? 2 : 3), 0);
        if (i % 50 == 0)
            assert_int_equal(sluice_lb_register(lb, "api", three, 3, SLUICE_PEAK_EWMA), 0);
    }
    for (int i = 0; i < 3; i++)
        pthread_join(th[i], NULL);
    sluice_lb_free(lb);
}

static void health_follows_the_score(void **state)
{
    sluice_lb_t *lb = lb_three(SLUICE_ROUND_ROBIN);
    sluice_group_snapshot_t snap;
    sluice_backend_t *b;
    (void)state;

    b = sluice_lb_select(lb, "api", NULL, 0);
    assert_non_null(b);
    assert_int_equal(sluice_backend_health(b), SLUICE_HEALTH_UNKNOWN);
    assert_int_equal(sluice_lb_down(lb, "api", sluice_backend_target(b)), 0);
    assert_int_equal(sluice_lb_down(lb, "api", sluice_backend_target(b)), 0);
    assert_int_equal(sluice_backend_health(b), SLUICE_HEALTH_UNHEALTHY);
    /* A stored health left stale by a concurrent step does not show: the
     * score decides once anything is known. */
    atomic_store(&b->health, SLUICE_HEALTH_HEALTHY);
    assert_int_equal(sluice_backend_health(b), SLUICE_HEALTH_UNHEALTHY);
    /* Nudge: one step up to 0, the failure streak stays. */
    assert_int_equal(sl_lb_nudge(lb, "api", sluice_backend_target(b)), 0);
    assert_int_equal(sl_lb_nudge(lb, "api", sluice_backend_target(b)), 0);
    assert_int_equal(sluice_lb_snapshot(lb, "api", &snap), 0);
    for (size_t i = 0; i < snap.n; i++) {
        if (strcmp(snap.backends[i].target, sluice_backend_target(b)) != 0)
            continue;
        assert_int_equal(snap.backends[i].score, 0);
        assert_int_equal(snap.backends[i].failures, 2);
        assert_int_equal(snap.backends[i].health, SLUICE_HEALTH_HEALTHY);
    }
    sluice_group_snapshot_free(&snap);
    assert_int_equal(sl_lb_nudge(lb, "api", "10.9.9.9:80"), SLUICE_ERR_UNKNOWN_BACKEND);
    sluice_backend_release(b, SLUICE_OUTCOME_OK, 1);
    sluice_lb_free(lb);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(register_refuses_bad_input),
        cmocka_unit_test(select_reports_why_nothing),
        cmocka_unit_test(every_strategy_selects_and_counts),
        cmocka_unit_test(snapshot_fields),
        cmocka_unit_test(update_keeps_state_of_staying_targets),
        cmocka_unit_test(update_scales_to_ten_thousand),
        cmocka_unit_test(selected_backend_survives_removal),
        cmocka_unit_test(add_remove_and_list),
        cmocka_unit_test(names_and_errors),
        cmocka_unit_test(readers_race_writers),
        cmocka_unit_test(health_follows_the_score),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
