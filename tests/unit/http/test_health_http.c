/* The HTTP side of an active check (http/health_int.h): the request it
 * sends, and the verdict on answers fed whole and byte by byte: status
 * ranges, 1xx skipped, body substring with Content-Length, chunked and
 * close-delimited bodies, malformed and truncated answers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "http/health_int.h"

static struct sl_status_range ok_ranges[] = {{200, 299}, {404, 404}};

static struct sl_health_rt rt(const char *body)
{
    return (struct sl_health_rt){
        .kind = SLUICE_CHECK_HTTP,
        .method = "GET",
        .path = "/healthz",
        .expect = ok_ranges,
        .nexpect = 2,
        .body = (char *)body,
        .body_len = body ? strlen(body) : 0,
        .interval_ms = 1000,
        .down_interval_ms = 500,
        .timeout_ms = 300,
    };
}

/* Feeds <in> in pieces of <step> bytes (0: whole), then the end <end>;
 * returns the verdict and the reason in why[]. */
static int judge(const struct sl_health_rt *h, const char *in, size_t step, enum sl_health_end end,
                 char *why, size_t whylen)
{
    char *buf = malloc(SL_HEALTH_BUF);
    struct sl_health_http st = {0};
    size_t n = strlen(in), off = 0, len = 0;
    int r = SL_HEALTH_MORE;

    assert_non_null(buf);
    while (off < n && r == SL_HEALTH_MORE) {
        size_t k = step == 0 || n - off < step ? n - off : step;

        memcpy(buf + len, in + off, k);
        len += k;
        off += k;
        r = sl_health_http_feed(&st, h, buf, &len, SL_HEALTH_OPEN, why, whylen);
    }
    if (r == SL_HEALTH_MORE)
        r = sl_health_http_feed(&st, h, buf, &len, end, why, whylen);
    free(buf);
    return r;
}

static void test_request(void **state)
{
    struct sl_health_rt h = rt(NULL);
    char out[256];
    size_t n = sl_health_http_request(&h, "10.0.0.1:8080", out, sizeof(out));

    (void)state;
    assert_true(n > 0);
    assert_string_equal(out, "GET /healthz HTTP/1.1\r\nHost: 10.0.0.1:8080\r\n"
                             "Connection: close\r\nUser-Agent: sluice-health\r\n"
                             "Accept: */*\r\n\r\n");
    assert_int_equal(sl_health_http_request(&h, "x", out, 20), 0); /* does not fit */
}

static void test_status(void **state)
{
    struct sl_health_rt h = rt(NULL);
    char why[192];

    (void)state;
    for (size_t step = 0; step <= 3; step++) {
        assert_int_equal(judge(&h, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", step,
                               SL_HEALTH_EOF, why, sizeof(why)),
                         SLUICE_CHECK_RESULT_OK);
        assert_int_equal(
            judge(&h, "HTTP/1.1 404 Nope\r\n\r\n", step, SL_HEALTH_EOF, why, sizeof(why)),
            SLUICE_CHECK_RESULT_OK);
        assert_int_equal(judge(&h, "HTTP/1.1 500 Oops\r\nContent-Length: 2\r\n\r\nno", step,
                               SL_HEALTH_EOF, why, sizeof(why)),
                         SLUICE_CHECK_RESULT_STATUS);
        assert_string_equal(why, "http status 500 from GET /healthz");
        assert_int_equal(
            judge(&h, "HTTP/1.1 301 Moved\r\n\r\n", step, SL_HEALTH_EOF, why, sizeof(why)),
            SLUICE_CHECK_RESULT_STATUS);
    }
    /* An interim 100 is skipped; the final status decides. */
    assert_int_equal(judge(&h, "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No\r\n\r\n", 1,
                           SL_HEALTH_EOF, why, sizeof(why)),
                     SLUICE_CHECK_RESULT_OK);
}

