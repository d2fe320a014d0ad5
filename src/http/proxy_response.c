/* The response side of the HTTP proxy: backend events, the response head
 * (1xx forwarded, 101 into a tunnel, final heads rewritten), body
 * streaming with backpressure, and the tunnel. */
#include <sys/socket.h>

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "http/proxy_int.h"
#include "net/log.h"
#include "net/sock.h"

static void resp_body(struct sl_hconn *c);

/* Reads from the backend into rbuf: > 0, 0 EOF, -1 nothing now, -2 error. */
static ssize_t backend_read(struct sl_hconn *c)
{
    struct sl_buf *b = c->rq->rbuf;
    ssize_t n;

    if (!b) {
        b = c->rq->rbuf = sl_buf_get(c->ctx->bufs);
        if (!b)
            return -2;
    }
    if (b->start == b->end)
        b->start = b->end = 0;
    if (sl_buf_room(b) == 0)
        sl_buf_compact(b);
    if (sl_buf_room(b) == 0)
        return -1;
    do {
        /* recv, not read: skips the VFS layer (rw_verify_area, fsnotify). */
        n = recv(c->rq->up->w.fd, b->data + b->end, sl_buf_room(b), 0);
    } while (n < 0 && errno == EINTR);
    if (n > 0) {
        b->end += (uint32_t)n;
        return n;
    }
    if (n == 0)
        return 0;
    return errno == EAGAIN || errno == EWOULDBLOCK ? -1 : -2;
}

/* Sends cout; false when the connection is gone. */
static bool push_client(struct sl_hconn *c)
{
    int r = sl_hconn_flush_client(c);

    if (r < 0) {
        sl_hconn_abort(c, SLUICE_OUTCOME_NEUTRAL);
        return false;
    }
    return true;
}

static void enter_tunnel(struct sl_hconn *c)
{
    struct sl_buf *ib = c->ibuf;

    c->phase = SL_PH_TUNNEL;
    c->rq->req_done = true;
    if (ib && c->ioff < ib->end) {
        sl_out_add(&c->rq->bout, ib->data + c->ioff, ib->end - c->ioff);
        c->ioff = ib->end;
        if (sl_proxy_flush_backend(c) < 0) {
            sl_hconn_abort(c, SLUICE_OUTCOME_FAIL);
            return;
        }
    }
    sl_hconn_set_deadline(c, sl_proxy_idle_timeout(c));
}

/* A final (or 101) response head of <hlen> bytes sits at rbuf->start. */
static void final_head(struct sl_hconn *c, const struct sl_http_resp *resp, uint32_t hlen)
{
    struct sl_buf *rb = c->rq->rbuf;
    uint32_t len;

    c->rq->status = resp->status;
    c->rq->resp_head_done = true;
    c->rq->resp_ka = resp->m.keep_alive;
    c->rq->resp_body = resp->m.body;
    c->rq->resp_left = resp->m.content_length;
    if (resp->m.body == SL_BODY_CHUNKED)
        sl_chunked_init(&c->rq->resp_chunk);
    c->rq->dechunk = resp->m.body == SL_BODY_CHUNKED && c->rq->req_http10;
    c->rq->client_ka = c->rq->req_ka && c->rq->req_done && !c->client_eof && !c->ctx->draining &&
                       resp->m.body != SL_BODY_UNTIL_CLOSE && !c->rq->dechunk;
    /* The request head sits at the front of hbuf; once it is sent (and no
     * interim head waits) the response head may have the whole buffer:
     * a large request head must not shrink the room for the response's.
     * No retry can need the request fields any more: bytes came back. */
    if (c->rq->bout.n == 0 && c->rq->cout.n == 0)
        c->rq->hbuf->end = 0;
    len = sl_proxy_build_response(c, resp, c->rq->client_ka);
    if (len == 0) {
        c->rq->resp_head_done = false;
        sluice_backend_release(c->rq->be, SLUICE_OUTCOME_FAIL, 0);
        c->rq->be = NULL;
        sl_proxy_error(c, 502, "response head too large", true);
        return;
    }
    sl_out_add(&c->rq->cout, c->rq->hbuf->data + c->rq->hbuf->end - len, len);
    c->rq->bytes_out += len;
    rb->start += hlen;
    if (resp->status == 101) {
        enter_tunnel(c);
        if (c->phase == SL_PH_DEAD)
            return;
        if (rb->start < rb->end) {
            sl_out_add(&c->rq->cout, rb->data + rb->start, rb->end - rb->start);
            c->rq->bytes_out += rb->end - rb->start;
            rb->start = rb->end;
        }
        if (push_client(c))
            sl_hconn_update_events(c);
        return;
    }
    sl_hconn_set_deadline(c, sl_proxy_idle_timeout(c));
    resp_body(c);
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
    return push_client(c);
}

