#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "net/dlist.h"

struct item {
    int id;
    struct sl_dlink link; /* not first: the accessor must subtract the offset */
};

static struct item *item_of(struct sl_dlink *l)
{
    return l ? sl_dlist_entry(l, struct item, link) : NULL;
}

static void an_all_zero_list_is_empty(void **state)
{
    struct sl_dlist list = {0};
    (void)state;

    assert_true(sl_dlist_empty(&list));
    assert_null(sl_dlist_first(&list));
    assert_null(sl_dlist_last(&list));
    sl_dlist_init(&list);
    assert_true(sl_dlist_empty(&list));
    assert_int_equal(list.n, 0);
}

static void push_puts_the_newest_first_and_the_oldest_last(void **state)
{
    struct sl_dlist list;
    struct item v[3] = {{.id = 0}, {.id = 1}, {.id = 2}};
    int order[3], k = 0;
    (void)state;

    sl_dlist_init(&list);
    for (int i = 0; i < 3; i++)
        sl_dlist_push(&list, &v[i].link);
    assert_int_equal(list.n, 3);
    assert_ptr_equal(item_of(sl_dlist_first(&list)), &v[2]);
    assert_ptr_equal(item_of(sl_dlist_last(&list)), &v[0]);
    for (struct sl_dlink *l = sl_dlist_first(&list); l; l = l->next)
        order[k++] = item_of(l)->id;
    assert_int_equal(k, 3);
    assert_int_equal(order[0], 2);
    assert_int_equal(order[1], 1);
    assert_int_equal(order[2], 0);
}

static void unlink_works_at_the_head_the_middle_and_the_tail(void **state)
{
    struct sl_dlist list;
    struct item v[4];
    (void)state;

    sl_dlist_init(&list);
    for (int i = 0; i < 4; i++) {
        v[i].id = i;
        sl_dlist_push(&list, &v[i].link); /* list: 3 2 1 0 */
    }
    sl_dlist_unlink(&list, &v[2].link); /* middle */
    assert_null(v[2].link.prev);
    assert_null(v[2].link.next);
    assert_ptr_equal(v[3].link.next, &v[1].link);
    assert_ptr_equal(v[1].link.prev, &v[3].link);
    sl_dlist_unlink(&list, &v[3].link); /* head */
    assert_ptr_equal(item_of(sl_dlist_first(&list)), &v[1]);
    assert_null(v[1].link.prev);
    sl_dlist_unlink(&list, &v[0].link); /* tail */
    assert_ptr_equal(item_of(sl_dlist_last(&list)), &v[1]);
    assert_null(v[1].link.next);
    assert_int_equal(list.n, 1);
    sl_dlist_unlink(&list, &v[1].link); /* the only one */
    assert_true(sl_dlist_empty(&list));
    assert_null(sl_dlist_last(&list));
    assert_int_equal(list.n, 0);
    sl_dlist_push(&list, &v[2].link); /* an unlinked element can go back */
    assert_ptr_equal(item_of(sl_dlist_first(&list)), &v[2]);
    assert_ptr_equal(item_of(sl_dlist_last(&list)), &v[2]);
}

static void unlinking_while_walking_with_a_saved_next_visits_all(void **state)
{
    struct sl_dlist list;
    struct item v[5];
    int seen = 0;
    (void)state;

    sl_dlist_init(&list);
    for (int i = 0; i < 5; i++) {
        v[i].id = i;
        sl_dlist_push(&list, &v[i].link);
    }
    for (struct sl_dlink *l = sl_dlist_first(&list), *next; l; l = next) {
        next = l->next;
        if (item_of(l)->id % 2 == 0)
            sl_dlist_unlink(&list, l);
        seen++;
    }
    assert_int_equal(seen, 5);
    assert_int_equal(list.n, 2);
    assert_ptr_equal(item_of(sl_dlist_first(&list)), &v[3]);
    assert_ptr_equal(item_of(sl_dlist_last(&list)), &v[1]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(an_all_zero_list_is_empty),
        cmocka_unit_test(push_puts_the_newest_first_and_the_oldest_last),
        cmocka_unit_test(unlink_works_at_the_head_the_middle_and_the_tail),
        cmocka_unit_test(unlinking_while_walking_with_a_saved_next_visits_all),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
