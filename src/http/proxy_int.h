/* Internals shared by the HTTP proxy's files. Worker thread only.
 *
 * The files are layers: each calls only files listed below it (and the
 * parser, chunked.c and the router), never one above, and the sides never
 * call each other. The event callbacks are handed down as arguments.
 * `python3 ../shared/tools/mutual_calls.py src` checks the pairs.
 *
 *   proxy.c           the public API (proxy.h): per-worker context,
 *                     accept, drain, trim, fini.
 *   proxy_exchange.c  the exchange core: event callbacks and the
 *                     connection timer, the phase (its one table of legal
 *                     transitions and sl_hconn_set_phase), every deadline,
 *                     and each decision: retry, answer, finish, cut, close.
 *   proxy_conn.c      a connection's resources: struct free lists, request
 *                     state attach/detach/reuse, the deadline timer, the
 *                     epoll mask for the current phase.
 *   -- sides: do one thing and return what happened; never set the phase
 *      or a deadline --
 *   proxy_client.c    client input: reads, request body into bout, a body
 *                     held whole (buffer_request_body), min_body_rate's
 *                     measure, linger.
 *   proxy_route.c     parse, route and rewrite a request head.
 *   proxy_backend.c   HTTP's backend attempt, on proxy/attempt.c (the
 *                     tried set, retry budget, outcomes, timeouts and
 *                     descriptor errors shared with TCP): connect or reuse
 *                     a pooled connection, when a request may be resent,
 *                     the stale keep-alive retry, the backend's queue, the
 *                     access-log record.
 *   proxy_response.c  backend input: response heads (1xx, 101, final),
 *                     response body into cout.
 *   -- leaves: only write bytes --
 *   proxy_request.c   request and response head builders, hashing key.
 *   proxy_errors.c    the canned error response builder.
 *   proxy_out.c       flushing an sl_out queue.
 */
#ifndef SL_HTTP_PROXY_INT_H
#define SL_HTTP_PROXY_INT_H

#include <sys/types.h>
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
#include "proxy/attempt.h"
#include "sluice.h"

/* The exchange's phases. Only sl_hconn_set_phase() (proxy_exchange.c)
 * changes c->phase, and only along its table of legal transitions. */
enum sl_hphase {
    SL_PH_HEAD = 0, /* reading a request head (or idle between requests) */
    SL_PH_BODY,     /* buffer_request_body: reading a body before selecting a backend */
    SL_PH_CONNECT,  /* backend connection in progress */
    SL_PH_FORWARD,  /* request and response streaming */
    SL_PH_TUNNEL,   /* after 101: raw bytes both ways */
    SL_PH_FLUSH,    /* request done, its response still going out; then the next */
    SL_PH_CLOSING,  /* flushing a last response, then close */
    SL_PH_LINGER,   /* our side shut: discard what the client still sends */
    SL_PH_DEAD,     /* closed: the struct is on the free list */
};

#define SL_OUT_IOV 6
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
    struct sl_freelink spare; /* on ctx->rq_free while unused */
    struct sl_upconn *up;     /* the backend connection we hold */
    struct sl_buf *rbuf;      /* backend input */
    struct sl_buf *hbuf;      /* rewritten heads */
    struct sl_out cout;       /* toward the client */
    struct sl_out bout;       /* toward the backend */

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
    struct sl_attempt att; /* the backend: selected, tried, retries, names for logs */
    bool reused;           /* the connection came from the pool */
    bool retried_stale;    /* already retried once after a stale pooled conn */
    bool sent_any;         /* some request byte reached the backend */
    bool body_taken;       /* body bytes left ibuf for a backend: a retry could not resend them */
    uint64_t sent_ns;      /* request head handed to the kernel */

    /* Request body limits (reset by the exchange core for each request
     * head it parses). */
    bool body_buffered;      /* the whole body is in ibuf[head_len, head_len + body_len) and
                              * stays there until the request ends: each attempt queues it
                              * again, so a retry can resend it (buffer_request_body) */
    uint32_t body_len;       /* body_buffered: its bytes, chunked framing included */
    uint32_t body_scan;      /* SL_PH_BODY: ibuf offset the chunked decoder has reached */
    uint64_t body_rx;        /* body bytes read from the client so far (framing included) */
    uint64_t body_fwd;       /* chunked: body bytes handed to the backend (max_body_size) */
    uint64_t body_start_ms;  /* loop ms when the head was complete (min_body_rate) */
    uint64_t rate_next_ms;   /* next min_body_rate check; 0: none */
    uint64_t rate_last_ms;   /* the check before (or the head) */
    uint64_t rate_paused_ms; /* time we did not read the client (not the client's fault) */

    /* Response. */
    int status;
    bool resp_head_done, resp_done, resp_ka, resp_got_any, be_dirty;
    enum sl_http_body resp_body;
    uint64_t resp_left;
    struct sl_chunked resp_chunk;
    bool dechunk;       /* HTTP/1.0 client: strip the chunked framing */
    bool client_ka;     /* the response told the client keep-alive */
    uint64_t bytes_out; /* to the client for this request */
};

