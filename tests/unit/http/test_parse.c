/* HTTP head parser: accepted forms, every refusal with its status,
 * response framing, limits, incremental feeding. Every input is copied to
 * the end of a page followed by a PROT_NONE page, so reading one byte past
 * it faults instead of passing quietly. */
#include <sys/mman.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "http/parse.h"

#define GUARD_PAGES 32 /* readable pages before the PROT_NONE one */
#define MAX_HEAD    8192

static char *guard_end; /* first byte of the PROT_NONE page */
static struct sl_http_req req;
static struct sl_http_resp resp;

static int guard_setup(void **state)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    char *m = mmap(NULL, page * (GUARD_PAGES + 1), PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

    (void)state;
    if (m == MAP_FAILED)
        return -1;
    if (mprotect(m + page * GUARD_PAGES, page, PROT_NONE) == -1)
        return -1;
    guard_end = m + page * GUARD_PAGES;
    return 0;
}

/* Copies s[0..n) so that it ends right before the guard page. */
static const char *place(const char *s, size_t n)
{
    assert_true(n <= (size_t)(GUARD_PAGES - 1) * 4096);
    memcpy(guard_end - n, s, n);
    return guard_end - n;
}

static int req_parse(const char *s, size_t n, size_t max_head)
{
    return sl_http_parse_request(place(s, n), n, max_head, &req);
}

static int resp_parse(const char *s, size_t n, enum sl_http_method method)
{
    return sl_http_parse_response(place(s, n), n, MAX_HEAD, method, &resp);
}

static void assert_span(const char *p, size_t n, const char *want)
{
    if (want == NULL) {
        assert_null(p);
        return;
    }
    assert_non_null(p);
    assert_int_equal(n, strlen(want));
    assert_memory_equal(p, want, n);
}

/* ---- accepted requests ---- */

struct req_ok {
    const char *in;
    enum sl_http_method method;
    const char *path;
    const char *query;
    const char *host;
    int minor;
    enum sl_http_body body;
    uint64_t cl;
    bool keep_alive;
    unsigned flags; /* UPG, EXP */
};

#define UPG 1u /* upgrade */
#define EXP 2u /* expect_continue */

