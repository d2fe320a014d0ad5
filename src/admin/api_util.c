/* The leaf of the API's files: JSON responses, error bodies, URL decoding
 * and body parsing. Calls nothing of the API. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin/api.h"

void sl_api_resp_free(struct sl_api_resp *resp)
{
    free(resp->body);
    resp->body = NULL;
    resp->body_len = 0;
}

void sl_api_json(struct sl_api_resp *r, int status, json_t *j)
{
    sl_api_resp_free(r);
    r->status = status;
    r->content_type = "application/json";
    if (j == NULL)
        return;
    r->body = json_dumps(j, JSON_COMPACT | JSON_ENSURE_ASCII);
    json_decref(j);
    if (r->body == NULL) {
        /* Out of memory while answering: a bodiless 500 still tells the
         * client the call's outcome is unknown. */
        r->status = 500;
        return;
    }
    r->body_len = strlen(r->body);
}

static void error_json(struct sl_api_resp *r, int status, const char *code, const char *msg)
{
    json_t *j = json_pack("{s:{s:s,s:s}}", "error", "code", code, "message", msg);

    sl_api_json(r, status, j);
    if (j == NULL)
        r->status = 500;
}

void sl_api_error(struct sl_api_resp *r, int status, const char *code, const char *fmt, ...)
{
    char msg[512];
    va_list ap;

    va_start(ap, fmt);
    (void)vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    error_json(r, status, code, msg);
}

void sl_api_change_error(struct sl_api_resp *r, const struct sl_change_err *e)
{
    int status = e->status >= 400 && e->status <= 599 ? e->status : 500;
    const char *code = e->code[0] != '\0' ? e->code : "internal";

    /* memchr: a helper that filled the array to the brim must not make us
     * read past it. */
    if (memchr(e->code, '\0', sizeof(e->code)) == NULL ||
        memchr(e->message, '\0', sizeof(e->message)) == NULL) {
        error_json(r, 500, "internal", "malformed error");
        return;
    }
    error_json(r, status, code, e->message);
}

static int hexval(char ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F')
        return ch - 'A' + 10;
    return -1;
}

int sl_api_url_decode(const char *s, size_t n, bool plus, char *out, size_t cap)
{
    size_t o = 0;

    for (size_t i = 0; i < n; i++) {
        char ch = s[i];

        if (ch == '%') {
            int hi = i + 2 < n ? hexval(s[i + 1]) : -1;
            int lo = i + 2 < n ? hexval(s[i + 2]) : -1;

            if (hi < 0 || lo < 0)
                return -1;
            ch = (char)(hi * 16 + lo);
            i += 2;
        } else if (ch == '+' && plus) {
            ch = ' ';
        }
        if (ch == '\0' || o + 1 >= cap)
            return -1;
        out[o++] = ch;
    }
    if (cap == 0)
        return -1;
    out[o] = '\0';
    return 0;
}

int sl_api_query_param(const char *q, size_t qlen, const char *name, char *out, size_t cap)
{
    size_t nlen = strlen(name);
    size_t i = 0;

    while (q != NULL && i < qlen) {
        const char *amp = memchr(q + i, '&', qlen - i);
        size_t end = amp != NULL ? (size_t)(amp - q) : qlen;
        const char *eq = memchr(q + i, '=', end - i);
        size_t klen = eq != NULL ? (size_t)(eq - (q + i)) : end - i;

        if (klen == nlen && memcmp(q + i, name, nlen) == 0) {
            size_t v = eq != NULL ? (size_t)(eq - q) + 1 : end;

            return sl_api_url_decode(q + v, end - v, true, out, cap) == 0 ? 1 : -1;
        }
        i = end + 1;
    }
    return 0;
}

int sl_api_parse_body(const char *body, size_t len, json_t **out, struct sl_api_resp *r)
{
    json_error_t jerr;
    json_t *j;

    if (len == 0) {
        sl_api_error(r, 400, "invalid_json", "the body is empty: a JSON object is expected");
        return -1;
    }
    j = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
    if (j == NULL) {
        sl_api_error(r, 400, "invalid_json", "malformed JSON at line %d column %d: %s", jerr.line,
                     jerr.column, jerr.text);
        return -1;
    }
    if (!json_is_object(j)) {
        json_decref(j);
        sl_api_error(r, 400, "invalid_json", "the body must be a JSON object");
        return -1;
    }
    *out = j;
    return 0;
}

json_t *sl_api_query_find(struct sl_control *c, const struct sl_query_filter *f, const char *list,
                          const char *key, const char *value)
{
    struct sl_change_err e = {0};
    json_t *q = sl_query(c, f, &e), *item, *found = NULL;
    size_t i;

    json_array_foreach(json_object_get(q, list), i, item)
    {
        const char *v = json_string_value(json_object_get(item, key));

        if (v != NULL && strcmp(v, value) == 0) {
            found = json_incref(item);
            break;
        }
    }
    json_decref(q);
    return found;
}
