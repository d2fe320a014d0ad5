/* GET /v1/query and GET /v1/services/{svc}: the table as configured now
 * (file + active overlay) with each backend's run-time state from the lb,
 * and the overlay records that are inactive. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "control/change_impl.h"
#include "control/ytree_json.h"
#include "core/selector.h"
#include "proxy/health_log.h"

static const char *check_result_name(sluice_check_result_t r)
{
    switch (r) {
    case SLUICE_CHECK_RESULT_OK:
        return "ok";
    case SLUICE_CHECK_RESULT_CONNECT:
        return "connect";
    case SLUICE_CHECK_RESULT_TIMEOUT:
        return "timeout";
    case SLUICE_CHECK_RESULT_STATUS:
        return "status";
    case SLUICE_CHECK_RESULT_BODY:
        return "body";
    case SLUICE_CHECK_RESULT_BAD_RESPONSE:
        return "bad_response";
    case SLUICE_CHECK_RESULT_NONE:
        break;
    }
    return "none";
}

/* A CLOCK_MONOTONIC stamp as RFC 3339 UTC wall time ("...T14:05:09.120Z"),
 * or null for 0 (never). */
static json_t *mono_to_rfc3339(uint64_t mono_ns)
{
    struct timespec now_mono, now_wall;
    int64_t wall_ms;
    time_t secs;
    struct tm tm;
    char buf[32];
    size_t n;

    if (mono_ns == 0 || clock_gettime(CLOCK_MONOTONIC, &now_mono) != 0 ||
        clock_gettime(CLOCK_REALTIME, &now_wall) != 0)
        return json_null();
    /* The stamp may lie ahead (the end of an ejection): signed. */
    wall_ms = (int64_t)now_wall.tv_sec * 1000 + now_wall.tv_nsec / 1000000 +
              ((int64_t)(mono_ns / 1000000) -
               ((int64_t)now_mono.tv_sec * 1000 + now_mono.tv_nsec / 1000000));
    secs = (time_t)(wall_ms / 1000);
    if (gmtime_r(&secs, &tm) == NULL)
        return json_null();
    n = strftime(buf, sizeof(buf) - 6, "%Y-%m-%dT%H:%M:%S", &tm);
    if (n == 0)
        return json_null();
    (void)snprintf(buf + n, sizeof(buf) - n, ".%03dZ", (int)(wall_ms % 1000));
    return json_string(buf);
}

static json_t *last_check(const sluice_backend_snapshot_t *bs)
{
    if (bs == NULL || bs->last_check == SLUICE_CHECK_RESULT_NONE)
        return json_null();
    return json_pack("{s:s, s:o, s:o}", "result", check_result_name(bs->last_check), "status",
                     bs->last_check_status ? json_integer(bs->last_check_status) : json_null(),
                     "at", mono_to_rfc3339(bs->last_check_ns));
}

