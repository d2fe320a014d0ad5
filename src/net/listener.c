#include "listener.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <errno.h>
#include <unistd.h>

#include "log.h"
#include "sock.h"

#define SL_ACCEPT_BATCH 64

static void on_readable(struct sl_loop *l, struct sl_watcher *w, uint32_t events);

static void on_pause_over(struct sl_timer *t, void *arg)
{
    struct sl_listener *ln = arg;

    (void)t;
    if (ln->w.fd >= 0)
        sl_loop_mod(ln->loop, &ln->w, SL_EV_READ);
}

int sl_listener_open(struct sl_listener *ln, struct sl_loop *loop, const char *name,
                     const char *addr, int backlog, sl_accept_cb_t on_accept, void *data)
{
    struct sockaddr_storage ss;
    socklen_t len;
    int one = 1, fd, e;

    ln->loop = loop;
    ln->name = name;
    ln->on_accept = on_accept;
    ln->data = data;
    ln->pause_ms = 100;
    ln->gate = NULL;
    ln->full_pause_ms = 20;
    ln->fdlog = (struct sl_fdbudget_log){0};
    ln->w.fd = -1;
    ln->w.cb = on_readable;
    ln->w.data = ln;
    sl_timer_init(&ln->pause, on_pause_over, ln);
    if (sl_sock_parse_bind(addr, &ss, &len) < 0)
        return -1;
    fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
        setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) < 0 ||
        bind(fd, (struct sockaddr *)&ss, len) < 0 || listen(fd, backlog) < 0 ||
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) < 0 ||
        sl_loop_add(loop, &ln->w, fd, SL_EV_READ) < 0)
        goto fail;
    return 0;
fail:
    e = errno;
    close(fd);
    ln->w.fd = -1;
    errno = e;
    return -1;
}

int sl_listener_probe(const char *addr)
{
    struct sockaddr_storage ss;
    socklen_t len;
    int one = 1, fd, rc = 0, e = 0;

    if (sl_sock_parse_bind(addr, &ss, &len) < 0)
        return -1;
    fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
        bind(fd, (struct sockaddr *)&ss, len) < 0) {
        e = errno;
        rc = -1;
    }
    close(fd);
    errno = e;
    return rc;
}

void sl_listener_close(struct sl_listener *ln)
{
    int fd = ln->w.fd;

    if (fd < 0)
        return;
    sl_loop_timer_stop(ln->loop, &ln->pause);
    sl_loop_del(ln->loop, &ln->w);
    close(fd);
}

/* Stops watching the (level-triggered, still readable) socket for <ms>. */
static void pause_accepting(struct sl_loop *l, struct sl_listener *ln, uint32_t ms)
{
    sl_loop_mod(l, &ln->w, 0);
    sl_loop_timer_after(l, &ln->pause, ms);
}

static void on_readable(struct sl_loop *l, struct sl_watcher *w, uint32_t events)
{
    struct sl_listener *ln = w->data;

    (void)events;
    /* A bounded batch: a burst of connections must not hold the loop away
     * from the clients it already has. The socket is level-triggered, so
     * what is left is reported again on the next turn. */
    for (int batch = 0; batch < SL_ACCEPT_BATCH; batch++) {
        struct sockaddr_storage peer;
        socklen_t plen = sizeof(peer);
        int fd;

        /* Readable means a connection waits, but only for the first
         * accept of the batch: a later one may find none. */
        if (ln->gate && !ln->gate(ln, batch == 0)) {
            if (batch == 0)
                pause_accepting(l, ln, ln->full_pause_ms);
            return; /* else: asked again, as waiting, on the next turn */
        }
        fd = accept4(w->fd, (struct sockaddr *)&peer, &plen, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd >= 0) {
            /* TCP_NODELAY comes from the listening socket (Linux copies it
             * into accepted ones): no setsockopt per connection. */
            ln->on_accept(ln, fd, (struct sockaddr *)&peer, plen);
            if (ln->w.fd < 0)
                return; /* the callback closed us (draining) */
            continue;
        }
        switch (errno) {
        case EINTR:
        case ECONNABORTED:
        case EPROTO:
            continue;
        case EMFILE:
        case ENFILE:
        case ENOBUFS:
        case ENOMEM: /* sl_fdbudget_exhausted() */
            (void)sl_fdbudget_report(&ln->fdlog, sl_loop_now_ms(l), ln->name,
                                     "accepting a client (accept paused)", errno);
            pause_accepting(l, ln, ln->pause_ms);
            return;
        default: /* EAGAIN and anything unexpected: wait for the next event */
            return;
        }
    }
}
