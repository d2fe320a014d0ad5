/* The configuration file: top-level keys, listeners and endpoints. Services
 * are in config_service.c, field readers in config_fields.c, the rules
 * that span sections (names unique, references resolve) in
 * config_check.c, lookups by name in config_lookup.c. */
#include "control/config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "control/config_ctx.h"
#include "control/geoip.h"
#include "core/view.h"
#include "net/sock.h"
#include "proxy/defaults.h"

static const char *const top_keys[] = {"workers",   "drain_timeout", "admin",     "state", "agents",
                                       "listeners", "services",      "endpoints", NULL};
/* admin.bind when admin: leaves it out (docs/configuration.md says the
 * same): loopback only, the API has no TLS yet. */
#define ADMIN_BIND_DEFAULT "127.0.0.1:9090"

static const char *const admin_keys[] = {"bind", "dynamic_backends", "token_file", "metrics_public",
                                         NULL};
static const char *const agents_keys[] = {"lease", "expire", "geoip_db", NULL};
static const char *const listener_keys[] = {"name",          "bind",          "mode",
                                            "service",       "timeouts",      "max_header_size",
                                            "min_body_rate", "max_body_size", NULL};
static const char *const ltimeout_keys[] = {"header", "idle", "body", NULL};
static const char *const endpoint_keys[] = {"pattern", "routes", NULL};
static const char *const route_keys[] = {"service", "selector", "weight", "id", NULL};

static void parse_workers(struct sl_cfg_ctx *c, const struct sl_ynode *n, struct sl_config *cfg)
{
    if (n == NULL)
        return;
    if (n->type == SL_Y_SCALAR && strcmp(n->str, "auto") == 0) {
        cfg->workers = 0;
        return;
    }
    uint32_t w = 0;

    if (sl_cfg_uint(c, n, "workers", 1, SL_ROUTER_MAX_WORKERS, &w) == 0)
        cfg->workers = w;
}

static void parse_bind(struct sl_cfg_ctx *c, const struct sl_ynode *n, const char *what, char **out)
{
    char norm[SL_ADDR_STRLEN];
    char *v = NULL;

    if (n == NULL) /* absent: keep the default */
        return;
    if (sl_cfg_str(c, n, what, &v) != 0 || v == NULL)
        return;
    if (sl_sock_normalize_bind(v, norm, sizeof(norm)) != 0) {
        sl_cfg_err(c, n->line, "%s: invalid address '%s' (ip:port, [v6]:port or :port)", what, v);
    } else {
        free(*out);
        *out = sl_cfg_strdup(c, norm);
    }
    free(v);
}

/* <name> as is when absolute, else taken from the config file's
 * directory (malloc'd; NULL with c->nomem). */
static char *beside_config(struct sl_cfg_ctx *c, const char *name)
{
    const char *slash = strrchr(c->path, '/');
    char *full = NULL;

    if (name[0] == '/' || slash == NULL)
        return sl_cfg_strdup(c, name);
    if (asprintf(&full, "%.*s/%s", (int)(slash - c->path), c->path, name) < 0) {
        c->nomem = true;
        return NULL;
    }
    return full;
}

/* agents.geoip_db: relative to the config file, as state is; opened here
 * so that check and serve refuse a file libmaxminddb cannot read. */
static void parse_geoip(struct sl_cfg_ctx *c, const struct sl_ynode *n, struct sl_config *cfg)
{
    char *name = NULL, *full, err[256];
    int rc;

    sl_cfg_str(c, n, "agents.geoip_db", &name);
    if (name == NULL)
        return;
    full = beside_config(c, name);
    free(name);
    if (full == NULL)
        return;
    rc = sl_geoip_open(full, err, sizeof(err));
    if (rc < 0)
        sl_cfg_err(c, n->line, "agents.geoip_db: %s: %s", full, err);
    else if (rc > 0)
        sl_cfg_warn(c, n->line, "agents.geoip_db: %s: %s; the DB read before stays in use", full,
                    err);
    free(cfg->agents.geoip_db);
    cfg->agents.geoip_db = full;
}

