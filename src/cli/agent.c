/* sluice agent: register the local target, heartbeat under the lease,
 * deregister on SIGTERM/SIGINT (see agent.h, docs/cli.md). */
#include "agent.h"

#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "cli.h"
#include "http_client.h"

#define CALL_TIMEOUT_MS  5000
#define CHECK_TIMEOUT_MS 2000
#define DELETE_TRIES     3

static volatile sig_atomic_t stop_signal;

static void on_stop(int sig)
{
    stop_signal = sig;
}

struct agent {
    struct sl_agent_opts o;
    struct sl_url url;
    char id[128];
    uint32_t interval_ms; /* the heartbeat, shortened to a third of a short lease */
    unsigned failures;    /* calls failed in a row, for the backoff */
    int target_up;        /* -1 unknown, 0 down, 1 up: log changes only */
    uint64_t rng;         /* the backoff's jitter */
    bool load_failing;    /* log the load's failure once, not every heartbeat */
};

static void logf_(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void logf_(const char *fmt, ...)
{
    char ts[32];
    time_t now = time(NULL);
    struct tm tm;
    va_list ap;

    (void)strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&now, &tm));
    (void)fprintf(stderr, "%s sluice agent: ", ts);
    va_start(ap, fmt);
    (void)vfprintf(stderr, fmt, ap);
    va_end(ap);
    (void)fputc('\n', stderr);
    (void)fflush(stderr);
}

/* Sleeps ms in slices so that a signal ends the wait at once. */
static void nap(uint32_t ms)
{
    while (ms > 0 && !stop_signal) {
        uint32_t s = ms < 100 ? ms : 100;
        struct timespec ts = {.tv_sec = 0, .tv_nsec = (long)s * 1000000L};

        (void)nanosleep(&ts, NULL);
        ms -= s;
    }
}

/* xorshift64: jitter needs no quality, only agents that differ (seeded
 * from the time and the pid in main). */
static uint32_t backoff(struct agent *a)
{
    a->rng ^= a->rng << 13;
    a->rng ^= a->rng >> 7;
    a->rng ^= a->rng << 17;
    return sl_agent_backoff_ms(a->failures++, (double)(a->rng >> 11) / 9007199254740992.0);
}

/* The server's {"error":{"code","message"}} (or its first line) in msg. */
static void server_message(const struct sl_http_result *r, char *msg, size_t n)
{
    json_t *j = r->body ? json_loads(r->body, JSON_DECODE_ANY, NULL) : NULL;
    json_t *e = json_object_get(j, "error");
    const char *code = json_string_value(json_object_get(e, "code"));
    const char *text = json_string_value(json_object_get(e, "message"));

    if (code != NULL || text != NULL) {
        (void)snprintf(msg, n, "%d %s: %s", r->status, code ? code : "error",
                       text ? text : "(no message)");
    } else {
        size_t len = r->body ? strcspn(r->body, "\r\n") : 0;

        (void)snprintf(msg, n, "%d: %.*s", r->status, (int)(len > 200 ? 200 : len),
                       len > 0 ? r->body : "(no error message)");
    }
    json_decref(j);
}

/* One call with a JSON body (taken; NULL: none). 0 with r filled, or -1
 * with the transport error in err. */
static int call(struct agent *a, const char *method, const char *path, json_t *body,
                struct sl_http_result *r, char *err, size_t errlen)
{
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    int rc;

    json_decref(body);
    memset(r, 0, sizeof(*r));
    rc = sl_http_call(&a->url, method, path, a->o.token, text, CALL_TIMEOUT_MS, r, err, errlen);
    free(text);
    return rc;
}

static json_t *registration(const struct sl_agent_opts *o)
{
    json_t *labels = json_object(), *loc = json_object();
    json_t *b = json_pack("{s:s, s:s}", "service", o->service, "target", o->target);

    if (o->name[0])
        (void)json_object_set_new(b, "name", json_string(o->name));
    for (size_t i = 0; i < o->nlabels; i++)
        (void)json_object_set_new(labels, o->labels[i].key, json_string(o->labels[i].value));
    (void)json_object_set_new(b, "labels", labels);
    if (o->city[0])
        (void)json_object_set_new(loc, "city", json_string(o->city));
    if (o->country[0])
        (void)json_object_set_new(loc, "country", json_string(o->country));
    if (o->has_lat)
        (void)json_object_set_new(loc, "lat", json_real(o->lat));
    if (o->has_lon)
        (void)json_object_set_new(loc, "lon", json_real(o->lon));
    if (json_object_size(loc) > 0)
        (void)json_object_set_new(b, "location", loc);
    else
        json_decref(loc);
    return b;
}

