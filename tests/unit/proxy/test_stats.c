/* The data plane's counters and their Prometheus text: counts fed
 * through real attempts on a real lb, rendered and read back; escaping;
 * route slots; recycling of removed backends; and a writer counting while
 * a reader renders (sums never go back, and end exact). */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/backend.h"
#include "proxy/attempt.h"
#include "proxy/prom.h"
#include "proxy/stats.h"
#include "proxy/stats_render.h"

static sluice_lb_t *lb_two(void)
{
    static const char *const targets[] = {"127.0.0.1:9001", "127.0.0.1:9002"};
    sluice_lb_t *lb = sluice_lb_new();

    assert_non_null(lb);
    assert_int_equal(sluice_lb_register(lb, "svc", targets, 2, SLUICE_ROUND_ROBIN), 0);
    return lb;
}

static char *render(struct sl_stats_worker *const *ws, size_t n, const sluice_lb_t *lb)
{
    struct sl_prom p = {0};

    sl_stats_render_backends(&p, ws, n, lb);
    sl_stats_render_routes(&p, ws, n);
    assert_false(p.oom);
    assert_non_null(p.buf);
    return p.buf;
}

/* The value of the sample line that starts with <prefix> (name and
 * labels, exactly); fails when absent. */
static double sample(const char *text, const char *prefix)
{
    size_t n = strlen(prefix);

    for (const char *l = text; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL)
        if (strncmp(l, prefix, n) == 0 && l[n] == ' ')
            return strtod(l + n + 1, NULL);
    fail_msg("no sample %s in:\n%s", prefix, text);
    return -1;
}

static bool has_line(const char *text, const char *prefix)
{
    return strstr(text, prefix) != NULL;
}

#define BE1 "service=\"svc\",backend=\"127.0.0.1:9001\""
#define BE2 "service=\"svc\",backend=\"127.0.0.1:9002\""

