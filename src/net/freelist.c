#include "freelist.h"

void sl_freelist_trim(struct sl_freelist *fl, size_t keep)
{
    while (fl->n > keep) {
        struct sl_freelink *l = fl->head;

        fl->head = l->next;
        fl->n--;
        free((char *)l - fl->link_off);
    }
}
