/* Data-plane workers: one thread per worker, each with its own epoll loop,
 * its own SO_REUSEPORT listening sockets, buffer pool, backend connection
 * pool, access-log buffer and HTTP proxy context. Workers share nothing but
 * the published routing table (sl_router_sync at the top of every loop
 * turn) and the library's atomics.
 *
 * Lifecycle, all driven from the main thread: sl_worker_init() (binds the
 * listeners, so bind errors surface before anything runs), then
 * sl_worker_start() (the thread), sl_worker_stop() to ask for a graceful
 * stop (async: close listeners, finish requests in flight, close idle
 * connections, exit when none remain or after <drain_ms>), sl_worker_join()
 * and sl_worker_fini(). sl_worker_wake() makes a worker sync its table now
 * (after a reload). */
#ifndef SL_CLI_WORKER_H
#define SL_CLI_WORKER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "http/health.h"
#include "http/proxy.h"
#include "http/router.h"
#include "net/buf.h"
#include "net/fdbudget.h"
#include "net/listener.h"
#include "net/log.h"
#include "net/loop.h"
#include "net/upstream.h"
#include "proxy/stats.h"

struct sl_tcp_worker;

struct sl_worker_listener {
    struct sl_stats_listener stats; /* this worker's connections on it (GET /metrics) */
    struct sl_listener ln;
    struct sl_listener_rt rt; /* copied from the first table; strings owned */
    struct sl_worker *w;
};

struct sl_worker {
    size_t idx;
    pthread_t thread;
    bool started;
    struct sl_loop loop;
    struct sl_buf_pool bufs;
    struct sl_upstream ups;
    struct sl_access_log *alog;
    struct sl_proxy_ctx proxy;
    struct sl_tcp_worker *tcp;      /* the L4 proxy of tcp-mode listeners */
    struct sl_health_sched *health; /* active checks and ejection ticks of its slice */
    struct sl_router_slot *slot;
    struct sl_router *table; /* adopted by sl_router_sync */
    uint64_t table_gen;
    struct sl_worker_listener *lns;
    size_t nlns;
    struct sl_timer tick; /* once a second: housekeeping */
    struct sl_timer drain_timer;
    uint32_t drain_ms;
    struct sl_fdbudget fdb;           /* this worker's share of descriptors (share 0: none) */
    uint64_t nofile;                  /* the limit the share came from, for log lines */
    uint64_t evicted;                 /* idle clients closed for new ones since the last line */
    uint64_t paused;                  /* accepting paused at the share since the last line */
    struct sl_fdbudget_log limit_log; /* "at its share" lines, rate-limited */
    bool draining;
    _Atomic bool stop_requested;
    struct sl_stats_worker stats; /* counters the scrape sums (proxy/stats.h) */
};

/* Prepares worker <idx>: loop, pools, and one listening socket per
 * listener of <table> (borrowed for the call). <bufsize>: bytes per pooled
 * buffer. Returns 0, or -1 with a message in err[errlen] (everything opened
 * is closed again). Main thread. */
int sl_worker_init(struct sl_worker *w, size_t idx, struct sl_router_slot *slot,
                   const struct sl_router *table, uint32_t bufsize, uint32_t drain_ms, char *err,
                   size_t errlen);
/* Gives <w> its share of the descriptor budget <p> (net/fdbudget.h;
 * after init, before start). A new client is accepted only while every
 * HTTP client may still get a backend connection within the share:
 * 2 * (clients + 1) + TCP sessions' sockets and pipes <= share. Idle
 * pooled backend connections are not counted there: they close, least
 * recently used first, whenever a descriptor is needed. At the share, a
 * new client evicts the least recently active idle client (quiet for
 * SL_PROXY_EVICT_QUIET_MS); with none, the listener pauses and new
 * connections wait in the kernel's backlog. */
void sl_worker_set_budget(struct sl_worker *w, const struct sl_fdbudget_plan *p);

/* Starts the thread; 0 or an errno value. */
int sl_worker_start(struct sl_worker *w);
/* Any thread: asks for a graceful stop. */
void sl_worker_stop(struct sl_worker *w);
/* Any thread: run a loop turn now (adopts a newly published table). */
void sl_worker_wake(struct sl_worker *w);
void sl_worker_join(struct sl_worker *w);
/* Frees what init allocated; after join (or instead of start). */
void sl_worker_fini(struct sl_worker *w);

#endif /* SL_CLI_WORKER_H */
