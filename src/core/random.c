/* random: an eligible backend drawn with probability proportional to its
 * weight. build() makes a Walker/Vose alias table, so a draw is one random
 * number, one table entry and one compare at any group size (equal weights
 * skip the table). A drawn backend that is not eligible is redrawn up to
 * RANDOM_TRIES times, then a linear scan from a random start takes the
 * first eligible one, so the worst case stays O(n). */
#include <stdint.h>
#include <stdlib.h>

#include "group.h"
#include "strategy_util.h"

#define RANDOM_TRIES 8

struct alias_entry {
    uint32_t thr;   /* keep this entry when the low 32 random bits are below */
    uint32_t alias; /* else take this one */
};

struct random_state {
    size_t n;
    int uniform; /* every weight equal and nonzero: no table needed */
    struct alias_entry e[];
};

/* Vose's method in integers: entry i carries s_i = w_i * n against a
 * bucket capacity of W (the weight total); a short bucket is topped up from
 * a long one. small[] grows from the front of work[], large[] from the back. */
static void fill_alias(struct random_state *st, uint64_t *s, uint32_t *work, uint64_t total)
{
    size_t n = st->n, ns = 0, nl = 0;

    for (size_t i = 0; i < n; i++) {
        if (s[i] < total)
            work[ns++] = (uint32_t)i;
        else
            work[n - 1 - nl++] = (uint32_t)i;
    }
    while (ns > 0 && nl > 0) {
        uint32_t l = work[--ns];
        uint32_t g = work[n - nl];

        st->e[l].thr = (uint32_t)(((unsigned __int128)s[l] << 32) / total);
        st->e[l].alias = g;
        s[g] -= total - s[l];
        if (s[g] < total) {
            nl--;
            work[ns++] = g;
        }
    }
    /* What remains is full (up to rounding): always keep. */
    while (ns > 0) {
        uint32_t i = work[--ns];
        st->e[i].thr = UINT32_MAX;
        st->e[i].alias = i;
    }
    while (nl > 0) {
        uint32_t i = work[n - nl--];
        st->e[i].thr = UINT32_MAX;
        st->e[i].alias = i;
    }
}

static int random_build(struct sl_group *g)
{
    size_t n = g->n;
    struct random_state *st = malloc(sizeof(*st) + n * sizeof(st->e[0]));
    uint64_t *s = NULL;
    uint32_t *work = NULL;
    uint64_t total = 0, first;
    int rc = SLUICE_ERR_NOMEM;

    if (st == NULL)
        goto cleanup;
    st->n = n;
    st->uniform = 1;
    first = n ? atomic_load_explicit(&g->backends[0]->weight, memory_order_relaxed) : 0;
    s = malloc((n ? n : 1) * sizeof(*s));
    work = malloc((n ? n : 1) * sizeof(*work));
    if (s == NULL || work == NULL)
        goto cleanup;
    for (size_t i = 0; i < n; i++) {
        uint64_t w = atomic_load_explicit(&g->backends[i]->weight, memory_order_relaxed);

        if (w != first || w == 0)
            st->uniform = 0;
        total += w;
        s[i] = w * n;
    }
    if (!st->uniform && total > 0)
        fill_alias(st, s, work, total);
    else if (total == 0)
        st->n = 0; /* all drained: nothing to draw */
    g->state = st;
    st = NULL;
    rc = 0;
cleanup:
    free(work);
    free(s);
    free(st);
    return rc;
}

static struct sluice_backend *random_pick(struct sl_group *g, const struct sl_pick *p)
{
    const struct random_state *st = g->state;
    uint64_t r = 0;

    if (st == NULL || st->n == 0)
        return NULL;
    for (int t = 0; t < RANDOM_TRIES; t++) {
        size_t i;

        r = sl_group_rand(g);
        i = sl_range32((uint32_t)(r >> 32), st->n);
        if (!st->uniform && (uint32_t)r >= st->e[i].thr)
            i = st->e[i].alias;
        if (sl_pick_eligible(p, g->backends[i]))
            return g->backends[i];
    }
    return sl_scan_eligible(g, p, sl_range32((uint32_t)(r >> 16), st->n));
}

const struct sl_strategy_ops sl_random_ops = {
    .name = "random",
    .build = random_build,
    .pick = random_pick,
    .destroy = sl_strategy_free_state,
};
