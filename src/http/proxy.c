/* The client side of the HTTP proxy: accept, read and parse request heads,
 * route, stream request bodies, write responses, keep-alive and
 * pipelining, timeouts and the end of each request. The backend side is in
 * proxy_backend.c. */
#include "http/proxy.h"

#include <sys/socket.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/view.h"
#include "http/proxy_int.h"
#include "net/sock.h"

#define KEEP_FREE_CONNS 4096

static void on_client(struct sl_loop *l, struct sl_watcher *w, uint32_t events);
static void on_timer(struct sl_timer *t, void *arg);
static void start_head(struct sl_hconn *c);
static void close_client(struct sl_hconn *c);

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
    ctx->nconns = 0;
    ctx->draining = false;
}

static void put_bufs(struct sl_hconn *c)
{
    struct sl_buf_pool *p = c->ctx->bufs;

    sl_buf_put(p, c->ibuf);
    sl_buf_put(p, c->rbuf);
    sl_buf_put(p, c->hbuf);
    c->ibuf = c->rbuf = c->hbuf = NULL;
}

/* The last step of every connection: c goes to the free list (never
 * free()d here, so a caller up the stack may still test c->phase). */
static void conn_close(struct sl_hconn *c)
{
    struct sl_proxy_ctx *ctx = c->ctx;
    int fd = c->cw.fd;

    sl_loop_timer_stop(ctx->loop, &c->timer);
    sl_proxy_drop_backend(c, false);
    if (c->be) {
        sluice_backend_release(c->be, SLUICE_OUTCOME_NEUTRAL, 0);
        c->be = NULL;
    }
    if (c->table) {
        sl_router_release(c->table);
        c->table = NULL;
    }
    sl_loop_forget(ctx->loop, &c->cw);
    if (fd >= 0)
        close(fd);
    put_bufs(c);
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
}

