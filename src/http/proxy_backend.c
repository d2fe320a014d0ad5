/* Side of the HTTP proxy: the backend attempt. Select a backend (skipping
 * those tried), connect or reuse a pooled connection, count failures and
 * retry on another backend while the budget lasts, the stale keep-alive
 * retry, out-of-descriptor errors, the timeouts that apply, the backend's
 * queue, outcomes reported to the library, and the access-log record.
 * What HTTP and TCP share (the tried set, the retry budget, outcomes,
 * timeouts, descriptor errors, the log record's backend fields) is
 * proxy/attempt.c's; this file adds HTTP's own rules: the connection
 * pool, when a request may be resent, and the answers.
 * Each entry point returns what to do next (enum sl_proxy_attempt_r); the
 * exchange core (proxy_exchange.c) sets the phase and the deadline. */
#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "core/backend.h"
#include "http/proxy_int.h"
#include "net/log.h"
#include "net/sock.h"

uint32_t sl_proxy_response_timeout(const struct sl_hconn *c)
{
    const struct sl_hreq *q = c->rq;

    return sl_attempt_response_timeout(&q->att, q->route ? q->route->svc->response_timeout_ms : 0);
}

uint32_t sl_proxy_idle_timeout(const struct sl_hconn *c)
{
    const struct sl_hreq *q = c->rq;

    return sl_attempt_idle_timeout(&q->att, q->route ? q->route->svc->idle_timeout_ms : 0);
}

uint32_t sl_proxy_connect_timeout(const struct sl_hconn *c)
{
    return sl_attempt_connect_timeout(&c->rq->att, c->rq->route->svc->connect_timeout_ms);
}

void sl_proxy_drop_backend(struct sl_hconn *c, bool reuse)
{
    struct sl_upconn *up = c->rq->up;

    if (!up)
        return;
    c->rq->up = NULL;
    c->rq->bout.n = 0;
    if (reuse)
        sl_upstream_put(c->ctx->ups, up);
    else
        sl_upstream_close(c->ctx->ups, up);
}

/* For the stale keep-alive retry only (same backend, nothing processed). */
static bool idempotent(const struct sl_hconn *c)
{
    switch (c->rq->method_id) {
    case SL_METHOD_GET:
    case SL_METHOD_HEAD:
    case SL_METHOD_OPTIONS:
    case SL_METHOD_PUT:
    case SL_METHOD_DELETE:
    case SL_METHOD_TRACE:
        return c->rq->req_body == SL_BODY_NONE;
    default:
        return false;
    }
}

static enum sl_proxy_attempt_r give_up(struct sl_answer *a, int status, bool close)
{
    a->status = status;
    a->detail = a->msg;
    a->close = close;
    return SL_ATTEMPT_GIVE_UP;
}

/* Safe methods (RFC 9110 9.2.1) other than TRACE, as the issue names them:
 * resent to another backend even after their bytes reached one, as
 * nginx's `proxy_next_upstream error timeout` does. PUT and DELETE are
 * idempotent too, but are not resent: a server may act on them before it
 * answers. */
static bool resendable_method(enum sl_http_method m)
{
    return m == SL_METHOD_GET || m == SL_METHOD_HEAD || m == SL_METHOD_OPTIONS;
}

/* Whether the request's body, if any, can go out again: none of it left
 * ibuf for a backend yet, or it is held whole there (buffer_request_body,
 * q->body_buffered: every attempt queues it again). A body that streamed
 * out cannot. */
static bool body_resendable(const struct sl_hreq *q)
{
    return q->body_buffered || !q->body_taken;
}

/* Whether the failed attempt may be retried on another backend: no byte
 * of a response came back (none of it can reach the client twice, and the
 * per-attempt response state is still untouched), the body is still
 * ours to send, and either no byte of the request reached the backend or
 * the method is safe to send twice. */
static bool may_resend(const struct sl_hreq *q)
{
    if (q->resp_got_any || !body_resendable(q))
        return false;
    return !q->sent_any || resendable_method(q->method_id);
}

