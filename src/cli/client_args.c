/* The client verbs' command line: global and verb options, operands,
 * numbers, URL encoding, route specs. Pure: no I/O. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client.h"

/* Global options that take a value, and where it goes. */
static const char **global_slot(struct sl_cli_args *a, const char *name)
{
    if (strcmp(name, "--server") == 0)
        return &a->server;
    if (strcmp(name, "--token") == 0)
        return &a->token;
    if (strcmp(name, "-c") == 0 || strcmp(name, "--config") == 0)
        return &a->config;
    return NULL;
}

/* One "--name[=VALUE]" at argv[*i] (it takes a value: the next argument
 * when there is no '='), into a global slot or the verb's options. A verb
 * option last on the line gets a NULL value: sl_cli_opts_check() then says
 * whether it is unknown or needs one. 0 or -1 with err set. */
static int parse_option(int argc, char **argv, int *i, struct sl_cli_args *a, char *err,
                        size_t errlen)
{
    char *arg = argv[*i], *eq = strchr(arg, '=');
    const char *value, **slot;
    char name[64];

    if (arg[1] != '-' && strcmp(arg, "-c") != 0) {
        (void)snprintf(err, errlen, "unknown option '%s'", arg);
        return -1;
    }
    if (eq != NULL && arg[1] == '-') {
        if ((size_t)(eq - arg) >= sizeof(name)) {
            (void)snprintf(err, errlen, "unknown option '%s'", arg);
            return -1;
        }
        memcpy(name, arg, (size_t)(eq - arg));
        name[eq - arg] = '\0';
        value = eq + 1;
    } else {
        eq = NULL;
        (void)snprintf(name, sizeof(name), "%s", arg);
        value = *i + 1 < argc ? argv[++*i] : NULL;
    }
    slot = global_slot(a, name);
    if (slot != NULL && value == NULL) {
        (void)snprintf(err, errlen, "option '%s' needs a value", arg);
        return -1;
    }
    if (slot != NULL) {
        *slot = value;
        return 0;
    }
    if (a->nopts == SL_CLI_MAX_OPTS) {
        (void)snprintf(err, errlen, "too many options");
        return -1;
    }
    if (eq != NULL)
        *eq = '\0'; /* the name must outlive this call: end it in argv, ours to write */
    a->opts[a->nopts].name = arg;
    a->opts[a->nopts].value = value;
    a->nopts++;
    return 0;
}

int sl_cli_args_parse(int argc, char **argv, struct sl_cli_args *a, char *err, size_t errlen)
{
    bool options = true;

    memset(a, 0, sizeof(*a));
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];

        if (!options || arg[0] != '-' || arg[1] == '\0') {
            if (a->npos == SL_CLI_MAX_POS) {
                (void)snprintf(err, errlen, "too many arguments");
                return -1;
            }
            a->pos[a->npos++] = arg;
        } else if (strcmp(arg, "--") == 0) {
            options = false;
        } else if (strcmp(arg, "--json") == 0) {
            a->json = true;
        } else if (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0) {
            a->help = true;
        } else if (parse_option(argc, argv, &i, a, err, errlen) < 0) {
            return -1;
        }
    }
    return 0;
}

const char *sl_cli_opt(const struct sl_cli_args *a, const char *name)
{
    const char *v = NULL;

    for (size_t i = 0; i < a->nopts; i++)
        if (strcmp(a->opts[i].name, name) == 0)
            v = a->opts[i].value;
    return v;
}

int sl_cli_opts_check(const struct sl_cli_args *a, const char *const *allowed, char *err,
                      size_t errlen)
{
    for (size_t i = 0; i < a->nopts; i++) {
        size_t k = 0;

        while (allowed != NULL && allowed[k] != NULL && strcmp(allowed[k], a->opts[i].name) != 0)
            k++;
        if (allowed == NULL || allowed[k] == NULL) {
            (void)snprintf(err, errlen, "unknown option '%s'", a->opts[i].name);
            return -1;
        }
        if (a->opts[i].value == NULL) {
            (void)snprintf(err, errlen, "option '%s' needs a value", a->opts[i].name);
            return -1;
        }
    }
    return 0;
}

int sl_cli_int(const char *s, long long min, long long max, long long *out)
{
    char *end;
    long long v;

    if (s == NULL || *s == '\0' || (*s != '-' && (*s < '0' || *s > '9')))
        return -1;
    errno = 0;
    v = strtoll(s, &end, 10);
    if (errno != 0 || *end != '\0' || v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

char *sl_cli_urlencode(const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t n = strlen(s);
    char *out = malloc(n * 3 + 1), *o = out;

    if (out == NULL)
        return NULL;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
            *p == '-' || *p == '.' || *p == '_' || *p == '~') {
            *o++ = (char)*p;
        } else {
            *o++ = '%';
            *o++ = hex[*p >> 4];
            *o++ = hex[*p & 15];
        }
    }
    *o = '\0';
    return out;
}

/* Whether the last comma-separated term of sel[0..n) has an operator. */
static int last_term_complete(const char *sel, size_t n)
{
    size_t start = n;

    while (start > 0 && sel[start - 1] != ',')
        start--;
    return memchr(sel + start, '=', n - start) != NULL;
}

int sl_cli_route_spec(const char *spec, json_t *route, char *err, size_t errlen)
{
    const char *colon = strchr(spec, ':');
    const char *rest = colon ? colon + 1 : spec + strlen(spec);
    const char *last_eq = strrchr(spec, '=');
    size_t svc_len = colon ? (size_t)(colon - spec) : strlen(spec);
    size_t sel_len = strlen(rest);
    long long w;
    int rc = 0;

    if (last_eq != NULL && sl_cli_int(last_eq + 1, 0, LLONG_MAX, &w) == 0 &&
        (colon == NULL || last_eq < colon || last_term_complete(rest, (size_t)(last_eq - rest)))) {
        if (colon == NULL || last_eq < colon)
            svc_len = (size_t)(last_eq - spec);
        else
            sel_len = (size_t)(last_eq - rest);
        if (w > SL_CLI_MAX_WEIGHT) {
            (void)snprintf(err, errlen,
                           "route '%s': the weight is not an integer in " SL_CLI_WEIGHT_RANGE,
                           spec);
            return -1;
        }
        rc |= json_object_set_new(route, "weight", json_integer(w));
    }
    if (colon != NULL && last_eq != NULL && last_eq < colon) {
        (void)snprintf(err, errlen, "route '%s': the weight comes last (SVC[:SELECTOR][=WEIGHT])",
                       spec);
        return -1;
    }
    /* The API refuses selector-only routes: say so before calling it. */
    if (svc_len == 0) {
        (void)snprintf(err, errlen, "route '%s': needs a service (SVC[:SELECTOR][=WEIGHT])", spec);
        return -1;
    }
    rc |= json_object_set_new(route, "service", json_stringn(spec, svc_len));
    if (colon != NULL && sel_len > 0)
        rc |= json_object_set_new(route, "selector", json_stringn(rest, sel_len));
    if (rc != 0) {
        (void)snprintf(err, errlen, "out of memory");
        return -1;
    }
    return 0;
}
