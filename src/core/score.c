#include "score.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "backend_types.h"

#define LOAD(x)     atomic_load_explicit(&(x), memory_order_relaxed)
#define STORE(x, v) atomic_store_explicit(&(x), (v), memory_order_relaxed)

static const sluice_score_opts_t default_opts = SLUICE_SCORE_DEFAULTS;

struct sl_score_cfg *sl_score_cfg_new(void)
{
    static const sluice_eject_opts_t eject = SLUICE_EJECT_DEFAULTS;
    struct sl_score_cfg *c = aligned_alloc(64, (sizeof(*c) + 63) & ~(size_t)63);

    if (c == NULL)
        return NULL;
    memset(c, 0, sizeof(*c));
    sl_score_cfg_set(c, &default_opts);
    atomic_init(&c->panic_percent, SLUICE_PANIC_DEFAULT);
    atomic_init(&c->eject_base_ms, eject.base_ms);
    atomic_init(&c->eject_max_ms, eject.max_ms);
    atomic_init(&c->refs, 1);
    pthread_mutex_init(&c->cklock, NULL);
    return c;
}

struct sl_score_cfg *sl_score_cfg_clone(struct sl_score_cfg *t)
{
    struct sl_score_cfg *c = sl_score_cfg_new();
    sluice_score_opts_t o;

    if (c == NULL)
        return NULL;
    sl_score_cfg_get(t, &o);
    sl_score_cfg_set(c, &o);
    STORE(c->panic_percent, LOAD(t->panic_percent));
    STORE(c->slow_start_ms, LOAD(t->slow_start_ms));
    STORE(c->eject_base_ms, LOAD(t->eject_base_ms));
    STORE(c->eject_max_ms, LOAD(t->eject_max_ms));
    STORE(c->external_ticks, LOAD(t->external_ticks));
    return c;
}

void sl_score_cfg_ref(struct sl_score_cfg *c)
{
    atomic_fetch_add_explicit(&c->refs, 1, memory_order_relaxed);
}

void sl_score_cfg_unref(struct sl_score_cfg *c)
{
    if (c != NULL && atomic_fetch_sub_explicit(&c->refs, 1, memory_order_acq_rel) == 1) {
        pthread_mutex_destroy(&c->cklock);
        free(c);
    }
}

int sl_score_validate(const sluice_score_opts_t *o)
{
    if (o == NULL)
        return SLUICE_ERR_INVALID_ARG;
    /* low < 0 <= high: marking down (score = low) must make the backend
     * unusable and marking up (score >= 0) must stay within [low, high]. */
    if (o->low > o->initial || o->initial > o->high || o->low >= 0 || o->high < 0 ||
        o->fail_delta >= 0 || o->success_delta <= 0)
        return SLUICE_ERR_INVALID_SCORE;
    return 0;
}

void sl_score_cfg_set(struct sl_score_cfg *c, const sluice_score_opts_t *o)
{
    STORE(c->initial, o->initial);
    STORE(c->low, o->low);
    STORE(c->high, o->high);
    STORE(c->fail_delta, o->fail_delta);
    STORE(c->success_delta, o->success_delta);
}

void sl_score_cfg_get(const struct sl_score_cfg *c, sluice_score_opts_t *o)
{
    o->initial = LOAD(c->initial);
    o->low = LOAD(c->low);
    o->high = LOAD(c->high);
    o->fail_delta = LOAD(c->fail_delta);
    o->success_delta = LOAD(c->success_delta);
}

void sl_score_init(struct sluice_backend *b)
{
    atomic_init(&b->score, LOAD(b->score_cfg->initial));
    atomic_init(&b->failures, 0);
    atomic_init(&b->health, SLUICE_HEALTH_UNKNOWN);
    atomic_init(&b->requests, 0);
    atomic_init(&b->ewma_ns, 0);
    atomic_init(&b->ewma_stamp_ns, 0);
    atomic_init(&b->ramp_start_ns, 0);
}

void sl_score_adopt(struct sluice_backend *b, struct sl_score_cfg *c, bool ramp)
{
    struct sl_score_cfg *was = b->score_cfg;

    sl_score_cfg_ref(c);
    b->score_cfg = c;
    sl_score_cfg_unref(was);
    STORE(b->score, LOAD(c->initial));
    if (ramp)
        sl_score_ramp(b);
}

void sl_score_ramp(struct sluice_backend *b)
{
    uint64_t now;

    if (LOAD(b->score_cfg->slow_start_ms) == 0)
        return;
    now = sl_coarse_now_ns();
    STORE(b->ramp_start_ns, now != 0 ? now : 1);
}

uint32_t sl_ramp_factor_slow(struct sluice_backend *b, uint64_t start)
{
    uint64_t ms = LOAD(b->score_cfg->slow_start_ms);
    uint64_t now = sl_coarse_now_ns();
    uint64_t span = ms * 1000000u, el = now > start ? now - start : 0;

    if (el >= span) {
        /* Over (or turned off): the next picks take the one-load path. */
        atomic_compare_exchange_strong_explicit(&b->ramp_start_ns, &start, 0, memory_order_relaxed,
                                                memory_order_relaxed);
        return 1024;
    }
    return (uint32_t)(102 + (1024 - 102) * el / span);
}