static enum sl_proxy_attempt_r connect_or_reuse(struct sl_hconn *c, sl_watcher_cb_t on_io,
                                                struct sl_answer *a)
{
    struct sl_proxy_ctx *ctx = c->ctx;
    struct sl_hreq *q = c->rq;
    const struct sockaddr *sa;
    unsigned salen = 0;
    bool inprog = false;
    size_t over;

    q->reused = false;
    q->sent_any = false;
    if (!q->retried_stale) {
        q->up = sl_upstream_take(ctx->ups, q->att.be, on_io, c);
        if (q->up) {
            q->reused = true;
            return SL_ATTEMPT_READY;
        }
    }
    sa = sl_backend_sockaddr(q->att.be, &salen);
    if (!sa)
        return sl_proxy_attempt_failed(c, SLUICE_OUTCOME_FAIL, "address did not resolve", on_io, a);
    /* Room first: idle pooled connections close (least recently used
     * first) before one more would go over the worker's share, and once
     * more when the process ran out anyway; an accepted request never
     * fails for a descriptor an idle connection holds. */
    over = sl_fdbudget_over(ctx->fdb, 1);
    if (over > 0)
        (void)sl_upstream_close_lru(ctx->ups, over);
    q->up = sl_upstream_connect(ctx->ups, q->att.be, sa, salen, on_io, c, &inprog);
    if (!q->up && sl_fdbudget_exhausted(errno) && sl_upstream_close_lru(ctx->ups, 1) > 0)
        q->up = sl_upstream_connect(ctx->ups, q->att.be, sa, salen, on_io, c, &inprog);
    if (!q->up) {
        if (sl_attempt_out_of_fds(&q->att, &ctx->fdlog, errno, sl_loop_now_ms(ctx->loop), NULL)) {
            (void)snprintf(a->msg, sizeof(a->msg), "proxy out of file descriptors");
            return give_up(a, 503, true);
        }
        sl_attempt_count_connect_failure(&q->att);
        return sl_proxy_attempt_failed(c, SLUICE_OUTCOME_FAIL, "connect failed", on_io, a);
    }
    return inprog ? SL_ATTEMPT_CONNECTING : SL_ATTEMPT_READY;
}

/* Selects a backend not tried yet and connects or reuses. <last> says how
 * the previous try failed (NULL on the first), for the answer when no
 * backend is left: 504 when that try timed out, else 502. */
static enum sl_proxy_attempt_r next_backend(struct sl_hconn *c, sl_watcher_cb_t on_io,
                                            struct sl_answer *a, const char *last)
{
    struct sl_hreq *q = c->rq;
    const struct sl_route *r = q->route;

    if (sl_attempt_select(&q->att, c->ctx->stats, r->svc->name, q->table->lb, r->group, q->key,
                          q->keylen))
        return connect_or_reuse(c, on_io, a);
    if (q->att.ntried == 0) {
        (void)snprintf(a->msg, sizeof(a->msg), "no backend of service %.100s is usable",
                       r->svc->name);
        return give_up(a, 503, false);
    }
    if (last)
        (void)snprintf(a->msg, sizeof(a->msg),
                       "backend %.96s: %s; no other backend of service %.100s to try",
                       q->att.target, last, r->svc->name);
    else
        (void)snprintf(a->msg, sizeof(a->msg), "no backend of service %.100s could be reached",
                       r->svc->name);
    return give_up(a, sl_attempt_give_up_status(&q->att), false);
}

enum sl_proxy_attempt_r sl_proxy_attempt_start(struct sl_hconn *c, sl_watcher_cb_t on_io,
                                               struct sl_answer *a)
{
    struct sl_hreq *q = c->rq;

    q->att.retries = q->route->svc->retries; /* the route, and so the budget, is known only now */
    return next_backend(c, on_io, a, NULL);
}

enum sl_proxy_attempt_r sl_proxy_attempt_failed(struct sl_hconn *c, sluice_outcome_t outcome,
                                                const char *what, sl_watcher_cb_t on_io,
                                                struct sl_answer *a)
{
    struct sl_hreq *q = c->rq;

