/* libyaml events to an sl_ynode tree. Anchors and aliases are refused: a
 * configuration should read top to bottom. */
#include "control/ytree.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#define SL_YTREE_MAX_DEPTH 64

static struct sl_ynode *node_new(enum sl_ynode_type type, const yaml_event_t *ev)
{
    struct sl_ynode *n = calloc(1, sizeof(*n));

    if (n != NULL) {
        n->type = type;
        n->line = (int)ev->start_mark.line + 1;
    }
    return n;
}

static int node_push(struct sl_ynode *parent, struct sl_ynode *child)
{
    if (parent->n == parent->cap) {
        size_t cap = parent->cap != 0 ? parent->cap * 2 : 8;
        struct sl_ynode **items = realloc(parent->items, cap * sizeof(*items));

        if (items == NULL)
            return SLUICE_ERR_NOMEM;
        parent->items = items;
        parent->cap = cap;
    }
    parent->items[parent->n++] = child;
    return 0;
}

void sl_ytree_free(struct sl_ynode *n)
{
    if (n == NULL)
        return;
    for (size_t i = 0; i < n->n; i++)
        sl_ytree_free(n->items[i]);
    free(n->items);
    free(n->str);
    free(n);
}

struct builder {
    const char *path;
    struct sl_diag *diag;
    struct sl_ynode *stack[SL_YTREE_MAX_DEPTH];
    size_t depth;
    struct sl_ynode *root;
    int err;
};

/* A map's new key must not repeat an earlier one: YAML says keys are
 * unique, and a silent "last one wins" hides typos in long files. */
static void check_dup_key(struct builder *b, const struct sl_ynode *map, const struct sl_ynode *key)
{
    if (key->type != SL_Y_SCALAR) {
        sl_diag_add(b->diag, "%s:%d: mapping keys must be plain strings", b->path, key->line);
        b->err = SLUICE_ERR_CONFIG;
        return;
    }
    for (size_t i = 0; i + 1 < map->n; i += 2) {
        const struct sl_ynode *k = map->items[i];

        if (k->type == SL_Y_SCALAR && strcmp(k->str, key->str) == 0) {
            sl_diag_add(b->diag, "%s:%d: duplicate key '%s' (first on line %d)", b->path, key->line,
                        key->str, k->line);
            b->err = SLUICE_ERR_CONFIG;
            return;
        }
    }
}

/* Hangs <n> under the current container (or makes it the root). */
static int attach(struct builder *b, struct sl_ynode *n)
{
    if (b->depth == 0) {
        if (b->root != NULL) {
            sl_ytree_free(n);
            return 0;
        }
        b->root = n;
        return 0;
    }
    struct sl_ynode *parent = b->stack[b->depth - 1];

    if (parent->type == SL_Y_MAP && parent->n % 2 == 0)
        check_dup_key(b, parent, n);
    if (node_push(parent, n) != 0) {
        sl_ytree_free(n);
        return SLUICE_ERR_NOMEM;
    }
    return 0;
}

static int on_event(struct builder *b, const yaml_event_t *ev)
{
    struct sl_ynode *n;

    switch (ev->type) {
    case YAML_SCALAR_EVENT:
        if ((n = node_new(SL_Y_SCALAR, ev)) == NULL)
            return SLUICE_ERR_NOMEM;
        n->len = ev->data.scalar.length;
        n->str = malloc(n->len + 1);
        if (n->str == NULL) {
            free(n);
            return SLUICE_ERR_NOMEM;
        }
        memcpy(n->str, ev->data.scalar.value, n->len);
        n->str[n->len] = '\0';
        n->plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
        return attach(b, n);
    case YAML_SEQUENCE_START_EVENT:
    case YAML_MAPPING_START_EVENT:
        n = node_new(ev->type == YAML_SEQUENCE_START_EVENT ? SL_Y_SEQ : SL_Y_MAP, ev);
        if (n == NULL)
            return SLUICE_ERR_NOMEM;
        if (b->depth == SL_YTREE_MAX_DEPTH) {
            sl_diag_add(b->diag, "%s:%d: nested too deeply", b->path, n->line);
            free(n);
            return SLUICE_ERR_CONFIG;
        }
        {
            int rc = attach(b, n);

            if (rc != 0)
                return rc;
        }
        b->stack[b->depth++] = n;
        return 0;
    case YAML_SEQUENCE_END_EVENT:
    case YAML_MAPPING_END_EVENT:
        if (b->depth > 0)
            b->depth--;
        return 0;
    case YAML_ALIAS_EVENT:
        sl_diag_add(b->diag, "%s:%d: aliases (*%s) are not supported", b->path,
                    (int)ev->start_mark.line + 1, (const char *)ev->data.alias.anchor);
        b->err = SLUICE_ERR_CONFIG;
        return 0;
    default:
        return 0;
    }
}

int sl_ytree_load(const char *path, struct sl_ynode **root, struct sl_diag *diag)
{
    FILE *f = fopen(path, "r");

    if (f == NULL) {
        sl_diag_add(diag, "%s: cannot open: %m", path);
        return SLUICE_ERR_IO;
    }
    yaml_parser_t parser;
    struct builder b = {.path = path, .diag = diag};
    int rc = 0;

    if (!yaml_parser_initialize(&parser)) {
        (void)fclose(f); /* read only: closing cannot lose data */
        return SLUICE_ERR_NOMEM;
    }
    yaml_parser_set_input_file(&parser, f);
    for (bool done = false; !done && rc == 0;) {
        yaml_event_t ev;

        if (!yaml_parser_parse(&parser, &ev)) {
            sl_diag_add(diag, "%s:%d: YAML syntax: %s%s%s", path, (int)parser.problem_mark.line + 1,
                        parser.problem != NULL ? parser.problem : "error",
                        parser.context != NULL ? " " : "",
                        parser.context != NULL ? parser.context : "");
            rc = SLUICE_ERR_CONFIG;
            break;
        }
        done = ev.type == YAML_STREAM_END_EVENT;
        rc = on_event(&b, &ev);
        yaml_event_delete(&ev);
    }
    yaml_parser_delete(&parser);
    (void)fclose(f); /* read only: closing cannot lose data */
    if (rc == 0)
        rc = b.err;
    if (rc != 0) {
        sl_ytree_free(b.root);
        return rc;
    }
    *root = b.root;
    return 0;
}

const struct sl_ynode *sl_ymap_get(const struct sl_ynode *m, const char *key)
{
    if (m == NULL || m->type != SL_Y_MAP)
        return NULL;
    for (size_t i = 0; i + 1 < m->n; i += 2)
        if (m->items[i]->type == SL_Y_SCALAR && strcmp(m->items[i]->str, key) == 0)
            return m->items[i + 1];
    return NULL;
}

bool sl_ynode_is_null(const struct sl_ynode *n)
{
    if (n == NULL)
        return true;
    if (n->type != SL_Y_SCALAR || !n->plain)
        return false;
    return n->len == 0 || strcmp(n->str, "~") == 0 || strcmp(n->str, "null") == 0 ||
           strcmp(n->str, "Null") == 0 || strcmp(n->str, "NULL") == 0;
}

const char *sl_ynode_type_name(const struct sl_ynode *n)
{
    if (n == NULL)
        return "nothing";
    switch (n->type) {
    case SL_Y_SCALAR:
        return sl_ynode_is_null(n) ? "null" : "a scalar";
    case SL_Y_SEQ:
        return "a list";
    case SL_Y_MAP:
        return "a mapping";
    }
    return "?";
}
