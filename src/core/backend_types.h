/* The layout of a backend, private to src/core (the strategies, the
 * writers and the score code read its fields; the proxies only hold
 * pointers, see backend.h). A backend is one target in one or more groups
 * (views share the objects of their parent group). Immutable fields are set
 * before the backend is first published; run-time state is atomics, written
 * by select/release, the checker and marks, read by everyone. */
#ifndef SL_CORE_BACKEND_TYPES_H
#define SL_CORE_BACKEND_TYPES_H

#include <sys/socket.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "sluice.h"

struct sl_label;

struct sluice_backend {
    /* Immutable after creation. */
    char *name;   /* builder name, or the target */
    char *target; /* canonical "host:port" or "[v6]:port" */
    char *host;   /* host part without brackets */
    uint16_t port;
    struct sockaddr_storage addr; /* resolved at creation; ss_family AF_UNSPEC if not */
    socklen_t addrlen;
    struct sl_label *labels;
    size_t nlabels;
    uint32_t connect_timeout_ms;       /* 0: the service's */
    uint32_t first_byte_timeout_ms;    /* 0: the service's */
    uint32_t between_bytes_timeout_ms; /* 0: the service's */
    char *override_host;               /* NULL: keep the client's Host */
    /* The settings of the backend's service (refcounted, shared with its
     * groups). Set at creation to the lb's defaults and switched to the
     * service's by the transaction that first lists the backend, before it
     * is published; fixed from then on. */
    struct sl_score_cfg *score_cfg;

    /* Written by writers (under the lb's writer mutex), read by picks. */
    _Atomic uint32_t weight; /* 0: drained */
    /* Out of rotation for a reason other than health (SL_OUT_* bits,
     * health.h): an agent's lapsed lease, a provider instance not ready
     * yet. Next to <weight>, which every pick reads: same line. Written by
     * sl_lb_set_out(), which bumps the service's health generation. */
    _Atomic uint32_t out;
    /* Groups (services and views) listing this backend: +1 when a group
     * taking it is built, -1 when that group is freed, i.e. after the grace
     * period that follows the publish replacing it. Off the hot line:
     * writers change it, the proxies' pools read it (sl_backend_listed()). */
    _Atomic uint32_t listed;

    /* Hot run-time state; select and release write these. */
    _Alignas(64) _Atomic int32_t score;
    /* Low 32 bits: selections in flight (select +1, release -1). High 32
     * bits: holders' references (one per group listing it, one per
     * sl_backend_ref()). One word, so a select+release costs one atomic add
     * and one subtract, not four; the backend is freed when it reaches 0. */
    _Atomic uint64_t active;
    _Atomic uint32_t failures;      /* consecutive downs since the last up or mark */
    _Atomic uint32_t health;        /* UNKNOWN or not: the rest is derived from score */
    _Atomic uint64_t requests;      /* selections */
    _Atomic uint64_t ewma_ns;       /* latency EWMA (peak-sensitive) */
    _Atomic uint64_t ewma_stamp_ns; /* monotonic time of the last EWMA update */
    /* Slow start: coarse monotonic start of the current ramp, 0 when not
     * ramping (every pick loads it: it sits on the hot line). */
    _Atomic uint64_t ramp_start_ns;
    /* Load the backend reports about itself (sluice_lb_set_load()): bit
     * SL_LOAD_SET set when reported, the value in the low 32 bits; 0: not
     * reported. One word, so a pick sees value and flag together. On the
     * hot line: least_load reads it with <active>; a heartbeat writes it
     * seldom. */
    _Atomic uint64_t load;

    /* Passive ejection and the last active probe (health.c): cold. */
    _Alignas(64) _Atomic uint64_t ejected_until_ns; /* 0: not ejected */
    _Atomic uint64_t ejected_at_ns;
    _Atomic uint64_t readmitted_ns; /* when the last ejection ended, 0: none yet */
    /* Consecutive; reset when the score reaches high or when the next
     * ejection starts more than the service's max backoff after the last
     * one ended. */
    _Atomic uint32_t ejections;
    _Atomic uint32_t last_check;        /* sluice_check_result_t */
    _Atomic uint32_t last_check_status; /* HTTP status, 0 when none */
    _Atomic uint64_t last_check_ns;
};

#define SL_BACKEND_REF (UINT64_C(1) << 32) /* one holder reference in ->active */
#define SL_LOAD_SET    (UINT64_C(1) << 32) /* ->load holds a reported value */

