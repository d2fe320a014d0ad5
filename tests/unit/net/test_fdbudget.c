/* Out of descriptors: which errors count, and the one line a second that
 * names `ulimit -n` with the limit in force, counting the quiet ones. */
#include <sys/resource.h>

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "net/fdbudget.h"
#include "net/log.h"

static char path[64];

/* The error log goes to a fresh file until read_log(). */
static void capture_log(void)
{
    const char *failed = NULL;
    int fd;

    (void)snprintf(path, sizeof(path), "/tmp/sluice-test-fdbudget-XXXXXX");
    fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    assert_int_equal(sl_log_setup(SL_LOG_TEXT, SL_LOG_INFO, "off", path, &failed), 0);
}

/* What was logged since capture_log(), in <out>[cap]; returns the lines. */
static int read_log(char *out, size_t cap)
{
    FILE *f;
    size_t n;
    int lines = 0;

    sl_log_close();
    f = fopen(path, "r");
    assert_non_null(f);
    n = fread(out, 1, cap - 1, f);
    out[n] = '\0';
    (void)fclose(f);
    unlink(path);
    for (size_t i = 0; i < n; i++)
        lines += out[i] == '\n';
    return lines;
}

static void only_descriptor_and_memory_errors_count(void **state)
{
    const int yes[] = {EMFILE, ENFILE, ENOMEM, ENOBUFS};
    const int no[] = {0, ECONNREFUSED, EHOSTUNREACH, ETIMEDOUT, EINPROGRESS, EAGAIN};
    (void)state;

    for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++)
        assert_true(sl_fdbudget_exhausted(yes[i]));
    for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++)
        assert_false(sl_fdbudget_exhausted(no[i]));
}

static void one_line_a_second_names_ulimit_and_the_real_limit(void **state)
{
    struct sl_fdbudget_log fl = {0};
    struct rlimit rl;
    char log[4096], limit[64];
    const char *second;
    (void)state;

    assert_int_equal(getrlimit(RLIMIT_NOFILE, &rl), 0);
    if (rl.rlim_cur == RLIM_INFINITY)
        (void)snprintf(limit, sizeof(limit), "(now unlimited)");
    else
        (void)snprintf(limit, sizeof(limit), "(now %llu)", (unsigned long long)rl.rlim_cur);
    capture_log();
    assert_true(sl_fdbudget_report(&fl, 5000, "web", "connecting to a backend", EMFILE));
    for (uint64_t t = 5001; t < 6000; t += 100) /* a burst within the second: counted */
        assert_false(sl_fdbudget_report(&fl, t, "web", "connecting to a backend", EMFILE));
    assert_true(sl_fdbudget_report(&fl, 6000, NULL, "connecting to a backend", ENFILE));
    assert_false(sl_fdbudget_report(&fl, 6001, NULL, "connecting to a backend", ENFILE));
    assert_int_equal(fl.quiet, 1);
    assert_int_equal(read_log(log, sizeof(log)), 2);

    assert_non_null(strstr(log, "listener web: out of file descriptors"));
    assert_non_null(strstr(log, "raise ulimit -n"));
    assert_non_null(strstr(log, limit));
    second = strchr(log, '\n') + 1;
    assert_null(strstr(second, "listener"));
    assert_non_null(strstr(second, "out of file descriptors"));
    assert_non_null(strstr(second, limit));
    assert_non_null(strstr(second, "; 10 more since the last line"));
    /* The first line had nothing quiet to count. */
    assert_true(strstr(log, "more since") > second);
}

/* Defect 1's setup: ulimit -n 256, 2 workers, one HTTP listener. */
static void plan_splits_the_limit_after_a_measured_reserve(void **state)
{
    struct sl_fdbudget_needs n = {.workers = 2, .listeners = 1};
    struct sl_fdbudget_plan p;
    (void)state;

    assert_int_equal(sl_fdbudget_plan(&n, 256, &p), 0);
    assert_int_equal(p.nofile, 256);
    assert_int_equal(p.reserve, 16 + 2 * (2 + 1));
    assert_int_equal(p.share, (256 - 22) / 2);
    assert_int_equal(p.pipe_cache, 0);
    assert_int_equal(p.need, 22 + 2 * SL_FDBUDGET_MIN_SHARE);
    /* Health checks reserve their probes; the share shrinks, never the reserve. */
    n.health_fds = 66;
    assert_int_equal(sl_fdbudget_plan(&n, 256, &p), 0);
    assert_int_equal(p.reserve, 22 + 66);
    assert_int_equal(p.share, (256 - 22 - 66) / 2);
    /* So do the state store's files and the admin API's connections. */
    n.control_fds = 3 + 3 + 16;
    assert_int_equal(sl_fdbudget_plan(&n, 256, &p), 0);
    assert_int_equal(p.reserve, 22 + 66 + 22);
    assert_int_equal(p.share, (256 - 22 - 66 - 22) / 2);
}

