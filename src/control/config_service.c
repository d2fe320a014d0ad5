/* The `services` mapping: strategy, hash key, health, timeouts, retries,
 * backends and provider of each service. Cross-service rules (unique
 * backend names) are checked in config_check.c. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "control/config_ctx.h"
#include "control/scalar.h"
#include "proxy/defaults.h"

static const char *const service_keys[] = {
    "strategy", "hash_key", "health",   "passive",  "panic_threshold", "slow_start",
    "timeouts", "retries",  "backends", "provider", "queue_timeout",   "buffer_request_body",
    NULL};
static const char *const timeout_keys[] = {"connect", "response", "idle", NULL};
static const char *const backend_keys[] = {"name",
                                           "target",
                                           "weight",
                                           "labels",
                                           "drain",
                                           "connect_timeout",
                                           "first_byte_timeout",
                                           "between_bytes_timeout",
                                           "override_host",
                                           NULL};
static const char *const provider_keys[] = {"type",
                                            "command",
                                            "min_instances",
                                            "max_instances",
                                            "target_concurrency",
                                            "idle_timeout",
                                            "start_timeout",
                                            NULL};

static void parse_hash_key(struct sl_cfg_ctx *c, const struct sl_ynode *n, const char *what,
                           struct sl_cfg_service *s)
{
    char *v = NULL;

    if (sl_cfg_str(c, n, what, &v) != 0 || v == NULL)
        return;
    if (strcmp(v, "source_ip") == 0) {
        s->hash_key = SL_HASH_SOURCE_IP;
    } else if (strcmp(v, "path") == 0) {
        s->hash_key = SL_HASH_PATH;
    } else if ((strncmp(v, "header:", 7) == 0 || strncmp(v, "cookie:", 7) == 0) && v[7] != '\0') {
        s->hash_key = v[0] == 'h' ? SL_HASH_HEADER : SL_HASH_COOKIE;
        s->hash_key_name = sl_cfg_strdup(c, v + 7);
    } else {
        sl_cfg_err(c, n->line,
                   "%s: invalid hash key '%s' (source_ip, path, header:NAME or cookie:NAME)", what,
                   v);
    }
    free(v);
}

static void parse_timeouts(struct sl_cfg_ctx *c, const struct sl_ynode *m, struct sl_cfg_service *s)
{
    char w[192];

    (void)snprintf(w, sizeof(w), "service %s: timeouts", s->name);
    if (sl_cfg_keys(c, m, w, timeout_keys) != 0)
        return;
    sl_cfg_duration(c, sl_ymap_get(m, "connect"), SL_CFG_FIELD(w, "connect"), 1,
                    &s->connect_timeout_ms);
    sl_cfg_duration(c, sl_ymap_get(m, "response"), SL_CFG_FIELD(w, "response"), 1,
                    &s->response_timeout_ms);
    sl_cfg_duration(c, sl_ymap_get(m, "idle"), SL_CFG_FIELD(w, "idle"), 1, &s->idle_timeout_ms);
}

static int label_cmp(const void *a, const void *b)
{
    return strcmp(((const struct sl_cfg_label *)a)->key, ((const struct sl_cfg_label *)b)->key);
}

/* Label keys and values must survive the selector syntax
 * (`k=v,k!=v,!k`), so they may not hold ',', '=', '!' or spaces. */
static bool valid_label(const char *s, bool allow_empty)
{
    if (s[0] == '\0')
        return allow_empty;
    for (; *s != '\0'; s++)
        if (*s == ',' || *s == '=' || *s == '!' || isspace((unsigned char)*s))
            return false;
    return true;
}

