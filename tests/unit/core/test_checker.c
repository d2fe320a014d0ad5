/* The TCP health checker against loopback ports we open and close. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "checker.h"
#include "group.h"
#include "lb.h"
#include "sluice.h"
#include "snapshot_of.h"
#include "view.h"

/* A socket bound to 127.0.0.1:0; listening when <listen_too>. */
static int bound(int listen_too, unsigned *port)
{
    struct sockaddr_in a = {.sin_family = AF_INET};
    socklen_t len = sizeof(a);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

    assert_true(fd >= 0);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    if (listen_too)
        assert_int_equal(listen(fd, 64), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    *port = ntohs(a.sin_port);
    return fd;
}

struct ports {
    int lfd;
    char up[32], closed[32];
};

static void ports_open(struct ports *p)
{
    unsigned port;
    int cfd = bound(0, &port); /* bound, never listening: connects are refused */

    snprintf(p->closed, sizeof(p->closed), "127.0.0.1:%u", port);
    p->lfd = bound(1, &port);
    snprintf(p->up, sizeof(p->up), "127.0.0.1:%u", port);
    close(cfd);
}

static void probe_marks_closed_down_and_listening_up(void **state)
{
    sluice_lb_t *lb = sluice_lb_new();
    struct ports p;
    const char *ts[3];
    sluice_group_snapshot_t snap;
    (void)state;

    ports_open(&p);
    ts[0] = p.up;
    ts[1] = p.closed;
    ts[2] = "no-such-host.invalid:80";
    assert_int_equal(sluice_lb_register(lb, "svc", ts, 3, SLUICE_ROUND_ROBIN), 0);
    /* The group's backend list is stable while we hold the writer lock. */
    pthread_mutex_lock(&lb->wlock);
    {
        const struct sl_group *g = sl_table_find(atomic_load(&lb->table), "svc");

        assert_int_equal(sl_checker_probe(g->backends, g->n, 1000, -1), 3);
    }
    pthread_mutex_unlock(&lb->wlock);
    assert_int_equal(sluice_lb_snapshot(lb, "svc", &snap), 0);
    assert_int_equal(snap.backends[0].score, 2);
    assert_int_equal(snap.backends[0].health, SLUICE_HEALTH_HEALTHY);
    for (size_t i = 1; i < 3; i++) {
        assert_int_equal(snap.backends[i].score, 0);
        assert_int_equal(snap.backends[i].failures, 1);
    }
    sluice_group_snapshot_free(&snap);
    close(p.lfd);
    sluice_lb_free(lb);
}

static void thread_probes_until_stopped(void **state)
{
    sluice_lb_t *lb = sluice_lb_new();
    struct ports p;
    const char *ts[2];
    int rounds;
    (void)state;

    ports_open(&p);
    ts[0] = p.up;
    ts[1] = p.closed;
    assert_int_equal(sluice_lb_register(lb, "svc", ts, 2, SLUICE_ROUND_ROBIN), 0);
    /* A view shares the objects: it must not double the probes. */
    assert_int_equal(sl_lb_register_view(lb, "svc/all", "svc", "", NULL, 0), 0);
    assert_int_equal(sluice_lb_start_health_checker(lb, 0, 10), SLUICE_ERR_INVALID_ARG);
    assert_int_equal(sluice_lb_start_health_checker(lb, 10, 200), 0);
    assert_int_equal(sluice_lb_start_health_checker(lb, 10, 200), SLUICE_ERR_STATE);
    /* Bounded wait for the closed port to go unusable (two downs). */
    for (rounds = 0; rounds < 1000 && sluice_lb_healthy_count(lb, "svc") != 1; rounds++) {
        struct timespec ts10 = {0, 10 * 1000 * 1000};

        nanosleep(&ts10, NULL);
    }
    assert_int_equal(sluice_lb_healthy_count(lb, "svc"), 1);
    sluice_lb_stop_health_checker(lb);
    sluice_lb_stop_health_checker(lb); /* no-op */
    {
        sluice_backend_snapshot_t up = backend_of(lb, "svc", p.up),
                                  down = backend_of(lb, "svc", p.closed);

        assert_true(up.score >= 2);
        assert_int_equal(up.health, SLUICE_HEALTH_HEALTHY);
        assert_int_equal(up.failures, 0);
        assert_true(down.score < 0);
        assert_int_equal(down.health, SLUICE_HEALTH_UNHEALTHY);
        assert_true(down.failures >= 2);
    }
    /* Restartable, and freeing the lb stops it. */
    assert_int_equal(sluice_lb_start_health_checker(lb, 1000, 100), 0);
    close(p.lfd);
    sluice_lb_free(lb);
}

static void stop_interrupts_slow_probes(void **state)
{
    static const char *const blackhole[] = {"192.0.2.1:9"}; /* TEST-NET-1 */
    sluice_lb_t *lb = sluice_lb_new();
    (void)state;

    assert_int_equal(sluice_lb_register(lb, "svc", blackhole, 1, SLUICE_ROUND_ROBIN), 0);
    assert_int_equal(sluice_lb_start_health_checker(lb, 60000, 60000), 0);
    sluice_lb_stop_health_checker(lb); /* returns without waiting out the probe */
    sluice_lb_free(lb);
}

/* A tiny HTTP server on its own thread: answers each connection per
 * <mode> (0: 200, 1: 500, 2: not HTTP), counts HTTP requests and
 * connections that sent nothing (TCP probes), keeps the last request. */
struct tiny {
    int lfd;
    unsigned port;
    pthread_t thread;
    _Atomic int mode, stop, http, bare;
    pthread_mutex_t mu; /* guards last: the test reads it while probes run */
    char last[512];
};

static void *tiny_main(void *arg)
{
    static const char *const replies[] = {
        "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
        "HTTP/1.1 500 Oops\r\nContent-Length: 0\r\n\r\n",
        "garbage\r\n\r\n",
    };
    struct tiny *t = arg;

    while (!atomic_load(&t->stop)) {
        struct pollfd p = {.fd = t->lfd, .events = POLLIN};
        char buf[512];
        size_t got = 0;
        int fd;

        if (poll(&p, 1, 20) <= 0 || (fd = accept(t->lfd, NULL, NULL)) < 0)
            continue;
        /* Bounded: a probe sends its request at once or never. */
        for (int i = 0; i < 50 && got < sizeof(buf) - 1; i++) {
            struct pollfd q = {.fd = fd, .events = POLLIN};
            ssize_t n;

            if (poll(&q, 1, 10) <= 0)
                continue;
            n = recv(fd, buf + got, sizeof(buf) - 1 - got, 0);
            if (n <= 0)
                break;
            got += (size_t)n;
            buf[got] = '\0';
            if (strstr(buf, "\r\n\r\n") != NULL)
                break;
        }
        if (got == 0) {
            atomic_fetch_add(&t->bare, 1);
        } else {
            const char *r = replies[atomic_load(&t->mode)];

            pthread_mutex_lock(&t->mu);
            memcpy(t->last, buf, got + 1);
            pthread_mutex_unlock(&t->mu);
            atomic_fetch_add(&t->http, 1);
            if (send(fd, r, strlen(r), MSG_NOSIGNAL) < 0) {
                /* the prober gave up: nothing to do */
            }
        }
        close(fd);
    }
    return NULL;
}

static void tiny_start(struct tiny *t)
{
    memset(t, 0, sizeof(*t));
    pthread_mutex_init(&t->mu, NULL);
    t->lfd = bound(1, &t->port);
    assert_int_equal(pthread_create(&t->thread, NULL, tiny_main, t), 0);
}

static void tiny_stop(struct tiny *t)
{
    atomic_store(&t->stop, 1);
    pthread_join(t->thread, NULL);
    close(t->lfd);
    pthread_mutex_destroy(&t->mu);
}

/* A copy of the last request the server read. */
static void tiny_last(struct tiny *t, char *out, size_t cap)
{
    pthread_mutex_lock(&t->mu);
    (void)snprintf(out, cap, "%s", t->last);
    pthread_mutex_unlock(&t->mu);
}

/* Waits (bounded, 5 s) until <target> of <service> shows last check <r>. */
static sluice_backend_snapshot_t wait_check(sluice_lb_t *lb, const char *service,
                                            const char *target, sluice_check_result_t r)
{
    sluice_backend_snapshot_t s;

    for (int i = 0; i < 500; i++) {
        struct timespec ms10 = {0, 10 * 1000 * 1000};
        sluice_group_snapshot_t snap;

        assert_int_equal(sluice_lb_snapshot(lb, service, &snap), 0);
        s = snap.backends[0];
        s.target = s.name = NULL;
        assert_string_equal(snap.backends[0].target, target);
        sluice_group_snapshot_free(&snap);
        if (s.last_check == r)
            return s;
        nanosleep(&ms10, NULL);
    }
    fail_msg("last check of %s stayed %d, wanted %d", target, (int)s.last_check, (int)r);
    return s;
}

static void http_checks_follow_each_service(void **state)
{
    sluice_check_opts_t ck = {
        .kind = SLUICE_CHECK_HTTP, .interval_ms = 20, .timeout_ms = 1000, .path = "/health"};
    sluice_lb_t *lb = sluice_lb_new();
    sluice_backend_snapshot_t s;
    struct tiny t;
    char target[32], host[64], last[512];
    const char *ts[1] = {target};
    (void)state;

    tiny_start(&t);
    snprintf(target, sizeof(target), "127.0.0.1:%u", t.port);
    snprintf(host, sizeof(host), "Host: %s\r\n", target);
    assert_int_equal(sluice_lb_register(lb, "h", ts, 1, SLUICE_ROUND_ROBIN), 0);
    assert_int_equal(sluice_lb_register(lb, "slow", ts, 1, SLUICE_ROUND_ROBIN), 0);
    assert_int_equal(sluice_lb_set_check(lb, "h", &ck), 0);
    ck.expect_lo = 300;
    assert_int_equal(sluice_lb_set_check(lb, "h", &ck), SLUICE_ERR_INVALID_ARG); /* lo > hi */
    ck.expect_lo = 0;
    ck.path = "no-slash";
    assert_int_equal(sluice_lb_set_check(lb, "h", &ck), SLUICE_ERR_INVALID_ARG);
    ck.path = "/health";
    assert_int_equal(sluice_lb_set_check(lb, "zz", &ck), SLUICE_ERR_UNKNOWN_SERVICE);
    /* "slow" has no settings: the thread's one-minute TCP probes. */
    assert_int_equal(sluice_lb_start_health_checker(lb, 60000, 1000), 0);

    s = wait_check(lb, "h", target, SLUICE_CHECK_RESULT_OK);
    assert_int_equal(s.last_check_status, 200);
    assert_true(s.last_check_ns > 0);
    tiny_last(&t, last, sizeof(last));
    assert_non_null(strstr(last, "GET /health HTTP/1.1\r\n"));
    assert_non_null(strstr(last, host));
    assert_non_null(strstr(last, "Connection: close\r\n"));

    atomic_store(&t.mode, 1);
    s = wait_check(lb, "h", target, SLUICE_CHECK_RESULT_STATUS);
    assert_int_equal(s.last_check_status, 500);
    for (int i = 0; i < 500 && sluice_lb_healthy_count(lb, "h") != 0; i++) {
        struct timespec ms10 = {0, 10 * 1000 * 1000};

        nanosleep(&ms10, NULL);
    }
    assert_int_equal(sluice_lb_healthy_count(lb, "h"), 0);

    atomic_store(&t.mode, 2);
    s = wait_check(lb, "h", target, SLUICE_CHECK_RESULT_BAD_RESPONSE);
    assert_int_equal(s.last_check_status, 0);
    sluice_lb_stop_health_checker(lb);
    /* The fast service was probed many times, the slow one once at most. */
    assert_true(atomic_load(&t.http) >= 5);
    assert_true(atomic_load(&t.bare) <= 1);
    tiny_stop(&t);
    sluice_lb_free(lb);
}

/* Settings no probe can work with are refused, the defaults and the
 * edges accepted (blackbox finding #5: 0-700 used to pass). */
static void set_check_refuses_nonsense(void **state)
{
    static const char *const ts[] = {"127.0.0.1:1"};
    const sluice_check_opts_t ok = {.kind = SLUICE_CHECK_HTTP, .interval_ms = 100};
    struct {
        uint16_t lo, hi;
        int rc;
    } ranges[] = {
        {0, 0, 0},
        {100, 599, 0},
        {200, 200, 0},
        {0, 700, SLUICE_ERR_INVALID_ARG},
        {0, 200, SLUICE_ERR_INVALID_ARG},
        {99, 200, SLUICE_ERR_INVALID_ARG},
        {200, 600, SLUICE_ERR_INVALID_ARG},
        {300, 200, SLUICE_ERR_INVALID_ARG},
        {200, 0, SLUICE_ERR_INVALID_ARG},
    };
    sluice_lb_t *lb = sluice_lb_new();
    sluice_check_opts_t o;
    (void)state;

    assert_int_equal(sluice_lb_register(lb, "svc", ts, 1, SLUICE_ROUND_ROBIN), 0);
    for (size_t i = 0; i < sizeof(ranges) / sizeof(ranges[0]); i++) {
        o = ok;
        o.expect_lo = ranges[i].lo;
        o.expect_hi = ranges[i].hi;
        if (sluice_lb_set_check(lb, "svc", &o) != ranges[i].rc)
            fail_msg("range %u-%u: wanted %d", ranges[i].lo, ranges[i].hi, ranges[i].rc);
    }
    o = ok;
    o.kind = (sluice_check_kind_t)3;
    assert_int_equal(sluice_lb_set_check(lb, "svc", &o), SLUICE_ERR_INVALID_ARG);
    o = ok;
    o.interval_ms = 0;
    assert_int_equal(sluice_lb_set_check(lb, "svc", &o), SLUICE_ERR_INVALID_ARG);
    o.interval_ms = (uint32_t)INT32_MAX + 1;
    assert_int_equal(sluice_lb_set_check(lb, "svc", &o), SLUICE_ERR_INVALID_ARG);
    o.interval_ms = INT32_MAX;
    assert_int_equal(sluice_lb_set_check(lb, "svc", &o), 0);
    o = ok;
    o.timeout_ms = (uint32_t)INT32_MAX + 1;
    assert_int_equal(sluice_lb_set_check(lb, "svc", &o), SLUICE_ERR_INVALID_ARG);
    o = ok;
    o.down_interval_ms = UINT32_MAX;
    assert_int_equal(sluice_lb_set_check(lb, "svc", &o), SLUICE_ERR_INVALID_ARG);
    o = ok;
    o.path = "/a b";
    assert_int_equal(sluice_lb_set_check(lb, "svc", &o), SLUICE_ERR_INVALID_ARG);
    sluice_lb_free(lb);
}

/* One service's black-holed backends (connections accepted by the kernel,
 * never answered) used to take all 64 probe slots until their timeout and
 * stall every other service's probes (blackbox finding #6): the healthy
 * service keeps its interval, within generous bounds. */
static void black_holed_service_does_not_starve_others(void **state)
{
    enum { BH = 200 };
    sluice_check_opts_t bh = {
        .kind = SLUICE_CHECK_HTTP, .interval_ms = 500, .timeout_ms = 2000, .path = "/"};
    sluice_check_opts_t ok = {
        .kind = SLUICE_CHECK_HTTP, .interval_ms = 50, .timeout_ms = 1000, .path = "/"};
    struct sockaddr_in a = {.sin_family = AF_INET};
    socklen_t alen = sizeof(a);
    static char bh_targets[BH][32];
    const char *bts[BH];
    char target[32];
    const char *ts[1] = {target};
    sluice_lb_t *lb = sluice_lb_new();
    uint64_t last = 0, worst = 0, t0 = 0, changes = 0;
    struct tiny t;
    int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    (void)state;

    /* Listens on every loopback address and never accepts: each probe
     * connects, sends and waits out its timeout. */
    assert_true(lfd >= 0);
    a.sin_addr.s_addr = htonl(INADDR_ANY);
    assert_int_equal(bind(lfd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(listen(lfd, 4096), 0);
    assert_int_equal(getsockname(lfd, (struct sockaddr *)&a, &alen), 0);
    for (int i = 0; i < BH; i++) {
        snprintf(bh_targets[i], sizeof(bh_targets[i]), "127.0.%d.%d:%u", 1 + i / 250, 1 + i % 250,
                 ntohs(a.sin_port));
        bts[i] = bh_targets[i];
    }
    tiny_start(&t);
    snprintf(target, sizeof(target), "127.0.0.1:%u", t.port);
    assert_int_equal(sluice_lb_register(lb, "h", ts, 1, SLUICE_ROUND_ROBIN), 0);
    assert_int_equal(sluice_lb_register(lb, "bh", bts, BH, SLUICE_ROUND_ROBIN), 0);
    assert_int_equal(sluice_lb_set_check(lb, "h", &ok), 0);
    assert_int_equal(sluice_lb_set_check(lb, "bh", &bh), 0);
    assert_int_equal(sluice_lb_start_health_checker(lb, 60000, 1000), 0);
    /* 3.5 s: past the black-holed probes' first timeouts and refills. */
    for (int i = 0; i < 350; i++) {
        struct timespec ms10 = {0, 10 * 1000 * 1000};
        sluice_group_snapshot_t snap;
        uint64_t at;

        assert_int_equal(sluice_lb_snapshot(lb, "h", &snap), 0);
        at = snap.backends[0].last_check_ns;
        sluice_group_snapshot_free(&snap);
        if (at != 0 && at != last) {
            if (last != 0 && at - last > worst)
                worst = at - last;
            if (t0 == 0)
                t0 = at;
            last = at;
            changes++;
        }
        nanosleep(&ms10, NULL);
    }
    sluice_lb_stop_health_checker(lb);
    print_message("healthy service: %llu probes seen, worst gap %llu ms\n",
                  (unsigned long long)changes, (unsigned long long)(worst / 1000000));
    /* Work-conserving: the black-holed service still used most slots (a
     * first round of probes ended by the 2 s timeout). */
    {
        sluice_group_snapshot_t snap;
        size_t timed_out = 0;

        assert_int_equal(sluice_lb_snapshot(lb, "bh", &snap), 0);
        for (size_t i = 0; i < snap.n; i++)
            timed_out += snap.backends[i].last_check == SLUICE_CHECK_RESULT_TIMEOUT;
        sluice_group_snapshot_free(&snap);
        print_message("black-holed service: %zu probes timed out\n", timed_out);
        assert_true(timed_out >= 40);
    }
    /* Every 50 ms: dozens of probes, no gap near the 2 s timeout. */
    if (worst > 600000000u || changes < 20)
        fail_msg("healthy service: %llu probes seen, worst gap %llu ms",
                 (unsigned long long)changes, (unsigned long long)(worst / 1000000));
    tiny_stop(&t);
    close(lfd);
    sluice_lb_free(lb);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(probe_marks_closed_down_and_listening_up),
        cmocka_unit_test(thread_probes_until_stopped),
        cmocka_unit_test(stop_interrupts_slow_probes),
        cmocka_unit_test(http_checks_follow_each_service),
        cmocka_unit_test(set_check_refuses_nonsense),
        cmocka_unit_test(black_holed_service_does_not_starve_others),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
