/* Strategies driven directly: groups are built by hand (no lb), so each
 * test controls scores, weights and active counts exactly. */
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

struct fixture {
    struct sl_group *g;
    struct sluice_backend **b;
    size_t n;
};

static uint64_t next_seed = 1;

static struct sluice_backend *backend_new(size_t i, uint32_t weight)
{
    struct sluice_backend *b = aligned_alloc(64, sizeof(*b));
    char buf[64];

    assert_non_null(b);
    memset(b, 0, sizeof(*b));
    snprintf(buf, sizeof(buf), "10.%zu.%zu.%zu:80", (i >> 16) & 255, (i >> 8) & 255, i & 255);
    b->target = strdup(buf);
    b->name = b->target;
    atomic_store(&b->weight, weight);
    atomic_store(&b->score, 1);
    return b;
}

/* A group over the given backends (borrowed; the fixture owns them). */
static struct sl_group *group_build(sluice_strategy_t s, struct sluice_backend **b, size_t n)
{
    struct sl_group *g = aligned_alloc(64, sizeof(*g));

    assert_non_null(g);
    memset(g, 0, sizeof(*g));
    g->strategy = s;
    g->ops = sl_strategy_ops(s);
    assert_non_null(g->ops);
    g->backends = b;
    g->n = n;
    g->seed = next_seed++;
    assert_int_equal(g->ops->build(g), 0);
    return g;
}

static void group_free(struct sl_group *g)
{
    g->ops->destroy(g);
    free(g);
}

/* n backends with weights w (NULL: all 1). */
static void fx_init(struct fixture *fx, sluice_strategy_t s, size_t n, const uint32_t *w)
{
    fx->n = n;
    fx->b = calloc(n ? n : 1, sizeof(*fx->b));
    assert_non_null(fx->b);
    for (size_t i = 0; i < n; i++)
        fx->b[i] = backend_new(i, w != NULL ? w[i] : 1);
    fx->g = group_build(s, fx->b, n);
}

static void fx_fini(struct fixture *fx)
{
    group_free(fx->g);
    for (size_t i = 0; i < fx->n; i++) {
        free(fx->b[i]->target);
        free(fx->b[i]);
    }
    free(fx->b);
}

/* Rebuild after changing weights by hand (a writer would rebuild too). */
static void fx_rebuild(struct fixture *fx)
{
    sluice_strategy_t s = fx->g->strategy;

    group_free(fx->g);
    fx->g = group_build(s, fx->b, fx->n);
}

static size_t index_of(const struct fixture *fx, const struct sluice_backend *b)
{
    for (size_t i = 0; i < fx->n; i++)
        if (fx->b[i] == b)
            return i;
    fail_msg("picked a backend outside the group");
    return 0;
}

static struct sluice_backend *pick_key(struct sl_group *g, const char *key)
{
    struct sl_pick p = {.key = key, .keylen = key != NULL ? strlen(key) : 0};

    return g->ops->pick(g, &p);
}

static struct sluice_backend *pick(struct sl_group *g)
{
    return pick_key(g, NULL);
}

static void registry_names_every_strategy(void **state)
{
    static const char *const names[SLUICE_STRATEGY_COUNT] = {
        "round_robin",
        "weighted_round_robin",
        "least_connections",
        "least_request",
        "random",
        "maglev",
        "ring_hash",
        "peak_ewma",
        "least_load",
    };

    (void)state;
    for (int s = 0; s < SLUICE_STRATEGY_COUNT; s++) {
        assert_non_null(sl_strategy_ops((sluice_strategy_t)s));
        assert_string_equal(sl_strategy_ops((sluice_strategy_t)s)->name, names[s]);
    }
    assert_null(sl_strategy_ops(SLUICE_STRATEGY_COUNT));
    assert_null(sl_strategy_ops((sluice_strategy_t)-1));
}

static void hash_is_stable_and_seeded(void **state)
{
    (void)state;
    assert_int_equal(sl_hash64("abc", 3, 7) == sl_hash64("abc", 3, 7), 1);
    assert_int_not_equal(sl_hash64("abc", 3, 7) == sl_hash64("abc", 3, 8), 1);
    assert_int_not_equal(sl_hash64("a", 1, 0) == sl_hash64("a\0", 2, 0), 1);
    assert_int_not_equal(sl_hash64(NULL, 0, 0) == sl_hash64("", 1, 0), 1);
    /* Every input bit reaches the output: flip each bit of a 40-byte key. */
    char key[40] = "0123456789012345678901234567890123456789";
    uint64_t h0 = sl_hash64(key, sizeof(key), 1);
    for (size_t bit = 0; bit < sizeof(key) * 8; bit++) {
        key[bit / 8] ^= (char)(1 << (bit % 8));
        assert_int_not_equal(sl_hash64(key, sizeof(key), 1) == h0, 1);
        key[bit / 8] ^= (char)(1 << (bit % 8));
    }
}

