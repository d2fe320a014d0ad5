/* Requests per second per backend: deltas of the lb's counters between
 * two samples. */
#include "control/rps.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int entry_cmp(const void *a, const void *b)
{
    return strcmp(((const struct sl_rps_entry *)a)->key, ((const struct sl_rps_entry *)b)->key);
}

static const struct sl_rps_entry *find(const struct sl_rps *r, const char *key)
{
    struct sl_rps_entry k = {.key = (char *)key};

    return r->n == 0 ? NULL : bsearch(&k, r->v, r->n, sizeof(*r->v), entry_cmp);
}

void sl_rps_sample(struct sl_rps *r, sluice_lb_t *lb, const struct sl_config *cfg, uint64_t now_ms)
{
    size_t total = 0, n = 0;
    struct sl_rps_entry *v;

    for (size_t i = 0; i < cfg->nservices; i++)
        total += cfg->services[i].nbackends;
    if ((v = calloc(total + 1, sizeof(*v))) == NULL)
        return; /* keep the old rates until the next tick */
    for (size_t i = 0; i < cfg->nservices; i++) {
        sluice_group_snapshot_t snap;

        if (sluice_lb_snapshot(lb, cfg->services[i].name, &snap) != 0)
            continue;
        for (size_t j = 0; j < snap.n && n < total; j++) {
            struct sl_rps_entry *e = &v[n];
            const struct sl_rps_entry *old;

            if (asprintf(&e->key, "%s/%s", cfg->services[i].name, snap.backends[j].name) < 0)
                continue;
            e->requests = snap.backends[j].requests;
            e->at_ms = now_ms;
            old = find(r, e->key);
            if (old != NULL && now_ms > old->at_ms && e->requests >= old->requests)
                e->rps =
                    (double)(e->requests - old->requests) * 1000.0 / (double)(now_ms - old->at_ms);
            n++;
        }
        sluice_group_snapshot_free(&snap);
    }
    qsort(v, n, sizeof(*v), entry_cmp);
    sl_rps_fini(r);
    r->v = v;
    r->n = n;
}

double sl_rps_get(const struct sl_rps *r, const char *svc, const char *name)
{
    char key[512];
    const struct sl_rps_entry *e;

    if (snprintf(key, sizeof(key), "%s/%s", svc, name) >= (int)sizeof(key))
        return 0;
    e = find(r, key);
    return e != NULL ? e->rps : 0;
}

void sl_rps_fini(struct sl_rps *r)
{
    for (size_t i = 0; i < r->n; i++)
        free(r->v[i].key);
    free(r->v);
    r->v = NULL;
    r->n = 0;
}
