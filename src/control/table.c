/* Applying a configuration to the lb: services, backends, views, score
 * options and the health checker, keeping the state of what stays. The
 * routing table itself is built in table_build.c. */
#include "control/table.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/target.h"
#include "core/view.h"

int sl_table_group_name(const char *service, const char *selector, char *out, size_t len)
{
    int n = selector == NULL || selector[0] == '\0'
                ? snprintf(out, len, "%s", service)
                : snprintf(out, len, "%s\x1f%s", service, selector);

    return n >= 0 && (size_t)n < len ? 0 : -1;
}

/* Copies of every service name (the lb's are borrowed only until an
 * unregister), NULL-terminated; *<n> gets the count. NULL when out of
 * memory. */
static char **service_names(sluice_lb_t *lb, size_t *n)
{
    size_t cap = sluice_lb_list_services(lb, NULL, 0);
    const char **names = calloc(cap + 1, sizeof(*names));
    char **copy = calloc(cap + 1, sizeof(*copy));

    if (names == NULL || copy == NULL) {
        free(names);
        free(copy);
        return NULL;
    }
    /* Control is the only writer, so the count cannot grow meanwhile. */
    *n = sluice_lb_list_services(lb, names, cap);
    if (*n > cap)
        *n = cap;
    for (size_t i = 0; i < *n; i++)
        copy[i] = strdup(names[i]);
    free(names);
    return copy;
}

static void free_names(char **names, size_t n)
{
    for (size_t i = 0; names != NULL && i < n; i++)
        free(names[i]);
    free(names);
}

/* Same address, whatever way it was written ("h" and "h:80"). */
static bool same_target(const char *a, const char *b)
{
    struct sl_target ta, tb;

    if (strcmp(a, b) == 0)
        return true;
    return sl_target_parse(a, &ta) == 0 && sl_target_parse(b, &tb) == 0 &&
           strcmp(ta.canon, tb.canon) == 0;
}

static bool same_labels(const struct sl_cfg_backend *a, const struct sl_cfg_backend *b)
{
    if (a->nlabels != b->nlabels)
        return false;
    for (size_t i = 0; i < a->nlabels; i++) /* both sorted by key */
        if (strcmp(a->labels[i].key, b->labels[i].key) != 0 ||
            strcmp(a->labels[i].value, b->labels[i].value) != 0)
            return false;
    return true;
}

/* The running backend <snap> (of service <svc>) can stay as it is for
 * <want>: same name, same address, same labels as last applied. */
static bool keeps(const sluice_backend_snapshot_t *snap, const struct sl_cfg_backend *want,
                  const struct sl_config *prev, const char *svc)
{
    const struct sl_cfg_backend *was =
        prev != NULL ? sl_config_backend(sl_config_service(prev, svc), snap->name) : NULL;

    return want != NULL && was != NULL && same_target(snap->target, want->target) &&
           same_labels(was, want);
}

static bool name_wanted(const struct sl_config *cfg, const char *name)
{
    for (size_t i = 0; i < cfg->nservices; i++)
        if (sl_config_backend(&cfg->services[i], name) != NULL)
            return true;
    return false;
}

/* A service about to vanish is pruned after the swap, so old tables can
 * still reach it; but if one of its backend names moves to another
 * service, it must go now or the name is taken. */
static int drop_vanished(sluice_lb_t *lb, const struct sl_config *cfg, struct sl_diag *diag)
{
    size_t n = 0;
    char **names = service_names(lb, &n);
    int rc = 0;

    if (names == NULL)
        return SLUICE_ERR_NOMEM;
    for (size_t i = 0; i < n && rc == 0; i++) {
        sluice_group_snapshot_t snap;
        bool conflict = false;

        if (names[i] == NULL || sl_config_service(cfg, names[i]) != NULL ||
            sluice_lb_snapshot(lb, names[i], &snap) != 0)
            continue;
        for (size_t j = 0; j < snap.n && !conflict; j++)
            conflict = name_wanted(cfg, snap.backends[j].name);
        sluice_group_snapshot_free(&snap);
        if (conflict && (rc = sluice_lb_unregister(lb, names[i])) != 0)
            sl_diag_add(diag, "service %s: cannot remove: %s", names[i], sluice_strerror(rc));
    }
    free_names(names, n);
    return rc;
}

