/* The change path and the query (control/change.h): every call and every
 * refusal, the overlay replayed at reopen and after reloads (conflicts
 * kept, inactive and listed), drain, route ids, shapes, owners, atomicity,
 * and no answered change lost to a kill -9. */
#include <sys/wait.h>

#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "cfgdir.h"
#include "control/change.h"
#include "control/store.h"

static const struct sl_change_who admin = {"tok-admin", SL_SCOPE_ADMIN};
static const struct sl_change_who agent1 = {"tok-ag1", SL_SCOPE_AGENT};
static const struct sl_change_who agent2 = {"tok-ag2", SL_SCOPE_AGENT};
static const struct sl_change_who reader = {"tok-read", SL_SCOPE_READ};

#define BASE_HEAD                      \
    "listeners:\n"                     \
    "  - name: web\n"                  \
    "    bind: 127.0.0.1:18080\n"      \
    "services:\n"                      \
    "  api:\n"                         \
    "    backends:\n"                  \
    "      - name: a1\n"               \
    "        target: 127.0.0.1:9001\n" \
    "        labels: {v: \"1\"}\n"     \
    "      - name: a2\n"               \
    "        target: 127.0.0.1:9002\n" \
    "  web:\n"                         \
    "    backends:\n"                  \
    "      - name: w1\n"               \
    "        target: 127.0.0.1:9101\n"
#define BASE_TAIL                 \
    "endpoints:\n"                \
    "  - pattern: example.com/\n" \
    "    routes:\n"               \
    "      - service: api\n"      \
    "        weight: 90\n"        \
    "      - service: web\n"      \
    "        weight: 10\n"
#define EXTRA            \
    "  extra:\n"         \
    "    backends:\n"    \
    "      - name: e1\n" \
    "        target: 127.0.0.1:9201\n"

static const char *base = BASE_HEAD BASE_TAIL;

static struct sl_control *open_ctl(void)
{
    struct sl_control *c = NULL;
    struct sl_diag d;

    sl_diag_init(&d);
    int rc = sl_control_open(path, &c, &d);

    for (size_t i = 0; i < d.n; i++)
        print_message("  diag: %s\n", d.msgs[i]);
    sl_diag_fini(&d);
    assert_int_equal(rc, 0);
    return c;
}

static struct sl_control *open_with(const char *text)
{
    write_cfg(text);
    return open_ctl();
}

static json_t *J(const char *text)
{
    json_error_t je;
    json_t *j = json_loads(text, JSON_DECODE_ANY, &je);

    if (j == NULL)
        fail_msg("bad test JSON %s: %s", text, je.text);
    return j;
}

/* Expects refusal <status>/<code> from the call that filled <e>. */
static void expect_err(int rc, const struct sl_change_err *e, int status, const char *code)
{
    if (rc == 0)
        fail_msg("expected %d %s, got success", status, code);
    print_message("  refused: %d %s: %s\n", e->status, e->code, e->message);
    assert_int_equal(e->status, status);
    assert_string_equal(e->code, code);
    assert_true(e->message[0] != '\0');
}

static void ok(int rc, const struct sl_change_err *e)
{
    if (rc != 0)
        fail_msg("refused: %d %s: %s", e->status, e->code, e->message);
}

/* The item of array <a> whose <field> is <value>, or NULL (borrowed). */
static json_t *find_by(json_t *a, const char *field, const char *value)
{
    size_t i;
    json_t *item;

    json_array_foreach(a, i, item)
    {
        if (strcmp(json_string_value(json_object_get(item, field)), value) == 0)
            return item;
    }
    return NULL;
}

static json_t *backend_of(json_t *q, const char *name)
{
    return find_by(json_object_get(q, "backends"), "name", name);
}

static json_t *endpoint_of(json_t *q, const char *pattern)
{
    return find_by(json_object_get(q, "endpoints"), "pattern", pattern);
}

static json_t *route_of(json_t *q, const char *pattern, const char *id)
{
    return find_by(json_object_get(endpoint_of(q, pattern), "routes"), "id", id);
}

static json_t *query(struct sl_control *c)
{
    struct sl_change_err e;
    json_t *q = sl_query(c, NULL, &e);

    assert_non_null(q);
    return q;
}

