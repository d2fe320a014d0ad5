/* The admin API's request handling, apart from the sockets: server.c reads
 * and parses an HTTP request, hands it to sl_api_handle() and writes the
 * response it gets back. No I/O here, so the fuzz target drives it alone.
 *
 * Calls run one way: server.c -> api.c (routing, auth, audit) -> the
 * resource files (api_services.c, api_endpoints.c, api_tokens.c) ->
 * api_util.c (responses, bodies, URL decoding). */
#ifndef SL_ADMIN_API_H
#define SL_ADMIN_API_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "admin/admin.h"
#include "control/change.h"
#include "http/parse.h"

struct sl_tokens;

#define SL_API_MAX_BODY ((size_t)1 << 20) /* 1 MiB: larger bodies get 413 */
#define SL_API_MAX_SEGS 8
#define SL_API_SEG_MAX  1024 /* a decoded path segment, NUL included */

/* What every handler needs; owned by the server (or the fuzz target). */
struct sl_api_ctx {
    struct sl_control *c;
    struct sl_tokens *tokens;
    bool metrics_public;
    sl_admin_metrics_fn metrics;
    void *metrics_arg;
};

/* One parsed request; every pointer is borrowed for the call. */
struct sl_api_req {
    enum sl_http_method method;
    const char *method_name;
    size_t method_len;
    const char *path; /* as sent, without the query */
    size_t path_len;
    const char *query; /* without the '?'; may be NULL */
    size_t query_len;
    const char *auth; /* the Authorization value; NULL when absent */
    size_t auth_len;
    const char *body;
    size_t body_len;
    const char *remote; /* the client's "ip:port"; "" or NULL when unknown */
};

/* The answer: <body> is malloc'd (the caller frees it), <content_type>
 * and <allow> are static. */
struct sl_api_resp {
    int status;
    const char *content_type;
    char *body;
    size_t body_len;
    const char *allow;     /* 405: the methods the path takes */
    bool www_authenticate; /* 401 */
};

/* A request on its way through a handler. */
struct sl_api_call {
    const struct sl_api_ctx *ctx;
    const struct sl_api_req *req;
    struct sl_api_resp *resp;
    char seg[SL_API_MAX_SEGS][SL_API_SEG_MAX]; /* decoded path segments */
    size_t nseg;
    json_t *body; /* the parsed JSON object for PUT, POST and PATCH */
    struct sl_change_who who;
};

/* Routes <req>, checks its token and scope, runs the handler and writes
 * one audit line for an accepted change. Always fills <resp>. */
void sl_api_handle(const struct sl_api_ctx *ctx, const struct sl_api_req *req,
                   struct sl_api_resp *resp);
void sl_api_resp_free(struct sl_api_resp *resp);

/* api_util.c: responses. */
void sl_api_json(struct sl_api_resp *r, int status, json_t *j); /* consumes <j>; NULL: no body */
void sl_api_error(struct sl_api_resp *r, int status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void sl_api_change_error(struct sl_api_resp *r, const struct sl_change_err *e);
/* Percent-decodes s[0..n) into out[cap] ('+' stays '+' unless <plus>);
 * 0, or -1 on a bad escape, a NUL byte or overflow. */
int sl_api_url_decode(const char *s, size_t n, bool plus, char *out, size_t cap);
/* The value of <name> in the query string (decoded, '+' is a space) into
 * out[cap]: 1 found, 0 absent, -1 malformed. */
int sl_api_query_param(const char *q, size_t qlen, const char *name, char *out, size_t cap);
/* Parses <body> as one JSON object: 0, or -1 with a 400 invalid_json in
 * <r>. */
int sl_api_parse_body(const char *body, size_t len, json_t **out, struct sl_api_resp *r);

/* The element of GET /v1/query's <list> ("backends", "endpoints") under
 * filter <f> whose <key> is <value>: a new reference, or NULL. */
json_t *sl_api_query_find(struct sl_control *c, const struct sl_query_filter *f, const char *list,
                          const char *key, const char *value);

/* The resource handlers (segments already matched by api.c). */
void sl_api_query(struct sl_api_call *k);
void sl_api_service_get(struct sl_api_call *k);
void sl_api_service_put(struct sl_api_call *k);
void sl_api_service_delete(struct sl_api_call *k);
void sl_api_backend_add(struct sl_api_call *k);
void sl_api_backend_patch(struct sl_api_call *k);
void sl_api_backend_delete(struct sl_api_call *k);
void sl_api_endpoint_put(struct sl_api_call *k);
void sl_api_endpoint_delete(struct sl_api_call *k);
void sl_api_route_add(struct sl_api_call *k);
void sl_api_route_patch(struct sl_api_call *k);
void sl_api_route_delete(struct sl_api_call *k);
void sl_api_shape(struct sl_api_call *k);
void sl_api_token_create(struct sl_api_call *k);
void sl_api_token_list(struct sl_api_call *k);
void sl_api_token_revoke(struct sl_api_call *k);
void sl_api_metrics(struct sl_api_call *k);
void sl_api_agent_register(struct sl_api_call *k);
void sl_api_agent_heartbeat(struct sl_api_call *k);
void sl_api_agent_delete(struct sl_api_call *k);
void sl_api_q(struct sl_api_call *k);

#endif /* SL_ADMIN_API_H */