static void rr_cycles_all(void **state)
{
    struct fixture fx;
    size_t count[7] = {0};

    (void)state;
    fx_init(&fx, SLUICE_ROUND_ROBIN, 7, NULL);
    for (int i = 0; i < 7 * 40; i++)
        count[index_of(&fx, pick(fx.g))]++;
    for (int i = 0; i < 7; i++)
        assert_int_equal(count[i], 40);
    fx_fini(&fx);
}

static void rr_skips_unusable_and_drained(void **state)
{
    struct fixture fx;
    size_t count[5] = {0};

    (void)state;
    fx_init(&fx, SLUICE_ROUND_ROBIN, 5, NULL);
    atomic_store(&fx.b[1]->score, -1);
    atomic_store(&fx.b[3]->weight, 0);
    for (int i = 0; i < 300; i++)
        count[index_of(&fx, pick(fx.g))]++;
    assert_int_equal(count[1], 0);
    assert_int_equal(count[3], 0);
    assert_true(count[0] > 0 && count[2] > 0 && count[4] > 0);
    fx_fini(&fx);
}

static void wrr_interleaves_5_1_1(void **state)
{
    static const uint32_t w[3] = {5, 1, 1};
    static const size_t want[7] = {0, 0, 1, 0, 2, 0, 0}; /* a a b a c a a */
    struct fixture fx;
    size_t count[3] = {0};

    (void)state;
    fx_init(&fx, SLUICE_WEIGHTED_ROUND_ROBIN, 3, w);
    for (int i = 0; i < 7; i++)
        assert_int_equal(index_of(&fx, pick(fx.g)), want[i]);
    for (int i = 0; i < 700; i++)
        count[index_of(&fx, pick(fx.g))]++;
    assert_int_equal(count[0], 500);
    assert_int_equal(count[1], 100);
    assert_int_equal(count[2], 100);
    fx_fini(&fx);
}

static void wrr_exact_ratios_large_and_gcd(void **state)
{
    enum { N = 5000 };
    uint32_t *w = calloc(N, sizeof(*w));
    size_t *count = calloc(N, sizeof(*count));
    size_t total = 0;
    struct fixture fx;

    (void)state;
    assert_non_null(w);
    assert_non_null(count);
    /* Weights 10, 20, 30 (gcd 10): one cycle is sum / 10 picks and takes
     * the heap path (cycle x n is above the naive budget). */
    for (size_t i = 0; i < N; i++) {
        w[i] = (uint32_t)(10 * (i % 3 + 1));
        total += w[i] / 10;
    }
    fx_init(&fx, SLUICE_WEIGHTED_ROUND_ROBIN, N, w);
    for (size_t i = 0; i < total; i++)
        count[index_of(&fx, pick(fx.g))]++;
    for (size_t i = 0; i < N; i++)
        assert_int_equal(count[i], w[i] / 10);
    fx_fini(&fx);
    free(count);
    free(w);
}

static void wrr_huge_weights_scaled(void **state)
{
    static const uint32_t w[3] = {4000000000u, 1, 0};
    struct fixture fx;
    size_t count[3] = {0};

    (void)state;
    fx_init(&fx, SLUICE_WEIGHTED_ROUND_ROBIN, 3, w);
    for (int i = 0; i < 65537 * 2; i++)
        count[index_of(&fx, pick(fx.g))]++;
    assert_true(count[0] > 65536 * 2 - 10);
    assert_true(count[1] >= 1); /* scaled to at least 1 per cycle */
    assert_int_equal(count[2], 0);
    fx_fini(&fx);
}

static void least_conn_picks_least_active(void **state)
{
    static const uint32_t act[4] = {5, 2, 7, 3};
    struct fixture fx;

    (void)state;
    fx_init(&fx, SLUICE_LEAST_CONNECTIONS, 4, NULL);
    for (int i = 0; i < 4; i++)
        atomic_store(&fx.b[i]->active, act[i]);
    for (int i = 0; i < 20; i++)
        assert_ptr_equal(pick(fx.g), fx.b[1]);
    /* Weight-aware: 7 / 4 beats 2 / 1. */
    atomic_store(&fx.b[2]->weight, 4);
    fx_rebuild(&fx);
    for (int i = 0; i < 20; i++)
        assert_ptr_equal(pick(fx.g), fx.b[2]);
    /* The least loaded one down: the next least. */
    atomic_store(&fx.b[2]->score, -1);
    for (int i = 0; i < 20; i++)
        assert_ptr_equal(pick(fx.g), fx.b[1]);
    fx_fini(&fx);
}

