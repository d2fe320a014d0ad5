/* Field readers: a YAML node to a typed value, or a "FILE:LINE: what: ..."
 * error. The syntax of each scalar is scalar.c's; here is what to say
 * when it does not parse or is out of range. */
#include <ctype.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "control/config_ctx.h"
#include "control/scalar.h"

__attribute__((format(printf, 4, 0))) static void report(struct sl_cfg_ctx *c, const char *prefix,
                                                         int line, const char *fmt, va_list ap)
{
    char msg[512];

    (void)vsnprintf(msg, sizeof(msg), fmt, ap); /* a long message is cut, not lost */
    sl_diag_add(c->diag, "%s%s:%d: %s", prefix, c->path, line, msg);
}

void sl_cfg_err(struct sl_cfg_ctx *c, int line, const char *fmt, ...)
{
    va_list ap;

    c->errors++;
    va_start(ap, fmt);
    report(c, "", line, fmt, ap);
    va_end(ap);
}

void sl_cfg_warn(struct sl_cfg_ctx *c, int line, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    report(c, "warning: ", line, fmt, ap);
    va_end(ap);
}

const char *sl_cfg_field(char *buf, size_t len, const char *what, const char *key)
{
    /* (void): a label cut at <len> still names the field well enough. */
    if (what[0] == '\0')
        (void)snprintf(buf, len, "%s", key);
    else
        (void)snprintf(buf, len, "%s.%s", what, key);
    return buf;
}

char *sl_cfg_strdup(struct sl_cfg_ctx *c, const char *s)
{
    char *d = strdup(s);

    if (d == NULL)
        c->nomem = true;
    return d;
}

int sl_cfg_want_map(struct sl_cfg_ctx *c, const struct sl_ynode *n, const char *what)
{
    if (n != NULL && n->type == SL_Y_MAP)
        return 0;
    sl_cfg_err(c, n != NULL ? n->line : 1, "%s: expected a mapping, got %s", what,
               sl_ynode_type_name(n));
    return -1;
}

int sl_cfg_want_seq(struct sl_cfg_ctx *c, const struct sl_ynode *n, const char *what)
{
    if (n != NULL && n->type == SL_Y_SEQ)
        return 0;
    sl_cfg_err(c, n != NULL ? n->line : 1, "%s: expected a list, got %s", what,
               sl_ynode_type_name(n));
    return -1;
}

/* Edit distance for "did you mean": small strings, so the two-row DP on
 * the stack is enough (keys longer than 31 bytes never get a suggestion). */
static size_t edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    size_t prev[32], cur[32];

    if (la >= 32 || lb >= 32)
        return SIZE_MAX;
    for (size_t j = 0; j <= lb; j++)
        prev[j] = j;
    for (size_t i = 1; i <= la; i++) {
        cur[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t sub = prev[j - 1] + (a[i - 1] != b[j - 1]);
            size_t del = prev[j] + 1, ins = cur[j - 1] + 1;

            cur[j] = sub < del ? (sub < ins ? sub : ins) : (del < ins ? del : ins);
        }
        memcpy(prev, cur, (lb + 1) * sizeof(prev[0]));
    }
    return prev[lb];
}

/* The closest of <known> to <word> within two edits, or NULL. */
static const char *suggest(const char *word, const char *const *known)
{
    const char *best = NULL;
    size_t best_d = 3; /* two edits at most, or it is not a typo */

    for (size_t i = 0; known[i] != NULL; i++) {
        size_t d = edit_distance(word, known[i]);

        if (d < best_d) {
            best_d = d;
            best = known[i];
        }
    }
    return best;
}

int sl_cfg_keys(struct sl_cfg_ctx *c, const struct sl_ynode *m, const char *what,
                const char *const *known)
{
    if (sl_cfg_want_map(c, m, what) != 0)
        return -1;
    for (size_t i = 0; i + 1 < m->n; i += 2) {
        const struct sl_ynode *k = m->items[i];
        bool ok = false;

        for (size_t j = 0; known[j] != NULL && !ok; j++)
            ok = strcmp(k->str, known[j]) == 0;
        if (ok)
            continue;
        const char *hint = suggest(k->str, known);

        if (hint != NULL)
            sl_cfg_err(c, k->line, "%s: unknown key '%s' (did you mean '%s'?)", what, k->str, hint);
        else
            sl_cfg_err(c, k->line, "%s: unknown key '%s'", what, k->str);
    }
    return 0;
}

/* Names end up in group names, metrics and URLs: keep them to a safe set. */
bool sl_cfg_valid_name(const char *s)
{
    if (s[0] == '\0' || strlen(s) > 128)
        return false;
    for (; *s != '\0'; s++)
        if (!isalnum((unsigned char)*s) && *s != '-' && *s != '_' && *s != '.')
            return false;
    return true;
}

/* JSON types a field takes from an API body (YAML scalars have none). */
#define J_STR  (1u << SL_YJ_STRING)
#define J_NUM  (1u << SL_YJ_NUMBER)
#define J_BOOL (1u << SL_YJ_BOOL)

static const char *json_type_name(enum sl_yjson t)
{
    switch (t) {
    case SL_YJ_STRING:
        return "a string";
    case SL_YJ_NUMBER:
        return "a number";
    case SL_YJ_BOOL:
        return "a boolean";
    case SL_YJ_NULL:
    case SL_YJ_NONE:
    default:
        return "null";
    }
}

