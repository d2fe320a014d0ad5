/* select_bench: the cost of sluice_lb_select() + sluice_backend_release()
 * for every strategy at 10, 1,000 and 100,000 backends, on one and two
 * threads, and the cost of sluice_lb_update_backends() on 10,000 backends.
 *
 * The machine is shared and noisy, so every figure is also printed as a
 * ratio to an anchor measured in the same run: one relaxed atomic
 * fetch_add plus one relaxed load per iteration, about the smallest thing a
 * select can do, and the anchor's own two-thread scaling (private
 * counters: what the machine gives right now). "pick alone" times the
 * strategy's pick() on a hand-built group, without the lb around it (epoch,
 * table lookup, counters, release). Targets (from the issue): <= 40 ns per select+release at
 * 1,000 backends on one thread, >= 1.8x aggregate throughput on two
 * threads, <= 10 ms to update 10,000 backends.
 *
 * Usage: select_bench [--quick]   (--quick: a few seconds, rougher figures) */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "backend_types.h"
#include "group.h"
#include "sluice.h"

#define NKEYS       4096
#define UPDATE_N    10000
#define UPDATE_RUNS 7

static const size_t sizes[] = {10, 1000, 100000};

struct bench {
    double run_ms; /* target duration of one measurement */
    char keys[NKEYS][24];
    size_t keylen[NKEYS];
};

struct worker {
    sluice_lb_t *lb;
    const struct bench *bn;
    uint64_t iters;
    uint64_t misses; /* selects that returned NULL (should stay 0) */
    pthread_barrier_t *start;
    double ns; /* wall time of this worker's loop */
    unsigned key_off;
};

static double now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return (x > y) - (x < y);
}

/* The anchor: ns per iteration of fetch_add + load on a private atomic. */
static double anchor_ns(uint64_t iters)
{
    _Atomic uint64_t ctr = 0;
    uint64_t sink = 0;
    double t0 = now_ns();

    for (uint64_t i = 0; i < iters; i++) {
        atomic_fetch_add_explicit(&ctr, 1, memory_order_relaxed);
        sink += atomic_load_explicit(&ctr, memory_order_relaxed);
    }
    double t = now_ns() - t0;
    if (sink == 42)
        fputs("", stderr); /* keep the loop */
    return t / (double)iters;
}

static void *anchor_main(void *arg)
{
    struct worker *w = arg;

    pthread_barrier_wait(w->start);
    w->ns = anchor_ns(w->iters) * (double)w->iters;
    return NULL;
}

/* Aggregate speed-up of the anchor on two threads over one. */
static double anchor_scaling(uint64_t iters)
{
    pthread_t th;
    pthread_barrier_t start;
    struct worker w[2] = {{.iters = iters, .start = &start}, {.iters = iters, .start = &start}};
    double one = anchor_ns(iters) * (double)iters;

    pthread_barrier_init(&start, NULL, 2);
    pthread_create(&th, NULL, anchor_main, &w[1]);
    anchor_main(&w[0]);
    pthread_join(th, NULL);
    pthread_barrier_destroy(&start);
    return 2.0 * one / (w[0].ns > w[1].ns ? w[0].ns : w[1].ns);
}

/* ns per pick() alone on a hand-built group of the first n of <bs>. */
static double pick_alone_ns(sluice_strategy_t s, struct sluice_backend **bs, size_t n,
                            const struct bench *bn, uint64_t iters)
{
    struct sl_group *g = aligned_alloc(64, sizeof(*g));
    uint64_t sink = 0;
    double t0, t;

    if (g == NULL)
        return -1;
    memset(g, 0, sizeof(*g));
    g->strategy = s;
    g->ops = sl_strategy_ops(s);
    g->backends = bs;
    g->n = n;
    g->seed = 0x51u + (uint64_t)s * 7 + n;
    if (g->ops->build(g) != 0) {
        free(g);
        return -1;
    }
    t0 = now_ns();
    for (uint64_t i = 0; i < iters; i++) {
        unsigned k = (unsigned)i & (NKEYS - 1);
        struct sl_pick p = {.key = bn->keys[k], .keylen = bn->keylen[k]};

        sink += (uintptr_t)g->ops->pick(g, &p);
    }
    t = (now_ns() - t0) / (double)iters;
    g->ops->destroy(g);
    free(g);
    if (sink == 1)
        fputs("", stderr); /* keep the loop */
    return t;
}

