/* Routing of the admin API: method + path to a handler, the token and its
 * scope, and the audit line of every accepted change.
 *
 * Order of checks: an unknown path is 404 and a known path with a method
 * it does not take is 405 (with Allow), both before the token is looked
 * at, so a client learns the API's shape from its errors; then 401 for a
 * missing or unknown token, 403 for a scope too weak, then the body. */
#include "admin/api.h"

#include <stdio.h>
#include <string.h>

#include "admin/tokens.h"
#include "net/log.h"

typedef void (*api_fn_t)(struct sl_api_call *k);

/* A method a route takes: its handler and the weakest scope allowed. */
struct api_method {
    enum sl_http_method m;
    enum sl_scope scope;
    api_fn_t fn;
};

/* A path: its segments, "*" matching any one segment. */
struct api_route {
    const char *segs[SL_API_MAX_SEGS];
    size_t nseg;
    const char *allow;
    struct api_method methods[3];
};

#define R SL_SCOPE_READ
#define G SL_SCOPE_AGENT
#define A SL_SCOPE_ADMIN

static const struct api_route routes[] = {
    {{"healthz"}, 1, "GET", {{SL_METHOD_GET, 0, NULL}}},
    {{"metrics"}, 1, "GET", {{SL_METHOD_GET, R, sl_api_metrics}}},
    {{"v1", "query"}, 2, "GET", {{SL_METHOD_GET, R, sl_api_query}}},
    {{"q"}, 1, "GET", {{SL_METHOD_GET, R, sl_api_q}}},
    {{"v1", "agents"}, 2, "POST", {{SL_METHOD_POST, G, sl_api_agent_register}}},
    {{"v1", "agents", "*"}, 3, "DELETE", {{SL_METHOD_DELETE, G, sl_api_agent_delete}}},
    {{"v1", "agents", "*", "heartbeat"}, 4, "POST", {{SL_METHOD_POST, G, sl_api_agent_heartbeat}}},
    {{"v1", "services", "*"},
     3,
     "GET, PUT, DELETE",
     {{SL_METHOD_GET, R, sl_api_service_get},
      {SL_METHOD_PUT, A, sl_api_service_put},
      {SL_METHOD_DELETE, A, sl_api_service_delete}}},
    {{"v1", "services", "*", "backends"}, 4, "POST", {{SL_METHOD_POST, G, sl_api_backend_add}}},
    {{"v1", "services", "*", "backends", "*"},
     5,
     "PATCH, DELETE",
     {{SL_METHOD_PATCH, G, sl_api_backend_patch}, {SL_METHOD_DELETE, G, sl_api_backend_delete}}},
    {{"v1", "endpoints", "*"},
     3,
     "PUT, DELETE",
     {{SL_METHOD_PUT, A, sl_api_endpoint_put}, {SL_METHOD_DELETE, A, sl_api_endpoint_delete}}},
    {{"v1", "endpoints", "*", "routes"}, 4, "POST", {{SL_METHOD_POST, A, sl_api_route_add}}},
    {{"v1", "endpoints", "*", "routes", "*"},
     5,
     "PATCH, DELETE",
     {{SL_METHOD_PATCH, A, sl_api_route_patch}, {SL_METHOD_DELETE, A, sl_api_route_delete}}},
    {{"v1", "endpoints", "*", "shape"}, 4, "PUT", {{SL_METHOD_PUT, A, sl_api_shape}}},
    {{"v1", "tokens"},
     2,
     "GET, POST",
     {{SL_METHOD_GET, A, sl_api_token_list}, {SL_METHOD_POST, A, sl_api_token_create}}},
    {{"v1", "tokens", "*"}, 3, "DELETE", {{SL_METHOD_DELETE, A, sl_api_token_revoke}}},
};

#undef R
#undef G
#undef A

/* Splits and decodes the path into k->seg. 0, or -1 (400 already set). */
static int split_path(struct sl_api_call *k)
{
    const char *p = k->req->path;
    size_t n = k->req->path_len, i = 1;

    if (n == 0 || p[0] != '/') {
        sl_api_error(k->resp, 400, "invalid_path", "the path must start with '/'");
        return -1;
    }
    k->nseg = 0;
    while (i <= n) {
        const char *slash = i < n ? memchr(p + i, '/', n - i) : NULL;
        size_t end = slash != NULL ? (size_t)(slash - p) : n;

        if (end == i && end == n && k->nseg > 0)
            break; /* one trailing slash: "/v1/tokens/" is "/v1/tokens" */
        if (k->nseg == SL_API_MAX_SEGS)
            return 1; /* longer than any route: 404 */
        if (sl_api_url_decode(p + i, end - i, false, k->seg[k->nseg], SL_API_SEG_MAX) != 0) {
            sl_api_error(k->resp, 400, "invalid_path",
                         "a path segment has a bad %%-escape, a NUL byte or is too long");
            return -1;
        }
        k->nseg++;
        i = end + 1;
    }
    return 0;
}

