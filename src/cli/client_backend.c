/* sluice backend and sluice service: /v1/services/{svc}[/backends/{name}]. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client.h"
#include "net/log.h"

static int oom(json_t *j)
{
    json_decref(j);
    (void)fprintf(stderr, "sluice: out of memory\n");
    return 1;
}

/* "/v1/services/SVC[/backends/NAME]" with both URL-encoded. 0 or -1. */
static int svc_path(char *path, size_t n, const char *svc, const char *name)
{
    char *s = sl_cli_urlencode(svc), *b = name ? sl_cli_urlencode(name) : NULL;
    int rc = s != NULL && (name == NULL || b != NULL) ? 0 : -1;

    if (rc == 0)
        (void)snprintf(path, n, "/v1/services/%s%s%s", s, b ? "/backends/" : "", b ? b : "");
    free(s);
    free(b);
    return rc;
}

/* A usage error of a verb: its message, and exit status 2. */
static int bad(const char *verb, const char *what, const char *arg)
{
    (void)fprintf(stderr, "sluice %s: '%s' %s\n(see sluice %s --help)\n", verb, arg, what, verb);
    return 2;
}

int sl_cli_backend_add(const struct sl_cli *c, const struct sl_cli_args *a, const char *const *pos,
                       size_t npos)
{
    static const char *const timeouts[][2] = {
        {"--connect-timeout", "connect_timeout"},
        {"--first-byte-timeout", "first_byte_timeout"},
        {"--between-bytes-timeout", "between_bytes_timeout"},
    };
    json_t *body = json_object(), *labels = json_object();
    char path[2048], msg[1024];
    long long w;
    int rc = 0;

    (void)npos;
    if (body == NULL || labels == NULL) {
        json_decref(labels);
        return oom(body);
    }
    rc |= json_object_set_new(body, "name", json_string(pos[1]));
    rc |= json_object_set_new(body, "target", json_string(pos[2]));
    for (size_t i = 0; i < a->nopts; i++) {
        const char *name = a->opts[i].name, *v = a->opts[i].value, *eq;

        if (strcmp(name, "--weight") == 0) {
            if (sl_cli_int(v, 0, SL_CLI_MAX_WEIGHT, &w) < 0) {
                json_decref(labels);
                json_decref(body);
                return bad("backend add", "(--weight) is not an integer in " SL_CLI_WEIGHT_RANGE,
                           v);
            }
            rc |= json_object_set_new(body, "weight", json_integer(w));
        } else if (strcmp(name, "--label") == 0) {
            eq = strchr(v, '=');
            if (eq == NULL || eq == v) {
                json_decref(labels);
                json_decref(body);
                return bad("backend add", "(--label) is not KEY=VALUE", v);
            }
            rc |= json_object_setn_new(labels, v, (size_t)(eq - v), json_string(eq + 1));
        } else if (strcmp(name, "--override-host") == 0) {
            rc |= json_object_set_new(body, "override_host", json_string(v));
        } else {
            for (size_t k = 0; k < 3; k++) /* durations go as written: "2s", "500ms" */
                if (strcmp(name, timeouts[k][0]) == 0)
                    rc |= json_object_set_new(body, timeouts[k][1], json_string(v));
        }
    }
    if (json_object_size(labels) > 0)
        rc |= json_object_set(body, "labels", labels);
    json_decref(labels);
    if (rc != 0 || svc_path(path, sizeof(path), pos[0], NULL) < 0)
        return oom(body);
    (void)strncat(path, "/backends", sizeof(path) - strlen(path) - 1);
    (void)snprintf(msg, sizeof(msg), "added backend %s (%s) to service %s", pos[1], pos[2], pos[0]);
    return sl_cli_change(c, "POST", path, body, msg);
}

int sl_cli_backend_rm(const struct sl_cli *c, const struct sl_cli_args *a, const char *const *pos,
                      size_t npos)
{
    char path[2048], msg[1024];

    (void)a;
    (void)npos;
    if (svc_path(path, sizeof(path), pos[0], pos[1]) < 0)
        return oom(NULL);
    (void)snprintf(msg, sizeof(msg),
                   "removed backend %s from service %s (it leaves when its connections end)",
                   pos[1], pos[0]);
    return sl_cli_change(c, "DELETE", path, NULL, msg);
}