/* Hand-built backends for pick_alone_ns(): usable, weight 1, idle. */
static struct sluice_backend **fake_backends(char **targets, size_t n)
{
    struct sluice_backend **bs = calloc(n, sizeof(*bs));

    for (size_t i = 0; bs != NULL && i < n; i++) {
        bs[i] = aligned_alloc(64, sizeof(*bs[i]));
        if (bs[i] == NULL)
            exit(1);
        memset(bs[i], 0, sizeof(*bs[i]));
        bs[i]->target = targets[i];
        bs[i]->name = targets[i];
        atomic_store(&bs[i]->weight, 1);
        atomic_store(&bs[i]->score, 1);
    }
    return bs;
}

static void fake_backends_free(struct sluice_backend **bs, size_t n)
{
    for (size_t i = 0; bs != NULL && i < n; i++)
        free(bs[i]);
    free(bs);
}

static void select_loop(struct worker *w)
{
    const struct bench *bn = w->bn;
    unsigned k = w->key_off;

    for (uint64_t i = 0; i < w->iters; i++) {
        sluice_backend_t *b = sluice_lb_select(w->lb, "svc", bn->keys[k], bn->keylen[k]);

        k = (k + 1) & (NKEYS - 1);
        if (b == NULL) {
            w->misses++;
            continue;
        }
        sluice_backend_release(b, SLUICE_OUTCOME_OK, 100000 + (i & 1023));
    }
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    double t0;

    pthread_barrier_wait(w->start);
    t0 = now_ns();
    select_loop(w);
    w->ns = now_ns() - t0;
    return NULL;
}

/* Aggregate ops/s of <nthreads> workers running <iters> each. */
static double run_threads(sluice_lb_t *lb, const struct bench *bn, int nthreads, uint64_t iters,
                          uint64_t *misses)
{
    pthread_t th[2];
    struct worker w[2];
    pthread_barrier_t start;
    double worst = 0;

    pthread_barrier_init(&start, NULL, (unsigned)nthreads);
    for (int t = 0; t < nthreads; t++) {
        w[t] = (struct worker){.lb = lb,
                               .bn = bn,
                               .iters = iters,
                               .start = &start,
                               .key_off = (unsigned)t * (NKEYS / 2)};
        if (t > 0)
            pthread_create(&th[t], NULL, worker_main, &w[t]);
    }
    worker_main(&w[0]);
    for (int t = 1; t < nthreads; t++)
        pthread_join(th[t], NULL);
    pthread_barrier_destroy(&start);
    for (int t = 0; t < nthreads; t++) {
        worst = w[t].ns > worst ? w[t].ns : worst;
        *misses += w[t].misses;
    }
    return (double)iters * nthreads / worst * 1e9;
}

static char **targets_new(size_t n, unsigned base)
{
    char **t = calloc(n, sizeof(*t));

    if (t == NULL)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        size_t v = i + base;
        char buf[32];

        snprintf(buf, sizeof(buf), "10.%zu.%zu.%zu:8080", (v >> 16) & 255, (v >> 8) & 255, v & 255);
        t[i] = strdup(buf);
        if (t[i] == NULL)
            exit(1);
    }
    return t;
}

static void targets_free(char **t, size_t n)
{
    for (size_t i = 0; i < n && t != NULL; i++)
        free(t[i]);
    free(t);
}

/* Iterations that take about run_ms on one thread, from a short probe. */
static uint64_t calibrate(sluice_lb_t *lb, const struct bench *bn)
{
    uint64_t probe = 20000, misses = 0;
    double ops = run_threads(lb, bn, 1, probe, &misses);
    double want = ops * bn->run_ms / 1e3;

    return want < (double)probe ? probe : (uint64_t)want;
}

