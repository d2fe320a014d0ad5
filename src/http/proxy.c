/* The HTTP proxy's connections: the per-worker context, accept, events
 * and deadlines, writing to the client, the end of each request (outcome,
 * access log, keep-alive or close) and graceful draining. Reading requests
 * is in proxy_client.c, the backend side in proxy_backend.c and
 * proxy_response.c. */
#include "http/proxy.h"

#include <sys/socket.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/backend.h"
#include "http/proxy_int.h"
#include "net/sock.h"

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

const struct sl_upstream_ops sl_proxy_upstream_ops = {backend_ref, backend_unref};

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
    ctx->all = NULL;
    ctx->free = NULL;
    ctx->nfree = 0;
    ctx->rq_free = NULL;
    ctx->nrq_free = 0;
    ctx->nconns = 0;
    ctx->draining = false;
}

struct sl_hreq *sl_hconn_attach(struct sl_hconn *c)
{
    struct sl_proxy_ctx *ctx = c->ctx;
    struct sl_hreq *q = c->rq;

    if (q)
        return q;
    q = ctx->rq_free;
    if (q) {
        ctx->rq_free = q->next_free;
        ctx->nrq_free--;
    } else {
        q = malloc(sizeof(*q));
        if (!q)
            return NULL;
    }
    memset(q, 0, sizeof(*q));
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
    if (q->be)
        sluice_backend_release(q->be, SLUICE_OUTCOME_NEUTRAL, 0);
    if (q->table)
        sl_router_release(q->table);
    sl_buf_put(ctx->bufs, q->rbuf);
    sl_buf_put(ctx->bufs, q->hbuf);
    c->rq = NULL;
    q->next_free = ctx->rq_free;
    ctx->rq_free = q;
    ctx->nrq_free++;
}

/* The last step of every connection: c goes to the free list (never
 * free()d here, so a caller up the stack may still test c->phase). */
void sl_hconn_close(struct sl_hconn *c)
{
    struct sl_proxy_ctx *ctx = c->ctx;
    int fd = c->cw.fd;

    sl_loop_timer_stop(ctx->loop, &c->timer);
    sl_hconn_detach(c);
    sl_loop_forget(ctx->loop, &c->cw);
    if (fd >= 0)
        close(fd);
    sl_buf_put(ctx->bufs, c->ibuf);
    c->ibuf = NULL;
    if (c->prev)
        c->prev->next = c->next;
    else
        ctx->all = c->next;
    if (c->next)
        c->next->prev = c->prev;
    c->phase = SL_PH_DEAD;
    c->prev = NULL;
    c->next = ctx->free;
    ctx->free = c;
    ctx->nfree++;
    ctx->nconns--;
}

void sl_proxy_ctx_fini(struct sl_proxy_ctx *ctx)
{
    while (ctx->all)
        sl_hconn_abort(ctx->all, SLUICE_OUTCOME_NEUTRAL);
    while (ctx->free) {
        struct sl_hconn *c = ctx->free;

        ctx->free = c->next;
        free(c);
    }
    ctx->nfree = 0;
    while (ctx->rq_free) {
        struct sl_hreq *q = ctx->rq_free;

        ctx->rq_free = q->next_free;
        free(q);
    }
    ctx->nrq_free = 0;
}

void sl_proxy_trim(struct sl_proxy_ctx *ctx)
{
    while (ctx->nfree > KEEP_FREE_CONNS) {
        struct sl_hconn *c = ctx->free;

        ctx->free = c->next;
        ctx->nfree--;
        free(c);
    }
    while (ctx->nrq_free > KEEP_FREE_REQS) {
        struct sl_hreq *q = ctx->rq_free;

        ctx->rq_free = q->next_free;
        ctx->nrq_free--;
        free(q);
    }
}

