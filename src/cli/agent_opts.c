/* sluice agent's options: flags, and the same keys from a YAML file. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"
#include "control/control.h"
#include "control/scalar.h"
#include "control/ytree.h"

/* Copies <v> into dst[n]; -1 when it does not fit or is empty. */
static int copy(char *dst, size_t n, const char *v)
{
    size_t len = strlen(v);

    if (len == 0 || len >= n)
        return -1;
    memcpy(dst, v, len + 1);
    return 0;
}

int sl_agent_opts_label(struct sl_agent_opts *o, const char *kv, char *err, size_t errlen)
{
    const char *eq = strchr(kv, '=');
    size_t klen = eq ? (size_t)(eq - kv) : 0;
    size_t i;

    if (eq == NULL || klen == 0 || klen >= sizeof(o->labels[0].key) ||
        strlen(eq + 1) >= sizeof(o->labels[0].value)) {
        (void)snprintf(err, errlen, "--label %s: expected KEY=VALUE (key up to 127 bytes)", kv);
        return -1;
    }
    for (i = 0; i < o->nlabels; i++)
        if (strlen(o->labels[i].key) == klen && strncmp(o->labels[i].key, kv, klen) == 0)
            break;
    if (i == SL_AGENT_MAX_LABELS) {
        (void)snprintf(err, errlen, "--label %s: at most %d labels", kv, SL_AGENT_MAX_LABELS);
        return -1;
    }
    memcpy(o->labels[i].key, kv, klen);
    o->labels[i].key[klen] = '\0';
    (void)snprintf(o->labels[i].value, sizeof(o->labels[i].value), "%s", eq + 1);
    if (i == o->nlabels)
        o->nlabels++;
    return 0;
}

static int parse_coord(const char *v, double lo, double hi, double *out)
{
    char *end;
    double d;

    errno = 0;
    d = strtod(v, &end);
    if (errno != 0 || end == v || *end != '\0' || d < lo || d > hi)
        return -1;
    *out = d;
    return 0;
}

/* One "key=value" of a location. */
static int location_field(struct sl_agent_opts *o, const char *k, size_t klen, const char *v)
{
    if (klen == 4 && strncmp(k, "city", 4) == 0)
        return copy(o->city, sizeof(o->city), v);
    if (klen == 7 && strncmp(k, "country", 7) == 0)
        return copy(o->country, sizeof(o->country), v);
    if (klen == 3 && strncmp(k, "lat", 3) == 0) {
        o->has_lat = parse_coord(v, -90, 90, &o->lat) == 0;
        return o->has_lat ? 0 : -1;
    }
    if (klen == 3 && strncmp(k, "lon", 3) == 0) {
        o->has_lon = parse_coord(v, -180, 180, &o->lon) == 0;
        return o->has_lon ? 0 : -1;
    }
    return -1;
}

int sl_agent_opts_location(struct sl_agent_opts *o, const char *spec, char *err, size_t errlen)
{
    char buf[1024];
    char *save = NULL;

    if (strlen(spec) >= sizeof(buf))
        goto bad;
    memcpy(buf, spec, strlen(spec) + 1);
    for (char *f = strtok_r(buf, ",", &save); f != NULL; f = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(f, '=');

        if (eq == NULL || location_field(o, f, (size_t)(eq - f), eq + 1) != 0)
            goto bad;
    }
    return 0;
bad:
    (void)snprintf(err, errlen,
                   "--location %s: expected city=NAME,country=CODE,lat=-90..90,lon=-180..180 "
                   "(any of them)",
                   spec);
    return -1;
}

