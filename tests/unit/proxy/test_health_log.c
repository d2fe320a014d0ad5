/* Health transitions: one log line each with service, backend, old -> new,
 * reason and score, counted in the worker's stats; passive failures of an
 * attempt reach the library and are reported with the attempt's words. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "net/log.h"
#include "proxy/attempt.h"
#include "proxy/health_log.h"
#include "proxy/stats.h"

static char path[64];

/* The error log goes to a temporary file; read_log() returns its text. */
static void log_to_file(void)
{
    const char *failed = NULL;
    int fd;

    snprintf(path, sizeof(path), "/tmp/sluice-test-hlog-XXXXXX");
    fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    assert_int_equal(sl_log_setup(SL_LOG_TEXT, SL_LOG_INFO, "off", path, &failed), 0);
}

static const char *read_log(void)
{
    static char text[8192];
    FILE *f;
    size_t n;

    sl_log_close();
    f = fopen(path, "r");
    assert_non_null(f);
    n = fread(text, 1, sizeof(text) - 1, f);
    text[n] = '\0';
    fclose(f);
    unlink(path);
    return text;
}

static void a_transition_is_one_line_and_one_count(void **state)
{
    struct sl_stats_be st;
    struct sl_health_change ch = {
        .changed = true, .from = SLUICE_HEALTH_HEALTHY, .to = SLUICE_HEALTH_UNHEALTHY, .score = -1};
    struct sl_health_change none = {.from = SLUICE_HEALTH_HEALTHY, .to = SLUICE_HEALTH_HEALTHY};
    struct sl_health_change ej = {.ejected = true, .eject_ms = 5000, .score = -1};
    const char *text;

    (void)state;
    memset(&st, 0, sizeof(st));
    log_to_file();
    sl_health_report(&st, "api", "10.0.0.1:80", "connect refused", &ch);
    sl_health_report(&st, "api", "10.0.0.1:80", "connect refused", &none);
    sl_health_report(&st, "api", "10.0.0.1:80", "no response in time", &ej);
    sl_health_report(NULL, "api", "10.0.0.1:80", "x", &ch); /* logged, not counted */
    text = read_log();
    assert_non_null(strstr(
        text, "health: service api backend 10.0.0.1:80: healthy -> unhealthy (connect refused, "
              "score -1)"));
    assert_non_null(strstr(text, "health: service api backend 10.0.0.1:80: ejected for 5000ms "
                                 "(no response in time, score -1)"));
    assert_int_equal(sl_counter_get(&st.health_transitions), 1);
    assert_int_equal(sl_counter_get(&st.ejections), 1);
    assert_string_equal(sl_health_name(SLUICE_HEALTH_UNKNOWN), "unknown");
}

static void failed_attempts_take_a_backend_down_once(void **state)
{
    static const char *const targets[] = {"127.0.0.1:9001"};
    sluice_lb_t *lb = sluice_lb_new();
    struct sl_stats_worker w;
    struct sl_attempt a;
    struct sl_stats_be *st = NULL;
    const char *text, *first;

    (void)state;
    assert_non_null(lb);
    assert_int_equal(sluice_lb_set_panic(lb, "svc", 0), SLUICE_ERR_UNKNOWN_SERVICE);
    assert_int_equal(sluice_lb_register(lb, "svc", targets, 1, SLUICE_ROUND_ROBIN), 0);
    assert_int_equal(sluice_lb_set_panic(lb, "svc", 0), 0);
    sl_stats_worker_init(&w);
    log_to_file();
    /* Fail until nothing is selectable (panic off): score +1 .. below 0. */
    for (int i = 0; i < 10; i++) {
        sl_attempt_init(&a, 0);
        if (!sl_attempt_select(&a, &w, "svc", lb, "svc", NULL, 0))
            break;
        st = a.st;
        (void)sl_attempt_fail(&a, SLUICE_OUTCOME_FAIL, false, NULL,
                              "connect failed: connection refused");
    }
    text = read_log();
    first = strstr(text, "health: service svc backend 127.0.0.1:9001: ");
    assert_non_null(first);
    first = strstr(first, "-> unhealthy (connect refused, score -1)");
    assert_non_null(first);
    assert_null(strstr(first + 1, "-> unhealthy")); /* once */
    assert_non_null(st);
    /* unknown -> healthy (the first observation), then -> unhealthy */
    assert_true(sl_counter_get(&st->health_transitions) >= 1);
    sl_stats_worker_fini(&w);
    sluice_lb_free(lb);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_transition_is_one_line_and_one_count),
        cmocka_unit_test(failed_attempts_take_a_backend_down_once),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
