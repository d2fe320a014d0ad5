/* Aligned tables and JSON values as cells. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cli/client.h"

/* A table of a heading row and two rows, printed: malloc'd. */
static char *print3(size_t ncols, const char *const *heads, const char *const *r1,
                    const char *const *r2)
{
    struct sl_cli_table t;
    char *out = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&out, &len);

    assert_non_null(f);
    assert_int_equal(sl_cli_table_init(&t, ncols, heads), 0);
    assert_int_equal(sl_cli_table_add(&t, r1), 0);
    assert_int_equal(sl_cli_table_add(&t, r2), 0);
    sl_cli_table_print(&t, f);
    sl_cli_table_free(&t);
    (void)fclose(f);
    return out;
}

static void aligned_columns(void **state)
{
    static const char *const heads[] = {"NAME", "TARGET", "WEIGHT"};
    static const char *const r1[] = {"api-1", "127.0.0.1:3001", "1"};
    static const char *const r2[] = {"a", NULL, ""};
    char *out = print3(3, heads, r1, r2);

    (void)state;
    assert_string_equal(out, "NAME   TARGET          WEIGHT\n"
                             "api-1  127.0.0.1:3001  1\n"
                             "a      -               -\n");
    free(out);
}

static void many_rows(void **state)
{
    static const char *const heads[] = {"N"};
    struct sl_cli_table t;
    char *out = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&out, &len);

    (void)state;
    assert_int_equal(sl_cli_table_init(&t, 1, heads), 0);
    for (int i = 0; i < 1000; i++) {
        char n[16];
        const char *row[1] = {n};

        (void)snprintf(n, sizeof(n), "%d", i);
        assert_int_equal(sl_cli_table_add(&t, row), 0);
    }
    sl_cli_table_print(&t, f);
    sl_cli_table_free(&t);
    (void)fclose(f);
    assert_int_equal(len, strlen("N\n") + (size_t)10 * 2 + (size_t)90 * 3 + (size_t)900 * 4);
    free(out);
}

struct cell_case {
    const char *json, *cell; /* a JSON text and the cell it makes */
};

static void check_cells(const char *(*fn)(const json_t *, char *, size_t),
                        const struct cell_case *cases, size_t n)
{
    char buf[64];

    for (size_t i = 0; i < n; i++) {
        json_t *v = json_loads(cases[i].json, JSON_DECODE_ANY, NULL);

        assert_non_null(v);
        assert_string_equal(fn(v, buf, sizeof(buf)), cases[i].cell);
        json_decref(v);
    }
}

static void cells(void **state)
{
    static const struct cell_case cases[] = {
        {"\"up\"", "up"}, {"42", "42"},
        {"-3", "-3"},     {"0.5", "0.5"},
        {"true", "true"}, {"null", "-"},
        {"\"\"", "-"},    {"[\"a\",\"b\"]", "a,b"},
        {"[]", "-"},      {"{\"version\":\"v1\",\"zone\":\"a\"}", "version=v1,zone=a"},
    };
    char buf[64];

    (void)state;
    check_cells(sl_cli_cell, cases, sizeof(cases) / sizeof(cases[0]));
    assert_string_equal(sl_cli_cell(NULL, buf, sizeof(buf)), "-");
    {
        json_t *v = json_string("0123456789abcdef");
        char small[8];

        assert_string_equal(sl_cli_cell(v, small, sizeof(small)), "0123456");
        json_decref(v);
    }
}

static void times(void **state)
{
    json_t *t = json_integer(1764763200), *zero = json_integer(0), *s = json_string("soon");
    char buf[64];

    (void)state;
    assert_string_equal(sl_cli_cell_time(t, "never", buf, sizeof(buf)), "2025-12-03 12:00:00");
    assert_string_equal(sl_cli_cell_time(zero, "never", buf, sizeof(buf)), "never");
    assert_string_equal(sl_cli_cell_time(s, "never", buf, sizeof(buf)), "soon");
    assert_string_equal(sl_cli_cell_time(NULL, "never", buf, sizeof(buf)), "-");
    json_decref(t);
    json_decref(zero);
    json_decref(s);
}

static void rates(void **state)
{
    json_t *r = json_real(12.345), *z = json_real(0), *i = json_integer(7), *nul = json_null();
    char buf[64];

    (void)state;
    assert_string_equal(sl_cli_cell_rate(r, buf, sizeof(buf)), "12.3");
    assert_string_equal(sl_cli_cell_rate(z, buf, sizeof(buf)), "0.0");
    assert_string_equal(sl_cli_cell_rate(i, buf, sizeof(buf)), "7.0");
    assert_string_equal(sl_cli_cell_rate(nul, buf, sizeof(buf)), "-");
    assert_string_equal(sl_cli_cell_rate(NULL, buf, sizeof(buf)), "-");
    json_decref(r);
    json_decref(z);
    json_decref(i);
    json_decref(nul);
}

static void locations(void **state)
{
    static const struct cell_case cases[] = {
        {"{\"city\":\"Paris\",\"country\":\"FR\",\"lat\":48.85,\"lon\":2.35}", "Paris, FR"},
        {"{\"city\":\"Paris\",\"country_name\":\"France\"}", "Paris, France"},
        {"{\"city\":\"Paris\",\"country\":\"\"}", "Paris"},
        {"{\"country\":\"FR\",\"country_name\":\"France\"}", "FR"},
        {"{\"lat\":45.764,\"lon\":4.8357}", "45.76,4.84"},
        {"{\"lat\":45}", "-"},
        {"{}", "-"},
        {"null", "-"},
        {"\"Paris\"", "-"},
    };
    char buf[64], small[6];

    (void)state;
    check_cells(sl_cli_cell_location, cases, sizeof(cases) / sizeof(cases[0]));
    assert_string_equal(sl_cli_cell_location(NULL, buf, sizeof(buf)), "-");
    {
        json_t *v = json_pack("{s:s, s:s}", "city", "Paris", "country", "FR");

        assert_string_equal(sl_cli_cell_location(v, small, sizeof(small)), "Paris");
        json_decref(v);
    }
}

/* Multi-byte UTF-8 cells count as their characters, not their bytes. */
static void utf8_aligned(void **state)
{
    static const char *const heads[] = {"LOCATION", "RPS"};
    static const char *const r1[] = {"S\xc3\xa3o Paulo, BR", "1.0"};
    static const char *const r2[] = {"Paris, FR", "2.0"};
    char *out = print3(2, heads, r1, r2);

    (void)state;
    assert_string_equal(out, "LOCATION       RPS\n"
                             "S\xc3\xa3o Paulo, BR  1.0\n"
                             "Paris, FR      2.0\n");
    free(out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(aligned_columns), cmocka_unit_test(many_rows), cmocka_unit_test(cells),
        cmocka_unit_test(times),           cmocka_unit_test(rates),     cmocka_unit_test(locations),
        cmocka_unit_test(utf8_aligned),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