static const struct req_ok req_ok[] = {
    {"GET / HTTP/1.1\r\nHost: a\r\n\r\n", SL_METHOD_GET, "/", "", "a", 1, SL_BODY_NONE, 0, true, 0},
    {"GET /p/q?x=1&y HTTP/1.1\r\nHost: example.com:8080\r\nAccept: */*\r\n\r\n", SL_METHOD_GET,
     "/p/q", "?x=1&y", "example.com:8080", 1, SL_BODY_NONE, 0, true, 0},
    {"\r\n\r\nHEAD /x HTTP/1.1\r\nhOsT:  10.0.0.1 \t\r\n\r\n", SL_METHOD_HEAD, "/x", "", "10.0.0.1",
     1, SL_BODY_NONE, 0, true, 0},
    {"GET / HTTP/1.0\r\n\r\n", SL_METHOD_GET, "/", "", NULL, 0, SL_BODY_NONE, 0, false, 0},
    {"GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", SL_METHOD_GET, "/", "", NULL, 0,
     SL_BODY_NONE, 0, true, 0},
    {"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", SL_METHOD_GET, "/", "", "a", 1,
     SL_BODY_NONE, 0, false, 0},
    {"POST /u HTTP/1.1\r\nHost: [::1]:80\r\nContent-Length: 5\r\n\r\n", SL_METHOD_POST, "/u", "",
     "[::1]:80", 1, SL_BODY_LENGTH, 5, true, 0},
    {"PUT /u HTTP/1.1\r\nHost: a\r\nContent-Length: 5, 5\r\ncontent-length: 5\r\n\r\n",
     SL_METHOD_PUT, "/u", "", "a", 1, SL_BODY_LENGTH, 5, true, 0},
    {"POST /u HTTP/1.1\r\nHost: a\r\nContent-Length: 9223372036854775807\r\n\r\n", SL_METHOD_POST,
     "/u", "", "a", 1, SL_BODY_LENGTH, INT64_MAX, true, 0},
    {"POST /u HTTP/1.1\r\nHost: a\r\nContent-Length: 00009223372036854775807\r\n\r\n",
     SL_METHOD_POST, "/u", "", "a", 1, SL_BODY_LENGTH, INT64_MAX, true, 0},
    {"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: CHUNKED\r\n\r\n", SL_METHOD_POST, "/", "",
     "a", 1, SL_BODY_CHUNKED, 0, true, 0},
    {"POST / HTTP/1.1\r\nHost: a\r\nExpect: 100-Continue\r\nContent-Length: 0\r\n\r\n",
     SL_METHOD_POST, "/", "", "a", 1, SL_BODY_LENGTH, 0, true, EXP},
    {"POST / HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\n", SL_METHOD_POST, "/",
     "", NULL, 0, SL_BODY_LENGTH, 1, false, 0},
    {"GET http://Ex.com:81/a/b?c HTTP/1.1\r\nHost: other\r\n\r\n", SL_METHOD_GET, "/a/b", "?c",
     "Ex.com:81", 1, SL_BODY_NONE, 0, true, 0},
    {"GET HTTPS://ex.com HTTP/1.1\r\nHost: ex.com\r\n\r\n", SL_METHOD_GET, "/", "", "ex.com", 1,
     SL_BODY_NONE, 0, true, 0},
    {"GET http://ex.com?q HTTP/1.1\r\nHost: ex.com\r\n\r\n", SL_METHOD_GET, "/", "?q", "ex.com", 1,
     SL_BODY_NONE, 0, true, 0},
    {"CONNECT ex.com:443 HTTP/1.1\r\nHost: ex.com:443\r\n\r\n", SL_METHOD_CONNECT, "", "",
     "ex.com:443", 1, SL_BODY_NONE, 0, true, 0},
    {"OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n", SL_METHOD_OPTIONS, "*", "", "a", 1, SL_BODY_NONE, 0,
     true, 0},
    {"BREW /pot HTTP/1.1\r\nHost: a\r\nX: \r\nY:\r\nZ: a\x80\xff\tb\r\n\r\n", SL_METHOD_OTHER,
     "/pot", "", "a", 1, SL_BODY_NONE, 0, true, 0},
    {"GET /ws HTTP/1.1\r\nHost: a\r\nConnection: keep-alive, Upgrade\r\nUpgrade: websocket\r\n\r\n",
     SL_METHOD_GET, "/ws", "", "a", 1, SL_BODY_NONE, 0, true, UPG},
    {"GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\n\r\n", SL_METHOD_GET, "/", "", "a", 1,
     SL_BODY_NONE, 0, true, 0},
    {"DELETE / HTTP/1.1\r\nHost: xn--bcher-kva.example_1~!$&'()*+,;=%41\r\n\r\n", SL_METHOD_DELETE,
     "/", "", "xn--bcher-kva.example_1~!$&'()*+,;=%41", 1, SL_BODY_NONE, 0, true, 0},
};

static void test_request_ok(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(req_ok) / sizeof(req_ok[0]); i++) {
        const struct req_ok *t = &req_ok[i];
        size_t n = strlen(t->in);
        int r = req_parse(t->in, n, MAX_HEAD);

        if (r != (int)n)
            fail_msg("case %zu: got %d (%d %s)", i, r, req.m.status, req.m.error);
        assert_int_equal(req.method_id, t->method);
        assert_span(req.path, req.path_len, t->path);
        assert_span(req.query, req.query_len, t->query);
        assert_span(req.host, req.host_len, t->host);
        assert_int_equal(req.m.minor_version, t->minor);
        assert_int_equal(req.m.body, t->body);
        if (t->body == SL_BODY_LENGTH)
            assert_true(req.m.content_length == t->cl);
        assert_int_equal(req.m.keep_alive, t->keep_alive);
        assert_int_equal(req.m.upgrade, (t->flags & UPG) != 0);
        assert_int_equal(req.expect_continue, (t->flags & EXP) != 0);
        /* Every strict prefix is incomplete, never an error. */
        for (size_t k = 0; k < n; k++) {
            r = req_parse(t->in, k, MAX_HEAD);
            if (r != SL_HTTP_PARTIAL)
                fail_msg("case %zu prefix %zu: got %d (%s)", i, k, r, req.m.error);
        }
    }
}

