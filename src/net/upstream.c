#include "upstream.h"

#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#include "sock.h"

#define SWEEP_MS 1000

struct sl_upkey {
    const void *key;       /* compared only; the connections hold the refs */
    struct sl_upkey *next; /* bucket chain */
    struct sl_dlist idle;  /* of struct sl_upconn; head: most recently parked */
    bool empty_seen;       /* empty at the last sweep: freed at the next */
};

static size_t bucket_of(const void *key)
{
    uint64_t h = (uint64_t)(uintptr_t)key * 0x9e3779b97f4a7c15ull;

    return (size_t)(h >> 56) % SL_UPSTREAM_BUCKETS;
}

static struct sl_upkey *find_key(struct sl_upstream *u, const void *key)
{
    for (struct sl_upkey *k = u->buckets[bucket_of(key)]; k; k = k->next)
        if (k->key == key)
            return k;
    return NULL;
}

static struct sl_upconn *conn_of(struct sl_dlink *l)
{
    return l ? sl_dlist_entry(l, struct sl_upconn, link) : NULL;
}

static void unlink_idle(struct sl_upstream *u, struct sl_upconn *c)
{
    sl_dlist_unlink(&c->k->idle, &c->link);
    sl_dlist_unlink(&u->lru, &c->lru);
    c->k = NULL;
    u->nidle--;
}

static void on_idle_event(struct sl_loop *l, struct sl_watcher *w, uint32_t events)
{
    struct sl_upconn *c = w->data;

    (void)l;
    (void)events;
    /* Idle means nobody asked: EOF, a reset or stray bytes all end it. */
    unlink_idle(c->pool, c);
    sl_upstream_close(c->pool, c);
}

static bool key_live(const struct sl_upstream *u, const void *key)
{
    return u->ops.key_live == NULL || u->ops.key_live(key);
}

/* Closes the idle connections of <k>. */
static void close_key_idle(struct sl_upstream *u, struct sl_upkey *k)
{
    while (!sl_dlist_empty(&k->idle)) {
        struct sl_upconn *c = conn_of(sl_dlist_first(&k->idle));

        unlink_idle(u, c);
        sl_upstream_close(u, c);
    }
}

void sl_upstream_prune(struct sl_upstream *u)
{
    for (size_t b = 0; b < SL_UPSTREAM_BUCKETS; b++) {
        struct sl_upkey **pk = &u->buckets[b];

        while (*pk) {
            struct sl_upkey *k = *pk;

            /* An empty entry holds no reference: its key may be freed
             * already, so it is not asked about (the sweep frees it). */
            if (sl_dlist_empty(&k->idle) || key_live(u, k->key)) {
                pk = &k->next;
                continue;
            }
            close_key_idle(u, k);
            *pk = k->next;
            free(k);
        }
    }
}

static void sweep(struct sl_timer *t, void *arg)
{
    struct sl_upstream *u = arg;
    uint64_t now = sl_loop_now_ms(u->loop);

    sl_upstream_prune(u);

    for (size_t b = 0; b < SL_UPSTREAM_BUCKETS; b++) {
        struct sl_upkey **pk = &u->buckets[b];

        while (*pk) {
            struct sl_upkey *k = *pk;
            struct sl_upconn *c;

            while ((c = conn_of(sl_dlist_last(&k->idle))) &&
                   now - c->idle_since_ms >= u->idle_timeout_ms) {
                unlink_idle(u, c);
                sl_upstream_close(u, c);
            }
            if (sl_dlist_empty(&k->idle) && k->empty_seen) {
                *pk = k->next;
                free(k);
                continue;
            }
            k->empty_seen = sl_dlist_empty(&k->idle);
            pk = &k->next;
        }
    }
    sl_freelist_trim(&u->free, u->keep_free);
    sl_loop_timer_after(u->loop, t, SWEEP_MS);
}

void sl_upstream_init(struct sl_upstream *u, struct sl_loop *loop,
                      const struct sl_upstream_ops *ops)
{
    u->loop = loop;
    u->ops = *ops;
    for (size_t i = 0; i < SL_UPSTREAM_BUCKETS; i++)
        u->buckets[i] = NULL;
    u->free = SL_FREELIST_INIT(struct sl_upconn, spare);
    u->keep_free = 1024;
    sl_dlist_init(&u->lru);
    u->nidle = 0;
    u->nopen = 0;
    u->max_idle_per_key = 64;
    u->idle_timeout_ms = 30000;
    u->check_after_ms = 500;
    sl_timer_init(&u->sweep, sweep, u);
    sl_loop_timer_after(loop, &u->sweep, SWEEP_MS);
}

