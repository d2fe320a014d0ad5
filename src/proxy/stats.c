/* The data plane's counters (see stats.h). */
#include "proxy/stats.h"

#include <stdlib.h>
#include <string.h>

#include "core/backend.h"

const uint64_t sl_stats_bucket_ns[SL_STATS_BUCKETS - 1] = {
    5000000ull,   10000000ull,   25000000ull,   50000000ull,   100000000ull,   250000000ull,
    500000000ull, 1000000000ull, 2500000000ull, 5000000000ull, 10000000000ull,
};
const char *const sl_stats_bucket_le[SL_STATS_BUCKETS] = {
    "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "10", "+Inf",
};

#define RECS_PER_CHUNK 32

void sl_stats_worker_init(struct sl_stats_worker *w)
{
    memset(w, 0, sizeof(*w));
    pthread_mutex_init(&w->lock, NULL);
    atomic_init(&w->first, NULL);
    for (size_t i = 0; i < SL_STATS_ROUTE_CHUNKS; i++)
        atomic_init(&w->routes[i], NULL);
}

static void drop_record(struct sl_stats_be *r)
{
    sluice_backend_t *be = atomic_load_explicit(&r->be, memory_order_relaxed);

    if (!be)
        return;
    atomic_store_explicit(&r->be, NULL, memory_order_relaxed);
    sl_backend_unref(be);
    free(r->service);
    r->service = NULL;
}

void sl_stats_worker_fini(struct sl_stats_worker *w)
{
    for (struct sl_stats_be *r = atomic_load(&w->first); r; r = atomic_load(&r->next))
        drop_record(r);
    for (size_t i = 0; i < w->nchunks; i++)
        free(w->chunks[i]);
    free(w->chunks);
    free(w->idx);
    for (size_t i = 0; i < SL_STATS_ROUTE_CHUNKS; i++)
        free(atomic_load(&w->routes[i]));
    pthread_mutex_destroy(&w->lock);
    memset(w, 0, sizeof(*w));
}

static size_t slot_of(const sluice_backend_t *be, size_t cap)
{
    return (size_t)(((uint64_t)(uintptr_t)be * 0x9e3779b97f4a7c15ull) >> 32) & (cap - 1);
}

static void index_put(struct sl_stats_be_index *idx, size_t cap, sluice_backend_t *be,
                      struct sl_stats_be *rec)
{
    size_t i = slot_of(be, cap);

    while (idx[i].key)
        i = (i + 1) & (cap - 1);
    idx[i] = (struct sl_stats_be_index){be, rec};
}

/* Rebuilt from the live records: on growth and after recycling. */
static int index_rebuild(struct sl_stats_worker *w, size_t want)
{
    size_t cap = 16;
    struct sl_stats_be_index *idx;

    while (cap < 2 * want)
        cap *= 2;
    idx = calloc(cap, sizeof(*idx));
    if (!idx)
        return -1;
    w->n = 0;
    for (struct sl_stats_be *r = atomic_load_explicit(&w->first, memory_order_relaxed); r;
         r = atomic_load_explicit(&r->next, memory_order_relaxed)) {
        sluice_backend_t *be = atomic_load_explicit(&r->be, memory_order_relaxed);

        if (be) {
            index_put(idx, cap, be, r);
            w->n++;
        }
    }
    free(w->idx);
    w->idx = idx;
    w->cap = cap;
    return 0;
}

static struct sl_stats_be *index_find(const struct sl_stats_worker *w, const sluice_backend_t *be)
{
    if (!w->cap)
        return NULL;
    for (size_t i = slot_of(be, w->cap);; i = (i + 1) & (w->cap - 1)) {
        if (w->idx[i].key == be)
            return w->idx[i].rec;
        if (!w->idx[i].key)
            return NULL;
    }
}

/* A record not in the scrape list yet, or a recycled one (be NULL: the
 * scrape skips it, so its counts may be zeroed now without a lock). */
