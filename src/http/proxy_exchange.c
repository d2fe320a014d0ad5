/* The HTTP proxy's exchange core: one state machine per client
 * connection. It owns the phase (the one table of legal transitions below
 * and sl_hconn_set_phase(), the only writer of c->phase), every deadline,
 * the event callbacks of the client and of the backend, the connection
 * timer, and each decision: start a backend attempt, retry it, answer an
 * error, finish a request (outcome, access log, keep-alive or close), cut.
 *
 * It calls down into the sides, which do one thing and return what
 * happened: proxy_client.c (client input), proxy_route.c (parse and
 * route), proxy_backend.c (the backend attempt), proxy_response.c
 * (backend input); and into proxy_conn.c for the connection's resources.
 * None of them calls back up. */
#include <sys/socket.h>

#include <assert.h>
#include <stdio.h>
#include <unistd.h>

#include "http/proxy_int.h"
#include "net/log.h"

/* After a response that did not read all the client sent. */
#define LINGER_MS 2000

#define PH(p) (1u << (p))

/* The phases each phase may go to. Between requests a connection is in
 * HEAD; a request goes HEAD -> [CONNECT ->] FORWARD [-> TUNNEL], or is
 * answered by the proxy from any of those; once its response is queued
 * the connection goes FLUSH (then HEAD) or CLOSING (then LINGER or DEAD),
 * or straight on when the response went out at once. A service with
 * buffer_request_body puts BODY between HEAD and CONNECT. */
static const uint16_t phase_next[] = {
    [SL_PH_HEAD] = PH(SL_PH_HEAD) | PH(SL_PH_BODY) | PH(SL_PH_CONNECT) | PH(SL_PH_FORWARD) |
                   PH(SL_PH_FLUSH) | PH(SL_PH_CLOSING) | PH(SL_PH_LINGER) | PH(SL_PH_DEAD),
    [SL_PH_BODY] = PH(SL_PH_HEAD) | PH(SL_PH_CONNECT) | PH(SL_PH_FORWARD) | PH(SL_PH_FLUSH) |
                   PH(SL_PH_CLOSING) | PH(SL_PH_LINGER) | PH(SL_PH_DEAD),
    /* A failed connect retries elsewhere (CONNECT again, or FORWARD when
     * the new one connects at once). */
    [SL_PH_CONNECT] = PH(SL_PH_HEAD) | PH(SL_PH_CONNECT) | PH(SL_PH_FORWARD) | PH(SL_PH_FLUSH) |
                      PH(SL_PH_CLOSING) | PH(SL_PH_LINGER) | PH(SL_PH_DEAD),
    /* A lost or stale backend connection retries (CONNECT or FORWARD). */
    [SL_PH_FORWARD] = PH(SL_PH_HEAD) | PH(SL_PH_CONNECT) | PH(SL_PH_FORWARD) | PH(SL_PH_TUNNEL) |
                      PH(SL_PH_FLUSH) | PH(SL_PH_CLOSING) | PH(SL_PH_LINGER) | PH(SL_PH_DEAD),
    /* A tunnel never keeps the client connection. */
    [SL_PH_TUNNEL] = PH(SL_PH_CLOSING) | PH(SL_PH_LINGER) | PH(SL_PH_DEAD),
    [SL_PH_FLUSH] = PH(SL_PH_HEAD) | PH(SL_PH_DEAD),
    [SL_PH_CLOSING] = PH(SL_PH_LINGER) | PH(SL_PH_DEAD),
    [SL_PH_LINGER] = PH(SL_PH_DEAD),
    [SL_PH_DEAD] = 0, /* a struct leaves the free list zeroed, in HEAD */
};

/* The only place that changes c->phase. */
static inline void sl_hconn_set_phase(struct sl_hconn *c, enum sl_hphase to)
{
    assert((phase_next[c->phase] & PH(to)) != 0);
    (void)phase_next; /* read only by the assert, which NDEBUG compiles out */
    c->phase = to;
}

static void on_backend(struct sl_loop *l, struct sl_watcher *w, uint32_t events);
static void try_parse(struct sl_hconn *c);
static void send_request(struct sl_hconn *c);
static void pump_request(struct sl_hconn *c);
static void attempt_next(struct sl_hconn *c, enum sl_proxy_attempt_r r, const struct sl_answer *a);

