/* The checker's schedule: every backend of every service (views share
 * their parent's objects and are skipped), each service with its own
 * min-heap by the time of its next probe. Each backend starts at its own
 * phase within its interval and each next time gets a little jitter, so
 * probes spread instead of bursting; an unusable backend comes back at its
 * service's down interval.
 *
 * Fairness: the in-flight bound is shared between services. Services with
 * a due probe take turns (round robin, not strictly by due time); while
 * another service has a due probe waiting, a service at or above its fair
 * share (SL_CHECKER_MAX_INFLIGHT / services with a due probe) waits. Probes
 * cannot be taken back, so a service whose probes hang until their timeout
 * (black-holed backends) must not hold every slot either: above
 * SL_CHECKER_MAX_INFLIGHT / services a service leaves SL_SCHED_RESERVE_MAX
 * (at most one per other service) slots free, and a service below that
 * share may always start one. Otherwise slots never idle while a probe is
 * due. Owned by the checker thread. */
#ifndef SL_CORE_CHECKER_SCHED_H
#define SL_CORE_CHECKER_SCHED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "checker_probe.h"
#include "sluice.h"

/* The most slots a busy service leaves to the others. */
#define SL_SCHED_RESERVE_MAX 16

struct sl_sched_entry {
    sluice_backend_t *b; /* a reference */
    uint64_t due_ns;
};

/* One service: its backends' heap (a slice of sl_sched.ents) and its
 * probes in flight. */
struct sl_sched_svc {
    const void *key; /* the service's config: stable across table changes */
    struct sl_sched_entry *heap;
    size_t n;
    uint32_t inflight;
};

struct sl_sched {
    struct sl_sched_entry *ents; /* every backend, grouped by service */
    size_t n;
    struct sl_sched_svc *svcs; /* by key; services without backends left out */
    size_t nsvc;
    /* Each service is in exactly one of: <wait>, a min-heap of service
     * indices by their first due time; <ready>, a ring of services with a
     * due probe, in turn order. */
    uint32_t *wait;
    size_t nwait;
    uint32_t *ready;
    size_t rhead, rlen;
    size_t last;          /* the service of the last sl_sched_next() */
    const void *table;    /* the lb table the schedule was built from */
    uint64_t built_ns;    /* when */
    uint32_t interval_ms; /* for services without settings */
    uint32_t timeout_ms;
};

/* Rebuilds the schedule from <lb>'s current services when the table
 * changed (or a while passed), keeping each kept backend's next time and
 * each kept service's probes in flight. 0 or NOMEM (the old one stays). */
int sl_sched_refresh(struct sl_sched *s, sluice_lb_t *lb, uint64_t now_ns);
/* The next backend to visit at <now_ns> with <free> probe slots left, by
 * the fairness rules above, or NULL when none is due or every due service
 * must wait for a probe to end. Its probe settings go in *spec (kind NONE:
 * its service has no probe; spec->owner names the service) and it is put
 * back after its interval (the down interval while unusable) with jitter.
 * The backend stays referenced by the schedule until the next refresh. */
sluice_backend_t *sl_sched_next(struct sl_sched *s, uint64_t now_ns, size_t free,
                                struct sl_probe_spec *spec);
/* The probe of the last sl_sched_next() is in flight. */
void sl_sched_started(struct sl_sched *s);
/* A probe of service <owner> ended (the engine's done callback). */
void sl_sched_done(void *sched, const void *owner);
/* Nanoseconds until a service without a due probe has one (0: already),
 * UINT64_MAX when none. Services whose due probes wait for a slot are not
 * counted: a probe's end is what they wait for. */
uint64_t sl_sched_wait_ns(struct sl_sched *s, uint64_t now_ns);
/* Drops every entry and its reference. */
void sl_sched_fini(struct sl_sched *s);

#endif /* SL_CORE_CHECKER_SCHED_H */
