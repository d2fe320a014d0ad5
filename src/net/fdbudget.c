/* The descriptor budget's arithmetic and the rate-limited "out of file
 * descriptors" line (see fdbudget.h). */
#include "net/fdbudget.h"

#include <sys/resource.h>

#include <stdio.h>

#include "net/log.h"

/* The soft limit as text: what `ulimit -n` prints. */
static void nofile_str(char *out, size_t cap)
{
    struct rlimit rl;

    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        (void)snprintf(out, cap, "unknown");
    else if (rl.rlim_cur == RLIM_INFINITY)
        (void)snprintf(out, cap, "unlimited");
    else
        (void)snprintf(out, cap, "%llu", (unsigned long long)rl.rlim_cur);
}

bool sl_fdbudget_due(struct sl_fdbudget_log *fl, uint64_t now_ms, uint64_t *quiet)
{
    if (now_ms < fl->next_ms) {
        fl->quiet++;
        return false;
    }
    *quiet = fl->quiet;
    fl->next_ms = now_ms + SL_FDBUDGET_LOG_EVERY_MS;
    fl->quiet = 0;
    return true;
}

bool sl_fdbudget_report(struct sl_fdbudget_log *fl, uint64_t now_ms, const char *listener,
                        const char *doing, int err)
{
    char limit[32], quiet[64] = "";
    uint64_t more;

    if (!sl_fdbudget_due(fl, now_ms, &more))
        return false;
    nofile_str(limit, sizeof(limit));
    if (more > 0)
        (void)snprintf(quiet, sizeof(quiet), "; %llu more since the last line",
                       (unsigned long long)more);
    sl_log(SL_LOG_ERROR,
           "%s%s%sout of file descriptors %s (%s): raise ulimit -n "
           "(now %s)%s",
           listener ? "listener " : "", listener ? listener : "", listener ? ": " : "", doing,
           sl_errstr(err), limit, quiet);
    return true;
}

/* The pipe cache of a worker whose part (before pipes) is <part>. */
static size_t pipe_cache(const struct sl_fdbudget_needs *n, uint64_t part)
{
    uint64_t pipes = part / 16; /* 2 descriptors each: at most 1/8 of the part */

    return pipes < n->pipe_cache_max ? (size_t)pipes : n->pipe_cache_max;
}

int sl_fdbudget_plan(const struct sl_fdbudget_needs *n, uint64_t nofile, struct sl_fdbudget_plan *p)
{
    size_t workers = n->workers ? n->workers : 1;
    uint64_t fixed = SL_FDBUDGET_PROCESS + n->health_fds + n->control_fds +
                     (uint64_t)workers * (SL_FDBUDGET_PER_WORKER + n->listeners);
    uint64_t part = nofile > fixed ? (nofile - fixed) / workers : 0, least;

    p->nofile = nofile;
    p->pipe_cache = pipe_cache(n, part);
    p->share = (size_t)(part - 2 * p->pipe_cache);
    p->reserve = (size_t)(fixed + (uint64_t)workers * 2 * p->pipe_cache);
    /* The smallest part that leaves the minimum once its pipes are taken. */
    for (least = SL_FDBUDGET_MIN_SHARE; least - 2 * pipe_cache(n, least) < SL_FDBUDGET_MIN_SHARE;)
        least++;
    p->need = fixed + (uint64_t)workers * least;
    return nofile >= p->need ? 0 : -1;
}
