/* Batch apply (see apply.h): validate the whole desired state, create the
 * new backend objects (DNS) before taking the writer lock, then remove,
 * retire, put services and views in one transaction and publish once. */
#include "apply.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend_types.h"
#include "lb.h"
#include "target.h"
#include "txn.h"
#include "view.h"

/* How often the off-lock creation of new backends is retried when another
 * writer changed the lb meanwhile; the last attempt creates what is still
 * missing under the lock (only reachable under a storm of writers). */
#define SL_APPLY_TRIES 4

/* One wanted backend, flattened over every service. */
struct prep {
    const struct sl_group_spec *g;
    const struct sl_backend_spec *s;
    struct sl_target t;
    const char *name;             /* s->name, or t.canon */
    struct sluice_backend *fresh; /* created here, one reference; or NULL */
    struct sluice_backend *use;   /* chosen under the lock (borrowed) */
};

struct batch {
    sluice_lb_t *lb;
    const struct sl_group_spec *groups;
    size_t n;
    const struct sl_view_spec *views;
    size_t nviews;
    const char *const *remove;
    size_t nremove;
    const char *const *retire;
    size_t nretire;
    struct prep *p; /* np entries, in groups[] order */
    size_t np;
    size_t *first;                   /* groups[i]'s preps start at p[first[i]] */
    struct sluice_backend **carried; /* per prep: the running one to keep (carry_over()) */
    char *err;
    size_t errlen;
};

__attribute__((format(printf, 3, 4))) static int fail(struct batch *b, int rc, const char *fmt, ...)
{
    va_list ap;

    if (b->err != NULL && b->errlen > 0) {
        va_start(ap, fmt);
        (void)vsnprintf(b->err, b->errlen, fmt, ap);
        va_end(ap);
    }
    return rc;
}

/* Flattens the wanted backends into b->p and parses their targets. */
static int prepare(struct batch *b)
{
    size_t np = 0, k = 0;

    for (size_t i = 0; i < b->n; i++)
        np += b->groups[i].n;
    b->p = calloc(np + 1, sizeof(*b->p));
    b->first = calloc(b->n + 1, sizeof(*b->first));
    b->carried = calloc(np + 1, sizeof(*b->carried));
    if (b->p == NULL || b->first == NULL || b->carried == NULL)
        return fail(b, SLUICE_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < b->n; i++) {
        const struct sl_group_spec *g = &b->groups[i];

        if (g->name == NULL || (unsigned)g->strategy >= SLUICE_STRATEGY_COUNT ||
            (g->n > 0 && g->backends == NULL))
            return fail(b, SLUICE_ERR_INVALID_ARG, "service %s: invalid spec",
                        g->name != NULL ? g->name : "(null)");
        b->first[i] = k;
        for (size_t j = 0; j < g->n; j++, k++) {
            struct prep *p = &b->p[k];

            p->g = g;
            p->s = &g->backends[j];
            if (p->s->target == NULL || sl_target_parse(p->s->target, &p->t) != 0)
                return fail(b, SLUICE_ERR_INVALID_TARGET, "service %s: invalid target '%s'",
                            g->name, p->s->target != NULL ? p->s->target : "(null)");
            p->name = p->s->name != NULL ? p->s->name : p->t.canon;
        }
    }
    b->np = np;
    return 0;
}

/* Within one service: distinct canonical targets and names. */
static int check_group(struct batch *b, size_t gi)
{
    const struct sl_group_spec *g = &b->groups[gi];
    struct sl_strmap targets, names;
    int rc = 0;

    if (sl_strmap_init(&targets, g->n) != 0)
        return fail(b, SLUICE_ERR_NOMEM, "out of memory");
    if (sl_strmap_init(&names, g->n) != 0) {
        sl_strmap_fini(&targets);
        return fail(b, SLUICE_ERR_NOMEM, "out of memory");
    }
    for (size_t j = 0; j < g->n && rc == 0; j++) {
        const struct prep *p = &b->p[b->first[gi] + j];

        if (sl_strmap_put(&targets, p->t.canon, j, NULL))
            rc = fail(b, SLUICE_ERR_DUPLICATE_TARGET, "service %s: target %s listed twice", g->name,
                      p->t.canon);
        else if (sl_strmap_put(&names, p->name, j, NULL))
            rc = fail(b, SLUICE_ERR_NAME_IN_USE, "service %s: backend name %s listed twice",
                      g->name, p->name);
    }
    sl_strmap_fini(&names);
    sl_strmap_fini(&targets);
    return rc;
}

