/* Per-worker buffer pool: fixed-size byte buffers handed out from a free
 * list. A buffer is malloc'ed only when the free list is empty, and a freed
 * buffer goes back to the list (up to <keep> of them, the rest are freed),
 * so a worker in steady state allocates nothing per request. One pool per
 * worker thread; no call here is thread-safe. */
#ifndef SL_NET_BUF_H
#define SL_NET_BUF_H

#include <sys/socket.h>
#include <sys/types.h>

#include <errno.h>
#include <stddef.h>
#include <stdint.h>

/* Bytes live in data[start..end); the caller moves the indexes. */
struct sl_buf {
    struct sl_buf *next; /* free-list link, owned by the pool */
    uint32_t cap;        /* size of data[] */
    uint32_t start;
    uint32_t end;
    char data[];
};

struct sl_buf_pool {
    struct sl_buf *free;
    size_t nfree;
    size_t keep;   /* free buffers kept at most */
    size_t out;    /* buffers handed out and not yet returned */
    uint32_t size; /* data[] bytes of every buffer */
};

void sl_buf_pool_init(struct sl_buf_pool *p, uint32_t size, size_t keep);
/* Frees the free list. Buffers still out must have been returned. */
void sl_buf_pool_fini(struct sl_buf_pool *p);
/* An empty buffer (start == end == 0), or NULL when out of memory. */
struct sl_buf *sl_buf_get(struct sl_buf_pool *p);
/* Returns <b> to the pool; NULL is a no-op. */
void sl_buf_put(struct sl_buf_pool *p, struct sl_buf *b);

static inline uint32_t sl_buf_len(const struct sl_buf *b)
{
    return b->end - b->start;
}
static inline uint32_t sl_buf_room(const struct sl_buf *b)
{
    return b->cap - b->end;
}
/* Moves the live bytes to the front so the tail has room again. */
void sl_buf_compact(struct sl_buf *b);

/* Reads what <fd> has into the room at the end of <b>: the count (> 0),
 * 0 at EOF, -1 when nothing can be read now (would block, or no room),
 * -2 on an error (errno). */
static inline ssize_t sl_buf_recv(struct sl_buf *b, int fd)
{
    ssize_t n;

    if (sl_buf_room(b) == 0)
        return -1;
    do {
        /* recv, not read: skips the VFS layer (rw_verify_area, fsnotify). */
        n = recv(fd, b->data + b->end, sl_buf_room(b), 0);
    } while (n < 0 && errno == EINTR);
    if (n > 0) {
        b->end += (uint32_t)n;
        return n;
    }
    if (n == 0)
        return 0;
    return errno == EAGAIN || errno == EWOULDBLOCK ? -1 : -2;
}

#endif /* SL_NET_BUF_H */
