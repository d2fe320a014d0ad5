/* The data plane's counters (GET /metrics): each worker counts in its own
 * memory and the scrape, on the admin thread, sums over the workers.
 *
 * No lock, no allocation and no shared write on the request path: a
 * counter has one writer (its worker), which adds with a relaxed load and
 * a relaxed store (no locked instruction); the scrape reads with relaxed
 * loads, so a sum is never torn and never goes back.
 *
 * Per backend, a worker keeps a record (struct sl_stats_be) found through
 * a worker-private open-addressing index keyed by the backend pointer. A
 * record is created the first time the worker selects that backend (the
 * one allocation, then never per request), lives in a chunk with a stable
 * address, holds a backend reference (so its pointer and name stay valid
 * for the scrape) and is appended to the worker's list, which the scrape
 * walks (release store of each link, acquire load). Memory stays bounded:
 * once no table lists a backend (sl_backend_listed) and no attempt holds
 * its record, the worker's housekeeping recycles the record: it drops the
 * counts (the series ends; Prometheus reads a vanished series as ended,
 * and rate() of a counter that comes back handles the reset) and the
 * reference. Recycling is the only change to a record the scrape could
 * see half done, so it happens under the worker's scrape lock, which the
 * worker only ever try-locks (housekeeping, never a request): a worker
 * never waits for a scrape.
 *
 * Per route, a worker counts in slot <route->stat_slot> of its own array
 * of chunks (a chunk allocated the first time a slot in it is used). Slots
 * come from a process-wide registry keyed by (endpoint pattern, route id),
 * so a reload keeps a route's series.
 *
 * Threads: sl_stats_* counting calls on the worker that owns <w>; the
 * sl_stats_scrape_* calls and sl_stats_route_* lookups on any thread. */
#ifndef SL_PROXY_STATS_H
#define SL_PROXY_STATS_H

#include <pthread.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sluice.h"

#define SL_STATS_LINE 64
/* Request-duration histogram: bucket i counts durations <= bound i (not
 * cumulated: the scrape cumulates); the last bucket is +Inf. */
#define SL_STATS_BUCKETS 12
extern const uint64_t sl_stats_bucket_ns[SL_STATS_BUCKETS - 1];
extern const char *const sl_stats_bucket_le[SL_STATS_BUCKETS];

typedef _Atomic uint64_t sl_counter_t;

/* Single writer: a plain load and store, not a locked read-modify-write. */
static inline void sl_counter_add(sl_counter_t *c, uint64_t n)
{
    atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + n,
                          memory_order_relaxed);
}

static inline uint64_t sl_counter_get(sl_counter_t *c)
{
    return atomic_load_explicit(c, memory_order_relaxed);
}

/* One backend's counts on one worker. */
struct sl_stats_be {
    alignas(SL_STATS_LINE) sl_counter_t requests; /* selections (attempts) */
    sl_counter_t responses[5];                    /* response heads by class 1xx..5xx */
    sl_counter_t connect_failures;
    sl_counter_t timeouts;
    sl_counter_t retries;            /* failed here, then tried elsewhere */
    sl_counter_t health_transitions; /* reported health changed (proxy/health_log.h) */
    sl_counter_t ejections;          /* passive ejections started */
    sl_counter_t buckets[SL_STATS_BUCKETS];
    sl_counter_t sum_ns;
    sl_counter_t count;
    /* NULL while recycled; release-stored when (re)used. */
    _Atomic(sluice_backend_t *) be;
    char *service;                      /* set before be is published */
    _Atomic(struct sl_stats_be *) next; /* the scrape list, append-only */
    struct sl_stats_be *next_free;      /* worker only */
    uint32_t held;                      /* worker only: attempts holding it */
};

/* One listener's connections on one worker. */
struct sl_stats_listener {
    alignas(SL_STATS_LINE) sl_counter_t accepted;
    sl_counter_t active; /* +1 at accept, -1 at close: never below 0 */
};

