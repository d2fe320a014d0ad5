/* Prometheus text exposition format 0.0.4: a growing text buffer, family
 * headers and samples with escaped label values. Used by the scrape only
 * (admin thread), never on the request path. */
#ifndef SL_PROXY_PROM_H
#define SL_PROXY_PROM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct sl_prom {
    char *buf; /* malloc'd, NUL-terminated while !oom */
    size_t len, cap;
    bool oom; /* an append failed: the text is incomplete */
};

/* Appends printf-style text (no escaping). */
void sl_prom_printf(struct sl_prom *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* # HELP and # TYPE lines of family <name> (<type>: counter, gauge, histogram). */
void sl_prom_family(struct sl_prom *p, const char *name, const char *type, const char *help);
/* Appends <s> escaped as a label value: backslash, double quote, newline. */
void sl_prom_escape(struct sl_prom *p, const char *s);
/* One sample: <name>{<k0>="<v0>",...} <value>; nlabels pairs in kv[]
 * (key, value, key, value...), values escaped. */
void sl_prom_u64(struct sl_prom *p, const char *name, const char *const *kv, size_t nlabels,
                 uint64_t value);
void sl_prom_f64(struct sl_prom *p, const char *name, const char *const *kv, size_t nlabels,
                 double value);

#endif /* SL_PROXY_PROM_H */
