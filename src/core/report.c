/* What the outside reports about a backend, beyond health: the out bits
 * (why a backend is out of rotation although its health may be fine) and
 * the load it reports about itself. Stores on the backend object, never a
 * rebuild: a heartbeat or a lease change costs an epoch read section and
 * an atomic or two. */
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "backend_types.h"
#include "health.h"
#include "lb.h"
#include "score.h"

struct out_arg {
    uint32_t bits;
    bool on;
};

static void do_set_out(struct sluice_backend *b, void *arg)
{
    const struct out_arg *a = arg;
    uint32_t old = a->on ? atomic_fetch_or_explicit(&b->out, a->bits, memory_order_relaxed)
                         : atomic_fetch_and_explicit(&b->out, ~a->bits, memory_order_relaxed);
    uint32_t now = a->on ? old | a->bits : old & ~a->bits;

    if (old == now)
        return;
    /* In or out of the candidates: cached panic verdicts are stale. */
    atomic_fetch_add_explicit(&b->score_cfg->health_gen, 1, memory_order_relaxed);
    /* Back in (a lease renewed, an instance ready) healthy: it ramps like
     * a backend returning to health, rather than taking its full share of
     * a busy service at once. */
    if (now == 0 && atomic_load_explicit(&b->score, memory_order_relaxed) >= 0)
        sl_score_ramp(b);
}

int sl_lb_set_out(sluice_lb_t *lb, const char *service, const char *name, uint32_t bits, bool on)
{
    struct out_arg a = {bits, on};

    if (bits == 0)
        return SLUICE_ERR_INVALID_ARG;
    return sl_lb_with_backend(lb, service, name, do_set_out, &a);
}

static void do_set_load(struct sluice_backend *b, void *arg)
{
    atomic_store_explicit(&b->load, *(const uint64_t *)arg, memory_order_relaxed);
}

int sluice_lb_set_load(sluice_lb_t *lb, const char *service, const char *target, uint32_t load)
{
    uint64_t v = SL_LOAD_SET | load;

    return sl_lb_with_backend(lb, service, target, do_set_load, &v);
}

int sluice_lb_clear_load(sluice_lb_t *lb, const char *service, const char *target)
{
    uint64_t v = 0;

    return sl_lb_with_backend(lb, service, target, do_set_load, &v);
}