static void parse_admin_agents(struct sl_cfg_ctx *c, const struct sl_ynode *root,
                               struct sl_config *cfg)
{
    const struct sl_ynode *m = sl_ymap_get(root, "admin");

    if (m != NULL && sl_cfg_keys(c, m, "admin", admin_keys) == 0) {
        parse_bind(c, sl_ymap_get(m, "bind"), "admin.bind", &cfg->admin.bind);
        /* admin: without a bind still means "serve the API", on loopback. */
        if (cfg->admin.bind == NULL)
            cfg->admin.bind = sl_cfg_strdup(c, ADMIN_BIND_DEFAULT);
        sl_cfg_bool(c, sl_ymap_get(m, "dynamic_backends"), "admin.dynamic_backends",
                    &cfg->admin.dynamic_backends);
        sl_cfg_str(c, sl_ymap_get(m, "token_file"), "admin.token_file", &cfg->admin.token_file);
        sl_cfg_bool(c, sl_ymap_get(m, "metrics_public"), "admin.metrics_public",
                    &cfg->admin.metrics_public);
    }
    sl_cfg_str(c, sl_ymap_get(root, "state"), "state", &cfg->state);
    m = sl_ymap_get(root, "agents");
    if (m != NULL && sl_cfg_keys(c, m, "agents", agents_keys) == 0) {
        sl_cfg_duration(c, sl_ymap_get(m, "lease"), "agents.lease", 100, &cfg->agents.lease_ms);
        sl_cfg_duration(c, sl_ymap_get(m, "expire"), "agents.expire", 100, &cfg->agents.expire_ms);
        if (cfg->agents.expire_ms < cfg->agents.lease_ms)
            sl_cfg_err(c, m->line, "agents: expire (%ums) is shorter than lease (%ums)",
                       cfg->agents.expire_ms, cfg->agents.lease_ms);
        parse_geoip(c, sl_ymap_get(m, "geoip_db"), cfg);
    }
}

/* min_body_rate and max_body_size: HTTP only, as the body is HTTP's. */
static void parse_body_limits(struct sl_cfg_ctx *c, const struct sl_ynode *m, const char *w,
                              struct sl_cfg_listener *l)
{
    const struct sl_ynode *rate = sl_ymap_get(m, "min_body_rate");
    const struct sl_ynode *max = sl_ymap_get(m, "max_body_size");

    /* A rate in bytes per second, written as a size ("1k" is 1024 B/s);
     * 0 turns the check off. Above 1 GiB/s no client could keep up. */
    sl_cfg_size(c, rate, SL_CFG_FIELD(w, "min_body_rate"), 0, 1u << 30, &l->min_body_rate);
    if (sl_cfg_size64(c, max, SL_CFG_FIELD(w, "max_body_size"), 0, UINT64_MAX, &l->max_body_size) ==
            0 &&
        max != NULL && l->max_body_size == 0)
        sl_cfg_err(c, max->line,
                   "%s.max_body_size: 0 would refuse every body (leave the key out for no limit)",
                   w);
    if (l->mode == SL_MODE_TCP && (rate != NULL || max != NULL))
        sl_cfg_err(c, (rate != NULL ? rate : max)->line,
                   "%s: min_body_rate and max_body_size apply to http listeners only", w);
}

static void parse_listener(struct sl_cfg_ctx *c, const struct sl_ynode *m, size_t idx,
                           struct sl_cfg_listener *l)
{
    char w[64];
    const struct sl_ynode *n;

