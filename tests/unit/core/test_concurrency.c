/* Readers select and release while a writer replaces, adds, removes,
 * reweights, marks and reports the load of backends, through the public API only. Run under
 * ThreadSanitizer (make test-tsan) and ASan: the assertions here are weak
 * on purpose (every selection is a backend of the service, the lb frees
 * cleanly); the sanitizers judge the races and the reclamation. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "sluice.h"

#define NTARGETS      16
#define WRITER_ROUNDS 150
#define READER_MIN    2000   /* every reader does at least this many selects */
#define READER_MAX    400000 /* and at most this many, writer done or not */

struct shared {
    sluice_lb_t *lb;
    _Atomic int writer_done;
    _Atomic uint64_t selected;
    _Atomic uint64_t bad; /* a selection with a target we never registered */
    char targets[2 * NTARGETS][32];
};

static int known_target(const struct shared *sh, const char *t)
{
    if (strcmp(t, "127.0.0.1:9999") == 0)
        return 1;
    for (int i = 0; i < 2 * NTARGETS; i++)
        if (strcmp(sh->targets[i], t) == 0)
            return 1;
    return 0;
}

static void *reader(void *arg)
{
    struct shared *sh = arg;
    uint64_t ok = 0, bad = 0;
    char key[16];

    for (int i = 0; i < READER_MAX; i++) {
        if (i >= READER_MIN && atomic_load(&sh->writer_done))
            break;
        snprintf(key, sizeof(key), "k%d", i & 255);
        sluice_backend_t *b = sluice_lb_select(sh->lb, "svc", key, strlen(key));
        if (b == NULL)
            continue;
        /* The backend must stay valid until released even if the writer
         * removed it meanwhile: read it after a moment. */
        if (!known_target(sh, sluice_backend_target(b)) || sluice_backend_name(b) == NULL)
            bad++;
        ok++;
        /* Mostly OK; an occasional failure moves scores concurrently. */
        sluice_backend_release(b, i % 97 == 0 ? SLUICE_OUTCOME_FAIL : SLUICE_OUTCOME_OK,
                               1000 + (uint64_t)(i & 4095));
    }
    atomic_fetch_add(&sh->selected, ok);
    atomic_fetch_add(&sh->bad, bad);
    return NULL;
}

static void writer_round(struct shared *sh, int r)
{
    const char *list[NTARGETS];

    /* Slide a window over 2 x NTARGETS names: each round keeps most
     * targets (their state must carry over) and replaces a few. */
    for (int i = 0; i < NTARGETS; i++)
        list[i] = sh->targets[(r + i) % (2 * NTARGETS)];
    assert_int_equal(sluice_lb_update_backends(sh->lb, "svc", list, NTARGETS), 0);
    /* Reports race the picks that read them (least_load). */
    assert_int_equal(sluice_lb_set_load(sh->lb, "svc", list[r % NTARGETS], (uint32_t)r * 37), 0);
    if (r % 7 == 0)
        assert_int_equal(sluice_lb_clear_load(sh->lb, "svc", list[(r + 5) % NTARGETS]), 0);
    switch (r % 5) {
    case 0:
        assert_int_equal(sluice_lb_add_backend(sh->lb, "svc", "127.0.0.1:9999"), 0);
        break;
    case 1:
        /* Present unless this round's update dropped it. */
        (void)sluice_lb_remove_backend(sh->lb, "svc", "127.0.0.1:9999");
        break;
    case 2:
        assert_int_equal(sluice_lb_set_weight(sh->lb, "svc", list[r % NTARGETS], (uint32_t)(r % 3)),
                         0);
        break;
    case 3:
        assert_int_equal(sluice_lb_mark_health(sh->lb, "svc", list[1], r % 2 == 0), 0);
        break;
    default:
        assert_int_equal(sluice_lb_down(sh->lb, "svc", list[2]), 0);
        assert_int_equal(sluice_lb_up(sh->lb, "svc", list[3]), 0);
        break;
    }
}

static void stress(sluice_strategy_t s)
{
    static struct shared sh;
    const char *initial[NTARGETS];
    pthread_t th[2];

    memset(&sh, 0, sizeof(sh));
    for (int i = 0; i < 2 * NTARGETS; i++)
        snprintf(sh.targets[i], sizeof(sh.targets[i]), "127.0.0.%d:%d", 1 + i % 4, 8000 + i);
    for (int i = 0; i < NTARGETS; i++)
        initial[i] = sh.targets[i];
    sh.lb = sluice_lb_new();
    assert_non_null(sh.lb);
    assert_int_equal(sluice_lb_register(sh.lb, "svc", initial, NTARGETS, s), 0);

    for (int t = 0; t < 2; t++)
        assert_int_equal(pthread_create(&th[t], NULL, reader, &sh), 0);
    for (int r = 0; r < WRITER_ROUNDS; r++)
        writer_round(&sh, r);
    /* Replace the whole service once while readers run. */
    assert_int_equal(sluice_lb_register(sh.lb, "svc", initial, NTARGETS, s), 0);
    atomic_store(&sh.writer_done, 1);
    for (int t = 0; t < 2; t++)
        assert_int_equal(pthread_join(th[t], NULL), 0);

    assert_int_equal(atomic_load(&sh.bad), 0);
    assert_true(atomic_load(&sh.selected) > 0);
    assert_int_equal(sluice_lb_backend_count(sh.lb, "svc"), NTARGETS);
    sluice_lb_free(sh.lb);
}

static void stress_all_strategies(void **state)
{
    (void)state;
    for (int s = 0; s < SLUICE_STRATEGY_COUNT; s++)
        stress((sluice_strategy_t)s);
}

/* A selection outlives the removal of its backend and of its service. */
static void selection_outlives_removal(void **state)
{
    static const char *const targets[] = {"127.0.0.1:7001"};
    sluice_lb_t *lb = sluice_lb_new();
    sluice_backend_t *b;

    (void)state;
    assert_non_null(lb);
    assert_int_equal(sluice_lb_register(lb, "svc", targets, 1, SLUICE_ROUND_ROBIN), 0);
    b = sluice_lb_select(lb, "svc", NULL, 0);
    assert_non_null(b);
    assert_int_equal(sluice_lb_remove_backend(lb, "svc", "127.0.0.1:7001"), 0);
    assert_int_equal(sluice_lb_unregister(lb, "svc"), 0);
    assert_string_equal(sluice_backend_target(b), "127.0.0.1:7001");
    sluice_backend_release(b, SLUICE_OUTCOME_OK, 1000);
    sluice_lb_free(lb);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(selection_outlives_removal),
        cmocka_unit_test(stress_all_strategies),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
