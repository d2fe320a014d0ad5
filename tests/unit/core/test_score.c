/* Score health through the public API: the walk from the issue, marks,
 * option validation, passive outcomes and the EWMA. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "backend_types.h"
#include "score.h"
#include "sluice.h"

static const char *const one[] = {"127.0.0.1:9"};

static sluice_lb_t *lb_one(void)
{
    sluice_lb_t *lb = sluice_lb_new();

    assert_non_null(lb);
    assert_int_equal(sluice_lb_register(lb, "s", one, 1, SLUICE_ROUND_ROBIN), 0);
    return lb;
}

static int32_t score_of(sluice_lb_t *lb, sluice_health_t *health, uint32_t *failures)
{
    sluice_group_snapshot_t snap;
    int32_t s;

    assert_int_equal(sluice_lb_snapshot(lb, "s", &snap), 0);
    assert_int_equal(snap.n, 1);
    s = snap.backends[0].score;
    if (health != NULL)
        *health = snap.backends[0].health;
    if (failures != NULL)
        *failures = snap.backends[0].failures;
    sluice_group_snapshot_free(&snap);
    return s;
}

static void score_walk_matches_the_issue(void **state)
{
    static const struct {
        int up;
        int32_t score;
        size_t healthy;
    } walk[] = {
        {0, 0, 1},  {0, -1, 0}, {0, -2, 0}, {0, -3, 0}, {0, -3, 0}, /* clamps at low */
        {1, -2, 0}, {1, -1, 0}, {1, 0, 1},                          /* three ups: usable */
        {1, 1, 1},  {1, 2, 1},  {1, 3, 1},  {1, 3, 1},              /* clamps at high */
    };
    sluice_lb_t *lb = lb_one();
    sluice_health_t h;
    (void)state;

    assert_int_equal(score_of(lb, &h, NULL), 1);
    assert_int_equal(h, SLUICE_HEALTH_UNKNOWN);
    assert_int_equal(sluice_lb_healthy_count(lb, "s"), 1);
    for (size_t i = 0; i < sizeof(walk) / sizeof(walk[0]); i++) {
        int rc = walk[i].up ? sluice_lb_up(lb, "s", "127.0.0.1:9")
                            : sluice_lb_down(lb, "s", "127.0.0.1:9");

        assert_int_equal(rc, 0);
        assert_int_equal(score_of(lb, &h, NULL), walk[i].score);
        assert_int_equal(h, walk[i].score >= 0 ? SLUICE_HEALTH_HEALTHY : SLUICE_HEALTH_UNHEALTHY);
        assert_int_equal(sluice_lb_healthy_count(lb, "s"), walk[i].healthy);
    }
    sluice_lb_free(lb);
}

static void mark_health_sets_and_resets(void **state)
{
    sluice_lb_t *lb = lb_one();
    sluice_health_t h;
    uint32_t failures;
    (void)state;

    assert_int_equal(sluice_lb_mark_health(lb, "s", "127.0.0.1:9", false), 0);
    assert_int_equal(score_of(lb, &h, &failures), -3);
    assert_int_equal(h, SLUICE_HEALTH_UNHEALTHY);
    assert_int_equal(failures, 1);
    assert_int_equal(sluice_lb_down(lb, "s", "127.0.0.1:9"), 0);
    assert_int_equal(score_of(lb, NULL, &failures), -3);
    assert_int_equal(failures, 2);
    assert_int_equal(sluice_lb_healthy_count(lb, "s"), 0);

    /* Found by a non-canonical spelling of the target too. */
    assert_int_equal(sluice_lb_mark_health(lb, "s", "127.0.0.1:9", true), 0);
    assert_int_equal(score_of(lb, &h, &failures), 1);
    assert_int_equal(h, SLUICE_HEALTH_HEALTHY);
    assert_int_equal(failures, 0);
    /* true never lowers a higher score. */
    assert_int_equal(sluice_lb_up(lb, "s", "127.0.0.1:9"), 0);
    assert_int_equal(sluice_lb_up(lb, "s", "127.0.0.1:9"), 0);
    assert_int_equal(sluice_lb_mark_health(lb, "s", "127.0.0.1:9", true), 0);
    assert_int_equal(score_of(lb, NULL, NULL), 3);

    assert_int_equal(sluice_lb_mark_health(lb, "nope", "127.0.0.1:9", true),
                     SLUICE_ERR_UNKNOWN_SERVICE);
    assert_int_equal(sluice_lb_mark_health(lb, "s", "127.0.0.1:10", true),
                     SLUICE_ERR_UNKNOWN_BACKEND);
    assert_int_equal(sluice_lb_up(lb, "s", "10.9.9.9"), SLUICE_ERR_UNKNOWN_BACKEND);
    sluice_lb_free(lb);
}