static void test_request_fields(void **state)
{
    static const char in[] = "GET /a HTTP/1.1\r\n"
                             "Host: h\r\n"
                             "Connection: Keep-Alive, X-Secret, content-length, host\r\n"
                             "x-secret: 1\r\n"
                             "X-Forwarded-For: 1.2.3.4\r\n"
                             "x-forwarded-proto: http\r\n"
                             "X-Forwarded-Host: h\r\n"
                             "Keep-Alive: 5\r\nProxy-Connection: x\r\nTE: trailers\r\n"
                             "Trailer: X\r\nUpgrade: h2c\r\n"
                             "Content-Length: 0\r\n"
                             "Accept: text/html  \r\n\r\n";
    static const struct {
        const char *name;
        uint16_t flags;
        const char *value;
    } want[] = {
        {"Host", SL_HDR_HOST, "h"},
        {"Connection", SL_HDR_HOP, "Keep-Alive, X-Secret, content-length, host"},
        {"x-secret", SL_HDR_HOP, "1"},
        {"X-Forwarded-For", SL_HDR_XFF, "1.2.3.4"},
        {"x-forwarded-proto", SL_HDR_XFF, "http"},
        {"X-Forwarded-Host", SL_HDR_XFF, "h"},
        {"Keep-Alive", SL_HDR_HOP, "5"},
        {"Proxy-Connection", SL_HDR_HOP, "x"},
        {"TE", SL_HDR_HOP, "trailers"},
        {"Trailer", SL_HDR_HOP, "X"},
        {"Upgrade", SL_HDR_HOP, "h2c"},
        {"Content-Length", 0, "0"},
        {"Accept", 0, "text/html"},
    };
    const struct sl_http_hdr *h;

    (void)state;
    assert_int_equal(req_parse(in, sizeof(in) - 1, MAX_HEAD), sizeof(in) - 1);
    assert_int_equal(req.m.nhdrs, sizeof(want) / sizeof(want[0]));
    for (size_t i = 0; i < req.m.nhdrs; i++) {
        assert_span(req.m.hdrs[i].name, req.m.hdrs[i].name_len, want[i].name);
        assert_span(req.m.hdrs[i].value, req.m.hdrs[i].value_len, want[i].value);
        assert_int_equal(req.m.hdrs[i].flags, want[i].flags);
    }
    assert_false(req.m.upgrade); /* Upgrade without Connection: upgrade */
    h = sl_http_find(&req.m, "ACCEPT", 6);
    assert_non_null(h);
    assert_span(h->value, h->value_len, "text/html");
    assert_null(sl_http_find(&req.m, "Accep", 5));
    assert_null(sl_http_find(&req.m, "Cookie", 6));
}

/* ---- refused requests ---- */

struct req_bad {
    const char *in;
    int status;
};

#define H11 " / HTTP/1.1\r\nHost: a\r\n"