static void least_conn_finds_idle_in_large_group(void **state)
{
    enum { N = 1000 };
    struct fixture fx;
    int found = 0;

    (void)state;
    fx_init(&fx, SLUICE_LEAST_CONNECTIONS, N, NULL);
    for (size_t i = 0; i < N; i++)
        atomic_store(&fx.b[i]->active, i == 500 ? 0 : 10);
    /* The window slides with the cursor, so within n picks it reaches the
     * idle backend; every pick is at most as loaded as the others. */
    for (int i = 0; i < N; i++) {
        struct sluice_backend *b = pick(fx.g);
        found |= b == fx.b[500];
    }
    assert_true(found);
    fx_fini(&fx);
}

/* Max active seen while WINDOW picks stay in flight (oldest released). */
static uint32_t held_load_peak(sluice_strategy_t s, size_t n)
{
    enum { WINDOW = 40, PICKS = 20000 };
    struct sluice_backend *inflight[WINDOW] = {0};
    struct fixture fx;
    uint32_t peak = 0;

    fx_init(&fx, s, n, NULL);
    for (int i = 0; i < PICKS; i++) {
        struct sluice_backend *b = pick(fx.g);
        uint32_t a;

        assert_non_null(b);
        if (inflight[i % WINDOW] != NULL)
            atomic_fetch_sub(&inflight[i % WINDOW]->active, 1);
        a = atomic_fetch_add(&b->active, 1) + 1;
        inflight[i % WINDOW] = b;
        peak = a > peak ? a : peak;
    }
    fx_fini(&fx);
    return peak;
}

static void p2c_spreads_better_than_random(void **state)
{
    uint32_t p2c = held_load_peak(SLUICE_LEAST_REQUEST, 10);
    uint32_t rnd = held_load_peak(SLUICE_RANDOM, 10);

    (void)state;
    print_message("peak active with 40 in flight over 10: p2c %u, random %u\n", p2c, rnd);
    assert_true(p2c < rnd);
    assert_true(p2c <= 8); /* mean is 4 */
}

static void random_follows_weights(void **state)
{
    static const uint32_t w[4] = {3, 1, 0, 4};
    struct fixture fx;
    size_t count[4] = {0};

    (void)state;
    fx_init(&fx, SLUICE_RANDOM, 4, w);
    for (int i = 0; i < 80000; i++)
        count[index_of(&fx, pick(fx.g))]++;
    assert_int_equal(count[2], 0);
    assert_in_range(count[0], 30000 - 1500, 30000 + 1500);
    assert_in_range(count[1], 10000 - 1000, 10000 + 1000);
    assert_in_range(count[3], 40000 - 1500, 40000 + 1500);
    fx_fini(&fx);
}

static void maglev_same_key_same_backend(void **state)
{
    struct fixture fx;
    struct sl_group *again;
    char key[32];

    (void)state;
    fx_init(&fx, SLUICE_MAGLEV, 20, NULL);
    again = group_build(SLUICE_MAGLEV, fx.b, fx.n);
    for (int i = 0; i < 1000; i++) {
        snprintf(key, sizeof(key), "client-%d", i);
        struct sluice_backend *b = pick_key(fx.g, key);
        assert_ptr_equal(pick_key(fx.g, key), b);
        assert_ptr_equal(pick_key(again, key), b);
    }
    group_free(again);
    fx_fini(&fx);
}

/* Fraction of 10,000 keys that change backend when backend <gone> leaves;
 * checks that keys not on <gone> mostly stay (all of them for a ring). */
static double remap_fraction(sluice_strategy_t s, size_t n, size_t gone)
{
    enum { KEYS = 10000 };
    struct fixture fx;
    struct sluice_backend **rest = calloc(n, sizeof(*rest));
    struct sl_group *g2;
    size_t moved = 0, m = 0;
    char key[32];

    assert_non_null(rest);
    fx_init(&fx, s, n, NULL);
    for (size_t i = 0; i < n; i++)
        if (i != gone)
            rest[m++] = fx.b[i];
    g2 = group_build(s, rest, m);
    for (int k = 0; k < KEYS; k++) {
        snprintf(key, sizeof(key), "key-%d", k);
        struct sluice_backend *before = pick_key(fx.g, key);
        struct sluice_backend *after = pick_key(g2, key);
        assert_ptr_not_equal(after, fx.b[gone]);
        if (before != after) {
            moved++;
            if (s == SLUICE_RING_HASH)
                assert_ptr_equal(before, fx.b[gone]);
        }
    }
    group_free(g2);
    fx_fini(&fx);
    free(rest);
    return (double)moved / KEYS;
}

