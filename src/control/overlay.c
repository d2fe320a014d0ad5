/* The overlay's records in memory and their replay over the file's tree. */
#include "control/overlay.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "control/ytree_json.h"

static const char *const kind_names[] = {"service", "backend", "endpoint"};

const char *sl_overlay_kind_name(enum sl_ov_kind k)
{
    return kind_names[k];
}

static int rec_cmp(enum sl_ov_kind ka, const char *a, const struct sl_ov_rec *b)
{
    if (ka != b->kind)
        return ka < b->kind ? -1 : 1;
    return strcmp(a, b->key);
}

/* Index of (k, key), or of where it would go (*found false). */
static size_t rec_pos(const struct sl_overlay *ov, enum sl_ov_kind k, const char *key, bool *found)
{
    size_t lo = 0, hi = ov->n;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = rec_cmp(k, key, &ov->recs[mid]);

        if (c == 0) {
            *found = true;
            return mid;
        }
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    *found = false;
    return lo;
}

struct sl_ov_rec *sl_overlay_find(const struct sl_overlay *ov, enum sl_ov_kind k, const char *key)
{
    bool found;
    size_t i = rec_pos(ov, k, key, &found);

    return found ? &ov->recs[i] : NULL;
}

static void rec_fini(struct sl_ov_rec *r)
{
    free(r->key);
    json_decref(r->value);
    free(r->reason);
}

/* Sets (kind, key) to <value> (taken), active. 0 or -1. */
static int ov_set(struct sl_overlay *ov, enum sl_ov_kind k, const char *key, json_t *value)
{
    bool found;
    size_t i = rec_pos(ov, k, key, &found);

    if (found) {
        json_decref(ov->recs[i].value);
        ov->recs[i].value = value;
        ov->recs[i].inactive = false;
        free(ov->recs[i].reason);
        ov->recs[i].reason = NULL;
        return 0;
    }
    if (ov->n == ov->cap) {
        size_t cap = ov->cap != 0 ? ov->cap * 2 : 16;
        struct sl_ov_rec *v = realloc(ov->recs, cap * sizeof(*v));

        if (v == NULL)
            goto fail;
        ov->recs = v;
        ov->cap = cap;
    }
    char *kcopy = strdup(key);

    if (kcopy == NULL)
        goto fail;
    memmove(&ov->recs[i + 1], &ov->recs[i], (ov->n - i) * sizeof(*ov->recs));
    ov->recs[i] = (struct sl_ov_rec){k, kcopy, value, false, NULL};
    ov->n++;
    return 0;
fail:
    json_decref(value);
    return -1;
}

static void ov_erase(struct sl_overlay *ov, enum sl_ov_kind k, const char *key)
{
    bool found;
    size_t i = rec_pos(ov, k, key, &found);

    if (!found)
        return;
    rec_fini(&ov->recs[i]);
    memmove(&ov->recs[i], &ov->recs[i + 1], (ov->n - i - 1) * sizeof(*ov->recs));
    ov->n--;
}

void sl_overlay_fini(struct sl_overlay *ov)
{
    for (size_t i = 0; i < ov->n; i++)
        rec_fini(&ov->recs[i]);
    free(ov->recs);
    memset(ov, 0, sizeof(*ov));
}

struct load_ctx {
    struct sl_overlay *ov;
    char *err;
    size_t errlen;
};

static int load_one(void *arg, const struct sl_store_rec *r)
{
    struct load_ctx *lc = arg;
    enum sl_ov_kind k;
    json_error_t je;
    json_t *v;

    if (strcmp(r->kind, "service") == 0)
        k = SL_OV_SERVICE;
    else if (strcmp(r->kind, "backend") == 0)
        k = SL_OV_BACKEND;
    else if (strcmp(r->kind, "endpoint") == 0)
        k = SL_OV_ENDPOINT;
    else
        return 0; /* tokens, meta: not the overlay's */
    v = json_loads(r->value, JSON_DECODE_ANY, &je);
    if (v == NULL) {
        (void)snprintf(lc->err, lc->errlen, "record %s %s: invalid JSON: %s", r->kind, r->key,
                       je.text);
        return -1;
    }
    if (ov_set(lc->ov, k, r->key, v) != 0) {
        (void)snprintf(lc->err, lc->errlen, "out of memory");
        return -1;
    }
    return 0;
}

