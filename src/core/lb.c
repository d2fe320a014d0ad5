/* The lb's lifetime and its writers: register, update, unregister, add,
 * remove, weights and score options. Each runs one transaction (txn.h). */
#include "lb.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend_types.h"
#include "checker.h"
#include "group.h"
#include "score.h"
#include "target.h"
#include "txn.h"

sluice_lb_t *sluice_lb_new(void)
{
    sluice_lb_t *lb = calloc(1, sizeof(*lb));
    struct sl_table *t;

    if (lb == NULL)
        return NULL;
    if (sl_epoch_init(&lb->epoch) != 0)
        goto fail_epoch;
    lb->score = sl_score_cfg_new();
    t = sl_table_new(NULL, 0);
    if (lb->score == NULL || t == NULL) {
        sl_table_free(t);
        goto fail;
    }
    atomic_init(&lb->table, t);
    atomic_init(&lb->allow_dynamic, true);
    atomic_init(&lb->seed_ctr, (uint64_t)(uintptr_t)lb);
    pthread_mutex_init(&lb->wlock, NULL);
    pthread_mutex_init(&lb->cklock, NULL);
    return lb;

fail:
    sl_score_cfg_unref(lb->score);
    sl_epoch_fini(&lb->epoch);
fail_epoch:
    free(lb);
    return NULL;
}

void sluice_lb_free(sluice_lb_t *lb)
{
    struct sl_table *t;

    if (lb == NULL)
        return;
    sluice_lb_stop_health_checker(lb);
    t = atomic_load_explicit(&lb->table, memory_order_relaxed);
    for (size_t i = 0; i < t->n; i++) {
        char *name = t->groups[i]->name;

        sl_group_free(t->groups[i]);
        free(name);
    }
    sl_table_free(t);
    sl_epoch_fini(&lb->epoch);
    sl_score_cfg_unref(lb->score);
    pthread_mutex_destroy(&lb->wlock);
    pthread_mutex_destroy(&lb->cklock);
    free(lb);
}

void sluice_lb_allow_dynamic(sluice_lb_t *lb, bool allow)
{
    if (lb != NULL)
        atomic_store_explicit(&lb->allow_dynamic, allow, memory_order_relaxed);
}

/* Parses targets[0..n) into a new array, refusing duplicates. */
static int parse_targets(const char *const *targets, size_t n, struct sl_target **out)
{
    struct sl_target *ts;
    struct sl_strmap seen;
    int rc = 0;

    if (n > 0 && targets == NULL)
        return SLUICE_ERR_INVALID_ARG;
    ts = calloc(n > 0 ? n : 1, sizeof(*ts));
    if (ts == NULL || sl_strmap_init(&seen, n) != 0) {
        free(ts);
        return SLUICE_ERR_NOMEM;
    }
    for (size_t i = 0; i < n && rc == 0; i++) {
        rc = sl_target_parse(targets[i], &ts[i]);
        if (rc == SLUICE_ERR_INVALID_ARG)
            rc = SLUICE_ERR_INVALID_TARGET;
        if (rc == 0 && sl_strmap_put(&seen, ts[i].canon, i, NULL))
            rc = SLUICE_ERR_DUPLICATE_TARGET;
    }
    sl_strmap_fini(&seen);
    if (rc != 0) {
        free(ts);
        return rc;
    }
    *out = ts;
    return 0;
}

static void unref_all(struct sluice_backend **bs, size_t n)
{
    for (size_t i = 0; i < n; i++)
        sl_backend_unref(bs[i]);
    free(bs);
}

/* Puts a group <name> over bs[0..n) into <tx>, replacing a service of that
 * name; views may not be replaced by services. */
static int put_service(struct sl_txn *tx, const char *name, sluice_strategy_t s,
                       struct sluice_backend *const *bs, size_t n)
{
    const struct sl_group *old = sl_txn_find(tx, name);
    const char *iname;
    struct sl_group *g;

    if (old != NULL && old->parent != NULL)
        return SLUICE_ERR_INVALID_ARG;
    iname = sl_txn_intern(tx, name);
    if (iname == NULL)
        return SLUICE_ERR_NOMEM;
    g = sl_group_new(iname, s, bs, n, NULL, NULL, sl_txn_seed(tx, name));
    if (g == NULL)
        return SLUICE_ERR_NOMEM;
    /* A registration starts from the defaults, even over an old service. */
    if ((g->cfg = sl_score_cfg_clone(tx->lb->score)) == NULL) {
        sl_group_free(g);
        return SLUICE_ERR_NOMEM;
    }
    return sl_txn_put(tx, g);
}