static const struct req_bad req_bad[] = {
    /* request line */
    {"GET  / HTTP/1.1\r\nHost: a\r\n\r\n", 400},
    {"GET /  HTTP/1.1\r\nHost: a\r\n\r\n", 400},
    {"GET / HTTP/1.1 \r\nHost: a\r\n\r\n", 400},
    {" GET / HTTP/1.1\r\nHost: a\r\n\r\n", 400},
    {"GET\t/ HTTP/1.1\r\nHost: a\r\n\r\n", 400},
    {"G(T / HTTP/1.1\r\nHost: a\r\n\r\n", 400},
    {"GET /\x7f HTTP/1.1\r\nHost: a\r\n\r\n", 400},
    {"GET /\x01 HTTP/1.1\r\nHost: a\r\n\r\n", 400},
    {"GET /a#frag HTTP/1.1\r\nHost: a\r\n\r\n", 400},
    {"GET /\xc3\xa9 HTTP/1.1\r\nHost: a\r\n\r\n", 400},
    {"GET /\r\n\r\n", 400},
    {"GET / http/1.1\r\nHost: a\r\n\r\n", 400},
    {"GET / HTTP/1.10\r\nHost: a\r\n\r\n", 400},
    {"GET / HTTP/1.2\r\nHost: a\r\n\r\n", 505},
    {"GET / HTTP/2.0\r\nHost: a\r\n\r\n", 505},
    {"GET / HTTP/0.9\r\nHost: a\r\n\r\n", 505},
    /* target forms */
    {"GET a.com:80 HTTP/1.1\r\nHost: a\r\n\r\n", 400},
    {"GET * HTTP/1.1\r\nHost: a\r\n\r\n", 400},
    {"OPTIONS *x HTTP/1.1\r\nHost: a\r\n\r\n", 400},
    {"CONNECT / HTTP/1.1\r\nHost: a\r\n\r\n", 400},
    {"CONNECT a.com HTTP/1.1\r\nHost: a\r\n\r\n", 400},
    {"CONNECT a.com:99999 HTTP/1.1\r\nHost: a\r\n\r\n", 400},
    {"GET ftp://a/ HTTP/1.1\r\nHost: a\r\n\r\n", 400},
    {"GET http:///x HTTP/1.1\r\nHost: a\r\n\r\n", 400},
    {"GET http://u@a/x HTTP/1.1\r\nHost: a\r\n\r\n", 400},
    /* line endings */
    {"GET / HTTP/1.1\nHost: a\r\n\r\n", 400},
    {"GET / HTTP/1.1\r\nHost: a\n\r\n", 400},
    {"GET / HTTP/1.1\r\nHost: a\r\n\n", 400},
    {"GET / HTTP/1.1\rHost: a\r\n\r\n", 400},
    {"GET / HTTP/1.1\r\nHost: a\rX: b\r\n\r\n", 400},
    {"GET / HTTP/1.1\r\nHost: a\r\n\r\r\n\r\n", 400},
    {"\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", 400},
    /* field syntax */
    {"GET" H11 "X : b\r\n\r\n", 400},
    {"GET" H11 "X\t: b\r\n\r\n", 400},
    {"GET" H11 ": b\r\n\r\n", 400},
    {"GET" H11 "X(y): b\r\n\r\n", 400},
    {"GET" H11 "X b\r\n\r\n", 400},
    {"GET" H11 "X: a\r\n b\r\n\r\n", 400},
    {"GET" H11 "X: a\r\n\tb\r\n\r\n", 400},
    {"GET / HTTP/1.1\r\n Host: a\r\n\r\n", 400},
    {"GET" H11 "X: a\x01z\r\n\r\n", 400},
    {"GET" H11 "X: a\x7fz\r\n\r\n", 400},
    {"GET" H11 "X: a\x1b\r\n\r\n", 400},
    /* Host */
    {"GET / HTTP/1.1\r\n\r\n", 400},
    {"GET / HTTP/1.1\r\nX-Host: a\r\n\r\n", 400},
    {"GET" H11 "Host: b\r\n\r\n", 400},
    {"GET" H11 "HOST: a\r\n\r\n", 400},
    {"GET / HTTP/1.1\r\nHost:\r\n\r\n", 400},
    {"GET / HTTP/1.1\r\nHost: a b\r\n\r\n", 400},
    {"GET / HTTP/1.1\r\nHost: u@a\r\n\r\n", 400},
    {"GET / HTTP/1.1\r\nHost: a:\r\n\r\n", 400},
    {"GET / HTTP/1.1\r\nHost: a:8x\r\n\r\n", 400},
    {"GET / HTTP/1.1\r\nHost: a:123456\r\n\r\n", 400},
    {"GET / HTTP/1.1\r\nHost: a:65536\r\n\r\n", 400},
    {"GET / HTTP/1.1\r\nHost: :80\r\n\r\n", 400},
    {"GET / HTTP/1.1\r\nHost: [::1\r\n\r\n", 400},
    {"GET / HTTP/1.1\r\nHost: [zz::1]\r\n\r\n", 400},
    {"GET / HTTP/1.1\r\nHost: a/b\r\n\r\n", 400},
    {"GET / HTTP/1.1\r\nHost: a%4\r\n\r\n", 400},
    {"GET / HTTP/1.0\r\nHost: a b\r\n\r\n", 400},
    /* Content-Length */
    {"POST" H11 "Content-Length: -1\r\n\r\n", 400},
    {"POST" H11 "Content-Length: +1\r\n\r\n", 400},
    {"POST" H11 "Content-Length: 1 2\r\n\r\n", 400},
    {"POST" H11 "Content-Length: 0x10\r\n\r\n", 400},
    {"POST" H11 "Content-Length:\r\n\r\n", 400},
    {"POST" H11 "Content-Length: 5, 6\r\n\r\n", 400},
    {"POST" H11 "Content-Length: 5,\r\n\r\n", 400},
    {"POST" H11 "Content-Length: 5,,5\r\n\r\n", 400},
    {"POST" H11 "Content-Length: 5\r\nContent-Length: 6\r\n\r\n", 400},
    {"POST" H11 "Content-Length: 18446744073709551616\r\n\r\n", 400},
    {"POST" H11 "Content-Length: 18446744073709551615\r\n\r\n", 400},
    {"POST" H11 "Content-Length: 9223372036854775808\r\n\r\n", 400}, /* > INT64_MAX */
    {"POST" H11 "Content-Length: 018446744073709551616\r\n\r\n", 400},
    {"POST" H11 "Content-Length: 99999999999999999999999\r\n\r\n", 400},
    /* Transfer-Encoding */
    {"POST" H11 "Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n", 400},
    {"POST" H11 "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n", 400},
    {"POST" H11 "Transfer-Encoding: chunked, gzip\r\n\r\n", 400},
    {"POST" H11 "Transfer-Encoding: chunked, chunked\r\n\r\n", 400},
    {"POST" H11 "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n", 400},
    {"POST" H11 "Transfer-Encoding: gzip\r\n\r\n", 400},
    /* chunked last, but a coding the proxy would have to drop to re-frame */
    {"POST" H11 "Transfer-Encoding: gzip, CHUNKED\r\n\r\n", 501},
    {"POST" H11 "Transfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n", 501},
    {"POST" H11 "Transfer-Encoding:\r\n\r\n", 400},
    {"POST" H11 "Transfer-Encoding: chunked\r\nTransfer-Encoding: ,\r\n\r\n", 400},
    {"POST" H11 "Transfer-Encoding: chunked;x=1\r\n\r\n", 400},
    {"POST" H11 "Transfer-Encoding: \"chunked\"\r\n\r\n", 400},
    {"POST" H11 "Transfer-Encoding: xchunked\r\n\r\n", 501},
    {"POST" H11 "Transfer-Encoding: br, chunked\r\n\r\n", 501},
    {"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", 400},
    /* Connection */
    {"GET" H11 "Connection: close;x\r\n\r\n", 400},
    {"GET" H11 "Connection: a,b,c,d,e,f,g,h,i,j,k,l,m,n,o,p,q\r\n\r\n", 400},
};

