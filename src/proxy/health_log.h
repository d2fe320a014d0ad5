/* Health transitions as operators see them: one error-log line per
 * transition or ejection, and a count in the worker's stats (summed at
 * scrape). Shared by the proxies' passive observations and the daemon's
 * active checker: whichever thread's observation made the transition is
 * told (core/health.h) and reports it here, so each is logged once.
 *
 * Threads: the worker that owns <st>'s record (or any thread when <st> is
 * NULL). Not on the common path: only called when something changed. */
#ifndef SL_PROXY_HEALTH_LOG_H
#define SL_PROXY_HEALTH_LOG_H

#include "core/health.h"
#include "proxy/stats.h"

/* "healthy", "unhealthy", "unknown". */
const char *sl_health_name(sluice_health_t h);

/* Logs and counts what one observation did to backend <backend> (its
 * target or name, as the logs show it) of <service>:
 *   health: service S backend B: healthy -> unhealthy (REASON, score N)
 *   health: service S backend B: ejected for 5000ms (REASON, score N)
 * <reason> says what caused it ("connect refused", "no response in time",
 * "malformed response", "5xx response", "check failed: ...", "ejection
 * over"). <st>: the backend's counters on this worker (sl_stats_be_get()),
 * NULL: logged, not counted. Does nothing when <ch> reports neither a
 * transition nor an ejection. */
void sl_health_report(struct sl_stats_be *st, const char *service, const char *backend,
                      const char *reason, const struct sl_health_change *ch);

#endif /* SL_PROXY_HEALTH_LOG_H */