/* One client connection: only what an idle keep-alive connection needs. */
struct sl_hconn {
    struct sl_proxy_ctx *ctx;
    struct sl_dlink link;     /* on ctx->conns while open */
    struct sl_freelink spare; /* on ctx->conn_free once dead (phase stays readable) */
    struct sl_dlink lru;      /* on ctx->lru while on_lru */
    uint64_t active_ms;       /* loop ms of its last activity while on ctx->lru */
    struct sl_watcher cw;     /* the client */
    struct sl_timer timer;
    uint64_t deadline_ms;         /* lazy: the timer may fire early and re-arm */
    struct sl_hreq *rq;           /* the request in progress, or NULL when idle */
    struct sl_stats_listener *ls; /* its listener's counters on this worker, or NULL */
    struct sl_buf *ibuf;          /* client input: head at [0, head_len), then body */
    uint32_t ioff;                /* ibuf: first byte not yet forwarded or parsed */
    enum sl_hphase phase;         /* set by sl_hconn_set_phase() only */
    uint32_t wait_ms;             /* loop ms (truncated) when waiting for this head began */

    /* Listener settings, copied at accept. */
    uint32_t header_timeout_ms, idle_timeout_ms, max_head;
    uint32_t body_timeout_ms, min_body_rate; /* min_body_rate in bytes/s, 0: off */
    uint64_t max_body_size;                  /* 0: unlimited */

    bool client_eof;  /* the client shut its side */
    bool close_after; /* close the client once cout drained */
    bool next_after;  /* start the next request once cout drained */
    bool in_request;  /* between head parsed and request finished */
    bool got_bytes;   /* the current request has sent at least one byte */
    bool served_one;  /* at least one request answered on this connection */
    bool linger;      /* close by shutting down first: unread input remains */
    bool on_lru;      /* on ctx->lru: no request in flight when last seen */
    bool ibuf_big;    /* ibuf is a buffer_request_body allocation, not the pool's */
    uint8_t client_ip_len;
    char client_ip[SL_CLIENT_IP_MAX]; /* text, for logs, X-Forwarded-For, hashing */
};

/* A response the proxy answers itself, as a side reports it; the exchange
 * core drops the backend, then queues it (sl_proxy_error_queue). */
struct sl_answer {
    int status;
    bool close;         /* Connection: close after it */
    const char *detail; /* the body's text: a literal, or msg; NULL: the reason */
    char msg[300];
};

/* ---- proxy_exchange.c: the exchange core (for proxy.c) ---- */

void sl_hconn_on_client(struct sl_loop *l, struct sl_watcher *w, uint32_t events);
void sl_hconn_on_timer(struct sl_timer *t, void *arg);
/* Waits for (or parses at once) the connection's next request head. */
void sl_hconn_start_head(struct sl_hconn *c);
/* Closes the connection now (no response); the struct goes to the free
 * list, so callers up the stack may still test c->phase == SL_PH_DEAD. */
void sl_hconn_close(struct sl_hconn *c);
/* Fatal for the whole connection: report <outcome>, log a request in
 * progress, close. */
void sl_hconn_abort(struct sl_hconn *c, sluice_outcome_t outcome);

/* ---- proxy_conn.c: a connection's resources ---- */

/* A zeroed connection struct from ctx's free list (or malloc), NULL when
 * out of memory. */
struct sl_hconn *sl_hconn_new(struct sl_proxy_ctx *ctx);
/* Links <c> into ctx->conns (it counts as open). */
void sl_hconn_link(struct sl_hconn *c);
/* Unlinks <c> from ctx->conns and puts it on the free list (never free()d
 * here, so a caller up the stack may still test c->phase == SL_PH_DEAD). */
void sl_hconn_recycle(struct sl_hconn *c);
/* Puts a struct that was never linked back on the free list. */
void sl_hconn_unused(struct sl_hconn *c);
/* The connection's request state, attached from the free list when it has
 * none (zeroed); NULL when out of memory. */
struct sl_hreq *sl_hconn_attach(struct sl_hconn *c);
/* Gives the request state back (buffers, backend, table released first). */
void sl_hconn_detach(struct sl_hconn *c);
/* Readies the attached request state for the next pipelined request. */
void sl_hconn_reuse_request(struct sl_hconn *c);
/* The connection's deadline, <ms> from now. */
void sl_hconn_set_deadline(struct sl_hconn *c, uint32_t ms);
/* Arms the timer for the deadline or the next min_body_rate check,
 * whichever comes first. */
