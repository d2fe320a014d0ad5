/* The rate-limited "out of file descriptors" line (see fdbudget.h). */
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

bool sl_fdbudget_report(struct sl_fdbudget_log *fl, uint64_t now_ms, const char *listener,
                        const char *doing, int err)
{
    char limit[32], quiet[64] = "";

    if (now_ms < fl->next_ms) {
        fl->quiet++;
        return false;
    }
    nofile_str(limit, sizeof(limit));
    if (fl->quiet > 0)
        (void)snprintf(quiet, sizeof(quiet), "; %llu more since the last line",
                       (unsigned long long)fl->quiet);
    sl_log(SL_LOG_ERROR,
           "%s%s%sout of file descriptors %s (%s): raise ulimit -n "
           "(now %s)%s",
           listener ? "listener " : "", listener ? listener : "", listener ? ": " : "", doing,
           sl_errstr(err), limit, quiet);
    fl->next_ms = now_ms + SL_FDBUDGET_LOG_EVERY_MS;
    fl->quiet = 0;
    return true;
}
