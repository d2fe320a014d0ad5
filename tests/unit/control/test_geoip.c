/* agents.geoip_db's pure parts: the host of a remote address, and what a
 * location becomes without a DB record (the lookup itself is in
 * tests/integration/agents/test_geoip.py, on a DB it writes). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "control/geoip.h"

static void hosts(void **state)
{
    static const struct {
        const char *remote;
        int rc;
        const char *host;
    } cases[] = {
        {"203.0.113.7:41000", 0, "203.0.113.7"},
        {"[2001:db8::1]:41000", 0, "2001:db8::1"},
        {"2001:db8::1", 0, "2001:db8::1"},
        {"203.0.113.7", 0, "203.0.113.7"},
        {"[::1]:9", 0, "::1"},
        {"", -1, NULL},
        {":80", -1, NULL},
        {"[]:80", -1, NULL},
        {"[2001:db8:0:0:0:0:0:0:0:0:0:0:0:0:0:0:0:0:0:0:0:0:0:0:0:0:0:0:0:0:1]:1", -1, NULL},
    };
    char out[32];

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int rc = sl_geoip_host(cases[i].remote, out, sizeof(out));

        if (rc != cases[i].rc || (rc == 0 && strcmp(out, cases[i].host) != 0))
            fail_msg("'%s': rc %d host '%s'", cases[i].remote, rc, rc == 0 ? out : "");
    }
    assert_int_equal(sl_geoip_host(NULL, out, sizeof(out)), -1);
}

/* Without a DB (or a record) the location is what the agent reports, a
 * copy, and nothing at all when it reports nothing. */
static void reported_only(void **state)
{
    json_t *rep = json_pack("{s:s, s:f}", "city", "Lyon", "lat", 45.75);
    json_t *loc = sl_geoip_locate(NULL, "203.0.113.7:1", rep);

    (void)state;
    assert_non_null(loc);
    assert_ptr_not_equal(loc, rep);
    assert_true(json_equal(loc, rep));
    json_decref(loc);
    loc = sl_geoip_locate("/nonexistent/geo.mmdb", "203.0.113.7:1", rep);
    assert_true(json_equal(loc, rep));
    json_decref(loc);
    assert_null(sl_geoip_locate(NULL, "203.0.113.7:1", NULL));
    assert_null(sl_geoip_locate(NULL, NULL, json_null()));
    json_decref(rep);
}

static void open_reasons(void **state)
{
    char err[256];

    (void)state;
    assert_int_equal(sl_geoip_open("/nonexistent/geo.mmdb", err, sizeof(err)), -1);
    assert_non_null(strstr(err, "No such file"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(hosts),
        cmocka_unit_test(reported_only),
        cmocka_unit_test(open_reasons),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