int sl_overlay_load(struct sl_overlay *ov, struct sl_store *s, char *err, size_t errlen)
{
    struct load_ctx lc = {ov, err, errlen};
    int rc = sl_store_load(s, load_one, &lc, err, errlen);

    return rc == 0 ? 0 : -1;
}

int sl_overlay_with(const struct sl_overlay *ov, const struct sl_ov_edit *edits, size_t n,
                    struct sl_overlay *out)
{
    /* Built in a local and handed over whole: <out> holds either the result
     * or nothing, and no record past res.n is ever looked at. */
    struct sl_overlay res = {0};

    memset(out, 0, sizeof(*out));
    if ((res.recs = calloc(ov->n + n + 1, sizeof(*res.recs))) == NULL)
        return -1;
    res.cap = ov->n + n + 1;
    for (size_t i = 0; i < ov->n; i++) {
        const struct sl_ov_rec *r = &ov->recs[i];
        struct sl_ov_rec *o = &res.recs[res.n];

        o->kind = r->kind;
        o->inactive = r->inactive;
        o->value = json_incref(r->value);
        o->key = strdup(r->key);
        o->reason = r->reason != NULL ? strdup(r->reason) : NULL;
        res.n++;
        if (o->key == NULL || (r->reason != NULL && o->reason == NULL))
            goto fail;
    }
    for (size_t i = 0; i < n; i++) {
        if (edits[i].value == NULL)
            ov_erase(&res, edits[i].kind, edits[i].key);
        else if (ov_set(&res, edits[i].kind, edits[i].key, json_incref(edits[i].value)) != 0)
            goto fail;
    }
    *out = res;
    return 0;
fail:
    sl_overlay_fini(&res);
    return -1;
}

static struct sl_ynode *child_map(struct sl_ynode *parent, const char *key)
{
    struct sl_ynode *m = sl_ymap_get_mut(parent, key);

    if (m != NULL && m->type == SL_Y_MAP)
        return m;
    if (m != NULL && !sl_ynode_is_null(m))
        return NULL;
    return sl_ymap_put(parent, key, sl_ytree_new_map()) == 0 ? sl_ymap_get_mut(parent, key) : NULL;
}

static struct sl_ynode *child_seq(struct sl_ynode *parent, const char *key)
{
    struct sl_ynode *s = sl_ymap_get_mut(parent, key);

    if (s != NULL && s->type == SL_Y_SEQ)
        return s;
    if (s != NULL && !sl_ynode_is_null(s))
        return NULL;
    s = sl_ytree_new_map();
    if (s != NULL)
        s->type = SL_Y_SEQ; /* an empty map and an empty list differ only by type */
    return sl_ymap_put(parent, key, s) == 0 ? sl_ymap_get_mut(parent, key) : NULL;
}

/* <obj> as a tree with <field> set to <value>. NULL when out of memory. */
static struct sl_ynode *with_field(const json_t *obj, const char *field, const char *value)
{
    struct sl_ynode *n = sl_ytree_from_json(obj);
    json_t *s = json_string(value);
    int rc = n != NULL && s != NULL ? sl_ymap_put(n, field, sl_ytree_from_json(s)) : -1;

    json_decref(s);
    if (rc != 0) {
        sl_ytree_free(n);
        return NULL;
    }
    return n;
}

static int merge_service(struct sl_ynode *root, const struct sl_ov_rec *r, char *why, size_t len)
{
    struct sl_ynode *svcs = child_map(root, "services");

    if (svcs == NULL) {
        (void)snprintf(why, len, "services: expected a mapping");
        return -1;
    }
    if (json_is_null(r->value)) {
        (void)sl_ymap_del(svcs, r->key);
        return 0;
    }
    if (sl_ymap_put(svcs, r->key, sl_ytree_from_json(r->value)) != 0) {
        (void)snprintf(why, len, "out of memory");
        return -1;
    }
    return 0;
}

