/* Configuration: a full file parses into the expected model; each class of
 * error is reported on its line with a clear message, all at once; field
 * syntax (targets, patterns; scalars are test_scalar.c's, binds
 * net/test_loop.c's). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "control/config.h"
#include "control/config_ctx.h"
#include "control/control.h"

static char tmp_path[64];

static const char *write_tmp(const char *text)
{
    snprintf(tmp_path, sizeof(tmp_path), "/tmp/sluice-cfg-XXXXXX");
    int fd = mkstemp(tmp_path);

    assert_true(fd >= 0);
    size_t len = strlen(text);

    assert_int_equal(write(fd, text, len), (ssize_t)len);
    close(fd);
    return tmp_path;
}

static const char FULL[] =
    "workers: 2\n"                      /* 1 */
    "drain_timeout: 3s\n"               /* 2 */
    "admin:\n"                          /* 3 */
    "  bind: 127.0.0.1:9090\n"          /* 4 */
    "  dynamic_backends: false\n"       /* 5 */
    "  token_file: admin.token\n"       /* 6 */
    "state: sluice.db\n"                /* 7 */
    "agents: {lease: 5s, expire: 2m}\n" /* 8 */
    "listeners:\n"                      /* 9 */
    "  - {name: web, bind: \":8080\", timeouts: {header: 2s, idle: 30s}, max_header_size: 32k}\n"
    "  - {name: pg, bind: \"[::1]:5433\", mode: tcp, service: api}\n"
    "services:\n" /* 12 */
    "  api:\n"    /* 13 */
    "    strategy: maglev\n"
    "    health:\n"
    "      check: tcp\n"
    "      interval: 500ms\n"
    "      timeout: 200\n"
    "      score: {initial: 2, low: -5, high: 5, fail: -2, success: 1}\n"
    "    timeouts: {connect: 1s, response: 1m, idle: 1h}\n"
    "    retries: 0\n"
    "    backends:\n"
    "      - {name: api-1, target: 127.0.0.1:3001, labels: {version: v1, zone: a}}\n"
    "      - {name: api-2, target: \"[::1]:3002\", weight: 5}\n"
    "  hello:\n"
    "    strategy: least_request\n"
    "    hash_key: header:X-User\n" /* 27: warning, not maglev */
    "    provider:\n"
    "      type: process\n"
    "      command: [\"./hello\", \"--port\", \"{port}\"]\n"
    "      max_instances: 4\n"
    "      idle_timeout: 60s\n"
    "    queue_timeout: 15s\n"
    "endpoints:\n"
    "  - pattern: Example.COM\n"
    "    routes:\n"
    "      - {service: api, selector: \"version=v1\", weight: 90}\n"
    "      - {service: api, selector: \"version=v2\", weight: 10, id: canary}\n"
    "  - pattern: \"*.example.com/blog/\"\n"
    "    routes: [{service: hello}]\n";

