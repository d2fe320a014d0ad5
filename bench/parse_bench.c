/* Parser speed: ns per parse of typical heads and of a 64 KiB chunked
 * body, next to an anchor measured in the same run on the same bytes
 * (memchr for a byte that is not there: the cost of touching them once),
 * so figures from different machines compare through the ratio.
 *
 *   parse_bench [ROUNDS]   (default 5; about 1 s per case and round count)
 *
 * Each figure is the best of ROUNDS rounds of ~0.1 s each. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "http/parse.h"

static const char get_wrk[] = "GET /index.html HTTP/1.1\r\n"
                              "Host: 127.0.0.1:8080\r\n"
                              "User-Agent: wrk/4.2.0\r\n"
                              "Accept: */*\r\n"
                              "Accept-Encoding: gzip\r\n"
                              "Connection: keep-alive\r\n"
                              "\r\n";

static const char get_browser[] =
    "GET /wp-content/uploads/2010/03/hello-kitty-darth-vader-pink.jpg?ver=2 HTTP/1.1\r\n"
    "Host: www.kittyhell.com\r\n"
    "User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0\r\n"
    "Accept: image/avif,image/webp,*/*\r\n"
    "Accept-Language: en-US,en;q=0.5\r\n"
    "Accept-Encoding: gzip, deflate, br\r\n"
    "Referer: https://www.kittyhell.com/2010/03/05/hello-kitty-darth-vader/\r\n"
    "Connection: keep-alive\r\n"
    "Cookie: wp_ozh_wsa_visits=2; wp_ozh_wsa_visit_lasttime=xxxxxxxxxx; "
    "__utma=xxxxxxxxx.xxxxxxxxxx.xxxxxxxxxx.xxxxxxxxxx.xxxxxxxxxx.x; "
    "__utmz=xxxxxxxxx.xxxxxxxxxx.x.x.utmccn=(referral)|utmcsr=reader.livedoor.com\r\n"
    "Sec-Fetch-Dest: image\r\n"
    "Sec-Fetch-Mode: no-cors\r\n"
    "Sec-Fetch-Site: same-origin\r\n"
    "Pragma: no-cache\r\n"
    "Cache-Control: no-cache\r\n"
    "DNT: 1\r\n"
    "Upgrade-Insecure-Requests: 1\r\n"
    "If-None-Match: \"5f6a1b2c-3d4e\"\r\n"
    "If-Modified-Since: Tue, 05 Mar 2010 10:00:00 GMT\r\n"
    "X-Forwarded-For: 203.0.113.7\r\n"
    "X-Request-Id: 9f1c2d3e-4b5a-6978-8a9b-0c1d2e3f4a5b\r\n"
    "Priority: u=5, i\r\n"
    "\r\n";

static const char resp_head[] = "HTTP/1.1 200 OK\r\n"
                                "Server: nginx/1.22.1\r\n"
                                "Date: Mon, 01 Jan 2024 00:00:00 GMT\r\n"
                                "Content-Type: text/html\r\n"
                                "Content-Length: 615\r\n"
                                "Last-Modified: Tue, 25 Oct 2022 10:00:00 GMT\r\n"
                                "Connection: keep-alive\r\n"
                                "ETag: \"6357b7c0-267\"\r\n"
                                "Accept-Ranges: bytes\r\n"
                                "\r\n";

#define CHUNK      4096
#define NCHUNKS    16
#define CHUNKED_SZ (NCHUNKS * (CHUNK + 8) + 16)

static char chunked[CHUNKED_SZ];
static size_t chunked_len;
static struct sl_http_req req;
static struct sl_http_resp resp;
static volatile size_t sink;

enum kind { K_REQ, K_REQ_PARTIAL, K_RESP, K_CHUNKED, K_ANCHOR };

static double now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

