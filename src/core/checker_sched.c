/* The checker's schedule (checker_sched.h): a min-heap of backends by next
 * probe time per service, services taking turns for the probe slots,
 * rebuilt from the lb's table when it changes. */
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

static void sift_down(struct sl_sched_entry *h, size_t n, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        struct sl_sched_entry t;

        if (l < n && h[l].due_ns < h[m].due_ns)
            m = l;
        if (r < n && h[r].due_ns < h[m].due_ns)
            m = r;
        if (m == i)
            return;
        t = h[i];
        h[i] = h[m];
        h[m] = t;
        i = m;
    }
}

/* The first due time of service <i>. */
static uint64_t svc_due(const struct sl_sched *s, uint32_t i)
{
    return s->svcs[i].heap[0].due_ns;
}

static void wait_swap(struct sl_sched *s, size_t a, size_t b)
{
    uint32_t t = s->wait[a];

    s->wait[a] = s->wait[b];
    s->wait[b] = t;
}

static void wait_down(struct sl_sched *s, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;

        if (l < s->nwait && svc_due(s, s->wait[l]) < svc_due(s, s->wait[m]))
            m = l;
        if (r < s->nwait && svc_due(s, s->wait[r]) < svc_due(s, s->wait[m]))
            m = r;
        if (m == i)
            return;
        wait_swap(s, i, m);
        i = m;
    }
}

static void wait_push(struct sl_sched *s, uint32_t svc)
{
    size_t i = s->nwait++;

    s->wait[i] = svc;
    while (i > 0 && svc_due(s, s->wait[(i - 1) / 2]) > svc_due(s, s->wait[i])) {
        wait_swap(s, i, (i - 1) / 2);
        i = (i - 1) / 2;
    }
}

static void ready_push(struct sl_sched *s, uint32_t svc)
{
    s->ready[(s->rhead + s->rlen++) % s->nsvc] = svc;
}

static uint32_t ready_pop(struct sl_sched *s)
{
    uint32_t svc = s->ready[s->rhead];

    s->rhead = (s->rhead + 1) % s->nsvc;
    s->rlen--;
    return svc;
}

/* Service <svc> (in neither queue) goes where its first due time says. */
static void requeue(struct sl_sched *s, uint32_t svc, uint64_t now_ns)
{
    if (svc_due(s, svc) <= now_ns)
        ready_push(s, svc);
    else
        wait_push(s, svc);
}

static int by_ptr(const void *a, const void *b)
{
    uintptr_t x = (uintptr_t)((const struct sl_sched_entry *)a)->b;
    uintptr_t y = (uintptr_t)((const struct sl_sched_entry *)b)->b;

    return x < y ? -1 : x > y;
}

static int by_key(const void *a, const void *b)
{
    uintptr_t x = (uintptr_t)((const struct sl_sched_svc *)a)->key;
    uintptr_t y = (uintptr_t)((const struct sl_sched_svc *)b)->key;

    return x < y ? -1 : x > y;
}

/* The backends of every service, each with a reference (due times not
 * set), and one service entry per group with backends. False when out of
 * memory (nothing kept). */
static bool collect(sluice_lb_t *lb, struct sl_sched *out)
{
    struct sl_epoch_token tok;
    const struct sl_table *t;
    size_t total = 0, groups = 0;
    bool ok;

    memset(out, 0, sizeof(*out));
    sl_epoch_enter(&lb->epoch, &tok);
    t = atomic_load_explicit(&lb->table, memory_order_seq_cst);
    out->table = t;
    for (size_t i = 0; i < t->n; i++)
        if (t->groups[i]->parent == NULL && t->groups[i]->n > 0) {
            total += t->groups[i]->n;
            groups++;
        }
    out->ents = malloc((total > 0 ? total : 1) * sizeof(*out->ents));
    out->svcs = malloc((groups > 0 ? groups : 1) * sizeof(*out->svcs));
    out->wait = malloc((groups > 0 ? groups : 1) * sizeof(*out->wait));
    out->ready = malloc((groups > 0 ? groups : 1) * sizeof(*out->ready));
    ok = out->ents != NULL && out->svcs != NULL && out->wait != NULL && out->ready != NULL;
    for (size_t i = 0; ok && i < t->n; i++) {
        const struct sl_group *g = t->groups[i];
        struct sl_sched_svc *v = &out->svcs[out->nsvc];

        if (g->parent != NULL || g->n == 0)
            continue;
        /* Each service has its own backend objects: no duplicates. */
        *v = (struct sl_sched_svc){g->cfg != NULL ? (const void *)g->cfg : (const void *)g,
                                   &out->ents[out->n], g->n, 0};
        for (size_t j = 0; j < g->n; j++) {
            sl_backend_ref(g->backends[j]);
            out->ents[out->n++] = (struct sl_sched_entry){g->backends[j], 0};
        }
        out->nsvc++;
    }
    sl_epoch_exit(&lb->epoch, &tok);
    if (!ok) {
        free(out->ents);
        free(out->svcs);
        free(out->wait);
        free(out->ready);
    }
    return ok;
}

static uint64_t phase_ns(const struct sl_sched *s, const struct sluice_backend *b);

