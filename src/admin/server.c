/* The admin API's sockets: its own thread and event loop on admin.bind,
 * so an API call never takes time from the workers. A connection reads a
 * request head (sluice's strict parser, request mode), its body (by
 * Content-Length or chunked, at most 1 MiB), hands it to api.c and writes
 * the answer; one request at a time per connection (a pipelined one waits
 * in the buffer until the answer before it is out).
 *
 * Not a hot path: a connection mallocs its buffers, and at most
 * opts.max_conns (SL_ADMIN_MAX_CONNS) are open at once (the listener's gate keeps the rest
 * in the kernel's backlog). */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "admin/admin.h"
#include "admin/api.h"
#include "admin/tokens.h"
#include "control/control.h"
#include "control/store.h"
#include "http/status.h"
#include "net/listener.h"
#include "net/log.h"
#include "net/sock.h"
#include "proxy/defaults.h"

#define ADMIN_BACKLOG 1024
#define IN_CHUNK      16384
/* A chunked body's framing on top of its data before we call it abuse. */
#define CHUNKED_RAW_MAX (2u * SL_API_MAX_BODY)

struct admin_conn {
    struct sl_watcher w;
    struct sl_timer t;
    struct sl_admin *a;
    struct admin_conn *prev, *next;
    char *in;
    size_t in_len, in_cap;
    char *out;
    size_t out_len, out_off;
    bool close_after; /* once out is written */
    bool continued;   /* 100 Continue sent for this request */
    bool started;     /* a request's first bytes came: its header timer runs */
    bool ready;       /* on a->ready: input to answer at the next turn */
    bool wrote;       /* the last answer is a 2xx to a change */
    char peer[64];    /* "ip:port" ("[ip]:port"): an agent's remote address */
    struct admin_conn *ready_next;
};

struct sl_admin {
    struct sl_loop loop;
    struct sl_listener ln;
    pthread_t thread;
    struct sl_api_ctx ctx;
    struct sl_tokens *tokens;
    struct admin_conn *conns;
    size_t nconns;
    size_t max_conns;
    struct admin_conn *ready; /* read this turn, answered at the next */
    struct sl_store *store;   /* for group commit; NULL: none */
};

static void conn_close(struct admin_conn *k)
{
    struct sl_admin *a = k->a;
    int fd = k->w.fd;

    sl_loop_timer_stop(&a->loop, &k->t);
    sl_loop_forget(&a->loop, &k->w);
    close(fd);
    for (struct admin_conn **r = &a->ready; *r != NULL; r = &(*r)->ready_next) {
        if (*r == k) {
            *r = k->ready_next;
            break;
        }
    }
    if (k->prev != NULL)
        k->prev->next = k->next;
    else
        a->conns = k->next;
    if (k->next != NULL)
        k->next->prev = k->prev;
    a->nconns--;
    free(k->in);
    free(k->out);
    free(k);
}

/* Queues the answer <r> (its body is consumed). -1: out of memory. */
static int queue_resp(struct admin_conn *k, struct sl_api_resp *r)
{
    char head[512], clen[64] = "";
    size_t body_len = r->status == 204 ? 0 : r->body_len;
    int n;

    /* 204 has no body, so neither a type nor a length (RFC 9110 8.6). */
    if (r->status != 204)
        (void)snprintf(clen, sizeof(clen), "Content-Type: %s\r\nContent-Length: %zu\r\n",
                       r->content_type != NULL ? r->content_type : "application/json", body_len);
    n = snprintf(head, sizeof(head),
                 "HTTP/1.1 %d %s\r\n%sCache-Control: no-store\r\n%s%s%s%s%s\r\n", r->status,
                 sl_http_reason(r->status), clen,
                 r->www_authenticate ? "WWW-Authenticate: Bearer\r\n" : "",
                 r->allow != NULL ? "Allow: " : "", r->allow != NULL ? r->allow : "",
                 r->allow != NULL ? "\r\n" : "", k->close_after ? "Connection: close\r\n" : "");
    char *out = malloc((size_t)n + body_len);

    if (out == NULL) {
        sl_api_resp_free(r);
        return -1;
    }
    memcpy(out, head, (size_t)n);
    if (body_len > 0)
        memcpy(out + n, r->body, body_len);
    sl_api_resp_free(r);
    free(k->out);
    k->out = out;
    k->out_len = (size_t)n + body_len;
    k->out_off = 0;
    return 0;
}

