/* sluice serve -c FILE: the daemon. The main thread parses options, opens
 * the control plane (config, lb, first routing table), starts the workers
 * and then only waits for signals: SIGHUP reloads the configuration
 * (established connections are untouched; workers adopt the new table at
 * their next loop turn), SIGTERM/SIGINT stop gracefully. */
#include <sys/resource.h>

#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "admin/admin.h"
#include "cli.h"
#include "control/config.h"
#include "control/control.h"
#include "http/health.h"
#include "metrics.h"
#include "net/fdbudget.h"
#include "net/listener.h"
#include "net/log.h"
#include "tcp/tcp_proxy.h"
#include "worker.h"

struct serve_opts {
    const char *config;
    const char *access_log;
    const char *error_log;
    enum sl_log_format fmt;
    enum sl_log_level level;
};

static void usage(FILE *out)
{
    (void)fprintf(out, "usage: sluice serve -c FILE [options]\n\n"
                       "  -c, --config FILE         configuration (YAML)\n"
                       "      --log-format json|text     log line format (default text)\n"
                       "      --access-log FILE|-|off    one line per request (default -: stdout)\n"
                       "      --error-log FILE|-         errors and events (default -: stderr)\n"
                       "      --log-level debug|info|warn|error   (default info)\n"
                       "  -h, --help\n\n"
                       "Signals: SIGHUP reloads FILE, SIGTERM or SIGINT stop after the requests\n"
                       "in flight (at most drain_timeout).\n");
}

/* Matches "--name VALUE" or "--name=VALUE"; advances *i. */
static const char *opt_value(int argc, char **argv, int *i, const char *name, bool *bad)
{
    size_t n = strlen(name);
    const char *a = argv[*i];

    if (!a || strncmp(a, name, n) != 0)
        return NULL;
    if (a[n] == '=')
        return a + n + 1;
    if (a[n] != '\0')
        return NULL;
    if (*i + 1 >= argc || !argv[*i + 1]) {
        *bad = true;
        return NULL;
    }
    return argv[++*i];
}

static int parse_opts(int argc, char **argv, struct serve_opts *o)
{
    o->config = NULL;
    o->access_log = "-";
    o->error_log = "-";
    o->fmt = SL_LOG_TEXT;
    o->level = SL_LOG_INFO;
    for (int i = 1; i < argc; i++) {
        bool bad = false;
        const char *v;

        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0)
            return 1;
        if ((v = opt_value(argc, argv, &i, "-c", &bad)) ||
            (v = opt_value(argc, argv, &i, "--config", &bad))) {
            o->config = v;
        } else if ((v = opt_value(argc, argv, &i, "--log-format", &bad))) {
            if (sl_log_format_parse(v, &o->fmt) < 0) {
                (void)fprintf(stderr, "sluice serve: --log-format must be json or text, not '%s'\n",
                              v);
                return -1;
            }
        } else if ((v = opt_value(argc, argv, &i, "--log-level", &bad))) {
            if (sl_log_level_parse(v, &o->level) < 0) {
                (void)fprintf(
                    stderr,
                    "sluice serve: --log-level must be debug, info, warn or error, not '%s'\n", v);
                return -1;
            }
        } else if ((v = opt_value(argc, argv, &i, "--access-log", &bad))) {
            o->access_log = v;
        } else if ((v = opt_value(argc, argv, &i, "--error-log", &bad))) {
            o->error_log = v;
        } else {
            (void)fprintf(stderr, "sluice serve: %s option '%s'\n",
                          bad ? "missing value for" : "unknown", argv[i]);
            return -1;
        }
    }
    if (!o->config) {
        (void)fprintf(stderr, "sluice serve: missing -c FILE\n");
        return -1;
    }
    return 0;
}

static void print_diag(const struct sl_diag *d, FILE *out)
{
    for (size_t i = 0; i < d->n; i++)
        (void)fprintf(out, "%s\n", d->msgs[i]);
}

static void log_diag(const struct sl_diag *d, enum sl_log_level level)
{
    for (size_t i = 0; i < d->n; i++) {
        bool warn = strncmp(d->msgs[i], "warning: ", 9) == 0;

        /* The level already says warn: "warn warning: ..." says it twice. */
        sl_log(warn ? SL_LOG_WARN : level, "%s", warn ? d->msgs[i] + 9 : d->msgs[i]);
    }
}

/* Buffer size for every pooled buffer: the largest max_head plus room for
 * what the proxy adds, at least 16 KiB. */
