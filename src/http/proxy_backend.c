/* Side of the HTTP proxy: the backend attempt. Select a backend (skipping
 * those tried), connect or reuse a pooled connection, count failures and
 * retry on another backend while the budget lasts, the stale keep-alive
 * retry, out-of-descriptor errors, the timeouts that apply, the backend's
 * queue, outcomes reported to the library, and the access-log record.
 * Each entry point returns what to do next (enum sl_attempt_r); the
 * exchange core (proxy_exchange.c) sets the phase and the deadline. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "core/view.h"
#include "http/proxy_int.h"
#include "net/log.h"
#include "net/sock.h"

uint32_t sl_proxy_response_timeout(const struct sl_hconn *c)
{
    uint32_t t = c->rq->be ? sluice_backend_first_byte_timeout(c->rq->be) : 0;

    if (!t && c->rq->route)
        t = c->rq->route->svc->response_timeout_ms;
    return t ? t : 30000;
}

uint32_t sl_proxy_idle_timeout(const struct sl_hconn *c)
{
    uint32_t t = c->rq->be ? sluice_backend_between_bytes_timeout(c->rq->be) : 0;

    if (!t && c->rq->route)
        t = c->rq->route->svc->idle_timeout_ms;
    return t ? t : 60000;
}

uint32_t sl_proxy_connect_timeout(const struct sl_hconn *c)
{
    uint32_t t = sluice_backend_connect_timeout(c->rq->be);

    if (!t)
        t = c->rq->route->svc->connect_timeout_ms;
    return t ? t : 2000;
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

static void copy_str(char *dst, size_t cap, const char *src)
{
    size_t n = strlen(src);

    if (n >= cap)
        n = cap - 1;
    memcpy(dst, src, n);
    dst[n] = '\0';
}

static enum sl_attempt_r give_up(struct sl_answer *a, int status, bool close)
{
    a->status = status;
    a->detail = a->msg;
    a->close = close;
    return SL_ATTEMPT_GIVE_UP;
}

void sl_attempt_release(struct sl_hconn *c, sluice_outcome_t outcome, uint64_t latency_ns)
{
    if (c->rq->be) {
        sluice_backend_release(c->rq->be, outcome, latency_ns);
        c->rq->be = NULL;
    }
}

static enum sl_attempt_r connect_or_reuse(struct sl_hconn *c, sl_watcher_cb_t on_io,
                                          struct sl_answer *a)
{
    struct sl_proxy_ctx *ctx = c->ctx;
    struct sl_hreq *q = c->rq;
    const struct sockaddr *sa;
    unsigned salen = 0;
    bool inprog = false;

    q->reused = false;
    q->sent_any = false;
    if (!q->retried_stale) {
        q->up = sl_upstream_take(ctx->ups, q->be, on_io, c);
        if (q->up) {
            q->reused = true;
            return SL_ATTEMPT_READY;
        }
    }
    sa = sl_backend_sockaddr(q->be, &salen);
    if (!sa)
        return sl_attempt_failed(c, SLUICE_OUTCOME_FAIL, "address did not resolve", on_io, a);
    q->up = sl_upstream_connect(ctx->ups, q->be, sa, salen, on_io, c, &inprog);
    if (!q->up) {
        if (errno == EMFILE || errno == ENFILE || errno == ENOMEM || errno == ENOBUFS) {
            sl_log(SL_LOG_ERROR,
                   "out of file descriptors: raise ulimit -n (hard limit 20000 here)");
            sl_attempt_release(c, SLUICE_OUTCOME_NEUTRAL, 0);
            (void)snprintf(a->msg, sizeof(a->msg), "proxy out of file descriptors");
            return give_up(a, 503, true);
        }
        return sl_attempt_failed(c, SLUICE_OUTCOME_FAIL, "connect failed", on_io, a);
    }
    return inprog ? SL_ATTEMPT_CONNECTING : SL_ATTEMPT_READY;
}

enum sl_attempt_r sl_attempt_start(struct sl_hconn *c, sl_watcher_cb_t on_io, struct sl_answer *a)
{
    struct sl_hreq *q = c->rq;
    const struct sl_route *r = q->route;

    q->be = sl_lb_select_skip(q->table->lb, r->group, q->key, q->keylen, q->skip, q->nskip);
    if (!q->be) {
        if (q->nskip > 0) {
            (void)snprintf(a->msg, sizeof(a->msg), "no backend of service %.100s could be reached",
                           r->svc->name);
            return give_up(a, 502, false);
        }
        (void)snprintf(a->msg, sizeof(a->msg), "no healthy backend for service %.100s",
                       r->svc->name);
        return give_up(a, 503, false);
    }
    /* For logs and error bodies; plain copies, as this runs per request. */
    copy_str(q->be_name, sizeof(q->be_name), sluice_backend_target(q->be));
    q->be_label[0] = '\0';
    if (strcmp(sluice_backend_name(q->be), q->be_name) != 0)
        copy_str(q->be_label, sizeof(q->be_label), sluice_backend_name(q->be));
    return connect_or_reuse(c, on_io, a);
}

enum sl_attempt_r sl_attempt_failed(struct sl_hconn *c, sluice_outcome_t outcome, const char *what,
                                    sl_watcher_cb_t on_io, struct sl_answer *a)
{
    struct sl_hreq *q = c->rq;

    sl_proxy_drop_backend(c, false);
    if (q->be) {
        if (q->nskip < SL_MAX_SKIP)
            q->skip[q->nskip++] = q->be;
        sl_attempt_release(c, outcome, 0);
    }
    sl_log(SL_LOG_WARN, "backend %s: %s", q->be_name, what);
    if (!q->sent_any && !q->body_taken && q->tries < q->route->svc->retries &&
        q->nskip < SL_MAX_SKIP) {
        q->tries++;
        return sl_attempt_start(c, on_io, a);
    }
    (void)snprintf(a->msg, sizeof(a->msg), "backend %.96s: %s", q->be_name, what);
    return give_up(a, outcome == SLUICE_OUTCOME_TIMEOUT ? 504 : 502, false);
}

enum sl_attempt_r sl_attempt_connected(struct sl_hconn *c, sl_watcher_cb_t on_io,
                                       struct sl_answer *a)
{
    int err = sl_sock_error(c->rq->up->w.fd);

    if (err) {
        char what[96];

        (void)snprintf(what, sizeof(what), "connect failed: %s",
                       err == ECONNREFUSED ? "connection refused" : "socket error");
        return sl_attempt_failed(c, SLUICE_OUTCOME_FAIL, what, on_io, a);
    }
    return SL_ATTEMPT_READY;
}

enum sl_attempt_r sl_attempt_lost(struct sl_hconn *c, sl_watcher_cb_t on_io, struct sl_answer *a)
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
        return sl_attempt_failed(c, SLUICE_OUTCOME_FAIL, "connection failed before the response",
                                 on_io, a);
    return SL_ATTEMPT_CUT;
}

bool sl_attempt_queue_request(struct sl_hconn *c)
{
    struct sl_hreq *q = c->rq;
    uint32_t plen;

    q->hbuf->end = q->rest_len;
    plen = sl_proxy_build_prefix(c, q->be);
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
