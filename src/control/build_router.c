/* Building the router (the immutable routing table the workers read) from
 * a validated configuration: services' data-plane settings, endpoints sorted most
 * specific first with their weighted routes, and the listeners. */
#include "control/build_router.h"

#include <stdlib.h>
#include <string.h>

#include "control/apply_config.h"
#include "core/backend.h"
#include "core/health.h"
#include "proxy/stats.h"

static void destroy_router(struct sl_router *r)
{
    /* Half-built routers come here too: an array that failed to allocate
     * has no entries to free. */
    for (size_t i = 0; r->endpoints != NULL && i < r->nendpoints; i++) {
        struct sl_endpoint *e = &r->endpoints[i];

        for (size_t j = 0; j < e->nroutes; j++) {
            free(e->routes[j].id);
            free(e->routes[j].group);
            free(e->routes[j].selector);
        }
        free(e->routes);
        free(e->pattern);
        free(e->host);
        free(e->path);
    }
    free(r->endpoints);
    for (size_t i = 0; i < r->nservices; i++) {
        struct sl_service_rt *s = &r->services[i];

        free(s->name);
        free(s->hash_key_name);
        free(s->health.method);
        free(s->health.path);
        free(s->health.host);
        free(s->health.expect);
        free(s->health.body);
        for (size_t j = 0; s->targets != NULL && j < s->ntargets; j++) {
            sl_backend_unref(s->targets[j].be);
            free(s->targets[j].host);
        }
        free(s->targets);
    }
    free(r->services);
    for (size_t i = 0; i < r->nlisteners; i++) {
        free(r->listeners[i].name);
        free(r->listeners[i].bind);
        free(r->listeners[i].group);
    }
    free(r->listeners);
    free(r);
}

/* strdup that counts a failure in *<bad> (NULL in, NULL out, no failure). */
static char *dup(const char *s, int *bad)
{
    if (s == NULL)
        return NULL;
    char *d = strdup(s);

    *bad |= d == NULL;
    return d;
}

static const struct sl_service_rt *find_rt(const struct sl_router *r, const char *name)
{
    for (size_t i = 0; name != NULL && i < r->nservices; i++)
        if (r->services[i].name != NULL && strcmp(r->services[i].name, name) == 0)
            return &r->services[i];
    return NULL;
}

static sluice_check_kind_t check_kind(enum sl_check_kind k)
{
    return k == SL_CHECK_HTTP  ? SLUICE_CHECK_HTTP
           : k == SL_CHECK_TCP ? SLUICE_CHECK_TCP
                               : SLUICE_CHECK_NONE;
}

static int build_health(struct sl_health_rt *h, const struct sl_cfg_health *c)
{
    int bad = 0;

    h->kind = check_kind(c->check);
    h->method = dup(c->method != NULL ? c->method : "GET", &bad);
    h->path = dup(c->path != NULL ? c->path : "/", &bad);
    h->host = dup(c->host, &bad);
    h->body = dup(c->body, &bad);
    h->body_len = c->body != NULL ? strlen(c->body) : 0;
    h->interval_ms = c->interval_ms > 0 ? c->interval_ms : 2000;
    h->down_interval_ms = c->down_interval_ms > 0 ? c->down_interval_ms : h->interval_ms / 2;
    if (h->down_interval_ms == 0)
        h->down_interval_ms = 1;
    h->timeout_ms = c->timeout_ms > 0 ? c->timeout_ms : 1000;
    h->expect = calloc(c->nexpect > 0 ? c->nexpect : 1, sizeof(*h->expect));
    if (h->expect == NULL)
        return -1;
    for (size_t i = 0; i < c->nexpect; i++)
        h->expect[h->nexpect++] = (struct sl_status_range){c->expect[i].lo, c->expect[i].hi};
    if (h->nexpect == 0)
        h->expect[h->nexpect++] = (struct sl_status_range){200, 399};
    return bad ? -1 : 0;
}

/* FNV-1a over the service and backend names: the same pair lands on the
 * same worker at the same phase in every table. */