/* Phase 1 for one service: register it if new or if its strategy changed,
 * and remove the backends that do not stay. Sets keep[i] for each
 * backend of <s> that stays, with its running weight in weights[i]. */
static int prepare_service(sluice_lb_t *lb, const struct sl_cfg_service *s,
                           const struct sl_config *prev, bool *keep, uint32_t *weights,
                           struct sl_diag *diag)
{
    sluice_group_snapshot_t snap;
    int rc;

    rc = sluice_lb_snapshot(lb, s->name, &snap);
    if (rc == 0 && snap.strategy != s->strategy) {
        sluice_group_snapshot_free(&snap); /* no API changes a strategy in place */
        rc = SLUICE_ERR_UNKNOWN_SERVICE;
    }
    if (rc != 0) {
        rc = sluice_lb_register(lb, s->name, NULL, 0, s->strategy);
        if (rc != 0)
            sl_diag_add(diag, "service %s: cannot register: %s", s->name, sluice_strerror(rc));
        return rc;
    }
    rc = 0;
    for (size_t i = 0; i < snap.n && rc == 0; i++) {
        const sluice_backend_snapshot_t *b = &snap.backends[i];
        const struct sl_cfg_backend *want = sl_config_backend(s, b->name);

        if (keeps(b, want, prev, s->name)) {
            size_t idx = (size_t)(want - s->backends);

            keep[idx] = true;
            weights[idx] = b->weight;
            continue;
        }
        rc = sluice_lb_remove_backend(lb, s->name, b->name);
        if (rc != 0)
            sl_diag_add(diag, "service %s: cannot remove backend %s: %s", s->name, b->name,
                        sluice_strerror(rc));
    }
    sluice_group_snapshot_free(&snap);
    return rc;
}

static int add_backend(sluice_lb_t *lb, const char *svc, const struct sl_cfg_backend *b,
                       struct sl_diag *diag)
{
    sluice_backend_builder_t *bb = sluice_backend_builder_new(b->name, b->target);
    int rc;

    if (bb == NULL)
        return SLUICE_ERR_NOMEM;
    sluice_backend_builder_weight(bb, b->weight);
    for (size_t i = 0; i < b->nlabels; i++)
        sluice_backend_builder_label(bb, b->labels[i].key, b->labels[i].value);
    rc = sluice_backend_builder_finish(bb, lb, svc); /* consumes bb */
    if (rc != 0)
        sl_diag_add(diag, "service %s: cannot add backend %s (%s): %s", svc, b->name, b->target,
                    sluice_strerror(rc));
    return rc;
}

struct plan {
    bool *keep;
    uint32_t *weights;
};

/* Removals in every service first, then additions: a backend name may
 * move from one service to another in the same reload. */
static int apply_backends(sluice_lb_t *lb, const struct sl_config *cfg,
                          const struct sl_config *prev, struct sl_diag *diag)
{
    struct plan *plan = calloc(cfg->nservices + 1, sizeof(*plan));
    int rc;

    if (plan == NULL)
        return SLUICE_ERR_NOMEM;
    rc = drop_vanished(lb, cfg, diag);
    for (size_t i = 0; i < cfg->nservices && rc == 0; i++) {
        const struct sl_cfg_service *s = &cfg->services[i];

        plan[i].keep = calloc(s->nbackends + 1, sizeof(bool));
        plan[i].weights = calloc(s->nbackends + 1, sizeof(uint32_t));
        if (plan[i].keep == NULL || plan[i].weights == NULL)
            rc = SLUICE_ERR_NOMEM;
        else
            rc = prepare_service(lb, s, prev, plan[i].keep, plan[i].weights, diag);
    }
    for (size_t i = 0; i < cfg->nservices && rc == 0; i++) {
        const struct sl_cfg_service *s = &cfg->services[i];

        for (size_t j = 0; j < s->nbackends && rc == 0; j++) {
            const struct sl_cfg_backend *b = &s->backends[j];

            if (!plan[i].keep[j])
                rc = add_backend(lb, s->name, b, diag);
            else if (plan[i].weights[j] != b->weight &&
                     (rc = sluice_lb_set_weight(lb, s->name, b->name, b->weight)) != 0)
                sl_diag_add(diag, "service %s: backend %s: cannot set weight: %s", s->name, b->name,
                            sluice_strerror(rc));
        }
    }
    for (size_t i = 0; i < cfg->nservices; i++) {
        free(plan[i].keep);
        free(plan[i].weights);
    }
    free(plan);
    return rc;
}

