/* What every change shares: refusals, the commit through store and lb,
 * and the model as JSON. The changes themselves are in change_service.c,
 * change_backend.c and change_endpoint.c. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "control/change_impl.h"
#include "control/ytree_json.h"

int sl_chg_fail(struct sl_change_err *e, int status, const char *code, const char *fmt, ...)
{
    va_list ap;

    e->status = status;
    (void)snprintf(e->code, sizeof(e->code), "%s", code);
    va_start(ap, fmt);
    (void)vsnprintf(e->message, sizeof(e->message), fmt, ap); /* long messages are cut */
    va_end(ap);
    return -1;
}

int sl_chg_need(const struct sl_change_who *who, enum sl_scope need, struct sl_change_err *e)
{
    if (who != NULL && who->scope >= need)
        return 0;
    return sl_chg_fail(e, 403, "forbidden", "this call needs the %s scope",
                       need == SL_SCOPE_ADMIN ? "admin" : "agent");
}

int sl_chg_keys(const json_t *body, const char *const *known, const char *what,
                struct sl_change_err *e)
{
    const char *k;
    json_t *v;

    if (!json_is_object(body))
        return sl_chg_fail(e, 400, "invalid_field", "%s: expected an object", what);
    json_object_foreach((json_t *)body, k, v)
    {
        size_t i = 0;

        while (known[i] != NULL && strcmp(known[i], k) != 0)
            i++;
        if (known[i] == NULL)
            return sl_chg_fail(e, 400, "unknown_field", "%s: unknown key '%s'", what, k);
    }
    return 0;
}

/* The loader's message as the API's error: which code it is. */
static int refuse(struct sl_change_err *e, const char *msg)
{
    const char *code = "invalid_field";
    int status = 400;

    /* Another service's backend name: taken, as POST says it (409). */
    if (strncmp(msg, "backend name '", 14) == 0 &&
        (strstr(msg, "' already used by service ") != NULL ||
         (strstr(msg, "' already used on line ") != NULL && strstr(msg, " (service ") != NULL))) {
        code = "name_in_use";
        status = 409;
    } else if (strstr(msg, "unknown key") != NULL)
        code = "unknown_field";
    else if (strstr(msg, "invalid target") != NULL)
        code = "invalid_target";
    return sl_chg_fail(e, status, code, "%s", msg);
}

/* Store ops for the edits (<old>: the records as they are now), values
 * dumped into <texts> (freed by the caller). */
static int store_ops(const struct sl_overlay *ov, const struct sl_ov_edit *edits, size_t n,
                     bool old, struct sl_store_op *ops, char **texts)
{
    for (size_t i = 0; i < n; i++) {
        const struct sl_ov_rec *r = old ? sl_overlay_find(ov, edits[i].kind, edits[i].key) : NULL;
        const json_t *v = old ? (r != NULL ? r->value : NULL) : edits[i].value;

        texts[i] = v != NULL ? json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
        if (v != NULL && texts[i] == NULL)
            return -1;
        ops[i] = (struct sl_store_op){sl_overlay_kind_name(edits[i].kind), edits[i].key, texts[i]};
    }
    return 0;
}

static int store_write(struct sl_control *c, const struct sl_overlay *ov,
                       const struct sl_ov_edit *edits, size_t n, bool old, struct sl_change_err *e)
{
    struct sl_store_op *ops = calloc(n + 1, sizeof(*ops));
    char **texts = calloc(n + 1, sizeof(*texts));
    char err[512] = "";
    int rc = -1;

    if (ops == NULL || texts == NULL || store_ops(ov, edits, n, old, ops, texts) != 0)
        sl_chg_fail(e, 500, "nomem", "out of memory");
    else if (sl_store_apply(c->store, ops, n, err, sizeof(err)) != 0)
        sl_chg_fail(e, 500, "store_error", "%s", err);
    else
        rc = 0;
    for (size_t i = 0; texts != NULL && i < n; i++)
        free(texts[i]);
    free(texts);
    free(ops);
    return rc;
}

int sl_chg_commit(struct sl_control *c, const struct sl_ov_edit *edits, size_t n,
                  struct sl_change_err *e)
{
    struct sl_overlay cand;
    struct sl_config *ncfg = NULL;
    struct sl_ynode *tree = NULL;
    struct sl_diag diag;
    int rc;

    if (sl_overlay_with(&c->ov, edits, n, &cand) != 0)
        return sl_chg_fail(e, 500, "nomem", "out of memory");
    sl_diag_init(&diag);
    rc = sl_overlay_build(&cand, c->base, c->path, &ncfg, &tree, &diag);
    if (rc != 0) {
        const char *m = sl_overlay_first_error(&diag, c->path);

        if (rc == SLUICE_ERR_NOMEM)
            sl_chg_fail(e, 500, "nomem", "out of memory");
        else
            refuse(e, m != NULL ? m : sluice_strerror(rc));
        goto out;
    }
    if ((rc = store_write(c, &c->ov, edits, n, false, e)) != 0)
        goto out;
    rc = sl_control_install(c, ncfg, tree, &diag);
    if (rc != 0) {
        const char *m = sl_overlay_first_error(&diag, c->path);
        struct sl_change_err ignored;

        /* Nothing went live: the store must say so too. */
        (void)store_write(c, &c->ov, edits, n, true, &ignored);
        sl_chg_fail(e, 500, rc == SLUICE_ERR_NOMEM ? "nomem" : "conflict", "cannot apply: %s",
                    m != NULL ? m : sluice_strerror(rc));
        goto out;
    }
    ncfg = NULL;
    tree = NULL;
    sl_overlay_fini(&c->ov);
    c->ov = cand;
    memset(&cand, 0, sizeof(cand));
out:
    sl_overlay_fini(&cand);
    sl_config_free(ncfg);
    sl_ytree_free(tree);
    sl_diag_fini(&diag);
    return rc == 0 ? 0 : -1;
}

