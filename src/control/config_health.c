/* A service's health settings: the active check (`health`), the score and
 * its rise/fall shorthand, and what passive observations, panic and slow
 * start may do. `passive`, `panic_threshold` and `slow_start` belong to the
 * service and are also accepted inside `health`, where readers of other
 * balancers' docs look for them; giving one in both places is an error. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "control/config_ctx.h"
#include "control/scalar.h"
#include "proxy/defaults.h"

/* The checker's limit (INT32_MAX ms, its poll() timeout type). */
#define SL_CFG_MAX_CHECK_MS 2147483647u
/* Ranges one check may accept: enough for any status list worth writing. */
#define SL_CFG_MAX_EXPECT 16
/* A body substring is looked for in the first SL_HEALTH_BODY_MAX bytes. */
#define SL_CFG_MAX_BODY 1024

static const char *const health_keys[] = {
    "check",           "method",  "path",  "host", "expect", "body",    "interval",
    "down_interval",   "timeout", "score", "rise", "fall",   "passive", "slow_start",
    "panic_threshold", NULL};
static const char *const score_keys[] = {"initial", "low", "high", "fail", "success", NULL};
static const char *const passive_keys[] = {"5xx", "eject", "eject_max", NULL};

int sl_cfg_health_defaults(struct sl_cfg_ctx *c, struct sl_cfg_health *h)
{
    h->interval_ms = SL_DEFAULT_HEALTH_INTERVAL_MS;
    h->timeout_ms = SL_DEFAULT_HEALTH_TIMEOUT_MS;
    h->score = (sluice_score_opts_t)SLUICE_SCORE_DEFAULTS;
    h->path = sl_cfg_strdup(c, SL_DEFAULT_HEALTH_PATH);
    h->method = sl_cfg_strdup(c, SL_DEFAULT_HEALTH_METHOD);
    h->expect = calloc(1, sizeof(*h->expect));
    c->nomem |= h->expect == NULL;
    if (h->path == NULL || h->method == NULL || h->expect == NULL)
        return -1;
    h->expect[0] =
        (struct sl_cfg_status_range){SL_DEFAULT_HEALTH_EXPECT_LO, SL_DEFAULT_HEALTH_EXPECT_HI};
    h->nexpect = 1;
    return 0;
}

void sl_cfg_free_health(struct sl_cfg_health *h)
{
    free(h->method);
    free(h->path);
    free(h->host);
    free(h->expect);
    free(h->body);
}

/* One "200-399", "204" or "200-299,404" item into out[*n...]. */
static void parse_ranges(struct sl_cfg_ctx *c, int line, const char *what, const char *v,
                         struct sl_cfg_status_range *out, size_t *n)
{
    char item[32];

    size_t vlen = strlen(v);

    if (vlen == 0 || v[vlen - 1] == ',') { /* "200," : an empty last item */
        sl_cfg_err(c, line, "%s: invalid status range '%s' (e.g. 200-399 or 200,204)", what, v);
        return;
    }
    for (const char *p = v; *p != '\0';) {
        size_t len = strcspn(p, ",");
        unsigned lo = 0, hi = 0;

        while (len > 0 && (*p == ' ')) {
            p++;
            len--;
        }
        if (len == 0 || len >= sizeof(item)) {
            sl_cfg_err(c, line, "%s: invalid status range '%s' (e.g. 200-399 or 200,204)", what, v);
            return;
        }
        memcpy(item, p, len);
        item[len] = '\0';
        while (len > 0 && item[len - 1] == ' ')
            item[--len] = '\0';
        if (sl_scalar_parse_status_range(item, &lo, &hi) != 0 || lo < 100 || hi > 599 || lo > hi) {
            sl_cfg_err(c, line, "%s: invalid status range '%s' (e.g. 200-399 or 200,204)", what,
                       item);
            return;
        }
        if (*n == SL_CFG_MAX_EXPECT) {
            sl_cfg_err(c, line, "%s: at most %d status ranges", what, SL_CFG_MAX_EXPECT);
            return;
        }
        out[(*n)++] = (struct sl_cfg_status_range){(uint16_t)lo, (uint16_t)hi};
        p += len;
        if (*p == ',')
            p++;
    }
}

/* One `expect` item: a string, or a bare status as a JSON number (an
 * API body's 204), as the file's YAML scalars are. */
static int expect_item(struct sl_cfg_ctx *c, const struct sl_ynode *n, const char *what, char **v)
{
    if (n->type == SL_Y_SCALAR && n->json == SL_YJ_NUMBER) {
        *v = sl_cfg_strdup(c, n->str);
        return *v != NULL ? 0 : -1;
    }
    return sl_cfg_str(c, n, what, v);
}

