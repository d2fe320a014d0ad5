/* The checker's probe engine: up to SL_CHECKER_MAX_INFLIGHT non-blocking
 * probes (TCP connect, or an HTTP/1.1 GET on a fresh connection)
 * multiplexed with epoll, each bounded by its own timeout, each ending in
 * sl_health_probe_done(). One thread owns an engine. */
#ifndef SL_CORE_CHECKER_PROBE_H
#define SL_CORE_CHECKER_PROBE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "checker.h"
#include "sluice.h"

/* What one probe does (a copy of the service's settings). */
struct sl_probe_spec {
    sluice_check_kind_t kind; /* TCP or HTTP (NONE is never started) */
    uint32_t timeout_ms;
    uint16_t expect_lo, expect_hi; /* HTTP */
    char path[256];                /* HTTP */
    const void *owner;             /* handed to the engine's done callback */
};

struct sl_probe_slot;

struct sl_probe_engine {
    int epfd;
    size_t inflight;
    struct sl_probe_slot *slots; /* SL_CHECKER_MAX_INFLIGHT */
    /* Called as each probe in flight ends (verdict or not), with its
     * spec's owner; NULL: none. */
    void (*done)(void *ctx, const void *owner);
    void *done_ctx;
};

/* 0, or SLUICE_ERR_IO / NOMEM. <stop_fd> (-1: none) ends sl_probe_poll()
 * early once readable. */
int sl_probe_engine_init(struct sl_probe_engine *e, int stop_fd);
/* Drops the probes in flight without a verdict, and the engine. */
void sl_probe_engine_fini(struct sl_probe_engine *e);
static inline bool sl_probe_full(const struct sl_probe_engine *e)
{
    return e->inflight >= SL_CHECKER_MAX_INFLIGHT;
}
/* Starts probing <b> (takes a reference for the probe); a verdict known at
 * once (unresolved, refused) is recorded now. Not when full. True when the
 * probe is in flight (it will end through the done callback). */
bool sl_probe_start(struct sl_probe_engine *e, sluice_backend_t *b, const struct sl_probe_spec *s);
/* Waits up to <wait_ms> (capped by the earliest probe deadline) and ends
 * the probes that finished or timed out. False when stop was asked. */
bool sl_probe_poll(struct sl_probe_engine *e, int wait_ms);

#endif /* SL_CORE_CHECKER_PROBE_H */
