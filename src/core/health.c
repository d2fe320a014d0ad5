/* Health observations seen from outside src/core (health.h). */
#include "health.h"

#include <stdlib.h>

#include "backend.h"
#include "backend_types.h"
#include "group.h"
#include "lb.h"
#include "score.h"

#define LOAD(x) atomic_load_explicit(&(x), memory_order_relaxed)

static void before(const struct sluice_backend *b, struct sl_health_change *out)
{
    *out = (struct sl_health_change){0};
    out->from = sl_backend_health_of(b, LOAD(b->score));
}

static void after(const struct sluice_backend *b, struct sl_health_change *out)
{
    out->score = LOAD(b->score);
    out->failures = LOAD(b->failures);
    out->to = sl_backend_health_of(b, out->score);
    out->changed = out->from != out->to;
}

void sl_health_probe_done(sluice_backend_t *b, sluice_check_result_t r, uint16_t status,
                          uint64_t now_ns, struct sl_health_change *out)
{
    (void)status;
    (void)now_ns;
    before(b, out);
    sl_score_step(b, r == SLUICE_CHECK_RESULT_OK);
    after(b, out);
}

void sl_backend_release_observe(sluice_backend_t *b, sluice_outcome_t outcome, uint64_t latency_ns,
                                struct sl_health_change *out)
{
    before(b, out);
    /* Our selection's reference keeps <b> alive until the release: take
     * one more to read the result after it. */
    sl_backend_ref(b);
    sluice_backend_release(b, outcome, latency_ns);
    after(b, out);
    sl_backend_unref(b);
}

void sl_health_tick(sluice_backend_t *b, uint64_t now_ns, struct sl_health_change *out)
{
    (void)now_ns;
    before(b, out);
    after(b, out);
}

bool sl_health_is_down(const sluice_backend_t *b)
{
    return LOAD(b->score) < 0;
}

void sl_lb_set_external_ticks(sluice_lb_t *lb, bool external)
{
    (void)lb;
    (void)external;
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