/* Explicit backend names are unique across the services listed. */
static int check_names(struct batch *b)
{
    struct sl_strmap names;
    int rc = 0;

    if (sl_strmap_init(&names, b->np) != 0)
        return fail(b, SLUICE_ERR_NOMEM, "out of memory");
    for (size_t k = 0; k < b->np && rc == 0; k++) {
        size_t o;

        if (b->p[k].s->name != NULL && sl_strmap_put(&names, b->p[k].name, k, &o) &&
            b->p[o].g != b->p[k].g)
            rc = fail(b, SLUICE_ERR_NAME_IN_USE, "backend name %s in services %s and %s",
                      b->p[k].name, b->p[o].g->name, b->p[k].g->name);
    }
    sl_strmap_fini(&names);
    return rc;
}

/* Service and view names listed once each; selectors parse. */
static int check_specs(struct batch *b)
{
    struct sl_strmap names;
    int rc = prepare(b);

    for (size_t i = 0; i < b->n && rc == 0; i++)
        rc = check_group(b, i);
    if (rc == 0)
        rc = check_names(b);
    if (rc != 0)
        return rc;
    if (sl_strmap_init(&names, b->n + b->nviews) != 0)
        return fail(b, SLUICE_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < b->n && rc == 0; i++)
        if (sl_strmap_put(&names, b->groups[i].name, i, NULL))
            rc = fail(b, SLUICE_ERR_INVALID_ARG, "service %s listed twice", b->groups[i].name);
    for (size_t i = 0; i < b->nviews && rc == 0; i++) {
        const struct sl_view_spec *v = &b->views[i];
        char msg[128] = "";

        if (v->name == NULL || v->service == NULL)
            rc = fail(b, SLUICE_ERR_INVALID_ARG, "view: missing name or service");
        else if (sl_strmap_put(&names, v->name, i, NULL))
            rc = fail(b, SLUICE_ERR_INVALID_ARG, "view %s: name listed twice", v->name);
        else if ((rc = sl_selector_check(v->selector, msg, sizeof(msg))) != 0)
            rc = fail(b, rc, "view %s: %s", v->name, msg[0] != '\0' ? msg : sluice_strerror(rc));
    }
    for (size_t i = 0, at; i < b->nretire && rc == 0; i++)
        if (b->retire[i] != NULL && sl_strmap_get(&names, b->retire[i], &at))
            rc = fail(b, SLUICE_ERR_INVALID_ARG, "%s both put and retired", b->retire[i]);
    sl_strmap_fini(&names);
    return rc;
}

static bool same_labels(const struct sluice_backend *o, const struct sl_backend_spec *s)
{
    if (o->nlabels != s->nlabels)
        return false;
    for (size_t i = 0; i < s->nlabels; i++) {
        bool found = false;

        for (size_t j = 0; j < o->nlabels && !found; j++)
            found = strcmp(o->labels[j].key, s->labels[i].key) == 0 &&
                    strcmp(o->labels[j].value, s->labels[i].value) == 0;
        if (!found)
            return false;
    }
    return true;
}

