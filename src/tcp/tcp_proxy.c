/* TCP sessions: accept, select a backend, connect without blocking,
 * retries (the backend attempt of proxy/attempt.h), connect and idle
 * timeouts, the end of a session (release, access log, recycling). The
 * bytes themselves move in tcp_pump.c. */
#include "tcp/tcp_proxy.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/backend.h"
#include "proxy/defaults.h"
#include "tcp/tcp_int.h"

/* Access-log status of a session, after nginx's stream module: 200 once a
 * backend was reached (however the session ended later), 499 the client
 * left while we were connecting, 500 a local failure (descriptors,
 * memory); when no backend was reached, sl_attempt_give_up_status(): 502
 * every backend tried failed, 503 no usable backend, 504 the last connect
 * attempt timed out. */
enum {
    ST_OK = 200,
    ST_CLIENT_GONE = 499,
    ST_LOCAL = 500,
};

static void start_backend(struct sl_tcp_session *s);
static void on_timer(struct sl_timer *t, void *arg);

struct sl_tcp_worker *sl_tcp_worker_new(struct sl_loop *loop, struct sl_access_log *alog)
{
    struct sl_tcp_worker *w = calloc(1, sizeof(*w));

    if (!w)
        return NULL;
    w->loop = loop;
    w->alog = alog;
    sl_buf_pool_init(&w->bufs, SL_TCP_BUF_SIZE, SL_TCP_BUF_KEEP);
    w->free = SL_FREELIST_INIT(struct sl_tcp_session, spare);
    w->pipe_keep = SL_TCP_PIPE_CACHE;
    return w;
}

void sl_tcp_set_budget(struct sl_tcp_worker *w, const struct sl_fdbudget *b,
                       struct sl_upstream *ups, size_t pipe_cache)
{
    w->fdb = b;
    w->ups = ups;
    w->pipe_keep = pipe_cache < SL_TCP_PIPE_CACHE ? pipe_cache : SL_TCP_PIPE_CACHE;
}

size_t sl_tcp_fds(const struct sl_tcp_worker *w)
{
    return w ? 2 * w->live.n + 2 * w->pipes_out : 0;
}

size_t sl_tcp_active(const struct sl_tcp_worker *w)
{
    return w ? w->live.n : 0;
}

void sl_tcp_stats(const struct sl_tcp_worker *w, struct sl_tcp_stats *out)
{
    *out = w->stats;
}

static uint32_t idle_limit(const struct sl_tcp_session *s)
{
    if (s->w->draining && s->idle_ms > SL_TCP_DRAIN_IDLE_MS)
        return SL_TCP_DRAIN_IDLE_MS;
    return s->idle_ms;
}

static void log_session(struct sl_tcp_session *s, int status)
{
    struct sl_access_rec r;

    if (!s->w->alog || !sl_access_log_on())
        return;
    sl_attempt_access_rec(&s->att, s->w->loop, s->client_ip, s->start_ns, &r);
    r.method = "TCP";
    r.method_len = 3;
    r.path = s->lname;
    r.path_len = strlen(s->lname);
    r.status = status;
    r.bytes = s->down.bytes;
    sl_access_log_add(s->w->alog, &r);
}

static void close_backend_fd(struct sl_tcp_session *s)
{
    sl_loop_del(s->w->loop, &s->bw);
    if (s->bfd >= 0)
        close(s->bfd);
    s->bfd = -1;
}

/* The last step of every session: <s> goes back to the free list, so the
 * caller must not touch it afterwards. A backend still held is released
 * as OK with the connect latency once connected (in L4 mode reaching the
 * backend is the health signal; how the stream ends is the client's and
 * the backend's business), as NEUTRAL while connecting (the client left
 * or we failed locally). */
