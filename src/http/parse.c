/* Message heads: finding the end, the request line and the status line
 * (RFC 9112 sections 2-4), and response body framing (section 6.3). The
 * field lines are parse_fields.c's.
 *
 * The proxy calls us again each time more bytes arrive, so an incomplete
 * head costs one memchr pass, bounded by max_head; the full parse runs once
 * the blank line is there, on a buffer known to end in CRLF CRLF, which
 * lets the scans stop on any control byte without bounds checks. */
#include <string.h>

#include "http/parse_int.h"

/* Served as the path of an absolute-form target without one
 * ("http://example.com"): the origin-form of that is "/". */
static const char root_path[] = "/";

/* Looks for the blank line that ends a head starting at buf[start], in
 * buf[start..len). Returns 1 with *end just past it, 0 if it is not there
 * yet, -1 on an LF without its CR. *first_lf is the offset of the first
 * LF, or len if none. */
static int find_head_end(const char *buf, size_t len, size_t start, size_t *end, size_t *first_lf)
{
    const char *p = buf + start;
    const char *e = buf + len;

    *first_lf = len;
    while (p < e) {
        const char *lf = memchr(p, '\n', (size_t)(e - p));
        size_t i;

        if (lf == NULL)
            return 0;
        i = (size_t)(lf - buf);
        if (i == start || buf[i - 1] != '\r')
            return -1;
        if (*first_lf == len) {
            *first_lf = i;
        } else if (buf[i - 2] == '\n') { /* i - 2 > first_lf: CRLF CRLF */
            *end = i + 1;
            return 1;
        }
        p = lf + 1;
    }
    return 0;
}

/* Finds the end of the head or says why not. Returns the head length,
 * SL_HTTP_PARTIAL or SL_HTTP_BAD (status set for a request; the response
 * caller turns every refusal into 502). The scan never goes past max_head:
 * a head that does not end there is refused at once, so a slow client
 * cannot make the caller buffer more. */
static int head_end(const char *buf, size_t len, size_t start, size_t max_head,
                    struct sl_http_msg *m)
{
    size_t scan;
    size_t end = 0;
    size_t first_lf;
    int r;

    if (max_head > INT32_MAX)
        max_head = INT32_MAX; /* the head length is returned as an int */
    scan = len < max_head ? len : max_head;
    if (start >= scan)
        return len > max_head ? sl_http_fail(m, 431, "head too large") : SL_HTTP_PARTIAL;
    r = find_head_end(buf, scan, start, &end, &first_lf);
    if (r == -1)
        return sl_http_fail(m, 400, "bare LF");
    if (r == 1)
        return (int)end;
    if (len <= max_head)
        return SL_HTTP_PARTIAL;
    if (first_lf == scan)
        return sl_http_fail(m, 414, "request line too long");
    return sl_http_fail(m, 431, "head too large");
}

/* HTTP-version = "HTTP/" DIGIT "." DIGIT; we speak 1.0 and 1.1. Returns
 * the minor version, -1 for a malformed one, -2 for another version. */
static int parse_version(const char *p)
{
    if (memcmp(p, "HTTP/", 5) != 0 || !SL_CLS(p[5], SL_C_DIGIT) || p[6] != '.' ||
        !SL_CLS(p[7], SL_C_DIGIT))
        return -1;
    if (p[5] != '1' || (p[7] != '0' && p[7] != '1'))
        return -2;
    return p[7] - '0';
}

static enum sl_http_method method_id(const char *s, size_t n)
{
    switch (n) {
    case 3:
        if (memcmp(s, "GET", 3) == 0)
            return SL_METHOD_GET;
        return memcmp(s, "PUT", 3) == 0 ? SL_METHOD_PUT : SL_METHOD_OTHER;
    case 4:
        if (memcmp(s, "HEAD", 4) == 0)
            return SL_METHOD_HEAD;
        return memcmp(s, "POST", 4) == 0 ? SL_METHOD_POST : SL_METHOD_OTHER;
    case 5:
        if (memcmp(s, "PATCH", 5) == 0)
            return SL_METHOD_PATCH;
        return memcmp(s, "TRACE", 5) == 0 ? SL_METHOD_TRACE : SL_METHOD_OTHER;
    case 6:
        return memcmp(s, "DELETE", 6) == 0 ? SL_METHOD_DELETE : SL_METHOD_OTHER;
    case 7:
        if (memcmp(s, "OPTIONS", 7) == 0)
            return SL_METHOD_OPTIONS;
        return memcmp(s, "CONNECT", 7) == 0 ? SL_METHOD_CONNECT : SL_METHOD_OTHER;
    default:
        return SL_METHOD_OTHER;
    }
}