static void test_bad(void **state)
{
    struct sl_health_rt h = rt(NULL);
    char why[192];

    (void)state;
    assert_int_equal(judge(&h, "SSH-2.0-OpenSSH\r\n\r\n", 0, SL_HEALTH_EOF, why, sizeof(why)),
                     SLUICE_CHECK_RESULT_BAD_RESPONSE);
    assert_int_equal(judge(&h, "HTTP/1.1 200 OK\r\nContent-Le", 0, SL_HEALTH_EOF, why, sizeof(why)),
                     SLUICE_CHECK_RESULT_BAD_RESPONSE);
    assert_string_equal(why, "closed before a full response head");
    assert_int_equal(judge(&h, "", 0, SL_HEALTH_EOF, why, sizeof(why)),
                     SLUICE_CHECK_RESULT_BAD_RESPONSE);
}

static void test_body(void **state)
{
    struct sl_health_rt h = rt("ok");
    char why[192];

    (void)state;
    for (size_t step = 0; step <= 2; step++) {
        assert_int_equal(judge(&h, "HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nstatus:ok", step,
                               SL_HEALTH_OPEN, why, sizeof(why)),
                         SLUICE_CHECK_RESULT_OK);
        assert_int_equal(judge(&h, "HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nstatus:no", step,
                               SL_HEALTH_OPEN, why, sizeof(why)),
                         SLUICE_CHECK_RESULT_BODY);
        assert_string_equal(why, "body lacks 'ok'");
        /* Bytes past Content-Length are not part of the body. */
        assert_int_equal(judge(&h, "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nnopok", step,
                               SL_HEALTH_EOF, why, sizeof(why)),
                         SLUICE_CHECK_RESULT_BODY);
        /* Chunked: found across chunk boundaries, framing stripped. */
        assert_int_equal(judge(&h,
                               "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                               "3\r\nabo\r\n1\r\nk\r\n0\r\n\r\n",
                               step, SL_HEALTH_OPEN, why, sizeof(why)),
                         SLUICE_CHECK_RESULT_OK);
        assert_int_equal(judge(&h,
                               "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                               "3\r\nabo\r\n0\r\n\r\n",
                               step, SL_HEALTH_OPEN, why, sizeof(why)),
                         SLUICE_CHECK_RESULT_BODY);
        /* Close-delimited: judged at the close. */
        assert_int_equal(
            judge(&h, "HTTP/1.1 200 OK\r\n\r\nnothing", step, SL_HEALTH_EOF, why, sizeof(why)),
            SLUICE_CHECK_RESULT_BODY);
        assert_int_equal(
            judge(&h, "HTTP/1.1 200 OK\r\n\r\nall ok", step, SL_HEALTH_OPEN, why, sizeof(why)),
            SLUICE_CHECK_RESULT_OK);
    }
    /* Truncated Content-Length body: closed early. */
    assert_int_equal(judge(&h, "HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nsta", 0, SL_HEALTH_EOF,
                           why, sizeof(why)),
                     SLUICE_CHECK_RESULT_BAD_RESPONSE);
    /* Bad chunk framing. */
    assert_int_equal(judge(&h, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 0,
                           SL_HEALTH_OPEN, why, sizeof(why)),
                     SLUICE_CHECK_RESULT_BAD_RESPONSE);
    /* A status outside the ranges is judged before the body. */
    assert_int_equal(judge(&h, "HTTP/1.1 503 X\r\nContent-Length: 2\r\n\r\nok", 0, SL_HEALTH_OPEN,
                           why, sizeof(why)),
                     SLUICE_CHECK_RESULT_STATUS);
}

