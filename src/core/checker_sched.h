/* The checker's schedule: every backend of every service (views share
 * their parent's objects and are skipped) in a min-heap by the time of its
 * next probe. Each backend starts at its own phase within its interval and
 * each next time gets a little jitter, so probes spread instead of
 * bursting; an unusable backend comes back at its service's down interval.
 * Owned by the checker thread. */
#ifndef SL_CORE_CHECKER_SCHED_H
#define SL_CORE_CHECKER_SCHED_H

#include <stddef.h>
#include <stdint.h>

#include "checker_probe.h"
#include "sluice.h"

struct sl_sched_entry {
    sluice_backend_t *b; /* a reference */
    uint64_t due_ns;
};

struct sl_sched {
    struct sl_sched_entry *heap;
    size_t n;
    const void *table;    /* the lb table the heap was built from */
    uint64_t built_ns;    /* when */
    uint32_t interval_ms; /* for services without settings */
    uint32_t timeout_ms;
};

/* Rebuilds the heap from <lb>'s current services when the table changed
 * (or a while passed), keeping each kept backend's next time. 0 or NOMEM
 * (the old heap stays). */
int sl_sched_refresh(struct sl_sched *s, sluice_lb_t *lb, uint64_t now_ns);
/* The entry due first, or NULL when empty. */
static inline struct sl_sched_entry *sl_sched_top(struct sl_sched *s)
{
    return s->n > 0 ? &s->heap[0] : NULL;
}
/* Takes the top entry's backend (still referenced by the schedule until
 * the next refresh) with its probe settings in *spec (kind NONE: its
 * service has no probe), and puts the entry back after its interval (the
 * down interval while unusable) with jitter. */
sluice_backend_t *sl_sched_take(struct sl_sched *s, uint64_t now_ns, struct sl_probe_spec *spec);
/* Drops every entry and its reference. */
void sl_sched_fini(struct sl_sched *s);

#endif /* SL_CORE_CHECKER_SCHED_H */
