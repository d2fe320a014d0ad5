/* One active probe: a non-blocking connect (tcp), then for http one
 * request and the answer, bounded by the probe's own timeout. The socket
 * closes with SO_LINGER 0 (a reset): thousands of probes a second would
 * otherwise leave as many sockets in TIME_WAIT. */
#include <sys/socket.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/backend.h"
#include "http/health_int.h"
#include "net/log.h"
#include "net/sock.h"

static void close_fd(struct sl_health_probe *p)
{
    struct linger lg = {.l_onoff = 1, .l_linger = 0};
    int fd = p->w.fd;

    if (fd < 0)
        return;
    sl_loop_forget(p->loop, &p->w);
    (void)setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
    (void)close(fd);
    p->w.fd = -1;
}

void sl_health_probe_abort(struct sl_health_probe *p)
{
    sl_loop_timer_stop(p->loop, &p->timer);
    close_fd(p);
    p->h = NULL;
}

static void finish(struct sl_health_probe *p, sluice_check_result_t r, uint16_t status)
{
    sl_health_probe_abort(p);
    p->done(p, r, status, p->why);
}

static void on_timeout(struct sl_timer *t, void *arg)
{
    struct sl_health_probe *p = arg;

    (void)t;
    (void)snprintf(p->why, sizeof(p->why), "timed out after %ums", p->h->timeout_ms);
    finish(p, SLUICE_CHECK_RESULT_TIMEOUT, 0);
}

static void connect_failed(struct sl_health_probe *p, int err)
{
    if (err == ECONNREFUSED)
        (void)snprintf(p->why, sizeof(p->why), "connect refused");
    else
        (void)snprintf(p->why, sizeof(p->why), "connect failed: %s", sl_errstr(err));
    finish(p, SLUICE_CHECK_RESULT_CONNECT, 0);
}

static void read_answer(struct sl_health_probe *p)
{
    for (;;) {
        enum sl_health_end end = SL_HEALTH_OPEN;
        ssize_t n = 0;
        int r;

        if (p->len < SL_HEALTH_BUF) {
            n = read(p->w.fd, p->buf + p->len, SL_HEALTH_BUF - p->len);
            if (n < 0 && (errno == EAGAIN || errno == EINTR))
                return;
            if (n < 0) {
                (void)snprintf(p->why, sizeof(p->why), "read failed: %s", sl_errstr(errno));
                finish(p, SLUICE_CHECK_RESULT_BAD_RESPONSE, 0);
                return;
            }
            p->len += (size_t)n;
            end = n == 0 ? SL_HEALTH_EOF : SL_HEALTH_OPEN;
        } else {
            end = SL_HEALTH_FULL;
        }
        r = sl_health_http_feed(&p->st, p->h, p->buf, &p->len, end, p->why, sizeof(p->why));
        if (r != SL_HEALTH_MORE) {
            finish(p, (sluice_check_result_t)r, (uint16_t)p->st.status);
            return;
        }
        if (end != SL_HEALTH_OPEN) { /* the parser wants more than can come */
            (void)snprintf(p->why, sizeof(p->why), "closed early");
            finish(p, SLUICE_CHECK_RESULT_BAD_RESPONSE, (uint16_t)p->st.status);
            return;
        }
    }
}

static void send_request(struct sl_health_probe *p)
{
    while (p->sent < p->len) {
        ssize_t n = send(p->w.fd, p->buf + p->sent, p->len - p->sent, MSG_NOSIGNAL);

        if (n < 0 && (errno == EAGAIN || errno == EINTR))
            return;
        if (n < 0) {
            connect_failed(p, errno);
            return;
        }
        p->sent += (size_t)n;
    }
    p->sending = false;
    p->len = 0;
    p->st = (struct sl_health_http){0};
    if (sl_loop_mod(p->loop, &p->w, SL_EV_READ | SL_EV_RDHUP) < 0) {
        connect_failed(p, errno);
        return;
    }
    read_answer(p);
}