/* One option and its value, from a flag or the config file. 0, -1. */
static int set_opt(struct sl_agent_opts *o, const char *name, const char *v, char *err,
                   size_t errlen)
{
    static const struct {
        const char *name;
        size_t off, size;
    } strs[] = {
        {"server", offsetof(struct sl_agent_opts, server),
         sizeof(((struct sl_agent_opts *)0)->server)},
        {"token", offsetof(struct sl_agent_opts, token),
         sizeof(((struct sl_agent_opts *)0)->token)},
        {"service", offsetof(struct sl_agent_opts, service),
         sizeof(((struct sl_agent_opts *)0)->service)},
        {"target", offsetof(struct sl_agent_opts, target),
         sizeof(((struct sl_agent_opts *)0)->target)},
        {"name", offsetof(struct sl_agent_opts, name), sizeof(((struct sl_agent_opts *)0)->name)},
        {"load-cmd", offsetof(struct sl_agent_opts, load_cmd),
         sizeof(((struct sl_agent_opts *)0)->load_cmd)},
        {"health-path", offsetof(struct sl_agent_opts, health_path),
         sizeof(((struct sl_agent_opts *)0)->health_path)},
    };

    if (strcmp(name, "label") == 0)
        return sl_agent_opts_label(o, v, err, errlen);
    if (strcmp(name, "location") == 0)
        return sl_agent_opts_location(o, v, err, errlen);
    if (strcmp(name, "heartbeat") == 0) {
        if (sl_scalar_parse_duration(v, &o->heartbeat_ms) == 0 && o->heartbeat_ms >= 100 &&
            o->heartbeat_ms <= 3600000)
            return 0;
        (void)snprintf(err, errlen, "--heartbeat %s: expected a duration from 100ms to 1h (2s)", v);
        return -1;
    }
    for (size_t i = 0; i < sizeof(strs) / sizeof(strs[0]); i++) {
        if (strcmp(name, strs[i].name) != 0)
            continue;
        if (copy((char *)o + strs[i].off, strs[i].size, v) == 0) {
            if (strcmp(name, "health-path") != 0 || v[0] == '/')
                return 0;
        }
        (void)snprintf(err, errlen, "--%s %s: %s", name, v,
                       strcmp(name, "health-path") == 0 ? "expected a path starting with /"
                                                        : "empty or too long");
        return -1;
    }
    (void)snprintf(err, errlen, "unknown option --%s (see sluice agent --help)", name);
    return -1;
}

/* A YAML scalar's text, or NULL with a message when <n> is not one. */
static const char *scalar(const char *file, const char *key, const struct sl_ynode *n, char *err,
                          size_t errlen)
{
    if (n->type == SL_Y_SCALAR)
        return n->str;
    (void)snprintf(err, errlen, "%s:%d: %s: expected a scalar, not a %s", file, n->line, key,
                   sl_ynode_type_name(n));
    return NULL;
}

/* "labels" as a map or a list of "k=v"; "location" as a map or one string. */
static int config_compound(struct sl_agent_opts *o, const char *file, const char *key,
                           const struct sl_ynode *v, char *err, size_t errlen)
{
    char kv[512];

    if (v->type == SL_Y_SCALAR)
        return set_opt(o, strcmp(key, "labels") == 0 ? "label" : "location", v->str, err, errlen);
    for (size_t i = 0; i < v->n; i += (v->type == SL_Y_MAP ? 2 : 1)) {
        const char *k = v->type == SL_Y_MAP ? scalar(file, key, v->items[i], err, errlen) : NULL;
        const char *val = scalar(file, key, v->items[v->type == SL_Y_MAP ? i + 1 : i], err, errlen);

        if (val == NULL || (v->type == SL_Y_MAP && k == NULL))
            return -1;
        if (k != NULL)
            (void)snprintf(kv, sizeof(kv), "%s=%s", k, val);
        else
            (void)snprintf(kv, sizeof(kv), "%s", val);
        if (set_opt(o, strcmp(key, "labels") == 0 ? "label" : "location", kv, err, errlen) != 0)
            return -1;
    }
    return 0;
}

/* One top-level key of the file: the flag of that name, "labels" or
 * "location". Errors carry "FILE:LINE: ". */
