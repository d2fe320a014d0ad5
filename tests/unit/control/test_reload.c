/* Apply, router build and reload through sl_control: state of staying backends is
 * kept, removed services disappear, views follow labels, the table is
 * sorted and published, and old tables are released only once every
 * (fake) worker has moved on. */
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

#include "cfgdir.h"
#include "control/control.h"

static struct sl_control *open_cfg(const char *text)
{
    struct sl_control *c = NULL;
    struct sl_diag d;

    write_cfg(text);
    sl_diag_init(&d);
    int rc = sl_control_open(path, &c, &d);

    for (size_t i = 0; i < d.n; i++)
        print_message("  diag: %s\n", d.msgs[i]);
    assert_int_equal(rc, 0);
    sl_diag_fini(&d);
    return c;
}

static int reload_cfg(struct sl_control *c, const char *text, struct sl_diag *d)
{
    write_cfg(text);
    return sl_control_reload(c, d);
}

static int32_t score_of(sluice_lb_t *lb, const char *svc, const char *name, uint32_t *weight)
{
    sluice_group_snapshot_t s;
    int32_t score = INT32_MIN;

    if (sluice_lb_snapshot(lb, svc, &s) != 0)
        return INT32_MIN;
    for (size_t i = 0; i < s.n; i++)
        if (strcmp(s.backends[i].name, name) == 0) {
            score = s.backends[i].score;
            if (weight != NULL)
                *weight = s.backends[i].weight;
        }
    sluice_group_snapshot_free(&s);
    return score;
}

#define LISTEN "workers: 2\nlisteners:\n  - {name: web, bind: \"127.0.0.1:18999\"}\n"
#define ROUTE  "endpoints:\n  - pattern: /\n    routes: [{service: app}]\n"

static void reload_keeps_backend_score(void **state)
{
    (void)state;
    struct sl_control *c = open_cfg(LISTEN "services:\n  app:\n    backends:\n"
                                           "      - {name: a, target: \"127.0.0.1:9001\"}\n"
                                           "      - {name: b, target: \"127.0.0.1:9002\"}\n" ROUTE);
    sluice_lb_t *lb = sl_control_lb(c);
    struct sl_diag d;
    uint32_t w = 0;

    assert_int_equal(sl_control_workers(c), 2);
    assert_int_equal(sluice_lb_mark_health(lb, "app", "a", false), 0);
    assert_int_equal(score_of(lb, "app", "a", NULL), -3);
    sl_diag_init(&d);
    /* b goes, c comes, a stays with a new weight. */
    assert_int_equal(reload_cfg(c,
                                LISTEN "services:\n  app:\n    backends:\n"
                                       "      - {name: a, target: \"127.0.0.1:9001\", weight: 5}\n"
                                       "      - {name: c, target: \"127.0.0.1:9003\"}\n" ROUTE,
                                &d),
                     0);
    assert_int_equal(d.n, 0);
    assert_int_equal(score_of(lb, "app", "a", &w), -3);
    assert_int_equal(w, 5);
    assert_int_equal(score_of(lb, "app", "b", NULL), INT32_MIN);
    assert_int_equal(score_of(lb, "app", "c", NULL), 1);
    /* A changed target is a new backend: fresh score. */
    assert_int_equal(reload_cfg(c,
                                LISTEN "services:\n  app:\n    backends:\n"
                                       "      - {name: a, target: \"127.0.0.1:9011\"}\n" ROUTE,
                                &d),
                     0);
    assert_int_equal(score_of(lb, "app", "a", NULL), 1);
    sl_diag_fini(&d);
    sl_control_close(c);
}

/* The configured initial score holds for the backends the same load
 * creates (slow start with initial < 0), at start and on a reload. */
static void new_backends_start_at_the_configured_score(void **state)
{
    (void)state;
    struct sl_control *c = open_cfg(LISTEN "services:\n  app:\n"
                                           "    health: {score: {initial: -1, low: -3}}\n"
                                           "    backends:\n"
                                           "      - {name: a, target: \"127.0.0.1:9001\"}\n" ROUTE);
    sluice_lb_t *lb = sl_control_lb(c);
    struct sl_diag d;

    assert_int_equal(score_of(lb, "app", "a", NULL), -1);
    sl_diag_init(&d);
    assert_int_equal(reload_cfg(c,
                                LISTEN "services:\n  app:\n"
                                       "    health: {score: {initial: 2, high: 4}}\n"
                                       "    backends:\n"
                                       "      - {name: a, target: \"127.0.0.1:9001\"}\n"
                                       "      - {name: b, target: \"127.0.0.1:9002\"}\n" ROUTE,
                                &d),
                     0);
    assert_int_equal(score_of(lb, "app", "a", NULL), -1); /* kept */
    assert_int_equal(score_of(lb, "app", "b", NULL), 2);
    sl_diag_fini(&d);
    sl_control_close(c);
}

