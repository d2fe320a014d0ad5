/* The HTTP/1.1 reverse proxy: one state machine per client connection,
 * driven by the worker's event loop (net/loop.h). Per worker there is one
 * sl_proxy_ctx: it owns the connection structs (a free list: no malloc per
 * request once warm) and borrows the worker's loop, buffer pool, upstream
 * pool, access log and current routing table.
 *
 * Threads: a ctx and its connections belong to one worker thread. The only
 * shared state it touches is the routing table (a reference per request in
 * flight, sl_router_acquire/release) and the library's backend atomics
 * (select/release). */
#ifndef SL_HTTP_PROXY_H
#define SL_HTTP_PROXY_H

#include <sys/socket.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "http/parse.h"
#include "http/router.h"
#include "net/buf.h"
#include "net/dlist.h"
#include "net/fdbudget.h"
#include "net/freelist.h"
#include "net/log.h"
#include "net/loop.h"
#include "net/upstream.h"
#include "proxy/stats.h"

struct sl_hconn;
struct sl_hreq;

struct sl_proxy_ctx {
    struct sl_loop *loop;
    struct sl_buf_pool *bufs; /* buffers at least max_head + 1 KiB big */
    struct sl_upstream *ups;  /* keyed by sluice_backend_t; refs via sl_backend_ref */
    struct sl_access_log *alog;
    struct sl_router **table; /* the worker's current table (sl_router_sync) */
    uint64_t rng;             /* xorshift state for route picks */
    struct sl_dlist conns;    /* every open struct sl_hconn (for draining) */
    /* Clients without a request in flight (idle keep-alive, or a head not
     * yet complete), most recently active first: the ones a new client
     * may evict when descriptors run short. A superset: a client that
     * became busy is dropped when met (sl_proxy_evict_idle). */
    struct sl_dlist lru;
    const struct sl_fdbudget *fdb; /* the worker's budget (NULL: no limit) */
    struct sl_freelist conn_free;  /* spare struct sl_hconn */
    struct sl_freelist rq_free;    /* spare request states (struct sl_hreq) */
    bool draining;
    struct sl_stats_worker *stats; /* the worker's counters (NULL: none) */
    struct sl_fdbudget_log fdlog;  /* out-of-descriptors lines, rate-limited */
    /* Scratch for parsing: only valid during one call, never kept. */
    struct sl_http_req req;
    struct sl_http_resp resp;
};

/* Upstream pool ops that hold a backend reference per pooled connection. */
extern const struct sl_upstream_ops sl_proxy_upstream_ops;

void sl_proxy_ctx_init(struct sl_proxy_ctx *ctx, struct sl_loop *loop, struct sl_buf_pool *bufs,
                       struct sl_upstream *ups, struct sl_access_log *alog,
                       struct sl_router **table, uint64_t seed);
/* Closes every connection (requests in flight end as NEUTRAL) and frees the
 * spare structs. */
void sl_proxy_ctx_fini(struct sl_proxy_ctx *ctx);

/* Takes over <fd>, a client connection accepted on listener <ln> (its
 * timeouts and max_head are copied; <ln> is borrowed for the call). On
 * failure (no memory) the fd is closed. <ls> (NULL: none) counts the
 * connection as active while it is open. */
void sl_proxy_accept(struct sl_proxy_ctx *ctx, const struct sl_listener_rt *ln,
                     struct sl_stats_listener *ls, int fd, const struct sockaddr *peer,
                     socklen_t peerlen);

/* Graceful shutdown: idle keep-alive connections close now, the others
 * after their current response (answered with Connection: close). */
void sl_proxy_drain(struct sl_proxy_ctx *ctx);

/* A client must have been quiet this long before a new one may evict it:
 * one just accepted, whose request is still in the kernel's buffer, is
 * never dropped for the next. */
#define SL_PROXY_EVICT_QUIET_MS 500u

/* Descriptors are short: closes the least recently active client that
 * has no request in flight (an idle keep-alive connection, or one whose
 * head is not complete) and has been quiet SL_PROXY_EVICT_QUIET_MS or
 * more. True when it closed one. Call from outside connection callbacks
 * (the listener's). */
bool sl_proxy_evict_idle(struct sl_proxy_ctx *ctx);

/* Frees spare connection and request structs beyond a cap (call now and then, e.g.
 * once a second, never from inside a connection callback). */
void sl_proxy_trim(struct sl_proxy_ctx *ctx);

static inline size_t sl_proxy_conns(const struct sl_proxy_ctx *ctx)
{
    return ctx->conns.n;
}

#endif /* SL_HTTP_PROXY_H */