static void plan_refuses_workers_the_limit_cannot_feed(void **state)
{
    struct sl_fdbudget_needs n = {.workers = 8, .listeners = 1};
    struct sl_fdbudget_plan p;
    (void)state;

    /* 8 workers need 16 + 8 * (3 + 32) = 296: never a promise of 32 each from 256. */
    assert_int_equal(sl_fdbudget_plan(&n, 256, &p), -1);
    assert_int_equal(p.need, 296);
    assert_true(p.share < SL_FDBUDGET_MIN_SHARE);
    assert_int_equal(sl_fdbudget_plan(&n, 295, &p), -1);
    assert_int_equal(sl_fdbudget_plan(&n, 296, &p), 0);
    assert_int_equal(p.share, SL_FDBUDGET_MIN_SHARE);
}

static void plan_caps_the_tcp_pipe_cache_by_the_share(void **state)
{
    struct sl_fdbudget_needs n = {.workers = 1, .listeners = 2, .pipe_cache_max = 64};
    struct sl_fdbudget_plan p;
    (void)state;

    assert_int_equal(sl_fdbudget_plan(&n, 10000, &p), 0);
    assert_int_equal(p.pipe_cache, 64);
    assert_int_equal(p.reserve, 16 + 4 + 128);
    assert_int_equal(p.share, 10000 - 20 - 128);
    /* A small limit: the cache takes at most 1/8 of the worker's part. */
    assert_int_equal(sl_fdbudget_plan(&n, 200, &p), 0);
    assert_int_equal(p.pipe_cache, (200 - 20) / 16);
    assert_int_equal(p.share, 180 - 2 * p.pipe_cache);
    /* The least part leaving 32 after its pipes: 36 (2 pipes). */
    assert_int_equal(p.need, 20 + 36);
    assert_int_equal(sl_fdbudget_plan(&n, 55, &p), -1);
    assert_int_equal(sl_fdbudget_plan(&n, 56, &p), 0);
    assert_true(p.share >= SL_FDBUDGET_MIN_SHARE);
}

static size_t held_now;

static size_t held(void *arg)
{
    (void)arg;
    return held_now;
}

static void over_counts_what_one_more_would_exceed(void **state)
{
    struct sl_fdbudget b = {.share = 10, .held = held};
    (void)state;

    held_now = 9;
    assert_int_equal(sl_fdbudget_over(&b, 1), 0);
    held_now = 10;
    assert_int_equal(sl_fdbudget_over(&b, 1), 1);
    held_now = 14;
    assert_int_equal(sl_fdbudget_over(&b, 1), 5);
    b.share = 0; /* no limit */
    assert_int_equal(sl_fdbudget_over(&b, 1), 0);
    assert_int_equal(sl_fdbudget_over(NULL, 1), 0);
}

/* Admission counts promises, not what is held. */
static void room_counts_promises(void **state)
{
    struct sl_fdbudget b = {.share = 10, .held = held, .promised = held};
    (void)state;

    held_now = 8;
    assert_true(sl_fdbudget_room(&b, 2));
    held_now = 9;
    assert_false(sl_fdbudget_room(&b, 2));
    assert_true(sl_fdbudget_room(&b, 1));
    b.share = 0;
    assert_true(sl_fdbudget_room(&b, 100));
    assert_true(sl_fdbudget_room(NULL, 100));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(only_descriptor_and_memory_errors_count),
        cmocka_unit_test(one_line_a_second_names_ulimit_and_the_real_limit),
        cmocka_unit_test(plan_splits_the_limit_after_a_measured_reserve),
        cmocka_unit_test(plan_refuses_workers_the_limit_cannot_feed),
        cmocka_unit_test(plan_caps_the_tcp_pipe_cache_by_the_share),
        cmocka_unit_test(over_counts_what_one_more_would_exceed),
        cmocka_unit_test(room_counts_promises),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
