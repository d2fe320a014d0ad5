/* Access log lines as the proxy writes them: text and JSON. */
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

static char path[64];

/* Writes one record through a fresh setup of <fmt> and returns the line. */
static const char *one_line(enum sl_log_format fmt, const struct sl_access_rec *r)
{
    static char line[4096];
    static struct sl_access_log a;
    const char *failed = NULL;
    FILE *f;
    size_t n;
    int fd;

    snprintf(path, sizeof(path), "/tmp/sluice-test-log-XXXXXX");
    fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    assert_int_equal(sl_log_setup(fmt, SL_LOG_INFO, path, "-", &failed), 0);
    sl_access_log_init(&a);
    assert_true(sl_access_log_on());
    sl_access_log_add(&a, r);
    sl_access_log_flush(&a);
    sl_log_close();
    f = fopen(path, "r");
    assert_non_null(f);
    n = fread(line, 1, sizeof(line) - 1, f);
    line[n] = '\0';
    fclose(f);
    unlink(path);
    return line;
}

static const struct sl_access_rec rec = {
    .wall_s = 0,
    .wall_ms = 7,
    .client_ip = "10.1.2.3",
    .method = "GET",
    .method_len = 3,
    .path = "/a\"b\\c",
    .path_len = 6,
    .status = 200,
    .bytes = 1234,
    .backend = "127.0.0.1:9001",
    .backend_name = "api-1",
    .duration_us = 1500,
};

static void text_lines_carry_every_field(void **state)
{
    const char *l = one_line(SL_LOG_TEXT, &rec);
    (void)state;

    assert_string_equal(l, "1970-01-01T00:00:00.007Z 10.1.2.3 GET /a\"b\\c 200 1234 "
                           "api-1@127.0.0.1:9001 1.500ms\n");
}

static void json_lines_escape_and_name_fields(void **state)
{
    const char *l = one_line(SL_LOG_JSON, &rec);
    (void)state;

    assert_string_equal(l, "{\"time\":\"1970-01-01T00:00:00.007Z\",\"client\":\"10.1.2.3\","
                           "\"method\":\"GET\",\"path\":\"/a\\\"b\\\\c\",\"status\":200,"
                           "\"bytes\":1234,\"backend\":\"127.0.0.1:9001\","
                           "\"backend_name\":\"api-1\",\"duration_ms\":1.500}\n");
}

static void a_request_without_backend_logs_a_dash(void **state)
{
    struct sl_access_rec r = rec;
    const char *l;
    (void)state;

    r.backend = NULL;
    r.backend_name = NULL;
    r.status = 404;
    l = one_line(SL_LOG_TEXT, &r);
    assert_non_null(strstr(l, " 404 1234 - 1.500ms\n"));
}

static void levels_and_formats_parse(void **state)
{
    enum sl_log_level lv;
    enum sl_log_format f;
    (void)state;

    assert_int_equal(sl_log_level_parse("warn", &lv), 0);
    assert_int_equal(lv, SL_LOG_WARN);
    assert_int_equal(sl_log_level_parse("loud", &lv), -1);
    assert_int_equal(sl_log_format_parse("json", &f), 0);
    assert_int_equal(f, SL_LOG_JSON);
    assert_int_equal(sl_log_format_parse("xml", &f), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(text_lines_carry_every_field),
        cmocka_unit_test(json_lines_escape_and_name_fields),
        cmocka_unit_test(a_request_without_backend_logs_a_dash),
        cmocka_unit_test(levels_and_formats_parse),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
