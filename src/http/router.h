/* The routing table: immutable, built by control, read lock-free by the
 * data-plane workers. Endpoints (host/path patterns) lead by weighted
 * routes to lb groups (a service, or a label view of one).
 *
 * Publication (RCU-style): control stores a new table in an sl_router_slot
 * with a release store and bumps the slot's generation. Each worker calls
 * sl_router_sync() at the top of every loop turn: it takes a reference on
 * the current table when the generation moved, drops its reference on the
 * old one and records the generation it has seen. A request keeps the
 * table it started with alive by its own reference (sl_router_acquire /
 * sl_router_release: worker-thread atomics, never a lock). Control drops its
 * own reference on an old table only after every worker's seen generation
 * passed the new one (sl_router_slot_quiesce), so no worker can still be
 * about to take a reference on it. */
#ifndef SL_HTTP_ROUTER_H
#define SL_HTTP_ROUTER_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sluice.h"

enum sl_hash_key {
    SL_HASH_NONE = 0, /* strategy ignores keys */
    SL_HASH_SOURCE_IP,
    SL_HASH_HEADER, /* hash_key_name: header name */
    SL_HASH_COOKIE, /* hash_key_name: cookie name */
    SL_HASH_PATH,
};

/* One accepted status range of an http check (lo == hi for one status). */
struct sl_status_range {
    uint16_t lo, hi;
};

/* A service's active check (config `health`), as the workers' probes
 * read it (http/health.h). */
struct sl_health_rt {
    sluice_check_kind_t kind; /* NONE: no probe, only ejection ticks */
    char *method;             /* http: "GET" unless configured */
    char *path;               /* http: "/" unless configured */
    char *host;               /* http: Host header; NULL: each target's own */
    struct sl_status_range *expect;
    size_t nexpect;
    char *body; /* http: substring the body must contain; NULL: any */
    size_t body_len;
    uint32_t interval_ms;
    uint32_t down_interval_ms; /* resolved: never 0 */
    uint32_t timeout_ms;
};

/* One backend of a service as the checks see it: the plan the table was
 * built with (sl_lb_service_backends()), so a reload or an API change that
 * publishes a table also moves the probes. */
struct sl_health_target {
    sluice_backend_t *be; /* a reference of the table's, dropped when it goes */
    char *host;           /* http: the Host header to send */
    uint64_t hash;        /* of (service, backend name): worker slice and phase */
};

/* Per-service data-plane settings. */
struct sl_service_rt {
    char *name;
    enum sl_hash_key hash_key;
    char *hash_key_name;
    size_t hash_key_name_len;
    uint32_t connect_timeout_ms;  /* default 2000 */
    uint32_t response_timeout_ms; /* first byte of the response; default 30000 */
    uint32_t idle_timeout_ms;     /* between bytes either way; default 60000 */
    uint32_t retries;             /* default 2 */
    uint32_t buffer_body;         /* buffer_request_body: bytes read before selecting; 0 off */
    bool passive_5xx;             /* passive: {5xx: true}: a 5xx response is a failure */
    struct sl_health_rt health;
    struct sl_health_target *targets; /* every backend of the service */
    size_t ntargets;
};

struct sl_route {
    char *id;                        /* route000, ... */
    char *group;                     /* lb group or view to select from */
    const struct sl_service_rt *svc; /* points into the same table */
    uint32_t weight;
    uint64_t cum_weight; /* weights of routes[0..i] summed (pick_route) */
    char *selector;      /* label selector as configured, "" when none */
    /* Its requests counter: 1 + the slot of sl_stats_route_slot(pattern,
     * id) (proxy/stats.h), the same for the same pair in every table; 0
     * (a table built without slots): not counted. */
    uint32_t stat_slot;
};

enum sl_host_match { SL_HOST_ANY = 0, SL_HOST_EXACT, SL_HOST_WILDCARD };

struct sl_endpoint {
    char *pattern; /* as configured */
    enum sl_host_match host_match;
    char *host; /* EXACT: lower-case host; WILDCARD: suffix incl. the dot ("." + "example.com") */
    size_t host_len;
    char *path; /* prefix, "/" when none */
    size_t path_len;
    struct sl_route *routes;
    size_t nroutes;
    uint64_t total_weight; /* sum of route weights (0: no route can be picked) */
};

