/* The admin API client verbs (query, backend, service, endpoint, route,
 * shape, token): what their files share. Layering inside src/cli:
 * client.c (dispatch, help) -> client_{query,backend,endpoint,token}.c
 * (one verb family each) -> client_call.c (one API call, its errors) ->
 * http_client.c; client_args.c and client_table.c are pure helpers. */
#ifndef SL_CLI_CLIENT_H
#define SL_CLI_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include <jansson.h>

#include "http_client.h"

#define SL_CLI_DEFAULT_SERVER "http://127.0.0.1:9090"
#define SL_CLI_TIMEOUT_MS     10000
#define SL_CLI_MAX_POS        64
#define SL_CLI_MAX_OPTS       64
/* A backend's or a route's weight: the configuration's range (config.c). */
#define SL_CLI_MAX_WEIGHT   10000
#define SL_CLI_WEIGHT_RANGE "0..10000"

/* ---- client_args.c: the command line, pure */

struct sl_cli_opt {
    const char *name; /* "--weight" */
    const char *value;
};

struct sl_cli_args {
    const char *server, *token, *config; /* NULL when not given */
    bool json, help;
    const char *pos[SL_CLI_MAX_POS]; /* verb, sub-verb, then the verb's operands */
    size_t npos;
    struct sl_cli_opt opts[SL_CLI_MAX_OPTS]; /* the verb's own options, in order */
    size_t nopts;
};

/* Splits argv[1..argc) (argv[0] is the program) into global options,
 * which may come before or after the verb (--server URL, --token T,
 * -c/--config FILE, --json, -h/--help), the verb's options (every other
 * "--name VALUE" or "--name=VALUE": they all take a value) and operands.
 * "--" ends the options. 0, or -1 with a message in err (a usage error). */
int sl_cli_args_parse(int argc, char **argv, struct sl_cli_args *a, char *err, size_t errlen);
/* The last value of option <name>, or NULL. */
const char *sl_cli_opt(const struct sl_cli_args *a, const char *name);
/* 0 when every verb option is one of <allowed> (NULL-terminated), else -1
 * with err naming the first that is not. */
int sl_cli_opts_check(const struct sl_cli_args *a, const char *const *allowed, char *err,
                      size_t errlen);
/* A decimal integer in [min, max]: 0 or -1. */
int sl_cli_int(const char *s, long long min, long long max, long long *out);
/* Percent-encodes everything but RFC 3986 unreserved characters, so that a
 * pattern ("example.com/blog") is one path segment. malloc'd or NULL. */
char *sl_cli_urlencode(const char *s);
/* "SVC[:SELECTOR][=WEIGHT]" (SVC is required: the API has no selector-only
 * routes; the weight in 0..SL_CLI_MAX_WEIGHT).
 * The weight is a trailing "=DIGITS" that leaves a complete selector (the
 * last term still has its "=" or "!="), so "api:version=v2=10" is
 * selector "version=v2" weight 10 and "api:version=10" selector
 * "version=10". Writes into a JSON object {service, selector, weight};
 * 0 or -1 with err set. */
int sl_cli_route_spec(const char *spec, json_t *route, char *err, size_t errlen);

/* ---- client_table.c: aligned text tables, pure */

struct sl_cli_table {
    size_t ncols, nrows, cap;
    char **cells; /* nrows * ncols, row 0 the headings */
};

int sl_cli_table_init(struct sl_cli_table *t, size_t ncols, const char *const *headings);
/* Copies ncols strings (NULL prints "-"). 0 or -1 (out of memory). */
int sl_cli_table_add(struct sl_cli_table *t, const char *const *row);
/* Columns padded to their widest cell, two spaces apart, no trailing
 * blanks. */
void sl_cli_table_print(const struct sl_cli_table *t, FILE *out);
void sl_cli_table_free(struct sl_cli_table *t);
/* A JSON value as a cell: strings as they are, numbers in their shortest
 * form, true/false, arrays joined with ",", objects as k=v,k=v; NULL or
 * null as "-". Writes buf[n] and returns buf. */
const char *sl_cli_cell(const json_t *v, char *buf, size_t n);
/* Unix seconds (a JSON integer) as "YYYY-MM-DD HH:MM:SS" UTC, 0 as
 * <zero>; anything else as sl_cli_cell. */