static void parse_labels(struct sl_cfg_ctx *c, const struct sl_ynode *m, const char *w,
                         struct sl_cfg_backend *b)
{
    if (sl_cfg_want_map(c, m, w) != 0)
        return;
    b->labels = calloc(m->n / 2 + 1, sizeof(*b->labels));
    if (b->labels == NULL) {
        c->nomem = true;
        return;
    }
    for (size_t i = 0; i + 1 < m->n; i += 2) {
        const struct sl_ynode *k = m->items[i], *v = m->items[i + 1];
        char *val = NULL;

        if (!valid_label(k->str, false)) {
            sl_cfg_err(c, k->line, "%s: invalid label key '%s' (no ',', '=', '!' or spaces)", w,
                       k->str);
            continue;
        }
        if (sl_cfg_str(c, v, SL_CFG_FIELD(w, k->str), &val) != 0)
            continue;
        if (!valid_label(val, true)) {
            sl_cfg_err(c, v->line, "%s: invalid label value '%s' (no ',', '=', '!' or spaces)", w,
                       val);
            free(val);
            continue;
        }
        b->labels[b->nlabels].key = sl_cfg_strdup(c, k->str);
        b->labels[b->nlabels++].value = val;
    }
    qsort(b->labels, b->nlabels, sizeof(*b->labels), label_cmp);
}

static void parse_backend(struct sl_cfg_ctx *c, const struct sl_ynode *m, size_t idx,
                          struct sl_cfg_service *s)
{
    char w[192];
    struct sl_cfg_backend *b = &s->backends[s->nbackends];
    const struct sl_ynode *n;

    (void)snprintf(w, sizeof(w), "service %s: backends[%zu]", s->name, idx);
    if (sl_cfg_keys(c, m, w, backend_keys) != 0)
        return;
    s->nbackends++;
    b->line = m->line;
    b->weight = SL_DEFAULT_WEIGHT;
    if ((n = sl_ymap_get(m, "name")) == NULL)
        sl_cfg_err(c, m->line, "%s: name is required", w);
    else if (sl_cfg_str(c, n, SL_CFG_FIELD(w, "name"), &b->name) == 0 &&
             !sl_cfg_valid_name(b->name))
        sl_cfg_err(c, n->line, "%s: invalid name '%s' (letters, digits, '-', '_', '.')", w,
                   b->name);
    if ((n = sl_ymap_get(m, "target")) == NULL)
        sl_cfg_err(c, m->line, "%s: target is required", w);
    else if (sl_cfg_str(c, n, SL_CFG_FIELD(w, "target"), &b->target) == 0 &&
             sl_config_check_target(b->target) != 0)
        sl_cfg_err(c, n->line,
                   "%s: invalid target '%s' (ip, host, ip:port, host:port, [v6] or [v6]:port)", w,
                   b->target);
    sl_cfg_uint(c, sl_ymap_get(m, "weight"), SL_CFG_FIELD(w, "weight"), 0, 10000, &b->weight);
    if ((n = sl_ymap_get(m, "labels")) != NULL)
        parse_labels(c, n, SL_CFG_FIELD(w, "labels"), b);
    sl_cfg_bool(c, sl_ymap_get(m, "drain"), SL_CFG_FIELD(w, "drain"), &b->drain);
    sl_cfg_duration(c, sl_ymap_get(m, "connect_timeout"), SL_CFG_FIELD(w, "connect_timeout"), 1,
                    &b->connect_timeout_ms);
    sl_cfg_duration(c, sl_ymap_get(m, "first_byte_timeout"), SL_CFG_FIELD(w, "first_byte_timeout"),
                    1, &b->first_byte_timeout_ms);
    sl_cfg_duration(c, sl_ymap_get(m, "between_bytes_timeout"),
                    SL_CFG_FIELD(w, "between_bytes_timeout"), 1, &b->between_bytes_timeout_ms);
    if ((n = sl_ymap_get(m, "override_host")) != NULL &&
        sl_cfg_str(c, n, SL_CFG_FIELD(w, "override_host"), &b->override_host) == 0 &&
        (b->override_host[0] == '\0' || strpbrk(b->override_host, " \t\r\n") != NULL))
        sl_cfg_err(c, n->line, "%s.override_host: invalid host '%s'", w, b->override_host);
}

