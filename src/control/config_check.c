/* Rules that span sections: at least one listener, unique names, binds and
 * patterns, references that resolve, and the warnings about what this
 * version applies lb-wide. Runs on a model that may already hold field
 * errors, so every name may be NULL. */
#include <stdlib.h>
#include <string.h>

#include "control/config_ctx.h"
#include "core/target.h"

static bool same(const char *a, const char *b)
{
    return a != NULL && b != NULL && strcmp(a, b) == 0;
}

/* Listener <i> against those before it: names and binds are unique. */
static void check_listener_clash(struct sl_cfg_ctx *c, const struct sl_config *cfg, size_t i)
{
    const struct sl_cfg_listener *l = &cfg->listeners[i];

    for (size_t j = 0; j < i; j++) {
        const struct sl_cfg_listener *o = &cfg->listeners[j];

        if (same(l->name, o->name))
            sl_cfg_err(c, l->line, "listener %s: name already used on line %d", l->name, o->line);
        if (same(l->bind, o->bind))
            sl_cfg_err(c, l->line, "listener %s: bind %s already used on line %d",
                       l->name != NULL ? l->name : "?", l->bind, o->line);
    }
}

static void check_listeners(struct sl_cfg_ctx *c, const struct sl_config *cfg, int root_line)
{
    if (cfg->nlisteners == 0)
        sl_cfg_err(c, root_line, "at least one listener is needed");
    for (size_t i = 0; i < cfg->nlisteners; i++) {
        const struct sl_cfg_listener *l = &cfg->listeners[i];

        check_listener_clash(c, cfg, i);
        if (cfg->admin.bind != NULL && same(l->bind, cfg->admin.bind))
            sl_cfg_err(c, l->line, "listener %s: bind %s is admin.bind too: give each its own",
                       l->name != NULL ? l->name : "?", l->bind);
        if (l->mode == SL_MODE_TCP && l->service != NULL &&
            sl_config_service(cfg, l->service) == NULL)
            sl_cfg_err(c, l->line, "listener %s: unknown service '%s'",
                       l->name != NULL ? l->name : "?", l->service);
    }
}

/* One backend for the uniqueness checks: its canonical target (the same
 * address however written: "h" and "h:80" are one target to the lb) or
 * its name, with where it is. Sorted, equal keys are neighbours: a file
 * (or an overlay) with thousands of backends is checked in n log n. */
struct bkey {
    const char *key; /* when canon is empty */
    size_t svc, idx; /* file order */
    char canon[sizeof(((struct sl_target *)0)->canon)];
};

/* Not a pointer into the struct: qsort moves them. */
static const char *key_of(const struct bkey *k)
{
    return k->canon[0] != '\0' ? k->canon : k->key;
}

static int bkey_cmp(const void *pa, const void *pb)
{
    const struct bkey *a = pa, *b = pb;
    int c = strcmp(key_of(a), key_of(b));

    if (c != 0)
        return c;
    if (a->svc != b->svc)
        return a->svc < b->svc ? -1 : 1;
    return a->idx < b->idx ? -1 : a->idx > b->idx;
}

static void check_targets(struct sl_cfg_ctx *c, const struct sl_cfg_service *s, struct bkey *v)
{
    size_t n = 0;

    for (size_t j = 0; j < s->nbackends; j++) {
        const char *t = s->backends[j].target;
        struct sl_target pt;

        if (t == NULL)
            continue;
        v[n] = (struct bkey){.key = t, .idx = j};
        if (sl_target_parse(t, &pt) == 0)
            memcpy(v[n].canon, pt.canon, sizeof(v[n].canon));
        n++;
    }
    qsort(v, n, sizeof(*v), bkey_cmp);
    for (size_t i = 1; i < n; i++) {
        size_t first = i - 1;

        while (first > 0 && strcmp(key_of(&v[first - 1]), key_of(&v[i])) == 0)
            first--;
        if (strcmp(key_of(&v[first]), key_of(&v[i])) != 0)
            continue;
        const struct sl_cfg_backend *b = &s->backends[v[i].idx];
        int fl = s->backends[v[first].idx].line;

        /* Line 0: the first one came from the API, which has no lines. */
        if (fl > 0)
            sl_cfg_err(c, b->line, "service %s: target %s already used on line %d", s->name,
                       b->target, fl);
        else
            sl_cfg_err(c, b->line, "service %s: target %s already used in this service", s->name,
                       b->target);
    }
}

