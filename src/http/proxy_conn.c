/* A client connection's resources, below the exchange core: the free
 * lists of connection and request structs (no malloc per request once
 * warm), attaching the request state when a request starts and giving it
 * back when the connection goes idle, the lazy deadline timer, and the
 * epoll masks that follow from the phase and the queues. It reads the
 * phase, never changes it. */
#include "http/proxy_int.h"

struct sl_hconn *sl_hconn_new(struct sl_proxy_ctx *ctx)
{
    struct sl_hconn *c = sl_freelist_get_zeroed(&ctx->conn_free);

    if (c)
        c->ctx = ctx;
    return c;
}

void sl_hconn_link(struct sl_hconn *c)
{
    sl_dlist_push(&c->ctx->conns, &c->link);
    if (c->ls)
        sl_counter_add(&c->ls->active, 1);
}

void sl_hconn_unused(struct sl_hconn *c)
{
    sl_freelist_put(&c->ctx->conn_free, c);
}

void sl_hconn_recycle(struct sl_hconn *c)
{
    if (c->on_lru)
        sl_dlist_unlink(&c->ctx->lru, &c->lru);
    c->on_lru = false;
    sl_dlist_unlink(&c->ctx->conns, &c->link);
    sl_hconn_unused(c);
}

struct sl_hreq *sl_hconn_attach(struct sl_hconn *c)
{
    struct sl_proxy_ctx *ctx = c->ctx;
    struct sl_hreq *q = c->rq;

    if (q)
        return q;
    q = sl_freelist_get_zeroed(&ctx->rq_free);
    if (!q)
        return NULL;
    q->method_id = SL_METHOD_OTHER;
    /* From when the connection began waiting for this head, as a 408's
     * log line says; the first byte of a head resets it. */
    q->start_ns = sl_loop_now_ns(ctx->loop) -
                  (uint64_t)((uint32_t)sl_loop_now_ms(ctx->loop) - c->wait_ms) * 1000000u;
    c->rq = q;
    return q;
}

void sl_hconn_detach(struct sl_hconn *c)
{
    struct sl_proxy_ctx *ctx = c->ctx;
    struct sl_hreq *q = c->rq;

    if (!q)
        return;
    sl_proxy_drop_backend(c, false);
    sl_attempt_release(&c->rq->att, SLUICE_OUTCOME_NEUTRAL, 0);
    if (q->table)
        sl_router_release(q->table);
    sl_buf_put(ctx->bufs, q->rbuf);
    sl_buf_put(ctx->bufs, q->hbuf);
    c->rq = NULL;
    sl_freelist_put(&ctx->rq_free, q);
}

void sl_hconn_reuse_request(struct sl_hconn *c)
{
    struct sl_proxy_ctx *ctx = c->ctx;
    struct sl_hreq *q = c->rq;

    sl_buf_put(ctx->bufs, q->rbuf);
    q->rbuf = NULL;
    sl_buf_put(ctx->bufs, q->hbuf);
    q->hbuf = NULL;
    q->head_len = 0;
    q->method_id = SL_METHOD_OTHER;
    q->method = q->target = q->host = NULL;
    q->method_len = q->target_len = q->host_len = 0;
    q->req_done = false;
    q->route = NULL;
    sl_attempt_init(&q->att, 0); /* the backend was released when the response ended */
    q->reused = q->retried_stale = q->sent_any = q->body_taken = false;
    q->status = 0;
    q->resp_head_done = q->resp_done = q->resp_ka = q->resp_got_any = q->be_dirty = false;
    q->client_ka = false;
    q->bytes_out = 0;
    q->start_ns = sl_loop_now_ns(ctx->loop);
}

void sl_hconn_arm_timer(struct sl_hconn *c)
{
    struct sl_loop *l = c->ctx->loop;
    uint64_t when = c->deadline_ms;

    if (c->rq && c->rq->rate_next_ms && c->rq->rate_next_ms < when)
        when = c->rq->rate_next_ms;
    if (!sl_timer_armed(&c->timer) || c->timer.when_ms > when)
        sl_timer_set(&l->timers, &c->timer, when);
}

void sl_hconn_set_deadline(struct sl_hconn *c, uint32_t ms)
{
    struct sl_loop *l = c->ctx->loop;
    uint64_t when = sl_loop_now_ms(l) + ms;

    c->deadline_ms = when;
    /* Lazy: a later deadline leaves the heap alone; the timer fires at the
     * old time, sees the new deadline and re-arms. */
    if (!sl_timer_armed(&c->timer) || c->timer.when_ms > when)
        sl_timer_set(&l->timers, &c->timer, when);
}

/* Keeps ctx->lru in order of activity. Every turn of a connection's
 * exchange ends here (or in a close), so a client waiting for a head
 * moves to the front when it starts waiting and whenever bytes of its
 * head arrive; a busy one leaves the list. O(1), no allocation. */
static void lru_touch(struct sl_hconn *c)
{
    struct sl_proxy_ctx *ctx = c->ctx;

    if (c->on_lru)
        sl_dlist_unlink(&ctx->lru, &c->lru);
    c->on_lru = c->phase == SL_PH_HEAD && !c->in_request;
    if (c->on_lru) {
        sl_dlist_push(&ctx->lru, &c->lru);
        c->active_ms = sl_loop_now_ms(ctx->loop);
    }
}

void sl_hconn_update_events(struct sl_hconn *c)
{
    struct sl_loop *l = c->ctx->loop;
    struct sl_hreq *q = c->rq;
    uint32_t ev = q && q->cout.n ? SL_EV_WRITE : 0;
    bool room = !c->ibuf || sl_buf_room(c->ibuf) > 0;
    bool bout_empty = !q || q->bout.n == 0; /* no request state: nothing queued */

    switch (c->phase) {
    case SL_PH_HEAD:
    case SL_PH_BODY:
        ev |= SL_EV_READ;
        break;
    case SL_PH_CONNECT:
    case SL_PH_FORWARD:
        if (!c->client_eof && room && bout_empty)
            ev |= SL_EV_READ;
        break;
    case SL_PH_TUNNEL:
        if (bout_empty && !c->client_eof)
            ev |= SL_EV_READ;
        break;
    case SL_PH_LINGER:
        ev |= SL_EV_READ;
        break;
    case SL_PH_FLUSH: /* pipelined bytes wait in the kernel until the next head */
    case SL_PH_CLOSING:
    case SL_PH_DEAD:
        break;
    }
    lru_touch(c);
    if (c->cw.fd >= 0)
        sl_loop_mod(l, &c->cw, ev | (ev & SL_EV_READ ? SL_EV_RDHUP : 0));
    if (q && q->up) {
        if (c->phase == SL_PH_CONNECT)
            ev = SL_EV_READ | SL_EV_WRITE;
        else
            ev = (q->bout.n ? SL_EV_WRITE : 0) | (q->cout.n == 0 ? SL_EV_READ : 0);
        sl_loop_mod(l, &q->up->w, ev);
    }
}