static void parse_provider(struct sl_cfg_ctx *c, const struct sl_ynode *m, struct sl_cfg_service *s)
{
    char w[192];
    struct sl_cfg_provider *p = &s->provider;
    const struct sl_ynode *n;

    (void)snprintf(w, sizeof(w), "service %s: provider", s->name);
    if (sl_cfg_keys(c, m, w, provider_keys) != 0)
        return;
    p->present = true;
    p->line = m->line;
    if ((n = sl_ymap_get(m, "type")) == NULL)
        sl_cfg_err(c, m->line, "%s: type is required (process)", w);
    else if (sl_cfg_str(c, n, SL_CFG_FIELD(w, "type"), &p->type) == 0 &&
             strcmp(p->type, "process") != 0)
        sl_cfg_err(c, n->line, "%s: unknown type '%s' (process)", w, p->type);
    if ((n = sl_ymap_get(m, "command")) == NULL) {
        sl_cfg_err(c, m->line, "%s: command is required", w);
    } else if (sl_cfg_want_seq(c, n, SL_CFG_FIELD(w, "command")) == 0) {
        if (n->n == 0)
            sl_cfg_err(c, n->line, "%s: command is empty", w);
        p->command = calloc(n->n + 1, sizeof(*p->command));
        for (size_t i = 0; p->command != NULL && i < n->n; i++)
            if (sl_cfg_str(c, n->items[i], SL_CFG_FIELD(w, "command"), &p->command[p->ncommand]) ==
                0)
                p->ncommand++;
        c->nomem |= p->command == NULL;
    }
    sl_cfg_uint(c, sl_ymap_get(m, "min_instances"), SL_CFG_FIELD(w, "min_instances"), 0, 1000,
                &p->min_instances);
    sl_cfg_uint(c, sl_ymap_get(m, "max_instances"), SL_CFG_FIELD(w, "max_instances"), 1, 1000,
                &p->max_instances);
    sl_cfg_uint(c, sl_ymap_get(m, "target_concurrency"), SL_CFG_FIELD(w, "target_concurrency"), 1,
                100000, &p->target_concurrency);
    sl_cfg_duration(c, sl_ymap_get(m, "idle_timeout"), SL_CFG_FIELD(w, "idle_timeout"), 1,
                    &p->idle_timeout_ms);
    sl_cfg_duration(c, sl_ymap_get(m, "start_timeout"), SL_CFG_FIELD(w, "start_timeout"), 1,
                    &p->start_timeout_ms);
    if (p->min_instances > p->max_instances)
        sl_cfg_err(c, m->line, "%s: min_instances (%u) is above max_instances (%u)", w,
                   p->min_instances, p->max_instances);
}

static void service_defaults(struct sl_cfg_service *s)
{
    s->strategy = SLUICE_ROUND_ROBIN;
    s->health.interval_ms = SL_DEFAULT_HEALTH_INTERVAL_MS;
    s->health.timeout_ms = SL_DEFAULT_HEALTH_TIMEOUT_MS;
    s->health.score = (sluice_score_opts_t)SLUICE_SCORE_DEFAULTS;
    s->passive.eject_ms = SL_DEFAULT_EJECT_MS;
    s->passive.eject_max_ms = SL_DEFAULT_EJECT_MAX_MS;
    s->panic_threshold = SL_DEFAULT_PANIC_THRESHOLD;
    s->slow_start_ms = SL_DEFAULT_SLOW_START_MS;
    s->connect_timeout_ms = SL_DEFAULT_CONNECT_TIMEOUT_MS;
    s->response_timeout_ms = SL_DEFAULT_RESPONSE_TIMEOUT_MS;
    s->idle_timeout_ms = SL_DEFAULT_IDLE_TIMEOUT_MS;
    s->retries = SL_DEFAULT_RETRIES;
    s->queue_timeout_ms = SL_DEFAULT_QUEUE_TIMEOUT_MS;
    s->buffer_request_body = SL_DEFAULT_BUFFER_REQUEST_BODY;
    s->provider.max_instances = SL_DEFAULT_MAX_INSTANCES;
    s->provider.target_concurrency = SL_DEFAULT_TARGET_CONCURRENCY;
    s->provider.idle_timeout_ms = SL_DEFAULT_INSTANCE_IDLE_MS;
    s->provider.start_timeout_ms = SL_DEFAULT_INSTANCE_START_MS;
}

