/* Client side of the HTTP proxy: reading the client's bytes into ibuf,
 * keeping pipelined requests between two requests, handing request body
 * bytes to the backend's queue, and discarding input while lingering. It
 * reports what happened; the exchange core (proxy_exchange.c) decides. */
#include <sys/socket.h>

#include <errno.h>
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

bool sl_client_keep_pipelined(struct sl_hconn *c)
{
    struct sl_buf *ib = c->ibuf;

    if (ib) {
        ib->start = c->ioff < ib->end ? c->ioff : ib->end;
        sl_buf_compact(ib);
    }
    c->ioff = 0;
    if (ib && sl_buf_len(ib) == 0) {
        sl_buf_put(c->ctx->bufs, ib);
        c->ibuf = NULL;
    }
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
        if (r == SL_CHUNKED_DONE)
            q->req_done = true;
    }
    sl_out_add(&q->bout, b->data + c->ioff, n);
    c->ioff += (uint32_t)n;
    if (n > 0)
        q->body_taken = true;
    return SL_TAKE_SOME;
}

bool sl_client_linger_read(struct sl_hconn *c)
{
    char sink[4096];
    ssize_t n = read(c->cw.fd, sink, sizeof(sink));

    return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR);
}
