/* The agents' registry: registration records through the overlay, lease
 * state in memory (agents.h says why). */
#include "control/agents.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "control/change_impl.h"
#include "core/health.h"
#include "net/log.h"
#include "proxy/health_log.h"

static const char *const reg_keys[] = {"service", "name",     "target", "labels",
                                       "weight",  "location", NULL};
static const char *const hb_keys[] = {"load", "healthy", NULL};
static const char *const loc_keys[] = {
    "city",   "country",     "country_name", "continent", "continent_name",
    "region", "region_name", "lat",          "lon",       NULL};

static uint64_t mono_ms(void)
{
    struct timespec ts;

    (void)clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Out of rotation while the lease is lapsed, without touching its health
 * or weight: it returns through its health checks. */
static void set_disconnected(struct sl_control *c, struct sl_agent *a, bool on)
{
    a->disconnected = on;
    (void)sl_lb_set_out(c->lb, a->svc, a->name, SL_OUT_DISCONNECTED, on);
}

static void set_load(struct sl_control *c, struct sl_agent *a, uint32_t load)
{
    a->load = load;
    a->load_set = true;
    (void)sluice_lb_set_load(c->lb, a->svc, a->name, load);
}

static void agent_free(struct sl_agent *a)
{
    free(a->svc);
    free(a->name);
    free(a->owner);
}

static struct sl_agent *by_id(struct sl_agents *ag, const char *id)
{
    for (size_t i = 0; i < ag->n; i++)
        if (strcmp(ag->a[i].id, id) == 0)
            return &ag->a[i];
    return NULL;
}

const struct sl_agent *sl_agents_find(const struct sl_control *c, const char *svc, const char *name)
{
    for (size_t i = 0; i < c->agents.n; i++)
        if (strcmp(c->agents.a[i].name, name) == 0 && strcmp(c->agents.a[i].svc, svc) == 0)
            return &c->agents.a[i];
    return NULL;
}

static void drop(struct sl_agents *ag, struct sl_agent *a)
{
    size_t i = (size_t)(a - ag->a);

    agent_free(a);
    memmove(&ag->a[i], &ag->a[i + 1], (ag->n - i - 1) * sizeof(*a));
    ag->n--;
}

static struct sl_agent *add(struct sl_agents *ag, const char *id, const char *svc, const char *name,
                            const char *owner)
{
    struct sl_agent *a;

    if (ag->n == ag->cap) {
        size_t ncap = ag->cap != 0 ? ag->cap * 2 : 16;
        struct sl_agent *na = realloc(ag->a, ncap * sizeof(*na));

        if (na == NULL)
            return NULL;
        ag->a = na;
        ag->cap = ncap;
    }
    a = &ag->a[ag->n];
    memset(a, 0, sizeof(*a));
    (void)snprintf(a->id, sizeof(a->id), "%s", id);
    a->svc = strdup(svc);
    a->name = strdup(name);
    a->owner = owner != NULL ? strdup(owner) : NULL;
    if (a->svc == NULL || a->name == NULL || (owner != NULL && a->owner == NULL)) {
        agent_free(a);
        return NULL;
    }
    ag->n++;
    return a;
}

/* "ag_" and 16 random hex digits. */
static void new_id(char *id)
{
    unsigned char r[8] = {0};
    int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);

    if (fd < 0 || read(fd, r, sizeof(r)) != (ssize_t)sizeof(r)) {
        uint64_t t = mono_ms() ^ (uint64_t)time(NULL) << 20 ^ (uint64_t)getpid() << 40;

        memcpy(r, &t, sizeof(r));
    }
    if (fd >= 0)
        close(fd);
    (void)snprintf(id, SL_AGENT_ID_LEN, "ag_%02x%02x%02x%02x%02x%02x%02x%02x", r[0], r[1], r[2],
                   r[3], r[4], r[5], r[6], r[7]);
}

