/* Health observations for the daemon's own checker and proxies: the
 * library's score model (score.h) seen from outside src/core, with what each
 * observation did to a backend's health, so the caller can log every
 * transition exactly once (the thread whose update made it is told; no
 * other is). No layout here: backends stay opaque pointers.
 *
 * Every function is lock-free and allocation-free unless it says
 * otherwise, and callable from any thread. */
#ifndef SL_CORE_HEALTH_H
#define SL_CORE_HEALTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sluice.h"

/* What one observation did. */
struct sl_health_change {
    bool changed;         /* reported health changed (from != to) */
    sluice_health_t from; /* before the observation */
    sluice_health_t to;   /* after it */
    int32_t score;        /* after it */
    uint32_t failures;    /* after it */
    bool ejected;         /* this observation started a passive ejection */
    uint32_t eject_ms;    /* ...for this long */
    bool readmitted;      /* sl_health_tick(): a backoff ended and it is back */
};

/* An active probe of <b> ended with <r> (HTTP <status>, 0 when none) at
 * CLOCK_MONOTONIC <now_ns>: records it as the last check, then OK steps the
 * score up and anything else down. While <b> is passively ejected the
 * probe is only recorded: the backoff's end decides (sl_health_tick()). */
void sl_health_probe_done(sluice_backend_t *b, sluice_check_result_t r, uint16_t status,
                          uint64_t now_ns, struct sl_health_change *out);

/* sluice_backend_release() that also reports what the outcome did to
 * health (a FAIL or TIMEOUT that takes the score below 0 starts an
 * ejection, see sluice_eject_opts_t). <b> must not be used afterwards. */
void sl_backend_release_observe(sluice_backend_t *b, sluice_outcome_t outcome, uint64_t latency_ns,
                                struct sl_health_change *out);

/* Ends <b>'s passive ejection when its backoff is over at <now_ns>: back
 * half-open (score 0), unless its service has active checks (a kind other
 * than NONE given to sluice_lb_set_check(), which the daemon calls for its
 * own checker too) and the latest probe since the ejection failed: then it
 * stays out and returns through the next successful probe. Sets
 * out->readmitted. Call it for every backend now and then (the daemon: each
 * worker for its own backends, so each transition is seen once). */
void sl_health_tick(sluice_backend_t *b, uint64_t now_ns, struct sl_health_change *out);

/* sluice_lb_mark_health() that also reports what the mark changed, for
 * the operator's change to be logged like any other. Same errors. */
int sl_health_mark(sluice_lb_t *lb, const char *service, const char *target, bool healthy,
                   struct sl_health_change *out);

/* Unusable by health now (score < 0): probe at the down interval. */
bool sl_health_is_down(const sluice_backend_t *b);

/* The daemon drives ejection ends itself through sl_health_tick(): the
 * library's own lazy check in select (for programs without a checker) is
 * turned off, so no transition happens where nobody logs it. */
void sl_lb_set_external_ticks(sluice_lb_t *lb, bool external);

/* Reasons a backend is out of rotation other than health and weight
 * (a bitmask; sl_lb_set_out()). A backend with any bit set is never
 * picked, not even in panic, and is not a panic candidate. */
#define SL_OUT_DISCONNECTED 1u /* an agent's lease lapsed */
#define SL_OUT_STARTING     2u /* a provider instance not ready yet */

/* Sets (<on>) or clears the bits <bits> of the backend of <service> whose
 * name or target is <name>. When the word changes, the service's health
 * generation moves (groups recompute panic at their next select); when it
 * becomes 0 and the backend is usable by health, slow start (if the
 * service has one) ramps it back in like a return to health. 0,
 * UNKNOWN_SERVICE, UNKNOWN_BACKEND, INVALID_ARG (NULL, or bits 0). Lock-free,
 * no rebuild. */
int sl_lb_set_out(sluice_lb_t *lb, const char *service, const char *name, uint32_t bits, bool on);

/* The backends of service <service> (not a view), each with a reference the
 * caller drops with sl_backend_unref(); *out is malloc'd (free() it), NULL
 * when n is 0. 0, UNKNOWN_SERVICE, INVALID_ARG, NOMEM. Takes no writer
 * lock (an epoch read section). */
int sl_lb_service_backends(sluice_lb_t *lb, const char *service, sluice_backend_t ***out,
                           size_t *n);

#endif /* SL_CORE_HEALTH_H */
