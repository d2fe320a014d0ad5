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
    memset(out, 0, sizeof(*out));
    if ((out->recs = calloc(ov->n + n + 1, sizeof(*out->recs))) == NULL)
        return -1;
    out->cap = ov->n + n + 1;
    for (size_t i = 0; i < ov->n; i++) {
        const struct sl_ov_rec *r = &ov->recs[i];
        struct sl_ov_rec *o = &out->recs[out->n];

        o->kind = r->kind;
        o->inactive = r->inactive;
        o->value = json_incref(r->value);
        o->key = strdup(r->key);
        o->reason = r->reason != NULL ? strdup(r->reason) : NULL;
        out->n++;
        if (o->key == NULL || (r->reason != NULL && o->reason == NULL))
            goto fail;
    }
    for (size_t i = 0; i < n; i++) {
        if (edits[i].value == NULL)
            ov_erase(out, edits[i].kind, edits[i].key);
        else if (ov_set(out, edits[i].kind, edits[i].key, json_incref(edits[i].value)) != 0)
            goto fail;
    }
    return 0;
fail:
    sl_overlay_fini(out);
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

int sl_overlay_build(const struct sl_overlay *ov, const struct sl_ynode *base, const char *path,
                     struct sl_config **cfg, struct sl_ynode **merged, struct sl_diag *diag)
{
    struct sl_ynode *t = sl_ytree_copy(base);
    char why[256];
    int rc;

    if (t == NULL)
        return SLUICE_ERR_NOMEM;
    for (size_t i = 0; i < ov->n; i++) {
        if (ov->recs[i].inactive)
            continue;
        if (sl_overlay_merge(t, &ov->recs[i], why, sizeof(why)) != 0) {
            sl_diag_add(diag, "%s %s: %s", sl_overlay_kind_name(ov->recs[i].kind), ov->recs[i].key,
                        why);
            sl_ytree_free(t);
            return SLUICE_ERR_CONFIG;
        }
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

int sl_overlay_replay(struct sl_overlay *ov, const struct sl_ynode *base, const char *path,
                      struct sl_config **cfg, struct sl_ynode **merged, struct sl_diag *diag)
{
    struct sl_diag quiet;
    struct sl_ynode *t;
    char why[256];
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
    /* Something conflicts: take the records one by one, keeping those the
     * whole still accepts. */
    if ((t = sl_ytree_copy(base)) == NULL)
        return SLUICE_ERR_NOMEM;
    for (size_t i = 0; i < ov->n; i++) {
        struct sl_ynode *next = sl_ytree_copy(t);
        struct sl_config *probe = NULL;

        if (next == NULL) {
            sl_ytree_free(t);
            return SLUICE_ERR_NOMEM;
        }
        sl_diag_init(&quiet);
        if (sl_overlay_merge(next, &ov->recs[i], why, sizeof(why)) != 0) {
            deactivate(&ov->recs[i], why, diag);
            sl_ytree_free(next);
        } else if ((rc = sl_config_from_tree(next, path, &probe, &quiet)) != 0) {
            const char *m = sl_overlay_first_error(&quiet, path);

            deactivate(&ov->recs[i], m != NULL ? m : sluice_strerror(rc), diag);
            sl_ytree_free(next);
        } else {
            sl_config_free(probe);
            sl_ytree_free(t);
            t = next;
        }
        sl_diag_fini(&quiet);
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
