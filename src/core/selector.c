#include "selector.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "backend_types.h"
#include "sluice.h"
#include "view.h"

static bool key_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == '/' || c == '-';
}

static bool value_char(char c)
{
    return key_char(c) || c == ':';
}

__attribute__((format(printf, 3, 4))) static int fail(char *err, size_t errlen, const char *fmt,
                                                      ...)
{
    va_list ap;

    va_start(ap, fmt);
    if (err != NULL && errlen > 0)
        (void)vsnprintf(err, errlen, fmt, ap); /* truncation is fine for a message */
    va_end(ap);
    return SLUICE_ERR_INVALID_ARG;
}

static bool span_ok(const char *s, size_t len, bool (*ok)(char))
{
    for (size_t i = 0; i < len; i++)
        if (!ok(s[i]))
            return false;
    return true;
}

/* One term s[0..len), already trimmed. */
static int parse_term(const char *s, size_t len, struct sl_sel_term *t, char *err, size_t errlen)
{
    const char *eq = memchr(s, '=', len);
    size_t klen, voff;

    memset(t, 0, sizeof(*t));
    if (len == 0)
        return fail(err, errlen, "empty selector term");
    if (eq == NULL) {
        t->op = SL_SEL_HAS;
        if (s[0] == '!') {
            t->op = SL_SEL_NOT;
            s++;
            len--;
        }
        if (len == 0 || !span_ok(s, len, key_char))
            return fail(err, errlen, "bad label key in \"%.*s\"", (int)len, s);
        t->key = strndup(s, len);
        return t->key != NULL ? 0 : SLUICE_ERR_NOMEM;
    }
    klen = (size_t)(eq - s);
    voff = klen + 1;
    t->op = SL_SEL_EQ;
    if (klen > 0 && s[klen - 1] == '!') {
        t->op = SL_SEL_NE;
        klen--;
    }
    if (klen == 0 || !span_ok(s, klen, key_char))
        return fail(err, errlen, "bad label key in \"%.*s\"", (int)len, s);
    if (!span_ok(s + voff, len - voff, value_char))
        return fail(err, errlen, "bad label value in \"%.*s\"", (int)len, s);
    t->key = strndup(s, klen);
    t->value = strndup(s + voff, len - voff);
    if (t->key == NULL || t->value == NULL) {
        free(t->key);
        free(t->value);
        return SLUICE_ERR_NOMEM;
    }
    return 0;
}

int sl_selector_parse(const char *src, struct sl_selector *out, char *err, size_t errlen)
{
    struct sl_selector s = {NULL, 0};
    size_t nterms = 1;
    const char *p;
    int rc = 0;

    if (src == NULL || src[strspn(src, " ")] == '\0') {
        *out = s;
        return 0;
    }
    for (p = src; *p != '\0'; p++)
        nterms += *p == ',';
    s.terms = calloc(nterms, sizeof(*s.terms));
    if (s.terms == NULL)
        return SLUICE_ERR_NOMEM;
    for (p = src;; p++) {
        size_t len = strcspn(p, ",");
        const char *q = p;

        while (len > 0 && *q == ' ') {
            q++;
            len--;
        }
        while (len > 0 && q[len - 1] == ' ')
            len--;
        rc = parse_term(q, len, &s.terms[s.n], err, errlen);
        if (rc != 0)
            goto fail;
        s.n++;
        p += strcspn(p, ",");
        if (*p == '\0')
            break;
    }
    *out = s;
    return 0;

fail:
    sl_selector_fini(&s);
    return rc;
}

void sl_selector_fini(struct sl_selector *s)
{
    for (size_t i = 0; i < s->n; i++) {
        free(s->terms[i].key);
        free(s->terms[i].value);
    }
    free(s->terms);
    s->terms = NULL;
    s->n = 0;
}

bool sl_selector_match(const struct sl_selector *s, const struct sluice_backend *b)
{
    for (size_t i = 0; i < s->n; i++) {
        const struct sl_sel_term *t = &s->terms[i];
        const char *v = sluice_backend_label(b, t->key);
        bool ok;

        switch (t->op) {
        case SL_SEL_EQ:
            ok = v != NULL && strcmp(v, t->value) == 0;
            break;
        case SL_SEL_NE:
            ok = v == NULL || strcmp(v, t->value) != 0;
            break;
        case SL_SEL_HAS:
            ok = v != NULL;
            break;
        case SL_SEL_NOT:
        default:
            ok = v == NULL;
            break;
        }
        if (!ok)
            return false;
    }
    return true;
}

int sl_selector_check(const char *selector, char *err, size_t errlen)
{
    struct sl_selector s;
    int rc = sl_selector_parse(selector, &s, err, errlen);

    if (rc == 0)
        sl_selector_fini(&s);
    return rc;
}
