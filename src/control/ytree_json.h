/* JSON (the admin API's bodies and the store's records) to and from the
 * config's YAML tree, and the few edits the overlay makes to a tree, so
 * that an API change is validated by the config loader itself. Control
 * thread only. */
#ifndef SL_CONTROL_YTREE_JSON_H
#define SL_CONTROL_YTREE_JSON_H

#include <jansson.h>

#include "control/ytree.h"

/* Objects become maps, arrays lists; strings quoted scalars, numbers,
 * booleans and null plain ones (null: "null"); every line is 0. NULL when
 * out of memory. */
struct sl_ynode *sl_ytree_from_json(const json_t *j);
/* The reverse: plain scalars that read as null, booleans or integers get
 * those types, everything else is a string. NULL when out of memory. */
json_t *sl_ytree_to_json(const struct sl_ynode *n);

/* A deep copy (NULL in, NULL out; NULL when out of memory: check <n>). */
struct sl_ynode *sl_ytree_copy(const struct sl_ynode *n);
/* An empty map at line 0 (NULL when out of memory). */
struct sl_ynode *sl_ytree_new_map(void);
/* Map <m>'s value for <key>, mutable; NULL when absent. */
struct sl_ynode *sl_ymap_get_mut(struct sl_ynode *m, const char *key);
/* Sets <key> to <val> in map <m> (taking <val>, freeing any old value).
 * 0 or -1 (out of memory: <val> freed). */
int sl_ymap_put(struct sl_ynode *m, const char *key, struct sl_ynode *val);
/* Removes <key> from <m>; true when it was there. */
bool sl_ymap_del(struct sl_ynode *m, const char *key);
/* The first map item of list <seq> whose <field> is the scalar <value>:
 * its index, or -1. */
long sl_yseq_find(const struct sl_ynode *seq, const char *field, const char *value);
/* Replaces item <i> of <seq> with <val> (taken), or appends it when <i>
 * is -1. 0 or -1 (out of memory: <val> freed). */
int sl_yseq_put(struct sl_ynode *seq, long i, struct sl_ynode *val);
/* Removes (and frees) item <i> of <seq>. */
void sl_yseq_del(struct sl_ynode *seq, size_t i);

#endif /* SL_CONTROL_YTREE_JSON_H */
