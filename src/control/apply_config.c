/* Applying a configuration to the lb: services, backends, views, score
 * options and which services have active checks, keeping the state of what stays. The
 * router itself is built in build_router.c. */
#include "control/apply_config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/apply.h"
#include "core/score.h"
#include "core/view.h"

int sl_apply_group_name(const char *service, const char *selector, char *out, size_t len)
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

/* What one apply hands to the lb: specs borrowing the config's strings. */
struct specs {
    struct sl_group_spec *groups;
    struct sl_backend_spec *backends;
    struct sl_label *labels;
    struct sl_view_spec *views;
    char **view_names; /* owned */
    size_t nviews;
    char **retire; /* owned */
    size_t nretire;
};

static void specs_fini(struct specs *sp)
{
    free(sp->groups);
    free(sp->backends);
    free(sp->labels);
    free(sp->views);
    free_names(sp->view_names, sp->nviews);
    free_names(sp->retire, sp->nretire);
    memset(sp, 0, sizeof(*sp));
}

/* Services and backends, as the config has them. */
static int service_specs(const struct sl_config *cfg, struct specs *sp)
{
    size_t nb = 0, nl = 0;

    for (size_t i = 0; i < cfg->nservices; i++)
        for (size_t j = 0; j < cfg->services[i].nbackends; j++, nb++)
            nl += cfg->services[i].backends[j].nlabels;
    sp->groups = calloc(cfg->nservices + 1, sizeof(*sp->groups));
    sp->backends = calloc(nb + 1, sizeof(*sp->backends));
    sp->labels = calloc(nl + 1, sizeof(*sp->labels));
    if (sp->groups == NULL || sp->backends == NULL || sp->labels == NULL)
        return SLUICE_ERR_NOMEM;
    nb = nl = 0;
    for (size_t i = 0; i < cfg->nservices; i++) {
        const struct sl_cfg_service *s = &cfg->services[i];

        sp->groups[i] =
            (struct sl_group_spec){s->name, s->strategy, &sp->backends[nb], s->nbackends};
        for (size_t j = 0; j < s->nbackends; j++) {
            const struct sl_cfg_backend *b = &s->backends[j];

            /* A drained backend keeps its configured weight in the
             * config (and the query); the lb only sees 0. */
            sp->backends[nb++] =
                (struct sl_backend_spec){.name = b->name,
                                         .target = b->target,
                                         .weight = b->drain ? 0 : b->weight,
                                         .labels = &sp->labels[nl],
                                         .nlabels = b->nlabels,
                                         .connect_timeout_ms = b->connect_timeout_ms,
                                         .first_byte_timeout_ms = b->first_byte_timeout_ms,
                                         .between_bytes_timeout_ms = b->between_bytes_timeout_ms,
                                         .override_host = b->override_host};
            for (size_t k = 0; k < b->nlabels; k++)
                sp->labels[nl++] = (struct sl_label){b->labels[k].key, b->labels[k].value};
        }
    }
    return 0;
}

static bool has_name(char *const *names, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (names[i] != NULL && strcmp(names[i], name) == 0)
            return true;
    return false;
}

/* One view per distinct (service, selector) that a route uses. A view's
 * name encodes its selector, so a running one is only rebuilt. */
static int view_specs(const struct sl_config *cfg, struct specs *sp, struct sl_diag *diag)
{
    size_t nr = 0;
    char name[512];

    for (size_t i = 0; i < cfg->nendpoints; i++)
        nr += cfg->endpoints[i].nroutes;
    sp->views = calloc(nr + 1, sizeof(*sp->views));
    sp->view_names = calloc(nr + 1, sizeof(*sp->view_names));
    if (sp->views == NULL || sp->view_names == NULL)
        return SLUICE_ERR_NOMEM;
    for (size_t i = 0; i < cfg->nendpoints; i++) {
        for (size_t j = 0; j < cfg->endpoints[i].nroutes; j++) {
            const struct sl_cfg_route *r = &cfg->endpoints[i].routes[j];

            if (r->selector[0] == '\0')
                continue;
            if (sl_apply_group_name(r->service, r->selector, name, sizeof(name)) != 0) {
                sl_diag_add(diag, "route %s: selector too long", r->id);
                return SLUICE_ERR_INVALID_ARG;
            }
            if (has_name(sp->view_names, sp->nviews, name))
                continue;
            if ((sp->view_names[sp->nviews] = strdup(name)) == NULL)
                return SLUICE_ERR_NOMEM;
            sp->views[sp->nviews] =
                (struct sl_view_spec){sp->view_names[sp->nviews], r->service, r->selector};
            sp->nviews++;
        }
    }
    return 0;
}

