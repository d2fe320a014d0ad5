/* Backend attempts shared by the HTTP and TCP proxies: select a backend
 * that this request (or session) has not tried yet, the timeouts that
 * apply to it, failover within the retry budget, the outcome reported to
 * the library, running out of descriptors, and the backend fields of the
 * access-log record.
 *
 * A struct sl_attempt is embedded in the HTTP request or TCP session, so
 * nothing here allocates; selection is the library's lock-free select.
 * The protocol keeps what differs: how it connects (the HTTP pool, a
 * plain socket for TCP), when a failure may be retried (HTTP: no
 * response byte yet, and nothing sent or a GET, HEAD or OPTIONS; TCP:
 * connect failures only), and what the client is told.
 *
 *   sl_attempt_init(a, retries);
 *   while (sl_attempt_select(a, ...)) {
 *       connect, within sl_attempt_connect_timeout(a, service's);
 *       on success: go on; later sl_attempt_release(a, outcome, latency)
 *       on failure: if (!sl_attempt_fail(a, outcome, ...)) give up
 *   }
 *   nothing (left) to select: sl_attempt_give_up_status(a)
 *
 * Threads: an attempt belongs to the worker thread of its request. */
#ifndef SL_PROXY_ATTEMPT_H
#define SL_PROXY_ATTEMPT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/health.h"
#include "net/fdbudget.h"
#include "net/log.h"
#include "net/loop.h"
#include "proxy/defaults.h"
#include "proxy/stats.h"
#include "sluice.h"

/* Backends one request may fail on; the retry budget is capped by it. */
#define SL_ATTEMPT_MAX_TRIED 8
/* Copies kept for logs and error bodies (longer ones are truncated). */
#define SL_ATTEMPT_TARGET_MAX 128
#define SL_ATTEMPT_NAME_MAX   64

struct sl_attempt {
    sluice_backend_t *be;       /* selected, not yet released; NULL when none */
    struct sl_stats_be *st;     /* be's counters on this worker while be is held; or NULL */
    uint32_t ntried;            /* backends in tried[] */
    uint32_t tries;             /* retries used */
    uint32_t retries;           /* retries allowed */
    sluice_outcome_t last_fail; /* of the last failure (OK while none failed) */
    const char *service;        /* of the last select (borrowed from the caller), for health logs */
    const sluice_backend_t *tried[SL_ATTEMPT_MAX_TRIED]; /* failed: not selected again */
    char target[SL_ATTEMPT_TARGET_MAX]; /* of the last backend selected; "" before */
    char name[SL_ATTEMPT_NAME_MAX];     /* its name when that differs from target, else "" */
};

/* Starts over: nothing tried, <retries> retries allowed. A backend still
 * held is forgotten, not released: release it first. Calling it again
 * before the first select only changes the budget. */
void sl_attempt_init(struct sl_attempt *a, uint32_t retries);

/* Selects a backend of <group> in <lb> for <key> (<keylen> bytes, for
 * hashing strategies) that this attempt has not failed on, and copies its
 * target and name. Counts a request for it in <sw> (the worker's
 * counters, NULL: none) under <service> (the group's service). Returns it (also a->be, to be
 * released through this attempt), or NULL when no usable backend is left. No backend may be held
 * (a->be == NULL). Lock-free, allocation-free. */
sluice_backend_t *sl_attempt_select(struct sl_attempt *a, struct sl_stats_worker *sw,
                                    const char *service, sluice_lb_t *lb, const char *group,
                                    const void *key, size_t keylen);

/* The selected backend failed before it served anything: logs a warning
 * ("[listener <listener>: ]backend <target>: <what>"), releases it with
 * <outcome> (FAIL or TIMEOUT), and keeps it out of the next selections.
 * Returns true, and uses one retry, when another backend may be tried:
 * <retryable> (the protocol says the request can be sent again), a retry
 * is left, and the tried set has room. Works with no backend held (then
 * it only decides). The caller closes its connection first. Counts a
 * timeout (TIMEOUT) and a retry on the backend. */
bool sl_attempt_fail(struct sl_attempt *a, sluice_outcome_t outcome, bool retryable,
                     const char *listener, const char *what);

/* A release changed <be>'s health or ejected it: logs and counts it
 * (proxy/health_log.h) under <reason>, or a reason of <outcome>'s when
 * NULL. Out of line: rare. */
void sl_attempt_health(const struct sl_attempt *a, struct sl_stats_be *st, sluice_outcome_t outcome,
                       const char *reason, const struct sl_health_change *ch);

/* Ends the use of the selected backend with <outcome> (OK with the
 * latency, NEUTRAL, or FAIL / TIMEOUT: counted) and feeds passive health;
 * a transition or ejection it causes is logged with <reason> (what went
 * wrong: "malformed response", "5xx response"...; NULL: said from the
 * outcome). A no-op when none is held. Inline, as the timeouts below:
 * every request calls them. */
