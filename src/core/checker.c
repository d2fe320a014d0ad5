/* The active health checker: a thread that, every interval, TCP-connects to
 * every backend of every service (views share their parent's objects, so
 * they are skipped) and moves each score up or down. Non-blocking connects
 * multiplexed with epoll; an eventfd wakes the thread to stop. */
#include "checker.h"

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backend_types.h"
#include "group.h"
#include "lb.h"
#include "score.h"

#define STOP_TAG UINT64_MAX

struct probe {
    int fd; /* -1: free slot */
    struct sluice_backend *b;
    uint64_t deadline_ns;
};

struct sl_checker {
    sluice_lb_t *lb;
    pthread_t thread;
    int stop_fd; /* eventfd: readable once stop is asked */
    uint32_t interval_ms;
    uint32_t timeout_ms;
};

/* Starts a connect; returns the fd in progress, or -1 when the outcome is
 * already known and applied. */
static int probe_start(struct sluice_backend *b)
{
    int fd;

    if (b->addr.ss_family == AF_UNSPEC) {
        sl_score_step(b, false); /* did not resolve: cannot be reached */
        return -1;
    }
    fd = socket(b->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd == -1) {
        /* Out of descriptors says nothing about the backend: no score. */
        return -1;
    }
    if (connect(fd, (const struct sockaddr *)&b->addr, b->addrlen) == 0) {
        sl_score_step(b, true);
        close(fd);
        return -1;
    }
    if (errno == EINPROGRESS)
        return fd;
    sl_score_step(b, false);
    close(fd);
    return -1;
}

static void probe_end(struct probe *p, int epfd, int verdict)
{
    int err = 0;
    socklen_t len = sizeof(err);

    if (verdict == 0 && getsockopt(p->fd, SOL_SOCKET, SO_ERROR, &err, &len) == -1)
        err = errno;
    /* verdict: 0 ask the socket, 1 timed out, 2 stopping (no score). */
    if (verdict != 2)
        sl_score_step(p->b, verdict == 0 && err == 0);
    epoll_ctl(epfd, EPOLL_CTL_DEL, p->fd, NULL);
    close(p->fd);
    p->fd = -1;
}

static int wait_ms(const struct probe *slots, uint64_t now)
{
    uint64_t soonest = UINT64_MAX;

    for (size_t i = 0; i < SL_CHECKER_MAX_INFLIGHT; i++)
        if (slots[i].fd != -1 && slots[i].deadline_ns < soonest)
            soonest = slots[i].deadline_ns;
    if (soonest <= now)
        return 0;
    return (int)((soonest - now + 999999) / 1000000);
}

/* Fills free slots from bs[*next..n). */
static size_t fill(struct probe *slots, int epfd, struct sluice_backend *const *bs, size_t n,
                   size_t *next, uint32_t timeout_ms)
{
    size_t inflight = 0;

    for (size_t i = 0; i < SL_CHECKER_MAX_INFLIGHT; i++) {
        while (slots[i].fd == -1 && *next < n) {
            struct epoll_event ev = {.events = EPOLLOUT, .data.u64 = i};
            struct sluice_backend *b = bs[(*next)++];
            int fd = probe_start(b);

            if (fd == -1)
                continue;
            if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) == -1) {
                close(fd);
                continue;
            }
            slots[i] = (struct probe){fd, b, sl_now_ns() + (uint64_t)timeout_ms * 1000000};
        }
        inflight += slots[i].fd != -1;
    }
    return inflight;
}

size_t sl_checker_probe(struct sluice_backend *const *bs, size_t n, uint32_t timeout_ms,
                        int stop_fd)
{
    struct epoll_event evs[SL_CHECKER_MAX_INFLIGHT + 1];
    struct probe slots[SL_CHECKER_MAX_INFLIGHT];
    struct epoll_event sev = {.events = EPOLLIN, .data.u64 = STOP_TAG};
    size_t next = 0;
    bool stopping = false;
    int epfd = epoll_create1(EPOLL_CLOEXEC);

    if (epfd == -1)
        return 0;
    for (size_t i = 0; i < SL_CHECKER_MAX_INFLIGHT; i++)
        slots[i].fd = -1;
    if (stop_fd != -1)
        epoll_ctl(epfd, EPOLL_CTL_ADD, stop_fd, &sev);
    while (!stopping && fill(slots, epfd, bs, n, &next, timeout_ms) > 0) {
        int nev = epoll_wait(epfd, evs, SL_CHECKER_MAX_INFLIGHT + 1, wait_ms(slots, sl_now_ns()));
        uint64_t now;

        for (int e = 0; e < nev; e++) {
            if (evs[e].data.u64 == STOP_TAG)
                stopping = true;
            else if (slots[evs[e].data.u64].fd != -1)
                probe_end(&slots[evs[e].data.u64], epfd, 0);
        }
        now = sl_now_ns();
        for (size_t i = 0; i < SL_CHECKER_MAX_INFLIGHT; i++) {
            if (slots[i].fd != -1 && stopping)
                probe_end(&slots[i], epfd, 2);
            else if (slots[i].fd != -1 && slots[i].deadline_ns <= now)
                probe_end(&slots[i], epfd, 1);
        }
    }
    close(epfd);
    return next;
}

