/* maglev: consistent hashing with the Maglev lookup table (Eisenbud et al.,
 * NSDI 2016). Each backend gets a permutation of the M table slots from two
 * hashes of its target (offset, skip); backends take turns claiming their
 * next free preferred slot until the table is full. A key hashes to one
 * slot. Removing one of n backends moves about 1/n of the keys; the others
 * keep their backend.
 *
 * Table size M: the smallest prime >= max(65537, 100 x n), capped at
 * 262,139 (prime; 1 MB). The fill costs about M ln M probes: the cap keeps
 * a rebuild of 10,000 backends near 5 ms (524,287 took 10 ms, over the
 * 10 ms update budget once the lb's own work is added). The price is
 * fewer slots per backend in big groups: Maglev gives every backend M/n
 * slots give or take one, so up to 2,621 backends keep 100 each (1% skew),
 * 10,000 own 26 or 27 (measured: max 1.030 x, min 0.992 x the mean, also
 * with weights 1..3) and 100,000 own 2 or 3 (max 1.14 x), and disruption
 * on a change grows a little above 1/n there. The table is also kept
 * > 2n.
 * Weights: after round r a backend of weight w has
 * claimed r x n x w / W slots (W the weight total), so slots follow
 * weights; equal weights give the paper's one slot per backend per round,
 * and a round costs O(n) whatever the weights. Weight 0 takes none.
 *
 * pick(): the key's slot, then the following slots (up to MAGLEV_PROBES)
 * when that backend is not eligible, which spreads a down backend's keys
 * over the others like its slots' neighbours; then a linear scan. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "group.h"
#include "strategy_util.h"

#define MAGLEV_MIN_SIZE 65537u
#define MAGLEV_MAX_SIZE 262139u /* prime */
#define MAGLEV_PROBES   32

struct maglev_state {
    uint32_t m;
    uint32_t table[]; /* slot -> index in g->backends */
};

/* Occupancy bits for the fill: probing a 32 KB bitmap instead of the
 * 1 MB table keeps the build's random reads in cache. */
struct fill {
    struct maglev_state *st;
    uint64_t *taken;
};

static int is_prime(uint64_t x)
{
    if (x < 2)
        return 0;
    for (uint64_t d = 2; d * d <= x; d++)
        if (x % d == 0)
            return 0;
    return 1;
}

static uint32_t table_size(size_t n)
{
    uint64_t want = (uint64_t)n * 100;

    if (want < MAGLEV_MIN_SIZE)
        want = MAGLEV_MIN_SIZE;
    if (want > MAGLEV_MAX_SIZE)
        want = MAGLEV_MAX_SIZE;
    if (want <= (uint64_t)n * 2)
        want = (uint64_t)n * 2 + 1;
    while (!is_prime(want))
        want++;
    return (uint32_t)want;
}

/* Per backend fill cursor: next preferred slot, its step, claimed count. */
struct perm {
    uint32_t next;
    uint32_t skip;
    uint64_t count; /* credit toward the next claim (populate) */
    uint64_t w;
};

static const char *key_of(const struct sluice_backend *b)
{
    return b->target != NULL ? b->target : (b->name != NULL ? b->name : "");
}

static void init_perms(const struct sl_group *g, struct perm *pm, uint32_t m, uint64_t *wsum)
{
    *wsum = 0;
    for (size_t i = 0; i < g->n; i++) {
        const char *k = key_of(g->backends[i]);
        uint64_t h1 = sl_hash64(k, strlen(k), SL_KEY_SEED);
        uint64_t h2 = sl_hash64(k, strlen(k), SL_KEY_SEED ^ UINT64_C(0x6d61676c6576));

        pm[i].next = (uint32_t)(h1 % m);
        pm[i].skip = (uint32_t)(h2 % (m - 1) + 1);
        pm[i].count = 0;
        pm[i].w = atomic_load_explicit(&g->backends[i]->weight, memory_order_relaxed);
        *wsum += pm[i].w;
    }
}

/* Claims backend i's next free preferred slot. */
static void claim(const struct fill *f, struct perm *pm, uint32_t i)
{
    uint32_t m = f->st->m;
    uint32_t c = pm->next;

    while (f->taken[c >> 6] & (UINT64_C(1) << (c & 63))) {
        c += pm->skip;
        c = c >= m ? c - m : c;
    }
    f->taken[c >> 6] |= UINT64_C(1) << (c & 63);
    f->st->table[c] = i;
    c += pm->skip;
    pm->next = c >= m ? c - m : c;
}

static void populate(const struct fill *f, const struct sl_group *g, struct perm *pm, uint64_t wsum)
{
    const struct maglev_state *st = f->st;
    uint64_t filled = 0, n = g->n;

    /* pm[i].count accumulates n x w per round and pays wsum per claim: the
     * same floor(round x n x w / wsum) claims without a division. */
    for (size_t i = 0; i < g->n; i++)
        pm[i].count = 0;
    while (filled < st->m) {
        for (size_t i = 0; i < g->n && filled < st->m; i++) {
            pm[i].count += n * pm[i].w; /* n < 2^32, w < 2^32 */
            while (pm[i].count >= wsum && filled < st->m) {
                claim(f, &pm[i], (uint32_t)i);
                pm[i].count -= wsum;
                filled++;
            }
        }
    }
}

static int maglev_build(struct sl_group *g)
{
    uint32_t m = table_size(g->n);
    struct maglev_state *st = NULL;
    struct perm *pm = NULL;
    struct fill f = {NULL, NULL};
    uint64_t wsum;
    int rc = SLUICE_ERR_NOMEM;

    pm = malloc((g->n ? g->n : 1) * sizeof(*pm));
    if (pm == NULL)
        goto cleanup;
    init_perms(g, pm, m, &wsum);
    if (wsum == 0) { /* no backend takes traffic: an empty table */
        st = calloc(1, sizeof(*st));
        if (st == NULL)
            goto cleanup;
    } else {
        st = malloc(sizeof(*st) + (size_t)m * sizeof(st->table[0]));
        if (st == NULL)
            goto cleanup;
        st->m = m;
        f.st = st;
        f.taken = calloc((m + 63) / 64, sizeof(*f.taken));
        if (f.taken == NULL)
            goto cleanup;
        populate(&f, g, pm, wsum);
    }
    g->state = st;
    st = NULL;
    rc = 0;
cleanup:
    free(st);
    free(f.taken);
    free(pm);
    return rc;
}

static struct sluice_backend *maglev_pick(struct sl_group *g, const struct sl_pick *p)
{
    const struct maglev_state *st = g->state;
    uint64_t h;
    uint32_t slot;

    if (st == NULL || st->m == 0)
        return NULL;
    h = sl_hash64(p->key, p->key != NULL ? p->keylen : 0, SL_KEY_SEED);
    slot = (uint32_t)sl_range32((uint32_t)(h >> 32), st->m);
    for (int k = 0; k < MAGLEV_PROBES; k++) {
        struct sluice_backend *b = g->backends[st->table[slot]];

        if (sl_pick_eligible(p, b))
            return b;
        slot = slot + 1 < st->m ? slot + 1 : 0;
    }
    return sl_scan_eligible(g, p, (size_t)(h >> 32));
}

const struct sl_strategy_ops sl_maglev_ops = {
    .name = "maglev",
    .build = maglev_build,
    .pick = maglev_pick,
    .destroy = sl_strategy_free_state,
};
