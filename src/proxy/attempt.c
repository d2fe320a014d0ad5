/* Backend attempts shared by the HTTP and TCP proxies (see attempt.h). */
#include "proxy/attempt.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "core/select.h"
#include "proxy/health_log.h"

void sl_attempt_init(struct sl_attempt *a, uint32_t retries)
{
    a->be = NULL;
    a->st = NULL;
    a->ntried = 0;
    a->tries = 0;
    a->retries = retries;
    a->last_fail = SLUICE_OUTCOME_OK;
    a->service = NULL;
    a->target[0] = '\0';
    a->name[0] = '\0';
}

/* Plain copies, not snprintf: this runs per request. */
static void copy_str(char *dst, size_t cap, const char *src, size_t n)
{
    if (n >= cap)
        n = cap - 1;
    memcpy(dst, src, n);
    dst[n] = '\0';
}

sluice_backend_t *sl_attempt_select(struct sl_attempt *a, struct sl_stats_worker *sw,
                                    const char *service, sluice_lb_t *lb, const char *group,
                                    const void *key, size_t keylen)
{
    const char *target, *name;

    a->be = sl_lb_select_skip(lb, group, key, keylen, a->tried, a->ntried);
    if (!a->be)
        return NULL;
    a->service = service;
    a->st = sw ? sl_stats_be_get(sw, a->be, service) : NULL;
    if (a->st) {
        a->st->held++;
        sl_counter_add(&a->st->requests, 1);
    }
    target = sluice_backend_target(a->be);
    name = sluice_backend_name(a->be);
    copy_str(a->target, sizeof(a->target), target, strlen(target));
    a->name[0] = '\0';
    if (strcmp(name, target) != 0)
        copy_str(a->name, sizeof(a->name), name, strlen(name));
    return a->be;
}

/* The health log's short words for what a failed attempt's log says. */
static const char *health_reason(sluice_outcome_t outcome, const char *what)
{
    if (what && strstr(what, "refused"))
        return "connect refused";
    if (what && strncmp(what, "connect timed out", 17) == 0)
        return "connect timed out";
    if (outcome == SLUICE_OUTCOME_TIMEOUT)
        return "no response in time";
    return what;
}

void sl_attempt_health(const struct sl_attempt *a, struct sl_stats_be *st, sluice_outcome_t outcome,
                       const char *reason, const struct sl_health_change *ch)
{
    if (!reason)
        reason = outcome == SLUICE_OUTCOME_TIMEOUT ? "no response in time"
                 : outcome == SLUICE_OUTCOME_FAIL  ? "connection failed"
                 : outcome == SLUICE_OUTCOME_OK    ? "successful response"
                                                   : "released";
    /* By name, as the probes, /metrics and GET /v1/query name it. */
    sl_health_report(st, a->service, a->name[0] != '\0' ? a->name : a->target, reason, ch);
}

bool sl_attempt_fail(struct sl_attempt *a, sluice_outcome_t outcome, bool retryable,
                     const char *listener, const char *what)
{
    bool retry;

    a->last_fail = outcome;
    if (a->be && a->ntried < SL_ATTEMPT_MAX_TRIED)
        a->tried[a->ntried++] = a->be;
    retry = retryable && a->tries < a->retries && a->ntried < SL_ATTEMPT_MAX_TRIED;
    if (a->st && retry)
        sl_counter_add(&a->st->retries, 1);
    sl_attempt_release_why(a, outcome, 0, health_reason(outcome, what)); /* counts a timeout */
    if (listener)
        sl_log(SL_LOG_WARN, "listener %s: backend %s: %s", listener, a->target, what);
    else
        sl_log(SL_LOG_WARN, "backend %s: %s", a->target, what);
    if (retry)
        a->tries++;
    return retry;
}

bool sl_attempt_out_of_fds(struct sl_attempt *a, struct sl_fdbudget_log *fl, int err,
                           uint64_t now_ms, const char *listener)
{
    if (!sl_fdbudget_exhausted(err))
        return false;
    (void)sl_fdbudget_report(fl, now_ms, listener, "connecting to a backend", err);
    sl_attempt_release(a, SLUICE_OUTCOME_NEUTRAL, 0);
    return true;
}

int sl_attempt_give_up_status(const struct sl_attempt *a)
{
    if (a->ntried == 0)
        return 503;
    return a->last_fail == SLUICE_OUTCOME_TIMEOUT ? 504 : 502;
}

void sl_attempt_connect_error(int err, char *out, size_t cap)
{
    if (err == ECONNREFUSED)
        (void)snprintf(out, cap, "connect failed: connection refused");
    else if (err == EHOSTUNREACH || err == ENETUNREACH)
        (void)snprintf(out, cap, "connect failed: unreachable");
    else
        (void)snprintf(out, cap, "connect failed: socket error %d", err);
}

void sl_attempt_access_rec(const struct sl_attempt *a, const struct sl_loop *l,
                           const char *client_ip, uint64_t start_ns, struct sl_access_rec *r)
{
    /* Zeroed first: fields added to the record later stay "absent". */
    *r = (struct sl_access_rec){
        .wall_s = l->wall_s,
        .wall_ms = l->wall_ms,
        .client_ip = client_ip,
        .backend = a->target[0] ? a->target : NULL,
        .backend_name = a->target[0] && a->name[0] ? a->name : NULL,
        .duration_us = (sl_loop_now_ns(l) - start_ns) / 1000,
    };
    /* While the backend is held its own strings are valid and whole; the
     * copies (cut at SL_ATTEMPT_NAME_MAX) only stand in once it is gone. */
    if (a->be && a->name[0]) {
        r->backend = sluice_backend_target(a->be);
        r->backend_name = sluice_backend_name(a->be);
    }
}