const char *sl_cli_cell_time(const json_t *v, const char *zero, char *buf, size_t n);
/* A rate (a JSON number) with one decimal, "12.5"; else as sl_cli_cell. */
const char *sl_cli_cell_rate(const json_t *v, char *buf, size_t n);
/* An agent's location object as "CITY, CC": the city and the country code
 * (or name) when known, either alone, else "LAT,LON", else "-" (null, no
 * location). */
const char *sl_cli_cell_location(const json_t *loc, char *buf, size_t n);

/* ---- client_call.c: one API call */

struct sl_cli {
    struct sl_url url;
    char server[512]; /* as given, for messages */
    char token[512];  /* "" only for calls that need none */
    bool json;
    int timeout_ms;
};

/* Sends <method> <path> with <body> (stolen; NULL: none). 0 on a 2xx with
 * *out the JSON answer (NULL for an empty body; caller decrefs; out may be
 * NULL), or 1 with the reason printed on stderr: the API's error
 * ("sluice: 409 name_in_use: ...") or why the server was not reached. */
int sl_cli_call(const struct sl_cli *c, const char *method, const char *path, json_t *body,
                json_t **out);
/* A change: sl_cli_call, then on success sl_cli_done with <msg>. */
int sl_cli_change(const struct sl_cli *c, const char *method, const char *path, json_t *body,
                  const char *msg);
/* Prints <v> as indented JSON on stdout (nothing for NULL). */
void sl_cli_print_json(const json_t *v);
/* After a successful change: --json prints the answer, else <msg>. */
void sl_cli_done(const struct sl_cli *c, const json_t *answer, const char *msg);

/* ---- the verbs: pos are the operands after the verb (and sub-verb) */

typedef int (*sl_cli_verb_t)(const struct sl_cli *c, const struct sl_cli_args *a,
                             const char *const *pos, size_t npos);

int sl_cli_query(const struct sl_cli *c, const struct sl_cli_args *a, const char *const *pos,
                 size_t npos);
int sl_cli_backend_add(const struct sl_cli *c, const struct sl_cli_args *a, const char *const *pos,
                       size_t npos);
int sl_cli_backend_rm(const struct sl_cli *c, const struct sl_cli_args *a, const char *const *pos,
                      size_t npos);
int sl_cli_backend_drain(const struct sl_cli *c, const struct sl_cli_args *a,
                         const char *const *pos, size_t npos);
int sl_cli_backend_undrain(const struct sl_cli *c, const struct sl_cli_args *a,
                           const char *const *pos, size_t npos);
int sl_cli_backend_weight(const struct sl_cli *c, const struct sl_cli_args *a,
                          const char *const *pos, size_t npos);
int sl_cli_backend_mark(const struct sl_cli *c, const struct sl_cli_args *a, const char *const *pos,
                        size_t npos);
int sl_cli_service_get(const struct sl_cli *c, const struct sl_cli_args *a, const char *const *pos,
                       size_t npos);
int sl_cli_service_put(const struct sl_cli *c, const struct sl_cli_args *a, const char *const *pos,
                       size_t npos);
int sl_cli_service_rm(const struct sl_cli *c, const struct sl_cli_args *a, const char *const *pos,
                      size_t npos);
int sl_cli_endpoint_add(const struct sl_cli *c, const struct sl_cli_args *a, const char *const *pos,
                        size_t npos);
int sl_cli_endpoint_rm(const struct sl_cli *c, const struct sl_cli_args *a, const char *const *pos,
                       size_t npos);
int sl_cli_route_add(const struct sl_cli *c, const struct sl_cli_args *a, const char *const *pos,
                     size_t npos);
int sl_cli_route_rm(const struct sl_cli *c, const struct sl_cli_args *a, const char *const *pos,
                    size_t npos);
int sl_cli_route_weight(const struct sl_cli *c, const struct sl_cli_args *a, const char *const *pos,
                        size_t npos);
int sl_cli_shape(const struct sl_cli *c, const struct sl_cli_args *a, const char *const *pos,
                 size_t npos);
int sl_cli_token_create(const struct sl_cli *c, const struct sl_cli_args *a, const char *const *pos,
                        size_t npos);
int sl_cli_token_list(const struct sl_cli *c, const struct sl_cli_args *a, const char *const *pos,
                      size_t npos);
int sl_cli_token_revoke(const struct sl_cli *c, const struct sl_cli_args *a, const char *const *pos,
                        size_t npos);

#endif /* SL_CLI_CLIENT_H */
