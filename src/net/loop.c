#include "loop.h"

#include <sys/epoll.h>
#include <sys/eventfd.h>

#include <errno.h>
#include <stddef.h>
#include <unistd.h>

#define MAX_EVENTS 256

/* The watchers fetched by the current epoll_wait, so sl_loop_del() can
 * blank out events for a watcher deleted mid-turn (per thread: one loop
 * per thread). */
static _Thread_local struct epoll_event *turn_events;
static _Thread_local int turn_n;

void sl_loop_update_time(struct sl_loop *l)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    l->now_ns = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
    l->now_ms = l->now_ns / 1000000u;
    clock_gettime(CLOCK_REALTIME, &ts);
    l->wall_s = ts.tv_sec;
    l->wall_ms = (uint32_t)(ts.tv_nsec / 1000000);
}

static void on_wakefd(struct sl_loop *l, struct sl_watcher *w, uint32_t events)
{
    uint64_t v;

    (void)events;
    /* The counter only says "look"; its value does not matter. */
    while (read(w->fd, &v, sizeof(v)) == (ssize_t)sizeof(v))
        ;
    if (l->on_wake)
        l->on_wake(l, l->on_wake_arg);
}

int sl_loop_init(struct sl_loop *l)
{
    l->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (l->epfd < 0)
        return -1;
    l->wakefd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (l->wakefd < 0) {
        int e = errno;

        close(l->epfd);
        errno = e;
        return -1;
    }
    l->stop = false;
    l->max_wait_ms = 1000;
    l->on_turn = NULL;
    l->on_turn_arg = NULL;
    l->on_wake = NULL;
    l->on_wake_arg = NULL;
    atomic_init(&l->turns, 0);
    sl_timer_heap_init(&l->timers);
    sl_loop_update_time(l);
    l->wake_w.cb = on_wakefd;
    l->wake_w.data = NULL;
    l->wake_w.fd = -1;
    if (sl_loop_add(l, &l->wake_w, l->wakefd, SL_EV_READ) < 0) {
        int e = errno;

        close(l->wakefd);
        close(l->epfd);
        errno = e;
        return -1;
    }
    return 0;
}

void sl_loop_fini(struct sl_loop *l)
{
    sl_timer_heap_fini(&l->timers);
    if (l->wakefd >= 0)
        close(l->wakefd);
    if (l->epfd >= 0)
        close(l->epfd);
    l->wakefd = -1;
    l->epfd = -1;
}

int sl_loop_add(struct sl_loop *l, struct sl_watcher *w, int fd, uint32_t events)
{
    struct epoll_event ev = {.events = events, .data.ptr = w};

    if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
        return -1;
    w->fd = fd;
    w->events = events;
    return 0;
}

int sl_loop_mod(struct sl_loop *l, struct sl_watcher *w, uint32_t events)
{
    struct epoll_event ev = {.events = events, .data.ptr = w};

    if (w->events == events)
        return 0;
    if (epoll_ctl(l->epfd, EPOLL_CTL_MOD, w->fd, &ev) < 0)
        return -1;
    w->events = events;
    return 0;
}

void sl_loop_del(struct sl_loop *l, struct sl_watcher *w)
{
    if (w->fd < 0)
        return;
    epoll_ctl(l->epfd, EPOLL_CTL_DEL, w->fd, NULL);
    w->fd = -1;
    for (int i = 0; i < turn_n; i++)
        if (turn_events[i].data.ptr == w)
            turn_events[i].data.ptr = NULL;
}

void sl_loop_forget(struct sl_loop *l, struct sl_watcher *w)
{
    (void)l;
    if (w->fd < 0)
        return;
    w->fd = -1;
    for (int i = 0; i < turn_n; i++)
        if (turn_events[i].data.ptr == w)
            turn_events[i].data.ptr = NULL;
}

void sl_loop_run_once(struct sl_loop *l, uint32_t max_wait_ms)
{
    struct epoll_event evs[MAX_EVENTS];
    uint64_t next;
    int timeout = (int)max_wait_ms;
    int n;

    atomic_store_explicit(&l->turns, atomic_load_explicit(&l->turns, memory_order_relaxed) + 1,
                          memory_order_relaxed);
    sl_loop_update_time(l);
    if (l->on_turn)
        l->on_turn(l, l->on_turn_arg);
    if (l->stop)
        return; /* the hook ended the loop: do not sleep first */
    next = sl_timer_next(&l->timers);
    if (next <= l->now_ms)
        timeout = 0;
    else if (next - l->now_ms < (uint64_t)timeout)
        timeout = (int)(next - l->now_ms);
    n = epoll_wait(l->epfd, evs, MAX_EVENTS, timeout);
    sl_loop_update_time(l);
    if (n > 0) {
        turn_events = evs;
        turn_n = n;
        for (int i = 0; i < n; i++) {
            struct sl_watcher *w = evs[i].data.ptr;

            if (w)
                w->cb(l, w, evs[i].events);
        }
        turn_events = NULL;
        turn_n = 0;
    }
    sl_timer_run(&l->timers, l->now_ms);
}

void sl_loop_run(struct sl_loop *l)
{
    while (!l->stop)
        sl_loop_run_once(l, l->max_wait_ms);
}

void sl_loop_stop(struct sl_loop *l)
{
    l->stop = true;
}

void sl_loop_wake(struct sl_loop *l)
{
    uint64_t one = 1;
    ssize_t r = write(l->wakefd, &one, sizeof(one));

    (void)r; /* EAGAIN: the counter is already non-zero, so a wake is pending */
}
