/* The admin API client verbs: which verb runs, its help, and where the
 * server and the token come from. */
#include "client.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "control/config.h"
#include "control/control.h"
#include "net/log.h"

#define GLOBAL_OPTS                                                                         \
    "global options (before or after the command):\n"                                       \
    "  --server URL    admin API (default: $SLUICE_SERVER, else -c FILE's admin.bind,\n"    \
    "                  else " SL_CLI_DEFAULT_SERVER ")\n"                                   \
    "  --token TOKEN   API token (default: $SLUICE_TOKEN, else the bootstrap token file:\n" \
    "                  admin.token beside the state store)\n"                               \
    "  -c, --config FILE  the daemon's configuration: its admin.bind and token file\n"      \
    "  --json          print the API's JSON answer\n"                                       \
    "  -h, --help      this help\n"

struct cmd {
    const char *verb, *sub;
    sl_cli_verb_t run;
    size_t min, max; /* operands after verb and sub-verb */
    const char *const *opts;
    const char *usage; /* after "sluice VERB SUB " */
    const char *help;
};

static const char *const no_opts[] = {NULL};
static const char *const query_opts[] = {"--service", "--endpoint", "--selector", NULL};
static const char *const add_opts[] = {"--weight",
                                       "--label",
                                       "--connect-timeout",
                                       "--first-byte-timeout",
                                       "--between-bytes-timeout",
                                       "--override-host",
                                       NULL};
static const char *const ep_opts[] = {"--route", NULL};
static const char *const route_opts[] = {"--selector", "--weight", NULL};
static const char *const token_opts[] = {"--scope", "--name", NULL};

static const struct cmd cmds[] = {
    {"query", NULL, sl_cli_query, 0, 0, query_opts, "[--service S] [--endpoint P] [--selector SEL]",
     "Shows the endpoints with their routes and the backends with their state.\n"
     "  --service S     only this service's backends and the routes to it\n"
     "  --endpoint P    only this endpoint (its pattern)\n"
     "  --selector SEL  only the backends a label selector matches (version=v2,zone!=b)\n"},
    {"backend", "add", sl_cli_backend_add, 3, 3, add_opts,
     "SVC NAME TARGET [--weight N] [--label K=V ...] [--connect-timeout D]\n"
     "       [--first-byte-timeout D] [--between-bytes-timeout D] [--override-host H]",
     "Adds a dynamic backend to service SVC. TARGET is HOST:PORT; durations D as\n"
     "in the configuration (2s, 500ms). --label may be repeated.\n"},
    {"backend", "rm", sl_cli_backend_rm, 2, 2, no_opts, "SVC NAME",
     "Removes a backend: no new requests at once, gone when its connections end.\n"},
    {"backend", "drain", sl_cli_backend_drain, 2, 2, no_opts, "SVC NAME",
     "Stops sending new requests to a backend; its connections finish.\n"},
    {"backend", "undrain", sl_cli_backend_undrain, 2, 2, no_opts, "SVC NAME",
     "Puts a drained backend back in rotation.\n"},
    {"backend", "weight", sl_cli_backend_weight, 3, 3, no_opts, "SVC NAME N",
     "Sets a backend's weight (" SL_CLI_WEIGHT_RANGE ").\n"},
    {"backend", "mark", sl_cli_backend_mark, 3, 3, no_opts, "SVC NAME healthy|unhealthy",
     "Sets a backend's health by hand (as if its checks had said so).\n"},
    {"service", "get", sl_cli_service_get, 1, 1, no_opts, "SVC",
     "Prints a service's snapshot as JSON: its configuration, its name and each\n"
     "backend's run-time fields (strip those before service put: docs/cli.md).\n"},
    {"service", "put", sl_cli_service_put, 2, 2, no_opts, "SVC FILE.json|-",
     "Registers or replaces service SVC from a JSON file (- reads stdin): strategy,\n"
     "health, timeouts, retries, backends, as in the configuration. JSON only (no YAML).\n"},
    {"service", "rm", sl_cli_service_rm, 1, 1, no_opts, "SVC",
     "Unregisters a service (refused while a route or listener names it).\n"},
    {"endpoint", "add", sl_cli_endpoint_add, 1, 1, ep_opts,
     "PATTERN [--route SVC[:SELECTOR][=WEIGHT] ...]",
     "Creates or replaces an endpoint and its routes. A route names a service,\n"
     "optionally a label selector after ':', and a weight (" SL_CLI_WEIGHT_RANGE ") after a\n"
     "final '=' (api:version=v2=10, api=90).\n"},
    {"endpoint", "rm", sl_cli_endpoint_rm, 1, 1, no_opts, "PATTERN", "Removes an endpoint.\n"},
    {"route", "add", sl_cli_route_add, 2, 2, route_opts,
     "PATTERN SVC [--selector SEL] [--weight N]",
     "Adds a route to service SVC to an endpoint and prints its id.\n"},
    {"route", "rm", sl_cli_route_rm, 2, 2, no_opts, "PATTERN ID",
     "Removes route ID (route000, ...) of an endpoint.\n"},
    {"route", "weight", sl_cli_route_weight, 3, 3, no_opts, "PATTERN ID N",
     "Sets one route's weight.\n"},
    {"shape", NULL, sl_cli_shape, 2, SL_CLI_MAX_POS, no_opts, "PATTERN ROUTE=N ...",
     "Sets all of an endpoint's route weights at once: sluice shape /api route000=90\n"
     "route001=10 (every route of the endpoint must be named).\n"},
    {"token", "create", sl_cli_token_create, 0, 0, token_opts,
     "--scope admin|agent|read [--name N]",
     "Creates an API token and prints its secret (shown only this once).\n"},
    {"token", "list", sl_cli_token_list, 0, 0, no_opts, "",
     "Lists the tokens: id, name, scope, created, last used (never secrets).\n"},
    {"token", "revoke", sl_cli_token_revoke, 1, 1, no_opts, "ID",
     "Revokes a token (the last admin token cannot be revoked).\n"},
};
#define NCMDS (sizeof(cmds) / sizeof(cmds[0]))