int sluice_lb_register(sluice_lb_t *lb, const char *service, const char *const *targets, size_t n,
                       sluice_strategy_t strategy)
{
    struct sluice_backend **bs = NULL;
    struct sl_target *ts = NULL;
    struct sl_txn tx;
    size_t nb = 0;
    int rc;

    if (lb == NULL || service == NULL || (unsigned)strategy >= SLUICE_STRATEGY_COUNT)
        return SLUICE_ERR_INVALID_ARG;
    rc = parse_targets(targets, n, &ts);
    if (rc != 0)
        return rc;
    bs = calloc(n > 0 ? n : 1, sizeof(*bs));
    if (bs == NULL) {
        free(ts);
        return SLUICE_ERR_NOMEM;
    }
    /* New objects: created (and resolved) before taking the writer lock. */
    for (; nb < n; nb++) {
        bs[nb] = sl_backend_new(&ts[nb], NULL, lb->score);
        if (bs[nb] == NULL)
            break;
    }
    free(ts);
    if (nb < n) {
        unref_all(bs, nb);
        return SLUICE_ERR_NOMEM;
    }
    rc = sl_txn_begin(&tx, lb);
    if (rc == 0)
        rc = sl_txn_end(&tx, put_service(&tx, service, strategy, bs, n));
    unref_all(bs, n); /* the group holds its own references */
    return rc;
}

/* Index of old->backends by canonical target. */
static int by_target(const struct sl_group *old, struct sl_strmap *byt)
{
    if (sl_strmap_init(byt, old != NULL ? old->n : 0) != 0)
        return SLUICE_ERR_NOMEM;
    for (size_t i = 0; old != NULL && i < old->n; i++)
        sl_strmap_put(byt, old->backends[i]->target, i, NULL);
    return 0;
}

/* Off the writer lock: new objects (resolved: DNS may block) for the
 * targets <service> does not hold in the published table. A writer racing
 * in between only means carry_over() creates one under the lock. */
static int precreate(sluice_lb_t *lb, const char *service, const struct sl_target *ts, size_t n,
                     struct sluice_backend **fresh)
{
    struct sl_epoch_token tok;
    struct sl_strmap byt;
    bool *need = calloc(n > 0 ? n : 1, sizeof(*need));
    const struct sl_group *g;
    int rc;

    if (need == NULL)
        return SLUICE_ERR_NOMEM;
    sl_epoch_enter(&lb->epoch, &tok);
    /* acquire pairs with the publish in sl_txn_commit(). */
    g = sl_table_find(atomic_load_explicit(&lb->table, memory_order_acquire), service);
    rc = by_target(g != NULL && g->parent == NULL ? g : NULL, &byt);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        size_t j;

        need[i] = !sl_strmap_get(&byt, ts[i].canon, &j);
    }
    if (rc == 0)
        sl_strmap_fini(&byt);
    sl_epoch_exit(&lb->epoch, &tok);
    for (size_t i = 0; rc == 0 && i < n; i++)
        if (need[i] && (fresh[i] = sl_backend_new(&ts[i], NULL, lb->score)) == NULL)
            rc = SLUICE_ERR_NOMEM;
    free(need);
    return rc;
}

/* The backends for ts[0..n): the old group's object where the target
 * stays, else the precreated one in fresh[] (taken: set to NULL), else a
 * new one; each with a reference for the caller. */
static int carry_over(const struct sl_group *old, const struct sl_target *ts, size_t n,
                      struct sl_score_cfg *cfg, struct sluice_backend **fresh,
                      struct sluice_backend **bs)
{
    struct sl_strmap byt;
    size_t nb = 0;

    if (by_target(old, &byt) != 0)
        return SLUICE_ERR_NOMEM;
    for (; nb < n; nb++) {
        size_t j;

        if (sl_strmap_get(&byt, ts[nb].canon, &j)) {
            bs[nb] = old->backends[j];
            sl_backend_ref(bs[nb]);
        } else if (fresh[nb] != NULL) {
            bs[nb] = fresh[nb];
            fresh[nb] = NULL;
        } else if ((bs[nb] = sl_backend_new(&ts[nb], NULL, cfg)) == NULL) {
            break;
        }
    }
    sl_strmap_fini(&byt);
    if (nb < n) {
        for (size_t i = 0; i < nb; i++) {
            sl_backend_unref(bs[i]);
            bs[i] = NULL;
        }
        return SLUICE_ERR_NOMEM;
    }
    return 0;
}

