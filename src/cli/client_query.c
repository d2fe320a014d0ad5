/* sluice query and sluice token: the read-mostly verbs and their tables. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client.h"

#define CELL 512

/* Appends "?k=v&..." for the options given. 0 or -1 (out of memory). */
static int add_filter(char *path, size_t n, const char *key, const char *value)
{
    char *enc;
    size_t used = strlen(path);

    if (value == NULL)
        return 0;
    enc = sl_cli_urlencode(value);
    if (enc == NULL)
        return -1;
    (void)snprintf(path + used, n - used, "%s%s=%s", strchr(path, '?') ? "&" : "?", key, enc);
    free(enc);
    return 0;
}

static void print_endpoints(const json_t *eps)
{
    static const char *const heads[] = {"ENDPOINT", "ROUTE",  "SERVICE",
                                        "SELECTOR", "WEIGHT", "BACKENDS"};
    char c[6][CELL];
    struct sl_cli_table t;
    size_t i, k;
    json_t *ep, *r;

    if (sl_cli_table_init(&t, 6, heads) < 0)
        return;
    json_array_foreach(eps, i, ep)
    {
        const json_t *routes = json_object_get(ep, "routes");

        sl_cli_cell(json_object_get(ep, "pattern"), c[0], CELL);
        if (json_array_size(routes) == 0) {
            const char *row[6] = {c[0], NULL, NULL, NULL, NULL, NULL};

            (void)sl_cli_table_add(&t, row);
        }
        json_array_foreach(routes, k, r)
        {
            const char *row[6] = {c[0], c[1], c[2], c[3], c[4], c[5]};

            sl_cli_cell(json_object_get(r, "id"), c[1], CELL);
            sl_cli_cell(json_object_get(r, "service"), c[2], CELL);
            sl_cli_cell(json_object_get(r, "selector"), c[3], CELL);
            sl_cli_cell(json_object_get(r, "weight"), c[4], CELL);
            sl_cli_cell(json_object_get(r, "backends"), c[5], CELL);
            (void)sl_cli_table_add(&t, row);
        }
    }
    sl_cli_table_print(&t, stdout);
    sl_cli_table_free(&t);
}

/* SCORE and REQUESTS (in --json) make way for what agents add: the
 * reported load, the measured rate and where the backend is, so that a
 * row still fits about 100 columns. */
static void print_backends(const json_t *bes)
{
    static const char *const keys[] = {"name",   "service", "target", "weight", "state",
                                       "health", "active",  "rps",    "load",   "location"};
    static const char *const heads[] = {"NAME",   "SERVICE", "TARGET", "WEIGHT", "STATE",
                                        "HEALTH", "ACTIVE",  "RPS",    "LOAD",   "LOCATION"};
    enum { N = sizeof(keys) / sizeof(keys[0]) };
    char c[N][CELL];
    const char *row[N];
    struct sl_cli_table t;
    size_t i;
    json_t *b;

    if (sl_cli_table_init(&t, N, heads) < 0)
        return;
    json_array_foreach(bes, i, b)
    {
        for (size_t k = 0; k < N; k++) {
            const json_t *v = json_object_get(b, keys[k]);

            if (strcmp(keys[k], "rps") == 0)
                row[k] = sl_cli_cell_rate(v, c[k], CELL);
            else if (strcmp(keys[k], "location") == 0)
                row[k] = sl_cli_cell_location(v, c[k], CELL);
            else
                row[k] = sl_cli_cell(v, c[k], CELL);
        }
        (void)sl_cli_table_add(&t, row);
    }
    sl_cli_table_print(&t, stdout);
    sl_cli_table_free(&t);
}

static void print_conflicts(const json_t *list)
{
    static const char *const heads[] = {"KIND", "KEY", "REASON"};
    char c[3][CELL];
    struct sl_cli_table t;
    size_t i;
    json_t *x;

    if (sl_cli_table_init(&t, 3, heads) < 0)
        return;
    json_array_foreach(list, i, x)
    {
        const char *row[3] = {sl_cli_cell(json_object_get(x, "kind"), c[0], CELL),
                              sl_cli_cell(json_object_get(x, "key"), c[1], CELL),
                              sl_cli_cell(json_object_get(x, "reason"), c[2], CELL)};
        (void)sl_cli_table_add(&t, row);
    }
    sl_cli_table_print(&t, stdout);
    sl_cli_table_free(&t);
}