static void invalid_reload_changes_nothing(void **state)
{
    (void)state;
    struct sl_control *c = open_cfg(LISTEN "services:\n  app:\n    backends:\n"
                                           "      - {name: a, target: \"127.0.0.1:9001\"}\n" ROUTE);
    struct sl_router_slot *s = sl_control_slot(c);
    struct sl_router *before = atomic_load(&s->cur);
    struct sl_diag d;

    sl_diag_init(&d);
    assert_int_equal(reload_cfg(c, LISTEN "services:\n  app:\n    bogus: 1\n" ROUTE, &d),
                     SLUICE_ERR_CONFIG);
    assert_true(sl_diag_errors(&d) > 0);
    assert_ptr_equal(atomic_load(&s->cur), before);
    assert_int_equal(sluice_lb_backend_count(sl_control_lb(c), "app"), 1);
    sl_diag_fini(&d);
    sl_control_close(c);
}

static void removed_service_disappears(void **state)
{
    (void)state;
    struct sl_control *c = open_cfg(LISTEN "services:\n  app:\n    backends:\n"
                                           "      - {name: a, target: \"127.0.0.1:9001\"}\n"
                                           "  old:\n    backends:\n"
                                           "      - {name: o, target: \"127.0.0.1:9005\"}\n" ROUTE);
    sluice_lb_t *lb = sl_control_lb(c);
    sluice_group_snapshot_t snap;
    struct sl_diag d;

    assert_int_equal(sluice_lb_backend_count(lb, "old"), 1);
    sl_diag_init(&d);
    /* The name "o" moves to app in the same reload. */
    assert_int_equal(reload_cfg(c,
                                LISTEN "services:\n  app:\n    strategy: random\n"
                                       "    backends:\n"
                                       "      - {name: a, target: \"127.0.0.1:9001\"}\n"
                                       "      - {name: o, target: \"127.0.0.1:9005\"}\n" ROUTE,
                                &d),
                     0);
    assert_int_equal(sluice_lb_snapshot(lb, "old", &snap), SLUICE_ERR_UNKNOWN_SERVICE);
    assert_int_equal(sluice_lb_snapshot(lb, "app", &snap), 0);
    assert_int_equal(snap.strategy, SLUICE_RANDOM);
    assert_int_equal(snap.n, 2);
    sluice_group_snapshot_free(&snap);
    sl_diag_fini(&d);
    sl_control_close(c);
}

/* Opens <from> into *<c>, holds its table as a request running on it does,
 * and reloads <to>. Returns the held table. */
static struct sl_router *reload_holding(const char *from, const char *to, struct sl_control **c)
{
    struct sl_router *held;
    struct sl_diag d;

    *c = open_cfg(from);
    held = atomic_load(&sl_control_slot(*c)->cur);
    sl_router_acquire(held);
    sl_diag_init(&d);
    assert_int_equal(reload_cfg(*c, to, &d), 0);
    sl_diag_fini(&d);
    return held;
}

#define OLD_CFG(routes)                                      \
    LISTEN "services:\n  app:\n    backends:\n"              \
           "      - {name: a, target: \"127.0.0.1:9001\"}\n" \
           "  old:\n    backends:\n"                         \
           "      - {name: o, target: \"127.0.0.1:9005\"}\n" \
           "endpoints:\n  - pattern: /\n    routes: [" routes "]\n"

/* A request still running on the old table may retry on a service the
 * reload removed: the service stays until that table is let go. */