static int64_t lb_weight(struct sl_control *c, const char *svc, const char *name)
{
    sluice_group_snapshot_t s;
    int64_t w = -1;

    if (sluice_lb_snapshot(sl_control_lb(c), svc, &s) != 0)
        return -1;
    for (size_t i = 0; i < s.n; i++)
        if (strcmp(s.backends[i].name, name) == 0)
            w = s.backends[i].weight;
    sluice_group_snapshot_free(&s);
    return w;
}

static int count_rec(void *arg, const struct sl_store_rec *r)
{
    (void)r;
    (*(size_t *)arg)++;
    return 0;
}

static size_t store_records(struct sl_control *c)
{
    char err[256];
    size_t n = 0;

    assert_int_equal(sl_store_load(sl_control_store(c), count_rec, &n, err, sizeof(err)), 0);
    return n;
}

static int call_add(struct sl_control *c, const char *svc, const char *body,
                    const struct sl_change_who *who, struct sl_change_err *e)
{
    json_t *j = J(body);
    int rc = sl_change_backend_add(c, svc, j, who, NULL, e);

    json_decref(j);
    return rc;
}

static int call_patch(struct sl_control *c, const char *svc, const char *name, const char *body,
                      const struct sl_change_who *who, struct sl_change_err *e)
{
    json_t *j = J(body);
    int rc = sl_change_backend_patch(c, svc, name, j, who, e);

    json_decref(j);
    return rc;
}

static void backends_add_and_refusals(void **state)
{
    struct sl_control *c = open_with(base);
    struct sl_change_err e;
    json_t *created = NULL, *body, *q, *b;

    (void)state;
    body =
        J("{\"name\":\"d1\",\"target\":\"127.0.0.1:9003\",\"weight\":5,\"labels\":{\"v\":\"2\"}}");
    ok(sl_change_backend_add(c, "api", body, &admin, &created, &e), &e);
    json_decref(body);
    assert_non_null(created);
    assert_string_equal(json_string_value(json_object_get(created, "origin")), "dynamic");
    assert_string_equal(json_string_value(json_object_get(created, "owner")), "tok-admin");
    assert_int_equal(json_integer_value(json_object_get(created, "weight")), 5);
    json_decref(created);
    assert_int_equal(lb_weight(c, "api", "d1"), 5);
    q = query(c);
    b = backend_of(q, "d1");
    assert_non_null(b);
    assert_string_equal(json_string_value(json_object_get(b, "service")), "api");
    assert_string_equal(json_string_value(json_object_get(b, "target")), "127.0.0.1:9003");
    assert_string_equal(json_string_value(json_object_get(b, "state")), "up");
    assert_true(json_is_null(json_object_get(b, "load")));
    assert_string_equal(json_string_value(json_object_get(backend_of(q, "a1"), "origin")),
                        "static");
    json_decref(q);

    expect_err(call_add(c, "api", "{\"name\":\"a1\",\"target\":\"127.0.0.1:9009\"}", &admin, &e),
               &e, 409, "name_in_use");
    expect_err(call_add(c, "web", "{\"name\":\"d1\",\"target\":\"127.0.0.1:9009\"}", &admin, &e),
               &e, 409, "name_in_use");
    expect_err(call_add(c, "api", "{\"name\":\"d2\",\"target\":\"no such:target\"}", &admin, &e),
               &e, 400, "invalid_target");
    expect_err(
        call_add(c, "api", "{\"name\":\"d2\",\"target\":\"127.0.0.1:9004\",\"x\":1}", &admin, &e),
        &e, 400, "unknown_field");
    expect_err(call_add(c, "api", "{\"name\":\"d2\",\"target\":\"127.0.0.1:9004\",\"weight\":-1}",
                        &admin, &e),
               &e, 400, "invalid_field");
    assert_non_null(strstr(e.message, "weight"));
    assert_null(strstr(e.message, path)); /* no FILE:LINE for API input */
    expect_err(
        call_add(c, "api", "{\"name\":\"bad/name\",\"target\":\"127.0.0.1:9004\"}", &admin, &e), &e,
        400, "invalid_field");
    expect_err(call_add(c, "api", "[1]", &admin, &e), &e, 400, "invalid_field");
    expect_err(call_add(c, "nope", "{\"name\":\"d2\",\"target\":\"127.0.0.1:9004\"}", &admin, &e),
               &e, 404, "not_found");
    expect_err(call_add(c, "api", "{\"name\":\"d2\",\"target\":\"127.0.0.1:9004\"}", &reader, &e),
               &e, 403, "forbidden");
    /* Same target twice in a service: the config's rule. */
    expect_err(call_add(c, "api", "{\"name\":\"d2\",\"target\":\"127.0.0.1:9003\"}", &admin, &e),
               &e, 400, "invalid_field");
    sl_control_close(c);
}