    sl_proxy_drop_backend(c, false);
    /* Counted (passive health) once per attempt, by sl_attempt_fail. */
    if (sl_attempt_fail(&q->att, outcome, may_resend(q), NULL, what)) {
        /* Another backend: its pool may serve, and it has its own stale
         * retry. The request is queued anew from hbuf (intact: nothing
         * but a response head overwrites it, and none came). */
        assert(!q->resp_head_done && q->cout.n == 0 && q->bytes_out == 0);
        q->retried_stale = false;
        return next_backend(c, on_io, a, what);
    }
    (void)snprintf(a->msg, sizeof(a->msg), "backend %.96s: %s", q->att.target, what);
    return give_up(a, outcome == SLUICE_OUTCOME_TIMEOUT ? 504 : 502, false);
}

enum sl_proxy_attempt_r sl_proxy_attempt_connected(struct sl_hconn *c, sl_watcher_cb_t on_io,
                                                   struct sl_answer *a)
{
    int err = sl_sock_error(c->rq->up->w.fd);

    if (err) {
        char what[96];

        sl_attempt_count_connect_failure(&c->rq->att);
        (void)snprintf(what, sizeof(what), "connect failed: %s",
                       err == ECONNREFUSED ? "connection refused" : "socket error");
        return sl_proxy_attempt_failed(c, SLUICE_OUTCOME_FAIL, what, on_io, a);
    }
    return SL_ATTEMPT_READY;
}

enum sl_proxy_attempt_r sl_proxy_attempt_lost(struct sl_hconn *c, sl_watcher_cb_t on_io,
                                              struct sl_answer *a)
{
    struct sl_hreq *q = c->rq;

    if (q->reused && !q->resp_got_any && idempotent(c) && !q->retried_stale) {
        /* The classic keep-alive race: the backend closed a pooled
         * connection as we reused it. Nothing was processed; go again on a
         * fresh connection to the same backend. */
        sl_proxy_drop_backend(c, false);
        q->retried_stale = true;
        return connect_or_reuse(c, on_io, a);
    }
    if (!q->resp_head_done)
        return sl_proxy_attempt_failed(c, SLUICE_OUTCOME_FAIL,
                                       "connection failed before the response", on_io, a);
    return SL_ATTEMPT_CUT;
}

bool sl_proxy_attempt_queue_request(struct sl_hconn *c)
{
    struct sl_hreq *q = c->rq;
    uint32_t plen;

    q->hbuf->end = q->rest_len;
    plen = sl_proxy_build_prefix(c, q->att.be);
    if (plen == 0)
        return false;
    q->bout.n = 0;
    sl_out_add(&q->bout, q->hbuf->data + q->rest_len, plen);
    sl_out_add(&q->bout, q->hbuf->data, q->rest_len);
    q->sent_ns = sl_loop_now_ns(c->ctx->loop);
    return true;
}

int sl_proxy_flush_backend(struct sl_hconn *c)
{
    size_t before = sl_out_len(&c->rq->bout);
    int r = sl_out_flush(&c->rq->bout, c->rq->up->w.fd);

    /* A partial write counts too: the backend may act on what it got, so
     * the request must not go to another one. */
    if (r > 0 || (r == 0 && sl_out_len(&c->rq->bout) < before))
        c->rq->sent_any = true;
    return r;
}

void sl_proxy_log_request(const struct sl_hconn *c)
{
    const struct sl_hreq *q = c->rq;
    struct sl_access_rec r;

    if (!sl_access_log_on())
        return;
    sl_attempt_access_rec(&q->att, c->ctx->loop, c->client_ip, q->start_ns, &r);
    r.method = q->method;
    r.method_len = q->method_len;
    r.path = q->target;
    r.path_len = q->target_len;
    r.status = q->status;
    r.bytes = q->bytes_out;
    sl_access_log_add(c->ctx->alog, &r);
}