static void split_query(const char *s, size_t n, struct sl_http_req *req)
{
    const char *q = memchr(s, '?', n);

    req->path = s;
    req->path_len = q != NULL ? (size_t)(q - s) : n;
    req->query = s + req->path_len;
    req->query_len = n - req->path_len;
}

/* absolute-form: "http://" or "https://" authority [path-abempty] [query].
 * Returns 0 with req->host set to the authority, or -1. */
static int parse_absolute(const char *t, size_t n, struct sl_http_req *req)
{
    size_t i;
    size_t a;

    if (n > 7 && (t[0] | 0x20) == 'h' && (t[1] | 0x20) == 't' && (t[2] | 0x20) == 't' &&
        (t[3] | 0x20) == 'p' && t[4] == ':' && t[5] == '/' && t[6] == '/')
        i = 7;
    else if (n > 8 && (t[0] | 0x20) == 'h' && (t[1] | 0x20) == 't' && (t[2] | 0x20) == 't' &&
             (t[3] | 0x20) == 'p' && (t[4] | 0x20) == 's' && t[5] == ':' && t[6] == '/' &&
             t[7] == '/')
        i = 8;
    else
        return -1;
    for (a = i; i < n && t[i] != '/' && t[i] != '?'; i++)
        ;
    if (!sl_http_authority_valid(t + a, i - a, false))
        return -1;
    req->host = t + a;
    req->host_len = i - a;
    if (i < n && t[i] == '/') {
        split_query(t + i, n - i, req);
    } else {
        req->path = root_path;
        req->path_len = 1;
        req->query = t + i;
        req->query_len = n - i;
    }
    return 0;
}

/* Sorts the request-target into its form (RFC 9112 3.2); each form is
 * allowed with its method only. */
static int parse_target(struct sl_http_req *req)
{
    const char *t = req->target;
    size_t n = req->target_len;
    bool connect = req->method_id == SL_METHOD_CONNECT;

    if (t[0] == '/' && !connect) {
        split_query(t, n, req);
        return 0;
    }
    if (t[0] == '*' && n == 1 && req->method_id == SL_METHOD_OPTIONS) {
        req->path = t;
        req->path_len = 1;
        req->query = t + 1;
        req->query_len = 0;
        return 0;
    }
    if (connect) {
        if (!sl_http_authority_valid(t, n, true))
            return -1;
        req->host = t;
        req->host_len = n;
        req->path = t;
        req->path_len = 0;
        req->query = t + n;
        req->query_len = 0;
        return 0;
    }
    return parse_absolute(t, n, req);
}

/* method SP request-target SP HTTP-version CRLF, single spaces. Returns a
 * pointer to the first field line, or NULL with the refusal recorded. */
static const char *parse_request_line(const char *p, struct sl_http_req *req)
{
    struct sl_http_msg *m = &req->m;
    const char *s = p;
    int v;

    while (SL_CLS(*p, SL_C_TOKEN))
        p++;
    if (p == s || *p != ' ') {
        sl_http_fail(m, 400, "bad method");
        return NULL;
    }
    req->method = s;
    req->method_len = (size_t)(p - s);
    req->method_id = method_id(s, req->method_len);
    s = ++p;
    while (SL_CLS(*p, SL_C_TARGET))
        p++;
    if (p == s || *p != ' ') {
        sl_http_fail(m, 400, "bad request-target");
        return NULL;
    }
    req->target = s;
    req->target_len = (size_t)(p - s);
    p++;
    /* The line ends in CRLF inside the buffer: the 8 version bytes are
     * readable once we know none of them is the CR. */
    s = p;
    while (*p != '\r')
        p++;
    if (p - s != 8 || p[1] != '\n') {
        sl_http_fail(m, 400, "bad HTTP version");
        return NULL;
    }
    v = parse_version(s);
    if (v < 0) {
        sl_http_fail(m, v == -2 ? 505 : 400, "bad HTTP version");
        return NULL;
    }
    m->minor_version = v;
    if (parse_target(req) != 0) {
        sl_http_fail(m, 400, "bad request-target");
        return NULL;
    }
    return p + 2;
}

/* Refuses early what can never become a request, so garbage does not sit
 * in the buffer until max_head: the method must be tchars then SP. */
static bool request_prefix_ok(const char *buf, size_t len, size_t start)
{
    size_t i = start;

    if (len - start == 1 && buf[start] == '\r')
        return true; /* maybe an empty line before the request line */
    while (i < len && SL_CLS(buf[i], SL_C_TOKEN))
        i++;
    return i == len || (i > start && buf[i] == ' ');
}

