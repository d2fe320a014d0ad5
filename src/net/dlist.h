/* An intrusive doubly linked list for the live sets of a worker (open
 * connections, sessions, idle backend connections): the owner embeds a
 * struct sl_dlink and gets back to itself with sl_dlist_entry(), so
 * linking and unlinking allocate nothing and cost a few stores.
 *
 * The list is NULL-terminated with head and tail, so an all-zero struct
 * sl_dlist is an empty list (calloc'ed owners need no init) and it may be
 * copied while empty. An element is on at most one list through one link;
 * the caller knows which list it is on. Not thread-safe. */
#ifndef SL_NET_DLIST_H
#define SL_NET_DLIST_H

#include <stdbool.h>
#include <stddef.h>

struct sl_dlink {
    struct sl_dlink *prev, *next;
};

struct sl_dlist {
    struct sl_dlink *head, *tail; /* head: the last pushed */
    size_t n;
};

/* The struct of type <type> whose member <member> is the link <l>. */
#define sl_dlist_entry(l, type, member) ((type *)(void *)((char *)(l)-offsetof(type, member)))

static inline void sl_dlist_init(struct sl_dlist *list)
{
    list->head = list->tail = NULL;
    list->n = 0;
}

static inline bool sl_dlist_empty(const struct sl_dlist *list)
{
    return list->head == NULL;
}

static inline struct sl_dlink *sl_dlist_first(const struct sl_dlist *list)
{
    return list->head;
}

static inline struct sl_dlink *sl_dlist_last(const struct sl_dlist *list)
{
    return list->tail;
}

/* Links <e> (on no list) at the head of <list>. */
static inline void sl_dlist_push(struct sl_dlist *list, struct sl_dlink *e)
{
    e->prev = NULL;
    e->next = list->head;
    if (list->head)
        list->head->prev = e;
    else
        list->tail = e;
    list->head = e;
    list->n++;
}

/* Unlinks <e> from <list>, which it must be on; its links are cleared. */
static inline void sl_dlist_unlink(struct sl_dlist *list, struct sl_dlink *e)
{
    if (e->prev)
        e->prev->next = e->next;
    else
        list->head = e->next;
    if (e->next)
        e->next->prev = e->prev;
    else
        list->tail = e->prev;
    e->prev = e->next = NULL;
    list->n--;
}

#endif /* SL_NET_DLIST_H */
