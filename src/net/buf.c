#include "buf.h"

#include <stdlib.h>
#include <string.h>

void sl_buf_pool_init(struct sl_buf_pool *p, uint32_t size, size_t keep)
{
    p->free = NULL;
    p->nfree = 0;
    p->keep = keep;
    p->out = 0;
    p->size = size;
}

void sl_buf_pool_fini(struct sl_buf_pool *p)
{
    while (p->free) {
        struct sl_buf *b = p->free;

        p->free = b->next;
        free(b);
    }
    p->nfree = 0;
}

struct sl_buf *sl_buf_get(struct sl_buf_pool *p)
{
    struct sl_buf *b = p->free;

    if (b) {
        p->free = b->next;
        p->nfree--;
    } else {
        b = malloc(sizeof(*b) + p->size);
        if (!b)
            return NULL;
        b->cap = p->size;
    }
    b->next = NULL;
    b->start = 0;
    b->end = 0;
    p->out++;
    return b;
}

void sl_buf_put(struct sl_buf_pool *p, struct sl_buf *b)
{
    if (!b)
        return;
    p->out--;
    if (p->nfree >= p->keep) {
        free(b);
        return;
    }
    b->next = p->free;
    p->free = b;
    p->nfree++;
}

void sl_buf_compact(struct sl_buf *b)
{
    uint32_t len = b->end - b->start;

    if (b->start == 0)
        return;
    if (len)
        memmove(b->data, b->data + b->start, len);
    b->start = 0;
    b->end = len;
}
