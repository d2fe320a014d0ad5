#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* Written once by sl_log_setup() before any worker thread exists. */
static enum sl_log_format log_fmt = SL_LOG_TEXT;
static enum sl_log_level log_level = SL_LOG_INFO;
static int access_fd = 1;
static int error_fd = 2;

static const char *const level_names[] = {"debug", "info", "warn", "error"};

const char *sl_errstr(int err)
{
    const char *s = strerrordesc_np(err); /* glibc >= 2.32, _GNU_SOURCE */

    return s ? s : "unknown error";
}

int sl_log_level_parse(const char *s, enum sl_log_level *out)
{
    for (size_t i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++) {
        if (strcmp(s, level_names[i]) == 0) {
            *out = (enum sl_log_level)i;
            return 0;
        }
    }
    return -1;
}

int sl_log_format_parse(const char *s, enum sl_log_format *out)
{
    if (strcmp(s, "text") == 0)
        *out = SL_LOG_TEXT;
    else if (strcmp(s, "json") == 0)
        *out = SL_LOG_JSON;
    else
        return -1;
    return 0;
}

static int open_log(const char *path)
{
    return open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
}

int sl_log_setup(enum sl_log_format fmt, enum sl_log_level level, const char *access,
                 const char *error, const char **failed)
{
    int afd = 1, efd = 2;

    if (strcmp(access, "off") == 0) {
        afd = -1;
    } else if (strcmp(access, "-") != 0) {
        afd = open_log(access);
        if (afd < 0) {
            *failed = access;
            return -1;
        }
    }
    if (strcmp(error, "-") != 0) {
        efd = open_log(error);
        if (efd < 0) {
            int e = errno;

            if (afd > 2)
                close(afd);
            *failed = error;
            errno = e;
            return -1;
        }
    }
    log_fmt = fmt;
    log_level = level;
    access_fd = afd;
    error_fd = efd;
    return 0;
}

void sl_log_close(void)
{
    if (access_fd > 2)
        close(access_fd);
    if (error_fd > 2)
        close(error_fd);
    access_fd = -1;
    error_fd = 2;
}

bool sl_log_enabled(enum sl_log_level level)
{
    return level >= log_level;
}

bool sl_access_log_on(void)
{
    return access_fd >= 0;
}

static void write_all(int fd, const char *p, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, p, len);

        if (n < 0) {
            if (errno == EINTR)
                continue;
            return; /* a log that cannot be written must not stop the proxy */
        }
        p += n;
        len -= (size_t)n;
    }
}

/* Appends <s>[0..len) JSON-escaped to out[*pos..cap), truncating quietly. */
static void json_escape(char *out, size_t cap, size_t *pos, const char *s, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    size_t p = *pos;

    for (size_t i = 0; i < len && p + 6 < cap; i++) {
        unsigned char c = (unsigned char)s[i];

        if (c == '"' || c == '\\') {
            out[p++] = '\\';
            out[p++] = (char)c;
        } else if (c < 0x20 || c == 0x7f) {
            out[p++] = '\\';
            out[p++] = 'u';
            out[p++] = '0';
            out[p++] = '0';
            out[p++] = hex[c >> 4];
            out[p++] = hex[c & 15];
        } else {
            out[p++] = (char)c;
        }
    }
    *pos = p;
}

/* Text mode: anything but printable ASCII becomes '?', so a line is a line. */
static void text_clean(char *out, size_t cap, size_t *pos, const char *s, size_t len)
{
    size_t p = *pos;

    for (size_t i = 0; i < len && p + 1 < cap; i++) {
        unsigned char c = (unsigned char)s[i];
        char ch = '?';

        if (c > 0x20 && c < 0x7f)
            ch = (char)c;
        out[p++] = ch;
    }
    *pos = p;
}

static size_t fmt_time(char *out, size_t cap, time_t s, uint32_t ms)
{
    struct tm tm;

    gmtime_r(&s, &tm);
    return (size_t)snprintf(out, cap, "%04d-%02d-%02dT%02d:%02d:%02d.%03uZ", tm.tm_year + 1900,
                            tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ms);
}