static void mark_true_with_negative_initial_makes_usable(void **state)
{
    sluice_score_opts_t o = {-1, -5, 5, -2, 1};
    sluice_lb_t *lb = sluice_lb_new();
    (void)state;

    assert_int_equal(sluice_lb_set_default_score(lb, &o), 0);
    assert_int_equal(sluice_lb_register(lb, "s", one, 1, SLUICE_ROUND_ROBIN), 0);
    assert_int_equal(score_of(lb, NULL, NULL), -1);
    assert_int_equal(sluice_lb_healthy_count(lb, "s"), 0);
    assert_int_equal(sluice_lb_mark_health(lb, "s", "127.0.0.1:9", true), 0);
    assert_int_equal(score_of(lb, NULL, NULL), 0);
    assert_int_equal(sluice_lb_healthy_count(lb, "s"), 1);
    assert_int_equal(sluice_lb_down(lb, "s", "127.0.0.1:9"), 0);
    assert_int_equal(score_of(lb, NULL, NULL), -2);
    sluice_lb_free(lb);
}

static void set_score_validates(void **state)
{
    static const struct {
        sluice_score_opts_t o;
        int rc;
    } cases[] = {
        {{1, -3, 3, -1, 1}, 0},
        {{0, -1, 0, -1, 1}, 0},
        {{0, 0, 0, -1, 1}, SLUICE_ERR_INVALID_SCORE},    /* low not negative */
        {{1, 0, 3, -1, 1}, SLUICE_ERR_INVALID_SCORE},    /* mark down would stay usable */
        {{-1, -3, -1, -1, 1}, SLUICE_ERR_INVALID_SCORE}, /* high negative */
        {{-2, -3, -2, -1, 1}, SLUICE_ERR_INVALID_SCORE},
        {{-3, -3, 3, -1, 1}, 0},
        {{3, -3, 3, -1, 1}, 0},
        {{4, -3, 3, -1, 1}, SLUICE_ERR_INVALID_SCORE},  /* initial above high */
        {{-4, -3, 3, -1, 1}, SLUICE_ERR_INVALID_SCORE}, /* initial below low */
        {{0, 3, -3, -1, 1}, SLUICE_ERR_INVALID_SCORE},  /* low above high */
        {{1, -3, 3, 0, 1}, SLUICE_ERR_INVALID_SCORE},   /* fail not negative */
        {{1, -3, 3, 1, 1}, SLUICE_ERR_INVALID_SCORE},
        {{1, -3, 3, -1, 0}, SLUICE_ERR_INVALID_SCORE}, /* success not positive */
        {{1, -3, 3, -1, -1}, SLUICE_ERR_INVALID_SCORE},
    };
    sluice_lb_t *lb = sluice_lb_new();
    (void)state;

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        assert_int_equal(sluice_lb_set_default_score(lb, &cases[i].o), cases[i].rc);
    assert_int_equal(sluice_lb_set_default_score(lb, NULL), SLUICE_ERR_INVALID_ARG);
    sluice_lb_free(lb);
}