static int merge_backend(struct sl_ynode *root, const struct sl_ov_rec *r, char *why, size_t len)
{
    const char *slash = strchr(r->key, '/');
    char svc[256];
    struct sl_ynode *s, *list;
    const json_t *b = json_object_get(r->value, "backend");

    if (slash == NULL || (size_t)(slash - r->key) >= sizeof(svc)) {
        (void)snprintf(why, len, "invalid key (SERVICE/NAME)");
        return -1;
    }
    memcpy(svc, r->key, (size_t)(slash - r->key));
    svc[slash - r->key] = '\0';
    s = sl_ymap_get_mut(sl_ymap_get_mut(root, "services"), svc);
    if (s == NULL) {
        (void)snprintf(why, len, "service %s is not configured", svc);
        return -1;
    }
    if (sl_ynode_is_null(s)) {
        /* `svc:` alone: a map with every default. */
        struct sl_ynode *m = sl_ytree_new_map();

        if (sl_ymap_put(sl_ymap_get_mut(root, "services"), svc, m) != 0)
            goto nomem;
        s = m;
    }
    if (s->type != SL_Y_MAP || (list = child_seq(s, "backends")) == NULL) {
        (void)snprintf(why, len, "service %s: backends: expected a list", svc);
        return -1;
    }
    long i = sl_yseq_find(list, "name", slash + 1);

    if (json_is_null(r->value)) {
        if (i >= 0)
            sl_yseq_del(list, (size_t)i);
        return 0;
    }
    if (!json_is_object(b)) {
        (void)snprintf(why, len, "backend: expected an object");
        return -1;
    }
    if (sl_yseq_put(list, i, with_field(b, "name", slash + 1)) == 0)
        return 0;
nomem:
    (void)snprintf(why, len, "out of memory");
    return -1;
}

static int merge_endpoint(struct sl_ynode *root, const struct sl_ov_rec *r, char *why, size_t len)
{
    struct sl_ynode *list = child_seq(root, "endpoints");

    if (list == NULL) {
        (void)snprintf(why, len, "endpoints: expected a list");
        return -1;
    }
    long i = sl_yseq_find(list, "pattern", r->key);

    if (json_is_null(r->value)) {
        if (i >= 0)
            sl_yseq_del(list, (size_t)i);
        return 0;
    }
    if (!json_is_object(r->value)) {
        (void)snprintf(why, len, "endpoint: expected an object");
        return -1;
    }
    if (sl_yseq_put(list, i, with_field(r->value, "pattern", r->key)) != 0) {
        (void)snprintf(why, len, "out of memory");
        return -1;
    }
    return 0;
}

int sl_overlay_merge(struct sl_ynode *root, const struct sl_ov_rec *r, char *why, size_t len)
{
    if (root == NULL || root->type != SL_Y_MAP) {
        (void)snprintf(why, len, "the configuration is not a mapping");
        return -1;
    }
    switch (r->kind) {
    case SL_OV_SERVICE:
        return merge_service(root, r, why, len);
    case SL_OV_BACKEND:
        return merge_backend(root, r, why, len);
    case SL_OV_ENDPOINT:
    default:
        return merge_endpoint(root, r, why, len);
    }
}

const char *sl_overlay_first_error(const struct sl_diag *d, const char *path)
{
    size_t plen = strlen(path);

    for (size_t i = 0; i < d->n; i++) {
        const char *m = d->msgs[i];

        if (sl_diag_is_warning(m))
            continue;
        if (strncmp(m, path, plen) == 0 && m[plen] == ':') {
            const char *p = m + plen + 1;

            while (*p >= '0' && *p <= '9')
                p++;
            if (p[0] == ':' && p[1] == ' ')
                return p + 2;
        }
        return m;
    }
    return NULL;
}

/* The service part of a backend record's key (into svc[len]); -1 when
 * the key has no '/'. */
static int key_service(const char *key, char *svc, size_t len)
{
    const char *slash = strchr(key, '/');

    if (slash == NULL || (size_t)(slash - key) >= len)
        return -1;
    memcpy(svc, key, (size_t)(slash - key));
    svc[slash - key] = '\0';
    return 0;
}

struct pos {
    const char *name;
    size_t i;
};

static int pos_cmp(const void *a, const void *b)
{
    return strcmp(((const struct pos *)a)->name, ((const struct pos *)b)->name);
}

/* Fills idx[] with the named items of <list>, sorted by name; their count. */
static size_t index_by_name(const struct sl_ynode *list, struct pos *idx)
{
    size_t m = 0;

    for (size_t i = 0; i < list->n; i++) {
        const struct sl_ynode *nm = sl_ymap_get(list->items[i], "name");

        if (nm != NULL && nm->type == SL_Y_SCALAR)
            idx[m++] = (struct pos){nm->str, i};
    }
    qsort(idx, m, sizeof(*idx), pos_cmp);
    return m;
}

/* Drops the NULL items of <list>, keeping the others' order. */
static void compact(struct sl_ynode *list)
{
    size_t keep = 0;

    for (size_t i = 0; i < list->n; i++)
        if (list->items[i] != NULL)
            list->items[keep++] = list->items[i];
    list->n = keep;
}