void sl_log(enum sl_log_level level, const char *fmt, ...)
{
    char msg[2048], line[4600];
    struct timespec ts;
    size_t pos;
    va_list ap;
    int n;

    if (level < log_level || error_fd < 0)
        return;
    va_start(ap, fmt);
    n = vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n >= sizeof(msg))
        n = sizeof(msg) - 1;
    clock_gettime(CLOCK_REALTIME, &ts);
    if (log_fmt == SL_LOG_JSON) {
        pos = (size_t)snprintf(line, sizeof(line), "{\"time\":\"");
        pos +=
            fmt_time(line + pos, sizeof(line) - pos, ts.tv_sec, (uint32_t)(ts.tv_nsec / 1000000));
        pos += (size_t)snprintf(line + pos, sizeof(line) - pos, "\",\"level\":\"%s\",\"msg\":\"",
                                level_names[level]);
        json_escape(line, sizeof(line) - 3, &pos, msg, (size_t)n);
        line[pos++] = '"';
        line[pos++] = '}';
    } else {
        pos = fmt_time(line, sizeof(line), ts.tv_sec, (uint32_t)(ts.tv_nsec / 1000000));
        pos += (size_t)snprintf(line + pos, sizeof(line) - pos, " %s ", level_names[level]);
        memcpy(line + pos, msg, (size_t)n);
        pos += (size_t)n;
    }
    line[pos++] = '\n';
    write_all(error_fd, line, pos);
}

void sl_access_log_init(struct sl_access_log *a)
{
    a->len = 0;
    a->stamp_s = (time_t)-1;
    a->stamp[0] = '\0';
}

void sl_access_log_flush(struct sl_access_log *a)
{
    if (a->len == 0 || access_fd < 0) {
        a->len = 0;
        return;
    }
    /* Workers share the fd. Writes of at most PIPE_BUF bytes that end on a
     * line boundary keep lines whole even when it is a pipe. */
    for (size_t off = 0; off < a->len;) {
        size_t n = a->len - off;

        if (n > PIPE_BUF) {
            const char *nl = memrchr(a->buf + off, '\n', PIPE_BUF);

            n = nl ? (size_t)(nl - (a->buf + off)) + 1 : PIPE_BUF;
        }
        write_all(access_fd, a->buf + off, n);
        off += n;
    }
    a->len = 0;
}

void sl_access_log_add(struct sl_access_log *a, const struct sl_access_rec *r)
{
    char *out;
    size_t cap = 4096, pos = 0;
    const char *be = r->backend ? r->backend : "-";

    if (access_fd < 0)
        return;
    if (SL_ACCESS_LOG_BUF - a->len < cap)
        sl_access_log_flush(a);
    out = a->buf + a->len;
    if (a->stamp_s != r->wall_s) {
        /* gmtime once a second, not once a request */
        struct tm tm;

        gmtime_r(&r->wall_s, &tm);
        (void)snprintf(a->stamp, sizeof(a->stamp), "%04d-%02d-%02dT%02d:%02d:%02d",
                       tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
                       tm.tm_sec);
        a->stamp_s = r->wall_s;
    }
    if (log_fmt == SL_LOG_JSON) {
        pos += (size_t)snprintf(out, cap, "{\"time\":\"%s.%03uZ\",\"client\":\"%s\",\"method\":\"",
                                a->stamp, r->wall_ms, r->client_ip);
        json_escape(out, cap - 256, &pos, r->method, r->method_len);
        pos += (size_t)snprintf(out + pos, cap - pos, "\",\"path\":\"");
        json_escape(out, cap - 256, &pos, r->path, r->path_len);
        pos +=
            (size_t)snprintf(out + pos, cap - pos, "\",\"status\":%d,\"bytes\":%llu,\"backend\":\"",
                             r->status, (unsigned long long)r->bytes);
        json_escape(out, cap - 256, &pos, be, strlen(be));
        if (r->backend_name) {
            pos += (size_t)snprintf(out + pos, cap - pos, "\",\"backend_name\":\"");
            json_escape(out, cap - 64, &pos, r->backend_name, strlen(r->backend_name));
        }
        pos += (size_t)snprintf(out + pos, cap - pos, "\",\"duration_ms\":%llu.%03llu}\n",
                                (unsigned long long)(r->duration_us / 1000),
                                (unsigned long long)(r->duration_us % 1000));
    } else {
        pos += (size_t)snprintf(out, cap, "%s.%03uZ %s ", a->stamp, r->wall_ms, r->client_ip);
        text_clean(out, cap - 256, &pos, r->method_len ? r->method : "-",
                   r->method_len ? r->method_len : 1);
        out[pos++] = ' ';
        text_clean(out, cap - 256, &pos, r->path_len ? r->path : "-",
                   r->path_len ? r->path_len : 1);
        pos += (size_t)snprintf(out + pos, cap - pos, " %d %llu ", r->status,
                                (unsigned long long)r->bytes);
        if (r->backend_name) {
            text_clean(out, cap - 256, &pos, r->backend_name, strlen(r->backend_name));
            out[pos++] = '@';
        }
        pos += (size_t)snprintf(out + pos, cap - pos, "%s %llu.%03llums\n", be,
                                (unsigned long long)(r->duration_us / 1000),
                                (unsigned long long)(r->duration_us % 1000));
    }
    if (pos > cap)
        pos = cap;
    a->len += pos;
}