static void session_end(struct sl_tcp_session *s, int status)
{
    struct sl_tcp_worker *w = s->w;
    bool proxying = s->phase == SL_TCP_PROXYING;

    sl_loop_timer_stop(w->loop, &s->timer);
    sl_loop_del(w->loop, &s->cw);
    log_session(s, status);
    if (proxying)
        sl_attempt_release(&s->att, SLUICE_OUTCOME_OK, s->connect_ns);
    else
        sl_attempt_release(&s->att, SLUICE_OUTCOME_NEUTRAL, 0);
    close_backend_fd(s);
    if (s->cfd >= 0)
        close(s->cfd);
    s->cfd = -1;
    if (s->rt.ls)
        sl_counter_add(&s->rt.ls->active, (uint64_t)-1);
    w->stats.bytes_up += s->up.bytes;
    w->stats.bytes_down += s->down.bytes;
    sl_tcp_dirs_close(s);
    if (s->rt.release)
        s->rt.release(s->rt.ref);
    s->rt.release = NULL;
    sl_dlist_unlink(&w->live, &s->link);
    s->phase = SL_TCP_DEAD;
    sl_freelist_put(&w->free, s);
}

/* No backend left to try: the client is closed without a byte. */
static void give_up(struct sl_tcp_session *s)
{
    s->w->stats.no_backend++;
    if (s->att.ntried > 0)
        sl_log(SL_LOG_WARN, "listener %s: no backend of %s could be reached (%u tried)", s->lname,
               s->group, s->att.ntried);
    else
        sl_log(SL_LOG_WARN, "listener %s: no usable backend in %s", s->lname, s->group);
    session_end(s, sl_attempt_give_up_status(&s->att));
}

/* The current backend failed to connect: count it against the backend and
 * keep it out of the next selections of this session. Returns true when
 * another backend may be tried. */
static bool fail_backend(struct sl_tcp_session *s, sluice_outcome_t outcome, const char *what)
{
    sl_loop_timer_stop(s->w->loop, &s->timer);
    close_backend_fd(s);
    s->w->stats.connect_failures++;
    return sl_attempt_fail(&s->att, outcome, true, s->lname, what);
}

static void retry_or_give_up(struct sl_tcp_session *s, sluice_outcome_t outcome, const char *what)
{
    if (fail_backend(s, outcome, what))
        start_backend(s);
    else
        give_up(s);
}

static void on_io_error(struct sl_tcp_session *s)
{
    session_end(s, ST_OK);
}

void sl_tcp_on_io(struct sl_loop *l, struct sl_watcher *wt, uint32_t events)
{
    struct sl_tcp_session *s = wt->data;
    const uint32_t in = SL_EV_READ | SL_EV_HUP | SL_EV_RDHUP, out = SL_EV_WRITE | SL_EV_HUP;
    unsigned dirs = 0;
    int r;

    (void)l;
    if (events & SL_EV_ERROR) {
        on_io_error(s);
        return;
    }
    if (wt == &s->cw)
        dirs = ((events & in) ? SL_TCP_UP : 0) | ((events & out) ? SL_TCP_DOWN : 0);
    else
        dirs = ((events & in) ? SL_TCP_DOWN : 0) | ((events & out) ? SL_TCP_UP : 0);
    r = sl_tcp_pump(s, dirs);
    if (r != 0)
        session_end(s, ST_OK);
}

static void connected(struct sl_tcp_session *s)
{
    struct sl_tcp_worker *w = s->w;
    int r;

    s->connect_ns = sl_loop_now_ns(w->loop) - s->connect_start_ns;
    s->phase = SL_TCP_PROXYING;
    w->stats.connected++;
    s->last_io_ms = sl_loop_now_ms(w->loop);
    if (sl_loop_timer_after(w->loop, &s->timer, idle_limit(s)) < 0) {
        session_end(s, ST_LOCAL);
        return;
    }
    sl_tcp_dirs_open(s);
    s->cw.cb = sl_tcp_on_io;
    s->bw.cb = sl_tcp_on_io;
    /* The client may have sent (even closed) already: start both ways. */
    r = sl_tcp_pump(s, SL_TCP_UP | SL_TCP_DOWN);
    if (r != 0)
        session_end(s, ST_OK);
}

