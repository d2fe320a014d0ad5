/* The control plane object: the lb, the applied configuration, the
 * publication slot and the tables still waiting for their grace period. */
#include "control/control.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "control/build_router.h"
#include "control/control_impl.h"
#include "core/health.h"

/* How long a reload waits for every worker to adopt the new table before
 * it parks the old one and moves on. */
#define SL_QUIESCE_MS 5000

/* Keeps control's reference on <r>, which no worker can adopt any more,
 * until only that reference is left. */
static void retire(struct sl_control *c, struct sl_router *r)
{
    if (c->nretired == c->capretired) {
        size_t cap = c->capretired != 0 ? c->capretired * 2 : 4;
        struct sl_router **v = realloc(c->retired, cap * sizeof(*v));

        if (v == NULL) {
            sl_router_release(r); /* prune may come early: a retry may 503 */
            return;
        }
        c->retired = v;
        c->capretired = cap;
    }
    c->retired[c->nretired++] = r;
}

/* Releases the retired tables no request holds any more. Returns whether
 * one went (its services may now be pruned). */
static bool reap_retired(struct sl_control *c)
{
    bool any = false;

    for (size_t i = 0; i < c->nretired;) {
        /* acquire: pairs with the release of the requests' references. */
        if (atomic_load_explicit(&c->retired[i]->refs, memory_order_acquire) != 1) {
            i++;
            continue;
        }
        sl_router_release(c->retired[i]);
        c->retired[i] = c->retired[--c->nretired];
        any = true;
    }
    return any;
}

/* Moves the parked tables that every worker has now moved past to the
 * retired ones. */
static void retry_pending(struct sl_control *c)
{
    for (size_t i = 0; i < c->npending;) {
        if (!sl_router_slot_quiesce(&c->slot, c->pending[i].gen, 0)) {
            i++;
            continue;
        }
        retire(c, c->pending[i].r);
        c->pending[i] = c->pending[--c->npending];
    }
}

/* Unregisters what neither the config nor a table still in use needs. */
static void prune(struct sl_control *c)
{
    struct sl_router **keep = calloc(c->npending + c->nretired + 1, sizeof(*keep));
    size_t n = 0;

    if (keep == NULL)
        return; /* prune at the next publish or tick */
    for (size_t i = 0; i < c->npending; i++)
        keep[n++] = c->pending[i].r;
    for (size_t i = 0; i < c->nretired; i++)
        keep[n++] = c->retired[i];
    sl_apply_prune(c->lb, c->cfg, &c->st, keep, n);
    free(keep);
}

static void park(struct sl_control *c, struct sl_router *old, uint64_t gen)
{
    if (c->npending == c->cap) {
        size_t cap = c->cap != 0 ? c->cap * 2 : 4;
        struct pending *p = realloc(c->pending, cap * sizeof(*p));

        if (p == NULL) {
            /* Cannot even remember it: waiting is the only safe choice. */
            while (!sl_router_slot_quiesce(&c->slot, gen, SL_QUIESCE_MS))
                ;
            retire(c, old);
            return;
        }
        c->pending = p;
        c->cap = cap;
    }
    c->pending[c->npending++] = (struct pending){old, gen};
}

/* Swaps <r> in (consuming the caller's reference), then frees the old
 * table after its grace period, or parks it when a worker is slow. */
static void publish(struct sl_control *c, struct sl_router *r)
{
    struct sl_router *old = sl_router_slot_publish(&c->slot, r);
    uint64_t gen = r->generation;

    if (c->notify != NULL)
        c->notify(c->notify_arg);
    if (old != NULL) {
        if (sl_router_slot_quiesce(&c->slot, gen, c->quiesce_ms))
            retire(c, old);
        else
            park(c, old, gen);
    }
    retry_pending(c);
    reap_retired(c);
    prune(c);
}

static void control_free(struct sl_control *c)
{
    if (c->lb != NULL)
        sl_apply_state_fini(c->lb, &c->st);
    sl_router_release(sl_router_slot_publish(&c->slot, NULL));
    /* The workers have stopped: nobody can still be about to adopt these. */
    for (size_t i = 0; i < c->npending; i++)
        sl_router_release(c->pending[i].r);
    free(c->pending);
    for (size_t i = 0; i < c->nretired; i++)
        sl_router_release(c->retired[i]);
    free(c->retired);
    sluice_lb_free(c->lb);
    if (c->boot != c->cfg)
        sl_config_free(c->boot);
    sl_config_free(c->cfg);
    sl_ytree_free(c->base);
    sl_ytree_free(c->tree);
    sl_overlay_fini(&c->ov);
    sl_store_close(c->store);
    sl_rps_fini(&c->rps);
    sl_agents_fini(&c->agents);
    pthread_mutex_destroy(&c->mu);
    free(c->path);
    free(c);
}

/* The file alone, parsed and validated: its own errors and warnings go to
 * <diag> as before there was an overlay. The state path comes from here. */
