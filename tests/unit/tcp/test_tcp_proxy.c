/* The TCP proxy on loopback: a hand-built route, an echo backend
 * (a thread, or a child process when the test limits descriptors), a
 * front socket whose accepted connections go to sl_tcp_accept(), and the
 * proxy's loop stepped by hand between client reads and writes. Every
 * wait is a bounded number of loop turns; no test asserts a duration. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "net/log.h"
#include "net/loop.h"
#include "sluice.h"
#include "tcp/tcp_int.h"
#include "tcp/tcp_proxy.h"

#define MAX_TURNS 3000 /* x at most 10 ms each */

struct echo {
    int lfd;
    uint16_t port;
    pthread_t thread;
    pid_t pid;
    atomic_bool stop;
};

struct fx {
    sluice_lb_t *lb;
    struct sl_tcp_route route; /* what worker.c resolves from its table */
    int held;                  /* references sessions still hold */
    struct sl_loop loop;
    struct sl_access_log *alog;
    struct sl_tcp_worker *w;
    int front; /* where clients connect */
    struct echo echo;
    bool limit_fds; /* fx_connect: leave room for one more descriptor only */
    struct rlimit old_limit;
};

static int listen_any(uint16_t *port)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(a);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

    assert_true(fd >= 0);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(listen(fd, 64), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    *port = ntohs(a.sin_port);
    return fd;
}

/* A port nobody listens on (bound, then closed again). */
static uint16_t dead_port(void)
{
    uint16_t port;
    int fd = listen_any(&port);

    close(fd);
    return port;
}

static void write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);

        if (w <= 0)
            return;
        p += w;
        n -= (size_t)w;
    }
}

/* Echoes one connection at a time until EOF, then half-closes back. */
static void echo_serve(struct echo *e)
{
    char buf[65536];

    while (!atomic_load(&e->stop)) {
        struct pollfd p = {.fd = e->lfd, .events = POLLIN};
        ssize_t n;
        int c;

        if (poll(&p, 1, 50) <= 0)
            continue;
        c = accept(e->lfd, NULL, NULL);
        if (c < 0)
            continue;
        while ((n = read(c, buf, sizeof(buf))) > 0)
            write_all(c, buf, (size_t)n);
        shutdown(c, SHUT_WR);
        close(c);
    }
}

static void *echo_main(void *arg)
{
    echo_serve(arg);
    return NULL;
}

static void echo_start(struct echo *e, bool in_child)
{
    e->lfd = listen_any(&e->port);
    atomic_init(&e->stop, false);
    e->pid = 0;
    if (in_child) {
        e->pid = fork();
        assert_true(e->pid >= 0);
        if (e->pid == 0) {
            echo_serve(e); /* until killed */
            _exit(0);
        }
        return;
    }
    assert_int_equal(pthread_create(&e->thread, NULL, echo_main, e), 0);
}

static void echo_stop(struct echo *e)
{
    if (e->pid > 0) {
        kill(e->pid, SIGKILL);
        waitpid(e->pid, NULL, 0);
    } else {
        atomic_store(&e->stop, true);
        pthread_join(e->thread, NULL);
    }
    close(e->lfd);
}

static void fx_release(void *ref)
{
    struct fx *f = ref;

    f->held--;
}

/* Registers group "svc" with <n> backends: port 0 in <ports> means the
 * echo server, anything else is used as is. */
static void fx_targets(struct fx *f, const uint16_t *ports, size_t n, uint32_t retries)
{
    char bufs[4][32];
    const char *targets[4];

    assert_true(n <= 4);
    for (size_t i = 0; i < n; i++) {
        (void)snprintf(bufs[i], sizeof(bufs[i]), "127.0.0.1:%u",
                       (unsigned)(ports[i] ? ports[i] : f->echo.port));
        targets[i] = bufs[i];
    }
    assert_int_equal(sluice_lb_register(f->lb, "svc", targets, n, SLUICE_ROUND_ROBIN), 0);
    f->route.retries = retries;
}

static struct fx *fx_new(bool echo_in_child)
{
    struct fx *f = calloc(1, sizeof(*f));
    uint16_t port;

    assert_non_null(f);
    f->lb = sluice_lb_new();
    assert_non_null(f->lb);
    f->route = (struct sl_tcp_route){
        .lb = f->lb,
        .group = "svc",
        .listener = "pg",
        .connect_timeout_ms = 2000,
        .idle_timeout_ms = 60000,
        .retries = 2,
        .ref = f,
        .release = fx_release,
    };
    assert_int_equal(sl_loop_init(&f->loop), 0);
    f->alog = malloc(sizeof(*f->alog));
    assert_non_null(f->alog);
    sl_access_log_init(f->alog);
    f->w = sl_tcp_worker_new(&f->loop, f->alog);
    assert_non_null(f->w);
    f->front = listen_any(&port);
    echo_start(&f->echo, echo_in_child);
    return f;
}

