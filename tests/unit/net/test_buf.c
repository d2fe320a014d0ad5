#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "net/buf.h"

static void freed_buffers_are_reused(void **state)
{
    struct sl_buf_pool p;
    struct sl_buf *a, *b;
    (void)state;

    sl_buf_pool_init(&p, 1024, 4);
    a = sl_buf_get(&p);
    assert_non_null(a);
    assert_int_equal(a->cap, 1024);
    a->end = 10;
    sl_buf_put(&p, a);
    b = sl_buf_get(&p);
    assert_ptr_equal(a, b);
    assert_int_equal(sl_buf_len(b), 0);
    assert_int_equal(p.out, 1);
    sl_buf_put(&p, b);
    sl_buf_put(&p, NULL);
    assert_int_equal(p.out, 0);
    sl_buf_pool_fini(&p);
}

static void the_pool_keeps_at_most_keep_buffers(void **state)
{
    struct sl_buf_pool p;
    struct sl_buf *v[10];
    (void)state;

    sl_buf_pool_init(&p, 64, 3);
    for (size_t i = 0; i < 10; i++)
        v[i] = sl_buf_get(&p);
    for (size_t i = 0; i < 10; i++)
        sl_buf_put(&p, v[i]);
    assert_int_equal(p.nfree, 3);
    sl_buf_pool_fini(&p);
    assert_int_equal(p.nfree, 0);
}

static void compact_moves_live_bytes_to_the_front(void **state)
{
    struct sl_buf_pool p;
    struct sl_buf *b;
    (void)state;

    sl_buf_pool_init(&p, 64, 1);
    b = sl_buf_get(&p);
    memcpy(b->data, "xxxxhello", 9);
    b->start = 4;
    b->end = 9;
    sl_buf_compact(b);
    assert_int_equal(b->start, 0);
    assert_int_equal(sl_buf_len(b), 5);
    assert_memory_equal(b->data, "hello", 5);
    assert_int_equal(sl_buf_room(b), 59);
    sl_buf_put(&p, b);
    sl_buf_pool_fini(&p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(freed_buffers_are_reused),
        cmocka_unit_test(the_pool_keeps_at_most_keep_buffers),
        cmocka_unit_test(compact_moves_live_bytes_to_the_front),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
