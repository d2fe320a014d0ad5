/* Running out of descriptors (accepting a client, opening a backend
 * connection): which errors mean it, and the one error-log line that says
 * so, shared by the listener and both proxies.
 *
 * When the process hits its descriptor limit every new connection fails
 * the same way, thousands a second under load; a line per failure would
 * flood the log and cost a format and a write(2) each. So a worker writes
 * at most one line per SL_FDBUDGET_LOG_EVERY_MS, counting the failures it
 * kept quiet, and the line names the limit actually in force (read when
 * the line is written, so a limit raised at run time shows; nothing is
 * read or formatted for the failures that stay quiet).
 *
 * Threads: a struct sl_fdbudget_log belongs to one worker thread. */
#ifndef SL_NET_FDBUDGET_H
#define SL_NET_FDBUDGET_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SL_FDBUDGET_LOG_EVERY_MS 1000u

/* ---- The descriptor budget (docs/configuration.md, "Descriptors") ----
 *
 * As HAProxy derives maxconn from ulimit -n, the daemon splits the limit
 * it runs under: a reserve for what the process holds besides connections
 * (measured at idle: stdio, the two logs, a config file or resolver socket
 * while reloading; per worker its epoll, eventfd and listening sockets;
 * the health checker's epoll, eventfd and probes in flight when a service
 * has health checks; the TCP proxy's pipe cache when a tcp listener
 * exists), and an equal share of the rest per worker for its client and
 * backend connections. A share below SL_FDBUDGET_MIN_SHARE cannot serve:
 * the daemon refuses to start with that many workers. */
#define SL_FDBUDGET_PROCESS    16 /* stdio, logs, reload and resolver slack */
#define SL_FDBUDGET_PER_WORKER 2  /* epoll and eventfd (listeners counted apart) */
#define SL_FDBUDGET_MIN_SHARE  32

/* What the process runs: the input of sl_fdbudget_plan(). */
struct sl_fdbudget_needs {
    size_t workers;
    size_t listeners;      /* per worker (each binds its own) */
    size_t health_fds;     /* the checker's, 0 when no service has health checks */
    size_t pipe_cache_max; /* TCP pipes a worker may cache, 0 without tcp listener */
    size_t control_fds;    /* the state store's files and the admin API's, 0 for none */
};

/* How <nofile> descriptors are split. */
struct sl_fdbudget_plan {
    uint64_t nofile;   /* the limit planned for */
    size_t reserve;    /* the whole process's, pipe caches included */
    size_t share;      /* per worker, for its connections */
    size_t pipe_cache; /* TCP pipes each worker may cache (2 descriptors each) */
    uint64_t need;     /* the smallest limit giving every worker SL_FDBUDGET_MIN_SHARE */
};

/* Splits <nofile> for <n> into <p>. The pipe cache takes at most 1/8 of a
 * worker's part. Returns 0, or -1 when <nofile> is below p->need (p is
 * filled either way). */
int sl_fdbudget_plan(const struct sl_fdbudget_needs *n, uint64_t nofile,
                     struct sl_fdbudget_plan *p);

/* One worker's budget as its connection owners see it: the share, how
 * many descriptors its connections hold now (HTTP clients, backend
 * connections pooled or busy, TCP sockets and pipes in use), and how many
 * are promised (two per HTTP client, which may need a backend
 * connection; TCP sockets and pipes in use; idle pooled connections are
 * promised to nobody: they close on demand). */
struct sl_fdbudget {
    size_t share; /* 0: no limit */
    size_t (*held)(void *arg);
    size_t (*promised)(void *arg);
    void *arg;
};

/* True when <more> descriptors can be promised without breaking a
 * promise already made (or there is no budget). */
static inline bool sl_fdbudget_room(const struct sl_fdbudget *b, size_t more)
{
    if (b == NULL || b->share == 0 || b->promised == NULL)
        return true;
    return b->promised(b->arg) + more <= b->share;
}

/* Descriptors over the share that <more> new ones would make: 0 when
 * they fit (or there is no budget). */
static inline size_t sl_fdbudget_over(const struct sl_fdbudget *b, size_t more)
{
    size_t h;

    if (b == NULL || b->share == 0 || b->held == NULL)
        return 0;
    h = b->held(b->arg) + more;
    return h > b->share ? h - b->share : 0;
}

/* Per worker; zero it to start (the first failure is logged at once). */
struct sl_fdbudget_log {
    uint64_t next_ms; /* loop ms before which failures are only counted */
    uint64_t quiet;   /* failures not logged since the last line */
};

/* True when <err> (an errno from socket() or connect()) means the process
 * or the system is out of descriptors or socket memory: a local failure,
 * not the backend's, so another backend would fail the same way. */
static inline bool sl_fdbudget_exhausted(int err)
{
    return err == EMFILE || err == ENFILE || err == ENOMEM || err == ENOBUFS;
}

/* The rate limit alone, for other lines of the same kind: true when a
 * line may be written at loop time <now_ms> (then *<quiet> is how many
 * were kept quiet since the last one, and the next is due
 * SL_FDBUDGET_LOG_EVERY_MS later); false: counted, stay quiet. */
bool sl_fdbudget_due(struct sl_fdbudget_log *fl, uint64_t now_ms, uint64_t *quiet);

/* Counts one failure with <err> at loop time <now_ms>; writes the error
 * line ("listener <listener>: out of file descriptors <doing> (<err>):
 * raise ulimit -n (now N)") when the last one is at least
 * SL_FDBUDGET_LOG_EVERY_MS old. <listener> may be NULL (no prefix);
 * <doing> says what failed ("connecting to a backend"). Returns true when
 * it wrote a line. */
bool sl_fdbudget_report(struct sl_fdbudget_log *fl, uint64_t now_ms, const char *listener,
                        const char *doing, int err);

#endif /* SL_NET_FDBUDGET_H */
