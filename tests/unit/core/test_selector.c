/* Label selector syntax and matching. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "backend.h"
#include "backend_types.h"
#include "selector.h"
#include "view.h"

static void check_accepts_and_refuses(void **state)
{
    static const char *const ok[] = {
        NULL,
        "",
        "  ",
        "a=b",
        "a!=b",
        "a",
        "!a",
        "version=v2,zone!=b",
        " a=b , c ",
        "a=",
        "k.x/y-z_1=v:1",
        "a,b,!c,d=e",
    };
    static const char *const bad[] = {
        ",",     "a,",   ",a",    "a,,b",  "=b",    "!=b",  "!",   "a==b",
        "a=b=c", "!a=b", "a b=c", "a=b c", "a = b", "k*=v", "a=@",
    };
    char err[64];
    (void)state;

    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
        assert_int_equal(sl_selector_check(ok[i], NULL, 0), 0);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err[0] = '\0';
        assert_int_equal(sl_selector_check(bad[i], err, sizeof(err)), SLUICE_ERR_INVALID_ARG);
        assert_true(err[0] != '\0');
        assert_int_equal(sl_selector_check(bad[i], NULL, 0), SLUICE_ERR_INVALID_ARG);
    }
}

static void match_table(void **state)
{
    static struct sl_label labels[] = {{"version", "v2"}, {"zone", "a"}};
    static const struct {
        const char *sel;
        bool with, without; /* backend with the labels, backend with none */
    } cases[] = {
        {"", true, true},
        {"version=v2", true, false},
        {"version=v1", false, false},
        {"version!=v1", true, true},
        {"version!=v2", false, true},
        {"zone", true, false},
        {"!zone", false, true},
        {"version=v2,zone=a", true, false},
        {"version=v2,zone=b", false, false},
        {"version=v2,!canary", true, false},
    };
    struct sluice_backend with, without;
    (void)state;

    memset(&with, 0, sizeof(with));
    memset(&without, 0, sizeof(without));
    with.labels = labels;
    with.nlabels = 2;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct sl_selector s;

        assert_int_equal(sl_selector_parse(cases[i].sel, &s, NULL, 0), 0);
        assert_int_equal(sl_selector_match(&s, &with), cases[i].with);
        assert_int_equal(sl_selector_match(&s, &without), cases[i].without);
        sl_selector_fini(&s);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(check_accepts_and_refuses),
        cmocka_unit_test(match_table),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
