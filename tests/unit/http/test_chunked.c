/* Chunked body validator: a sample body split at every position, fed
 * byte by byte, followed by bytes of the next message; and each refusal.
 * Inputs end right before a PROT_NONE page so an over-read faults. */
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

static char *guard_end;

static int guard_setup(void **state)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    char *m = mmap(NULL, page * 5, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

    (void)state;
    if (m == MAP_FAILED || mprotect(m + page * 4, page, PROT_NONE) == -1)
        return -1;
    guard_end = m + page * 4;
    return 0;
}

static const char *place(const char *s, size_t n)
{
    memcpy(guard_end - n, s, n);
    return guard_end - n;
}

/* Feeds s[0..n) in one call placed before the guard page. */
static int feed(struct sl_chunked *c, const char *s, size_t n, size_t *used)
{
    return sl_chunked_feed(c, place(s, n), n, used);
}

static const char body[] = "5\r\nhello\r\n"
                           "1A;name=val;q=\"x y\"\r\nabcdefghijklmnopqrstuvwxyz\r\n"
                           "00b\r\n0123456789a\r\n"
                           "0;last\r\n"
                           "Trailer-One: v\r\n"
                           "X: \t \r\n"
                           "\r\n";
static const char next[] = "GET /next HTTP/1.1\r\n";

static void test_whole(void **state)
{
    char in[sizeof(body) + sizeof(next)];
    size_t n = sizeof(body) - 1;
    struct sl_chunked c;
    size_t used = 99;

    (void)state;
    memcpy(in, body, n);
    memcpy(in + n, next, sizeof(next) - 1);
    sl_chunked_init(&c);
    assert_int_equal(feed(&c, in, n + sizeof(next) - 1, &used), SL_CHUNKED_DONE);
    assert_int_equal(used, n);
    /* Done stays done and takes nothing more. */
    assert_int_equal(feed(&c, next, 3, &used), SL_CHUNKED_DONE);
    assert_int_equal(used, 0);

    sl_chunked_init(&c);
    assert_int_equal(feed(&c, body, n, &used), SL_CHUNKED_DONE);
    assert_int_equal(used, n);
}

static void test_byte_by_byte(void **state)
{
    size_t n = sizeof(body) - 1;
    struct sl_chunked c;
    size_t used;

    (void)state;
    sl_chunked_init(&c);
    for (size_t i = 0; i < n; i++) {
        int r = feed(&c, body + i, 1, &used);

        if (i + 1 < n) {
            assert_int_equal(r, SL_CHUNKED_MORE);
            assert_int_equal(used, 1);
        } else {
            assert_int_equal(r, SL_CHUNKED_DONE);
            assert_int_equal(used, 1);
        }
    }
}

/* Writes the body, then the next message's first line, at <in>; their
 * length. */
static size_t body_then_next(char *in)
{
    size_t n = sizeof(body) - 1;

    memcpy(in, body, n);
    memcpy(in + n, next, sizeof(next) - 1);
    return n + sizeof(next) - 1;
}

/* Every split point, with the next message's bytes after the body. */
static void test_two_pieces(void **state)
{
    char in[sizeof(body) + sizeof(next)];
    size_t n = sizeof(body) - 1;
    size_t total = body_then_next(in);

    (void)state;
    for (size_t cut = 0; cut <= total; cut++) {
        struct sl_chunked c;
        size_t used;
        int r;

        sl_chunked_init(&c);
        r = feed(&c, in, cut, &used);
        if (cut < n) {
            assert_int_equal(r, SL_CHUNKED_MORE);
            assert_int_equal(used, cut);
            r = feed(&c, in + cut, total - cut, &used);
            assert_int_equal(r, SL_CHUNKED_DONE);
            assert_int_equal(cut + used, n);
        } else {
            assert_int_equal(r, SL_CHUNKED_DONE);
            assert_int_equal(used, n);
        }
    }
}

