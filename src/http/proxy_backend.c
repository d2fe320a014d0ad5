/* The backend side of the HTTP proxy: select, connect or reuse a pooled
 * connection, retries, send the request head, read and rewrite the
 * response head, stream the response body, 101 tunnels, timeouts and the
 * outcomes reported to the library. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "core/backend.h"
#include "core/select.h"
#include "http/proxy_int.h"
#include "net/log.h"
#include "net/sock.h"

static void send_request(struct sl_hconn *c);

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

static uint32_t connect_timeout(const struct sl_hconn *c)
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

/* The backend failed before answering anything: count it against this
 * backend, then try another one while retries last. */
static void backend_failed(struct sl_hconn *c, sluice_outcome_t outcome, const char *what)
{
    char msg[200];
    int status = outcome == SLUICE_OUTCOME_TIMEOUT ? 504 : 502;

    sl_proxy_drop_backend(c, false);
    if (c->rq->be) {
        if (c->rq->nskip < SL_MAX_SKIP)
            c->rq->skip[c->rq->nskip++] = c->rq->be;
        sluice_backend_release(c->rq->be, outcome, 0);
        c->rq->be = NULL;
    }
    sl_log(SL_LOG_WARN, "backend %s: %s", c->rq->be_name, what);
    if (!c->rq->sent_any && !c->rq->body_taken && c->rq->tries < c->rq->route->svc->retries &&
        c->rq->nskip < SL_MAX_SKIP) {
        c->rq->tries++;
        sl_proxy_start_backend(c);
        return;
    }
    (void)snprintf(msg, sizeof(msg), "backend %.96s: %s", c->rq->be_name, what);
    sl_proxy_error(c, status, msg, false);
}

static void connect_or_reuse(struct sl_hconn *c)
{
    struct sl_proxy_ctx *ctx = c->ctx;
    const struct sockaddr *sa;
    unsigned salen = 0;
    bool inprog = false;

    c->rq->reused = false;
    c->rq->sent_any = false;
    if (!c->rq->retried_stale) {
        c->rq->up = sl_upstream_take(ctx->ups, c->rq->be, sl_proxy_on_backend, c);
        if (c->rq->up) {
            c->rq->reused = true;
            send_request(c);
            return;
        }
    }
    sa = sl_backend_sockaddr(c->rq->be, &salen);
    if (!sa) {
        backend_failed(c, SLUICE_OUTCOME_FAIL, "address did not resolve");
        return;
    }
    c->rq->up =
        sl_upstream_connect(ctx->ups, c->rq->be, sa, salen, sl_proxy_on_backend, c, &inprog);
    if (!c->rq->up) {
        if (errno == EMFILE || errno == ENFILE || errno == ENOMEM || errno == ENOBUFS) {
            sl_log(SL_LOG_ERROR,
                   "out of file descriptors: raise ulimit -n (hard limit 20000 here)");
            sluice_backend_release(c->rq->be, SLUICE_OUTCOME_NEUTRAL, 0);
            c->rq->be = NULL;
            sl_proxy_error(c, 503, "proxy out of file descriptors", true);
            return;
        }
        backend_failed(c, SLUICE_OUTCOME_FAIL, "connect failed");
        return;
    }
    if (inprog) {
        c->phase = SL_PH_CONNECT;
        sl_hconn_set_deadline(c, connect_timeout(c));
        sl_hconn_update_events(c);
        return;
    }
    send_request(c);
}

static void copy_str(char *dst, size_t cap, const char *src)
{
    size_t n = strlen(src);

    if (n >= cap)
        n = cap - 1;
    memcpy(dst, src, n);
    dst[n] = '\0';
}

void sl_proxy_start_backend(struct sl_hconn *c)
{
    const struct sl_route *r = c->rq->route;
    char msg[200];

    c->rq->be = sl_lb_select_skip(c->rq->table->lb, r->group, c->rq->key, c->rq->keylen,
                                  c->rq->skip, c->rq->nskip);
    if (!c->rq->be) {
        if (c->rq->nskip > 0) {
            (void)snprintf(msg, sizeof(msg), "no backend of service %.100s could be reached",
                           r->svc->name);
            sl_proxy_error(c, 502, msg, false);
        } else {
            (void)snprintf(msg, sizeof(msg), "no healthy backend for service %.100s", r->svc->name);
            sl_proxy_error(c, 503, msg, false);
        }
        return;
    }
    /* For logs and error bodies; plain copies, as this runs per request. */
    copy_str(c->rq->be_name, sizeof(c->rq->be_name), sluice_backend_target(c->rq->be));
    c->rq->be_label[0] = '\0';
    if (strcmp(sluice_backend_name(c->rq->be), c->rq->be_name) != 0)
        copy_str(c->rq->be_label, sizeof(c->rq->be_label), sluice_backend_name(c->rq->be));
    connect_or_reuse(c);
}