int sluice_lb_update_backends(sluice_lb_t *lb, const char *service, const char *const *targets,
                              size_t n)
{
    struct sluice_backend **bs, **fresh;
    const struct sl_group *old;
    struct sl_target *ts = NULL;
    struct sl_txn tx;
    int rc;

    if (lb == NULL || service == NULL)
        return SLUICE_ERR_INVALID_ARG;
    rc = parse_targets(targets, n, &ts);
    if (rc != 0)
        return rc;
    bs = calloc(n > 0 ? n : 1, sizeof(*bs));
    fresh = calloc(n > 0 ? n : 1, sizeof(*fresh));
    rc = bs == NULL || fresh == NULL ? SLUICE_ERR_NOMEM : precreate(lb, service, ts, n, fresh);
    if (rc == 0 && (rc = sl_txn_begin(&tx, lb)) == 0) {
        old = sl_txn_find_service(&tx, service, &rc);
        if (old != NULL)
            rc = carry_over(old, ts, n, lb->score, fresh, bs);
        if (rc == 0)
            rc = sl_txn_rebuild(&tx, old, bs, n);
        rc = sl_txn_end(&tx, rc);
        if (old != NULL)
            for (size_t i = 0; i < n; i++)
                sl_backend_unref(bs[i]); /* NULL when carry_over failed */
    }
    for (size_t i = 0; fresh != NULL && i < n; i++)
        sl_backend_unref(fresh[i]);
    free(fresh);
    free(bs);
    free(ts);
    return rc;
}

int sluice_lb_unregister(sluice_lb_t *lb, const char *service)
{
    struct sl_txn tx;
    int rc;

    if (lb == NULL || service == NULL)
        return SLUICE_ERR_INVALID_ARG;
    rc = sl_txn_begin(&tx, lb);
    if (rc != 0)
        return rc;
    if (sl_txn_find_service(&tx, service, &rc) != NULL)
        rc = sl_txn_del(&tx, service);
    return sl_txn_end(&tx, rc);
}

static bool has_target(const struct sl_group *g, const char *target)
{
    for (size_t i = 0; i < g->n; i++)
        if (strcmp(g->backends[i]->target, target) == 0)
            return true;
    return false;
}

int sl_lb_add_backend_obj(sluice_lb_t *lb, const char *service, struct sluice_backend *b,
                          bool dynamic)
{
    struct sluice_backend **bs = NULL;
    const struct sl_group *g;
    struct sl_txn tx;
    int rc;

    rc = sl_txn_begin(&tx, lb);
    if (rc != 0)
        goto out;
    g = sl_txn_find(&tx, service);
    if (dynamic && !atomic_load_explicit(&lb->allow_dynamic, memory_order_relaxed))
        rc = SLUICE_ERR_DISALLOWED;
    else if (g != NULL && g->parent != NULL)
        rc = SLUICE_ERR_INVALID_ARG;
    else if (g == NULL && !dynamic)
        rc = SLUICE_ERR_UNKNOWN_SERVICE;
    else if (dynamic && sl_groups_name_in_use(tx.groups, tx.n, b->name))
        rc = SLUICE_ERR_NAME_IN_USE;
    else if (g != NULL && has_target(g, b->target))
        rc = SLUICE_ERR_DUPLICATE_TARGET;
    if (rc != 0) {
        sl_txn_abort(&tx);
        goto out;
    }
    if (g == NULL) {
        rc = sl_txn_end(&tx, put_service(&tx, service, SLUICE_ROUND_ROBIN, &b, 1));
        goto out;
    }
    bs = malloc((g->n + 1) * sizeof(*bs));
    if (bs == NULL) {
        rc = sl_txn_end(&tx, SLUICE_ERR_NOMEM);
        goto out;
    }
    memcpy(bs, g->backends, g->n * sizeof(*bs));
    bs[g->n] = b;
    rc = sl_txn_end(&tx, sl_txn_rebuild(&tx, g, bs, g->n + 1));
    free(bs);
out:
    sl_backend_unref(b);
    return rc;
}

int sluice_lb_add_backend(sluice_lb_t *lb, const char *service, const char *target)
{
    struct sluice_backend *b;
    struct sl_target t;
    int rc;

    if (lb == NULL || service == NULL || target == NULL)
        return SLUICE_ERR_INVALID_ARG;
    rc = sl_target_parse(target, &t);
    if (rc != 0)
        return rc;
    b = sl_backend_new(&t, NULL, lb->score);
    if (b == NULL)
        return SLUICE_ERR_NOMEM;
    return sl_lb_add_backend_obj(lb, service, b, false);
}