static void usage_line(FILE *out, const struct cmd *c)
{
    (void)fprintf(out, "usage: sluice %s%s%s %s\n", c->verb, c->sub ? " " : "",
                  c->sub ? c->sub : "", c->usage);
}

/* sluice VERB --help: every sub-verb's usage line (query and shape have
 * none: their one usage line). */
static void verb_help(FILE *out, const char *verb)
{
    bool subs = false;

    for (size_t i = 0; i < NCMDS; i++) {
        if (strcmp(cmds[i].verb, verb) == 0) {
            usage_line(out, &cmds[i]);
            subs |= cmds[i].sub != NULL;
        }
    }
    if (subs)
        (void)fprintf(out, "\n`sluice %s SUBCOMMAND --help` describes one.\n", verb);
    (void)fprintf(out, "\n%s", GLOBAL_OPTS);
}

void sl_cli_client_usage(FILE *out)
{
    const char *last = "";

    for (size_t i = 0; i < NCMDS; i++) {
        if (strcmp(cmds[i].verb, last) == 0)
            continue;
        last = cmds[i].verb;
        if (cmds[i].sub == NULL) {
            (void)fprintf(out, "  %-8s %s\n", cmds[i].verb, cmds[i].usage);
            continue;
        }
        (void)fprintf(out, "  %-8s ", cmds[i].verb);
        for (size_t k = i; k < NCMDS && strcmp(cmds[k].verb, last) == 0; k++)
            (void)fprintf(out, "%s%s", k > i ? "|" : "", cmds[k].sub);
        (void)fprintf(out, " ...\n");
    }
}

bool sl_cli_client_verb(const char *verb)
{
    for (size_t i = 0; i < NCMDS; i++)
        if (strcmp(cmds[i].verb, verb) == 0)
            return true;
    return false;
}