static void fx_free(struct fx *f)
{
    sl_tcp_worker_free(f->w);
    assert_int_equal(f->held, 0);
    sl_access_log_flush(f->alog);
    free(f->alog);
    sl_loop_fini(&f->loop);
    echo_stop(&f->echo);
    close(f->front);
    sluice_lb_free(f->lb);
    free(f);
}

static void turn(struct fx *f)
{
    sl_loop_run_once(&f->loop, 10);
}

/* The lowest free descriptor number. */
static int lowest_free_fd(void)
{
    int fd = dup(0);

    assert_true(fd >= 0);
    close(fd);
    return fd;
}

/* A client connected through the proxy: returns the client's end
 * (non-blocking); the accepted end went to sl_tcp_accept(). */
static int fx_connect(struct fx *f)
{
    struct sockaddr_in a;
    struct sockaddr_storage peer;
    socklen_t len = sizeof(a), plen = sizeof(peer);
    int c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), s;

    assert_true(c >= 0);
    assert_int_equal(getsockname(f->front, (struct sockaddr *)&a, &len), 0);
    assert_int_equal(connect(c, (struct sockaddr *)&a, len), 0);
    s = accept4(f->front, (struct sockaddr *)&peer, &plen, SOCK_NONBLOCK | SOCK_CLOEXEC);
    assert_true(s >= 0);
    if (f->limit_fds) {
        struct rlimit low;

        /* The backend socket fits, a pipe (two descriptors) does not. */
        assert_int_equal(getrlimit(RLIMIT_NOFILE, &f->old_limit), 0);
        low = f->old_limit;
        low.rlim_cur = (rlim_t)lowest_free_fd() + 1;
        assert_int_equal(setrlimit(RLIMIT_NOFILE, &low), 0);
    }
    f->held++; /* the session's, as worker.c takes one on its table */
    sl_tcp_accept(f->w, &f->route, s, (struct sockaddr *)&peer, plen);
    assert_int_equal(fcntl(c, F_SETFL, O_NONBLOCK), 0);
    return c;
}

/* Sends <n> bytes of a pattern (then SHUT_WR when <half_close>) and reads
 * until EOF or <n> bytes back, stepping the loop; reads nothing during the
 * first <stall> turns, so every buffer on the way fills up and the proxy
 * has to wait for its destinations. Returns bytes read. */
static size_t exchange_stalled(struct fx *f, int c, size_t n, bool half_close, int stall, bool *eof)
{
    char *out = malloc(n ? n : 1), *in = malloc(n + 1);
    size_t sent = 0, got = 0;
    bool shut = false;

    assert_non_null(out);
    assert_non_null(in);
    for (size_t i = 0; i < n; i++)
        out[i] = (char)(i * 7 + i / 251);
    *eof = false;
    for (int t = 0; t < MAX_TURNS && !*eof && (got < n || half_close); t++) {
        ssize_t r;

        if (sent < n) {
            r = write(c, out + sent, n - sent > 65536 ? 65536 : n - sent);
            if (r > 0)
                sent += (size_t)r;
        }
        if (sent == n && half_close && !shut) {
            assert_int_equal(shutdown(c, SHUT_WR), 0);
            shut = true;
        }
        turn(f);
        if (t < stall)
            continue;
        while ((r = read(c, in + got, n + 1 - got)) > 0)
            got += (size_t)r;
        if (r == 0 || errno != EAGAIN) /* r <= 0 here */
            *eof = true;
    }
    assert_true(got <= n);
    assert_memory_equal(in, out, got);
    free(out);
    free(in);
    return got;
}

static size_t exchange(struct fx *f, int c, size_t n, bool half_close, bool *eof)
{
    return exchange_stalled(f, c, n, half_close, 0, eof);
}

static void wait_idle(struct fx *f)
{
    for (int t = 0; t < MAX_TURNS && sl_tcp_active(f->w) > 0; t++)
        turn(f);
    assert_int_equal(sl_tcp_active(f->w), 0);
}

static bool wait_closed(struct fx *f, int c)
{
    char b[256];

    for (int t = 0; t < MAX_TURNS; t++) {
        ssize_t r = read(c, b, sizeof(b));

        if (r == 0 || (r < 0 && errno != EAGAIN))
            return true;
        turn(f);
    }
    return false;
}