/* Opens a transaction on backend <target> of <service>: 0 with the writer
 * lock held and *<g>, *<b> set, or an error with nothing held (arguments
 * NULL, service or backend unknown). */
static int begin_on_backend(sluice_lb_t *lb, struct sl_txn *tx, const char *service,
                            const char *target, const struct sl_group **g,
                            struct sluice_backend **b)
{
    int rc;

    *g = NULL;
    *b = NULL;
    if (lb == NULL || service == NULL || target == NULL)
        return SLUICE_ERR_INVALID_ARG;
    rc = sl_txn_begin(tx, lb);
    if (rc != 0)
        return rc;
    *g = sl_txn_find_service(tx, service, &rc);
    if (*g == NULL) /* rc says why; never 0, which would commit and go on */
        return sl_txn_end(tx, rc != 0 ? rc : SLUICE_ERR_UNKNOWN_SERVICE);
    *b = sl_group_find_backend(*g, target);
    if (*b == NULL)
        return sl_txn_end(tx, SLUICE_ERR_UNKNOWN_BACKEND);
    return 0;
}

int sluice_lb_remove_backend(sluice_lb_t *lb, const char *service, const char *target)
{
    struct sluice_backend **bs = NULL;
    struct sluice_backend *b;
    const struct sl_group *g;
    struct sl_txn tx;
    size_t n = 0;
    int rc = begin_on_backend(lb, &tx, service, target, &g, &b);

    if (rc != 0)
        return rc;
    bs = malloc((g->n > 0 ? g->n : 1) * sizeof(*bs));
    if (bs == NULL)
        return sl_txn_end(&tx, SLUICE_ERR_NOMEM);
    for (size_t i = 0; i < g->n; i++)
        if (g->backends[i] != b)
            bs[n++] = g->backends[i];
    rc = sl_txn_end(&tx, sl_txn_rebuild(&tx, g, bs, n));
    free(bs);
    return rc;
}

int sluice_lb_set_weight(sluice_lb_t *lb, const char *service, const char *target, uint32_t weight)
{
    struct sluice_backend *b;
    const struct sl_group *g;
    struct sl_txn tx;
    int rc = begin_on_backend(lb, &tx, service, target, &g, &b);

    if (rc != 0)
        return rc;
    /* Weight-aware strategies precompute from weights: rebuild the group
     * (and its views) so schedules follow. An abort restores the weight. */
    rc = sl_txn_set_weight(&tx, b, weight);
    if (rc == 0)
        rc = sl_txn_rebuild(&tx, g, g->backends, g->n);
    return sl_txn_end(&tx, rc);
}

/* A change of one service's settings, run under the writer lock on the
 * published table (no group is freed under us). */
struct svc_change {
    const char *service;
    const void *opts;
    void (*apply)(const struct sl_group *g, const void *opts);
    int *rc;
};

static void on_service(sluice_lb_t *lb, const struct sl_table *t, const void *arg)
{
    const struct svc_change *c = arg;
    const struct sl_group *g = sl_table_find(t, c->service);

    (void)lb;
    if (g == NULL || g->parent != NULL || g->cfg == NULL) {
        *c->rc = SLUICE_ERR_UNKNOWN_SERVICE;
        return;
    }
    c->apply(g, c->opts);
    *c->rc = 0;
}

static int change_service(sluice_lb_t *lb, const char *service, const void *opts,
                          void (*apply)(const struct sl_group *g, const void *opts))
{
    int rc = SLUICE_ERR_UNKNOWN_SERVICE;
    struct svc_change c = {service, opts, apply, &rc};

    if (lb == NULL || service == NULL)
        return SLUICE_ERR_INVALID_ARG;
    sl_txn_exclusive(lb, on_service, &c);
    return rc;
}

static void apply_score(const struct sl_group *g, const void *opts)
{
    sl_score_cfg_set(g->cfg, opts);
    /* Views list the same objects: the service's own list covers them. */
    for (size_t j = 0; j < g->n; j++)
        sl_score_clamp(g->backends[j]);
}

int sluice_lb_set_score(sluice_lb_t *lb, const char *service, const sluice_score_opts_t *opts)
{
    int rc = sl_score_validate(opts);

    return rc != 0 ? rc : change_service(lb, service, opts, apply_score);
}