static void test_request_bad(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(req_bad) / sizeof(req_bad[0]); i++) {
        const struct req_bad *t = &req_bad[i];
        int r = req_parse(t->in, strlen(t->in), MAX_HEAD);

        if (r != SL_HTTP_BAD || req.m.status != t->status)
            fail_msg("case %zu (%s): got %d status %d, want %d", i, t->in, r, req.m.status,
                     t->status);
        assert_non_null(req.m.error);
    }
}

static void test_request_early_refusal(void **state)
{
    (void)state;
    /* Garbage is refused before the head is complete. */
    assert_int_equal(req_parse("\x16\x03\x01", 3, MAX_HEAD), SL_HTTP_BAD);
    assert_int_equal(req.m.status, 400);
    assert_int_equal(req_parse("GET / HTTP/1.1\n", 15, MAX_HEAD), SL_HTTP_BAD);
    assert_int_equal(req_parse("GET", 3, MAX_HEAD), SL_HTTP_PARTIAL);
    assert_int_equal(req_parse("\r\n", 2, MAX_HEAD), SL_HTTP_PARTIAL);
    assert_int_equal(req_parse("\r", 1, MAX_HEAD), SL_HTTP_PARTIAL);
}

/* ---- limits ---- */

static char big[GUARD_PAGES * 4096];

