/* Batch apply: one transaction, one publish; a failing apply changes
 * nothing; the state of backends that stay is carried over; views follow
 * in the same publish; readers never see a service half-applied. */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "apply.h"
#include "sluice.h"
#include "view.h"

static const struct sl_label V1[] = {{"version", "v1"}};
static const struct sl_label V2[] = {{"version", "v2"}};

static struct sl_backend_spec be(const char *name, const char *target,
                                 const struct sl_label *labels)
{
    return (struct sl_backend_spec){.name = name,
                                    .target = target,
                                    .weight = 1,
                                    .labels = labels,
                                    .nlabels = labels != NULL ? 1 : 0};
}

/* A text dump of everything the lb shows for <services>: equal dumps
 * mean nothing observable changed. */
static void dump(sluice_lb_t *lb, const char *const *services, size_t n, char *out, size_t len)
{
    size_t off = 0;

    out[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        sluice_group_snapshot_t s;

        if (sluice_lb_snapshot(lb, services[i], &s) != 0) {
            off += (size_t)snprintf(out + off, len - off, "%s: none\n", services[i]);
            continue;
        }
        off += (size_t)snprintf(out + off, len - off, "%s %d:", services[i], (int)s.strategy);
        for (size_t j = 0; j < s.n; j++)
            off += (size_t)snprintf(
                out + off, len - off, " %s=%s/%d/%d/%u/%u/%u", s.backends[j].name,
                s.backends[j].target, (int)s.backends[j].health, s.backends[j].score,
                s.backends[j].failures, s.backends[j].weight, s.backends[j].active);
        off += (size_t)snprintf(out + off, len - off, " [%zu]\n",
                                sluice_lb_backend_count(lb, services[i]));
        sluice_group_snapshot_free(&s);
        assert_true(off < len);
    }
}

static sluice_lb_t *base(void)
{
    sluice_lb_t *lb = sluice_lb_new();
    struct sl_backend_spec api[] = {be("a1", "127.0.0.1:3001", V1), be("a2", "127.0.0.1:3002", V2)};
    struct sl_backend_spec web[] = {be("w1", "127.0.0.1:4001", NULL)};
    struct sl_group_spec gs[] = {{"api", SLUICE_ROUND_ROBIN, api, 2},
                                 {"web", SLUICE_RANDOM, web, 1}};
    struct sl_view_spec vs[] = {{"api/v2", "api", "version=v2"}};

    assert_non_null(lb);
    assert_int_equal(sl_lb_apply(lb, gs, 2, vs, 1, NULL, NULL, 0), 0);
    return lb;
}

