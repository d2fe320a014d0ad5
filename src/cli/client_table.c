/* Aligned text tables and JSON values as table cells. Pure. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "client.h"

int sl_cli_table_init(struct sl_cli_table *t, size_t ncols, const char *const *headings)
{
    memset(t, 0, sizeof(*t));
    t->ncols = ncols;
    return sl_cli_table_add(t, headings);
}

int sl_cli_table_add(struct sl_cli_table *t, const char *const *row)
{
    if (t->nrows == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 16;
        char **cells = realloc(t->cells, cap * t->ncols * sizeof(*cells));

        if (cells == NULL)
            return -1;
        t->cells = cells;
        t->cap = cap;
    }
    for (size_t i = 0; i < t->ncols; i++) {
        char *s = strdup(row[i] != NULL && row[i][0] != '\0' ? row[i] : "-");

        if (s == NULL) {
            while (i-- > 0)
                free(t->cells[t->nrows * t->ncols + i]);
            return -1;
        }
        t->cells[t->nrows * t->ncols + i] = s;
    }
    t->nrows++;
    return 0;
}

/* Columns on a terminal, not bytes: a city such as "São Paulo" must not
 * push the next column out of line. Counts UTF-8 lead bytes. */
static size_t width(const char *s)
{
    size_t w = 0;

    for (; *s != '\0'; s++)
        if (((unsigned char)*s & 0xC0) != 0x80)
            w++;
    return w;
}

void sl_cli_table_print(const struct sl_cli_table *t, FILE *out)
{
    size_t *w = calloc(t->ncols ? t->ncols : 1, sizeof(*w));

    if (w == NULL)
        return;
    for (size_t r = 0; r < t->nrows; r++)
        for (size_t c = 0; c < t->ncols; c++) {
            size_t n = width(t->cells[r * t->ncols + c]);

            if (n > w[c])
                w[c] = n;
        }
    for (size_t r = 0; r < t->nrows; r++) {
        for (size_t c = 0; c < t->ncols; c++) {
            const char *s = t->cells[r * t->ncols + c];

            if (c + 1 == t->ncols)
                (void)fprintf(out, "%s\n", s);
            else
                (void)fprintf(out, "%s%*s", s, (int)(w[c] - width(s) + 2), "");
        }
    }
    free(w);
}

void sl_cli_table_free(struct sl_cli_table *t)
{
    for (size_t i = 0; i < t->nrows * t->ncols; i++)
        free(t->cells[i]);
    free(t->cells);
    memset(t, 0, sizeof(*t));
}

/* Appends s to buf[*used..n), truncating. */
static void append(char *buf, size_t n, size_t *used, const char *s)
{
    size_t k = strlen(s);

    if (*used + 1 >= n)
        return;
    if (k > n - *used - 1)
        k = n - *used - 1;
    memcpy(buf + *used, s, k);
    *used += k;
    buf[*used] = '\0';
}

const char *sl_cli_cell(const json_t *v, char *buf, size_t n)
{
    char item[256];
    size_t used = 0;
    const char *key;
    json_t *x;
    size_t i;

    buf[0] = '\0';
    switch (v ? json_typeof(v) : JSON_NULL) {
    case JSON_STRING:
        append(buf, n, &used, json_string_value(v));
        break;
    case JSON_INTEGER:
        (void)snprintf(buf, n, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        break;
    case JSON_REAL:
        (void)snprintf(buf, n, "%g", json_real_value(v));
        break;
    case JSON_TRUE:
        append(buf, n, &used, "true");
        break;
    case JSON_FALSE:
        append(buf, n, &used, "false");
        break;
    case JSON_ARRAY:
        json_array_foreach(v, i, x)
        {
            if (i > 0)
                append(buf, n, &used, ",");
            append(buf, n, &used, sl_cli_cell(x, item, sizeof(item)));
        }
        break;
    case JSON_OBJECT:
        i = 0;
        json_object_foreach((json_t *)v, key, x)
        {
            if (i++ > 0)
                append(buf, n, &used, ",");
            append(buf, n, &used, key);
            append(buf, n, &used, "=");
            append(buf, n, &used, sl_cli_cell(x, item, sizeof(item)));
        }
        break;
    default:
        break;
    }
    if (buf[0] == '\0')
        append(buf, n, &used, "-");
    return buf;
}

const char *sl_cli_cell_time(const json_t *v, const char *zero, char *buf, size_t n)
{
    struct tm tm;
    time_t t;

    if (!json_is_integer(v))
        return sl_cli_cell(v, buf, n);
    if (json_integer_value(v) == 0) {
        (void)snprintf(buf, n, "%s", zero);
        return buf;
    }
    t = (time_t)json_integer_value(v);
    if (gmtime_r(&t, &tm) == NULL || strftime(buf, n, "%Y-%m-%d %H:%M:%S", &tm) == 0)
        return sl_cli_cell(v, buf, n);
    return buf;
}

const char *sl_cli_cell_rate(const json_t *v, char *buf, size_t n)
{
    if (!json_is_number(v))
        return sl_cli_cell(v, buf, n);
    (void)snprintf(buf, n, "%.1f", json_number_value(v));
    return buf;
}

/* A string member of <loc>, or NULL when absent or empty. */
static const char *loc_str(const json_t *loc, const char *key)
{
    const char *s = json_string_value(json_object_get(loc, key));

    return s != NULL && s[0] != '\0' ? s : NULL;
}

const char *sl_cli_cell_location(const json_t *loc, char *buf, size_t n)
{
    const char *city = loc_str(loc, "city");
    const char *country = loc_str(loc, "country");
    const json_t *lat = json_object_get(loc, "lat"), *lon = json_object_get(loc, "lon");

    if (country == NULL)
        country = loc_str(loc, "country_name");
    if (city != NULL && country != NULL)
        (void)snprintf(buf, n, "%s, %s", city, country);
    else if (city != NULL || country != NULL)
        (void)snprintf(buf, n, "%s", city != NULL ? city : country);
    else if (json_is_number(lat) && json_is_number(lon))
        (void)snprintf(buf, n, "%.2f,%.2f", json_number_value(lat), json_number_value(lon));
    else
        (void)snprintf(buf, n, "-");
    return buf;
}