static void dynamic_backends_off_is_disallowed(void **state)
{
    struct sl_control *c = open_with("admin:\n  dynamic_backends: false\n" BASE_HEAD BASE_TAIL);
    struct sl_change_err e;

    (void)state;
    expect_err(call_add(c, "api", "{\"name\":\"d1\",\"target\":\"127.0.0.1:9003\"}", &admin, &e),
               &e, 403, "disallowed");
    sl_control_close(c);
}

static void agents_change_only_their_backends(void **state)
{
    struct sl_control *c = open_with(base);
    struct sl_change_err e;
    json_t *q;

    (void)state;
    ok(call_add(c, "api", "{\"name\":\"g1\",\"target\":\"127.0.0.1:9005\"}", &agent1, &e), &e);
    expect_err(call_patch(c, "api", "g1", "{\"weight\":3}", &agent2, &e), &e, 403, "forbidden");
    expect_err(sl_change_backend_delete(c, "api", "g1", &agent2, &e), &e, 403, "forbidden");
    expect_err(call_patch(c, "api", "a1", "{\"weight\":3}", &agent1, &e), &e, 403, "forbidden");
    ok(call_patch(c, "api", "g1", "{\"weight\":3}", &agent1, &e), &e);
    assert_int_equal(lb_weight(c, "api", "g1"), 3);
    q = query(c);
    assert_string_equal(json_string_value(json_object_get(backend_of(q, "g1"), "owner")),
                        "tok-ag1");
    json_decref(q);
    /* Agents cannot touch services or endpoints. */
    json_t *svc = J("{}");

    expect_err(sl_change_service_put(c, "s2", svc, &agent1, &e), &e, 403, "forbidden");
    json_decref(svc);
    ok(sl_change_backend_delete(c, "api", "g1", &agent1, &e), &e);
    assert_int_equal(lb_weight(c, "api", "g1"), -1);
    ok(call_patch(c, "api", "a1", "{\"weight\":4}", &admin, &e), &e);
    sl_control_close(c);
}

static void patch_drain_weight_and_health(void **state)
{
    struct sl_control *c = open_with(base);
    struct sl_change_err e;
    json_t *q, *b;

    (void)state;
    ok(call_patch(c, "api", "a1", "{\"drain\":true}", &admin, &e), &e);
    assert_int_equal(lb_weight(c, "api", "a1"), 0);
    q = query(c);
    b = backend_of(q, "a1");
    assert_string_equal(json_string_value(json_object_get(b, "state")), "draining");
    assert_int_equal(json_integer_value(json_object_get(b, "weight")), 1);
    /* A drained backend is not selected by the route any more. */
    json_t *names = json_object_get(route_of(q, "example.com/", "route000"), "backends");

    assert_int_equal(json_array_size(names), 1);
    assert_string_equal(json_string_value(json_array_get(names, 0)), "a2");
    json_decref(q);
    ok(call_patch(c, "api", "a1", "{\"drain\":false,\"weight\":7}", &admin, &e), &e);
    assert_int_equal(lb_weight(c, "api", "a1"), 7);

    ok(call_patch(c, "api", "a2", "{\"health\":\"unhealthy\"}", &admin, &e), &e);
    q = query(c);
    b = backend_of(q, "a2");
    assert_string_equal(json_string_value(json_object_get(b, "state")), "down");
    assert_string_equal(json_string_value(json_object_get(b, "health")), "unhealthy");
    json_decref(q);
    expect_err(call_patch(c, "api", "a2", "{\"health\":\"sick\"}", &admin, &e), &e, 400,
               "invalid_field");
    expect_err(call_patch(c, "api", "a2", "{\"drain\":\"maybe\"}", &admin, &e), &e, 400,
               "invalid_field");
    expect_err(call_patch(c, "api", "a2", "{\"labels\":{}}", &admin, &e), &e, 400, "unknown_field");
    expect_err(call_patch(c, "api", "zz", "{\"weight\":1}", &admin, &e), &e, 404, "not_found");
    expect_err(call_patch(c, "nope", "a2", "{\"weight\":1}", &admin, &e), &e, 404, "not_found");
    sl_control_close(c);

    /* Weight and drain are stored; a health mark is not. */
    c = open_ctl();
    assert_int_equal(lb_weight(c, "api", "a1"), 7);
    q = query(c);
    assert_string_equal(json_string_value(json_object_get(backend_of(q, "a2"), "state")), "up");
    json_decref(q);
    sl_control_close(c);
}

