/* Per-worker pools of connections to backends, keyed by an opaque pointer
 * (the HTTP proxy uses the sluice_backend_t). Protocol-free: a connection is
 * an fd with a watcher registered once on the worker's loop for its whole
 * life; whoever holds it (a proxy while in use, the pool while idle) just
 * swaps the watcher's callback, so moving a connection in and out of the
 * pool costs no epoll_ctl.
 *
 * Idle connections are kept most-recently-used first, at most
 * <max_idle_per_key> per key; a sweep once a second closes those idle
 * longer than <idle_timeout_ms>. While idle, any readable event (the peer
 * closed, or sent bytes nobody asked for) closes the connection.
 *
 * Keys: every connection holds a reference on its key, taken with
 * ops.key_ref when the connection is made and dropped with ops.key_unref
 * when it is closed, so an idle connection never outlives its backend.
 * A key can also die before its last reference goes (a reload replaced or
 * removed the backend): ops.key_live says so, and the pool then keeps no
 * connection of it: sl_upstream_prune() closes its idle ones and frees its
 * entry, sl_upstream_put() closes instead of parking, so connections busy
 * at the reload go when their exchange ends. The sweep prunes once a
 * second; the owner also prunes when it adopts a new table.
 *
 * Threads: one pool per worker; nothing here is thread-safe. Connection
 * structs come from a free list (no malloc per request once warm). */
#ifndef SL_NET_UPSTREAM_H
#define SL_NET_UPSTREAM_H

#include <sys/socket.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dlist.h"
#include "freelist.h"
#include "loop.h"
#include "timer.h"

struct sl_upkey;
struct sl_upstream;

struct sl_upconn {
    struct sl_watcher w; /* w.fd is the connection; w.cb/w.data: the holder's */
    void *key;           /* referenced (ops.key_ref) */
    struct sl_upstream *pool;
    /* Pool-private while idle. */
    struct sl_dlink link;     /* on k->idle */
    struct sl_dlink lru;      /* on the pool's lru (every idle connection) */
    struct sl_freelink spare; /* on the pool's free list once closed */
    struct sl_upkey *k;
    uint64_t idle_since_ms;
    uint32_t uses; /* requests carried before this one (0: fresh) */
};

struct sl_upstream_ops {
    void (*key_ref)(void *key);
    void (*key_unref)(void *key);
    /* Whether <key> may still be asked for (NULL: always). Called only on
     * a key some connection references; once false, it must stay false. */
    bool (*key_live)(const void *key);
};

#define SL_UPSTREAM_BUCKETS 256

struct sl_upstream {
    struct sl_loop *loop;
    struct sl_upstream_ops ops;
    struct sl_upkey *buckets[SL_UPSTREAM_BUCKETS];
    struct sl_freelist free;   /* spare structs */
    size_t keep_free;          /* spare structs kept past each sweep */
    struct sl_dlist lru;       /* every idle connection; head: most recently parked */
    size_t nidle;              /* connections parked */
    size_t nopen;              /* connections alive (idle or in use) */
    uint32_t max_idle_per_key; /* default 64 */
    uint32_t idle_timeout_ms;  /* default 30000 */
    uint32_t check_after_ms;   /* peek at a connection idle at least this long before reuse */
    struct sl_timer sweep;
};

void sl_upstream_init(struct sl_upstream *u, struct sl_loop *loop,
                      const struct sl_upstream_ops *ops);
/* Closes every idle connection and frees the spare structs. Connections in
 * use must have been closed (sl_upstream_close) before. */
void sl_upstream_fini(struct sl_upstream *u);

/* Starts a non-blocking connection to <sa> for <key>; its watcher is
 * registered with <cb>/<data> for READ (and WRITE while *<in_progress>:
 * the holder sees writability when the connect completes and should then
 * check sl_sock_error()). NULL with errno on failure. */
struct sl_upconn *sl_upstream_connect(struct sl_upstream *u, void *key, const struct sockaddr *sa,
                                      socklen_t len, sl_watcher_cb_t cb, void *data,
                                      bool *in_progress);
/* An idle connection to <key> (most recently used first), now held by the
 * caller with <cb>/<data>, or NULL when none is usable. Connections idle
 * for check_after_ms or more are checked with a MSG_PEEK first. */
struct sl_upconn *sl_upstream_take(struct sl_upstream *u, const void *key, sl_watcher_cb_t cb,
                                   void *data);
/* Parks a connection the caller holds and is done with (its last response
 * fully read, nothing pending): it becomes idle, or is closed when its
 * key already has max_idle_per_key idle ones. The caller must not touch
 * <c> afterwards. */
void sl_upstream_put(struct sl_upstream *u, struct sl_upconn *c);
/* Closes a connection the caller holds: unregisters and closes the fd,
 * drops the key reference, recycles the struct. */
void sl_upstream_close(struct sl_upstream *u, struct sl_upconn *c);
/* Closes every idle connection whose key is no longer live (ops.key_live)
 * and frees those keys' entries. Cheap when nothing died: one walk of the
 * key entries, one key_live call per key with idle connections. */
void sl_upstream_prune(struct sl_upstream *u);
/* Closes every idle connection (graceful shutdown). */
void sl_upstream_close_idle(struct sl_upstream *u);
/* Closes up to <n> idle connections, least recently parked first, over
 * all keys: room for a descriptor someone needs now. Returns how many it
 * closed (fewer when fewer are idle). */
size_t sl_upstream_close_lru(struct sl_upstream *u, size_t n);

#endif /* SL_NET_UPSTREAM_H */
