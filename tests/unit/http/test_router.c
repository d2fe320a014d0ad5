/* Router: endpoint precedence, host and path rules, route weights and the
 * publication slot, on tables built by hand (no lb needed). */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "http/router.h"

/* Order as control sorts them: exact, wildcard (longer suffix first), any;
 * then longer path first. */
static struct sl_endpoint eps[] = {
    {.pattern = "api.example.com/v1",
     .host_match = SL_HOST_EXACT,
     .host = "api.example.com",
     .host_len = 15,
     .path = "/v1",
     .path_len = 3},
    {.pattern = "api.example.com",
     .host_match = SL_HOST_EXACT,
     .host = "api.example.com",
     .host_len = 15,
     .path = "/",
     .path_len = 1},
    {.pattern = "[::1]",
     .host_match = SL_HOST_EXACT,
     .host = "[::1]",
     .host_len = 5,
     .path = "/",
     .path_len = 1},
    {.pattern = "*.a.example.com",
     .host_match = SL_HOST_WILDCARD,
     .host = ".a.example.com",
     .host_len = 14,
     .path = "/",
     .path_len = 1},
    {.pattern = "*.example.com",
     .host_match = SL_HOST_WILDCARD,
     .host = ".example.com",
     .host_len = 12,
     .path = "/",
     .path_len = 1},
    {.pattern = "/api/deep", .host_match = SL_HOST_ANY, .path = "/api/deep", .path_len = 9},
    {.pattern = "/api", .host_match = SL_HOST_ANY, .path = "/api", .path_len = 4},
    {.pattern = "/", .host_match = SL_HOST_ANY, .path = "/", .path_len = 1},
};

static const struct sl_router table = {
    .endpoints = eps,
    .nendpoints = sizeof(eps) / sizeof(eps[0]),
};

static const char *match(const char *host, const char *path)
{
    const struct sl_endpoint *e =
        sl_router_match(&table, host, host ? strlen(host) : 0, path, strlen(path));

    return e != NULL ? e->pattern : "(none)";
}

static void match_precedence_table(void **state)
{
    static const struct {
        const char *host, *path, *want;
    } cases[] = {
        {"api.example.com", "/v1/users", "api.example.com/v1"},
        {"api.example.com", "/v1", "api.example.com/v1"},
        {"api.example.com", "/v2", "api.example.com"},
        {"API.Example.COM", "/v1", "api.example.com/v1"},      /* case */
        {"api.example.com:8080", "/v1", "api.example.com/v1"}, /* port */
        {"api.example.com.", "/x", "api.example.com"},         /* trailing dot */
        {"api.example.com.:80", "/x", "api.example.com"},
        {"[::1]:8080", "/", "[::1]"}, /* v6 literal with port */
        {"[::1]", "/x", "[::1]"},
        {"b.a.example.com", "/", "*.a.example.com"},  /* longer wildcard first */
        {"www.example.com", "/api", "*.example.com"}, /* wildcard over any */
        {"a.b.example.com", "/", "*.example.com"},    /* several labels */
        {"example.com", "/api", "/api"},              /* wildcard needs a label */
        {".example.com", "/", "/"},
        {"other.org", "/api/deep/x", "/api/deep"},
        {"other.org", "/api/", "/api"},
        {"other.org", "/api?q=1", "/api"},
        {"other.org", "/apix", "/"}, /* segment boundary */
        {"other.org", "/api/deepx", "/api"},
        {NULL, "/api/x", "/api"}, /* no Host */
        {"", "/", "/"},
    };
    (void)state;

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *got = match(cases[i].host, cases[i].path);

        if (strcmp(got, cases[i].want) != 0)
            fail_msg("case %zu: %s %s -> %s, want %s", i, cases[i].host ? cases[i].host : "-",
                     cases[i].path, got, cases[i].want);
    }
}

static void match_none_without_catch_all(void **state)
{
    struct sl_router r = {.endpoints = eps, .nendpoints = 2};
    (void)state;

    assert_null(sl_router_match(&r, "other.org", 9, "/", 1));
    assert_null(sl_router_match(&r, "api.example.comx", 16, "/", 1));
    assert_non_null(sl_router_match(&r, "api.example.com", 15, "/", 1));
}

static void pick_route_exact_proportions(void **state)
{
    struct sl_route routes[] = {
        {.id = "route000", .weight = 90, .cum_weight = 90},
        {.id = "route001", .weight = 0, .cum_weight = 90},
        {.id = "route002", .weight = 10, .cum_weight = 100},
    };
    struct sl_endpoint e = {.routes = routes, .nroutes = 3, .total_weight = 100};
    size_t counts[3] = {0};
    (void)state;

    for (uint64_t rnd = 0; rnd < 1000; rnd++) {
        const struct sl_route *r = sl_router_pick_route(&e, rnd);

        assert_non_null(r);
        counts[r - routes]++;
    }
    assert_int_equal(counts[0], 900);
    assert_int_equal(counts[1], 0);
    assert_int_equal(counts[2], 100);
    /* Large values wrap the same way. */
    assert_ptr_equal(sl_router_pick_route(&e, UINT64_MAX - 15), &routes[0]); /* ... % 100 == 0 */
    e.total_weight = 0;
    assert_null(sl_router_pick_route(&e, 1));
}