static void drain_in_the_file(void **state)
{
    struct sl_control *c = open_with("listeners:\n  - name: web\n    bind: 127.0.0.1:18080\n"
                                     "services:\n  api:\n    backends:\n"
                                     "      - name: a1\n        target: 127.0.0.1:9001\n"
                                     "        weight: 4\n        drain: true\n");
    json_t *q;

    (void)state;
    assert_int_equal(lb_weight(c, "api", "a1"), 0);
    q = query(c);
    assert_int_equal(json_integer_value(json_object_get(backend_of(q, "a1"), "weight")), 4);
    assert_string_equal(json_string_value(json_object_get(backend_of(q, "a1"), "state")),
                        "draining");
    json_decref(q);
    sl_control_close(c);
}

static void backend_delete_file_and_dynamic(void **state)
{
    struct sl_control *c = open_with(base);
    struct sl_change_err e;

    (void)state;
    ok(call_add(c, "api", "{\"name\":\"d1\",\"target\":\"127.0.0.1:9003\"}", &admin, &e), &e);
    ok(sl_change_backend_delete(c, "api", "d1", &admin, &e), &e);
    ok(sl_change_backend_delete(c, "api", "a2", &admin, &e), &e);
    assert_int_equal(lb_weight(c, "api", "a2"), -1);
    assert_int_equal(lb_weight(c, "api", "d1"), -1);
    expect_err(sl_change_backend_delete(c, "api", "a2", &admin, &e), &e, 404, "not_found");
    assert_int_equal(store_records(c), 1); /* the tombstone of a2; d1 forgotten */
    sl_control_close(c);
    c = open_ctl();
    assert_int_equal(lb_weight(c, "api", "a2"), -1);
    assert_int_equal(lb_weight(c, "api", "a1"), 1);
    sl_control_close(c);
}

static void services_put_get_delete(void **state)
{
    struct sl_control *c = open_with(base);
    struct sl_change_err e;
    json_t *body, *s, *q;

    (void)state;
    body = J("{\"strategy\":\"least_connections\",\"retries\":1,"
             "\"backends\":[{\"name\":\"n1\",\"target\":\"127.0.0.1:9301\"}]}");
    ok(sl_change_service_put(c, "new", body, &admin, &e), &e);
    json_decref(body);
    s = sl_query_service(c, "new", &e);
    assert_non_null(s);
    assert_string_equal(json_string_value(json_object_get(s, "strategy")), "least_connections");
    assert_int_equal(json_array_size(json_object_get(s, "backends")), 1);
    json_decref(s);
    assert_null(sl_query_service(c, "nope", &e));
    assert_int_equal(e.status, 404);
    q = query(c);
    assert_string_equal(json_string_value(json_object_get(backend_of(q, "n1"), "origin")),
                        "dynamic");
    json_decref(q);

    body = J("{\"strategy\":\"nope\"}");
    expect_err(sl_change_service_put(c, "new", body, &admin, &e), &e, 400, "invalid_field");
    json_decref(body);
    body = J("{\"colour\":\"red\"}");
    expect_err(sl_change_service_put(c, "new", body, &admin, &e), &e, 400, "unknown_field");
    json_decref(body);

    /* PUT replaces the service's backends, the API's ones too. */
    ok(call_add(c, "api", "{\"name\":\"d1\",\"target\":\"127.0.0.1:9003\"}", &admin, &e), &e);
    body = J("{\"backends\":[{\"name\":\"a1\",\"target\":\"127.0.0.1:9001\"}]}");
    ok(sl_change_service_put(c, "api", body, &admin, &e), &e);
    json_decref(body);
    assert_int_equal(lb_weight(c, "api", "d1"), -1);
    assert_int_equal(lb_weight(c, "api", "a2"), -1);

    expect_err(sl_change_service_delete(c, "api", &admin, &e), &e, 409, "in_use");
    expect_err(sl_change_service_delete(c, "nope", &admin, &e), &e, 404, "not_found");
    ok(sl_change_service_delete(c, "new", &admin, &e), &e);
    assert_int_equal(sluice_lb_backend_count(sl_control_lb(c), "new"), 0);
    sl_control_close(c);
    c = open_ctl();
    assert_null(sl_query_service(c, "new", &e));
    assert_int_equal(lb_weight(c, "api", "a2"), -1);
    sl_control_close(c);
}