static void removed_service_outlives_requests_on_old_tables(void **state)
{
    (void)state;
    struct sl_control *c;
    struct sl_router *inflight =
        reload_holding(OLD_CFG("{service: old}"),
                       LISTEN "services:\n  app:\n    backends:\n"
                              "      - {name: a, target: \"127.0.0.1:9001\"}\n" ROUTE,
                       &c);
    sluice_lb_t *lb = sl_control_lb(c);

    assert_int_equal(sluice_lb_backend_count(lb, "old"), 1);
    sl_control_tick(c, 1);
    assert_int_equal(sluice_lb_backend_count(lb, "old"), 1);
    sl_router_release(inflight);
    sl_control_tick(c, 2);
    assert_int_equal(sluice_lb_backend_count(lb, "old"), 0);
    sl_control_close(c);
}

/* The same, when a backend name of the vanishing service moves to another
 * one (issue 13, defect 5): the old table must still find the service. */
static void moved_name_keeps_its_old_service_for_old_tables(void **state)
{
    (void)state;
    struct sl_control *c;
    struct sl_router *inflight =
        reload_holding(OLD_CFG("{service: app}, {service: old}"),
                       LISTEN "services:\n  app:\n    backends:\n"
                              "      - {name: a, target: \"127.0.0.1:9001\"}\n"
                              "      - {name: o, target: \"127.0.0.1:9005\"}\n" ROUTE,
                       &c);
    sluice_lb_t *lb = sl_control_lb(c);
    sluice_backend_t *b;

    assert_int_equal(sluice_lb_backend_count(lb, "app"), 2);
    b = sluice_lb_select(lb, "old", NULL, 0);
    assert_non_null(b);
    assert_string_equal(sluice_backend_name(b), "o");
    sluice_backend_release(b, SLUICE_OUTCOME_OK, 1);
    sl_router_release(inflight);
    sl_control_tick(c, 2);
    assert_int_equal(sluice_lb_backend_count(lb, "old"), 0);
    sl_control_close(c);
}

#define LABEL_CFG(v)                                                                 \
    LISTEN "services:\n  app:\n    backends:\n"                                      \
           "      - {name: a, target: \"127.0.0.1:9001\", labels: {v: \"" v "\"}}\n" \
           "endpoints:\n  - pattern: /\n    routes: [{service: app, selector: \"v=" v "\"}]\n"

/* A label and selector change: the old table's view keeps its backend
 * until that table is let go, instead of turning empty (a 503). */
static void old_view_keeps_its_backends_for_old_tables(void **state)
{
    (void)state;
    struct sl_control *c;
    struct sl_router *inflight = reload_holding(LABEL_CFG("1"), LABEL_CFG("2"), &c);
    sluice_lb_t *lb = sl_control_lb(c);
    struct sl_diag d;

    assert_int_equal(sluice_lb_backend_count(lb, "app\x1fv=1"), 1);
    assert_int_equal(sluice_lb_backend_count(lb, "app\x1fv=2"), 1);
    /* Back to v=1 while the first table still runs: an ordinary view again. */
    sl_diag_init(&d);
    assert_int_equal(reload_cfg(c, LABEL_CFG("1"), &d), 0);
    sl_diag_fini(&d);
    assert_int_equal(sluice_lb_backend_count(lb, "app\x1fv=1"), 1);
    sl_router_release(inflight);
    sl_control_tick(c, 2);
    assert_int_equal(sluice_lb_backend_count(lb, "app\x1fv=2"), 0);
    assert_int_equal(sluice_lb_backend_count(lb, "app\x1fv=1"), 1);
    sl_control_close(c);
}

/* Which backend names the group <g> yields over 40 selections. */
static unsigned picks(sluice_lb_t *lb, const char *g)
{
    unsigned mask = 0;

    for (int i = 0; i < 40; i++) {
        sluice_backend_t *b = sluice_lb_select(lb, g, NULL, 0);

        if (b == NULL)
            continue;
        mask |= 1u << (sluice_backend_name(b)[0] - 'a');
        sluice_backend_release(b, SLUICE_OUTCOME_NEUTRAL, 0);
    }
    return mask;
}

#define VIEWS_CFG(blabel)                                                                   \
    LISTEN "services:\n  app:\n    backends:\n"                                             \
           "      - {name: a, target: \"127.0.0.1:9001\", labels: {version: v1}}\n"         \
           "      - {name: b, target: \"127.0.0.1:9002\", labels: {version: " blabel "}}\n" \
           "endpoints:\n  - pattern: /\n    routes:\n"                                      \
           "      - {service: app, selector: \"version=v1\", weight: 3}\n"                  \
           "      - {service: app, selector: \"version=v2\", weight: 1}\n"                  \
           "  - pattern: \"*.example.com\"\n    routes: [{service: app}]\n"                 \
           "  - pattern: example.com/api\n    routes: [{service: app}]\n"                   \
           "  - pattern: /api\n    routes: [{service: app}]\n"