/* `expect`: a range, a comma-separated list of them, or a YAML list. */
static void parse_expect(struct sl_cfg_ctx *c, const struct sl_ynode *n, const char *what,
                         struct sl_cfg_health *h)
{
    struct sl_cfg_status_range got[SL_CFG_MAX_EXPECT];
    size_t ngot = 0, errors = c->errors;

    if (n == NULL)
        return;
    if (n->type == SL_Y_SEQ) {
        for (size_t i = 0; i < n->n && c->errors == errors; i++) {
            char *v = NULL;

            if (expect_item(c, n->items[i], what, &v) == 0 && v != NULL)
                parse_ranges(c, n->items[i]->line, what, v, got, &ngot);
            free(v);
        }
    } else {
        char *v = NULL;

        if (expect_item(c, n, what, &v) == 0 && v != NULL)
            parse_ranges(c, n->line, what, v, got, &ngot);
        free(v);
    }
    if (c->errors != errors)
        return;
    if (ngot == 0) {
        sl_cfg_err(c, n->line, "%s: give at least one status range (e.g. 200-399)", what);
        return;
    }
    struct sl_cfg_status_range *cp = calloc(ngot, sizeof(*cp));

    if (cp == NULL) {
        c->nomem = true;
        return;
    }
    memcpy(cp, got, ngot * sizeof(*cp));
    free(h->expect);
    h->expect = cp;
    h->nexpect = ngot;
}

static void parse_score(struct sl_cfg_ctx *c, const struct sl_ynode *m, const char *svc,
                        struct sl_cfg_health *h)
{
    char w[192];
    sluice_score_opts_t *o = &h->score;
    int bad = 0;

    (void)snprintf(w, sizeof(w), "service %s: health.score", svc);
    if (sl_cfg_keys(c, m, w, score_keys) != 0)
        return;
    h->score_set = true;
    bad |= sl_cfg_int(c, sl_ymap_get(m, "initial"), SL_CFG_FIELD(w, "initial"), -1000, 1000,
                      &o->initial);
    bad |= sl_cfg_int(c, sl_ymap_get(m, "low"), SL_CFG_FIELD(w, "low"), -1000, 1000, &o->low);
    bad |= sl_cfg_int(c, sl_ymap_get(m, "high"), SL_CFG_FIELD(w, "high"), -1000, 1000, &o->high);
    bad |=
        sl_cfg_int(c, sl_ymap_get(m, "fail"), SL_CFG_FIELD(w, "fail"), -1000, 1000, &o->fail_delta);
    bad |= sl_cfg_int(c, sl_ymap_get(m, "success"), SL_CFG_FIELD(w, "success"), -1000, 1000,
                      &o->success_delta);
    if (bad != 0)
        return;
    if (!(o->low <= o->initial && o->initial <= o->high))
        sl_cfg_err(c, m->line, "%s: need low <= initial <= high (got %d, %d, %d)", w, o->low,
                   o->initial, o->high);
    /* Usable means score >= 0: a backend must be out after a health mark
     * down (score low) and in after a mark up (score high). */
    if (o->low >= 0)
        sl_cfg_err(c, m->line, "%s: low must be negative (got %d)", w, o->low);
    if (o->high < 0)
        sl_cfg_err(c, m->line, "%s: high must be 0 or more (got %d)", w, o->high);
    if (o->fail_delta >= 0)
        sl_cfg_err(c, m->line, "%s: fail must be negative (got %d)", w, o->fail_delta);
    if (o->success_delta <= 0)
        sl_cfg_err(c, m->line, "%s: success must be positive (got %d)", w, o->success_delta);
}

/* rise/fall, HAProxy's counts, as the score they mean with steps of one:
 * an unusable backend at low needs <rise> successes to reach 0, a fully
 * healthy one at high needs <fall> failures to drop below 0. So low =
 * -rise, high = fall - 1, initial = min(1, high). */
static void parse_rise_fall(struct sl_cfg_ctx *c, const struct sl_ynode *m, const char *w,
                            struct sl_cfg_health *h)
{
    const struct sl_ynode *rise = sl_ymap_get(m, "rise"), *fall = sl_ymap_get(m, "fall");
    sluice_score_opts_t *o = &h->score;