static void parse_service(struct sl_cfg_ctx *c, const struct sl_ynode *key,
                          const struct sl_ynode *m, struct sl_cfg_service *s)
{
    char w[192];
    const struct sl_ynode *n;

    service_defaults(s);
    s->line = key->line;
    s->name = sl_cfg_strdup(c, key->str);
    if (s->name == NULL || sl_cfg_health_defaults(c, &s->health) != 0)
        return;
    (void)snprintf(w, sizeof(w), "service %s", s->name);
    if (!sl_cfg_valid_name(s->name))
        sl_cfg_err(c, key->line, "%s: invalid service name (letters, digits, '-', '_', '.')", w);
    if (sl_ynode_is_null(m))
        return; /* `svc:` alone: every default, no backends */
    if (sl_cfg_keys(c, m, w, service_keys) != 0)
        return;
    if ((n = sl_ymap_get(m, "strategy")) != NULL) {
        char *v = NULL;

        if (sl_cfg_str(c, n, SL_CFG_FIELD(w, "strategy"), &v) == 0 &&
            sluice_strategy_parse(v, &s->strategy) != 0)
            sl_cfg_err(c, n->line, "%s: unknown strategy '%s'", w, v);
        free(v);
    }
    if ((n = sl_ymap_get(m, "hash_key")) != NULL)
        parse_hash_key(c, n, SL_CFG_FIELD(w, "hash_key"), s);
    bool hashing = s->strategy == SLUICE_MAGLEV || s->strategy == SLUICE_RING_HASH;

    if (hashing && s->hash_key == SL_HASH_NONE)
        s->hash_key = SL_HASH_SOURCE_IP;
    else if (!hashing && n != NULL)
        sl_cfg_warn(c, n->line, "%s: hash_key is ignored by strategy %s", w,
                    sluice_strategy_name(s->strategy));
    if ((n = sl_ymap_get(m, "health")) != NULL)
        sl_cfg_parse_health(c, n, s);
    sl_cfg_parse_health_policy(c, m, w, s);
    if ((n = sl_ymap_get(m, "timeouts")) != NULL)
        parse_timeouts(c, n, s);
    sl_cfg_uint(c, sl_ymap_get(m, "retries"), SL_CFG_FIELD(w, "retries"), 0, 10, &s->retries);
    sl_cfg_duration(c, sl_ymap_get(m, "queue_timeout"), SL_CFG_FIELD(w, "queue_timeout"), 1,
                    &s->queue_timeout_ms);
    /* Held in memory per request until it is complete: keep one request's
     * share of memory bounded (0 turns buffering off). */
    sl_cfg_size(c, sl_ymap_get(m, "buffer_request_body"), SL_CFG_FIELD(w, "buffer_request_body"), 0,
                SL_MAX_BUFFER_REQUEST_BODY, &s->buffer_request_body);
    if ((n = sl_ymap_get(m, "provider")) != NULL)
        parse_provider(c, n, s);
    if ((n = sl_ymap_get(m, "backends")) != NULL &&
        sl_cfg_want_seq(c, n, SL_CFG_FIELD(w, "backends")) == 0) {
        s->backends = calloc(n->n + 1, sizeof(*s->backends));
        c->nomem |= s->backends == NULL;
        for (size_t i = 0; s->backends != NULL && i < n->n; i++)
            parse_backend(c, n->items[i], i, s);
    }
}

void sl_cfg_parse_services(struct sl_cfg_ctx *c, const struct sl_ynode *m, struct sl_config *cfg)
{
    if (sl_ynode_is_null(m))
        return;
    if (sl_cfg_want_map(c, m, "services") != 0)
        return;
    cfg->services = calloc(m->n / 2 + 1, sizeof(*cfg->services));
    if (cfg->services == NULL) {
        c->nomem = true;
        return;
    }
    for (size_t i = 0; i + 1 < m->n; i += 2)
        parse_service(c, m->items[i], m->items[i + 1], &cfg->services[cfg->nservices++]);
}

void sl_cfg_free_service(struct sl_cfg_service *s)
{
    free(s->name);
    free(s->hash_key_name);
    sl_cfg_free_health(&s->health);
    for (size_t i = 0; i < s->nbackends; i++) {
        struct sl_cfg_backend *b = &s->backends[i];

        free(b->name);
        free(b->target);
        free(b->override_host);
        for (size_t j = 0; j < b->nlabels; j++) {
            free(b->labels[j].key);
            free(b->labels[j].value);
        }
        free(b->labels);
    }
    free(s->backends);
    free(s->provider.type);
    for (size_t i = 0; i < s->provider.ncommand; i++)
        free(s->provider.command[i]);
    free(s->provider.command);
}