/* A body longer than the bound is judged on what fits. */
static void test_body_bound(void **state)
{
    struct sl_health_rt h = rt("needle");
    const char *head = "HTTP/1.1 200 OK\r\n\r\n";
    size_t n = SL_HEALTH_BUF + 100;
    char *in = malloc(n + 1);
    char why[192];

    (void)state;
    assert_non_null(in);
    memset(in, 'x', n);
    memcpy(in, head, strlen(head));
    memcpy(in + n - 10, "needle", 6); /* past the bound */
    in[n] = '\0';
    {
        char *buf = malloc(SL_HEALTH_BUF);
        struct sl_health_http st = {0};
        size_t len = SL_HEALTH_BUF;
        int r;

        memcpy(buf, in, len);
        /* Judged as soon as the window is full, without waiting for more. */
        r = sl_health_http_feed(&st, &h, buf, &len, SL_HEALTH_OPEN, why, sizeof(why));
        assert_int_equal(r, SLUICE_CHECK_RESULT_BODY);
        free(buf);
    }
    free(in);
}

/* A body of <n> bytes of 'x' with "alive" at <at>, after a head with the
 * given framing ("length", "chunked" in 4 KiB chunks, or "close"). */
static char *big_answer(const char *framing, size_t n, size_t at)
{
    char *out = malloc(n + n / 4096 * 16 + 256);
    size_t len = 0;

    assert_non_null(out);
    if (strcmp(framing, "length") == 0)
        len = (size_t)sprintf(out, "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\n\r\n", n);
    else if (strcmp(framing, "chunked") == 0)
        len = (size_t)sprintf(out, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
    else
        len = (size_t)sprintf(out, "HTTP/1.1 200 OK\r\n\r\n");
    for (size_t off = 0; off < n;) {
        size_t k = n - off < 4096 ? n - off : 4096;

        if (strcmp(framing, "chunked") == 0)
            len += (size_t)sprintf(out + len, "%zx\r\n", k);
        for (size_t i = 0; i < k; i++)
            out[len + i] = off + i >= at && off + i < at + 5 ? "alive"[off + i - at] : 'x';
        len += k;
        off += k;
        if (strcmp(framing, "chunked") == 0)
            len += (size_t)sprintf(out + len, "\r\n");
    }
    if (strcmp(framing, "chunked") == 0)
        len += (size_t)sprintf(out + len, "0\r\n\r\n");
    out[len] = '\0';
    return out;
}

/* The body is judged on its first 64 KiB exactly (configuration.md): a
 * substring inside them is found, one past or across their end is not,
 * even when the buffer (head bound + body bound) would hold it. */
static void test_body_window(void **state)
{
    static const char *framings[] = {"length", "chunked", "close"};
    struct sl_health_rt h = rt("alive");
    char why[192];

    (void)state;
    assert_int_equal(SL_HEALTH_MAX_BODY, 65536);
    for (size_t f = 0; f < 3; f++) {
        const struct {
            size_t n, at;
            int want;
        } cases[] = {
            {70005, 70000, SLUICE_CHECK_RESULT_BODY}, /* the tester's big_tail */
            {70005, 65534, SLUICE_CHECK_RESULT_BODY}, /* straddles the end */
            {70005, 65531, SLUICE_CHECK_RESULT_OK},   /* the window's last 5 bytes */
            {65536, 65531, SLUICE_CHECK_RESULT_OK},   /* exactly 64 KiB */
            {70005, 10, SLUICE_CHECK_RESULT_OK},
        };

        for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
            char *in = big_answer(framings[f], cases[c].n, cases[c].at);

            for (size_t step = 0; step <= 4096; step += 4096) {
                int r = judge(&h, in, step, SL_HEALTH_EOF, why, sizeof(why));

                if (r != cases[c].want)
                    fail_msg("%s body %zu, alive at %zu, step %zu: %d (%s), want %d", framings[f],
                             cases[c].n, cases[c].at, step, r, why, cases[c].want);
            }
            free(in);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_request),    cmocka_unit_test(test_status),
        cmocka_unit_test(test_bad),        cmocka_unit_test(test_body),
        cmocka_unit_test(test_body_bound), cmocka_unit_test(test_body_window),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