void sl_proxy_trim(struct sl_proxy_ctx *ctx)
{
    while (ctx->nfree > KEEP_FREE_CONNS) {
        struct sl_hconn *c = ctx->free;

        ctx->free = c->next;
        ctx->nfree--;
        free(c);
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
    c->cw.cb = on_client;
    c->cw.data = c;
    c->cw.fd = -1;
    sl_timer_init(&c->timer, on_timer, c);
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
    start_head(c);
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
    uint32_t ev = c->cout.n ? SL_EV_WRITE : 0;
    bool room = !c->ibuf || sl_buf_room(c->ibuf) > 0;

    switch (c->phase) {
    case SL_PH_HEAD:
        ev |= SL_EV_READ;
        break;
    case SL_PH_CONNECT:
    case SL_PH_FORWARD:
        if (!c->client_eof && room && c->bout.n == 0)
            ev |= SL_EV_READ;
        break;
    case SL_PH_TUNNEL:
        if (c->bout.n == 0)
            ev |= SL_EV_READ;
        break;
    case SL_PH_LINGER:
        ev |= SL_EV_READ;
        break;
    case SL_PH_CLOSING:
    case SL_PH_DEAD:
        break;
    }
    if (c->cw.fd >= 0)
        sl_loop_mod(l, &c->cw, ev | (ev & SL_EV_READ ? SL_EV_RDHUP : 0));
    if (c->up) {
        if (c->phase == SL_PH_CONNECT)
            ev = SL_EV_READ | SL_EV_WRITE;
        else
            ev = (c->bout.n ? SL_EV_WRITE : 0) | (c->cout.n == 0 ? SL_EV_READ : 0);
        sl_loop_mod(l, &c->up->w, ev);
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
    return sl_out_flush(&c->cout, c->cw.fd);
}

static void log_request(struct sl_hconn *c)
{
    struct sl_loop *l = c->ctx->loop;
    struct sl_access_rec r;

    if (!sl_access_log_on())
        return;
    r.wall_s = l->wall_s;
    r.wall_ms = l->wall_ms;
    r.client_ip = c->client_ip;
    r.method = c->method;
    r.method_len = c->method_len;
    r.path = c->target;
    r.path_len = c->target_len;
    r.status = c->status;
    r.bytes = c->bytes_out;
    r.backend = c->be_name[0] ? c->be_name : NULL;
    r.backend_name = c->be_name[0] && c->be_label[0] ? c->be_label : NULL;
    r.duration_us = (sl_loop_now_ns(l) - c->start_ns) / 1000;
    sl_access_log_add(c->ctx->alog, &r);
}

void sl_hconn_finish(struct sl_hconn *c, sluice_outcome_t outcome)
{
    struct sl_proxy_ctx *ctx = c->ctx;

    if (c->be) {
        uint64_t lat = outcome == SLUICE_OUTCOME_OK ? sl_loop_now_ns(ctx->loop) - c->sent_ns : 0;

        sluice_backend_release(c->be, outcome, lat);
        c->be = NULL;
    }
    if (c->up)
        sl_proxy_drop_backend(c, outcome == SLUICE_OUTCOME_OK && c->resp_ka && c->req_done &&
                                     !c->be_dirty && c->bout.n == 0);
    log_request(c);
    if (c->table) {
        sl_router_release(c->table);
        c->table = NULL;
    }
    c->served_one = true;
    if (!c->client_ka || !c->req_done || c->client_eof || ctx->draining)
        c->close_after = true;
    c->linger = c->in_request ? !c->req_done : c->got_bytes;
    c->in_request = false;
    if (c->cout.n > 0) {
        if (c->close_after)
            c->phase = SL_PH_CLOSING;
        else
            c->next_after = true;
        sl_hconn_set_deadline(c, c->idle_timeout_ms);
        sl_hconn_update_events(c);
        return;
    }
    if (c->close_after) {
        close_client(c);
        return;
    }
    start_head(c);
}

#define LINGER_MS 2000

/* Closes after a response that did not read all the client sent (an error
 * before or in the body). close() with unread input sends a reset, which
 * can destroy the response before the client reads it; so shut our side,
 * discard input until the client closes or LINGER_MS pass, then close. */
static void close_client(struct sl_hconn *c)
{
    if (!c->linger || c->client_eof || shutdown(c->cw.fd, SHUT_WR) < 0) {
        conn_close(c);
        return;
    }
    c->phase = SL_PH_LINGER;
    sl_hconn_set_deadline(c, LINGER_MS);
    sl_hconn_update_events(c);
}

static void linger_read(struct sl_hconn *c)
{
    char sink[4096];
    ssize_t n = read(c->cw.fd, sink, sizeof(sink));

    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR))
        conn_close(c);
}

void sl_hconn_abort(struct sl_hconn *c, sluice_outcome_t outcome)
{
    if (c->be) {
        sluice_backend_release(c->be, outcome, 0);
        c->be = NULL;
    }
    if (c->in_request && c->status == 0)
        c->status = 499; /* nginx's "client closed request" (or cut) */
    if (c->in_request)
        log_request(c);
    conn_close(c);
}

static void reset_request(struct sl_hconn *c)
{
    c->in_request = false;
    c->got_bytes = false;
    c->head_len = 0;
    c->method_id = SL_METHOD_OTHER;
    c->method = c->target = c->host = NULL;
    c->method_len = c->target_len = c->host_len = 0;
    c->req_done = false;
    c->route = NULL;
    c->nskip = 0;
    c->tries = 0;
    c->reused = c->retried_stale = c->sent_any = false;
    c->be_name[0] = '\0';
    c->status = 0;
    c->resp_head_done = c->resp_done = c->resp_ka = c->resp_got_any = c->be_dirty = false;
    c->client_ka = false;
    c->bytes_out = 0;
    c->start_ns = sl_loop_now_ns(c->ctx->loop);
}

/* Between requests: keep only the bytes of pipelined requests, give idle
 * buffers back, and parse at once if a request is already waiting. */