static void tcp_listener_keeps_its_service(void **state)
{
    struct sl_control *c = open_with("listeners:\n  - name: db\n    bind: 127.0.0.1:18081\n"
                                     "    mode: tcp\n    service: pg\n"
                                     "services:\n  pg:\n    backends:\n"
                                     "      - name: p1\n        target: 127.0.0.1:5432\n");
    struct sl_change_err e;

    (void)state;
    expect_err(sl_change_service_delete(c, "pg", &admin, &e), &e, 409, "in_use");
    assert_non_null(strstr(e.message, "listener db"));
    sl_control_close(c);
}

static void endpoints_routes_and_shape(void **state)
{
    struct sl_control *c = open_with(base);
    struct sl_change_err e;
    char id[32];
    json_t *body, *q;

    (void)state;
    body = J("{\"routes\":[{\"service\":\"api\"},{\"service\":\"web\",\"id\":\"route000\"}]}");
    ok(sl_change_endpoint_put(c, "b.example.com/x", body, &admin, &e), &e);
    json_decref(body);
    q = query(c);
    /* Given ids stay; the others get their position's routeNNN, or the
     * next free one after it. */
    assert_string_equal(
        json_string_value(json_object_get(route_of(q, "b.example.com/x", "route000"), "service")),
        "web");
    assert_non_null(route_of(q, "b.example.com/x", "route001"));
    json_decref(q);
    body = J("{\"routes\":[{\"service\":\"api\"}]}");
    ok(sl_change_endpoint_put(c, "c.example.com", body, &admin, &e), &e);
    json_decref(body);
    q = query(c);
    assert_non_null(route_of(q, "c.example.com", "route000"));
    json_decref(q);

    body = J("{\"service\":\"web\",\"selector\":\"\",\"weight\":3}");
    ok(sl_change_route_add(c, "example.com/", body, &admin, id, sizeof(id), &e), &e);
    json_decref(body);
    assert_string_equal(id, "route002");
    body = J("{\"weight\":5}");
    ok(sl_change_route_patch(c, "example.com/", "route002", body, &admin, &e), &e);
    expect_err(sl_change_route_patch(c, "example.com/", "route099", body, &admin, &e), &e, 404,
               "not_found");
    expect_err(sl_change_route_patch(c, "nope.com/", "route000", body, &admin, &e), &e, 404,
               "not_found");
    json_decref(body);
    body = J("{\"service\":\"nope\"}");
    expect_err(sl_change_route_patch(c, "example.com/", "route002", body, &admin, &e), &e, 400,
               "invalid_field");
    json_decref(body);
    body = J("{\"selector\":\"v=1\"}");
    ok(sl_change_route_patch(c, "example.com/", "route000", body, &admin, &e), &e);
    json_decref(body);
    q = query(c);
    json_t *r = route_of(q, "example.com/", "route000");

    assert_string_equal(json_string_value(json_object_get(r, "selector")), "v=1");
    assert_int_equal(json_array_size(json_object_get(r, "backends")), 1);
    assert_string_equal(json_string_value(json_array_get(json_object_get(r, "backends"), 0)), "a1");
    assert_int_equal(
        json_integer_value(json_object_get(route_of(q, "example.com/", "route002"), "weight")), 5);
    json_decref(q);

    body = J("{\"route000\":1,\"route001\":2,\"route009\":3}");
    expect_err(sl_change_shape(c, "example.com/", body, &admin, &e), &e, 404, "not_found");
    json_decref(body);
    body = J("{\"route000\":1,\"route001\":2}");
    expect_err(sl_change_shape(c, "example.com/", body, &admin, &e), &e, 400, "invalid_field");
    json_decref(body);
    body = J("{\"route000\":0,\"route001\":0,\"route002\":0}");
    expect_err(sl_change_shape(c, "example.com/", body, &admin, &e), &e, 400, "invalid_field");
    json_decref(body);
    body = J("{\"route000\":80,\"route001\":15,\"route002\":5}");
    ok(sl_change_shape(c, "example.com/", body, &admin, &e), &e);
    json_decref(body);
    q = query(c);
    assert_int_equal(
        json_integer_value(json_object_get(route_of(q, "example.com/", "route000"), "weight")), 80);
    assert_int_equal(
        json_integer_value(json_object_get(route_of(q, "example.com/", "route001"), "weight")), 15);
    json_decref(q);

    ok(sl_change_route_delete(c, "example.com/", "route001", &admin, &e), &e);
    expect_err(sl_change_route_delete(c, "example.com/", "route001", &admin, &e), &e, 404,
               "not_found");
    body = J("{\"service\":\"api\"}");
    ok(sl_change_route_add(c, "example.com/", body, &admin, id, sizeof(id), &e), &e);
    json_decref(body);
    assert_string_equal(id, "route003"); /* never an id just removed */
    body = J("{\"routes\":[{\"service\":\"nope\"}]}");
    expect_err(sl_change_endpoint_put(c, "c.example.com/", body, &admin, &e), &e, 400,
               "invalid_field");
    json_decref(body);
    body = J("{\"routes\":[{\"service\":\"api\"}],\"extra\":1}");
    expect_err(sl_change_endpoint_put(c, "c.example.com/", body, &admin, &e), &e, 400,
               "unknown_field");
    json_decref(body);
    ok(sl_change_endpoint_delete(c, "b.example.com/x", &admin, &e), &e);
    expect_err(sl_change_endpoint_delete(c, "b.example.com/x", &admin, &e), &e, 404, "not_found");
    sl_control_close(c);

    c = open_ctl(); /* every change replayed at reopen */
    q = query(c);
    assert_null(endpoint_of(q, "b.example.com/x"));
    assert_int_equal(
        json_integer_value(json_object_get(route_of(q, "example.com/", "route000"), "weight")), 80);
    assert_non_null(route_of(q, "example.com/", "route003"));
    assert_null(route_of(q, "example.com/", "route001"));
    json_decref(q);
    sl_control_close(c);
}

