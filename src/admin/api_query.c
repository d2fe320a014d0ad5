/* The reads that span everything: GET /v1/query and GET /metrics. */
#include <stdlib.h>

#include "admin/api.h"

#define PARAM_MAX 1024

void sl_api_query(struct sl_api_call *k)
{
    static const char *const names[] = {"service", "endpoint", "selector"};
    char vals[3][PARAM_MAX];
    const char *set[3] = {NULL, NULL, NULL};
    struct sl_change_err e = {0};
    json_t *j;

    for (size_t i = 0; i < 3; i++) {
        int rc = sl_api_query_param(k->req->query, k->req->query_len, names[i], vals[i],
                                    sizeof(vals[i]));

        if (rc < 0) {
            sl_api_error(k->resp, 400, "invalid_field",
                         "%s: bad %%-escape, NUL byte or longer than %d bytes", names[i],
                         PARAM_MAX - 1);
            return;
        }
        if (rc > 0)
            set[i] = vals[i];
    }
    struct sl_query_filter f = {.service = set[0], .endpoint = set[1], .selector = set[2]};

    j = sl_query(k->ctx->c, &f, &e);
    if (j == NULL)
        sl_api_change_error(k->resp, &e);
    else
        sl_api_json(k->resp, 200, j);
}

void sl_api_metrics(struct sl_api_call *k)
{
    char *out = NULL;
    size_t len = 0;

    if (k->ctx->metrics == NULL) {
        sl_api_error(k->resp, 503, "unavailable", "metrics are not available in this build");
        return;
    }
    if (k->ctx->metrics(k->ctx->metrics_arg, &out, &len) != 0) {
        free(out);
        sl_api_error(k->resp, 500, "internal", "rendering the metrics failed");
        return;
    }
    sl_api_resp_free(k->resp);
    k->resp->status = 200;
    k->resp->content_type = "text/plain; version=0.0.4";
    k->resp->body = out;
    k->resp->body_len = len;
}
