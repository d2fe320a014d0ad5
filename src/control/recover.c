/* Passive recovery: without active health checks nothing but traffic moves
 * a score up, and a backend that passive failures took below 0 gets no
 * traffic, so it would stay out of rotation forever. Like a circuit
 * breaker's half-open state (Envoy's outlier ejection time), every
 * SL_RECOVER_STEP_MS such a backend regains one score step, until it is
 * usable again and real requests decide: a success keeps it, a failure
 * takes it out again (and the request is retried elsewhere). */
#include "control/recover.h"

#include "control/control.h"
#include "core/score.h"

void sl_recover_tick(sluice_lb_t *lb, const struct sl_config *cfg, bool checker_running,
                     uint64_t now_ms, uint64_t *last_ms)
{
    if (checker_running || now_ms - *last_ms < SL_RECOVER_STEP_MS)
        return;
    *last_ms = now_ms;
    for (size_t i = 0; i < cfg->nservices; i++) {
        const char *svc = cfg->services[i].name;
        sluice_group_snapshot_t snap;

        if (sluice_lb_snapshot(lb, svc, &snap) != 0)
            continue;
        for (size_t j = 0; j < snap.n; j++)
            if (snap.backends[j].score < 0)
                (void)sl_lb_nudge(lb, svc, snap.backends[j].name);
        sluice_group_snapshot_free(&snap);
    }
}