static void test_large_sizes(void **state)
{
    struct sl_chunked c;
    size_t used;

    (void)state;
    sl_chunked_init(&c);
    assert_int_equal(feed(&c, "7FFFFFFFFFFFFFFF\r\nab", 20, &used), SL_CHUNKED_MORE);
    assert_true(c.remaining == (uint64_t)INT64_MAX - 2);
    /* Above INT64_MAX: a next hop with a signed 64-bit size would differ. */
    sl_chunked_init(&c);
    assert_int_equal(feed(&c, "8000000000000000\r\n", 18, &used), SL_CHUNKED_BAD);
    sl_chunked_init(&c);
    assert_int_equal(feed(&c, "FFFFFFFFFFFFFFFF\r\n", 18, &used), SL_CHUNKED_BAD);
    sl_chunked_init(&c);
    assert_int_equal(feed(&c, "10000000000000000\r\n", 19, &used), SL_CHUNKED_BAD);
    sl_chunked_init(&c);
    assert_int_equal(feed(&c, "000000000000000000000000001\r\nx\r\n0\r\n\r\n", 37, &used),
                     SL_CHUNKED_DONE);
    assert_int_equal(used, 37);
}

static void test_bad(void **state)
{
    static const char *const cases[] = {
        "\r\n",  /* no size */
        "x\r\n", /* not hex */
        " 5\r\nhello\r\n0\r\n\r\n",
        "5 \r\nhello\r\n0\r\n\r\n",
        "+5\r\nhello\r\n0\r\n\r\n",
        "0x5\r\nhello\r\n0\r\n\r\n",
        "5\nhello\r\n0\r\n\r\n",    /* bare LF after the size */
        "5\rhello\r\n0\r\n\r\n",    /* bare CR */
        "5\r\nhelloX\r\n0\r\n\r\n", /* data longer than the size */
        "5\r\nhello\n0\r\n\r\n",    /* bare LF after data */
        "5\r\nhello\r\r\n0\r\n\r\n",
        "5;a\nb\r\nhello\r\n0\r\n\r\n", /* LF in an extension */
        "5;a\x01\r\nhello\r\n0\r\n\r\n",
        ";x\r\nhello\r\n",
        "0\r\nX: a\n\r\n",       /* bare LF in a trailer */
        "0\r\n folded\r\n\r\n",  /* obs-fold in the trailers */
        "0\r\nX : a\r\n\r\n",    /* whitespace before the colon */
        "0\r\nX: a\x7f\r\n\r\n", /* DEL */
        "0\r\n\n",               /* bare LF ending the body */
        "0\r\n\rx",
        "10000000000000000\r\n", /* 2^64 */
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct sl_chunked c;
        size_t used;
        size_t n = strlen(cases[i]);
        int r = SL_CHUNKED_MORE;

        sl_chunked_init(&c);
        r = feed(&c, cases[i], n, &used);
        if (r != SL_CHUNKED_BAD)
            fail_msg("case %zu: got %d", i, r);
        /* Byte by byte must agree. */
        sl_chunked_init(&c);
        r = SL_CHUNKED_MORE;
        for (size_t k = 0; k < n && r == SL_CHUNKED_MORE; k++)
            r = feed(&c, cases[i] + k, 1, &used);
        if (r != SL_CHUNKED_BAD)
            fail_msg("case %zu bytewise: got %d", i, r);
        /* And bad stays bad. */
        assert_int_equal(feed(&c, "0\r\n\r\n", 5, &used), SL_CHUNKED_BAD);
    }
}

static void test_bounds(void **state)
{
    static char line[16384];
    struct sl_chunked c;
    size_t used;
    size_t n;

    (void)state;
    /* Extensions are bounded per size line. */
    n = (size_t)snprintf(line, sizeof(line), "1;%0*d\r\n", 4000, 0);
    sl_chunked_init(&c);
    assert_int_equal(feed(&c, line, n, &used), SL_CHUNKED_MORE);
    n = (size_t)snprintf(line, sizeof(line), "1;%0*d\r\n", 5000, 0);
    sl_chunked_init(&c);
    assert_int_equal(feed(&c, line, n, &used), SL_CHUNKED_BAD);
    /* Trailers are bounded in total. */
    sl_chunked_init(&c);
    assert_int_equal(feed(&c, "0\r\n", 3, &used), SL_CHUNKED_MORE);
    for (int i = 0; i < 1000; i++) {
        int r = feed(&c, "X-Trailer: 0123456789\r\n", 23, &used);

        if (r == SL_CHUNKED_BAD) {
            assert_true(i * 23 > 8000);
            return;
        }
        assert_int_equal(r, SL_CHUNKED_MORE);
    }
    fail_msg("unbounded trailers");
}