    if (rise == NULL && fall == NULL)
        return;
    if (sl_ymap_get(m, "score") != NULL) {
        sl_cfg_err(c, (rise != NULL ? rise : fall)->line,
                   "%s: give either score or rise/fall, not both (rise/fall are a shorthand "
                   "for score)",
                   w);
        return;
    }
    if (sl_cfg_uint(c, rise, SL_CFG_FIELD(w, "rise"), 1, 1000, &h->rise) != 0 ||
        sl_cfg_uint(c, fall, SL_CFG_FIELD(w, "fall"), 1, 1000, &h->fall) != 0)
        return;
    h->score_set = true;
    o->fail_delta = -1;
    o->success_delta = 1;
    if (h->rise != 0)
        o->low = -(int32_t)h->rise;
    if (h->fall != 0)
        o->high = (int32_t)h->fall - 1;
    o->initial = o->high < 1 ? o->high : 1;
}

static void parse_check(struct sl_cfg_ctx *c, const struct sl_ynode *n, const char *w,
                        struct sl_cfg_health *h)
{
    char *check = NULL;

    if (sl_cfg_str(c, n, SL_CFG_FIELD(w, "check"), &check) != 0 || check == NULL)
        return;
    if (strcmp(check, "none") == 0)
        h->check = SL_CHECK_NONE;
    else if (strcmp(check, "tcp") == 0)
        h->check = SL_CHECK_TCP;
    else if (strcmp(check, "http") == 0)
        h->check = SL_CHECK_HTTP;
    else
        sl_cfg_err(c, n->line, "%s.check: '%s' is not none, tcp or http", w, check);
    free(check);
}

/* A string key replacing the default in *<out>; <bad> says why a value is refused. */
static void parse_replace(struct sl_cfg_ctx *c, const struct sl_ynode *n, const char *w,
                          const char *key, const char *(*bad)(const char *v), char **out)
{
    char *v = NULL;
    const char *why;

    if (n == NULL || sl_cfg_str(c, n, SL_CFG_FIELD(w, key), &v) != 0 || v == NULL)
        return;
    if ((why = bad(v)) != NULL)
        sl_cfg_err(c, n->line, "%s.%s: '%s' %s", w, key, v, why);
    free(*out);
    *out = v;
}