void sl_hconn_arm_timer(struct sl_hconn *c);
/* Sets the client's and the backend's epoll masks for the phase and the
 * queues. */
void sl_hconn_update_events(struct sl_hconn *c);

/* ---- proxy_client.c: client input ---- */

/* Reads from the client into ibuf: > 0 bytes, 0 EOF, -1 nothing now, -2
 * error or no buffer. */
ssize_t sl_client_read(struct sl_hconn *c);
/* Gives ibuf back: to the pool, or freed when it was grown. */
void sl_client_put_ibuf(struct sl_hconn *c);
/* Moves ibuf to a buffer of <cap> bytes (a bounded allocation of its own,
 * freed by sl_client_put_ibuf), so a request body can be held whole; the
 * request's pointers into the head follow. False when out of memory. */
bool sl_client_grow_ibuf(struct sl_hconn *c, uint32_t cap);
/* Between requests: keeps only the bytes of pipelined requests in ibuf
 * (ioff 0), returning an empty ibuf to the pool. True when bytes wait. */
bool sl_client_keep_pipelined(struct sl_hconn *c);

enum sl_take {
    SL_TAKE_NONE,  /* nothing taken: no body bytes, or bout is full */
    SL_TAKE_SOME,  /* body bytes moved to bout (req_done set at the end) */
    SL_TAKE_BAD,   /* malformed chunked body: answer 400 and close */
    SL_TAKE_LARGE, /* a chunked body grew past max_body_size: answer 413 and close */
};
/* Moves the request body bytes waiting in ibuf to bout. */
enum sl_take sl_client_take_body(struct sl_hconn *c);

enum sl_buffered {
    SL_BUFFERED_MORE,   /* not all of it yet: read more */
    SL_BUFFERED_DONE,   /* body_buffered: the whole body is in ibuf */
    SL_BUFFERED_STREAM, /* a chunked body outgrew the buffer: stream it as usual */
    SL_BUFFERED_BAD,    /* malformed chunked body: answer 400 and close */
    SL_BUFFERED_LARGE,  /* past max_body_size: answer 413 and close */
    SL_BUFFERED_NOMEM,  /* no memory for a larger buffer: answer 503 and close */
};
/* SL_PH_BODY: looks at the body bytes in ibuf, growing it up to the
 * service's buffer_request_body, and says whether the body is whole. */
enum sl_buffered sl_client_buffer_body(struct sl_hconn *c);
/* Clears the body fields of the request before (called at each head). */
void sl_client_body_reset(struct sl_hreq *q);

enum sl_rate {
    SL_RATE_DONE, /* the body is in or the request over: no more checks */
    SL_RATE_OK,   /* fast enough, in its grace period, or we are not reading */
    SL_RATE_SLOW, /* below min_body_rate: *rate says how fast it was */
};
/* min_body_rate's check at <now> (loop ms); sets the next one. */
enum sl_rate sl_client_body_rate(struct sl_hconn *c, uint64_t now, uint64_t *rate);
/* min_body_rate's check (sl_client_body_rate) with its verdict: true when
 * the client is too slow, the reason in msg[len], logged at most once a
 * second per worker. */
bool sl_client_too_slow(struct sl_hconn *c, uint64_t now, char *msg, size_t len);
/* The longest wait for the client's next body bytes: the listener's
 * timeouts.body, or the service's timeouts.idle when shorter. */
uint32_t sl_client_body_wait_ms(const struct sl_hconn *c);
/* The body is still coming: the deadline is the client's (timeouts.body)
 * while we wait for its bytes, the backend's (idle) while it has not taken
 * those we queued. */
void sl_client_wait_body(struct sl_hconn *c);
/* An interim 100 Continue for a client that waits for one before it sends
 * a body sluice reads first (no backend is there yet to send it). */
void sl_client_send_continue(struct sl_hconn *c);

/* SL_PH_LINGER: discards input; true when the client closed or failed. */
bool sl_client_linger_read(struct sl_hconn *c);

/* ---- proxy_route.c: the start of a request ---- */

enum sl_route_r {
    SL_ROUTE_PARTIAL, /* head incomplete: read more */
    SL_ROUTE_OK,      /* routed, fields rewritten: start a backend attempt */
    SL_ROUTE_REFUSE,  /* answer *a */
};
/* Parses the head in ibuf; on a full head copies the request into c->rq
 * (in_request from then on), routes it and rewrites its fields into hbuf. */
enum sl_route_r sl_route_request(struct sl_hconn *c, struct sl_answer *a);

/* ---- proxy_backend.c: the backend attempt ---- */

/* Timeouts that apply to the current backend (its override or the
 * service's). */