static bool cfg_uses_view(const struct sl_config *cfg, const char *view)
{
    char name[512];

    for (size_t i = 0; i < cfg->nendpoints; i++)
        for (size_t j = 0; j < cfg->endpoints[i].nroutes; j++) {
            const struct sl_cfg_route *r = &cfg->endpoints[i].routes[j];

            if (sl_apply_group_name(r->service, r->selector, name, sizeof(name)) == 0 &&
                strcmp(name, view) == 0)
                return true;
        }
    return false;
}

/* Every service of the lb and every view of <st> that <cfg> does not use
 * retires: old routing tables may still route to them until every worker
 * adopted the new one (and a request that started on one may retry
 * there), so they stay selectable, as they were, until sl_apply_prune().
 * Retiring, a service's backend names are free for the services of <cfg>
 * in the same transaction, and a view no longer follows its service: a
 * backend that moves to another service, a renamed service or a label
 * change never leaves an old table without a backend (that was a 503 while
 * every backend was up). */
static int retire_specs(sluice_lb_t *lb, const struct sl_config *cfg,
                        const struct sl_apply_state *st, struct specs *sp)
{
    size_t n = 0;
    char **names = service_names(lb, &n);

    if (names == NULL)
        return SLUICE_ERR_NOMEM;
    sp->retire = calloc(n + st->nviews + 1, sizeof(*sp->retire));
    if (sp->retire == NULL) {
        free_names(names, n);
        return SLUICE_ERR_NOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        if (names[i] == NULL || sl_config_service(cfg, names[i]) != NULL)
            continue;
        sp->retire[sp->nretire++] = names[i];
        names[i] = NULL;
    }
    free_names(names, n);
    for (size_t i = 0; i < st->nviews; i++) {
        if (cfg_uses_view(cfg, st->views[i]))
            continue;
        if ((sp->retire[sp->nretire] = strdup(st->views[i])) == NULL)
            return SLUICE_ERR_NOMEM;
        sp->nretire++;
    }
    return 0;
}

/* Room to remember <more> view names, so that nothing can fail once the
 * lb has changed. */
static int reserve_views(struct sl_apply_state *st, size_t more)
{
    size_t cap = st->cap;
    char **v;

    if (st->nviews + more <= st->cap)
        return 0;
    while (cap < st->nviews + more)
        cap = cap != 0 ? cap * 2 : 8;
    v = realloc(st->views, cap * sizeof(*v));
    if (v == NULL)
        return SLUICE_ERR_NOMEM;
    st->views = v;
    st->cap = cap;
    return 0;
}

/* Records the views just applied (names move from <sp> to <st>). */
static void note_views(struct sl_apply_state *st, struct specs *sp)
{
    for (size_t i = 0; i < sp->nviews; i++) {
        if (has_name(st->views, st->nviews, sp->view_names[i]))
            continue;
        st->views[st->nviews++] = sp->view_names[i];
        sp->view_names[i] = NULL;
    }
}

/* Tells the lb which services have active checks (the workers probe them,
 * http/health.h): an ejected backend of such a service comes back through
 * a successful probe, not the backoff's end alone. Services exist now. */
static void apply_checks(sluice_lb_t *lb, const struct sl_config *cfg)
{
    static const sluice_check_kind_t kinds[] = {
        [SL_CHECK_NONE] = SLUICE_CHECK_NONE,
        [SL_CHECK_TCP] = SLUICE_CHECK_TCP,
        [SL_CHECK_HTTP] = SLUICE_CHECK_HTTP,
    };

    for (size_t i = 0; i < cfg->nservices; i++) {
        const struct sl_cfg_health *h = &cfg->services[i].health;
        const sluice_check_opts_t o = {
            .kind = kinds[h->check],
            .interval_ms = h->interval_ms,
            .down_interval_ms = h->down_interval_ms,
            .timeout_ms = h->timeout_ms,
            /* The probes read path and expect from the table; the library
             * only needs the kind (and refuses paths the config allows). */
        };

        (void)sluice_lb_set_check(lb, cfg->services[i].name, &o); /* validated by the parser */
    }
}

