/* Endpoints, their routes and their shape: each change writes the whole
 * endpoint as one record, with every route id spelled out so that ids
 * stay put whatever the position. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "control/change_impl.h"

static const char *const endpoint_keys[] = {"pattern", "routes", NULL};
static const char *const route_keys[] = {"service", "selector", "weight", NULL};

static bool id_used(const json_t *routes, const char *id)
{
    size_t i;
    const json_t *r;

    json_array_foreach(routes, i, r)
    {
        const char *v = json_string_value(json_object_get(r, "id"));

        if (v != NULL && strcmp(v, id) == 0)
            return true;
    }
    return false;
}

/* The first free routeNNN of <routes> from <from> up. */
static void next_id(const json_t *routes, size_t from, char *id, size_t len)
{
    for (size_t n = from;; n++) {
        (void)snprintf(id, len, "route%03zu", n);
        if (!id_used(routes, id))
            return;
    }
}

static int commit_endpoint(struct sl_control *c, const char *pattern, json_t *value,
                           struct sl_change_err *e)
{
    return sl_chg_commit(c, &(struct sl_ov_edit){SL_OV_ENDPOINT, pattern, value}, 1, e);
}

/* The endpoint as it is now, or 404. */
static json_t *current(struct sl_control *c, const char *pattern, const struct sl_change_who *who,
                       struct sl_change_err *e)
{
    const struct sl_cfg_endpoint *ep;
    json_t *j;

    if (sl_chg_need(who, SL_SCOPE_ADMIN, e) != 0)
        return NULL;
    if ((ep = sl_chg_endpoint(c->cfg, pattern)) == NULL) {
        sl_chg_fail(e, 404, "not_found", "endpoint %s: not found", pattern);
        return NULL;
    }
    if ((j = sl_chg_endpoint_json(ep)) == NULL)
        sl_chg_fail(e, 500, "nomem", "out of memory");
    return j;
}

static json_t *find_route(json_t *ep, const char *id, size_t *idx)
{
    size_t i;
    json_t *r;

    json_array_foreach(json_object_get(ep, "routes"), i, r)
    {
        if (strcmp(json_string_value(json_object_get(r, "id")), id) == 0) {
            *idx = i;
            return r;
        }
    }
    return NULL;
}

static int endpoint_put(struct sl_control *c, const char *pattern, const json_t *body,
                        const struct sl_change_who *who, struct sl_change_err *e)
{
    char what[300], id[32];
    const json_t *p = json_object_get(body, "pattern");
    json_t *ep, *routes, *r;
    size_t i;
    int rc;

    if (sl_chg_need(who, SL_SCOPE_ADMIN, e) != 0)
        return -1;
    (void)snprintf(what, sizeof(what), "endpoint %s", pattern);
    if (sl_chg_keys(body, endpoint_keys, what, e) != 0)
        return -1;
    if (p != NULL && (!json_is_string(p) || strcmp(json_string_value(p), pattern) != 0))
        return sl_chg_fail(e, 400, "invalid_field", "%s.pattern: differs from the path's", what);
    if ((ep = json_deep_copy(body)) == NULL)
        return sl_chg_fail(e, 500, "nomem", "out of memory");
    routes = json_object_get(ep, "routes");
    json_array_foreach(routes, i, r)
    {
        /* By position where free, as the config file numbers them. */
        if (json_is_object(r) && json_object_get(r, "id") == NULL) {
            next_id(routes, i, id, sizeof(id));
            json_object_set_new(r, "id", json_string(id));
        }
    }
    rc = commit_endpoint(c, pattern, ep, e);
    json_decref(ep);
    return rc;
}

static int endpoint_delete(struct sl_control *c, const char *pattern,
                           const struct sl_change_who *who, struct sl_change_err *e)
{
    json_t *ep = current(c, pattern, who, e);
    json_t *tomb;
    int rc;

    if (ep == NULL)
        return -1;
    json_decref(ep);
    tomb = sl_chg_base_has_endpoint(c, pattern) ? json_null() : NULL;
    rc = commit_endpoint(c, pattern, tomb, e);
    json_decref(tomb);
    return rc;
}

static int route_add(struct sl_control *c, const char *pattern, const json_t *body,
                     const struct sl_change_who *who, char *id, size_t idlen,
                     struct sl_change_err *e)
{
    char what[300], nid[32];
    json_t *ep = current(c, pattern, who, e);
    json_t *r;
    int rc;

    if (ep == NULL)
        return -1;
    (void)snprintf(what, sizeof(what), "endpoint %s: route", pattern);
    if (sl_chg_keys(body, route_keys, what, e) != 0) {
        json_decref(ep);
        return -1;
    }
    if ((r = json_deep_copy(body)) == NULL) {
        json_decref(ep);
        return sl_chg_fail(e, 500, "nomem", "out of memory");
    }
    next_id(json_object_get(ep, "routes"), json_array_size(json_object_get(ep, "routes")), nid,
            sizeof(nid));
    json_object_set_new(r, "id", json_string(nid));
    json_array_append_new(json_object_get(ep, "routes"), r);
    rc = commit_endpoint(c, pattern, ep, e);
    json_decref(ep);
    if (rc == 0 && id != NULL)
        (void)snprintf(id, idlen, "%s", nid);
    return rc;
}

