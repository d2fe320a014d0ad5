/* Transactions own the writer lock: every writer, on success and on each
 * refusal, leaves it free; an abort puts in-place weights back. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "backend.h"
#include "backend_types.h"
#include "group.h"
#include "lb.h"
#include "sluice.h"
#include "target.h"
#include "txn.h"
#include "view.h"

/* The lock is free now: a writer that returned left nothing held. */
static void assert_unlocked(sluice_lb_t *lb)
{
    assert_int_equal(pthread_mutex_trylock(&lb->wlock), 0);
    pthread_mutex_unlock(&lb->wlock);
}

static void every_writer_releases_the_lock(void **state)
{
    static const char *const ts[] = {"127.0.0.1:3001", "127.0.0.1:3002"};
    static const sluice_score_opts_t bad = {5, -3, 3, -1, 1};
    static const sluice_score_opts_t good = {1, -2, 2, -1, 1};
    sluice_lb_t *lb = sluice_lb_new();
    (void)state;

    /* Each call once where it succeeds, then where it is refused. */
    assert_int_equal(sluice_lb_register(lb, "api", ts, 2, SLUICE_ROUND_ROBIN), 0);
    assert_unlocked(lb);
    assert_int_equal(sl_lb_register_view(lb, "api/all", "api", "", NULL, 0), 0);
    assert_unlocked(lb);
    assert_int_equal(sluice_lb_register(lb, "api/all", ts, 2, SLUICE_ROUND_ROBIN),
                     SLUICE_ERR_INVALID_ARG);
    assert_unlocked(lb);
    assert_int_equal(sl_lb_register_view(lb, "api", "api", "", NULL, 0), SLUICE_ERR_INVALID_ARG);
    assert_unlocked(lb);
    assert_int_equal(sluice_lb_update_backends(lb, "api", ts, 1), 0);
    assert_unlocked(lb);
    assert_int_equal(sluice_lb_update_backends(lb, "nope", ts, 1), SLUICE_ERR_UNKNOWN_SERVICE);
    assert_unlocked(lb);
    assert_int_equal(sluice_lb_add_backend(lb, "api", ts[1]), 0);
    assert_unlocked(lb);
    assert_int_equal(sluice_lb_add_backend(lb, "api", ts[1]), SLUICE_ERR_DUPLICATE_TARGET);
    assert_unlocked(lb);
    assert_int_equal(sluice_lb_set_weight(lb, "api", ts[0], 3), 0);
    assert_unlocked(lb);
    assert_int_equal(sluice_lb_set_weight(lb, "api", "10.9.9.9:80", 3), SLUICE_ERR_UNKNOWN_BACKEND);
    assert_unlocked(lb);
    assert_int_equal(sluice_lb_set_default_score(lb, &good), 0);
    assert_unlocked(lb);
    assert_int_equal(sluice_lb_set_default_score(lb, &bad), SLUICE_ERR_INVALID_SCORE);
    assert_unlocked(lb);
    assert_int_equal(sluice_lb_remove_backend(lb, "api", ts[1]), 0);
    assert_unlocked(lb);
    assert_int_equal(sluice_lb_remove_backend(lb, "nope", ts[1]), SLUICE_ERR_UNKNOWN_SERVICE);
    assert_unlocked(lb);
    assert_int_equal(sl_lb_unregister_view(lb, "api/all"), 0);
    assert_unlocked(lb);
    assert_int_equal(sl_lb_unregister_view(lb, "api"), SLUICE_ERR_UNKNOWN_SERVICE);
    assert_unlocked(lb);
    assert_int_equal(sluice_lb_unregister(lb, "api"), 0);
    assert_unlocked(lb);
    assert_int_equal(sluice_lb_unregister(lb, "api"), SLUICE_ERR_UNKNOWN_SERVICE);
    assert_unlocked(lb);
    sluice_lb_free(lb);
}

static void abort_restores_weights_last_first(void **state)
{
    static const char *const ts[] = {"127.0.0.1:3001"};
    sluice_lb_t *lb = sluice_lb_new();
    struct sluice_backend *b;
    struct sl_txn tx;
    (void)state;

    assert_int_equal(sluice_lb_register(lb, "api", ts, 1, SLUICE_ROUND_ROBIN), 0);
    assert_int_equal(sl_txn_begin(&tx, lb), 0);
    b = sl_txn_find(&tx, "api")->backends[0];
    assert_int_equal(sl_txn_set_weight(&tx, b, 5), 0);
    assert_int_equal(sl_txn_set_weight(&tx, b, 9), 0);
    assert_int_equal(sluice_backend_weight(b), 9); /* in place, seen at once */
    assert_int_equal(sl_txn_end(&tx, SLUICE_ERR_NOMEM), SLUICE_ERR_NOMEM);
    assert_int_equal(sluice_backend_weight(b), 1);
    assert_unlocked(lb);
    sluice_lb_free(lb);
}

static void commit_rebuilds_views_of_changed_services(void **state)
{
    static const char *const ts[] = {"127.0.0.1:3001", "127.0.0.1:3002"};
    sluice_lb_t *lb = sluice_lb_new();
    const struct sl_group *svc;
    struct sl_txn tx;
    (void)state;

    assert_int_equal(sluice_lb_register(lb, "api", ts, 1, SLUICE_ROUND_ROBIN), 0);
    assert_int_equal(sl_lb_register_view(lb, "api/all", "api", "", NULL, 0), 0);
    assert_int_equal(sluice_lb_backend_count(lb, "api/all"), 1);
    assert_int_equal(sl_txn_begin(&tx, lb), 0);
    svc = sl_txn_find_service(&tx, "api", &(int){0});
    assert_non_null(svc);
    {
        struct sluice_backend *bs[2] = {svc->backends[0], NULL};
        struct sl_target t;

        assert_int_equal(sl_target_parse(ts[1], &t), 0);
        bs[1] = sl_backend_new(&t, NULL, lb->score);
        assert_non_null(bs[1]);
        assert_int_equal(sl_txn_end(&tx, sl_txn_rebuild(&tx, svc, bs, 2)), 0);
        sl_backend_unref(bs[1]);
    }
    assert_int_equal(sluice_lb_backend_count(lb, "api/all"), 2);
    assert_unlocked(lb);
    sluice_lb_free(lb);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_writer_releases_the_lock),
        cmocka_unit_test(abort_restores_weights_last_first),
        cmocka_unit_test(commit_rebuilds_views_of_changed_services),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