static void full_file_parses_into_model(void **state)
{
    struct sl_diag d;
    struct sl_config *cfg = NULL;
    (void)state;

    sl_diag_init(&d);
    assert_int_equal(sl_config_load(write_tmp(FULL), &cfg, &d), 0);
    for (size_t i = 0; i < d.n; i++)
        assert_true(sl_diag_is_warning(d.msgs[i]));
    assert_int_equal(sl_diag_errors(&d), 0);
    assert_int_equal(cfg->workers, 2);
    assert_int_equal(cfg->drain_timeout_ms, 3000);
    assert_string_equal(cfg->admin.bind, "127.0.0.1:9090");
    assert_false(cfg->admin.dynamic_backends);
    assert_string_equal(cfg->admin.token_file, "admin.token");
    /* Relative to the config file's directory (the test's is /tmp). */
    assert_string_equal(cfg->state, "/tmp/sluice.db");
    assert_int_equal(cfg->agents.lease_ms, 5000);
    assert_int_equal(cfg->agents.expire_ms, 120000);

    assert_int_equal(cfg->nlisteners, 2);
    assert_string_equal(cfg->listeners[0].bind, "0.0.0.0:8080");
    assert_int_equal(cfg->listeners[0].mode, SL_MODE_HTTP);
    assert_int_equal(cfg->listeners[0].header_timeout_ms, 2000);
    assert_int_equal(cfg->listeners[0].idle_timeout_ms, 30000);
    assert_int_equal(cfg->listeners[0].max_header_size, 32768);
    assert_string_equal(cfg->listeners[1].bind, "[::1]:5433");
    assert_int_equal(cfg->listeners[1].mode, SL_MODE_TCP);
    assert_string_equal(cfg->listeners[1].service, "api");
    assert_int_equal(cfg->listeners[1].max_header_size, 16384);

    assert_int_equal(cfg->nservices, 2);
    const struct sl_cfg_service *api = sl_config_service(cfg, "api");

    assert_non_null(api);
    assert_int_equal(api->line, 13);
    assert_int_equal(api->strategy, SLUICE_MAGLEV);
    assert_int_equal(api->hash_key, SL_HASH_SOURCE_IP); /* maglev's default */
    assert_int_equal(api->health.check, SL_CHECK_TCP);
    assert_int_equal(api->health.interval_ms, 500);
    assert_int_equal(api->health.timeout_ms, 200);
    assert_int_equal(api->health.score.initial, 2);
    assert_int_equal(api->health.score.low, -5);
    assert_int_equal(api->health.score.fail_delta, -2);
    assert_int_equal(api->connect_timeout_ms, 1000);
    assert_int_equal(api->response_timeout_ms, 60000);
    assert_int_equal(api->idle_timeout_ms, 3600000);
    assert_int_equal(api->retries, 0);
    assert_int_equal(api->nbackends, 2);
    assert_string_equal(api->backends[0].name, "api-1");
    assert_int_equal(api->backends[0].weight, 1);
    assert_int_equal(api->backends[0].nlabels, 2);
    assert_string_equal(api->backends[0].labels[1].key, "zone");
    assert_string_equal(api->backends[0].labels[1].value, "a");
    assert_int_equal(api->backends[1].weight, 5);

    const struct sl_cfg_service *hello = sl_config_service(cfg, "hello");

    assert_int_equal(hello->strategy, SLUICE_LEAST_REQUEST);
    assert_int_equal(hello->health.check, SL_CHECK_NONE);
    assert_int_equal(hello->retries, 2);
    assert_int_equal(hello->connect_timeout_ms, 2000);
    assert_true(hello->provider.present);
    assert_int_equal(hello->provider.ncommand, 3);
    assert_string_equal(hello->provider.command[2], "{port}");
    assert_int_equal(hello->provider.max_instances, 4);
    assert_int_equal(hello->queue_timeout_ms, 15000);

    assert_int_equal(cfg->nendpoints, 2);
    const struct sl_cfg_endpoint *e = &cfg->endpoints[0];

    assert_int_equal(e->host_match, SL_HOST_EXACT);
    assert_string_equal(e->host, "example.com");
    assert_string_equal(e->path, "/");
    assert_int_equal(e->nroutes, 2);
    assert_string_equal(e->routes[0].id, "route000");
    assert_string_equal(e->routes[0].selector, "version=v1");
    assert_int_equal(e->routes[0].weight, 90);
    assert_string_equal(e->routes[1].id, "canary");
    e = &cfg->endpoints[1];
    assert_int_equal(e->host_match, SL_HOST_WILDCARD);
    assert_string_equal(e->host, ".example.com");
    assert_string_equal(e->path, "/blog");
    assert_string_equal(e->routes[0].selector, "");
    assert_int_equal(e->routes[0].weight, 1);

    /* The warnings: hash_key ignored (line 27), active checks lb-wide. */
    bool hash_warn = false;

    for (size_t i = 0; i < d.n; i++)
        hash_warn |= strstr(d.msgs[i], ":27: service hello: hash_key is ignored") != NULL;
    assert_true(hash_warn);
    sl_config_free(cfg);
    sl_diag_fini(&d);
    unlink(tmp_path);
}

#define HEAD "listeners:\n  - {name: web, bind: \"127.0.0.1:8080\"}\n"
#define SVC  "services:\n  app:\n    backends:\n      - {name: a1, target: \"127.0.0.1:9\"}\n"