/* Merges the backend records recs[0..n) of one service <svc> at once:
 * one index of the service's list instead of a scan per record, so an
 * overlay of thousands of backends merges in n log n. 0 or -1 (why set;
 * *bad the record at fault). */
static int merge_backend_run(struct sl_ynode *root, const char *svc, const struct sl_ov_rec *recs,
                             size_t n, size_t *bad, char *why, size_t len)
{
    struct sl_ynode *list, **gone = NULL;
    struct pos *idx = NULL;
    size_t m, ngone = 0;
    int rc = -1;

    *bad = 0;
    /* The first record goes the ordinary way: it checks the service and
     * makes sure the list exists. */
    if (merge_backend(root, &recs[0], why, len) != 0)
        return -1;
    list = sl_ymap_get_mut(sl_ymap_get_mut(sl_ymap_get_mut(root, "services"), svc), "backends");
    idx = calloc(list->n + 1, sizeof(*idx));
    gone = calloc(n + 1, sizeof(*gone));
    if (idx == NULL || gone == NULL)
        goto nomem;
    m = index_by_name(list, idx);
    for (size_t k = 1; k < n; k++) {
        const struct sl_ov_rec *r = &recs[k];
        const char *name = strchr(r->key, '/') + 1;
        const json_t *b = json_object_get(r->value, "backend");
        struct pos key = {name, 0};
        struct pos *hit = m > 0 ? bsearch(&key, idx, m, sizeof(*idx), pos_cmp) : NULL;
        struct sl_ynode *v = NULL;

        if (!json_is_null(r->value)) {
            if (!json_is_object(b)) {
                *bad = k;
                (void)snprintf(why, len, "backend: expected an object");
                goto out;
            }
            if ((v = with_field(b, "name", name)) == NULL)
                goto nomem;
        }
        if (hit != NULL) {
            /* The old item stays allocated until the end: the index
             * points at its name. Keys are unique: no second hit. */
            gone[ngone++] = list->items[hit->i];
            list->items[hit->i] = v; /* NULL: removed, compacted below */
        } else if (v != NULL && sl_yseq_put(list, -1, v) != 0) {
            goto nomem;
        }
    }
    rc = 0;
    goto out;
nomem:
    (void)snprintf(why, len, "out of memory");
out:
    compact(list);
    for (size_t i = 0; i < ngone; i++)
        sl_ytree_free(gone[i]);
    free(gone);
    free(idx);
    return rc;
}

static void deactivate(struct sl_ov_rec *r, const char *why, struct sl_diag *diag);

/* Merges the active records of recs[0..n) into <t>. Strict (<diag> NULL):
 * stops at the first that cannot merge, -1 with *bad its index and why.
 * Lenient: such a record is made inactive (said in <diag>) and the others
 * go on; 0 unless out of memory. */
static int merge_range(struct sl_ynode *t, struct sl_ov_rec *recs, size_t n, size_t *bad, char *why,
                       size_t len, struct sl_diag *diag)
{
    char svc[256], next[256];

    for (size_t i = 0; i < n;) {
        struct sl_ov_rec *r = &recs[i];
        size_t k = 1, at = 0;
        int rc;

        if (r->inactive) {
            i++;
            continue;
        }
        if (r->kind == SL_OV_BACKEND && key_service(r->key, svc, sizeof(svc)) == 0) {
            /* The run of active records of the same service. */
            while (i + k < n && recs[i + k].kind == SL_OV_BACKEND && !recs[i + k].inactive &&
                   key_service(recs[i + k].key, next, sizeof(next)) == 0 && strcmp(next, svc) == 0)
                k++;
            rc = merge_backend_run(t, svc, r, k, &at, why, len);
        } else {
            rc = sl_overlay_merge(t, r, why, len);
        }
        if (rc != 0) {
            if (diag == NULL || strcmp(why, "out of memory") == 0) {
                *bad = i + at;
                return -1;
            }
            /* Only the records before r[at] went in: retry the rest. */
            deactivate(&r[at], why, diag);
            continue;
        }
        i += k;
    }
    return 0;
}

int sl_overlay_build(const struct sl_overlay *ov, const struct sl_ynode *base, const char *path,
                     struct sl_config **cfg, struct sl_ynode **merged, struct sl_diag *diag)
{
    struct sl_ynode *t = sl_ytree_copy(base);
    char why[256];
    size_t bad = 0;
    int rc;