/* The backend record of <svc>/<name> if an agent's: its agent_id. */
static const char *record_agent(const struct sl_control *c, const char *key, const char **owner)
{
    const struct sl_ov_rec *r = sl_overlay_find(&c->ov, SL_OV_BACKEND, key);
    const json_t *v;

    *owner = NULL;
    if (r == NULL || r->inactive || !json_is_object(r->value))
        return NULL;
    v = json_object_get(r->value, "origin");
    if (!json_is_string(v) || strcmp(json_string_value(v), "agent") != 0)
        return NULL;
    *owner = json_string_value(json_object_get(r->value, "owner"));
    return json_string_value(json_object_get(r->value, "agent_id"));
}

static bool same(const char *a, const char *b)
{
    return a != NULL && b != NULL && strcmp(a, b) == 0;
}

static int check_location(const json_t *loc, struct sl_change_err *e)
{
    const char *k;
    const json_t *v;

    if (loc == NULL || json_is_null(loc))
        return 0;
    if (sl_chg_keys(loc, loc_keys, "agent: location", e) != 0)
        return -1;
    json_object_foreach((json_t *)loc, k, v)
    {
        bool num = strcmp(k, "lat") == 0 || strcmp(k, "lon") == 0;

        if (num ? !json_is_number(v) : !json_is_string(v))
            return sl_chg_fail(e, 400, "invalid_field", "agent: location.%s: expected a %s", k,
                               num ? "number" : "string");
    }
    return 0;
}

/* The name an agent gets when it gives none: its target, with every
 * character a backend name cannot hold as '-'. */
static void derive_name(const char *target, char *out, size_t cap)
{
    size_t i = 0;

    for (; target[i] != '\0' && i + 1 < cap; i++) {
        char ch = target[i];
        bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                  (ch >= '0' && ch <= '9') || ch == '-' || ch == '_' || ch == '.';

        out[i] = '-';
        if (ok)
            out[i] = ch;
    }
    out[i] = '\0';
}

/* The record: the backend in the config's shape, then who and where. */
static json_t *agent_record(const json_t *body, const char *name, const char *owner, const char *id)
{
    json_t *be = json_pack("{s:s, s:O}", "name", name, "target", json_object_get(body, "target"));

    if (be == NULL)
        return NULL;
    if (json_object_get(body, "labels") != NULL)
        json_object_set(be, "labels", json_object_get(body, "labels"));
    if (json_object_get(body, "weight") != NULL)
        json_object_set(be, "weight", json_object_get(body, "weight"));
    return json_pack("{s:o, s:s, s:s?, s:s, s:O?}", "backend", be, "origin", "agent", "owner",
                     owner, "agent_id", id, "location", json_object_get(body, "location"));
}

static int reg_check(struct sl_control *c, const json_t *body, const struct sl_change_who *who,
                     char *name, size_t namecap, struct sl_change_err *e)
{
    const json_t *svc = json_object_get(body, "service");
    const json_t *nm = json_object_get(body, "name");
    const json_t *target = json_object_get(body, "target");

    if (sl_chg_need(who, SL_SCOPE_AGENT, e) != 0 || sl_chg_keys(body, reg_keys, "agent", e) != 0)
        return -1;
    if (!json_is_string(svc))
        return sl_chg_fail(e, 400, "invalid_field", "agent: service is required (a string)");
    if (!json_is_string(target) || json_string_length(target) == 0)
        return sl_chg_fail(e, 400, "invalid_target", "agent: target is required (host:port)");
    if (json_is_null(nm))
        nm = NULL; /* the default name */
    if (nm != NULL && (!json_is_string(nm) || json_string_length(nm) == 0))
        return sl_chg_fail(e, 400, "invalid_field", "agent: name: expected a non-empty string");
    if (check_location(json_object_get(body, "location"), e) != 0)
        return -1;
    if (sl_config_service(c->cfg, json_string_value(svc)) == NULL)
        return sl_chg_fail(e, 404, "not_found", "service %s: not found", json_string_value(svc));
    if (nm != NULL)
        (void)snprintf(name, namecap, "%s", json_string_value(nm));
    else
        derive_name(json_string_value(target), name, namecap);
    return 0;
}

/* 409 unless <name> is free or this owner's agent in <svc>; *<old_id> its
 * agent id when it is. */
