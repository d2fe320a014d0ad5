/* Leaf of the HTTP proxy: writing a queue of iovecs (struct sl_out) to a
 * socket. Used toward the client and toward the backend; calls nothing of
 * the proxy. */
#include <sys/socket.h>

#include <errno.h>
#include <string.h>

#include "http/proxy_int.h"

/* One sendmsg per call when it all fits: the kernel takes the whole queue
 * (head, body pieces) at once. */
int sl_out_flush(struct sl_out *o, int fd)
{
    while (o->n > 0) {
        struct msghdr mh = {.msg_iov = o->iov, .msg_iovlen = (size_t)o->n};
        ssize_t n = sendmsg(fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
        int i = 0;

        if (n < 0) {
            if (errno == EINTR)
                continue;
            return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -1;
        }
        while (i < o->n && (size_t)n >= o->iov[i].iov_len)
            n -= (ssize_t)o->iov[i++].iov_len;
        if (i < o->n) {
            o->iov[i].iov_base = (char *)o->iov[i].iov_base + n;
            o->iov[i].iov_len -= (size_t)n;
        }
        if (i > 0) {
            memmove(o->iov, o->iov + i, (size_t)(o->n - i) * sizeof(o->iov[0]));
            o->n -= i;
        }
    }
    return 1;
}