static void query_filters(void **state)
{
    struct sl_control *c = open_with(base);
    struct sl_change_err e;
    struct sl_query_filter f = {.service = "web"};
    json_t *q;

    (void)state;
    q = sl_query(c, &f, &e);
    assert_int_equal(json_array_size(json_object_get(q, "backends")), 1);
    assert_int_equal(json_array_size(json_object_get(endpoint_of(q, "example.com/"), "routes")), 1);
    json_decref(q);
    f = (struct sl_query_filter){.selector = "v=1"};
    q = sl_query(c, &f, &e);
    assert_int_equal(json_array_size(json_object_get(q, "backends")), 1);
    assert_non_null(backend_of(q, "a1"));
    json_decref(q);
    f = (struct sl_query_filter){.endpoint = "none/"};
    q = sl_query(c, &f, &e);
    assert_int_equal(json_array_size(json_object_get(q, "endpoints")), 0);
    json_decref(q);
    f = (struct sl_query_filter){.selector = "v=="};
    assert_null(sl_query(c, &f, &e));
    assert_int_equal(e.status, 400);
    sl_control_close(c);
}

static void conflicts_after_reload(void **state)
{
    struct sl_control *c = open_with(BASE_HEAD EXTRA BASE_TAIL);
    struct sl_change_err e;
    struct sl_diag d;
    json_t *q, *cf;

    (void)state;
    ok(call_add(c, "extra", "{\"name\":\"x1\",\"target\":\"127.0.0.1:9202\"}", &admin, &e), &e);
    write_cfg(base); /* the file drops service extra */
    sl_diag_init(&d);
    assert_int_equal(sl_control_reload(c, &d), 0);
    bool logged = false;

    for (size_t i = 0; i < d.n; i++)
        logged |= strstr(d.msgs[i], "extra/x1") != NULL && sl_diag_is_warning(d.msgs[i]);
    assert_true(logged);
    sl_diag_fini(&d);
    q = query(c);
    assert_null(backend_of(q, "x1"));
    cf = json_object_get(q, "conflicts");
    assert_int_equal(json_array_size(cf), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(cf, 0), "kind")),
                        "backend");
    assert_string_equal(json_string_value(json_object_get(json_array_get(cf, 0), "key")),
                        "extra/x1");
    assert_non_null(
        strstr(json_string_value(json_object_get(json_array_get(cf, 0), "reason")), "extra"));
    json_decref(q);
    assert_int_equal(store_records(c), 1); /* kept */
    sl_control_close(c);

    c = open_ctl(); /* still inactive at a start */
    q = query(c);
    assert_int_equal(json_array_size(json_object_get(q, "conflicts")), 1);
    json_decref(q);
    write_cfg(BASE_HEAD EXTRA BASE_TAIL); /* the service is back */
    sl_diag_init(&d);
    assert_int_equal(sl_control_reload(c, &d), 0);
    sl_diag_fini(&d);
    q = query(c);
    assert_non_null(backend_of(q, "x1"));
    assert_int_equal(json_array_size(json_object_get(q, "conflicts")), 0);
    json_decref(q);
    assert_int_equal(lb_weight(c, "extra", "x1"), 1);
    sl_control_close(c);
}

