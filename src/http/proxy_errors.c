/* Canned responses the proxy answers itself (400, 404, 408, 431, 502,
 * 503, 504, ...): text/plain, a one-line body that says what happened,
 * and Connection: close whenever the connection cannot go on. */
#include <stdio.h>
#include <string.h>

#include "http/proxy_int.h"

static const char *reason_of(int status)
{
    switch (status) {
    case 400:
        return "Bad Request";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 408:
        return "Request Timeout";
    case 413:
        return "Content Too Large";
    case 414:
        return "URI Too Long";
    case 431:
        return "Request Header Fields Too Large";
    case 500:
        return "Internal Server Error";
    case 501:
        return "Not Implemented";
    case 502:
        return "Bad Gateway";
    case 503:
        return "Service Unavailable";
    case 504:
        return "Gateway Timeout";
    case 505:
        return "HTTP Version Not Supported";
    default:
        return "Error";
    }
}

void sl_proxy_error(struct sl_hconn *c, int status, const char *detail, bool close_conn)
{
    struct sl_proxy_ctx *ctx = c->ctx;
    char body[512];
    int blen, hlen;
    struct sl_buf *b;

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
    if (!c->rq->hbuf)
        c->rq->hbuf = sl_buf_get(ctx->bufs);
    b = c->rq->hbuf;
    if (!b) {
        sl_hconn_abort(c, SLUICE_OUTCOME_NEUTRAL);
        return;
    }
    /* Anything that cannot leave the request boundary clean closes. */
    if (!c->in_request || !c->rq->req_done || c->client_eof || ctx->draining)
        close_conn = true;
    blen = snprintf(body, sizeof(body), "%d %s: %s\n", status, reason_of(status),
                    detail ? detail : reason_of(status));
    if (blen < 0)
        blen = 0;
    if ((size_t)blen >= sizeof(body))
        blen = sizeof(body) - 1;
    hlen = snprintf(b->data, b->cap,
                    "HTTP/1.1 %d %s\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n"
                    "Connection: %s\r\nVia: 1.1 sluice\r\n\r\n",
                    status, reason_of(status), blen, close_conn ? "close" : "keep-alive");
    if (hlen < 0 || (size_t)hlen + (size_t)blen > b->cap) {
        sl_hconn_abort(c, SLUICE_OUTCOME_NEUTRAL);
        return;
    }
    if (c->rq->method_id != SL_METHOD_HEAD || !c->in_request) {
        memcpy(b->data + hlen, body, (size_t)blen);
        hlen += blen;
    }
    b->start = 0;
    b->end = (uint32_t)hlen;
    c->rq->cout.n = 0;
    sl_out_add(&c->rq->cout, b->data, (size_t)hlen);
    c->rq->bytes_out += (uint64_t)hlen;
    c->rq->status = status;
    c->rq->resp_head_done = true;
    c->rq->client_ka = !close_conn;
    if (close_conn)
        c->close_after = true;
    /* Send now: waiting for EPOLLOUT would cost two epoll_ctl per error. */
    if (sl_hconn_flush_client(c) < 0) {
        sl_hconn_abort(c, SLUICE_OUTCOME_NEUTRAL);
        return;
    }
    sl_hconn_finish(c, SLUICE_OUTCOME_NEUTRAL);
}
