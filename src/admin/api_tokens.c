/* /v1/tokens: create (the secret is in this one answer only), list,
 * revoke. */
#include <string.h>

#include "admin/api.h"
#include "admin/tokens.h"

void sl_api_token_create(struct sl_api_call *k)
{
    struct sl_change_err e = {0};
    struct sl_token_info info;
    char secret[SL_TOKEN_SECRET_MAX];
    const char *key, *scope_s = NULL, *name = NULL;
    enum sl_scope scope;
    json_t *v;

    json_object_foreach(k->body, key, v)
    {
        const char **dst = strcmp(key, "scope") == 0  ? &scope_s
                           : strcmp(key, "name") == 0 ? &name
                                                      : NULL;

        if (dst == NULL) {
            sl_api_error(k->resp, 400, "unknown_field", "%s: unknown field (scope, name)", key);
            return;
        }
        if (!json_is_string(v)) {
            sl_api_error(k->resp, 400, "invalid_field", "%s: must be a string", key);
            return;
        }
        *dst = json_string_value(v);
    }
    if (scope_s == NULL || sl_scope_parse(scope_s, &scope) != 0) {
        sl_api_error(k->resp, 400, "invalid_field", "scope: must be read, agent or admin");
        return;
    }
    if (name == NULL || name[0] == '\0') {
        sl_api_error(k->resp, 400, "invalid_field", "name: required, a non-empty string");
        return;
    }
    if (sl_tokens_create(k->ctx->tokens, scope, name, &info, secret, &e) != 0) {
        sl_api_change_error(k->resp, &e);
        return;
    }
    sl_api_json(k->resp, 201,
                json_pack("{s:s,s:s,s:s,s:s,s:I}", "id", info.id, "token", secret, "name",
                          info.name, "scope", sl_scope_name(info.scope), "created",
                          (json_int_t)info.created));
    /* The secret leaves only in the answer. */
    memset(secret, 0, sizeof(secret));
}

void sl_api_token_list(struct sl_api_call *k)
{
    json_t *j = sl_tokens_list(k->ctx->tokens);

    if (j == NULL)
        sl_api_error(k->resp, 500, "nomem", "out of memory listing the tokens");
    else
        sl_api_json(k->resp, 200, j);
}

void sl_api_token_revoke(struct sl_api_call *k)
{
    struct sl_change_err e = {0};

    if (sl_tokens_revoke(k->ctx->tokens, k->seg[2], &e) != 0)
        sl_api_change_error(k->resp, &e);
    else
        sl_api_json(k->resp, 204, NULL);
}