    if (t == NULL)
        return SLUICE_ERR_NOMEM;
    if (merge_range(t, ov->recs, ov->n, &bad, why, sizeof(why), NULL) != 0) {
        sl_diag_add(diag, "%s %s: %s", sl_overlay_kind_name(ov->recs[bad].kind), ov->recs[bad].key,
                    why);
        sl_ytree_free(t);
        return strcmp(why, "out of memory") == 0 ? SLUICE_ERR_NOMEM : SLUICE_ERR_CONFIG;
    }
    rc = sl_config_from_tree(t, path, cfg, diag);
    if (rc != 0) {
        sl_ytree_free(t);
        return rc;
    }
    *merged = t;
    return 0;
}

/* Marks <r> inactive for <why> and says so once in <diag>. */
static void deactivate(struct sl_ov_rec *r, const char *why, struct sl_diag *diag)
{
    free(r->reason);
    r->reason = strdup(why);
    r->inactive = true;
    sl_diag_add(diag, "warning: overlay %s %s is inactive: %s", sl_overlay_kind_name(r->kind),
                r->key, why);
}

struct take_ctx {
    const char *path;
    struct sl_diag *diag;
    int err;
};

/* *<t> is valid with every record taken so far: adds recs[0..n) to it,
 * or, when the whole would be invalid, halves the range until the records
 * at fault are alone, and makes those inactive. A few validations per bad
 * record, instead of one per record. */
static void take(struct sl_ynode **t, struct sl_ov_rec *recs, size_t n, struct take_ctx *tc)
{
    struct sl_ynode *next;
    struct sl_config *probe = NULL;
    struct sl_diag quiet;
    char why[256];
    size_t bad;
    int rc;

    if (n == 0 || tc->err != 0)
        return;
    if ((next = sl_ytree_copy(*t)) == NULL) {
        tc->err = SLUICE_ERR_NOMEM;
        return;
    }
    if (merge_range(next, recs, n, &bad, why, sizeof(why), tc->diag) != 0) {
        sl_ytree_free(next);
        tc->err = SLUICE_ERR_NOMEM;
        return;
    }
    sl_diag_init(&quiet);
    rc = sl_config_from_tree(next, tc->path, &probe, &quiet);
    if (rc == 0) {
        sl_config_free(probe);
        sl_ytree_free(*t);
        *t = next;
    } else {
        sl_ytree_free(next);
        if (rc == SLUICE_ERR_NOMEM) {
            tc->err = rc;
        } else if (n == 1) {
            const char *m = sl_overlay_first_error(&quiet, tc->path);

            if (!recs[0].inactive)
                deactivate(&recs[0], m != NULL ? m : sluice_strerror(rc), tc->diag);
        } else {
            take(t, recs, n / 2, tc);
            take(t, recs + n / 2, n - n / 2, tc);
        }
    }
    sl_diag_fini(&quiet);
}

int sl_overlay_replay(struct sl_overlay *ov, const struct sl_ynode *base, const char *path,
                      struct sl_config **cfg, struct sl_ynode **merged, struct sl_diag *diag)
{
    struct take_ctx tc = {path, diag, 0};
    struct sl_diag quiet;
    struct sl_ynode *t;
    int rc;

    for (size_t i = 0; i < ov->n; i++) {
        ov->recs[i].inactive = false;
        free(ov->recs[i].reason);
        ov->recs[i].reason = NULL;
    }
    sl_diag_init(&quiet);
    rc = sl_overlay_build(ov, base, path, cfg, merged, &quiet);
    sl_diag_fini(&quiet);
    if (rc != SLUICE_ERR_CONFIG)
        return rc;
    /* Something conflicts: keep what the whole still accepts. */
    if ((t = sl_ytree_copy(base)) == NULL)
        return SLUICE_ERR_NOMEM;
    take(&t, ov->recs, ov->n, &tc);
    if (tc.err != 0) {
        sl_ytree_free(t);
        return tc.err;
    }
    /* The file's own warnings were said when it was checked alone. */
    sl_diag_init(&quiet);
    rc = sl_config_from_tree(t, path, cfg, &quiet);
    for (size_t i = 0; i < quiet.n; i++)
        if (!sl_diag_is_warning(quiet.msgs[i]))
            sl_diag_add(diag, "%s", quiet.msgs[i]);
    sl_diag_fini(&quiet);
    if (rc != 0) {
        sl_ytree_free(t);
        return rc;
    }
    *merged = t;
    return 0;
}
