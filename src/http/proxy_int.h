/* Internals shared by the proxy's files (proxy.c: client side and request
 * lifecycle; proxy_backend.c: backend side; proxy_request.c: head
 * rewriting; proxy_errors.c: canned responses). Worker thread only. */
#ifndef SL_HTTP_PROXY_INT_H
#define SL_HTTP_PROXY_INT_H

#include <sys/uio.h>

#include <assert.h>
#include <stdbool.h>
#include <stdint.h>

#include "http/parse.h"
#include "http/proxy.h"
#include "http/router.h"
#include "net/buf.h"
#include "net/timer.h"
#include "net/upstream.h"
#include "sluice.h"

enum sl_hphase {
    SL_PH_HEAD = 0, /* reading a request head (or idle between requests) */
    SL_PH_CONNECT,  /* backend connection in progress */
    SL_PH_FORWARD,  /* request and response streaming */
    SL_PH_TUNNEL,   /* after 101: raw bytes both ways */
    SL_PH_FLUSH,    /* request done, its response still going out; then the next */
    SL_PH_CLOSING,  /* flushing a last response, then close */
    SL_PH_LINGER,   /* our side shut: discard what the client still sends */
    SL_PH_DEAD,     /* closed: the struct is on the free list */
};

#define SL_OUT_IOV  6
#define SL_MAX_SKIP 8
/* Longest IPv6 text (45) plus its NUL, rounded to keep sl_hconn aligned. */
#define SL_CLIENT_IP_MAX 48

/* Bytes queued toward one side: iovecs into our buffers. */
struct sl_out {
    struct iovec iov[SL_OUT_IOV];
    int n;
};

/* Per-request state: taken from the worker's free list (ctx->rq_free)
 * when a request head starts arriving (or an error must be answered) and
 * given back when the connection goes idle or closes, so an idle
 * keep-alive connection holds only its small struct sl_hconn. */
struct sl_hreq {
    struct sl_hreq *next_free; /* on ctx->rq_free */
    struct sl_upconn *up;      /* the backend connection we hold */
    struct sl_buf *rbuf;       /* backend input */
    struct sl_buf *hbuf;       /* rewritten heads */
    struct sl_out cout;        /* toward the client */
    struct sl_out bout;        /* toward the backend */

    /* Current request (pointers into ibuf[0, head_len)). */
    uint32_t head_len;
    enum sl_http_method method_id;
    const char *method, *target, *host;
    uint32_t method_len, target_len, host_len;
    const void *key; /* hashing key (into ibuf or client_ip) */
    size_t keylen;
    uint32_t rest_len; /* hbuf[0, rest_len): rewritten header fields */
    bool req_ka, req_upgrade, req_http10;
    enum sl_http_body req_body;
    uint64_t req_left; /* LENGTH: bytes still to forward */
    struct sl_chunked req_chunk;
    bool req_done; /* every request byte handed to bout */
    uint64_t start_ns;

    /* Routing and backend. */
    struct sl_router *table; /* referenced while in_request */
    const struct sl_route *route;
    sluice_backend_t *be; /* selected, not yet released */
    const sluice_backend_t *skip[SL_MAX_SKIP];
    uint32_t nskip;
    uint32_t tries;
    bool reused;        /* the connection came from the pool */
    bool retried_stale; /* already retried once after a stale pooled conn */
    bool sent_any;      /* some request byte reached the backend */
    bool body_taken;    /* body bytes left ibuf for a backend: a retry could not resend them */
    uint64_t sent_ns;   /* request head handed to the kernel */
    char be_name[96];   /* target of the last backend tried, for logs */
    char be_label[64];  /* its name when that differs from the target */

    /* Response. */
    int status;
    bool resp_head_done, resp_done, resp_ka, resp_got_any, be_dirty;
    enum sl_http_body resp_body;
    uint64_t resp_left;
    struct sl_chunked resp_chunk;
    bool dechunk; /* HTTP/1.0 client: strip the chunked framing */
    bool client_ka;     /* the response told the client keep-alive */
    uint64_t bytes_out; /* to the client for this request */
};

/* One client connection: only what an idle keep-alive connection needs. */
struct sl_hconn {
    struct sl_proxy_ctx *ctx;
    struct sl_hconn *prev, *next; /* ctx->all, or ctx->free (next only) */
    struct sl_watcher cw;         /* the client */
    struct sl_timer timer;
    uint64_t deadline_ms; /* lazy: the timer may fire early and re-arm */
    struct sl_hreq *rq;   /* the request in progress, or NULL when idle */
    struct sl_buf *ibuf;  /* client input: head at [0, head_len), then body */
    uint32_t ioff;        /* ibuf: first byte not yet forwarded or parsed */
    enum sl_hphase phase;
    uint32_t wait_ms; /* loop ms (truncated) when waiting for this head began */

    /* Listener settings, copied at accept. */
    uint32_t header_timeout_ms, idle_timeout_ms, max_head;

    bool client_eof;  /* the client shut its side */
    bool close_after; /* close the client once cout drained */
    bool next_after;  /* start the next request once cout drained */
    bool in_request;  /* between head parsed and request finished */
    bool got_bytes;   /* the current request has sent at least one byte */
    bool served_one;  /* at least one request answered on this connection */
    bool linger;      /* close by shutting down first: unread input remains */
    uint8_t client_ip_len;
    char client_ip[SL_CLIENT_IP_MAX]; /* text, for logs, X-Forwarded-For, hashing */
};