static void start_head(struct sl_hconn *c)
{
    struct sl_proxy_ctx *ctx = c->ctx;
    struct sl_buf *ib = c->ibuf;

    c->phase = SL_PH_HEAD;
    c->next_after = false;
    reset_request(c);
    if (ib) {
        ib->start = c->ioff < ib->end ? c->ioff : ib->end;
        sl_buf_compact(ib);
    }
    c->ioff = 0;
    sl_buf_put(ctx->bufs, c->rbuf);
    c->rbuf = NULL;
    sl_buf_put(ctx->bufs, c->hbuf);
    c->hbuf = NULL;
    if (ib && sl_buf_len(ib) == 0) {
        sl_buf_put(ctx->bufs, ib);
        c->ibuf = NULL;
    }
    if (c->ibuf) {
        c->got_bytes = true;
        sl_hconn_set_deadline(c, c->header_timeout_ms);
        sl_proxy_try_parse(c);
        return;
    }
    sl_hconn_set_deadline(c, c->served_one ? c->idle_timeout_ms : c->header_timeout_ms);
    sl_hconn_update_events(c);
}

/* Reads from the client into ibuf: > 0 bytes, 0 EOF, -1 nothing now,
 * -2 error or no buffer. */
static ssize_t client_read(struct sl_hconn *c)
{
    struct sl_buf *b = c->ibuf;
    ssize_t n;

    if (!b) {
        b = c->ibuf = sl_buf_get(c->ctx->bufs);
        if (!b)
            return -2;
    }
    if (sl_buf_room(b) == 0)
        return -1;
    do {
        n = read(c->cw.fd, b->data + b->end, sl_buf_room(b));
    } while (n < 0 && errno == EINTR);
    if (n > 0) {
        b->end += (uint32_t)n;
        return n;
    }
    if (n == 0)
        return 0;
    return errno == EAGAIN || errno == EWOULDBLOCK ? -1 : -2;
}

void sl_hconn_pump_request(struct sl_hconn *c)
{
    struct sl_buf *b = c->ibuf;
    uint32_t avail;
    size_t n = 0;
    int r;

    if (c->req_done || !b || !c->up || c->phase != SL_PH_FORWARD)
        return;
    avail = b->end - c->ioff;
    /* No body bytes yet (say, the client waits for 100 Continue): the head
     * queued by send_request still has to go. */
    if (avail == 0 || c->bout.n >= SL_OUT_IOV)
        goto flush;
    if (c->req_body == SL_BODY_LENGTH) {
        n = avail < c->req_left ? avail : (size_t)c->req_left;
        c->req_left -= n;
        if (c->req_left == 0)
            c->req_done = true;
    } else if (c->req_body == SL_BODY_CHUNKED) {
        r = sl_chunked_feed(&c->req_chunk, b->data + c->ioff, avail, &n);
        if (r == SL_CHUNKED_BAD) {
            sl_proxy_error(c, 400, "malformed chunked request body", true);
            return;
        }
        if (r == SL_CHUNKED_DONE)
            c->req_done = true;
    }
    sl_out_add(&c->bout, b->data + c->ioff, n);
    c->ioff += (uint32_t)n;
    if (c->req_done && !c->resp_got_any)
        sl_hconn_set_deadline(c, sl_proxy_response_timeout(c));
flush:
    if (c->bout.n == 0)
        return;
    r = sl_proxy_flush_backend(c);
    if (r < 0) {
        sl_proxy_backend_error(c);
        return;
    }
    if (r > 0)
        sl_proxy_backend_flushed(c);
    else
        sl_hconn_update_events(c);
}

/* The client sent more while a request is being forwarded: body bytes,
 * tunnel bytes, or the next pipelined request (kept for later). */
static void client_more(struct sl_hconn *c)
{
    ssize_t n = client_read(c);

    if (n == -1) {
        sl_hconn_update_events(c);
        return;
    }
    if (n == 0 || n == -2) {
        if (c->phase == SL_PH_TUNNEL || !c->req_done || n == -2) {
            sl_hconn_abort(c, SLUICE_OUTCOME_NEUTRAL);
            return;
        }
        /* Half-close after a complete request: answer it, then close. */
        c->client_eof = true;
        sl_hconn_update_events(c);
        return;
    }
    if (c->phase == SL_PH_TUNNEL) {
        sl_out_add(&c->bout, c->ibuf->data + c->ioff, c->ibuf->end - c->ioff);
        c->ioff = c->ibuf->end;
        sl_hconn_set_deadline(c, sl_proxy_idle_timeout(c));
        n = sl_proxy_flush_backend(c);
        if (n < 0) {
            sl_hconn_abort(c, SLUICE_OUTCOME_NEUTRAL);
            return;
        }
        if (n > 0)
            sl_proxy_backend_flushed(c);
        else
            sl_hconn_update_events(c);
        return;
    }
    if (!c->req_done && c->phase == SL_PH_FORWARD) {
        sl_hconn_set_deadline(c, sl_proxy_idle_timeout(c));
        sl_hconn_pump_request(c);
        return;
    }
    sl_hconn_update_events(c);
}

