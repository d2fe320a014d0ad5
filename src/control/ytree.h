/* A YAML document as a small tree with line numbers, so the config checks
 * can walk it in any order and report every error with its line. Control
 * thread only. */
#ifndef SL_CONTROL_YTREE_H
#define SL_CONTROL_YTREE_H

#include <stdbool.h>
#include <stddef.h>

#include "control/control.h"

enum sl_ynode_type { SL_Y_SCALAR = 0, SL_Y_SEQ, SL_Y_MAP };

/* What a scalar was in JSON, so an API body cannot pass "5" for a number
 * or 5 for a string: YAML scalars have no such type (SL_YJ_NONE). */
enum sl_yjson { SL_YJ_NONE = 0, SL_YJ_STRING, SL_YJ_NUMBER, SL_YJ_BOOL, SL_YJ_NULL };

struct sl_ynode {
    enum sl_ynode_type type;
    int line;           /* 1-based */
    bool plain;         /* scalar written without quotes (so "null" and "~" mean null) */
    enum sl_yjson json; /* scalar from an API body: its JSON type */
    char *str;          /* scalar text, NUL-terminated */
    size_t len;
    /* SEQ: items[0..n). MAP: keys (scalars) at even, values at odd indexes,
     * n = 2 x entries. */
    struct sl_ynode **items;
    size_t n;
    size_t cap;
};

/* Parses <path>. Returns the root (NULL for an empty document with 0) or a
 * negative sluice_err_t (IO, CONFIG: syntax, aliases, duplicate keys) with
 * "FILE:LINE: ..." messages in <diag>. Free with sl_ytree_free(). */
int sl_ytree_load(const char *path, struct sl_ynode **root, struct sl_diag *diag);
void sl_ytree_free(struct sl_ynode *n);

/* The value of <key> in map <m>, or NULL (also when <m> is not a map). */
const struct sl_ynode *sl_ymap_get(const struct sl_ynode *m, const char *key);
/* A plain scalar "", "~", "null" or "Null"/"NULL". */
bool sl_ynode_is_null(const struct sl_ynode *n);
const char *sl_ynode_type_name(const struct sl_ynode *n);

#endif /* SL_CONTROL_YTREE_H */