static void set_default(sluice_lb_t *lb, const struct sl_table *t, const void *arg)
{
    (void)t;
    sl_score_cfg_set(lb->score, arg);
}

int sluice_lb_set_default_score(sluice_lb_t *lb, const sluice_score_opts_t *opts)
{
    int rc;

    if (lb == NULL)
        return SLUICE_ERR_INVALID_ARG;
    rc = sl_score_validate(opts);
    if (rc == 0)
        sl_txn_exclusive(lb, set_default, opts);
    return rc;
}

static void apply_panic(const struct sl_group *g, const void *opts)
{
    atomic_store_explicit(&g->cfg->panic_percent, *(const uint32_t *)opts, memory_order_relaxed);
    /* Every group of the service recounts at its next select. */
    atomic_fetch_add_explicit(&g->cfg->health_gen, 1, memory_order_relaxed);
}

int sluice_lb_set_panic(sluice_lb_t *lb, const char *service, uint32_t percent)
{
    return percent > 100 ? SLUICE_ERR_INVALID_ARG
                         : change_service(lb, service, &percent, apply_panic);
}

int sluice_lb_set_default_panic(sluice_lb_t *lb, uint32_t percent)
{
    if (lb == NULL || percent > 100)
        return SLUICE_ERR_INVALID_ARG;
    atomic_store_explicit(&lb->score->panic_percent, percent, memory_order_relaxed);
    return 0;
}

static void apply_slow_start(const struct sl_group *g, const void *opts)
{
    atomic_store_explicit(&g->cfg->slow_start_ms, *(const uint32_t *)opts, memory_order_relaxed);
}

int sluice_lb_set_slow_start(sluice_lb_t *lb, const char *service, uint32_t ms)
{
    return change_service(lb, service, &ms, apply_slow_start);
}

static void apply_ejection(const struct sl_group *g, const void *opts)
{
    const sluice_eject_opts_t *o = opts;

    atomic_store_explicit(&g->cfg->eject_base_ms, o->base_ms, memory_order_relaxed);
    atomic_store_explicit(&g->cfg->eject_max_ms, o->max_ms, memory_order_relaxed);
}

int sluice_lb_set_ejection(sluice_lb_t *lb, const char *service, const sluice_eject_opts_t *opts)
{
    if (opts == NULL || opts->max_ms < opts->base_ms)
        return SLUICE_ERR_INVALID_ARG;
    return change_service(lb, service, opts, apply_ejection);
}

static void apply_check(const struct sl_group *g, const void *opts)
{
    const sluice_check_opts_t *o = opts;
    struct sl_score_cfg *c = g->cfg;

    pthread_mutex_lock(&c->cklock);
    c->check = *o;
    if (c->check.expect_lo == 0 && c->check.expect_hi == 0) {
        c->check.expect_lo = 200;
        c->check.expect_hi = 399;
    }
    (void)snprintf(c->path, sizeof(c->path), "%s", o->path != NULL ? o->path : "/");
    c->check.path = NULL; /* the copy is c->path */
    c->check_set = true;
    atomic_store_explicit(&c->check_kind, (uint32_t)o->kind, memory_order_relaxed);
    pthread_mutex_unlock(&c->cklock);
}

/* Settings a probe can work with: times the checker's poll() takes (int
 * ms), HTTP statuses (100..599, both 0 for the default) and a path that
 * fits one request line. */
static bool check_valid(const sluice_check_opts_t *o)
{
    bool default_range = o->expect_lo == 0 && o->expect_hi == 0;

    if ((unsigned)o->kind > SLUICE_CHECK_HTTP || o->interval_ms == 0 ||
        o->interval_ms > INT32_MAX || o->down_interval_ms > INT32_MAX || o->timeout_ms > INT32_MAX)
        return false;
    if (!default_range && (o->expect_lo < 100 || o->expect_lo > o->expect_hi || o->expect_hi > 599))
        return false;
    if (o->path == NULL)
        return true;
    if (o->path[0] != '/' || strlen(o->path) >= 256)
        return false;
    for (const unsigned char *p = (const unsigned char *)o->path; *p != '\0'; p++)
        if (*p <= ' ' || *p == 0x7f || *p == '#') /* one request-target token, no fragment */
            return false;
    return true;
}

int sluice_lb_set_check(sluice_lb_t *lb, const char *service, const sluice_check_opts_t *opts)
{
    if (opts == NULL || !check_valid(opts))
        return SLUICE_ERR_INVALID_ARG;
    return change_service(lb, service, opts, apply_check);
}