/* ---- the end of a request and of a connection ---- */

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
    if (c->ls)
        sl_counter_add(&c->ls->active, (uint64_t)-1);
    sl_client_put_ibuf(c);
    sl_hconn_set_phase(c, SL_PH_DEAD);
    sl_hconn_recycle(c);
}

void sl_hconn_abort(struct sl_hconn *c, sluice_outcome_t outcome)
{
    struct sl_hreq *q = c->rq;

    if (q)
        sl_attempt_release(&c->rq->att, outcome, 0);
    if (q && c->in_request) {
        if (q->status == 0)
            q->status = 499; /* nginx's "client closed request" (or cut) */
        sl_proxy_log_request(c);
    }
    sl_hconn_close(c);
}

/* Closes after the last response. When the client's input was not all
 * read (an error before or in the body), close() would send a reset,
 * which can destroy the response before the client reads it; so shut our
 * side, discard input until the client closes or LINGER_MS pass, then
 * close. */
static void close_client(struct sl_hconn *c)
{
    if (!c->linger || c->client_eof || shutdown(c->cw.fd, SHUT_WR) < 0) {
        sl_hconn_close(c);
        return;
    }
    sl_hconn_set_phase(c, SL_PH_LINGER);
    sl_hconn_set_deadline(c, LINGER_MS);
    sl_hconn_update_events(c);
}

/* The response (or error) is complete: report, log, then the next request
 * or close. */
static void finish(struct sl_hconn *c, sluice_outcome_t outcome)
{
    struct sl_proxy_ctx *ctx = c->ctx;
    struct sl_hreq *q = c->rq;

    if (q->att.be) {
        uint64_t ns = sl_loop_now_ns(ctx->loop) - q->sent_ns;

        if (outcome == SLUICE_OUTCOME_OK)
            sl_attempt_count_duration(&q->att, ns);
        sl_attempt_release_response(&q->att, outcome, ns, q->status,
                                    q->route && q->route->svc->passive_5xx);
    }
    if (q->up)
        sl_proxy_drop_backend(c, outcome == SLUICE_OUTCOME_OK && q->resp_ka && q->req_done &&
                                     !q->be_dirty && q->bout.n == 0);
    sl_proxy_log_request(c);
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
            sl_hconn_set_phase(c, SL_PH_CLOSING);
        } else {
            sl_hconn_set_phase(c, SL_PH_FLUSH);
            c->next_after = true;
        }
        sl_hconn_set_deadline(c, c->idle_timeout_ms);
        sl_hconn_update_events(c);
        return;
    }
    if (c->close_after) {
        close_client(c);
        return;
    }
    sl_hconn_start_head(c);
}

/* Answers the request with a canned response, then finishes it: the
 * backend connection is dropped first (its outcome is reported by
 * finish). Once a response head went out all that is left is to cut. */
static void answer(struct sl_hconn *c, int status, const char *detail, bool close_conn)
{
    struct sl_proxy_ctx *ctx = c->ctx;

    if (!sl_hconn_attach(c)) {
        sl_hconn_close(c);
        return;
    }
    if (c->rq->resp_head_done || c->rq->cout.n > 0) {
        /* The client already has a response head, or part of an interim
         * (1xx) one is still going out: all we can do is cut. */
        sl_hconn_abort(c, SLUICE_OUTCOME_NEUTRAL);
        return;
    }
    sl_proxy_drop_backend(c, false);
    /* Anything that cannot leave the request boundary clean closes. */
    if (!c->in_request || !c->rq->req_done || c->client_eof || ctx->draining)
        close_conn = true;
    if (sl_proxy_error_queue(c, status, detail, close_conn) < 0) {
        sl_hconn_abort(c, SLUICE_OUTCOME_NEUTRAL);
        return;
    }
    /* Send now: waiting for EPOLLOUT would cost two epoll_ctl per error. */
    if (sl_hconn_flush_client(c) < 0) {
        sl_hconn_abort(c, SLUICE_OUTCOME_NEUTRAL);
        return;
    }
    finish(c, SLUICE_OUTCOME_NEUTRAL);
}

static void answer_with(struct sl_hconn *c, const struct sl_answer *a)
{
    answer(c, a->status, a->detail, a->close);
}

/* Sends cout; false when the connection is gone. */
static bool push_client(struct sl_hconn *c)
{
    if (sl_hconn_flush_client(c) < 0) {
        sl_hconn_abort(c, SLUICE_OUTCOME_NEUTRAL);
        return false;
    }
    return true;
}