static void attempts_count_requests_statuses_failures_and_retries(void **state)
{
    sluice_lb_t *lb = lb_two();
    struct sl_stats_worker w, *ws = &w;
    struct sl_attempt a;
    char *text;
    (void)state;

    sl_stats_worker_init(&w);
    /* Round robin: 9001, 9002, 9001, ... */
    sl_attempt_init(&a, 2);
    assert_non_null(sl_attempt_select(&a, &w, "svc", lb, "svc", NULL, 0));
    assert_string_equal(a.target, "127.0.0.1:9001");
    sl_attempt_count_status(&a, 200);
    sl_attempt_count_duration(&a, 3000000); /* 3 ms */
    sl_attempt_release(&a, SLUICE_OUTCOME_OK, 3000000);

    sl_attempt_init(&a, 2);
    assert_non_null(sl_attempt_select(&a, &w, "svc", lb, "svc", NULL, 0));
    assert_string_equal(a.target, "127.0.0.1:9002");
    sl_attempt_count_connect_failure(&a);
    assert_true(sl_attempt_fail(&a, SLUICE_OUTCOME_FAIL, true, NULL, "refused"));
    assert_non_null(sl_attempt_select(&a, &w, "svc", lb, "svc", NULL, 0));
    assert_string_equal(a.target, "127.0.0.1:9001");
    sl_attempt_count_status(&a, 503);
    sl_attempt_count_duration(&a, 7000000); /* 7 ms */
    sl_attempt_release(&a, SLUICE_OUTCOME_OK, 7000000);

    sl_attempt_init(&a, 0);
    assert_non_null(sl_attempt_select(&a, &w, "svc", lb, "svc", NULL, 0));
    assert_string_equal(a.target, "127.0.0.1:9002");
    assert_false(sl_attempt_fail(&a, SLUICE_OUTCOME_TIMEOUT, true, NULL, "timed out"));

    sl_attempt_init(&a, 0);
    assert_non_null(sl_attempt_select(&a, &w, "svc", lb, "svc", NULL, 0));
    sl_attempt_count_status(&a, 101);
    sl_attempt_count_duration(&a, 20000000000ull); /* 20 s: only +Inf */
    sl_attempt_release(&a, SLUICE_OUTCOME_OK, 1);

    text = render(&ws, 1, lb);
    assert_true(has_line(text, "# TYPE sluice_backend_requests_total counter\n"));
    assert_true(has_line(text, "# HELP sluice_backend_requests_total "));
    assert_int_equal(sample(text, "sluice_backend_requests_total{" BE1 "}"), 3);
    assert_int_equal(sample(text, "sluice_backend_requests_total{" BE2 "}"), 2);
    assert_int_equal(sample(text, "sluice_backend_responses_total{" BE1 ",class=\"2xx\"}"), 1);
    assert_int_equal(sample(text, "sluice_backend_responses_total{" BE1 ",class=\"5xx\"}"), 1);
    assert_int_equal(sample(text, "sluice_backend_responses_total{" BE1 ",class=\"1xx\"}"), 1);
    assert_int_equal(sample(text, "sluice_backend_responses_total{" BE2 ",class=\"2xx\"}"), 0);
    assert_int_equal(sample(text, "sluice_backend_connect_failures_total{" BE2 "}"), 1);
    assert_int_equal(sample(text, "sluice_backend_connect_failures_total{" BE1 "}"), 0);
    assert_int_equal(sample(text, "sluice_backend_timeouts_total{" BE2 "}"), 1);
    assert_int_equal(sample(text, "sluice_backend_retries_total{" BE2 "}"), 1);
    assert_int_equal(sample(text, "sluice_backend_retries_total{" BE1 "}"), 0);
    /* Histogram: cumulative buckets, +Inf == _count. */
    assert_true(has_line(text, "# TYPE sluice_backend_request_duration_seconds histogram\n"));
    assert_int_equal(
        sample(text, "sluice_backend_request_duration_seconds_bucket{" BE1 ",le=\"0.005\"}"), 1);
    assert_int_equal(
        sample(text, "sluice_backend_request_duration_seconds_bucket{" BE1 ",le=\"0.01\"}"), 2);
    assert_int_equal(
        sample(text, "sluice_backend_request_duration_seconds_bucket{" BE1 ",le=\"10\"}"), 2);
    assert_int_equal(
        sample(text, "sluice_backend_request_duration_seconds_bucket{" BE1 ",le=\"+Inf\"}"), 3);
    assert_int_equal(sample(text, "sluice_backend_request_duration_seconds_count{" BE1 "}"), 3);
    assert_true(sample(text, "sluice_backend_request_duration_seconds_sum{" BE1 "}") > 20.0099);
    assert_true(sample(text, "sluice_backend_request_duration_seconds_sum{" BE1 "}") < 20.0101);
    /* Gauges from the library: nothing held now; health and score. */
    assert_int_equal(sample(text, "sluice_backend_active_connections{" BE1 "}"), 0);
    assert_int_equal(sample(text, "sluice_backend_healthy{" BE1 "}"), 1);
    assert_true(has_line(text, "sluice_backend_score{" BE2 "} "));
    free(text);

    /* A held backend is an active connection. */
    sl_attempt_init(&a, 0);
    assert_non_null(sl_attempt_select(&a, &w, "svc", lb, "svc", NULL, 0));
    text = render(&ws, 1, lb);
    assert_int_equal(sample(text, "sluice_backend_active_connections{" BE1 "}") +
                         sample(text, "sluice_backend_active_connections{" BE2 "}"),
                     1);
    free(text);
    sl_attempt_release(&a, SLUICE_OUTCOME_NEUTRAL, 0);
    sl_stats_worker_fini(&w);
    sluice_lb_free(lb);
}

static void workers_are_summed_and_labels_escaped(void **state)
{
    sluice_lb_t *lb = lb_two();
    struct sl_stats_worker w0, w1, *ws[] = {&w0, &w1};
    sluice_backend_t *be = sluice_lb_select(lb, "svc", NULL, 0);
    struct sl_stats_be *r0, *r1;
    char *text;
    (void)state;

    sl_stats_worker_init(&w0);
    sl_stats_worker_init(&w1);
    r0 = sl_stats_be_get(&w0, be, "a\"b\\c\nd");
    r1 = sl_stats_be_get(&w1, be, "a\"b\\c\nd");
    assert_non_null(r0);
    assert_ptr_equal(sl_stats_be_get(&w0, be, "ignored"), r0); /* found, not made again */
    sl_counter_add(&r0->requests, 5);
    sl_counter_add(&r1->requests, 7);
    text = render(ws, 2, NULL);
    assert_int_equal(sample(text,
                            "sluice_backend_requests_total{service=\"a\\\"b\\\\c\\nd\",backend=\""
                            "127.0.0.1:9001\"}"),
                     12);
    free(text);
    sluice_backend_release(be, SLUICE_OUTCOME_NEUTRAL, 0);
    sl_stats_worker_fini(&w0);
    sl_stats_worker_fini(&w1);
    sluice_lb_free(lb);
}