/* Each snippet holds one error: the line and a piece of the message. */
static const struct {
    const char *yaml;
    int line;
    const char *msg;
} bad[] = {
    {HEAD "colour: blue\n", 3, "unknown key 'colour'"},
    {HEAD "servces: {}\n", 3, "did you mean 'services'?"},
    {HEAD SVC "    stratgy: random\n", 7, "did you mean 'strategy'?"},
    {HEAD "services:\n  app:\n    strategy: fastest\n", 5, "unknown strategy 'fastest'"},
    {HEAD "workers: 0\n", 3, "workers: 0 is out of range (1..64)"},
    {HEAD "workers: many\n", 3, "workers: 'many' is not an integer"},
    {HEAD "drain_timeout: 2 s\n", 3, "invalid duration '2 s'"},
    {HEAD "drain_timeout: 5d\n", 3, "invalid duration '5d'"},
    {"listeners:\n  - {name: web, bind: \"1.2.3:80\"}\n", 2, "invalid address '1.2.3:80'"},
    {"listeners:\n  - {name: web, bind: \"localhost:80\"}\n", 2, "invalid address"},
    {"listeners:\n  - {name: web, bind: \"127.0.0.1:8080\", max_header_size: 2m}\n", 2,
     "max_header_size: 2m is out of range"},
    {"listeners:\n  - {name: web, bind: \"127.0.0.1:8080\", mode: udp}\n", 2,
     "'udp' is not http or tcp"},
    {"listeners:\n  - {name: web, bind: \":80\", timeouts: {body: soon}}\n", 2,
     "listeners[0].timeouts.body: invalid duration 'soon'"},
    {"listeners:\n  - {name: web, bind: \":80\", timeouts: {body: 0}}\n", 2,
     "timeouts.body: 0 is too short (at least 1ms)"},
    {"listeners:\n  - {name: web, bind: \":80\", timeouts: {bodi: 1s}}\n", 2,
     "unknown key 'bodi' (did you mean 'body'?)"},
    {"listeners:\n  - {name: web, bind: \":80\", min_body_rate: fast}\n", 2,
     "listeners[0].min_body_rate: invalid size 'fast'"},
    {"listeners:\n  - {name: web, bind: \":80\", min_body_rate: -5}\n", 2,
     "min_body_rate: invalid size '-5'"},
    {"listeners:\n  - {name: web, bind: \":80\", min_body_rate: 2g}\n", 2,
     "min_body_rate: 2g is out of range (0..1073741824 bytes)"},
    {"listeners:\n  - {name: web, bind: \":80\", max_body_size: 0}\n", 2,
     "max_body_size: 0 would refuse every body (leave the key out for no limit)"},
    {"listeners:\n  - {name: web, bind: \":80\", max_body_size: 1t}\n", 2,
     "max_body_size: invalid size '1t' (write 16k, 1m, 2g or bytes)"},
    {"listeners:\n  - {name: web, bind: \":80\"}\n  - {name: t, bind: \":81\", mode: tcp, "
     "service: app,\n     max_body_size: 1m}\n" SVC,
     4, "min_body_rate and max_body_size apply to http listeners only"},
    {"listeners:\n  - {name: web, bind: \"127.0.0.1:8080\"}\n"
     "  - {name: web2, bind: \"127.0.0.1:8080\"}\n",
     3, "bind 127.0.0.1:8080 already used on line 2"},
    {"listeners:\n  - {name: web, bind: \":80\"}\n  - {name: web, bind: \"*:81\"}\n", 3,
     "name already used on line 2"},
    {"listeners:\n  - {name: t, bind: \":80\", mode: tcp}\n", 2, "a tcp listener needs a service"},
    {"listeners:\n  - {name: t, bind: \":80\", mode: tcp, service: nope}\n", 2,
     "unknown service 'nope'"},
    {"listeners:\n  - {name: h, bind: \":80\", service: app}\n" SVC, 2,
     "an http listener routes by endpoints"},
    {"services: {}\n", 1, "at least one listener is needed"},
    {HEAD SVC "      - {name: a2, target: \"127.0.0.1:99999\"}\n", 7,
     "invalid target '127.0.0.1:99999'"},
    {HEAD SVC "      - {name: a1, target: \"127.0.0.1:10\"}\n", 7,
     "backend name 'a1' already used"},
    {HEAD SVC "      - {name: a2, target: \"127.0.0.1:9\"}\n", 7,
     "target 127.0.0.1:9 already used on line 6"},
    {HEAD SVC "  other:\n    backends:\n      - {name: a1, target: \"127.0.0.1:7\"}\n", 9,
     "backend name 'a1' already used on line 6 (service app)"},
    {HEAD SVC "      - {name: a2, target: \"127.0.0.1:8\", weight: 10001}\n", 7,
     "weight: 10001 is out of range (0..10000)"},
    {HEAD SVC "      - {name: a2, target: \"127.0.0.1:8\", labels: {\"a=b\": c}}\n", 7,
     "invalid label key 'a=b'"},
    {HEAD SVC "    retries: 11\n", 7, "retries: 11 is out of range (0..10)"},
    {HEAD SVC "    buffer_request_body: 65m\n", 7,
     "service app.buffer_request_body: 65m is out of range (0..67108864 bytes)"},
    {HEAD SVC "    buffer_request_body: lots\n", 7, "buffer_request_body: invalid size 'lots'"},
    {HEAD SVC "    buffer_body: 1m\n", 7, "unknown key 'buffer_body'"},
    {HEAD SVC "    health: {check: icmp}\n", 7, "'icmp' is not none, tcp or http"},
    {HEAD SVC "    health: {expect: 600}\n", 7, "invalid status range '600'"},
    {HEAD SVC "    health:\n      score: {low: 2, initial: 1}\n", 8, "need low <= initial <= high"},
    {HEAD SVC "    health:\n      score: {fail: 1}\n", 8, "fail must be negative"},
    {HEAD SVC "    health:\n      score: {success: 0}\n", 8, "success must be positive"},
    {HEAD SVC "    health:\n      score: {low: 0, initial: 1}\n", 8, "low must be negative"},
    {HEAD SVC "    health:\n      score: {low: -3, initial: -2, high: -1}\n", 8,
     "high must be 0 or more"},
    {HEAD SVC "    health: {interval: 2147483648ms, timeout: 1s}\n", 7,
     "health.interval: at most 2147483647ms"},
    {HEAD SVC "    health: {interval: 4294967295ms, timeout: 3000000000}\n", 7,
     "health.timeout: at most 2147483647ms"},
    {HEAD SVC "      - {name: a2, target: \"127.0.0.1:80\"}\n"
              "      - {name: a3, target: \"127.0.0.1\"}\n",
     8, "target 127.0.0.1 already used on line 7"},
    {HEAD SVC "    hash_key: body\n", 7, "invalid hash key 'body'"},
    {HEAD SVC "    timeouts: {connect: fast}\n", 7, "timeouts.connect: invalid duration 'fast'"},
    {HEAD SVC "    provider: {type: docker, command: [x]}\n", 7, "unknown type 'docker'"},
    {HEAD SVC "    provider: {type: process, command: [x], min_instances: 3, max_instances: 2}\n",
     7, "min_instances (3) is above max_instances (2)"},
    {HEAD SVC "endpoints:\n  - pattern: /\n    routes:\n      - {service: app}\n"
              "      - {service: nope}\n",
     11, "route route001: unknown service 'nope'"},
    {HEAD SVC "endpoints:\n  - pattern: /\n    routes:\n      - {service: app, id: \"a b\"}\n", 10,
     "endpoint /: routes[0].id: invalid route id 'a b' (letters, digits, '-', '_', '.')"},
    {HEAD SVC "endpoints:\n  - pattern: /\n    routes:\n      - {service: app, id: \"x/y\"}\n", 10,
     "invalid route id 'x/y'"},
    {HEAD SVC "endpoints:\n  - pattern: /\n    routes:\n      - {service: app, id: \"\"}\n", 10,
     "invalid route id ''"},
    {HEAD SVC "endpoints:\n  - pattern: /\n    routes:\n      - {selector: \"version=v1\"}\n", 10,
     "service is required"},
    {HEAD SVC "endpoints:\n  - pattern: /\n    routes:\n      - {service: app, selector: \"=x\"}\n",
     10, "invalid selector '=x'"},
    {HEAD SVC "endpoints:\n  - pattern: /\n    routes: []\n", 9, "at least one route is needed"},
    {HEAD SVC "endpoints:\n  - pattern: \"a.com:80/x\"\n    routes: [{service: app}]\n", 8,
     "a pattern host may not have a port"},
    {HEAD SVC "endpoints:\n  - pattern: \"a*.com\"\n    routes: [{service: app}]\n", 8,
     "invalid host name"},
    {HEAD SVC "endpoints:\n  - pattern: \"/a b\"\n    routes: [{service: app}]\n", 8,
     "may not hold spaces"},
    {HEAD SVC "endpoints:\n  - pattern: /api\n    routes: [{service: app}]\n"
              "  - pattern: /api/\n    routes: [{service: app}]\n",
     10, "same pattern as line 8"},
    {HEAD SVC "endpoints:\n  - pattern: /\n    routes: [{service: app, id: x}, "
              "{service: app, id: x}]\n",
     9, "route id 'x' already used on line 9"},
    {HEAD "agents: {lease: 10s, expire: 5s}\n", 3, "expire (5000ms) is shorter than lease"},
    {HEAD "admin: {dynamic_backends: maybe}\n", 3, "expected true or false, got 'maybe'"},
    {HEAD "listeners: []\n", 3, "duplicate key 'listeners' (first on line 1)"},
    {HEAD "x: &a 1\ny: *a\n", 4, "aliases (*a) are not supported"},
    {HEAD "services:\n  app: [1, 2\n", 5, "YAML syntax"},
    {"", 1, "the configuration is empty"},
    {"- a\n- b\n", 1, "expected a mapping, got a list"},
    {HEAD "services:\n  app:\n    backends: {name: a}\n", 5, "backends: expected a list"},
};