static uint32_t buffer_size(const struct sl_router *t)
{
    uint32_t max = 16384;

    for (size_t i = 0; i < t->nlisteners; i++)
        if (t->listeners[i].max_head > max)
            max = t->listeners[i].max_head;
    return max + 4096;
}

/* The soft descriptor limit raised to the hard one (as nginx's
 * worker_rlimit_nofile): returns the limit in force, 0 when there is
 * none (unlimited, or it cannot be read). */
static uint64_t raise_nofile(void)
{
    struct rlimit rl;

    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return 0;
    if (rl.rlim_cur < rl.rlim_max) {
        struct rlimit want = {rl.rlim_max, rl.rlim_max};

        if (setrlimit(RLIMIT_NOFILE, &want) == 0)
            rl.rlim_cur = rl.rlim_max;
    }
    return rl.rlim_cur == RLIM_INFINITY ? 0 : (uint64_t)rl.rlim_cur;
}

/* Admin connections at once under <nofile>: SL_ADMIN_MAX_CONNS, fewer
 * under a small limit so that the API cannot starve the proxy of
 * descriptors (at least 8, at most 1/16 of the limit). */
static size_t admin_max_conns(uint64_t nofile)
{
    uint64_t cap = nofile / 16;

    if (nofile == 0 || cap >= SL_ADMIN_MAX_CONNS)
        return SL_ADMIN_MAX_CONNS;
    return cap < 8 ? 8 : (size_t)cap;
}

/* What the control side holds: the state store (database, WAL and shared
 * memory files) and, with admin:, the admin server and its connections. */
static size_t control_fds(const struct sl_config *cfg, uint64_t nofile)
{
    size_t n = cfg != NULL && cfg->state != NULL ? 3 : 0;

    if (cfg != NULL && cfg->admin.bind != NULL)
        n += SL_ADMIN_FIXED_FDS + admin_max_conns(nofile);
    return n;
}

/* Splits the descriptor limit (net/fdbudget.h) for <n> workers serving
 * <t>. Returns 0, or -1 after saying on stderr that the limit cannot feed
 * that many workers. */
static int plan_fds(const struct sl_control *ctl, const struct sl_router *t, size_t n,
                    struct sl_fdbudget_plan *p)
{
    const struct sl_config *cfg = sl_control_config(ctl);
    struct sl_fdbudget_needs needs = {.workers = n, .listeners = t->nlisteners};
    uint64_t nofile = raise_nofile();

    for (size_t i = 0; i < t->nlisteners; i++)
        if (t->listeners[i].mode == SL_MODE_TCP)
            needs.pipe_cache_max = SL_TCP_PIPE_CACHE;
    /* The admin API may add checked services at any time: reserve for
     * probes then too (a reload by file that adds the first check shares
     * the workers' descriptors; docs/configuration.md says so). */
    for (size_t i = 0; cfg != NULL && i < cfg->nservices; i++)
        if (cfg->services[i].health.check != SL_CHECK_NONE || cfg->admin.bind != NULL)
            needs.health_fds = SL_HEALTH_MAX_INFLIGHT + 2; /* probes and slack */
    needs.control_fds = control_fds(cfg, nofile);
    *p = (struct sl_fdbudget_plan){.pipe_cache = SL_TCP_PIPE_CACHE};
    if (nofile == 0) {
        sl_log(SL_LOG_INFO, "descriptors: no limit (ulimit -n unlimited): no budget per worker");
        return 0;
    }
    if (sl_fdbudget_plan(&needs, nofile, p) < 0) {
        (void)fprintf(stderr,
                      "sluice serve: workers: %zu%s need at least %llu descriptors but ulimit -n "
                      "is %llu: raise ulimit -n to %llu or lower workers\n",
                      n, cfg != NULL && cfg->workers == 0 ? " (auto: one per CPU)" : "",
                      (unsigned long long)p->need, (unsigned long long)nofile,
                      (unsigned long long)p->need);
        return -1;
    }
    sl_log(SL_LOG_INFO,
           "descriptors: ulimit -n %llu, %zu reserved (process %d, health checks %zu, store and "
           "admin API %zu, per worker %zu: loop %d, listeners %zu, TCP pipes %zu), %zu per worker "
           "for connections: up to %zu HTTP clients each (2 descriptors promised per client); the "
           "minimum for %zu worker%s is %llu",
           (unsigned long long)nofile, p->reserve, SL_FDBUDGET_PROCESS, needs.health_fds,
           needs.control_fds, SL_FDBUDGET_PER_WORKER + t->nlisteners + 2 * p->pipe_cache,
           SL_FDBUDGET_PER_WORKER, t->nlisteners, 2 * p->pipe_cache, p->share, p->share / 2, n,
           n == 1 ? "" : "s", (unsigned long long)p->need);
    return 0;
}