static void route_slots_are_stable_and_counted_per_worker(void **state)
{
    struct sl_stats_worker w0, w1, *ws[] = {&w0, &w1};
    uint32_t a = sl_stats_route_slot("api.example.com/v1", "route000");
    uint32_t b = sl_stats_route_slot("api.example.com/v1", "route001");
    char *text;
    (void)state;

    assert_int_not_equal(a, b);
    assert_int_equal(sl_stats_route_slot("api.example.com/v1", "route000"), a);
    assert_true(sl_stats_route_slots() >= 2);
    sl_stats_worker_init(&w0);
    sl_stats_worker_init(&w1);
    sl_stats_route_count(&w0, a + 1);
    sl_stats_route_count(&w0, a + 1);
    sl_stats_route_count(&w1, a + 1);
    sl_stats_route_count(&w1, 0); /* no slot: not counted, no crash */
    sl_stats_route_count(NULL, a + 1);
    text = render(ws, 2, NULL);
    assert_true(has_line(text, "# TYPE sluice_route_requests_total counter\n"));
    assert_int_equal(
        sample(text,
               "sluice_route_requests_total{endpoint=\"api.example.com/v1\",route=\"route000\"}"),
        3);
    assert_int_equal(
        sample(text,
               "sluice_route_requests_total{endpoint=\"api.example.com/v1\",route=\"route001\"}"),
        0);
    free(text);
    sl_stats_worker_fini(&w0);
    sl_stats_worker_fini(&w1);
}

static void removed_backends_are_recycled_once_released(void **state)
{
    sluice_lb_t *lb = lb_two();
    static const char *const keep[] = {"127.0.0.1:9002"};
    struct sl_stats_worker w, *ws = &w;
    struct sl_attempt a;
    struct sl_stats_be *rec;
    char *text;
    (void)state;

    sl_stats_worker_init(&w);
    sl_attempt_init(&a, 0);
    assert_non_null(sl_attempt_select(&a, &w, "svc", lb, "svc", NULL, 0));
    assert_string_equal(a.target, "127.0.0.1:9001");
    rec = a.st;
    assert_int_equal(sl_stats_worker_recycle(&w), 0); /* still listed */
    assert_int_equal(sluice_lb_update_backends(lb, "svc", keep, 1), 0);
    assert_int_equal(sl_stats_worker_recycle(&w), 0); /* held by the attempt */
    sl_attempt_release(&a, SLUICE_OUTCOME_OK, 1);
    assert_int_equal(sl_stats_worker_recycle(&w), 1);
    text = render(&ws, 1, lb);
    assert_false(has_line(text, "127.0.0.1:9001"));
    free(text);

    /* The record is reused, zeroed, for the next backend seen. */
    sl_attempt_init(&a, 0);
    assert_non_null(sl_attempt_select(&a, &w, "svc", lb, "svc", NULL, 0));
    assert_ptr_equal(a.st, rec);
    sl_attempt_release(&a, SLUICE_OUTCOME_OK, 1);
    text = render(&ws, 1, lb);
    assert_int_equal(sample(text, "sluice_backend_requests_total{" BE2 "}"), 1);
    free(text);
    sl_stats_worker_fini(&w);
    sluice_lb_free(lb);
}

