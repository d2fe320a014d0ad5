#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "net/freelist.h"

enum { DEAD = 7 };

struct conn {
    int phase; /* read by callers after the struct went back */
    char payload[40];
    struct sl_freelink spare; /* deliberately not first */
    uint64_t tail;
};

static void a_given_back_struct_is_handed_out_again(void **state)
{
    struct sl_freelist fl = SL_FREELIST_INIT(struct conn, spare);
    struct conn *a, *b;
    (void)state;

    a = sl_freelist_get(&fl);
    assert_non_null(a);
    assert_int_equal(fl.n, 0);
    sl_freelist_put(&fl, a);
    assert_int_equal(fl.n, 1);
    b = sl_freelist_get(&fl);
    assert_ptr_equal(a, b);
    assert_int_equal(fl.n, 0);
    sl_freelist_put(&fl, b);
    sl_freelist_fini(&fl);
    assert_int_equal(fl.n, 0);
    assert_null(fl.head);
}

static void put_writes_only_the_link_field(void **state)
{
    struct sl_freelist fl = SL_FREELIST_INIT(struct conn, spare);
    struct conn *a = sl_freelist_get(&fl), *b = sl_freelist_get(&fl);
    (void)state;

    assert_non_null(a);
    assert_non_null(b);
    a->phase = b->phase = DEAD;
    memset(a->payload, 'a', sizeof(a->payload));
    memset(b->payload, 'b', sizeof(b->payload));
    a->tail = b->tail = 42;
    sl_freelist_put(&fl, a);
    sl_freelist_put(&fl, b); /* b's link now points at a */
    assert_int_equal(a->phase, DEAD);
    assert_int_equal(b->phase, DEAD);
    for (size_t i = 0; i < sizeof(a->payload); i++) {
        assert_int_equal(a->payload[i], 'a');
        assert_int_equal(b->payload[i], 'b');
    }
    assert_int_equal(a->tail, 42);
    assert_int_equal(b->tail, 42);
    /* Last in, first out: the warmest struct is reused first. */
    assert_ptr_equal(sl_freelist_get(&fl), b);
    assert_ptr_equal(sl_freelist_get(&fl), a);
    free(a);
    free(b);
}

static void get_zeroed_clears_a_reused_struct(void **state)
{
    struct sl_freelist fl = SL_FREELIST_INIT(struct conn, spare);
    struct conn *a = sl_freelist_get(&fl), *b;
    (void)state;

    assert_non_null(a);
    memset(a, 0xff, sizeof(*a));
    sl_freelist_put(&fl, a);
    b = sl_freelist_get_zeroed(&fl);
    assert_ptr_equal(a, b);
    assert_int_equal(b->phase, 0);
    assert_int_equal(b->tail, 0);
    assert_null(b->spare.next);
    for (size_t i = 0; i < sizeof(b->payload); i++)
        assert_int_equal(b->payload[i], 0);
    sl_freelist_put(&fl, b);
    sl_freelist_fini(&fl);
}

static void trim_keeps_at_most_keep_spares(void **state)
{
    struct sl_freelist fl = SL_FREELIST_INIT(struct conn, spare);
    struct conn *v[10];
    (void)state;

    for (size_t i = 0; i < 10; i++) {
        v[i] = sl_freelist_get(&fl);
        assert_non_null(v[i]);
    }
    for (size_t i = 0; i < 10; i++)
        sl_freelist_put(&fl, v[i]);
    assert_int_equal(fl.n, 10);
    sl_freelist_trim(&fl, 20); /* under the cap: nothing freed */
    assert_int_equal(fl.n, 10);
    sl_freelist_trim(&fl, 3);
    assert_int_equal(fl.n, 3);
    /* The oldest spares survive (the newest went first), still linked. */
    for (size_t i = 3; i > 0; i--)
        assert_ptr_equal(sl_freelist_get(&fl), v[i - 1]);
    assert_int_equal(fl.n, 0);
    for (size_t i = 0; i < 3; i++)
        sl_freelist_put(&fl, v[i]);
    sl_freelist_fini(&fl);
    assert_int_equal(fl.n, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_given_back_struct_is_handed_out_again),
        cmocka_unit_test(put_writes_only_the_link_field),
        cmocka_unit_test(get_zeroed_clears_a_reused_struct),
        cmocka_unit_test(trim_keeps_at_most_keep_spares),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