/* Reads the first line of a token file into buf; 0, or -1 with errno. */
static int read_token(const char *path, char *buf, size_t n)
{
    FILE *f = fopen(path, "r");
    size_t len;

    if (f == NULL)
        return -1;
    if (fgets(buf, (int)n, f) == NULL)
        buf[0] = '\0';
    (void)fclose(f);
    len = strcspn(buf, " \t\r\n");
    buf[len] = '\0';
    if (len == 0) {
        errno = ENODATA;
        return -1;
    }
    return 0;
}

/* <rel> against the directory of <file> (unless it is absolute). */
static void beside(char *out, size_t n, const char *file, const char *rel)
{
    const char *slash = strrchr(file, '/');

    if (rel[0] == '/' || slash == NULL)
        (void)snprintf(out, n, "%s", rel);
    else if (slash == file)
        (void)snprintf(out, n, "/%s", rel);
    else
        (void)snprintf(out, n, "%.*s/%s", (int)(slash - file), file, rel);
}

void sl_cli_token_file(const struct sl_config *cfg, char *out, size_t n)
{
    /* config.c already resolved `state` against the config's directory:
     * joining that directory again would double it for a relative -c. */
    beside(out, n, cfg->state != NULL ? cfg->state : "sluice.db",
           cfg->admin.token_file != NULL ? cfg->admin.token_file : "admin.token");
}

/* The server (into c->server unless <server> is given) and the token
 * file of the daemon configured by <path>. 0, or 1 when it cannot be read. */
static int from_config(const char *path, const char *server, struct sl_cli *c, char *token_file,
                       size_t n)
{
    struct sl_config *cfg = NULL;
    struct sl_diag diag;
    const char *b;

    sl_diag_init(&diag);
    if (sl_config_load(path, &cfg, &diag) != 0) {
        for (size_t i = 0; i < diag.n; i++)
            (void)fprintf(stderr, "%s\n", diag.msgs[i]);
        (void)fprintf(stderr, "sluice: cannot read %s for its admin.bind\n", path);
        sl_diag_fini(&diag);
        return 1;
    }
    sl_diag_fini(&diag);
    b = cfg->admin.bind;
    /* A wildcard bind is reached on loopback. */
    if (server != NULL || b == NULL)
        ;
    else if (strncmp(b, "0.0.0.0:", 8) == 0)
        (void)snprintf(c->server, sizeof(c->server), "http://127.0.0.1%s", b + 7);
    else if (strncmp(b, "[::]:", 5) == 0)
        (void)snprintf(c->server, sizeof(c->server), "http://[::1]%s", b + 4);
    else
        (void)snprintf(c->server, sizeof(c->server), "http://%s", b);
    sl_cli_token_file(cfg, token_file, n);
    sl_config_free(cfg);
    return 0;
}

/* Server and token from the options, the environment, -c FILE, the
 * defaults. 0, 1 (an unreadable config) or 2 (no token, a bad URL). */
static int resolve(struct sl_cli *c, const struct sl_cli_args *a)
{
    /* The CLI is single-threaded: getenv is safe here. */
    const char *server =
        a->server ? a->server : getenv("SLUICE_SERVER"); // NOLINT(concurrency-mt-unsafe)
    const char *token =
        a->token ? a->token : getenv("SLUICE_TOKEN"); // NOLINT(concurrency-mt-unsafe)
    char token_file[4096] = "admin.token", err[512];

    if (a->config != NULL && from_config(a->config, server, c, token_file, sizeof(token_file)) != 0)
        return 1;
    if (server != NULL)
        (void)snprintf(c->server, sizeof(c->server), "%s", server);
    else if (c->server[0] == '\0')
        (void)snprintf(c->server, sizeof(c->server), "%s", SL_CLI_DEFAULT_SERVER);
    if (sl_url_parse(c->server, &c->url, err, sizeof(err)) < 0) {
        (void)fprintf(stderr, "sluice: %s\n", err);
        return 2;
    }
    if (token != NULL) {
        (void)snprintf(c->token, sizeof(c->token), "%s", token);
        return 0;
    }
    if (read_token(token_file, c->token, sizeof(c->token)) == 0)
        return 0;
    (void)fprintf(stderr,
                  "sluice: no API token: pass --token TOKEN or set SLUICE_TOKEN "
                  "(%s: %s; the daemon writes its bootstrap admin token there on a first "
                  "start: give -c CONFIG to find it beside the daemon's state)\n",
                  token_file, sl_errstr(errno));
    return 2;
}

