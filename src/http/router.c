/* Routing table reads (match, pick) and its RCU-style publication. The
 * table itself is built by control (src/control/build_router.c); everything here
 * runs on worker threads except publish/quiesce, and none of it allocates
 * or locks. */
#include "http/router.h"

#include <string.h>
#include <time.h>

static inline char lower(char c)
{
    if (c >= 'A' && c <= 'Z')
        return (char)(c - 'A' + 'a');
    return c;
}

/* <a> (any case) equals <lc> (already lower-case) over <n> bytes. */
static bool eq_nocase(const char *a, const char *lc, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (lower(a[i]) != lc[i])
            return false;
    return true;
}

/* Cuts the port and a trailing dot off a Host header value in place (by
 * length). "[::1]:8080" keeps "[::1]"; a bare name with several colons is
 * not a name:port and is left alone. */
static size_t host_trim(const char *host, size_t len)
{
    if (len == 0)
        return 0;
    if (host[0] == '[') {
        const char *rb = memchr(host, ']', len);

        return rb != NULL ? (size_t)(rb - host) + 1 : len;
    }
    const char *colon = memchr(host, ':', len);

    if (colon != NULL && memchr(colon + 1, ':', len - (size_t)(colon - host) - 1) == NULL)
        len = (size_t)(colon - host);
    if (len > 0 && host[len - 1] == '.')
        len--;
    return len;
}

static bool host_matches(const struct sl_endpoint *e, const char *host, size_t len)
{
    switch (e->host_match) {
    case SL_HOST_ANY:
        return true;
    case SL_HOST_EXACT:
        return len == e->host_len && eq_nocase(host, e->host, len);
    case SL_HOST_WILDCARD:
        /* e->host is ".example.com": "a.example.com" and "a.b.example.com"
         * match, "example.com" and ".example.com" do not. */
        return len > e->host_len && eq_nocase(host + len - e->host_len, e->host, e->host_len);
    }
    return false;
}

/* A prefix on a segment boundary: "/api" takes "/api", "/api/", "/api/x"
 * and "/api?q", not "/apix". The root "/" takes every path. */
static bool path_matches(const struct sl_endpoint *e, const char *path, size_t len)
{
    size_t plen = e->path_len;

    if (plen <= 1)
        return true;
    if (len < plen || memcmp(path, e->path, plen) != 0)
        return false;
    return len == plen || path[plen] == '/' || path[plen] == '?';
}

const struct sl_endpoint *sl_router_match(const struct sl_router *r, const char *host,
                                          size_t host_len, const char *path, size_t path_len)
{
    if (host == NULL)
        host_len = 0;
    host_len = host_trim(host, host_len);
    if (path == NULL)
        path_len = 0;
    /* Control sorted the endpoints most specific first, so the first match
     * is the best one. */
    for (size_t i = 0; i < r->nendpoints; i++) {
        const struct sl_endpoint *e = &r->endpoints[i];

        if (host_matches(e, host, host_len) && path_matches(e, path, path_len))
            return e;
    }
    return NULL;
}

const struct sl_route *sl_router_pick_route(const struct sl_endpoint *e, uint64_t rnd)
{
    if (e == NULL || e->total_weight == 0 || e->nroutes == 0)
        return NULL;
    uint64_t x = rnd % e->total_weight;
    size_t lo = 0, hi = e->nroutes - 1;

    /* The first route whose cumulative weight exceeds x; weight-0 routes
     * have an empty range and are never chosen. */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;

        if (e->routes[mid].cum_weight > x)
            hi = mid;
        else
            lo = mid + 1;
    }
    return &e->routes[lo];
}

void sl_router_release(struct sl_router *r)
{
    if (r == NULL)
        return;
    /* acq_rel: every use of the table by this holder happens before the
     * destroy run by whoever drops the last reference. */
    if (atomic_fetch_sub_explicit(&r->refs, 1, memory_order_acq_rel) == 1 && r->destroy != NULL)
        r->destroy(r);
}

void sl_router_slot_init(struct sl_router_slot *s, size_t nworkers)
{
    memset(s, 0, sizeof(*s));
    s->nworkers = nworkers > SL_ROUTER_MAX_WORKERS ? SL_ROUTER_MAX_WORKERS : nworkers;
}

void sl_router_sync(struct sl_router_slot *s, size_t idx, struct sl_router **mine,
                    uint64_t *mine_gen)
{
    /* acquire pairs with the release increment in sl_router_slot_publish():
     * once we see generation g, the store of its table is visible too. */
    uint64_t g = atomic_load_explicit(&s->gen, memory_order_acquire);

    if (g == *mine_gen)
        return;
    struct sl_router *r = atomic_load_explicit(&s->cur, memory_order_acquire);

    /* Safe to take a reference: control keeps the slot's reference on <r>
     * until our seen[] passes a newer generation, which only we write. */
    if (r != NULL)
        sl_router_acquire(r);
    if (*mine != NULL)
        sl_router_release(*mine);
    *mine = r;
    *mine_gen = g;
    if (idx < SL_ROUTER_MAX_WORKERS)
        /* release pairs with the acquire in quiesce: our drop of the old
         * table's reference happens before control drops its own. */
        atomic_store_explicit(&s->seen[idx], g, memory_order_release);
}

struct sl_router *sl_router_slot_publish(struct sl_router_slot *s, struct sl_router *r)
{
    uint64_t g = atomic_load_explicit(&s->gen, memory_order_relaxed) + 1;

    if (r != NULL)
        r->generation = g;
    /* The table, then the generation: a worker that sees g finds a table at
     * least as new as <r>. Control is the only writer, so no CAS needed. */
    struct sl_router *old = atomic_exchange_explicit(&s->cur, r, memory_order_acq_rel);

    atomic_store_explicit(&s->gen, g, memory_order_release);
    return old;
}

static bool all_seen(struct sl_router_slot *s, uint64_t gen)
{
    for (size_t i = 0; i < s->nworkers && i < SL_ROUTER_MAX_WORKERS; i++)
        if (atomic_load_explicit(&s->seen[i], memory_order_acquire) < gen)
            return false;
    return true;
}

bool sl_router_slot_quiesce(struct sl_router_slot *s, uint64_t gen, uint32_t timeout_ms)
{
    /* Workers sync at the top of every loop turn, and their loops wake at
     * least every timer tick, so polling each millisecond is plenty. */
    for (uint32_t waited = 0;; waited++) {
        if (all_seen(s, gen))
            return true;
        if (waited >= timeout_ms)
            return false;
        struct timespec ts = {0, 1000000};

        nanosleep(&ts, NULL);
    }
}