/* ---- the start of a request ---- */

/* Between requests: keep only the bytes of pipelined requests, give the
 * request state and idle buffers back, and parse at once if a request is
 * already waiting. */
void sl_hconn_start_head(struct sl_hconn *c)
{
    sl_hconn_set_phase(c, SL_PH_HEAD);
    c->wait_ms = (uint32_t)sl_loop_now_ms(c->ctx->loop);
    c->next_after = false;
    c->in_request = false;
    c->got_bytes = false;
    if (!sl_client_keep_pipelined(c)) {
        /* Idle: nothing but the small connection struct stays. */
        sl_hconn_detach(c);
        sl_hconn_set_deadline(c, c->served_one ? c->idle_timeout_ms : c->header_timeout_ms);
        sl_hconn_update_events(c);
        return;
    }
    if (c->rq) {
        sl_hconn_reuse_request(c);
    } else if (!sl_hconn_attach(c)) {
        sl_hconn_close(c);
        return;
    }
    c->got_bytes = true;
    sl_hconn_set_deadline(c, c->header_timeout_ms);
    try_parse(c);
}

/* ---- the backend attempt ---- */

/* Goes on from what a backend attempt reported. */
static void attempt_next(struct sl_hconn *c, enum sl_proxy_attempt_r r, const struct sl_answer *a)
{
    switch (r) {
    case SL_ATTEMPT_READY:
        send_request(c);
        break;
    case SL_ATTEMPT_CONNECTING:
        sl_hconn_set_phase(c, SL_PH_CONNECT);
        sl_hconn_set_deadline(c, sl_proxy_connect_timeout(c));
        sl_hconn_update_events(c);
        break;
    case SL_ATTEMPT_GIVE_UP:
        answer_with(c, a);
        break;
    case SL_ATTEMPT_CUT:
        sl_hconn_abort(c, SLUICE_OUTCOME_FAIL);
        break;
    }
}

/* The backend connection broke: retry, answer or cut. */
static void backend_lost(struct sl_hconn *c)
{
    struct sl_answer a;

    attempt_next(c, sl_proxy_attempt_lost(c, on_backend, &a), &a);
}

/* ---- the request body: limits and buffering ---- */

static void body_too_large(struct sl_hconn *c)
{
    char msg[128];

    (void)snprintf(msg, sizeof(msg), "request body over max_body_size %llu",
                   (unsigned long long)c->max_body_size);
    answer(c, 413, msg, true);
}

/* min_body_rate's check, at its cadence; true when the client was
 * answered (408, or cut once a response began). */
static bool check_body_rate(struct sl_hconn *c, uint64_t now)
{
    char msg[128];

    if (!sl_client_too_slow(c, now, msg, sizeof(msg)))
        return false;
    answer(c, 408, msg, true);
    return true;
}

/* SL_PH_BODY: the body bytes in ibuf, after a read or at the start. */
static void buffer_body(struct sl_hconn *c)
{
    struct sl_hreq *q = c->rq;
    struct sl_answer a;

    switch (sl_client_buffer_body(c)) {
    case SL_BUFFERED_MORE:
        sl_hconn_update_events(c);
        return;
    case SL_BUFFERED_DONE:
        q->body_buffered = true;
        q->req_done = true;
        c->ioff = q->head_len + q->body_len; /* what follows is the next request */
        break;
    case SL_BUFFERED_STREAM:
        /* Outgrew buffer_request_body: from here it streams as any body
         * does, decoded again from its first byte. */
        sl_chunked_init(&q->req_chunk);
        break;
    case SL_BUFFERED_BAD:
        answer(c, 400, "malformed chunked request body", true);
        return;
    case SL_BUFFERED_LARGE:
        body_too_large(c);
        return;
    case SL_BUFFERED_NOMEM:
        answer(c, 503, "out of memory for the request body", true);
        return;
    }
    attempt_next(c, sl_proxy_attempt_start(c, on_backend, &a), &a);
}

/* The head is routed: refuse a body over max_body_size, start the
 * min_body_rate clock, then read the body first (buffer_request_body) or
 * go to a backend at once. */