static uint64_t mono_now_ns(void)
{
    struct timespec ts;

    (void)clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* The end of a running ejection, or 0: one whose backoff is over but that
 * waits for a successful probe has no end to show (state says down). */
static uint64_t ejection_end(const sluice_backend_snapshot_t *bs)
{
    return bs != NULL && bs->ejected_until_ns > mono_now_ns() ? bs->ejected_until_ns : 0;
}

/* Selectable without panic: usable by health, not ejected, weight > 0
 * (drained backends have weight 0 in the lb). */
static bool backend_usable(const sluice_backend_snapshot_t *bs)
{
    return bs->score >= 0 && bs->ejected_until_ns == 0 && bs->weight > 0;
}

/* draining: drained or weight 0 (no new requests, open ones finish);
 * up: selectable; down: unusable by health or ejected (panic may still
 * pick it). */
static const char *backend_state(const struct sl_cfg_backend *b,
                                 const sluice_backend_snapshot_t *bs)
{
    if (b->drain || (bs != NULL && bs->weight == 0))
        return "draining";
    return bs != NULL && backend_usable(bs) ? "up" : "down";
}

static int snap_cmp(const void *a, const void *b)
{
    return strcmp(((const sluice_backend_snapshot_t *)a)->name,
                  ((const sluice_backend_snapshot_t *)b)->name);
}

/* Sorts <s> by name for snap_find(): a query of thousands of backends
 * stays n log n. */
static void snap_sort(sluice_group_snapshot_t *s)
{
    qsort(s->backends, s->n, sizeof(*s->backends), snap_cmp);
}

static const sluice_backend_snapshot_t *snap_find(const sluice_group_snapshot_t *s,
                                                  const char *name)
{
    sluice_backend_snapshot_t key = {.name = (char *)name};

    return s == NULL || s->n == 0 ? NULL : bsearch(&key, s->backends, s->n, sizeof(key), snap_cmp);
}

/* The weight slow start lets through now: an integer when not ramping,
 * else weight x progress to 3 decimals, so a ramp shows at weight 1 too. */
static json_t *effective_weight(const sluice_backend_snapshot_t *bs)
{
    if (bs == NULL)
        return json_null();
    if (bs->ramp_permille >= 1000 || bs->weight == 0)
        return json_integer(bs->effective_weight);
    return json_real((double)((uint64_t)bs->weight * bs->ramp_permille) / 1000.0);
}

static json_t *wall_to_rfc3339(int64_t secs)
{
    time_t t = (time_t)secs;
    struct tm tm;
    char buf[32];

    if (secs <= 0 || gmtime_r(&t, &tm) == NULL ||
        strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
        return json_null();
    return json_string(buf);
}

/* What an agent reports (load, location) and since when it is connected:
 * null for every other backend. A lapsed lease shows as "disconnected". */
static void agent_fields(const struct sl_control *c, const char *svc, const char *name, json_t *o,
                         bool query)
{
    const struct sl_agent *a = sl_agents_find(c, svc, name);
    const struct sl_ov_rec *r = NULL;
    char key[512];

    if (a != NULL) {
        (void)snprintf(key, sizeof(key), "%s/%s", svc, name);
        r = sl_overlay_find(&c->ov, SL_OV_BACKEND, key);
        if (a->disconnected)
            json_object_set_new(o, "state", json_string("disconnected"));
    }
    json_object_set_new(o, "load", a != NULL && a->load_set ? json_integer(a->load) : json_null());
    json_object_set(o, "location",
                    r != NULL && json_is_object(json_object_get(r->value, "location"))
                        ? json_object_get(r->value, "location")
                        : json_null());
    if (query) /* not in a service's GET: that goes back through PUT */
        json_object_set_new(o, "remote_addr",
                            a != NULL && a->remote[0] != '\0' ? json_string(a->remote)
                                                              : json_null());
    json_object_set_new(o, "connected_at",
                        a != NULL && !a->disconnected ? wall_to_rfc3339(a->connected_at)
                                                      : json_null());
}

/* <health>: with the health details (last check, ejection, effective
 * weight); a service's GET leaves them out, so that what it returns goes
 * back through PUT once the run-time fields docs/cli.md lists are gone. */
static json_t *backend_row(struct sl_control *c, const struct sl_cfg_service *s,
                           const struct sl_cfg_backend *b, const sluice_backend_snapshot_t *bs,
                           bool health)
{
    const char *owner = NULL;
    const char *origin = sl_chg_origin(c, s->name, b->name, &owner);
    json_t *o = sl_chg_backend_json(b);
    const char *state = backend_state(b, bs);

    if (o == NULL)
        return NULL;
    json_object_set_new(o, "service", json_string(s->name));
    json_object_set_new(o, "origin", json_string(origin));
    json_object_set_new(o, "owner", owner != NULL ? json_string(owner) : json_null());
    json_object_set_new(o, "state", json_string(state));
    json_object_set_new(o, "health",
                        json_string(bs != NULL ? sl_health_name(bs->health) : "unknown"));
    json_object_set_new(o, "score", bs != NULL ? json_integer(bs->score) : json_null());
    json_object_set_new(o, "failures", json_integer(bs != NULL ? bs->failures : 0));
    if (health) {
        json_object_set_new(o, "last_check", last_check(bs));
        json_object_set_new(o, "ejected_until", mono_to_rfc3339(ejection_end(bs)));
        json_object_set_new(o, "ejections", json_integer(bs != NULL ? bs->ejections : 0));
        json_object_set_new(o, "effective_weight", effective_weight(bs));
    }
    json_object_set_new(o, "active", json_integer(bs != NULL ? bs->active : 0));
    json_object_set_new(o, "requests", json_integer(bs != NULL ? (json_int_t)bs->requests : 0));
    json_object_set_new(o, "rps", json_real(sl_rps_get(&c->rps, s->name, b->name)));
    agent_fields(c, s->name, b->name, o, health);
    return o;
}

/* Whether <b>'s labels satisfy <sel>. */
static bool labels_match(const struct sl_selector *sel, const struct sl_cfg_backend *b)
{
    for (size_t i = 0; i < sel->n; i++) {
        const struct sl_sel_term *t = &sel->terms[i];
        const char *v = NULL;

        for (size_t j = 0; j < b->nlabels; j++)
            if (strcmp(b->labels[j].key, t->key) == 0)
                v = b->labels[j].value;
        if ((t->op == SL_SEL_EQ && (v == NULL || strcmp(v, t->value) != 0)) ||
            (t->op == SL_SEL_NE && v != NULL && strcmp(v, t->value) == 0) ||
            (t->op == SL_SEL_HAS && v == NULL) || (t->op == SL_SEL_NOT && v != NULL))
            return false;
    }
    return true;
}

static int add_backends(struct sl_control *c, const struct sl_cfg_service *s,
                        const struct sl_selector *sel, const char *only, json_t *out, bool health)
{
    sluice_group_snapshot_t snap;
    bool have = sluice_lb_snapshot(c->lb, s->name, &snap) == 0;
    int rc = 0;

    if (have)
        snap_sort(&snap);

    for (size_t j = 0; j < s->nbackends && rc == 0; j++) {
        if ((sel != NULL && !labels_match(sel, &s->backends[j])) ||
            (only != NULL && strcmp(only, s->backends[j].name) != 0))
            continue;
        json_t *row = backend_row(c, s, &s->backends[j],
                                  have ? snap_find(&snap, s->backends[j].name) : NULL, health);

        rc = row != NULL ? json_array_append_new(out, row) : -1;
    }
    if (have)
        sluice_group_snapshot_free(&snap);
    return rc;
}

/* Names of the backends route <r>'s group would select now. */
static json_t *route_backends(struct sl_control *c, const struct sl_cfg_route *r)
{
    char group[512];
    sluice_group_snapshot_t snap;
    json_t *names = json_array();

    if (names == NULL || sl_apply_group_name(r->service, r->selector, group, sizeof(group)) != 0 ||
        sluice_lb_snapshot(c->lb, group, &snap) != 0)
        return names;
    for (size_t i = 0; i < snap.n; i++)
        if (snap.backends[i].score >= 0 && snap.backends[i].weight > 0)
            json_array_append_new(names, json_string(snap.backends[i].name));
    sluice_group_snapshot_free(&snap);
    return names;
}

static json_t *endpoint_row(struct sl_control *c, const struct sl_cfg_endpoint *ep, const char *svc)
{
    json_t *routes = json_array();

    for (size_t j = 0; routes != NULL && j < ep->nroutes; j++) {
        const struct sl_cfg_route *r = &ep->routes[j];

        if (svc != NULL && strcmp(r->service, svc) != 0)
            continue;
        json_array_append_new(routes,
                              json_pack("{s:s, s:s, s:s, s:I, s:o}", "id", r->id, "service",
                                        r->service, "selector", r->selector, "weight",
                                        (json_int_t)r->weight, "backends", route_backends(c, r)));
    }
    return json_pack("{s:s, s:o}", "pattern", ep->pattern, "routes", routes);
}

/* A service's health as a whole: panic now, its threshold, and how many
 * selections panic made. */
static json_t *service_health(struct sl_control *c, const struct sl_cfg_service *s)
{
    sluice_group_snapshot_t snap;
    size_t usable = 0;
    json_t *o;

    if (sluice_lb_snapshot(c->lb, s->name, &snap) != 0)
        return json_pack("{s:s, s:b, s:I, s:I, s:I, s:I}", "name", s->name, "panic", 0,
                         "panic_threshold", (json_int_t)s->panic_threshold, "panic_selections",
                         (json_int_t)0, "backends", (json_int_t)0, "usable", (json_int_t)0);
    for (size_t i = 0; i < snap.n; i++)
        usable += backend_usable(&snap.backends[i]);
    o = json_pack("{s:s, s:b, s:I, s:I, s:I, s:I}", "name", s->name, "panic", snap.panic,
                  "panic_threshold", (json_int_t)s->panic_threshold, "panic_selections",
                  (json_int_t)snap.panic_selections, "backends", (json_int_t)snap.n, "usable",
                  (json_int_t)usable);
    sluice_group_snapshot_free(&snap);
    return o;
}

static json_t *conflicts(const struct sl_control *c)
{
    json_t *a = json_array();

    for (size_t i = 0; a != NULL && i < c->ov.n; i++) {
        const struct sl_ov_rec *r = &c->ov.recs[i];

        if (r->inactive)
            json_array_append_new(a, json_pack("{s:s, s:s, s:s}", "kind",
                                               sl_overlay_kind_name(r->kind), "key", r->key,
                                               "reason", r->reason != NULL ? r->reason : ""));
    }
    return a;
}

static int add_endpoints(struct sl_control *c, const struct sl_query_filter *f, json_t *eps)
{
    const struct sl_config *cfg = c->cfg;
    int rc = 0;

    for (size_t i = 0; rc == 0 && i < cfg->nendpoints; i++) {
        if (f != NULL && f->endpoint != NULL && strcmp(f->endpoint, cfg->endpoints[i].pattern) != 0)
            continue;
        json_t *row = endpoint_row(c, &cfg->endpoints[i], f != NULL ? f->service : NULL);

        rc = row != NULL ? json_array_append_new(eps, row) : -1;
    }
    return rc;
}

/* Service <s>'s health row into <svcs> and its backends into <bes>. */
static int add_service(struct sl_control *c, const struct sl_cfg_service *s,
                       const struct sl_selector *psel, const char *only, json_t *svcs, json_t *bes)
{
    json_t *sh = service_health(c, s);
    int rc = sh != NULL ? json_array_append_new(svcs, sh) : -1;

    return rc == 0 ? add_backends(c, s, psel, only, bes, true) : rc;
}

static json_t *query(struct sl_control *c, const struct sl_query_filter *f, struct sl_change_err *e)
{
    struct sl_selector sel = {0};
    const struct sl_selector *psel = NULL;
    char err[160];
    json_t *eps = json_array(), *bes = json_array(), *svcs = json_array();
    const struct sl_config *cfg = c->cfg;
    int rc = eps != NULL && bes != NULL && svcs != NULL ? 0 : -1;

    if (f != NULL && f->selector != NULL && f->selector[0] != '\0') {
        if (sl_selector_parse(f->selector, &sel, err, sizeof(err)) != 0) {
            json_decref(eps);
            json_decref(bes);
            json_decref(svcs);
            sl_chg_fail(e, 400, "invalid_field", "selector: %s", err);
            return NULL;
        }
        psel = &sel;
    }
    if (rc == 0 && (f == NULL || f->backend == NULL))
        rc = add_endpoints(c, f, eps);
    for (size_t i = 0; rc == 0 && i < cfg->nservices; i++)
        if (f == NULL || f->service == NULL || strcmp(f->service, cfg->services[i].name) == 0)
            rc = add_service(c, &cfg->services[i], psel, f != NULL ? f->backend : NULL, svcs, bes);
    sl_selector_fini(&sel);
    json_t *out = rc == 0 ? json_pack("{s:o, s:o, s:o, s:o}", "endpoints", eps, "services", svcs,
                                      "backends", bes, "conflicts", conflicts(c))
                          : NULL;

    if (rc != 0) {
        json_decref(eps);
        json_decref(bes);
        json_decref(svcs);
    }
    if (out == NULL)
        sl_chg_fail(e, 500, "nomem", "out of memory");
    return out;
}

json_t *sl_query(struct sl_control *c, const struct sl_query_filter *f, struct sl_change_err *e)
{
    pthread_mutex_lock(&c->mu);
    json_t *j = query(c, f, e);

    pthread_mutex_unlock(&c->mu);
    return j;
}

json_t *sl_query_backend(struct sl_control *c, const char *svc, const char *name)
{
    const struct sl_cfg_service *s = sl_config_service(c->cfg, svc);
    const struct sl_cfg_backend *b = s != NULL ? sl_config_backend(s, name) : NULL;
    sluice_group_snapshot_t snap;
    json_t *row;

    if (b == NULL || sluice_lb_snapshot(c->lb, svc, &snap) != 0)
        return NULL;
    row = backend_row(c, s, b, snap_find(&snap, name), false);
    sluice_group_snapshot_free(&snap);
    return row;
}

static json_t *service(struct sl_control *c, const char *svc, struct sl_change_err *e)
{
    const struct sl_cfg_service *s = sl_config_service(c->cfg, svc);
    const struct sl_ynode *n = sl_ymap_get(sl_ymap_get(c->tree, "services"), svc);
    json_t *o, *bes = json_array();

    if (s == NULL) {
        json_decref(bes);
        sl_chg_fail(e, 404, "not_found", "service %s: not found", svc);
        return NULL;
    }
    o = n != NULL && n->type == SL_Y_MAP ? sl_ytree_to_json(n) : json_object();
    if (o == NULL || bes == NULL || add_backends(c, s, NULL, NULL, bes, false) != 0) {
        json_decref(o);
        json_decref(bes);
        sl_chg_fail(e, 500, "nomem", "out of memory");
        return NULL;
    }
    json_object_set_new(o, "name", json_string(svc));
    json_object_set_new(o, "backends", bes);
    return o;
}

json_t *sl_query_service(struct sl_control *c, const char *svc, struct sl_change_err *e)
{
    pthread_mutex_lock(&c->mu);
    json_t *j = service(c, svc, e);

    pthread_mutex_unlock(&c->mu);
    return j;
}