static bool has_view(const struct sl_table_state *st, const char *name)
{
    for (size_t i = 0; i < st->nviews; i++)
        if (strcmp(st->views[i], name) == 0)
            return true;
    return false;
}

/* Registers the view route <r> selects from, unless it has none or the
 * view exists already. */
static int apply_route_view(sluice_lb_t *lb, const struct sl_cfg_route *r,
                            struct sl_table_state *st, struct sl_diag *diag)
{
    char name[512], err[160];
    int rc;

    if (r->selector[0] == '\0')
        return 0;
    if (sl_table_group_name(r->service, r->selector, name, sizeof(name)) != 0) {
        sl_diag_add(diag, "route %s: selector too long", r->id);
        return SLUICE_ERR_INVALID_ARG;
    }
    if (has_view(st, name))
        return 0;
    if (st->nviews == st->cap) {
        size_t cap = st->cap != 0 ? st->cap * 2 : 8;
        char **v = realloc(st->views, cap * sizeof(*v));

        if (v == NULL)
            return SLUICE_ERR_NOMEM;
        st->views = v;
        st->cap = cap;
    }
    if ((st->views[st->nviews] = strdup(name)) == NULL)
        return SLUICE_ERR_NOMEM;
    rc = sl_lb_register_view(lb, name, r->service, r->selector, err, sizeof(err));
    if (rc != 0) {
        free(st->views[st->nviews]);
        sl_diag_add(diag, "route %s: cannot register view: %s", r->id, err);
        return rc;
    }
    st->nviews++;
    return 0;
}

/* One view per distinct (service, selector) that a route uses. A view's
 * name encodes its selector, so an existing one never needs replacing:
 * the lb rebuilds it whenever its service changes. */
static int apply_views(sluice_lb_t *lb, const struct sl_config *cfg, struct sl_table_state *st,
                       struct sl_diag *diag)
{
    for (size_t i = 0; i < cfg->nendpoints; i++) {
        for (size_t j = 0; j < cfg->endpoints[i].nroutes; j++) {
            int rc = apply_route_view(lb, &cfg->endpoints[i].routes[j], st, diag);

            if (rc != 0)
                return rc;
        }
    }
    return 0;
}

/* One checker for the whole lb, at the tightest interval and timeout any
 * service asks for; restarted when those change. */
static int apply_checker(sluice_lb_t *lb, const struct sl_config *cfg, struct sl_table_state *st,
                         struct sl_diag *diag)
{
    uint32_t interval = UINT32_MAX, timeout = UINT32_MAX;
    bool want = false;
    int rc;

    for (size_t i = 0; i < cfg->nservices; i++) {
        const struct sl_cfg_health *h = &cfg->services[i].health;

        if (h->check == SL_CHECK_NONE)
            continue;
        want = true;
        interval = h->interval_ms < interval ? h->interval_ms : interval;
        timeout = h->timeout_ms < timeout ? h->timeout_ms : timeout;
    }
    if (st->checker_running &&
        (!want || interval != st->checker_interval_ms || timeout != st->checker_timeout_ms)) {
        sluice_lb_stop_health_checker(lb);
        st->checker_running = false;
    }
    if (!want || st->checker_running)
        return 0;
    rc = sluice_lb_start_health_checker(lb, interval, timeout);
    if (rc != 0) {
        sl_diag_add(diag, "cannot start the health checker: %s", sluice_strerror(rc));
        return rc;
    }
    st->checker_running = true;
    st->checker_interval_ms = interval;
    st->checker_timeout_ms = timeout;
    return 0;
}

