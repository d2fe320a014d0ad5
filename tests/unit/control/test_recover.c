#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "control/recover.h"

static int32_t score_of(sluice_lb_t *lb, const char *svc)
{
    sluice_group_snapshot_t snap;
    int32_t s;

    assert_int_equal(sluice_lb_snapshot(lb, svc, &snap), 0);
    s = snap.backends[0].score;
    sluice_group_snapshot_free(&snap);
    return s;
}

static uint32_t failures_of(sluice_lb_t *lb, const char *svc)
{
    sluice_group_snapshot_t snap;
    uint32_t f;

    assert_int_equal(sluice_lb_snapshot(lb, svc, &snap), 0);
    f = snap.backends[0].failures;
    sluice_group_snapshot_free(&snap);
    return f;
}

static void fixture(sluice_lb_t **lb, struct sl_config *cfg, struct sl_cfg_service *svc)
{
    static const char *const targets[] = {"127.0.0.1:9"};

    *lb = sluice_lb_new();
    assert_non_null(*lb);
    assert_int_equal(sluice_lb_register(*lb, "api", targets, 1, SLUICE_ROUND_ROBIN), 0);
    memset(cfg, 0, sizeof(*cfg));
    memset(svc, 0, sizeof(*svc));
    svc->name = "api";
    cfg->services = svc;
    cfg->nservices = 1;
    /* Passive failures: 1 -> -3 in four downs. */
    for (int i = 0; i < 4; i++)
        assert_int_equal(sluice_lb_down(*lb, "api", "127.0.0.1:9"), 0);
}

static void down_backend_regains_a_step_per_interval(void **state)
{
    struct sl_cfg_service svc;
    struct sl_config cfg;
    sluice_lb_t *lb;
    uint64_t last = 0;
    (void)state;

    fixture(&lb, &cfg, &svc);
    assert_int_equal(score_of(lb, "api"), -3);
    sl_recover_tick(lb, &cfg, false, 1000, &last); /* too early */
    assert_int_equal(score_of(lb, "api"), -3);
    for (uint64_t t = 2000; t <= 6000; t += SL_RECOVER_STEP_MS)
        sl_recover_tick(lb, &cfg, false, t, &last);
    assert_int_equal(score_of(lb, "api"), 0); /* usable again: traffic decides */
    sl_recover_tick(lb, &cfg, false, 8000, &last);
    assert_int_equal(score_of(lb, "api"), 0); /* never raised past 0 */
    assert_int_equal(sluice_lb_healthy_count(lb, "api"), 1);
    /* Nothing succeeded: the failure streak is still there. */
    assert_int_equal(failures_of(lb, "api"), 4);
    sluice_lb_free(lb);
}

static void active_checker_owns_recovery(void **state)
{
    struct sl_cfg_service svc;
    struct sl_config cfg;
    sluice_lb_t *lb;
    uint64_t last = 0;
    (void)state;

    fixture(&lb, &cfg, &svc);
    for (uint64_t t = 2000; t <= 20000; t += SL_RECOVER_STEP_MS)
        sl_recover_tick(lb, &cfg, true, t, &last);
    assert_int_equal(score_of(lb, "api"), -3);
    sluice_lb_free(lb);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(down_backend_regains_a_step_per_interval),
        cmocka_unit_test(active_checker_owns_recovery),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