static void a_mebibyte_round_trips_byte_exact(void **state)
{
    const uint16_t ports[] = {0};
    struct fx *f = fx_new(false);
    struct sl_tcp_stats st;
    bool eof;
    int c;
    (void)state;

    fx_targets(f, ports, 1, 2);
    c = fx_connect(f);
    assert_int_equal(exchange(f, c, 1 << 20, false, &eof), 1 << 20);
    assert_false(eof);
    assert_int_equal(sl_tcp_active(f->w), 1);
    close(c);
    wait_idle(f);
    sl_tcp_stats(f->w, &st);
    assert_int_equal(st.sessions, 1);
    assert_int_equal(st.connected, 1);
    assert_int_equal(st.bytes_up, 1 << 20);
    assert_int_equal(st.bytes_down, 1 << 20);
    /* Bulk both ways: both directions left buffer mode for splice. */
    assert_int_equal(st.splice_dirs, 2);
    assert_int_equal(st.pipe_failures, 0);
    assert_int_equal(st.buffer_sessions, 0);
    fx_free(f);
}

static void a_stalled_reader_gets_every_byte_in_order(void **state)
{
    const uint16_t ports[] = {0};
    struct fx *f = fx_new(false);
    struct sl_tcp_stats st;
    bool eof;
    int c;
    (void)state;

    fx_targets(f, ports, 1, 2);
    c = fx_connect(f);
    /* The client reads nothing for a while: once the kernel's buffers
     * are full the proxy's send to it blocks (and the echo's to the
     * proxy, ...); all of it drains afterwards. (A small SO_RCVBUF would
     * block sooner, but then the kernel reopens the window by persist
     * probes only, which takes seconds.) */
    assert_int_equal(exchange_stalled(f, c, 8 << 20, true, 200, &eof), 8 << 20);
    assert_true(eof);
    close(c);
    wait_idle(f);
    sl_tcp_stats(f->w, &st);
    assert_int_equal(st.bytes_up, 8 << 20);
    assert_int_equal(st.bytes_down, 8 << 20);
    assert_int_equal(f->w->bufs.out, 0);
    fx_free(f);
}

static void small_exchanges_stay_in_buffer_mode_and_hold_nothing_idle(void **state)
{
    const uint16_t ports[] = {0};
    struct fx *f = fx_new(false);
    struct sl_tcp_stats st;
    bool eof;
    int c;
    (void)state;

    fx_targets(f, ports, 1, 2);
    c = fx_connect(f);
    /* Request/response sized messages, one at a time. */
    for (int i = 0; i < 50; i++) {
        assert_int_equal(exchange(f, c, 200, false, &eof), 200);
        assert_false(eof);
        /* Between messages the session holds no buffer and no pipe. */
        assert_int_equal(f->w->bufs.out, 0);
    }
    assert_int_equal(sl_tcp_active(f->w), 1);
    close(c);
    wait_idle(f);
    sl_tcp_stats(f->w, &st);
    assert_int_equal(st.bytes_up, 50 * 200);
    assert_int_equal(st.bytes_down, 50 * 200);
    assert_int_equal(st.splice_dirs, 0);
    assert_int_equal(st.pipe_failures, 0);
    assert_int_equal(st.buffer_sessions, 1);
    /* Nothing was ever spliced, so no pipe was made either. */
    assert_int_equal(f->w->npipes, 0);
    fx_free(f);
}

static void a_half_close_still_gets_the_whole_echo_then_eof(void **state)
{
    const uint16_t ports[] = {0};
    struct fx *f = fx_new(false);
    bool eof;
    (void)state;

    fx_targets(f, ports, 1, 2);
    /* Twice, so the second session runs on recycled structs and pipes. */
    for (int i = 0; i < 2; i++) {
        int c = fx_connect(f);

        assert_int_equal(exchange(f, c, 300000, true, &eof), 300000);
        assert_true(eof);
        close(c);
        wait_idle(f);
    }
    fx_free(f);
}

static void a_dead_backend_is_skipped_by_a_retry(void **state)
{
    uint16_t ports[] = {0, 0};
    struct fx *f = fx_new(false);
    struct sl_tcp_stats st;
    bool eof;
    (void)state;

    ports[0] = dead_port();
    fx_targets(f, ports, 2, 1);
    /* Round robin alternates, so some of these meet the dead one first. */
    for (int i = 0; i < 4; i++) {
        int c = fx_connect(f);

        assert_int_equal(exchange(f, c, 1000, true, &eof), 1000);
        assert_true(eof);
        close(c);
        wait_idle(f);
    }
    sl_tcp_stats(f->w, &st);
    assert_int_equal(st.connected, 4);
    assert_true(st.connect_failures >= 1);
    assert_int_equal(st.no_backend, 0);
    fx_free(f);
}

