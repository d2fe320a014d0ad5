#include "sock.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int parse_port(const char *s, in_port_t *port)
{
    char *end;
    long v;

    if (*s < '0' || *s > '9')
        return -1;
    errno = 0;
    v = strtol(s, &end, 10);
    if (errno || *end || v < 0 || v > 65535)
        return -1;
    *port = htons((uint16_t)v);
    return 0;
}

int sl_sock_parse_bind(const char *bind, struct sockaddr_storage *ss, socklen_t *len)
{
    char host[INET6_ADDRSTRLEN + 1];
    const char *colon;
    size_t hlen;
    in_port_t port;

    memset(ss, 0, sizeof(*ss));
    if (bind[0] == '[') {
        const char *close_b = strchr(bind, ']');

        if (!close_b || close_b[1] != ':')
            goto bad;
        hlen = (size_t)(close_b - bind - 1);
        if (hlen == 0 || hlen >= sizeof(host))
            goto bad;
        memcpy(host, bind + 1, hlen);
        host[hlen] = '\0';
        colon = close_b + 1;
    } else {
        colon = strrchr(bind, ':');
        if (!colon)
            goto bad;
        hlen = (size_t)(colon - bind);
        if (hlen >= sizeof(host))
            goto bad;
        memcpy(host, bind, hlen);
        host[hlen] = '\0';
    }
    if (parse_port(colon + 1, &port) < 0)
        goto bad;
    if (bind[0] == '[') {
        struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;

        if (inet_pton(AF_INET6, host, &s6->sin6_addr) != 1)
            goto bad;
        s6->sin6_family = AF_INET6;
        s6->sin6_port = port;
        *len = sizeof(*s6);
    } else {
        struct sockaddr_in *s4 = (struct sockaddr_in *)ss;

        if (hlen == 0 || strcmp(host, "*") == 0)
            s4->sin_addr.s_addr = htonl(INADDR_ANY);
        else if (inet_pton(AF_INET, host, &s4->sin_addr) != 1)
            goto bad;
        s4->sin_family = AF_INET;
        s4->sin_port = port;
        *len = sizeof(*s4);
    }
    return 0;
bad:
    errno = EINVAL;
    return -1;
}

int sl_sock_normalize_bind(const char *bind, char *out, size_t cap)
{
    struct sockaddr_storage ss;
    socklen_t len;
    int n;

    if (sl_sock_parse_bind(bind, &ss, &len) != 0)
        return -1;
    if (ss.ss_family == AF_INET6) {
        const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)&ss;
        const char *close_b = strchr(bind, ']'); /* there: the parse saw it */

        n = snprintf(out, cap, "%.*s:%u", (int)(close_b - bind + 1), bind,
                     (unsigned)ntohs(s6->sin6_port));
    } else {
        const struct sockaddr_in *s4 = (const struct sockaddr_in *)&ss;
        char host[INET_ADDRSTRLEN];

        /* inet_pton() takes only the dotted quad inet_ntop() writes, so
         * this is the address as written, or 0.0.0.0 for "" and "*". */
        if (inet_ntop(AF_INET, &s4->sin_addr, host, sizeof(host)) == NULL)
            return -1;
        n = snprintf(out, cap, "%s:%u", host, (unsigned)ntohs(s4->sin_port));
    }
    if (n < 0 || (size_t)n >= cap) {
        errno = ENOSPC;
        return -1;
    }
    return 0;
}

void sl_sock_nodelay(int fd)
{
    int one = 1;

    (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

int sl_sock_connect(const struct sockaddr *sa, socklen_t len, bool *in_progress)
{
    int fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

    if (fd < 0)
        return -1;
    sl_sock_nodelay(fd);
    *in_progress = false;
    if (connect(fd, sa, len) < 0) {
        if (errno != EINPROGRESS) {
            int e = errno;

            close(fd);
            errno = e;
            return -1;
        }
        *in_progress = true;
    }
    return fd;
}

int sl_sock_error(int fd)
{
    int err = 0;
    socklen_t len = sizeof(err);

    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
        return errno;
    return err;
}

bool sl_sock_idle_alive(int fd)
{
    char c;
    ssize_t n = recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);

    /* 0: closed; > 0: the peer sent something unasked (an error page, a
     * close notice), so the connection is out of step either way. */
    return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
}

size_t sl_sock_ip_str(const struct sockaddr *sa, char *out, size_t cap)
{
    const void *addr;

    if (sa->sa_family == AF_INET)
        addr = &((const struct sockaddr_in *)sa)->sin_addr;
    else if (sa->sa_family == AF_INET6)
        addr = &((const struct sockaddr_in6 *)sa)->sin6_addr;
    else
        addr = NULL;
    if (!addr || !inet_ntop(sa->sa_family, addr, out, (socklen_t)cap)) {
        (void)snprintf(out, cap, "?");
        return strlen(out);
    }
    return strlen(out);
}
