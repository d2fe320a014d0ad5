/* GET /metrics (see metrics.h). */
#include "metrics.h"

#include <sys/resource.h>

#include <dirent.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "control/control.h"
#include "proxy/prom.h"
#include "proxy/stats_render.h"
#include "sluice_version.h"
#include "worker.h"

/* One family over every listener: every worker has the same listeners, in
 * the table's order, so listener i is summed over ws[*].lns[i]. Each
 * worker's active figure is >= 0 on its own: the sum has no torn sign. */
static void render_listener_family(struct sl_prom *p, const struct sl_metrics_src *s,
                                   const char *name, const char *type, const char *help,
                                   bool active)
{
    size_t nl = s->n ? s->ws[0].nlns : 0;

    sl_prom_family(p, name, type, help);
    for (size_t i = 0; i < nl; i++) {
        const char *kv[] = {"listener", s->ws[0].lns[i].rt.name};
        uint64_t sum = 0;

        for (size_t w = 0; w < s->n; w++) {
            struct sl_stats_listener *ls = i < s->ws[w].nlns ? &s->ws[w].lns[i].stats : NULL;

            if (ls)
                sum += sl_counter_get(active ? &ls->active : &ls->accepted);
        }
        sl_prom_u64(p, name, kv, 1, sum);
    }
}

static void render_listeners(struct sl_prom *p, const struct sl_metrics_src *s)
{
    render_listener_family(p, s, "sluice_listener_accepted_total", "counter",
                           "Client connections accepted on the listener.", false);
    render_listener_family(p, s, "sluice_listener_active_connections", "gauge",
                           "Client connections (TCP: sessions) open on the listener.", true);
}

static void render_workers(struct sl_prom *p, const struct sl_metrics_src *s)
{
    sl_prom_family(p, "sluice_worker_loop_iterations_total", "counter",
                   "Turns of the worker's event loop.");
    for (size_t w = 0; w < s->n; w++) {
        char idx[24];
        const char *kv[] = {"worker", idx};

        (void)snprintf(idx, sizeof(idx), "%zu", w);
        sl_prom_u64(p, "sluice_worker_loop_iterations_total", kv, 1,
                    atomic_load_explicit(&s->ws[w].loop.turns, memory_order_relaxed));
    }
}

static size_t open_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    size_t n = 0;

    if (!d)
        return 0;
    /* readdir() is unsafe only on a stream that threads share; <d> is this
     * call's own, so the check's finding is a false positive here. */
    while (readdir(d)) /* NOLINT(concurrency-mt-unsafe): see above */
        n++;
    (void)closedir(d);
    return n > 3 ? n - 3 : 0; /* ".", ".." and the directory's own descriptor */
}

static uint64_t resident_bytes(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    char line[256];
    unsigned long long rss = 0;

    if (!f)
        return 0;
    /* "size resident shared ...", in pages: the second field. */
    if (fgets(line, sizeof(line), f) != NULL) {
        char *end, *end2;

        errno = 0;
        (void)strtoull(line, &end, 10);
        rss = strtoull(end, &end2, 10);
        if (errno != 0 || end == line || end2 == end)
            rss = 0;
    }
    (void)fclose(f);
    return rss * (uint64_t)sysconf(_SC_PAGESIZE);
}

static void render_process(struct sl_prom *p)
{
    struct rusage ru;
    double cpu = 0;
    const char *kv[] = {"version", SLUICE_VERSION_STRING};

    if (getrusage(RUSAGE_SELF, &ru) == 0)
        cpu = (double)ru.ru_utime.tv_sec + (double)ru.ru_stime.tv_sec +
              ((double)ru.ru_utime.tv_usec + (double)ru.ru_stime.tv_usec) / 1e6;
    sl_prom_family(p, "process_cpu_seconds_total", "counter",
                   "User and system CPU time spent, in seconds.");
    sl_prom_f64(p, "process_cpu_seconds_total", NULL, 0, cpu);
    sl_prom_family(p, "process_resident_memory_bytes", "gauge", "Resident memory size in bytes.");
    sl_prom_u64(p, "process_resident_memory_bytes", NULL, 0, resident_bytes());
    sl_prom_family(p, "process_open_fds", "gauge", "Open file descriptors.");
    sl_prom_u64(p, "process_open_fds", NULL, 0, open_fds());
    sl_prom_family(p, "sluice_build_info", "gauge", "The running sluice's version; always 1.");
    sl_prom_u64(p, "sluice_build_info", kv, 1, 1);
}

int sl_metrics_render(void *arg, char **out, size_t *len)
{
    const struct sl_metrics_src *s = arg;
    struct sl_stats_worker *stack[16];
    struct sl_stats_worker **ws = s->n <= 16 ? stack : calloc(s->n, sizeof(*ws));
    struct sl_prom p = {0};

    if (!ws)
        return -1;
    for (size_t i = 0; i < s->n; i++)
        ws[i] = &s->ws[i].stats;
    sl_stats_render_backends(&p, ws, s->n, s->ctl ? sl_control_lb(s->ctl) : NULL);
    sl_stats_render_routes(&p, ws, s->n);
    render_listeners(&p, s);
    render_workers(&p, s);
    render_process(&p);
    if (ws != stack)
        free(ws);
    if (p.oom || !p.buf) {
        free(p.buf);
        return -1;
    }
    *out = p.buf;
    *len = p.len;
    return 0;
}