static int reg_owner(struct sl_control *c, const char *svc, const char *name,
                     const struct sl_change_who *who, const char **old_id, struct sl_change_err *e)
{
    char key[512];
    const char *owner = NULL;

    *old_id = NULL;
    for (size_t i = 0; i < c->cfg->nservices; i++) {
        const char *s = c->cfg->services[i].name;

        if (sl_config_backend(&c->cfg->services[i], name) == NULL)
            continue;
        (void)snprintf(key, sizeof(key), "%s/%s", s, name);
        *old_id = strcmp(s, svc) == 0 ? record_agent(c, key, &owner) : NULL;
        if (*old_id == NULL || !same(owner, who->token_id))
            return sl_chg_fail(e, 409, "name_in_use",
                               "backend name '%s' is already used (service %s) by another owner",
                               name, s);
    }
    return 0;
}

static int agent_register(struct sl_control *c, const json_t *body, const struct sl_change_who *who,
                          char *id, char *name, bool *created, struct sl_change_err *e)
{
    char key[512];
    const char *svc, *old_id;
    struct sl_agent *a;
    json_t *rec;
    int rc;

    if (reg_check(c, body, who, name, 256, e) != 0)
        return -1;
    svc = json_string_value(json_object_get(body, "service"));
    if (reg_owner(c, svc, name, who, &old_id, e) != 0)
        return -1;
    if (snprintf(key, sizeof(key), "%s/%s", svc, name) >= (int)sizeof(key))
        return sl_chg_fail(e, 400, "invalid_field", "agent: name too long");
    *created = old_id == NULL;
    if (old_id != NULL)
        (void)snprintf(id, SL_AGENT_ID_LEN, "%s", old_id);
    else
        new_id(id);
    rec = agent_record(body, name, who->token_id, id);
    if (rec == NULL)
        return sl_chg_fail(e, 500, "nomem", "out of memory");
    rc = sl_chg_commit(c, &(struct sl_ov_edit){SL_OV_BACKEND, key, rec}, 1, e);
    json_decref(rec);
    if (rc != 0)
        return -1;
    a = by_id(&c->agents, id);
    if (a == NULL && (a = add(&c->agents, id, svc, name, who->token_id)) == NULL)
        return sl_chg_fail(e, 500, "nomem", "out of memory");
    a->last_ms = mono_ms();
    if (*created || a->disconnected)
        a->connected_at = (int64_t)time(NULL);
    if (a->disconnected)
        set_disconnected(c, a, false);
    sl_log(SL_LOG_INFO, "agent %s: %s %s/%s", id, *created ? "registered" : "registered again", svc,
           name);
    return 0;
}

int sl_agent_register(struct sl_control *c, const json_t *body, const struct sl_change_who *who,
                      const char *remote, char *id, uint32_t *lease_ms, char **name, bool *created,
                      struct sl_change_err *e)
{
    char nm[256];

    pthread_mutex_lock(&c->mu);
    int rc = agent_register(c, body, who, id, nm, created, e);
    struct sl_agent *a = rc == 0 ? by_id(&c->agents, id) : NULL;

    if (a != NULL)
        (void)snprintf(a->remote, sizeof(a->remote), "%s", remote != NULL ? remote : "");

    *lease_ms = c->cfg->agents.lease_ms;
    pthread_mutex_unlock(&c->mu);
    if (rc == 0 && (*name = strdup(nm)) == NULL)
        return sl_chg_fail(e, 500, "nomem", "out of memory");
    return rc;
}

/* The agent <id> if its record is still there (a service PUT or a backend
 * DELETE may have removed it: then it is forgotten, 404) and <who> may
 * touch it (403). */
static struct sl_agent *owned(struct sl_control *c, const char *id, const struct sl_change_who *who,
                              struct sl_change_err *e)
{
    struct sl_agent *a = by_id(&c->agents, id);
    const char *owner = NULL;
    char key[512];