/* The health settings of one service: score options, panic, slow start,
 * ejection and active checks, plus the counters the service's groups
 * share. One object per service, created from the lb's defaults (lb->score,
 * itself one of these, used only as a template) when the service is first
 * registered, carried from group to group while the service lives, and
 * shared by its views and its backends. Numbers are written with plain
 * atomic stores; readers may see a mix of old and new fields for an
 * instant, which only shifts a clamp by one step. */
struct sl_score_cfg {
    _Atomic int32_t initial, low, high, fail_delta, success_delta;
    _Atomic uint32_t panic_percent; /* 0: off */
    _Atomic uint32_t slow_start_ms; /* 0: off */
    _Atomic uint32_t eject_base_ms, eject_max_ms;
    _Atomic bool external_ticks; /* the daemon ends ejections (sl_health_tick) */
    /* Active checks: <check> and <path> under <cklock> (the checker copies
     * them once per probe; nothing hot reads them). */
    pthread_mutex_t cklock;
    bool check_set;              /* sluice_lb_set_check() was called */
    _Atomic uint32_t check_kind; /* check.kind, readable without the lock */
    sluice_check_opts_t check;
    char path[256];
    /* Bumped whenever a backend's usability by health crosses 0 (and when
     * the panic percent changes): groups recompute their panic flag only
     * when it moved. Its own line: select loads it on every pick. */
    _Alignas(64) _Atomic uint64_t health_gen;
    _Atomic uint64_t panic_selections;
    /* One per group and one per backend (and the lb's for its template): a
     * backend still selected after sluice_lb_free() keeps applying its
     * release to a live config. */
    _Atomic uint32_t refs;
};

/* In the rotation but for health: weight > 0 and no out bit. */
static inline bool sl_backend_in(const struct sluice_backend *b)
{
    return atomic_load_explicit(&b->weight, memory_order_relaxed) > 0 &&
           atomic_load_explicit(&b->out, memory_order_relaxed) == 0;
}

/* Usable: score >= 0, weight > 0 and no out bit. Relaxed loads: a stale
 * view costs at most one extra pick of a backend that just went down. */
static inline bool sl_backend_usable(const struct sluice_backend *b)
{
    return atomic_load_explicit(&b->score, memory_order_relaxed) >= 0 && sl_backend_in(b);
}

/* The slow branch of sl_backend_pickable(): <b> is unusable by health.
 * Weight > 0, no out bit, and in panic, or (the library ending ejections itself, no
 * external ticks) an ejection whose backoff is over, readmitted now
 * (health.c). */
bool sl_backend_pickable_slow(struct sluice_backend *b, bool panic);

/* Pickable: weight > 0, no out bit (not even in panic) and, unless the
 * group is in panic, usable by health. The usable case inline, with the
 * loads of sl_backend_usable(). */
static inline bool sl_backend_pickable(const struct sluice_backend *b, bool panic)
{
    if (__builtin_expect(atomic_load_explicit(&b->score, memory_order_relaxed) >= 0, 1))
        return sl_backend_in(b);
    return sl_backend_pickable_slow((struct sluice_backend *)b, panic);
}

/* Slow start factor of <b> in 1/1024 (102..1024): 1024 unless ramping.
 * One relaxed load when not ramping (score.c does the rest). */
uint32_t sl_ramp_factor_slow(struct sluice_backend *b, uint64_t start);
static inline uint32_t sl_ramp_factor(const struct sluice_backend *b)
{
    uint64_t start = atomic_load_explicit(&b->ramp_start_ns, memory_order_relaxed);

    return __builtin_expect(start == 0, 1) ? 1024u
                                           : sl_ramp_factor_slow((struct sluice_backend *)b, start);
}

/* Health as the API reports it, from <score> (a value just loaded from
 * b->score): UNKNOWN until something set the health field, then HEALTHY
 * when usable by score, else UNHEALTHY. Derived rather than read from the
 * stored field, which a concurrent step may have computed from a score
 * that another step already replaced. */
static inline sluice_health_t sl_backend_health_of(const struct sluice_backend *b, int32_t score)
{
    if (atomic_load_explicit(&b->health, memory_order_relaxed) == SLUICE_HEALTH_UNKNOWN)
        return SLUICE_HEALTH_UNKNOWN;
    return score >= 0 ? SLUICE_HEALTH_HEALTHY : SLUICE_HEALTH_UNHEALTHY;
}

static inline uint32_t sl_backend_active(const struct sluice_backend *b)
{
    return (uint32_t)atomic_load_explicit(&b->active, memory_order_relaxed);
}

#endif /* SL_CORE_BACKEND_TYPES_H */
