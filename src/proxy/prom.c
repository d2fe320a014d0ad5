/* Prometheus text exposition format 0.0.4 (see prom.h). */
#include "proxy/prom.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool reserve(struct sl_prom *p, size_t more)
{
    size_t cap = p->cap ? p->cap : 4096;
    char *b;

    if (p->oom)
        return false;
    if (p->len + more + 1 <= p->cap)
        return true;
    while (cap < p->len + more + 1)
        cap *= 2;
    b = realloc(p->buf, cap);
    if (!b) {
        p->oom = true;
        return false;
    }
    p->buf = b;
    p->cap = cap;
    return true;
}

void sl_prom_printf(struct sl_prom *p, const char *fmt, ...)
{
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || !reserve(p, (size_t)n))
        return;
    va_start(ap, fmt);
    (void)vsnprintf(p->buf + p->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    p->len += (size_t)n;
}

void sl_prom_family(struct sl_prom *p, const char *name, const char *type, const char *help)
{
    sl_prom_printf(p, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

void sl_prom_escape(struct sl_prom *p, const char *s)
{
    for (; *s; s++) {
        const char *esc = *s == '\\' ? "\\\\" : *s == '"' ? "\\\"" : *s == '\n' ? "\\n" : NULL;
        size_t n = esc ? 2 : 1;

        if (!reserve(p, n))
            return;
        memcpy(p->buf + p->len, esc ? esc : s, n);
        p->len += n;
        p->buf[p->len] = '\0';
    }
}

static void labels(struct sl_prom *p, const char *name, const char *const *kv, size_t nlabels)
{
    sl_prom_printf(p, "%s", name);
    for (size_t i = 0; i < nlabels; i++) {
        sl_prom_printf(p, "%s%s=\"", i ? "," : "{", kv[2 * i]);
        sl_prom_escape(p, kv[2 * i + 1]);
        sl_prom_printf(p, "\"");
    }
    if (nlabels)
        sl_prom_printf(p, "}");
}

void sl_prom_u64(struct sl_prom *p, const char *name, const char *const *kv, size_t nlabels,
                 uint64_t value)
{
    labels(p, name, kv, nlabels);
    sl_prom_printf(p, " %llu\n", (unsigned long long)value);
}

void sl_prom_f64(struct sl_prom *p, const char *name, const char *const *kv, size_t nlabels,
                 double value)
{
    labels(p, name, kv, nlabels);
    sl_prom_printf(p, " %.17g\n", value);
}
