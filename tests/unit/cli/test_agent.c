/* sluice agent's pure parts: flags, the YAML file under them, the backoff
 * schedule and the load's text. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "cli/agent.h"

static int parse(struct sl_agent_opts *o, const char *env, char *err, size_t errlen, int argc,
                 const char **in)
{
    static char store[32][512];
    static char *argv[32];

    for (int i = 0; i < argc; i++) {
        (void)snprintf(store[i], sizeof(store[i]), "%s", in[i]);
        argv[i] = store[i];
    }
    return sl_agent_opts_parse(argc, argv, env, o, err, errlen);
}

static void flags(void **state)
{
    const char *argv[] = {"agent",
                          "--server",
                          "http://lb:9090",
                          "--token=t1",
                          "--service",
                          "api",
                          "--target",
                          "10.0.0.5:3000",
                          "--name",
                          "a1",
                          "--label",
                          "zone=eu",
                          "--label",
                          "tier=web",
                          "--label=zone=us",
                          "--location",
                          "city=Paris,country=FR,lat=48.85,lon=2.35",
                          "--load-cmd",
                          "echo 7",
                          "--heartbeat",
                          "500ms",
                          "--health-path",
                          "/healthz"};
    struct sl_agent_opts o;
    char err[512];

    (void)state;
    assert_int_equal(
        parse(&o, "envtok", err, sizeof(err), (int)(sizeof(argv) / sizeof(argv[0])), argv), 0);
    assert_string_equal(o.server, "http://lb:9090");
    assert_string_equal(o.token, "t1");
    assert_string_equal(o.service, "api");
    assert_string_equal(o.target, "10.0.0.5:3000");
    assert_string_equal(o.name, "a1");
    assert_int_equal(o.nlabels, 2);
    assert_string_equal(o.labels[0].key, "zone");
    assert_string_equal(o.labels[0].value, "us");
    assert_string_equal(o.labels[1].key, "tier");
    assert_string_equal(o.city, "Paris");
    assert_string_equal(o.country, "FR");
    assert_true(o.has_lat && o.has_lon);
    assert_true(o.lat > 48.84 && o.lat < 48.86);
    assert_string_equal(o.load_cmd, "echo 7");
    assert_int_equal(o.heartbeat_ms, 500);
    assert_string_equal(o.health_path, "/healthz");
}

static void flag_errors(void **state)
{
    const char *base[] = {"agent", "--server", "h:1", "--service", "s", "--target", "h:2"};
    const char *bad[][2] = {
        {"--label", "novalue"},
        {"--label", "=v"},
        {"--location", "city"},
        {"--location", "lat=91"},
        {"--location", "planet=mars"},
        {"--heartbeat", "fast"},
        {"--heartbeat", "10ms"},
        {"--health-path", "healthz"},
        {"--bogus", "x"},
    };
    const char *argv[10];
    struct sl_agent_opts o;
    char err[512];

    (void)state;
    memcpy(argv, base, sizeof(base));
    /* No token at all: a usage error that says where one comes from. */
    assert_int_equal(parse(&o, NULL, err, sizeof(err), 7, argv), 2);
    assert_non_null(strstr(err, "SLUICE_TOKEN"));
    /* The environment's token when no flag gives one. */
    assert_int_equal(parse(&o, "envtok", err, sizeof(err), 7, argv), 0);
    assert_string_equal(o.token, "envtok");
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        argv[7] = bad[i][0];
        argv[8] = bad[i][1];
        assert_int_equal(parse(&o, "t", err, sizeof(err), 9, argv), 2);
        assert_true(strlen(err) > 0);
    }
    argv[7] = "--name"; /* a flag without its value */
    assert_int_equal(parse(&o, "t", err, sizeof(err), 8, argv), 2);
    argv[7] = "stray";
    assert_int_equal(parse(&o, "t", err, sizeof(err), 8, argv), 2);
    /* Required flags. */
    assert_int_equal(parse(&o, "t", err, sizeof(err), 5, argv), 2);
    assert_non_null(strstr(err, "--target"));
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");

    assert_non_null(f);
    assert_int_equal(fputs(text, f) >= 0, 1);
    assert_int_equal(fclose(f), 0);
}

