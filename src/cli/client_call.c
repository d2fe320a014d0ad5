/* One admin API call and what the user sees when it fails. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client.h"

/* The API's {"error":{"code","message"}}, or the first line of a body
 * that is not one (a proxy in between, an older server). */
static void print_refusal(int status, const char *body)
{
    json_t *j = json_loads(body, JSON_DECODE_ANY, NULL);
    json_t *e = json_object_get(j, "error");
    const char *code = json_string_value(json_object_get(e, "code"));
    const char *msg = json_string_value(json_object_get(e, "message"));

    if (code != NULL || msg != NULL) {
        (void)fprintf(stderr, "sluice: %d %s: %s\n", status, code ? code : "error",
                      msg ? msg : "(no message)");
    } else {
        size_t n = strcspn(body, "\r\n");

        (void)fprintf(stderr, "sluice: %d: %.*s\n", status, (int)(n > 200 ? 200 : n),
                      n > 0 ? body : "(no error message)");
    }
    if (status == 401)
        (void)fprintf(stderr, "sluice: pass an API token with --token TOKEN or SLUICE_TOKEN\n");
    json_decref(j);
}

int sl_cli_call(const struct sl_cli *c, const char *method, const char *path, json_t *body,
                json_t **out)
{
    struct sl_http_result r;
    char err[512];
    char *text = NULL;
    json_t *answer = NULL;
    json_error_t jerr;
    int rc;

    if (out != NULL)
        *out = NULL;
    if (body != NULL) {
        text = json_dumps(body, JSON_COMPACT);
        json_decref(body);
        if (text == NULL) {
            (void)fprintf(stderr, "sluice: out of memory\n");
            return 1;
        }
    }
    rc = sl_http_call(&c->url, method, path, c->token[0] ? c->token : NULL, text, c->timeout_ms, &r,
                      err, sizeof(err));
    free(text);
    if (rc < 0) {
        (void)fprintf(stderr, "sluice: cannot reach the admin API at %s: %s\n", c->server, err);
        return 1;
    }
    if (r.status < 200 || r.status > 299) {
        print_refusal(r.status, r.body);
        sl_http_result_free(&r);
        return 1;
    }
    if (r.body_len > 0) {
        answer = json_loadb(r.body, r.body_len, JSON_DECODE_ANY, &jerr);
        if (answer == NULL) {
            (void)fprintf(stderr, "sluice: %s answered %d with a body that is not JSON: %s\n",
                          c->server, r.status, jerr.text);
            sl_http_result_free(&r);
            return 1;
        }
    }
    sl_http_result_free(&r);
    if (out != NULL)
        *out = answer;
    else
        json_decref(answer);
    return 0;
}

void sl_cli_print_json(const json_t *v)
{
    if (v != NULL && json_dumpf(v, stdout, JSON_INDENT(2) | JSON_ENCODE_ANY) == 0)
        (void)fputc('\n', stdout);
}

void sl_cli_done(const struct sl_cli *c, const json_t *answer, const char *msg)
{
    if (c->json)
        sl_cli_print_json(answer);
    else
        printf("%s\n", msg);
}

int sl_cli_change(const struct sl_cli *c, const char *method, const char *path, json_t *body,
                  const char *msg)
{
    json_t *r = NULL;
    int rc = sl_cli_call(c, method, path, body, &r);

    if (rc == 0)
        sl_cli_done(c, r, msg);
    json_decref(r);
    return rc;
}