int sl_table_apply(sluice_lb_t *lb, const struct sl_config *cfg, const struct sl_config *prev,
                   struct sl_table_state *st, struct sl_diag *diag)
{
    static const sluice_score_opts_t defaults = {1, -3, 3, -1, 1};
    /* Score options are lb-wide in this version: the first service's. */
    const sluice_score_opts_t *score =
        cfg->nservices > 0 ? &cfg->services[0].health.score : &defaults;
    int rc;

    /* The config's own backends are never "dynamic": let them in, then
     * restore what the file asks for the API. */
    sluice_lb_allow_dynamic(lb, true);
    rc = sluice_lb_set_score(lb, score);
    if (rc != 0)
        sl_diag_add(diag, "cannot set score options: %s", sluice_strerror(rc));
    if (rc == 0)
        rc = apply_backends(lb, cfg, prev, diag);
    if (rc == 0)
        rc = apply_views(lb, cfg, st, diag);
    if (rc == 0)
        rc = apply_checker(lb, cfg, st, diag);
    sluice_lb_allow_dynamic(lb, cfg->admin.dynamic_backends);
    return rc;
}

static bool table_uses(struct sl_router *const *keep, size_t nkeep, const char *group)
{
    for (size_t k = 0; k < nkeep; k++) {
        const struct sl_router *r = keep[k];

        for (size_t i = 0; i < r->nendpoints; i++)
            for (size_t j = 0; j < r->endpoints[i].nroutes; j++)
                if (strcmp(r->endpoints[i].routes[j].group, group) == 0 ||
                    (r->endpoints[i].routes[j].svc != NULL &&
                     strcmp(r->endpoints[i].routes[j].svc->name, group) == 0))
                    return true;
        for (size_t i = 0; i < r->nlisteners; i++)
            if (r->listeners[i].group != NULL && strcmp(r->listeners[i].group, group) == 0)
                return true;
    }
    return false;
}

static bool cfg_uses_view(const struct sl_config *cfg, const char *view)
{
    char name[512];

    for (size_t i = 0; i < cfg->nendpoints; i++)
        for (size_t j = 0; j < cfg->endpoints[i].nroutes; j++) {
            const struct sl_cfg_route *r = &cfg->endpoints[i].routes[j];

            if (sl_table_group_name(r->service, r->selector, name, sizeof(name)) == 0 &&
                strcmp(name, view) == 0)
                return true;
        }
    return false;
}

void sl_table_prune(sluice_lb_t *lb, const struct sl_config *cfg, struct sl_table_state *st,
                    struct sl_router *const *keep, size_t nkeep)
{
    size_t n = 0;
    char **names;

    for (size_t i = 0; i < st->nviews;) {
        if (cfg_uses_view(cfg, st->views[i]) || table_uses(keep, nkeep, st->views[i])) {
            i++;
            continue;
        }
        sl_lb_unregister_view(lb, st->views[i]);
        free(st->views[i]);
        st->views[i] = st->views[--st->nviews];
    }
    if ((names = service_names(lb, &n)) == NULL)
        return; /* out of memory: pruned at the next publish */
    for (size_t i = 0; i < n; i++)
        if (names[i] != NULL && sl_config_service(cfg, names[i]) == NULL &&
            !table_uses(keep, nkeep, names[i]))
            sluice_lb_unregister(lb, names[i]);
    free_names(names, n);
}

void sl_table_state_fini(sluice_lb_t *lb, struct sl_table_state *st)
{
    if (st->checker_running && lb != NULL)
        sluice_lb_stop_health_checker(lb);
    for (size_t i = 0; i < st->nviews; i++)
        free(st->views[i]);
    free(st->views);
    memset(st, 0, sizeof(*st));
}