static uint64_t target_hash(const char *service, const char *backend)
{
    uint64_t h = 0xcbf29ce484222325ull;

    for (const char *p = service; *p != '\0'; p++)
        h = (h ^ (unsigned char)*p) * 0x100000001b3ull;
    h = (h ^ 0xffu) * 0x100000001b3ull; /* a separator no name holds */
    for (const char *p = backend; *p != '\0'; p++)
        h = (h ^ (unsigned char)*p) * 0x100000001b3ull;
    return h ^ (h >> 29);
}

/* The service's backends as the lb holds them now, each with the Host
 * header its http probe sends: the check's host, else the backend's
 * override_host, else its target. */
static int build_targets(sluice_lb_t *lb, struct sl_service_rt *rt)
{
    sluice_backend_t **bes = NULL;
    size_t n = 0;
    int bad = 0;

    if (lb == NULL || rt->name == NULL)
        return 0;
    if (sl_lb_service_backends(lb, rt->name, &bes, &n) != 0) /* UNKNOWN: none yet */
        return 0;
    rt->targets = calloc(n + 1, sizeof(*rt->targets));
    if (rt->targets == NULL) {
        for (size_t i = 0; i < n; i++)
            sl_backend_unref(bes[i]);
        free(bes);
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        struct sl_health_target *t = &rt->targets[rt->ntargets++];
        const char *oh = sluice_backend_override_host(bes[i]);

        t->be = bes[i];
        t->hash = target_hash(rt->name, sluice_backend_name(bes[i]));
        t->host = dup(rt->health.host != NULL       ? rt->health.host
                      : oh != NULL && oh[0] != '\0' ? oh
                                                    : sluice_backend_target(bes[i]),
                      &bad);
    }
    free(bes);
    return bad ? -1 : 0;
}

static int build_services(struct sl_router *r, const struct sl_config *cfg)
{
    int bad = 0;

    r->services = calloc(cfg->nservices + 1, sizeof(*r->services));
    if (r->services == NULL)
        return -1;
    for (size_t i = 0; i < cfg->nservices; i++) {
        const struct sl_cfg_service *s = &cfg->services[i];
        struct sl_service_rt *rt = &r->services[r->nservices++];

        rt->name = dup(s->name, &bad);
        rt->hash_key = s->hash_key;
        rt->hash_key_name = dup(s->hash_key_name, &bad);
        rt->hash_key_name_len = s->hash_key_name != NULL ? strlen(s->hash_key_name) : 0;
        rt->connect_timeout_ms = s->connect_timeout_ms;
        rt->response_timeout_ms = s->response_timeout_ms;
        rt->idle_timeout_ms = s->idle_timeout_ms;
        rt->retries = s->retries;
        rt->buffer_body = s->buffer_request_body;
        rt->passive_5xx = s->passive.on_5xx;
        if (build_health(&rt->health, &s->health) != 0 || build_targets(r->lb, rt) != 0)
            bad = 1;
    }
    return bad ? -1 : 0;
}

static int build_endpoint(struct sl_router *r, const struct sl_cfg_endpoint *ce,
                          struct sl_endpoint *e)
{
    char group[512];
    int bad = 0;

    e->pattern = dup(ce->pattern, &bad);
    e->host_match = ce->host_match;
    e->host = dup(ce->host, &bad);
    e->host_len = ce->host != NULL ? strlen(ce->host) : 0;
    e->path = dup(ce->path, &bad);
    e->path_len = ce->path != NULL ? strlen(ce->path) : 0;
    e->routes = calloc(ce->nroutes + 1, sizeof(*e->routes));
    if (e->routes == NULL)
        return -1;
    for (size_t j = 0; j < ce->nroutes; j++) {
        const struct sl_cfg_route *cr = &ce->routes[j];
        struct sl_route *rt = &e->routes[e->nroutes++];

        if (sl_apply_group_name(cr->service, cr->selector, group, sizeof(group)) != 0)
            return -1;
        rt->id = dup(cr->id, &bad);
        rt->group = dup(group, &bad);
        rt->selector = dup(cr->selector, &bad);
        rt->svc = find_rt(r, cr->service);
        rt->weight = cr->weight;
        rt->stat_slot =
            sl_stats_route_slot(ce->pattern ? ce->pattern : "", rt->id ? rt->id : "") + 1;
        e->total_weight += cr->weight;
        rt->cum_weight = e->total_weight;
    }
    return bad ? -1 : 0;
}