static void bad_response(struct sl_hconn *c, const char *why)
{
    sl_log(SL_LOG_WARN, "backend %s: bad response: %s", c->rq->be_name, why);
    sluice_backend_release(c->rq->be, SLUICE_OUTCOME_FAIL, 0);
    c->rq->be = NULL;
    sl_proxy_error(c, 502, "bad response from backend", true);
}

/* Parses response heads in rbuf until a final one; 1xx go to the client
 * as they come. */
static void parse_heads(struct sl_hconn *c)
{
    struct sl_http_resp *resp = &c->ctx->resp;
    struct sl_hreq *q = c->rq;
    struct sl_buf *rb = q->rbuf;

    while (rb->start < rb->end && q->cout.n == 0) {
        int r = sl_http_parse_response(rb->data + rb->start, rb->end - rb->start, rb->cap,
                                       q->method_id, resp);

        if (r == SL_HTTP_PARTIAL) {
            if (rb->start == 0 && rb->end == rb->cap) {
                bad_response(c, "response head too large");
                return;
            }
            break;
        }
        if (r == SL_HTTP_BAD) {
            bad_response(c, resp->m.error ? resp->m.error : "malformed response head");
            return;
        }
        if (resp->status == 101 && !q->req_upgrade) {
            bad_response(c, "101 without an upgrade request");
            return;
        }
        if (resp->status >= 200 || resp->status == 101) {
            final_head(c, resp, (uint32_t)r);
            return;
        }
        if (!interim_head(c, (uint32_t)r))
            return;
    }
    sl_hconn_update_events(c);
}

static void resp_body(struct sl_hconn *c)
{
    struct sl_buf *rb = c->rq->rbuf;
    uint32_t avail = rb->end - rb->start;
    size_t n = 0, data = 0;
    int r;

    switch (c->rq->resp_body) {
    case SL_BODY_NONE:
        c->rq->resp_done = true;
        break;
    case SL_BODY_LENGTH:
        n = avail < c->rq->resp_left ? avail : (size_t)c->rq->resp_left;
        c->rq->resp_left -= n;
        c->rq->resp_done = c->rq->resp_left == 0;
        break;
    case SL_BODY_CHUNKED:
        /* An HTTP/1.0 client gets the data without the framing. */
        if (c->rq->dechunk)
            r = sl_chunked_decode(&c->rq->resp_chunk, rb->data + rb->start, avail, &n, &data);
        else
            r = sl_chunked_feed(&c->rq->resp_chunk, rb->data + rb->start, avail, &n);
        if (r == SL_CHUNKED_BAD) {
            sl_log(SL_LOG_WARN, "backend %s: malformed chunked response body", c->rq->be_name);
            sl_hconn_abort(c, SLUICE_OUTCOME_FAIL);
            return;
        }
        c->rq->resp_done = r == SL_CHUNKED_DONE;
        break;
    case SL_BODY_UNTIL_CLOSE:
        n = avail;
        break;
    }
    if (!c->rq->dechunk)
        data = n;
    sl_out_add(&c->rq->cout, rb->data + rb->start, data);
    c->rq->bytes_out += data;
    rb->start += (uint32_t)n;
    if (c->rq->resp_done && rb->start < rb->end) {
        c->rq->be_dirty = true; /* bytes past the response: the connection is out of step */
        rb->start = rb->end;
    }
    if (!push_client(c))
        return;
    if (c->rq->resp_done) {
        sl_hconn_finish(c, SLUICE_OUTCOME_OK);
        return;
    }
    sl_hconn_update_events(c);
}

