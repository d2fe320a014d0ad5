/* A free list of fixed-size structs, so a worker in steady state
 * allocates nothing per connection: a struct given back is kept as a spare
 * and handed out again, and sl_freelist_trim() frees the spares beyond a
 * count now and then.
 *
 * Intrusive: the owner embeds a struct sl_freelink, used only while the
 * struct is a spare. The list writes nothing else into a spare, so fields
 * that callers up the stack still read after giving a struct back (a
 * phase set to "dead", say) keep their values until the struct is handed
 * out again. Spares come from malloc() and are released with free(). One
 * list per worker; nothing here is thread-safe. */
#ifndef SL_NET_FREELIST_H
#define SL_NET_FREELIST_H

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

struct sl_freelink {
    struct sl_freelink *next;
};

struct sl_freelist {
    struct sl_freelink *head; /* the link of the last spare given back */
    size_t n;                 /* spares */
    size_t size;              /* bytes of one struct */
    size_t link_off;          /* where its struct sl_freelink is */
};

/* An empty list of structs of <type> linked through <member>. */
#define SL_FREELIST_INIT(type, member) \
    ((struct sl_freelist){NULL, 0, sizeof(type), offsetof(type, member)})

/* A struct (its bytes as the last holder left them; a new one is
 * uninitialised), or NULL when malloc() fails. */
static inline void *sl_freelist_get(struct sl_freelist *fl)
{
    struct sl_freelink *l = fl->head;

    if (!l)
        return malloc(fl->size);
    fl->head = l->next;
    fl->n--;
    return (char *)l - fl->link_off;
}

/* Like sl_freelist_get(), zero-filled. */
static inline void *sl_freelist_get_zeroed(struct sl_freelist *fl)
{
    void *p = sl_freelist_get(fl);

    if (p)
        memset(p, 0, fl->size);
    return p;
}

/* Keeps <p> (from this list's sl_freelist_get) as a spare; only its link
 * field is written. */
static inline void sl_freelist_put(struct sl_freelist *fl, void *p)
{
    struct sl_freelink *l = (struct sl_freelink *)(void *)((char *)p + fl->link_off);

    l->next = fl->head;
    fl->head = l;
    fl->n++;
}

/* Frees spares until at most <keep> are left. */
void sl_freelist_trim(struct sl_freelist *fl, size_t keep);

/* Frees every spare (structs handed out are the holders' to give back). */
static inline void sl_freelist_fini(struct sl_freelist *fl)
{
    sl_freelist_trim(fl, 0);
}

#endif /* SL_NET_FREELIST_H */
