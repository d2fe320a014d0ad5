/* Internal to config*.c: the checking context and the field readers that
 * turn a YAML node into a typed value or a line-numbered error. Every
 * reader reports its own error and returns -1, so the callers simply carry
 * on and the user gets every problem of the file at once. */
#ifndef SL_CONTROL_CONFIG_CTX_H
#define SL_CONTROL_CONFIG_CTX_H

#include "control/config.h"
#include "control/ytree.h"

struct sl_cfg_ctx {
    const char *path;
    struct sl_diag *diag;
    size_t errors;
    bool nomem;
};

void sl_cfg_err(struct sl_cfg_ctx *c, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void sl_cfg_warn(struct sl_cfg_ctx *c, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Reports each key of map <m> not in the NULL-terminated <known> (with a
 * suggestion when one is close). -1 when <m> is not a mapping. */
int sl_cfg_keys(struct sl_cfg_ctx *c, const struct sl_ynode *m, const char *what,
                const char *const *known);
/* <n> must be a mapping / list; reports otherwise. */
int sl_cfg_want_map(struct sl_cfg_ctx *c, const struct sl_ynode *n, const char *what);
int sl_cfg_want_seq(struct sl_cfg_ctx *c, const struct sl_ynode *n, const char *what);

/* Readers: a NULL <n> (key absent) leaves *out (the default) and returns 0. */
/* Letters, digits, '-', '_', '.'; 1 to 128 bytes: services, backends,
 * route ids. */
bool sl_cfg_valid_name(const char *s);
int sl_cfg_str(struct sl_cfg_ctx *c, const struct sl_ynode *n, const char *what, char **out);
int sl_cfg_uint(struct sl_cfg_ctx *c, const struct sl_ynode *n, const char *what, uint32_t min,
                uint32_t max, uint32_t *out);
int sl_cfg_int(struct sl_cfg_ctx *c, const struct sl_ynode *n, const char *what, int32_t min,
               int32_t max, int32_t *out);
int sl_cfg_bool(struct sl_cfg_ctx *c, const struct sl_ynode *n, const char *what, bool *out);
int sl_cfg_duration(struct sl_cfg_ctx *c, const struct sl_ynode *n, const char *what,
                    uint32_t min_ms, uint32_t *out);
int sl_cfg_size(struct sl_cfg_ctx *c, const struct sl_ynode *n, const char *what, uint32_t min,
                uint32_t max, uint32_t *out);
int sl_cfg_size64(struct sl_cfg_ctx *c, const struct sl_ynode *n, const char *what, uint64_t min,
                  uint64_t max, uint64_t *out);

/* "<what>.<key>" (or "<key>" when <what> is empty) in a block-scoped
 * buffer, for messages about one field of a mapping. */
const char *sl_cfg_field(char *buf, size_t len, const char *what, const char *key);
#define SL_CFG_FIELD(what, key) sl_cfg_field((char[256]){0}, 256, (what), (key))

/* strdup that records running out of memory in <c>. */
char *sl_cfg_strdup(struct sl_cfg_ctx *c, const char *s);

/* Splits an endpoint pattern into e->host_match, e->host and e->path
 * (allocated). NULL, or why it is invalid. */
const char *sl_cfg_parse_pattern(const char *pat, struct sl_cfg_endpoint *e);

/* config_service.c: the `services` mapping. */
void sl_cfg_parse_services(struct sl_cfg_ctx *c, const struct sl_ynode *m, struct sl_config *cfg);
void sl_cfg_free_service(struct sl_cfg_service *s);
/* config_health.c: a service's `health` mapping, and its passive,
 * panic_threshold and slow_start keys (on the service, or inside
 * `health`). Defaults first (-1 out of memory), then the parsers. */
int sl_cfg_health_defaults(struct sl_cfg_ctx *c, struct sl_cfg_health *h);
void sl_cfg_parse_health(struct sl_cfg_ctx *c, const struct sl_ynode *m, struct sl_cfg_service *s);
/* The service-level keys of <m> (the service's mapping, named <what>). */
void sl_cfg_parse_health_policy(struct sl_cfg_ctx *c, const struct sl_ynode *m, const char *what,
                                struct sl_cfg_service *s);
void sl_cfg_free_health(struct sl_cfg_health *h);

/* config_check.c: rules across sections; NULL-safe on a model that
 * already holds field errors. */
void sl_cfg_check_model(struct sl_cfg_ctx *c, struct sl_config *cfg, int root_line);

#endif /* SL_CONTROL_CONFIG_CTX_H */
