/* The checker's schedule (checker_sched.h): a binary min-heap of backends
 * by next probe time, rebuilt from the lb's table when it changes. */
#include "checker_sched.h"

#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "backend_types.h"
#include "group.h"
#include "health.h"
#include "lb.h"
#include "strategy_util.h"

/* A table seen this long ago is read again even if its pointer did not
 * change (a freed table's address may come back for a new one). */
#define SCHED_REFRESH_NS 2000000000ull

static void sift_down(struct sl_sched *s, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        struct sl_sched_entry t;

        if (l < s->n && s->heap[l].due_ns < s->heap[m].due_ns)
            m = l;
        if (r < s->n && s->heap[r].due_ns < s->heap[m].due_ns)
            m = r;
        if (m == i)
            return;
        t = s->heap[i];
        s->heap[i] = s->heap[m];
        s->heap[m] = t;
        i = m;
    }
}

static int by_ptr(const void *a, const void *b)
{
    uintptr_t x = (uintptr_t)((const struct sl_sched_entry *)a)->b;
    uintptr_t y = (uintptr_t)((const struct sl_sched_entry *)b)->b;

    return x < y ? -1 : x > y;
}

/* The backends of every service, each with a reference (due times not
 * set). NULL when out of memory. */
static struct sl_sched_entry *collect(sluice_lb_t *lb, size_t *n, const void **table)
{
    struct sl_epoch_token tok;
    const struct sl_table *t;
    struct sl_sched_entry *es;
    size_t total = 0;

    sl_epoch_enter(&lb->epoch, &tok);
    t = atomic_load_explicit(&lb->table, memory_order_seq_cst);
    *table = t;
    for (size_t i = 0; i < t->n; i++)
        if (t->groups[i]->parent == NULL)
            total += t->groups[i]->n;
    es = malloc((total > 0 ? total : 1) * sizeof(*es));
    *n = 0;
    for (size_t i = 0; es != NULL && i < t->n; i++) {
        const struct sl_group *g = t->groups[i];

        /* Each service has its own backend objects: no duplicates. */
        for (size_t j = 0; g->parent == NULL && j < g->n; j++) {
            sl_backend_ref(g->backends[j]);
            es[(*n)++] = (struct sl_sched_entry){g->backends[j], 0};
        }
    }
    sl_epoch_exit(&lb->epoch, &tok);
    return es;
}

static uint64_t phase_ns(const struct sl_sched *s, const struct sluice_backend *b);

int sl_sched_refresh(struct sl_sched *s, sluice_lb_t *lb, uint64_t now_ns)
{
    const void *table = atomic_load_explicit(&lb->table, memory_order_acquire);
    struct sl_sched_entry *es;
    size_t n;

    if (table == s->table && now_ns - s->built_ns < SCHED_REFRESH_NS)
        return 0;
    es = collect(lb, &n, &table);
    if (es == NULL)
        return SLUICE_ERR_NOMEM;
    /* Kept backends keep their next time: a reload does not re-probe all. */
    if (s->n > 0)
        qsort(s->heap, s->n, sizeof(*s->heap), by_ptr);
    for (size_t i = 0; i < n; i++) {
        struct sl_sched_entry *old =
            s->n > 0 ? bsearch(&es[i], s->heap, s->n, sizeof(*s->heap), by_ptr) : NULL;

        es[i].due_ns = old != NULL ? old->due_ns : now_ns + phase_ns(s, es[i].b);
    }
    sl_sched_fini(s);
    s->heap = es;
    s->n = n;
    s->table = table;
    s->built_ns = now_ns;
    for (size_t i = n / 2; i-- > 0;)
        sift_down(s, i);
    return 0;
}

/* The probe settings of <b>'s service, or the checker's own when it has
 * none; *iv_ms and *down_ms its intervals. */
static void settings(const struct sl_sched *s, const struct sluice_backend *b,
                     struct sl_probe_spec *spec, uint32_t *iv_ms, uint32_t *down_ms)
{
    struct sl_score_cfg *c = b->score_cfg;

    memset(spec, 0, sizeof(*spec));
    pthread_mutex_lock(&c->cklock);
    if (c->check_set) {
        spec->kind = c->check.kind;
        *iv_ms = c->check.interval_ms;
        *down_ms = c->check.down_interval_ms;
        spec->timeout_ms = c->check.timeout_ms;
        spec->expect_lo = c->check.expect_lo;
        spec->expect_hi = c->check.expect_hi;
        memcpy(spec->path, c->path, sizeof(spec->path));
    } else {
        spec->kind = SLUICE_CHECK_TCP;
        *iv_ms = s->interval_ms;
        *down_ms = 0;
        spec->timeout_ms = s->timeout_ms;
    }
    pthread_mutex_unlock(&c->cklock);
    if (spec->timeout_ms == 0)
        spec->timeout_ms = *iv_ms;
    if (*down_ms == 0)
        *down_ms = *iv_ms / 2 > 0 ? *iv_ms / 2 : 1;
}

/* A new backend's first probe: at its own point of its service's
 * interval, so a service's probes spread over it. */
static uint64_t phase_ns(const struct sl_sched *s, const struct sluice_backend *b)
{
    struct sl_probe_spec spec;
    uint32_t iv_ms, down_ms;

    settings(s, b, &spec, &iv_ms, &down_ms);
    return sl_mix64((uint64_t)(uintptr_t)b) % ((uint64_t)iv_ms * 1000000u);
}

sluice_backend_t *sl_sched_take(struct sl_sched *s, uint64_t now_ns, struct sl_probe_spec *spec)
{
    struct sl_sched_entry *top = &s->heap[0];
    sluice_backend_t *b = top->b;
    uint32_t iv_ms, down_ms;
    uint64_t iv;

    settings(s, top->b, spec, &iv_ms, &down_ms);
    iv = (uint64_t)(sl_health_is_down(top->b) ? down_ms : iv_ms) * 1000000u;
    /* -5%..+5%: backends probed together drift apart. */
    top->due_ns =
        now_ns + iv - iv / 20 + sl_mix64(now_ns ^ (uint64_t)(uintptr_t)top->b) % (iv / 10 + 1);
    sift_down(s, 0);
    return b;
}

void sl_sched_fini(struct sl_sched *s)
{
    for (size_t i = 0; i < s->n; i++)
        sl_backend_unref(s->heap[i].b);
    free(s->heap);
    s->heap = NULL;
    s->n = 0;
}
