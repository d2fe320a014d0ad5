/* Copies of the read side for callers: group snapshots and service lists.
 * Each is one epoch read section; they allocate, so they are not for the
 * request path. */
#include <stdlib.h>
#include <string.h>

#include "backend_types.h"
#include "group.h"
#include "lb.h"

static void fill(sluice_backend_snapshot_t *s, struct sluice_backend *b)
{
    uint32_t f = sl_ramp_factor(b); /* 102..1024 */
    uint64_t load;

    s->score = atomic_load_explicit(&b->score, memory_order_relaxed);
    s->health = sl_backend_health_of(b, s->score); /* agrees with the score shown */
    s->failures = atomic_load_explicit(&b->failures, memory_order_relaxed);
    s->active = sl_backend_active(b);
    s->weight = atomic_load_explicit(&b->weight, memory_order_relaxed);
    s->requests = atomic_load_explicit(&b->requests, memory_order_relaxed);
    s->ewma_ns = atomic_load_explicit(&b->ewma_ns, memory_order_relaxed);
    /* The integer weight hides a ramp of weight 1: show the factor itself,
     * mapped so the ramp's ends read exactly 10% and 100%. */
    s->ramp_permille = f >= 1024 ? 1000 : 100 + (f > 102 ? (f - 102) * 900 / (1024 - 102) : 0);
    s->effective_weight = (uint32_t)(((uint64_t)s->weight * s->ramp_permille + 500) / 1000);
    if (s->weight > 0 && s->effective_weight == 0)
        s->effective_weight = 1; /* a ramping weight of 1 is still pickable */
    s->last_check =
        (sluice_check_result_t)atomic_load_explicit(&b->last_check, memory_order_relaxed);
    s->last_check_status =
        (uint16_t)atomic_load_explicit(&b->last_check_status, memory_order_relaxed);
    s->last_check_ns = atomic_load_explicit(&b->last_check_ns, memory_order_relaxed);
    s->ejected_until_ns = atomic_load_explicit(&b->ejected_until_ns, memory_order_relaxed);
    s->ejections = atomic_load_explicit(&b->ejections, memory_order_relaxed);
    s->out = atomic_load_explicit(&b->out, memory_order_relaxed);
    load = atomic_load_explicit(&b->load, memory_order_relaxed);
    s->load = (uint32_t)load;
    s->load_set = (load & SL_LOAD_SET) != 0;
}

int sluice_lb_snapshot(const sluice_lb_t *clb, const char *service, sluice_group_snapshot_t *out)
{
    sluice_lb_t *lb = (sluice_lb_t *)clb; /* only the epoch counters are written */
    sluice_group_snapshot_t snap = {.strategy = SLUICE_ROUND_ROBIN};
    struct sl_epoch_token tok;
    const struct sl_group *g;
    int rc = 0;

    if (lb == NULL || service == NULL || out == NULL)
        return SLUICE_ERR_INVALID_ARG;
    sl_epoch_enter(&lb->epoch, &tok);
    g = sl_table_find(atomic_load_explicit(&lb->table, memory_order_seq_cst), service);
    if (g == NULL) {
        rc = SLUICE_ERR_UNKNOWN_SERVICE;
        goto out;
    }
    snap.strategy = g->strategy;
    if (g->cfg != NULL) {
        snap.panic = sl_group_panic((struct sl_group *)g);
        snap.panic_percent = atomic_load_explicit(&g->cfg->panic_percent, memory_order_relaxed);
        snap.panic_selections =
            atomic_load_explicit(&g->cfg->panic_selections, memory_order_relaxed);
    }
    snap.backends = calloc(g->n > 0 ? g->n : 1, sizeof(*snap.backends));
    if (snap.backends == NULL) {
        rc = SLUICE_ERR_NOMEM;
        goto out;
    }
    for (size_t i = 0; i < g->n; i++) {
        sluice_backend_snapshot_t *s = &snap.backends[i];

        s->target = strdup(g->backends[i]->target);
        s->name = strdup(g->backends[i]->name);
        snap.n++;
        if (s->target == NULL || s->name == NULL) {
            rc = SLUICE_ERR_NOMEM;
            goto out;
        }
        fill(s, g->backends[i]);
    }
out:
    sl_epoch_exit(&lb->epoch, &tok);
    if (rc != 0)
        sluice_group_snapshot_free(&snap);
    else
        *out = snap;
    return rc;
}

void sluice_group_snapshot_free(sluice_group_snapshot_t *snap)
{
    if (snap == NULL)
        return;
    for (size_t i = 0; i < snap->n; i++) {
        free(snap->backends[i].target);
        free(snap->backends[i].name);
    }
    free(snap->backends);
    snap->backends = NULL;
    snap->n = 0;
}

size_t sluice_lb_list_services(const sluice_lb_t *clb, const char **names, size_t cap)
{
    sluice_lb_t *lb = (sluice_lb_t *)clb;
    struct sl_epoch_token tok;
    const struct sl_table *t;
    size_t n = 0;

    if (lb == NULL)
        return 0;
    sl_epoch_enter(&lb->epoch, &tok);
    t = atomic_load_explicit(&lb->table, memory_order_seq_cst);
    for (size_t i = 0; i < t->n; i++) {
        if (t->groups[i]->parent != NULL)
            continue; /* views are the daemon's plumbing, not services */
        /* The name string lives until the service is unregistered: the lb
         * hands it from group to group when one replaces another. */
        if (names != NULL && n < cap)
            names[n] = t->groups[i]->name;
        n++;
    }
    sl_epoch_exit(&lb->epoch, &tok);
    return n;
}
