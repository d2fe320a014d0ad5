/* libsluice: service-keyed backend groups, balancing strategies, score-based
 * health, dynamic backends and an active health checker.
 *
 * Conventions, for every function below unless it says otherwise:
 * - Thread safety: any function may be called from any thread at any time.
 *   sluice_lb_select() and sluice_backend_release() take no lock and
 *   allocate nothing; every other call that changes a group builds a new
 *   immutable group and publishes it by pointer swap (writers serialise on
 *   a mutex that readers never take).
 * - Errors: functions returning int give 0 on success and a negative
 *   sluice_err_t on failure; a failed call changes nothing.
 * - Ownership: string and array arguments are borrowed for the call and
 *   copied when kept. Out-parameters are written only on success.
 */
#ifndef SLUICE_H
#define SLUICE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Marks the functions libsluice exports; the library builds with
 * -fvisibility=hidden, so nothing else is visible to a program. */
#if defined(__GNUC__) || defined(__clang__)
#define SLUICE_API __attribute__((visibility("default")))
#else
#define SLUICE_API
#endif

#ifdef __cplusplus
extern "C" {
#endif

typedef struct sluice_lb sluice_lb_t;
typedef struct sluice_backend sluice_backend_t;
typedef struct sluice_backend_builder sluice_backend_builder_t;

/* Every error: its name, its value and its message, from which the enum
 * and sluice_strerror() are both made. Values never change once released.
 * Each comment says when the error is returned. */
#define SLUICE_ERR_MAP(X)                                                                        \
    X(NOMEM, -1, "out of memory")                                                                \
    X(INVALID_ARG, -2, "invalid argument")    /* NULL or out-of-range argument */                \
    X(INVALID_TARGET, -3, "invalid target")   /* not ip, host, ip:port, [v6]:port, ... */        \
    X(UNKNOWN_SERVICE, -4, "unknown service") /* no group of that name */                        \
    X(UNKNOWN_BACKEND, -5, "unknown backend") /* no backend of that target or name */            \
    X(NAME_IN_USE, -6, "backend name in use") /* a backend of that name exists in the lb */      \
    X(DISALLOWED, -7, "dynamic backends are disallowed")                                         \
    X(INVALID_SCORE, -8, "invalid score options") /* out of order or deltas of the wrong sign */ \
    X(DUPLICATE_TARGET, -9, "duplicate target")   /* the same target twice in one group */       \
    X(NO_BACKEND, -10, "no usable backend")                                                      \
    X(THREAD, -11, "thread could not be started")                                                \
    X(STATE, -12, "call not valid in this state") /* e.g. checker already running */             \
    X(NOT_FOUND, -13, "not found")                /* generic lookup failure (daemon use) */      \
    X(STORE, -14, "state store failure")          /* daemon use */                               \
    X(CONFIG, -15, "invalid configuration")       /* daemon use */                               \
    X(IO, -16, "system call failure")             /* see errno */

typedef enum sluice_err {
    SLUICE_OK = 0,
#define SLUICE_ERR_ENUM(name, value, message) SLUICE_ERR_##name = (value),
    SLUICE_ERR_MAP(SLUICE_ERR_ENUM)
#undef SLUICE_ERR_ENUM
} sluice_err_t;

typedef enum sluice_strategy {
    SLUICE_ROUND_ROBIN = 0,
    SLUICE_WEIGHTED_ROUND_ROBIN, /* smooth: weights 5,1,1 give a a b a c a a */
    SLUICE_LEAST_CONNECTIONS,
    SLUICE_LEAST_REQUEST, /* power of two choices on active connections */
    SLUICE_RANDOM,
    SLUICE_MAGLEV,     /* consistent hashing on the key */
    SLUICE_RING_HASH,  /* consistent hashing with bounded load */
    SLUICE_PEAK_EWMA,  /* latency-aware: lowest peak EWMA x (active+1) of two */
    SLUICE_LEAST_LOAD, /* power of two choices on reported load (sluice_lb_set_load()) */
    SLUICE_STRATEGY_COUNT
} sluice_strategy_t;

typedef enum sluice_health {
    SLUICE_HEALTH_UNKNOWN = 0, /* no probe, observation or mark yet */
    SLUICE_HEALTH_HEALTHY,
    SLUICE_HEALTH_UNHEALTHY,
} sluice_health_t;

typedef enum sluice_outcome {
    SLUICE_OUTCOME_OK = 0,  /* counts as an up */
    SLUICE_OUTCOME_FAIL,    /* counts as a down */
    SLUICE_OUTCOME_TIMEOUT, /* counts as a down */
    SLUICE_OUTCOME_NEUTRAL, /* ends the connection, moves no score (e.g. client went away) */
} sluice_outcome_t;

/* Score health: a backend is usable while score >= 0; the score stays in
 * [low, high]. Defaults SLUICE_SCORE_DEFAULTS: {1, -3, 3, -1, 1}. Valid when low <= initial <=
 * high, low < 0 <= high (so a mark down makes the backend unusable and a mark up stays within [low,
 * high]), fail_delta < 0 and success_delta > 0. */
typedef struct sluice_score_opts {
    int32_t initial;
    int32_t low;
    int32_t high;
    int32_t fail_delta;
    int32_t success_delta;
} sluice_score_opts_t;

/* The defaults as an initializer: sluice_score_opts_t o = SLUICE_SCORE_DEFAULTS; */
#define SLUICE_SCORE_DEFAULTS \
    {                         \
        1, -3, 3, -1, 1       \
    }

/* What the last active probe of a backend found. */
typedef enum sluice_check_result {
    SLUICE_CHECK_RESULT_NONE = 0,     /* no probe yet */
    SLUICE_CHECK_RESULT_OK,           /* connected (tcp), or status and body as expected (http) */
    SLUICE_CHECK_RESULT_CONNECT,      /* refused, unreachable or unresolved */
    SLUICE_CHECK_RESULT_TIMEOUT,      /* no verdict within the probe's timeout */
    SLUICE_CHECK_RESULT_STATUS,       /* http: a status outside the expected ranges */
    SLUICE_CHECK_RESULT_BODY,         /* http: the body lacks the expected substring */
    SLUICE_CHECK_RESULT_BAD_RESPONSE, /* http: not a valid HTTP/1.x response, or closed early */
} sluice_check_result_t;

/* Which active probe a service gets. */
typedef enum sluice_check_kind {
    SLUICE_CHECK_NONE = 0, /* no probe: health reads unknown until an observation exists */
    SLUICE_CHECK_TCP,      /* a TCP connect */
    SLUICE_CHECK_HTTP,     /* GET <path> over HTTP/1.1 on a fresh connection, status in range */
} sluice_check_kind_t;

/* Active check settings of one service (sluice_lb_set_check()). */
typedef struct sluice_check_opts {
    sluice_check_kind_t kind;
    uint32_t interval_ms;      /* between two probes of a usable backend; > 0 */
    uint32_t down_interval_ms; /* between two probes of an unusable one; 0: interval_ms / 2 */
    uint32_t timeout_ms;       /* per probe; 0: interval_ms */
    const char *path;   /* HTTP: request path, NULL: "/" (copied); "/" first, < 256 bytes, no space,
                           control character or "#" */
    uint16_t expect_lo; /* HTTP: accepted status range; 0,0: 200-399 */
    uint16_t expect_hi;
} sluice_check_opts_t;

/* Passive ejection: a backend that passive failures (connect errors,
 * timeouts, malformed responses reported through sluice_backend_release())
 * take below score 0 stays out for a backoff of base_ms, doubling with each
 * consecutive ejection up to max_ms; the count of consecutive ejections
 * resets once its score reaches high again, or when an ejection starts more
 * than max_ms after the previous one ended (a backend without traffic never
 * reaches high: after a quiet period it starts again at base_ms). At the
 * backoff's end it returns half-open (score 0) unless the
 * service has active checks whose latest probe failed: then it returns
 * through the next successful probe. base_ms 0: no backoff (the score alone
 * decides). Defaults SLUICE_EJECT_DEFAULTS. */
typedef struct sluice_eject_opts {
    uint32_t base_ms;
    uint32_t max_ms; /* >= base_ms */
} sluice_eject_opts_t;

#define SLUICE_EJECT_DEFAULTS \
    {                         \
        5000, 300000          \
    }

/* The default panic threshold, in percent (Envoy's). */
#define SLUICE_PANIC_DEFAULT 50u

typedef struct sluice_backend_snapshot {
    char *target; /* "host:port" as registered */
    char *name;   /* the builder's name, or the target when none */
    sluice_health_t health;
    int32_t score;
    uint32_t failures; /* consecutive failures since the last success or mark */
    uint32_t active;   /* connections selected and not yet released */
    uint32_t weight;   /* 0: drained */
    uint64_t requests; /* selections since the backend was created */
    uint64_t ewma_ns;  /* latency EWMA, 0 until the first release */
    /* Added in 0.2 (per-service health). */
    sluice_check_result_t last_check; /* of the last active probe; NONE before the first */
    uint16_t last_check_status;       /* HTTP status of that probe, 0 when none */
    uint64_t last_check_ns;           /* CLOCK_MONOTONIC of that probe, 0 before the first */
    uint64_t ejected_until_ns; /* CLOCK_MONOTONIC end of a passive ejection, 0: not ejected */
    uint32_t ejections;        /* consecutive ejections (the backoff doubles with each) */
    uint32_t
        effective_weight; /* weight scaled by slow start (10%..100%), == weight when not ramping */
    uint32_t ramp_permille; /* slow start progress: 100..1000, 1000 when not ramping */
    /* Added in 0.3 (agents). */
    uint32_t out;  /* out of rotation for a reason other than health (the daemon's; 0: in) */
    uint32_t load; /* the load the backend reported (sluice_lb_set_load()); 0 when none */
    bool load_set; /* a load was reported and not cleared since */
} sluice_backend_snapshot_t;

typedef struct sluice_group_snapshot {
    sluice_strategy_t strategy;
    size_t n;
    sluice_backend_snapshot_t *backends; /* n entries, owned by the snapshot */
    /* Added in 0.2 (per-service health). */
    bool panic;             /* fewer than panic_percent of the candidates are usable by health */
    uint32_t panic_percent; /* 0: panic off */
    uint64_t
        panic_selections; /* selections made while in panic, since the service was registered */
} sluice_group_snapshot_t;

/* The library's version, "MAJOR.MINOR.PATCH" (static storage): that of the
 * libsluice actually linked, which pkg-config --modversion sluice gives at
 * build time. */
SLUICE_API const char *sluice_version(void);
/* Message for a sluice_err_t (static storage; never NULL). */
SLUICE_API const char *sluice_strerror(int err);
/* "round_robin", "maglev", ... (static storage), NULL when out of range. */
SLUICE_API const char *sluice_strategy_name(sluice_strategy_t s);
/* Parses a strategy name as written by sluice_strategy_name(); 0 or
 * SLUICE_ERR_INVALID_ARG. */
SLUICE_API int sluice_strategy_parse(const char *name, sluice_strategy_t *out);

/* A new empty lb with default score options and dynamic backends allowed.
 * NULL when out of memory. Free with sluice_lb_free(). */
SLUICE_API sluice_lb_t *sluice_lb_new(void);
/* Stops the health checker if running and frees everything. Backends still
 * selected (not yet released) stay valid until released. NULL is a no-op.
 * No other call on <lb> may run concurrently or follow. */
SLUICE_API void sluice_lb_free(sluice_lb_t *lb);

/* Registers <service> with targets[0..n) (n may be 0), or replaces it:
 * replacing keeps nothing of the old group's state. Errors:
 * INVALID_TARGET, DUPLICATE_TARGET, INVALID_ARG, NOMEM. */
SLUICE_API int sluice_lb_register(sluice_lb_t *lb, const char *service, const char *const *targets,
                                  size_t n, sluice_strategy_t strategy);
/* Replaces the group's targets, keeping score, counters, weight, labels and
 * active connections of targets that stay. UNKNOWN_SERVICE if absent. */
SLUICE_API int sluice_lb_update_backends(sluice_lb_t *lb, const char *service,
                                         const char *const *targets, size_t n);
SLUICE_API int sluice_lb_unregister(sluice_lb_t *lb, const char *service);
/* Adds one target (named after itself); DUPLICATE_TARGET when present. */
SLUICE_API int sluice_lb_add_backend(sluice_lb_t *lb, const char *service, const char *target);
/* Removes by target or by builder name. */
SLUICE_API int sluice_lb_remove_backend(sluice_lb_t *lb, const char *service, const char *target);

/* 0 for an unknown service. */
SLUICE_API size_t sluice_lb_backend_count(const sluice_lb_t *lb, const char *service);
/* Backends usable now (score >= 0, weight > 0). 0 for an unknown service. */
SLUICE_API size_t sluice_lb_healthy_count(const sluice_lb_t *lb, const char *service);

/* true: usable now (score raised to at least max(initial, 0)), failures
 * reset. false: unusable now (score set to low), failures + 1. The backend
 * is found by target or by name. */
SLUICE_API int sluice_lb_mark_health(sluice_lb_t *lb, const char *service, const char *target,
                                     bool healthy);
/* score + success_delta (up) or + fail_delta (down), clamped. */
SLUICE_API int sluice_lb_up(sluice_lb_t *lb, const char *service, const char *target);
SLUICE_API int sluice_lb_down(sluice_lb_t *lb, const char *service, const char *target);
/* Sets the score options of <service> alone: its backends' scores are
 * clamped into the new [low, high] and backends added later start at the
 * new initial. Views of the service follow it. UNKNOWN_SERVICE,
 * INVALID_SCORE. */
SLUICE_API int sluice_lb_set_score(sluice_lb_t *lb, const char *service,
                                   const sluice_score_opts_t *opts);
/* The score options of services registered after this call (those
 * registered before keep theirs). INVALID_SCORE. */
SLUICE_API int sluice_lb_set_default_score(sluice_lb_t *lb, const sluice_score_opts_t *opts);
/* Panic: when fewer than <percent> of a group's candidates (backends not
 * out for a reason other than health: weight 0, drained) are usable by
 * health, select picks among all candidates as if all were healthy, so a
 * group whose backends are all unhealthy is still served. Each group (a
 * service and each of its views) decides on its own backends. 0 turns it
 * off; default SLUICE_PANIC_DEFAULT; also for services registered later
 * when set on none (see sluice_lb_set_default_panic()). UNKNOWN_SERVICE,
 * INVALID_ARG (> 100). */
SLUICE_API int sluice_lb_set_panic(sluice_lb_t *lb, const char *service, uint32_t percent);
SLUICE_API int sluice_lb_set_default_panic(sluice_lb_t *lb, uint32_t percent);
/* Slow start: a backend added to an existing group, or returning to usable
 * health, has its effective weight ramp linearly from 10% to 100% over
 * <ms> in every strategy: a pick of it is kept with a probability equal to
 * its factor (else made again without it), and the load-comparing ones
 * also scale its load, so its share stays near factor x its normal share
 * at any concurrency. 0 (the default) turns it off.
 * UNKNOWN_SERVICE. */
SLUICE_API int sluice_lb_set_slow_start(sluice_lb_t *lb, const char *service, uint32_t ms);
/* Passive ejection backoff of <service> (see sluice_eject_opts_t).
 * UNKNOWN_SERVICE, INVALID_ARG (max_ms < base_ms). */
SLUICE_API int sluice_lb_set_ejection(sluice_lb_t *lb, const char *service,
                                      const sluice_eject_opts_t *opts);
/* Active check settings of <service> for the lb's checker thread
 * (sluice_lb_start_health_checker()); services without their own settings
 * use the checker's interval and timeout with TCP probes. Takes effect at
 * the next probe. UNKNOWN_SERVICE, INVALID_ARG: kind out of range, interval
 * 0, an interval, down interval or timeout above INT32_MAX ms, a status
 * range other than 0,0 that is not 100 <= lo <= hi <= 599, a path that
 * does not start with '/', is 256 bytes or longer, or holds a space, CR or
 * LF. */
SLUICE_API int sluice_lb_set_check(sluice_lb_t *lb, const char *service,
                                   const sluice_check_opts_t *opts);
/* Sets the weight of one backend (0 drains it). */
SLUICE_API int sluice_lb_set_weight(sluice_lb_t *lb, const char *service, const char *target,
                                    uint32_t weight);
/* The load backend <target> (its target or name) of <service> reports
 * about itself, in any unit as long as the service's backends share it
 * (the daemon's agents send the 1-minute load average x 100): what
 * SLUICE_LEAST_LOAD compares. An atomic store, no rebuild: call it as
 * often as reports arrive. clear_load() makes it "not reported" again.
 * 0, UNKNOWN_SERVICE, UNKNOWN_BACKEND, INVALID_ARG. Lock-free, any
 * thread. */
SLUICE_API int sluice_lb_set_load(sluice_lb_t *lb, const char *service, const char *target,
                                  uint32_t load);
SLUICE_API int sluice_lb_clear_load(sluice_lb_t *lb, const char *service, const char *target);

/* Writes up to <cap> service names to names[] and returns how many services
 * exist (may exceed cap). Names are borrowed until the service is
 * unregistered or the lb freed: copy them if other threads change groups. */
SLUICE_API size_t sluice_lb_list_services(const sluice_lb_t *lb, const char **names, size_t cap);
/* Fills <out> (free with sluice_group_snapshot_free()). UNKNOWN_SERVICE. */
SLUICE_API int sluice_lb_snapshot(const sluice_lb_t *lb, const char *service,
                                  sluice_group_snapshot_t *out);
SLUICE_API void sluice_group_snapshot_free(sluice_group_snapshot_t *snap);

/* A usable backend of <service> by its strategy; <key> is used by MAGLEV
 * and RING_HASH (NULL/0 hashes as the empty key) and ignored by others.
 * Counts an active connection: end it with sluice_backend_release(). NULL
 * with errno ENOENT (unknown service) or EHOSTUNREACH (nothing usable).
 * Lock-free, allocation-free. The backend stays valid until released, even
 * if removed from its group meanwhile. */
SLUICE_API sluice_backend_t *sluice_lb_select(sluice_lb_t *lb, const char *service, const void *key,
                                              size_t keylen);
/* Ends a selection: feeds passive health (OK: up; FAIL, TIMEOUT: down;
 * NEUTRAL: nothing) and, for OK, the latency EWMA. <b> must not be used
 * afterwards. Lock-free. */
SLUICE_API void sluice_backend_release(sluice_backend_t *b, sluice_outcome_t outcome,
                                       uint64_t latency_ns);
/* Borrowed while the backend is selected (or its group unchanged). */
SLUICE_API const char *sluice_backend_target(const sluice_backend_t *b);
SLUICE_API const char *sluice_backend_name(const sluice_backend_t *b);
SLUICE_API sluice_health_t sluice_backend_health(const sluice_backend_t *b);

/* Starts a thread that probes every backend of every service, at most 64
 * probes in flight for the whole lb, shared fairly between services (one
 * whose probes hang until their timeout cannot stall the others' probes;
 * see docs/library.md): each service by its own settings
 * (sluice_lb_set_check()), spread over its interval, probing unusable
 * backends at the faster down interval; services without settings are
 * TCP-connected each <interval_ms>, each probe bounded by <timeout_ms>.
 * Success -> up, failure or timeout -> down. STATE if already running,
 * THREAD if the thread could not start, INVALID_ARG for a 0 interval. */
SLUICE_API int sluice_lb_start_health_checker(sluice_lb_t *lb, uint32_t interval_ms,
                                              uint32_t timeout_ms);
/* Stops and joins the checker; no-op when not running. */
SLUICE_API void sluice_lb_stop_health_checker(sluice_lb_t *lb);

/* Dynamic backends. false: sluice_backend_builder_finish() answers
 * DISALLOWED. */
SLUICE_API void sluice_lb_allow_dynamic(sluice_lb_t *lb, bool allow);

/* A builder for backend <name> at <target> (both copied; target checked at
 * finish). NULL when out of memory or an argument is NULL. Setters return
 * 0 or a negative sluice_err_t (INVALID_ARG, NOMEM) and record the first
 * error, which finish() then returns. */
SLUICE_API sluice_backend_builder_t *sluice_backend_builder_new(const char *name,
                                                                const char *target);
SLUICE_API int sluice_backend_builder_weight(sluice_backend_builder_t *b, uint32_t weight);
SLUICE_API int sluice_backend_builder_label(sluice_backend_builder_t *b, const char *key,
                                            const char *value);
SLUICE_API int sluice_backend_builder_connect_timeout(sluice_backend_builder_t *b, uint32_t ms);
SLUICE_API int sluice_backend_builder_first_byte_timeout(sluice_backend_builder_t *b, uint32_t ms);
SLUICE_API int sluice_backend_builder_between_bytes_timeout(sluice_backend_builder_t *b,
                                                            uint32_t ms);
SLUICE_API int sluice_backend_builder_override_host(sluice_backend_builder_t *b, const char *host);
/* Adds the backend to <service> (created as round robin if absent).
 * Consumes <b>, even on failure. 0, NAME_IN_USE, INVALID_TARGET,
 * DUPLICATE_TARGET, DISALLOWED, NOMEM. */
SLUICE_API int sluice_backend_builder_finish(sluice_backend_builder_t *b, sluice_lb_t *lb,
                                             const char *service);
/* Frees a builder that will not be finished. NULL is a no-op. */
SLUICE_API void sluice_backend_builder_free(sluice_backend_builder_t *b);

/* Read accessors for the settings a builder gave (0 / NULL when unset).
 * Borrowed like sluice_backend_target(). */
SLUICE_API uint32_t sluice_backend_weight(const sluice_backend_t *b);
SLUICE_API const char *sluice_backend_label(const sluice_backend_t *b, const char *key);
SLUICE_API uint32_t sluice_backend_connect_timeout(const sluice_backend_t *b);
SLUICE_API uint32_t sluice_backend_first_byte_timeout(const sluice_backend_t *b);
SLUICE_API uint32_t sluice_backend_between_bytes_timeout(const sluice_backend_t *b);
SLUICE_API const char *sluice_backend_override_host(const sluice_backend_t *b);

#ifdef __cplusplus
}
#endif

#endif /* SLUICE_H */