/* Conflicts the config loader finds (not the merge): a route naming a
 * removed service, a backend name the file now uses; every other record
 * stays active. */
static void conflicts_found_by_validation(void **state)
{
    struct sl_control *c = open_with(BASE_HEAD EXTRA BASE_TAIL);
    struct sl_change_err e;
    struct sl_diag d;
    char body[128];
    json_t *q, *ep;

    (void)state;
    for (int i = 0; i < 20; i++) {
        snprintf(body, sizeof(body), "{\"name\":\"k%d\",\"target\":\"127.0.0.1:%d\"}", i,
                 30000 + i);
        ok(call_add(c, "api", body, &admin, &e), &e);
    }
    ep = J("{\"routes\":[{\"service\":\"extra\"}]}");
    ok(sl_change_endpoint_put(c, "x.example.com/", ep, &admin, &e), &e);
    json_decref(ep);
    /* The file drops extra and takes the name k7 for a backend of web. */
    write_cfg(BASE_HEAD "      - name: k7\n        target: 127.0.0.1:9107\n" BASE_TAIL);
    sl_diag_init(&d);
    assert_int_equal(sl_control_reload(c, &d), 0);
    sl_diag_fini(&d);
    q = query(c);
    json_t *cf = json_object_get(q, "conflicts");

    assert_int_equal(json_array_size(cf), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(cf, 0), "key")), "api/k7");
    assert_non_null(
        strstr(json_string_value(json_object_get(json_array_get(cf, 0), "reason")), "k7"));
    assert_string_equal(json_string_value(json_object_get(json_array_get(cf, 1), "key")),
                        "x.example.com/");
    assert_non_null(strstr(json_string_value(json_object_get(json_array_get(cf, 1), "reason")),
                           "unknown service 'extra'"));
    assert_null(endpoint_of(q, "x.example.com/"));
    for (int i = 0; i < 20; i++) {
        snprintf(body, sizeof(body), "k%d", i);
        assert_int_equal(lb_weight(c, i == 7 ? "web" : "api", body), 1);
    }
    json_decref(q);
    sl_control_close(c);
}

static void refused_change_changes_nothing(void **state)
{
    struct sl_control *c = open_with(base);
    struct sl_change_err e;
    struct sl_router *table;
    size_t recs;
    json_t *body, *before, *after;

    (void)state;
    ok(call_patch(c, "api", "a1", "{\"weight\":2}", &admin, &e), &e);
    table = atomic_load(&sl_control_slot(c)->cur);
    recs = store_records(c);
    before = query(c);
    body = J("{\"routes\":[{\"service\":\"api\",\"weight\":1},{\"service\":\"nope\"}]}");
    expect_err(sl_change_endpoint_put(c, "example.com/", body, &admin, &e), &e, 400,
               "invalid_field");
    json_decref(body);
    expect_err(call_add(c, "api", "{\"name\":\"d9\",\"target\":\"127.0.0.1:9002\"}", &admin, &e),
               &e, 400, "invalid_field");
    assert_ptr_equal(atomic_load(&sl_control_slot(c)->cur), table);
    assert_int_equal(store_records(c), recs);
    after = query(c);
    assert_true(json_equal(before, after));
    json_decref(before);
    json_decref(after);
    assert_int_equal(lb_weight(c, "api", "a1"), 2);
    assert_int_equal(lb_weight(c, "api", "d9"), -1);
    sl_control_close(c);
}