static int build_specs(sluice_lb_t *lb, const struct sl_config *cfg,
                       const struct sl_apply_state *st, struct specs *sp, struct sl_diag *diag)
{
    int rc = service_specs(cfg, sp);

    if (rc == 0)
        rc = view_specs(cfg, sp, diag);
    if (rc == 0)
        rc = retire_specs(lb, cfg, st, sp);
    if (rc == SLUICE_ERR_NOMEM)
        sl_diag_add(diag, "out of memory");
    return rc;
}

/* The health settings of every service: all checked before the lb
 * changes, so setting them afterwards cannot fail. */
static int validate_health(const struct sl_config *cfg, struct sl_diag *diag)
{
    for (size_t i = 0; i < cfg->nservices; i++) {
        const struct sl_cfg_service *s = &cfg->services[i];
        int rc = sl_score_validate(&s->health.score);

        if (rc == 0 && (s->panic_threshold > 100 || s->passive.eject_max_ms < s->passive.eject_ms))
            rc = SLUICE_ERR_INVALID_ARG;
        if (rc != 0) {
            sl_diag_add(diag, "service %s: cannot set its health options: %s", s->name,
                        sluice_strerror(rc));
            return rc;
        }
    }
    return 0;
}

static bool same_score(const sluice_score_opts_t *a, const sluice_score_opts_t *b)
{
    return a->initial == b->initial && a->low == b->low && a->high == b->high &&
           a->fail_delta == b->fail_delta && a->success_delta == b->success_delta;
}

/* <s>'s score, panic, slow start and ejection settings are what the lb
 * already runs: it was there before this apply (<had>) with the same ones
 * in <prev>, the config last applied. */
static bool health_unchanged(const struct sl_cfg_service *s, const struct sl_config *prev,
                             char *const *had, size_t nhad)
{
    const struct sl_cfg_service *p = prev != NULL ? sl_config_service(prev, s->name) : NULL;

    return p != NULL && has_name(had, nhad, s->name) &&
           same_score(&p->health.score, &s->health.score) &&
           p->panic_threshold == s->panic_threshold && p->slow_start_ms == s->slow_start_ms &&
           p->passive.eject_ms == s->passive.eject_ms &&
           p->passive.eject_max_ms == s->passive.eject_max_ms;
}

/* The score options new services' backends start with: theirs when every
 * service this apply creates agrees (the common case: one), else the
 * library's; sluice_lb_set_score() then sets each service's own. */
static const sluice_score_opts_t *new_services_score(const struct sl_config *cfg, char *const *had,
                                                     size_t nhad)
{
    static const sluice_score_opts_t defaults = SLUICE_SCORE_DEFAULTS;
    const sluice_score_opts_t *score = NULL;

    for (size_t i = 0; i < cfg->nservices; i++) {
        const sluice_score_opts_t *o = &cfg->services[i].health.score;

        if (has_name(had, nhad, cfg->services[i].name))
            continue;
        if (score != NULL && !same_score(score, o))
            return &defaults;
        score = o;
    }
    return score != NULL ? score : &defaults;
}

static void set_health(sluice_lb_t *lb, const struct sl_cfg_service *s)
{
    sluice_eject_opts_t ej = {s->passive.eject_ms, s->passive.eject_max_ms};

    /* Validated before (validate_health), and the group exists. */
    (void)sluice_lb_set_score(lb, s->name, &s->health.score);
    (void)sluice_lb_set_panic(lb, s->name, s->panic_threshold);
    (void)sluice_lb_set_slow_start(lb, s->name, s->slow_start_ms);
    (void)sluice_lb_set_ejection(lb, s->name, &ej);
}

/* Sets the health settings of the services this apply changes (<had>
 * them: before the lb transaction, so backends it adds to them start at
 * their new initial score) or registers (after it, once they exist): only
 * those, so a reload that changes one service's score touches that service
 * alone. */
