/* Side of the HTTP proxy: the backend's input. Reads into rbuf, parses
 * response heads (1xx to the client as they come, except to HTTP/1.0
 * clients; a final or 101 head rewritten onto cout) and moves the
 * response body to cout (dechunked for HTTP/1.0 clients). It reports what
 * it found; the exchange core (proxy_exchange.c) decides what follows. */
#include <string.h>

#include "http/proxy_int.h"
#include "net/log.h"

ssize_t sl_resp_read(struct sl_hconn *c)
{
    struct sl_buf *b = c->rq->rbuf;

    if (!b) {
        b = c->rq->rbuf = sl_buf_get(c->ctx->bufs);
        if (!b)
            return -2;
    }
    if (b->start == b->end)
        b->start = b->end = 0;
    if (sl_buf_room(b) == 0)
        sl_buf_compact(b);
    return sl_buf_recv(b, c->rq->up->w.fd);
}

/* A final (or 101) response head of <hlen> bytes sits at rbuf->start:
 * rewritten onto cout. */
static enum sl_resp_r final_head(struct sl_hconn *c, const struct sl_http_resp *resp, uint32_t hlen,
                                 const char **detail)
{
    struct sl_hreq *q = c->rq;
    uint32_t len;

    q->status = resp->status;
    sl_attempt_count_status(&q->att, resp->status);
    q->resp_head_done = true;
    q->resp_ka = resp->m.keep_alive;
    q->resp_body = resp->m.body;
    q->resp_left = resp->m.content_length;
    if (resp->m.body == SL_BODY_CHUNKED)
        sl_chunked_init(&q->resp_chunk);
    q->dechunk = resp->m.body == SL_BODY_CHUNKED && q->req_http10;
    q->client_ka = q->req_ka && q->req_done && !c->client_eof && !c->ctx->draining &&
                   resp->m.body != SL_BODY_UNTIL_CLOSE && !q->dechunk;
    /* The request head sits at the front of hbuf; once it is sent (and no
     * interim head waits) the response head may have the whole buffer:
     * a large request head must not shrink the room for the response's.
     * No retry can need the request fields any more: bytes came back. */
    if (q->bout.n == 0 && q->cout.n == 0)
        q->hbuf->end = 0;
    len = sl_proxy_build_response(c, resp, q->client_ka);
    if (len == 0) {
        q->resp_head_done = false;
        *detail = "response head too large";
        return SL_RESP_BAD;
    }
    sl_out_add(&q->cout, q->hbuf->data + q->hbuf->end - len, len);
    q->bytes_out += len;
    q->rbuf->start += hlen;
    return resp->status == 101 ? SL_RESP_UPGRADE : SL_RESP_FINAL;
}

/* A 1xx head of <len> bytes at rbuf->start: to the client (not to
 * HTTP/1.0 clients, RFC 9110 15.2); false when the client is gone. */
static bool interim_head(struct sl_hconn *c, uint32_t len)
{
    struct sl_hreq *q = c->rq;
    struct sl_buf *rb = q->rbuf;

    if (!q->req_http10) {
        sl_out_add(&q->cout, rb->data + rb->start, len);
        q->bytes_out += len;
    }
    rb->start += len;
    return sl_hconn_flush_client(c) >= 0;
}

static enum sl_resp_r bad_response(struct sl_hconn *c, const char *why, const char **detail)
{
    sl_log(SL_LOG_WARN, "backend %s: bad response: %s", c->rq->att.target, why);
    *detail = "bad response from backend";
    return SL_RESP_BAD;
}

enum sl_resp_r sl_resp_heads(struct sl_hconn *c, const char **detail)
{
    struct sl_http_resp *resp = &c->ctx->resp;
    struct sl_hreq *q = c->rq;
    struct sl_buf *rb = q->rbuf;

    while (rb->start < rb->end && q->cout.n == 0) {
        int r = sl_http_parse_response(rb->data + rb->start, rb->end - rb->start, rb->cap,
                                       q->method_id, resp);

        if (r == SL_HTTP_PARTIAL) {
            if (rb->start == 0 && rb->end == rb->cap)
                return bad_response(c, "response head too large", detail);
            break;
        }
        if (r == SL_HTTP_BAD)
            return bad_response(c, resp->m.error ? resp->m.error : "malformed response head",
                                detail);
        if (resp->status == 101 && !q->req_upgrade)
            return bad_response(c, "101 without an upgrade request", detail);
        if (resp->status >= 200 || resp->status == 101)
            return final_head(c, resp, (uint32_t)r, detail);
        if (!interim_head(c, (uint32_t)r))
            return SL_RESP_CLIENT_GONE;
    }
    return SL_RESP_WAIT;
}

enum sl_resp_body_r sl_resp_body(struct sl_hconn *c)
{
    struct sl_hreq *q = c->rq;
    struct sl_buf *rb = q->rbuf;
    uint32_t avail = rb->end - rb->start;
    size_t n = 0, data = 0;
    int r;

    switch (q->resp_body) {
    case SL_BODY_NONE:
        q->resp_done = true;
        break;
    case SL_BODY_LENGTH:
        n = avail < q->resp_left ? avail : (size_t)q->resp_left;
        q->resp_left -= n;
        q->resp_done = q->resp_left == 0;
        break;
    case SL_BODY_CHUNKED:
        /* An HTTP/1.0 client gets the data without the framing. */
        if (q->dechunk)
            r = sl_chunked_decode(&q->resp_chunk, rb->data + rb->start, avail, &n, &data);
        else
            r = sl_chunked_feed(&q->resp_chunk, rb->data + rb->start, avail, &n);
        if (r == SL_CHUNKED_BAD) {
            sl_log(SL_LOG_WARN, "backend %s: malformed chunked response body", q->att.target);
            return SL_RESP_BODY_BAD;
        }
        q->resp_done = r == SL_CHUNKED_DONE;
        break;
    case SL_BODY_UNTIL_CLOSE:
        n = avail;
        break;
    }
    if (!q->dechunk)
        data = n;
    sl_out_add(&q->cout, rb->data + rb->start, data);
    q->bytes_out += data;
    rb->start += (uint32_t)n;
    if (!q->resp_done)
        return SL_RESP_BODY_MORE;
    if (rb->start < rb->end) {
        q->be_dirty = true; /* bytes past the response: the connection is out of step */
        rb->start = rb->end;
    }
    return SL_RESP_BODY_DONE;
}
