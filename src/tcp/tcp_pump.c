/* The bytes of a TCP session: a pipe per direction and splice(), so the
 * payload goes socket -> pipe -> socket without a copy through user space;
 * a pooled buffer and read()/send() when no pipe could be made. Interest is
 * level-triggered and follows the state: a side is read only while the
 * pipe toward the other side has room, and written only while the pipe
 * holds bytes, so a slow reader stops the fast writer (backpressure) and
 * nothing spins. */
#include <sys/socket.h>

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include "tcp/tcp_int.h"

/* Rounds of read-then-write per direction and event: enough to move a few
 * pipes' worth, few enough that one busy session cannot starve the
 * others on the same loop. */
#define PUMP_ROUNDS 4

static int pipe_get(struct sl_tcp_worker *w, int p[2])
{
    if (w->npipes > 0) {
        w->npipes--;
        p[0] = w->pipes[w->npipes][0];
        p[1] = w->pipes[w->npipes][1];
        return 0;
    }
    return pipe2(p, O_NONBLOCK | O_CLOEXEC);
}

/* A pipe that still holds bytes is closed: its contents belong to a dead
 * session and must not leak into the next one. */
static void pipe_put(struct sl_tcp_worker *w, struct sl_tcp_dir *d)
{
    if (d->pr < 0)
        return;
    if (d->pending == 0 && w->npipes < SL_TCP_PIPE_CACHE) {
        w->pipes[w->npipes][0] = d->pr;
        w->pipes[w->npipes][1] = d->pw;
        w->npipes++;
    } else {
        close(d->pr);
        close(d->pw);
    }
    d->pr = d->pw = -1;
}

void sl_tcp_pipes_drain(struct sl_tcp_worker *w)
{
    while (w->npipes > 0) {
        w->npipes--;
        close(w->pipes[w->npipes][0]);
        close(w->pipes[w->npipes][1]);
    }
}

static int dir_open(struct sl_tcp_worker *w, struct sl_tcp_dir *d)
{
    int p[2];

    d->pending = 0;
    d->eof = d->shut = d->full = false;
    d->bytes = 0;
    d->buf = NULL;
    d->pr = d->pw = -1;
    if (pipe_get(w, p) == 0) {
        d->pr = p[0];
        d->pw = p[1];
        return 0;
    }
    /* Out of descriptors for pipes: still serve the session, through user
     * space (the sockets themselves are already open). */
    d->buf = sl_buf_get(&w->bufs);
    if (!d->buf)
        return -1;
    w->stats.buffer_fallbacks++;
    return 0;
}

static void dir_close(struct sl_tcp_worker *w, struct sl_tcp_dir *d)
{
    pipe_put(w, d);
    sl_buf_put(&w->bufs, d->buf);
    d->buf = NULL;
}

int sl_tcp_dirs_open(struct sl_tcp_session *s)
{
    if (dir_open(s->w, &s->up) < 0)
        return -1;
    if (dir_open(s->w, &s->down) < 0) {
        dir_close(s->w, &s->up);
        return -1;
    }
    return 0;
}

void sl_tcp_dirs_close(struct sl_tcp_session *s)
{
    dir_close(s->w, &s->up);
    dir_close(s->w, &s->down);
}

static bool dir_empty(const struct sl_tcp_dir *d)
{
    return d->buf ? sl_buf_len(d->buf) == 0 : d->pending == 0;
}

static bool dir_wants_read(const struct sl_tcp_dir *d)
{
    if (d->eof)
        return false;
    if (d->buf)
        return sl_buf_room(d->buf) > 0;
    return !d->full && d->pending < SL_TCP_PIPE_CAP;
}

static bool retry_later(void)
{
    return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR;
}

/* One round through a pipe. Returns bytes moved either way (> 0), 0 when
 * nothing moved, -1 on a socket error. */