static void route_ok(struct sl_hconn *c)
{
    struct sl_hreq *q = c->rq;
    const struct sl_service_rt *svc = q->route->svc;
    struct sl_answer a;

    if (!q->req_done) {
        uint64_t now = sl_loop_now_ms(c->ctx->loop);

        q->body_start_ms = now;
        q->body_rx = c->ibuf->end - q->head_len;
        if (q->req_body == SL_BODY_LENGTH && c->max_body_size && q->req_left > c->max_body_size) {
            (void)snprintf(a.msg, sizeof(a.msg),
                           "request body of %llu bytes is over max_body_size %llu",
                           (unsigned long long)q->req_left, (unsigned long long)c->max_body_size);
            answer(c, 413, a.msg, true);
            return;
        }
        if (c->min_body_rate) {
            /* Checked from the start, each second, so that paused time is
             * seen; judged only after the grace. */
            q->rate_next_ms = now + SL_BODY_RATE_CHECK_MS;
            q->rate_last_ms = now;
        }
        if (svc->buffer_body &&
            (q->req_body == SL_BODY_CHUNKED || q->req_left <= svc->buffer_body)) {
            sl_hconn_set_phase(c, SL_PH_BODY);
            q->body_scan = q->head_len;
            /* The parse of this head is still in the scratch. A client
             * that waits for the 100 has sent no body byte yet. */
            if (c->ctx->req.expect_continue && !q->req_http10 && c->ibuf->end == q->head_len)
                sl_client_send_continue(c);
            sl_hconn_set_deadline(c, sl_client_body_wait_ms(c));
            sl_hconn_arm_timer(c);
            buffer_body(c);
            return;
        }
        sl_hconn_arm_timer(c);
    }
    attempt_next(c, sl_proxy_attempt_start(c, on_backend, &a), &a);
}

/* A read in SL_PH_BODY. */
static void client_body(struct sl_hconn *c)
{
    ssize_t n = sl_client_read(c);

    if (n == -1) {
        sl_hconn_update_events(c);
        return;
    }
    if (n <= 0) {
        /* Gone (or half-closed) before its body was whole: nothing to answer. */
        sl_hconn_abort(c, SLUICE_OUTCOME_NEUTRAL);
        return;
    }
    c->rq->body_rx += (uint64_t)n;
    sl_hconn_set_deadline(c, sl_client_body_wait_ms(c));
    buffer_body(c);
}

static void try_parse(struct sl_hconn *c)
{
    struct sl_answer a;

    sl_client_body_reset(c->rq);
    switch (sl_route_request(c, &a)) {
    case SL_ROUTE_PARTIAL:
        sl_hconn_update_events(c);
        break;
    case SL_ROUTE_REFUSE:
        answer_with(c, &a);
        break;
    case SL_ROUTE_OK:
        route_ok(c);
        break;
    }
}

/* Queues the request head for the backend now connected, with the body
 * bytes we have, and sends. */
static void send_request(struct sl_hconn *c)
{
    struct sl_hreq *q = c->rq;

    sl_hconn_set_phase(c, SL_PH_FORWARD);
    if (!sl_proxy_attempt_queue_request(c)) {
        answer(c, 431, "request head too large to forward", true);
        return;
    }
    /* A buffered body is queued whole, again at each attempt: it stays in
     * ibuf until the request ends. */
    if (q->body_buffered)
        sl_out_add(&q->bout, c->ibuf->data + q->head_len, q->body_len);
    sl_hconn_set_deadline(c,
                          q->req_done ? sl_proxy_response_timeout(c) : sl_client_body_wait_ms(c));
    if (!q->req_done) {
        pump_request(c); /* adds the body bytes we have, then flushes */
        return;
    }
    if (sl_proxy_flush_backend(c) < 0) {
        backend_lost(c);
        return;
    }
    sl_hconn_update_events(c);
}

/* bout drained: make room in ibuf, pass a tunnel's half-close on, pump
 * more request body. */
static void backend_flushed(struct sl_hconn *c)
{
    struct sl_hreq *q = c->rq;
    struct sl_buf *b = c->ibuf;

    if (b && c->ioff == b->end && c->ioff > q->head_len && q->bout.n == 0 && !q->body_buffered) {
        b->end = q->head_len; /* the body bytes are gone: make room */
        c->ioff = q->head_len;
    }
    if (c->phase == SL_PH_TUNNEL && c->client_eof && q->bout.n == 0 && q->up)
        (void)shutdown(q->up->w.fd, SHUT_WR); /* the client's half-close, passed on */
    if (c->phase == SL_PH_FORWARD && !q->req_done && b && c->ioff < b->end) {
        pump_request(c);
        return;
    }
    if (c->phase == SL_PH_FORWARD && !q->req_done)
        sl_client_wait_body(c); /* the backend took it all: the client's turn */
    sl_hconn_update_events(c);
}

