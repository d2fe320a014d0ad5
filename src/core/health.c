/* Health observations seen from outside src/core (health.h). */
#include "health.h"

#include <stdlib.h>

#include "backend.h"
#include "backend_types.h"
#include "group.h"
#include "lb.h"
#include "score.h"
#include "txn.h"

#define LOAD(x) atomic_load_explicit(&(x), memory_order_relaxed)

/* The change as made by this caller's own move <m>: from what it replaced
 * to what it stored, so a transition a concurrent update made is reported
 * by that update's caller only. */
static void report(const struct sluice_backend *b, const struct sl_score_move *m,
                   struct sl_health_change *out)
{
    out->from = m->first ? SLUICE_HEALTH_UNKNOWN : sl_backend_health_of(b, m->prev);
    out->to = sl_backend_health_of(b, m->next);
    out->changed = out->from != out->to;
    out->score = m->next;
    out->failures = LOAD(b->failures);
}

/* Nothing moved (or only the ejection's end, see readmitted()). */
static void unchanged(const struct sluice_backend *b, struct sl_health_change *out)
{
    int32_t s = LOAD(b->score);
    struct sl_score_move m = {.prev = s, .next = s};

    *out = (struct sl_health_change){0};
    report(b, &m, out);
}

/* end_ejection() won by this caller: UNHEALTHY -> HEALTHY when it also
 * moved the score (a mark may have got there first). */
static void readmitted(const struct sluice_backend *b, bool moved, struct sl_health_change *out)
{
    unchanged(b, out);
    out->readmitted = true;
    if (moved) {
        out->from = SLUICE_HEALTH_UNHEALTHY;
        out->changed = out->from != out->to;
    }
}

/* The service has active checks whose latest probe since the ejection
 * failed: the backoff's end alone does not readmit. */
static bool probe_holds(const struct sluice_backend *b)
{
    const struct sl_score_cfg *c = b->score_cfg;

    if (LOAD(c->check_kind) == SLUICE_CHECK_NONE)
        return false;
    return LOAD(b->last_check_ns) >= LOAD(b->ejected_at_ns) &&
           LOAD(b->last_check) != SLUICE_CHECK_RESULT_NONE &&
           LOAD(b->last_check) != SLUICE_CHECK_RESULT_OK;
}

/* Ends the ejection that ends at <until>: the CAS makes exactly one caller
 * (tick, probe or a lazy pick) the one that readmits. */
static bool end_ejection(struct sluice_backend *b, uint64_t until, bool *moved)
{
    if (!atomic_compare_exchange_strong_explicit(&b->ejected_until_ns, &until, 0,
                                                 memory_order_relaxed, memory_order_relaxed))
        return false;
    *moved = sl_score_readmit(b);
    return true;
}

static bool due(const struct sluice_backend *b, uint64_t now_ns, uint64_t *until)
{
    *until = LOAD(b->ejected_until_ns);
    return *until != 0 && now_ns >= *until;
}

void sl_health_probe_done(sluice_backend_t *b, sluice_check_result_t r, uint16_t status,
                          uint64_t now_ns, struct sl_health_change *out)
{
    struct sl_score_move m;
    uint64_t until;
    bool moved;

    atomic_store_explicit(&b->last_check, (uint32_t)r, memory_order_relaxed);
    atomic_store_explicit(&b->last_check_status, status, memory_order_relaxed);
    atomic_store_explicit(&b->last_check_ns, now_ns != 0 ? now_ns : 1, memory_order_relaxed);
    if (LOAD(b->ejected_until_ns) == 0) {
        *out = (struct sl_health_change){0};
        sl_score_step_from(b, r == SLUICE_CHECK_RESULT_OK, &m);
        report(b, &m, out);
    } else if (r == SLUICE_CHECK_RESULT_OK && due(b, now_ns, &until) &&
               end_ejection(b, until, &moved)) {
        readmitted(b, moved, out);
    } else {
        unchanged(b, out); /* ejected: recorded only */
    }
}

void sl_backend_release_observe(sluice_backend_t *b, sluice_outcome_t outcome, uint64_t latency_ns,
                                struct sl_health_change *out)
{
    struct sl_score_move m;
    uint32_t ms;

