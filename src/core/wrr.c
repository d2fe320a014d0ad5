/* weighted_round_robin: smooth weighted round robin (nginx's algorithm),
 * computed once in build() into a schedule that pick() walks with the
 * group's cursor. Weights 5,1,1 give a a b a c a a: exact ratios over one
 * cycle and no long run of one backend.
 *
 * Schedule length: weights are divided by their gcd; if the total is still
 * above max(65536, n) they are scaled down to that budget (each nonzero
 * weight keeps at least 1), so ratios become approximate only for weight
 * sets that would need a longer cycle. The schedule then holds at most
 * 2 x max(65536, n) entries. Weight 0 (drained) never enters it.
 *
 * A scheduled backend that is not eligible gives its turn to a slot drawn
 * at random (a few draws, then a fair O(n) scan weighted like the
 * schedule), not to the next slot: with 5,1,1 and a down, the next slot
 * would hand b 5/7 of the picks; random slots give b and c half each, in
 * proportion to their weights. A pick costs at most 1 + WRR_TRIES + 2n
 * checks, whatever the schedule's length. */
#include <stdint.h>
#include <stdlib.h>

#include "group.h"
#include "strategy_util.h"

#define WRR_BUDGET 65536u
/* Above this many steps x backends the O(total x n) nginx loop would slow
 * the writer; an earliest-deadline heap gives the same ratios and a
 * similarly interleaved order in O(total log n). */
#define WRR_NAIVE_MAX (UINT64_C(1) << 24)
/* Random slots tried before the scan. */
#define WRR_TRIES 8

struct wrr_state {
    size_t len;
    struct sluice_backend *sched[];
};

static uint64_t gcd64(uint64_t a, uint64_t b)
{
    while (b != 0) {
        uint64_t t = a % b;
        a = b;
        b = t;
    }
    return a;
}

/* Reads the nonzero weights into idx[]/w[]; divides by the gcd and scales
 * to the budget. Returns the count; *total gets the sum. */
static size_t load_weights(const struct sl_group *g, uint32_t *idx, uint64_t *w, uint64_t *total)
{
    size_t m = 0;
    uint64_t d = 0, sum = 0, limit;

    for (size_t i = 0; i < g->n; i++) {
        uint64_t wi = atomic_load_explicit(&g->backends[i]->weight, memory_order_relaxed);

        if (wi == 0)
            continue;
        idx[m] = (uint32_t)i;
        w[m++] = wi;
        d = gcd64(d, wi);
    }
    for (size_t k = 0; k < m; k++) {
        w[k] /= d;
        sum += w[k];
    }
    limit = m > WRR_BUDGET ? m : WRR_BUDGET;
    if (sum > limit) {
        uint64_t scaled = 0;

        for (size_t k = 0; k < m; k++) {
            /* w <= 2^32 and limit < 2^32 here, so the product fits. */
            w[k] = w[k] * limit / sum;
            w[k] = w[k] ? w[k] : 1;
            scaled += w[k];
        }
        sum = scaled;
    }
    *total = sum;
    return m;
}

/* nginx: every step each weight is added to its current value, the largest
 * current value wins and pays back the total. */
static void fill_naive(struct wrr_state *st, const struct sl_group *g, const uint32_t *idx,
                       const uint64_t *w, size_t m, uint64_t total, int64_t *cur)
{
    for (size_t k = 0; k < m; k++)
        cur[k] = 0;
    for (uint64_t s = 0; s < total; s++) {
        size_t best = 0;

        for (size_t k = 0; k < m; k++) {
            cur[k] += (int64_t)w[k];
            if (cur[k] > cur[best])
                best = k;
        }
        cur[best] -= (int64_t)total;
        st->sched[s] = g->backends[idx[best]];
    }
}

/* Deadline of entry k after c picks: (c + 1/2) / w. Compared exactly. */
static int deadline_less(const uint64_t *w, const uint64_t *cnt, uint32_t a, uint32_t b)
{
    uint64_t da = (2 * cnt[a] + 1) * w[b];
    uint64_t db = (2 * cnt[b] + 1) * w[a];

    return da < db || (da == db && a < b);
}

static void sift_down(uint32_t *heap, size_t m, size_t at, const uint64_t *w, const uint64_t *cnt)
{
    for (;;) {
        size_t l = 2 * at + 1, r = l + 1, min = at;

        if (l < m && deadline_less(w, cnt, heap[l], heap[min]))
            min = l;
        if (r < m && deadline_less(w, cnt, heap[r], heap[min]))
            min = r;
        if (min == at)
            return;
        uint32_t t = heap[at];
        heap[at] = heap[min];
        heap[min] = t;
        at = min;
    }
}

static void fill_heap(struct wrr_state *st, const struct sl_group *g, const uint32_t *idx,
                      const uint64_t *w, size_t m, uint64_t total, uint64_t *cnt, uint32_t *heap)
{
    for (size_t k = 0; k < m; k++) {
        cnt[k] = 0;
        heap[k] = (uint32_t)k;
    }
    for (size_t k = m / 2; k-- > 0;)
        sift_down(heap, m, k, w, cnt);
    for (uint64_t s = 0; s < total; s++) {
        uint32_t top = heap[0];

        st->sched[s] = g->backends[idx[top]];
        cnt[top]++;
        sift_down(heap, m, 0, w, cnt);
    }
}

static int wrr_build(struct sl_group *g)
{
    size_t n = g->n ? g->n : 1;
    uint32_t *idx = malloc(n * sizeof(*idx));
    uint64_t *w = malloc(n * sizeof(*w));
    uint64_t *scratch = malloc(n * sizeof(*scratch));
    uint32_t *heap = malloc(n * sizeof(*heap));
    struct wrr_state *st = NULL;
    uint64_t total = 0;
    size_t m;
    int rc = SLUICE_ERR_NOMEM;

    if (idx == NULL || w == NULL || scratch == NULL || heap == NULL)
        goto cleanup;
    m = load_weights(g, idx, w, &total);
    st = malloc(sizeof(*st) + (size_t)total * sizeof(st->sched[0]));
    if (st == NULL)
        goto cleanup;
    st->len = (size_t)total;
    if (total == m) { /* all equal after the gcd: list order */
        for (size_t k = 0; k < m; k++)
            st->sched[k] = g->backends[idx[k]];
    } else if (total * m <= WRR_NAIVE_MAX) {
        fill_naive(st, g, idx, w, m, total, (int64_t *)scratch);
    } else {
        fill_heap(st, g, idx, w, m, total, scratch, heap);
    }
    g->state = st;
    st = NULL;
    rc = 0;
cleanup:
    free(st);
    free(heap);
    free(scratch);
    free(w);
    free(idx);
    return rc;
}

static struct sluice_backend *wrr_pick(struct sl_group *g, const struct sl_pick *p)
{
    const struct wrr_state *st = g->state;

    if (st == NULL)
        return NULL;
    return sl_pick_rotating(g, p, st->sched, st->len, WRR_TRIES, true);
}

const struct sl_strategy_ops sl_wrr_ops = {
    .name = "weighted_round_robin",
    .build = wrr_build,
    .pick = wrr_pick,
    .destroy = sl_strategy_free_state,
};