/* One operation on buf[0..len); returns something to sink so it stays. */
static size_t run_once(enum kind k, const char *buf, size_t len)
{
    struct sl_chunked c;
    size_t used = 0;
    const void *hit;

    switch (k) {
    case K_REQ:
    case K_REQ_PARTIAL:
        return (size_t)sl_http_parse_request(buf, len, 65536, &req);
    case K_RESP:
        return (size_t)sl_http_parse_response(buf, len, 65536, SL_METHOD_GET, &resp);
    case K_CHUNKED:
        sl_chunked_init(&c);
        return (size_t)sl_chunked_feed(&c, buf, len, &used) + used;
    case K_ANCHOR:
        hit = memchr(buf, 0x01, len);
        return hit != NULL;
    }
    return 0;
}

/* Best ns per operation over <rounds> rounds of about 0.1 s. */
static double measure(enum kind k, const char *buf, size_t len, int rounds)
{
    double best = 1e18;
    size_t iters = 1000;

    for (;;) { /* calibrate to ~0.1 s per round */
        double t0 = now_ns();

        for (size_t i = 0; i < iters; i++)
            sink += run_once(k, buf, len);
        if (now_ns() - t0 > 2e7)
            break;
        iters *= 4;
    }
    iters *= 4;
    for (int r = 0; r < rounds; r++) {
        double t0 = now_ns();
        double per;

        for (size_t i = 0; i < iters; i++)
            sink += run_once(k, buf, len);
        per = (now_ns() - t0) / (double)iters;
        if (per < best)
            best = per;
    }
    return best;
}

static void build_chunked(void)
{
    size_t n = 0;

    for (int i = 0; i < NCHUNKS; i++) {
        n += (size_t)snprintf(chunked + n, sizeof(chunked) - n, "%x\r\n", CHUNK);
        memset(chunked + n, 'a' + i, CHUNK);
        n += CHUNK;
        memcpy(chunked + n, "\r\n", 2);
        n += 2;
    }
    memcpy(chunked + n, "0\r\n\r\n", 5);
    chunked_len = n + 5;
}

static void report(const char *name, enum kind k, const char *buf, size_t len, int rounds)
{
    double t = measure(k, buf, len, rounds);
    double a = measure(K_ANCHOR, buf, len, rounds);

    printf("%-26s %6zu B %10.1f ns %8.2f ns/100B  anchor %8.1f ns  ratio %6.2f\n", name, len, t,
           t * 100.0 / (double)len, a, t / a);
}

int main(int argc, char **argv)
{
    int rounds = argc > 1 ? atoi(argv[1]) : 5;

    if (rounds < 1 || rounds > 20)
        rounds = 5;
    build_chunked();
    /* Sanity: every input must parse completely, or the figures lie. */
    if (run_once(K_REQ, get_wrk, sizeof(get_wrk) - 1) != sizeof(get_wrk) - 1 ||
        run_once(K_REQ, get_browser, sizeof(get_browser) - 1) != sizeof(get_browser) - 1 ||
        req.m.nhdrs != 20 ||
        run_once(K_RESP, resp_head, sizeof(resp_head) - 1) != sizeof(resp_head) - 1 ||
        run_once(K_CHUNKED, chunked, chunked_len) != SL_CHUNKED_DONE + chunked_len) {
        fprintf(stderr, "parse_bench: an input did not parse\n");
        return 1;
    }
    printf("parse_bench: best of %d rounds; anchor = memchr over the same bytes\n", rounds);
    report("request wrk GET (5 hdrs)", K_REQ, get_wrk, sizeof(get_wrk) - 1, rounds);
    report("request browser (20 hdrs)", K_REQ, get_browser, sizeof(get_browser) - 1, rounds);
    report("request partial (20 hdrs)", K_REQ_PARTIAL, get_browser, sizeof(get_browser) - 2,
           rounds);
    report("response head (8 hdrs)", K_RESP, resp_head, sizeof(resp_head) - 1, rounds);
    report("chunked body 64 KiB", K_CHUNKED, chunked, chunked_len, rounds);
    return 0;
}