/* An ejection ends now (readmitted, or a step or mark got there first):
 * the start of the quiet period after which ejections count from 1 again. */
static void ejection_over(struct sluice_backend *b)
{
    uint64_t now = sl_now_ns();

    STORE(b->readmitted_ns, now != 0 ? now : 1);
}

/* The score went from <from> to <to>: when usability by health flipped,
 * the service's groups must recompute panic; a return to usable ends any
 * ejection (a mark or a step got there first) and starts a slow start. */
static void crossed(struct sluice_backend *b, int32_t from, int32_t to)
{
    if ((from >= 0) == (to >= 0))
        return;
    atomic_fetch_add_explicit(&b->score_cfg->health_gen, 1, memory_order_relaxed);
    if (to >= 0) {
        if (LOAD(b->ejected_until_ns) != 0) {
            STORE(b->ejected_until_ns, 0);
            ejection_over(b);
        }
        sl_score_ramp(b);
    }
}

static int32_t clamp(int64_t v, int32_t low, int32_t high)
{
    /* A config change racing us may briefly give low > high: low wins. */
    if (v > high)
        v = high;
    if (v < low)
        v = low;
    return (int32_t)v;
}

/* One step; the variants below are this with constant arguments, so each
 * keeps only what it needs. <passive>: an outcome of a selection, which
 * moves nothing while <b> is ejected (checked after the fast path, so a
 * healthy backend pays nothing for it). <m> may be NULL. */
static inline __attribute__((always_inline)) int32_t step(struct sluice_backend *b, bool up,
                                                          bool passive, struct sl_score_move *m)
{
    const struct sl_score_cfg *c = b->score_cfg;
    int32_t cur = LOAD(b->score), next, delta, low, high;
    uint32_t h, want;
    bool first = false;

    /* The common release: a healthy backend already at its ceiling. Loads
     * only, so backends shared by several threads keep their cache line
     * shared instead of bouncing it on every request. */
    high = LOAD(c->high);
    if ((up && cur >= high && LOAD(b->failures) == 0 && LOAD(b->health) == SLUICE_HEALTH_HEALTHY) ||
        (passive && cur < 0 && LOAD(b->ejected_until_ns) != 0)) {
        if (m != NULL)
            *m = (struct sl_score_move){cur, cur, false, false, 0};
        return cur;
    }
    delta = up ? LOAD(c->success_delta) : LOAD(c->fail_delta);
    low = LOAD(c->low);
    do {
        next = clamp((int64_t)cur + delta, low, high);
    } while (next != cur && !atomic_compare_exchange_weak_explicit(
                                &b->score, &cur, next, memory_order_relaxed, memory_order_relaxed));
    crossed(b, cur, next);
    if (next >= high && LOAD(b->ejections) != 0)
        STORE(b->ejections, 0);
    if (up) {
        if (LOAD(b->failures) != 0)
            STORE(b->failures, 0);
    } else {
        atomic_fetch_add_explicit(&b->failures, 1, memory_order_relaxed);
    }
    want = next >= 0 ? SLUICE_HEALTH_HEALTHY : SLUICE_HEALTH_UNHEALTHY;
    h = LOAD(b->health);
    /* Leaving UNKNOWN is a transition: one step (the CAS winner) makes it. */
    if (h == SLUICE_HEALTH_UNKNOWN)
        first = atomic_compare_exchange_strong_explicit(&b->health, &h, want, memory_order_relaxed,
                                                        memory_order_relaxed);
    if (!first && LOAD(b->health) != want)
        STORE(b->health, want);
    if (m != NULL)
        *m = (struct sl_score_move){cur, next, first, false, 0};
    return next;
}

int32_t sl_score_step(struct sluice_backend *b, bool up)
{
    return step(b, up, false, NULL);
}

int32_t sl_score_step_from(struct sluice_backend *b, bool up, struct sl_score_move *m)
{
    return step(b, up, false, m);
}

void sl_score_passive_ok(struct sluice_backend *b)
{
    step(b, true, true, NULL);
}

void sl_score_passive_from(struct sluice_backend *b, bool ok, struct sl_score_move *m)
{
    step(b, ok, true, m);
}

uint32_t sl_score_eject(struct sluice_backend *b)
{
    const struct sl_score_cfg *c = b->score_cfg;
    uint64_t base = LOAD(c->eject_base_ms), max = LOAD(c->eject_max_ms), ms, now, ended;
    uint32_t k;

    if (base == 0)
        return 0;
    now = sl_now_ns();
    ended = LOAD(b->readmitted_ns);
    /* Quiet for longer than the longest backoff since the last ejection
     * ended: a new incident, not the same one going on (a backend that
     * sees no traffic never reaches high to reset the count otherwise). */
    if (ended != 0 && now > ended && now - ended > max * 1000000u)
        STORE(b->ejections, 0);
    k = atomic_fetch_add_explicit(&b->ejections, 1, memory_order_relaxed) + 1;
    ms = k - 1 >= 32 ? max : base << (k - 1);
    if (ms > max)
        ms = max;
    STORE(b->ejected_at_ns, now);
    STORE(b->ejected_until_ns, now + ms * 1000000u);
    return (uint32_t)ms;
}