/* The body keys: their defaults, sizes written either way, 64-bit limits. */
static void body_limits_parse(void **state)
{
    struct sl_diag d;
    struct sl_config *cfg = NULL;
    (void)state;

    sl_diag_init(&d);
    assert_int_equal(
        sl_config_load(write_tmp("listeners:\n"
                                 "  - {name: a, bind: \":80\"}\n"
                                 "  - {name: b, bind: \":81\", timeouts: {body: 2s},\n"
                                 "     min_body_rate: 1k, max_body_size: 10g}\n"
                                 "  - {name: c, bind: \":82\", min_body_rate: 500,\n"
                                 "     max_body_size: 1000}\n" SVC "    buffer_request_body: 64k\n"
                                 "  other: {}\n"),
                       &cfg, &d),
        0);
    assert_int_equal(cfg->listeners[0].body_timeout_ms, 30000);
    assert_int_equal(cfg->listeners[0].min_body_rate, 0);
    assert_true(cfg->listeners[0].max_body_size == 0);
    assert_int_equal(cfg->listeners[1].body_timeout_ms, 2000);
    assert_int_equal(cfg->listeners[1].min_body_rate, 1024);
    assert_true(cfg->listeners[1].max_body_size == UINT64_C(10) << 30);
    assert_int_equal(cfg->listeners[2].min_body_rate, 500);
    assert_true(cfg->listeners[2].max_body_size == 1000);
    assert_int_equal(sl_config_service(cfg, "app")->buffer_request_body, 65536);
    assert_int_equal(sl_config_service(cfg, "other")->buffer_request_body, 0);
    sl_config_free(cfg);
    sl_diag_fini(&d);
    unlink(tmp_path);
}

