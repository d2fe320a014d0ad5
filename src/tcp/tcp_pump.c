/* The bytes of a TCP session. Each direction starts in buffer mode:
 * recv() into a pooled 16 KiB buffer taken only when there is something to
 * read and returned as soon as it is empty, then send(). For small
 * messages that is two syscalls per message, fewer and cheaper than
 * splice's three (in, out, and the EAGAIN that ends the burst), and an idle
 * session holds no buffer and no pipe. A direction that carries bulk (two
 * reads in a row that filled the buffer) switches to splice mode for the
 * rest of the session: socket -> pipe -> socket, no copy through user
 * space. When no pipe can be had it just stays in buffer mode.
 *
 * A direction moves its bytes only after the previous ones were delivered:
 * while the destination would block, the source is not read (it is taken
 * off READ, the destination gets WRITE), so a slow reader stops the fast
 * writer (backpressure) and nothing spins. In the common case (both sides
 * keep up) both sockets stay registered for READ only and a message costs
 * no epoll_ctl. Level-triggered epoll also means a short read can end the
 * burst: whatever arrives later fires again. */
#include <sys/socket.h>

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include "tcp/tcp_int.h"

/* Reads per direction and event while each one fills the buffer or pipe:
 * enough to move a few of them, few enough that one busy session cannot
 * starve the others on the same loop. */
#define PUMP_ROUNDS 4
/* Reads in a row that filled the whole buffer before a direction goes to
 * splice mode. */
#define SPLICE_AFTER_FULL 2

static int pipe_get(struct sl_tcp_worker *w, int p[2])
{
    if (w->npipes > 0) {
        w->npipes--;
        p[0] = w->pipes[w->npipes][0];
        p[1] = w->pipes[w->npipes][1];
        return 0;
    }
    /* A new pipe must not take descriptors promised to clients. */
    if (!sl_fdbudget_room(w->fdb, 2)) {
        errno = EMFILE;
        return -1;
    }
    return pipe2(p, O_NONBLOCK | O_CLOEXEC);
}

/* A pipe that still holds bytes is closed: its contents belong to a dead
 * session and must not leak into the next one. */
