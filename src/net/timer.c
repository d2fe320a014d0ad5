#include "timer.h"

#include <stdlib.h>

void sl_timer_heap_init(struct sl_timer_heap *h)
{
    h->v = NULL;
    h->n = 0;
    h->cap = 0;
}

void sl_timer_heap_fini(struct sl_timer_heap *h)
{
    for (size_t i = 0; i < h->n; i++)
        h->v[i]->idx = SIZE_MAX;
    free(h->v);
    sl_timer_heap_init(h);
}

void sl_timer_init(struct sl_timer *t, sl_timer_cb_t cb, void *arg)
{
    t->when_ms = 0;
    t->idx = SIZE_MAX;
    t->cb = cb;
    t->arg = arg;
}

static void place(struct sl_timer_heap *h, size_t i, struct sl_timer *t)
{
    h->v[i] = t;
    t->idx = i;
}

static void sift_up(struct sl_timer_heap *h, size_t i)
{
    struct sl_timer *t = h->v[i];

    while (i > 0) {
        size_t parent = (i - 1) / 2;

        if (h->v[parent]->when_ms <= t->when_ms)
            break;
        place(h, i, h->v[parent]);
        i = parent;
    }
    place(h, i, t);
}

static void sift_down(struct sl_timer_heap *h, size_t i)
{
    struct sl_timer *t = h->v[i];

    for (;;) {
        size_t c = 2 * i + 1;

        if (c >= h->n)
            break;
        if (c + 1 < h->n && h->v[c + 1]->when_ms < h->v[c]->when_ms)
            c++;
        if (t->when_ms <= h->v[c]->when_ms)
            break;
        place(h, i, h->v[c]);
        i = c;
    }
    place(h, i, t);
}

int sl_timer_set(struct sl_timer_heap *h, struct sl_timer *t, uint64_t when_ms)
{
    if (sl_timer_armed(t)) {
        uint64_t old = t->when_ms;

        t->when_ms = when_ms;
        if (when_ms < old)
            sift_up(h, t->idx);
        else if (when_ms > old)
            sift_down(h, t->idx);
        return 0;
    }
    if (h->n == h->cap) {
        size_t cap = h->cap ? h->cap * 2 : 64;
        struct sl_timer **v = realloc(h->v, cap * sizeof(*v));

        if (!v)
            return -1;
        h->v = v;
        h->cap = cap;
    }
    t->when_ms = when_ms;
    h->v[h->n] = t;
    t->idx = h->n++;
    sift_up(h, t->idx);
    return 0;
}

void sl_timer_stop(struct sl_timer_heap *h, struct sl_timer *t)
{
    size_t i = t->idx;

    if (i == SIZE_MAX)
        return;
    t->idx = SIZE_MAX;
    h->n--;
    if (i == h->n)
        return;
    /* Move the last node into the hole; it may belong above or below. */
    place(h, i, h->v[h->n]);
    if (i > 0 && h->v[(i - 1) / 2]->when_ms > h->v[i]->when_ms)
        sift_up(h, i);
    else
        sift_down(h, i);
}

uint64_t sl_timer_next(const struct sl_timer_heap *h)
{
    return h->n ? h->v[0]->when_ms : UINT64_MAX;
}

size_t sl_timer_run(struct sl_timer_heap *h, uint64_t now_ms)
{
    size_t ran = 0;
    /* Bound the pass: timers re-armed for "now" by their callbacks wait
     * for the next pass instead of looping here forever. */
    size_t budget = h->n;

    while (budget-- > 0 && h->n > 0 && h->v[0]->when_ms <= now_ms) {
        struct sl_timer *t = h->v[0];

        sl_timer_stop(h, t);
        t->cb(t, t->arg);
        ran++;
    }
    return ran;
}
