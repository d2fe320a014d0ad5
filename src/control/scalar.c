/* Scalar syntax: see scalar.h. */
#include "control/scalar.h"

#include <ctype.h>
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

/* Leading decimal digits of <s> into *<v> (no sign, no overflow past
 * UINT64 / 10); returns the number of digits. */
static size_t digits(const char *s, uint64_t *v)
{
    size_t i = 0;

    *v = 0;
    while (i < 18 && isdigit((unsigned char)s[i])) {
        *v = *v * 10 + (uint64_t)(s[i] - '0');
        i++;
    }
    return isdigit((unsigned char)s[i]) ? 0 : i; /* 19+ digits: too big anyway */
}

int sl_scalar_parse_duration(const char *s, uint32_t *out_ms)
{
    uint64_t v, mult;
    size_t n = digits(s, &v);

    if (n == 0)
        return -1;
    const char *u = s + n;

    if (*u == '\0' || strcmp(u, "ms") == 0)
        mult = 1;
    else if (strcmp(u, "s") == 0)
        mult = 1000;
    else if (strcmp(u, "m") == 0)
        mult = UINT64_C(60) * 1000;
    else if (strcmp(u, "h") == 0)
        mult = UINT64_C(3600) * 1000;
    else
        return -1;
    if (v > UINT32_MAX / mult)
        return -1;
    *out_ms = (uint32_t)(v * mult);
    return 0;
}

int sl_scalar_parse_size64(const char *s, uint64_t *out)
{
    uint64_t v, mult = 1;
    size_t n = digits(s, &v);

    if (n == 0)
        return -1;
    const char *u = s + n;

    switch (*u) {
    case 'k':
    case 'K':
        mult = UINT64_C(1) << 10;
        break;
    case 'm':
    case 'M':
        mult = UINT64_C(1) << 20;
        break;
    case 'g':
    case 'G':
        mult = UINT64_C(1) << 30;
        break;
    default:
        break;
    }
    if (mult != 1)
        u++;
    if ((*u == 'b' || *u == 'B') && mult != 1)
        u++;
    if (*u != '\0' || v > UINT64_MAX / mult)
        return -1;
    *out = v * mult;
    return 0;
}

int sl_scalar_parse_size(const char *s, uint32_t *out)
{
    uint64_t v;

    if (sl_scalar_parse_size64(s, &v) != 0 || v > UINT32_MAX)
        return -1;
    *out = (uint32_t)v;
    return 0;
}

int sl_scalar_parse_int(const char *s, int64_t *out)
{
    char *end;

    errno = 0;
    long long x = strtoll(s, &end, 10);

    if (errno != 0 || end == s || *end != '\0')
        return -1;
    *out = x;
    return 0;
}

int sl_scalar_parse_bool(const char *s, bool *out)
{
    static const char *const yes[] = {"true", "True", "TRUE", "yes", "on", NULL};
    static const char *const no[] = {"false", "False", "FALSE", "no", "off", NULL};

    for (size_t i = 0; yes[i] != NULL; i++) {
        if (strcmp(s, yes[i]) == 0) {
            *out = true;
            return 0;
        }
        if (strcmp(s, no[i]) == 0) {
            *out = false;
            return 0;
        }
    }
    return -1;
}

/* Reads one to three decimal digits at <s>, after blanks, into *<out>.
 * Returns the first byte after them, or NULL when no digit starts the
 * number or it has more than three. */
static const char *status_code(const char *s, unsigned *out)
{
    char *end;
    unsigned long v;

    while (isspace((unsigned char)*s)) /* as sscanf("%u") did: " 200" stays valid */
        s++;
    if (!isdigit((unsigned char)s[0]))
        return NULL;
    errno = 0;
    v = strtoul(s, &end, 10);
    if (errno != 0 || end - s > 3)
        return NULL;
    *out = (unsigned)v; /* three digits: fits */
    return end;
}

int sl_scalar_parse_status_range(const char *s, unsigned *lo, unsigned *hi)
{
    unsigned l, h;
    const char *p = status_code(s, &l);

    if (p != NULL && *p == '\0') {
        *lo = *hi = l;
        return 0;
    }
    if (p == NULL || *p != '-' || (p = status_code(p + 1, &h)) == NULL || *p != '\0')
        return -1;
    *lo = l;
    *hi = h;
    return 0;
}