    *out = (struct sl_health_change){0};
    /* The release may free <b>: everything below comes from <m>, which it
     * filled while <b> was alive. */
    ms = sl_backend_release_ex(b, outcome, latency_ns, &m);
    out->from = m.first || !m.known ? SLUICE_HEALTH_UNKNOWN
                : m.prev >= 0       ? SLUICE_HEALTH_HEALTHY
                                    : SLUICE_HEALTH_UNHEALTHY;
    out->to = !m.known      ? SLUICE_HEALTH_UNKNOWN
              : m.next >= 0 ? SLUICE_HEALTH_HEALTHY
                            : SLUICE_HEALTH_UNHEALTHY;
    out->changed = out->from != out->to;
    out->score = m.next;
    out->failures = m.failures;
    out->ejected = ms > 0;
    out->eject_ms = ms;
}

void sl_health_tick(sluice_backend_t *b, uint64_t now_ns, struct sl_health_change *out)
{
    uint64_t until;
    bool moved;

    if (due(b, now_ns, &until) && !probe_holds(b) && end_ejection(b, until, &moved))
        readmitted(b, moved, out);
    else
        unchanged(b, out);
}

bool sl_backend_pickable_slow(struct sluice_backend *b, bool panic)
{
    uint64_t until;
    bool moved;

    if (!sl_backend_in(b))
        return false;
    if (panic)
        return true;
    if (LOAD(b->ejected_until_ns) == 0 || LOAD(b->score_cfg->external_ticks))
        return false;
    /* The coarse clock (a vDSO read of the last tick): this runs for every
     * ejected backend a pick meets, and a backoff does not need better. */
    if (!due(b, sl_coarse_now_ns(), &until) || probe_holds(b))
        return false;
    end_ejection(b, until, &moved);
    return LOAD(b->score) >= 0;
}

bool sl_health_is_down(const sluice_backend_t *b)
{
    return LOAD(b->score) < 0;
}

static void set_external(sluice_lb_t *lb, const struct sl_table *t, const void *arg)
{
    bool on = *(const bool *)arg;

    atomic_store_explicit(&lb->score->external_ticks, on, memory_order_relaxed);
    for (size_t i = 0; i < t->n; i++)
        if (t->groups[i]->cfg != NULL)
            atomic_store_explicit(&t->groups[i]->cfg->external_ticks, on, memory_order_relaxed);
}

void sl_lb_set_external_ticks(sluice_lb_t *lb, bool external)
{
    if (lb != NULL)
        sl_txn_exclusive(lb, set_external, &external);
}

int sl_lb_service_backends(sluice_lb_t *lb, const char *service, sluice_backend_t ***out, size_t *n)
{
    struct sl_epoch_token tok;
    const struct sl_group *g;
    sluice_backend_t **bs = NULL;
    int rc = 0;

    if (lb == NULL || service == NULL || out == NULL || n == NULL)
        return SLUICE_ERR_INVALID_ARG;
    sl_epoch_enter(&lb->epoch, &tok);
    g = sl_table_find(atomic_load_explicit(&lb->table, memory_order_seq_cst), service);
    if (g == NULL || g->parent != NULL) {
        rc = SLUICE_ERR_UNKNOWN_SERVICE;
    } else if (g->n > 0 && (bs = malloc(g->n * sizeof(*bs))) == NULL) {
        rc = SLUICE_ERR_NOMEM;
    } else {
        for (size_t i = 0; i < g->n; i++) {
            sl_backend_ref(g->backends[i]);
            bs[i] = g->backends[i];
        }
        *out = bs;
        *n = g->n;
    }
    sl_epoch_exit(&lb->epoch, &tok);
    return rc;
}

struct mark_arg {
    bool healthy;
    struct sl_health_change *out;
};

static void mark_one(struct sluice_backend *b, void *arg)
{
    struct mark_arg *m = arg;
    int32_t s = LOAD(b->score);

    *m->out = (struct sl_health_change){0};
    m->out->from = sl_backend_health_of(b, s);
    sl_score_mark(b, m->healthy);
    s = LOAD(b->score);
    m->out->to = sl_backend_health_of(b, s);
    m->out->changed = m->out->from != m->out->to;
    m->out->score = s;
    m->out->failures = LOAD(b->failures);
}

int sl_health_mark(sluice_lb_t *lb, const char *service, const char *target, bool healthy,
                   struct sl_health_change *out)
{
    struct mark_arg m = {healthy, out};

    if (out == NULL)
        return SLUICE_ERR_INVALID_ARG;
    return sl_lb_with_backend(lb, service, target, mark_one, &m);
}