static void each_error_has_its_line(void **state)
{
    (void)state;

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct sl_diag d;
        struct sl_config *cfg = NULL;
        char want[sizeof(tmp_path) + 16]; /* path, ":", a line number, ": " */
        bool found = false;
        const char *path = write_tmp(bad[i].yaml);

        sl_diag_init(&d);
        int rc = sl_config_load(path, &cfg, &d);

        snprintf(want, sizeof(want), "%s:%d: ", path, bad[i].line);
        for (size_t j = 0; j < d.n; j++)
            found |= strncmp(d.msgs[j], want, strlen(want)) == 0 &&
                     strstr(d.msgs[j], bad[i].msg) != NULL;
        if (rc != SLUICE_ERR_CONFIG || !found) {
            for (size_t j = 0; j < d.n; j++)
                print_message("  got: %s\n", d.msgs[j]);
            fail_msg("case %zu: rc %d, want line %d: %s", i, rc, bad[i].line, bad[i].msg);
        }
        assert_null(cfg);
        sl_diag_fini(&d);
        unlink(path);
    }
}

static void check_collects_every_error(void **state)
{
    static const char yaml[] = "workers: lots\n"                              /* 1 */
                               "listeners:\n"                                 /* 2 */
                               "  - {name: web, bind: \"nowhere\"}\n"         /* 3 */
                               "services:\n"                                  /* 4 */
                               "  app:\n"                                     /* 5 */
                               "    strategy: best\n"                         /* 6 */
                               "    backends:\n"                              /* 7 */
                               "      - {name: a, target: \"h:0\"}\n"         /* 8 */
                               "endpoints:\n"                                 /* 9 */
                               "  - pattern: /\n"                             /* 10 */
                               "    routes: [{service: ghost, weigth: 2}]\n"; /* 11 */
    static const char *const want[] = {":1: workers",
                                       ":3: listeners[0].bind",
                                       ":6: service app",
                                       ":8: service app: backends[0]: invalid target 'h:0'",
                                       ":11: endpoint /: routes[0]: unknown key 'weigth'",
                                       ":11: endpoint /: route route000: unknown service"};
    struct sl_diag d;
    (void)state;

    sl_diag_init(&d);
    assert_int_equal(sl_control_check(write_tmp(yaml), &d), SLUICE_ERR_CONFIG);
    assert_int_equal(sl_diag_errors(&d), 6);
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        bool found = false;

        for (size_t j = 0; j < d.n; j++)
            found |= strstr(d.msgs[j], want[i]) != NULL;
        if (!found) {
            for (size_t j = 0; j < d.n; j++)
                print_message("  got: %s\n", d.msgs[j]);
            fail_msg("missing %s", want[i]);
        }
    }
    sl_diag_fini(&d);
    unlink(tmp_path);
}

