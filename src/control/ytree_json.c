/* JSON <-> sl_ynode, and the edits the overlay makes to a tree. */
#include "control/ytree_json.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "control/scalar.h"

static struct sl_ynode *node(enum sl_ynode_type type)
{
    struct sl_ynode *n = calloc(1, sizeof(*n));

    if (n != NULL)
        n->type = type;
    return n;
}

static struct sl_ynode *scalar(const char *s, size_t len, bool plain, enum sl_yjson json)
{
    struct sl_ynode *n = node(SL_Y_SCALAR);

    if (n == NULL)
        return NULL;
    n->plain = plain;
    n->json = json;
    n->len = len;
    if ((n->str = malloc(len + 1)) == NULL) {
        free(n);
        return NULL;
    }
    memcpy(n->str, s, len);
    n->str[len] = '\0';
    return n;
}

static int push(struct sl_ynode *p, struct sl_ynode *child)
{
    if (child == NULL)
        return -1;
    if (p->n == p->cap) {
        size_t cap = p->cap != 0 ? p->cap * 2 : 8;
        struct sl_ynode **items = realloc(p->items, cap * sizeof(*items));

        if (items == NULL) {
            sl_ytree_free(child);
            return -1;
        }
        p->items = items;
        p->cap = cap;
    }
    p->items[p->n++] = child;
    return 0;
}

struct sl_ynode *sl_ytree_new_map(void)
{
    return node(SL_Y_MAP);
}

struct sl_ynode *sl_ytree_from_json(const json_t *j)
{
    char buf[64];
    struct sl_ynode *n = NULL;
    const char *k;
    json_t *v;
    size_t i;
    int len;

    switch (json_typeof(j)) {
    case JSON_OBJECT:
        if ((n = node(SL_Y_MAP)) == NULL)
            return NULL;
        json_object_foreach((json_t *)j, k, v)
        {
            if (push(n, scalar(k, strlen(k), false, SL_YJ_STRING)) != 0 ||
                push(n, sl_ytree_from_json(v)) != 0)
                goto fail;
        }
        return n;
    case JSON_ARRAY:
        if ((n = node(SL_Y_SEQ)) == NULL)
            return NULL;
        json_array_foreach(j, i, v)
        {
            if (push(n, sl_ytree_from_json(v)) != 0)
                goto fail;
        }
        return n;
    case JSON_STRING:
        return scalar(json_string_value(j), json_string_length(j), false, SL_YJ_STRING);
    case JSON_INTEGER:
        len = snprintf(buf, sizeof(buf), "%" JSON_INTEGER_FORMAT, json_integer_value(j));
        return scalar(buf, (size_t)len, true, SL_YJ_NUMBER);
    case JSON_REAL:
        len = snprintf(buf, sizeof(buf), "%.17g", json_real_value(j));
        return scalar(buf, (size_t)len, true, SL_YJ_NUMBER);
    case JSON_TRUE:
        return scalar("true", 4, true, SL_YJ_BOOL);
    case JSON_FALSE:
        return scalar("false", 5, true, SL_YJ_BOOL);
    case JSON_NULL:
    default:
        return scalar("null", 4, true, SL_YJ_NULL);
    }
fail:
    sl_ytree_free(n);
    return NULL;
}

static json_t *scalar_to_json(const struct sl_ynode *n)
{
    int64_t i;
    bool b;

    if (n->plain) {
        if (sl_ynode_is_null(n))
            return json_null();
        if (strcmp(n->str, "true") == 0 || strcmp(n->str, "false") == 0) {
            (void)sl_scalar_parse_bool(n->str, &b);
            return json_boolean(b);
        }
        if (n->str[0] != '\0' && n->str[0] != ' ' && sl_scalar_parse_int(n->str, &i) == 0)
            return json_integer((json_int_t)i);
    }
    return json_stringn(n->str, n->len);
}

json_t *sl_ytree_to_json(const struct sl_ynode *n)
{
    json_t *j;

    if (n == NULL)
        return json_null();
    if (n->type == SL_Y_SCALAR)
        return scalar_to_json(n);
    j = n->type == SL_Y_MAP ? json_object() : json_array();
    for (size_t i = 0; j != NULL && i < n->n; i += n->type == SL_Y_MAP ? 2 : 1) {
        int rc = n->type == SL_Y_MAP
                     ? json_object_set_new(j, n->items[i]->str, sl_ytree_to_json(n->items[i + 1]))
                     : json_array_append_new(j, sl_ytree_to_json(n->items[i]));

        if (rc != 0) {
            json_decref(j);
            return NULL;
        }
    }
    return j;
}

struct sl_ynode *sl_ytree_copy(const struct sl_ynode *n)
{
    struct sl_ynode *c;

    if (n == NULL)
        return NULL;
    if (n->type == SL_Y_SCALAR) {
        if ((c = scalar(n->str, n->len, n->plain, n->json)) != NULL)
            c->line = n->line;
        return c;
    }
    if ((c = node(n->type)) == NULL)
        return NULL;
    c->line = n->line;
    for (size_t i = 0; i < n->n; i++)
        if (push(c, sl_ytree_copy(n->items[i])) != 0) {
            sl_ytree_free(c);
            return NULL;
        }
    return c;
}

struct sl_ynode *sl_ymap_get_mut(struct sl_ynode *m, const char *key)
{
    return (struct sl_ynode *)sl_ymap_get(m, key);
}

int sl_ymap_put(struct sl_ynode *m, const char *key, struct sl_ynode *val)
{
    if (val == NULL)
        return -1;
    for (size_t i = 0; i + 1 < m->n; i += 2)
        if (strcmp(m->items[i]->str, key) == 0) {
            sl_ytree_free(m->items[i + 1]);
            m->items[i + 1] = val;
            return 0;
        }
    if (push(m, scalar(key, strlen(key), false, SL_YJ_STRING)) != 0) {
        sl_ytree_free(val);
        return -1;
    }
    if (push(m, val) != 0) {
        sl_ytree_free(m->items[--m->n]);
        return -1;
    }
    return 0;
}

bool sl_ymap_del(struct sl_ynode *m, const char *key)
{
    for (size_t i = 0; m != NULL && m->type == SL_Y_MAP && i + 1 < m->n; i += 2)
        if (strcmp(m->items[i]->str, key) == 0) {
            sl_ytree_free(m->items[i]);
            sl_ytree_free(m->items[i + 1]);
            memmove(&m->items[i], &m->items[i + 2], (m->n - i - 2) * sizeof(*m->items));
            m->n -= 2;
            return true;
        }
    return false;
}

long sl_yseq_find(const struct sl_ynode *seq, const char *field, const char *value)
{
    for (size_t i = 0; seq != NULL && seq->type == SL_Y_SEQ && i < seq->n; i++) {
        const struct sl_ynode *v = sl_ymap_get(seq->items[i], field);

        if (v != NULL && v->type == SL_Y_SCALAR && strcmp(v->str, value) == 0)
            return (long)i;
    }
    return -1;
}

int sl_yseq_put(struct sl_ynode *seq, long i, struct sl_ynode *val)
{
    if (val == NULL)
        return -1;
    if (i < 0)
        return push(seq, val);
    sl_ytree_free(seq->items[i]);
    seq->items[i] = val;
    return 0;
}

void sl_yseq_del(struct sl_ynode *seq, size_t i)
{
    sl_ytree_free(seq->items[i]);
    memmove(&seq->items[i], &seq->items[i + 1], (seq->n - i - 1) * sizeof(*seq->items));
    seq->n--;
}