static int config_key(struct sl_agent_opts *o, const char *file, const struct sl_ynode *k,
                      const struct sl_ynode *v, char *err, size_t errlen)
{
    char key[64], inner[512];
    const char *text;

    (void)snprintf(key, sizeof(key), "%s", k->str);
    for (char *p = key; *p; p++)
        if (*p == '_')
            *p = '-'; /* load_cmd or load-cmd */
    if (strcmp(key, "labels") == 0 || strcmp(key, "location") == 0)
        return config_compound(o, file, key, v, err, errlen);
    if (strcmp(key, "label") == 0 || strcmp(key, "config") == 0) {
        (void)snprintf(err, errlen, "%s:%d: unknown key %s", file, k->line, key);
        return -1;
    }
    text = scalar(file, key, v, err, errlen);
    if (text == NULL)
        return -1;
    if (set_opt(o, key, text, err, errlen) == 0)
        return 0;
    (void)snprintf(inner, sizeof(inner), "%s", err);
    (void)snprintf(err, errlen, "%s:%d: %s", file, k->line, inner);
    return -1;
}

static int load_config(const char *file, struct sl_agent_opts *o, char *err, size_t errlen)
{
    struct sl_ynode *root = NULL;
    struct sl_diag diag;
    int rc = -1;

    sl_diag_init(&diag);
    if (sl_ytree_load(file, &root, &diag) != 0) {
        (void)snprintf(err, errlen, "%s", diag.n > 0 ? diag.msgs[0] : file);
        goto out;
    }
    if (root != NULL && root->type != SL_Y_MAP) {
        (void)snprintf(err, errlen, "%s: expected a map of agent options", file);
        goto out;
    }
    for (size_t i = 0; root != NULL && i < root->n; i += 2)
        if (config_key(o, file, root->items[i], root->items[i + 1], err, errlen) != 0)
            goto out;
    rc = 0;
out:
    sl_ytree_free(root);
    sl_diag_fini(&diag);
    return rc;
}

/* "--x=V" or "--x V": the name without dashes into name[], the value. */
static int split_flag(int argc, char **argv, int *i, char *name, size_t n, const char **val)
{
    const char *a = argv[*i] + 2, *eq = strchr(a, '=');
    size_t len = eq ? (size_t)(eq - a) : strlen(a);

    if (len >= n)
        return -1;
    memcpy(name, a, len);
    name[len] = '\0';
    if (eq != NULL) {
        *val = eq + 1;
        return 0;
    }
    if (*i + 1 >= argc)
        return -1;
    *val = argv[++*i];
    return 0;
}

int sl_agent_opts_parse(int argc, char **argv, const char *env_token, struct sl_agent_opts *o,
                        char *err, size_t errlen)
{
    char name[64];
    const char *val;

    memset(o, 0, sizeof(*o));
    o->heartbeat_ms = SL_AGENT_HEARTBEAT_MS;
    /* The file first, wherever --config stands, so that flags override it. */
    for (int i = 1; i < argc; i++) {
        if (strncmp(argv[i], "--config", 8) != 0 || (argv[i][8] != '\0' && argv[i][8] != '='))
            continue;
        if (split_flag(argc, argv, &i, name, sizeof(name), &val) != 0) {
            (void)snprintf(err, errlen, "--config needs a FILE");
            return 2;
        }
        if (load_config(val, o, err, errlen) != 0)
            return 2;
    }
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            o->help = true;
            return 0;
        }
        if (strncmp(argv[i], "--", 2) != 0) {
            (void)snprintf(err, errlen, "unexpected argument '%s' (see sluice agent --help)",
                           argv[i]);
            return 2;
        }
        if (split_flag(argc, argv, &i, name, sizeof(name), &val) != 0) {
            (void)snprintf(err, errlen, "%s needs a value", argv[i]);
            return 2;
        }
        if (strcmp(name, "config") != 0 && set_opt(o, name, val, err, errlen) != 0)
            return 2;
    }
    if (o->token[0] == '\0' && env_token != NULL && env_token[0] != '\0')
        (void)copy(o->token, sizeof(o->token), env_token);
    if (o->server[0] == '\0' || o->service[0] == '\0' || o->target[0] == '\0') {
        (void)snprintf(err, errlen,
                       "--server, --service and --target are required "
                       "(flags or --config FILE)");
        return 2;
    }
    if (o->token[0] == '\0') {
        (void)snprintf(err, errlen,
                       "no token: pass --token TOKEN, set SLUICE_TOKEN or put "
                       "token: in --config FILE (sluice token create --scope agent)");
        return 2;
    }
    return 0;
}
