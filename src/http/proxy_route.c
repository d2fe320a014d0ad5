/* Side of the HTTP proxy: the start of a request. Parses the head, routes
 * it (endpoint, route by weight, hashing key) and rewrites its header
 * fields for the backend; reports a refusal as the answer to give, which
 * the exchange core (proxy_exchange.c) sends. */
#include <stdio.h>
#include <string.h>

#include "http/proxy_int.h"

static uint64_t rng_next(struct sl_proxy_ctx *ctx)
{
    uint64_t x = ctx->rng; /* xorshift64*, per worker */

    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    ctx->rng = x;
    return x * 0x2545f4914f6cdd1dull;
}

static void copy_request(struct sl_hconn *c, const struct sl_http_req *req, uint32_t head_len)
{
    c->rq->head_len = head_len;
    c->ioff = head_len;
    c->in_request = true;
    c->rq->method_id = req->method_id;
    c->rq->method = req->method;
    c->rq->method_len = (uint32_t)req->method_len;
    c->rq->target = req->target;
    c->rq->target_len = (uint32_t)req->target_len;
    c->rq->host = req->host;
    c->rq->host_len = req->host ? (uint32_t)req->host_len : 0;
    c->rq->req_ka = req->m.keep_alive;
    c->rq->req_upgrade = req->m.upgrade;
    c->rq->req_http10 = req->m.minor_version == 0;
    c->rq->req_body = req->m.body;
    c->rq->req_left = req->m.content_length;
    c->rq->req_done = req->m.body == SL_BODY_NONE ||
                      (req->m.body == SL_BODY_LENGTH && req->m.content_length == 0);
    if (req->m.body == SL_BODY_CHUNKED)
        sl_chunked_init(&c->rq->req_chunk);
}

static enum sl_route_r refuse(struct sl_answer *a, int status, const char *detail, bool close)
{
    a->status = status;
    a->detail = detail;
    a->close = close;
    return SL_ROUTE_REFUSE;
}

static enum sl_route_r begin_request(struct sl_hconn *c, const struct sl_http_req *req,
                                     uint32_t head_len, struct sl_answer *a)
{
    struct sl_proxy_ctx *ctx = c->ctx;
    struct sl_hreq *q = c->rq;
    const struct sl_endpoint *ep;

    copy_request(c, req, head_len);
    q->table = *ctx->table;
    if (!q->table)
        return refuse(a, 503, "no routing table loaded yet", true);
    sl_router_acquire(q->table);
    if (req->method_id == SL_METHOD_CONNECT)
        return refuse(a, 501, "CONNECT is not supported", true);
    ep = sl_router_match(q->table, req->host ? req->host : "", q->host_len, req->path,
                         req->path_len);
    if (!ep) {
        (void)snprintf(a->msg, sizeof(a->msg), "no endpoint for %.*s%.*s",
                       (int)(q->host_len > 100 ? 100 : q->host_len), q->host ? q->host : "",
                       (int)(req->path_len > 150 ? 150 : req->path_len), req->path);
        return refuse(a, 404, a->msg, false);
    }
    q->route = sl_router_pick_route(ep, rng_next(ctx));
    if (!q->route) {
        (void)snprintf(a->msg, sizeof(a->msg), "endpoint %.200s has no route with weight",
                       ep->pattern);
        return refuse(a, 503, a->msg, false);
    }
    sl_stats_route_count(ctx->stats, q->route->stat_slot);
    sl_proxy_hash_key(c, req, q->route->svc, &q->key, &q->keylen);
    if (!q->hbuf)
        q->hbuf = sl_buf_get(ctx->bufs);
    if (!q->hbuf)
        return refuse(a, 503, "out of memory", true);
    q->rest_len = sl_proxy_build_request(c, req, NULL);
    if (q->rest_len == 0)
        return refuse(a, 431, "request head too large to forward", true);
    return SL_ROUTE_OK;
}

enum sl_route_r sl_route_request(struct sl_hconn *c, struct sl_answer *a)
{
    struct sl_http_req *req = &c->ctx->req;
    struct sl_buf *b = c->ibuf;
    int r = sl_http_parse_request(b->data, b->end, c->max_head, req);

    if (r == SL_HTTP_PARTIAL) {
        if (sl_buf_room(b) == 0 || b->end >= c->max_head)
            return refuse(a, 431, "request head too large", true);
        return SL_ROUTE_PARTIAL;
    }
    if (r == SL_HTTP_BAD)
        return refuse(a, req->m.status ? req->m.status : 400, req->m.error, true);
    return begin_request(c, req, (uint32_t)r, a);
}