static const struct api_route *find_route(const struct sl_api_call *k)
{
    for (size_t r = 0; r < sizeof(routes) / sizeof(routes[0]); r++) {
        const struct api_route *rt = &routes[r];
        size_t s = 0;

        if (rt->nseg != k->nseg)
            continue;
        while (s < rt->nseg &&
               (strcmp(rt->segs[s], "*") == 0 ? k->seg[s][0] != '\0'
                                              : strcmp(rt->segs[s], k->seg[s]) == 0))
            s++;
        if (s == rt->nseg)
            return rt;
    }
    return NULL;
}

/* 0 with the token in *info, or -1 with the 401 set. */
static int authenticate(struct sl_api_call *k, struct sl_token_info *info)
{
    const char *v = k->req->auth;
    size_t n = k->req->auth_len;

    if (v == NULL) {
        sl_api_error(k->resp, 401, "unauthorized", "missing Authorization: Bearer TOKEN");
    } else if (n < 7 || strncasecmp(v, "Bearer ", 7) != 0) {
        sl_api_error(k->resp, 401, "unauthorized", "the Authorization scheme must be Bearer");
    } else if (!sl_tokens_verify(k->ctx->tokens, v + 7, n - 7, info)) {
        sl_api_error(k->resp, 401, "unauthorized", "unknown or revoked token");
    } else {
        return 0;
    }
    k->resp->www_authenticate = true;
    return -1;
}

static void audit(const struct sl_api_call *k, const struct sl_token_info *info)
{
    const struct sl_api_req *q = k->req;
    int plen = q->path_len > 2048 ? 2048 : (int)q->path_len;

    sl_log(SL_LOG_INFO, "audit: %s (%s) %.*s %.*s -> %d", info->id, info->name, (int)q->method_len,
           q->method_name, plen, q->path, k->resp->status);
}

static bool needs_body(enum sl_http_method m)
{
    return m == SL_METHOD_PUT || m == SL_METHOD_POST || m == SL_METHOD_PATCH;
}

/* The scope, the body and the handler, once the route is known. */
static void dispatch(struct sl_api_call *k, const struct api_method *m)
{
    struct sl_token_info info;

    memset(&info, 0, sizeof(info));
    if (m->fn == NULL) {
        sl_api_json(k->resp, 200, json_pack("{s:s}", "status", "ok"));
        return;
    }
    if (!(m->fn == sl_api_metrics && k->ctx->metrics_public)) {
        if (authenticate(k, &info) != 0)
            return;
        if (info.scope < m->scope) {
            const char *sn = sl_scope_name(info.scope);

            sl_api_error(k->resp, 403, "forbidden", "%s %s token cannot %.*s %.*s: it needs %s",
                         sn[0] != '\0' && strchr("aeiou", sn[0]) != NULL ? "an" : "a", sn,
                         (int)k->req->method_len, k->req->method_name,
                         (int)(k->req->path_len > 256 ? 256 : k->req->path_len), k->req->path,
                         sl_scope_name(m->scope));
            return;
        }
        k->who.token_id = info.id;
        k->who.scope = info.scope;
    }
    if (needs_body(m->m) &&
        sl_api_parse_body(k->req->body, k->req->body_len, &k->body, k->resp) != 0)
        return;
    m->fn(k);
    json_decref(k->body);
    k->body = NULL;
    if (k->req->method != SL_METHOD_GET && k->resp->status >= 200 && k->resp->status < 300)
        audit(k, &info);
}

void sl_api_handle(const struct sl_api_ctx *ctx, const struct sl_api_req *req,
                   struct sl_api_resp *resp)
{
    struct sl_api_call k;
    const struct api_route *rt;
    int rc;

    memset(resp, 0, sizeof(*resp));
    memset(&k, 0, sizeof(k));
    k.ctx = ctx;
    k.req = req;
    k.resp = resp;
    rc = split_path(&k);
    if (rc < 0)
        return;
    rt = rc == 0 ? find_route(&k) : NULL;
    if (rt == NULL) {
        sl_api_error(resp, 404, "not_found", "no such API path: %.*s",
                     (int)(req->path_len > 256 ? 256 : req->path_len), req->path);
        return;
    }
    for (size_t i = 0; i < sizeof(rt->methods) / sizeof(rt->methods[0]); i++) {
        if (rt->methods[i].m == req->method && rt->methods[i].m != SL_METHOD_OTHER) {
            dispatch(&k, &rt->methods[i]);
            return;
        }
    }
    sl_api_error(resp, 405, "method_not_allowed", "%.*s takes %s",
                 (int)(req->path_len > 256 ? 256 : req->path_len), req->path, rt->allow);
    resp->allow = rt->allow;
}
