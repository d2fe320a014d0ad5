/* PUT and DELETE /v1/services/{svc}. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "control/change_impl.h"

/* Edits erasing every backend record of <svc> into edits[*n...]: a PUT or
 * a DELETE of the service replaces all of its backends. <keys> gets the
 * strings (the caller frees them). */
static int erase_backends(const struct sl_control *c, const char *svc, struct sl_ov_edit *edits,
                          size_t *n, char **keys)
{
    size_t len = strlen(svc);

    for (size_t i = 0; i < c->ov.n; i++) {
        const struct sl_ov_rec *r = &c->ov.recs[i];

        if (r->kind != SL_OV_BACKEND || strncmp(r->key, svc, len) != 0 || r->key[len] != '/')
            continue;
        if ((keys[*n] = strdup(r->key)) == NULL)
            return -1;
        edits[*n] = (struct sl_ov_edit){SL_OV_BACKEND, keys[*n], NULL};
        (*n)++;
    }
    return 0;
}

static int commit_service(struct sl_control *c, const char *svc, json_t *value,
                          struct sl_change_err *e)
{
    struct sl_ov_edit *edits = calloc(c->ov.n + 2, sizeof(*edits));
    char **keys = calloc(c->ov.n + 2, sizeof(*keys));
    size_t n = 1;
    int rc;

    if (edits == NULL || keys == NULL || erase_backends(c, svc, edits, &n, keys) != 0) {
        rc = sl_chg_fail(e, 500, "nomem", "out of memory");
    } else {
        edits[0] = (struct sl_ov_edit){SL_OV_SERVICE, svc, value};
        rc = sl_chg_commit(c, edits, n, e);
    }
    for (size_t i = 0; keys != NULL && i < n; i++)
        free(keys[i]);
    free(keys);
    free(edits);
    return rc;
}

static int service_put(struct sl_control *c, const char *svc, const json_t *body,
                       const struct sl_change_who *who, struct sl_change_err *e)
{
    if (sl_chg_need(who, SL_SCOPE_ADMIN, e) != 0)
        return -1;
    if (!json_is_object(body))
        return sl_chg_fail(e, 400, "invalid_field", "service %s: expected an object", svc);
    return commit_service(c, svc, (json_t *)body, e);
}

/* What still names <svc>: a route or a tcp listener (NULL: nothing). */
static int in_use(const struct sl_config *cfg, const char *svc, char *what, size_t len)
{
    for (size_t i = 0; i < cfg->nendpoints; i++)
        for (size_t j = 0; j < cfg->endpoints[i].nroutes; j++)
            if (strcmp(cfg->endpoints[i].routes[j].service, svc) == 0) {
                (void)snprintf(what, len, "endpoint %s route %s", cfg->endpoints[i].pattern,
                               cfg->endpoints[i].routes[j].id);
                return 1;
            }
    for (size_t i = 0; i < cfg->nlisteners; i++)
        if (cfg->listeners[i].service != NULL && strcmp(cfg->listeners[i].service, svc) == 0) {
            (void)snprintf(what, len, "listener %s", cfg->listeners[i].name);
            return 1;
        }
    return 0;
}

static int service_delete(struct sl_control *c, const char *svc, const struct sl_change_who *who,
                          struct sl_change_err *e)
{
    char what[400];
    json_t *tomb;
    int rc;

    if (sl_chg_need(who, SL_SCOPE_ADMIN, e) != 0)
        return -1;
    if (sl_config_service(c->cfg, svc) == NULL)
        return sl_chg_fail(e, 404, "not_found", "service %s: not found", svc);
    if (in_use(c->cfg, svc, what, sizeof(what)))
        return sl_chg_fail(e, 409, "in_use", "service %s: still used by %s", svc, what);
    /* A service of the file needs a tombstone; one only the API added
     * simply goes. */
    tomb = sl_chg_base_has_service(c, svc) ? json_null() : NULL;
    rc = commit_service(c, svc, tomb, e);
    json_decref(tomb);
    return rc;
}

int sl_change_service_put(struct sl_control *c, const char *svc, const json_t *body,
                          const struct sl_change_who *who, struct sl_change_err *e)
{
    pthread_mutex_lock(&c->mu);
    int rc = service_put(c, svc, body, who, e);

    pthread_mutex_unlock(&c->mu);
    return rc;
}

int sl_change_service_delete(struct sl_control *c, const char *svc, const struct sl_change_who *who,
                             struct sl_change_err *e)
{
    pthread_mutex_lock(&c->mu);
    int rc = service_delete(c, svc, who, e);

    pthread_mutex_unlock(&c->mu);
    return rc;
}