/* Many backends: the index grows and every one keeps its own record. */
static void the_index_grows_without_mixing_backends(void **state)
{
    enum { N = 100 };
    char names[N][32];
    const char *targets[N];
    sluice_lb_t *lb = sluice_lb_new();
    struct sl_stats_worker w, *ws = &w;
    char *text;
    (void)state;

    for (size_t i = 0; i < N; i++) {
        (void)snprintf(names[i], sizeof(names[i]), "127.0.0.1:%zu", 10000 + i);
        targets[i] = names[i];
    }
    assert_int_equal(sluice_lb_register(lb, "svc", targets, N, SLUICE_ROUND_ROBIN), 0);
    sl_stats_worker_init(&w);
    for (size_t i = 0; i < 3 * N; i++) {
        struct sl_attempt a;

        sl_attempt_init(&a, 0);
        assert_non_null(sl_attempt_select(&a, &w, "svc", lb, "svc", NULL, 0));
        sl_attempt_release(&a, SLUICE_OUTCOME_OK, 1);
    }
    text = render(&ws, 1, lb);
    for (size_t i = 0; i < N; i++) {
        char prefix[160];

        (void)snprintf(prefix, sizeof(prefix),
                       "sluice_backend_requests_total{service=\"svc\",backend=\"%.31s\"}",
                       names[i]);
        assert_int_equal(sample(text, prefix), 3);
    }
    free(text);
    sl_stats_worker_fini(&w);
    sluice_lb_free(lb);
}

struct race {
    sluice_lb_t *lb;
    struct sl_stats_worker w;
    _Atomic bool done;
    uint64_t rounds;
};

static void *writer(void *arg)
{
    struct race *r = arg;

    for (uint64_t i = 0; i < r->rounds; i++) {
        struct sl_attempt a;

        sl_attempt_init(&a, 0);
        if (!sl_attempt_select(&a, &r->w, "svc", r->lb, "svc", NULL, 0))
            abort();
        sl_attempt_count_status(&a, 200);
        sl_attempt_count_duration(&a, i % 20000000);
        sl_attempt_release(&a, SLUICE_OUTCOME_OK, 1);
        sl_stats_route_count(&r->w, 1);
        if (i % 1000 == 0)
            (void)sl_stats_worker_recycle(&r->w);
    }
    atomic_store(&r->done, true);
    return NULL;
}

static double total(const char *text)
{
    return sample(text, "sluice_backend_requests_total{" BE1 "}") +
           sample(text, "sluice_backend_requests_total{" BE2 "}");
}

static void a_reader_rendering_while_a_writer_counts_sees_monotonic_sums(void **state)
{
    struct race r = {.lb = lb_two(), .rounds = 500000};
    struct sl_stats_worker *ws = &r.w;
    pthread_t t;
    double last = 0, last_2xx = 0;
    char *text;
    (void)state;

    (void)sl_stats_route_slot("race", "route000");
    sl_stats_worker_init(&r.w);
    atomic_init(&r.done, false);
    /* Both records exist before the race: the sample lookups need them. */
    for (int i = 0; i < 2; i++) {
        struct sl_attempt a;

        sl_attempt_init(&a, 0);
        assert_non_null(sl_attempt_select(&a, &r.w, "svc", r.lb, "svc", NULL, 0));
        sl_attempt_release(&a, SLUICE_OUTCOME_OK, 1);
    }
    assert_int_equal(pthread_create(&t, NULL, writer, &r), 0);
    for (int i = 0; i < 100000 && !atomic_load(&r.done); i++) {
        double now, now_2xx;

        text = render(&ws, 1, r.lb);
        now = total(text);
        now_2xx = sample(text, "sluice_backend_responses_total{" BE1 ",class=\"2xx\"}") +
                  sample(text, "sluice_backend_responses_total{" BE2 ",class=\"2xx\"}");
        assert_true(now >= last);
        assert_true(now_2xx >= last_2xx);
        last = now;
        last_2xx = now_2xx;
        free(text);
    }
    pthread_join(t, NULL);
    text = render(&ws, 1, r.lb);
    assert_int_equal(total(text), r.rounds + 2);
    free(text);
    sl_stats_worker_fini(&r.w);
    sluice_lb_free(r.lb);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(attempts_count_requests_statuses_failures_and_retries),
        cmocka_unit_test(workers_are_summed_and_labels_escaped),
        cmocka_unit_test(route_slots_are_stable_and_counted_per_worker),
        cmocka_unit_test(removed_backends_are_recycled_once_released),
        cmocka_unit_test(the_index_grows_without_mixing_backends),
        cmocka_unit_test(a_reader_rendering_while_a_writer_counts_sees_monotonic_sums),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