static void on_io(struct sl_loop *l, struct sl_watcher *w, uint32_t events)
{
    struct sl_health_probe *p = w->data;
    int err;

    (void)l;
    if (p->sending && p->sent == 0) { /* the connect's verdict */
        err = sl_sock_error(w->fd);
        if (err != 0 || (events & (SL_EV_ERROR | SL_EV_HUP)) != 0) {
            connect_failed(p, err != 0 ? err : ECONNRESET);
            return;
        }
        if (p->h->kind == SLUICE_CHECK_TCP) {
            (void)snprintf(p->why, sizeof(p->why), "connected");
            finish(p, SLUICE_CHECK_RESULT_OK, 0);
            return;
        }
    }
    if (p->sending)
        send_request(p);
    else
        read_answer(p);
}

void sl_health_probe_init(struct sl_health_probe *p, struct sl_loop *loop,
                          sl_health_probe_cb_t done, void *arg)
{
    memset(p, 0, sizeof(*p));
    p->loop = loop;
    p->w.fd = -1;
    p->w.cb = on_io;
    p->w.data = p;
    p->done = done;
    p->arg = arg;
    sl_timer_init(&p->timer, on_timeout, p);
}

/* Errors that mean this process, not the backend, is short of something:
 * no verdict (a score must not move for our own limits). */
static bool soft_error(int e)
{
    return e == EMFILE || e == ENFILE || e == ENOBUFS || e == ENOMEM || e == EADDRNOTAVAIL;
}

int sl_health_probe_start(struct sl_health_probe *p, const struct sl_health_rt *h,
                          sluice_backend_t *be, const char *host)
{
    unsigned salen = 0;
    const struct sockaddr *sa = sl_backend_sockaddr(be, &salen);
    bool in_progress = false;
    int fd;

    if (h->kind == SLUICE_CHECK_HTTP && p->buf == NULL &&
        (p->buf = malloc(SL_HEALTH_BUF)) == NULL) {
        errno = ENOMEM;
        return -1;
    }
    p->h = h;
    p->start_ms = sl_loop_now_ms(p->loop);
    p->sent = 0;
    p->len = 0;
    p->sending = true;
    if (h->kind == SLUICE_CHECK_HTTP &&
        (p->len = sl_health_http_request(h, host, p->buf, SL_HEALTH_BUF)) == 0) {
        (void)snprintf(p->why, sizeof(p->why), "request too long");
        finish(p, SLUICE_CHECK_RESULT_BAD_RESPONSE, 0);
        return 0;
    }
    if (sa == NULL) {
        (void)snprintf(p->why, sizeof(p->why), "address did not resolve");
        finish(p, SLUICE_CHECK_RESULT_CONNECT, 0);
        return 0;
    }
    fd = sl_sock_connect(sa, (socklen_t)salen, &in_progress);
    if (fd < 0) {
        int e = errno;

        if (soft_error(e)) {
            p->h = NULL;
            errno = e;
            return -1;
        }
        connect_failed(p, e);
        return 0;
    }
    /* A tcp check needs only the handshake, which on loopback is over by
     * the time connect() returns (EINPROGRESS all the same): asking again
     * tells, and spares the watcher, the timer and a loop turn. Elsewhere
     * the second call says EALREADY and the watcher waits as usual. */
    if (h->kind == SLUICE_CHECK_TCP) {
        int e = !in_progress || connect(fd, sa, (socklen_t)salen) == 0 ? EISCONN : errno;

        if (e != EALREADY && e != EINPROGRESS && e != EINTR) {
            p->w.fd = fd; /* not registered: close_fd() only closes it */
            if (e != EISCONN) {
                connect_failed(p, e);
                return 0;
            }
            (void)snprintf(p->why, sizeof(p->why), "connected");
            finish(p, SLUICE_CHECK_RESULT_OK, 0);
            return 0;
        }
    }
    if (sl_loop_add(p->loop, &p->w, fd, SL_EV_WRITE) < 0) {
        int e = errno;

        (void)close(fd);
        p->h = NULL;
        errno = e;
        return -1;
    }
    if (sl_loop_timer_after(p->loop, &p->timer, h->timeout_ms) < 0) {
        close_fd(p);
        p->h = NULL;
        errno = ENOMEM;
        return -1;
    }
    return 0;
}

void sl_health_probe_fini(struct sl_health_probe *p)
{
    if (p->h != NULL)
        sl_health_probe_abort(p);
    free(p->buf);
    p->buf = NULL;
}
