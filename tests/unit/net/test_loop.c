#include <netinet/in.h>
#include <sys/socket.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "net/listener.h"
#include "net/loop.h"
#include "net/sock.h"
#include "net/upstream.h"

struct echo {
    struct sl_watcher w;
    char got[64];
    size_t len;
    int events;
};

static void on_read(struct sl_loop *l, struct sl_watcher *w, uint32_t events)
{
    struct echo *e = w->data;
    ssize_t n;

    (void)l;
    e->events++;
    if (!(events & SL_EV_READ))
        return;
    n = read(w->fd, e->got + e->len, sizeof(e->got) - e->len);
    if (n > 0)
        e->len += (size_t)n;
}

static void the_loop_delivers_readable_sockets(void **state)
{
    struct sl_loop l;
    struct echo e = {.len = 0, .events = 0};
    int sv[2];
    (void)state;

    assert_int_equal(sl_loop_init(&l), 0);
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
    e.w.cb = on_read;
    e.w.data = &e;
    assert_int_equal(sl_loop_add(&l, &e.w, sv[0], SL_EV_READ), 0);
    sl_loop_run_once(&l, 0);
    assert_int_equal(e.events, 0);
    assert_int_equal(write(sv[1], "ping", 4), 4);
    for (int i = 0; i < 100 && e.len < 4; i++)
        sl_loop_run_once(&l, 100);
    assert_int_equal(e.len, 4);
    assert_memory_equal(e.got, "ping", 4);
    /* Same events: no syscall, still fine. */
    assert_int_equal(sl_loop_mod(&l, &e.w, SL_EV_READ), 0);
    sl_loop_del(&l, &e.w);
    assert_int_equal(write(sv[1], "more", 4), 4);
    sl_loop_run_once(&l, 0);
    assert_int_equal(e.len, 4);
    close(sv[0]);
    close(sv[1]);
    sl_loop_fini(&l);
}

static int timer_hits;

static void on_timer(struct sl_timer *t, void *arg)
{
    (void)t;
    timer_hits++;
    sl_loop_stop(arg);
}

static void timers_end_a_loop_wait(void **state)
{
    struct sl_loop l;
    struct sl_timer t;
    (void)state;

    assert_int_equal(sl_loop_init(&l), 0);
    timer_hits = 0;
    sl_timer_init(&t, on_timer, &l);
    sl_loop_timer_after(&l, &t, 5);
    sl_loop_run(&l);
    assert_int_equal(timer_hits, 1);
    sl_loop_fini(&l);
}

static int wakes;

static void on_wake(struct sl_loop *l, void *arg)
{
    (void)arg;
    wakes++;
    sl_loop_stop(l);
}

static void wake_runs_the_wake_hook(void **state)
{
    struct sl_loop l;
    (void)state;

    assert_int_equal(sl_loop_init(&l), 0);
    wakes = 0;
    l.on_wake = on_wake;
    sl_loop_wake(&l);
    sl_loop_wake(&l);
    sl_loop_run(&l);
    assert_int_equal(wakes, 1);
    sl_loop_fini(&l);
}

static int accepted = -1;

static void on_accept(struct sl_listener *ln, int fd, const struct sockaddr *peer, socklen_t len)
{
    (void)ln;
    (void)peer;
    (void)len;
    accepted = fd;
}

static int refs;

static void key_ref(void *key)
{
    (void)key;
    refs++;
}

static void key_unref(void *key)
{
    (void)key;
    refs--;
}

