/* The per-backend and per-route families of the scrape (stats_render.h). */
#include "proxy/stats_render.h"

#include <stdlib.h>
#include <string.h>

/* One backend's counts summed over the workers. */
struct be_sum {
    sluice_backend_t *be;
    const char *service; /* borrowed from a record: valid while the locks are held */
    uint64_t requests, responses[5], connect_failures, timeouts, retries, transitions, ejections;
    uint64_t buckets[SL_STATS_BUCKETS], sum_ns, count;
};

static int by_service_then_be(const void *a, const void *b)
{
    const struct be_sum *x = a, *y = b;
    int c = strcmp(x->service, y->service);

    if (c)
        return c;
    return (uintptr_t)x->be < (uintptr_t)y->be ? -1 : (uintptr_t)x->be > (uintptr_t)y->be;
}

static void add_record(struct be_sum *s, struct sl_stats_be *r)
{
    s->requests += sl_counter_get(&r->requests);
    for (size_t i = 0; i < 5; i++)
        s->responses[i] += sl_counter_get(&r->responses[i]);
    s->connect_failures += sl_counter_get(&r->connect_failures);
    s->timeouts += sl_counter_get(&r->timeouts);
    s->retries += sl_counter_get(&r->retries);
    s->transitions += sl_counter_get(&r->health_transitions);
    s->ejections += sl_counter_get(&r->ejections);
    for (size_t i = 0; i < SL_STATS_BUCKETS; i++)
        s->buckets[i] += sl_counter_get(&r->buckets[i]);
    s->sum_ns += sl_counter_get(&r->sum_ns);
    s->count += sl_counter_get(&r->count);
}

/* Every live record of every worker, one entry per (service, backend),
 * sorted. *out is NULL (and 0 returned) when there is none or no memory. */
static size_t collect(struct sl_stats_worker *const *ws, size_t n, struct be_sum **out)
{
    size_t cnt = 0, m = 0;
    struct be_sum *s;

    *out = NULL;
    for (size_t w = 0; w < n; w++)
        for (struct sl_stats_be *r = atomic_load_explicit(&ws[w]->first, memory_order_acquire); r;
             r = atomic_load_explicit(&r->next, memory_order_acquire))
            cnt++;
    s = cnt ? calloc(cnt, sizeof(*s)) : NULL;
    if (!s)
        return 0;
    for (size_t w = 0; w < n; w++)
        for (struct sl_stats_be *r = atomic_load_explicit(&ws[w]->first, memory_order_acquire);
             r && m < cnt; r = atomic_load_explicit(&r->next, memory_order_acquire)) {
            sluice_backend_t *be = atomic_load_explicit(&r->be, memory_order_acquire);

            if (!be)
                continue;
            s[m].be = be;
            s[m].service = r->service;
            add_record(&s[m++], r);
        }
    qsort(s, m, sizeof(*s), by_service_then_be);
    /* Merge the workers' entries of one backend into the first. */
    cnt = 0;
    for (size_t i = 0; i < m; i++) {
        if (cnt && by_service_then_be(&s[cnt - 1], &s[i]) == 0) {
            struct be_sum *d = &s[cnt - 1];

            d->requests += s[i].requests;
            for (size_t k = 0; k < 5; k++)
                d->responses[k] += s[i].responses[k];
            d->connect_failures += s[i].connect_failures;
            d->timeouts += s[i].timeouts;
            d->retries += s[i].retries;
            d->transitions += s[i].transitions;
            d->ejections += s[i].ejections;
            for (size_t k = 0; k < SL_STATS_BUCKETS; k++)
                d->buckets[k] += s[i].buckets[k];
            d->sum_ns += s[i].sum_ns;
            d->count += s[i].count;
        } else {
            s[cnt++] = s[i];
        }
    }
    *out = s;
    return cnt;
}

enum field { REQUESTS, CONNECT_FAILURES, TIMEOUTS, RETRIES, TRANSITIONS, EJECTIONS };