#define SL_STATS_ROUTE_CHUNK  256
#define SL_STATS_ROUTE_CHUNKS 256 /* route slots: 65536 */
#define SL_STATS_NO_SLOT      UINT32_MAX

struct sl_stats_be_index {
    sluice_backend_t *key;
    struct sl_stats_be *rec;
};

struct sl_stats_worker {
    pthread_mutex_t lock; /* scrape vs. recycling only */
    _Atomic(struct sl_stats_be *) first;
    struct sl_stats_be *last;      /* worker only */
    struct sl_stats_be *free;      /* worker only: recycled records */
    struct sl_stats_be_index *idx; /* worker only; cap a power of 2, at most half full */
    size_t cap, n;
    void **chunks; /* record chunks, for fini */
    size_t nchunks;
    _Atomic(sl_counter_t *) routes[SL_STATS_ROUTE_CHUNKS];
};

void sl_stats_worker_init(struct sl_stats_worker *w);
/* Drops every record's reference and frees; no scrape may run. */
void sl_stats_worker_fini(struct sl_stats_worker *w);

/* <be>'s record on <w>, created (service <service> copied) the first time;
 * NULL only when out of memory (then nothing is counted). */
struct sl_stats_be *sl_stats_be_get(struct sl_stats_worker *w, sluice_backend_t *be,
                                    const char *service);

/* Housekeeping (worker): recycles the records of backends no table lists
 * any more and no attempt holds. Returns how many. Skips (returns 0) when a
 * scrape holds the lock: the next call tries again. */
size_t sl_stats_worker_recycle(struct sl_stats_worker *w);

static inline void sl_stats_be_status(struct sl_stats_be *r, int status)
{
    if (r && status >= 100 && status < 600)
        sl_counter_add(&r->responses[status / 100 - 1], 1);
}

static inline void sl_stats_be_duration(struct sl_stats_be *r, uint64_t ns)
{
    size_t i = 0;

    if (!r)
        return;
    while (i < SL_STATS_BUCKETS - 1 && ns > sl_stats_bucket_ns[i])
        i++;
    sl_counter_add(&r->buckets[i], 1);
    sl_counter_add(&r->sum_ns, ns);
    sl_counter_add(&r->count, 1);
}

/* The route's counter: the chunk allocated on first use (NULL when out of
 * memory: not counted). */
sl_counter_t *sl_stats_route_chunk_new(struct sl_stats_worker *w, uint32_t slot);

/* Counts a request of route <slot1>: 1 + its slot (0: none). */
static inline void sl_stats_route_count(struct sl_stats_worker *w, uint32_t slot1)
{
    uint32_t slot = slot1 - 1;
    sl_counter_t *chunk;

    if (!w || slot1 == 0 || slot >= SL_STATS_ROUTE_CHUNK * SL_STATS_ROUTE_CHUNKS)
        return;
    chunk = atomic_load_explicit(&w->routes[slot / SL_STATS_ROUTE_CHUNK], memory_order_relaxed);
    if (!chunk && !(chunk = sl_stats_route_chunk_new(w, slot)))
        return;
    sl_counter_add(&chunk[slot % SL_STATS_ROUTE_CHUNK], 1);
}

/* The stat slot of route <id> of endpoint <pattern>: the same slot every
 * time for the same pair (process-wide). SL_STATS_NO_SLOT when out of
 * memory or slots. Control thread (takes a mutex). */
uint32_t sl_stats_route_slot(const char *pattern, const char *id);
/* Slots handed out so far, and the names of one (borrowed: never freed). */
uint32_t sl_stats_route_slots(void);
void sl_stats_route_name(uint32_t slot, const char **pattern, const char **id);
/* Worker <w>'s count for <slot>. */
uint64_t sl_stats_route_get(struct sl_stats_worker *w, uint32_t slot);

/* The scrape: lock every worker's records (in order), walk, unlock. */
void sl_stats_scrape_lock(struct sl_stats_worker *const *ws, size_t n);
void sl_stats_scrape_unlock(struct sl_stats_worker *const *ws, size_t n);

#endif /* SL_PROXY_STATS_H */