static int load_file(const char *path, struct sl_ynode **base, struct sl_config **cfg,
                     struct sl_diag *diag)
{
    int rc = sl_ytree_load(path, base, diag);

    if (rc != 0)
        return rc;
    rc = sl_config_from_tree(*base, path, cfg, diag);
    if (rc != 0) {
        sl_ytree_free(*base);
        *base = NULL;
    }
    return rc;
}

/* Opens the store of <state> and loads the overlay from it. */
static int open_state(const char *state, bool readonly, struct sl_store **store,
                      struct sl_overlay *ov, struct sl_diag *diag)
{
    char err[512] = "";

    if (sl_store_open(state, readonly, store, err, sizeof(err)) != 0) {
        sl_diag_add(diag, "%s", err[0] != '\0' ? err : state);
        return SLUICE_ERR_IO;
    }
    if (sl_overlay_load(ov, *store, err, sizeof(err)) != 0) {
        sl_diag_add(diag, "%s: %s", state, err);
        return SLUICE_ERR_IO;
    }
    return 0;
}

int sl_control_install(struct sl_control *c, struct sl_config *ncfg, struct sl_ynode *tree,
                       struct sl_diag *diag)
{
    struct sl_config *old;
    struct sl_router *r = NULL;
    int rc = sl_apply_config(c->lb, ncfg, c->cfg, &c->st, diag);

    if (rc == 0)
        rc = sl_build_router(c->lb, ncfg, c->boot->listeners, c->boot->nlisteners, &r);
    if (rc != 0)
        return rc; /* the old table stays published; the lb may be partly updated */
    old = c->cfg;
    c->cfg = ncfg;
    publish(c, r);
    if (old != c->boot)
        sl_config_free(old);
    sl_ytree_free(c->tree);
    c->tree = tree;
    sl_agents_reapply(c);
    return 0;
}

int sl_control_open(const char *path, struct sl_control **out, struct sl_diag *diag)
{
    struct sl_config *fcfg = NULL, *cfg = NULL;
    struct sl_ynode *base = NULL, *tree = NULL;
    int rc = load_file(path, &base, &fcfg, diag);

    if (rc != 0)
        return rc;
    struct sl_control *c = calloc(1, sizeof(*c));

    if (c == NULL) {
        sl_config_free(fcfg);
        sl_ytree_free(base);
        return SLUICE_ERR_NOMEM;
    }
    pthread_mutex_init(&c->mu, NULL);
    c->base = base;
    c->quiesce_ms = SL_QUIESCE_MS;
    sl_router_slot_init(&c->slot, 0);
    if ((c->path = strdup(path)) == NULL || (c->lb = sluice_lb_new()) == NULL) {
        rc = SLUICE_ERR_NOMEM;
        goto fail;
    }
    /* The workers' health schedulers end ejections (sl_health_tick()), so
     * each transition is logged once, by the worker that made it. */
    sl_lb_set_external_ticks(c->lb, true);
    rc = open_state(fcfg->state, false, &c->store, &c->ov, diag);
    if (rc == 0)
        rc = sl_overlay_replay(&c->ov, base, path, &cfg, &tree, diag);
    if (rc != 0)
        goto fail;
    c->boot = cfg;
    rc = sl_control_install(c, cfg, tree, diag);
    if (rc != 0) {
        sl_ytree_free(tree);
        goto fail;
    }
    sl_agents_start(c);
    sl_config_free(fcfg);
    *out = c;
    return 0;

fail:
    sl_config_free(fcfg);
    control_free(c);
    return rc == SLUICE_ERR_NOMEM || rc == SLUICE_ERR_IO ? rc : SLUICE_ERR_CONFIG;
}

int sl_control_check(const char *path, struct sl_diag *diag)
{
    struct sl_config *fcfg = NULL, *cfg = NULL;
    struct sl_ynode *base = NULL, *tree = NULL;
    struct sl_store *store = NULL;
    struct sl_overlay ov = {0};
    int rc = load_file(path, &base, &fcfg, diag);

    if (rc != 0)
        return rc;
    /* Read-only, and only when there is one: a check creates nothing. */
    if (access(fcfg->state, F_OK) == 0) {
        rc = open_state(fcfg->state, true, &store, &ov, diag);
        if (rc == 0 && (rc = sl_overlay_replay(&ov, base, path, &cfg, &tree, diag)) == 0) {
            sl_config_free(cfg);
            sl_ytree_free(tree);
        }
    }
    sl_overlay_fini(&ov);
    sl_store_close(store);
    sl_config_free(fcfg);
    sl_ytree_free(base);
    return rc;
}

static const struct sl_cfg_listener *find_listener(const struct sl_config *cfg, const char *name)
{
    for (size_t i = 0; i < cfg->nlisteners; i++)
        if (strcmp(cfg->listeners[i].name, name) == 0)
            return &cfg->listeners[i];
    return NULL;
}

/* Listeners are bound once, at start: say what a reload cannot change. */
static void warn_listeners(const struct sl_control *c, const struct sl_config *ncfg,
                           struct sl_diag *diag)
{
    const struct sl_config *run = c->boot;