static void views_follow_labels(void **state)
{
    (void)state;
    struct sl_control *c = open_cfg(VIEWS_CFG("v1"));
    sluice_lb_t *lb = sl_control_lb(c);
    struct sl_router *r = atomic_load(&sl_control_slot(c)->cur);
    struct sl_diag d;

    /* The table: sorted most specific first, routes on their views. */
    assert_int_equal(r->nendpoints, 4);
    assert_string_equal(r->endpoints[0].pattern, "example.com/api");
    assert_string_equal(r->endpoints[1].pattern, "*.example.com");
    assert_string_equal(r->endpoints[2].pattern, "/api");
    assert_string_equal(r->endpoints[3].pattern, "/");
    const struct sl_endpoint *e = &r->endpoints[3];

    assert_int_equal(e->total_weight, 4);
    assert_string_equal(e->routes[0].group, "app\x1fversion=v1");
    assert_int_equal(e->routes[1].cum_weight, 4);
    assert_string_equal(e->routes[1].svc->name, "app");
    assert_string_equal(r->endpoints[0].routes[0].group, "app");
    assert_int_equal(r->nlisteners, 1);
    assert_string_equal(r->listeners[0].bind, "127.0.0.1:18999");

    assert_int_equal(picks(lb, "app\x1fversion=v1"), 3u); /* a and b */
    assert_int_equal(picks(lb, "app\x1fversion=v2"), 0u);
    sluice_lb_mark_health(lb, "app", "b", false);
    sl_diag_init(&d);
    assert_int_equal(reload_cfg(c, VIEWS_CFG("v2"), &d), 0);
    assert_int_equal(picks(lb, "app\x1fversion=v1"), 1u);
    /* b was re-created for its new labels: usable again. */
    assert_int_equal(picks(lb, "app\x1fversion=v2"), 2u);
    /* Views no route uses are pruned. */
    assert_int_equal(reload_cfg(c,
                                LISTEN "services:\n  app:\n    backends:\n"
                                       "      - {name: a, target: \"127.0.0.1:9001\"}\n" ROUTE,
                                &d),
                     0);
    assert_null(sluice_lb_select(lb, "app\x1fversion=v1", NULL, 0));
    sl_diag_fini(&d);
    sl_control_close(c);
}

static struct sl_router *mine[2];
static uint64_t mine_gen[2];
static size_t nsync; /* how many fake workers the notify hook syncs */

static void sync_workers(void *arg)
{
    struct sl_router_slot *s = arg;

    for (size_t i = 0; i < nsync; i++)
        sl_router_sync(s, i, &mine[i], &mine_gen[i]);
}

