/* Backends as the rest of sluice holds them: an opaque sluice_backend_t
 * (sluice.h) plus what the proxies need beyond the public API (the resolved
 * address, extra references) and what the writers create backends from.
 * No layout here: http, tcp and control include this header, and only
 * src/core sees the fields (backend_types.h). */
#ifndef SL_CORE_BACKEND_H
#define SL_CORE_BACKEND_H

#include <sys/socket.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sluice.h"

struct sl_score_cfg;
struct sl_target;

struct sl_label {
    char *key;
    char *value;
};

/* One backend as wanted (config, API, builder). Strings are borrowed for
 * the call that takes the spec. */
struct sl_backend_spec {
    const char *name;   /* NULL: the canonical target */
    const char *target; /* ip, host, ip:port, host:port, [v6]:port */
    uint32_t weight;
    const struct sl_label *labels; /* keys unique */
    size_t nlabels;
    uint32_t connect_timeout_ms; /* 0: the service's */
    uint32_t first_byte_timeout_ms;
    uint32_t between_bytes_timeout_ms;
    const char *override_host; /* NULL: keep the client's Host */
};

/* Resolved address of a backend (resolved once at creation; NULL when the
 * host did not resolve). Borrowed like sluice_backend_target(). */
const struct sockaddr *sl_backend_sockaddr(const sluice_backend_t *b, unsigned *addrlen);

/* Takes an extra reference on a selected backend (e.g. an idle pooled
 * connection that outlives the selection) and drops it; the last drop
 * frees a backend removed from every group. Unref of NULL is a no-op. */
void sl_backend_ref(sluice_backend_t *b);
void sl_backend_unref(sluice_backend_t *b);

struct sl_score_move;

/* sluice_backend_release() returning the passive ejection it started, in
 * ms (0: none), and what it did to the score in *<m> (may be NULL). <b>
 * must not be used afterwards. */
uint32_t sl_backend_release_ex(sluice_backend_t *b, sluice_outcome_t outcome, uint64_t latency_ns,
                               struct sl_score_move *m);

/* Whether any group (a service, or a view of one) still lists <b>: false
 * once a reload or a change replaced or removed it and the grace period
 * after that publish ended, so the proxies' per-backend state (idle pooled
 * connections) can go. Never true again once false: a new table never
 * takes a backend no table lists. False also for a backend not yet in any
 * group (only its creator sees it then).
 * Threads   any thread; one acquire load, no lock. */
bool sl_backend_listed(const sluice_backend_t *b);

/* A backend for parsed <t> named <name> (NULL: the canonical target), with
 * weight 1, the initial score and one reference held by the caller; the
 * address is resolved now (DNS may block; a failure leaves AF_UNSPEC).
 * NULL when out of memory. Writer thread, before publishing. */
sluice_backend_t *sl_backend_new(const struct sl_target *t, const char *name,
                                 struct sl_score_cfg *cfg);
/* The same with the name, weight, timeouts, override host and labels of
 * <s> (s->target is not read: <t> is its parsed form). NULL when out of
 * memory or a label has a NULL key or value. */
sluice_backend_t *sl_backend_new_spec(const struct sl_target *t, const struct sl_backend_spec *s,
                                      struct sl_score_cfg *cfg);
/* Adds or replaces label <key>. 0 or SLUICE_ERR_NOMEM. Before publishing. */
int sl_backend_set_label(sluice_backend_t *b, const char *key, const char *value);

/* Frees labels[0..n) and the array. */
void sl_labels_free(struct sl_label *labels, size_t n);

#endif /* SL_CORE_BACKEND_H */
