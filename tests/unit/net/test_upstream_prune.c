/* Pools follow the table: a key that died (ops.key_live false) keeps no
 * connection in the pool. Its idle ones go at the next prune, with its
 * entry; a busy one is closed when put back, not parked. Live keys and
 * empty entries are left alone. */
#include <netinet/in.h>
#include <sys/socket.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "net/loop.h"
#include "net/upstream.h"

/* A key: its liveness and the references the pool holds on it. */
struct key {
    bool live;
    int refs;
    int asked; /* key_live calls */
};

static void key_ref(void *key)
{
    ((struct key *)key)->refs++;
}

static void key_unref(void *key)
{
    ((struct key *)key)->refs--;
}

static bool key_live(const void *key)
{
    struct key *k = (struct key *)key;

    k->asked++;
    return k->live;
}

static const struct sl_upstream_ops OPS = {key_ref, key_unref, key_live};

static void on_io(struct sl_loop *l, struct sl_watcher *w, uint32_t events)
{
    (void)l;
    (void)w;
    (void)events;
}

struct fixture {
    struct sl_loop loop;
    struct sl_upstream u;
    int lfd;
    struct sockaddr_in sa;
};

static int setup(void **state)
{
    static struct fixture f;
    socklen_t len = sizeof(f.sa);

    memset(&f, 0, sizeof(f));
    if (sl_loop_init(&f.loop) != 0)
        return -1;
    /* Connections complete in the backlog: nobody needs to accept them. */
    f.lfd = socket(AF_INET, SOCK_STREAM, 0);
    f.sa.sin_family = AF_INET;
    f.sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (f.lfd < 0 || bind(f.lfd, (struct sockaddr *)&f.sa, sizeof(f.sa)) != 0 ||
        listen(f.lfd, 64) != 0 || getsockname(f.lfd, (struct sockaddr *)&f.sa, &len) != 0)
        return -1;
    sl_upstream_init(&f.u, &f.loop, &OPS);
    *state = &f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;

    sl_upstream_fini(&f->u);
    close(f->lfd);
    sl_loop_fini(&f->loop);
    return 0;
}

static struct sl_upconn *connect_to(struct fixture *f, struct key *k)
{
    bool inprog;
    struct sl_upconn *c = sl_upstream_connect(&f->u, k, (struct sockaddr *)&f->sa, sizeof(f->sa),
                                              on_io, NULL, &inprog);

    assert_non_null(c);
    return c;
}

/* No key entry left (struct sl_upkey is the pool's own: only the buckets
 * show). */
static bool no_key_entries(const struct sl_upstream *u)
{
    for (size_t b = 0; b < SL_UPSTREAM_BUCKETS; b++)
        if (u->buckets[b] != NULL)
            return false;
    return true;
}

static void prune_closes_idle_connections_of_dead_keys(void **state)
{
    struct fixture *f = *state;
    struct key old = {.live = true}, cur = {.live = true};
    struct sl_upconn *c[3];

    c[0] = connect_to(f, &old);
    c[1] = connect_to(f, &old);
    c[2] = connect_to(f, &cur);
    for (int i = 0; i < 3; i++)
        sl_upstream_put(&f->u, c[i]);
    assert_int_equal(f->u.nidle, 3);

    sl_upstream_prune(&f->u); /* nothing died: nothing changes */
    assert_int_equal(f->u.nidle, 3);

    old.live = false; /* a reload replaced <old> */
    sl_upstream_prune(&f->u);
    assert_int_equal(f->u.nidle, 1);
    assert_int_equal(f->u.nopen, 1);
    assert_int_equal(old.refs, 0);
    assert_int_equal(cur.refs, 1);
    assert_null(sl_upstream_take(&f->u, &old, on_io, NULL));
    assert_ptr_equal(sl_upstream_take(&f->u, &cur, on_io, NULL), c[2]);
    sl_upstream_close(&f->u, c[2]);
    assert_int_equal(cur.refs, 0);
}

static void put_closes_a_busy_connection_whose_key_died(void **state)
{
    struct fixture *f = *state;
    struct key old = {.live = true};
    struct sl_upconn *c = connect_to(f, &old);

    old.live = false; /* replaced while the exchange ran */
    sl_upstream_put(&f->u, c);
    assert_int_equal(f->u.nidle, 0);
    assert_int_equal(f->u.nopen, 0);
    assert_int_equal(old.refs, 0);
    assert_true(no_key_entries(&f->u));
}

static void empty_entries_are_not_asked(void **state)
{
    struct fixture *f = *state;
    struct key k = {.live = true};
    struct sl_upconn *c = connect_to(f, &k);

    sl_upstream_put(&f->u, c);
    assert_ptr_equal(sl_upstream_take(&f->u, &k, on_io, NULL), c);
    sl_upstream_close(&f->u, c);
    /* The entry is empty and holds no reference: its key may be freed
     * memory by now, so prune must not call key_live on it. */
    k.asked = 0;
    sl_upstream_prune(&f->u);
    assert_int_equal(k.asked, 0);
}

static void the_idle_cap_holds_across_many_dead_keys(void **state)
{
    struct fixture *f = *state;
    struct key keys[50];

    f->u.max_idle_per_key = 2;
    for (int i = 0; i < 50; i++) {
        struct sl_upconn *c[3];

        keys[i] = (struct key){.live = true};
        for (int j = 0; j < 3; j++)
            c[j] = connect_to(f, &keys[i]);
        for (int j = 0; j < 3; j++)
            sl_upstream_put(&f->u, c[j]);
        assert_int_equal(f->u.nidle, 2); /* the cap, per live key */
        keys[i].live = false;            /* the next reload replaces it */
        sl_upstream_prune(&f->u);
        assert_int_equal(f->u.nidle, 0);
        assert_int_equal(keys[i].refs, 0);
    }
    assert_int_equal(f->u.nopen, 0);
    assert_true(no_key_entries(&f->u));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(prune_closes_idle_connections_of_dead_keys, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(put_closes_a_busy_connection_whose_key_died, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(empty_entries_are_not_asked, setup, teardown),
        cmocka_unit_test_setup_teardown(the_idle_cap_holds_across_many_dead_keys, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