static void on_connect(struct sl_loop *l, struct sl_watcher *wt, uint32_t events)
{
    struct sl_tcp_session *s = wt->data;
    int err = sl_sock_error(s->bfd);
    char what[96];

    (void)l;
    (void)events;
    if (err == 0) {
        connected(s);
        return;
    }
    sl_attempt_connect_error(err, what, sizeof(what));
    sl_attempt_count_connect_failure(&s->att);
    retry_or_give_up(s, SLUICE_OUTCOME_FAIL, what);
}

/* The client while we connect: registered edge-triggered for RDHUP only,
 * so its bytes wait in the socket and nothing fires repeatedly. A FIN may
 * be a half-close after a complete request, so only ERR/HUP (reset, or
 * gone both ways) end the session. */
static void on_client_wait(struct sl_loop *l, struct sl_watcher *wt, uint32_t events)
{
    struct sl_tcp_session *s = wt->data;

    (void)l;
    if (events & (SL_EV_ERROR | SL_EV_HUP))
        session_end(s, ST_CLIENT_GONE);
}

/* sl_sock_connect() within the worker's descriptor budget: idle pooled
 * HTTP connections close first when one more descriptor would go over the
 * share, and once more when the process ran out of them anyway. */
static int connect_in_budget(struct sl_tcp_worker *w, const struct sockaddr *sa, unsigned salen,
                             bool *inprog)
{
    size_t over = sl_fdbudget_over(w->fdb, 1);
    int fd;

    if (over > 0 && w->ups)
        (void)sl_upstream_close_lru(w->ups, over);
    fd = sl_sock_connect(sa, salen, inprog);
    if (fd < 0 && sl_fdbudget_exhausted(errno) && w->ups && sl_upstream_close_lru(w->ups, 1) > 0)
        fd = sl_sock_connect(sa, salen, inprog);
    return fd;
}

/* Starts connecting to s->att.be. 1: in progress or done (the session goes on
 * by itself), 0: this backend failed and another may be tried, -1: the
 * session has ended, -2: this backend failed and no retry is left. */
static int try_connect(struct sl_tcp_session *s)
{
    struct sl_tcp_worker *w = s->w;
    const struct sockaddr *sa;
    unsigned salen = 0;
    bool inprog = false;
    int fd;

    sa = sl_backend_sockaddr(s->att.be, &salen);
    if (!sa)
        return fail_backend(s, SLUICE_OUTCOME_FAIL, "address did not resolve") ? 0 : -2;
    s->connect_start_ns = sl_loop_now_ns(w->loop);
    fd = connect_in_budget(w, sa, salen, &inprog);
    if (fd < 0 &&
        sl_attempt_out_of_fds(&s->att, &w->fdlog, errno, sl_loop_now_ms(w->loop), s->lname)) {
        session_end(s, ST_LOCAL);
        return -1;
    }
    if (fd < 0) {
        sl_attempt_count_connect_failure(&s->att);
        return fail_backend(s, SLUICE_OUTCOME_FAIL, "connect failed") ? 0 : -2;
    }
    s->bfd = fd;
    if (!inprog) {
        connected(s);
        return 1;
    }
    s->bw.cb = on_connect;
    if (sl_loop_add(w->loop, &s->bw, fd, SL_EV_WRITE) < 0 ||
        sl_loop_timer_after(w->loop, &s->timer,
                            sl_attempt_connect_timeout(&s->att, s->rt.connect_timeout_ms)) < 0) {
        session_end(s, ST_LOCAL);
        return -1;
    }
    return 1;
}

static void start_backend(struct sl_tcp_session *s)
{
    for (;;) {
        int r;

        if (!sl_attempt_select(&s->att, s->rt.stats, s->rt.service, s->rt.lb, s->group,
                               s->client_ip, s->client_ip_len)) {
            give_up(s);
            return;
        }
        r = try_connect(s);
        if (r == -2)
            give_up(s);
        if (r != 0)
            return;
    }
}

