/* POST, PATCH and DELETE of /v1/services/{svc}/backends: the library's
 * dynamic backend builder over the API, kept as backend records. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "control/change_impl.h"
#include "core/health.h"
#include "proxy/health_log.h"

static const char *const add_keys[] = {"name",
                                       "target",
                                       "weight",
                                       "labels",
                                       "connect_timeout",
                                       "first_byte_timeout",
                                       "between_bytes_timeout",
                                       "override_host",
                                       NULL};
static const char *const patch_keys[] = {"weight", "drain", "health", NULL};

static bool name_taken(const struct sl_config *cfg, const char *name, const char **where)
{
    for (size_t i = 0; i < cfg->nservices; i++)
        if (sl_config_backend(&cfg->services[i], name) != NULL) {
            *where = cfg->services[i].name;
            return true;
        }
    return false;
}

static int backend_add(struct sl_control *c, const char *svc, const json_t *body,
                       const struct sl_change_who *who, json_t **created, struct sl_change_err *e)
{
    char key[512], what[300];
    const json_t *name = json_object_get(body, "name");
    const char *where = NULL;
    json_t *rec;
    int rc;

    if (sl_chg_need(who, SL_SCOPE_AGENT, e) != 0)
        return -1;
    if (sl_config_service(c->cfg, svc) == NULL)
        return sl_chg_fail(e, 404, "not_found", "service %s: not found", svc);
    if (!c->cfg->admin.dynamic_backends)
        return sl_chg_fail(e, 403, "disallowed",
                           "admin.dynamic_backends is false: backends come from the file only");
    (void)snprintf(what, sizeof(what), "service %s: backend", svc);
    if (sl_chg_keys(body, add_keys, what, e) != 0)
        return -1;
    if (!json_is_string(name) || json_string_length(name) == 0)
        return sl_chg_fail(e, 400, "invalid_field", "%s: name is required (a string)", what);
    if (json_object_get(body, "target") == NULL)
        return sl_chg_fail(e, 400, "invalid_target", "%s: target is required", what);
    if (name_taken(c->cfg, json_string_value(name), &where))
        return sl_chg_fail(e, 409, "name_in_use", "backend name '%s' is already used (service %s)",
                           json_string_value(name), where);
    if (snprintf(key, sizeof(key), "%s/%s", svc, json_string_value(name)) >= (int)sizeof(key))
        return sl_chg_fail(e, 400, "invalid_field", "%s: name too long", what);
    rec =
        json_pack("{s:O, s:s, s:s?}", "backend", body, "origin", "dynamic", "owner", who->token_id);
    if (rec == NULL)
        return sl_chg_fail(e, 500, "nomem", "out of memory");
    rc = sl_chg_commit(c, &(struct sl_ov_edit){SL_OV_BACKEND, key, rec}, 1, e);
    json_decref(rec);
    if (rc == 0 && created != NULL)
        *created = sl_query_backend(c, svc, json_string_value(name));
    return rc;
}

/* 404 for an unknown service or backend, 403 when an agent does not own
 * it. */
static const struct sl_cfg_backend *find_owned(struct sl_control *c, const char *svc,
                                               const char *name, const struct sl_change_who *who,
                                               struct sl_change_err *e)
{
    const struct sl_cfg_service *s = sl_config_service(c->cfg, svc);
    const struct sl_cfg_backend *b = s != NULL ? sl_config_backend(s, name) : NULL;
    const char *owner = NULL;

    if (sl_chg_need(who, SL_SCOPE_AGENT, e) != 0)
        return NULL;
    if (s == NULL) {
        sl_chg_fail(e, 404, "not_found", "service %s: not found", svc);
        return NULL;
    }
    if (b == NULL) {
        sl_chg_fail(e, 404, "not_found", "service %s: backend %s: not found", svc, name);
        return NULL;
    }
    (void)sl_chg_origin(c, svc, name, &owner);
    if (who->scope < SL_SCOPE_ADMIN &&
        (owner == NULL || who->token_id == NULL || strcmp(owner, who->token_id) != 0)) {
        sl_chg_fail(e, 403, "forbidden", "service %s: backend %s: not added by this token", svc,
                    name);
        return NULL;
    }
    return b;
}

