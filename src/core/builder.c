/* Dynamic backends: a builder collects a backend's settings, and finish()
 * validates them against the lb and adds the backend in one transaction. */
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "lb.h"
#include "target.h"

struct sluice_backend_builder {
    char *name;
    char *target;
    uint32_t weight;
    struct sl_label *labels;
    size_t nlabels;
    uint32_t connect_timeout_ms;
    uint32_t first_byte_timeout_ms;
    uint32_t between_bytes_timeout_ms;
    char *override_host;
    int error; /* the first setter error, returned by finish() */
};

sluice_backend_builder_t *sluice_backend_builder_new(const char *name, const char *target)
{
    sluice_backend_builder_t *b;

    if (name == NULL || target == NULL)
        return NULL;
    b = calloc(1, sizeof(*b));
    if (b == NULL)
        return NULL;
    b->name = strdup(name);
    b->target = strdup(target);
    b->weight = 1;
    if (b->name == NULL || b->target == NULL) {
        sluice_backend_builder_free(b);
        return NULL;
    }
    return b;
}

void sluice_backend_builder_free(sluice_backend_builder_t *b)
{
    if (b == NULL)
        return;
    sl_labels_free(b->labels, b->nlabels);
    free(b->name);
    free(b->target);
    free(b->override_host);
    free(b);
}

static int record(sluice_backend_builder_t *b, int rc)
{
    if (rc != 0 && b->error == 0)
        b->error = rc;
    return rc;
}

int sluice_backend_builder_weight(sluice_backend_builder_t *b, uint32_t weight)
{
    if (b == NULL)
        return SLUICE_ERR_INVALID_ARG;
    b->weight = weight;
    return 0;
}

int sluice_backend_builder_label(sluice_backend_builder_t *b, const char *key, const char *value)
{
    struct sl_label *labels;
    char *k, *v;

    if (b == NULL)
        return SLUICE_ERR_INVALID_ARG;
    if (key == NULL || value == NULL || key[0] == '\0')
        return record(b, SLUICE_ERR_INVALID_ARG);
    k = strdup(key);
    v = strdup(value);
    labels = k != NULL && v != NULL ? realloc(b->labels, (b->nlabels + 1) * sizeof(*labels)) : NULL;
    if (labels == NULL) {
        free(k);
        free(v);
        return record(b, SLUICE_ERR_NOMEM);
    }
    b->labels = labels;
    labels[b->nlabels].key = k;
    labels[b->nlabels].value = v;
    b->nlabels++;
    return 0;
}

int sluice_backend_builder_connect_timeout(sluice_backend_builder_t *b, uint32_t ms)
{
    if (b == NULL)
        return SLUICE_ERR_INVALID_ARG;
    b->connect_timeout_ms = ms;
    return 0;
}

int sluice_backend_builder_first_byte_timeout(sluice_backend_builder_t *b, uint32_t ms)
{
    if (b == NULL)
        return SLUICE_ERR_INVALID_ARG;
    b->first_byte_timeout_ms = ms;
    return 0;
}

int sluice_backend_builder_between_bytes_timeout(sluice_backend_builder_t *b, uint32_t ms)
{
    if (b == NULL)
        return SLUICE_ERR_INVALID_ARG;
    b->between_bytes_timeout_ms = ms;
    return 0;
}

int sluice_backend_builder_override_host(sluice_backend_builder_t *b, const char *host)
{
    char *h;

    if (b == NULL)
        return SLUICE_ERR_INVALID_ARG;
    if (host == NULL || host[0] == '\0')
        return record(b, SLUICE_ERR_INVALID_ARG);
    h = strdup(host);
    if (h == NULL)
        return record(b, SLUICE_ERR_NOMEM);
    free(b->override_host);
    b->override_host = h;
    return 0;
}

/* The backend the builder describes, with one reference; labels set later
 * replace earlier ones of the same key. */
static int make_backend(const sluice_backend_builder_t *bb, const struct sl_target *t,
                        struct sl_score_cfg *cfg, struct sluice_backend **out)
{
    const struct sl_backend_spec spec = {
        .name = bb->name,
        .target = bb->target,
        .weight = bb->weight,
        .labels = bb->labels,
        .nlabels = bb->nlabels,
        .connect_timeout_ms = bb->connect_timeout_ms,
        .first_byte_timeout_ms = bb->first_byte_timeout_ms,
        .between_bytes_timeout_ms = bb->between_bytes_timeout_ms,
        .override_host = bb->override_host,
    };

    *out = sl_backend_new_spec(t, &spec, cfg);
    return *out != NULL ? 0 : SLUICE_ERR_NOMEM;
}

int sluice_backend_builder_finish(sluice_backend_builder_t *bb, sluice_lb_t *lb,
                                  const char *service)
{
    struct sluice_backend *b = NULL;
    struct sl_target t;
    int rc;

    if (bb == NULL || lb == NULL || service == NULL) {
        sluice_backend_builder_free(bb);
        return SLUICE_ERR_INVALID_ARG;
    }
    rc = bb->error;
    /* Cheap refusals first, so a disallowed call does not hit DNS. */
    if (rc == 0 && !atomic_load_explicit(&lb->allow_dynamic, memory_order_relaxed))
        rc = SLUICE_ERR_DISALLOWED;
    if (rc == 0 && bb->name[0] == '\0')
        rc = SLUICE_ERR_INVALID_ARG;
    if (rc == 0 && (rc = sl_target_parse(bb->target, &t)) == SLUICE_ERR_INVALID_ARG)
        rc = SLUICE_ERR_INVALID_TARGET;
    if (rc == 0)
        rc = make_backend(bb, &t, lb->score, &b);
    sluice_backend_builder_free(bb);
    if (rc != 0)
        return rc;
    /* Re-checks DISALLOWED and checks NAME_IN_USE and DUPLICATE_TARGET
     * under the writer lock, where they cannot race another writer. */
    return sl_lb_add_backend_obj(lb, service, b, true);
}
