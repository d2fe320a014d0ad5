/* The CLI's HTTP client against a one-shot server thread that answers
 * canned bytes: body framings, 1xx, malformed and cut responses, refused
 * connections, and the request it sends. */
#include <netinet/in.h>
#include <sys/socket.h>

#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "cli/http_client.h"

struct server {
    int lfd;
    const char *answer;
    char request[8192];
    pthread_t thread;
};

static void *serve_one(void *arg)
{
    struct server *s = arg;
    int fd = accept(s->lfd, NULL, NULL);
    size_t len = 0;

    if (fd < 0)
        return NULL;
    /* The request is small: read until its body (if any) is in. */
    while (len < sizeof(s->request) - 1) {
        ssize_t r = recv(fd, s->request + len, sizeof(s->request) - 1 - len, 0);
        char *end, *cl;

        if (r <= 0)
            break;
        len += (size_t)r;
        s->request[len] = '\0';
        end = strstr(s->request, "\r\n\r\n");
        if (end == NULL)
            continue;
        cl = strstr(s->request, "Content-Length: ");
        if (cl == NULL || (size_t)(end + 4 - s->request) + strtoul(cl + 16, NULL, 10) <= len)
            break;
    }
    (void)send(fd, s->answer, strlen(s->answer), MSG_NOSIGNAL);
    (void)close(fd);
    return NULL;
}

static void start(struct server *s, const char *answer, struct sl_url *u)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof(a);
    char err[128];

    memset(s, 0, sizeof(*s));
    s->answer = answer;
    s->lfd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(s->lfd >= 0);
    assert_int_equal(bind(s->lfd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(listen(s->lfd, 1), 0);
    assert_int_equal(getsockname(s->lfd, (struct sockaddr *)&a, &al), 0);
    (void)snprintf(err, sizeof(err), "http://127.0.0.1:%u", ntohs(a.sin_port));
    assert_int_equal(sl_url_parse(err, u, err, sizeof(err)), 0);
    assert_int_equal(pthread_create(&s->thread, NULL, serve_one, s), 0);
}

static void stop(struct server *s)
{
    (void)pthread_join(s->thread, NULL);
    (void)close(s->lfd);
}

/* One call against <answer>: the call's return, with *r and err. */
static int call(const char *answer, const char *method, const char *body, struct sl_http_result *r,
                char *err, size_t errlen, struct server *s)
{
    struct sl_url u;
    int rc;

    start(s, answer, &u);
    rc = sl_http_call(&u, method, "/v1/query", "slk_x", body, 5000, r, err, errlen);
    stop(s);
    return rc;
}

static void framings(void **state)
{
    static const struct {
        const char *answer, *body;
        int status;
    } cases[] = {
        {"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", "hello", 200},
        {"HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n"
         "3\r\nhel\r\n2;x=y\r\nlo\r\n0\r\nTrailer: t\r\n\r\n",
         "hello", 201},
        {"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nuntil close", "until close", 200},
        {"HTTP/1.1 204 No Content\r\n\r\n", "", 204},
        {"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 409 Conflict\r\nContent-Length: 2\r\n\r\n{}", "{}",
         409},
        {"HTTP/1.0 200 OK\r\n\r\nold", "old", 200},
    };
    struct sl_http_result r;
    struct server s;
    char err[256];

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        if (call(cases[i].answer, "GET", NULL, &r, err, sizeof(err), &s) != 0)
            fail_msg("case %zu: %s", i, err);
        assert_int_equal(r.status, cases[i].status);
        assert_int_equal(r.body_len, strlen(cases[i].body));
        assert_string_equal(r.body, cases[i].body);
        sl_http_result_free(&r);
    }
}

static void bad_responses(void **state)
{
    static const char *const answers[] = {
        "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab",
        "HTTP/1.1 2000 OK\r\n\r\n",
        "SSH-2.0-OpenSSH\r\n\r\n",
        "",
        "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
    };
    struct sl_http_result r;
    struct server s;
    char err[256];

    (void)state;
    for (size_t i = 0; i < sizeof(answers) / sizeof(answers[0]); i++) {
        err[0] = '\0';
        if (call(answers[i], "GET", NULL, &r, err, sizeof(err), &s) != -1)
            fail_msg("case %zu accepted (status %d)", i, r.status);
        assert_true(err[0] != '\0');
        assert_null(r.body);
    }
}

static void the_request(void **state)
{
    struct sl_http_result r;
    struct server s;
    char err[256];

    (void)state;
    assert_int_equal(call("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", "PATCH", "{\"weight\":3}",
                          &r, err, sizeof(err), &s),
                     0);
    sl_http_result_free(&r);
    assert_non_null(strstr(s.request, "PATCH /v1/query HTTP/1.1\r\n"));
    assert_non_null(strstr(s.request, "\r\nHost: 127.0.0.1:"));
    assert_non_null(strstr(s.request, "\r\nAuthorization: Bearer slk_x\r\n"));
    assert_non_null(strstr(s.request, "\r\nContent-Type: application/json\r\n"));
    assert_non_null(strstr(s.request, "\r\nContent-Length: 12\r\n"));
    assert_non_null(strstr(s.request, "\r\nConnection: close\r\n"));
    assert_non_null(strstr(s.request, "\r\n\r\n{\"weight\":3}"));
}

static void refused(void **state)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof(a);
    struct sl_http_result r;
    struct sl_url u;
    char err[256], url[64];
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    (void)state;
    /* A port bound but not listening refuses connections. */
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &al), 0);
    (void)snprintf(url, sizeof(url), "127.0.0.1:%u", ntohs(a.sin_port));
    assert_int_equal(sl_url_parse(url, &u, err, sizeof(err)), 0);
    assert_int_equal(sl_http_call(&u, "GET", "/", NULL, NULL, 2000, &r, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "cannot connect"));
    assert_non_null(strstr(err, "refused"));
    (void)close(fd);
    assert_int_equal(sl_url_parse("no-such-host.invalid:1", &u, err, sizeof(err)), 0);
    assert_int_equal(sl_http_call(&u, "GET", "/", NULL, NULL, 2000, &r, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "no-such-host.invalid"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(framings),
        cmocka_unit_test(bad_responses),
        cmocka_unit_test(the_request),
        cmocka_unit_test(refused),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
