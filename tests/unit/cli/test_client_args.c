/* The client verbs' command line: global options anywhere, verb options
 * as "--x V" and "--x=V", operands, numbers, URL encoding, route specs,
 * server URLs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cli/client.h"

/* sl_cli_args_parse writes into "--x=V" arguments: give it copies. */
static int parse(struct sl_cli_args *a, char *err, size_t errlen, int argc, const char **in)
{
    static char store[32][128];
    static char *argv[32];

    for (int i = 0; i < argc; i++) {
        (void)strncpy(store[i], in[i], sizeof(store[i]) - 1);
        argv[i] = store[i];
    }
    return sl_cli_args_parse(argc, argv, a, err, errlen);
}

static void globals_before_and_after(void **state)
{
    const char *argv[] = {"sluice",  "--server", "http://h:1", "backend", "add",
                          "api",     "a1",       "--json",     "h:2",     "--weight=5",
                          "--label", "k=v",      "--token=t",  "-c",      "f.yaml"};
    struct sl_cli_args a;
    char err[256];

    (void)state;
    assert_int_equal(parse(&a, err, sizeof(err), 15, argv), 0);
    assert_string_equal(a.server, "http://h:1");
    assert_string_equal(a.token, "t");
    assert_string_equal(a.config, "f.yaml");
    assert_true(a.json);
    assert_false(a.help);
    assert_int_equal(a.npos, 5);
    assert_string_equal(a.pos[0], "backend");
    assert_string_equal(a.pos[4], "h:2");
    assert_int_equal(a.nopts, 2);
    assert_string_equal(sl_cli_opt(&a, "--weight"), "5");
    assert_string_equal(sl_cli_opt(&a, "--label"), "k=v");
    assert_null(sl_cli_opt(&a, "--name"));
}

static void option_errors(void **state)
{
    const char *missing[] = {"sluice", "query", "--service"};
    const char *bogus[] = {"sluice", "query", "-c", "s.yaml", "--bogus"};
    const char *noserver[] = {"sluice", "query", "--server"};
    const char *dash[] = {"sluice", "query", "-x"};
    const char *end[] = {"sluice", "route", "rm", "--", "--odd", "route000"};
    static const char *const allowed[] = {"--service", NULL};
    const char *other[] = {"sluice", "query", "--name", "x"};
    struct sl_cli_args a;
    char err[256];

    (void)state;
    /* A known option last on the line needs a value; an unknown one is
     * unknown, not "needs a value". */
    assert_int_equal(parse(&a, err, sizeof(err), 3, missing), 0);
    assert_int_equal(sl_cli_opts_check(&a, allowed, err, sizeof(err)), -1);
    assert_string_equal(err, "option '--service' needs a value");
    assert_int_equal(parse(&a, err, sizeof(err), 5, bogus), 0);
    assert_int_equal(sl_cli_opts_check(&a, allowed, err, sizeof(err)), -1);
    assert_string_equal(err, "unknown option '--bogus'");
    assert_int_equal(parse(&a, err, sizeof(err), 3, noserver), -1);
    assert_non_null(strstr(err, "'--server' needs a value"));
    assert_int_equal(parse(&a, err, sizeof(err), 3, dash), -1);
    assert_non_null(strstr(err, "unknown option '-x'"));
    assert_int_equal(parse(&a, err, sizeof(err), 6, end), 0);
    assert_int_equal(a.npos, 4);
    assert_string_equal(a.pos[2], "--odd");
    assert_int_equal(parse(&a, err, sizeof(err), 4, other), 0);
    assert_int_equal(sl_cli_opts_check(&a, allowed, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "--name"));
}

static void integers(void **state)
{
    long long v;

    (void)state;
    assert_int_equal(sl_cli_int("90", 0, 100, &v), 0);
    assert_int_equal(v, 90);
    assert_int_equal(sl_cli_int("0", 0, 100, &v), 0);
    assert_int_equal(sl_cli_int("101", 0, 100, &v), -1);
    assert_int_equal(sl_cli_int("-1", 0, 100, &v), -1);
    assert_int_equal(sl_cli_int("", 0, 100, &v), -1);
    assert_int_equal(sl_cli_int("9x", 0, 100, &v), -1);
    assert_int_equal(sl_cli_int(" 9", 0, 100, &v), -1);
    assert_int_equal(sl_cli_int("99999999999999999999", 0, 100, &v), -1);
}

