/* ring_hash: consistent hashing on a ring of virtual nodes with bounded
 * load (Mirrokni et al., "Consistent Hashing with Bounded Loads").
 *
 * Ring: each backend gets RING_VNODES points scaled by weight / mean weight
 * (at least 1; weight 0: none). The total is bounded by RING_MAX_POINTS: for
 * large groups the per-backend count shrinks (10,000 backends: 52 points
 * each, 100,000: 5), trading some evenness (which bounded load evens out)
 * for a 4 MB ceiling and a build of a few ms (points sum to about
 * base x n, plus at most n for rounding up). Points are the top 32 bits of
 * hashes of the target and the point number, sorted; a key goes to the
 * first point clockwise of its hash's top 32 bits (a 64K-entry index on
 * the top bits, then a binary search inside one bucket). 32 bits are
 * plenty for at most 2^19 points (a few ties, ordered by backend index),
 * and halve the ring that the build sorts and a pick reads.
 *
 * Measured share of the key space per backend (max, min x the mean, equal
 * weights): 100 points (up to 5,242 backends) 1.35x, 0.70x; 10,000
 * backends (52 points) 1.54x, 0.55x; 100,000 (5 points) 4.4x, 0.08x. The
 * build of 10,000 backends takes about 6 ms (best of 30; 2^20 points would
 * double it and only bring 10,000 backends to the 100-point figures), so
 * the ceiling stays at 2^19 and bounded load evens out the rest.
 *
 * Bounded load: walking clockwise from there, a backend is passed over
 * while its active count has reached ceil(1.25 x (A + 1) / u), A the total
 * active of the u usable backends. Computing A costs a scan, so it runs
 * only when the first candidate is busy (an idle backend is always under
 * the bound), and above RING_EXACT_SCAN backends it is estimated from a
 * strided sample of that many.
 *
 * The walk stops after RING_WALK_MAX points: with most backends down a
 * walk round the whole ring (up to 2^19 points) would cost hundreds of
 * microseconds. A pick that has not settled by then scans the backends
 * once from a slot derived from the key (still the same answer for the
 * same key and health), taking the first eligible one under the bound,
 * else the first eligible one: at most RING_WALK_MAX + n checks, plus the
 * bound's scan. If every candidate is over the bound (possible only with
 * skips), the first eligible one seen wins. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "group.h"
#include "strategy_util.h"

#define RING_VNODES     100
#define RING_MAX_POINTS (1u << 19)
#define RING_EXACT_SCAN 1024
/* Points walked before the scan. With a fraction d of the backends down
 * (points spread evenly), a walk goes past 64 with probability d^64:
 * 1 in 10^6 at d = 80%. */
#define RING_WALK_MAX 64
/* c = 1.25 as a fraction. */
#define RING_C_NUM 5
#define RING_C_DEN 4

struct ring_point {
    uint32_t hash; /* top 32 bits of the point's hash */
    uint32_t idx;  /* index in g->backends */
};

/* bucket[t] is the first point whose top <bits> hash bits are >= t, so a
 * lookup binary-searches one bucket (about two points) instead of the
 * whole ring: two cache misses instead of about log2(points). The index
 * has about npoints / 2 entries (at most 2^16), so a small ring's index
 * stays as small as the ring. */
#define RING_INDEX_MAX_BITS 16

struct ring_state {
    size_t npoints;
    unsigned bits;
    uint32_t *bucket; /* (1 << bits) + 1 entries, after pts[] */
    struct ring_point pts[];
};

static unsigned index_bits(size_t npoints)
{
    unsigned bits = 1;

    while (bits < RING_INDEX_MAX_BITS && ((size_t)2 << bits) <= npoints)
        bits++;
    return bits;
}

static void build_index(struct ring_state *st)
{
    size_t at = 0;

    for (uint32_t t = 0; t <= (1u << st->bits); t++) {
        while (at < st->npoints && (st->pts[at].hash >> (32 - st->bits)) < t)
            at++;
        st->bucket[t] = (uint32_t)at;
    }
}