static void pipe_put(struct sl_tcp_worker *w, struct sl_tcp_dir *d)
{
    if (d->pr < 0)
        return;
    w->pipes_out--;
    if (d->pending == 0 && w->npipes < w->pipe_keep) {
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

static void dir_init(struct sl_tcp_dir *d)
{
    d->pr = d->pw = -1;
    d->buf = NULL;
    d->pending = 0;
    d->fills = 0;
    d->eof = d->shut = d->blocked = d->no_pipe = false;
    d->bytes = 0;
}

static void dir_close(struct sl_tcp_worker *w, struct sl_tcp_dir *d)
{
    pipe_put(w, d);
    sl_buf_put(&w->bufs, d->buf);
    d->buf = NULL;
}

void sl_tcp_dirs_open(struct sl_tcp_session *s)
{
    dir_init(&s->up);
    dir_init(&s->down);
}

void sl_tcp_dirs_close(struct sl_tcp_session *s)
{
    struct sl_tcp_worker *w = s->w;

    if (s->phase == SL_TCP_PROXYING && s->up.pr < 0 && s->down.pr < 0)
        w->stats.buffer_sessions++;
    dir_close(w, &s->up);
    dir_close(w, &s->down);
}

static bool dir_empty(const struct sl_tcp_dir *d)
{
    if (d->pr >= 0)
        return d->pending == 0;
    return !d->buf || sl_buf_len(d->buf) == 0;
}

static bool retry_later(void)
{
    return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR;
}

/* Sends what the direction holds to <dst>. Sets d->blocked when some of
 * it is left (the destination would block). 0, or -1 on a socket error. */
static int dir_flush(struct sl_tcp_dir *d, int dst)
{
    ssize_t n;

    if (dir_empty(d)) {
        d->blocked = false;
        return 0;
    }
    if (d->pr >= 0) {
        n = splice(d->pr, NULL, dst, NULL, d->pending, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
        if (n > 0)
            d->pending -= (uint32_t)n;
    } else {
        struct sl_buf *b = d->buf;

        n = send(dst, b->data + b->start, sl_buf_len(b), MSG_NOSIGNAL);
        if (n > 0) {
            b->start += (uint32_t)n;
            if (b->start == b->end)
                b->start = b->end = 0;
        }
    }
    if (n > 0)
        d->bytes += (uint64_t)n;
    else if (n < 0 && !retry_later())
        return -1;
    d->blocked = !dir_empty(d);
    return 0;
}

/* A bulk direction goes to splice mode, once its buffer is empty. No pipe
 * (out of descriptors): it stays in buffer mode for the session. */
static void dir_to_splice(struct sl_tcp_worker *w, struct sl_tcp_dir *d)
{
    int p[2];

    if (pipe_get(w, p) < 0) {
        d->no_pipe = true;
        w->stats.pipe_failures++;
        return;
    }
    d->pr = p[0];
    d->pw = p[1];
    w->pipes_out++;
    sl_buf_put(&w->bufs, d->buf);
    d->buf = NULL;
    w->stats.splice_dirs++;
}

/* Reads from <src> into the (empty) direction. 1 when the read filled the
 * buffer or pipe (more may be waiting), 0 when the source is drained for
 * now, at EOF or would block, -1 on a socket error or without memory. */
static int dir_fill(struct sl_tcp_worker *w, struct sl_tcp_dir *d, int src)
{
    size_t want;
    ssize_t n;

    if (d->pr < 0 && d->fills >= SPLICE_AFTER_FULL && !d->no_pipe)
        dir_to_splice(w, d);
    if (d->pr >= 0) {
        want = SL_TCP_PIPE_CAP;
        n = splice(src, NULL, d->pw, NULL, want, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
        if (n > 0)
            d->pending = (uint32_t)n;
    } else {
        if (!d->buf) {
            d->buf = sl_buf_get(&w->bufs);
            if (!d->buf)
                return -1;
        }
        want = sl_buf_room(d->buf);
        n = recv(src, d->buf->data + d->buf->end, want, 0);
        if (n > 0)
            d->buf->end += (uint32_t)n;
    }
    if (n == 0) {
        d->eof = true;
        return 0;
    }
    if (n < 0)
        return retry_later() ? 0 : -1;
    /* A short read: the socket is empty for now (or, in splice mode, the
     * pipe ran out of slots first; then the level-triggered READ simply
     * fires again). Not asking again saves the read that says EAGAIN. */
    if ((size_t)n < want) {
        d->fills = 0;
        return 0;
    }
    if (d->fills < SPLICE_AFTER_FULL)
        d->fills++;
    return 1;
}

/* Moves bytes from <src> to <dst>; after the source's FIN and the last
 * byte, half-closes <dst>. 0, or -1 on a socket error. *<moved> is set
 * when a byte moved. */
static int dir_pump(struct sl_tcp_worker *w, struct sl_tcp_dir *d, int src, int dst, bool *moved)
{
    uint64_t before = d->bytes;

    if (dir_flush(d, dst) < 0)
        return -1;
    for (int i = 0; i < PUMP_ROUNDS && !d->blocked && !d->eof; i++) {
        int r = dir_fill(w, d, src);

        if (r < 0)
            return -1;
        if (!dir_empty(d))
            *moved = true; /* read, even if the destination waits */
        if (dir_flush(d, dst) < 0)
            return -1;
        if (r == 0)
            break;
    }
    if (d->bytes != before)
        *moved = true;
    /* An idle direction holds no buffer. */
    if (d->buf && sl_buf_len(d->buf) == 0) {
        sl_buf_put(&w->bufs, d->buf);
        d->buf = NULL;
    }
    if (d->eof && !d->shut && dir_empty(d)) {
        /* ENOTCONN: the peer is already gone, nothing left to tell it. */
        if (shutdown(dst, SHUT_WR) < 0 && errno != ENOTCONN)
            return -1;
        d->shut = true;
    }
    return 0;
}

/* Registers, changes or drops one socket's interest (sl_loop_mod() makes
 * no syscall when nothing changed). A socket with nothing to wait for is
 * taken off epoll: HUP and ERR are reported even for an empty mask, and
 * level-triggered they would fire every turn. */
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

/* A source is read while its direction has not seen EOF and is not
 * waiting for the destination to take the previous bytes. */
static bool dir_wants_read(const struct sl_tcp_dir *d)
{
    return !d->eof && !d->blocked;
}

int sl_tcp_pump(struct sl_tcp_session *s, unsigned dirs)
{
    struct sl_tcp_worker *w = s->w;
    struct sl_loop *l = w->loop;
    bool moved = false;
    uint32_t cev = 0, bev = 0;

    if ((dirs & SL_TCP_UP) && dir_pump(w, &s->up, s->cfd, s->bfd, &moved) < 0)
        return -1;
    if ((dirs & SL_TCP_DOWN) && dir_pump(w, &s->down, s->bfd, s->cfd, &moved) < 0)
        return -1;
    if (moved)
        s->last_io_ms = sl_loop_now_ms(l);
    if (s->up.shut && s->down.shut)
        return 1;
    if (dir_wants_read(&s->up))
        cev |= SL_EV_READ;
    if (s->down.blocked)
        cev |= SL_EV_WRITE;
    if (dir_wants_read(&s->down))
        bev |= SL_EV_READ;
    if (s->up.blocked)
        bev |= SL_EV_WRITE;
    if (set_interest(l, &s->cw, s->cfd, cev) < 0 || set_interest(l, &s->bw, s->bfd, bev) < 0)
        return -1;
    return 0;
}