int sl_http_parse_request(const char *buf, size_t len, size_t max_head, struct sl_http_req *req)
{
    struct sl_http_msg *m = &req->m;
    struct sl_http_fields f;
    size_t start = 0;
    const char *p;
    int hlen;

    m->status = 0;
    m->error = NULL;
    m->nhdrs = 0;
    req->host = NULL;
    req->host_len = 0;
    req->expect_continue = false;
    /* RFC 9112 2.2: ignore empty lines before the request line (some
     * clients send CRLF after a POST body). */
    while (len - start >= 2 && buf[start] == '\r' && buf[start + 1] == '\n')
        start += 2;
    hlen = head_end(buf, len, start, max_head, m);
    if (hlen == SL_HTTP_PARTIAL && !request_prefix_ok(buf, len, start))
        return sl_http_fail(m, 400, "bad method");
    if (hlen < 0)
        return hlen;
    p = parse_request_line(buf + start, req);
    if (p == NULL)
        return SL_HTTP_BAD;
    if (sl_http_parse_fields(p, true, m, &f) != 0)
        return SL_HTTP_BAD;
    /* RFC 9110 10.1.1: a 100-continue from an HTTP/1.0 client is ignored. */
    req->expect_continue = f.expect_continue && m->minor_version == 1;
    if (f.host == NULL) {
        if (m->minor_version == 1)
            return sl_http_fail(m, 400, "missing Host");
    } else if (!sl_http_authority_valid(f.host, f.host_len, false)) {
        return sl_http_fail(m, 400, "bad Host");
    }
    /* An absolute-form or CONNECT target already named the host, and
     * RFC 9112 3.2.2 has it win over the Host field. */
    if (req->host == NULL) {
        req->host = f.host;
        req->host_len = f.host_len;
    }
    return hlen;
}

/* HTTP-version SP 3DIGIT SP reason-phrase CRLF. A missing SP before an
 * empty reason is tolerated: several servers send "HTTP/1.1 200\r\n".
 * Returns the first field line or NULL. */
static const char *parse_status_line(const char *p, struct sl_http_resp *resp)
{
    struct sl_http_msg *m = &resp->m;
    const char *s = p;
    int v;

    while (*p != '\r')
        p++;
    if (p[1] != '\n' || p - s < 12 || s[8] != ' ')
        return NULL;
    v = parse_version(s);
    if (v < 0 || !SL_CLS(s[9], SL_C_DIGIT) || !SL_CLS(s[10], SL_C_DIGIT) ||
        !SL_CLS(s[11], SL_C_DIGIT))
        return NULL;
    m->minor_version = v;
    resp->status = (s[9] - '0') * 100 + (s[10] - '0') * 10 + (s[11] - '0');
    if (resp->status < 100 || resp->status > 599)
        return NULL;
    if (p - s == 12) {
        resp->reason = p;
        resp->reason_len = 0;
        return p + 2;
    }
    if (s[12] != ' ')
        return NULL;
    resp->reason = s + 13;
    resp->reason_len = (size_t)(p - resp->reason);
    for (s += 13; s < p; s++)
        if (!SL_CLS(*s, SL_C_VALUE))
            return NULL;
    return p + 2;
}

int sl_http_parse_response(const char *buf, size_t len, size_t max_head, enum sl_http_method method,
                           struct sl_http_resp *resp)
{
    struct sl_http_msg *m = &resp->m;
    struct sl_http_fields f;
    const char *p;
    int hlen;
    int st;

    m->status = 0;
    m->error = NULL;
    m->nhdrs = 0;
    resp->status = 0;
    hlen = head_end(buf, len, 0, max_head, m);
    if (hlen == SL_HTTP_PARTIAL && len > 0 && memcmp(buf, "HTTP/", len < 5 ? len : 5) != 0)
        hlen = sl_http_fail(m, 502, "bad status line");
    if (hlen == SL_HTTP_PARTIAL)
        return hlen;
    if (hlen < 0)
        goto bad;
    p = parse_status_line(buf, resp);
    if (p == NULL) {
        sl_http_fail(m, 502, "bad status line");
        goto bad;
    }
    if (sl_http_parse_fields(p, false, m, &f) != 0)
        goto bad;
    st = resp->status;
    if (method == SL_METHOD_HEAD || st < 200 || st == 204 || st == 304 ||
        (method == SL_METHOD_CONNECT && st < 300))
        m->body = SL_BODY_NONE;
    else if (m->body == SL_BODY_UNTIL_CLOSE)
        m->keep_alive = false;
    return hlen;

bad:
    m->status = 502; /* whatever the reason, the client sees a bad gateway */
    return SL_HTTP_BAD;
}