static void unreadable_store_stops_open_and_check(void **state)
{
    char db[128];
    struct sl_control *c = NULL;
    struct sl_diag d;
    FILE *f;

    (void)state;
    write_cfg(base);
    snprintf(db, sizeof(db), "%s/sluice.db", dir);
    sl_diag_init(&d);
    assert_int_equal(sl_control_check(path, &d), 0);
    assert_int_equal(access(db, F_OK), -1); /* a check creates nothing */
    sl_diag_fini(&d);
    f = fopen(db, "w");
    assert_non_null(f);
    for (int i = 0; i < 64; i++)
        fputs("not a database at all ", f);
    fclose(f);
    sl_diag_init(&d);
    assert_int_equal(sl_control_check(path, &d), SLUICE_ERR_IO);
    assert_true(d.n >= 1 && strstr(d.msgs[0], db) != NULL);
    sl_diag_fini(&d);
    sl_diag_init(&d);
    assert_int_equal(sl_control_open(path, &c, &d), SLUICE_ERR_IO);
    assert_null(c);
    assert_true(d.n >= 1 && strstr(d.msgs[0], db) != NULL);
    print_message("  %s\n", d.msgs[0]);
    sl_diag_fini(&d);
}

/* A child applies changes in a loop and reports each one answered; it is
 * killed at a random moment; every reported change must be there after a
 * reopen. */
static void kill_loses_no_answered_change(void **state)
{
    (void)state;
    write_cfg(base);
    srand((unsigned)time(NULL));
    for (int iter = 0; iter < 10; iter++) {
        int fds[2];
        pid_t pid;
        int last = -1, n;

        assert_int_equal(pipe(fds), 0);
        pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            struct sl_control *c = NULL;
            struct sl_diag d;
            struct sl_change_err e;
            char body[128];

            close(fds[0]);
            sl_diag_init(&d);
            if (sl_control_open(path, &c, &d) != 0)
                _exit(2);
            for (int i = iter * 1000;; i++) {
                snprintf(body, sizeof(body), "{\"name\":\"k%d\",\"target\":\"127.0.0.1:%d\"}", i,
                         20000 + i);
                json_t *j = json_loads(body, 0, NULL);

                if (sl_change_backend_add(c, "web", j, &admin, NULL, &e) != 0)
                    _exit(3);
                json_decref(j);
                if (write(fds[1], &i, sizeof(i)) != sizeof(i))
                    _exit(4);
            }
        }
        close(fds[1]);
        usleep((useconds_t)(20000 + rand() % 200000));
        kill(pid, SIGKILL);
        while ((n = (int)read(fds[0], &last, sizeof(last))) > 0)
            ;
        close(fds[0]);
        waitpid(pid, NULL, 0);

        struct sl_control *c = open_ctl();
        json_t *q = query(c);
        char name[32];
        int seen = 0;

        for (int i = iter * 1000; last >= 0 && i <= last; i++) {
            snprintf(name, sizeof(name), "k%d", i);
            if (backend_of(q, name) == NULL)
                fail_msg("iteration %d: answered change %s lost", iter, name);
            seen++;
        }
        print_message("  iteration %d: %d answered changes, all there\n", iter, seen);
        json_decref(q);
        sl_control_close(c);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(backends_add_and_refusals, setup, teardown),
        cmocka_unit_test_setup_teardown(dynamic_backends_off_is_disallowed, setup, teardown),
        cmocka_unit_test_setup_teardown(agents_change_only_their_backends, setup, teardown),
        cmocka_unit_test_setup_teardown(patch_drain_weight_and_health, setup, teardown),
        cmocka_unit_test_setup_teardown(drain_in_the_file, setup, teardown),
        cmocka_unit_test_setup_teardown(backend_delete_file_and_dynamic, setup, teardown),
        cmocka_unit_test_setup_teardown(services_put_get_delete, setup, teardown),
        cmocka_unit_test_setup_teardown(tcp_listener_keeps_its_service, setup, teardown),
        cmocka_unit_test_setup_teardown(endpoints_routes_and_shape, setup, teardown),
        cmocka_unit_test_setup_teardown(query_filters, setup, teardown),
        cmocka_unit_test_setup_teardown(conflicts_after_reload, setup, teardown),
        cmocka_unit_test_setup_teardown(conflicts_found_by_validation, setup, teardown),
        cmocka_unit_test_setup_teardown(refused_change_changes_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(unreadable_store_stops_open_and_check, setup, teardown),
        cmocka_unit_test_setup_teardown(kill_loses_no_answered_change, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
