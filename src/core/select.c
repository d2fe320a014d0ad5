/* The read side: selection (the hot path), marks and counts. Nothing here
 * takes a lock or allocates; each call is one epoch read section. */
#include "select.h"

#include <errno.h>
#include <string.h>

#include "backend_types.h"
#include "group.h"
#include "lb.h"
#include "score.h"

/* The most backends a slow-start re-pick adds to the caller's skip list
 * (on the stack); longer lists keep the first pick. */
#define RAMP_SKIP_MAX 16

/* Slow start, for every strategy: <b>, ramping, keeps the pick with
 * probability equal to its factor, else the pick is made again without it.
 * Hashing strategies decide by the key's hash, so a key that stays keeps
 * staying as the factor grows; the others draw at random. The
 * load-comparing strategies (least_connections, least_request, peak_ewma)
 * also scale the ramping backend's load by its factor: with requests in
 * flight the comparison holds its load near factor x the others', and with
 * none (every load 0, where scaling changes nothing) this step does, so the
 * share stays near factor x the normal share at any concurrency. */
__attribute__((noinline, cold)) static struct sluice_backend *
ramp_repick(struct sl_group *g, const struct sl_pick *p, struct sluice_backend *b)
{
    const struct sluice_backend *skip[RAMP_SKIP_MAX];
    struct sl_pick q = *p;
    struct sluice_backend *alt;
    uint64_t r;

    switch (g->strategy) {
    case SLUICE_MAGLEV:
    case SLUICE_RING_HASH:
        r = sl_hash64(p->key, p->keylen, (uint64_t)(uintptr_t)b);
        break;
    default:
        r = sl_group_rand(g);
        break;
    }
    if ((uint32_t)(r & 1023) < sl_ramp_factor(b) || p->nskip >= RAMP_SKIP_MAX)
        return b;
    for (size_t i = 0; i < p->nskip; i++)
        skip[i] = p->skip[i];
    skip[p->nskip] = b;
    q.skip = skip;
    q.nskip = p->nskip + 1;
    alt = g->ops->pick(g, &q);
    return alt != NULL ? alt : b;
}

/* Nothing usable although the cached verdict said no panic: health moved
 * since (the last usable one just went down). With no skip list, nothing
 * usable is 0% usable, panic by definition; with one, recount. Rare. */
__attribute__((noinline, cold)) static struct sluice_backend *panic_repick(struct sl_group *g,
                                                                           struct sl_pick *p)
{
    if (atomic_load_explicit(&g->cfg->panic_percent, memory_order_relaxed) == 0)
        return NULL;
    if (p->nskip > 0 &&
        !sl_group_panic_slow(g, atomic_load_explicit(&g->cfg->health_gen, memory_order_relaxed)))
        return NULL;
    p->panic = true;
    return g->ops->pick(g, p);
}

sluice_backend_t *sl_lb_select_skip(sluice_lb_t *lb, const char *group, const void *key,
                                    size_t keylen, const sluice_backend_t *const *skip,
                                    size_t nskip)
{
    struct sl_pick p = {key != NULL ? key : "", key != NULL ? keylen : 0, skip, nskip, false};
    struct sl_epoch_token tok;
    const struct sl_table *t;
    struct sl_group *g;
    struct sluice_backend *b = NULL;

    if (lb == NULL || group == NULL) {
        errno = EINVAL;
        return NULL;
    }
    sl_epoch_enter(&lb->epoch, &tok);
    /* seq_cst load (plain on x86): ordered after the epoch increment, and
     * pairs with the publishing store in sl_txn_commit(). */
    t = atomic_load_explicit(&lb->table, memory_order_seq_cst);
    g = sl_table_find(t, group);
    if (g != NULL && g->n > 0) {
        p.panic = sl_group_panic(g);
        b = g->ops->pick(g, &p);
        if (b == NULL && !p.panic && g->cfg != NULL)
            b = panic_repick(g, &p);
        if (b != NULL && atomic_load_explicit(&b->ramp_start_ns, memory_order_relaxed) != 0)
            b = ramp_repick(g, &p, b);
        if (b != NULL && p.panic)
            atomic_fetch_add_explicit(&g->cfg->panic_selections, 1, memory_order_relaxed);
    }
    if (b != NULL) {
        /* While we are in the read section the group's reference keeps
         * <b> alive; ours keeps it alive after (even if removed). */
        atomic_fetch_add_explicit(&b->active, 1, memory_order_relaxed);
        atomic_fetch_add_explicit(&b->requests, 1, memory_order_relaxed);
    }
    sl_epoch_exit(&lb->epoch, &tok);
    if (b == NULL)
        errno = g == NULL ? ENOENT : EHOSTUNREACH;
    return b;
}