uint32_t sl_proxy_connect_timeout(const struct sl_hconn *c);
uint32_t sl_proxy_response_timeout(const struct sl_hconn *c);
uint32_t sl_proxy_idle_timeout(const struct sl_hconn *c);

enum sl_proxy_attempt_r {
    SL_ATTEMPT_READY,      /* connected or reused: send the request */
    SL_ATTEMPT_CONNECTING, /* connect in progress: wait for the backend */
    SL_ATTEMPT_GIVE_UP,    /* no backend left (or no descriptor): answer *a */
    SL_ATTEMPT_CUT,        /* the response had begun: cut the client (FAIL) */
};
/* Selects a backend (skipping those tried) and connects or reuses one;
 * failures are counted and retried here while the budget lasts. <on_io>
 * becomes the backend watcher's callback (data: c). */
enum sl_proxy_attempt_r sl_proxy_attempt_start(struct sl_hconn *c, sl_watcher_cb_t on_io,
                                               struct sl_answer *a);
/* The attempt failed before any response (<what> says how; outcome FAIL
 * or TIMEOUT): counts it, then retries on another backend when safe. */
enum sl_proxy_attempt_r sl_proxy_attempt_failed(struct sl_hconn *c, sluice_outcome_t outcome,
                                                const char *what, sl_watcher_cb_t on_io,
                                                struct sl_answer *a);
/* The connect in progress finished (or failed). */
enum sl_proxy_attempt_r sl_proxy_attempt_connected(struct sl_hconn *c, sl_watcher_cb_t on_io,
                                                   struct sl_answer *a);
/* The backend connection broke (write error, reset, EOF before any
 * response): once more on a fresh connection after the keep-alive race,
 * else as sl_proxy_attempt_failed, or CUT once the response began. */
enum sl_proxy_attempt_r sl_proxy_attempt_lost(struct sl_hconn *c, sl_watcher_cb_t on_io,
                                              struct sl_answer *a);
/* Queues the request head for the connected backend on bout (its line and
 * Host, then the rewritten fields); false when it does not fit. */
bool sl_proxy_attempt_queue_request(struct sl_hconn *c);
/* Flushes bout; 1 all sent, 0 blocked, -1 error. */
int sl_proxy_flush_backend(struct sl_hconn *c);
/* Drops the backend connection: back to the pool when <reuse>. */
void sl_proxy_drop_backend(struct sl_hconn *c, bool reuse);
/* Adds the request's access-log record (when the log is on). */
void sl_proxy_log_request(const struct sl_hconn *c);

/* ---- proxy_response.c: backend input ---- */

/* Reads from the backend into rbuf: > 0, 0 EOF, -1 nothing now, -2 error. */
ssize_t sl_resp_read(struct sl_hconn *c);

enum sl_resp_r {
    SL_RESP_WAIT,        /* more bytes needed, or cout must drain first */
    SL_RESP_FINAL,       /* a final head is on cout: its body follows */
    SL_RESP_UPGRADE,     /* a 101 head is on cout: tunnel */
    SL_RESP_BAD,         /* answer 502 with *detail, count a FAIL */
    SL_RESP_CLIENT_GONE, /* sending an interim head failed */
};
/* Parses the response heads in rbuf until a final one; 1xx heads go to
 * the client as they come. */
enum sl_resp_r sl_resp_heads(struct sl_hconn *c, const char **detail);

enum sl_resp_body_r {
    SL_RESP_BODY_MORE,
    SL_RESP_BODY_DONE, /* resp_done; bytes past it were dropped (be_dirty) */
    SL_RESP_BODY_BAD,  /* malformed chunked body (logged): cut (FAIL) */
};
/* Moves the response body bytes in rbuf to cout (dechunked for HTTP/1.0). */
enum sl_resp_body_r sl_resp_body(struct sl_hconn *c);

/* ---- proxy_request.c: head builders ---- */

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

/* ---- proxy_errors.c: canned responses ---- */

/* Writes a canned response (status, text body; <detail> may be NULL) into
 * hbuf and queues it on cout; sets status, client_ka and, when
 * <close_conn>, close_after. The request state is attached and no
 * response has begun. 0, or -1 when no buffer or it does not fit. */
int sl_proxy_error_queue(struct sl_hconn *c, int status, const char *detail, bool close_conn);

/* ---- proxy_out.c: queues ---- */

/* Writes <o> to <fd> (one sendmsg when it all fits): 1 all sent, 0 would
 * block, -1 error. */
int sl_out_flush(struct sl_out *o, int fd);

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

/* Flushes cout; 1 all sent, 0 blocked, -1 client gone. */
static inline int sl_hconn_flush_client(struct sl_hconn *c)
{
    return sl_out_flush(&c->rq->cout, c->cw.fd);
}

#endif /* SL_HTTP_PROXY_INT_H */