static void send_request(struct sl_hconn *c)
{
    uint32_t plen;
    int r;

    c->phase = SL_PH_FORWARD;
    c->rq->hbuf->end = c->rq->rest_len;
    plen = sl_proxy_build_prefix(c, c->rq->be);
    if (plen == 0) {
        sl_proxy_error(c, 431, "request head too large to forward", true);
        return;
    }
    c->rq->bout.n = 0;
    sl_out_add(&c->rq->bout, c->rq->hbuf->data + c->rq->rest_len, plen);
    sl_out_add(&c->rq->bout, c->rq->hbuf->data, c->rq->rest_len);
    c->rq->sent_ns = sl_loop_now_ns(c->ctx->loop);
    sl_hconn_set_deadline(c, c->rq->req_done ? sl_proxy_response_timeout(c)
                                             : sl_proxy_idle_timeout(c));
    if (!c->rq->req_done) {
        sl_hconn_pump_request(c); /* adds the body bytes we have, then flushes */
        return;
    }
    r = sl_proxy_flush_backend(c);
    if (r < 0) {
        sl_proxy_backend_error(c);
        return;
    }
    sl_hconn_update_events(c);
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

void sl_proxy_backend_error(struct sl_hconn *c)
{
    if (c->rq->reused && !c->rq->resp_got_any && idempotent(c) && !c->rq->retried_stale) {
        /* The classic keep-alive race: the backend closed a pooled
         * connection as we reused it. Nothing was processed; go again on a
         * fresh connection to the same backend. */
        sl_proxy_drop_backend(c, false);
        c->rq->retried_stale = true;
        connect_or_reuse(c);
        return;
    }
    if (!c->rq->resp_head_done) {
        backend_failed(c, SLUICE_OUTCOME_FAIL, "connection failed before the response");
        return;
    }
    sl_hconn_abort(c, SLUICE_OUTCOME_FAIL);
}

void sl_proxy_backend_flushed(struct sl_hconn *c)
{
    struct sl_buf *b = c->ibuf;

    if (b && c->ioff == b->end && c->ioff > c->rq->head_len && c->rq->bout.n == 0) {
        b->end = c->rq->head_len; /* the body bytes are gone: make room */
        c->ioff = c->rq->head_len;
    }
    if (c->phase == SL_PH_TUNNEL && c->client_eof && c->rq->bout.n == 0 && c->rq->up)
        (void)shutdown(c->rq->up->w.fd, SHUT_WR); /* the client's half-close, passed on */
    if (c->phase == SL_PH_FORWARD && !c->rq->req_done && b && c->ioff < b->end) {
        sl_hconn_pump_request(c);
        return;
    }
    sl_hconn_update_events(c);
}

void sl_proxy_connect_done(struct sl_hconn *c)
{
    int err = sl_sock_error(c->rq->up->w.fd);

    if (err) {
        char what[96];

        (void)snprintf(what, sizeof(what), "connect failed: %s",
                       err == ECONNREFUSED ? "connection refused" : "socket error");
        backend_failed(c, SLUICE_OUTCOME_FAIL, what);
        return;
    }
    send_request(c);
}

void sl_proxy_backend_timeout(struct sl_hconn *c)
{
    if (c->phase == SL_PH_CONNECT) {
        backend_failed(c, SLUICE_OUTCOME_TIMEOUT, "connect timed out");
        return;
    }
    if (!c->rq->req_done && c->rq->bout.n == 0 && !c->rq->resp_got_any) {
        /* Everything the client sent went out and we wait for the rest of
         * its body: the client stalled, the backend did nothing wrong. */
        if (c->rq->be) {
            sluice_backend_release(c->rq->be, SLUICE_OUTCOME_NEUTRAL, 0);
            c->rq->be = NULL;
        }
        sl_proxy_error(c, 408, "request body not received in time", true);
        return;
    }
    if (!c->rq->resp_got_any) {
        c->rq->sent_any = true; /* the request may have been processed: no retry */
        backend_failed(c, SLUICE_OUTCOME_TIMEOUT, "no response in time");
        return;
    }
    /* Idle mid-body: a stalled backend counts, a client not reading does not. */
    sl_hconn_abort(c, c->rq->cout.n ? SLUICE_OUTCOME_NEUTRAL : SLUICE_OUTCOME_TIMEOUT);
}
