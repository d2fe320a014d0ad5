/* The layout of a backend, private to src/core (the strategies, the
 * writers and the score code read its fields; the proxies only hold
 * pointers, see backend.h). A backend is one target in one or more groups
 * (views share the objects of their parent group). Immutable fields are set
 * before the backend is first published; run-time state is atomics, written
 * by select/release, the checker and marks, read by everyone. */
#ifndef SL_CORE_BACKEND_TYPES_H
#define SL_CORE_BACKEND_TYPES_H

#include <sys/socket.h>

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
    uint32_t connect_timeout_ms;          /* 0: the service's */
    uint32_t first_byte_timeout_ms;       /* 0: the service's */
    uint32_t between_bytes_timeout_ms;    /* 0: the service's */
    char *override_host;                  /* NULL: keep the client's Host */
    const struct sl_score_cfg *score_cfg; /* owned by the lb, lives as long as it */

    /* Written by writers (under the lb's writer mutex), read by picks. */
    _Atomic uint32_t weight; /* 0: drained */
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
};

#define SL_BACKEND_REF (UINT64_C(1) << 32) /* one holder reference in ->active */

/* Score configuration shared by all backends of an lb. Written only by
 * sluice_lb_set_score() with plain atomic stores; readers may see a mix of
 * old and new fields for an instant, which only shifts a clamp by one step. */
struct sl_score_cfg {
    _Atomic int32_t initial, low, high, fail_delta, success_delta;
    /* One for the lb plus one per backend: a backend still selected after
     * sluice_lb_free() keeps applying its release to a live config. */
    _Atomic uint32_t refs;
};

/* Usable: score >= 0 and weight > 0. Relaxed loads: a stale view costs at
 * most one extra pick of a backend that just went down. */
static inline bool sl_backend_usable(const struct sluice_backend *b)
{
    return atomic_load_explicit(&b->score, memory_order_relaxed) >= 0 &&
           atomic_load_explicit(&b->weight, memory_order_relaxed) > 0;
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