static void publish_sync_quiesce(void **state)
{
    (void)state;
    struct sl_control *c = open_cfg(LISTEN "services:\n  app:\n    backends:\n"
                                           "      - {name: a, target: \"127.0.0.1:9001\"}\n" ROUTE);
    struct sl_router_slot *s = sl_control_slot(c);
    struct sl_diag d;

    sl_diag_init(&d);
    sl_control_set_workers(c, 2);
    sl_control_set_notify(c, sync_workers, s);
    sl_control_set_quiesce_ms(c, 20);
    nsync = 2;
    sync_workers(s);
    assert_int_equal(mine_gen[0], 1);
    struct sl_router *first = mine[1];

    /* Both workers sync when woken: the old table goes at once. */
    assert_int_equal(reload_cfg(c,
                                LISTEN "drain_timeout: 1s\nservices:\n  app:\n    backends:\n"
                                       "      - {name: a, target: \"127.0.0.1:9001\"}\n" ROUTE,
                                &d),
                     0);
    assert_int_equal(sl_control_drain_timeout_ms(c), 1000);
    assert_int_equal(mine_gen[0], 2);
    assert_ptr_equal(mine[0], mine[1]);
    assert_ptr_not_equal(mine[0], first);
    assert_int_equal(atomic_load(&mine[0]->refs), 3); /* the slot and two workers */
    assert_int_equal(sl_control_pending(c), 0);

    /* Worker 1 is stuck: the old table is parked, not freed. */
    nsync = 1;
    struct sl_router *second = mine[1];

    assert_int_equal(reload_cfg(c,
                                LISTEN "services:\n  app:\n    backends:\n"
                                       "      - {name: a, target: \"127.0.0.1:9001\"}\n" ROUTE,
                                &d),
                     0);
    assert_int_equal(sl_control_pending(c), 1);
    assert_int_equal(atomic_load(&second->refs), 2); /* parked + worker 1 */
    sl_router_sync(s, 1, &mine[1], &mine_gen[1]);    /* worker 1 wakes up */
    assert_int_equal(atomic_load(&second->refs), 1);
    nsync = 2;
    /* A listener change is a warning and the rest applies; the parked
     * table goes at this reload. */
    assert_int_equal(reload_cfg(c,
                                "listeners:\n  - {name: web, bind: \"127.0.0.1:18998\"}\n"
                                "services:\n  app:\n    backends:\n"
                                "      - {name: a, target: \"127.0.0.1:9001\"}\n" ROUTE,
                                &d),
                     0);
    assert_int_equal(sl_control_pending(c), 0);
    assert_int_equal(d.n, 1);
    assert_true(sl_diag_is_warning(d.msgs[0]));
    assert_non_null(strstr(d.msgs[0], "listener web: bind or mode changed"));
    assert_string_equal(mine[0]->listeners[0].bind, "127.0.0.1:18999"); /* still running */
    assert_int_equal(sl_control_workers(c) >= 1, 1);

    for (size_t i = 0; i < 2; i++) {
        sl_router_release(mine[i]);
        mine[i] = NULL;
        mine_gen[i] = 0;
    }
    sl_diag_fini(&d);
    sl_control_close(c);
}

/* Everything a reload could touch, as text. */
static void dump(sluice_lb_t *lb, char *out, size_t len)
{
    static const char *const groups[] = {"api", "api\x1fv=2"};
    size_t off = 0;

    for (size_t g = 0; g < 2; g++) {
        sluice_group_snapshot_t s;

        if (sluice_lb_snapshot(lb, groups[g], &s) != 0)
            continue;
        off += (size_t)snprintf(out + off, len - off, "%zu %d:", g, (int)s.strategy);
        for (size_t i = 0; i < s.n; i++)
            off += (size_t)snprintf(out + off, len - off, " %s %s %d %u %u", s.backends[i].name,
                                    s.backends[i].target, s.backends[i].score,
                                    s.backends[i].failures, s.backends[i].weight);
        sluice_group_snapshot_free(&s);
        assert_true(off < len);
    }
}

#define API_ROUTES "endpoints:\n  - pattern: /\n    routes: [{service: api, selector: \"v=2\"}]\n"

/* The reviewer's case: "10.9.9.9" and "10.9.9.9:80" are one address. */
static void duplicate_canonical_target_fails_cleanly(void **state)
{
    (void)state;
    struct sl_control *c = open_cfg(
        LISTEN "services:\n  api:\n    health: {check: none}\n    backends:\n"
               "      - {name: b1, target: 127.0.0.1:18081, labels: {v: \"1\"}}\n"
               "      - {name: b2, target: 127.0.0.1:18082, labels: {v: \"2\"}}\n" API_ROUTES);
    sluice_lb_t *lb = sl_control_lb(c);
    struct sl_router *before_table = atomic_load(&sl_control_slot(c)->cur);
    char before[1024] = "", after[1024] = "";
    struct sl_diag d;

    assert_int_equal(sluice_lb_down(lb, "api", "b2"), 0);
    assert_int_equal(sluice_lb_down(lb, "api", "b2"), 0);
    dump(lb, before, sizeof(before));
    sl_diag_init(&d);
    assert_int_equal(reload_cfg(c,
                                LISTEN
                                "services:\n  api:\n    health: {check: none}\n    backends:\n"
                                "      - {name: b1, target: 127.0.0.1:18081, labels: {v: \"2\"}}\n"
                                "      - {name: b2, target: 127.0.0.1:18082}\n"
                                "      - {name: b3, target: \"10.9.9.9\"}\n"
                                "      - {name: b4, target: \"10.9.9.9:80\"}\n" API_ROUTES,
                                &d),
                     SLUICE_ERR_CONFIG);
    assert_true(sl_diag_errors(&d) > 0);
    sl_diag_fini(&d);
    dump(lb, after, sizeof(after));
    assert_string_equal(before, after);
    assert_ptr_equal(atomic_load(&sl_control_slot(c)->cur), before_table);
    sl_control_close(c);
}