struct workers {
    struct sl_worker *ws;
    size_t n;
};

/* Control publishes a table: wake every worker so it adopts it now rather
 * than at its next event (the publish waits for all of them to move on). */
static void wake_workers(void *arg)
{
    const struct workers *all = arg;

    for (size_t i = 0; i < all->n; i++)
        sl_worker_wake(&all->ws[i]);
}

static void reload(struct sl_control *ctl, struct sl_worker *ws, size_t n, const char *path)
{
    struct sl_diag diag;

    sl_diag_init(&diag);
    sl_log(SL_LOG_INFO, "SIGHUP: reloading %s", path);
    if (sl_control_reload(ctl, &diag) == 0) {
        log_diag(&diag, SL_LOG_WARN);
        for (size_t i = 0; i < n; i++)
            sl_worker_wake(&ws[i]);
        sl_log(SL_LOG_INFO, "reloaded %s", path);
    } else {
        log_diag(&diag, SL_LOG_ERROR);
        sl_log(SL_LOG_ERROR, "reload of %s failed: the running configuration stays", path);
    }
    sl_diag_fini(&diag);
}

/* Every listener's address can be bound before any worker starts. */
static int probe_listeners(const struct sl_router *t)
{
    for (size_t i = 0; i < t->nlisteners; i++) {
        if (sl_listener_probe(t->listeners[i].bind) < 0) {
            (void)fprintf(stderr, "sluice serve: listener %s: cannot listen on %s: %s\n",
                          t->listeners[i].name, t->listeners[i].bind,
                          errno == EINVAL ? "invalid address" : sl_errstr(errno));
            return -1;
        }
    }
    return 0;
}

/* The main thread's loop: reloads on SIGHUP, returns on SIGTERM/SIGINT. */
static void wait_signals(struct sl_control *ctl, struct sl_worker *ws, size_t n, const char *config,
                         sigset_t *sigs)
{
    for (;;) {
        /* Wake once a second even without a signal: the control plane's
         * housekeeping (parked tables, rates) runs here, on the
         * only thread that may write to it. */
        static const struct timespec tick = {1, 0};
        struct timespec now;
        int sig = sigtimedwait(sigs, NULL, &tick);

        if (sig == -1) {
            (void)clock_gettime(CLOCK_MONOTONIC, &now);
            sl_control_tick(ctl, (uint64_t)now.tv_sec * 1000 + (uint64_t)now.tv_nsec / 1000000);
            continue;
        }
        if (sig == SIGHUP) {
            reload(ctl, ws, n, config);
            continue;
        }
        if (sig == SIGTERM || sig == SIGINT) {
            sl_log(SL_LOG_INFO, "%s: stopping after the requests in flight",
                   sig == SIGTERM ? "SIGTERM" : "SIGINT");
            return;
        }
    }
}

/* Starts the admin API when the config has admin: (admin.bind). 0 (also
 * when there is none: *out stays NULL) or -1 with the reason printed.
 * <msrc> (what GET /metrics reads) must outlive the server. */
static int start_admin(struct sl_control *ctl, struct sl_metrics_src *msrc, uint64_t nofile,
                       struct sl_admin **out)
{
    const struct sl_config *cfg = sl_control_config(ctl);
    struct sl_admin_opts ao = {0};
    char err[512];
    char token_file[4096];
    int rc;

    if (cfg == NULL || cfg->admin.bind == NULL)
        return 0;
    sl_cli_token_file(cfg, token_file, sizeof(token_file));
    ao.bind = cfg->admin.bind;
    ao.token_file = token_file;
    ao.metrics_public = cfg->admin.metrics_public;
    ao.metrics = sl_metrics_render;
    ao.metrics_arg = msrc;
    ao.max_conns = admin_max_conns(nofile);
    rc = sl_admin_start(ctl, &ao, out, err, sizeof(err));
    if (rc != 0) {
        (void)fprintf(stderr, "sluice serve: %s\n", err);
        sl_log(SL_LOG_ERROR, "%s", err);
        return -1;
    }
    return 0;
}