/* The distinct backends of every service, each with a reference. */
static struct sluice_backend **collect(sluice_lb_t *lb, size_t *n)
{
    struct sl_epoch_token tok;
    const struct sl_table *t;
    struct sluice_backend **bs;
    size_t total = 0;

    sl_epoch_enter(&lb->epoch, &tok);
    t = atomic_load_explicit(&lb->table, memory_order_seq_cst);
    for (size_t i = 0; i < t->n; i++)
        if (t->groups[i]->parent == NULL)
            total += t->groups[i]->n;
    /* Each service has its own backend objects, so no deduplication. */
    bs = malloc((total > 0 ? total : 1) * sizeof(*bs));
    *n = 0;
    for (size_t i = 0; bs != NULL && i < t->n; i++) {
        const struct sl_group *g = t->groups[i];

        for (size_t j = 0; g->parent == NULL && j < g->n; j++) {
            sl_backend_ref(g->backends[j]);
            bs[(*n)++] = g->backends[j];
        }
    }
    sl_epoch_exit(&lb->epoch, &tok);
    return bs;
}

static bool stop_requested(int fd, int timeout_ms)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};

    return poll(&p, 1, timeout_ms) > 0;
}

static void *checker_main(void *arg)
{
    struct sl_checker *c = arg;

    do {
        uint64_t start = sl_now_ns(), spent_ms;
        size_t n;
        struct sluice_backend **bs = collect(c->lb, &n);

        if (bs != NULL) {
            sl_checker_probe(bs, n, c->timeout_ms, c->stop_fd);
            for (size_t i = 0; i < n; i++)
                sl_backend_unref(bs[i]);
            free(bs);
        }
        spent_ms = (sl_now_ns() - start) / 1000000;
        if (spent_ms > c->interval_ms)
            spent_ms = c->interval_ms;
        if (stop_requested(c->stop_fd, (int)(c->interval_ms - spent_ms)))
            break;
    } while (!stop_requested(c->stop_fd, 0));
    return NULL;
}

int sluice_lb_start_health_checker(sluice_lb_t *lb, uint32_t interval_ms, uint32_t timeout_ms)
{
    struct sl_checker *c;
    sigset_t all, old;
    int rc = 0;

    if (lb == NULL || interval_ms == 0 || interval_ms > INT32_MAX || timeout_ms > INT32_MAX)
        return SLUICE_ERR_INVALID_ARG;
    pthread_mutex_lock(&lb->cklock);
    if (lb->checker != NULL) {
        rc = SLUICE_ERR_STATE;
        goto out;
    }
    c = calloc(1, sizeof(*c));
    if (c == NULL) {
        rc = SLUICE_ERR_NOMEM;
        goto out;
    }
    c->lb = lb;
    c->interval_ms = interval_ms;
    c->timeout_ms = timeout_ms > 0 ? timeout_ms : interval_ms;
    c->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (c->stop_fd == -1) {
        free(c);
        rc = SLUICE_ERR_IO;
        goto out;
    }
    /* The thread blocks every signal: the application's handlers run on
     * its own threads, never on ours. */
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    if (pthread_create(&c->thread, NULL, checker_main, c) != 0) {
        close(c->stop_fd);
        free(c);
        rc = SLUICE_ERR_THREAD;
    } else {
        lb->checker = c;
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
out:
    pthread_mutex_unlock(&lb->cklock);
    return rc;
}

void sluice_lb_stop_health_checker(sluice_lb_t *lb)
{
    struct sl_checker *c;
    uint64_t one = 1;

    if (lb == NULL)
        return;
    pthread_mutex_lock(&lb->cklock);
    c = lb->checker;
    lb->checker = NULL;
    pthread_mutex_unlock(&lb->cklock);
    if (c == NULL)
        return;
    if (write(c->stop_fd, &one, sizeof(one)) != sizeof(one)) {
        /* An eventfd write fails only on counter overflow: already set. */
    }
    pthread_join(c->thread, NULL);
    close(c->stop_fd);
    free(c);
}