static void render_counter(struct sl_prom *p, const struct be_sum *s, size_t n, const char *name,
                           const char *help, enum field f)
{
    sl_prom_family(p, name, "counter", help);
    for (size_t i = 0; i < n; i++) {
        const char *kv[] = {"service", s[i].service, "backend", sluice_backend_name(s[i].be)};
        uint64_t v = f == REQUESTS           ? s[i].requests
                     : f == CONNECT_FAILURES ? s[i].connect_failures
                     : f == TIMEOUTS         ? s[i].timeouts
                     : f == RETRIES          ? s[i].retries
                     : f == TRANSITIONS      ? s[i].transitions
                                             : s[i].ejections;

        sl_prom_u64(p, name, kv, 2, v);
    }
}

static void render_responses(struct sl_prom *p, const struct be_sum *s, size_t n)
{
    static const char *const classes[5] = {"1xx", "2xx", "3xx", "4xx", "5xx"};
    const char *name = "sluice_backend_responses_total";

    sl_prom_family(p, name, "counter", "Responses received from the backend, by status class.");
    for (size_t i = 0; i < n; i++)
        for (size_t c = 0; c < 5; c++) {
            const char *kv[] = {"service", s[i].service, "backend", sluice_backend_name(s[i].be),
                                "class",   classes[c]};

            sl_prom_u64(p, name, kv, 3, s[i].responses[c]);
        }
}

static void render_histogram(struct sl_prom *p, const struct be_sum *s, size_t n)
{
    const char *name = "sluice_backend_request_duration_seconds";

    sl_prom_family(p, name, "histogram",
                   "Time from sending the request to the backend to the end of its response.");
    for (size_t i = 0; i < n; i++) {
        const char *backend = sluice_backend_name(s[i].be);
        uint64_t cum = 0;

        for (size_t b = 0; b < SL_STATS_BUCKETS; b++) {
            const char *kv[] = {"service", s[i].service, "backend",
                                backend,   "le",         sl_stats_bucket_le[b]};

            cum += s[i].buckets[b];
            sl_prom_u64(p, "sluice_backend_request_duration_seconds_bucket", kv, 3, cum);
        }
        {
            const char *kv[] = {"service", s[i].service, "backend", backend};

            sl_prom_f64(p, "sluice_backend_request_duration_seconds_sum", kv, 2,
                        (double)s[i].sum_ns / 1e9);
            sl_prom_u64(p, "sluice_backend_request_duration_seconds_count", kv, 2, cum);
        }
    }
}

static void render_counters(struct sl_prom *p, struct sl_stats_worker *const *ws, size_t n)
{
    struct be_sum *s;
    size_t m;

    sl_stats_scrape_lock(ws, n);
    m = collect(ws, n, &s);
    render_counter(p, s, m, "sluice_backend_requests_total",
                   "Requests (TCP: sessions) sent to the backend, retries included.", REQUESTS);
    render_responses(p, s, m);
    render_counter(p, s, m, "sluice_backend_connect_failures_total",
                   "Connections to the backend that failed (refused, unreachable, reset).",
                   CONNECT_FAILURES);
    render_counter(p, s, m, "sluice_backend_timeouts_total",
                   "Attempts on the backend that timed out (connect or response).", TIMEOUTS);
    render_counter(p, s, m, "sluice_backend_retries_total",
                   "Requests that failed on the backend and were sent to another one.", RETRIES);
    render_counter(p, s, m, "sluice_backend_health_transitions_total",
                   "Changes of the backend's health (healthy, unhealthy, unknown).", TRANSITIONS);
    render_counter(p, s, m, "sluice_backend_ejections_total",
                   "Passive ejections of the backend (consecutive failures).", EJECTIONS);
    render_histogram(p, s, m);
    sl_stats_scrape_unlock(ws, n);
    free(s);
}

enum gauge { ACTIVE, HEALTHY, SCORE };

