/* Score health and the latency EWMA: the only code that moves a backend's
 * score, failures, health and ewma_ns. Every function here is lock-free and
 * allocation-free (except sl_score_cfg_new) and callable from any thread.
 * No layout here (backends are pointers): control includes this header to
 * validate score options and to nudge. */
#ifndef SL_CORE_SCORE_H
#define SL_CORE_SCORE_H

#include <stdbool.h>
#include <stdint.h>

#include "sluice.h"

struct sl_score_cfg;

/* Half-life of the latency EWMA. */
#define SL_EWMA_HALF_LIFE_NS 10000000000ull

/* A config holding SLUICE_SCORE_DEFAULTS and one reference, or
 * NULL when out of memory. */
struct sl_score_cfg *sl_score_cfg_new(void);
/* A new config (one reference) with the settings of template <t> and
 * fresh counters: a service's own, made from the lb's defaults. */
struct sl_score_cfg *sl_score_cfg_clone(struct sl_score_cfg *t);
void sl_score_cfg_ref(struct sl_score_cfg *c);
/* The last unref frees. NULL is a no-op. */
void sl_score_cfg_unref(struct sl_score_cfg *c);
/* 0 or SLUICE_ERR_INVALID_SCORE (INVALID_ARG for NULL). Valid: low <=
 * initial <= high, low < 0 <= high, fail_delta < 0 < success_delta. */
int sl_score_validate(const sluice_score_opts_t *o);
/* Stores validated <o> into <c>; existing scores are clamped by the caller. */
void sl_score_cfg_set(struct sl_score_cfg *c, const sluice_score_opts_t *o);
void sl_score_cfg_get(const struct sl_score_cfg *c, sluice_score_opts_t *o);

/* Resets the state of a new, unpublished backend to the initial score. */
void sl_score_init(struct sluice_backend *b);
/* up: score + success_delta, failures = 0; down: + fail_delta, failures + 1;
 * clamped to [low, high]. Health becomes HEALTHY when the result is >= 0,
 * else UNHEALTHY. Returns the new score. */
int32_t sl_score_step(struct sluice_backend *b, bool up);
/* What one step did: the score it replaced and the one it stored (equal
 * when nothing moved), and whether it is the step that took health out of
 * UNKNOWN. From these a caller tells a transition that it made itself from
 * one a concurrent step made. */
struct sl_score_move {
    int32_t prev, next;
    bool first;
    /* Filled by sl_backend_release_ex() only, before the release may free
     * the backend: what a report needs afterwards. */
    bool known;        /* health not UNKNOWN after the move */
    uint32_t failures; /* after the move */
};
/* sl_score_step() that also says what it did in *<m>. */
int32_t sl_score_step_from(struct sluice_backend *b, bool up, struct sl_score_move *m);
/* The step of a selection's outcome (sluice_backend_release()): as
 * sl_score_step(), but nothing moves while <b> is passively ejected. */
void sl_score_passive_ok(struct sluice_backend *b);
void sl_score_passive_from(struct sluice_backend *b, bool ok, struct sl_score_move *m);
/* Starts a passive ejection of <b> (its score just went below 0): the
 * backoff base << (k - 1) bounded by max, k the consecutive ejections
 * (1 again when the last ejection ended more than max ago).
 * Returns its length in ms, 0 when the service's base is 0 (no ejection). */
uint32_t sl_score_eject(struct sluice_backend *b);
/* Back half-open: score 0 when below it, the ejection over now. True when
 * this call moved the score. */
bool sl_score_readmit(struct sluice_backend *b);
/* Switches an unpublished backend to its service's config <c> and resets
 * its score to c's initial; <ramp>: it joins an existing group, so its
 * slow start begins now. Writer, before publishing. */
void sl_score_adopt(struct sluice_backend *b, struct sl_score_cfg *c, bool ramp);
/* Starts <b>'s slow start now when its service has one. */
void sl_score_ramp(struct sluice_backend *b);
/* An operator's mark: true raises the score to at least max(initial, 0),
 * false sets it to low (see sluice_lb_mark_health()). */
void sl_score_mark(struct sluice_backend *b, bool healthy);
/* One success step toward 0 (never above it), failures and health
 * untouched: passive recovery, since nothing succeeded. A concurrent step
 * or mark wins and this one applies on top of it. */
void sl_score_nudge(struct sluice_backend *b);
/* Pulls the score back into the config's [low, high]. */
void sl_score_clamp(struct sluice_backend *b);

/* Feeds one latency sample at monotonic time <now_ns>: the average decays
 * with SL_EWMA_HALF_LIFE_NS, and a sample above it replaces it (peak). */
void sl_ewma_update(struct sluice_backend *b, uint64_t latency_ns, uint64_t now_ns);
/* CLOCK_MONOTONIC in ns (vDSO: no syscall, no lock). */
uint64_t sl_now_ns(void);
/* Monotonic, coarse (last timer tick): for the latency EWMA. */
uint64_t sl_coarse_now_ns(void);

/* Passive recovery: sl_score_nudge() on <target> in <service> (select.c).
 * Unlike sluice_lb_up() it does not reset the failure count and does
 * nothing when the score is already >= 0. 0, UNKNOWN_SERVICE,
 * UNKNOWN_BACKEND, INVALID_ARG. Any thread, lock-free. */
int sl_lb_nudge(sluice_lb_t *lb, const char *service, const char *target);

#endif /* SL_CORE_SCORE_H */