static void on_timer(struct sl_timer *t, void *arg)
{
    struct sl_tcp_session *s = arg;
    struct sl_loop *l = s->w->loop;
    uint64_t now = sl_loop_now_ms(l), idle = idle_limit(s);

    (void)t;
    if (s->phase == SL_TCP_CONNECTING) {
        retry_or_give_up(s, SLUICE_OUTCOME_TIMEOUT, "connect timed out");
        return;
    }
    /* Lazy idle timer: bytes only move last_io_ms, and the timer re-arms
     * here for what is left, so traffic costs no heap operation. */
    if (now - s->last_io_ms >= idle) {
        session_end(s, ST_OK);
        return;
    }
    /* Cannot fail: the heap just gave this timer's slot up. */
    (void)sl_loop_timer_after(l, &s->timer, s->last_io_ms + idle - now);
}

static struct sl_tcp_session *session_of(struct sl_dlink *l)
{
    return sl_dlist_entry(l, struct sl_tcp_session, link);
}

static struct sl_tcp_session *session_get(struct sl_tcp_worker *w)
{
    struct sl_tcp_session *s = sl_freelist_get_zeroed(&w->free);

    if (!s)
        return NULL;
    s->w = w;
    s->cfd = s->bfd = -1;
    s->cw.fd = s->bw.fd = -1;
    s->cw.data = s->bw.data = s;
    s->up.pr = s->up.pw = s->down.pr = s->down.pw = -1;
    sl_timer_init(&s->timer, on_timer, s);
    return s;
}

void sl_tcp_accept(struct sl_tcp_worker *w, const struct sl_tcp_route *rt, int fd,
                   const struct sockaddr *peer, socklen_t peerlen)
{
    struct sl_tcp_session *s = session_get(w);

    if (!s) {
        sl_log(SL_LOG_ERROR, "listener %s: out of memory for a session", rt->listener);
        if (rt->release)
            rt->release(rt->ref);
        close(fd);
        return;
    }
    s->rt = *rt;
    s->group = rt->group;
    s->lname = rt->listener ? rt->listener : "?";
    s->cfd = fd;
    s->phase = SL_TCP_CONNECTING;
    s->start_ns = sl_loop_now_ns(w->loop);
    s->idle_ms = rt->idle_timeout_ms ? rt->idle_timeout_ms : SL_DEFAULT_IDLE_TIMEOUT_MS;
    sl_attempt_init(&s->att, rt->retries);
    if (peer && peerlen > 0)
        s->client_ip_len = (uint32_t)sl_sock_ip_str(peer, s->client_ip, sizeof(s->client_ip));
    else
        s->client_ip_len = (uint32_t)snprintf(s->client_ip, sizeof(s->client_ip), "?");
    sl_dlist_push(&w->live, &s->link);
    w->stats.sessions++;
    if (rt->ls)
        sl_counter_add(&rt->ls->active, 1);
    s->cw.cb = on_client_wait;
    if (sl_loop_add(w->loop, &s->cw, fd, SL_EV_RDHUP | SL_EV_EDGE) < 0) {
        session_end(s, ST_LOCAL);
        return;
    }
    start_backend(s);
}

void sl_tcp_shutdown(struct sl_tcp_worker *w)
{
    if (!w)
        return;
    w->draining = true;
    for (struct sl_dlink *l = sl_dlist_first(&w->live); l; l = l->next) {
        struct sl_tcp_session *s = session_of(l);
        uint64_t when = s->last_io_ms + SL_TCP_DRAIN_IDLE_MS;

        if (s->phase == SL_TCP_PROXYING && sl_timer_armed(&s->timer) && when < s->timer.when_ms)
            (void)sl_timer_set(&w->loop->timers, &s->timer, when); /* moves: no growth */
    }
}

void sl_tcp_trim(struct sl_tcp_worker *w)
{
    if (w)
        sl_freelist_trim(&w->free, SL_TCP_KEEP_FREE);
}

void sl_tcp_worker_free(struct sl_tcp_worker *w)
{
    if (!w)
        return;
    while (!sl_dlist_empty(&w->live)) {
        struct sl_tcp_session *s = session_of(sl_dlist_first(&w->live));

        session_end(s, s->phase == SL_TCP_PROXYING ? ST_OK : ST_LOCAL);
    }
    sl_freelist_fini(&w->free);
    sl_tcp_pipes_drain(w);
    sl_buf_pool_fini(&w->bufs);
    free(w);
}