static void health_keys_parse(void **state)
{
    static const char yaml[] =
        HEAD SVC "    health: {check: http, method: POST, path: /healthz, host: h.example,\n"
                 "             expect: [\"200-299\", 404], body: ok, interval: 1s,\n"
                 "             down_interval: 250ms, timeout: 300ms, rise: 2, fall: 3}\n"
                 "    passive: {5xx: true, eject: 2s, eject_max: 1m}\n"
                 "    panic_threshold: 0\n"
                 "    slow_start: 30s\n";
    struct sl_config *cfg = NULL;
    struct sl_diag d;
    (void)state;

    sl_diag_init(&d);
    assert_int_equal(sl_config_load(write_tmp(yaml), &cfg, &d), 0);
    const struct sl_cfg_service *s = &cfg->services[0];

    assert_int_equal(s->health.check, SL_CHECK_HTTP);
    assert_string_equal(s->health.method, "POST");
    assert_string_equal(s->health.host, "h.example");
    assert_string_equal(s->health.body, "ok");
    assert_int_equal(s->health.nexpect, 2);
    assert_int_equal(s->health.expect[1].lo, 404);
    assert_int_equal(s->health.expect[1].hi, 404);
    assert_int_equal(s->health.down_interval_ms, 250);
    /* rise 2, fall 3: low -2, high 2, initial 1, steps of one. */
    assert_int_equal(s->health.score.low, -2);
    assert_int_equal(s->health.score.high, 2);
    assert_int_equal(s->health.score.initial, 1);
    assert_true(s->passive.on_5xx);
    assert_int_equal(s->passive.eject_ms, 2000);
    assert_int_equal(s->passive.eject_max_ms, 60000);
    assert_int_equal(s->panic_threshold, 0);
    assert_int_equal(s->slow_start_ms, 30000);
    sl_config_free(cfg);
    sl_diag_fini(&d);
    unlink(tmp_path);
}

static void health_policy_given_twice_is_an_error(void **state)
{
    static const char yaml[] = HEAD SVC "    health: {check: tcp, panic_threshold: 10}\n"
                                        "    panic_threshold: 20\n";
    struct sl_config *cfg = NULL;
    struct sl_diag d;
    (void)state;

    sl_diag_init(&d);
    assert_int_equal(sl_config_load(write_tmp(yaml), &cfg, &d), SLUICE_ERR_CONFIG);
    assert_true(d.n > 0 && strstr(d.msgs[0], "given twice") != NULL);
    sl_diag_fini(&d);
    unlink(tmp_path);
}

/* health.expect takes "NNN" or "NNN-NNN" within 100..599; blanks before a
 * number are allowed (sscanf() allowed them before the strtoul() rewrite). */