static struct sl_stats_be *record_take(struct sl_stats_worker *w)
{
    struct sl_stats_be *chunk, *r;
    void **chunks;

    if (w->free) {
        r = w->free;
        w->free = r->next_free;
        return r;
    }
    chunks = realloc(w->chunks, (w->nchunks + 1) * sizeof(*chunks));
    if (!chunks)
        return NULL;
    w->chunks = chunks;
    chunk = aligned_alloc(SL_STATS_LINE, RECS_PER_CHUNK * sizeof(*chunk));
    if (!chunk)
        return NULL;
    memset(chunk, 0, RECS_PER_CHUNK * sizeof(*chunk));
    w->chunks[w->nchunks++] = chunk;
    for (size_t i = 0; i < RECS_PER_CHUNK; i++) {
        atomic_init(&chunk[i].be, NULL);
        atomic_init(&chunk[i].next, NULL);
        if (w->last)
            atomic_store_explicit(&w->last->next, &chunk[i], memory_order_release);
        else
            atomic_store_explicit(&w->first, &chunk[i], memory_order_release);
        w->last = &chunk[i];
    }
    for (size_t i = RECS_PER_CHUNK; i-- > 1;) {
        chunk[i].next_free = w->free;
        w->free = &chunk[i];
    }
    return &chunk[0];
}

static void record_zero(struct sl_stats_be *r)
{
    sl_counter_t *first = &r->requests, *end = &r->count + 1;

    for (sl_counter_t *c = first; c < end; c++)
        atomic_store_explicit(c, 0, memory_order_relaxed);
}

struct sl_stats_be *sl_stats_be_get(struct sl_stats_worker *w, sluice_backend_t *be,
                                    const char *service)
{
    struct sl_stats_be *r = index_find(w, be);
    char *svc;

    if (r)
        return r;
    if (2 * (w->n + 1) > w->cap && index_rebuild(w, w->n + 1) < 0)
        return NULL;
    svc = strdup(service ? service : "");
    r = svc ? record_take(w) : NULL;
    if (!r) {
        free(svc);
        return NULL;
    }
    record_zero(r);
    r->service = svc;
    r->held = 0;
    sl_backend_ref(be);
    atomic_store_explicit(&r->be, be, memory_order_release);
    index_put(w->idx, w->cap, be, r);
    w->n++;
    return r;
}

static bool recyclable(struct sl_stats_be *r)
{
    sluice_backend_t *be = atomic_load_explicit(&r->be, memory_order_relaxed);

    return be && r->held == 0 && !sl_backend_listed(be);
}

size_t sl_stats_worker_recycle(struct sl_stats_worker *w)
{
    size_t n = 0;
    struct sl_stats_be *first = atomic_load_explicit(&w->first, memory_order_relaxed);

    for (struct sl_stats_be *r = first; r && n == 0; r = atomic_load(&r->next))
        n += recyclable(r);
    if (n == 0 || pthread_mutex_trylock(&w->lock) != 0)
        return 0;
    n = 0;
    for (struct sl_stats_be *r = first; r; r = atomic_load(&r->next)) {
        if (!recyclable(r))
            continue;
        drop_record(r);
        r->next_free = w->free;
        w->free = r;
        n++;
    }
    pthread_mutex_unlock(&w->lock);
    /* Out of memory keeps the old index, which may then name a recycled
     * record; so rebuild into it in place instead: same capacity, fewer
     * keys. */
    if (index_rebuild(w, w->n) < 0) {
        memset(w->idx, 0, w->cap * sizeof(*w->idx));
        w->n = 0;
        for (struct sl_stats_be *r = first; r; r = atomic_load(&r->next)) {
            sluice_backend_t *be = atomic_load_explicit(&r->be, memory_order_relaxed);

            if (be) {
                index_put(w->idx, w->cap, be, r);
                w->n++;
            }
        }
    }
    return n;
}

