/* Internals shared by the TCP proxy's files: tcp_proxy.c (sessions:
 * accept, select, connect, retries, timers, the end) and tcp_pump.c (the
 * bytes: buffers, pipes and splice, epoll interest). Worker thread
 * only. */
#ifndef SL_TCP_TCP_INT_H
#define SL_TCP_TCP_INT_H

#include <stdbool.h>
#include <stdint.h>

#include "net/buf.h"
#include "net/dlist.h"
#include "net/fdbudget.h"
#include "net/freelist.h"
#include "net/log.h"
#include "net/loop.h"
#include "net/sock.h"
#include "net/timer.h"
#include "net/upstream.h"
#include "proxy/attempt.h"
#include "sluice.h"
#include "tcp/tcp_proxy.h"

/* Bytes asked of one splice() into a pipe: the default pipe size. */
#define SL_TCP_PIPE_CAP 65536u
/* Buffers of the buffer mode (every direction starts there): size, and
 * how many idle ones the pool keeps. A direction holds one only while
 * bytes wait in it. */
#define SL_TCP_BUF_SIZE 16384u
#define SL_TCP_BUF_KEEP 64
/* Spare session structs kept by sl_tcp_trim(). */
#define SL_TCP_KEEP_FREE 1024

enum sl_tcp_phase {
    SL_TCP_CONNECTING = 0, /* waiting for a backend connect to complete */
    SL_TCP_PROXYING,       /* bytes flow both ways */
    SL_TCP_DEAD,           /* on the free list */
};

/* One direction: bytes read from <src> wait in a buffer (or, in splice
 * mode, a pipe) until written to <dst>. */
struct sl_tcp_dir {
    int pr, pw;         /* pipe ends once in splice mode; -1 in buffer mode */
    struct sl_buf *buf; /* buffer mode, while bytes wait: data[start, end) */
    uint32_t pending;   /* splice mode: bytes in the pipe */
    uint8_t fills;      /* reads in a row that filled the buffer (capped) */
    bool eof;           /* the source sent its FIN (or the read side is done) */
    bool shut;          /* shutdown(SHUT_WR) sent to the destination */
    bool blocked;       /* the destination would block: wait for WRITE, read nothing */
    bool no_pipe;       /* splice mode was wanted but no pipe could be had */
    uint64_t bytes;     /* delivered to the destination */
};

struct sl_tcp_session {
    struct sl_tcp_worker *w;
    struct sl_dlink link;     /* on w->live while open */
    struct sl_freelink spare; /* on w->free once dead (phase stays readable) */
    struct sl_watcher cw, bw; /* client, backend (fd -1 while not registered) */
    int cfd, bfd;             /* the sockets (-1 when none) */
    struct sl_timer timer;    /* connect deadline, then idle checks */
    enum sl_tcp_phase phase;

    struct sl_tcp_route rt; /* its reference is ours until session_end() */
    const char *group;      /* rt.group */
    const char *lname;      /* rt.listener, for logs */

    struct sl_attempt att; /* the backend: selected, tried, retries */

    uint64_t start_ns; /* accepted */
    uint64_t connect_start_ns;
    uint64_t connect_ns; /* connect latency, for the EWMA */
    uint64_t last_io_ms; /* last byte moved either way */
    uint32_t idle_ms;

    struct sl_tcp_dir up;   /* client -> backend */
    struct sl_tcp_dir down; /* backend -> client */

    char client_ip[SL_ADDR_STRLEN];
    uint32_t client_ip_len;
};

struct sl_tcp_worker {
    struct sl_loop *loop;
    struct sl_access_log *alog; /* borrowed, may be NULL */
    struct sl_buf_pool bufs;
    struct sl_dlist live;            /* every open session */
    struct sl_freelist free;         /* spare sessions */
    int pipes[SL_TCP_PIPE_CACHE][2]; /* empty pipes ready for reuse */
    size_t npipes;
    size_t pipe_keep;              /* at most this many cached (the budget's pipe_cache) */
    size_t pipes_out;              /* pipes sessions hold (2 descriptors each) */
    const struct sl_fdbudget *fdb; /* the worker's (may be NULL) */
    struct sl_upstream *ups;       /* whose idle connections make room (may be NULL) */
    bool draining;
    struct sl_fdbudget_log fdlog; /* out-of-descriptors lines, rate-limited */
    struct sl_tcp_stats stats;
};

/* tcp_pump.c */

/* Starts both directions of <s> in buffer mode, holding nothing yet
 * (buffers and pipes are taken when needed). */
void sl_tcp_dirs_open(struct sl_tcp_session *s);
/* Returns pipes that are empty to the cache (others are closed) and
 * buffers to the pool; counts a connected session that never spliced. */
void sl_tcp_dirs_close(struct sl_tcp_session *s);
/* Closes every cached pipe. */
void sl_tcp_pipes_drain(struct sl_tcp_worker *w);
#define SL_TCP_UP   1u /* client -> backend */
#define SL_TCP_DOWN 2u /* backend -> client */
/* Moves what can be moved in directions <dirs> (the ones an event may have
 * unblocked), sends half-closes, and sets the epoll interest of both
 * sockets. Returns 1 when both directions have ended (the session is
 * done), 0 to keep going, -1 on a socket error. */
int sl_tcp_pump(struct sl_tcp_session *s, unsigned dirs);

/* tcp_proxy.c: the watcher callback of a proxying session (both sockets). */
void sl_tcp_on_io(struct sl_loop *l, struct sl_watcher *wt, uint32_t events);

#endif /* SL_TCP_TCP_INT_H */
