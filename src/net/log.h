/* Logs: the error log (leveled, one line per event, any thread) and the
 * access log (one line per request, buffered per worker).
 *
 * Setup: sl_log_setup() runs once in the main thread before any worker
 * starts; afterwards the settings are read-only, so reading them needs no
 * lock. An error-log line is formatted on the stack and written with one
 * write(2), so lines from several threads never interleave. Access-log
 * lines go into the worker's own sl_access_log buffer, written out by
 * sl_access_log_flush() (once per loop turn, or when the buffer fills). */
#ifndef SL_NET_LOG_H
#define SL_NET_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

enum sl_log_level { SL_LOG_DEBUG = 0, SL_LOG_INFO, SL_LOG_WARN, SL_LOG_ERROR };
enum sl_log_format { SL_LOG_TEXT = 0, SL_LOG_JSON };

/* strerror() without its shared buffer: safe from any thread (glibc's
 * English description; never NULL). */
const char *sl_errstr(int err);

/* Parses "debug|info|warn|error" / "json|text"; 0 or -1. */
int sl_log_level_parse(const char *s, enum sl_log_level *out);
int sl_log_format_parse(const char *s, enum sl_log_format *out);

/* Opens the logs: <access> is a path (appended to), "-" (stdout) or "off";
 * <error> a path or "-" (stderr). Returns 0, or -1 with errno and the
 * path that failed in *<failed>. Main thread, before the workers. */
int sl_log_setup(enum sl_log_format fmt, enum sl_log_level level, const char *access,
                 const char *error, const char **failed);
/* Closes the files sl_log_setup() opened (after the workers stopped). */
void sl_log_close(void);

bool sl_log_enabled(enum sl_log_level level);
/* One error-log line: time, level, message (JSON-escaped in JSON mode).
 * Any thread. */
void sl_log(enum sl_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* One request, as the proxy saw it. Strings are borrowed for the call and
 * need not be NUL-terminated. */
struct sl_access_rec {
    time_t wall_s;
    uint32_t wall_ms;
    const char *client_ip;
    const char *method;
    size_t method_len;
    const char *path; /* request-target as sent */
    size_t path_len;
    int status;
    uint64_t bytes;           /* sent to the client, head included */
    const char *backend;      /* target, or NULL for "-" */
    const char *backend_name; /* its name, or NULL when it is the target */
    uint64_t duration_us;
};

#define SL_ACCESS_LOG_BUF 65536

struct sl_access_log {
    size_t len;
    time_t stamp_s; /* the second cached in stamp[] */
    char stamp[64]; /* "2024-01-02T03:04:05" */
    char buf[SL_ACCESS_LOG_BUF];
};

/* Per worker. */
void sl_access_log_init(struct sl_access_log *a);
/* false when the access log is off (callers can skip building a record). */
bool sl_access_log_on(void);
void sl_access_log_add(struct sl_access_log *a, const struct sl_access_rec *r);
/* Writes what is buffered (a no-op when empty). */
void sl_access_log_flush(struct sl_access_log *a);

#endif /* SL_NET_LOG_H */