static void expect_status_ranges(void **state)
{
    static const struct {
        const char *v;
        int ok;
        uint16_t lo, hi;
    } cases[] = {
        {"\"200-399\"", 1, 200, 399},
        {"204", 1, 204, 204},
        {"\"100-599\"", 1, 100, 599},
        {"\"200- 399\"", 1, 200, 399},
        {"\" 204\"", 1, 204, 204},
        {"99", 0, 0, 0},
        {"600", 0, 0, 0},
        {"\"200-\"", 0, 0, 0},
        {"\"-200\"", 0, 0, 0},
        {"2000", 0, 0, 0},
        {"\"399-200\"", 0, 0, 0},
        {"\"200-399x\"", 0, 0, 0},
        {"abc", 0, 0, 0},
        {"\"+200\"", 0, 0, 0},
        {"\"200-0399\"", 0, 0, 0},
    };
    (void)state;

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char yaml[512];
        struct sl_diag d;
        struct sl_config *cfg = NULL;

        (void)snprintf(yaml, sizeof(yaml), "%s%s    health: {expect: %s}\n", HEAD, SVC, cases[i].v);
        sl_diag_init(&d);
        int rc = sl_config_load(write_tmp(yaml), &cfg, &d);

        if (!cases[i].ok) {
            assert_int_equal(rc, SLUICE_ERR_CONFIG);
            assert_null(cfg);
        } else {
            if (rc != 0)
                fail_msg("case %zu (%s): rc %d", i, cases[i].v, rc);
            assert_int_equal(cfg->services[0].health.nexpect, 1);
            assert_int_equal(cfg->services[0].health.expect[0].lo, cases[i].lo);
            assert_int_equal(cfg->services[0].health.expect[0].hi, cases[i].hi);
            sl_config_free(cfg);
        }
        sl_diag_fini(&d);
        unlink(tmp_path);
    }
}

static void missing_file_is_io(void **state)
{
    struct sl_diag d;
    (void)state;

    sl_diag_init(&d);
    assert_int_equal(sl_control_check("/nonexistent/sluice.yaml", &d), SLUICE_ERR_IO);
    assert_int_equal(d.n, 1);
    assert_non_null(strstr(d.msgs[0], "/nonexistent/sluice.yaml: cannot open"));
    sl_diag_fini(&d);
}

static void targets_and_patterns(void **state)
{
    static const char *const good_targets[] = {"127.0.0.1", "h",          "h:80", "a.b-c.d:65535",
                                               "[::1]",     "[::1]:8080", "::1"};
    static const char *const bad_targets[] = {"",     ":80",    "h:0",  "h:65536",
                                              "[::1", "[::1]x", "h:80 "};
    (void)state;

    for (size_t i = 0; i < sizeof(good_targets) / sizeof(good_targets[0]); i++)
        if (sl_config_check_target(good_targets[i]) != 0)
            fail_msg("target '%s' refused", good_targets[i]);
    for (size_t i = 0; i < sizeof(bad_targets) / sizeof(bad_targets[0]); i++)
        if (sl_config_check_target(bad_targets[i]) == 0)
            fail_msg("target '%s' accepted", bad_targets[i]);

    struct sl_cfg_endpoint e = {0};

    assert_null(sl_cfg_parse_pattern("WWW.Example.com./Blog/", &e));
    assert_int_equal(e.host_match, SL_HOST_EXACT);
    assert_string_equal(e.host, "www.example.com");
    assert_string_equal(e.path, "/Blog");
    free(e.host);
    free(e.path);
    assert_null(sl_cfg_parse_pattern("/", &e));
    assert_int_equal(e.host_match, SL_HOST_ANY);
    assert_string_equal(e.host, "");
    assert_string_equal(e.path, "/");
    free(e.host);
    free(e.path);
    assert_null(sl_cfg_parse_pattern("[::1]/x", &e));
    assert_string_equal(e.host, "[::1]");
    free(e.host);
    free(e.path);
    assert_non_null(sl_cfg_parse_pattern("*", &e));
    assert_non_null(sl_cfg_parse_pattern("*.", &e));
    assert_non_null(sl_cfg_parse_pattern("a.*.com", &e));
    assert_non_null(sl_cfg_parse_pattern("", &e));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(full_file_parses_into_model),
        cmocka_unit_test(body_limits_parse),
        cmocka_unit_test(each_error_has_its_line),
        cmocka_unit_test(check_collects_every_error),
        cmocka_unit_test(health_keys_parse),
        cmocka_unit_test(health_policy_given_twice_is_an_error),
        cmocka_unit_test(expect_status_ranges),
        cmocka_unit_test(missing_file_is_io),
        cmocka_unit_test(targets_and_patterns),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
