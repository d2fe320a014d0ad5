/* The configuration model: what a YAML file says once every field has been
 * checked (config_*.c). Plain data owned by struct sl_config; control
 * thread only. Durations are milliseconds, sizes bytes. */
#ifndef SL_CONTROL_CONFIG_H
#define SL_CONTROL_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "control/control.h"
#include "http/router.h"
#include "sluice.h"

enum sl_check_kind { SL_CHECK_NONE = 0, SL_CHECK_TCP, SL_CHECK_HTTP };

struct sl_cfg_listener {
    char *name;
    char *bind; /* sl_sock_normalize_bind(): ":80" and "*:80" become "0.0.0.0:80" */
    enum sl_listen_mode mode;
    char *service; /* tcp mode only */
    uint32_t header_timeout_ms;
    uint32_t idle_timeout_ms;
    uint32_t body_timeout_ms; /* between two reads of a request body */
    uint32_t max_header_size;
    uint32_t min_body_rate; /* bytes/s averaged over the body; 0: off */
    uint64_t max_body_size; /* bytes; 0: unlimited */
    int line;
};

struct sl_cfg_label {
    char *key;
    char *value;
};

struct sl_cfg_backend {
    char *name;
    char *target;
    uint32_t weight;             /* as configured, also while drained */
    bool drain;                  /* weight 0 in the lb, configured weight kept */
    uint32_t connect_timeout_ms; /* 0: the service's */
    uint32_t first_byte_timeout_ms;
    uint32_t between_bytes_timeout_ms;
    char *override_host;         /* NULL: keep the client's Host */
    struct sl_cfg_label *labels; /* sorted by key */
    size_t nlabels;
    int line;
};

/* One accepted status range of an http check: "200-399", or "204" (lo == hi). */
struct sl_cfg_status_range {
    uint16_t lo, hi;
};

struct sl_cfg_health {
    enum sl_check_kind check;
    char *method; /* http: default "GET" */
    char *path;   /* http: probe path, default "/" */
    char *host;   /* http: Host header; NULL: the backend's (override_host, else target) */
    struct sl_cfg_status_range *expect; /* http: accepted statuses, default one range 200-399 */
    size_t nexpect;
    char *body;                /* http: substring the body must contain; NULL: any body */
    uint32_t interval_ms;      /* default 2000 */
    uint32_t down_interval_ms; /* while the backend is unusable; default interval / 2 */
    uint32_t timeout_ms;       /* default 1000 */
    sluice_score_opts_t score; /* after rise/fall were mapped into it */
    bool score_set;            /* the file gave health.score, rise or fall */
    uint32_t rise, fall;       /* as written (0: not given); already mapped into score */
    int line;
};

/* Passive health and what it may do (service key `passive`). */
struct sl_cfg_passive {
    bool on_5xx;           /* `5xx: true`: a 5xx response counts as a failure; default false */
    uint32_t eject_ms;     /* `eject`: first ejection backoff; default 5000; 0: no backoff */
    uint32_t eject_max_ms; /* `eject_max`: the doubling stops here; default 300000 */
};

struct sl_cfg_provider {
    bool present;
    char *type; /* "process" */
    char **command;
    size_t ncommand;
    uint32_t min_instances;      /* default 0 */
    uint32_t max_instances;      /* default 1 */
    uint32_t target_concurrency; /* default 10 */
    uint32_t idle_timeout_ms;    /* default 60000 */
    uint32_t start_timeout_ms;   /* default 10000 */
    int line;
};

struct sl_cfg_service {
    char *name;
    sluice_strategy_t strategy; /* default round_robin */
    enum sl_hash_key hash_key;  /* SL_HASH_NONE unless maglev/ring_hash (default source_ip) */
    char *hash_key_name;        /* header or cookie name */
    struct sl_cfg_health health;
    struct sl_cfg_passive passive;
    uint32_t panic_threshold;     /* percent; default 50; 0: panic off */
    uint32_t slow_start_ms;       /* default 0: off */
    uint32_t connect_timeout_ms;  /* default 2000 */
    uint32_t response_timeout_ms; /* default 30000 */
    uint32_t idle_timeout_ms;     /* default 60000 */
    uint32_t retries;             /* default 2 */
    struct sl_cfg_backend *backends;
    size_t nbackends;
    struct sl_cfg_provider provider;
    uint32_t queue_timeout_ms;    /* default 15000 */
    uint32_t buffer_request_body; /* bytes read before a backend is chosen; 0: off */
    int line;
};

struct sl_cfg_route {
    char *id; /* given, or route000... by position */
    char *service;
    char *selector;  /* "" when none */
    uint32_t weight; /* default 1 */
    int line;
};

struct sl_cfg_endpoint {
    char *pattern; /* as written */
    enum sl_host_match host_match;
    char *host; /* lower-case; WILDCARD: ".example.com"; ANY: "" */
    char *path; /* "/" or a prefix without trailing slash */
    struct sl_cfg_route *routes;
    size_t nroutes;
    int line;
};

struct sl_config {
    char *path;                /* the file it came from */
    unsigned workers;          /* 0: auto */
    uint32_t drain_timeout_ms; /* default 10000 */
    struct {
        char *bind;            /* NULL: no admin API */
        bool dynamic_backends; /* default true */
        char *token_file;      /* NULL: none */
        bool metrics_public;   /* GET /metrics without a token; default false */
    } admin;
    char *state; /* the store's path: `state`, default sluice.db, beside the file */
    struct {
        uint32_t lease_ms;  /* default 10000 */
        uint32_t expire_ms; /* default 300000 */
        char *geoip_db;     /* NULL: no lookup; else resolved like state */
    } agents;
    struct sl_cfg_listener *listeners;
    size_t nlisteners;
    struct sl_cfg_service *services; /* in file order */
    size_t nservices;
    struct sl_cfg_endpoint *endpoints; /* in file order */
    size_t nendpoints;
};

/* Reads and validates <path> into *<out> (a fresh model; free it with
 * sl_config_free()). Every error found goes to <diag> as "FILE:LINE: ...",
 * warnings as "warning: FILE:LINE: ...". Returns 0 (warnings allowed),
 * SLUICE_ERR_CONFIG, SLUICE_ERR_IO or SLUICE_ERR_NOMEM; *out is written
 * only on success. */
int sl_config_load(const char *path, struct sl_config **out, struct sl_diag *diag);
void sl_config_free(struct sl_config *cfg);

/* The same from a tree already parsed (control/ytree.h), e.g. the file's
 * with the admin API's overlay merged in: every rule is the file's. Nodes
 * with line 0 (from JSON) report "<path>:0: ...". <root> is not freed. */
struct sl_ynode;
int sl_config_from_tree(const struct sl_ynode *root, const char *path, struct sl_config **out,
                        struct sl_diag *diag);

/* Lookups by name (config_lookup.c); NULL when absent. */
const struct sl_cfg_service *sl_config_service(const struct sl_config *cfg, const char *name);
const struct sl_cfg_backend *sl_config_backend(const struct sl_cfg_service *svc, const char *name);

/* A backend target, for tests and the admin API (which takes the same
 * shapes in JSON; scalars are control/scalar.h's, binds net/sock.h's): ip,
 * host, ip:port, host:port, [v6] or [v6]:port, port 1..65535. 0 or -1. */
int sl_config_check_target(const char *s);

#endif /* SL_CONTROL_CONFIG_H */