void sl_upstream_close_idle(struct sl_upstream *u)
{
    for (size_t b = 0; b < SL_UPSTREAM_BUCKETS; b++)
        for (struct sl_upkey *k = u->buckets[b]; k; k = k->next)
            close_key_idle(u, k);
}

size_t sl_upstream_close_lru(struct sl_upstream *u, size_t n)
{
    size_t closed = 0;
    struct sl_dlink *l;

    for (; closed < n && (l = sl_dlist_last(&u->lru)) != NULL; closed++)
        sl_upstream_close(u, sl_dlist_entry(l, struct sl_upconn, lru));
    return closed;
}

void sl_upstream_fini(struct sl_upstream *u)
{
    sl_upstream_close_idle(u);
    sl_loop_timer_stop(u->loop, &u->sweep);
    for (size_t b = 0; b < SL_UPSTREAM_BUCKETS; b++) {
        while (u->buckets[b]) {
            struct sl_upkey *k = u->buckets[b];

            u->buckets[b] = k->next;
            free(k);
        }
    }
    sl_freelist_fini(&u->free);
}

struct sl_upconn *sl_upstream_connect(struct sl_upstream *u, void *key, const struct sockaddr *sa,
                                      socklen_t len, sl_watcher_cb_t cb, void *data,
                                      bool *in_progress)
{
    struct sl_upconn *c = sl_freelist_get(&u->free);
    int fd, e;

    if (!c)
        return NULL;
    fd = sl_sock_connect(sa, len, in_progress);
    if (fd < 0)
        goto fail;
    c->w.cb = cb;
    c->w.data = data;
    c->w.fd = -1;
    if (sl_loop_add(u->loop, &c->w, fd, SL_EV_READ | (*in_progress ? SL_EV_WRITE : 0)) < 0) {
        e = errno;
        close(fd);
        errno = e;
        goto fail;
    }
    c->key = key;
    c->pool = u;
    c->k = NULL;
    c->idle_since_ms = 0;
    c->uses = 0;
    if (u->ops.key_ref)
        u->ops.key_ref(key);
    u->nopen++;
    return c;
fail:
    e = errno;
    sl_freelist_put(&u->free, c);
    errno = e;
    return NULL;
}

struct sl_upconn *sl_upstream_take(struct sl_upstream *u, const void *key, sl_watcher_cb_t cb,
                                   void *data)
{
    struct sl_upkey *k = find_key(u, key);
    uint64_t now = sl_loop_now_ms(u->loop);

    struct sl_upconn *c;

    while (k && (c = conn_of(sl_dlist_first(&k->idle)))) {
        unlink_idle(u, c);
        if (now - c->idle_since_ms >= u->check_after_ms && !sl_sock_idle_alive(c->w.fd)) {
            sl_upstream_close(u, c);
            continue;
        }
        c->w.cb = cb;
        c->w.data = data;
        c->uses++;
        return c;
    }
    return NULL;
}

void sl_upstream_put(struct sl_upstream *u, struct sl_upconn *c)
{
    struct sl_upkey *k;

    /* Busy when its backend left the table: it goes now, not into a pool
     * nobody will take from. */
    if (!key_live(u, c->key)) {
        sl_upstream_close(u, c);
        return;
    }
    k = find_key(u, c->key);
    if (!k) {
        k = calloc(1, sizeof(*k));
        if (!k) {
            sl_upstream_close(u, c);
            return;
        }
        k->key = c->key;
        k->next = u->buckets[bucket_of(c->key)];
        u->buckets[bucket_of(c->key)] = k;
    }
    if (k->idle.n >= u->max_idle_per_key || sl_loop_mod(u->loop, &c->w, SL_EV_READ) < 0) {
        sl_upstream_close(u, c);
        return;
    }
    c->w.cb = on_idle_event;
    c->w.data = c;
    c->idle_since_ms = sl_loop_now_ms(u->loop);
    c->k = k;
    sl_dlist_push(&k->idle, &c->link);
    sl_dlist_push(&u->lru, &c->lru);
    k->empty_seen = false;
    u->nidle++;
}

void sl_upstream_close(struct sl_upstream *u, struct sl_upconn *c)
{
    int fd = c->w.fd;

    if (c->k)
        unlink_idle(u, c);
    sl_loop_forget(u->loop, &c->w);
    if (fd >= 0)
        close(fd);
    if (u->ops.key_unref)
        u->ops.key_unref(c->key);
    c->key = NULL;
    u->nopen--;
    /* Always to the free list (the sweep trims it): callers walking the
     * idle lists never see a struct they hold freed under them. */
    sl_freelist_put(&u->free, c);
}
