/* sluice endpoint, route and shape: /v1/endpoints/{pattern}[/routes|/shape]. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client.h"

static int oom(json_t *j)
{
    json_decref(j);
    (void)fprintf(stderr, "sluice: out of memory\n");
    return 1;
}

static int bad(json_t *j, const char *verb, const char *msg)
{
    json_decref(j);
    (void)fprintf(stderr, "sluice %s: %s\n(see sluice %s --help)\n", verb, msg, verb);
    return 2;
}

/* "/v1/endpoints/PATTERN<tail>[ID]", the pattern and the id encoded. */
static int ep_path(char *path, size_t n, const char *pattern, const char *tail, const char *id)
{
    char *p = sl_cli_urlencode(pattern), *i = id ? sl_cli_urlencode(id) : NULL;
    int rc = p != NULL && (id == NULL || i != NULL) ? 0 : -1;

    if (rc == 0)
        (void)snprintf(path, n, "/v1/endpoints/%s%s%s", p, tail, i ? i : "");
    free(p);
    free(i);
    return rc;
}

int sl_cli_endpoint_add(const struct sl_cli *c, const struct sl_cli_args *a, const char *const *pos,
                        size_t npos)
{
    json_t *body = json_object(), *routes = json_array();
    char path[4096], err[512], msg[1024];

    (void)npos;
    if (body == NULL || routes == NULL || json_object_set_new(body, "routes", routes) != 0) {
        json_decref(routes);
        return oom(body);
    }
    for (size_t i = 0; i < a->nopts; i++) {
        json_t *r = json_object();

        if (strcmp(a->opts[i].name, "--route") != 0)
            continue;
        if (r == NULL || json_array_append_new(routes, r) != 0)
            return oom(body);
        if (sl_cli_route_spec(a->opts[i].value, r, err, sizeof(err)) < 0)
            return bad(body, "endpoint add", err);
    }
    if (ep_path(path, sizeof(path), pos[0], "", NULL) < 0)
        return oom(body);
    (void)snprintf(msg, sizeof(msg), "endpoint %s set with %zu route(s)", pos[0],
                   json_array_size(routes));
    return sl_cli_change(c, "PUT", path, body, msg);
}

int sl_cli_endpoint_rm(const struct sl_cli *c, const struct sl_cli_args *a, const char *const *pos,
                       size_t npos)
{
    char path[4096], msg[1024];

    (void)a;
    (void)npos;
    if (ep_path(path, sizeof(path), pos[0], "", NULL) < 0)
        return oom(NULL);
    (void)snprintf(msg, sizeof(msg), "endpoint %s removed", pos[0]);
    return sl_cli_change(c, "DELETE", path, NULL, msg);
}

int sl_cli_route_add(const struct sl_cli *c, const struct sl_cli_args *a, const char *const *pos,
                     size_t npos)
{
    const char *sel = sl_cli_opt(a, "--selector"), *ws = sl_cli_opt(a, "--weight");
    json_t *body = json_object(), *r = NULL;
    char path[4096], id[256], msg[1024];
    long long w;
    int rc = 0;

    (void)npos;
    if (body == NULL)
        return oom(NULL);
    if (ws != NULL && sl_cli_int(ws, 0, SL_CLI_MAX_WEIGHT, &w) < 0)
        return bad(body, "route add", "--weight is not an integer in " SL_CLI_WEIGHT_RANGE);
    /* The API refuses selector-only routes: say so before calling it. */
    if (pos[1][0] == '\0')
        return bad(body, "route add", "SVC is required (a route names its service)");
    rc |= json_object_set_new(body, "service", json_string(pos[1]));
    if (sel != NULL)
        rc |= json_object_set_new(body, "selector", json_string(sel));
    if (ws != NULL)
        rc |= json_object_set_new(body, "weight", json_integer(w));
    if (rc != 0 || ep_path(path, sizeof(path), pos[0], "/routes", NULL) < 0)
        return oom(body);
    rc = sl_cli_call(c, "POST", path, body, &r);
    if (rc == 0) {
        (void)snprintf(msg, sizeof(msg), "added route %s to endpoint %s",
                       sl_cli_cell(json_object_get(r, "id"), id, sizeof(id)), pos[0]);
        sl_cli_done(c, r, msg);
    }
    json_decref(r);
    return rc;
}

int sl_cli_route_rm(const struct sl_cli *c, const struct sl_cli_args *a, const char *const *pos,
                    size_t npos)
{
    char path[4096], msg[1024];

    (void)a;
    (void)npos;
    if (ep_path(path, sizeof(path), pos[0], "/routes/", pos[1]) < 0)
        return oom(NULL);
    (void)snprintf(msg, sizeof(msg), "removed route %s of endpoint %s", pos[1], pos[0]);
    return sl_cli_change(c, "DELETE", path, NULL, msg);
}

int sl_cli_route_weight(const struct sl_cli *c, const struct sl_cli_args *a, const char *const *pos,
                        size_t npos)
{
    json_t *body = json_object();
    char path[4096], msg[1024];
    long long w;

    (void)a;
    (void)npos;
    if (body == NULL)
        return oom(NULL);
    if (sl_cli_int(pos[2], 0, SL_CLI_MAX_WEIGHT, &w) < 0)
        return bad(body, "route weight", "the weight is not an integer in " SL_CLI_WEIGHT_RANGE);
    if (json_object_set_new(body, "weight", json_integer(w)) != 0 ||
        ep_path(path, sizeof(path), pos[0], "/routes/", pos[1]) < 0)
        return oom(body);
    (void)snprintf(msg, sizeof(msg), "route %s of endpoint %s: weight %lld", pos[1], pos[0], w);
    return sl_cli_change(c, "PATCH", path, body, msg);
}

int sl_cli_shape(const struct sl_cli *c, const struct sl_cli_args *a, const char *const *pos,
                 size_t npos)
{
    json_t *body = json_object();
    char path[4096], msg[1024];

    (void)a;
    if (body == NULL)
        return oom(NULL);
    for (size_t i = 1; i < npos; i++) {
        const char *eq = strchr(pos[i], '=');
        long long w;

        if (eq == NULL || eq == pos[i] || sl_cli_int(eq + 1, 0, SL_CLI_MAX_WEIGHT, &w) < 0)
            return bad(body, "shape", "each weight is ROUTE=N (route000=90)");
        if (json_object_setn_new(body, pos[i], (size_t)(eq - pos[i]), json_integer(w)) != 0)
            return oom(body);
    }
    if (ep_path(path, sizeof(path), pos[0], "/shape", NULL) < 0)
        return oom(body);
    (void)snprintf(msg, sizeof(msg), "endpoint %s: route weights set", pos[0]);
    return sl_cli_change(c, "PUT", path, body, msg);
}