static void yaml_config(void **state)
{
    char path[] = "/tmp/sl_agent_yaml_XXXXXX", arg[64];
    const char *argv[] = {"agent", "--config", path, "--heartbeat", "3s", "--label", "tier=db"};
    struct sl_agent_opts o;
    char err[512];
    int fd = mkstemp(path);

    (void)state;
    assert_true(fd >= 0);
    (void)close(fd);
    write_file(path, "server: http://lb:9090\n"
                     "token: filetok\n"
                     "service: api\n"
                     "target: 127.0.0.1:3000\n"
                     "name: a1\n"
                     "heartbeat: 1s\n"
                     "health_path: /ok\n"
                     "load-cmd: echo 3\n"
                     "labels:\n  zone: eu\n  tier: web\n"
                     "location:\n  city: Lyon\n  country: FR\n  lat: 45.75\n  lon: 4.85\n");
    argv[2] = path;
    assert_int_equal(parse(&o, "envtok", err, sizeof(err), 7, argv), 0);
    assert_string_equal(o.server, "http://lb:9090");
    assert_string_equal(o.token, "filetok"); /* the file's over the environment's */
    assert_string_equal(o.health_path, "/ok");
    assert_string_equal(o.load_cmd, "echo 3");
    assert_int_equal(o.heartbeat_ms, 3000); /* the flag over the file */
    assert_int_equal(o.nlabels, 2);
    assert_string_equal(o.labels[1].key, "tier");
    assert_string_equal(o.labels[1].value, "db");
    assert_string_equal(o.city, "Lyon");
    assert_true(o.has_lon && o.lon > 4.8);

    /* Labels as a list of k=v, location as one string; "--config=FILE". */
    write_file(path, "server: h:1\ntoken: t\nservice: s\ntarget: h:2\n"
                     "labels: [a=1, b=2]\nlocation: city=Oslo,lat=59.9\n");
    (void)snprintf(arg, sizeof(arg), "--config=%s", path);
    argv[1] = arg;
    assert_int_equal(parse(&o, NULL, err, sizeof(err), 2, argv), 0);
    assert_int_equal(o.nlabels, 2);
    assert_string_equal(o.labels[1].value, "2");
    assert_string_equal(o.city, "Oslo");

    /* Errors name the file and the line. */
    write_file(path, "server: h:1\nbogus: 1\n");
    assert_int_equal(parse(&o, NULL, err, sizeof(err), 2, argv), 2);
    assert_non_null(strstr(err, ":2:"));
    assert_non_null(strstr(err, "bogus"));
    write_file(path, "- a\n- b\n");
    assert_int_equal(parse(&o, NULL, err, sizeof(err), 2, argv), 2);
    (void)unlink(path);
    assert_int_equal(parse(&o, NULL, err, sizeof(err), 2, argv), 2);
    assert_non_null(strstr(err, path));
}

static void backoff_schedule(void **state)
{
    (void)state;
    /* Without jitter: half of 0.5 s doubling; with the most, the whole. */
    assert_int_equal(sl_agent_backoff_ms(0, 0.0), 250);
    assert_int_equal(sl_agent_backoff_ms(1, 0.0), 500);
    assert_int_equal(sl_agent_backoff_ms(2, 0.0), 1000);
    assert_true(sl_agent_backoff_ms(0, 0.999) <= 500 && sl_agent_backoff_ms(0, 0.999) >= 499);
    /* Bounded at 30 s, however many failures. */
    assert_int_equal(sl_agent_backoff_ms(6, 0.0), 15000);
    assert_int_equal(sl_agent_backoff_ms(7, 0.0), 15000);
    assert_int_equal(sl_agent_backoff_ms(1000, 0.0), 15000);
    assert_true(sl_agent_backoff_ms(1000, 0.999) <= 30000);
    /* A bad random draw counts as none. */
    assert_int_equal(sl_agent_backoff_ms(0, 1.5), 250);
    assert_int_equal(sl_agent_backoff_ms(0, -1.0), 250);
}

static void load_text(void **state)
{
    uint32_t v = 99;

    (void)state;
    assert_int_equal(sl_agent_parse_load("42\n", &v), 0);
    assert_int_equal(v, 42);
    assert_int_equal(sl_agent_parse_load("  7  ", &v), 0);
    assert_int_equal(v, 7);
    assert_int_equal(sl_agent_parse_load("", &v), -1);
    assert_int_equal(sl_agent_parse_load("-1", &v), -1);
    assert_int_equal(sl_agent_parse_load("1.5", &v), -1);
    assert_int_equal(sl_agent_parse_load("12 apples", &v), -1);
    assert_int_equal(sl_agent_parse_load("99999999999", &v), -1);
    assert_int_equal(sl_agent_parse_loadavg("0.52 0.58 0.59 1/467 12345\n", &v), 0);
    assert_int_equal(v, 52);
    assert_int_equal(sl_agent_parse_loadavg("12.345 1 1", &v), 0);
    assert_int_equal(v, 1235);
    assert_int_equal(sl_agent_parse_loadavg("x", &v), -1);
    /* The live pieces: a command's output, and the host's own average. */
    assert_int_equal(sl_agent_load("echo 17", 2000, &v, (char[128]){0}, 128), 0);
    assert_int_equal(v, 17);
    assert_int_equal(sl_agent_load("echo nope", 2000, &v, (char[128]){0}, 128), -1);
    assert_int_equal(sl_agent_load("exit 3", 2000, &v, (char[128]){0}, 128), -1);
    assert_int_equal(sl_agent_load("sleep 5; echo 1", 200, &v, (char[128]){0}, 128), -1);
    assert_int_equal(sl_agent_load(NULL, 2000, &v, (char[128]){0}, 128), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(flags),       cmocka_unit_test(flag_errors),
        cmocka_unit_test(yaml_config), cmocka_unit_test(backoff_schedule),
        cmocka_unit_test(load_text),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
