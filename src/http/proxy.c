/* The HTTP proxy's public side (proxy.h): the per-worker context, taking
 * over accepted connections, graceful draining and trimming the free
 * lists. Each connection then runs in the exchange core
 * (proxy_exchange.c); proxy_int.h maps the proxy's files. */
#include "http/proxy.h"

#include <unistd.h>

#include "core/backend.h"
#include "http/proxy_int.h"
#include "net/sock.h"
#include "proxy/defaults.h"

#define KEEP_FREE_CONNS 4096
#define KEEP_FREE_REQS  1024

static void backend_ref(void *key)
{
    sl_backend_ref(key);
}

static void backend_unref(void *key)
{
    sl_backend_unref(key);
}

/* A backend no group lists any more (a reload replaced or removed it) is
 * never selected again: its pooled connections can only waste descriptors. */
static bool backend_live(const void *key)
{
    return sl_backend_listed(key);
}

const struct sl_upstream_ops sl_proxy_upstream_ops = {backend_ref, backend_unref, backend_live};

void sl_proxy_ctx_init(struct sl_proxy_ctx *ctx, struct sl_loop *loop, struct sl_buf_pool *bufs,
                       struct sl_upstream *ups, struct sl_access_log *alog,
                       struct sl_router **table, uint64_t seed)
{
    ctx->loop = loop;
    ctx->bufs = bufs;
    ctx->ups = ups;
    ctx->alog = alog;
    ctx->table = table;
    ctx->rng = seed ? seed : 0x9e3779b97f4a7c15ull;
    sl_dlist_init(&ctx->conns);
    sl_dlist_init(&ctx->lru);
    ctx->fdb = NULL;
    ctx->stats = NULL;
    ctx->conn_free = SL_FREELIST_INIT(struct sl_hconn, spare);
    ctx->rq_free = SL_FREELIST_INIT(struct sl_hreq, spare);
    ctx->fdlog = (struct sl_fdbudget_log){0};
    ctx->draining = false;
}

static struct sl_hconn *conn_of(struct sl_dlink *l)
{
    return sl_dlist_entry(l, struct sl_hconn, link);
}

void sl_proxy_ctx_fini(struct sl_proxy_ctx *ctx)
{
    while (!sl_dlist_empty(&ctx->conns))
        sl_hconn_abort(conn_of(sl_dlist_first(&ctx->conns)), SLUICE_OUTCOME_NEUTRAL);
    sl_freelist_fini(&ctx->conn_free);
    sl_freelist_fini(&ctx->rq_free);
}

void sl_proxy_trim(struct sl_proxy_ctx *ctx)
{
    sl_freelist_trim(&ctx->conn_free, KEEP_FREE_CONNS);
    sl_freelist_trim(&ctx->rq_free, KEEP_FREE_REQS);
}

void sl_proxy_accept(struct sl_proxy_ctx *ctx, const struct sl_listener_rt *ln,
                     struct sl_stats_listener *ls, int fd, const struct sockaddr *peer,
                     socklen_t peerlen)
{
    struct sl_hconn *c = sl_hconn_new(ctx);

    (void)peerlen;
    if (!c) {
        close(fd);
        return;
    }
    c->cw.cb = sl_hconn_on_client;
    c->cw.data = c;
    c->cw.fd = -1;
    sl_timer_init(&c->timer, sl_hconn_on_timer, c);
    c->header_timeout_ms =
        ln->header_timeout_ms ? ln->header_timeout_ms : SL_DEFAULT_HEADER_TIMEOUT_MS;
    c->idle_timeout_ms =
        ln->idle_timeout_ms ? ln->idle_timeout_ms : SL_DEFAULT_CLIENT_IDLE_TIMEOUT_MS;
    c->max_head = ln->max_head ? ln->max_head : SL_DEFAULT_MAX_HEADER_SIZE;
    c->body_timeout_ms = ln->body_timeout_ms ? ln->body_timeout_ms : SL_DEFAULT_BODY_TIMEOUT_MS;
    c->min_body_rate = ln->min_body_rate;
    c->max_body_size = ln->max_body_size;
    if (c->max_head > ctx->bufs->size - 1024)
        c->max_head = ctx->bufs->size - 1024;
    c->client_ip_len = (uint8_t)sl_sock_ip_str(peer, c->client_ip, sizeof(c->client_ip));
    if (sl_loop_add(ctx->loop, &c->cw, fd, SL_EV_READ | SL_EV_RDHUP) < 0) {
        close(fd);
        sl_hconn_unused(c);
        return;
    }
    c->ls = ls;
    sl_hconn_link(c);
    sl_hconn_start_head(c);
}

bool sl_proxy_evict_idle(struct sl_proxy_ctx *ctx)
{
    uint64_t now = sl_loop_now_ms(ctx->loop);
    struct sl_dlink *l;

    while ((l = sl_dlist_last(&ctx->lru)) != NULL) {
        struct sl_hconn *c = sl_dlist_entry(l, struct sl_hconn, lru);

        if (c->phase != SL_PH_HEAD || c->in_request) {
            /* Busy since it was last seen idle: not a candidate. */
            sl_dlist_unlink(&ctx->lru, l);
            c->on_lru = false;
            continue;
        }
        /* Ordered by activity: every other one is younger still. */
        if (now - c->active_ms < SL_PROXY_EVICT_QUIET_MS)
            return false;
        sl_hconn_close(c);
        return true;
    }
    return false;
}

void sl_proxy_drain(struct sl_proxy_ctx *ctx)
{
    struct sl_dlink *l = sl_dlist_first(&ctx->conns), *next;

    ctx->draining = true;
    for (; l; l = next) {
        struct sl_hconn *c = conn_of(l);

        next = l->next;
        if (c->phase == SL_PH_HEAD && !c->got_bytes && (!c->rq || c->rq->cout.n == 0))
            sl_hconn_close(c);
    }
}
