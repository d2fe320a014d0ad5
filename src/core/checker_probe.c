/* The checker's probe engine (checker_probe.h): non-blocking connects and,
 * for HTTP, one request and the status line of its response on the same
 * fresh connection; epoll multiplexes them and each slot has a deadline. */
#include "checker_probe.h"

#include <sys/epoll.h>
#include <sys/socket.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backend.h"
#include "backend_types.h"
#include "health.h"
#include "score.h"

#define STOP_TAG UINT64_MAX

struct sl_probe_slot {
    int fd; /* -1: free */
    sluice_backend_t *b;
    uint64_t deadline_ns;
    struct sl_probe_spec spec;
    bool connected;
    char req[512];
    size_t reqlen, sent;
    char resp[256]; /* the status line is all we read */
    size_t got;
};

int sl_probe_engine_init(struct sl_probe_engine *e, int stop_fd)
{
    struct epoll_event sev = {.events = EPOLLIN, .data.u64 = STOP_TAG};

    e->inflight = 0;
    e->done = NULL;
    e->done_ctx = NULL;
    e->slots = calloc(SL_CHECKER_MAX_INFLIGHT, sizeof(*e->slots));
    if (e->slots == NULL)
        return SLUICE_ERR_NOMEM;
    e->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (e->epfd == -1) {
        free(e->slots);
        return SLUICE_ERR_IO;
    }
    for (size_t i = 0; i < SL_CHECKER_MAX_INFLIGHT; i++)
        e->slots[i].fd = -1;
    if (stop_fd != -1)
        epoll_ctl(e->epfd, EPOLL_CTL_ADD, stop_fd, &sev);
    return 0;
}

/* Ends slot <s>; <record>: with verdict <r> (a stop records nothing). */
static void finish(struct sl_probe_engine *e, struct sl_probe_slot *s, bool record,
                   sluice_check_result_t r, uint16_t status)
{
    struct sl_health_change chg;

    if (record)
        sl_health_probe_done(s->b, r, status, sl_now_ns(), &chg);
    epoll_ctl(e->epfd, EPOLL_CTL_DEL, s->fd, NULL);
    close(s->fd);
    s->fd = -1;
    sl_backend_unref(s->b);
    s->b = NULL;
    e->inflight--;
    if (e->done != NULL)
        e->done(e->done_ctx, s->spec.owner);
}

void sl_probe_engine_fini(struct sl_probe_engine *e)
{
    for (size_t i = 0; i < SL_CHECKER_MAX_INFLIGHT; i++)
        if (e->slots[i].fd != -1)
            finish(e, &e->slots[i], false, SLUICE_CHECK_RESULT_NONE, 0);
    close(e->epfd);
    free(e->slots);
}

static void record_now(sluice_backend_t *b, sluice_check_result_t r)
{
    struct sl_health_change chg;

    sl_health_probe_done(b, r, 0, sl_now_ns(), &chg);
}

bool sl_probe_start(struct sl_probe_engine *e, sluice_backend_t *b, const struct sl_probe_spec *sp)
{
    struct sl_probe_slot *s = NULL;
    struct epoll_event ev = {.events = EPOLLOUT};
    int fd;

    for (size_t i = 0; s == NULL && i < SL_CHECKER_MAX_INFLIGHT; i++)
        if (e->slots[i].fd == -1) {
            s = &e->slots[i];
            ev.data.u64 = i;
        }
    if (s == NULL)
        return false;
    if (b->addr.ss_family == AF_UNSPEC) {
        record_now(b, SLUICE_CHECK_RESULT_CONNECT); /* did not resolve */
        return false;
    }
    fd = socket(b->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd == -1)
        return false; /* out of descriptors says nothing about the backend */
    if (connect(fd, (const struct sockaddr *)&b->addr, b->addrlen) != 0 && errno != EINPROGRESS) {
        close(fd);
        record_now(b, SLUICE_CHECK_RESULT_CONNECT);
        return false;
    }
    if (epoll_ctl(e->epfd, EPOLL_CTL_ADD, fd, &ev) == -1) {
        close(fd);
        return false;
    }
    s->connected = false;
    s->reqlen = s->sent = s->got = 0;
    s->fd = fd;
    s->b = b;
    sl_backend_ref(b);
    s->spec = *sp;
    s->deadline_ns = sl_now_ns() + (uint64_t)sp->timeout_ms * 1000000u;
    e->inflight++;
    return true;
}