static void apply_health(sluice_lb_t *lb, const struct sl_config *cfg, const struct sl_config *prev,
                         char *const *had, size_t nhad, bool existing)
{
    for (size_t i = 0; i < cfg->nservices; i++) {
        const struct sl_cfg_service *s = &cfg->services[i];

        if (has_name(had, nhad, s->name) == existing && !health_unchanged(s, prev, had, nhad))
            set_health(lb, s);
    }
}

/* After a failed lb transaction: the changed services as <prev> had them. */
static void restore_health(sluice_lb_t *lb, const struct sl_config *cfg,
                           const struct sl_config *prev, char *const *had, size_t nhad)
{
    for (size_t i = 0; i < cfg->nservices; i++) {
        const struct sl_cfg_service *s = &cfg->services[i];
        const struct sl_cfg_service *p = prev != NULL ? sl_config_service(prev, s->name) : NULL;

        if (p != NULL && has_name(had, nhad, s->name) && !health_unchanged(s, prev, had, nhad))
            set_health(lb, p);
    }
}

int sl_apply_config(sluice_lb_t *lb, const struct sl_config *cfg, const struct sl_config *prev,
                    struct sl_apply_state *st, struct sl_diag *diag)
{
    static const sluice_score_opts_t defaults = SLUICE_SCORE_DEFAULTS;
    const sluice_score_opts_t *score;
    struct sl_apply_state was = *st;
    struct specs sp = {0};
    struct sl_apply_gone gone = {0};
    char err[256] = "";
    size_t nhad = 0;
    char **had;
    int rc;

    rc = validate_health(cfg, diag);
    if (rc != 0)
        return rc;
    /* The services the lb has now: the new ones get all their settings. */
    if ((had = service_names(lb, &nhad)) == NULL) {
        sl_diag_add(diag, "out of memory");
        return SLUICE_ERR_NOMEM;
    }
    score = new_services_score(cfg, had, nhad);
    rc = build_specs(lb, cfg, st, &sp, diag);
    if (rc == 0 && (rc = reserve_views(st, sp.nviews)) != 0)
        sl_diag_add(diag, "out of memory");
    if (rc == 0) {
        /* Before the services: backends created now start at their
         * service's initial score, not the old one. */
        (void)sluice_lb_set_default_score(lb, score); /* validated above */
        apply_health(lb, cfg, prev, had, nhad, true);
        gone.retire = (const char *const *)sp.retire;
        gone.nretire = sp.nretire;
        rc = sl_lb_apply(lb, sp.groups, cfg->nservices, sp.views, sp.nviews, &gone, err,
                         sizeof(err));
        if (rc != 0) {
            sl_diag_add(diag, "cannot apply the services: %s",
                        err[0] != '\0' ? err : sluice_strerror(rc));
            (void)sluice_lb_set_default_score(lb, was.score_set ? &was.score : &defaults);
            restore_health(lb, cfg, prev, had, nhad);
        }
    }
    if (rc == 0) { /* nothing below can fail */
        apply_health(lb, cfg, prev, had, nhad, false);
        st->score = *score;
        st->score_set = true;
        note_views(st, &sp);
        apply_checks(lb, cfg);
        sluice_lb_allow_dynamic(lb, cfg->admin.dynamic_backends);
    }
    specs_fini(&sp);
    free_names(had, nhad);
    return rc;
}

static bool router_uses(struct sl_router *const *keep, size_t nkeep, const char *group)
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

void sl_apply_prune(sluice_lb_t *lb, const struct sl_config *cfg, struct sl_apply_state *st,
                    struct sl_router *const *keep, size_t nkeep)
{
    size_t n = 0;
    char **names;

    for (size_t i = 0; i < st->nviews;) {
        if (cfg_uses_view(cfg, st->views[i]) || router_uses(keep, nkeep, st->views[i])) {
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
            !router_uses(keep, nkeep, names[i]))
            sluice_lb_unregister(lb, names[i]);
    free_names(names, n);
}

void sl_apply_state_fini(sluice_lb_t *lb, struct sl_apply_state *st)
{
    (void)lb;
    for (size_t i = 0; i < st->nviews; i++)
        free(st->views[i]);
    free(st->views);
    memset(st, 0, sizeof(*st));
}