/* Hands the request body bytes waiting in ibuf to the backend. */
static void pump_request(struct sl_hconn *c)
{
    struct sl_hreq *q = c->rq;
    int r;

    if (q->req_done || !c->ibuf || !q->up || c->phase != SL_PH_FORWARD)
        return;
    switch (sl_client_take_body(c)) {
    case SL_TAKE_BAD:
        answer(c, 400, "malformed chunked request body", true);
        return;
    case SL_TAKE_LARGE:
        body_too_large(c);
        return;
    case SL_TAKE_SOME:
        if (q->req_done && !q->resp_got_any)
            sl_hconn_set_deadline(c, sl_proxy_response_timeout(c));
        break;
    case SL_TAKE_NONE:
        break;
    }
    if (q->bout.n == 0)
        return;
    r = sl_proxy_flush_backend(c);
    if (r < 0) {
        backend_lost(c);
    } else if (r > 0) {
        backend_flushed(c);
    } else {
        if (!q->req_done)
            sl_client_wait_body(c);
        sl_hconn_update_events(c);
    }
}

/* The backend timer fired in CONNECT or FORWARD. */
static void backend_timeout(struct sl_hconn *c)
{
    struct sl_hreq *q = c->rq;
    struct sl_answer a;

    assert(q != NULL); /* CONNECT and FORWARD always carry a request */

    if (c->phase == SL_PH_CONNECT) {
        attempt_next(
            c,
            sl_proxy_attempt_failed(c, SLUICE_OUTCOME_TIMEOUT, "connect timed out", on_backend, &a),
            &a);
        return;
    }
    if (!q->req_done && q->bout.n == 0 && !q->resp_got_any) {
        /* Everything the client sent went out and we wait for the rest of
         * its body: the client stalled, the backend did nothing wrong. */
        sl_attempt_release(&c->rq->att, SLUICE_OUTCOME_NEUTRAL, 0);
        answer(c, 408, "request body not received in time", true);
        return;
    }
    if (!q->resp_got_any) {
        q->sent_any = true; /* the request may have been processed: no retry */
        attempt_next(c,
                     sl_proxy_attempt_failed(c, SLUICE_OUTCOME_TIMEOUT, "no response in time",
                                             on_backend, &a),
                     &a);
        return;
    }
    /* Idle mid-body: a stalled backend counts, a client not reading does not. */
    sl_hconn_abort(c, q->cout.n ? SLUICE_OUTCOME_NEUTRAL : SLUICE_OUTCOME_TIMEOUT);
}

/* ---- the response ---- */

/* A 101 went onto cout: raw bytes both ways from now on. */
static void enter_tunnel(struct sl_hconn *c)
{
    struct sl_hreq *q = c->rq;
    struct sl_buf *ib = c->ibuf;
    struct sl_buf *rb = q->rbuf;

    sl_hconn_set_phase(c, SL_PH_TUNNEL);
    q->req_done = true;
    if (ib && c->ioff < ib->end) {
        sl_out_add(&q->bout, ib->data + c->ioff, ib->end - c->ioff);
        c->ioff = ib->end;
        if (sl_proxy_flush_backend(c) < 0) {
            sl_hconn_abort(c, SLUICE_OUTCOME_FAIL);
            return;
        }
    }
    sl_hconn_set_deadline(c, sl_proxy_idle_timeout(c));
    if (rb->start < rb->end) {
        sl_out_add(&q->cout, rb->data + rb->start, rb->end - rb->start);
        q->bytes_out += rb->end - rb->start;
        rb->start = rb->end;
    }
    if (push_client(c))
        sl_hconn_update_events(c);
}

static void response_body(struct sl_hconn *c)
{
    switch (sl_resp_body(c)) {
    case SL_RESP_BODY_BAD:
        sl_attempt_release_why(&c->rq->att, SLUICE_OUTCOME_FAIL, 0, "malformed response");
        sl_hconn_abort(c, SLUICE_OUTCOME_FAIL);
        return;
    case SL_RESP_BODY_MORE:
        if (push_client(c))
            sl_hconn_update_events(c);
        return;
    case SL_RESP_BODY_DONE:
        if (push_client(c))
            finish(c, SLUICE_OUTCOME_OK);
        return;
    }
}

