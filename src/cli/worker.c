#include "worker.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tcp/tcp_proxy.h"

#define TICK_MS 1000

static void release_table(void *ref)
{
    sl_router_release(ref);
}

/* The listener named like <ln> in <table> (same mode), looked up by name
 * so that a reload's new timeouts, header limit or (tcp) service apply to
 * the next connection; NULL when the table has none. */
static const struct sl_listener_rt *current_listener(const struct sl_router *table,
                                                     const struct sl_listener_rt *ln)
{
    for (size_t i = 0; table != NULL && ln->name != NULL && i < table->nlisteners; i++) {
        const struct sl_listener_rt *rt = &table->listeners[i];

        if (rt->mode == ln->mode && rt->name != NULL && strcmp(rt->name, ln->name) == 0)
            return rt;
    }
    return NULL;
}

/* Descriptors this worker's connections hold now (fdb.held). */
static size_t fds_held(void *arg)
{
    const struct sl_worker *w = arg;

    return sl_proxy_conns(&w->proxy) + w->ups.nopen + sl_tcp_fds(w->tcp);
}

/* Descriptors promised: each HTTP client may need a backend connection
 * (HAProxy halves maxconn for the same reason); TCP sessions hold their
 * sockets and pipes. Idle pooled connections are not promised to anyone:
 * they close on demand. */
static size_t fds_promised(void *arg)
{
    const struct sl_worker *w = arg;

    return 2 * sl_proxy_conns(&w->proxy) + sl_tcp_fds(w->tcp);
}

/* At the share: one rate-limited line with the real figures. */
static void log_at_share(struct sl_worker *w)
{
    uint64_t quiet = 0;

    if (!sl_fdbudget_due(&w->limit_log, sl_loop_now_ms(&w->loop), &quiet))
        return;
    sl_log(SL_LOG_WARN,
           "worker %zu: at its share of descriptors (%zu of %zu promised: %zu HTTP clients, "
           "%zu TCP descriptors; ulimit -n %llu): %llu idle clients closed for new ones, "
           "accepting paused %llu times since the last line; raise ulimit -n to serve more",
           w->idx, fds_promised(w), w->fdb.share, sl_proxy_conns(&w->proxy), sl_tcp_fds(w->tcp),
           (unsigned long long)w->nofile, (unsigned long long)w->evicted,
           (unsigned long long)w->paused);
    w->evicted = 0;
    w->paused = 0;
}

/* The listeners' gate: room for a client that may need a backend
 * connection too, made by evicting an idle client when one is waiting;
 * then room for its descriptor itself, made by closing idle pooled
 * connections. */
static bool may_accept(struct sl_listener *ln, bool waiting)
{
    struct sl_worker *w = ((struct sl_worker_listener *)ln->data)->w;
    size_t over;

    if (w->fdb.share == 0)
        return true;
    while (!sl_fdbudget_room(&w->fdb, 2)) {
        if (!waiting)
            return false; /* maybe nobody waits: close nothing for nobody */
        if (!sl_proxy_evict_idle(&w->proxy)) {
            w->paused++;
            log_at_share(w);
            return false;
        }
        w->evicted++;
        log_at_share(w);
    }
    over = sl_fdbudget_over(&w->fdb, 1);
    if (over > 0)
        (void)sl_upstream_close_lru(&w->ups, over);
    return true;
}

void sl_worker_set_budget(struct sl_worker *w, const struct sl_fdbudget_plan *p)
{
    w->nofile = p->nofile;
    w->fdb = (struct sl_fdbudget){
        .share = p->share, .held = fds_held, .promised = fds_promised, .arg = w};
    w->proxy.fdb = &w->fdb;
    sl_tcp_set_budget(w->tcp, &w->fdb, &w->ups, p->pipe_cache);
    for (size_t i = 0; i < w->nlns; i++)
        w->lns[i].ln.gate = may_accept;
}

static void on_accept_http(struct sl_listener *ln, int fd, const struct sockaddr *peer,
                           socklen_t len)
{
    struct sl_worker_listener *wl = ln->data;
    const struct sl_listener_rt *rt = current_listener(wl->w->table, &wl->rt);

    sl_counter_add(&wl->stats.accepted, 1);
    /* Settings are copied at accept: the table may go before the connection. */
    sl_proxy_accept(&wl->w->proxy, rt != NULL ? rt : &wl->rt, &wl->stats, fd, peer, len);
}

