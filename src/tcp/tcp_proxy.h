/* The TCP (L4) proxy: one backend connection per client connection, bytes
 * moved both ways through a pooled buffer (recv/send), or with splice()
 * through a pipe once a direction carries bulk.
 *
 * Per accepted connection: select a backend of the listener's lb group
 * (hashing strategies hash the client IP, as the HTTP proxy does for
 * source_ip), connect without blocking within the connect timeout, and on
 * refusal or timeout report FAIL or TIMEOUT and try another backend (one
 * not tried yet) up to the service's retries. Then both directions run until each
 * has seen EOF (half-close: a FIN from one side becomes shutdown(SHUT_WR)
 * toward the other once every byte before it was delivered), an error, or
 * the idle timeout. docs/tcp.md describes the behaviour for users.
 *
 * Per worker there is one sl_tcp_worker: it owns the session structs (a
 * free list), a small cache of empty pipes and a pool of buffers; it
 * borrows the worker's loop and access log. Nothing is malloc'ed per
 * connection once warm.
 *
 * Threads: a worker and its sessions belong to the thread running its loop;
 * every call below is made from that thread. The only shared state touched
 * is the reference each session holds for its route (sl_tcp_route) and
 * the library's backend atomics (select/release).
 *
 * Signals: splice() into a socket cannot ask for MSG_NOSIGNAL, so the
 * process must ignore SIGPIPE (sluice serve does). */
#ifndef SL_TCP_TCP_PROXY_H
#define SL_TCP_TCP_PROXY_H

#include <sys/socket.h>

#include <stddef.h>
#include <stdint.h>

#include "net/log.h"
#include "net/loop.h"
#include "proxy/stats.h"
#include "sluice.h"

struct sl_tcp_worker;
struct sl_fdbudget;
struct sl_upstream;

/* Empty pipes a worker may keep for reuse. A session costs 2 sockets + 4
 * pipe fds against a descriptor limit of some thousands, so the cache
 * stays small: 64 pipes (128 fds) per worker save the pipe2() of busy
 * moments without eating the descriptors sessions need; a small limit
 * lowers it further (sl_tcp_set_budget). */
#define SL_TCP_PIPE_CACHE 64

/* Counters of one worker since it was made (read on its thread, or after
 * it stopped). */
struct sl_tcp_stats {
    uint64_t sessions;         /* accepted */
    uint64_t connected;        /* reached a backend */
    uint64_t connect_failures; /* refused, unreachable or timed out (retries included) */
    uint64_t no_backend;       /* closed without any backend reached */
    uint64_t bytes_up;         /* client -> backend */
    uint64_t bytes_down;       /* backend -> client */
    uint64_t splice_dirs;      /* directions that went from buffer to splice mode (bulk) */
    uint64_t pipe_failures;    /* directions that wanted splice, had no pipe, stayed buffered */
    uint64_t buffer_sessions;  /* connected sessions that ended without any splice */
};

/* A worker's TCP proxy on <loop>. <alog> (may be NULL) receives one access
 * log line per session; both are borrowed for the worker's life. NULL when
 * out of memory. */
struct sl_tcp_worker *sl_tcp_worker_new(struct sl_loop *loop, struct sl_access_log *alog);

/* Closes every session still open (connected ones release their backend as
 * OK, connecting ones as NEUTRAL), drops their table references, closes the
 * cached pipes and frees everything. Call on the loop's thread, outside any
 * loop callback, before sl_loop_fini(). NULL is a no-op. */
void sl_tcp_worker_free(struct sl_tcp_worker *w);

/* What a session needs of the routing table, resolved by the caller (the
 * worker), so that L4 knows nothing of HTTP's table. <group> and
 * <listener> are borrowed until the session calls release(<ref>) at its
 * end, which keeps whatever owns them alive (the worker passes a reference
 * on its routing table). */
struct sl_tcp_route {
    sluice_lb_t *lb;
    const char *group;           /* lb group to select from */
    const char *listener;        /* for logs */
    uint32_t connect_timeout_ms; /* 0: the backend's, else 2 s */
    uint32_t idle_timeout_ms;    /* 0: 60 s */
    uint32_t retries;
    void *ref;
    void (*release)(void *ref); /* may be NULL */
    /* Counters (NULL: none): the worker's, the service of <group> its
     * backends count under, and the listener's (active sessions). */
    struct sl_stats_worker *stats;
    const char *service;
    struct sl_stats_listener *ls;
};

/* Takes over <fd>, a client connection accepted on a TCP listener, and the
 * reference in <rt> (copied): release(ref) runs once the session ends, or
 * before this returns when it cannot start (no memory; the fd is then
 * closed too). <peer> is borrowed for the call. */
void sl_tcp_accept(struct sl_tcp_worker *w, const struct sl_tcp_route *rt, int fd,
                   const struct sockaddr *peer, socklen_t peerlen);

/* Ties <w> to its worker's descriptor budget <b> (borrowed; NULL: none):
 * before each backend connect that would go over the share, and once
 * more after a connect that failed for lack of descriptors, idle
 * connections of <ups> (borrowed, may be NULL) are closed to make room.
 * At most <pipe_cache> (capped at SL_TCP_PIPE_CACHE) empty pipes stay
 * cached. */
void sl_tcp_set_budget(struct sl_tcp_worker *w, const struct sl_fdbudget *b,
                       struct sl_upstream *ups, size_t pipe_cache);
/* Descriptors the sessions hold: their sockets and the pipes in use (the
 * cached pipes are part of the process's reserve). NULL: 0. */
size_t sl_tcp_fds(const struct sl_tcp_worker *w);

/* Sessions open (connecting or proxying); a graceful drain waits for 0.
 * sl_tcp_active(), sl_tcp_shutdown() and sl_tcp_trim() accept NULL (a
 * worker without TCP listeners need not make one). */
size_t sl_tcp_active(const struct sl_tcp_worker *w);

/* Graceful drain. An L4 stream has no point where cutting it is known to
 * be safe, so running sessions go on until they end by themselves, with
 * one exception: from now on a session that moves no byte either way for
 * SL_TCP_DRAIN_IDLE_MS is closed (sessions already that idle close at
 * their next timer check). The caller bounds the whole drain (the worker's
 * drain deadline, then sl_tcp_worker_free()). Accepting after this still
 * works but gets the same short idle timeout. */
#define SL_TCP_DRAIN_IDLE_MS 2000
void sl_tcp_shutdown(struct sl_tcp_worker *w);

/* Frees spare session structs and buffers beyond small caps (call now and
 * then, e.g. once a second, from the worker's housekeeping timer). */
void sl_tcp_trim(struct sl_tcp_worker *w);

void sl_tcp_stats(const struct sl_tcp_worker *w, struct sl_tcp_stats *out);

#endif /* SL_TCP_TCP_PROXY_H */
