/* Target parsing: every accepted form with its canonical text, and each
 * way a target can be malformed. */
#include <arpa/inet.h>
#include <netinet/in.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "sluice.h"
#include "target.h"

static void parse_accepts_every_form(void **state)
{
    static const struct {
        const char *in, *canon, *host;
        unsigned port;
        int v6;
    } ok[] = {
        {"10.0.0.1", "10.0.0.1:80", "10.0.0.1", 80, 0},
        {"10.0.0.1:8080", "10.0.0.1:8080", "10.0.0.1", 8080, 0},
        {"example.com", "example.com:80", "example.com", 80, 0},
        {"api-1.internal:3001", "api-1.internal:3001", "api-1.internal", 3001, 0},
        {"localhost:1", "localhost:1", "localhost", 1, 0},
        {"h:65535", "h:65535", "h", 65535, 0},
        {"[::1]", "[::1]:80", "::1", 80, 1},
        {"[::1]:443", "[::1]:443", "::1", 443, 1},
        {"[2001:db8::5]:9000", "[2001:db8::5]:9000", "2001:db8::5", 9000, 1},
        {"[0:0::1]:81", "[::1]:81", "::1", 81, 1},
        {"::1", "[::1]:80", "::1", 80, 1},
        {"h:080", "h:80", "h", 80, 0},
    };
    (void)state;

    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        struct sl_target t;

        assert_int_equal(sl_target_parse(ok[i].in, &t), 0);
        assert_string_equal(t.canon, ok[i].canon);
        assert_string_equal(t.host, ok[i].host);
        assert_int_equal(t.port, ok[i].port);
        assert_int_equal(t.v6, ok[i].v6);
    }
}

static void parse_rejects_malformed_targets(void **state)
{
    static const char *const bad[] = {
        "",       ":80",    "h:0",       "h:65536", "h:99999999999", "h:",
        "[::1",   "[::1]x", "[::1]:",    "[::1]:0", "[]:80",         "[nothost]:80",
        "h:80 ",  " h:80",  "h :80",     "h:8 0",   "h:80x",         "h:-1",
        "h:+80",  "a b",    "h\t",       "h:80:90", "1:2:3:x",       "]h[",
        "h/path", "h@x:80", "[::1]]:80", "[[::1]]", "h:0x50",
    };
    (void)state;

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct sl_target t;

        memset(&t, 0x5a, sizeof(t));
        assert_int_equal(sl_target_parse(bad[i], &t), SLUICE_ERR_INVALID_TARGET);
        assert_int_equal((unsigned char)t.host[0], 0x5a); /* untouched on failure */
    }
    assert_int_equal(sl_target_parse(NULL, NULL), SLUICE_ERR_INVALID_ARG);
}

static void parse_rejects_a_too_long_host(void **state)
{
    char host[300];
    struct sl_target t;
    (void)state;

    memset(host, 'a', sizeof(host) - 1);
    host[sizeof(host) - 1] = '\0';
    assert_int_equal(sl_target_parse(host, &t), SLUICE_ERR_INVALID_TARGET);
    host[253] = '\0';
    assert_int_equal(sl_target_parse(host, &t), 0);
}

static void resolve_numeric_and_failed_names(void **state)
{
    struct sockaddr_storage ss;
    socklen_t len;
    struct sl_target t;
    (void)state;

    assert_int_equal(sl_target_parse("127.0.0.1:8081", &t), 0);
    assert_true(sl_target_resolve(&t, &ss, &len));
    assert_int_equal(ss.ss_family, AF_INET);
    assert_int_equal(len, sizeof(struct sockaddr_in));
    assert_int_equal(ntohs(((struct sockaddr_in *)&ss)->sin_port), 8081);

    assert_int_equal(sl_target_parse("[::1]:9", &t), 0);
    assert_true(sl_target_resolve(&t, &ss, &len));
    assert_int_equal(ss.ss_family, AF_INET6);
    assert_int_equal(ntohs(((struct sockaddr_in6 *)&ss)->sin6_port), 9);

    /* .invalid never resolves (RFC 6761): AF_UNSPEC, not an error. */
    assert_int_equal(sl_target_parse("no-such-host.invalid:80", &t), 0);
    assert_false(sl_target_resolve(&t, &ss, &len));
    assert_int_equal(ss.ss_family, AF_UNSPEC);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(parse_accepts_every_form),
        cmocka_unit_test(parse_rejects_malformed_targets),
        cmocka_unit_test(parse_rejects_a_too_long_host),
        cmocka_unit_test(resolve_numeric_and_failed_names),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