/* The lease the server granted (0: none said): heartbeat within it. */
static void take_lease(struct agent *a, const struct sl_http_result *r)
{
    json_t *j = r->body ? json_loads(r->body, JSON_DECODE_ANY, NULL) : NULL;
    json_int_t lease = json_integer_value(json_object_get(j, "lease_ms"));
    uint32_t want = a->o.heartbeat_ms;

    if (lease > 0 && (json_int_t)want * 3 > lease)
        want = (uint32_t)(lease / 3 > 100 ? lease / 3 : 100);
    if (want != a->interval_ms && a->interval_ms != 0)
        logf_("heartbeat every %u ms (lease %lld ms)", want, (long long)lease);
    a->interval_ms = want;
    json_decref(j);
}

/* 0 registered, 1 retry later (the wait done), 2 refused: exit 1. */
static int do_register(struct agent *a)
{
    struct sl_http_result r;
    char err[512], msg[512];
    json_t *j;
    const char *id;

    if (call(a, "POST", "/v1/agents", registration(&a->o), &r, err, sizeof(err)) != 0) {
        uint32_t w = backoff(a);

        logf_("register failed: %s; retrying in %.1fs", err, w / 1000.0);
        nap(w);
        return 1;
    }
    if (r.status != 200 && r.status != 201) {
        bool transient = r.status >= 500 || r.status == 408 || r.status == 429;
        uint32_t w = transient ? backoff(a) : 0;

        server_message(&r, msg, sizeof(msg));
        sl_http_result_free(&r);
        if (!transient) {
            (void)fprintf(stderr, "sluice agent: registration refused: %s\n", msg);
            return 2;
        }
        logf_("register failed: %s; retrying in %.1fs", msg, w / 1000.0);
        nap(w);
        return 1;
    }
    j = json_loads(r.body ? r.body : "", JSON_DECODE_ANY, NULL);
    id = json_string_value(json_object_get(j, "id"));
    if (id == NULL || strlen(id) >= sizeof(a->id) || strchr(id, '/') != NULL) {
        uint32_t w = backoff(a);

        logf_("register failed: %d without an id in its answer; retrying in %.1fs", r.status,
              w / 1000.0);
        json_decref(j);
        sl_http_result_free(&r);
        nap(w);
        return 1;
    }
    (void)snprintf(a->id, sizeof(a->id), "%s", id);
    json_decref(j);
    take_lease(a, &r);
    sl_http_result_free(&r);
    a->failures = 0;
    logf_("registered id=%s service=%s target=%s", a->id, a->o.service, a->o.target);
    return 0;
}

/* Whether the local target is up, logging a change. */
static bool check_target(struct agent *a)
{
    char why[512];
    bool up = sl_agent_target_up(a->o.target, a->o.health_path, CHECK_TIMEOUT_MS, why, sizeof(why));

    if (up && a->target_up != 1 && a->target_up != -1)
        logf_("local target up: %s", a->o.target);
    else if (!up && a->target_up != 0)
        logf_("local target down: %s (%s)", a->o.target, why);
    a->target_up = up ? 1 : 0;
    return up;
}

static void heartbeat(struct agent *a, bool healthy)
{
    struct sl_http_result r;
    char path[256], err[512], why[512];
    json_t *body = json_pack("{s:b}", "healthy", healthy);
    uint32_t load;
    int status;

    if (sl_agent_load(a->o.load_cmd, CHECK_TIMEOUT_MS, &load, why, sizeof(why)) == 0) {
        (void)json_object_set_new(body, "load", json_integer(load));
        if (a->load_failing)
            logf_("load known again: %u", load);
        a->load_failing = false;
    } else if (!a->load_failing) {
        logf_("load unknown (heartbeats carry none until it is back): %s", why);
        a->load_failing = true;
    }
    (void)snprintf(path, sizeof(path), "/v1/agents/%s/heartbeat", a->id);
    if (call(a, "POST", path, body, &r, err, sizeof(err)) != 0) {
        uint32_t w = backoff(a);

        logf_("heartbeat failed: %s; retrying in %.1fs", err, w / 1000.0);
        nap(w);
        return;
    }
    if (r.status == 200 || r.status == 204) {
        if (a->failures > 0)
            logf_("heartbeat ok again id=%s", a->id);
        a->failures = 0;
        take_lease(a, &r);
        sl_http_result_free(&r);
        nap(a->interval_ms);
        return;
    }
    status = r.status;
    server_message(&r, err, sizeof(err));
    sl_http_result_free(&r);
    if (status >= 500 || status == 408 || status == 429) {
        uint32_t w = backoff(a);

        logf_("heartbeat failed: %s; retrying in %.1fs", err, w / 1000.0);
        nap(w);
        return;
    }
    /* 404: the server forgot us (expired, or a restart without our record).
     * Any other refusal: registering again decides, and exits on a 4xx. */
    if (status == 404)
        logf_("server forgot us: re-registering");
    else
        logf_("heartbeat refused: %s; re-registering", err);
    a->id[0] = '\0';
}

