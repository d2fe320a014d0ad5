/* The HTTP side of an active check: one real HTTP/1.1 request on a fresh
 * connection, and the verdict on the answer, read with sluice's own
 * response parser (the same strictness as proxied traffic). */
#include <stdio.h>
#include <string.h>

#include "http/health_int.h"

size_t sl_health_http_request(const struct sl_health_rt *h, const char *host, char *out, size_t cap)
{
    int n = snprintf(out, cap,
                     "%s %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n"
                     "User-Agent: sluice-health\r\nAccept: */*\r\n\r\n",
                     h->method, h->path, host);

    return n > 0 && (size_t)n < cap ? (size_t)n : 0;
}

static bool status_expected(const struct sl_health_rt *h, int status)
{
    for (size_t i = 0; i < h->nexpect; i++)
        if (status >= h->expect[i].lo && status <= h->expect[i].hi)
            return true;
    return false;
}

/* Parses the head at the start of buf[0..*len) and drops it (1xx interim
 * heads too). SL_HEALTH_MORE until the final head is there. */
static int read_head(struct sl_health_http *st, const struct sl_health_rt *h, char *buf,
                     size_t *len, enum sl_health_end end, char *why, size_t whylen)
{
    enum sl_http_method m = strcmp(h->method, "HEAD") == 0 ? SL_METHOD_HEAD : SL_METHOD_GET;
    struct sl_http_resp resp;

    for (;;) {
        int n = sl_http_parse_response(buf, *len, SL_HEALTH_MAX_HEAD, m, &resp);

        if (n == SL_HTTP_PARTIAL) {
            if (end == SL_HEALTH_OPEN)
                return SL_HEALTH_MORE;
            (void)snprintf(why, whylen, "%s before a full response head",
                           end == SL_HEALTH_EOF ? "closed" : "too many bytes");
            return SLUICE_CHECK_RESULT_BAD_RESPONSE;
        }
        if (n == SL_HTTP_BAD) {
            (void)snprintf(why, whylen, "malformed response: %s",
                           resp.m.error ? resp.m.error : "bad head");
            return SLUICE_CHECK_RESULT_BAD_RESPONSE;
        }
        memmove(buf, buf + n, *len - (size_t)n);
        *len -= (size_t)n;
        if (resp.status >= 200 || resp.status == 101)
            break;
    }
    st->head_done = true;
    st->status = resp.status;
    st->framing = resp.m.body;
    st->length = resp.m.content_length;
    sl_chunked_init(&st->ch);
    return SL_HEALTH_MORE;
}

/* Moves the body bytes that arrived to buf[st->body..): decoded, and
 * never past the framing's end. 1 when the body is complete, 0 when more
 * may come, -1 on bad chunk framing. */
static int take_body(struct sl_health_http *st, char *buf, size_t *len)
{
    size_t consumed = 0, data = 0;
    int r;

    switch (st->framing) {
    case SL_BODY_NONE:
        *len = 0;
        return 1;
    case SL_BODY_LENGTH:
        if (*len >= st->length) {
            *len = (size_t)st->length;
            st->body = *len;
            return 1;
        }
        st->body = *len;
        return 0;
    case SL_BODY_CHUNKED:
        r = sl_chunked_decode(&st->ch, buf + st->body, *len - st->body, &consumed, &data);
        if (r == SL_CHUNKED_BAD)
            return -1;
        st->body += data;
        *len = st->body;
        return r == SL_CHUNKED_DONE;
    case SL_BODY_UNTIL_CLOSE:
    default:
        st->body = *len;
        return 0;
    }
}

static int ok_status(const struct sl_health_http *st, const struct sl_health_rt *h, char *why,
                     size_t whylen)
{
    (void)snprintf(why, whylen, "http status %d from %s %s", st->status, h->method, h->path);
    return SLUICE_CHECK_RESULT_OK;
}

int sl_health_http_feed(struct sl_health_http *st, const struct sl_health_rt *h, char *buf,
                        size_t *len, enum sl_health_end end, char *why, size_t whylen)
{
    bool window_full = false;
    int complete;

    if (!st->head_done) {
        int r = read_head(st, h, buf, len, end, why, whylen);

        if (r != SL_HEALTH_MORE || !st->head_done)
            return r;
        if (!status_expected(h, st->status)) {
            (void)snprintf(why, whylen, "http status %d from %s %s", st->status, h->method,
                           h->path);
            return SLUICE_CHECK_RESULT_STATUS;
        }
        if (h->body == NULL)
            return ok_status(st, h, why, whylen);
    }
    complete = take_body(st, buf, len);
    if (complete < 0) {
        (void)snprintf(why, whylen, "malformed chunked body");
        return SLUICE_CHECK_RESULT_BAD_RESPONSE;
    }
    /* The body is judged on its first SL_HEALTH_MAX_BODY bytes exactly, as
     * documented: a substring past them, or across their end, is missed
     * whatever room the buffer has left after a short head. */
    if (st->body >= SL_HEALTH_MAX_BODY) {
        st->body = SL_HEALTH_MAX_BODY;
        *len = st->body;
        window_full = true;
    }
    /* Search only what arrived, with an overlap for a match across reads. */
    if (st->body >= h->body_len) {
        size_t from = st->searched >= h->body_len ? st->searched - h->body_len + 1 : 0;

        if (memmem(buf + from, st->body - from, h->body, h->body_len) != NULL)
            return ok_status(st, h, why, whylen);
        st->searched = st->body;
    }
    if (complete || window_full || end == SL_HEALTH_FULL ||
        (end == SL_HEALTH_EOF && st->framing == SL_BODY_UNTIL_CLOSE)) {
        (void)snprintf(why, whylen, "body lacks '%.64s'", h->body);
        return SLUICE_CHECK_RESULT_BODY;
    }
    if (end == SL_HEALTH_EOF) {
        (void)snprintf(why, whylen, "closed before the end of the body");
        return SLUICE_CHECK_RESULT_BAD_RESPONSE;
    }
    return SL_HEALTH_MORE;
}