static void pick_single_route(void **state)
{
    struct sl_route route = {.id = "route000", .weight = 1, .cum_weight = 1};
    struct sl_endpoint e = {.routes = &route, .nroutes = 1, .total_weight = 1};
    (void)state;

    for (uint64_t rnd = 0; rnd < 10; rnd++)
        assert_ptr_equal(sl_router_pick_route(&e, rnd), &route);
}

static int destroyed;

static void count_destroy(struct sl_router *r)
{
    (void)r;
    destroyed++;
}

static void slot_publish_sync_quiesce(void **state)
{
    static struct sl_router_slot slot;
    struct sl_router a = {.refs = 1, .destroy = count_destroy};
    struct sl_router b = {.refs = 1, .destroy = count_destroy};
    struct sl_router *w0 = NULL, *w1 = NULL;
    uint64_t g0 = 0, g1 = 0;
    (void)state;

    destroyed = 0;
    sl_router_slot_init(&slot, 2);
    assert_null(sl_router_slot_publish(&slot, &a));
    assert_int_equal(a.generation, 1);
    assert_false(sl_router_slot_quiesce(&slot, 1, 0));
    sl_router_sync(&slot, 0, &w0, &g0);
    assert_false(sl_router_slot_quiesce(&slot, 1, 2));
    sl_router_sync(&slot, 1, &w1, &g1);
    assert_true(sl_router_slot_quiesce(&slot, 1, 0));
    assert_ptr_equal(w0, &a);
    assert_int_equal(atomic_load(&a.refs), 3);

    /* A request on worker 0 keeps a alive past the swap. */
    sl_router_acquire(w0);
    struct sl_router *old = sl_router_slot_publish(&slot, &b);

    assert_ptr_equal(old, &a);
    sl_router_sync(&slot, 0, &w0, &g0);
    sl_router_sync(&slot, 0, &w0, &g0); /* no change: no churn */
    assert_int_equal(atomic_load(&b.refs), 2);
    assert_false(sl_router_slot_quiesce(&slot, 2, 1));
    sl_router_sync(&slot, 1, &w1, &g1);
    assert_true(sl_router_slot_quiesce(&slot, 2, 0));
    sl_router_release(old); /* control's (the slot's) reference */
    assert_int_equal(destroyed, 0);
    sl_router_release(&a); /* the request ends */
    assert_int_equal(destroyed, 1);

    sl_router_release(w0);
    sl_router_release(w1);
    assert_int_equal(destroyed, 1);
    sl_router_release(sl_router_slot_publish(&slot, NULL));
    assert_int_equal(destroyed, 2);
}

/* Real threads: two workers sync and run "requests" on their table while
 * control publishes 200 tables, each released after quiesce. Every table
 * is destroyed exactly once and none while in use (ASan/TSan watch). */
struct race {
    struct sl_router_slot *slot;
    size_t idx;
    _Atomic bool *stop;
};

static _Atomic int race_destroyed, race_bad;

static void race_destroy(struct sl_router *r)
{
    atomic_fetch_add(&race_destroyed, 1);
    free(r);
}

static void *race_worker(void *arg)
{
    struct race *w = arg;
    struct sl_router *mine = NULL;
    uint64_t gen = 0;

    /* Until told to stop, not for a number of turns: a worker that quit
     * early (the main thread slowed by a loaded machine) would never sync
     * again, and the main thread's quiesce would wait out its timeout. */
    for (;;) {
        sl_router_sync(w->slot, w->idx, &mine, &gen);
        if (mine != NULL) {
            sl_router_acquire(mine);   /* a request */
            if (mine->nendpoints != 7) /* no cmocka asserts off the main thread */
                atomic_fetch_add(&race_bad, 1);
            sl_router_release(mine);
        }
        if (atomic_load(w->stop))
            break;
    }
    sl_router_release(mine);
    return NULL;
}

static void slot_concurrent_publish(void **state)
{
    static struct sl_router_slot slot;
    _Atomic bool stop = false;
    struct race ws[2] = {{&slot, 0, &stop}, {&slot, 1, &stop}};
    pthread_t th[2];
    (void)state;

    atomic_store(&race_destroyed, 0);
    sl_router_slot_init(&slot, 2);
    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_create(&th[i], NULL, race_worker, &ws[i]), 0);
    for (int i = 0; i < 200; i++) {
        struct sl_router *r = calloc(1, sizeof(*r));

        assert_non_null(r);
        atomic_init(&r->refs, 1);
        r->nendpoints = 7;
        r->destroy = race_destroy;
        struct sl_router *old = sl_router_slot_publish(&slot, r);

        if (old != NULL) {
            /* Generous: the workers spin, so this returns at once. */
            assert_true(sl_router_slot_quiesce(&slot, r->generation, 60000));
            sl_router_release(old);
        }
    }
    atomic_store(&stop, true);
    for (int i = 0; i < 2; i++)
        pthread_join(th[i], NULL);
    sl_router_release(sl_router_slot_publish(&slot, NULL));
    assert_int_equal(atomic_load(&race_destroyed), 200);
    assert_int_equal(atomic_load(&race_bad), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(match_precedence_table),
        cmocka_unit_test(match_none_without_catch_all),
        cmocka_unit_test(pick_route_exact_proportions),
        cmocka_unit_test(pick_single_route),
        cmocka_unit_test(slot_publish_sync_quiesce),
        cmocka_unit_test(slot_concurrent_publish),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
