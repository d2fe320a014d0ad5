/* Client side of the HTTP proxy: reading the client's bytes into ibuf,
 * keeping pipelined requests between two requests, handing request body
 * bytes to the backend's queue, holding a whole body before a backend is
 * chosen (buffer_request_body), and discarding input while lingering. It
 * reports what happened; the exchange core (proxy_exchange.c) decides.
 *
 * A buffered body lives in ibuf right after its head. When it does not fit
 * a pooled buffer, ibuf moves to an allocation of its own, sized to the
 * head plus the body (Content-Length) or plus buffer_request_body
 * (chunked), and freed when the request ends: a request without a body, or
 * one that fits, allocates nothing. */
#include <sys/socket.h>

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "http/proxy_int.h"

ssize_t sl_client_read(struct sl_hconn *c)
{
    struct sl_buf *b = c->ibuf;

    if (!b) {
        b = c->ibuf = sl_buf_get(c->ctx->bufs);
        if (!b)
            return -2;
    }
    return sl_buf_recv(b, c->cw.fd);
}

void sl_client_put_ibuf(struct sl_hconn *c)
{
    if (c->ibuf_big)
        free(c->ibuf);
    else
        sl_buf_put(c->ctx->bufs, c->ibuf);
    c->ibuf = NULL;
    c->ibuf_big = false;
}

/* <p> moved with the bytes of <from> to <to>, when it pointed into them. */
static const void *rebase(const void *p, const struct sl_buf *from, const struct sl_buf *to)
{
    uintptr_t a = (uintptr_t)p, lo = (uintptr_t)from->data;

    if (p == NULL || a < lo || a > lo + from->end)
        return p;
    return to->data + (a - lo);
}

bool sl_client_grow_ibuf(struct sl_hconn *c, uint32_t cap)
{
    struct sl_buf *old = c->ibuf, *b;
    struct sl_hreq *q = c->rq;

    if (cap <= old->cap)
        return true;
    b = malloc(sizeof(*b) + cap);
    if (!b)
        return false;
    b->next = NULL;
    b->cap = cap;
    b->start = old->start;
    b->end = old->end;
    memcpy(b->data, old->data, old->end);
    q->method = rebase(q->method, old, b);
    q->target = rebase(q->target, old, b);
    q->host = rebase(q->host, old, b);
    q->key = rebase(q->key, old, b);
    sl_client_put_ibuf(c);
    c->ibuf = b;
    c->ibuf_big = true;
    return true;
}

bool sl_client_keep_pipelined(struct sl_hconn *c)
{
    struct sl_buf *ib = c->ibuf;

    if (ib) {
        ib->start = c->ioff < ib->end ? c->ioff : ib->end;
        sl_buf_compact(ib);
    }
    c->ioff = 0;
    if (ib && c->ibuf_big && sl_buf_len(ib) <= c->ctx->bufs->size) {
        /* A grown buffer is one request's: what follows goes back to a
         * pooled one (or nowhere, when nothing does). */
        struct sl_buf *b = sl_buf_len(ib) ? sl_buf_get(c->ctx->bufs) : NULL;

        if (b) {
            memcpy(b->data, ib->data, ib->end);
            b->end = ib->end;
            free(ib);
            c->ibuf = b;
            c->ibuf_big = false;
        }
        ib = c->ibuf;
    }
    if (ib && sl_buf_len(ib) == 0)
        sl_client_put_ibuf(c);
    return c->ibuf != NULL;
}

enum sl_take sl_client_take_body(struct sl_hconn *c)
{
    struct sl_hreq *q = c->rq;
    struct sl_buf *b = c->ibuf;

    uint32_t avail = b->end - c->ioff;
    size_t n = 0;

    /* No body bytes yet (say, the client waits for 100 Continue), or the
     * queue is full: only what is queued goes. */
    if (avail == 0 || q->bout.n >= SL_OUT_IOV)
        return SL_TAKE_NONE;
    if (q->req_body == SL_BODY_LENGTH) {
        n = avail < q->req_left ? avail : (size_t)q->req_left;
        q->req_left -= n;
        if (q->req_left == 0)
            q->req_done = true;
    } else if (q->req_body == SL_BODY_CHUNKED) {
        int r = sl_chunked_feed(&q->req_chunk, b->data + c->ioff, avail, &n);

        if (r == SL_CHUNKED_BAD)
            return SL_TAKE_BAD;
        /* Its size shows only as it streams; the framing counts too. */
        q->body_fwd += n;
        if (c->max_body_size && q->body_fwd > c->max_body_size)
            return SL_TAKE_LARGE;
        if (r == SL_CHUNKED_DONE)
            q->req_done = true;
    }
    sl_out_add(&q->bout, b->data + c->ioff, n);
    c->ioff += (uint32_t)n;
    if (n > 0)
        q->body_taken = true;
    return SL_TAKE_SOME;
}

/* The chunked body in ibuf from body_scan on: DONE sets body_len. */
static enum sl_buffered scan_chunked(struct sl_hconn *c)
{
    struct sl_hreq *q = c->rq;
    struct sl_buf *b = c->ibuf;
    size_t n = 0;
    int r = sl_chunked_feed(&q->req_chunk, b->data + q->body_scan, b->end - q->body_scan, &n);

    q->body_scan += (uint32_t)n;
    if (r == SL_CHUNKED_BAD)
        return SL_BUFFERED_BAD;
    if (c->max_body_size && q->body_scan - q->head_len > c->max_body_size)
        return SL_BUFFERED_LARGE;
    if (r == SL_CHUNKED_DONE) {
        q->body_len = q->body_scan - q->head_len;
        return SL_BUFFERED_DONE;
    }
    return SL_BUFFERED_MORE;
}