static bool same_str(const char *a, const char *b)
{
    return a == b || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

/* <o> (immutable fields only) is what <p> asks for, weight aside. */
static bool matches(const struct sluice_backend *o, const struct prep *p)
{
    const struct sl_backend_spec *s = p->s;

    return strcmp(o->name, p->name) == 0 && strcmp(o->target, p->t.canon) == 0 &&
           o->connect_timeout_ms == s->connect_timeout_ms &&
           o->first_byte_timeout_ms == s->first_byte_timeout_ms &&
           o->between_bytes_timeout_ms == s->between_bytes_timeout_ms &&
           same_str(o->override_host, s->override_host) && same_labels(o, s);
}

/* The running backend of service <g> (NULL or a view: none) to carry over
 * for <p>, or NULL. */
static struct sluice_backend *carried(const struct sl_group *g, const struct prep *p)
{
    if (g == NULL || g->parent != NULL)
        return NULL;
    for (size_t i = 0; i < g->n; i++)
        if (matches(g->backends[i], p))
            return g->backends[i];
    return NULL;
}

static const struct sl_group *find_in_table(const void *where, const char *name)
{
    return sl_table_find(where, name);
}

static const struct sl_group *find_in_txn(const void *where, const char *name)
{
    return sl_txn_find(where, name);
}

/* carried() for every wanted backend into out[0..np), through one name
 * index per service: n lookups rather than n x n compares, which is what
 * an API call adding one backend to a service of thousands costs. Falls
 * back to carried() when the index cannot be allocated. */
static void carry_over(const struct batch *b,
                       const struct sl_group *(*find)(const void *where, const char *name),
                       const void *where, struct sluice_backend **out)
{
    for (size_t i = 0; i < b->n; i++) {
        const struct sl_group *g = find(where, b->groups[i].name);
        const struct prep *p = &b->p[b->first[i]];
        size_t n = b->groups[i].n, at;
        struct sl_strmap names;

        if (g == NULL || g->parent != NULL || sl_strmap_init(&names, g->n) != 0) {
            for (size_t j = 0; j < n; j++)
                out[b->first[i] + j] = carried(g, &p[j]);
            continue;
        }
        /* Names are unique within a service (check_group()). */
        for (size_t j = 0; j < g->n; j++)
            (void)sl_strmap_put(&names, g->backends[j]->name, j, NULL);
        for (size_t j = 0; j < n; j++)
            out[b->first[i] + j] =
                sl_strmap_get(&names, p[j].name, &at) && matches(g->backends[at], &p[j])
                    ? g->backends[at]
                    : NULL;
        sl_strmap_fini(&names);
    }
}

/* Off the writer lock: looks at the published table and creates (and
 * resolves) every backend that cannot be carried over and has no fresh
 * object yet. */
static int prefetch(struct batch *b)
{
    struct sl_epoch_token tok;
    const struct sl_table *t;
    struct sluice_backend **old = b->carried;

    sl_epoch_enter(&b->lb->epoch, &tok);
    /* acquire pairs with the publish in sl_txn_commit(). */
    t = atomic_load_explicit(&b->lb->table, memory_order_acquire);
    carry_over(b, find_in_table, t, old);
    sl_epoch_exit(&b->lb->epoch, &tok);
    /* old[] is only compared with NULL from here: the objects may go. */
    for (size_t k = 0; k < b->np; k++) {
        if (b->p[k].fresh == NULL && old[k] == NULL &&
            (b->p[k].fresh = sl_backend_new_spec(&b->p[k].t, b->p[k].s, b->lb->score)) == NULL)
            return fail(b, SLUICE_ERR_NOMEM, "out of memory");
    }
    return 0;
}

/* Under the lock: picks each backend's object. false when one has none
 * (the lb changed since prefetch()). */
static bool choose(struct batch *b, const struct sl_txn *tx)
{
    bool complete = true;

    carry_over(b, find_in_txn, tx, b->carried);
    for (size_t k = 0; k < b->np; k++) {
        struct prep *p = &b->p[k];

        p->use = b->carried[k] != NULL ? b->carried[k] : p->fresh;
        complete &= p->use != NULL;
    }
    return complete;
}

static bool listed(const struct batch *b, const char *service)
{
    for (size_t i = 0; i < b->n; i++)
        if (strcmp(b->groups[i].name, service) == 0)
            return true;
    return false;
}

static bool has_name(const struct sl_group *g, const char *name)
{
    for (size_t i = 0; i < g->n; i++)
        if (strcmp(g->backends[i]->name, name) == 0)
            return true;
    return false;
}

/* Names against the lb as it will be: no service listed is a view, no
 * view listed is a service, and services not listed hold none of the
 * explicit names, unless they are retiring: those only wait to be
 * unregistered, and a name that moves away from one must not force it out
 * while an old routing table may still select from it. */
static int check_lb(struct batch *b, const struct sl_txn *tx)
{
    for (size_t i = 0; i < b->n; i++) {
        const struct sl_group *g = sl_txn_find(tx, b->groups[i].name);

        if (g != NULL && g->parent != NULL)
            return fail(b, SLUICE_ERR_INVALID_ARG, "service %s: a view has that name", g->name);
    }
    for (size_t i = 0; i < b->nviews; i++) {
        const struct sl_group *g = sl_txn_find(tx, b->views[i].name);

        if (g != NULL && g->parent == NULL)
            return fail(b, SLUICE_ERR_INVALID_ARG, "view %s: a service has that name", g->name);
    }
    for (size_t i = 0; i < tx->n; i++) {
        const struct sl_group *g = tx->groups[i];

        if (g->parent != NULL || g->retiring || listed(b, g->name))
            continue;
        for (size_t k = 0; k < b->np; k++)
            if (b->p[k].s->name != NULL && has_name(g, b->p[k].name))
                return fail(b, SLUICE_ERR_NAME_IN_USE, "backend name %s is used by service %s",
                            b->p[k].name, g->name);
    }
    return 0;
}

static int remove_listed(struct batch *b, struct sl_txn *tx)
{
    for (size_t i = 0; i < b->nremove; i++) {
        int rc;

        if (b->remove[i] == NULL || sl_txn_find(tx, b->remove[i]) == NULL)
            continue;
        rc = sl_txn_del(tx, b->remove[i]);
        if (rc != 0)
            return fail(b, rc, "cannot remove %s: %s", b->remove[i], sluice_strerror(rc));
    }
    return 0;
}

/* Replaces each group to retire that is not retiring yet by a copy over
 * the same backends (objects, scores, seed: the same picks) marked
 * retiring. The views of a retiring service are rebuilt over the copy in
 * the same publish; a retiring view keeps these backends from now on. */
static int retire_listed(struct batch *b, struct sl_txn *tx)
{
    for (size_t i = 0; i < b->nretire; i++) {
        const struct sl_group *g = b->retire[i] != NULL ? sl_txn_find(tx, b->retire[i]) : NULL;
        int rc;

        if (g == NULL || g->retiring)
            continue;
        rc = sl_txn_rebuild(tx, g, g->backends, g->n);
        if (rc != 0)
            return fail(b, rc, "cannot retire %s: %s", b->retire[i], sluice_strerror(rc));
        /* The copy is this transaction's own, unpublished yet. */
        sl_txn_find(tx, b->retire[i])->retiring = true;
    }
    return 0;
}

/* In place, undone by an abort (txn.c). */
static int set_weights(struct batch *b, struct sl_txn *tx)
{
    int rc = 0;

    for (size_t k = 0; k < b->np && rc == 0; k++)
        rc = sl_txn_set_weight(tx, b->p[k].use, b->p[k].s->weight);
    return rc;
}

static int put_services(struct batch *b, struct sl_txn *tx)
{
    struct sluice_backend **bs = calloc(b->np + 1, sizeof(*bs));
    int rc = 0;

    if (bs == NULL)
        return SLUICE_ERR_NOMEM;
    for (size_t i = 0; i < b->n && rc == 0; i++) {
        const struct sl_group_spec *gs = &b->groups[i];
        const char *iname = sl_txn_intern(tx, gs->name);
        struct sl_group *g = NULL;

        for (size_t j = 0; j < gs->n; j++)
            bs[j] = b->p[b->first[i] + j].use;
        if (iname != NULL)
            g = sl_group_new(iname, gs->strategy, bs, gs->n, NULL, NULL, sl_txn_seed(tx, gs->name));
        rc = g != NULL ? sl_txn_put(tx, g) : SLUICE_ERR_NOMEM;
    }
    free(bs);
    return rc;
}

/* Puts the services and views of the batch into <tx>. */
static int build(struct batch *b, struct sl_txn *tx)
{
    int rc = set_weights(b, tx);

    if (rc == 0)
        rc = put_services(b, tx);
    for (size_t i = 0; i < b->nviews && rc == 0; i++)
        rc = sl_view_put(tx, b->views[i].name, b->views[i].service, b->views[i].selector);
    return rc;
}

/* One transaction. 1: retry (new backends missing). */
static int attempt(struct batch *b, bool last)
{
    struct sl_txn tx;
    int rc;

    rc = sl_txn_begin(&tx, b->lb);
    if (rc != 0)
        return fail(b, rc, "out of memory");
    rc = remove_listed(b, &tx);
    if (rc == 0)
        rc = retire_listed(b, &tx);
    if (rc == 0 && !choose(b, &tx)) {
        rc = 1;
        if (last) /* DNS under the lock: only after SL_APPLY_TRIES races */
            rc = prefetch(b) == 0 && choose(b, &tx) ? 0 : SLUICE_ERR_NOMEM;
    }
    if (rc != 0 || (rc = check_lb(b, &tx)) != 0) {
        sl_txn_abort(&tx);
        return rc;
    }
    /* Commits, or aborts with the weights back. */
    rc = sl_txn_end(&tx, build(b, &tx));
    return rc != 0 ? fail(b, rc, "%s", sluice_strerror(rc)) : 0;
}

int sl_lb_apply(sluice_lb_t *lb, const struct sl_group_spec *groups, size_t n,
                const struct sl_view_spec *views, size_t nviews, const struct sl_apply_gone *gone,
                char *err, size_t errlen)
{
    static const struct sl_apply_gone none = {0};
    struct batch b = {.lb = lb,
                      .groups = groups,
                      .n = n,
                      .views = views,
                      .nviews = nviews,
                      .err = err,
                      .errlen = errlen};
    int rc;

    if (gone == NULL)
        gone = &none;
    b.remove = gone->remove;
    b.nremove = gone->nremove;
    b.retire = gone->retire;
    b.nretire = gone->nretire;
    if (err != NULL && errlen > 0)
        err[0] = '\0';
    if (lb == NULL || (n > 0 && groups == NULL) || (nviews > 0 && views == NULL) ||
        (b.nremove > 0 && b.remove == NULL) || (b.nretire > 0 && b.retire == NULL))
        return fail(&b, SLUICE_ERR_INVALID_ARG, "invalid argument");
    rc = check_specs(&b);
    for (int i = 0; rc == 0 && i < SL_APPLY_TRIES; i++) {
        rc = prefetch(&b);
        if (rc == 0)
            rc = attempt(&b, i + 1 == SL_APPLY_TRIES);
        if (rc == 1)
            rc = 0;
        else
            break;
    }
    for (size_t k = 0; k < b.np; k++)
        sl_backend_unref(b.p[k].fresh); /* the groups hold their own references */
    free(b.p);
    free(b.first);
    free(b.carried);
    return rc;
}