sluice_backend_t *sluice_lb_select(sluice_lb_t *lb, const char *service, const void *key,
                                   size_t keylen)
{
    return sl_lb_select_skip(lb, service, key, keylen, NULL, 0);
}

int sl_lb_with_backend(sluice_lb_t *lb, const char *service, const char *target,
                       void (*fn)(struct sluice_backend *b, void *arg), void *arg)
{
    struct sl_epoch_token tok;
    const struct sl_group *g;
    struct sluice_backend *b = NULL;
    int rc = 0;

    if (lb == NULL || service == NULL || target == NULL)
        return SLUICE_ERR_INVALID_ARG;
    sl_epoch_enter(&lb->epoch, &tok);
    g = sl_table_find(atomic_load_explicit(&lb->table, memory_order_seq_cst), service);
    if (g == NULL)
        rc = SLUICE_ERR_UNKNOWN_SERVICE;
    else if ((b = sl_group_find_backend(g, target)) == NULL)
        rc = SLUICE_ERR_UNKNOWN_BACKEND;
    else
        fn(b, arg);
    sl_epoch_exit(&lb->epoch, &tok);
    return rc;
}

static void do_mark(struct sluice_backend *b, void *arg)
{
    sl_score_mark(b, *(const bool *)arg);
}

static void do_step(struct sluice_backend *b, void *arg)
{
    sl_score_step(b, *(const bool *)arg);
}

static void do_nudge(struct sluice_backend *b, void *arg)
{
    (void)arg;
    sl_score_nudge(b);
}

int sl_lb_nudge(sluice_lb_t *lb, const char *service, const char *target)
{
    return sl_lb_with_backend(lb, service, target, do_nudge, NULL);
}

int sluice_lb_mark_health(sluice_lb_t *lb, const char *service, const char *target, bool healthy)
{
    return sl_lb_with_backend(lb, service, target, do_mark, &healthy);
}

int sluice_lb_up(sluice_lb_t *lb, const char *service, const char *target)
{
    bool up = true;

    return sl_lb_with_backend(lb, service, target, do_step, &up);
}

int sluice_lb_down(sluice_lb_t *lb, const char *service, const char *target)
{
    bool up = false;

    return sl_lb_with_backend(lb, service, target, do_step, &up);
}

/* Backends of <service> (all, or usable only); 0 when unknown. */
static size_t count(const sluice_lb_t *clb, const char *service, bool usable_only)
{
    /* The epoch counters are the only thing written: reading needs no
     * const lb otherwise. */
    sluice_lb_t *lb = (sluice_lb_t *)clb;
    struct sl_epoch_token tok;
    const struct sl_group *g;
    size_t n = 0;

    if (lb == NULL || service == NULL)
        return 0;
    sl_epoch_enter(&lb->epoch, &tok);
    g = sl_table_find(atomic_load_explicit(&lb->table, memory_order_seq_cst), service);
    if (g != NULL && !usable_only)
        n = g->n;
    else if (g != NULL)
        for (size_t i = 0; i < g->n; i++)
            n += sl_backend_usable(g->backends[i]);
    sl_epoch_exit(&lb->epoch, &tok);
    return n;
}

size_t sluice_lb_backend_count(const sluice_lb_t *lb, const char *service)
{
    return count(lb, service, false);
}

size_t sluice_lb_healthy_count(const sluice_lb_t *lb, const char *service)
{
    return count(lb, service, true);
}