static void on_accept_tcp(struct sl_listener *ln, int fd, const struct sockaddr *peer,
                          socklen_t len)
{
    struct sl_worker_listener *wl = ln->data;
    struct sl_router *table = wl->w->table;
    const struct sl_listener_rt *rt = current_listener(table, &wl->rt);
    struct sl_tcp_route route;

    sl_counter_add(&wl->stats.accepted, 1);
    if (rt == NULL || rt->svc == NULL || rt->group == NULL) {
        sl_log(SL_LOG_ERROR, "listener %s: no TCP service in the routing table", wl->rt.name);
        close(fd);
        return;
    }
    route = (struct sl_tcp_route){
        .lb = table->lb,
        .group = rt->group,
        .listener = rt->name,
        .connect_timeout_ms = rt->svc->connect_timeout_ms,
        .idle_timeout_ms = rt->svc->idle_timeout_ms,
        .retries = rt->svc->retries,
        .ref = table,
        .release = release_table,
        .stats = &wl->w->stats,
        .service = rt->svc->name,
        .ls = &wl->stats,
    };
    sl_router_acquire(table); /* the session's, dropped by release_table() */
    sl_tcp_accept(wl->w->tcp, &route, fd, peer, len);
}

static size_t live_conns(const struct sl_worker *w)
{
    return sl_proxy_conns(&w->proxy) + sl_tcp_active(w->tcp);
}

static void on_turn(struct sl_loop *l, void *arg)
{
    struct sl_worker *w = arg;
    uint64_t gen = w->table_gen;

    sl_router_sync(w->slot, w->idx, &w->table, &w->table_gen);
    if (w->table_gen != gen) {
        sl_upstream_prune(&w->ups);                 /* pools follow the table */
        sl_health_sched_table(w->health, w->table); /* and so do the probes */
    }
    sl_access_log_flush(w->alog);
    if (w->draining && live_conns(w) == 0)
        sl_loop_stop(l);
}

static void begin_drain(struct sl_worker *w)
{
    if (w->draining)
        return;
    w->draining = true;
    sl_health_sched_stop(w->health);
    for (size_t i = 0; i < w->nlns; i++)
        sl_listener_close(&w->lns[i].ln);
    sl_proxy_drain(&w->proxy);
    sl_tcp_shutdown(w->tcp);
    sl_upstream_close_idle(&w->ups);
    sl_loop_timer_after(&w->loop, &w->drain_timer, w->drain_ms);
}

static void on_wake(struct sl_loop *l, void *arg)
{
    struct sl_worker *w = arg;

    (void)l;
    if (atomic_load_explicit(&w->stop_requested, memory_order_acquire))
        begin_drain(w);
}

static void on_drain_timeout(struct sl_timer *t, void *arg)
{
    struct sl_worker *w = arg;

    (void)t;
    if (live_conns(w) > 0)
        sl_log(SL_LOG_WARN, "worker %zu: drain timeout, closing %zu connections", w->idx,
               live_conns(w));
    sl_loop_stop(&w->loop);
}

static void on_tick(struct sl_timer *t, void *arg)
{
    struct sl_worker *w = arg;

    sl_proxy_trim(&w->proxy);
    sl_tcp_trim(w->tcp);
    (void)sl_stats_worker_recycle(&w->stats);
    sl_loop_timer_after(&w->loop, t, TICK_MS);
}

static int copy_listener(struct sl_worker_listener *wl, const struct sl_listener_rt *rt)
{
    wl->rt = *rt;
    wl->rt.svc = NULL; /* belongs to the table; look it up per connection */
    wl->rt.name = strdup(rt->name ? rt->name : "");
    wl->rt.bind = strdup(rt->bind ? rt->bind : "");
    wl->rt.group = rt->group ? strdup(rt->group) : NULL;
    if (!wl->rt.name || !wl->rt.bind || (rt->group && !wl->rt.group))
        return -1;
    return 0;
}

static void free_listener(struct sl_worker_listener *wl)
{
    sl_listener_close(&wl->ln);
    free(wl->rt.name);
    free(wl->rt.bind);
    free(wl->rt.group);
}

