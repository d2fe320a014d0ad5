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
#include <stdint.h>

#define SL_FDBUDGET_LOG_EVERY_MS 1000u

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

/* Counts one failure with <err> at loop time <now_ms>; writes the error
 * line ("listener <listener>: out of file descriptors <doing> (<err>):
 * raise ulimit -n (now N)") when the last one is at least
 * SL_FDBUDGET_LOG_EVERY_MS old. <listener> may be NULL (no prefix);
 * <doing> says what failed ("connecting to a backend"). Returns true when
 * it wrote a line. */
bool sl_fdbudget_report(struct sl_fdbudget_log *fl, uint64_t now_ms, const char *listener,
                        const char *doing, int err);

#endif /* SL_NET_FDBUDGET_H */