static inline void sl_attempt_release_why(struct sl_attempt *a, sluice_outcome_t outcome,
                                          uint64_t latency_ns, const char *reason)
{
    struct sl_stats_be *st = a->st;
    struct sl_health_change ch;

    if (!a->be)
        return;
    if (st) {
        if (outcome == SLUICE_OUTCOME_TIMEOUT) /* connect, first byte, or between bytes */
            sl_counter_add(&st->timeouts, 1);
        st->held--; /* recycled only by this worker's housekeeping: still valid below */
        a->st = NULL;
    }
    sl_backend_release_observe(a->be, outcome, latency_ns, &ch);
    a->be = NULL;
    if (ch.changed || ch.ejected)
        sl_attempt_health(a, st, outcome, reason, &ch);
}

static inline void sl_attempt_release(struct sl_attempt *a, sluice_outcome_t outcome,
                                      uint64_t latency_ns)
{
    sl_attempt_release_why(a, outcome, latency_ns, NULL);
}

/* A response came back whole (OK) or not: <status> 5xx is a failure for
 * health when <fail_5xx> (passive: {5xx: true}), though the response still
 * went to the client (it was the backend's answer: no retry). */
static inline void sl_attempt_release_response(struct sl_attempt *a, sluice_outcome_t outcome,
                                               uint64_t latency_ns, unsigned status, bool fail_5xx)
{
    if (outcome == SLUICE_OUTCOME_OK && fail_5xx && status >= 500 && status < 600)
        sl_attempt_release_why(a, SLUICE_OUTCOME_FAIL, 0, "5xx response");
    else
        sl_attempt_release(a, outcome, outcome == SLUICE_OUTCOME_OK ? latency_ns : 0);
}

/* After a connect to the selected backend failed with <err>: when <err>
 * means out of descriptors (sl_fdbudget_exhausted), reports it through
 * <fl> (rate-limited), releases the backend as NEUTRAL (not its fault)
 * and returns true: the caller fails the request locally, without a
 * retry. Returns false, changing nothing, for any other error. */
bool sl_attempt_out_of_fds(struct sl_attempt *a, struct sl_fdbudget_log *fl, int err,
                           uint64_t now_ms, const char *listener);

/* The selected backend's connection failed (refused, unreachable, reset
 * before anything came back): counted before sl_attempt_fail(). */
static inline void sl_attempt_count_connect_failure(struct sl_attempt *a)
{
    if (a->st)
        sl_counter_add(&a->st->connect_failures, 1);
}

/* The held backend answered with <status> (a final or 101 head). */
static inline void sl_attempt_count_status(struct sl_attempt *a, int status)
{
    sl_stats_be_status(a->st, status);
}

/* The held backend's response ended <ns> after the request was sent. */
static inline void sl_attempt_count_duration(struct sl_attempt *a, uint64_t ns)
{
    sl_stats_be_duration(a->st, ns);
}

/* What the client is told when no backend was reached: 503 nothing usable
 * was tried, 504 the last backend tried timed out, 502 otherwise. */
int sl_attempt_give_up_status(const struct sl_attempt *a);

/* The timeouts for the selected backend: its own setting, else
 * <service_ms> (the service's, 0 for none), else the default of
 * proxy/defaults.h. Any backend may be held, or none. */
static inline uint32_t sl_attempt_pick_ms(uint32_t backend_ms, uint32_t service_ms,
                                          uint32_t default_ms)
{
    if (backend_ms)
        return backend_ms;
    return service_ms ? service_ms : default_ms;
}

static inline uint32_t sl_attempt_connect_timeout(const struct sl_attempt *a, uint32_t service_ms)
{
    return sl_attempt_pick_ms(a->be ? sluice_backend_connect_timeout(a->be) : 0, service_ms,
                              SL_DEFAULT_CONNECT_TIMEOUT_MS);
}

static inline uint32_t sl_attempt_response_timeout(const struct sl_attempt *a, uint32_t service_ms)
{
    return sl_attempt_pick_ms(a->be ? sluice_backend_first_byte_timeout(a->be) : 0, service_ms,
                              SL_DEFAULT_RESPONSE_TIMEOUT_MS);
}

static inline uint32_t sl_attempt_idle_timeout(const struct sl_attempt *a, uint32_t service_ms)
{
    return sl_attempt_pick_ms(a->be ? sluice_backend_between_bytes_timeout(a->be) : 0, service_ms,
                              SL_DEFAULT_IDLE_TIMEOUT_MS);
}

/* Describes a failed non-blocking connect (SO_ERROR <err>) in <out>[cap]
 * for sl_attempt_fail(): "connect failed: connection refused", "...:
 * unreachable" or "...: socket error N". */
void sl_attempt_connect_error(int err, char *out, size_t cap);

/* Fills the common fields of the access-log record of a request or
 * session that started at <start_ns> (loop time) from <client_ip>: time,
 * client, backend target and name (of the last backend selected), the
 * duration so far (the held backend's own strings while it is held,
 * the copies after). The other fields are zeroed: the caller sets method,
 * path, status and bytes. <client_ip> and <a> are borrowed by <r>. */
void sl_attempt_access_rec(const struct sl_attempt *a, const struct sl_loop *l,
                           const char *client_ip, uint64_t start_ns, struct sl_access_rec *r);

#endif /* SL_PROXY_ATTEMPT_H */
