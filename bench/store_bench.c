/* store_bench: answered durable applies per second of the SQLite state
 * store, one thread, each apply one op (a backend record of a typical
 * size) and each fsync'd before it returns, as one API write is; then the
 * same with several ops per apply, and with 8 one-op applies per group
 * commit (sl_store_group_begin/commit: 8 clients' calls, one fsync). The
 * issue's target: >= 500 durable API writes/s from 8 clients.
 *
 * Usage: store_bench [DIR [N]]   (DIR: where the store file goes, default
 * the current directory, on the disk the daemon would use; N applies per
 * run, default 1000) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "control/store.h"

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* <n> applies of <per> ops each; returns ops per second. */
static double run(struct sl_store *s, int n, int per, int round)
{
    static const char value[] =
        "{\"backend\":{\"name\":\"b\",\"target\":\"10.0.0.1:8080\",\"weight\":1,"
        "\"labels\":{\"version\":\"v1\",\"zone\":\"a\"}},\"origin\":\"dynamic\","
        "\"owner\":\"tok_0123456789ab\"}";
    struct sl_store_op ops[64];
    char keys[64][48];
    char err[512];
    double t0 = now_s();

    for (int i = 0; i < n; i++) {
        for (int j = 0; j < per; j++) {
            snprintf(keys[j], sizeof(keys[j]), "api/r%d-%d-%d", round, i, j);
            ops[j] = (struct sl_store_op){"backend", keys[j], value};
        }
        if (sl_store_apply(s, ops, (size_t)per, err, sizeof(err)) != 0) {
            fprintf(stderr, "store_bench: %s\n", err);
            exit(1);
        }
    }
    return (double)n * per / (now_s() - t0);
}

int main(int argc, char **argv)
{
    const char *dir = argc > 1 ? argv[1] : ".";
    int n = argc > 2 ? atoi(argv[2]) : 1000;
    static const int pers[] = {1, 8, 32};
    struct sl_store *s;
    char path[4096], err[512] = "";

    if (n <= 0) {
        fprintf(stderr, "usage: store_bench [DIR [N]]\n");
        return 2;
    }
    snprintf(path, sizeof(path), "%s/store_bench.%ld.db", dir, (long)getpid());
    if (sl_store_open(path, false, &s, err, sizeof(err)) != 0) {
        fprintf(stderr, "store_bench: %s\n", err);
        return 1;
    }
    printf("store %s, %d applies per run, WAL + synchronous=FULL\n", path, n);
    for (size_t k = 0; k < sizeof(pers) / sizeof(pers[0]); k++) {
        double ops = run(s, pers[k] == 1 ? n : n / 4, pers[k], (int)k);

        printf("ops per apply %2d: %8.0f ops/s durable (%7.0f applies/s)\n", pers[k], ops,
               ops / pers[k]);
    }
    double t0 = now_s();
    int groups = n / 8;

    for (int g = 0; g < groups; g++) {
        if (sl_store_group_begin(s, err, sizeof(err)) != 0)
            break;
        (void)run(s, 8, 1, 100 + g);
        if (sl_store_group_commit(s, err, sizeof(err)) != 0)
            break;
    }
    if (err[0] != '\0') {
        fprintf(stderr, "store_bench: %s\n", err);
        return 1;
    }
    printf("group of 8 applies: %8.0f applies/s durable (%7.0f commits/s)\n",
           groups * 8 / (now_s() - t0), groups / (now_s() - t0));
    if (sl_store_compact(s, err, sizeof(err)) != 0)
        fprintf(stderr, "store_bench: compact: %s\n", err);
    sl_store_close(s);
    unlink(path);
    return 0;
}