static const char body_data[] = "hello"
                                "abcdefghijklmnopqrstuvwxyz"
                                "0123456789a";

/* Decodes in[0..n) as reads would deliver it: <first> bytes, then pieces
 * of at most <step>, each copied to a fresh buffer. The data must come out
 * whole, and the body must end where it does. */
static void decode_split(const char *in, size_t n, size_t first, size_t step)
{
    char out[sizeof(body_data) + 16];
    size_t olen = 0, off = 0, k = first;
    struct sl_chunked c;
    int r = SL_CHUNKED_MORE;

    sl_chunked_init(&c);
    while (r == SL_CHUNKED_MORE && off < n) {
        char piece[sizeof(body) + sizeof(next)];
        size_t used, data;

        if (k > n - off)
            k = n - off;
        memcpy(piece, in + off, k);
        r = sl_chunked_decode(&c, piece, k, &used, &data);
        assert_true(used <= k);
        assert_true(data <= used);
        assert_true(olen + data < sizeof(out));
        memcpy(out + olen, piece, data);
        olen += data;
        off += used;
        k = step;
    }
    assert_int_equal(r, SL_CHUNKED_DONE);
    assert_int_equal(off, sizeof(body) - 1);
    assert_int_equal(olen, sizeof(body_data) - 1);
    assert_memory_equal(out, body_data, olen);
}

static void test_decode(void **state)
{
    char in[sizeof(body) + sizeof(next)];
    size_t n = sizeof(body) - 1;
    size_t total = body_then_next(in);

    (void)state;
    /* Whole, byte by byte, and every piece size between. */
    for (size_t step = 1; step <= total; step++)
        decode_split(in, total, step, step);
    /* Every split point into two reads (the first may be empty). */
    for (size_t cut = 0; cut <= n; cut++)
        decode_split(in, total, cut, total);
}

/* Decoding refuses exactly what validating refuses, at the same byte. */
static void test_decode_agrees(void **state)
{
    static const char *const cases[] = {
        "5\r\nhelloX\r\n0\r\n\r\n", "5\r\nhello\n0\r\n\r\n", "0\r\nX : a\r\n\r\n",
        " 5\r\nhello\r\n0\r\n\r\n", "8000000000000000\r\n",  "3\r\nabc\r\n0\r\n\r\nrest",
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char buf[64];
        size_t n = strlen(cases[i]);
        size_t used_f, used_d, data;
        struct sl_chunked c;
        int rf, rd;

        sl_chunked_init(&c);
        rf = feed(&c, cases[i], n, &used_f);
        memcpy(buf, cases[i], n);
        sl_chunked_init(&c);
        rd = sl_chunked_decode(&c, buf, n, &used_d, &data);
        assert_int_equal(rf, rd);
        assert_int_equal(used_f, used_d);
        /* Done and bad stay so, and decode nothing more. */
        assert_int_equal(sl_chunked_decode(&c, buf, n, &used_d, &data), rd);
        assert_int_equal(used_d, 0);
        assert_int_equal(data, 0);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_whole),      cmocka_unit_test(test_byte_by_byte),
        cmocka_unit_test(test_two_pieces), cmocka_unit_test(test_large_sizes),
        cmocka_unit_test(test_bad),        cmocka_unit_test(test_bounds),
        cmocka_unit_test(test_decode),     cmocka_unit_test(test_decode_agrees),
    };

    return cmocka_run_group_tests(tests, guard_setup, NULL);
}
