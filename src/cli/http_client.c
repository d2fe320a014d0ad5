/* The CLI's blocking HTTP/1.1 client (see http_client.h). */
#include "http_client.h"

#include <sys/socket.h>
#include <sys/types.h>

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "http/parse.h"
#include "net/log.h"

#define MAX_HEAD     ((size_t)64 << 10)
#define MAX_RESPONSE ((size_t)256 << 20) /* a query of 10,000s of backends fits */

/* HOST[:PORT] or [V6][:PORT] in p[0..end): host and port into u. 0 or -1. */
static int parse_authority(const char *p, const char *end, struct sl_url *u)
{
    const char *host = p, *host_end, *port = NULL;
    size_t n;
    long v;

    if (*p == '[') {
        host = p + 1;
        host_end = memchr(host, ']', (size_t)(end - host));
        if (host_end == NULL || (host_end + 1 < end && host_end[1] != ':'))
            return -1;
        if (host_end + 1 < end)
            port = host_end + 2;
    } else {
        host_end = memchr(p, ':', (size_t)(end - p));
        if (host_end != NULL)
            port = host_end + 1;
        else
            host_end = end;
    }
    n = (size_t)(host_end - host);
    if (n == 0 || n >= sizeof(u->host))
        return -1;
    memcpy(u->host, host, n);
    if (port == NULL) {
        strcpy(u->port, "80");
        return 0;
    }
    n = (size_t)(end - port);
    if (n == 0 || n >= sizeof(u->port) || strspn(port, "0123456789") < n)
        return -1;
    memcpy(u->port, port, n);
    v = strtol(u->port, NULL, 10);
    return v >= 1 && v <= 65535 ? 0 : -1;
}

int sl_url_parse(const char *url, struct sl_url *u, char *err, size_t errlen)
{
    const char *p = url, *slash;
    size_t n;

    memset(u, 0, sizeof(*u));
    if (strncmp(p, "https://", 8) == 0) {
        (void)snprintf(err, errlen,
                       "%s: https is not supported yet (the admin listener has no TLS)", url);
        return -1;
    }
    if (strncmp(p, "http://", 7) == 0) {
        p += 7;
    } else if (strstr(p, "://") != NULL) {
        (void)snprintf(err, errlen, "%s: only http:// URLs are supported", url);
        return -1;
    }
    slash = strchr(p, '/');
    if (slash == NULL)
        slash = p + strlen(p);
    n = strlen(slash);
    while (n > 0 && slash[n - 1] == '/')
        n--;
    if (parse_authority(p, slash, u) < 0 || n >= sizeof(u->prefix)) {
        (void)snprintf(err, errlen, "%s: not a server URL (expected http://HOST:PORT)", url);
        return -1;
    }
    memcpy(u->prefix, slash, n);
    return 0;
}

static int wait_fd(int fd, short events, int timeout_ms)
{
    struct pollfd pfd = {.fd = fd, .events = events};
    int rc;

    do
        rc = poll(&pfd, 1, timeout_ms);
    while (rc < 0 && errno == EINTR);
    if (rc == 0)
        errno = ETIMEDOUT;
    return rc > 0 ? 0 : -1;
}

/* A connected socket to one of the host's addresses, or -1 with err set. */
static int connect_to(const struct sl_url *u, int timeout_ms, char *err, size_t errlen)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    struct addrinfo *ai = NULL, *a;
    int fd = -1, rc, saved = 0;

    rc = getaddrinfo(u->host, u->port, &hints, &ai);
    if (rc != 0) {
        (void)snprintf(err, errlen, "cannot resolve %s: %s", u->host, gai_strerror(rc));
        return -1;
    }
    for (a = ai; a != NULL; a = a->ai_next) {
        int soerr = 0;
        socklen_t sl = sizeof(soerr);

        fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, a->ai_protocol);
        if (fd < 0) {
            saved = errno;
            continue;
        }
        if (connect(fd, a->ai_addr, a->ai_addrlen) == 0 ||
            (errno == EINPROGRESS && wait_fd(fd, POLLOUT, timeout_ms) == 0 &&
             getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) == 0 && soerr == 0))
            break;
        saved = soerr != 0 ? soerr : errno;
        (void)close(fd);
        fd = -1;
    }
    freeaddrinfo(ai);
    if (fd < 0)
        (void)snprintf(err, errlen, "cannot connect to %s:%s: %s", u->host, u->port,
                       sl_errstr(saved));
    return fd;
}