static ssize_t round_pipe(struct sl_tcp_dir *d, int src, int dst)
{
    ssize_t moved = 0, n;

    if (dir_wants_read(d)) {
        n = splice(src, NULL, d->pw, NULL, SL_TCP_PIPE_CAP - d->pending,
                   SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
        if (n > 0) {
            d->pending += (uint32_t)n;
            moved += n;
        } else if (n == 0) {
            d->eof = true;
        } else if (!retry_later()) {
            return -1;
        } else if (d->pending > 0) {
            /* Ambiguous: the socket is empty or the pipe is full (it
             * counts pages, not bytes, so small segments fill it early).
             * Either way reading waits until the pipe drained some, which
             * also keeps a full pipe from making a readable socket spin. */
            d->full = true;
        }
    }
    if (d->pending > 0) {
        n = splice(d->pr, NULL, dst, NULL, d->pending, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
        if (n > 0) {
            d->pending -= (uint32_t)n;
            d->bytes += (uint64_t)n;
            d->full = false;
            moved += n;
        } else if (n < 0 && !retry_later()) {
            return -1;
        }
    }
    return moved;
}

/* The same through a buffer. */
static ssize_t round_buf(struct sl_tcp_dir *d, int src, int dst)
{
    struct sl_buf *b = d->buf;
    ssize_t moved = 0, n;

    if (dir_wants_read(d)) {
        n = read(src, b->data + b->end, sl_buf_room(b));
        if (n > 0) {
            b->end += (uint32_t)n;
            moved += n;
        } else if (n == 0) {
            d->eof = true;
        } else if (!retry_later()) {
            return -1;
        }
    }
    if (sl_buf_len(b) > 0) {
        n = send(dst, b->data + b->start, sl_buf_len(b), MSG_NOSIGNAL);
        if (n > 0) {
            b->start += (uint32_t)n;
            d->bytes += (uint64_t)n;
            moved += n;
            if (b->start == b->end)
                b->start = b->end = 0;
        } else if (n < 0 && !retry_later()) {
            return -1;
        }
    }
    return moved;
}

/* Moves bytes from <src> to <dst>; after the source's FIN and the last
 * byte, half-closes <dst>. 0, or -1 on a socket error. *<moved> is set
 * when a byte moved. */
static int dir_pump(struct sl_tcp_dir *d, int src, int dst, bool *moved)
{
    for (int i = 0; i < PUMP_ROUNDS; i++) {
        ssize_t n = d->buf ? round_buf(d, src, dst) : round_pipe(d, src, dst);

        if (n < 0)
            return -1;
        if (n == 0)
            break;
        *moved = true;
    }
    if (d->eof && !d->shut && dir_empty(d)) {
        /* ENOTCONN: the peer is already gone, nothing left to tell it. */
        if (shutdown(dst, SHUT_WR) < 0 && errno != ENOTCONN)
            return -1;
        d->shut = true;
    }
    return 0;
}

/* Registers, changes or drops one socket's interest. A socket with nothing
 * to wait for is taken off epoll: HUP and ERR are reported even for an
 * empty mask, and level-triggered they would fire every turn. */
static int set_interest(struct sl_loop *l, struct sl_watcher *wt, int fd, uint32_t ev)
{
    if (ev == 0) {
        sl_loop_del(l, wt);
        return 0;
    }
    if (wt->fd < 0)
        return sl_loop_add(l, wt, fd, ev);
    return sl_loop_mod(l, wt, ev);
}

int sl_tcp_pump(struct sl_tcp_session *s, unsigned dirs)
{
    struct sl_loop *l = s->w->loop;
    bool moved = false;
    uint32_t cev = 0, bev = 0;

    if ((dirs & SL_TCP_UP) && dir_pump(&s->up, s->cfd, s->bfd, &moved) < 0)
        return -1;
    if ((dirs & SL_TCP_DOWN) && dir_pump(&s->down, s->bfd, s->cfd, &moved) < 0)
        return -1;
    if (moved)
        s->last_io_ms = sl_loop_now_ms(l);
    if (s->up.shut && s->down.shut)
        return 1;
    if (dir_wants_read(&s->up))
        cev |= SL_EV_READ;
    if (!dir_empty(&s->down))
        cev |= SL_EV_WRITE;
    if (dir_wants_read(&s->down))
        bev |= SL_EV_READ;
    if (!dir_empty(&s->up))
        bev |= SL_EV_WRITE;
    if (set_interest(l, &s->cw, s->cfd, cev) < 0 || set_interest(l, &s->bw, s->bfd, bev) < 0)
        return -1;
    return 0;
}