int sl_worker_init(struct sl_worker *w, size_t idx, struct sl_router_slot *slot,
                   const struct sl_router *table, uint32_t bufsize, uint32_t drain_ms, char *err,
                   size_t errlen)
{
    memset(w, 0, sizeof(*w));
    w->idx = idx;
    w->slot = slot;
    w->drain_ms = drain_ms;
    atomic_init(&w->stop_requested, false);
    sl_stats_worker_init(&w->stats);
    if (sl_loop_init(&w->loop) < 0) {
        (void)snprintf(err, errlen, "worker %zu: event loop: %s", idx, sl_errstr(errno));
        return -1;
    }
    w->loop.on_turn = on_turn;
    w->loop.on_turn_arg = w;
    w->loop.on_wake = on_wake;
    w->loop.on_wake_arg = w;
    sl_buf_pool_init(&w->bufs, bufsize, 4096);
    sl_upstream_init(&w->ups, &w->loop, &sl_proxy_upstream_ops);
    w->alog = malloc(sizeof(*w->alog));
    /* Aligned: each listener's counters have their own cache line. */
    w->lns =
        aligned_alloc(SL_STATS_LINE, (table->nlisteners ? table->nlisteners : 1) * sizeof(*w->lns));
    if (w->lns)
        memset(w->lns, 0, (table->nlisteners ? table->nlisteners : 1) * sizeof(*w->lns));
    if (w->alog)
        w->tcp = sl_tcp_worker_new(&w->loop, w->alog);
    w->health = sl_health_sched_new(&w->loop, idx, slot->nworkers, &w->stats);
    if (!w->alog || !w->lns || !w->tcp || !w->health) {
        (void)snprintf(err, errlen, "worker %zu: out of memory", idx);
        goto fail;
    }
    sl_access_log_init(w->alog);
    sl_proxy_ctx_init(&w->proxy, &w->loop, &w->bufs, &w->ups, w->alog, &w->table,
                      0x9e3779b97f4a7c15ull * (idx + 1) ^ (uint64_t)getpid());
    w->proxy.stats = &w->stats;
    sl_timer_init(&w->tick, on_tick, w);
    sl_timer_init(&w->drain_timer, on_drain_timeout, w);
    sl_loop_timer_after(&w->loop, &w->tick, TICK_MS);
    for (size_t i = 0; i < table->nlisteners; i++) {
        const struct sl_listener_rt *rt = &table->listeners[i];
        struct sl_worker_listener *wl = &w->lns[i];
        bool http = rt->mode == SL_MODE_HTTP;

        wl->w = w;
        wl->ln.w.fd = -1;
        w->nlns = i + 1;
        if (copy_listener(wl, rt) < 0) {
            (void)snprintf(err, errlen, "worker %zu: out of memory", idx);
            goto fail;
        }
        if (sl_listener_open(&wl->ln, &w->loop, wl->rt.name, wl->rt.bind, 1024,
                             http ? on_accept_http : on_accept_tcp, wl) < 0) {
            (void)snprintf(err, errlen, "listener %s: cannot listen on %s: %s", wl->rt.name,
                           wl->rt.bind, errno == EINVAL ? "invalid address" : sl_errstr(errno));
            goto fail;
        }
    }
    return 0;
fail:
    sl_worker_fini(w);
    return -1;
}

static void *worker_main(void *arg)
{
    struct sl_worker *w = arg;
    sigset_t all;

    /* Signals belong to the main thread. */
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, NULL);
    sl_loop_run(&w->loop);
    return NULL;
}

int sl_worker_start(struct sl_worker *w)
{
    int e = pthread_create(&w->thread, NULL, worker_main, w);

    if (e == 0)
        w->started = true;
    return e;
}

void sl_worker_stop(struct sl_worker *w)
{
    atomic_store_explicit(&w->stop_requested, true, memory_order_release);
    sl_loop_wake(&w->loop);
}

void sl_worker_wake(struct sl_worker *w)
{
    sl_loop_wake(&w->loop);
}

void sl_worker_join(struct sl_worker *w)
{
    if (w->started)
        pthread_join(w->thread, NULL);
    w->started = false;
}

void sl_worker_fini(struct sl_worker *w)
{
    sl_health_sched_free(w->health); /* before the loop and the table go */
    w->health = NULL;
    if (w->alog) {
        sl_proxy_ctx_fini(&w->proxy);
        sl_tcp_worker_free(w->tcp);
        w->tcp = NULL;
        sl_access_log_flush(w->alog);
    }
    /* nlns counts entries of lns only once it is allocated; saying so here
     * keeps fini safe on any half-made worker. */
    for (size_t i = 0; w->lns != NULL && i < w->nlns; i++)
        free_listener(&w->lns[i]);
    free(w->lns);
    w->lns = NULL;
    w->nlns = 0;
    sl_upstream_fini(&w->ups);
    if (w->table) {
        sl_router_release(w->table);
        w->table = NULL;
    }
    free(w->alog);
    w->alog = NULL;
    sl_buf_pool_fini(&w->bufs);
    sl_loop_fini(&w->loop);
    sl_stats_worker_fini(&w->stats); /* after the requests that held records */
}