enum sl_buffered sl_client_buffer_body(struct sl_hconn *c)
{
    struct sl_hreq *q = c->rq;
    uint32_t limit = q->route->svc->buffer_body;
    enum sl_buffered r;

    if (q->req_body == SL_BODY_LENGTH) {
        /* Only bodies within buffer_request_body get here, so this fits. */
        uint32_t need = q->head_len + (uint32_t)q->req_left;

        if (c->ibuf->end >= need) {
            q->body_len = (uint32_t)q->req_left;
            return SL_BUFFERED_DONE;
        }
        if (sl_buf_room(c->ibuf) == 0 && !sl_client_grow_ibuf(c, need))
            return SL_BUFFERED_NOMEM;
        return SL_BUFFERED_MORE;
    }
    r = scan_chunked(c);
    if (r != SL_BUFFERED_MORE)
        return r;
    /* Past the limit, even with room left in a pooled buffer: it streams. */
    if (q->body_scan - q->head_len > limit)
        return SL_BUFFERED_STREAM;
    if (sl_buf_room(c->ibuf) > 0)
        return r;
    /* Full: grow once, to the head plus the limit (and the one byte that
     * shows it outgrew it); full again, it streams. */
    if (c->ibuf->cap > q->head_len + limit)
        return SL_BUFFERED_STREAM;
    return sl_client_grow_ibuf(c, q->head_len + limit + 1) ? SL_BUFFERED_MORE : SL_BUFFERED_NOMEM;
}

void sl_client_body_reset(struct sl_hreq *q)
{
    q->body_buffered = false;
    q->body_len = q->body_scan = 0;
    q->body_rx = q->body_fwd = 0;
    q->body_start_ms = q->rate_next_ms = q->rate_last_ms = q->rate_paused_ms = 0;
}

/* As Apache's mod_reqtimeout MinRate: not per read but at a fixed cadence,
 * and only after the grace period, the body's average rate since its head.
 * When a check finds the proxy itself not reading the client (the backend
 * takes the body more slowly), the time since the check before counts as
 * paused, not against the client: sampled once a second, in its favour. */
enum sl_rate sl_client_body_rate(struct sl_hconn *c, uint64_t now, uint64_t *rate)
{
    struct sl_hreq *q = c->rq;
    uint64_t elapsed;

    if (q->req_done || !c->in_request ||
        (c->phase != SL_PH_BODY && c->phase != SL_PH_CONNECT && c->phase != SL_PH_FORWARD)) {
        q->rate_next_ms = 0; /* the body is in, or the request is over */
        return SL_RATE_DONE;
    }
    q->rate_next_ms = now + SL_BODY_RATE_CHECK_MS;
    if (!(c->cw.events & SL_EV_READ)) {
        q->rate_paused_ms += now - q->rate_last_ms;
        q->rate_last_ms = now;
        return SL_RATE_OK;
    }
    q->rate_last_ms = now;
    elapsed = now - q->body_start_ms;
    if (elapsed < q->rate_paused_ms + SL_BODY_RATE_GRACE_MS)
        return SL_RATE_OK;
    elapsed -= q->rate_paused_ms;
    *rate = q->body_rx * 1000 / elapsed;
    return *rate >= c->min_body_rate ? SL_RATE_OK : SL_RATE_SLOW;
}

uint32_t sl_client_body_wait_ms(const struct sl_hconn *c)
{
    uint32_t idle = sl_proxy_idle_timeout(c);

    /* timeouts.idle bounds every wait in the middle of a request. */
    return c->body_timeout_ms < idle ? c->body_timeout_ms : idle;
}

void sl_client_wait_body(struct sl_hconn *c)
{
    sl_hconn_set_deadline(c, c->rq->bout.n ? sl_proxy_idle_timeout(c) : sl_client_body_wait_ms(c));
}

/* Errors of slow clients go to the error log at most once a second per
 * worker (one worker per thread), with how many were left out: thousands
 * of slow uploaders must not turn into thousands of writes. */
static void log_slow(const struct sl_hconn *c, const char *msg)
{
    static _Thread_local uint64_t last_ms, skipped;
    uint64_t now = sl_loop_now_ms(c->ctx->loop);

    if (last_ms != 0 && now - last_ms < 1000) {
        skipped++;
        return;
    }
    if (skipped)
        sl_log(SL_LOG_INFO, "client %s: %s (and %llu more since the last such line)", c->client_ip,
               msg, (unsigned long long)skipped);
    else
        sl_log(SL_LOG_INFO, "client %s: %s", c->client_ip, msg);
    last_ms = now;
    skipped = 0;
}

bool sl_client_too_slow(struct sl_hconn *c, uint64_t now, char *msg, size_t len)
{
    uint64_t rate;

    if (sl_client_body_rate(c, now, &rate) != SL_RATE_SLOW)
        return false;
    (void)snprintf(msg, len, "request body too slow: %llu B/s < min_body_rate %u",
                   (unsigned long long)rate, c->min_body_rate);
    log_slow(c, msg);
    return true;
}

void sl_client_send_continue(struct sl_hconn *c)
{
    static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";

    /* Best effort, on a socket buffer that holds at most what is left of
     * earlier responses: a client sends anyway after its own wait. */
    (void)send(c->cw.fd, cont, sizeof(cont) - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
}

bool sl_client_linger_read(struct sl_hconn *c)
{
    char sink[4096];
    ssize_t n = read(c->cw.fd, sink, sizeof(sink));

    return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR);
}