static void queue_error(struct admin_conn *k, int status, const char *code, const char *msg)
{
    struct sl_api_resp r = {0};

    k->close_after = true;
    sl_api_error(&r, status, code, "%s", msg);
    (void)queue_resp(k, &r);
}

/* Writes what is queued. 1 all out, 0 would block, -1 dead. */
static int flush_out(struct admin_conn *k)
{
    while (k->out_off < k->out_len) {
        ssize_t w = send(k->w.fd, k->out + k->out_off, k->out_len - k->out_off, MSG_NOSIGNAL);

        if (w < 0)
            return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : errno == EINTR ? 0 : -1;
        k->out_off += (size_t)w;
    }
    free(k->out);
    k->out = NULL;
    k->out_len = k->out_off = 0;
    return 1;
}

static const char *hdr(const struct sl_http_req *q, const char *name, size_t *len)
{
    const struct sl_http_hdr *h = sl_http_find(&q->m, name, strlen(name));

    *len = h != NULL ? h->value_len : 0;
    return h != NULL ? h->value : NULL;
}

/* What to do with the buffered input. */
enum take { TAKE_MORE, TAKE_DONE, TAKE_ANSWERED };

/* A chunked body: once whole, decoded in place behind the head. *<end>
 * is where the message ends in the input, *<blen> the decoded length. */
static enum take take_chunked(struct admin_conn *k, size_t head, size_t *end, size_t *blen)
{
    struct sl_chunked ch;
    size_t raw = 0, dlen = 0;
    int rc;

    /* Found from the start each time more arrives (a body is at most a few
     * MiB here): decoding rewrites the buffer, so it waits for the end. */
    sl_chunked_init(&ch);
    rc = sl_chunked_feed(&ch, k->in + head, k->in_len - head, &raw);
    if (rc == SL_CHUNKED_BAD) {
        queue_error(k, 400, "invalid_request", "malformed chunked body");
        return TAKE_ANSWERED;
    }
    if (rc == SL_CHUNKED_MORE) {
        if (k->in_len - head <= CHUNKED_RAW_MAX)
            return TAKE_MORE;
        queue_error(k, 413, "too_large", "the body is larger than 1 MiB");
        return TAKE_ANSWERED;
    }
    sl_chunked_init(&ch);
    (void)sl_chunked_decode(&ch, k->in + head, raw, &raw, &dlen);
    if (dlen > SL_API_MAX_BODY) {
        queue_error(k, 413, "too_large", "the body is larger than 1 MiB");
        return TAKE_ANSWERED;
    }
    *end = head + raw;
    *blen = dlen;
    return TAKE_DONE;
}

/* Parses one request out of the input and answers it. */
static enum take take_request(struct admin_conn *k)
{
    struct sl_http_req q;
    int head = sl_http_parse_request(k->in, k->in_len, SL_DEFAULT_MAX_HEADER_SIZE, &q);
    size_t end, blen = 0;

    if (head == SL_HTTP_PARTIAL)
        return TAKE_MORE;
    if (head == SL_HTTP_BAD) {
        queue_error(k, q.m.status != 0 ? q.m.status : 400, "invalid_request",
                    q.m.error != NULL ? q.m.error : "malformed request");
        return TAKE_ANSWERED;
    }
    end = (size_t)head;
    if (q.m.body == SL_BODY_LENGTH) {
        if (q.m.content_length > SL_API_MAX_BODY) {
            queue_error(k, 413, "too_large", "the body is larger than 1 MiB");
            return TAKE_ANSWERED;
        }
        blen = (size_t)q.m.content_length;
        end += blen;
        if (k->in_len < end)
            goto more;
    } else if (q.m.body == SL_BODY_CHUNKED) {
        enum take t = take_chunked(k, (size_t)head, &end, &blen);

        if (t == TAKE_MORE)
            goto more;
        if (t == TAKE_ANSWERED)
            return t;
    }
    struct sl_api_req r = {
        .method = q.method_id,
        .method_name = q.method,
        .method_len = q.method_len,
        .path = q.path,
        .path_len = q.path_len,
        .query = q.query_len > 0 ? q.query + 1 : NULL,
        .query_len = q.query_len > 0 ? q.query_len - 1 : 0,
        .body = k->in + head,
        .body_len = blen,
        .remote = k->peer,
    };
    struct sl_api_resp resp;