    for (size_t i = 0; i < run->nlisteners; i++) {
        const struct sl_cfg_listener *old = &run->listeners[i];
        const struct sl_cfg_listener *l = find_listener(ncfg, old->name);

        if (l == NULL)
            sl_diag_add(diag,
                        "warning: %s: listener %s was removed: it keeps running until a "
                        "restart",
                        ncfg->path, old->name);
        else if (strcmp(l->bind, old->bind) != 0 || l->mode != old->mode)
            sl_diag_add(diag,
                        "warning: %s:%d: listener %s: bind or mode changed: restart to "
                        "apply (still %s %s)",
                        ncfg->path, l->line, l->name, old->bind,
                        old->mode == SL_MODE_TCP ? "tcp" : "http");
        if (old->mode == SL_MODE_TCP &&
            (l == NULL || l->mode != SL_MODE_TCP || strcmp(l->bind, old->bind) != 0) &&
            sl_config_service(ncfg, old->service) == NULL)
            sl_diag_add(diag,
                        "warning: %s: listener %s: service %s is gone: its connections "
                        "fail until a restart",
                        ncfg->path, old->name, old->service);
    }
    for (size_t i = 0; i < ncfg->nlisteners; i++)
        if (find_listener(run, ncfg->listeners[i].name) == NULL)
            sl_diag_add(diag, "warning: %s:%d: listener %s is new: it starts at the next restart",
                        ncfg->path, ncfg->listeners[i].line, ncfg->listeners[i].name);
}

static int reload_locked(struct sl_control *c, struct sl_diag *diag)
{
    struct sl_config *fcfg = NULL, *ncfg = NULL;
    struct sl_ynode *base = NULL, *tree = NULL;
    struct sl_overlay ov;
    int rc = load_file(c->path, &base, &fcfg, diag);

    if (rc != 0)
        return rc;
    sl_config_free(fcfg);
    /* On a copy: a reload that fails leaves the overlay's state as it was. */
    if (sl_overlay_with(&c->ov, NULL, 0, &ov) != 0) {
        sl_ytree_free(base);
        return SLUICE_ERR_NOMEM;
    }
    rc = sl_overlay_replay(&ov, base, c->path, &ncfg, &tree, diag);
    if (rc == 0) {
        warn_listeners(c, ncfg, diag);
        rc = sl_control_install(c, ncfg, tree, diag);
        if (rc != 0) {
            sl_config_free(ncfg);
            sl_ytree_free(tree);
        }
    }
    if (rc != 0) {
        sl_overlay_fini(&ov);
        sl_ytree_free(base);
        return rc;
    }
    sl_overlay_fini(&c->ov);
    c->ov = ov;
    sl_ytree_free(c->base);
    c->base = base;
    return 0;
}

int sl_control_reload(struct sl_control *c, struct sl_diag *diag)
{
    pthread_mutex_lock(&c->mu);
    int rc = reload_locked(c, diag);

    pthread_mutex_unlock(&c->mu);
    return rc;
}

struct sl_store *sl_control_store(struct sl_control *c)
{
    return c->store;
}

struct sl_router_slot *sl_control_slot(struct sl_control *c)
{
    return &c->slot;
}

sluice_lb_t *sl_control_lb(struct sl_control *c)
{
    return c->lb;
}

const struct sl_config *sl_control_config(const struct sl_control *c)
{
    return c->cfg;
}

unsigned sl_control_workers(const struct sl_control *c)
{
    long n = c->cfg->workers != 0 ? (long)c->cfg->workers : sysconf(_SC_NPROCESSORS_ONLN);

    if (n < 1)
        n = 1;
    return n > SL_ROUTER_MAX_WORKERS ? SL_ROUTER_MAX_WORKERS : (unsigned)n;
}

void sl_control_set_workers(struct sl_control *c, size_t nworkers)
{
    c->slot.nworkers = nworkers > SL_ROUTER_MAX_WORKERS ? SL_ROUTER_MAX_WORKERS : nworkers;
}

void sl_control_set_notify(struct sl_control *c, void (*notify)(void *arg), void *arg)
{
    c->notify = notify;
    c->notify_arg = arg;
}

void sl_control_set_quiesce_ms(struct sl_control *c, uint32_t ms)
{
    c->quiesce_ms = ms;
}

size_t sl_control_pending(const struct sl_control *c)
{
    return c->npending;
}

uint32_t sl_control_drain_timeout_ms(const struct sl_control *c)
{
    return c->cfg->drain_timeout_ms;
}

void sl_control_close(struct sl_control *c)
{
    if (c != NULL)
        control_free(c);
}

void sl_control_tick(struct sl_control *c, uint64_t now_ms)
{
    pthread_mutex_lock(&c->mu);
    retry_pending(c);
    if (reap_retired(c))
        prune(c);
    sl_rps_sample(&c->rps, c->lb, c->cfg, now_ms);
    sl_agents_tick(c, now_ms);
    pthread_mutex_unlock(&c->mu);
}