sl_counter_t *sl_stats_route_chunk_new(struct sl_stats_worker *w, uint32_t slot)
{
    sl_counter_t *chunk = aligned_alloc(SL_STATS_LINE, SL_STATS_ROUTE_CHUNK * sizeof(*chunk));

    if (!chunk)
        return NULL;
    for (size_t i = 0; i < SL_STATS_ROUTE_CHUNK; i++)
        atomic_init(&chunk[i], 0);
    atomic_store_explicit(&w->routes[slot / SL_STATS_ROUTE_CHUNK], chunk, memory_order_release);
    return chunk;
}

uint64_t sl_stats_route_get(struct sl_stats_worker *w, uint32_t slot)
{
    sl_counter_t *chunk;

    if (slot >= SL_STATS_ROUTE_CHUNK * SL_STATS_ROUTE_CHUNKS)
        return 0;
    chunk = atomic_load_explicit(&w->routes[slot / SL_STATS_ROUTE_CHUNK], memory_order_acquire);
    return chunk ? sl_counter_get(&chunk[slot % SL_STATS_ROUTE_CHUNK]) : 0;
}

void sl_stats_scrape_lock(struct sl_stats_worker *const *ws, size_t n)
{
    for (size_t i = 0; i < n; i++)
        pthread_mutex_lock(&ws[i]->lock);
}

void sl_stats_scrape_unlock(struct sl_stats_worker *const *ws, size_t n)
{
    for (size_t i = n; i-- > 0;)
        pthread_mutex_unlock(&ws[i]->lock);
}

/* ---- the route slot registry (process-wide, names never freed) ---- */

struct route_name {
    char *pattern;
    char *id;
};

static pthread_mutex_t reg_lock = PTHREAD_MUTEX_INITIALIZER;
static struct route_name *reg_chunks[SL_STATS_ROUTE_CHUNKS];
static _Atomic uint32_t reg_n;

uint32_t sl_stats_route_slot(const char *pattern, const char *id)
{
    uint32_t n, slot = SL_STATS_NO_SLOT;
    struct route_name *rn;

    pthread_mutex_lock(&reg_lock);
    n = atomic_load_explicit(&reg_n, memory_order_relaxed);
    for (uint32_t i = 0; i < n; i++) {
        rn = &reg_chunks[i / SL_STATS_ROUTE_CHUNK][i % SL_STATS_ROUTE_CHUNK];
        if (strcmp(rn->pattern, pattern) == 0 && strcmp(rn->id, id) == 0) {
            slot = i;
            goto out;
        }
    }
    if (n >= SL_STATS_ROUTE_CHUNK * SL_STATS_ROUTE_CHUNKS)
        goto out;
    if (!reg_chunks[n / SL_STATS_ROUTE_CHUNK]) {
        reg_chunks[n / SL_STATS_ROUTE_CHUNK] = calloc(SL_STATS_ROUTE_CHUNK, sizeof(*rn));
        if (!reg_chunks[n / SL_STATS_ROUTE_CHUNK])
            goto out;
    }
    rn = &reg_chunks[n / SL_STATS_ROUTE_CHUNK][n % SL_STATS_ROUTE_CHUNK];
    rn->pattern = strdup(pattern);
    rn->id = strdup(id);
    if (!rn->pattern || !rn->id) {
        free(rn->pattern);
        free(rn->id);
        rn->pattern = rn->id = NULL;
        goto out;
    }
    slot = n;
    atomic_store_explicit(&reg_n, n + 1, memory_order_release);
out:
    pthread_mutex_unlock(&reg_lock);
    return slot;
}

uint32_t sl_stats_route_slots(void)
{
    return atomic_load_explicit(&reg_n, memory_order_acquire);
}

void sl_stats_route_name(uint32_t slot, const char **pattern, const char **id)
{
    /* The chunk pointer and the names were written before reg_n's release. */
    const struct route_name *rn =
        &reg_chunks[slot / SL_STATS_ROUTE_CHUNK][slot % SL_STATS_ROUTE_CHUNK];

    *pattern = rn->pattern;
    *id = rn->id;
}