json_t *sl_chg_backend_json(const struct sl_cfg_backend *b)
{
    json_t *labels = json_object();
    json_t *o = json_pack("{s:s, s:s, s:I, s:b}", "name", b->name, "target", b->target, "weight",
                          (json_int_t)b->weight, "drain", b->drain);

    if (o == NULL || labels == NULL) {
        json_decref(o);
        json_decref(labels);
        return NULL;
    }
    for (size_t i = 0; i < b->nlabels; i++)
        json_object_set_new(labels, b->labels[i].key, json_string(b->labels[i].value));
    json_object_set_new(o, "labels", labels);
    if (b->connect_timeout_ms != 0)
        json_object_set_new(o, "connect_timeout", json_integer(b->connect_timeout_ms));
    if (b->first_byte_timeout_ms != 0)
        json_object_set_new(o, "first_byte_timeout", json_integer(b->first_byte_timeout_ms));
    if (b->between_bytes_timeout_ms != 0)
        json_object_set_new(o, "between_bytes_timeout", json_integer(b->between_bytes_timeout_ms));
    if (b->override_host != NULL)
        json_object_set_new(o, "override_host", json_string(b->override_host));
    return o;
}

json_t *sl_chg_endpoint_json(const struct sl_cfg_endpoint *ep)
{
    json_t *routes = json_array();
    json_t *o = json_object();

    if (routes == NULL || o == NULL) {
        json_decref(routes);
        json_decref(o);
        return NULL;
    }
    for (size_t i = 0; i < ep->nroutes; i++) {
        const struct sl_cfg_route *r = &ep->routes[i];

        json_array_append_new(routes,
                              json_pack("{s:s, s:s, s:s, s:I}", "id", r->id, "service", r->service,
                                        "selector", r->selector, "weight", (json_int_t)r->weight));
    }
    json_object_set_new(o, "pattern", json_string(ep->pattern));
    json_object_set_new(o, "routes", routes);
    return o;
}

const struct sl_cfg_endpoint *sl_chg_endpoint(const struct sl_config *cfg, const char *pattern)
{
    for (size_t i = 0; i < cfg->nendpoints; i++)
        if (strcmp(cfg->endpoints[i].pattern, pattern) == 0)
            return &cfg->endpoints[i];
    return NULL;
}

bool sl_chg_base_has_service(const struct sl_control *c, const char *svc)
{
    return sl_ymap_get(sl_ymap_get(c->base, "services"), svc) != NULL;
}

bool sl_chg_base_has_backend(const struct sl_control *c, const char *svc, const char *name)
{
    const struct sl_ov_rec *r = sl_overlay_find(&c->ov, SL_OV_SERVICE, svc);
    const json_t *list, *b;
    size_t i;

    if (r == NULL || r->inactive)
        return sl_yseq_find(
                   sl_ymap_get(sl_ymap_get(sl_ymap_get(c->base, "services"), svc), "backends"),
                   "name", name) >= 0;
    list = json_object_get(r->value, "backends");
    json_array_foreach(list, i, b)
    {
        if (json_is_string(json_object_get(b, "name")) &&
            strcmp(json_string_value(json_object_get(b, "name")), name) == 0)
            return true;
    }
    return false;
}

bool sl_chg_base_has_endpoint(const struct sl_control *c, const char *pattern)
{
    return sl_yseq_find(sl_ymap_get(c->base, "endpoints"), "pattern", pattern) >= 0;
}

const char *sl_chg_origin(const struct sl_control *c, const char *svc, const char *name,
                          const char **owner)
{
    char key[512];
    const struct sl_ov_rec *r;
    const json_t *v;

    *owner = NULL;
    (void)snprintf(key, sizeof(key), "%s/%s", svc, name); /* names are short: fits */
    r = sl_overlay_find(&c->ov, SL_OV_BACKEND, key);
    if (r != NULL && !r->inactive && json_is_object(r->value)) {
        v = json_object_get(r->value, "owner");
        *owner = json_is_string(v) ? json_string_value(v) : NULL;
        v = json_object_get(r->value, "origin");
        return json_is_string(v) ? json_string_value(v) : "dynamic";
    }
    r = sl_overlay_find(&c->ov, SL_OV_SERVICE, svc);
    return r != NULL && !r->inactive && !json_is_null(r->value) ? "dynamic" : "static";
}