static void deregister(struct agent *a)
{
    struct sl_http_result r;
    char path[256], err[512];

    (void)snprintf(path, sizeof(path), "/v1/agents/%s", a->id);
    for (int i = 0; i < DELETE_TRIES; i++) {
        if (call(a, "DELETE", path, NULL, &r, err, sizeof(err)) == 0) {
            int status = r.status;

            if (status >= 200 && status < 300) {
                logf_("deregistered id=%s", a->id);
            } else if (status == 404) {
                logf_("deregistered id=%s (the server had forgotten it)", a->id);
            } else {
                server_message(&r, err, sizeof(err));
                logf_("deregister failed: %s", err);
            }
            sl_http_result_free(&r);
            if (status < 500)
                return;
        } else {
            logf_("deregister failed: %s", err);
        }
        if (i + 1 < DELETE_TRIES) {
            struct timespec ts = {.tv_sec = 0, .tv_nsec = 500000000L};

            (void)nanosleep(&ts, NULL);
        }
    }
    logf_("giving up deregistering id=%s: the lease will expire it", a->id);
}

static const char usage_text[] =
    "usage: sluice agent --server URL --token TOKEN --service SVC --target HOST:PORT\n"
    "                    [--name N] [--label k=v ...] [--location "
    "city=..,country=..,lat=..,lon=..]\n"
    "                    [--load-cmd CMD] [--heartbeat 2s] [--health-path /healthz]\n"
    "                    [--config FILE]\n"
    "Registers HOST:PORT as a backend of SVC with the sluice at URL and keeps it alive:\n"
    "a heartbeat every --heartbeat (default 2s) with the load and the target's health;\n"
    "SIGTERM or SIGINT deregisters it and exits 0.\n"
    "  --token TOKEN      an agent token (sluice token create --scope agent); default\n"
    "                     the config file's token:, else $SLUICE_TOKEN\n"
    "  --name N           the backend's name (default: the server picks one)\n"
    "  --label k=v        a label (repeatable)\n"
    "  --location SPEC    where this host is: city=,country=,lat=,lon= (any of them)\n"
    "  --load-cmd CMD     run with /bin/sh -c before each heartbeat, prints an integer\n"
    "                     (default: the 1-minute load average x 100)\n"
    "  --health-path P    check the target with GET P (2xx/3xx: up) instead of a connect\n"
    "  --config FILE      the same keys in YAML (server:, token:, labels: {k: v},\n"
    "                     location: {city: .., lat: ..}, load-cmd:, ...); flags override it\n";

int sl_cli_agent(int argc, char **argv)
{
    struct agent a = {.target_up = -1};
    struct sigaction sa = {.sa_handler = on_stop};
    char err[512];
    int rc;

    /* The CLI is single-threaded: getenv is safe here. */
    rc = sl_agent_opts_parse(argc, argv, getenv("SLUICE_TOKEN"), // NOLINT(concurrency-mt-unsafe)
                             &a.o, err, sizeof(err));
    if (rc != 0 || a.o.help) {
        if (rc != 0)
            (void)fprintf(stderr, "sluice agent: %s\n\n", err);
        (void)fputs(usage_text, rc != 0 ? stderr : stdout);
        return rc;
    }
    if (sl_url_parse(a.o.server, &a.url, err, sizeof(err)) != 0) {
        (void)fprintf(stderr, "sluice agent: --server %s\n", err);
        return 2;
    }
    a.interval_ms = a.o.heartbeat_ms;
    a.rng = ((uint64_t)time(NULL) << 20) ^ (uint64_t)getpid() ^ 0x9e3779b97f4a7c15ULL;
    (void)sigemptyset(&sa.sa_mask);
    (void)sigaction(SIGTERM, &sa, NULL);
    (void)sigaction(SIGINT, &sa, NULL);
    (void)signal(SIGPIPE, SIG_IGN);
    logf_("starting: service=%s target=%s server=%s", a.o.service, a.o.target, a.o.server);
    while (!stop_signal) {
        bool up = check_target(&a);

        if (a.id[0] != '\0') {
            heartbeat(&a, up);
            continue;
        }
        if (!up) {
            /* Registering a dead server would only put it in rotation. */
            nap(a.interval_ms);
            continue;
        }
        rc = do_register(&a);
        if (rc == 2)
            return 1;
        if (rc == 0)
            nap(a.interval_ms);
    }
    if (a.id[0] == '\0') {
        logf_("signal %d: stopped (not registered)", (int)stop_signal);
        return 0;
    }
    logf_("signal %d: deregistering id=%s", (int)stop_signal, a.id);
    deregister(&a);
    return 0;
}