/* rbuf holds response bytes (not in a tunnel). */
static void response_bytes(struct sl_hconn *c)
{
    const char *detail = NULL;

    if (!c->rq->resp_head_done) {
        switch (sl_resp_heads(c, &detail)) {
        case SL_RESP_WAIT:
            sl_hconn_update_events(c);
            return;
        case SL_RESP_BAD:
            sl_attempt_release_why(&c->rq->att, SLUICE_OUTCOME_FAIL, 0, "malformed response");
            answer(c, 502, detail, true);
            return;
        case SL_RESP_CLIENT_GONE:
            sl_hconn_abort(c, SLUICE_OUTCOME_NEUTRAL);
            return;
        case SL_RESP_UPGRADE:
            enter_tunnel(c);
            return;
        case SL_RESP_FINAL:
            sl_hconn_set_deadline(c, sl_proxy_idle_timeout(c));
            break;
        }
    }
    response_body(c);
}

/* cout drained: go on with what rbuf still holds, then read the backend. */
static void backend_resume(struct sl_hconn *c)
{
    struct sl_buf *rb = c->rq->rbuf;

    if (rb && rb->start == rb->end)
        rb->start = rb->end = 0;
    if (c->phase == SL_PH_FORWARD && c->rq->up && rb && rb->start < rb->end) {
        response_bytes(c);
        return;
    }
    sl_hconn_update_events(c);
}

static void backend_eof(struct sl_hconn *c)
{
    struct sl_hreq *q = c->rq;

    if (c->phase == SL_PH_TUNNEL) {
        q->be_dirty = true;
        q->client_ka = false;
        finish(c, SLUICE_OUTCOME_OK);
        return;
    }
    if (!q->resp_got_any) {
        backend_lost(c);
        return;
    }
    if (q->resp_head_done && q->resp_body == SL_BODY_UNTIL_CLOSE) {
        q->resp_done = true;
        q->be_dirty = true;
        finish(c, SLUICE_OUTCOME_OK);
        return;
    }
    sl_log(SL_LOG_WARN, "backend %s: connection closed in the middle of a response", q->att.target);
    if (q->resp_head_done) {
        sl_hconn_abort(c, SLUICE_OUTCOME_FAIL);
        return;
    }
    sl_attempt_release(&c->rq->att, SLUICE_OUTCOME_FAIL, 0);
    answer(c, 502, "backend closed the connection in the response head", true);
}

static void backend_data(struct sl_hconn *c)
{
    struct sl_hreq *q = c->rq;
    struct sl_buf *rb = q->rbuf;

    q->resp_got_any = true;
    if (c->phase == SL_PH_TUNNEL) {
        sl_out_add(&q->cout, rb->data + rb->start, rb->end - rb->start);
        q->bytes_out += rb->end - rb->start;
        rb->start = rb->end;
        sl_hconn_set_deadline(c, sl_proxy_idle_timeout(c));
        if (push_client(c))
            sl_hconn_update_events(c);
        return;
    }
    response_bytes(c);
}

/* ---- events ---- */

static void on_backend(struct sl_loop *l, struct sl_watcher *w, uint32_t events)
{
    struct sl_hconn *c = w->data;
    ssize_t n;

    (void)l;
    if (c->phase == SL_PH_CONNECT) {
        if (events & (SL_EV_WRITE | SL_EV_ERROR | SL_EV_HUP)) {
            struct sl_answer a;

            attempt_next(c, sl_proxy_attempt_connected(c, on_backend, &a), &a);
        }
        return;
    }
    if (c->rq->bout.n > 0 && (events & (SL_EV_WRITE | SL_EV_ERROR | SL_EV_HUP))) {
        int r = sl_proxy_flush_backend(c);

        if (r < 0) {
            backend_lost(c);
            return;
        }
        if (r > 0) {
            backend_flushed(c);
            if (c->phase == SL_PH_DEAD || !c->rq || !c->rq->up || &c->rq->up->w != w)
                return;
        }
    }
    if (!(events & (SL_EV_READ | SL_EV_ERROR | SL_EV_HUP)))
        return;
    if (!(w->events & SL_EV_READ)) {
        /* Backpressure: not reading. ERR/HUP come anyway (and would come
         * every turn): the backend reset the connection mid-response. */
        if (events & (SL_EV_ERROR | SL_EV_HUP)) {
            if (c->rq->resp_head_done)
                sl_hconn_abort(c, SLUICE_OUTCOME_FAIL);
            else
                backend_lost(c);
        }
        return;
    }
    n = sl_resp_read(c);
    if (n == -1)
        return;
    if (n <= 0) {
        backend_eof(c);
        return;
    }
    backend_data(c);
}