    if (sl_chg_need(who, SL_SCOPE_AGENT, e) != 0)
        return NULL;
    if (a != NULL) {
        (void)snprintf(key, sizeof(key), "%s/%s", a->svc, a->name);
        if (!same(record_agent(c, key, &owner), id)) {
            drop(&c->agents, a);
            a = NULL;
        }
    }
    if (a == NULL) {
        sl_chg_fail(e, 404, "not_found", "agent %s: not found (register again)", id);
        return NULL;
    }
    if (who->scope < SL_SCOPE_ADMIN && !same(a->owner, who->token_id)) {
        sl_chg_fail(e, 403, "forbidden", "agent %s: not registered by this token", id);
        return NULL;
    }
    return a;
}

static int hb_check(const json_t *body, struct sl_change_err *e)
{
    const json_t *load = json_object_get(body, "load");
    const json_t *h = json_object_get(body, "healthy");

    if (sl_chg_keys(body, hb_keys, "heartbeat", e) != 0)
        return -1;
    if (load != NULL && !json_is_null(load) &&
        (!json_is_integer(load) || json_integer_value(load) < 0 ||
         json_integer_value(load) > (json_int_t)UINT32_MAX))
        return sl_chg_fail(e, 400, "invalid_field", "heartbeat.load: expected an integer >= 0");
    if (h != NULL && !json_is_boolean(h))
        return sl_chg_fail(e, 400, "invalid_field", "heartbeat.healthy: expected true or false");
    return 0;
}

static int heartbeat(struct sl_control *c, const char *id, const json_t *body,
                     const struct sl_change_who *who, struct sl_change_err *e)
{
    struct sl_agent *a;
    const json_t *load = json_object_get(body, "load");
    bool healthy = !json_is_false(json_object_get(body, "healthy"));

    if (hb_check(body, e) != 0 || (a = owned(c, id, who, e)) == NULL)
        return -1;
    a->last_ms = mono_ms();
    if (json_is_integer(load))
        set_load(c, a, (uint32_t)json_integer_value(load));
    if (healthy == a->marked_down) {
        struct sl_health_change ch = {0};

        a->marked_down = !healthy;
        if (sl_health_mark(c->lb, a->svc, a->name, healthy, &ch) == 0)
            sl_health_report(NULL, a->svc, a->name, "reported by its agent", &ch);
    }
    if (a->disconnected) {
        a->connected_at = (int64_t)time(NULL);
        set_disconnected(c, a, false);
        sl_log(SL_LOG_INFO, "agent %s: %s/%s connected again", a->id, a->svc, a->name);
    }
    return 0;
}

int sl_agent_heartbeat(struct sl_control *c, const char *id, const json_t *body,
                       const struct sl_change_who *who, const char *remote, uint32_t *lease_ms,
                       struct sl_change_err *e)
{
    pthread_mutex_lock(&c->mu);
    int rc = heartbeat(c, id, body, who, e);
    struct sl_agent *a = rc == 0 ? by_id(&c->agents, id) : NULL;

    if (a != NULL && remote != NULL && strcmp(a->remote, remote) != 0)
        (void)snprintf(a->remote, sizeof(a->remote), "%s", remote);

    *lease_ms = c->cfg->agents.lease_ms;
    pthread_mutex_unlock(&c->mu);
    return rc;
}

/* Removes <a>'s backend (a store write) and forgets it. */
static int remove_agent(struct sl_control *c, struct sl_agent *a, struct sl_change_err *e)
{
    char key[512];
    json_t *tomb;
    int rc;

    (void)snprintf(key, sizeof(key), "%s/%s", a->svc, a->name);
    tomb = sl_chg_base_has_backend(c, a->svc, a->name) ? json_null() : NULL;
    rc = sl_chg_commit(c, &(struct sl_ov_edit){SL_OV_BACKEND, key, tomb}, 1, e);
    json_decref(tomb);
    if (rc == 0)
        drop(&c->agents, a);
    return rc;
}

/* Weight 0 first: no new request is sent to it from that publication on,
 * requests in flight finish; then the record goes. */
static int agent_delete(struct sl_control *c, const char *id, const struct sl_change_who *who,
                        struct sl_change_err *e)
{
    struct sl_agent *a = owned(c, id, who, e);
    const struct sl_ov_rec *r;
    char key[512];

