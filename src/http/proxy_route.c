/* The start of a request: parse the head, route it (endpoint, route by
 * weight, hashing key), rewrite the header fields for the backend, and hand
 * over to the backend side. Every refusal is answered here. */
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

static void begin_request(struct sl_hconn *c, const struct sl_http_req *req, uint32_t head_len)
{
    struct sl_proxy_ctx *ctx = c->ctx;
    const struct sl_endpoint *ep;
    char msg[300];

    copy_request(c, req, head_len);
    c->rq->table = *ctx->table;
    if (!c->rq->table) {
        sl_proxy_error(c, 503, "no routing table loaded yet", true);
        return;
    }
    sl_router_acquire(c->rq->table);
    if (req->method_id == SL_METHOD_CONNECT) {
        sl_proxy_error(c, 501, "CONNECT is not supported", true);
        return;
    }
    ep = sl_router_match(c->rq->table, req->host ? req->host : "", c->rq->host_len, req->path,
                         req->path_len);
    if (!ep) {
        (void)snprintf(msg, sizeof(msg), "no endpoint for %.*s%.*s",
                       (int)(c->rq->host_len > 100 ? 100 : c->rq->host_len),
                       c->rq->host ? c->rq->host : "",
                       (int)(req->path_len > 150 ? 150 : req->path_len), req->path);
        sl_proxy_error(c, 404, msg, false);
        return;
    }
    c->rq->route = sl_router_pick_route(ep, rng_next(ctx));
    if (!c->rq->route) {
        (void)snprintf(msg, sizeof(msg), "endpoint %.200s has no route with weight", ep->pattern);
        sl_proxy_error(c, 503, msg, false);
        return;
    }
    sl_proxy_hash_key(c, req, c->rq->route->svc, &c->rq->key, &c->rq->keylen);
    if (!c->rq->hbuf)
        c->rq->hbuf = sl_buf_get(ctx->bufs);
    if (!c->rq->hbuf) {
        sl_proxy_error(c, 503, "out of memory", true);
        return;
    }
    c->rq->rest_len = sl_proxy_build_request(c, req, NULL);
    if (c->rq->rest_len == 0) {
        sl_proxy_error(c, 431, "request head too large to forward", true);
        return;
    }
    sl_proxy_start_backend(c);
}

void sl_proxy_try_parse(struct sl_hconn *c)
{
    struct sl_http_req *req = &c->ctx->req;
    struct sl_buf *b = c->ibuf;
    int r = sl_http_parse_request(b->data, b->end, c->max_head, req);

    if (r == SL_HTTP_PARTIAL) {
        if (sl_buf_room(b) == 0 || b->end >= c->max_head)
            sl_proxy_error(c, 431, "request head too large", true);
        else
            sl_hconn_update_events(c);
        return;
    }
    if (r == SL_HTTP_BAD) {
        sl_proxy_error(c, req->m.status ? req->m.status : 400, req->m.error, true);
        return;
    }
    begin_request(c, req, (uint32_t)r);
}