    r.auth = hdr(&q, "Authorization", &r.auth_len);
    sl_api_handle(&k->a->ctx, &r, &resp);
    k->wrote = q.method_id != SL_METHOD_GET && resp.status >= 200 && resp.status < 300;
    k->close_after = !q.m.keep_alive;
    k->continued = false;
    if (queue_resp(k, &resp) != 0)
        k->close_after = true;
    memmove(k->in, k->in + end, k->in_len - end);
    k->in_len -= end;
    return TAKE_DONE;

more:
    if (q.expect_continue && !k->continued && q.m.minor_version == 1) {
        static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";

        k->continued = true;
        (void)send(k->w.fd, cont, sizeof(cont) - 1, MSG_NOSIGNAL);
    }
    return TAKE_MORE;
}

static void arm(struct admin_conn *k, uint32_t ms)
{
    sl_loop_timer_after(&k->a->loop, &k->t, ms);
}

/* Answers what is buffered, then waits for more or for the output. */
static void progress(struct admin_conn *k)
{
    for (;;) {
        if (k->out != NULL) {
            int rc = flush_out(k);

            if (rc < 0 || (rc > 0 && k->close_after)) {
                conn_close(k);
                return;
            }
            if (rc == 0) {
                sl_loop_mod(&k->a->loop, &k->w, SL_EV_WRITE);
                arm(k, SL_DEFAULT_BODY_TIMEOUT_MS);
                return;
            }
        }
        if (k->in_len == 0) {
            sl_loop_mod(&k->a->loop, &k->w, SL_EV_READ);
            arm(k, SL_DEFAULT_CLIENT_IDLE_TIMEOUT_MS);
            return;
        }
        if (take_request(k) == TAKE_MORE) {
            sl_loop_mod(&k->a->loop, &k->w, SL_EV_READ);
            /* Armed once per request, not per read: a client trickling a
             * byte at a time must not keep the connection forever. */
            if (!k->started)
                arm(k, SL_DEFAULT_HEADER_TIMEOUT_MS);
            k->started = true;
            return;
        }
        k->started = false;
    }
}

static void on_io(struct sl_loop *l, struct sl_watcher *w, uint32_t events)
{
    struct admin_conn *k = w->data;

    (void)l;
    if (k->out != NULL || (events & (SL_EV_READ | SL_EV_HUP | SL_EV_ERROR)) == 0) {
        progress(k);
        return;
    }
    if (k->in_cap - k->in_len < IN_CHUNK / 2) {
        size_t cap = k->in_cap * 2;
        char *in = realloc(k->in, cap);

        if (in == NULL) {
            conn_close(k);
            return;
        }
        k->in = in;
        k->in_cap = cap;
    }
    ssize_t n = recv(w->fd, k->in + k->in_len, k->in_cap - k->in_len, 0);

    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
        conn_close(k);
        return;
    }
    if (n > 0)
        k->in_len += (size_t)n;
    if (!k->ready) {
        k->ready = true;
        k->ready_next = k->a->ready;
        k->a->ready = k;
    }
}

/* Group commit: the requests that came in one turn are answered together
 * at the top of the next, inside one store group, so the changes of
 * several clients become durable with one fsync (store.h). Their answers
 * are queued first and written only once the group is committed; if the
 * commit fails, every change answer of the group becomes a 500. */
