/* /v1/endpoints/{pattern}, its routes and its shape. The pattern comes
 * URL-decoded ("example.com%2Fblog" is "example.com/blog"). */
#include "admin/api.h"

/* The endpoint <pattern> as GET /v1/query shows it, or a stub. */
static json_t *query_endpoint(struct sl_api_call *k, const char *pattern)
{
    struct sl_query_filter f = {.endpoint = pattern};
    json_t *ep = sl_api_query_find(k->ctx->c, &f, "endpoints", "pattern", pattern);

    return ep != NULL ? ep : json_pack("{s:s}", "pattern", pattern);
}

void sl_api_endpoint_put(struct sl_api_call *k)
{
    struct sl_change_err e = {0};

    if (sl_change_endpoint_put(k->ctx->c, k->seg[2], k->body, &k->who, &e) != 0)
        sl_api_change_error(k->resp, &e);
    else
        sl_api_json(k->resp, 200, query_endpoint(k, k->seg[2]));
}

void sl_api_endpoint_delete(struct sl_api_call *k)
{
    struct sl_change_err e = {0};

    if (sl_change_endpoint_delete(k->ctx->c, k->seg[2], &k->who, &e) != 0)
        sl_api_change_error(k->resp, &e);
    else
        sl_api_json(k->resp, 204, NULL);
}

void sl_api_route_add(struct sl_api_call *k)
{
    struct sl_change_err e = {0};
    char id[64] = "";

    if (sl_change_route_add(k->ctx->c, k->seg[2], k->body, &k->who, id, sizeof(id), &e) != 0)
        sl_api_change_error(k->resp, &e);
    else
        sl_api_json(k->resp, 201, json_pack("{s:s}", "id", id));
}

void sl_api_route_patch(struct sl_api_call *k)
{
    struct sl_change_err e = {0};

    if (sl_change_route_patch(k->ctx->c, k->seg[2], k->seg[4], k->body, &k->who, &e) != 0)
        sl_api_change_error(k->resp, &e);
    else
        sl_api_json(k->resp, 200, query_endpoint(k, k->seg[2]));
}

void sl_api_route_delete(struct sl_api_call *k)
{
    struct sl_change_err e = {0};

    if (sl_change_route_delete(k->ctx->c, k->seg[2], k->seg[4], &k->who, &e) != 0)
        sl_api_change_error(k->resp, &e);
    else
        sl_api_json(k->resp, 204, NULL);
}

void sl_api_shape(struct sl_api_call *k)
{
    struct sl_change_err e = {0};

    if (sl_change_shape(k->ctx->c, k->seg[2], k->body, &k->who, &e) != 0)
        sl_api_change_error(k->resp, &e);
    else
        sl_api_json(k->resp, 200, query_endpoint(k, k->seg[2]));
}