    /* (void): these labels only name the field in messages; one cut short
     * still points at the right place. */
    (void)snprintf(w, sizeof(w), "listeners[%zu]", idx);
    l->line = m->line;
    l->header_timeout_ms = SL_DEFAULT_HEADER_TIMEOUT_MS;
    l->idle_timeout_ms = SL_DEFAULT_CLIENT_IDLE_TIMEOUT_MS;
    l->body_timeout_ms = SL_DEFAULT_BODY_TIMEOUT_MS;
    l->max_header_size = SL_DEFAULT_MAX_HEADER_SIZE;
    l->min_body_rate = SL_DEFAULT_MIN_BODY_RATE;
    l->max_body_size = SL_DEFAULT_MAX_BODY_SIZE;
    if (sl_cfg_keys(c, m, w, listener_keys) != 0)
        return;
    if ((n = sl_ymap_get(m, "name")) == NULL)
        sl_cfg_err(c, m->line, "%s: name is required", w);
    sl_cfg_str(c, n, SL_CFG_FIELD(w, "name"), &l->name);
    if ((n = sl_ymap_get(m, "bind")) == NULL)
        sl_cfg_err(c, m->line, "%s: bind is required", w);
    parse_bind(c, n, SL_CFG_FIELD(w, "bind"), &l->bind);
    if ((n = sl_ymap_get(m, "mode")) != NULL) {
        char *v = NULL;

        if (sl_cfg_str(c, n, SL_CFG_FIELD(w, "mode"), &v) == 0) {
            if (strcmp(v, "http") == 0)
                l->mode = SL_MODE_HTTP;
            else if (strcmp(v, "tcp") == 0)
                l->mode = SL_MODE_TCP;
            else
                sl_cfg_err(c, n->line, "%s.mode: '%s' is not http or tcp", w, v);
        }
        free(v);
    }
    n = sl_ymap_get(m, "service");
    sl_cfg_str(c, n, SL_CFG_FIELD(w, "service"), &l->service);
    if (l->mode == SL_MODE_TCP && n == NULL)
        sl_cfg_err(c, m->line, "%s: a tcp listener needs a service", w);
    else if (l->mode == SL_MODE_HTTP && n != NULL)
        sl_cfg_err(c, n->line, "%s: an http listener routes by endpoints, not by service", w);
    if ((n = sl_ymap_get(m, "timeouts")) != NULL &&
        sl_cfg_keys(c, n, SL_CFG_FIELD(w, "timeouts"), ltimeout_keys) == 0) {
        sl_cfg_duration(c, sl_ymap_get(n, "header"), SL_CFG_FIELD(w, "timeouts.header"), 1,
                        &l->header_timeout_ms);
        sl_cfg_duration(c, sl_ymap_get(n, "idle"), SL_CFG_FIELD(w, "timeouts.idle"), 1,
                        &l->idle_timeout_ms);
        sl_cfg_duration(c, sl_ymap_get(n, "body"), SL_CFG_FIELD(w, "timeouts.body"), 1,
                        &l->body_timeout_ms);
    }
    sl_cfg_size(c, sl_ymap_get(m, "max_header_size"), SL_CFG_FIELD(w, "max_header_size"), 1024,
                1024 * 1024, &l->max_header_size);
    parse_body_limits(c, m, w, l);
}

static void parse_route(struct sl_cfg_ctx *c, const struct sl_ynode *m, const char *w, size_t idx,
                        struct sl_cfg_route *r)
{
    const struct sl_ynode *n;
    char err[160];

