/* Label selectors: "version=v2,zone!=b,canary,!legacy" (see view.h).
 * Parsed once by the writer; matching reads only immutable labels. */
#ifndef SL_CORE_SELECTOR_H
#define SL_CORE_SELECTOR_H

#include <stdbool.h>
#include <stddef.h>

#include "sluice.h"

enum sl_sel_op {
    SL_SEL_EQ = 0, /* key=value */
    SL_SEL_NE,     /* key!=value: absent or different */
    SL_SEL_HAS,    /* key */
    SL_SEL_NOT,    /* !key */
};

struct sl_sel_term {
    enum sl_sel_op op;
    char *key;
    char *value; /* EQ, NE only; may be "" */
};

struct sl_selector {
    struct sl_sel_term *terms;
    size_t n; /* 0: matches every backend */
};

/* Parses <src> (NULL or "" selects all) into <out>. Keys are
 * [A-Za-z0-9._/-]+, values [A-Za-z0-9._/:-]*; spaces around terms are
 * allowed. INVALID_ARG with a message in <err> (<errlen> bytes, may be
 * NULL/0), or NOMEM. Free with sl_selector_fini(). */
int sl_selector_parse(const char *src, struct sl_selector *out, char *err, size_t errlen);
void sl_selector_fini(struct sl_selector *s);
bool sl_selector_match(const struct sl_selector *s, const struct sluice_backend *b);

#endif /* SL_CORE_SELECTOR_H */
