/* Leaf of the HTTP proxy: the canned responses it answers itself (400,
 * 404, 408, 431, 502, 503, 504, ...): text/plain, a one-line body that
 * says what happened, Connection: close when the connection cannot go on.
 * It only writes bytes and queues them; whether to answer, and what to
 * drop first, is the exchange core's (proxy_exchange.c). */
#include <stdio.h>
#include <string.h>

#include "http/proxy_int.h"
#include "http/status.h"

int sl_proxy_error_queue(struct sl_hconn *c, int status, const char *detail, bool close_conn)
{
    struct sl_hreq *q = c->rq;
    char body[512];
    int blen, hlen;
    struct sl_buf *b;

    if (!q->hbuf)
        q->hbuf = sl_buf_get(c->ctx->bufs);
    b = q->hbuf;
    if (!b)
        return -1;
    blen = snprintf(body, sizeof(body), "%d %s: %s\n", status, sl_http_reason(status),
                    detail ? detail : sl_http_reason(status));
    if (blen < 0)
        blen = 0;
    if ((size_t)blen >= sizeof(body))
        blen = sizeof(body) - 1;
    hlen = snprintf(b->data, b->cap,
                    "HTTP/1.1 %d %s\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n"
                    "Connection: %s\r\nVia: 1.1 sluice\r\n\r\n",
                    status, sl_http_reason(status), blen, close_conn ? "close" : "keep-alive");
    if (hlen < 0 || (size_t)hlen + (size_t)blen > b->cap)
        return -1;
    if (q->method_id != SL_METHOD_HEAD || !c->in_request) {
        memcpy(b->data + hlen, body, (size_t)blen);
        hlen += blen;
    }
    b->start = 0;
    b->end = (uint32_t)hlen;
    q->cout.n = 0;
    sl_out_add(&q->cout, b->data, (size_t)hlen);
    q->bytes_out += (uint64_t)hlen;
    q->status = status;
    q->resp_head_done = true;
    q->client_ka = !close_conn;
    if (close_conn)
        c->close_after = true;
    return 0;
}
