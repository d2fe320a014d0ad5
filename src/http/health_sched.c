/* The per-worker health scheduler (http/health.h): which backends this
 * worker probes and when, the probe slots and how services share them,
 * the ejection ticks, and the one log line per transition. */
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

/* One service of the current table, for sharing the slots: a service whose
 * backends hold every probe until its timeout (a black hole: connects
 * succeed, nothing answers) must not delay the probes of the others. */
struct svcq {
    struct entry *head, **tail; /* its due probes waiting for a slot, due order */
    struct svcq *next;          /* in the round of services with probes waiting */
    size_t running;             /* slots its probes hold */
    bool in_round;
};

/* One backend of this worker's slice in the current table. */
struct entry {
    struct sl_timer t;
    struct sl_health_sched *s;
    const struct sl_service_rt *svc;
    const struct sl_health_target *tg;
    struct svcq *q;
    struct entry *next_waiting; /* in its service's queue while waiting for a slot */
    uint64_t waiting_since_ms;
    bool waiting;
};

struct slot {
    struct sl_health_probe p;
    struct sl_health_sched *s;
    struct sl_router *table; /* kept alive while the probe runs */
    const struct sl_service_rt *svc;
    sluice_backend_t *be;
    struct svcq *q;  /* NULL once the table it started on is gone */
    struct entry *e; /* likewise */
    bool busy;
};