bool sl_score_readmit(struct sluice_backend *b)
{
    int32_t cur = LOAD(b->score);

    ejection_over(b);
    while (cur < 0)
        if (atomic_compare_exchange_weak_explicit(&b->score, &cur, 0, memory_order_relaxed,
                                                  memory_order_relaxed)) {
            STORE(b->health, SLUICE_HEALTH_HEALTHY);
            crossed(b, cur, 0);
            return true;
        }
    return false;
}

void sl_score_mark(struct sluice_backend *b, bool healthy)
{
    const struct sl_score_cfg *c = b->score_cfg;

    if (healthy) {
        int32_t floor = LOAD(c->initial) > 0 ? LOAD(c->initial) : 0;
        int32_t cur = LOAD(b->score);

        while (cur < floor &&
               !atomic_compare_exchange_weak_explicit(&b->score, &cur, floor, memory_order_relaxed,
                                                      memory_order_relaxed)) {
        }
        crossed(b, cur, cur < floor ? floor : cur);
        if (LOAD(b->ejected_until_ns) != 0) {
            STORE(b->ejected_until_ns, 0); /* an operator's word ends an ejection */
            ejection_over(b);
        }
        STORE(b->failures, 0);
        STORE(b->health, SLUICE_HEALTH_HEALTHY);
    } else {
        crossed(b, atomic_exchange_explicit(&b->score, LOAD(c->low), memory_order_relaxed),
                LOAD(c->low));
        atomic_fetch_add_explicit(&b->failures, 1, memory_order_relaxed);
        STORE(b->health, SLUICE_HEALTH_UNHEALTHY);
    }
}

void sl_score_nudge(struct sluice_backend *b)
{
    int32_t s = LOAD(b->score);
    int32_t step = LOAD(b->score_cfg->success_delta);

    /* CAS: a concurrent step or mark wins and this one applies on top. */
    while (s < 0) {
        int32_t next = step > 0 && step < -s ? s + step : 0;

        if (atomic_compare_exchange_weak_explicit(&b->score, &s, next, memory_order_relaxed,
                                                  memory_order_relaxed)) {
            crossed(b, s, next);
            break;
        }
    }
}

void sl_score_clamp(struct sluice_backend *b)
{
    const struct sl_score_cfg *c = b->score_cfg;
    int32_t low = LOAD(c->low), high = LOAD(c->high);
    int32_t cur = LOAD(b->score), next;

    do {
        next = clamp(cur, low, high);
    } while (next != cur && !atomic_compare_exchange_weak_explicit(
                                &b->score, &cur, next, memory_order_relaxed, memory_order_relaxed));
}

/* 2^-x for x >= 0 without libm: split x into its integer part (a shift)
 * and a fraction f in [0, 1), for which a cubic fitted for the least
 * maximum relative error (and exact at f = 0 and f = 1, so the result is
 * continuous across integers) is within 0.025% of 2^-f. The EWMA only
 * needs a weight, not a precise one, and exp2() cost more than the rest of
 * a release together. */
static double exp2_neg(double x)
{
    if (x >= 62.0)
        return 0.0;
    unsigned whole = (unsigned)x;
    double f = x - (double)whole;
    double frac = 1.0 + f * (-0.6931472 + f * (0.2350893 + f * -0.0419421));

    return frac / (double)(1ull << whole);
}

void sl_ewma_update(struct sluice_backend *b, uint64_t latency_ns, uint64_t now_ns)
{
    uint64_t stamp = LOAD(b->ewma_stamp_ns);
    uint64_t cur = LOAD(b->ewma_ns), next;
    double w = 1.0;

    /* Same clock tick as the last sample (the clock is coarse): the decay
     * is time-based, so only a new peak can change the average. */
    if (stamp == now_ns && cur != 0 && latency_ns < cur)
        return;
    if (stamp != now_ns)
        stamp = atomic_exchange_explicit(&b->ewma_stamp_ns, now_ns, memory_order_relaxed);
    /* Weight of the old average after <dt>: 2^(-dt / half-life). */
    if (stamp != 0 && now_ns > stamp)
        w = exp2_neg((double)(now_ns - stamp) / (double)SL_EWMA_HALF_LIFE_NS);
    do {
        if (cur == 0 || latency_ns >= cur)
            next = latency_ns; /* peak: a slow sample counts at once */
        else
            next = (uint64_t)((double)cur * w + (double)latency_ns * (1.0 - w));
    } while (next != cur &&
             !atomic_compare_exchange_weak_explicit(&b->ewma_ns, &cur, next, memory_order_relaxed,
                                                    memory_order_relaxed));
}

/* The EWMA's clock: CLOCK_MONOTONIC_COARSE is a vDSO read of the last tick
 * (1-4 ms resolution), a few ns instead of a full clock read per release;
 * a 10 s half-life does not need more. */
uint64_t sl_coarse_now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

uint64_t sl_now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}