static int run(const struct serve_opts *o, struct sl_control *ctl, sigset_t *sigs)
{
    struct sl_admin *admin = NULL;
    struct sl_metrics_src msrc;
    struct sl_router_slot *slot = sl_control_slot(ctl);
    struct sl_router *t = atomic_load(&slot->cur);
    size_t n = sl_control_workers(ctl);
    struct sl_worker *ws;
    struct workers all = {NULL, 0};
    char err[512];
    struct sl_fdbudget_plan fds;
    size_t ready = 0;
    int rc = 0;

    if (n == 0)
        n = 1;
    if (n > SL_ROUTER_MAX_WORKERS)
        n = SL_ROUTER_MAX_WORKERS;
    if (!t) {
        (void)fprintf(stderr, "sluice serve: no routing table was published\n");
        return 1;
    }
    ws = calloc(n, sizeof(*ws));
    if (!ws) {
        (void)fprintf(stderr, "sluice serve: out of memory\n");
        return 1;
    }
    if (probe_listeners(t) < 0) {
        free(ws);
        return 1;
    }
    if (plan_fds(ctl, t, n, &fds) < 0) {
        free(ws);
        return 1;
    }
    sl_control_set_workers(ctl, n);
    for (; ready < n; ready++) {
        if (sl_worker_init(&ws[ready], ready, slot, t, buffer_size(t),
                           sl_control_drain_timeout_ms(ctl), err, sizeof(err)) < 0) {
            (void)fprintf(stderr, "sluice serve: %s\n", err);
            rc = 1;
            goto out;
        }
        sl_worker_set_budget(&ws[ready], &fds);
    }
    all.ws = ws;
    all.n = n;
    sl_control_set_notify(ctl, wake_workers, &all);
    for (size_t i = 0; i < n; i++) {
        int e = sl_worker_start(&ws[i]);

        if (e) {
            (void)fprintf(stderr, "sluice serve: cannot start worker %zu: %s\n", i, sl_errstr(e));
            rc = 1;
            goto stop;
        }
    }
    for (size_t i = 0; i < t->nlisteners; i++)
        sl_log(SL_LOG_INFO, "listening on %s (%s, %s)", t->listeners[i].bind, t->listeners[i].name,
               t->listeners[i].mode == SL_MODE_TCP ? "tcp" : "http");
    /* After the workers: an API change published now reaches them. */
    msrc = (struct sl_metrics_src){ws, n, ctl};
    if (start_admin(ctl, &msrc, fds.nofile, &admin) != 0) {
        rc = 1;
        goto stop;
    }
    sl_log(SL_LOG_INFO, "sluice %s serving %s with %zu worker%s", SLUICE_VERSION_STRING, o->config,
           n, n == 1 ? "" : "s");
    wait_signals(ctl, ws, n, o->config, sigs);
stop:
    /* Before the workers: no API change may publish to stopped workers. */
    sl_admin_stop(admin);
    for (size_t i = 0; i < n; i++)
        sl_worker_stop(&ws[i]);
    for (size_t i = 0; i < n; i++)
        sl_worker_join(&ws[i]);
out:
    sl_control_set_notify(ctl, NULL, NULL);
    for (size_t i = 0; i < ready; i++)
        sl_worker_fini(&ws[i]);
    free(ws);
    if (rc == 0)
        sl_log(SL_LOG_INFO, "stopped");
    return rc;
}

int sl_cli_serve(int argc, char **argv)
{
    struct serve_opts o;
    struct sl_control *ctl = NULL;
    struct sl_diag diag;
    const char *failed = NULL;
    sigset_t sigs;
    int rc = parse_opts(argc, argv, &o);

    if (rc > 0) {
        usage(stdout);
        return 0;
    }
    if (rc < 0) {
        (void)fputc('\n', stderr);
        usage(stderr);
        return 2;
    }
    if (sl_log_setup(o.fmt, o.level, o.access_log, o.error_log, &failed) < 0) {
        (void)fprintf(stderr, "sluice serve: cannot open log %s: %s\n", failed, sl_errstr(errno));
        return 1;
    }
    /* Block before any thread exists, so every thread inherits the mask
     * and only sigwait() below sees these. */
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGHUP);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    (void)signal(SIGPIPE, SIG_IGN);
    sl_diag_init(&diag);
    if (sl_control_open(o.config, &ctl, &diag) != 0) {
        print_diag(&diag, stderr);
        if (diag.n == 0)
            (void)fprintf(stderr, "%s: cannot load the configuration\n", o.config);
        sl_diag_fini(&diag);
        sl_log_close();
        return 1;
    }
    log_diag(&diag, SL_LOG_WARN);
    sl_diag_fini(&diag);
    rc = run(&o, ctl, &sigs);
    sl_control_close(ctl);
    sl_log_close();
    return rc;
}