    r->line = m->line;
    r->weight = SL_DEFAULT_WEIGHT;
    if (sl_cfg_keys(c, m, w, route_keys) != 0)
        return;
    if ((n = sl_ymap_get(m, "service")) == NULL)
        sl_cfg_err(c, m->line, "%s: service is required (selector-only routes are not supported)",
                   w);
    sl_cfg_str(c, n, SL_CFG_FIELD(w, "service"), &r->service);
    n = sl_ymap_get(m, "selector");
    sl_cfg_str(c, n, SL_CFG_FIELD(w, "selector"), &r->selector);
    if (r->selector != NULL && sl_selector_check(r->selector, err, sizeof(err)) != 0)
        sl_cfg_err(c, n->line, "%s.selector: invalid selector '%s': %s", w, r->selector, err);
    if (r->selector == NULL)
        r->selector = sl_cfg_strdup(c, "");
    sl_cfg_uint(c, sl_ymap_get(m, "weight"), SL_CFG_FIELD(w, "weight"), 0, 10000, &r->weight);
    n = sl_ymap_get(m, "id");
    if (sl_cfg_str(c, n, SL_CFG_FIELD(w, "id"), &r->id) == 0 && r->id != NULL &&
        !sl_cfg_valid_name(r->id))
        sl_cfg_err(c, n->line, "%s.id: invalid route id '%s' (letters, digits, '-', '_', '.')", w,
                   r->id);
    if (r->id == NULL) {
        char id[32];

        (void)snprintf(id, sizeof(id), "route%03zu", idx); /* 25 bytes at most: fits */
        r->id = sl_cfg_strdup(c, id);
    }
}

static void parse_endpoint(struct sl_cfg_ctx *c, const struct sl_ynode *m, size_t idx,
                           struct sl_cfg_endpoint *e)
{
    char w[300];
    const struct sl_ynode *n;
    const char *why;

    e->line = m->line;
    (void)snprintf(w, sizeof(w), "endpoints[%zu]", idx); /* message label only */
    if (sl_cfg_keys(c, m, w, endpoint_keys) != 0)
        return;
    if ((n = sl_ymap_get(m, "pattern")) == NULL) {
        sl_cfg_err(c, m->line, "%s: pattern is required", w);
    } else if (sl_cfg_str(c, n, SL_CFG_FIELD(w, "pattern"), &e->pattern) == 0) {
        if ((why = sl_cfg_parse_pattern(e->pattern, e)) != NULL)
            sl_cfg_err(c, n->line, "%s: invalid pattern '%s': %s", w, e->pattern, why);
        (void)snprintf(w, sizeof(w), "endpoint %s", e->pattern);
    }
    n = sl_ymap_get(m, "routes");
    if (n == NULL || (n->type == SL_Y_SEQ && n->n == 0)) {
        sl_cfg_err(c, n != NULL ? n->line : m->line, "%s: at least one route is needed", w);
        return;
    }
    if (sl_cfg_want_seq(c, n, SL_CFG_FIELD(w, "routes")) != 0)
        return;
    if ((e->routes = calloc(n->n, sizeof(*e->routes))) == NULL) {
        c->nomem = true;
        return;
    }
    for (size_t i = 0; i < n->n; i++) {
        char rw[340];

        (void)snprintf(rw, sizeof(rw), "%s: routes[%zu]", w, i);
        parse_route(c, n->items[i], rw, i, &e->routes[e->nroutes++]);
    }
}

/* Parses <n> as a list with <each> filling elements of *<arr>. */
#define PARSE_LIST(c, n, what, arr, count, each)                                             \
    do {                                                                                     \
        if ((n) != NULL && !sl_ynode_is_null(n) && sl_cfg_want_seq((c), (n), (what)) == 0) { \
            (arr) = calloc((n)->n + 1, sizeof(*(arr)));                                      \
            (c)->nomem |= (arr) == NULL;                                                     \
            for (size_t i_ = 0; (arr) != NULL && i_ < (n)->n; i_++)                          \
                each((c), (n)->items[i_], i_, &(arr)[(count)++]);                            \
        }                                                                                    \
    } while (0)

