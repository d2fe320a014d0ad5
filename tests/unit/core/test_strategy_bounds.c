/* Bounded picks and fair fallbacks: a pick over a group where most or all
 * backends are down looks at O(n) entries at most (counted through
 * sl_walk_visits, never timed), and a down backend's share spreads over
 * the others instead of going to its successor. Groups are built by hand. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "backend_types.h"
#include "group.h"
#include "strategy_util.h"

struct fixture {
    struct sl_group *g;
    struct sluice_backend **b;
    size_t n;
};

/* n backends, weight w[i] (NULL: 1 + i % 7), built for strategy s. */
static void fx_init(struct fixture *fx, sluice_strategy_t s, size_t n, const uint32_t *w)
{
    struct sl_group *g = aligned_alloc(64, sizeof(*g));
    char buf[64];

    assert_non_null(g);
    fx->n = n;
    fx->b = calloc(n, sizeof(*fx->b));
    assert_non_null(fx->b);
    for (size_t i = 0; i < n; i++) {
        struct sluice_backend *b = aligned_alloc(64, sizeof(*b));

        assert_non_null(b);
        memset(b, 0, sizeof(*b));
        snprintf(buf, sizeof(buf), "10.%zu.%zu.%zu:80", (i >> 16) & 255, (i >> 8) & 255, i & 255);
        b->target = strdup(buf);
        b->name = b->target;
        atomic_store(&b->weight, w != NULL ? w[i] : (uint32_t)(1 + i % 7));
        atomic_store(&b->score, 1);
        fx->b[i] = b;
    }
    memset(g, 0, sizeof(*g));
    g->strategy = s;
    g->ops = sl_strategy_ops(s);
    g->backends = fx->b;
    g->n = n;
    g->seed = 42 + (uint64_t)s;
    assert_int_equal(g->ops->build(g), 0);
    fx->g = g;
}

static void fx_fini(struct fixture *fx)
{
    fx->g->ops->destroy(fx->g);
    free(fx->g);
    for (size_t i = 0; i < fx->n; i++) {
        free(fx->b[i]->target);
        free(fx->b[i]);
    }
    free(fx->b);
}

static size_t index_of(const struct fixture *fx, const struct sluice_backend *b)
{
    for (size_t i = 0; i < fx->n; i++)
        if (fx->b[i] == b)
            return i;
    fail_msg("picked a backend outside the group");
    return 0;
}

/* Picks with key <key>; *visits gets what the slow paths looked at. */
static struct sluice_backend *pick_counted(struct sl_group *g, const char *key, uint64_t *visits)
{
    struct sl_pick p = {.key = key, .keylen = key != NULL ? strlen(key) : 0};
    struct sluice_backend *b;

    sl_walk_visits = 0;
    b = g->ops->pick(g, &p);
    *visits = sl_walk_visits;
    return b;
}

/* Every strategy, 5000 backends with weights 1..7, all down: NULL, and
 * the pick looked at no more than a couple of passes over the backends
 * (the ring alone has about 500,000 points, the WRR schedule 20,000). */
static void all_down_is_null_and_bounded(void **state)
{
    enum { N = 5000 };

    (void)state;
    for (int s = 0; s < SLUICE_STRATEGY_COUNT; s++) {
        struct fixture fx;
        char key[16];
        uint64_t v;

        fx_init(&fx, (sluice_strategy_t)s, N, NULL);
        for (size_t i = 0; i < N; i++)
            atomic_store(&fx.b[i]->score, -1);
        for (int k = 0; k < 20; k++) {
            snprintf(key, sizeof(key), "k%d", k);
            assert_null(pick_counted(fx.g, key, &v));
            if (v > 2 * N + 100)
                fail_msg("%s: %llu entries visited", fx.g->ops->name, (unsigned long long)v);
        }
        fx_fini(&fx);
    }
}

/* One backend of 5000 left: every strategy finds it, within the bound. */
static void one_left_is_found_and_bounded(void **state)
{
    enum { N = 5000, LEFT = 3777 };

    (void)state;
    for (int s = 0; s < SLUICE_STRATEGY_COUNT; s++) {
        struct fixture fx;
        char key[16];
        uint64_t v;

        fx_init(&fx, (sluice_strategy_t)s, N, NULL);
        for (size_t i = 0; i < N; i++)
            atomic_store(&fx.b[i]->score, i == LEFT ? 1 : -1);
        for (int k = 0; k < 20; k++) {
            snprintf(key, sizeof(key), "k%d", k);
            assert_int_equal(index_of(&fx, pick_counted(fx.g, key, &v)), LEFT);
            if (v > 2 * N + 100)
                fail_msg("%s: %llu entries visited", fx.g->ops->name, (unsigned long long)v);
        }
        fx_fini(&fx);
    }
}

