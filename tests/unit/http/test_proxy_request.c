/* Head rewriting of the HTTP proxy: what reaches the backend and the
 * client, checked on the bytes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "http/parse.h"
#include "http/proxy_int.h"
#include "sluice.h"

struct fixture {
    struct sl_buf_pool pool;
    struct sl_hconn c;
    struct sl_hreq q;
    sluice_lb_t *lb;
    sluice_backend_t *be;
    char out[8192];
};

static int setup(void **state)
{
    static struct fixture f;
    static const char *const targets[] = {"127.0.0.1:9001"};

    memset(&f, 0, sizeof(f));
    sl_buf_pool_init(&f.pool, 16384, 4);
    f.c.rq = &f.q;
    f.q.hbuf = sl_buf_get(&f.pool);
    strcpy(f.c.client_ip, "10.0.0.7");
    f.c.client_ip_len = 8;
    f.lb = sluice_lb_new();
    assert_int_equal(sluice_lb_register(f.lb, "svc", targets, 1, SLUICE_ROUND_ROBIN), 0);
    f.be = sluice_lb_select(f.lb, "svc", NULL, 0);
    assert_non_null(f.be);
    *state = &f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;

    sluice_backend_release(f->be, SLUICE_OUTCOME_NEUTRAL, 0);
    sluice_lb_free(f->lb);
    sl_buf_put(&f->pool, f->c.rq->hbuf);
    sl_buf_pool_fini(&f->pool);
    return 0;
}

/* Parses <head>, rewrites it for the backend and returns the bytes as they
 * would go out: request line and Host first, then the rest. */
static const char *rewrite(struct fixture *f, const char *head)
{
    static struct sl_http_req req;
    struct sl_hconn *c = &f->c;
    uint32_t plen;
    int r = sl_http_parse_request(head, strlen(head), 16384, &req);

    assert_true(r > 0);
    c->rq->method = req.method;
    c->rq->method_len = (uint32_t)req.method_len;
    c->rq->target = req.target;
    c->rq->target_len = (uint32_t)req.target_len;
    c->rq->host = req.host;
    c->rq->host_len = req.host ? (uint32_t)req.host_len : 0;
    c->rq->rest_len = sl_proxy_build_request(c, &req, f->be);
    assert_true(c->rq->rest_len > 0);
    plen = sl_proxy_build_prefix(c, f->be);
    assert_true(plen > 0);
    snprintf(f->out, sizeof(f->out), "%.*s%.*s", (int)plen, c->rq->hbuf->data + c->rq->rest_len,
             (int)c->rq->rest_len, c->rq->hbuf->data);
    return f->out;
}

static void forwarded_headers_are_added_and_hop_by_hop_dropped(void **state)
{
    const char *out = rewrite(*state, "GET /a?b=1 HTTP/1.1\r\nHost: Example.com\r\n"
                                      "Connection: close, X-Private\r\nX-Private: 1\r\n"
                                      "Keep-Alive: 5\r\nX-Forwarded-For: 1.2.3.4\r\n"
                                      "Accept: */*\r\n\r\n");

    assert_non_null(strstr(out, "GET /a?b=1 HTTP/1.1\r\nHost: Example.com\r\n"));
    assert_non_null(strstr(out, "Accept: */*\r\n"));
    assert_non_null(strstr(out, "X-Forwarded-For: 1.2.3.4, 10.0.0.7\r\n"));
    assert_non_null(strstr(out, "X-Forwarded-Proto: http\r\n"));
    assert_non_null(strstr(out, "X-Forwarded-Host: Example.com\r\n"));
    assert_non_null(strstr(out, "Via: 1.1 sluice\r\n\r\n"));
    assert_non_null(strstr(out, "Connection: keep-alive\r\n"));
    assert_null(strstr(out, "X-Private"));
    assert_null(strstr(out, "Keep-Alive: 5"));
    assert_null(strstr(out, "close"));
}