struct sl_health_sched {
    struct sl_loop *loop;
    size_t idx, nworkers;
    struct sl_stats_worker *stats;
    struct sl_router *table;
    struct entry *e;
    size_t n;
    struct svcq *qs; /* one per service of the table */
    struct sl_timer tick;
    struct sl_timer kick;                  /* a slot freed: start waiting probes */
    struct svcq *round_head, **round_tail; /* services with probes waiting */
    size_t active;                         /* services with probes running or waiting */
    struct slot *slots;
    size_t nslots, nbusy;
    uint64_t rnd;
    uint64_t probes;
    uint64_t preempted;
    uint64_t late_logged_ms;
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

static bool q_active(const struct svcq *q)
{
    return q->running > 0 || q->head != NULL;
}

/* Keeps s->active right around a change of <q> that began when its
 * activity was <was>. */
static void q_account(struct sl_health_sched *s, const struct svcq *q, bool was)
{
    bool now = q_active(q);

    if (now && !was)
        s->active++;
    else if (was && !now)
        s->active--;
}

static void release_slot(struct slot *sl)
{
    struct sl_router *t = sl->table;

    if (sl->q != NULL) {
        bool was = q_active(sl->q);

        sl->q->running--;
        q_account(sl->s, sl->q, was);
    }
    sl->q = NULL;
    sl->e = NULL;
    sl->s->nbusy--;
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
    if (sl->s->round_head != NULL && !sl->s->stopped)
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
    s->nbusy++;
    sl->s = s;
    sl->be = e->tg->be;
    sl->svc = e->svc;
    sl->q = e->q;
    sl->e = e;
    {
        bool was = q_active(e->q);

        e->q->running++;
        q_account(s, e->q, was);
    }
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

static void round_append(struct sl_health_sched *s, struct svcq *q)
{
    q->in_round = true;
    q->next = NULL;
    *s->round_tail = q;
    s->round_tail = &q->next;
}

/* Queues a due probe behind its service's others. */
static void enqueue(struct sl_health_sched *s, struct entry *e)
{
    struct svcq *q = e->q;
    bool was = q_active(q);

    e->waiting = true;
    e->waiting_since_ms = sl_loop_now_ms(s->loop);
    e->next_waiting = NULL;
    *q->tail = e;
    q->tail = &e->next_waiting;
    q_account(s, q, was);
    if (!q->in_round)
        round_append(s, q);
}

/* The fair share of one service: the worker's slots / the services with
 * probes running or waiting, at least 1. */
static size_t fair_share(const struct sl_health_sched *s)
{
    size_t share = s->active > 0 ? s->nslots / s->active : s->nslots;

    return share > 0 ? share : 1;
}

/* The first service in the round with fewer than <below> probes running
 * (NULL: none). Services with at least <below> >= 1 number at most nslots,
 * so the walk is short. */
static struct svcq **round_below(struct sl_health_sched *s, size_t below)
{
    struct svcq **pp = &s->round_head;

    while (*pp != NULL && (*pp)->running >= below)
        pp = &(*pp)->next;
    return *pp != NULL ? pp : NULL;
}

/* Every slot is busy and a service below half its fair share has a probe
 * waiting: frees the slot of the youngest probe of a service above its
 * share (a slot it borrowed while nobody else needed it). The probe ends
 * without a verdict and waits again at the head of its service's queue.
 * Without this, one service whose probes all hang until a long timeout
 * would make every other service wait up to that timeout per probe, as
 * its probes start, and so end, together. Half the share, not the share:
 * services that merely keep the slots busy between them drift a probe or
 * two around their share, and must not abort each other's probes for it.
 * false: nothing to free. */
static bool preempt(struct sl_health_sched *s)
{
    size_t share = fair_share(s);
    struct slot *victim = NULL;

    if (round_below(s, (share + 1) / 2) == NULL)
        return false;
    for (size_t i = 0; i < s->nslots; i++) {
        struct slot *sl = &s->slots[i];

        if (sl->busy && sl->q != NULL && sl->q->running > share &&
            (victim == NULL || sl->p.start_ms >= victim->p.start_ms))
            victim = sl;
    }
    if (victim == NULL)
        return false;
    {
        struct entry *e = victim->e;
        struct svcq *q = victim->q;

        sl_health_probe_abort(&victim->p);
        release_slot(victim);
        s->preempted++;
        if (!e->waiting) {
            bool was = q_active(q);

            e->waiting = true;
            e->waiting_since_ms = sl_loop_now_ms(s->loop);
            e->next_waiting = q->head;
            if (q->head == NULL)
                q->tail = &e->next_waiting;
            q->head = e;
            q_account(s, q, was);
            if (!q->in_round)
                round_append(s, q);
        }
    }
    return true;
}

/* Takes the service that gets the next free slot out of the round: the
 * first, in round order, below its fair share (the worker's slots / the
 * services with probes running or waiting, at least 1); when every
 * waiting service is at or above it, the first all the same (a free slot
 * never idles while a probe waits). Services at or above the share number
 * at most nslots, so the walk is short. */
static struct svcq *round_take(struct sl_health_sched *s)
{
    struct svcq **pp = round_below(s, fair_share(s)), *q;

    if (pp == NULL)
        pp = &s->round_head;
    q = *pp;
    *pp = q->next;
    if (s->round_tail == &q->next)
        s->round_tail = pp;
    q->next = NULL;
    q->in_round = false;
    return q;
}

/* A probe that waited for a slot longer than its interval: its service
 * cannot hold its interval (its backends hang probes until a timeout, and
 * there are more of them than its share of the slots). Said at most every
 * SOFT_LOG_MS per worker. */
static void say_late(struct sl_health_sched *s, const struct entry *e)
{
    uint64_t now = sl_loop_now_ms(s->loop), waited = now - e->waiting_since_ms;

    if (waited <= e->svc->health.interval_ms ||
        (s->late_logged_ms != 0 && now - s->late_logged_ms < SOFT_LOG_MS))
        return;
    s->late_logged_ms = now;
    sl_log(SL_LOG_WARN,
           "health: worker %zu: service %s: a probe waited %llums for one of the %zu probe "
           "slots, longer than its interval (%ums): its backends hold probes until their "
           "timeout (%llu probes preempted so far to keep other services on time)",
           s->idx, e->svc->name, (unsigned long long)waited, s->nslots, e->svc->health.interval_ms,
           (unsigned long long)s->preempted);
}

/* Starts waiting probes while slots are free (or can be freed: preempt):
 * one probe per turn of a service, round robin, the fair share first
 * (round_take). */
static void dispatch(struct sl_health_sched *s)
{
    while (s->round_head != NULL && (s->nbusy < s->nslots || preempt(s))) {
        struct svcq *q = round_take(s);
        struct entry *e = q->head;
        bool was = q_active(q);

        q->head = e->next_waiting;
        if (q->head == NULL)
            q->tail = &q->head;
        e->waiting = false;
        q_account(s, q, was);
        if (q->head != NULL)
            round_append(s, q);
        say_late(s, e);
        if (!start(s, e)) { /* cannot happen with a free slot; keep it due */
            enqueue(s, e);
            return;
        }
    }
}

static void on_due(struct sl_timer *t, void *arg)
{
    struct entry *e = arg;
    struct sl_health_sched *s = e->s;

    (void)sl_timer_set(&s->loop->timers, t, next_due(s, e, sl_loop_now_ms(s->loop)));
    if (e->waiting)
        return;
    /* Nobody waits: a free slot is this probe's (the common case). */
    if (s->round_head == NULL && start(s, e))
        return;
    /* Waits its turn with its service (dispatch now, or on_kick when a
     * slot frees). */
    enqueue(s, e);
    dispatch(s);
}

static void on_kick(struct sl_timer *t, void *arg)
{
    (void)t;
    dispatch(arg);
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
    s->round_head = NULL;
    s->round_tail = &s->round_head;
    s->active = 0;
    sl_loop_timer_stop(s->loop, &s->kick);
    /* Probes of the old table run on, counted in no service's share:
     * they end within their timeout. */
    for (size_t i = 0; i < s->nslots; i++) {
        s->slots[i].q = NULL;
        s->slots[i].e = NULL;
    }
    for (size_t i = 0; i < s->n; i++)
        sl_loop_timer_stop(s->loop, &s->e[i].t);
    free(s->e);
    s->e = NULL;
    s->n = 0;
    free(s->qs);
    s->qs = NULL;
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
    if (total > 0 && ((s->e = calloc(total, sizeof(*s->e))) == NULL ||
                      (s->qs = calloc(table->nservices, sizeof(*s->qs))) == NULL)) {
        free(s->e);
        s->e = NULL;
        sl_log(SL_LOG_ERROR, "health: worker %zu: out of memory: no checks until the next reload",
               s->idx);
        return;
    }
    s->table = table;
    sl_router_acquire(table);
    for (size_t i = 0; i < table->nservices; i++) {
        const struct sl_service_rt *svc = &table->services[i];
        struct svcq *q = s->qs != NULL ? &s->qs[i] : NULL;

        if (q != NULL)
            q->tail = &q->head;
        for (size_t j = 0; j < svc->ntargets; j++) {
            struct entry *e;

            if (!mine(s, &svc->targets[j]))
                continue;
            e = &s->e[s->n++];
            *e = (struct entry){.s = s, .svc = svc, .tg = &svc->targets[j], .q = q};
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
    s->round_tail = &s->round_head;
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