    if (a == NULL)
        return -1;
    (void)snprintf(key, sizeof(key), "%s/%s", a->svc, a->name);
    r = sl_overlay_find(&c->ov, SL_OV_BACKEND, key);
    if (r != NULL && json_is_object(r->value)) {
        json_t *rec = json_deep_copy(r->value);

        if (rec == NULL)
            return sl_chg_fail(e, 500, "nomem", "out of memory");
        json_object_set_new(json_object_get(rec, "backend"), "drain", json_true());
        int rc = sl_chg_commit(c, &(struct sl_ov_edit){SL_OV_BACKEND, key, rec}, 1, e);

        json_decref(rec);
        if (rc != 0)
            return -1;
    }
    sl_log(SL_LOG_INFO, "agent %s: %s/%s deregistered", a->id, a->svc, a->name);
    return remove_agent(c, a, e);
}

int sl_agent_delete(struct sl_control *c, const char *id, const struct sl_change_who *who,
                    struct sl_change_err *e)
{
    pthread_mutex_lock(&c->mu);
    int rc = agent_delete(c, id, who, e);

    pthread_mutex_unlock(&c->mu);
    return rc;
}

void sl_agents_tick(struct sl_control *c, uint64_t now_ms)
{
    uint64_t lease = c->cfg->agents.lease_ms, expire = c->cfg->agents.expire_ms;

    (void)now_ms; /* heartbeats read the clock themselves: the same clock */
    now_ms = mono_ms();
    for (size_t i = c->agents.n; i-- > 0;) {
        struct sl_agent *a = &c->agents.a[i];
        uint64_t idle = now_ms > a->last_ms ? now_ms - a->last_ms : 0;
        const char *owner = NULL;
        char key[512];

        (void)snprintf(key, sizeof(key), "%s/%s", a->svc, a->name);
        if (!same(record_agent(c, key, &owner), a->id)) {
            drop(&c->agents, a); /* removed by a service PUT or a backend DELETE */
        } else if (idle >= expire) {
            struct sl_change_err e = {0};
            char what[600];

            (void)snprintf(what, sizeof(what), "agent %s: %s/%s", a->id, a->svc, a->name);
            if (remove_agent(c, a, &e) == 0)
                sl_log(SL_LOG_INFO, "%s: expired, removed", what);
            else
                sl_log(SL_LOG_WARN, "%s: expired, but removing it failed: %s", what, e.message);
        } else if (idle >= lease && !a->disconnected) {
            set_disconnected(c, a, true);
            sl_log(SL_LOG_WARN, "agent %s: %s/%s: no heartbeat for %llu ms: disconnected", a->id,
                   a->svc, a->name, (unsigned long long)idle);
        }
    }
}

void sl_agents_start(struct sl_control *c)
{
    uint64_t now = mono_ms();

    for (size_t i = 0; i < c->ov.n; i++) {
        const struct sl_ov_rec *r = &c->ov.recs[i];
        const char *owner = NULL, *id, *slash;
        struct sl_agent *a;
        char svc[256];

        if (r->kind != SL_OV_BACKEND || (id = record_agent(c, r->key, &owner)) == NULL ||
            (slash = strchr(r->key, '/')) == NULL || (size_t)(slash - r->key) >= sizeof(svc))
            continue;
        memcpy(svc, r->key, (size_t)(slash - r->key));
        svc[slash - r->key] = '\0';
        if ((a = add(&c->agents, id, svc, slash + 1, owner)) == NULL)
            break;
        a->last_ms = now; /* expiry counts from the start */
        set_disconnected(c, a, true);
    }
}

void sl_agents_reapply(struct sl_control *c)
{
    for (size_t i = 0; i < c->agents.n; i++) {
        struct sl_agent *a = &c->agents.a[i];

        if (a->disconnected)
            (void)sl_lb_set_out(c->lb, a->svc, a->name, SL_OUT_DISCONNECTED, true);
        if (a->load_set)
            (void)sluice_lb_set_load(c->lb, a->svc, a->name, a->load);
    }
}

void sl_agents_fini(struct sl_agents *ag)
{
    for (size_t i = 0; i < ag->n; i++)
        agent_free(&ag->a[i]);
    free(ag->a);
    memset(ag, 0, sizeof(*ag));
}