static void render_gauge(struct sl_prom *p, const sluice_lb_t *lb, const char **names, size_t ns,
                         const char *name, const char *help, enum gauge g)
{
    sl_prom_family(p, name, "gauge", help);
    for (size_t i = 0; i < ns; i++) {
        sluice_group_snapshot_t snap;

        if (sluice_lb_snapshot(lb, names[i], &snap) != 0)
            continue;
        for (size_t b = 0; b < snap.n; b++) {
            const sluice_backend_snapshot_t *bs = &snap.backends[b];
            const char *kv[] = {"service", names[i], "backend", bs->name};

            if (g == SCORE)
                sl_prom_f64(p, name, kv, 2, (double)bs->score);
            else
                sl_prom_u64(p, name, kv, 2,
                            g == ACTIVE ? bs->active : bs->health != SLUICE_HEALTH_UNHEALTHY);
        }
        sluice_group_snapshot_free(&snap);
    }
}

/* Per service: whether panic is on, and the selections it made. */
static void render_panic(struct sl_prom *p, const sluice_lb_t *lb, const char **names, size_t ns)
{
    static const char *const fams[2][3] = {
        {"sluice_service_panic", "gauge",
         "1 while fewer than panic_threshold percent of the service's backends are usable, so "
         "every backend gets traffic."},
        {"sluice_service_panic_selections_total", "counter",
         "Backends selected while the service was in panic."},
    };

    for (size_t f = 0; f < 2; f++) {
        sl_prom_family(p, fams[f][0], fams[f][1], fams[f][2]);
        for (size_t i = 0; i < ns; i++) {
            sluice_group_snapshot_t snap;
            const char *kv[] = {"service", names[i]};

            if (sluice_lb_snapshot(lb, names[i], &snap) != 0)
                continue;
            sl_prom_u64(p, fams[f][0], kv, 1, f == 0 ? snap.panic : snap.panic_selections);
            sluice_group_snapshot_free(&snap);
        }
    }
}

static void render_gauges(struct sl_prom *p, const sluice_lb_t *lb)
{
    size_t ns = lb ? sluice_lb_list_services(lb, NULL, 0) : 0;
    const char **names = ns ? calloc(ns, sizeof(*names)) : NULL;
    char **copies = ns ? calloc(ns, sizeof(*copies)) : NULL;

    if (ns && (!names || !copies)) {
        p->oom = true;
        ns = 0;
    }
    /* Copied: a change may unregister a service while we render. */
    ns = ns ? sluice_lb_list_services(lb, names, ns) : 0;
    for (size_t i = 0; i < ns; i++) {
        copies[i] = names[i] ? strdup(names[i]) : NULL;
        names[i] = copies[i] ? copies[i] : "";
    }
    render_gauge(p, lb, names, ns, "sluice_backend_active_connections",
                 "Connections selected for the backend and not yet released.", ACTIVE);
    render_gauge(p, lb, names, ns, "sluice_backend_healthy",
                 "1 while the backend is not known unhealthy, else 0.", HEALTHY);
    render_gauge(p, lb, names, ns, "sluice_backend_score",
                 "The backend's health score (usable while >= 0).", SCORE);
    render_panic(p, lb, names, ns);
    for (size_t i = 0; i < ns; i++)
        free(copies[i]);
    free(copies);
    free(names);
}

void sl_stats_render_backends(struct sl_prom *p, struct sl_stats_worker *const *ws, size_t n,
                              const sluice_lb_t *lb)
{
    render_counters(p, ws, n);
    render_gauges(p, lb);
}

void sl_stats_render_routes(struct sl_prom *p, struct sl_stats_worker *const *ws, size_t n)
{
    uint32_t slots = sl_stats_route_slots();
    const char *name = "sluice_route_requests_total";

    sl_prom_family(p, name, "counter", "Requests routed to the route of the endpoint.");
    for (uint32_t s = 0; s < slots; s++) {
        const char *pattern, *id;
        uint64_t sum = 0;

        sl_stats_route_name(s, &pattern, &id);
        for (size_t w = 0; w < n; w++)
            sum += sl_stats_route_get(ws[w], s);
        {
            const char *kv[] = {"endpoint", pattern, "route", id};

            sl_prom_u64(p, name, kv, 2, sum);
        }
    }
}