/* LSD radix sort on the 32-bit hash (two 16-bit passes, the result back
 * in pts). Stable, so tied hashes stay in the order they were made: by
 * backend index. Several times faster than qsort on 10^5..10^6 points,
 * which is what keeps an update of 10,000 backends cheap. */
static int sort_points(struct ring_point *pts, size_t n)
{
    struct ring_point *tmp = malloc((n ? n : 1) * sizeof(*tmp));
    uint32_t *pos = malloc(65536 * sizeof(*pos));
    struct ring_point *src = pts, *dst = tmp;

    if (tmp == NULL || pos == NULL) {
        free(tmp);
        free(pos);
        return SLUICE_ERR_NOMEM;
    }
    for (int shift = 0; shift < 32; shift += 16) {
        uint32_t sum = 0;

        memset(pos, 0, 65536 * sizeof(*pos));
        for (size_t i = 0; i < n; i++)
            pos[(src[i].hash >> shift) & 0xffff]++;
        for (size_t d = 0; d < 65536; d++) {
            uint32_t c = pos[d];
            pos[d] = sum;
            sum += c;
        }
        for (size_t i = 0; i < n; i++)
            dst[pos[(src[i].hash >> shift) & 0xffff]++] = src[i];
        struct ring_point *t = src;
        src = dst;
        dst = t;
    }
    free(tmp);
    free(pos);
    return 0;
}

/* Points for a backend of weight w, given the mean weight and per-backend
 * base count. */
static size_t vnodes_for(uint64_t w, uint64_t wsum, size_t n, size_t base)
{
    uint64_t v;

    if (w == 0)
        return 0;
    v = (uint64_t)base * w * n / wsum; /* base x w / mean */
    if (v < 1)
        v = 1;
    if (v > (uint64_t)base * 16)
        v = (uint64_t)base * 16; /* one heavy backend may not eat the budget */
    return (size_t)v;
}

static int ring_build(struct sl_group *g)
{
    size_t n = g->n, base, total = 0, at = 0;
    unsigned bits;
    uint64_t wsum = 0;
    struct ring_state *st;

    for (size_t i = 0; i < n; i++)
        wsum += atomic_load_explicit(&g->backends[i]->weight, memory_order_relaxed);
    base = n ? RING_MAX_POINTS / n : RING_VNODES;
    base = base > RING_VNODES ? RING_VNODES : (base < 1 ? 1 : base);
    for (size_t i = 0; i < n && wsum > 0; i++)
        total += vnodes_for(atomic_load_explicit(&g->backends[i]->weight, memory_order_relaxed),
                            wsum, n, base);
    bits = index_bits(total);
    st = malloc(sizeof(*st) + total * sizeof(st->pts[0]) +
                (((size_t)1 << bits) + 1) * sizeof(uint32_t));
    if (st == NULL)
        return SLUICE_ERR_NOMEM;
    st->bits = bits;
    st->bucket = (uint32_t *)(void *)&st->pts[total];
    for (size_t i = 0; i < n && wsum > 0; i++) {
        const struct sluice_backend *b = g->backends[i];
        const char *k = b->target != NULL ? b->target : (b->name != NULL ? b->name : "");
        uint64_t h = sl_hash64(k, strlen(k), SL_KEY_SEED);
        size_t v =
            vnodes_for(atomic_load_explicit(&b->weight, memory_order_relaxed), wsum, n, base);

        for (size_t j = 0; j < v; j++) {
            st->pts[at].hash =
                (uint32_t)(sl_mix64(h + (uint64_t)(j + 1) * UINT64_C(0x9e3779b97f4a7c15)) >> 32);
            st->pts[at++].idx = (uint32_t)i;
        }
    }
    st->npoints = at;
    if (sort_points(st->pts, at) != 0) {
        free(st);
        return SLUICE_ERR_NOMEM;
    }
    build_index(st);
    g->state = st;
    return 0;
}

