/* Timers: a binary min-heap of intrusive timer nodes, one heap per event
 * loop (so per worker thread; nothing here is thread-safe). A timer lives in
 * the caller's struct (a connection, a listener); arming, re-arming and
 * stopping cost O(log n) and never allocate once the heap has grown to the
 * largest number of armed timers seen (the array doubles, never shrinks).
 * Times are absolute milliseconds on the loop's monotonic clock. */
#ifndef SL_NET_TIMER_H
#define SL_NET_TIMER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct sl_timer;
typedef void (*sl_timer_cb_t)(struct sl_timer *t, void *arg);

struct sl_timer {
    uint64_t when_ms; /* absolute deadline while armed */
    size_t idx;       /* position in the heap; SIZE_MAX when not armed */
    sl_timer_cb_t cb;
    void *arg;
};

struct sl_timer_heap {
    struct sl_timer **v;
    size_t n;
    size_t cap;
};

void sl_timer_heap_init(struct sl_timer_heap *h);
/* Frees the array; armed timers are simply forgotten (they are the
 * caller's memory). */
void sl_timer_heap_fini(struct sl_timer_heap *h);

/* Prepares <t> (not armed) with its callback; call once per timer. */
void sl_timer_init(struct sl_timer *t, sl_timer_cb_t cb, void *arg);
static inline bool sl_timer_armed(const struct sl_timer *t)
{
    return t->idx != SIZE_MAX;
}
/* Arms <t> at <when_ms>, or moves it there when already armed. Returns 0,
 * or -1 when the heap could not grow (out of memory; <t> stays unarmed). */
int sl_timer_set(struct sl_timer_heap *h, struct sl_timer *t, uint64_t when_ms);
/* Disarms <t>; a no-op when not armed. */
void sl_timer_stop(struct sl_timer_heap *h, struct sl_timer *t);
/* The earliest deadline, or UINT64_MAX when nothing is armed. */
uint64_t sl_timer_next(const struct sl_timer_heap *h);
/* Pops and runs, in deadline order, every timer due at <now_ms>. A callback
 * may arm, re-arm or stop any timer (itself included); one re-armed at or
 * before <now_ms> runs in the next call, not this one, so a callback that
 * keeps re-arming cannot spin. Returns how many ran. */
size_t sl_timer_run(struct sl_timer_heap *h, uint64_t now_ms);

#endif /* SL_NET_TIMER_H */