static void maglev_remaps_about_one_nth(void **state)
{
    static const size_t ns[] = {10, 17, 50, 100};

    (void)state;
    for (size_t i = 0; i < sizeof(ns) / sizeof(ns[0]); i++) {
        double f = remap_fraction(SLUICE_MAGLEV, ns[i], ns[i] / 2);
        print_message("maglev n=%zu: %.4f moved (1/n = %.4f)\n", ns[i], f, 1.0 / ns[i]);
        assert_true(f <= 1.5 / ns[i] + 0.01);
        assert_true(f > 0);
    }
}

static void maglev_spreads_down_backend_keys(void **state)
{
    struct fixture fx;
    size_t count[10] = {0};
    char key[32];

    (void)state;
    fx_init(&fx, SLUICE_MAGLEV, 10, NULL);
    atomic_store(&fx.b[4]->score, -1);
    for (int k = 0; k < 5000; k++) {
        snprintf(key, sizeof(key), "key-%d", k);
        atomic_store(&fx.b[4]->score, 1);
        struct sluice_backend *home = pick_key(fx.g, key);
        atomic_store(&fx.b[4]->score, -1);
        struct sluice_backend *now = pick_key(fx.g, key);
        if (home != fx.b[4])
            assert_ptr_equal(now, home); /* others keep their keys */
        else
            count[index_of(&fx, now)]++;
    }
    size_t receivers = 0;
    for (int i = 0; i < 10; i++)
        receivers += count[i] > 0;
    assert_int_equal(count[4], 0);
    assert_true(receivers >= 5);
    fx_fini(&fx);
}

static void ring_hash_is_consistent(void **state)
{
    static const size_t ns[] = {10, 50};

    (void)state;
    for (size_t i = 0; i < sizeof(ns) / sizeof(ns[0]); i++) {
        double f = remap_fraction(SLUICE_RING_HASH, ns[i], 3);
        print_message("ring_hash n=%zu: %.4f moved (1/n = %.4f)\n", ns[i], f, 1.0 / ns[i]);
        assert_true(f <= 2.0 / ns[i] + 0.01);
    }
}

static void ring_hash_bounds_load(void **state)
{
    enum { N = 10, PICKS = 5000 };
    struct fixture fx;
    uint32_t max = 0;
    char key[16];

    (void)state;
    fx_init(&fx, SLUICE_RING_HASH, N, NULL);
    /* Three hot keys, every pick held: without the bound they would pile
     * on at most three backends. */
    for (int i = 0; i < PICKS; i++) {
        snprintf(key, sizeof(key), "hot-%d", i % 3);
        struct sluice_backend *b = pick_key(fx.g, key);
        atomic_fetch_add(&b->active, 1);
    }
    for (int i = 0; i < N; i++) {
        uint32_t a = atomic_load(&fx.b[i]->active);
        max = a > max ? a : max;
    }
    /* ceil(1.25 x 5000 / 10) */
    assert_true(max <= 625);
    assert_true(max >= 500);
    fx_fini(&fx);
}

static void peak_ewma_prefers_fast_backend(void **state)
{
    struct fixture fx;
    size_t count[10] = {0};

    (void)state;
    fx_init(&fx, SLUICE_PEAK_EWMA, 2, NULL);
    atomic_store(&fx.b[0]->ewma_ns, 900000);
    atomic_store(&fx.b[1]->ewma_ns, 100000);
    for (int i = 0; i < 50; i++)
        assert_ptr_equal(pick(fx.g), fx.b[1]);
    /* Unknown latency (0) is tried first. */
    atomic_store(&fx.b[0]->ewma_ns, 0);
    assert_ptr_equal(pick(fx.g), fx.b[0]);
    /* Load counts too: the fast one with many in flight loses. */
    atomic_store(&fx.b[0]->ewma_ns, 200000);
    atomic_store(&fx.b[1]->active, 5);
    assert_ptr_equal(pick(fx.g), fx.b[0]);
    fx_fini(&fx);

    fx_init(&fx, SLUICE_PEAK_EWMA, 10, NULL);
    for (int i = 0; i < 10; i++)
        atomic_store(&fx.b[i]->ewma_ns, i == 7 ? 1000 : 50000);
    for (int i = 0; i < 10000; i++)
        count[index_of(&fx, pick(fx.g))]++;
    assert_true(count[7] > 1500); /* won every draw it was in: ~19% */
    fx_fini(&fx);
}