static const char *bad_method(const char *v)
{
    size_t len = strlen(v);

    if (len == 0 || len > 16 || strspn(v, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") != len)
        return "is not an HTTP method (e.g. GET, HEAD)";
    if (strcmp(v, "CONNECT") == 0)
        return "opens a tunnel, it checks nothing (e.g. GET, HEAD)";
    return NULL;
}

static const char *bad_path(const char *v)
{
    if (v[0] != '/')
        return "must start with '/'";
    for (const unsigned char *p = (const unsigned char *)v; *p != '\0'; p++)
        if (*p <= ' ' || *p == 0x7f || *p == '#')
            return "must hold no space, control character or '#' (a fragment is never sent)";
    return NULL;
}

static const char *bad_host(const char *v)
{
    return v[0] == '\0' || strpbrk(v, " \t\r\n/") != NULL ? "is not a host name" : NULL;
}

static const char *bad_body(const char *v)
{
    return v[0] == '\0' || strlen(v) > SL_CFG_MAX_BODY ? "must be 1 to 1024 bytes to look for"
                                                       : NULL;
}

static void parse_timing(struct sl_cfg_ctx *c, const struct sl_ynode *m, const char *w,
                         struct sl_cfg_health *h)
{
    sl_cfg_duration(c, sl_ymap_get(m, "interval"), SL_CFG_FIELD(w, "interval"), 10,
                    &h->interval_ms);
    sl_cfg_duration(c, sl_ymap_get(m, "down_interval"), SL_CFG_FIELD(w, "down_interval"), 10,
                    &h->down_interval_ms);
    sl_cfg_duration(c, sl_ymap_get(m, "timeout"), SL_CFG_FIELD(w, "timeout"), 1, &h->timeout_ms);
    /* The checkers take poll() timeouts (int): refuse here what they would
     * refuse after a reload already changed the backends. */
    if (h->interval_ms > SL_CFG_MAX_CHECK_MS)
        sl_cfg_err(c, m->line, "%s.interval: at most %ums", w, (unsigned)SL_CFG_MAX_CHECK_MS);
    if (h->down_interval_ms > SL_CFG_MAX_CHECK_MS)
        sl_cfg_err(c, m->line, "%s.down_interval: at most %ums", w, (unsigned)SL_CFG_MAX_CHECK_MS);
    if (h->timeout_ms > SL_CFG_MAX_CHECK_MS)
        sl_cfg_err(c, m->line, "%s.timeout: at most %ums", w, (unsigned)SL_CFG_MAX_CHECK_MS);
    if (h->timeout_ms > h->interval_ms)
        sl_cfg_warn(c, m->line, "%s: timeout (%ums) is longer than interval (%ums)", w,
                    h->timeout_ms, h->interval_ms);
}

void sl_cfg_parse_health(struct sl_cfg_ctx *c, const struct sl_ynode *m, struct sl_cfg_service *s)
{
    static const char *const http_only[] = {"method", "path", "host", "body", "expect", NULL};
    char w[192];
    struct sl_cfg_health *h = &s->health;
    const struct sl_ynode *n;

    (void)snprintf(w, sizeof(w), "service %s: health", s->name);
    if (sl_cfg_keys(c, m, w, health_keys) != 0)
        return;
    h->line = m->line;
    parse_check(c, sl_ymap_get(m, "check"), w, h);
    parse_replace(c, sl_ymap_get(m, "method"), w, "method", bad_method, &h->method);
    parse_replace(c, sl_ymap_get(m, "path"), w, "path", bad_path, &h->path);
    parse_replace(c, sl_ymap_get(m, "host"), w, "host", bad_host, &h->host);
    parse_expect(c, sl_ymap_get(m, "expect"), SL_CFG_FIELD(w, "expect"), h);
    parse_replace(c, sl_ymap_get(m, "body"), w, "body", bad_body, &h->body);
    parse_timing(c, m, w, h);
    for (size_t i = 0; h->check != SL_CHECK_HTTP && http_only[i] != NULL; i++)
        if ((n = sl_ymap_get(m, http_only[i])) != NULL)
            sl_cfg_warn(c, n->line, "%s.%s is ignored: it applies to check: http only", w,
                        http_only[i]);
    /* A HEAD answer has no body: such a check could never pass. */
    if (h->check == SL_CHECK_HTTP && h->body != NULL && h->method != NULL &&
        strcmp(h->method, "HEAD") == 0)
        sl_cfg_err(c, sl_ymap_get(m, "body")->line,
                   "%s.body: a HEAD answer has no body, so this check could never pass: use GET "
                   "or drop body",
                   w);
    if ((n = sl_ymap_get(m, "score")) != NULL)
        parse_score(c, n, s->name, h);
    parse_rise_fall(c, m, w, h);
}

static void parse_passive(struct sl_cfg_ctx *c, const struct sl_ynode *m, const char *w,
                          struct sl_cfg_passive *p)
{
    if (sl_cfg_keys(c, m, w, passive_keys) != 0)
        return;
    sl_cfg_bool(c, sl_ymap_get(m, "5xx"), SL_CFG_FIELD(w, "5xx"), &p->on_5xx);
    sl_cfg_duration(c, sl_ymap_get(m, "eject"), SL_CFG_FIELD(w, "eject"), 0, &p->eject_ms);
    sl_cfg_duration(c, sl_ymap_get(m, "eject_max"), SL_CFG_FIELD(w, "eject_max"), 0,
                    &p->eject_max_ms);
    if (sl_ymap_get(m, "eject_max") == NULL && p->eject_ms > p->eject_max_ms)
        p->eject_max_ms = p->eject_ms;
    if (p->eject_max_ms < p->eject_ms)
        sl_cfg_err(c, m->line, "%s: eject_max (%ums) is below eject (%ums)", w, p->eject_max_ms,
                   p->eject_ms);
}

/* The node of policy key <key>: on the service or in its health mapping,
 * not both. */
static const struct sl_ynode *policy_node(struct sl_cfg_ctx *c, const struct sl_ynode *m,
                                          const char *what, const char *key)
{
    const struct sl_ynode *svc = sl_ymap_get(m, key), *h = sl_ymap_get(m, "health");
    const struct sl_ynode *in_h = h != NULL && h->type == SL_Y_MAP ? sl_ymap_get(h, key) : NULL;

    if (svc != NULL && in_h != NULL) {
        sl_cfg_err(c, in_h->line, "%s: %s is given twice (on the service and in health): keep one",
                   what, key);
        return NULL;
    }
    return svc != NULL ? svc : in_h;
}

void sl_cfg_parse_health_policy(struct sl_cfg_ctx *c, const struct sl_ynode *m, const char *what,
                                struct sl_cfg_service *s)
{
    const struct sl_ynode *n;

    if ((n = policy_node(c, m, what, "passive")) != NULL)
        parse_passive(c, n, SL_CFG_FIELD(what, "passive"), &s->passive);
    sl_cfg_uint(c, policy_node(c, m, what, "panic_threshold"),
                SL_CFG_FIELD(what, "panic_threshold"), 0, 100, &s->panic_threshold);
    sl_cfg_duration(c, policy_node(c, m, what, "slow_start"), SL_CFG_FIELD(what, "slow_start"), 0,
                    &s->slow_start_ms);
    if (s->slow_start_ms > SL_CFG_MAX_CHECK_MS)
        sl_cfg_err(c, m->line, "%s.slow_start: at most %ums", what, (unsigned)SL_CFG_MAX_CHECK_MS);
}
