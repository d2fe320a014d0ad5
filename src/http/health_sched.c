/* The per-worker health scheduler (http/health.h): which backends this
 * worker probes and when, the probe slots, the ejection ticks, and the one
 * log line per transition. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/health.h"
#include "http/health.h"
#include "http/health_int.h"
#include "net/log.h"
#include "proxy/health_log.h"

/* Deadlines are rounded up to this grid (or a twentieth of a shorter
 * interval), so a worker wakes once for every probe due in the same few
 * milliseconds rather than once per probe: at 10,000 probes a second the
 * wake-ups, not the probes, would cost the most user time. */
#define GRID_MS 10
/* Soft failures (out of descriptors) are logged at most this often. */
#define SOFT_LOG_MS 10000

struct sl_health_sched;

/* One backend of this worker's slice in the current table. */
struct entry {
    struct sl_timer t;
    struct sl_health_sched *s;
    const struct sl_service_rt *svc;
    const struct sl_health_target *tg;
    struct entry *next_waiting; /* in the sched's FIFO while waiting for a slot */
    bool waiting;
};

struct slot {
    struct sl_health_probe p;
    struct sl_health_sched *s;
    struct sl_router *table; /* kept alive while the probe runs */
    const struct sl_service_rt *svc;
    sluice_backend_t *be;
    bool busy;
};

struct sl_health_sched {
    struct sl_loop *loop;
    size_t idx, nworkers;
    struct sl_stats_worker *stats;
    struct sl_router *table;
    struct entry *e;
    size_t n;
    struct sl_timer tick;
    struct sl_timer kick;                 /* a slot freed: start waiting probes */
    struct entry *wait_head, **wait_tail; /* due, waiting for a slot */
    struct slot *slots;
    size_t nslots;
    uint64_t rnd;
    uint64_t probes;
    uint64_t soft_fails;
    uint64_t soft_logged_ms;
    bool stopped;
};

static uint64_t next_rand(struct sl_health_sched *s)
{
    s->rnd ^= s->rnd << 13;
    s->rnd ^= s->rnd >> 7;
    s->rnd ^= s->rnd << 17;
    return s->rnd;
}

/* The next slot strictly after <now> at the backend's own phase within
 * its interval (the down interval while it is unusable), plus a jitter of
 * at most a twentieth of the interval (50 ms at most), rounded up to the
 * grid. The phase comes from the hash, so a new table keeps every backend
 * where it was. */
static uint64_t next_due(struct sl_health_sched *s, const struct entry *e, uint64_t now)
{
    const struct sl_health_rt *h = &e->svc->health;
    uint64_t iv = sl_health_is_down(e->tg->be) ? h->down_interval_ms : h->interval_ms;
    uint64_t spread, grid, due;

    if (iv == 0)
        iv = 1;
    spread = iv / 20 < 50 ? iv / 20 : 50;
    grid = iv / 20 < GRID_MS ? (iv / 20 > 0 ? iv / 20 : 1) : GRID_MS;
    due = now - now % iv + (e->tg->hash >> 20) % iv;
    if (due <= now)
        due += iv;
    due += spread > 0 ? next_rand(s) % spread : 0;
    return (due + grid - 1) / grid * grid;
}

static void report(struct sl_health_sched *s, const struct sl_service_rt *svc, sluice_backend_t *be,
                   const struct sl_health_change *ch, const char *why)
{
    if (ch->changed || ch->ejected || ch->readmitted)
        sl_health_report(sl_stats_be_get(s->stats, be, svc->name), svc->name,
                         sluice_backend_name(be), why, ch);
}

static void release_slot(struct slot *sl)
{
    struct sl_router *t = sl->table;

    sl->busy = false;
    sl->table = NULL;
    sl->be = NULL;
    sl->svc = NULL;
    if (t != NULL)
        sl_router_release(t);
}