static void set_score_clamps_existing_scores(void **state)
{
    sluice_score_opts_t o = {0, -1, 1, -1, 1};
    sluice_lb_t *lb = lb_one();
    (void)state;

    for (int i = 0; i < 5; i++)
        sluice_lb_down(lb, "s", "127.0.0.1:9");
    assert_int_equal(score_of(lb, NULL, NULL), -3);
    assert_int_equal(sluice_lb_set_score(lb, "s", &o), 0);
    assert_int_equal(score_of(lb, NULL, NULL), -1);
    assert_int_equal(sluice_lb_up(lb, "s", "127.0.0.1:9"), 0);
    assert_int_equal(score_of(lb, NULL, NULL), 0);
    sluice_lb_free(lb);
}

static void release_feeds_passive_health(void **state)
{
    static const struct {
        sluice_outcome_t out;
        int32_t score;
        uint32_t failures;
    } steps[] = {
        {SLUICE_OUTCOME_FAIL, 0, 1},
        {SLUICE_OUTCOME_TIMEOUT, -1, 2},
        {SLUICE_OUTCOME_NEUTRAL, -1, 2},
        {SLUICE_OUTCOME_OK, 0, 0},
    };
    static const sluice_eject_opts_t no_ejection = {0, 0};
    sluice_lb_t *lb = lb_one();
    sluice_backend_t *held[4];
    sluice_group_snapshot_t snap;
    uint32_t failures;
    (void)state;

    /* The score alone (ejection has its own tests in test_health.c). */
    assert_int_equal(sluice_lb_set_ejection(lb, "s", &no_ejection), 0);

    /* Selected while usable; released one by one as the score moves. */
    for (size_t i = 0; i < 4; i++)
        assert_non_null(held[i] = sluice_lb_select(lb, "s", NULL, 0));
    for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
        sluice_backend_release(held[i], steps[i].out, 1000);
        assert_int_equal(score_of(lb, NULL, &failures), steps[i].score);
        assert_int_equal(failures, steps[i].failures);
    }
    assert_int_equal(sluice_lb_snapshot(lb, "s", &snap), 0);
    assert_int_equal(snap.backends[0].active, 0);
    assert_int_equal(snap.backends[0].requests, 4);
    assert_int_equal(snap.backends[0].ewma_ns, 1000);
    sluice_group_snapshot_free(&snap);
    sluice_lb_free(lb);
}

static void ewma_takes_peaks_and_decays(void **state)
{
    struct sl_score_cfg *cfg = sl_score_cfg_new();
    struct sluice_backend *b = aligned_alloc(64, (sizeof(*b) + 63) & ~(size_t)63);
    uint64_t t0 = 1000;
    (void)state;

    assert_non_null(b);
    memset(b, 0, sizeof(*b));
    b->score_cfg = cfg;
    sl_score_init(b);
    sl_ewma_update(b, 1000, t0);
    assert_int_equal(atomic_load(&b->ewma_ns), 1000);
    sl_ewma_update(b, 5000, t0 + 1);
    assert_int_equal(atomic_load(&b->ewma_ns), 5000); /* a peak replaces */
    /* One half-life later a sample of 1000 lands half way. */
    sl_ewma_update(b, 1000, t0 + 1 + SL_EWMA_HALF_LIFE_NS);
    assert_int_equal(atomic_load(&b->ewma_ns), 3000);
    /* 0.9 half-lives later (where the old Taylor cubic was 1.5% off) a
     * sample of 0 leaves 3000 x 2^-0.9 = 1607.7, within 0.1%. */
    sl_ewma_update(b, 0, t0 + 1 + SL_EWMA_HALF_LIFE_NS + SL_EWMA_HALF_LIFE_NS / 10 * 9);
    assert_in_range(atomic_load(&b->ewma_ns), 1606, 1609);
    free(b);
    sl_score_cfg_unref(cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(score_walk_matches_the_issue),
        cmocka_unit_test(mark_health_sets_and_resets),
        cmocka_unit_test(mark_true_with_negative_initial_makes_usable),
        cmocka_unit_test(set_score_validates),
        cmocka_unit_test(set_score_clamps_existing_scores),
        cmocka_unit_test(release_feeds_passive_health),
        cmocka_unit_test(ewma_takes_peaks_and_decays),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