static void all_strategies_none_eligible(void **state)
{
    (void)state;
    for (int s = 0; s < SLUICE_STRATEGY_COUNT; s++) {
        struct fixture fx;
        struct sluice_backend *skip[2];

        fx_init(&fx, (sluice_strategy_t)s, 0, NULL);
        assert_null(pick_key(fx.g, "k"));
        fx_fini(&fx);

        fx_init(&fx, (sluice_strategy_t)s, 6, NULL);
        for (int i = 0; i < 6; i++)
            atomic_store(&fx.b[i]->score, -1);
        assert_null(pick_key(fx.g, "k"));
        for (int i = 0; i < 6; i++)
            atomic_store(&fx.b[i]->score, i < 4 ? -2 : 0);
        skip[0] = fx.b[4];
        skip[1] = fx.b[5];
        struct sl_pick p = {.key = "k",
                            .keylen = 1,
                            .skip = (const struct sluice_backend *const *)skip,
                            .nskip = 2};
        assert_null(fx.g->ops->pick(fx.g, &p));
        fx_fini(&fx);

        /* All drained, rebuilt. */
        static const uint32_t zero[3] = {0, 0, 0};
        fx_init(&fx, (sluice_strategy_t)s, 3, zero);
        assert_null(pick_key(fx.g, "k"));
        fx_fini(&fx);
    }
}

static void all_strategies_honour_skip(void **state)
{
    (void)state;
    for (int s = 0; s < SLUICE_STRATEGY_COUNT; s++) {
        struct fixture fx;
        const struct sluice_backend *skip[2];
        size_t count[6] = {0};
        char key[16];

        fx_init(&fx, (sluice_strategy_t)s, 6, NULL);
        skip[0] = fx.b[0];
        skip[1] = fx.b[2];
        atomic_store(&fx.b[5]->score, -1);
        for (int i = 0; i < 600; i++) {
            snprintf(key, sizeof(key), "k%d", i);
            struct sl_pick p = {.key = key, .keylen = strlen(key), .skip = skip, .nskip = 2};
            struct sluice_backend *b = fx.g->ops->pick(fx.g, &p);
            assert_non_null(b);
            count[index_of(&fx, b)]++;
        }
        assert_int_equal(count[0] + count[2] + count[5], 0);
        assert_true(count[1] > 0 && count[3] > 0 && count[4] > 0);
        fx_fini(&fx);
    }
}

static void large_groups_build_and_pick(void **state)
{
    enum { N = 100000 };

    (void)state;
    for (int s = 0; s < SLUICE_STRATEGY_COUNT; s++) {
        struct fixture fx;
        char key[16];

        fx_init(&fx, (sluice_strategy_t)s, N, NULL);
        for (int i = 0; i < 1000; i++) {
            snprintf(key, sizeof(key), "k%d", i);
            assert_non_null(pick_key(fx.g, key));
        }
        fx_fini(&fx);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(registry_names_every_strategy),
        cmocka_unit_test(hash_is_stable_and_seeded),
        cmocka_unit_test(rr_cycles_all),
        cmocka_unit_test(rr_skips_unusable_and_drained),
        cmocka_unit_test(wrr_interleaves_5_1_1),
        cmocka_unit_test(wrr_exact_ratios_large_and_gcd),
        cmocka_unit_test(wrr_huge_weights_scaled),
        cmocka_unit_test(least_conn_picks_least_active),
        cmocka_unit_test(least_conn_finds_idle_in_large_group),
        cmocka_unit_test(p2c_spreads_better_than_random),
        cmocka_unit_test(random_follows_weights),
        cmocka_unit_test(maglev_same_key_same_backend),
        cmocka_unit_test(maglev_remaps_about_one_nth),
        cmocka_unit_test(maglev_spreads_down_backend_keys),
        cmocka_unit_test(ring_hash_is_consistent),
        cmocka_unit_test(ring_hash_bounds_load),
        cmocka_unit_test(peak_ewma_prefers_fast_backend),
        cmocka_unit_test(all_strategies_none_eligible),
        cmocka_unit_test(all_strategies_honour_skip),
        cmocka_unit_test(large_groups_build_and_pick),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