/* "HTTP/1.x NNN" then a space or the line's end: the status, else 0. */
static uint16_t status_of(const char *line, size_t len)
{
    unsigned st = 0;

    if (len < 12 || memcmp(line, "HTTP/1.", 7) != 0 || (line[7] != '0' && line[7] != '1') ||
        line[8] != ' ')
        return 0;
    for (size_t i = 9; i < 12; i++) {
        if (line[i] < '0' || line[i] > '9')
            return 0;
        st = st * 10 + (unsigned)(line[i] - '0');
    }
    if (len > 12 && line[12] != ' ' && line[12] != '\r')
        return 0;
    return st >= 100 && st <= 599 ? (uint16_t)st : 0;
}

/* The verdict once the status line is in (or the peer closed). */
static void judge(struct sl_probe_engine *e, struct sl_probe_slot *s)
{
    char *nl = memchr(s->resp, '\n', s->got);
    uint16_t st = nl != NULL ? status_of(s->resp, (size_t)(nl - s->resp)) : 0;

    if (st == 0)
        finish(e, s, true, SLUICE_CHECK_RESULT_BAD_RESPONSE, 0);
    else if (st < s->spec.expect_lo || st > s->spec.expect_hi)
        finish(e, s, true, SLUICE_CHECK_RESULT_STATUS, st);
    else
        finish(e, s, true, SLUICE_CHECK_RESULT_OK, st);
}

static void connected(struct sl_probe_engine *e, struct sl_probe_slot *s, uint64_t tag)
{
    struct epoll_event ev = {.events = EPOLLOUT, .data.u64 = tag};
    int err = 0, n;
    socklen_t len = sizeof(err);

    if (getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &err, &len) == -1 || err != 0) {
        finish(e, s, true, SLUICE_CHECK_RESULT_CONNECT, 0);
        return;
    }
    if (s->spec.kind != SLUICE_CHECK_HTTP) {
        finish(e, s, true, SLUICE_CHECK_RESULT_OK, 0);
        return;
    }
    s->connected = true;
    n = snprintf(s->req, sizeof(s->req),
                 "GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: sluice-check\r\n"
                 "Connection: close\r\n\r\n",
                 s->spec.path, s->b->target);
    s->reqlen = n > 0 && (size_t)n < sizeof(s->req) ? (size_t)n : 0;
    epoll_ctl(e->epfd, EPOLL_CTL_MOD, s->fd, &ev);
}

/* One readiness event on an HTTP exchange: send the rest of the request,
 * or read toward the end of the status line. */
static void exchange(struct sl_probe_engine *e, struct sl_probe_slot *s, uint64_t tag)
{
    struct epoll_event ev = {.events = EPOLLIN, .data.u64 = tag};
    ssize_t n;

    if (s->sent < s->reqlen) {
        n = send(s->fd, s->req + s->sent, s->reqlen - s->sent, MSG_NOSIGNAL);
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
            return;
        if (n <= 0) {
            finish(e, s, true, SLUICE_CHECK_RESULT_BAD_RESPONSE, 0);
            return;
        }
        s->sent += (size_t)n;
        if (s->sent == s->reqlen)
            epoll_ctl(e->epfd, EPOLL_CTL_MOD, s->fd, &ev);
        return;
    }
    n = recv(s->fd, s->resp + s->got, sizeof(s->resp) - s->got, 0);
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    if (n > 0)
        s->got += (size_t)n;
    if (n <= 0 || memchr(s->resp, '\n', s->got) != NULL || s->got == sizeof(s->resp))
        judge(e, s);
}

bool sl_probe_poll(struct sl_probe_engine *e, int wait_ms)
{
    struct epoll_event evs[SL_CHECKER_MAX_INFLIGHT + 1];
    uint64_t now = sl_now_ns();
    bool go_on = true;
    int nev;

    for (size_t i = 0; i < SL_CHECKER_MAX_INFLIGHT; i++) {
        const struct sl_probe_slot *s = &e->slots[i];
        int left;

        if (s->fd == -1)
            continue;
        left = s->deadline_ns <= now ? 0 : (int)((s->deadline_ns - now + 999999) / 1000000);
        if (wait_ms < 0 || left < wait_ms)
            wait_ms = left;
    }
    nev = epoll_wait(e->epfd, evs, SL_CHECKER_MAX_INFLIGHT + 1, wait_ms);
    for (int k = 0; k < nev; k++) {
        uint64_t tag = evs[k].data.u64;
        struct sl_probe_slot *s;

        if (tag == STOP_TAG) {
            go_on = false;
            continue;
        }
        s = &e->slots[tag];
        if (s->fd == -1)
            continue;
        if (!s->connected)
            connected(e, s, tag);
        else
            exchange(e, s, tag);
    }
    now = sl_now_ns();
    for (size_t i = 0; i < SL_CHECKER_MAX_INFLIGHT; i++)
        if (e->slots[i].fd != -1 && e->slots[i].deadline_ns <= now)
            finish(e, &e->slots[i], true, SLUICE_CHECK_RESULT_TIMEOUT, 0);
    return go_on;
}