static void on_turn(struct sl_loop *l, void *arg)
{
    struct sl_admin *a = arg;
    struct admin_conn *list = a->ready, *k, *next;
    char err[256] = "";
    size_t n = 0;
    bool group;

    (void)l;
    a->ready = NULL;
    for (k = list; k != NULL; k = k->ready_next, n++)
        k->ready = false;
    group = n > 1 && a->store != NULL && sl_store_group_begin(a->store, err, sizeof(err)) == 0;
    for (k = list; group && k != NULL; k = k->ready_next) {
        k->wrote = false;
        if (k->out == NULL && k->in_len > 0 && take_request(k) == TAKE_DONE)
            k->started = false;
    }
    if (group && sl_store_group_commit(a->store, err, sizeof(err)) != 0) {
        sl_log(SL_LOG_ERROR, "admin: %s: the changes answered in this group are not stored", err);
        for (k = list; k != NULL; k = k->ready_next)
            if (k->wrote)
                queue_error(k, 500, "store_error", err);
    }
    for (k = list; k != NULL; k = next) {
        next = k->ready_next; /* progress() may free k */
        progress(k);
    }
}

static void on_timeout(struct sl_timer *t, void *arg)
{
    struct admin_conn *k = arg;

    (void)t;
    if (k->out == NULL && k->in_len > 0) {
        /* A request started but did not finish in time: say so. */
        queue_error(k, 408, "timeout", "the request did not arrive in time");
        (void)flush_out(k);
    }
    conn_close(k);
}

static bool gate(struct sl_listener *ln, bool waiting)
{
    const struct sl_admin *a = ln->data;

    (void)waiting;
    return a->nconns < a->max_conns;
}

static void peer_name(const struct sockaddr *sa, socklen_t len, char *out, size_t cap)
{
    char ip[INET6_ADDRSTRLEN] = "";

    out[0] = '\0';
    if (sa != NULL && sa->sa_family == AF_INET && len >= (socklen_t)sizeof(struct sockaddr_in)) {
        const struct sockaddr_in *s4 = (const struct sockaddr_in *)sa;

        if (inet_ntop(AF_INET, &s4->sin_addr, ip, sizeof(ip)) != NULL)
            (void)snprintf(out, cap, "%s:%u", ip, (unsigned)ntohs(s4->sin_port));
    } else if (sa != NULL && sa->sa_family == AF_INET6 &&
               len >= (socklen_t)sizeof(struct sockaddr_in6)) {
        const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)sa;

        if (inet_ntop(AF_INET6, &s6->sin6_addr, ip, sizeof(ip)) != NULL)
            (void)snprintf(out, cap, "[%s]:%u", ip, (unsigned)ntohs(s6->sin6_port));
    }
}

static void on_accept(struct sl_listener *ln, int fd, const struct sockaddr *peer,
                      socklen_t peerlen)
{
    struct sl_admin *a = ln->data;
    struct admin_conn *k = calloc(1, sizeof(*k));

    if (k == NULL || (k->in = malloc(IN_CHUNK)) == NULL) {
        free(k);
        close(fd);
        return;
    }
    peer_name(peer, peerlen, k->peer, sizeof(k->peer));
    k->in_cap = IN_CHUNK;
    k->a = a;
    k->w.cb = on_io;
    k->w.data = k;
    sl_timer_init(&k->t, on_timeout, k);
    if (sl_loop_add(&a->loop, &k->w, fd, SL_EV_READ) != 0) {
        free(k->in);
        free(k);
        close(fd);
        return;
    }
    k->next = a->conns;
    if (a->conns != NULL)
        a->conns->prev = k;
    a->conns = k;
    a->nconns++;
    arm(k, SL_DEFAULT_HEADER_TIMEOUT_MS);
}

/* In the admin thread, after sl_admin_stop()'s wake-up. */
static void on_wake(struct sl_loop *l, void *arg)
{
    struct sl_admin *a = arg;

    sl_listener_close(&a->ln);
    for (struct admin_conn *k = a->conns, *next; k != NULL; k = next) {
        next = k->next;
        conn_close(k);
    }
    sl_loop_stop(l);
}

