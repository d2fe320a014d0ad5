/* The event loop: one epoll instance per worker thread, intrusive watchers,
 * a timer heap and a cached clock. Protocol-free: the HTTP and TCP proxies
 * plug in through watcher and timer callbacks.
 *
 * Threads: a loop and everything registered on it belong to the thread that
 * runs it; the only call allowed from another thread is sl_loop_wake().
 *
 * Watchers are level-triggered by default (SL_EV_EDGE asks for edge
 * triggering): register an fd once with the events you want and change
 * them only when they really change (say, add SL_EV_WRITE when a write
 * would block, drop it once the output drained), so the common request
 * costs no epoll_ctl at all.
 *
 * The clock is read once per loop turn (clock_gettime, a vDSO call):
 * sl_loop_now_ms()/_ns() return that cached value, which is what the hot
 * path uses for deadlines and latencies. */
#ifndef SL_NET_LOOP_H
#define SL_NET_LOOP_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "timer.h"

#define SL_EV_READ  0x001u     /* EPOLLIN */
#define SL_EV_WRITE 0x004u     /* EPOLLOUT */
#define SL_EV_ERROR 0x008u     /* EPOLLERR: always reported */
#define SL_EV_HUP   0x010u     /* EPOLLHUP: always reported */
#define SL_EV_RDHUP 0x2000u    /* EPOLLRDHUP: peer shut down its write side */
#define SL_EV_EDGE  (1u << 31) /* EPOLLET */

struct sl_loop;
struct sl_watcher;

/* <events> is what epoll reported (SL_EV_* bits). */
typedef void (*sl_watcher_cb_t)(struct sl_loop *l, struct sl_watcher *w, uint32_t events);

/* Embedded in the caller's struct; the loop keeps a pointer to it while
 * registered, so it must stay put until sl_loop_del(). */
struct sl_watcher {
    int fd;          /* -1 when not registered */
    uint32_t events; /* as registered */
    sl_watcher_cb_t cb;
    void *data; /* free for the owner (e.g. the struct it is in) */
};

/* Called at the top of every loop turn, before waiting (e.g. to adopt a
 * newly published routing table or flush buffered logs). */
typedef void (*sl_loop_turn_cb_t)(struct sl_loop *l, void *arg);

struct sl_loop {
    int epfd;
    int wakefd;      /* eventfd written by sl_loop_wake() */
    bool stop;       /* set by sl_loop_stop(): sl_loop_run() returns */
    uint64_t now_ms; /* monotonic, cached per turn */
    uint64_t now_ns;
    time_t wall_s;        /* realtime seconds, cached per turn (for logs) */
    uint32_t wall_ms;     /* realtime milliseconds within wall_s */
    uint32_t max_wait_ms; /* upper bound of one wait (default 1000) */
    struct sl_timer_heap timers;
    sl_loop_turn_cb_t on_turn;
    void *on_turn_arg;
    void (*on_wake)(struct sl_loop *l, void *arg); /* after sl_loop_wake() */
    void *on_wake_arg;
    struct sl_watcher wake_w;
    /* Turns run (GET /metrics): written by the loop's thread only (a
     * relaxed load and store), read by any with a relaxed load. */
    _Atomic uint64_t turns;
};

/* Opens the epoll instance and the wake-up eventfd. 0, or -1 with errno. */
int sl_loop_init(struct sl_loop *l);
/* Closes both; watchers still registered are forgotten, not closed. */
void sl_loop_fini(struct sl_loop *l);

/* Registers <w> for <fd> with <events> (SL_EV_READ | SL_EV_WRITE |
 * SL_EV_RDHUP | SL_EV_EDGE). <cb> and <data> must be set. 0 or -1 with
 * errno; on failure <w> stays unregistered. */
int sl_loop_add(struct sl_loop *l, struct sl_watcher *w, int fd, uint32_t events);
/* Changes the events of a registered watcher; a no-op (no syscall) when
 * they are the same. 0 or -1 with errno. */
int sl_loop_mod(struct sl_loop *l, struct sl_watcher *w, uint32_t events);
/* Unregisters <w> (the fd stays open: closing it is the owner's job). Safe
 * in any callback, including <w>'s own: events already fetched for <w> in
 * this turn are dropped. */
void sl_loop_del(struct sl_loop *l, struct sl_watcher *w);

/* Like sl_loop_del() for a watcher whose fd the caller closes right
 * after (and never dup()ed): closing the fd takes it out of epoll, so this
 * skips the epoll_ctl and only forgets the watcher. */
void sl_loop_forget(struct sl_loop *l, struct sl_watcher *w);

/* One turn: the turn hook, a wait of at most <max_wait_ms> (or until the
 * next timer), the watchers that fired, then due timers. */
void sl_loop_run_once(struct sl_loop *l, uint32_t max_wait_ms);
/* Turns until sl_loop_stop(). */
void sl_loop_run(struct sl_loop *l);
void sl_loop_stop(struct sl_loop *l);
/* Any thread: makes a blocked wait return and runs on_wake in the loop's
 * thread. Async-signal-safe (one write to an eventfd). */
void sl_loop_wake(struct sl_loop *l);

/* Re-reads the clock (the loop does it each turn; tests may call it). */
void sl_loop_update_time(struct sl_loop *l);
static inline uint64_t sl_loop_now_ms(const struct sl_loop *l)
{
    return l->now_ms;
}
static inline uint64_t sl_loop_now_ns(const struct sl_loop *l)
{
    return l->now_ns;
}

/* Arms <t> to fire <after_ms> from the cached now. 0 or -1 (no memory). */
static inline int sl_loop_timer_after(struct sl_loop *l, struct sl_timer *t, uint64_t after_ms)
{
    return sl_timer_set(&l->timers, t, l->now_ms + after_ms);
}
static inline void sl_loop_timer_stop(struct sl_loop *l, struct sl_timer *t)
{
    sl_timer_stop(&l->timers, t);
}

#endif /* SL_NET_LOOP_H */