static void failing_apply_changes_nothing(void **state)
{
    static const char *const names[] = {"api", "web", "api/v2", "new"};
    sluice_lb_t *lb = base();
    char before[2048], after[2048], err[160];
    struct sl_backend_spec ok[] = {be("a1", "127.0.0.1:3001", V1), be("a3", "127.0.0.1:3003", V2)};
    struct sl_backend_spec dup_target[] = {be("n1", "10.9.9.9", NULL),
                                           be("n2", "10.9.9.9:80", NULL)};
    struct sl_backend_spec taken[] = {be("w1", "127.0.0.1:5001", NULL)};
    struct sl_backend_spec bad_target[] = {be("n1", "h:0", NULL)};
    (void)state;

    assert_int_equal(sluice_lb_down(lb, "api", "a1"), 0);
    ok[0].weight = 7;
    dump(lb, names, 4, before, sizeof(before));
    {
        /* api changes strategy and weight, but "new" is invalid: nothing applies. */
        struct sl_group_spec gs[] = {{"api", SLUICE_LEAST_CONNECTIONS, ok, 2},
                                     {"new", SLUICE_ROUND_ROBIN, dup_target, 2}};

        assert_int_equal(sl_lb_apply(lb, gs, 2, NULL, 0, NULL, err, sizeof(err)),
                         SLUICE_ERR_DUPLICATE_TARGET);
        assert_non_null(strstr(err, "10.9.9.9:80"));
    }
    {
        /* A backend name held by a service outside the batch. */
        struct sl_group_spec gs[] = {{"api", SLUICE_ROUND_ROBIN, ok, 2},
                                     {"new", SLUICE_ROUND_ROBIN, taken, 1}};
        const char *rm[] = {"api/v2"};
        struct sl_apply_gone gone = {rm, 1, NULL, 0};

        assert_int_equal(sl_lb_apply(lb, gs, 2, NULL, 0, &gone, err, sizeof(err)),
                         SLUICE_ERR_NAME_IN_USE);
        assert_non_null(strstr(err, "w1"));
    }
    {
        struct sl_group_spec gs[] = {{"api", SLUICE_ROUND_ROBIN, ok, 2},
                                     {"new", SLUICE_ROUND_ROBIN, bad_target, 1}};

        assert_int_equal(sl_lb_apply(lb, gs, 2, NULL, 0, NULL, err, sizeof(err)),
                         SLUICE_ERR_INVALID_TARGET);
    }
    {
        struct sl_group_spec gs[] = {{"api", SLUICE_ROUND_ROBIN, ok, 2}};
        struct sl_view_spec vs[] = {{"api/x", "api", "=bad"}, {"web", "api", ""}};

        assert_int_equal(sl_lb_apply(lb, gs, 1, vs, 1, NULL, err, sizeof(err)),
                         SLUICE_ERR_INVALID_ARG);
        assert_non_null(strstr(err, "api/x"));
        /* A view may not take a service's name. */
        assert_int_equal(sl_lb_apply(lb, gs, 1, vs + 1, 1, NULL, err, sizeof(err)),
                         SLUICE_ERR_INVALID_ARG);
    }
    dump(lb, names, 4, after, sizeof(after));
    assert_string_equal(before, after);
    sluice_lb_free(lb);
}

static void state_is_carried_over(void **state)
{
    sluice_lb_t *lb = base();
    sluice_backend_t *held;
    sluice_group_snapshot_t s;
    /* a1 stays (new weight), a2 changes labels (new object), a3 is new. */
    struct sl_backend_spec api[] = {be("a1", "127.0.0.1:3001", V1), be("a2", "127.0.0.1:3002", V1),
                                    be("a3", "127.0.0.1:3003", V2)};
    struct sl_group_spec gs[] = {{"api", SLUICE_LEAST_CONNECTIONS, api, 3}};
    (void)state;

    assert_int_equal(sluice_lb_down(lb, "api", "a1"), 0);
    assert_int_equal(sluice_lb_down(lb, "api", "a2"), 0);
    held = sluice_lb_select(lb, "api", NULL, 0); /* a1 and a2 at score 0: still usable */
    assert_non_null(held);
    api[0].weight = 5;
    assert_int_equal(sl_lb_apply(lb, gs, 1, NULL, 0, NULL, NULL, 0), 0);
    assert_int_equal(sluice_lb_snapshot(lb, "api", &s), 0);
    assert_int_equal(s.strategy, SLUICE_LEAST_CONNECTIONS);
    assert_int_equal(s.n, 3);
    assert_string_equal(s.backends[0].name, "a1");
    assert_int_equal(s.backends[0].score, 0);
    assert_int_equal(s.backends[0].failures, 1);
    assert_int_equal(s.backends[0].weight, 5);
    assert_int_equal(s.backends[1].score, 1); /* re-created: initial score */
    assert_int_equal(s.backends[1].failures, 0);
    if (strcmp(sluice_backend_name(held), "a1") == 0)
        assert_int_equal(s.backends[0].active, 1);
    sluice_group_snapshot_free(&s);
    sluice_backend_release(held, SLUICE_OUTCOME_OK, 1);
    /* The view was rebuilt in the same publish: a2 lost v2, a3 has it. */
    assert_int_equal(sluice_lb_backend_count(lb, "api/v2"), 1);
    held = sluice_lb_select(lb, "api/v2", NULL, 0);
    assert_non_null(held);
    assert_string_equal(sluice_backend_name(held), "a3");
    sluice_backend_release(held, SLUICE_OUTCOME_OK, 1);
    /* Untouched service stays. */
    assert_int_equal(sluice_lb_backend_count(lb, "web"), 1);
    sluice_lb_free(lb);
}