/* The first point with hash >= the top 32 bits of <h>, wrapping to 0. */
static size_t ring_find(const struct ring_state *st, uint64_t h64)
{
    uint32_t h = (uint32_t)(h64 >> 32);
    size_t top = (size_t)(h >> (32 - st->bits));
    size_t lo = st->bucket[top], hi = st->bucket[top + 1];

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;

        if (st->pts[mid].hash < h)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo == st->npoints ? 0 : lo;
}

/* ceil(c x (A + 1) / u), exactly for small groups, sampled above. */
static uint64_t load_bound(const struct sl_group *g)
{
    size_t n = g->n;
    size_t step = n > RING_EXACT_SCAN ? n / RING_EXACT_SCAN : 1;
    uint64_t active = 0, usable = 0, num, den;

    for (size_t i = 0; i < n; i += step) {
        const struct sluice_backend *b = g->backends[i];

        if (sl_backend_usable(b)) {
            usable++;
            active += sl_backend_active(b);
        }
    }
    if (usable == 0)
        return UINT64_MAX;
    /* Sampled: A ~ active x step, u ~ usable x step; the ratio is the
     * same, only the +1 scales. */
    num = RING_C_NUM * (active * step + 1);
    den = RING_C_DEN * usable * step;
    return (num + den - 1) / den;
}

/* True when eligible <b> is under the load bound. *bound is computed on
 * first need (0: not yet): an idle backend never needs it. */
static bool under_bound(const struct sl_group *g, const struct sluice_backend *b, uint64_t *bound)
{
    uint32_t a = sl_backend_active(b);

    if (a == 0)
        return true;
    if (*bound == 0)
        *bound = load_bound(g);
    return a < *bound;
}

/* The fallback after a long walk: backends in list order from <start>,
 * the first eligible one under the bound, else the first eligible one
 * (the walk's <first> if it saw one). */
static struct sluice_backend *ring_scan(struct sl_group *g, const struct sl_pick *p, size_t start,
                                        uint64_t bound, struct sluice_backend *first)
{
    size_t n = g->n;

    for (size_t k = 0; k < n; k++) {
        size_t i = start + k < n ? start + k : start + k - n;
        struct sluice_backend *b = g->backends[i];

        if (!sl_pick_eligible(p, b))
            continue;
        if (first == NULL)
            first = b;
        if (under_bound(g, b, &bound)) {
            sl_walk_visits += k + 1;
            return b;
        }
    }
    sl_walk_visits += n;
    return first;
}

static struct sluice_backend *ring_pick(struct sl_group *g, const struct sl_pick *p)
{
    const struct ring_state *st = g->state;
    struct sluice_backend *first = NULL;
    uint64_t bound = 0;
    uint64_t h;
    size_t i, walk;

    if (st == NULL || st->npoints == 0)
        return NULL;
    h = sl_hash64(p->key, p->key != NULL ? p->keylen : 0, SL_KEY_SEED);
    i = ring_find(st, h);
    walk = st->npoints < RING_WALK_MAX ? st->npoints : RING_WALK_MAX;
    for (size_t k = 0; k < walk; k++) {
        struct sluice_backend *b = g->backends[st->pts[i].idx];

        i = i + 1 < st->npoints ? i + 1 : 0;
        if (!sl_pick_eligible(p, b))
            continue;
        if (first == NULL)
            first = b;
        if (under_bound(g, b, &bound)) {
            sl_walk_visits += k;
            return b;
        }
    }
    sl_walk_visits += walk;
    if (walk == st->npoints) /* the whole ring: every backend with a point */
        return first;
    return ring_scan(g, p, sl_range32((uint32_t)(h >> 32), g->n), bound, first);
}

const struct sl_strategy_ops sl_ring_hash_ops = {
    .name = "ring_hash",
    .build = ring_build,
    .pick = ring_pick,
    .destroy = sl_strategy_free_state,
};
