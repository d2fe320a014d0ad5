/* sl_backend_listed(): whether any group still lists a backend, what the
 * proxies' pools ask to drop the connections of a backend a reload
 * replaced or removed. Views count like services; a carried-over backend
 * stays listed; a failed apply changes nothing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "apply.h"
#include "backend.h"
#include "sluice.h"

static const struct sl_label V1[] = {{"version", "v1"}};
static const struct sl_label V2[] = {{"version", "v2"}};

static struct sl_backend_spec be(const char *name, const char *target,
                                 const struct sl_label *labels)
{
    return (struct sl_backend_spec){
        .name = name, .target = target, .weight = 1, .labels = labels, .nlabels = 1};
}

/* The backend <name> of <service>, held by an extra reference (as a pooled
 * connection holds it), so it outlives the groups that list it. */
static sluice_backend_t *hold(sluice_lb_t *lb, const char *service, const char *name)
{
    for (int i = 0; i < 16; i++) {
        sluice_backend_t *b = sluice_lb_select(lb, service, NULL, 0);

        assert_non_null(b);
        if (strcmp(sluice_backend_name(b), name) == 0) {
            sl_backend_ref(b);
            sluice_backend_release(b, SLUICE_OUTCOME_OK, 1);
            return b;
        }
        sluice_backend_release(b, SLUICE_OUTCOME_OK, 1);
    }
    fail_msg("backend %s of %s never selected", name, service);
    return NULL;
}

static void a_replaced_backend_is_no_longer_listed(void **state)
{
    sluice_lb_t *lb = sluice_lb_new();
    struct sl_backend_spec v1[] = {be("a1", "127.0.0.1:3001", V1), be("a2", "127.0.0.1:3002", V2)};
    struct sl_backend_spec v2[] = {be("a1", "127.0.0.1:3001", V1), be("a2", "127.0.0.1:3002", V1)};
    struct sl_group_spec gs1[] = {{"api", SLUICE_ROUND_ROBIN, v1, 2}};
    struct sl_group_spec gs2[] = {{"api", SLUICE_ROUND_ROBIN, v2, 2}};
    struct sl_view_spec vs[] = {{"api/v2", "api", "version=v2"}};
    const char *rm[] = {"api"};
    const struct sl_apply_gone gone = {rm, 1, NULL, 0};
    sluice_backend_t *a1, *a2, *a2new;
    (void)state;

    assert_non_null(lb);
    assert_int_equal(sl_lb_apply(lb, gs1, 1, vs, 1, NULL, NULL, 0), 0);
    a1 = hold(lb, "api", "a1");
    a2 = hold(lb, "api/v2", "a2");
    assert_true(sl_backend_listed(a1));
    assert_true(sl_backend_listed(a2));

    /* A failing apply (a2 listed twice) changes nothing. */
    {
        struct sl_backend_spec bad[] = {be("a2", "127.0.0.1:3002", V1),
                                        be("a3", "127.0.0.1:3002", V1)};
        struct sl_group_spec gb[] = {{"api", SLUICE_ROUND_ROBIN, bad, 2}};

        assert_int_not_equal(sl_lb_apply(lb, gb, 1, NULL, 0, NULL, NULL, 0), 0);
        assert_true(sl_backend_listed(a1));
        assert_true(sl_backend_listed(a2));
    }

    /* a2's labels change: a new object; a1 is carried over. The old a2 was
     * in the service and in the view: both lists are gone once apply
     * returns (it waits the grace period and frees the old groups). */
    assert_int_equal(sl_lb_apply(lb, gs2, 1, NULL, 0, NULL, NULL, 0), 0);
    assert_true(sl_backend_listed(a1));
    assert_false(sl_backend_listed(a2));
    assert_int_equal(sluice_lb_backend_count(lb, "api/v2"), 0);
    a2new = hold(lb, "api", "a2");
    assert_ptr_not_equal(a2new, a2);
    assert_true(sl_backend_listed(a2new));
    /* Still a readable object: the extra reference keeps it. */
    assert_string_equal(sluice_backend_name(a2), "a2");

    /* Removing the service unlists everything it held. */
    assert_int_equal(sl_lb_apply(lb, NULL, 0, NULL, 0, &gone, NULL, 0), 0);
    assert_false(sl_backend_listed(a1));
    assert_false(sl_backend_listed(a2new));

    sl_backend_unref(a1);
    sl_backend_unref(a2);
    sl_backend_unref(a2new);
    sluice_lb_free(lb);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_replaced_backend_is_no_longer_listed),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