/* PATCH .../backends/NAME with {key: value}. */
static int patch(const struct sl_cli *c, const char *const *pos, const char *key, json_t *value,
                 const char *done)
{
    char path[2048], msg[1024];
    json_t *body = json_object();

    if (body == NULL || json_object_set_new(body, key, value) != 0 ||
        svc_path(path, sizeof(path), pos[0], pos[1]) < 0)
        return oom(body);
    (void)snprintf(msg, sizeof(msg), "backend %s of service %s: %s", pos[1], pos[0], done);
    return sl_cli_change(c, "PATCH", path, body, msg);
}

int sl_cli_backend_drain(const struct sl_cli *c, const struct sl_cli_args *a,
                         const char *const *pos, size_t npos)
{
    (void)a;
    (void)npos;
    return patch(c, pos, "drain", json_true(), "draining (no new requests)");
}

int sl_cli_backend_undrain(const struct sl_cli *c, const struct sl_cli_args *a,
                           const char *const *pos, size_t npos)
{
    (void)a;
    (void)npos;
    return patch(c, pos, "drain", json_false(), "back in rotation");
}

int sl_cli_backend_weight(const struct sl_cli *c, const struct sl_cli_args *a,
                          const char *const *pos, size_t npos)
{
    char done[64];
    long long w;

    (void)a;
    (void)npos;
    if (sl_cli_int(pos[2], 0, SL_CLI_MAX_WEIGHT, &w) < 0)
        return bad("backend weight", "is not an integer in " SL_CLI_WEIGHT_RANGE, pos[2]);
    (void)snprintf(done, sizeof(done), "weight %lld", w);
    return patch(c, pos, "weight", json_integer(w), done);
}

int sl_cli_backend_mark(const struct sl_cli *c, const struct sl_cli_args *a, const char *const *pos,
                        size_t npos)
{
    char done[64];

    (void)a;
    (void)npos;
    if (strcmp(pos[2], "healthy") != 0 && strcmp(pos[2], "unhealthy") != 0)
        return bad("backend mark", "is neither healthy nor unhealthy", pos[2]);
    (void)snprintf(done, sizeof(done), "marked %s", pos[2]);
    return patch(c, pos, "health", json_string(pos[2]), done);
}

int sl_cli_service_get(const struct sl_cli *c, const struct sl_cli_args *a, const char *const *pos,
                       size_t npos)
{
    char path[2048];
    json_t *r = NULL;
    int rc;

    (void)a;
    (void)npos;
    if (svc_path(path, sizeof(path), pos[0], NULL) < 0)
        return oom(NULL);
    rc = sl_cli_call(c, "GET", path, NULL, &r);
    if (rc == 0) /* a snapshot reads best as the JSON that service put takes back */
        sl_cli_print_json(r);
    json_decref(r);
    return rc;
}

int sl_cli_service_put(const struct sl_cli *c, const struct sl_cli_args *a, const char *const *pos,
                       size_t npos)
{
    const char *file = pos[1];
    char path[2048], msg[1024];
    json_error_t jerr;
    json_t *body;
    FILE *f;

    (void)a;
    (void)npos;
    f = strcmp(file, "-") == 0 ? stdin : fopen(file, "r");
    if (f == NULL) {
        (void)fprintf(stderr, "sluice: cannot open %s: %s\n", file, sl_errstr(errno));
        return 1;
    }
    body = json_loadf(f, 0, &jerr);
    if (f != stdin)
        (void)fclose(f);
    if (body == NULL) {
        (void)fprintf(stderr, "sluice: %s:%d:%d: not a JSON object: %s\n",
                      strcmp(file, "-") == 0 ? "<stdin>" : file, jerr.line, jerr.column, jerr.text);
        return 1;
    }
    if (svc_path(path, sizeof(path), pos[0], NULL) < 0)
        return oom(body);
    (void)snprintf(msg, sizeof(msg), "service %s registered", pos[0]);
    return sl_cli_change(c, "PUT", path, body, msg);
}

int sl_cli_service_rm(const struct sl_cli *c, const struct sl_cli_args *a, const char *const *pos,
                      size_t npos)
{
    char path[2048], msg[1024];

    (void)a;
    (void)npos;
    if (svc_path(path, sizeof(path), pos[0], NULL) < 0)
        return oom(NULL);
    (void)snprintf(msg, sizeof(msg), "service %s unregistered", pos[0]);
    return sl_cli_change(c, "DELETE", path, NULL, msg);
}