static void absolute_form_becomes_origin_form(void **state)
{
    const char *out =
        rewrite(*state, "GET http://example.com HTTP/1.1\r\nHost: example.com\r\n\r\n");

    assert_true(strncmp(out, "GET / HTTP/1.1\r\n", 16) == 0);
    out = rewrite(*state, "GET http://example.com/x/y?z HTTP/1.1\r\nHost: example.com\r\n\r\n");
    assert_true(strncmp(out, "GET /x/y?z HTTP/1.1\r\n", 21) == 0);
}

static void body_framing_is_reemitted(void **state)
{
    const char *out = rewrite(*state, "POST /u HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\n");

    assert_non_null(strstr(out, "Content-Length: 5\r\n"));
    out = rewrite(*state, "POST /u HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n");
    assert_non_null(strstr(out, "Transfer-Encoding: chunked\r\n"));
}

static void upgrade_requests_keep_their_upgrade(void **state)
{
    const char *out = rewrite(*state, "GET /ws HTTP/1.1\r\nHost: h\r\nConnection: Upgrade\r\n"
                                      "Upgrade: websocket\r\n\r\n");

    assert_non_null(strstr(out, "Connection: upgrade\r\nUpgrade: websocket\r\n"));
    assert_null(strstr(out, "keep-alive"));
}

static void responses_say_how_the_connection_goes_on(void **state)
{
    struct fixture *f = *state;
    static const char head[] = "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nConnection: keep-alive, "
                               "X-Hop\r\nX-Hop: 1\r\nServer: t\r\n\r\n";
    struct sl_http_resp resp;
    uint32_t len;

    assert_true(sl_http_parse_response(head, sizeof(head) - 1, 16384, SL_METHOD_GET, &resp) > 0);
    f->c.rq->hbuf->end = 0;
    len = sl_proxy_build_response(&f->c, &resp, false);
    assert_true(len > 0);
    snprintf(f->out, sizeof(f->out), "%.*s", (int)len, f->c.rq->hbuf->data);
    assert_true(strncmp(f->out, "HTTP/1.1 200 OK\r\n", 17) == 0);
    assert_non_null(strstr(f->out, "Content-Length: 3\r\n"));
    assert_non_null(strstr(f->out, "Server: t\r\n"));
    assert_non_null(strstr(f->out, "Connection: close\r\n"));
    assert_non_null(strstr(f->out, "Via: 1.1 sluice\r\n\r\n"));
    assert_null(strstr(f->out, "X-Hop"));
}

/* "br, chunked": the client must learn about br, so the field goes on as
 * received and the proxy adds no Transfer-Encoding of its own. */
static void response_codings_besides_chunked_pass_through(void **state)
{
    struct fixture *f = *state;
    static const char head[] = "HTTP/1.1 200 OK\r\nTransfer-Encoding: br, chunked\r\n\r\n";
    struct sl_http_resp resp;
    uint32_t len;

    assert_true(sl_http_parse_response(head, sizeof(head) - 1, 16384, SL_METHOD_GET, &resp) > 0);
    f->c.rq->hbuf->end = 0;
    len = sl_proxy_build_response(&f->c, &resp, true);
    assert_true(len > 0);
    snprintf(f->out, sizeof(f->out), "%.*s", (int)len, f->c.rq->hbuf->data);
    assert_non_null(strstr(f->out, "Transfer-Encoding: br, chunked\r\n"));
    assert_null(strstr(f->out, "Transfer-Encoding: chunked"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(forwarded_headers_are_added_and_hop_by_hop_dropped),
        cmocka_unit_test(absolute_form_becomes_origin_form),
        cmocka_unit_test(body_framing_is_reemitted),
        cmocka_unit_test(upgrade_requests_keep_their_upgrade),
        cmocka_unit_test(responses_say_how_the_connection_goes_on),
        cmocka_unit_test(response_codings_besides_chunked_pass_through),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