/* proxy.c */
/* The connection's request state, attached from the free list when it has
 * none (zeroed); NULL when out of memory. */
struct sl_hreq *sl_hconn_attach(struct sl_hconn *c);
/* Gives the request state back (buffers, backend, table released first). */
void sl_hconn_detach(struct sl_hconn *c);
/* Closes the connection now (no response); the struct goes to the free
 * list, so callers up the stack may still test c->phase == SL_PH_DEAD. */
void sl_hconn_close(struct sl_hconn *c);
/* Closes after the last response: lingers first when input is unread. */
void sl_hconn_close_client(struct sl_hconn *c);
/* SL_PH_LINGER: discard input; close on EOF or error. */
void sl_hconn_linger_read(struct sl_hconn *c);
/* Writes <o> to <fd> (one sendmsg when it all fits): 1 all sent, 0 would
 * block, -1 error. */
int sl_out_flush(struct sl_out *o, int fd);
void sl_hconn_set_deadline(struct sl_hconn *c, uint32_t ms);
void sl_hconn_update_events(struct sl_hconn *c);
/* Flushes cout; 1 all sent, 0 blocked (WRITE armed), -1 client gone. */
int sl_hconn_flush_client(struct sl_hconn *c);
/* The response (or error) is complete: report, log, then the next request
 * or close. */
void sl_hconn_finish(struct sl_hconn *c, sluice_outcome_t outcome);
/* Fatal for the whole connection: release everything, close both sides. */
void sl_hconn_abort(struct sl_hconn *c, sluice_outcome_t outcome);
/* Hands the request body bytes waiting in ibuf to bout. */
void sl_hconn_pump_request(struct sl_hconn *c);

/* proxy_client.c */
/* Between requests: keep pipelined bytes, return idle buffers, parse a
 * waiting request at once. */
void sl_hconn_start_head(struct sl_hconn *c);
void sl_hconn_on_client(struct sl_loop *l, struct sl_watcher *w, uint32_t events);
void sl_hconn_on_timer(struct sl_timer *t, void *arg);

/* proxy_route.c */
/* Parses the head in ibuf; on a full head routes the request and starts
 * the backend side; answers errors itself. */
void sl_proxy_try_parse(struct sl_hconn *c);

/* proxy_backend.c */
/* Timeouts that apply to the current backend (its override or the
 * service's). */
uint32_t sl_proxy_response_timeout(const struct sl_hconn *c);
uint32_t sl_proxy_idle_timeout(const struct sl_hconn *c);
/* A write to the backend failed: retry on a fresh connection when safe,
 * else 502 (or cut, once the response started). */
void sl_proxy_backend_error(struct sl_hconn *c);
/* The connect in progress finished (or failed). */
void sl_proxy_connect_done(struct sl_hconn *c);
/* bout drained: pump more request body, re-arm events. */
void sl_proxy_backend_flushed(struct sl_hconn *c);
/* cout drained: go on with what rbuf still holds, then read the backend. */
void sl_proxy_backend_resume(struct sl_hconn *c);
/* Selects a backend (skipping c->skip) and connects or reuses one. */
void sl_proxy_start_backend(struct sl_hconn *c);
void sl_proxy_on_backend(struct sl_loop *l, struct sl_watcher *w, uint32_t events);
/* Flushes bout; 1 all sent, 0 blocked, -1 error. */
int sl_proxy_flush_backend(struct sl_hconn *c);
/* The backend timer fired in CONNECT or FORWARD. */
void sl_proxy_backend_timeout(struct sl_hconn *c);
/* Drops the backend connection: back to the pool when <reuse>. */
void sl_proxy_drop_backend(struct sl_hconn *c, bool reuse);

/* proxy_request.c */
/* Writes the rewritten header fields of <req> (everything after the Host
 * line, through the blank line) at hbuf[0]; sets hbuf->end. Length, or 0
 * when they do not fit. */
uint32_t sl_proxy_build_request(struct sl_hconn *c, const struct sl_http_req *req,
                                const sluice_backend_t *be);
/* Writes the request line and Host field for <be> at hbuf[rest_len] (the
 * backend may override Host); sets hbuf->end. Length, or 0. */
uint32_t sl_proxy_build_prefix(struct sl_hconn *c, const sluice_backend_t *be);
/* Writes the rewritten response head into hbuf at its end; length or 0. */
uint32_t sl_proxy_build_response(struct sl_hconn *c, const struct sl_http_resp *resp,
                                 bool client_ka);
/* The hashing key of the request for the route's service. */
void sl_proxy_hash_key(const struct sl_hconn *c, const struct sl_http_req *req,
                       const struct sl_service_rt *svc, const void **key, size_t *keylen);

/* proxy_errors.c */
/* Queues a canned response (status, text body) and sets the connection to
 * close or to go on after it. <detail> may be NULL. */
void sl_proxy_error(struct sl_hconn *c, int status, const char *detail, bool close_conn);

static inline void sl_out_add(struct sl_out *o, void *p, size_t len)
{
    if (len == 0)
        return;
    /* Callers stop reading while a queue is full (SL_OUT_IOV entries). */
    assert(o->n < SL_OUT_IOV);
    o->iov[o->n].iov_base = p;
    o->iov[o->n].iov_len = len;
    o->n++;
}

/* Bytes still queued in <o>. */
static inline size_t sl_out_len(const struct sl_out *o)
{
    size_t n = 0;

    for (int i = 0; i < o->n; i++)
        n += o->iov[i].iov_len;
    return n;
}

#endif /* SL_HTTP_PROXY_INT_H */