static int bench_selects(struct bench *bn, double anchor, int *missed_targets)
{
    char **tg = targets_new(100000, 0);
    struct sluice_backend **fake = tg != NULL ? fake_backends(tg, 100000) : NULL;

    if (fake == NULL)
        return -1;
    printf("| strategy | backends | pick alone ns | select+release ns, 1 thread | x anchor "
           "| 2 threads, aggregate ns/op | scaling 2T/1T |\n"
           "|---|---:|---:|---:|---:|---:|---:|\n");
    for (int s = 0; s < SLUICE_STRATEGY_COUNT; s++) {
        for (size_t z = 0; z < sizeof(sizes) / sizeof(sizes[0]); z++) {
            sluice_lb_t *lb = sluice_lb_new();
            uint64_t iters, misses = 0;
            double one, two, alone;

            if (lb == NULL || sluice_lb_register(lb, "svc", (const char *const *)tg, sizes[z],
                                                 (sluice_strategy_t)s) != 0) {
                fprintf(stderr, "register failed\n");
                targets_free(tg, 100000);
                return -1;
            }
            iters = calibrate(lb, bn);
            alone = pick_alone_ns((sluice_strategy_t)s, fake, sizes[z], bn, iters);
            one = run_threads(lb, bn, 1, iters, &misses);
            two = run_threads(lb, bn, 2, iters, &misses);
            printf("| %s | %zu | %.1f | %.1f | %.2f | %.1f | %.2fx%s |\n",
                   sluice_strategy_name((sluice_strategy_t)s), sizes[z], alone, 1e9 / one,
                   1e9 / one / anchor, 1e9 / two, two / one, misses ? " (misses!)" : "");
            if (sizes[z] == 1000 && (1e9 / one > 40.0 || two / one < 1.8))
                (*missed_targets)++;
            fflush(stdout);
            sluice_lb_free(lb);
        }
    }
    fake_backends_free(fake, 100000);
    targets_free(tg, 100000);
    return 0;
}

/* update_backends on UPDATE_N targets, replacing 10% each time. */
static int bench_updates(double anchor)
{
    char **a = targets_new(UPDATE_N, 0);
    char **b = targets_new(UPDATE_N, 0);
    double ms[UPDATE_RUNS];

    if (a == NULL || b == NULL)
        return -1;
    /* b: the same list with every tenth target replaced. */
    for (size_t i = 0; i < UPDATE_N; i += 10) {
        char buf[32];

        snprintf(buf, sizeof(buf), "10.200.%zu.%zu:9090", (i >> 8) & 255, i & 255);
        free(b[i]);
        b[i] = strdup(buf);
        if (b[i] == NULL)
            return -1;
    }
    printf("\n| strategy | update of %d backends, 10%% replaced: median ms | x anchor |\n"
           "|---|---:|---:|\n",
           UPDATE_N);
    for (int s = 0; s < SLUICE_STRATEGY_COUNT; s++) {
        sluice_lb_t *lb = sluice_lb_new();

        if (lb == NULL || sluice_lb_register(lb, "svc", (const char *const *)a, UPDATE_N,
                                             (sluice_strategy_t)s) != 0)
            return -1;
        for (int r = 0; r < UPDATE_RUNS; r++) {
            char **next = r % 2 == 0 ? b : a;
            double t0 = now_ns();

            if (sluice_lb_update_backends(lb, "svc", (const char *const *)next, UPDATE_N) != 0)
                return -1;
            ms[r] = (now_ns() - t0) / 1e6;
        }
        qsort(ms, UPDATE_RUNS, sizeof(ms[0]), cmp_double);
        printf("| %s | %.2f | %.0f |\n", sluice_strategy_name((sluice_strategy_t)s),
               ms[UPDATE_RUNS / 2], ms[UPDATE_RUNS / 2] * 1e6 / anchor);
        fflush(stdout);
        sluice_lb_free(lb);
    }
    targets_free(a, UPDATE_N);
    targets_free(b, UPDATE_N);
    return 0;
}

int main(int argc, char **argv)
{
    static struct bench bn;
    int quick = argc > 1 && strcmp(argv[1], "--quick") == 0;
    int missed = 0;
    double anchor, t0 = now_ns();

    bn.run_ms = quick ? 20 : 250;
    for (int i = 0; i < NKEYS; i++) {
        snprintf(bn.keys[i], sizeof(bn.keys[i]), "198.51.%d.%d", (i >> 8) & 255, i & 255);
        bn.keylen[i] = strlen(bn.keys[i]);
    }
    anchor_ns(1000000); /* warm up */
    anchor = anchor_ns(quick ? 2000000 : 20000000);
    printf("anchor (relaxed fetch_add + load): %.2f ns; anchor 2-thread scaling %.2fx\n\n", anchor,
           anchor_scaling(quick ? 2000000 : 20000000));
    if (bench_selects(&bn, anchor, &missed) != 0 || bench_updates(anchor) != 0) {
        fprintf(stderr, "select_bench: setup failed\n");
        return 1;
    }
    printf("\nstrategies missing a 1,000-backend target (<= 40 ns, >= 1.8x): %d; total %.1f s\n",
           missed, (now_ns() - t0) / 1e9);
    return 0;
}