static void test_limits(void **state)
{
    size_t n;
    int r;

    (void)state;
    /* A request line over the limit: 414, even while incomplete. */
    n = (size_t)snprintf(big, sizeof(big), "GET /%0*d HTTP/1.1\r\nHost: a\r\n\r\n", 200, 0);
    assert_int_equal(req_parse(big, n, n), (int)n);
    assert_int_equal(req_parse(big, n, 100), SL_HTTP_BAD);
    assert_int_equal(req.m.status, 414);
    assert_int_equal(req_parse(big, 150, 100), SL_HTTP_BAD);
    assert_int_equal(req.m.status, 414);
    assert_int_equal(req_parse(big, 100, 100), SL_HTTP_PARTIAL);
    assert_int_equal(req_parse(big, n, n - 1), SL_HTTP_BAD);
    assert_int_equal(req.m.status, 431);

    /* Fields over the limit: 431 as soon as the buffer passes it. */
    n = (size_t)snprintf(big, sizeof(big), "GET / HTTP/1.1\r\nHost: a\r\nX: %0*d\r\n\r\n", 300, 0);
    assert_int_equal(req_parse(big, n, 1000), (int)n);
    assert_int_equal(req_parse(big, n - 2, 200), SL_HTTP_BAD);
    assert_int_equal(req.m.status, 431);
    assert_int_equal(req_parse(big, n, n), (int)n);

    /* SL_HTTP_MAX_HDRS fields pass, one more is 431. */
    n = (size_t)snprintf(big, sizeof(big), "GET / HTTP/1.1\r\nHost: a\r\n");
    for (int i = 1; i < SL_HTTP_MAX_HDRS; i++)
        n += (size_t)snprintf(big + n, sizeof(big) - n, "X-%d: v\r\n", i);
    memcpy(big + n, "\r\n", 2);
    r = req_parse(big, n + 2, sizeof(big));
    assert_int_equal(r, (int)n + 2);
    assert_int_equal(req.m.nhdrs, SL_HTTP_MAX_HDRS);
    n += (size_t)snprintf(big + n, sizeof(big) - n, "X-last: v\r\n\r\n");
    assert_int_equal(req_parse(big, n, sizeof(big)), SL_HTTP_BAD);
    assert_int_equal(req.m.status, 431);
}

/* Two pipelined requests: the head length stops at the first. */
static void test_pipelined(void **state)
{
    static const char in[] = "GET /1 HTTP/1.1\r\nHost: a\r\n\r\nGET /2 HTTP/1.1\r\nHost: a\r\n\r\n";
    int r;

    (void)state;
    r = req_parse(in, sizeof(in) - 1, MAX_HEAD);
    assert_int_equal(r, 28);
    assert_span(req.path, req.path_len, "/1");
}

/* ---- responses ---- */

struct resp_case {
    const char *in;
    enum sl_http_method method;
    int status; /* 0: refused with 502 */
    enum sl_http_body body;
    uint64_t cl;
    bool keep_alive;
};

