#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "net/timer.h"

static uint64_t fired[64];
static size_t nfired;

static void record(struct sl_timer *t, void *arg)
{
    (void)arg;
    fired[nfired++] = t->when_ms;
}

static void timers_fire_in_deadline_order(void **state)
{
    static const uint64_t when[] = {50, 10, 40, 10, 30, 20, 90, 5, 70, 60};
    struct sl_timer t[10];
    struct sl_timer_heap h;
    (void)state;

    sl_timer_heap_init(&h);
    nfired = 0;
    for (size_t i = 0; i < 10; i++) {
        sl_timer_init(&t[i], record, NULL);
        assert_int_equal(sl_timer_set(&h, &t[i], when[i]), 0);
    }
    assert_int_equal(sl_timer_next(&h), 5);
    assert_int_equal(sl_timer_run(&h, 45), 6);
    assert_int_equal(sl_timer_run(&h, 1000), 4);
    assert_int_equal(nfired, 10);
    for (size_t i = 1; i < nfired; i++)
        assert_true(fired[i - 1] <= fired[i]);
    assert_int_equal(sl_timer_next(&h), UINT64_MAX);
    sl_timer_heap_fini(&h);
}

static void stopped_and_moved_timers_keep_the_heap_ordered(void **state)
{
    struct sl_timer t[40];
    struct sl_timer_heap h;
    (void)state;

    sl_timer_heap_init(&h);
    nfired = 0;
    for (size_t i = 0; i < 40; i++) {
        sl_timer_init(&t[i], record, NULL);
        sl_timer_set(&h, &t[i], (i * 37) % 101);
    }
    for (size_t i = 0; i < 40; i += 3)
        sl_timer_stop(&h, &t[i]);
    sl_timer_stop(&h, &t[0]); /* twice: a no-op */
    for (size_t i = 1; i < 40; i += 4)
        if (sl_timer_armed(&t[i]))
            sl_timer_set(&h, &t[i], 200 - i);
    sl_timer_run(&h, 10000);
    assert_int_equal(nfired, 40 - 14);
    for (size_t i = 1; i < nfired; i++)
        assert_true(fired[i - 1] <= fired[i]);
    for (size_t i = 0; i < 40; i++)
        assert_false(sl_timer_armed(&t[i]));
    sl_timer_heap_fini(&h);
}

static struct sl_timer_heap *rearm_heap;
static int rearm_count;

static void rearm_now(struct sl_timer *t, void *arg)
{
    (void)arg;
    rearm_count++;
    sl_timer_set(rearm_heap, t, t->when_ms);
}

static void a_timer_rearmed_for_now_waits_for_the_next_run(void **state)
{
    struct sl_timer t;
    struct sl_timer_heap h;
    (void)state;

    sl_timer_heap_init(&h);
    rearm_heap = &h;
    rearm_count = 0;
    sl_timer_init(&t, rearm_now, NULL);
    sl_timer_set(&h, &t, 1);
    assert_int_equal(sl_timer_run(&h, 5), 1);
    assert_int_equal(sl_timer_run(&h, 5), 1);
    assert_int_equal(rearm_count, 2);
    sl_timer_heap_fini(&h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(timers_fire_in_deadline_order),
        cmocka_unit_test(stopped_and_moved_timers_keep_the_heap_ordered),
        cmocka_unit_test(a_timer_rearmed_for_now_waits_for_the_next_run),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