int sl_sched_refresh(struct sl_sched *s, sluice_lb_t *lb, uint64_t now_ns)
{
    const void *table = atomic_load_explicit(&lb->table, memory_order_acquire);
    struct sl_sched fresh;

    if (table == s->table && now_ns - s->built_ns < SCHED_REFRESH_NS)
        return 0;
    if (!collect(lb, &fresh))
        return SLUICE_ERR_NOMEM;
    fresh.interval_ms = s->interval_ms;
    fresh.timeout_ms = s->timeout_ms;
    fresh.built_ns = now_ns;
    /* Kept backends keep their next time: a reload does not re-probe all.
     * Kept services keep their count of probes in flight. */
    if (s->n > 0)
        qsort(s->ents, s->n, sizeof(*s->ents), by_ptr);
    for (size_t i = 0; i < fresh.n; i++) {
        struct sl_sched_entry *old =
            s->n > 0 ? bsearch(&fresh.ents[i], s->ents, s->n, sizeof(*s->ents), by_ptr) : NULL;

        fresh.ents[i].due_ns = old != NULL ? old->due_ns : now_ns + phase_ns(s, fresh.ents[i].b);
    }
    qsort(fresh.svcs, fresh.nsvc, sizeof(*fresh.svcs), by_key);
    for (size_t i = 0; i < fresh.nsvc; i++) {
        struct sl_sched_svc *v = &fresh.svcs[i];
        const struct sl_sched_svc *old =
            s->nsvc > 0 ? bsearch(v, s->svcs, s->nsvc, sizeof(*s->svcs), by_key) : NULL;

        v->inflight = old != NULL ? old->inflight : 0;
        for (size_t j = v->n / 2; j-- > 0;)
            sift_down(v->heap, v->n, j);
        requeue(&fresh, (uint32_t)i, now_ns);
    }
    sl_sched_fini(s);
    *s = fresh;
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

/* Takes the first backend of service <v> and puts it back after its
 * interval with jitter. */
static sluice_backend_t *take(const struct sl_sched *s, struct sl_sched_svc *v, uint64_t now_ns,
                              struct sl_probe_spec *spec)
{
    struct sl_sched_entry *top = &v->heap[0];
    sluice_backend_t *b = top->b;
    uint32_t iv_ms, down_ms;
    uint64_t iv;

    settings(s, b, spec, &iv_ms, &down_ms);
    spec->owner = v->key;
    iv = (uint64_t)(sl_health_is_down(b) ? down_ms : iv_ms) * 1000000u;
    /* -5%..+5%: backends probed together drift apart. */
    top->due_ns = now_ns + iv - iv / 20 + sl_mix64(now_ns ^ (uint64_t)(uintptr_t)b) % (iv / 10 + 1);
    sift_down(v->heap, v->n, 0);
    return b;
}

/* May service <v> start a probe with <free> slots left, <due> services
 * having a due probe? <others_first>: while another service has one, not
 * above the fair share among those. */
static bool may_start(const struct sl_sched *s, const struct sl_sched_svc *v, size_t free,
                      size_t due, bool others_first)
{
    size_t share_due = SL_CHECKER_MAX_INFLIGHT / due;
    size_t share_all = SL_CHECKER_MAX_INFLIGHT / s->nsvc;
    size_t reserve = s->nsvc - 1 < SL_SCHED_RESERVE_MAX ? s->nsvc - 1 : SL_SCHED_RESERVE_MAX;

    if (v->inflight < (share_all > 0 ? share_all : 1))
        return true; /* its guaranteed share */
    if (others_first && due > 1 && v->inflight >= (share_due > 0 ? share_due : 1))
        return false;
    return free > reserve;
}

sluice_backend_t *sl_sched_next(struct sl_sched *s, uint64_t now_ns, size_t free,
                                struct sl_probe_spec *spec)
{
    size_t due;

    while (s->nwait > 0 && svc_due(s, s->wait[0]) <= now_ns) {
        uint32_t svc = s->wait[0];

        s->wait[0] = s->wait[--s->nwait];
        wait_down(s, 0);
        ready_push(s, svc);
    }
    due = s->rlen;
    /* Pass one: fair shares while others wait; pass two: a slot nobody
     * else may take goes to whoever may. Each pass turns the ring once. */
    for (int pass = 0; pass < 2; pass++)
        for (size_t k = 0; k < due; k++) {
            uint32_t svc = ready_pop(s);
            sluice_backend_t *b;

            if (!may_start(s, &s->svcs[svc], free, due, pass == 0)) {
                ready_push(s, svc);
                continue;
            }
            b = take(s, &s->svcs[svc], now_ns, spec);
            s->last = svc;
            requeue(s, svc, now_ns); /* at the ring's end: round robin */
            return b;
        }
    return NULL;
}

void sl_sched_started(struct sl_sched *s)
{
    s->svcs[s->last].inflight++;
}

void sl_sched_done(void *sched, const void *owner)
{
    struct sl_sched *s = sched;
    struct sl_sched_svc key = {.key = owner};
    struct sl_sched_svc *v =
        s->nsvc > 0 ? bsearch(&key, s->svcs, s->nsvc, sizeof(*s->svcs), by_key) : NULL;

    /* A service dropped since the probe started has no count left. */
    if (v != NULL && v->inflight > 0)
        v->inflight--;
}

uint64_t sl_sched_wait_ns(struct sl_sched *s, uint64_t now_ns)
{
    if (s->nwait == 0)
        return UINT64_MAX;
    return svc_due(s, s->wait[0]) > now_ns ? svc_due(s, s->wait[0]) - now_ns : 0;
}

void sl_sched_fini(struct sl_sched *s)
{
    for (size_t i = 0; i < s->n; i++)
        sl_backend_unref(s->ents[i].b);
    free(s->ents);
    free(s->svcs);
    free(s->wait);
    free(s->ready);
    s->ents = NULL;
    s->svcs = NULL;
    s->wait = s->ready = NULL;
    s->n = s->nsvc = s->nwait = s->rlen = s->rhead = 0;
}