static void removals_and_name_moves_apply_together(void **state)
{
    sluice_lb_t *lb = base();
    /* w1 moves from web (removed) to api in the same transaction. */
    struct sl_backend_spec api[] = {be("a1", "127.0.0.1:3001", V1), be("w1", "127.0.0.1:4001", V2)};
    struct sl_group_spec gs[] = {{"api", SLUICE_ROUND_ROBIN, api, 2}};
    const char *rm[] = {"web", "nothing-here"};
    struct sl_apply_gone gone = {rm, 2, NULL, 0};
    sluice_group_snapshot_t s;
    (void)state;

    assert_int_equal(sl_lb_apply(lb, gs, 1, NULL, 0, NULL, NULL, 0), SLUICE_ERR_NAME_IN_USE);
    assert_int_equal(sl_lb_apply(lb, gs, 1, NULL, 0, &gone, NULL, 0), 0);
    assert_int_equal(sluice_lb_snapshot(lb, "web", &s), SLUICE_ERR_UNKNOWN_SERVICE);
    assert_int_equal(sluice_lb_backend_count(lb, "api/v2"), 1);
    /* Config backends are not dynamic: allowed even when the API may not add. */
    sluice_lb_allow_dynamic(lb, false);
    api[1].target = "127.0.0.1:4002";
    assert_int_equal(sl_lb_apply(lb, gs, 1, NULL, 0, NULL, NULL, 0), 0);
    sluice_lb_free(lb);
}

static int add_dynamic(sluice_lb_t *lb, const char *service, const char *name, const char *target)
{
    sluice_backend_builder_t *b = sluice_backend_builder_new(name, target);

    assert_non_null(b);
    return sluice_backend_builder_finish(b, lb, service);
}

static void pick_is(sluice_lb_t *lb, const char *group, const char *name)
{
    sluice_backend_t *b = sluice_lb_select(lb, group, NULL, 0);

    assert_non_null(b);
    assert_string_equal(sluice_backend_name(b), name);
    sluice_backend_release(b, SLUICE_OUTCOME_OK, 1);
}

/* w1 moves from web, which no config wants any more, to api: web retires
 * in the same transaction and stays selectable, view included, until it is
 * unregistered (control does so once no old routing table uses it). */
static void retiring_service_lends_its_names(void **state)
{
    sluice_lb_t *lb = base();
    struct sl_backend_spec api[] = {be("a1", "127.0.0.1:3001", V1), be("w1", "127.0.0.1:4001", V2)};
    struct sl_group_spec gs[] = {{"api", SLUICE_ROUND_ROBIN, api, 2}};
    struct sl_view_spec vs[] = {{"web/all", "web", ""}};
    const char *retire[] = {"web", "nothing-here", "api/v2"};
    struct sl_apply_gone gone = {NULL, 0, retire, 3};
    sluice_group_snapshot_t s;
    char err[160];
    (void)state;

    assert_int_equal(sl_lb_register_view(lb, "web/all", "web", "", NULL, 0), 0);
    assert_int_equal(sl_lb_apply(lb, gs, 1, NULL, 0, NULL, err, sizeof(err)),
                     SLUICE_ERR_NAME_IN_USE);
    assert_int_equal(sl_lb_apply(lb, gs, 1, NULL, 0, &gone, err, sizeof(err)), 0);
    /* The old object, with its state, in web; a new one in api. */
    assert_int_equal(sluice_lb_snapshot(lb, "web", &s), 0);
    assert_int_equal(s.n, 1);
    assert_string_equal(s.backends[0].name, "w1");
    sluice_group_snapshot_free(&s);
    pick_is(lb, "web", "w1");
    pick_is(lb, "web/all", "w1");
    /* A retiring view keeps what it had: a2 (no longer in api), not w1. */
    pick_is(lb, "api/v2", "a2");
    assert_int_equal(sluice_lb_backend_count(lb, "api"), 2);
    /* Retiring again, and rebuilding it with the view, changes nothing. */
    assert_int_equal(sl_lb_apply(lb, gs, 1, vs, 1, &gone, err, sizeof(err)), 0);
    pick_is(lb, "web/all", "w1");
    /* Retiring is no state of its own for the API: marks still apply. */
    assert_int_equal(sluice_lb_down(lb, "web", "w1"), 0);
    assert_int_equal(sluice_lb_healthy_count(lb, "web"), 1); /* score 0: still usable */
    assert_int_equal(sluice_lb_unregister(lb, "web"), 0);
    assert_null(sluice_lb_select(lb, "web", NULL, 0));
    assert_int_equal(sluice_lb_backend_count(lb, "web/all"), 0);
    sluice_lb_free(lb);
}

