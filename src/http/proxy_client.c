/* The client side of the HTTP proxy: reading and parsing request heads,
 * streaming request bodies, what happens after a response drained, the
 * client's events and the connection timer. */
#include <sys/socket.h>

#include <errno.h>
#include <unistd.h>

#include "http/proxy_int.h"

/* Readies the attached request state for the next pipelined request. */
static void reset_request(struct sl_hconn *c)
{
    struct sl_hreq *q = c->rq;

    q->head_len = 0;
    q->method_id = SL_METHOD_OTHER;
    q->method = q->target = q->host = NULL;
    q->method_len = q->target_len = q->host_len = 0;
    q->req_done = false;
    q->route = NULL;
    q->nskip = 0;
    q->tries = 0;
    q->reused = q->retried_stale = q->sent_any = q->body_taken = false;
    q->be_name[0] = '\0';
    q->status = 0;
    q->resp_head_done = q->resp_done = q->resp_ka = q->resp_got_any = q->be_dirty = false;
    q->client_ka = false;
    q->bytes_out = 0;
    q->start_ns = sl_loop_now_ns(c->ctx->loop);
}

/* Between requests: keep only the bytes of pipelined requests, give the
 * request state and idle buffers back, and parse at once if a request is
 * already waiting. */
void sl_hconn_start_head(struct sl_hconn *c)
{
    struct sl_proxy_ctx *ctx = c->ctx;
    struct sl_buf *ib = c->ibuf;

    c->phase = SL_PH_HEAD;
    c->wait_ms = (uint32_t)sl_loop_now_ms(ctx->loop);
    c->next_after = false;
    c->in_request = false;
    c->got_bytes = false;
    if (ib) {
        ib->start = c->ioff < ib->end ? c->ioff : ib->end;
        sl_buf_compact(ib);
    }
    c->ioff = 0;
    if (ib && sl_buf_len(ib) == 0) {
        sl_buf_put(ctx->bufs, ib);
        c->ibuf = NULL;
    }
    if (!c->ibuf) {
        /* Idle: nothing but the small connection struct stays. */
        sl_hconn_detach(c);
        sl_hconn_set_deadline(c, c->served_one ? c->idle_timeout_ms : c->header_timeout_ms);
        sl_hconn_update_events(c);
        return;
    }
    if (c->rq) {
        sl_buf_put(ctx->bufs, c->rq->rbuf);
        c->rq->rbuf = NULL;
        sl_buf_put(ctx->bufs, c->rq->hbuf);
        c->rq->hbuf = NULL;
        reset_request(c);
    } else if (!sl_hconn_attach(c)) {
        sl_hconn_close(c);
        return;
    }
    c->got_bytes = true;
    sl_hconn_set_deadline(c, c->header_timeout_ms);
    sl_proxy_try_parse(c);
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
        /* recv, not read: skips the VFS layer (rw_verify_area, fsnotify). */
        n = recv(c->cw.fd, b->data + b->end, sl_buf_room(b), 0);
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

    if (c->rq->req_done || !b || !c->rq->up || c->phase != SL_PH_FORWARD)
        return;
    avail = b->end - c->ioff;
    /* No body bytes yet (say, the client waits for 100 Continue): the head
     * queued by send_request still has to go. */
    if (avail == 0 || c->rq->bout.n >= SL_OUT_IOV)
        goto flush;
    if (c->rq->req_body == SL_BODY_LENGTH) {
        n = avail < c->rq->req_left ? avail : (size_t)c->rq->req_left;
        c->rq->req_left -= n;
        if (c->rq->req_left == 0)
            c->rq->req_done = true;
    } else if (c->rq->req_body == SL_BODY_CHUNKED) {
        r = sl_chunked_feed(&c->rq->req_chunk, b->data + c->ioff, avail, &n);
        if (r == SL_CHUNKED_BAD) {
            sl_proxy_error(c, 400, "malformed chunked request body", true);
            return;
        }
        if (r == SL_CHUNKED_DONE)
            c->rq->req_done = true;
    }
    sl_out_add(&c->rq->bout, b->data + c->ioff, n);
    c->ioff += (uint32_t)n;
    if (n > 0)
        c->rq->body_taken = true;
    if (c->rq->req_done && !c->rq->resp_got_any)
        sl_hconn_set_deadline(c, sl_proxy_response_timeout(c));
flush:
    if (c->rq->bout.n == 0)
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
    if (n == 0 && c->phase == SL_PH_TUNNEL) {
        /* A half-close in a tunnel: pass it on once our queue toward the
         * backend drained, and keep carrying what the backend still says. */
        c->client_eof = true;
        if (c->rq->bout.n == 0 && c->rq->up)
            (void)shutdown(c->rq->up->w.fd, SHUT_WR);
        sl_hconn_update_events(c);
        return;
    }
    if (n == 0 || n == -2) {
        if (c->phase == SL_PH_TUNNEL || !c->rq->req_done || n == -2) {
            sl_hconn_abort(c, SLUICE_OUTCOME_NEUTRAL);
            return;
        }
        /* Half-close after a complete request: answer it, then close. */
        c->client_eof = true;
        sl_hconn_update_events(c);
        return;
    }
    if (c->phase == SL_PH_TUNNEL) {
        sl_out_add(&c->rq->bout, c->ibuf->data + c->ioff, c->ibuf->end - c->ioff);
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
    if (!c->rq->req_done && c->phase == SL_PH_FORWARD) {
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
        sl_hconn_close(c);
        return;
    }
    if (!c->got_bytes) {
        /* The first bytes of a request: now it needs its state. */
        if (!sl_hconn_attach(c)) {
            sl_hconn_close(c);
            return;
        }
        c->got_bytes = true;
        c->rq->start_ns = sl_loop_now_ns(c->ctx->loop);
        sl_hconn_set_deadline(c, c->header_timeout_ms);
    }
    sl_proxy_try_parse(c);
}

/* After cout drained. */
static void client_flushed(struct sl_hconn *c)
{
    if (c->phase == SL_PH_CLOSING) {
        sl_hconn_close_client(c);
        return;
    }
    if (c->next_after) {
        sl_hconn_start_head(c);
        return;
    }
    if (c->phase == SL_PH_FORWARD || c->phase == SL_PH_TUNNEL) {
        sl_proxy_backend_resume(c);
        return;
    }
    sl_hconn_update_events(c);
}

void sl_hconn_on_client(struct sl_loop *l, struct sl_watcher *w, uint32_t events)
{
    struct sl_hconn *c = w->data;

    (void)l;
    if (c->rq && c->rq->cout.n > 0 && (events & (SL_EV_WRITE | SL_EV_ERROR | SL_EV_HUP))) {
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
        sl_hconn_linger_read(c);
    else if (c->rq)
        client_more(c); /* every later phase holds its request */
    else
        sl_hconn_close(c);
}

void sl_hconn_on_timer(struct sl_timer *t, void *arg)
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
            sl_hconn_close(c); /* idle keep-alive connection */
        break;
    case SL_PH_CONNECT:
    case SL_PH_FORWARD:
        sl_proxy_backend_timeout(c);
        break;
    case SL_PH_TUNNEL:
    case SL_PH_FLUSH: /* the client does not read its response */
    case SL_PH_CLOSING:
        sl_hconn_abort(c, SLUICE_OUTCOME_NEUTRAL);
        break;
    case SL_PH_LINGER:
        sl_hconn_close(c);
        break;
    case SL_PH_DEAD:
        break;
    }
}