static int send_all(int fd, const char *p, size_t n, int timeout_ms)
{
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);

        if (w < 0) {
            if (errno == EINTR)
                continue;
            if (errno != EAGAIN || wait_fd(fd, POLLOUT, timeout_ms) < 0)
                return -1;
            continue;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

struct rbuf {
    char *p;
    size_t len, cap;
    bool eof;
};

/* Reads more into b: 0 (b->eof set at the end), -1 with errno. */
static int fill(int fd, struct rbuf *b, int timeout_ms)
{
    ssize_t r;

    if (b->len + 1 >= b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 16384;
        char *np;

        if (cap > 2 * MAX_RESPONSE) {
            errno = EFBIG;
            return -1;
        }
        np = realloc(b->p, cap);
        if (np == NULL)
            return -1;
        b->p = np;
        b->cap = cap;
    }
    for (;;) {
        r = recv(fd, b->p + b->len, b->cap - b->len - 1, 0);
        if (r >= 0)
            break;
        if (errno == EINTR)
            continue;
        if (errno != EAGAIN || wait_fd(fd, POLLIN, timeout_ms) < 0)
            return -1;
    }
    if (r == 0)
        b->eof = true;
    b->len += (size_t)r;
    return 0;
}

static int build_request(char **out, const struct sl_url *u, const char *method, const char *path,
                         const char *token, const char *body)
{
    bool v6 = strchr(u->host, ':') != NULL;
    char auth[1024] = "";
    char clen[128] = "";

    if (token != NULL)
        (void)snprintf(auth, sizeof(auth), "Authorization: Bearer %s\r\n", token);
    if (body != NULL)
        (void)snprintf(clen, sizeof(clen),
                       "Content-Type: application/json\r\nContent-Length: %zu\r\n", strlen(body));
    return asprintf(out,
                    "%s %s%s HTTP/1.1\r\nHost: %s%s%s:%s\r\nUser-Agent: sluice/%s\r\n"
                    "Accept: application/json\r\n%s%sConnection: close\r\n\r\n%s",
                    method, u->prefix, path, v6 ? "[" : "", u->host, v6 ? "]" : "", u->port,
                    SLUICE_VERSION_STRING, auth, clen, body ? body : "");
}

/* Reads until b holds <want> bytes: 0, or -1 with err set. */
static int read_until(int fd, struct rbuf *b, size_t want, int timeout_ms, char *err, size_t errlen)
{
    while (b->len < want) {
        if (fill(fd, b, timeout_ms) < 0) {
            (void)snprintf(err, errlen, "reading the response: %s", sl_errstr(errno));
            return -1;
        }
        if (b->eof) {
            (void)snprintf(err, errlen, "the server closed the connection mid-response");
            return -1;
        }
    }
    return 0;
}

/* Decodes a chunked body from b->p[head..) in place, reading more as
 * needed: 0 with b->len the end of the data, or -1 with err set. */
static int read_chunked(int fd, struct rbuf *b, size_t head, int timeout_ms, char *err,
                        size_t errlen)
{
    struct sl_chunked ch;
    size_t out = head; /* decoded data ends here; undecoded input follows */

    sl_chunked_init(&ch);
    for (;;) {
        size_t used, data;
        int rc = sl_chunked_decode(&ch, b->p + out, b->len - out, &used, &data);

        if (rc == SL_CHUNKED_BAD) {
            (void)snprintf(err, errlen, "malformed chunked response body");
            return -1;
        }
        out += data;
        if (rc == SL_CHUNKED_DONE) {
            b->len = out;
            return 0;
        }
        b->len = out; /* all input consumed: read more after the data */
        if (read_until(fd, b, out + 1, timeout_ms, err, errlen) < 0)
            return -1;
    }
}

/* Reads the body after a head of <head> bytes, per <m>; moves it to the
 * start of b. 0 or -1 with err set. */
static int read_body(int fd, struct rbuf *b, size_t head, const struct sl_http_msg *m,
                     int timeout_ms, char *err, size_t errlen)
{
    int rc = 0;

    if (m->body == SL_BODY_LENGTH) {
        if (m->content_length > MAX_RESPONSE) {
            (void)snprintf(err, errlen, "the response is over %zu bytes", MAX_RESPONSE);
            return -1;
        }
        rc = read_until(fd, b, head + (size_t)m->content_length, timeout_ms, err, errlen);
        b->len = head + (size_t)m->content_length;
    } else if (m->body == SL_BODY_CHUNKED) {
        rc = read_chunked(fd, b, head, timeout_ms, err, errlen);
    } else if (m->body == SL_BODY_UNTIL_CLOSE) {
        while (rc == 0 && !b->eof)
            rc = fill(fd, b, timeout_ms);
        if (rc < 0)
            (void)snprintf(err, errlen, "reading the response: %s", sl_errstr(errno));
    } else {
        b->len = head;
    }
    if (rc < 0)
        return -1;
    memmove(b->p, b->p + head, b->len - head);
    b->len -= head;
    b->p[b->len] = '\0';
    return 0;
}

static enum sl_http_method method_id(const char *method)
{
    return strcmp(method, "HEAD") == 0 ? SL_METHOD_HEAD : SL_METHOD_GET;
}

int sl_http_call(const struct sl_url *u, const char *method, const char *path, const char *token,
                 const char *body, int timeout_ms, struct sl_http_result *r, char *err,
                 size_t errlen)
{
    struct rbuf b = {0};
    struct sl_http_resp resp;
    char *req = NULL;
    int fd, n, head, ret = -1;

    memset(r, 0, sizeof(*r));
    n = build_request(&req, u, method, path, token, body);
    if (n < 0) {
        (void)snprintf(err, errlen, "out of memory");
        return -1;
    }
    fd = connect_to(u, timeout_ms, err, errlen);
    if (fd < 0)
        goto out;
    if (send_all(fd, req, (size_t)n, timeout_ms) < 0) {
        (void)snprintf(err, errlen, "sending the request: %s", sl_errstr(errno));
        goto out;
    }
    for (;;) {
        if (fill(fd, &b, timeout_ms) < 0) {
            (void)snprintf(err, errlen, "reading the response: %s", sl_errstr(errno));
            goto out;
        }
        head = sl_http_parse_response(b.p, b.len, MAX_HEAD, method_id(method), &resp);
        if (head > 0 && resp.status >= 200)
            break;
        if (head > 0) { /* 1xx: drop it, the final response follows */
            memmove(b.p, b.p + head, b.len - (size_t)head);
            b.len -= (size_t)head;
            continue;
        }
        if (head == SL_HTTP_BAD) {
            (void)snprintf(err, errlen, "malformed HTTP response (%s)", resp.m.error);
            goto out;
        }
        if (b.eof) {
            (void)snprintf(err, errlen, "the server closed the connection without a response");
            goto out;
        }
    }
    r->status = resp.status;
    if (read_body(fd, &b, (size_t)head, &resp.m, timeout_ms, err, errlen) < 0)
        goto out;
    r->body = b.p;
    r->body_len = b.len;
    b.p = NULL;
    ret = 0;
out:
    if (fd >= 0)
        (void)close(fd);
    free(b.p);
    free(req);
    return ret;
}

void sl_http_result_free(struct sl_http_result *r)
{
    free(r->body);
    r->body = NULL;
    r->body_len = 0;
}
