/* Health transitions logged and counted (see health_log.h). */
#include "proxy/health_log.h"

#include "net/log.h"

const char *sl_health_name(sluice_health_t h)
{
    switch (h) {
    case SLUICE_HEALTH_HEALTHY:
        return "healthy";
    case SLUICE_HEALTH_UNHEALTHY:
        return "unhealthy";
    case SLUICE_HEALTH_UNKNOWN:
        break;
    }
    return "unknown";
}

void sl_health_report(struct sl_stats_be *st, const char *service, const char *backend,
                      const char *reason, const struct sl_health_change *ch)
{
    if (!ch || (!ch->changed && !ch->ejected))
        return;
    service = service ? service : "-";
    backend = backend ? backend : "-";
    reason = reason ? reason : "-";
    if (ch->changed) {
        /* Going down is what an operator must notice; coming back is news;
         * a first verdict that all is well is neither (10,000 backends
         * starting up would write 10,000 lines). */
        enum sl_log_level lv = ch->to == SLUICE_HEALTH_UNHEALTHY   ? SL_LOG_WARN
                               : ch->from == SLUICE_HEALTH_UNKNOWN ? SL_LOG_DEBUG
                                                                   : SL_LOG_INFO;

        sl_log(lv, "health: service %s backend %s: %s -> %s (%s, score %d)", service, backend,
               sl_health_name(ch->from), sl_health_name(ch->to), reason, (int)ch->score);
        if (st)
            sl_counter_add(&st->health_transitions, 1);
    }
    if (ch->ejected) {
        sl_log(SL_LOG_WARN, "health: service %s backend %s: ejected for %ums (%s, score %d)",
               service, backend, (unsigned)ch->eject_ms, reason, (int)ch->score);
        if (st)
            sl_counter_add(&st->ejections, 1);
    }
}