enum sl_listen_mode { SL_MODE_HTTP = 0, SL_MODE_TCP };

struct sl_listener_rt {
    char *name;
    char *bind; /* as configured, "127.0.0.1:8080" or "[::1]:8080" */
    enum sl_listen_mode mode;
    const struct sl_service_rt *svc; /* TCP mode: the service; HTTP: NULL */
    char *group;                     /* TCP mode: lb group to select from */
    uint32_t header_timeout_ms;      /* client must send a full head within; default 10000 */
    uint32_t idle_timeout_ms;        /* keep-alive client idle; default 60000 */
    uint32_t max_head;               /* bytes; default 16384 */
    uint32_t body_timeout_ms;        /* between two reads of a request body; default 30000 */
    uint32_t min_body_rate;          /* bytes/s over the body after a grace; 0: off */
    uint64_t max_body_size;          /* bytes; 0: unlimited */
};

struct sl_router {
    _Atomic uint32_t refs;
    uint64_t generation;
    sluice_lb_t *lb;               /* borrowed: control owns it and outlives every table */
    struct sl_endpoint *endpoints; /* sorted most specific first */
    size_t nendpoints;
    struct sl_service_rt *services;
    size_t nservices;
    struct sl_listener_rt *listeners;
    size_t nlisteners;
    /* Freed by sl_router_release() dropping the last reference. */
    void (*destroy)(struct sl_router *r);
};

/* The most specific endpoint for <host> (port and case ignored) and <path>:
 * exact host over wildcard host over any host, then the longest path prefix
 * on a segment boundary. NULL when none matches. */
const struct sl_endpoint *sl_router_match(const struct sl_router *r, const char *host,
                                          size_t host_len, const char *path, size_t path_len);
/* A route by weight; <rnd> is any uniformly random 64-bit value. NULL when
 * total_weight is 0. */
const struct sl_route *sl_router_pick_route(const struct sl_endpoint *e, uint64_t rnd);

static inline void sl_router_acquire(struct sl_router *r)
{
    atomic_fetch_add_explicit(&r->refs, 1, memory_order_relaxed);
}

/* Drops a reference; the last one calls r->destroy(r). */
void sl_router_release(struct sl_router *r);

#define SL_ROUTER_MAX_WORKERS 64

/* seen[] is not padded to cache lines: a worker writes its entry only when
 * the generation moved (once per reload), and the per-turn check reads only
 * `gen`, so there is no steady-state false sharing to avoid.
 * Initialise with memset 0 (or sl_router_slot_init); a worker stopping for
 * good releases the table it adopted with sl_router_release(*mine). */
struct sl_router_slot {
    _Atomic(struct sl_router *) cur; /* release-stored by control */
    _Atomic uint64_t gen;
    _Atomic uint64_t seen[SL_ROUTER_MAX_WORKERS]; /* per worker: last generation adopted */
    size_t nworkers;
};

/* Worker side: adopt the slot's current table into *<mine> if the
 * generation moved (takes a ref on the new one, releases the old one) and
 * record it as seen by worker <idx>. Cheap when nothing changed: one load. */
void sl_router_sync(struct sl_router_slot *s, size_t idx, struct sl_router **mine,
                    uint64_t *mine_gen);

/* Control side: publish <r> (the slot takes over control's reference) and
 * return the old table (or NULL), which the caller releases after
 * sl_router_slot_quiesce() returned true. */
struct sl_router *sl_router_slot_publish(struct sl_router_slot *s, struct sl_router *r);
/* true once every worker has seen generation <gen>; waits at most
 * <timeout_ms>, polling. */
bool sl_router_slot_quiesce(struct sl_router_slot *s, uint64_t gen, uint32_t timeout_ms);

/* Zeroes <s> and sets the number of workers that will sync from it. */
void sl_router_slot_init(struct sl_router_slot *s, size_t nworkers);

#endif /* SL_HTTP_ROUTER_H */
