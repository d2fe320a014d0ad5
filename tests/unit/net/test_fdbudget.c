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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(only_descriptor_and_memory_errors_count),
        cmocka_unit_test(one_line_a_second_names_ulimit_and_the_real_limit),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