/* A retiring service only waits to go: a dynamic add may take a name only
 * it holds (as sl_lb_apply() may); putting the service again revives it. */
static void retiring_names_are_free_for_dynamic_adds(void **state)
{
    sluice_lb_t *lb = base();
    struct sl_backend_spec api[] = {be("a1", "127.0.0.1:3001", V1)};
    struct sl_backend_spec web[] = {be("w1", "127.0.0.1:4001", NULL)};
    struct sl_group_spec keep[] = {{"api", SLUICE_ROUND_ROBIN, api, 1}};
    struct sl_group_spec both[] = {{"api", SLUICE_ROUND_ROBIN, api, 1},
                                   {"web", SLUICE_RANDOM, web, 1}};
    const char *retire[] = {"web"};
    struct sl_apply_gone gone = {NULL, 0, retire, 1};
    char err[160];
    (void)state;

    sluice_lb_allow_dynamic(lb, true);
    assert_int_equal(add_dynamic(lb, "dyn", "w1", "127.0.0.1:5001"), SLUICE_ERR_NAME_IN_USE);
    assert_int_equal(sl_lb_apply(lb, keep, 1, NULL, 0, &gone, err, sizeof(err)), 0);
    /* A weight change rebuilds web: it stays retiring. */
    assert_int_equal(sluice_lb_set_weight(lb, "web", "w1", 3), 0);
    assert_int_equal(add_dynamic(lb, "dyn", "w1", "127.0.0.1:5001"), 0);
    pick_is(lb, "dyn", "w1");
    pick_is(lb, "web", "w1");
    /* Put again, web holds w1 as an ordinary service: dyn's w1 is in the way. */
    assert_int_equal(sluice_lb_unregister(lb, "dyn"), 0);
    assert_int_equal(sl_lb_apply(lb, both, 2, NULL, 0, NULL, err, sizeof(err)), 0);
    assert_int_equal(add_dynamic(lb, "dyn", "w1", "127.0.0.1:5001"), SLUICE_ERR_NAME_IN_USE);
    /* Put and retired at once is a contradiction. */
    assert_int_equal(sl_lb_apply(lb, both, 2, NULL, 0, &gone, err, sizeof(err)),
                     SLUICE_ERR_INVALID_ARG);
    assert_non_null(strstr(err, "web"));
    sluice_lb_free(lb);
}

struct reader {
    sluice_lb_t *lb;
    const char *group, *view; /* what the reader selects from */
    atomic_bool stop;
    atomic_ulong nulls, picks;
};

static void *select_loop(void *arg)
{
    struct reader *r = arg;

    while (!atomic_load(&r->stop)) {
        sluice_backend_t *b = sluice_lb_select(r->lb, r->group, NULL, 0);
        sluice_backend_t *v = sluice_lb_select(r->lb, r->view, NULL, 0);

        if (b == NULL || v == NULL)
            atomic_fetch_add(&r->nulls, 1);
        if (b != NULL)
            sluice_backend_release(b, SLUICE_OUTCOME_OK, 1);
        if (v != NULL)
            sluice_backend_release(v, SLUICE_OUTCOME_OK, 1);
        atomic_fetch_add(&r->picks, 1);
    }
    return NULL;
}

