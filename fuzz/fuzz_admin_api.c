/* libFuzzer target: the admin API's request handling (routing, auth,
 * query strings, JSON bodies, every handler) against an in-process control
 * plane on a temp config and state store, without sockets.
 *
 * Input: byte 0 picks the token (none, read, agent, admin, garbage) and
 * the method; then "PATH[?QUERY]\n" and the rest is the body. Besides the
 * sanitizers' checks: every answer has a status in 200..599, a JSON answer
 * parses, and an error answer is {"error":{"code","message"}}.
 *
 * The store lives in /dev/shm when it can (an fsync per accepted change
 * would otherwise make the target crawl). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "admin/api.h"
#include "admin/tokens.h"
#include "control/control.h"
#include "net/log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct sl_control *ctl;
static struct sl_tokens *toks;
static char secrets[3][SL_TOKEN_SECRET_MAX];
static struct sl_api_ctx ctx;
static char tmpdir[64];

/* The temp config and store go when the fuzzer exits. */
static void cleanup(void)
{
    static const char *const files[] = {"fuzz.yaml", "fuzz.db", "fuzz.db-wal", "fuzz.db-shm"};
    char path[128];

    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        (void)snprintf(path, sizeof(path), "%s/%s", tmpdir, files[i]);
        (void)unlink(path);
    }
    (void)rmdir(tmpdir);
}

static int fake_metrics(void *arg, char **out, size_t *len)
{
    (void)arg;
    *out = strdup("sluice_up 1\n");
    if (*out == NULL)
        return -1;
    *len = strlen(*out);
    return 0;
}

static const char config_text[] = "admin:\n"
                                  "  bind: 127.0.0.1:2\n"
                                  "state: fuzz.db\n"
                                  "listeners:\n"
                                  "  - {name: web, bind: 127.0.0.1:1, mode: http}\n"
                                  "services:\n"
                                  "  app:\n"
                                  "    backends:\n"
                                  "      - {name: a1, target: 127.0.0.1:3001, labels: {v: one}}\n"
                                  "      - {name: a2, target: 127.0.0.1:3002, labels: {v: two}}\n"
                                  "endpoints:\n"
                                  "  - pattern: example.com\n"
                                  "    routes:\n"
                                  "      - {service: app, selector: v=one, weight: 90}\n"
                                  "      - {service: app, selector: v=two, weight: 10}\n";

static void setup(void)
{
    char dir[] = "/dev/shm/sluice-fuzz-XXXXXX", path[256], err[256];
    char fallback[] = "/tmp/sluice-fuzz-XXXXXX";
    const char *d = mkdtemp(dir) != NULL ? dir : mkdtemp(fallback);
    struct sl_diag diag;
    struct sl_change_err e;
    struct sl_token_info info;
    FILE *f;

    if (d == NULL)
        abort();
    (void)snprintf(tmpdir, sizeof(tmpdir), "%s", d);
    (void)atexit(cleanup);
    (void)snprintf(path, sizeof(path), "%s/fuzz.yaml", d);
    f = fopen(path, "w");
    if (f == NULL || fputs(config_text, f) < 0 || fclose(f) != 0)
        abort();
    sl_diag_init(&diag);
    if (sl_control_open(path, &ctl, &diag) != 0) {
        for (size_t i = 0; i < diag.n; i++)
            (void)fprintf(stderr, "%s\n", diag.msgs[i]);
        abort();
    }
    sl_diag_fini(&diag);
    if (sl_tokens_open(sl_control_store(ctl), &toks, err, sizeof(err)) != 0) {
        (void)fprintf(stderr, "%s\n", err);
        abort();
    }
    for (int s = 0; s < 3; s++)
        if (sl_tokens_create(toks, (enum sl_scope)(s + 1), "fuzz", &info, secrets[s], &e) != 0)
            abort();
    ctx = (struct sl_api_ctx){ctl, toks, false, fake_metrics, NULL};
}

static void check(const struct sl_api_resp *r)
{
    json_t *j, *err;

    if (r->status < 200 || r->status > 599)
        abort();
    if (r->body == NULL || strncmp(r->content_type, "application/json", 16) != 0)
        return;
    j = json_loadb(r->body, r->body_len, 0, NULL);
    if (j == NULL)
        abort();
    err = json_object_get(j, "error");
    if (r->status >= 400 && (!json_is_string(json_object_get(err, "code")) ||
                             !json_is_string(json_object_get(err, "message"))))
        abort();
    json_decref(j);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const enum sl_http_method methods[] = {SL_METHOD_GET,   SL_METHOD_PUT,    SL_METHOD_POST,
                                                  SL_METHOD_PATCH, SL_METHOD_DELETE, SL_METHOD_HEAD,
                                                  SL_METHOD_OTHER, SL_METHOD_GET};
    static const char *const names[] = {"GET",    "PUT",  "POST", "PATCH",
                                        "DELETE", "HEAD", "FOO",  "GET"};
    char auth[64];
    struct sl_api_req q = {0};
    struct sl_api_resp r;
    const char *nl, *in = (const char *)data + 1, *path_end;
    size_t n = size - 1, tok;

    if (ctl == NULL)
        setup();
    if (size < 2)
        return 0;
    q.method = methods[data[0] & 7];
    q.method_name = names[data[0] & 7];
    q.method_len = strlen(q.method_name);
    tok = (data[0] >> 3) % 5;
    if (tok >= 1 && tok <= 3) {
        (void)snprintf(auth, sizeof(auth), "Bearer %s", secrets[tok - 1]);
        q.auth = auth;
        q.auth_len = strlen(auth);
    } else if (tok == 4) {
        q.auth = "Bearer slk_nope";
        q.auth_len = 15;
    }
    nl = memchr(in, '\n', n);
    path_end = nl != NULL ? nl : in + n;
    q.path = in;
    q.path_len = (size_t)(path_end - in);
    const char *qm = memchr(in, '?', q.path_len);

    if (qm != NULL) {
        q.query = qm + 1;
        q.query_len = (size_t)(path_end - qm - 1);
        q.path_len = (size_t)(qm - in);
    }
    if (nl != NULL) {
        q.body = nl + 1;
        q.body_len = n - (size_t)(nl + 1 - in);
    }
    sl_api_handle(&ctx, &q, &r);
    check(&r);
    sl_api_resp_free(&r);
    return 0;
}

/* The audit lines would flood the fuzzer's output. */
__attribute__((constructor)) static void quiet(void)
{
    const char *failed;

    (void)sl_log_setup(SL_LOG_TEXT, SL_LOG_ERROR, "off", "/dev/null", &failed);
}
