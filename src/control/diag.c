/* Diagnostics: a growable list of formatted messages. Allocation failures
 * drop the message rather than fail the caller: a diag reports, it never
 * decides. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "control/control.h"

/* A file with thousands of errors says enough after this many. */
#define SL_DIAG_MAX 500

void sl_diag_init(struct sl_diag *d)
{
    d->msgs = NULL;
    d->n = 0;
    d->cap = 0;
}

void sl_diag_addv(struct sl_diag *d, const char *fmt, va_list ap)
{
    if (d == NULL || d->n >= SL_DIAG_MAX)
        return;
    if (d->n == d->cap) {
        size_t cap = d->cap != 0 ? d->cap * 2 : 8;
        char **m = realloc(d->msgs, cap * sizeof(*m));

        if (m == NULL)
            return;
        d->msgs = m;
        d->cap = cap;
    }
    char *s = NULL;

    if (vasprintf(&s, fmt, ap) < 0)
        return;
    d->msgs[d->n++] = s;
}

void sl_diag_add(struct sl_diag *d, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    sl_diag_addv(d, fmt, ap);
    va_end(ap);
}

bool sl_diag_is_warning(const char *msg)
{
    return msg != NULL && strncmp(msg, "warning: ", 9) == 0;
}

size_t sl_diag_errors(const struct sl_diag *d)
{
    size_t n = 0;

    for (size_t i = 0; d != NULL && i < d->n; i++)
        n += !sl_diag_is_warning(d->msgs[i]);
    return n;
}

void sl_diag_fini(struct sl_diag *d)
{
    if (d == NULL)
        return;
    for (size_t i = 0; i < d->n; i++)
        free(d->msgs[i]);
    free(d->msgs);
    sl_diag_init(d);
}