static void readers_never_see_a_half_applied_service(void **state)
{
    static const sluice_strategy_t order[] = {
        SLUICE_LEAST_CONNECTIONS, SLUICE_MAGLEV,     SLUICE_WEIGHTED_ROUND_ROBIN, SLUICE_RANDOM,
        SLUICE_RING_HASH,         SLUICE_ROUND_ROBIN};
    struct reader r = {.lb = base(), .group = "api", .view = "api/v2"};
    struct sl_backend_spec api[] = {be("a1", "127.0.0.1:3001", V1), be("a2", "127.0.0.1:3002", V2),
                                    be("a3", "127.0.0.1:3003", V2)};
    struct sl_view_spec vs[] = {{"api/v2", "api", "version=v2"}};
    pthread_t th;
    (void)state;

    atomic_init(&r.stop, false);
    atomic_init(&r.nulls, 0);
    atomic_init(&r.picks, 0);
    assert_int_equal(pthread_create(&th, NULL, select_loop, &r), 0);
    for (int i = 0; i < 300; i++) {
        struct sl_group_spec gs[] = {{"api", order[i % 6], api, 3}};

        /* A label change on a2 every third round: a new object each time. */
        api[1].labels = i % 3 == 0 ? V2 : V1;
        api[2].labels = V2;
        assert_int_equal(sl_lb_apply(r.lb, gs, 1, vs, 1, NULL, NULL, 0), 0);
    }
    atomic_store(&r.stop, true);
    pthread_join(th, NULL);
    assert_int_equal(atomic_load(&r.nulls), 0);
    sluice_lb_free(r.lb);
}

/* An old routing table selects from web while w1 moves back and forth
 * between web and api (web retiring in between): never empty-handed. */
static void retiring_service_never_empties_for_readers(void **state)
{
    struct reader r = {.lb = base(), .group = "web", .view = "web/all"};
    struct sl_backend_spec with_w1[] = {be("a1", "127.0.0.1:3001", V1),
                                        be("w1", "127.0.0.1:4001", NULL)};
    struct sl_backend_spec web[] = {be("w1", "127.0.0.1:4001", NULL)};
    struct sl_group_spec a[] = {{"api", SLUICE_ROUND_ROBIN, with_w1, 2}};
    struct sl_group_spec b[] = {{"api", SLUICE_ROUND_ROBIN, with_w1, 1},
                                {"web", SLUICE_RANDOM, web, 1}};
    struct sl_view_spec vs[] = {{"web/all", "web", ""}};
    const char *retire[] = {"web"};
    struct sl_apply_gone gone = {NULL, 0, retire, 1};
    pthread_t th;
    (void)state;

    assert_int_equal(sl_lb_apply(r.lb, b, 2, vs, 1, NULL, NULL, 0), 0);
    atomic_init(&r.stop, false);
    atomic_init(&r.nulls, 0);
    atomic_init(&r.picks, 0);
    assert_int_equal(pthread_create(&th, NULL, select_loop, &r), 0);
    for (int i = 0; i < 1000 && atomic_load(&r.picks) == 0; i++)
        usleep(1000); /* the reader is running before the changes start */
    for (int i = 0; i < 300; i++) {
        if (i % 2 == 0)
            assert_int_equal(sl_lb_apply(r.lb, a, 1, NULL, 0, &gone, NULL, 0), 0);
        else
            assert_int_equal(sl_lb_apply(r.lb, b, 2, vs, 1, NULL, NULL, 0), 0);
    }
    atomic_store(&r.stop, true);
    pthread_join(th, NULL);
    assert_int_equal(atomic_load(&r.nulls), 0);
    assert_true(atomic_load(&r.picks) > 0);
    sluice_lb_free(r.lb);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(failing_apply_changes_nothing),
        cmocka_unit_test(state_is_carried_over),
        cmocka_unit_test(removals_and_name_moves_apply_together),
        cmocka_unit_test(readers_never_see_a_half_applied_service),
        cmocka_unit_test(retiring_service_lends_its_names),
        cmocka_unit_test(retiring_names_are_free_for_dynamic_adds),
        cmocka_unit_test(retiring_service_never_empties_for_readers),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