/* A non-null scalar, or an error naming what was expected. A scalar from
 * JSON must also have one of the <json> types: "5" is no integer there. */
static const char *scalar(struct sl_cfg_ctx *c, const struct sl_ynode *n, const char *what,
                          const char *expected, unsigned json)
{
    if (n->type == SL_Y_SCALAR && n->json != SL_YJ_NONE && n->json != SL_YJ_NULL &&
        (json & (1u << n->json)) == 0) {
        sl_cfg_err(c, n->line, "%s: expected %s, got %s", what, expected, json_type_name(n->json));
        return NULL;
    }
    if (n->type == SL_Y_SCALAR && !sl_ynode_is_null(n))
        return n->str;
    sl_cfg_err(c, n->line, "%s: expected %s, got %s", what, expected, sl_ynode_type_name(n));
    return NULL;
}

int sl_cfg_str(struct sl_cfg_ctx *c, const struct sl_ynode *n, const char *what, char **out)
{
    if (n == NULL)
        return 0;
    const char *s = scalar(c, n, what, "a string", J_STR);

    if (s == NULL)
        return -1;
    char *d = sl_cfg_strdup(c, s);

    if (d == NULL)
        return -1;
    free(*out);
    *out = d;
    return 0;
}

/* An integer scalar within [min, max]: 1 when <n> is absent, 0 when
 * *<out> was set, -1 after reporting an error. */
static int ranged(struct sl_cfg_ctx *c, const struct sl_ynode *n, const char *what, int64_t min,
                  int64_t max, int64_t *out)
{
    if (n == NULL)
        return 1;
    const char *s = scalar(c, n, what, "an integer", J_NUM);

    if (s == NULL)
        return -1;
    if (sl_scalar_parse_int(s, out) != 0) {
        sl_cfg_err(c, n->line, "%s: '%s' is not an integer", what, s);
        return -1;
    }
    if (*out < min || *out > max) {
        sl_cfg_err(c, n->line, "%s: %lld is out of range (%lld..%lld)", what, (long long)*out,
                   (long long)min, (long long)max);
        return -1;
    }
    return 0;
}

int sl_cfg_uint(struct sl_cfg_ctx *c, const struct sl_ynode *n, const char *what, uint32_t min,
                uint32_t max, uint32_t *out)
{
    int64_t v;
    int rc = ranged(c, n, what, min, max, &v);

    if (rc == 0)
        *out = (uint32_t)v;
    return rc < 0 ? -1 : 0;
}

int sl_cfg_int(struct sl_cfg_ctx *c, const struct sl_ynode *n, const char *what, int32_t min,
               int32_t max, int32_t *out)
{
    int64_t v;
    int rc = ranged(c, n, what, min, max, &v);

    if (rc == 0)
        *out = (int32_t)v;
    return rc < 0 ? -1 : 0;
}

int sl_cfg_bool(struct sl_cfg_ctx *c, const struct sl_ynode *n, const char *what, bool *out)
{
    if (n == NULL)
        return 0;
    const char *s = scalar(c, n, what, "true or false", J_BOOL);

    if (s == NULL)
        return -1;
    if (sl_scalar_parse_bool(s, out) == 0)
        return 0;
    sl_cfg_err(c, n->line, "%s: expected true or false, got '%s'", what, s);
    return -1;
}

int sl_cfg_duration(struct sl_cfg_ctx *c, const struct sl_ynode *n, const char *what,
                    uint32_t min_ms, uint32_t *out)
{
    uint32_t v;

    if (n == NULL)
        return 0;
    const char *s = scalar(c, n, what, "a duration", J_STR | J_NUM);

    if (s == NULL)
        return -1;
    if (sl_scalar_parse_duration(s, &v) != 0) {
        sl_cfg_err(c, n->line,
                   "%s: invalid duration '%s' (write 500ms, 2s, 1m, 1h or milliseconds)", what, s);
        return -1;
    }
    if (v < min_ms) {
        sl_cfg_err(c, n->line, "%s: %s is too short (at least %ums)", what, s, min_ms);
        return -1;
    }
    *out = v;
    return 0;
}

int sl_cfg_size64(struct sl_cfg_ctx *c, const struct sl_ynode *n, const char *what, uint64_t min,
                  uint64_t max, uint64_t *out)
{
    uint64_t v;

    if (n == NULL)
        return 0;
    const char *s = scalar(c, n, what, "a size", J_STR | J_NUM);

    if (s == NULL)
        return -1;
    if (sl_scalar_parse_size64(s, &v) != 0) {
        sl_cfg_err(c, n->line, "%s: invalid size '%s' (write 16k, 1m, 2g or bytes)", what, s);
        return -1;
    }
    if (v < min || v > max) {
        sl_cfg_err(c, n->line, "%s: %s is out of range (%llu..%llu bytes)", what, s,
                   (unsigned long long)min, (unsigned long long)max);
        return -1;
    }
    *out = v;
    return 0;
}

int sl_cfg_size(struct sl_cfg_ctx *c, const struct sl_ynode *n, const char *what, uint32_t min,
                uint32_t max, uint32_t *out)
{
    uint64_t v = 0;
    int rc = n != NULL ? sl_cfg_size64(c, n, what, min, max, &v) : 0;

    if (rc == 0 && n != NULL)
        *out = (uint32_t)v; /* within [min, max], so it fits */
    return rc;
}
