/* Listening sockets, one per listener per worker: every worker binds its
 * own socket to the same address with SO_REUSEPORT, so the kernel spreads
 * new connections over the workers and no accept is ever shared.
 *
 * Owned by one worker thread (its loop). Accepting runs accept4() until
 * EAGAIN. When the process runs out of file descriptors (EMFILE/ENFILE) the
 * listener logs it once per pause and stops accepting for a short while
 * instead of spinning on a readable socket it cannot serve. An optional
 * gate asks the owner before each accept whether a descriptor budget has
 * room; when it has none the listener stops accepting for a while too, and
 * new connections wait in the kernel's backlog (as HAProxy's at maxconn)
 * instead of being accepted and closed. */
#ifndef SL_NET_LISTENER_H
#define SL_NET_LISTENER_H

#include <sys/socket.h>

#include <stdbool.h>
#include <stdint.h>

#include "fdbudget.h"
#include "loop.h"
#include "timer.h"

struct sl_listener;

/* A new connection: <fd> is non-blocking, close-on-exec, TCP_NODELAY, and
 * now owned by the callback (it must close it if it does not keep it). */
typedef void (*sl_accept_cb_t)(struct sl_listener *ln, int fd, const struct sockaddr *peer,
                               socklen_t peerlen);

/* May one more connection be accepted now? <waiting>: one is known to be
 * waiting (the owner may then make room, say by closing an idle
 * connection; otherwise there may be none and nothing should be closed
 * for it). False: not now. */
typedef bool (*sl_accept_gate_t)(struct sl_listener *ln, bool waiting);

struct sl_listener {
    struct sl_watcher w;
    struct sl_timer pause; /* re-enables accepting after EMFILE */
    struct sl_loop *loop;
    const char *name; /* borrowed, for log lines */
    sl_accept_cb_t on_accept;
    void *data;                   /* free for the owner */
    uint32_t pause_ms;            /* default 100 */
    sl_accept_gate_t gate;        /* NULL: always accept */
    uint32_t full_pause_ms;       /* pause when the gate says no; default 20 */
    struct sl_fdbudget_log fdlog; /* "out of file descriptors" lines, rate-limited */
};

/* Binds <addr> ("ip:port", "[v6]:port", "*:port") with SO_REUSEADDR and
 * SO_REUSEPORT, listens with <backlog> and registers it on <loop>.
 * <on_accept> and <data> are stored. Returns 0 or -1 with errno (the socket
 * is closed again). */
int sl_listener_open(struct sl_listener *ln, struct sl_loop *loop, const char *name,
                     const char *addr, int backlog, sl_accept_cb_t on_accept, void *data);
/* Checks that nobody listens on <addr> yet. SO_REUSEPORT would otherwise
 * let a second daemon share the port silently and take half its
 * connections; a plain bind (SO_REUSEADDR only) still fails with
 * EADDRINUSE. 0 or -1 with errno. Any thread. */
int sl_listener_probe(const char *addr);
/* Stops accepting and closes the socket; a no-op when closed. */
void sl_listener_close(struct sl_listener *ln);

#endif /* SL_NET_LISTENER_H */
