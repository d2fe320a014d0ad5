#include "score.h"

#include <math.h>
#include <stdlib.h>
#include <time.h>

#include "backend_types.h"

#define LOAD(x)     atomic_load_explicit(&(x), memory_order_relaxed)
#define STORE(x, v) atomic_store_explicit(&(x), (v), memory_order_relaxed)

static const sluice_score_opts_t default_opts = SLUICE_SCORE_DEFAULTS;

struct sl_score_cfg *sl_score_cfg_new(void)
{
    struct sl_score_cfg *c = calloc(1, sizeof(*c));

    if (c == NULL)
        return NULL;
    sl_score_cfg_set(c, &default_opts);
    atomic_init(&c->refs, 1);
    return c;
}

void sl_score_cfg_ref(struct sl_score_cfg *c)
{
    atomic_fetch_add_explicit(&c->refs, 1, memory_order_relaxed);
}

void sl_score_cfg_unref(struct sl_score_cfg *c)
{
    if (c != NULL && atomic_fetch_sub_explicit(&c->refs, 1, memory_order_acq_rel) == 1)
        free(c);
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

int32_t sl_score_step(struct sluice_backend *b, bool up)
{
    const struct sl_score_cfg *c = b->score_cfg;
    int32_t delta = up ? LOAD(c->success_delta) : LOAD(c->fail_delta);
    int32_t low = LOAD(c->low), high = LOAD(c->high);
    int32_t cur = LOAD(b->score), next;

    /* The common release: a healthy backend already at its ceiling. Loads
     * only, so backends shared by several threads keep their cache line
     * shared instead of bouncing it on every request. */
    if (up && cur >= high && LOAD(b->failures) == 0 && LOAD(b->health) == SLUICE_HEALTH_HEALTHY)
        return cur;
    do {
        next = clamp((int64_t)cur + delta, low, high);
    } while (next != cur && !atomic_compare_exchange_weak_explicit(
                                &b->score, &cur, next, memory_order_relaxed, memory_order_relaxed));
    if (up) {
        if (LOAD(b->failures) != 0)
            STORE(b->failures, 0);
    } else {
        atomic_fetch_add_explicit(&b->failures, 1, memory_order_relaxed);
    }
    if (LOAD(b->health) != (next >= 0 ? SLUICE_HEALTH_HEALTHY : SLUICE_HEALTH_UNHEALTHY))
        STORE(b->health, next >= 0 ? SLUICE_HEALTH_HEALTHY : SLUICE_HEALTH_UNHEALTHY);
    return next;
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
        STORE(b->failures, 0);
        STORE(b->health, SLUICE_HEALTH_HEALTHY);
    } else {
        STORE(b->score, LOAD(c->low));
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
                                                  memory_order_relaxed))
            break;
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