static void on_probe_done(struct sl_health_probe *p, sluice_check_result_t r, uint16_t status,
                          const char *why)
{
    struct slot *sl = p->arg;
    struct sl_health_change ch = {0};

    sl_health_probe_done(sl->be, r, status, sl_loop_now_ns(p->loop), &ch);
    report(sl->s, sl->svc, sl->be, &ch, why);
    release_slot(sl);
    if (sl->s->wait_head != NULL && !sl->s->stopped)
        (void)sl_loop_timer_after(p->loop, &sl->s->kick, 0);
}

static struct slot *free_slot(struct sl_health_sched *s, const sluice_backend_t *be, bool *dup)
{
    struct slot *found = NULL;

    *dup = false;
    for (size_t i = 0; i < s->nslots; i++) {
        if (!s->slots[i].busy)
            found = found != NULL ? found : &s->slots[i];
        else if (s->slots[i].be == be)
            *dup = true;
    }
    return found;
}

static void soft_fail(struct sl_health_sched *s, const struct entry *e, int err)
{
    uint64_t now = sl_loop_now_ms(s->loop);

    s->soft_fails++;
    if (s->soft_logged_ms != 0 && now - s->soft_logged_ms < SOFT_LOG_MS)
        return;
    s->soft_logged_ms = now;
    sl_log(SL_LOG_WARN,
           "health: worker %zu: cannot probe service %s backend %s: %s (%llu probes skipped "
           "without a verdict); raise ulimit -n",
           s->idx, e->svc->name, sluice_backend_name(e->tg->be), sl_errstr(err),
           (unsigned long long)s->soft_fails);
}

/* Starts a probe of <e> in a free slot; false when every slot is busy. */
static bool start(struct sl_health_sched *s, struct entry *e)
{
    bool dup = false;
    struct slot *sl = free_slot(s, e->tg->be, &dup);

    if (dup) /* its last probe still runs (a timeout near the interval) */
        return true;
    if (sl == NULL)
        return false;
    sl->busy = true;
    sl->s = s;
    sl->be = e->tg->be;
    sl->svc = e->svc;
    sl->table = s->table;
    sl_router_acquire(s->table);
    s->probes++;
    if (sl_health_probe_start(&sl->p, &e->svc->health, e->tg->be, e->tg->host) < 0) {
        int err = errno;

        release_slot(sl);
        soft_fail(s, e, err);
    }
    return true;
}

static void on_due(struct sl_timer *t, void *arg)
{
    struct entry *e = arg;
    struct sl_health_sched *s = e->s;

    (void)sl_timer_set(&s->loop->timers, t, next_due(s, e, sl_loop_now_ms(s->loop)));
    if (e->waiting || start(s, e))
        return;
    /* Every slot busy: first in line when one frees (on_kick). */
    e->waiting = true;
    e->next_waiting = NULL;
    *s->wait_tail = e;
    s->wait_tail = &e->next_waiting;
}

static void on_kick(struct sl_timer *t, void *arg)
{
    struct sl_health_sched *s = arg;

    (void)t;
    while (s->wait_head != NULL && start(s, s->wait_head)) {
        struct entry *e = s->wait_head;

        s->wait_head = e->next_waiting;
        e->waiting = false;
    }
    if (s->wait_head == NULL)
        s->wait_tail = &s->wait_head;
}

static void on_tick(struct sl_timer *t, void *arg)
{
    struct sl_health_sched *s = arg;
    uint64_t now_ns = sl_loop_now_ns(s->loop);

    for (size_t i = 0; i < s->n; i++) {
        struct sl_health_change ch = {0};

        sl_health_tick(s->e[i].tg->be, now_ns, &ch);
        report(s, s->e[i].svc, s->e[i].tg->be, &ch, "ejection backoff ended");
    }
    (void)sl_loop_timer_after(s->loop, t, SL_HEALTH_TICK_MS);
}

static void drop_plan(struct sl_health_sched *s)
{
    s->wait_head = NULL;
    s->wait_tail = &s->wait_head;
    sl_loop_timer_stop(s->loop, &s->kick);
    for (size_t i = 0; i < s->n; i++)
        sl_loop_timer_stop(s->loop, &s->e[i].t);
    free(s->e);
    s->e = NULL;
    s->n = 0;
    if (s->table != NULL)
        sl_router_release(s->table);
    s->table = NULL;
}