struct reader {
    sluice_lb_t *lb;
    atomic_bool stop;
    atomic_ulong nulls;
};

static void *select_loop(void *arg)
{
    struct reader *r = arg;

    while (!atomic_load(&r->stop)) {
        sluice_backend_t *b = sluice_lb_select(r->lb, "api", NULL, 0);
        sluice_backend_t *v = sluice_lb_select(r->lb, "api\x1fv=2", NULL, 0);

        if (b == NULL || v == NULL)
            atomic_fetch_add(&r->nulls, 1);
        if (b != NULL)
            sluice_backend_release(b, SLUICE_OUTCOME_OK, 1);
        if (v != NULL)
            sluice_backend_release(v, SLUICE_OUTCOME_OK, 1);
    }
    return NULL;
}

/* A strategy or label change used to re-register the service empty and add
 * backends one by one: selects in between got nothing. */
static void reload_never_exposes_an_empty_service(void **state)
{
    static const char *const strategies[] = {"least_connections", "round_robin", "maglev"};
    (void)state;
    struct sl_control *c = open_cfg(
        LISTEN "services:\n  api:\n    backends:\n"
               "      - {name: b1, target: 127.0.0.1:18081, labels: {v: \"2\"}}\n"
               "      - {name: b2, target: 127.0.0.1:18082, labels: {v: \"2\"}}\n" API_ROUTES);
    struct reader r = {.lb = sl_control_lb(c)};
    char text[1024];
    pthread_t th;

    atomic_init(&r.stop, false);
    atomic_init(&r.nulls, 0);
    sluice_backend_t *held = sluice_lb_select(r.lb, "api", NULL, 0);

    assert_non_null(held);
    assert_int_equal(pthread_create(&th, NULL, select_loop, &r), 0);
    for (int i = 0; i < 60; i++) {
        struct sl_diag d;

        snprintf(text, sizeof(text),
                 LISTEN
                 "services:\n  api:\n    strategy: %s\n    backends:\n"
                 "      - {name: b1, target: 127.0.0.1:18081, labels: {v: \"2\"}}\n"
                 "      - {name: b2, target: 127.0.0.1:18082, labels: {v: \"%s\"}}\n"
                 "      - {name: b3, target: 127.0.0.1:18083, labels: {v: \"2\"}}\n" API_ROUTES,
                 strategies[i % 3], i % 2 == 0 ? "2" : "1");
        sl_diag_init(&d);
        assert_int_equal(reload_cfg(c, text, &d), 0);
        sl_diag_fini(&d);
    }
    atomic_store(&r.stop, true);
    pthread_join(th, NULL);
    assert_int_equal(atomic_load(&r.nulls), 0);
    /* The held backend stayed through every strategy change: same object. */
    {
        sluice_group_snapshot_t s;

        assert_int_equal(sluice_lb_snapshot(r.lb, "api", &s), 0);
        assert_int_equal(s.n, 3);
        for (size_t i = 0; i < s.n; i++)
            assert_int_equal(s.backends[i].active,
                             strcmp(s.backends[i].name, sluice_backend_name(held)) == 0);
        sluice_group_snapshot_free(&s);
    }
    sluice_backend_release(held, SLUICE_OUTCOME_OK, 1);
    sl_control_close(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(reload_keeps_backend_score, setup, teardown),
        cmocka_unit_test_setup_teardown(invalid_reload_changes_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(new_backends_start_at_the_configured_score, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(removed_service_disappears, setup, teardown),
        cmocka_unit_test_setup_teardown(views_follow_labels, setup, teardown),
        cmocka_unit_test_setup_teardown(publish_sync_quiesce, setup, teardown),
        cmocka_unit_test_setup_teardown(duplicate_canonical_target_fails_cleanly, setup, teardown),
        cmocka_unit_test_setup_teardown(moved_name_keeps_its_old_service_for_old_tables, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(old_view_keeps_its_backends_for_old_tables, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(removed_service_outlives_requests_on_old_tables, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(reload_never_exposes_an_empty_service, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