int sl_cli_query(const struct sl_cli *c, const struct sl_cli_args *a, const char *const *pos,
                 size_t npos)
{
    char path[4096] = "/v1/query";
    json_t *q = NULL, *conflicts;
    int rc;

    (void)pos;
    (void)npos;
    if (add_filter(path, sizeof(path), "service", sl_cli_opt(a, "--service")) < 0 ||
        add_filter(path, sizeof(path), "endpoint", sl_cli_opt(a, "--endpoint")) < 0 ||
        add_filter(path, sizeof(path), "selector", sl_cli_opt(a, "--selector")) < 0) {
        (void)fprintf(stderr, "sluice: out of memory\n");
        return 1;
    }
    rc = sl_cli_call(c, "GET", path, NULL, &q);
    if (rc != 0)
        return rc;
    if (c->json) {
        sl_cli_print_json(q);
    } else {
        print_endpoints(json_object_get(q, "endpoints"));
        printf("\n");
        print_backends(json_object_get(q, "backends"));
        conflicts = json_object_get(q, "conflicts");
        if (json_array_size(conflicts) > 0) {
            printf("\ninactive stored changes (they conflict with the configuration file):\n");
            print_conflicts(conflicts);
        }
    }
    json_decref(q);
    return 0;
}

int sl_cli_token_create(const struct sl_cli *c, const struct sl_cli_args *a, const char *const *pos,
                        size_t npos)
{
    const char *scope = sl_cli_opt(a, "--scope");
    const char *name = sl_cli_opt(a, "--name");
    json_t *body = json_object(), *t = NULL;
    char id[CELL], secret[CELL];
    int rc;

    (void)pos;
    (void)npos;
    if (scope == NULL) {
        json_decref(body);
        (void)fprintf(stderr, "sluice token create: missing --scope admin|agent|read\n"
                              "usage: sluice token create --scope admin|agent|read [--name N]\n");
        return 2;
    }
    if (body == NULL || json_object_set_new(body, "scope", json_string(scope)) != 0 ||
        (name != NULL && json_object_set_new(body, "name", json_string(name)) != 0)) {
        json_decref(body);
        (void)fprintf(stderr, "sluice: out of memory\n");
        return 1;
    }
    rc = sl_cli_call(c, "POST", "/v1/tokens", body, &t);
    if (rc != 0)
        return rc;
    if (c->json) {
        sl_cli_print_json(t);
    } else {
        printf("created token %s (%s scope)\n", sl_cli_cell(json_object_get(t, "id"), id, CELL),
               scope);
        printf("%s\n", sl_cli_cell(json_object_get(t, "token"), secret, CELL));
        (void)fprintf(stderr, "sluice: the secret is shown only once: store it now\n");
    }
    json_decref(t);
    return 0;
}

int sl_cli_token_list(const struct sl_cli *c, const struct sl_cli_args *a, const char *const *pos,
                      size_t npos)
{
    static const char *const heads[] = {"ID", "NAME", "SCOPE", "CREATED", "LAST USED"};
    char cells[5][CELL];
    struct sl_cli_table t;
    json_t *list = NULL, *tok;
    size_t i;
    int rc;

    (void)a;
    (void)pos;
    (void)npos;
    rc = sl_cli_call(c, "GET", "/v1/tokens", NULL, &list);
    if (rc != 0)
        return rc;
    if (c->json) {
        sl_cli_print_json(list);
    } else if (sl_cli_table_init(&t, 5, heads) == 0) {
        json_array_foreach(list, i, tok)
        {
            const char *row[5] = {
                sl_cli_cell(json_object_get(tok, "id"), cells[0], CELL),
                sl_cli_cell(json_object_get(tok, "name"), cells[1], CELL),
                sl_cli_cell(json_object_get(tok, "scope"), cells[2], CELL),
                sl_cli_cell_time(json_object_get(tok, "created"), "-", cells[3], CELL),
                sl_cli_cell_time(json_object_get(tok, "last_used"), "never", cells[4], CELL),
            };
            (void)sl_cli_table_add(&t, row);
        }
        sl_cli_table_print(&t, stdout);
        sl_cli_table_free(&t);
    }
    json_decref(list);
    return 0;
}

int sl_cli_token_revoke(const struct sl_cli *c, const struct sl_cli_args *a, const char *const *pos,
                        size_t npos)
{
    char path[1024], msg[1024];
    char *id = sl_cli_urlencode(pos[0]);

    (void)a;
    (void)npos;
    if (id == NULL)
        return 1;
    (void)snprintf(path, sizeof(path), "/v1/tokens/%s", id);
    free(id);
    (void)snprintf(msg, sizeof(msg), "revoked token %s", pos[0]);
    return sl_cli_change(c, "DELETE", path, NULL, msg);
}