static bool mine(const struct sl_health_sched *s, const struct sl_health_target *tg)
{
    return s->nworkers <= 1 || tg->hash % s->nworkers == s->idx;
}

void sl_health_sched_table(struct sl_health_sched *s, struct sl_router *table)
{
    uint64_t now = sl_loop_now_ms(s->loop);
    size_t total = 0;

    drop_plan(s);
    if (s->stopped || table == NULL)
        return;
    for (size_t i = 0; i < table->nservices; i++)
        for (size_t j = 0; j < table->services[i].ntargets; j++)
            total += mine(s, &table->services[i].targets[j]);
    if (total > 0 && (s->e = calloc(total, sizeof(*s->e))) == NULL) {
        sl_log(SL_LOG_ERROR, "health: worker %zu: out of memory: no checks until the next reload",
               s->idx);
        return;
    }
    s->table = table;
    sl_router_acquire(table);
    for (size_t i = 0; i < table->nservices; i++) {
        const struct sl_service_rt *svc = &table->services[i];

        for (size_t j = 0; j < svc->ntargets; j++) {
            struct entry *e;

            if (!mine(s, &svc->targets[j]))
                continue;
            e = &s->e[s->n++];
            *e = (struct entry){.s = s, .svc = svc, .tg = &svc->targets[j]};
            sl_timer_init(&e->t, on_due, e);
            if (svc->health.kind != SLUICE_CHECK_NONE)
                (void)sl_timer_set(&s->loop->timers, &e->t, next_due(s, e, now));
        }
    }
}

struct sl_health_sched *sl_health_sched_new(struct sl_loop *loop, size_t idx, size_t nworkers,
                                            struct sl_stats_worker *stats)
{
    struct sl_health_sched *s = calloc(1, sizeof(*s));
    size_t share;

    if (s == NULL)
        return NULL;
    if (nworkers == 0)
        nworkers = 1;
    /* Floor, not ceiling: the whole process stays within the reserve. */
    share = SL_HEALTH_MAX_INFLIGHT / nworkers;
    s->nslots = share > 0 ? share : 1;
    s->slots = calloc(s->nslots, sizeof(*s->slots));
    if (s->slots == NULL) {
        free(s);
        return NULL;
    }
    s->loop = loop;
    s->idx = idx;
    s->nworkers = nworkers;
    s->stats = stats;
    s->rnd = 0x9e3779b97f4a7c15ull * (idx + 1) ^ (uint64_t)(uintptr_t)s;
    for (size_t i = 0; i < s->nslots; i++)
        sl_health_probe_init(&s->slots[i].p, loop, on_probe_done, &s->slots[i]);
    sl_timer_init(&s->tick, on_tick, s);
    sl_timer_init(&s->kick, on_kick, s);
    s->wait_tail = &s->wait_head;
    (void)sl_loop_timer_after(loop, &s->tick, SL_HEALTH_TICK_MS);
    return s;
}

void sl_health_sched_stop(struct sl_health_sched *s)
{
    if (s == NULL)
        return;
    s->stopped = true;
    sl_loop_timer_stop(s->loop, &s->tick);
    for (size_t i = 0; i < s->nslots; i++)
        if (s->slots[i].busy) {
            sl_health_probe_abort(&s->slots[i].p);
            release_slot(&s->slots[i]);
        }
    drop_plan(s);
}

void sl_health_sched_free(struct sl_health_sched *s)
{
    if (s == NULL)
        return;
    sl_health_sched_stop(s);
    for (size_t i = 0; i < s->nslots; i++)
        sl_health_probe_fini(&s->slots[i].p);
    free(s->slots);
    free(s);
}

uint64_t sl_health_sched_probes(const struct sl_health_sched *s)
{
    return s != NULL ? s->probes : 0;
}
