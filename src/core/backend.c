/* Backend objects: creation, references, the read accessors of the public
 * API and sluice_backend_release(), the hot-path end of a selection. */
#include "backend.h"

#include <stdlib.h>
#include <string.h>

#include "backend_types.h"
#include "score.h"
#include "target.h"

struct sluice_backend *sl_backend_new(const struct sl_target *t, const char *name,
                                      struct sl_score_cfg *cfg)
{
    /* aligned_alloc: the hot fields sit on their own cache line. */
    size_t size = (sizeof(struct sluice_backend) + 63) & ~(size_t)63;
    struct sluice_backend *b = aligned_alloc(64, size);

    if (b == NULL)
        return NULL;
    memset(b, 0, size);
    b->target = strdup(t->canon);
    b->host = strdup(t->host);
    b->name = strdup(name != NULL ? name : t->canon);
    if (b->target == NULL || b->host == NULL || b->name == NULL) {
        free(b->target);
        free(b->host);
        free(b->name);
        free(b);
        return NULL;
    }
    b->port = t->port;
    sl_target_resolve(t, &b->addr, &b->addrlen);
    sl_score_cfg_ref(cfg);
    b->score_cfg = cfg;
    atomic_init(&b->weight, 1);
    sl_score_init(b);
    atomic_init(&b->active, SL_BACKEND_REF);
    return b;
}

int sl_backend_set_label(struct sluice_backend *b, const char *key, const char *value)
{
    char *v = strdup(value);
    struct sl_label *labels;

    if (v == NULL)
        return SLUICE_ERR_NOMEM;
    for (size_t i = 0; i < b->nlabels; i++) {
        if (strcmp(b->labels[i].key, key) == 0) {
            free(b->labels[i].value);
            b->labels[i].value = v;
            return 0;
        }
    }
    labels = realloc(b->labels, (b->nlabels + 1) * sizeof(*labels));
    if (labels == NULL) {
        free(v);
        return SLUICE_ERR_NOMEM;
    }
    b->labels = labels;
    labels[b->nlabels].key = strdup(key);
    if (labels[b->nlabels].key == NULL) {
        free(v);
        return SLUICE_ERR_NOMEM;
    }
    labels[b->nlabels].value = v;
    b->nlabels++;
    return 0;
}

struct sluice_backend *sl_backend_new_spec(const struct sl_target *t,
                                           const struct sl_backend_spec *s,
                                           struct sl_score_cfg *cfg)
{
    struct sluice_backend *b = sl_backend_new(t, s->name, cfg);

    if (b == NULL)
        return NULL;
    atomic_store_explicit(&b->weight, s->weight, memory_order_relaxed);
    b->connect_timeout_ms = s->connect_timeout_ms;
    b->first_byte_timeout_ms = s->first_byte_timeout_ms;
    b->between_bytes_timeout_ms = s->between_bytes_timeout_ms;
    if (s->override_host != NULL && (b->override_host = strdup(s->override_host)) == NULL)
        goto nomem;
    /* In order: a later label of the same key replaces an earlier one. */
    for (size_t i = 0; i < s->nlabels; i++)
        if (s->labels[i].key == NULL || s->labels[i].value == NULL ||
            sl_backend_set_label(b, s->labels[i].key, s->labels[i].value) != 0)
            goto nomem;
    return b;

nomem:
    sl_backend_unref(b);
    return NULL;
}

void sl_labels_free(struct sl_label *labels, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(labels[i].key);
        free(labels[i].value);
    }
    free(labels);
}

static void backend_free(struct sluice_backend *b)
{
    sl_labels_free(b->labels, b->nlabels);
    free(b->override_host);
    free(b->name);
    free(b->target);
    free(b->host);
    sl_score_cfg_unref((struct sl_score_cfg *)b->score_cfg);
    free(b);
}

void sl_backend_ref(sluice_backend_t *b)
{
    /* relaxed: the caller already holds a reference (or an epoch read
     * section over a group that does), so the count cannot reach 0 now. */
    atomic_fetch_add_explicit(&b->active, SL_BACKEND_REF, memory_order_relaxed);
}

void sl_backend_unref(sluice_backend_t *b)
{
    if (b == NULL)
        return;
    /* acq_rel: every use of <b> by other holders happens before the free. */
    if (atomic_fetch_sub_explicit(&b->active, SL_BACKEND_REF, memory_order_acq_rel) ==
        SL_BACKEND_REF)
        backend_free(b);
}

