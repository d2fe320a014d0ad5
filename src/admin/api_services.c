/* /v1/services/{svc} and its backends: validate the call's shape, then
 * ask control (change.h), which validates the whole and stores it. */
#include "admin/api.h"

void sl_api_service_get(struct sl_api_call *k)
{
    struct sl_change_err e = {0};
    json_t *j = sl_query_service(k->ctx->c, k->seg[2], &e);

    if (j == NULL)
        sl_api_change_error(k->resp, &e);
    else
        sl_api_json(k->resp, 200, j);
}

void sl_api_service_put(struct sl_api_call *k)
{
    struct sl_change_err e = {0};

    if (sl_change_service_put(k->ctx->c, k->seg[2], k->body, &k->who, &e) != 0) {
        sl_api_change_error(k->resp, &e);
        return;
    }
    sl_api_service_get(k);
}

void sl_api_service_delete(struct sl_api_call *k)
{
    struct sl_change_err e = {0};

    if (sl_change_service_delete(k->ctx->c, k->seg[2], &k->who, &e) != 0)
        sl_api_change_error(k->resp, &e);
    else
        sl_api_json(k->resp, 204, NULL);
}

void sl_api_backend_add(struct sl_api_call *k)
{
    struct sl_change_err e = {0};
    json_t *created = NULL;

    if (sl_change_backend_add(k->ctx->c, k->seg[2], k->body, &k->who, &created, &e) != 0) {
        sl_api_change_error(k->resp, &e);
        return;
    }
    if (created == NULL) {
        json_t *name = json_object_get(k->body, "name");

        created = json_pack("{s:O?,s:s}", "name", name, "service", k->seg[2]);
    }
    sl_api_json(k->resp, 201, created);
}

void sl_api_backend_patch(struct sl_api_call *k)
{
    struct sl_change_err e = {0};
    json_t *b;

    if (sl_change_backend_patch(k->ctx->c, k->seg[2], k->seg[4], k->body, &k->who, &e) != 0) {
        sl_api_change_error(k->resp, &e);
        return;
    }
    struct sl_query_filter f = {.service = k->seg[2], .backend = k->seg[4]};

    b = sl_api_query_find(k->ctx->c, &f, "backends", "name", k->seg[4]);
    sl_api_json(k->resp, 200,
                b != NULL ? b : json_pack("{s:s,s:s}", "name", k->seg[4], "service", k->seg[2]));
}

void sl_api_backend_delete(struct sl_api_call *k)
{
    struct sl_change_err e = {0};

    if (sl_change_backend_delete(k->ctx->c, k->seg[2], k->seg[4], &k->who, &e) != 0)
        sl_api_change_error(k->resp, &e);
    else
        sl_api_json(k->resp, 204, NULL);
}