static void client_head(struct sl_hconn *c)
{
    ssize_t n = client_read(c);

    if (n == -1) {
        if (sl_buf_room(c->ibuf) == 0)
            sl_proxy_error(c, 431, "request head too large", true);
        return;
    }
    if (n <= 0) {
        /* EOF or error before a full head: nobody to answer. */
        conn_close(c);
        return;
    }
    if (!c->got_bytes) {
        c->got_bytes = true;
        c->start_ns = sl_loop_now_ns(c->ctx->loop);
        sl_hconn_set_deadline(c, c->header_timeout_ms);
    }
    sl_proxy_try_parse(c);
}

/* After cout drained. */
static void client_flushed(struct sl_hconn *c)
{
    if (c->phase == SL_PH_CLOSING) {
        close_client(c);
        return;
    }
    if (c->next_after) {
        start_head(c);
        return;
    }
    if (c->phase == SL_PH_FORWARD || c->phase == SL_PH_TUNNEL) {
        sl_proxy_backend_resume(c);
        return;
    }
    sl_hconn_update_events(c);
}

static void on_client(struct sl_loop *l, struct sl_watcher *w, uint32_t events)
{
    struct sl_hconn *c = w->data;

    (void)l;
    if (c->cout.n > 0 && (events & (SL_EV_WRITE | SL_EV_ERROR | SL_EV_HUP))) {
        int r = sl_hconn_flush_client(c);

        if (r < 0) {
            sl_hconn_abort(c, SLUICE_OUTCOME_NEUTRAL);
            return;
        }
        if (r > 0) {
            client_flushed(c);
            if (c->phase == SL_PH_DEAD || c->cw.fd < 0)
                return;
        }
    }
    if (!(events & (SL_EV_READ | SL_EV_ERROR | SL_EV_HUP | SL_EV_RDHUP)))
        return;
    if (!(c->cw.events & SL_EV_READ)) {
        /* Not reading now (backpressure, closing). epoll reports ERR and
         * HUP regardless of the mask, and level-triggered it would report
         * them again every turn: the client is gone, so end it here. */
        if (events & (SL_EV_ERROR | SL_EV_HUP))
            sl_hconn_abort(c, SLUICE_OUTCOME_NEUTRAL);
        return;
    }
    if (c->phase == SL_PH_HEAD)
        client_head(c);
    else if (c->phase == SL_PH_LINGER)
        linger_read(c);
    else
        client_more(c);
}

static void on_timer(struct sl_timer *t, void *arg)
{
    struct sl_hconn *c = arg;
    struct sl_loop *l = c->ctx->loop;

    (void)t;
    if (sl_loop_now_ms(l) < c->deadline_ms) {
        sl_timer_set(&l->timers, &c->timer, c->deadline_ms);
        return;
    }
    switch (c->phase) {
    case SL_PH_HEAD:
        if (c->got_bytes || !c->served_one)
            sl_proxy_error(c, 408, "request head not received in time", true);
        else
            conn_close(c); /* idle keep-alive connection */
        break;
    case SL_PH_CONNECT:
    case SL_PH_FORWARD:
        sl_proxy_backend_timeout(c);
        break;
    case SL_PH_TUNNEL:
    case SL_PH_CLOSING:
        sl_hconn_abort(c, SLUICE_OUTCOME_NEUTRAL);
        break;
    case SL_PH_LINGER:
        conn_close(c);
        break;
    case SL_PH_DEAD:
        break;
    }
}

void sl_proxy_drain(struct sl_proxy_ctx *ctx)
{
    struct sl_hconn *c = ctx->all;

    ctx->draining = true;
    while (c) {
        struct sl_hconn *next = c->next;

        if (c->phase == SL_PH_HEAD && !c->got_bytes && c->cout.n == 0)
            conn_close(c);
        c = next;
    }
}