/* A ring pick that falls back to the scan still maps a key to one
 * backend, and the walk stops after a bounded number of points. */
static void ring_hash_fallback_is_consistent(void **state)
{
    enum { N = 2000 };
    struct fixture fx;
    char key[16];
    uint64_t v;

    (void)state;
    fx_init(&fx, SLUICE_RING_HASH, N, NULL);
    for (size_t i = 0; i < N; i++)
        atomic_store(&fx.b[i]->score, i % 100 == 0 ? 1 : -1); /* 99% down */
    for (int k = 0; k < 200; k++) {
        struct sluice_backend *a, *b;

        snprintf(key, sizeof(key), "k%d", k);
        a = pick_counted(fx.g, key, &v);
        assert_true(v <= 64 + N);
        b = pick_counted(fx.g, key, &v);
        assert_ptr_equal(a, b);
        assert_int_equal(index_of(&fx, a) % 100, 0);
    }
    fx_fini(&fx);
}

/* Weights 5,1,1 with a down: b and c each get about half, not 5/7 and
 * 2/7 as when the next slot inherited a's turns. */
static void wrr_down_share_spreads(void **state)
{
    static const uint32_t w[3] = {5, 1, 1};
    struct fixture fx;
    size_t count[3] = {0};

    (void)state;
    fx_init(&fx, SLUICE_WEIGHTED_ROUND_ROBIN, 3, w);
    atomic_store(&fx.b[0]->score, -1);
    for (int i = 0; i < 10000; i++)
        count[index_of(&fx, fx.g->ops->pick(fx.g, &(struct sl_pick){0}))]++;
    print_message("wrr 5,1,1 a down: b %zu c %zu\n", count[1], count[2]);
    assert_int_equal(count[0], 0);
    assert_in_range(count[1], 4500, 5500);
    assert_in_range(count[2], 4500, 5500);
    fx_fini(&fx);
}

/* Weights 4,2,1,1 with the 2 down: the others keep 4:1:1. */
static void wrr_down_share_follows_weights(void **state)
{
    static const uint32_t w[4] = {4, 2, 1, 1};
    struct fixture fx;
    size_t count[4] = {0};

    (void)state;
    fx_init(&fx, SLUICE_WEIGHTED_ROUND_ROBIN, 4, w);
    atomic_store(&fx.b[1]->score, -1);
    for (int i = 0; i < 12000; i++)
        count[index_of(&fx, fx.g->ops->pick(fx.g, &(struct sl_pick){0}))]++;
    assert_int_equal(count[1], 0);
    assert_in_range(count[0], 7400, 8600);
    assert_in_range(count[2], 1600, 2400);
    assert_in_range(count[3], 1600, 2400);
    fx_fini(&fx);
}

/* Round robin over 4 with one down: the other three get 1/3 each (the
 * successor got 1/2 when it inherited the down one's turn). */
static void rr_down_share_spreads(void **state)
{
    static const uint32_t w[4] = {1, 1, 1, 1};

    (void)state;
    for (size_t down = 0; down < 4; down++) {
        struct fixture fx;
        size_t count[4] = {0};

        fx_init(&fx, SLUICE_ROUND_ROBIN, 4, w);
        atomic_store(&fx.b[down]->score, -1);
        for (int i = 0; i < 12000; i++)
            count[index_of(&fx, fx.g->ops->pick(fx.g, &(struct sl_pick){0}))]++;
        for (size_t i = 0; i < 4; i++) {
            if (i == down)
                assert_int_equal(count[i], 0);
            else
                assert_in_range(count[i], 3600, 4400);
        }
        fx_fini(&fx);
    }
}

/* Most down: the random draws miss, the fair scan decides, and shares
 * stay even. */
static void fair_scan_is_even(void **state)
{
    enum { N = 64 };
    uint32_t w[N];
    struct fixture fx;
    size_t count[N] = {0};

    (void)state;
    for (size_t i = 0; i < N; i++)
        w[i] = 1;
    fx_init(&fx, SLUICE_ROUND_ROBIN, N, w);
    for (size_t i = 0; i < N; i++)
        atomic_store(&fx.b[i]->score, i == 10 || i == 11 ? 1 : -1);
    for (int i = 0; i < 10000; i++)
        count[index_of(&fx, fx.g->ops->pick(fx.g, &(struct sl_pick){0}))]++;
    assert_in_range(count[10], 4500, 5500);
    assert_in_range(count[11], 4500, 5500);
    fx_fini(&fx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(all_down_is_null_and_bounded),
        cmocka_unit_test(one_left_is_found_and_bounded),
        cmocka_unit_test(ring_hash_fallback_is_consistent),
        cmocka_unit_test(wrr_down_share_spreads),
        cmocka_unit_test(wrr_down_share_follows_weights),
        cmocka_unit_test(rr_down_share_spreads),
        cmocka_unit_test(fair_scan_is_even),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
