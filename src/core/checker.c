/* The active health checker: one thread per lb that probes every backend of
 * every service by its service's settings (checker_sched.c decides when,
 * checker_probe.c runs the probes, at most SL_CHECKER_MAX_INFLIGHT at a
 * time), ends due passive ejections on the way, and stops when its eventfd
 * is written. */
#include "checker.h"

#include <sys/eventfd.h>

#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include "checker_probe.h"
#include "checker_sched.h"
#include "health.h"
#include "lb.h"
#include "score.h"

/* The longest sleep: the schedule picks up new services at least this
 * often. */
#define CHECKER_MAX_WAIT_MS 1000

struct sl_checker {
    sluice_lb_t *lb;
    pthread_t thread;
    int stop_fd; /* eventfd: readable once stop is asked */
    uint32_t interval_ms;
    uint32_t timeout_ms;
};

size_t sl_checker_probe(struct sluice_backend *const *bs, size_t n, uint32_t timeout_ms,
                        int stop_fd)
{
    struct sl_probe_spec spec = {.kind = SLUICE_CHECK_TCP, .timeout_ms = timeout_ms};
    struct sl_probe_engine e;
    size_t next = 0;

    if (sl_probe_engine_init(&e, stop_fd) != 0)
        return 0;
    do {
        while (next < n && !sl_probe_full(&e))
            sl_probe_start(&e, bs[next++], &spec);
        if (e.inflight == 0)
            break;
    } while (sl_probe_poll(&e, -1));
    sl_probe_engine_fini(&e);
    return next;
}

/* Starts every due probe the in-flight bound and the schedule's fairness
 * allow, ending due ejections on the way; returns how long to wait for the
 * next one (ms). */
static int run_due(struct sl_sched *s, struct sl_probe_engine *e, uint64_t now)
{
    struct sl_probe_spec spec;
    sluice_backend_t *b;
    uint64_t wait;

    while (!sl_probe_full(e) &&
           (b = sl_sched_next(s, now, SL_CHECKER_MAX_INFLIGHT - e->inflight, &spec)) != NULL) {
        struct sl_health_change chg;

        sl_health_tick(b, now, &chg);
        if (spec.kind != SLUICE_CHECK_NONE && sl_probe_start(e, b, &spec))
            sl_sched_started(s);
    }
    /* Probes waiting for a slot wait for a probe's end: an event, or its
     * deadline capping the wait. Not full: sl_sched_next() moved every due
     * service to its turn, so the next due time is ahead. */
    if (sl_probe_full(e))
        return CHECKER_MAX_WAIT_MS;
    wait = sl_sched_wait_ns(s, now);
    if (wait >= (uint64_t)CHECKER_MAX_WAIT_MS * 1000000u)
        return CHECKER_MAX_WAIT_MS;
    return (int)((wait + 999999) / 1000000);
}

static void *checker_main(void *arg)
{
    struct sl_checker *c = arg;
    struct sl_sched s = {.interval_ms = c->interval_ms, .timeout_ms = c->timeout_ms};
    struct sl_probe_engine e;

    if (sl_probe_engine_init(&e, c->stop_fd) != 0)
        return NULL;
    e.done = sl_sched_done;
    e.done_ctx = &s;
    for (;;) {
        uint64_t now = sl_now_ns();

        /* Out of memory: keep the old schedule and try again later. */
        (void)sl_sched_refresh(&s, c->lb, now);
        if (!sl_probe_poll(&e, run_due(&s, &e, now)))
            break;
    }
    sl_probe_engine_fini(&e);
    sl_sched_fini(&s);
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