static void *run(void *arg)
{
    struct sl_admin *a = arg;

    sl_loop_run(&a->loop);
    return NULL;
}

static bool is_loopback(const char *bind)
{
    struct sockaddr_storage ss;
    socklen_t len;

    if (sl_sock_parse_bind(bind, &ss, &len) != 0)
        return false;
    if (ss.ss_family == AF_INET) {
        const struct sockaddr_in *s4 = (const struct sockaddr_in *)&ss;

        return (ntohl(s4->sin_addr.s_addr) >> 24) == 127;
    }
    if (ss.ss_family == AF_INET6) {
        const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)&ss;

        return IN6_IS_ADDR_LOOPBACK(&s6->sin6_addr);
    }
    return false;
}

/* The token registry over control's store, and the first start's
 * bootstrap token. 0 or -1 with err set. */
static int open_tokens(struct sl_admin *a, struct sl_control *c, const char *token_file, char *err,
                       size_t errlen)
{
    bool created = false;

    if (sl_tokens_open(sl_control_store(c), &a->tokens, err, errlen) != 0)
        return -1;
    if (token_file != NULL &&
        sl_tokens_bootstrap(a->tokens, token_file, &created, err, errlen) != 0)
        return -1;
    if (created)
        sl_log(SL_LOG_INFO, "admin: first start: an admin token was written to %s", token_file);
    return 0;
}

static void admin_free(struct sl_admin *a)
{
    sl_tokens_close(a->tokens);
    free(a);
}

int sl_admin_start(struct sl_control *c, const struct sl_admin_opts *o, struct sl_admin **out,
                   char *err, size_t errlen)
{
    struct sl_admin *a = calloc(1, sizeof(*a));
    int e;

    if (a == NULL) {
        (void)snprintf(err, errlen, "admin: out of memory");
        return -1;
    }
    if (open_tokens(a, c, o->token_file, err, errlen) != 0) {
        admin_free(a);
        return -1;
    }
    a->ctx = (struct sl_api_ctx){c, a->tokens, o->metrics_public, o->metrics, o->metrics_arg};
    a->max_conns = o->max_conns != 0 ? o->max_conns : SL_ADMIN_MAX_CONNS;
    if (sl_loop_init(&a->loop) != 0) {
        (void)snprintf(err, errlen, "admin: event loop: %s", sl_errstr(errno));
        admin_free(a);
        return -1;
    }
    a->loop.on_wake = on_wake;
    a->loop.on_wake_arg = a;
    a->loop.on_turn = on_turn;
    a->loop.on_turn_arg = a;
    a->store = sl_control_store(c);
    /* The listener sets SO_REUSEPORT: without this probe a second daemon,
     * or a data-plane listener on the same address, would share the API's
     * port silently and answer half its calls. */
    if (sl_listener_probe(o->bind) != 0 ||
        sl_listener_open(&a->ln, &a->loop, "admin", o->bind, ADMIN_BACKLOG, on_accept, a) != 0) {
        (void)snprintf(err, errlen, "admin.bind %s: %s", o->bind, sl_errstr(errno));
        goto fail;
    }
    a->ln.gate = gate;
    if (!is_loopback(o->bind))
        sl_log(SL_LOG_WARN,
               "admin: admin.bind %s is not a loopback address: the API is reachable from the "
               "network, without TLS",
               o->bind);
    e = pthread_create(&a->thread, NULL, run, a);
    if (e != 0) {
        (void)snprintf(err, errlen, "admin: cannot start its thread: %s", sl_errstr(e));
        sl_listener_close(&a->ln);
        goto fail;
    }
    sl_log(SL_LOG_INFO, "admin API listening on %s", o->bind);
    *out = a;
    return 0;

fail:
    sl_loop_fini(&a->loop);
    admin_free(a);
    return -1;
}

void sl_admin_stop(struct sl_admin *a)
{
    if (a == NULL)
        return;
    sl_loop_wake(&a->loop);
    pthread_join(a->thread, NULL);
    sl_loop_fini(&a->loop);
    admin_free(a);
}