/* PATCH (body not NULL) or DELETE of route <id>. */
static int route_change(struct sl_control *c, const char *pattern, const char *id,
                        const json_t *body, const struct sl_change_who *who,
                        struct sl_change_err *e)
{
    char what[300];
    json_t *ep = current(c, pattern, who, e);
    json_t *r;
    size_t idx = 0;
    int rc = -1;

    if (ep == NULL)
        return -1;
    (void)snprintf(what, sizeof(what), "endpoint %s: route %s", pattern, id);
    if ((r = find_route(ep, id, &idx)) == NULL)
        sl_chg_fail(e, 404, "not_found", "%s: not found", what);
    else if (body != NULL && sl_chg_keys(body, route_keys, what, e) != 0)
        ;
    else {
        if (body != NULL)
            json_object_update(r, (json_t *)body);
        else
            json_array_remove(json_object_get(ep, "routes"), idx);
        rc = commit_endpoint(c, pattern, ep, e);
    }
    json_decref(ep);
    return rc;
}

static int shape(struct sl_control *c, const char *pattern, const json_t *body,
                 const struct sl_change_who *who, struct sl_change_err *e)
{
    json_t *ep = current(c, pattern, who, e);
    json_t *routes, *r, *w;
    const char *k;
    json_int_t total = 0;
    size_t i;
    int rc = -1;

    if (ep == NULL)
        return -1;
    routes = json_object_get(ep, "routes");
    if (!json_is_object(body)) {
        sl_chg_fail(e, 400, "invalid_field", "shape: expected an object of route weights");
        goto out;
    }
    json_object_foreach((json_t *)body, k, w)
    {
        if (find_route(ep, k, &i) == NULL) {
            sl_chg_fail(e, 404, "not_found", "endpoint %s: route %s: not found", pattern, k);
            goto out;
        }
        if (!json_is_integer(w) || json_integer_value(w) < 0 || json_integer_value(w) > 10000) {
            sl_chg_fail(e, 400, "invalid_field", "%s: weight must be an integer 0..10000", k);
            goto out;
        }
        total += json_integer_value(w);
    }
    json_array_foreach(routes, i, r)
    {
        const char *id = json_string_value(json_object_get(r, "id"));

        if ((w = json_object_get(body, id)) == NULL) {
            sl_chg_fail(e, 400, "invalid_field", "endpoint %s: route %s is missing", pattern, id);
            goto out;
        }
        json_object_set(r, "weight", w);
    }
    if (total == 0) {
        sl_chg_fail(e, 400, "invalid_field", "endpoint %s: every weight is 0", pattern);
        goto out;
    }
    rc = commit_endpoint(c, pattern, ep, e);
out:
    json_decref(ep);
    return rc;
}

/* Every public call takes the control's lock around its body. */
#define LOCKED(c, call)                 \
    do {                                \
        pthread_mutex_lock(&(c)->mu);   \
        int rc_ = (call);               \
        pthread_mutex_unlock(&(c)->mu); \
        return rc_;                     \
    } while (0)

int sl_change_endpoint_put(struct sl_control *c, const char *pattern, const json_t *body,
                           const struct sl_change_who *who, struct sl_change_err *e)
{
    LOCKED(c, endpoint_put(c, pattern, body, who, e));
}

int sl_change_endpoint_delete(struct sl_control *c, const char *pattern,
                              const struct sl_change_who *who, struct sl_change_err *e)
{
    LOCKED(c, endpoint_delete(c, pattern, who, e));
}

int sl_change_route_add(struct sl_control *c, const char *pattern, const json_t *body,
                        const struct sl_change_who *who, char *id, size_t idlen,
                        struct sl_change_err *e)
{
    LOCKED(c, route_add(c, pattern, body, who, id, idlen, e));
}

int sl_change_route_patch(struct sl_control *c, const char *pattern, const char *id,
                          const json_t *body, const struct sl_change_who *who,
                          struct sl_change_err *e)
{
    if (body == NULL)
        return sl_chg_fail(e, 400, "invalid_field", "route %s: expected an object", id);
    LOCKED(c, route_change(c, pattern, id, body, who, e));
}

int sl_change_route_delete(struct sl_control *c, const char *pattern, const char *id,
                           const struct sl_change_who *who, struct sl_change_err *e)
{
    LOCKED(c, route_change(c, pattern, id, NULL, who, e));
}

int sl_change_shape(struct sl_control *c, const char *pattern, const json_t *body,
                    const struct sl_change_who *who, struct sl_change_err *e)
{
    LOCKED(c, shape(c, pattern, body, who, e));
}
