/* The backend side of the HTTP proxy: select, connect or reuse a pooled
 * connection, retries, send the request head, read and rewrite the
 * response head, stream the response body, 101 tunnels, timeouts and the
 * outcomes reported to the library. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "core/view.h"
#include "http/proxy_int.h"
#include "net/log.h"
#include "net/sock.h"

static void send_request(struct sl_hconn *c);

uint32_t sl_proxy_response_timeout(const struct sl_hconn *c)
{
    uint32_t t = c->be ? sluice_backend_first_byte_timeout(c->be) : 0;

    if (!t && c->route)
        t = c->route->svc->response_timeout_ms;
    return t ? t : 30000;
}

uint32_t sl_proxy_idle_timeout(const struct sl_hconn *c)
{
    uint32_t t = c->be ? sluice_backend_between_bytes_timeout(c->be) : 0;

    if (!t && c->route)
        t = c->route->svc->idle_timeout_ms;
    return t ? t : 60000;
}

static uint32_t connect_timeout(const struct sl_hconn *c)
{
    uint32_t t = sluice_backend_connect_timeout(c->be);

    if (!t)
        t = c->route->svc->connect_timeout_ms;
    return t ? t : 2000;
}

void sl_proxy_drop_backend(struct sl_hconn *c, bool reuse)
{
    struct sl_upconn *up = c->up;

    if (!up)
        return;
    c->up = NULL;
    c->bout.n = 0;
    if (reuse)
        sl_upstream_put(c->ctx->ups, up);
    else
        sl_upstream_close(c->ctx->ups, up);
}

static bool idempotent(const struct sl_hconn *c)
{
    switch (c->method_id) {
    case SL_METHOD_GET:
    case SL_METHOD_HEAD:
    case SL_METHOD_OPTIONS:
    case SL_METHOD_PUT:
    case SL_METHOD_DELETE:
    case SL_METHOD_TRACE:
        return c->req_body == SL_BODY_NONE;
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
    if (c->be) {
        if (c->nskip < SL_MAX_SKIP)
            c->skip[c->nskip++] = c->be;
        sluice_backend_release(c->be, outcome, 0);
        c->be = NULL;
    }
    sl_log(SL_LOG_WARN, "backend %s: %s", c->be_name, what);
    if (!c->sent_any && c->tries < c->route->svc->retries && c->nskip < SL_MAX_SKIP) {
        c->tries++;
        sl_proxy_start_backend(c);
        return;
    }
    snprintf(msg, sizeof(msg), "backend %.96s: %s", c->be_name, what);
    sl_proxy_error(c, status, msg, false);
}

static void connect_or_reuse(struct sl_hconn *c)
{
    struct sl_proxy_ctx *ctx = c->ctx;
    const struct sockaddr *sa;
    unsigned salen = 0;
    bool inprog = false;

    c->reused = false;
    c->sent_any = false;
    if (!c->retried_stale) {
        c->up = sl_upstream_take(ctx->ups, c->be, sl_proxy_on_backend, c);
        if (c->up) {
            c->reused = true;
            send_request(c);
            return;
        }
    }
    sa = sl_backend_sockaddr(c->be, &salen);
    if (!sa) {
        backend_failed(c, SLUICE_OUTCOME_FAIL, "address did not resolve");
        return;
    }
    c->up = sl_upstream_connect(ctx->ups, c->be, sa, salen, sl_proxy_on_backend, c, &inprog);
    if (!c->up) {
        if (errno == EMFILE || errno == ENFILE || errno == ENOMEM || errno == ENOBUFS) {
            sl_log(SL_LOG_ERROR,
                   "out of file descriptors: raise ulimit -n (hard limit 20000 here)");
            sluice_backend_release(c->be, SLUICE_OUTCOME_NEUTRAL, 0);
            c->be = NULL;
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
    const struct sl_route *r = c->route;
    char msg[200];

    c->be = sl_lb_select_skip(c->table->lb, r->group, c->key, c->keylen, c->skip, c->nskip);
    if (!c->be) {
        if (c->nskip > 0) {
            snprintf(msg, sizeof(msg), "no backend of service %.100s could be reached",
                     r->svc->name);
            sl_proxy_error(c, 502, msg, false);
        } else {
            snprintf(msg, sizeof(msg), "no healthy backend for service %.100s", r->svc->name);
            sl_proxy_error(c, 503, msg, false);
        }
        return;
    }
    /* For logs and error bodies; plain copies, as this runs per request. */
    copy_str(c->be_name, sizeof(c->be_name), sluice_backend_target(c->be));
    c->be_label[0] = '\0';
    if (strcmp(sluice_backend_name(c->be), c->be_name) != 0)
        copy_str(c->be_label, sizeof(c->be_label), sluice_backend_name(c->be));
    connect_or_reuse(c);
}

static void send_request(struct sl_hconn *c)
{
    uint32_t plen;
    int r;

    c->phase = SL_PH_FORWARD;
    c->hbuf->end = c->rest_len;
    plen = sl_proxy_build_prefix(c, c->be);
    if (plen == 0) {
        sl_proxy_error(c, 431, "request head too large to forward", true);
        return;
    }
    c->bout.n = 0;
    sl_out_add(&c->bout, c->hbuf->data + c->rest_len, plen);
    sl_out_add(&c->bout, c->hbuf->data, c->rest_len);
    c->sent_ns = sl_loop_now_ns(c->ctx->loop);
    sl_hconn_set_deadline(c, c->req_done ? sl_proxy_response_timeout(c) : sl_proxy_idle_timeout(c));
    if (!c->req_done) {
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
    int r = sl_out_flush(&c->bout, c->up->w.fd);

    if (r > 0)
        c->sent_any = true;
    return r;
}

void sl_proxy_backend_error(struct sl_hconn *c)
{
    if (c->reused && !c->resp_got_any && idempotent(c) && !c->retried_stale) {
        /* The classic keep-alive race: the backend closed a pooled
         * connection as we reused it. Nothing was processed; go again on a
         * fresh connection to the same backend. */
        sl_proxy_drop_backend(c, false);
        c->retried_stale = true;
        connect_or_reuse(c);
        return;
    }
    if (!c->resp_head_done) {
        backend_failed(c, SLUICE_OUTCOME_FAIL, "connection failed before the response");
        return;
    }
    sl_hconn_abort(c, SLUICE_OUTCOME_FAIL);
}

void sl_proxy_backend_flushed(struct sl_hconn *c)
{
    struct sl_buf *b = c->ibuf;

    if (b && c->ioff == b->end && c->ioff > c->head_len && c->bout.n == 0) {
        b->end = c->head_len; /* the body bytes are gone: make room */
        c->ioff = c->head_len;
    }
    if (c->phase == SL_PH_FORWARD && !c->req_done && b && c->ioff < b->end) {
        sl_hconn_pump_request(c);
        return;
    }
    sl_hconn_update_events(c);
}

void sl_proxy_connect_done(struct sl_hconn *c)
{
    int err = sl_sock_error(c->up->w.fd);

    if (err) {
        char what[96];

        snprintf(what, sizeof(what), "connect failed: %s",
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
    if (!c->resp_got_any) {
        c->sent_any = true; /* the request may have been processed: no retry */
        backend_failed(c, SLUICE_OUTCOME_TIMEOUT, "no response in time");
        return;
    }
    /* Idle mid-body: a stalled backend counts, a client not reading does not. */
    sl_hconn_abort(c, c->cout.n ? SLUICE_OUTCOME_NEUTRAL : SLUICE_OUTCOME_TIMEOUT);
}