void sl_proxy_accept(struct sl_proxy_ctx *ctx, const struct sl_listener_rt *ln, int fd,
                     const struct sockaddr *peer, socklen_t peerlen)
{
    struct sl_hconn *c = ctx->free;

    (void)peerlen;
    if (c) {
        ctx->free = c->next;
        ctx->nfree--;
    } else {
        c = malloc(sizeof(*c));
        if (!c) {
            close(fd);
            return;
        }
    }
    memset(c, 0, sizeof(*c));
    c->ctx = ctx;
    c->cw.cb = sl_hconn_on_client;
    c->cw.data = c;
    c->cw.fd = -1;
    sl_timer_init(&c->timer, sl_hconn_on_timer, c);
    c->header_timeout_ms = ln->header_timeout_ms ? ln->header_timeout_ms : 10000;
    c->idle_timeout_ms = ln->idle_timeout_ms ? ln->idle_timeout_ms : 60000;
    c->max_head = ln->max_head ? ln->max_head : 16384;
    if (c->max_head > ctx->bufs->size - 1024)
        c->max_head = ctx->bufs->size - 1024;
    c->client_ip_len = (uint8_t)sl_sock_ip_str(peer, c->client_ip, sizeof(c->client_ip));
    if (sl_loop_add(ctx->loop, &c->cw, fd, SL_EV_READ | SL_EV_RDHUP) < 0) {
        close(fd);
        c->next = ctx->free;
        ctx->free = c;
        ctx->nfree++;
        return;
    }
    c->next = ctx->all;
    c->prev = NULL;
    if (ctx->all)
        ctx->all->prev = c;
    ctx->all = c;
    ctx->nconns++;
    sl_hconn_start_head(c);
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

void sl_hconn_update_events(struct sl_hconn *c)
{
    struct sl_loop *l = c->ctx->loop;
    struct sl_hreq *q = c->rq;
    uint32_t ev = q && q->cout.n ? SL_EV_WRITE : 0;
    bool room = !c->ibuf || sl_buf_room(c->ibuf) > 0;
    bool bout_empty = !q || q->bout.n == 0; /* no request state: nothing queued */

    switch (c->phase) {
    case SL_PH_HEAD:
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

/* Writes <o> to <fd> with one sendmsg; 1 all sent, 0 blocked, -1 error. */
int sl_out_flush(struct sl_out *o, int fd)
{
    while (o->n > 0) {
        struct msghdr mh = {.msg_iov = o->iov, .msg_iovlen = (size_t)o->n};
        ssize_t n = sendmsg(fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
        int i = 0;

        if (n < 0) {
            if (errno == EINTR)
                continue;
            return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -1;
        }
        while (i < o->n && (size_t)n >= o->iov[i].iov_len)
            n -= (ssize_t)o->iov[i++].iov_len;
        if (i < o->n) {
            o->iov[i].iov_base = (char *)o->iov[i].iov_base + n;
            o->iov[i].iov_len -= (size_t)n;
        }
        if (i > 0) {
            memmove(o->iov, o->iov + i, (size_t)(o->n - i) * sizeof(o->iov[0]));
            o->n -= i;
        }
    }
    return 1;
}

int sl_hconn_flush_client(struct sl_hconn *c)
{
    return sl_out_flush(&c->rq->cout, c->cw.fd);
}

static void log_request(struct sl_hconn *c)
{
    struct sl_loop *l = c->ctx->loop;
    const struct sl_hreq *q = c->rq;
    struct sl_access_rec r;

    if (!sl_access_log_on())
        return;
    r.wall_s = l->wall_s;
    r.wall_ms = l->wall_ms;
    r.client_ip = c->client_ip;
    r.method = q->method;
    r.method_len = q->method_len;
    r.path = q->target;
    r.path_len = q->target_len;
    r.status = q->status;
    r.bytes = q->bytes_out;
    r.backend = q->be_name[0] ? q->be_name : NULL;
    r.backend_name = q->be_name[0] && q->be_label[0] ? q->be_label : NULL;
    r.duration_us = (sl_loop_now_ns(l) - q->start_ns) / 1000;
    sl_access_log_add(c->ctx->alog, &r);
}

void sl_hconn_finish(struct sl_hconn *c, sluice_outcome_t outcome)
{
    struct sl_proxy_ctx *ctx = c->ctx;
    struct sl_hreq *q = c->rq;

    if (q->be) {
        uint64_t lat = outcome == SLUICE_OUTCOME_OK ? sl_loop_now_ns(ctx->loop) - q->sent_ns : 0;

        sluice_backend_release(q->be, outcome, lat);
        q->be = NULL;
    }
    if (q->up)
        sl_proxy_drop_backend(c, outcome == SLUICE_OUTCOME_OK && q->resp_ka && q->req_done &&
                                     !q->be_dirty && q->bout.n == 0);
    log_request(c);
    if (q->table) {
        sl_router_release(q->table);
        q->table = NULL;
    }
    c->served_one = true;
    if (!q->client_ka || !q->req_done || c->client_eof || ctx->draining)
        c->close_after = true;
    c->linger = c->in_request ? !q->req_done : c->got_bytes;
    c->in_request = false;
    if (q->cout.n > 0) {
        /* Either way the request is over (backend released, table
         * dropped): the phase must say so, or a timer would take it for a
         * request still waiting on its backend. */
        if (c->close_after) {
            c->phase = SL_PH_CLOSING;
        } else {
            c->phase = SL_PH_FLUSH;
            c->next_after = true;
        }
        sl_hconn_set_deadline(c, c->idle_timeout_ms);
        sl_hconn_update_events(c);
        return;
    }
    if (c->close_after) {
        sl_hconn_close_client(c);
        return;
    }
    sl_hconn_start_head(c);
}

#define LINGER_MS 2000

/* Closes after a response that did not read all the client sent (an error
 * before or in the body). close() with unread input sends a reset, which
 * can destroy the response before the client reads it; so shut our side,
 * discard input until the client closes or LINGER_MS pass, then close. */
void sl_hconn_close_client(struct sl_hconn *c)
{
    if (!c->linger || c->client_eof || shutdown(c->cw.fd, SHUT_WR) < 0) {
        sl_hconn_close(c);
        return;
    }
    c->phase = SL_PH_LINGER;
    sl_hconn_set_deadline(c, LINGER_MS);
    sl_hconn_update_events(c);
}

void sl_hconn_linger_read(struct sl_hconn *c)
{
    char sink[4096];
    ssize_t n = read(c->cw.fd, sink, sizeof(sink));

    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR))
        sl_hconn_close(c);
}

void sl_hconn_abort(struct sl_hconn *c, sluice_outcome_t outcome)
{
    struct sl_hreq *q = c->rq;

    if (q && q->be) {
        sluice_backend_release(q->be, outcome, 0);
        q->be = NULL;
    }
    if (q && c->in_request) {
        if (q->status == 0)
            q->status = 499; /* nginx's "client closed request" (or cut) */
        log_request(c);
    }
    sl_hconn_close(c);
}

void sl_proxy_drain(struct sl_proxy_ctx *ctx)
{
    struct sl_hconn *c = ctx->all;

    ctx->draining = true;
    while (c) {
        struct sl_hconn *next = c->next;

        if (c->phase == SL_PH_HEAD && !c->got_bytes && (!c->rq || c->rq->cout.n == 0))
            sl_hconn_close(c);
        c = next;
    }
}