static void backend_eof(struct sl_hconn *c)
{
    if (c->phase == SL_PH_TUNNEL) {
        c->rq->be_dirty = true;
        c->rq->client_ka = false;
        sl_hconn_finish(c, SLUICE_OUTCOME_OK);
        return;
    }
    if (!c->rq->resp_got_any) {
        sl_proxy_backend_error(c);
        return;
    }
    if (c->rq->resp_head_done && c->rq->resp_body == SL_BODY_UNTIL_CLOSE) {
        c->rq->resp_done = true;
        c->rq->be_dirty = true;
        sl_hconn_finish(c, SLUICE_OUTCOME_OK);
        return;
    }
    sl_log(SL_LOG_WARN, "backend %s: connection closed in the middle of a response",
           c->rq->be_name);
    if (c->rq->resp_head_done) {
        sl_hconn_abort(c, SLUICE_OUTCOME_FAIL);
        return;
    }
    sluice_backend_release(c->rq->be, SLUICE_OUTCOME_FAIL, 0);
    c->rq->be = NULL;
    sl_proxy_error(c, 502, "backend closed the connection in the response head", true);
}

static void backend_data(struct sl_hconn *c)
{
    struct sl_buf *rb = c->rq->rbuf;

    c->rq->resp_got_any = true;
    if (c->phase == SL_PH_TUNNEL) {
        sl_out_add(&c->rq->cout, rb->data + rb->start, rb->end - rb->start);
        c->rq->bytes_out += rb->end - rb->start;
        rb->start = rb->end;
        sl_hconn_set_deadline(c, sl_proxy_idle_timeout(c));
        if (push_client(c))
            sl_hconn_update_events(c);
        return;
    }
    if (!c->rq->resp_head_done)
        parse_heads(c);
    else
        resp_body(c);
}

void sl_proxy_on_backend(struct sl_loop *l, struct sl_watcher *w, uint32_t events)
{
    struct sl_hconn *c = w->data;
    ssize_t n;

    (void)l;
    if (c->phase == SL_PH_CONNECT) {
        if (events & (SL_EV_WRITE | SL_EV_ERROR | SL_EV_HUP))
            sl_proxy_connect_done(c);
        return;
    }
    if (c->rq->bout.n > 0 && (events & (SL_EV_WRITE | SL_EV_ERROR | SL_EV_HUP))) {
        int r = sl_proxy_flush_backend(c);

        if (r < 0) {
            sl_proxy_backend_error(c);
            return;
        }
        if (r > 0) {
            sl_proxy_backend_flushed(c);
            if (c->phase == SL_PH_DEAD || !c->rq->up || &c->rq->up->w != w)
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
                sl_proxy_backend_error(c);
        }
        return;
    }
    n = backend_read(c);
    if (n == -1)
        return;
    if (n <= 0) {
        backend_eof(c);
        return;
    }
    backend_data(c);
}

void sl_proxy_backend_resume(struct sl_hconn *c)
{
    struct sl_buf *rb = c->rq->rbuf;

    if (rb && rb->start == rb->end)
        rb->start = rb->end = 0;
    if (c->phase == SL_PH_FORWARD && c->rq->up && rb && rb->start < rb->end) {
        if (!c->rq->resp_head_done)
            parse_heads(c);
        else
            resp_body(c);
        return;
    }
    sl_hconn_update_events(c);
}