static const struct resp_case resp_cases[] = {
    {"HTTP/1.1 200 OK\r\nContent-Length: 12\r\n\r\n", SL_METHOD_GET, 200, SL_BODY_LENGTH, 12, true},
    {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", SL_METHOD_GET, 200, SL_BODY_CHUNKED,
     0, true},
    {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\n", SL_METHOD_GET, 200,
     SL_BODY_UNTIL_CLOSE, 0, false},
    {"HTTP/1.1 200 OK\r\nTransfer-Encoding: br\r\n\r\n", SL_METHOD_GET, 200, SL_BODY_UNTIL_CLOSE, 0,
     false},
    {"HTTP/1.1 200 OK\r\nTransfer-Encoding: br, chunked\r\n\r\n", SL_METHOD_GET, 200,
     SL_BODY_CHUNKED, 0, true},
    {"HTTP/1.1 200 OK\r\nServer: x\r\n\r\n", SL_METHOD_GET, 200, SL_BODY_UNTIL_CLOSE, 0, false},
    {"HTTP/1.1 200 OK\r\nContent-Length: 12\r\n\r\n", SL_METHOD_HEAD, 200, SL_BODY_NONE, 0, true},
    {"HTTP/1.1 204 No Content\r\n\r\n", SL_METHOD_GET, 204, SL_BODY_NONE, 0, true},
    {"HTTP/1.1 304 Not Modified\r\nContent-Length: 99\r\n\r\n", SL_METHOD_GET, 304, SL_BODY_NONE, 0,
     true},
    {"HTTP/1.1 100 Continue\r\n\r\n", SL_METHOD_POST, 100, SL_BODY_NONE, 0, true},
    {"HTTP/1.1 101 Switching Protocols\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\r\n",
     SL_METHOD_GET, 101, SL_BODY_NONE, 0, true},
    {"HTTP/1.1 200 Connection established\r\n\r\n", SL_METHOD_CONNECT, 200, SL_BODY_NONE, 0, true},
    {"HTTP/1.1 407 Auth\r\nContent-Length: 3\r\n\r\n", SL_METHOD_CONNECT, 407, SL_BODY_LENGTH, 3,
     true},
    {"HTTP/1.1 500 Oops\r\nContent-Length: 0\r\nConnection: close\r\n\r\n", SL_METHOD_GET, 500,
     SL_BODY_LENGTH, 0, false},
    {"HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\n", SL_METHOD_GET, 200, SL_BODY_LENGTH, 1, false},
    {"HTTP/1.0 200 OK\r\nContent-Length: 1\r\nConnection: keep-alive\r\n\r\n", SL_METHOD_GET, 200,
     SL_BODY_LENGTH, 1, true},
    {"HTTP/1.1 200\r\nContent-Length: 1\r\n\r\n", SL_METHOD_GET, 200, SL_BODY_LENGTH, 1, true},
    {"HTTP/1.1 599 \r\nContent-Length: 1\r\n\r\n", SL_METHOD_GET, 599, SL_BODY_LENGTH, 1, true},
    /* refused */
    {"HTTP/1.1 99 Low\r\n\r\n", SL_METHOD_GET, 0, SL_BODY_NONE, 0, false},
    {"HTTP/1.1 600 High\r\n\r\n", SL_METHOD_GET, 0, SL_BODY_NONE, 0, false},
    {"HTTP/1.1 2000 OK\r\n\r\n", SL_METHOD_GET, 0, SL_BODY_NONE, 0, false},
    {"HTTP/1.1 20 OK\r\n\r\n", SL_METHOD_GET, 0, SL_BODY_NONE, 0, false},
    {"HTTP/1.1  200 OK\r\n\r\n", SL_METHOD_GET, 0, SL_BODY_NONE, 0, false},
    {"HTTP/2 200 OK\r\n\r\n", SL_METHOD_GET, 0, SL_BODY_NONE, 0, false},
    {"HTTP/1.2 200 OK\r\n\r\n", SL_METHOD_GET, 0, SL_BODY_NONE, 0, false},
    {"ICY 200 OK\r\n\r\n", SL_METHOD_GET, 0, SL_BODY_NONE, 0, false},
    {"HTTP/1.1 200 O\x01K\r\n\r\n", SL_METHOD_GET, 0, SL_BODY_NONE, 0, false},
    {"HTTP/1.1 200 OK\nContent-Length: 1\r\n\r\n", SL_METHOD_GET, 0, SL_BODY_NONE, 0, false},
    {"HTTP/1.1 200 OK\r\nContent-Length: 1, 2\r\n\r\n", SL_METHOD_GET, 0, SL_BODY_NONE, 0, false},
    {"HTTP/1.1 200 OK\r\nContent-Length: 9223372036854775808\r\n\r\n", SL_METHOD_GET, 0,
     SL_BODY_NONE, 0, false},
    {"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n", SL_METHOD_GET, 0,
     SL_BODY_NONE, 0, false},
    {"HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", SL_METHOD_GET, 0, SL_BODY_NONE, 0,
     false},
    {"HTTP/1.1 200 OK\r\nX: a\r\n folded\r\n\r\n", SL_METHOD_GET, 0, SL_BODY_NONE, 0, false},
    {"HTTP/1.1 200 OK\r\nX : a\r\n\r\n", SL_METHOD_GET, 0, SL_BODY_NONE, 0, false},
    {"\r\nHTTP/1.1 200 OK\r\n\r\n", SL_METHOD_GET, 0, SL_BODY_NONE, 0, false},
};