static void urlencode(void **state)
{
    static const char *const cases[][2] = {
        {"example.com", "example.com"},
        {"example.com/blog", "example.com%2Fblog"},
        {"/", "%2F"},
        {"*.example.com", "%2A.example.com"},
        {"a b?c#d&e=f%", "a%20b%3Fc%23d%26e%3Df%25"},
        {"route_000-x~", "route_000-x~"},
        {"\xc3\xa9", "%C3%A9"},
        {"", ""},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *e = sl_cli_urlencode(cases[i][0]);

        assert_non_null(e);
        assert_string_equal(e, cases[i][1]);
        free(e);
    }
}

static void route_specs(void **state)
{
    static const struct {
        const char *spec, *json; /* NULL json: refused */
    } cases[] = {
        {"api", "{\"service\":\"api\"}"},
        {"api=90", "{\"service\":\"api\",\"weight\":90}"},
        {"api:version=v2", "{\"selector\":\"version=v2\",\"service\":\"api\"}"},
        {"api:version=v2=10", "{\"selector\":\"version=v2\",\"service\":\"api\",\"weight\":10}"},
        {"api:version=10", "{\"selector\":\"version=10\",\"service\":\"api\"}"},
        {"api:zone!=b,version=v2=5",
         "{\"selector\":\"zone!=b,version=v2\",\"service\":\"api\",\"weight\":5}"},
        {"api=10000", "{\"service\":\"api\",\"weight\":10000}"},
        {"api=10001", NULL}, /* the config's range: 0..10000 */
        {"api:version=v2=20000", NULL},
        {":zone=a", NULL}, /* selector-only: the API refuses it */
        {":zone=a=3", NULL},
        {"", NULL},
        {":", NULL},
        {"=5", NULL},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        json_t *r = json_object();
        char err[256];
        int rc = sl_cli_route_spec(cases[i].spec, r, err, sizeof(err));

        if (cases[i].json == NULL) {
            if (rc != -1)
                fail_msg("'%s' accepted", cases[i].spec);
        } else {
            char *got = json_dumps(r, JSON_COMPACT | JSON_SORT_KEYS);

            if (rc != 0 || strcmp(got, cases[i].json) != 0)
                fail_msg("'%s': rc %d %s (want %s)", cases[i].spec, rc, got, cases[i].json);
            free(got);
        }
        json_decref(r);
    }
}

static void server_urls(void **state)
{
    struct sl_url u;
    char err[256];

    (void)state;
    assert_int_equal(sl_url_parse("http://127.0.0.1:9090", &u, err, sizeof(err)), 0);
    assert_string_equal(u.host, "127.0.0.1");
    assert_string_equal(u.port, "9090");
    assert_string_equal(u.prefix, "");
    assert_int_equal(sl_url_parse("localhost:8", &u, err, sizeof(err)), 0);
    assert_string_equal(u.host, "localhost");
    assert_string_equal(u.port, "8");
    assert_int_equal(sl_url_parse("http://[::1]:9090/admin/", &u, err, sizeof(err)), 0);
    assert_string_equal(u.host, "::1");
    assert_string_equal(u.port, "9090");
    assert_string_equal(u.prefix, "/admin");
    assert_int_equal(sl_url_parse("http://example.com", &u, err, sizeof(err)), 0);
    assert_string_equal(u.port, "80");
    assert_int_equal(sl_url_parse("https://example.com", &u, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "https"));
    assert_int_equal(sl_url_parse("ftp://x", &u, err, sizeof(err)), -1);
    assert_int_equal(sl_url_parse("http://:90", &u, err, sizeof(err)), -1);
    assert_int_equal(sl_url_parse("http://h:0", &u, err, sizeof(err)), -1);
    assert_int_equal(sl_url_parse("http://h:65536", &u, err, sizeof(err)), -1);
    assert_int_equal(sl_url_parse("http://h:9x", &u, err, sizeof(err)), -1);
    assert_int_equal(sl_url_parse("http://[::1", &u, err, sizeof(err)), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(globals_before_and_after),
        cmocka_unit_test(option_errors),
        cmocka_unit_test(integers),
        cmocka_unit_test(urlencode),
        cmocka_unit_test(route_specs),
        cmocka_unit_test(server_urls),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