static int host_rank(enum sl_host_match m)
{
    return m == SL_HOST_EXACT ? 0 : m == SL_HOST_WILDCARD ? 1 : 2;
}

/* Most specific first, so the router's linear scan stops at the best
 * match: exact host, then wildcard (longer suffix first), then any host;
 * within a host, the longer path prefix first. */
static int endpoint_cmp(const void *pa, const void *pb)
{
    const struct sl_endpoint *a = pa, *b = pb;
    int d = host_rank(a->host_match) - host_rank(b->host_match);

    if (d != 0)
        return d;
    if (a->host_len != b->host_len)
        return a->host_len > b->host_len ? -1 : 1;
    if (a->path_len != b->path_len)
        return a->path_len > b->path_len ? -1 : 1;
    return strcmp(a->pattern, b->pattern);
}

static int build_listeners(struct sl_router *r, const struct sl_config *cfg,
                           const struct sl_cfg_listener *ls, size_t nls)
{
    int bad = 0;

    r->listeners = calloc(nls + 1, sizeof(*r->listeners));
    if (r->listeners == NULL)
        return -1;
    for (size_t i = 0; i < nls; i++) {
        const struct sl_cfg_listener *run = &ls[i], *l = run;
        struct sl_listener_rt *rt = &r->listeners[r->nlisteners++];

        /* Bind and mode are what runs; the rest follows the file. */
        for (size_t j = 0; j < cfg->nlisteners; j++)
            if (strcmp(cfg->listeners[j].name, run->name) == 0 &&
                strcmp(cfg->listeners[j].bind, run->bind) == 0 &&
                cfg->listeners[j].mode == run->mode)
                l = &cfg->listeners[j];
        rt->name = dup(run->name, &bad);
        rt->bind = dup(run->bind, &bad);
        rt->mode = run->mode;
        if (run->mode == SL_MODE_TCP) {
            rt->svc = find_rt(r, l->service);
            rt->group = dup(l->service, &bad);
        }
        rt->header_timeout_ms = l->header_timeout_ms;
        rt->idle_timeout_ms = l->idle_timeout_ms;
        rt->max_head = l->max_header_size;
        rt->body_timeout_ms = l->body_timeout_ms;
        rt->min_body_rate = l->min_body_rate;
        rt->max_body_size = l->max_body_size;
    }
    return bad ? -1 : 0;
}

int sl_build_router(sluice_lb_t *lb, const struct sl_config *cfg, const struct sl_cfg_listener *ls,
                    size_t nls, struct sl_router **out)
{
    struct sl_router *r = calloc(1, sizeof(*r));

    if (r == NULL)
        return SLUICE_ERR_NOMEM;
    atomic_init(&r->refs, 1);
    r->lb = lb;
    r->destroy = destroy_router;
    if (build_services(r, cfg) != 0)
        goto nomem;
    r->endpoints = calloc(cfg->nendpoints + 1, sizeof(*r->endpoints));
    if (r->endpoints == NULL)
        goto nomem;
    for (size_t i = 0; i < cfg->nendpoints; i++)
        if (build_endpoint(r, &cfg->endpoints[i], &r->endpoints[r->nendpoints++]) != 0)
            goto nomem;
    qsort(r->endpoints, r->nendpoints, sizeof(*r->endpoints), endpoint_cmp);
    if (build_listeners(r, cfg, ls, nls) != 0)
        goto nomem;
    *out = r;
    return 0;

nomem:
    destroy_router(r);
    return SLUICE_ERR_NOMEM;
}