static void test_responses(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(resp_cases) / sizeof(resp_cases[0]); i++) {
        const struct resp_case *t = &resp_cases[i];
        size_t n = strlen(t->in);
        int r = resp_parse(t->in, n, t->method);

        if (t->status == 0) {
            if (r != SL_HTTP_BAD || resp.m.status != 502)
                fail_msg("case %zu (%s): got %d status %d", i, t->in, r, resp.m.status);
            continue;
        }
        if (r != (int)n)
            fail_msg("case %zu: got %d (%s)", i, r, resp.m.error);
        assert_int_equal(resp.status, t->status);
        assert_int_equal(resp.m.body, t->body);
        if (t->body == SL_BODY_LENGTH)
            assert_true(resp.m.content_length == t->cl);
        assert_int_equal(resp.m.keep_alive, t->keep_alive);
        for (size_t k = 0; k < n; k++)
            assert_int_equal(resp_parse(t->in, k, t->method), SL_HTTP_PARTIAL);
    }
    assert_int_equal(resp_parse("HTTP/1.1 404 Not Found\r\nServer: x\r\n\r\n", 37, SL_METHOD_GET),
                     37);
    assert_span(resp.reason, resp.reason_len, "Not Found");
    assert_int_equal(resp_parse(resp_cases[10].in, strlen(resp_cases[10].in), SL_METHOD_GET),
                     (int)strlen(resp_cases[10].in));
    assert_true(resp.m.upgrade);
    assert_int_equal(resp_parse("HTTX", 4, SL_METHOD_GET), SL_HTTP_BAD);
    assert_int_equal(resp.m.status, 502);
}

static void test_authority(void **state)
{
    static const struct {
        const char *s;
        bool any;  /* valid without a port requirement */
        bool port; /* valid when a port is required */
    } cases[] = {
        {"a", true, false},
        {"a:1", true, true},
        {"1.2.3.4:65535", true, true},
        {"[::1]", true, false},
        {"[2001:db8::1]:443", true, true},
        {"[::1]x", false, false},
        {"[]", false, false},
        {"[1:2]", false, false}, /* an IPv6 address has two colons at least */
        {"a:0", true, true},
        {"a:", false, false},
        {"", false, false},
        {"a:1:2", false, false},
        {"%zz", false, false},
        {"%2e", true, false},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        size_t n = strlen(cases[i].s);
        const char *p = place(cases[i].s, n);

        if (sl_http_authority_valid(p, n, false) != cases[i].any ||
            sl_http_authority_valid(p, n, true) != cases[i].port)
            fail_msg("case %zu (%s)", i, cases[i].s);
    }
}

/* A coding besides chunked is part of what the client must decode: the
 * Transfer-Encoding field is forwarded as is, not re-framed. */
static void test_response_te_passthrough(void **state)
{
    static const char plain[] = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
    static const char br[] = "HTTP/1.1 200 OK\r\nTransfer-Encoding: br, chunked\r\n\r\n";
    (void)state;

    assert_true(resp_parse(plain, sizeof(plain) - 1, SL_METHOD_GET) > 0);
    assert_false(resp.m.te_passthrough);
    assert_true(resp.m.hdrs[0].flags & SL_HDR_HOP);
    assert_true(resp_parse(br, sizeof(br) - 1, SL_METHOD_GET) > 0);
    assert_true(resp.m.te_passthrough);
    assert_int_equal(resp.m.body, SL_BODY_CHUNKED);
    assert_false(resp.m.hdrs[0].flags & SL_HDR_HOP);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_request_ok),
        cmocka_unit_test(test_request_fields),
        cmocka_unit_test(test_request_bad),
        cmocka_unit_test(test_request_early_refusal),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_pipelined),
        cmocka_unit_test(test_responses),
        cmocka_unit_test(test_authority),
        cmocka_unit_test(test_response_te_passthrough),
    };

    return cmocka_run_group_tests(tests, guard_setup, NULL);
}