static void parse_root(struct sl_cfg_ctx *c, const struct sl_ynode *root, struct sl_config *cfg)
{
    const struct sl_ynode *n;

    parse_workers(c, sl_ymap_get(root, "workers"), cfg);
    sl_cfg_duration(c, sl_ymap_get(root, "drain_timeout"), "drain_timeout", 0,
                    &cfg->drain_timeout_ms);
    parse_admin_agents(c, root, cfg);
    n = sl_ymap_get(root, "listeners");
    PARSE_LIST(c, n, "listeners", cfg->listeners, cfg->nlisteners, parse_listener);
    sl_cfg_parse_services(c, sl_ymap_get(root, "services"), cfg);
    n = sl_ymap_get(root, "endpoints");
    PARSE_LIST(c, n, "endpoints", cfg->endpoints, cfg->nendpoints, parse_endpoint);
}

/* Default store: sluice.db beside the config file; a relative state path
 * is taken from the config file's directory too, so the daemon finds the
 * same store whatever its working directory. */
static void resolve_state(struct sl_cfg_ctx *c, struct sl_config *cfg)
{
    char *full = beside_config(c, cfg->state != NULL ? cfg->state : "sluice.db");

    free(cfg->state);
    cfg->state = full;
}

int sl_config_from_tree(const struct sl_ynode *root, const char *path, struct sl_config **out,
                        struct sl_diag *diag)
{
    struct sl_cfg_ctx c = {.path = path, .diag = diag};
    struct sl_config *cfg = calloc(1, sizeof(*cfg));

    if (cfg == NULL || (cfg->path = strdup(path)) == NULL) {
        free(cfg);
        return SLUICE_ERR_NOMEM;
    }
    cfg->drain_timeout_ms = SL_DEFAULT_DRAIN_TIMEOUT_MS;
    cfg->admin.dynamic_backends = true;
    cfg->agents.lease_ms = SL_DEFAULT_AGENT_LEASE_MS;
    cfg->agents.expire_ms = SL_DEFAULT_AGENT_EXPIRE_MS;
    if (root == NULL || sl_ynode_is_null(root)) {
        sl_cfg_err(&c, 1, "the configuration is empty");
    } else if (sl_cfg_keys(&c, root, "configuration", top_keys) == 0) {
        parse_root(&c, root, cfg);
        /* Even after field errors: the user gets every problem at once. */
        if (!c.nomem)
            sl_cfg_check_model(&c, cfg, root->line);
    }
    if (!c.nomem && c.errors == 0)
        resolve_state(&c, cfg);
    if (c.nomem || c.errors != 0) {
        sl_config_free(cfg);
        return c.nomem ? SLUICE_ERR_NOMEM : SLUICE_ERR_CONFIG;
    }
    *out = cfg;
    return 0;
}

int sl_config_load(const char *path, struct sl_config **out, struct sl_diag *diag)
{
    struct sl_ynode *root = NULL;
    int rc = sl_ytree_load(path, &root, diag);

    if (rc != 0)
        return rc;
    rc = sl_config_from_tree(root, path, out, diag);
    sl_ytree_free(root);
    return rc;
}

void sl_config_free(struct sl_config *cfg)
{
    if (cfg == NULL)
        return;
    for (size_t i = 0; i < cfg->nlisteners; i++) {
        free(cfg->listeners[i].name);
        free(cfg->listeners[i].bind);
        free(cfg->listeners[i].service);
    }
    free(cfg->listeners);
    for (size_t i = 0; i < cfg->nservices; i++)
        sl_cfg_free_service(&cfg->services[i]);
    free(cfg->services);
    for (size_t i = 0; i < cfg->nendpoints; i++) {
        struct sl_cfg_endpoint *e = &cfg->endpoints[i];

        for (size_t j = 0; j < e->nroutes; j++) {
            free(e->routes[j].id);
            free(e->routes[j].service);
            free(e->routes[j].selector);
        }
        free(e->routes);
        free(e->pattern);
        free(e->host);
        free(e->path);
    }
    free(cfg->endpoints);
    free(cfg->admin.bind);
    free(cfg->admin.token_file);
    free(cfg->agents.geoip_db);
    free(cfg->state);
    free(cfg->path);
    free(cfg);
}