/* The client sent more while a request is being forwarded: body bytes,
 * tunnel bytes, or the next pipelined request (kept for later). */
static void client_more(struct sl_hconn *c)
{
    struct sl_hreq *q = c->rq;
    ssize_t n = sl_client_read(c);
    int r;

    if (n == -1) {
        sl_hconn_update_events(c);
        return;
    }
    if (n == 0 && c->phase == SL_PH_TUNNEL) {
        /* A half-close in a tunnel: pass it on once our queue toward the
         * backend drained, and keep carrying what the backend still says. */
        c->client_eof = true;
        if (q->bout.n == 0 && q->up)
            (void)shutdown(q->up->w.fd, SHUT_WR);
        sl_hconn_update_events(c);
        return;
    }
    if (n == 0 || n == -2) {
        if (c->phase == SL_PH_TUNNEL || !q->req_done || n == -2) {
            sl_hconn_abort(c, SLUICE_OUTCOME_NEUTRAL);
            return;
        }
        /* Half-close after a complete request: answer it, then close. */
        c->client_eof = true;
        sl_hconn_update_events(c);
        return;
    }
    if (!q->req_done)
        q->body_rx += (uint64_t)n; /* for min_body_rate */
    if (c->phase == SL_PH_TUNNEL) {
        sl_out_add(&q->bout, c->ibuf->data + c->ioff, c->ibuf->end - c->ioff);
        c->ioff = c->ibuf->end;
        sl_hconn_set_deadline(c, sl_proxy_idle_timeout(c));
        r = sl_proxy_flush_backend(c);
        if (r < 0)
            sl_hconn_abort(c, SLUICE_OUTCOME_NEUTRAL);
        else if (r > 0)
            backend_flushed(c);
        else
            sl_hconn_update_events(c);
        return;
    }
    if (!q->req_done && c->phase == SL_PH_FORWARD) {
        sl_hconn_set_deadline(c, sl_client_body_wait_ms(c));
        pump_request(c);
        return;
    }
    sl_hconn_update_events(c);
}

static void client_head(struct sl_hconn *c)
{
    ssize_t n = sl_client_read(c);

    if (n == -1) {
        if (sl_buf_room(c->ibuf) == 0)
            answer(c, 431, "request head too large", true);
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
    try_parse(c);
}

/* After cout drained. */
static void client_flushed(struct sl_hconn *c)
{
    if (c->phase == SL_PH_CLOSING) {
        close_client(c);
        return;
    }
    if (c->next_after) {
        sl_hconn_start_head(c);
        return;
    }
    if (c->phase == SL_PH_FORWARD || c->phase == SL_PH_TUNNEL) {
        backend_resume(c);
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
    else if (c->phase == SL_PH_BODY)
        client_body(c);
    else if (c->phase == SL_PH_LINGER) {
        if (sl_client_linger_read(c))
            sl_hconn_close(c);
    } else if (c->rq)
        client_more(c); /* every later phase holds its request */
    else
        sl_hconn_close(c);
}

void sl_hconn_on_timer(struct sl_timer *t, void *arg)
{
    struct sl_hconn *c = arg;
    uint64_t now = sl_loop_now_ms(c->ctx->loop);

    (void)t;
    if (c->rq && c->rq->rate_next_ms && now >= c->rq->rate_next_ms && check_body_rate(c, now))
        return;
    if (now < c->deadline_ms) {
        sl_hconn_arm_timer(c);
        return;
    }
    switch (c->phase) {
    case SL_PH_HEAD:
        if (c->got_bytes || !c->served_one)
            answer(c, 408, "request head not received in time", true);
        else
            sl_hconn_close(c); /* idle keep-alive connection */
        break;
    case SL_PH_BODY:
        answer(c, 408, "request body not received in time", true);
        break;
    case SL_PH_CONNECT:
    case SL_PH_FORWARD:
        backend_timeout(c);
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
    /* A retry set a new deadline: the rate checks go on beside it. */
    if (c->phase != SL_PH_DEAD && c->rq && c->rq->rate_next_ms)
        sl_hconn_arm_timer(c);
}