/* The backend's record with <body>'s weight and drain set (new ref). */
static json_t *patched(struct sl_control *c, const char *svc, const struct sl_cfg_backend *b,
                       const json_t *body)
{
    const char *owner = NULL;
    const char *origin = sl_chg_origin(c, svc, b->name, &owner);
    json_t *be = sl_chg_backend_json(b);
    json_t *rec;

    if (be == NULL)
        return NULL;
    json_object_del(be, "name");
    if (json_object_get(body, "weight") != NULL)
        json_object_set(be, "weight", json_object_get(body, "weight"));
    if (json_object_get(body, "drain") != NULL)
        json_object_set(be, "drain", json_object_get(body, "drain"));
    rec = json_pack("{s:o, s:s, s:s?}", "backend", be, "origin", origin, "owner", owner);
    return rec;
}

static int backend_patch(struct sl_control *c, const char *svc, const char *name,
                         const json_t *body, const struct sl_change_who *who,
                         struct sl_change_err *e)
{
    const struct sl_cfg_backend *b = find_owned(c, svc, name, who, e);
    const json_t *health;
    char key[512], what[300];
    bool healthy = false;
    int rc = 0;

    if (b == NULL)
        return -1;
    (void)snprintf(what, sizeof(what), "service %s: backend %s", svc, name);
    if (sl_chg_keys(body, patch_keys, what, e) != 0)
        return -1;
    if ((health = json_object_get(body, "health")) != NULL) {
        const char *h = json_string_value(health);

        if (h == NULL || (strcmp(h, "healthy") != 0 && strcmp(h, "unhealthy") != 0))
            return sl_chg_fail(e, 400, "invalid_field", "%s.health: expected healthy or unhealthy",
                               what);
        healthy = strcmp(h, "healthy") == 0;
    }
    if (json_object_get(body, "weight") != NULL || json_object_get(body, "drain") != NULL) {
        json_t *rec = patched(c, svc, b, body);

        if (rec == NULL)
            return sl_chg_fail(e, 500, "nomem", "out of memory");
        (void)snprintf(key, sizeof(key), "%s/%s", svc, name); /* fits: names are short */
        rc = sl_chg_commit(c, &(struct sl_ov_edit){SL_OV_BACKEND, key, rec}, 1, e);
        json_decref(rec);
    }
    /* A mark is run-time state, like a health check's: not stored; logged
     * like every other health change (the audit line says who). */
    if (rc == 0 && health != NULL) {
        struct sl_health_change ch = {0};

        if (sl_health_mark(c->lb, svc, name, healthy, &ch) != 0)
            return sl_chg_fail(e, 500, "conflict", "%s: cannot mark it", what);
        sl_health_report(NULL, svc, name, "marked by an operator", &ch);
    }
    return rc;
}

static int backend_delete(struct sl_control *c, const char *svc, const char *name,
                          const struct sl_change_who *who, struct sl_change_err *e)
{
    char key[512];
    json_t *tomb;
    int rc;

    if (find_owned(c, svc, name, who, e) == NULL)
        return -1;
    (void)snprintf(key, sizeof(key), "%s/%s", svc, name);
    tomb = sl_chg_base_has_backend(c, svc, name) ? json_null() : NULL;
    rc = sl_chg_commit(c, &(struct sl_ov_edit){SL_OV_BACKEND, key, tomb}, 1, e);
    json_decref(tomb);
    return rc;
}

int sl_change_backend_add(struct sl_control *c, const char *svc, const json_t *body,
                          const struct sl_change_who *who, json_t **created,
                          struct sl_change_err *e)
{
    pthread_mutex_lock(&c->mu);
    int rc = backend_add(c, svc, body, who, created, e);

    pthread_mutex_unlock(&c->mu);
    return rc;
}

int sl_change_backend_patch(struct sl_control *c, const char *svc, const char *name,
                            const json_t *body, const struct sl_change_who *who,
                            struct sl_change_err *e)
{
    pthread_mutex_lock(&c->mu);
    int rc = backend_patch(c, svc, name, body, who, e);

    pthread_mutex_unlock(&c->mu);
    return rc;
}

int sl_change_backend_delete(struct sl_control *c, const char *svc, const char *name,
                             const struct sl_change_who *who, struct sl_change_err *e)
{
    pthread_mutex_lock(&c->mu);
    int rc = backend_delete(c, svc, name, who, e);

    pthread_mutex_unlock(&c->mu);
    return rc;
}