bool sl_backend_listed(const sluice_backend_t *b)
{
    /* acquire pairs with the release decrement in sl_group_free(): a
     * caller that sees 0 sees a table without <b>. */
    return atomic_load_explicit(&b->listed, memory_order_acquire) > 0;
}

/* Ends a selection with <outcome>: health (nothing moves while ejected, see
 * sl_score_passive_from()), a FAIL or TIMEOUT crossing below 0 ejects, the
 * EWMA; then the selection's count. Inline into both entry points so the
 * public release keeps its one call into score.c. */
static inline __attribute__((always_inline)) uint32_t
release(sluice_backend_t *b, sluice_outcome_t outcome, uint64_t latency_ns, struct sl_score_move *m)
{
    struct sl_score_move fail;
    uint32_t ejected = 0;

    switch (outcome) {
    case SLUICE_OUTCOME_OK:
        if (m != NULL)
            sl_score_passive_from(b, true, m);
        else
            sl_score_passive_ok(b);
        /* 0 means "not measured": it must not pull the average down. */
        if (latency_ns > 0)
            sl_ewma_update(b, latency_ns, sl_coarse_now_ns());
        break;
    case SLUICE_OUTCOME_FAIL:
    case SLUICE_OUTCOME_TIMEOUT:
        if (m == NULL)
            m = &fail;
        sl_score_passive_from(b, false, m);
        if (m->prev >= 0 && m->next < 0)
            ejected = sl_score_eject(b);
        break;
    case SLUICE_OUTCOME_NEUTRAL:
    default:
        if (m != NULL) {
            *m = (struct sl_score_move){0};
            m->prev = m->next = atomic_load_explicit(&b->score, memory_order_relaxed);
        }
        break;
    }
    if (m != NULL) { /* while <b> is surely alive: the caller reports after */
        m->known = atomic_load_explicit(&b->health, memory_order_relaxed) != SLUICE_HEALTH_UNKNOWN;
        m->failures = atomic_load_explicit(&b->failures, memory_order_relaxed);
    }
    /* Last: this ends the selection and may free <b> (acq_rel as in
     * sl_backend_unref()). */
    if (atomic_fetch_sub_explicit(&b->active, 1, memory_order_acq_rel) == 1)
        backend_free(b);
    return ejected;
}

uint32_t sl_backend_release_ex(sluice_backend_t *b, sluice_outcome_t outcome, uint64_t latency_ns,
                               struct sl_score_move *m)
{
    return b != NULL ? release(b, outcome, latency_ns, m) : 0;
}

void sluice_backend_release(sluice_backend_t *b, sluice_outcome_t outcome, uint64_t latency_ns)
{
    if (b != NULL)
        release(b, outcome, latency_ns, NULL);
}

const char *sluice_backend_target(const sluice_backend_t *b)
{
    return b != NULL ? b->target : NULL;
}

const char *sluice_backend_name(const sluice_backend_t *b)
{
    return b != NULL ? b->name : NULL;
}

sluice_health_t sluice_backend_health(const sluice_backend_t *b)
{
    if (b == NULL)
        return SLUICE_HEALTH_UNKNOWN;
    return sl_backend_health_of(b, atomic_load_explicit(&b->score, memory_order_relaxed));
}

uint32_t sluice_backend_weight(const sluice_backend_t *b)
{
    return b != NULL ? atomic_load_explicit(&b->weight, memory_order_relaxed) : 0;
}

const char *sluice_backend_label(const sluice_backend_t *b, const char *key)
{
    if (b == NULL || key == NULL)
        return NULL;
    for (size_t i = 0; i < b->nlabels; i++)
        if (strcmp(b->labels[i].key, key) == 0)
            return b->labels[i].value;
    return NULL;
}

uint32_t sluice_backend_connect_timeout(const sluice_backend_t *b)
{
    return b != NULL ? b->connect_timeout_ms : 0;
}

uint32_t sluice_backend_first_byte_timeout(const sluice_backend_t *b)
{
    return b != NULL ? b->first_byte_timeout_ms : 0;
}

uint32_t sluice_backend_between_bytes_timeout(const sluice_backend_t *b)
{
    return b != NULL ? b->between_bytes_timeout_ms : 0;
}

const char *sluice_backend_override_host(const sluice_backend_t *b)
{
    return b != NULL ? b->override_host : NULL;
}

const struct sockaddr *sl_backend_sockaddr(const sluice_backend_t *b, unsigned *addrlen)
{
    if (b == NULL || b->addr.ss_family == AF_UNSPEC)
        return NULL;
    if (addrlen != NULL)
        *addrlen = (unsigned)b->addrlen;
    return (const struct sockaddr *)&b->addr;
}