static void check_names(struct sl_cfg_ctx *c, const struct sl_config *cfg, struct bkey *v,
                        size_t total)
{
    size_t n = 0;

    for (size_t i = 0; i < cfg->nservices; i++)
        for (size_t j = 0; j < cfg->services[i].nbackends; j++)
            if (cfg->services[i].backends[j].name != NULL && n < total)
                v[n++] =
                    (struct bkey){.key = cfg->services[i].backends[j].name, .svc = i, .idx = j};
    qsort(v, n, sizeof(*v), bkey_cmp);
    for (size_t i = 1; i < n; i++) {
        const struct bkey *f = &v[i - 1];

        while (f > v && strcmp(key_of(f - 1), key_of(&v[i])) == 0)
            f--;
        if (strcmp(key_of(f), key_of(&v[i])) != 0)
            continue;
        const struct sl_cfg_backend *b = &cfg->services[v[i].svc].backends[v[i].idx];
        const struct sl_cfg_backend *ob = &cfg->services[f->svc].backends[f->idx];

        /* Names are unique in the whole lb: the API addresses backends by name. */
        if (f->svc == v[i].svc && ob->line > 0)
            sl_cfg_err(c, b->line, "backend name '%s' already used on line %d", b->name, ob->line);
        else if (f->svc == v[i].svc)
            sl_cfg_err(c, b->line, "backend name '%s' already used in service %s", b->name,
                       cfg->services[f->svc].name);
        else if (ob->line > 0)
            sl_cfg_err(c, b->line, "backend name '%s' already used on line %d (service %s)",
                       b->name, ob->line, cfg->services[f->svc].name);
        else
            sl_cfg_err(c, b->line, "backend name '%s' already used by service %s", b->name,
                       cfg->services[f->svc].name);
    }
}

static void check_backends(struct sl_cfg_ctx *c, const struct sl_config *cfg)
{
    size_t total = 0;
    struct bkey *v;

    for (size_t i = 0; i < cfg->nservices; i++)
        total += cfg->services[i].nbackends;
    if ((v = calloc(total + 1, sizeof(*v))) == NULL) {
        c->nomem = true;
        return;
    }
    for (size_t i = 0; i < cfg->nservices; i++)
        check_targets(c, &cfg->services[i], v);
    check_names(c, cfg, v, total);
    free(v);
}

static bool same_pattern(const struct sl_cfg_endpoint *a, const struct sl_cfg_endpoint *b)
{
    return a->host_match == b->host_match && same(a->host, b->host) && same(a->path, b->path);
}

/* Checks the routes of endpoint <e> (<p> names it); returns their total
 * weight. */
static uint64_t check_routes(struct sl_cfg_ctx *c, const struct sl_config *cfg,
                             const struct sl_cfg_endpoint *e, const char *p)
{
    uint64_t total = 0;

    for (size_t j = 0; j < e->nroutes; j++) {
        const struct sl_cfg_route *r = &e->routes[j];

        total += r->weight;
        if (r->service != NULL && sl_config_service(cfg, r->service) == NULL)
            sl_cfg_err(c, r->line, "endpoint %s: route %s: unknown service '%s'", p,
                       r->id != NULL ? r->id : "?", r->service);
        for (size_t k = 0; k < j; k++)
            if (same(r->id, e->routes[k].id) && e->routes[k].line > 0)
                sl_cfg_err(c, r->line, "endpoint %s: route id '%s' already used on line %d", p,
                           r->id, e->routes[k].line);
            else if (same(r->id, e->routes[k].id))
                sl_cfg_err(c, r->line, "endpoint %s: route id '%s' already used in this endpoint",
                           p, r->id);
    }
    return total;
}

static void check_endpoints(struct sl_cfg_ctx *c, const struct sl_config *cfg)
{
    for (size_t i = 0; i < cfg->nendpoints; i++) {
        const struct sl_cfg_endpoint *e = &cfg->endpoints[i];
        const char *p = e->pattern != NULL ? e->pattern : "?";

        for (size_t j = 0; j < i; j++)
            if (same_pattern(e, &cfg->endpoints[j]))
                sl_cfg_err(c, e->line, "endpoint %s: same pattern as line %d", p,
                           cfg->endpoints[j].line);
        if (e->nroutes > 0 && check_routes(c, cfg, e, p) == 0)
            sl_cfg_warn(c, e->line, "endpoint %s: every route has weight 0: it answers 503", p);
    }
}

void sl_cfg_check_model(struct sl_cfg_ctx *c, struct sl_config *cfg, int root_line)
{
    check_listeners(c, cfg, root_line);
    check_backends(c, cfg);
    check_endpoints(c, cfg);
}