/* The command a->pos names: *out, or the exit status when there is none
 * to run (help printed: 0; unknown or missing: 2). -1 when *out is set. */
static int find_cmd(const struct sl_cli_args *a, const struct cmd **out)
{
    bool verb_known = false;

    *out = NULL;
    for (size_t i = 0; i < NCMDS && *out == NULL; i++) {
        if (strcmp(cmds[i].verb, a->pos[0]) != 0)
            continue;
        verb_known = true;
        if (cmds[i].sub == NULL || (a->npos > 1 && strcmp(cmds[i].sub, a->pos[1]) == 0))
            *out = &cmds[i];
    }
    if (*out != NULL)
        return -1;
    if (!verb_known) {
        (void)fprintf(stderr, "sluice: unknown command '%s' (see sluice --help)\n", a->pos[0]);
        return 2;
    }
    if (a->help && a->npos == 1) {
        verb_help(stdout, a->pos[0]);
        return 0;
    }
    if (a->npos > 1)
        (void)fprintf(stderr, "sluice %s: unknown subcommand '%s'\n\n", a->pos[0], a->pos[1]);
    else
        (void)fprintf(stderr, "sluice %s: missing subcommand\n\n", a->pos[0]);
    verb_help(stderr, a->pos[0]);
    return 2;
}

/* 0 when cmd's options and operand count fit, else 2 with the usage. */
static int check_cmd(const struct cmd *cmd, const struct sl_cli_args *a, size_t skip)
{
    char err[512] = "";

    if (sl_cli_opts_check(a, cmd->opts, err, sizeof(err)) < 0)
        ; /* err says which */
    else if (a->npos - skip < cmd->min)
        (void)snprintf(err, sizeof(err), "missing argument");
    else if (a->npos - skip > cmd->max)
        (void)snprintf(err, sizeof(err), "unexpected argument '%s'", a->pos[skip + cmd->max]);
    if (err[0] == '\0')
        return 0;
    (void)fprintf(stderr, "sluice %s%s%s: %s\n", cmd->verb, cmd->sub ? " " : "",
                  cmd->sub ? cmd->sub : "", err);
    usage_line(stderr, cmd);
    return 2;
}

int sl_cli_client(int argc, char **argv)
{
    struct sl_cli_args a;
    struct sl_cli c = {.timeout_ms = SL_CLI_TIMEOUT_MS};
    const struct cmd *cmd;
    char err[512];
    size_t skip;
    int rc;

    if (sl_cli_args_parse(argc, argv, &a, err, sizeof(err)) < 0) {
        (void)fprintf(stderr, "sluice: %s\n", err);
        if (a.npos > 0 && sl_cli_client_verb(a.pos[0]))
            verb_help(stderr, a.pos[0]);
        return 2;
    }
    if (a.npos == 0) {
        (void)fprintf(stderr, "sluice: missing command (see sluice --help)\n");
        return a.help ? 0 : 2;
    }
    rc = find_cmd(&a, &cmd);
    if (rc >= 0)
        return rc;
    if (a.help) {
        usage_line(stdout, cmd);
        (void)fprintf(stdout, "\n%s\n%s", cmd->help, GLOBAL_OPTS);
        return 0;
    }
    skip = cmd->sub ? 2 : 1;
    rc = check_cmd(cmd, &a, skip);
    if (rc == 0)
        rc = resolve(&c, &a);
    if (rc != 0)
        return rc;
    c.json = a.json;
    return cmd->run(&c, &a, a.pos + skip, a.npos - skip);
}
