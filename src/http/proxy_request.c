/* Leaf of the HTTP proxy: head rewriting. The request head toward a
 * backend and the response head toward the client, written into the
 * connection's hbuf with plain memcpy (no allocation, no printf on the hot
 * path), and the request's hashing key. Calls nothing of the proxy. */
#include <string.h>

#include "http/proxy_int.h"
#include "sluice.h"

/* A bounded writer over hbuf; <over> records any truncation. */
struct wb {
    char *p;
    size_t pos, cap;
    bool over;
};

static void put(struct wb *w, const char *s, size_t len)
{
    if (w->over || len > w->cap - w->pos) {
        w->over = true;
        return;
    }
    memcpy(w->p + w->pos, s, len);
    w->pos += len;
}

#define PUTS(w, lit) put((w), (lit), sizeof(lit) - 1)

static void put_u64(struct wb *w, uint64_t v)
{
    char tmp[24];
    size_t n = sizeof(tmp);

    do {
        tmp[--n] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    put(w, tmp + n, sizeof(tmp) - n);
}

static bool name_is(const struct sl_http_hdr *h, const char *name, size_t len)
{
    if (h->name_len != len)
        return false;
    for (size_t i = 0; i < len; i++) {
        char a = h->name[i];

        if (a >= 'A' && a <= 'Z')
            a = (char)(a + 32);
        if (a != name[i])
            return false;
    }
    return true;
}

static void put_header(struct wb *w, const struct sl_http_hdr *h)
{
    put(w, h->name, h->name_len);
    PUTS(w, ": ");
    put(w, h->value, h->value_len);
    PUTS(w, "\r\n");
}

static void put_framing(struct wb *w, enum sl_http_body body, uint64_t len)
{
    if (body == SL_BODY_LENGTH) {
        PUTS(w, "Content-Length: ");
        put_u64(w, len);
        PUTS(w, "\r\n");
    } else if (body == SL_BODY_CHUNKED) {
        PUTS(w, "Transfer-Encoding: chunked\r\n");
    }
}

static void put_upgrade(struct wb *w, const struct sl_http_msg *m)
{
    const struct sl_http_hdr *up = sl_http_find(m, "upgrade", 7);

    PUTS(w, "Connection: upgrade\r\n");
    if (up) {
        PUTS(w, "Upgrade: ");
        put(w, up->value, up->value_len);
        PUTS(w, "\r\n");
    }
}

uint32_t sl_proxy_build_request(struct sl_hconn *c, const struct sl_http_req *req,
                                const sluice_backend_t *be)
{
    struct sl_buf *b = c->rq->hbuf;
    struct wb w = {b->data, 0, b->cap, false};
    (void)be; /* the Host line, which depends on it, is the prefix's */
    for (size_t i = 0; i < req->m.nhdrs; i++) {
        const struct sl_http_hdr *h = &req->m.hdrs[i];

        if (h->flags & (SL_HDR_HOP | SL_HDR_HOST | SL_HDR_XFF))
            continue;
        if (name_is(h, "content-length", 14))
            continue;
        put_header(&w, h);
    }
    put_framing(&w, req->m.body, req->m.content_length);
    if (req->m.upgrade)
        put_upgrade(&w, &req->m);
    else
        PUTS(&w, "Connection: keep-alive\r\n");
    /* X-Forwarded-For: every value the client sent, in order, then it. */
    PUTS(&w, "X-Forwarded-For: ");
    for (size_t i = 0; i < req->m.nhdrs; i++) {
        const struct sl_http_hdr *h = &req->m.hdrs[i];

        if ((h->flags & SL_HDR_XFF) && name_is(h, "x-forwarded-for", 15) && h->value_len) {
            put(&w, h->value, h->value_len);
            PUTS(&w, ", ");
        }
    }
    put(&w, c->client_ip, c->client_ip_len);
    PUTS(&w, "\r\nX-Forwarded-Proto: http\r\n");
    if (req->host_len) {
        PUTS(&w, "X-Forwarded-Host: ");
        put(&w, req->host, req->host_len);
        PUTS(&w, "\r\n");
    }
    PUTS(&w, "Via: 1.1 sluice\r\n\r\n");
    if (w.over)
        return 0;
    b->start = 0;
    b->end = (uint32_t)w.pos;
    return (uint32_t)w.pos;
}

/* The request-target in origin-form: absolute-form loses its scheme and
 * authority ("http://h/p?q" -> "/p?q", "http://h" -> "/"). */
static void origin_form(const char *t, size_t len, const char **out, size_t *out_len, bool *slash)
{
    const char *p, *e = t + len;

    *slash = false;
    if (len == 0 || t[0] == '/' || (len == 1 && t[0] == '*')) {
        *out = t;
        *out_len = len;
        return;
    }
    p = memchr(t, ':', len);
    if (p && e - p >= 3 && p[1] == '/' && p[2] == '/')
        p += 3;
    else
        p = t;
    while (p < e && *p != '/' && *p != '?')
        p++;
    *out = p;
    *out_len = (size_t)(e - p);
    *slash = p == e || *p == '?';
}

uint32_t sl_proxy_build_prefix(struct sl_hconn *c, const sluice_backend_t *be)
{
    struct sl_buf *b = c->rq->hbuf;
    struct wb w = {b->data + c->rq->rest_len, 0, b->cap - c->rq->rest_len, false};
    const char *host = sluice_backend_override_host(be);
    size_t host_len;
    const char *tgt;
    size_t tgt_len;
    bool slash;

    put(&w, c->rq->method, c->rq->method_len);
    PUTS(&w, " ");
    origin_form(c->rq->target, c->rq->target_len, &tgt, &tgt_len, &slash);
    if (slash)
        PUTS(&w, "/");
    put(&w, tgt, tgt_len);
    PUTS(&w, " HTTP/1.1\r\nHost: ");
    if (host) {
        host_len = strlen(host);
    } else if (c->rq->host_len) {
        host = c->rq->host;
        host_len = c->rq->host_len;
    } else {
        host = sluice_backend_target(be);
        host_len = strlen(host);
    }
    put(&w, host, host_len);
    PUTS(&w, "\r\n");
    if (w.over)
        return 0;
    b->end = c->rq->rest_len + (uint32_t)w.pos;
    return (uint32_t)w.pos;
}

uint32_t sl_proxy_build_response(struct sl_hconn *c, const struct sl_http_resp *resp,
                                 bool client_ka)
{
    struct sl_buf *b = c->rq->hbuf;
    struct wb w = {b->data + b->end, 0, b->cap - b->end, false};

    PUTS(&w, "HTTP/1.1 ");
    put_u64(&w, (uint64_t)resp->status);
    PUTS(&w, " ");
    put(&w, resp->reason, resp->reason_len);
    PUTS(&w, "\r\n");
    for (size_t i = 0; i < resp->m.nhdrs; i++) {
        const struct sl_http_hdr *h = &resp->m.hdrs[i];

        if (!(h->flags & SL_HDR_HOP))
            put_header(&w, h);
    }
    if (resp->status == 101) {
        put_upgrade(&w, &resp->m);
    } else {
        /* An HTTP/1.0 client cannot read chunked: it gets the bare data,
         * delimited by the close (c->rq->dechunk). */
        if (resp->m.body == SL_BODY_CHUNKED && !c->rq->req_http10 && !resp->m.te_passthrough)
            PUTS(&w, "Transfer-Encoding: chunked\r\n"); /* else forwarded as received */
        if (client_ka)
            PUTS(&w, "Connection: keep-alive\r\n");
        else
            PUTS(&w, "Connection: close\r\n");
    }
    PUTS(&w, "Via: 1.1 sluice\r\n\r\n");
    if (w.over)
        return 0;
    b->end += (uint32_t)w.pos;
    return (uint32_t)w.pos;
}

/* The value of cookie <name> in the Cookie fields, or NULL. */
static const char *find_cookie(const struct sl_http_msg *m, const char *name, size_t name_len,
                               size_t *len)
{
    for (size_t i = 0; i < m->nhdrs; i++) {
        const struct sl_http_hdr *h = &m->hdrs[i];
        const char *p, *e;

        if (!name_is(h, "cookie", 6))
            continue;
        p = h->value;
        e = p + h->value_len;
        while (p < e) {
            const char *semi = memchr(p, ';', (size_t)(e - p));
            const char *end = semi ? semi : e;
            const char *eq;

            while (p < end && *p == ' ')
                p++;
            eq = memchr(p, '=', (size_t)(end - p));
            if (eq && (size_t)(eq - p) == name_len && memcmp(p, name, name_len) == 0) {
                *len = (size_t)(end - eq - 1);
                return eq + 1;
            }
            p = end + 1;
        }
    }
    return NULL;
}

void sl_proxy_hash_key(const struct sl_hconn *c, const struct sl_http_req *req,
                       const struct sl_service_rt *svc, const void **key, size_t *keylen)
{
    const struct sl_http_hdr *h;

    *key = NULL;
    *keylen = 0;
    switch (svc->hash_key) {
    case SL_HASH_NONE:
        break;
    case SL_HASH_SOURCE_IP:
        *key = c->client_ip;
        *keylen = c->client_ip_len;
        break;
    case SL_HASH_HEADER:
        h = sl_http_find(&req->m, svc->hash_key_name, svc->hash_key_name_len);
        if (h) {
            *key = h->value;
            *keylen = h->value_len;
        }
        break;
    case SL_HASH_COOKIE:
        *key = find_cookie(&req->m, svc->hash_key_name, svc->hash_key_name_len, keylen);
        if (!*key)
            *keylen = 0;
        break;
    case SL_HASH_PATH:
        *key = req->path;
        *keylen = req->path_len;
        break;
    }
}