static void the_client_is_closed_when_every_backend_is_dead(void **state)
{
    uint16_t ports[] = {0, 0};
    struct fx *f = fx_new(false);
    struct sl_tcp_stats st;
    int c;
    (void)state;

    ports[0] = dead_port();
    ports[1] = dead_port();
    fx_targets(f, ports, 2, 5);
    c = fx_connect(f);
    assert_true(wait_closed(f, c));
    close(c);
    wait_idle(f);
    sl_tcp_stats(f->w, &st);
    assert_int_equal(st.no_backend, 1);
    assert_int_equal(st.connected, 0);
    /* Each backend once: the skip list keeps a retry off a failed one. */
    assert_int_equal(st.connect_failures, 2);
    fx_free(f);
}

static void an_empty_group_closes_the_client(void **state)
{
    struct fx *f = fx_new(false);
    struct sl_tcp_stats st;
    int c;
    (void)state;

    fx_targets(f, NULL, 0, 2);
    c = fx_connect(f);
    assert_true(wait_closed(f, c));
    close(c);
    assert_int_equal(sl_tcp_active(f->w), 0);
    sl_tcp_stats(f->w, &st);
    assert_int_equal(st.no_backend, 1);
    assert_int_equal(st.connect_failures, 0);
    fx_free(f);
}

static void an_idle_session_times_out(void **state)
{
    const uint16_t ports[] = {0};
    struct fx *f = fx_new(false);
    int c;
    (void)state;

    fx_targets(f, ports, 1, 2);
    f->route.idle_timeout_ms = 50;
    c = fx_connect(f);
    assert_true(wait_closed(f, c));
    close(c);
    wait_idle(f);
    fx_free(f);
}

static void freeing_the_worker_closes_live_sessions(void **state)
{
    const uint16_t ports[] = {0};
    struct fx *f = fx_new(false);
    bool eof;
    int c;
    (void)state;

    fx_targets(f, ports, 1, 2);
    c = fx_connect(f);
    assert_int_equal(exchange(f, c, 10, false, &eof), 10);
    assert_int_equal(sl_tcp_active(f->w), 1);
    sl_tcp_shutdown(f->w);
    assert_int_equal(f->held, 1);
    sl_tcp_worker_free(f->w);
    f->w = NULL;
    assert_int_equal(f->held, 0);
    assert_int_equal(read(c, (char[4]){0}, 4), 0);
    close(c);
    fx_free(f);
}

static void a_drain_closes_idle_sessions(void **state)
{
    const uint16_t ports[] = {0};
    struct fx *f = fx_new(false);
    bool eof;
    int c;
    (void)state;

    fx_targets(f, ports, 1, 2);
    c = fx_connect(f);
    assert_int_equal(exchange(f, c, 10, false, &eof), 10);
    sl_tcp_shutdown(f->w);
    assert_true(wait_closed(f, c));
    close(c);
    wait_idle(f);
    fx_free(f);
}

static void without_pipes_bulk_stays_in_buffer_mode(void **state)
{
    const uint16_t ports[] = {0};
    struct fx *f = fx_new(true); /* the echo lives outside our fd limit */
    struct sl_tcp_stats st;
    bool eof;
    int c;
    (void)state;

    fx_targets(f, ports, 1, 2);
    f->limit_fds = true;
    c = fx_connect(f);
    /* Bulk asks for a pipe, none can be made: buffer mode goes on, with
     * backpressure (a stalled reader) and the half-close. */
    assert_int_equal(exchange_stalled(f, c, 8 << 20, true, 200, &eof), 8 << 20);
    assert_true(eof);
    assert_int_equal(setrlimit(RLIMIT_NOFILE, &f->old_limit), 0);
    close(c);
    wait_idle(f);
    sl_tcp_stats(f->w, &st);
    assert_int_equal(st.connected, 1);
    assert_int_equal(st.splice_dirs, 0);
    assert_true(st.pipe_failures >= 1);
    assert_int_equal(st.buffer_sessions, 1);
    assert_int_equal(st.bytes_up, 8 << 20);
    assert_int_equal(st.bytes_down, 8 << 20);
    fx_free(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_mebibyte_round_trips_byte_exact),
        cmocka_unit_test(a_half_close_still_gets_the_whole_echo_then_eof),
        cmocka_unit_test(a_dead_backend_is_skipped_by_a_retry),
        cmocka_unit_test(the_client_is_closed_when_every_backend_is_dead),
        cmocka_unit_test(an_empty_group_closes_the_client),
        cmocka_unit_test(an_idle_session_times_out),
        cmocka_unit_test(freeing_the_worker_closes_live_sessions),
        cmocka_unit_test(a_drain_closes_idle_sessions),
        cmocka_unit_test(a_stalled_reader_gets_every_byte_in_order),
        cmocka_unit_test(small_exchanges_stay_in_buffer_mode_and_hold_nothing_idle),
        cmocka_unit_test(without_pipes_bulk_stays_in_buffer_mode),
    };

    /* splice() into a closed socket raises SIGPIPE (sluice serve ignores it too). */
    (void)signal(SIGPIPE, SIG_IGN);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