static void idle_connections_are_pooled_and_dropped_on_close(void **state)
{
    static const struct sl_upstream_ops ops = {key_ref, key_unref, NULL};
    struct sl_loop l;
    struct sl_listener ln;
    struct sl_upstream u;
    struct sockaddr_in sa;
    socklen_t salen = sizeof(sa);
    struct echo e = {.len = 0};
    struct sl_upconn *c, *c2;
    bool inprog;
    int key = 0;
    (void)state;

    assert_int_equal(sl_loop_init(&l), 0);
    assert_int_equal(sl_listener_open(&ln, &l, "t", "127.0.0.1:0", 16, on_accept, NULL), 0);
    assert_int_equal(getsockname(ln.w.fd, (struct sockaddr *)&sa, &salen), 0);
    sl_upstream_init(&u, &l, &ops);
    u.check_after_ms = 0;
    c = sl_upstream_connect(&u, &key, (struct sockaddr *)&sa, salen, on_read, &e, &inprog);
    assert_non_null(c);
    assert_int_equal(refs, 1);
    for (int i = 0; i < 100 && accepted < 0; i++)
        sl_loop_run_once(&l, 100);
    assert_true(accepted >= 0);
    sl_upstream_put(&u, c);
    assert_int_equal(u.nidle, 1);
    assert_null(sl_upstream_take(&u, &u, on_read, &e)); /* another key */
    c2 = sl_upstream_take(&u, &key, on_read, &e);
    assert_ptr_equal(c, c2);
    assert_int_equal(u.nidle, 0);
    sl_upstream_put(&u, c2);
    /* The backend closes: the idle connection goes away by itself. */
    close(accepted);
    for (int i = 0; i < 100 && u.nidle > 0; i++)
        sl_loop_run_once(&l, 100);
    assert_int_equal(u.nidle, 0);
    assert_int_equal(u.nopen, 0);
    assert_int_equal(refs, 0);
    sl_upstream_fini(&u);
    sl_listener_close(&ln);
    sl_loop_fini(&l);
}

static void bind_addresses_parse(void **state)
{
    static const char *const good[] = {"127.0.0.1:80", "[::1]:8080", "*:1", ":0", "0.0.0.0:65535"};
    static const char *const bad[] = {"",    "127.0.0.1",     "1.2.3.4:", "[::1]80",
                                      "h:1", "1.2.3.4:70000", "[::1:80"};
    struct sockaddr_storage ss;
    socklen_t len;
    (void)state;

    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
        assert_int_equal(sl_sock_parse_bind(good[i], &ss, &len), 0);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(sl_sock_parse_bind(bad[i], &ss, &len), -1);
}

/* The form control compares and prints (two spellings, one listener). */
static void bind_addresses_normalize(void **state)
{
    static const struct {
        const char *in, *out;
    } cases[] = {{":80", "0.0.0.0:80"},
                 {"*:81", "0.0.0.0:81"},
                 {"[::]:82", "[::]:82"},
                 {"10.0.0.1:0", "10.0.0.1:0"},
                 {"10.0.0.1:0080", "10.0.0.1:80"},
                 {"[::1]:443", "[::1]:443"},
                 {"10.0.0.1", NULL},
                 {"[::1]", NULL},
                 {"10.0.0.1:70000", NULL},
                 {"h:80", NULL}};
    char out[SL_ADDR_STRLEN];
    (void)state;

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int rc = sl_sock_normalize_bind(cases[i].in, out, sizeof(out));

        if (cases[i].out == NULL && rc != -1)
            fail_msg("'%s' accepted as '%s'", cases[i].in, out);
        if (cases[i].out != NULL && (rc != 0 || strcmp(out, cases[i].out) != 0))
            fail_msg("'%s': rc %d, '%s'", cases[i].in, rc, rc == 0 ? out : "");
    }
    assert_int_equal(sl_sock_normalize_bind("10.0.0.1:80", out, 11), -1);
    assert_int_equal(sl_sock_normalize_bind("10.0.0.1:80", out, 12), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(the_loop_delivers_readable_sockets),
        cmocka_unit_test(timers_end_a_loop_wait),
        cmocka_unit_test(wake_runs_the_wake_hook),
        cmocka_unit_test(idle_connections_are_pooled_and_dropped_on_close),
        cmocka_unit_test(bind_addresses_parse),
        cmocka_unit_test(bind_addresses_normalize),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
