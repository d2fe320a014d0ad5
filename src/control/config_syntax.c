/* The syntax of structured fields: backend targets and endpoint patterns
 * (plain scalars are scalar.c's, bind addresses net/sock.c's). Pure
 * functions, no diagnostics: the callers in config*.c turn a failure into
 * a line-numbered message. */
#include <arpa/inet.h>

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "control/config_ctx.h"
#include "core/target.h"

/* A DNS name or IPv4 literal: dot-separated labels of letters, digits, '-'
 * and '_', 1..63 bytes each, 253 in all. */
static bool valid_hostname(const char *s, size_t len)
{
    size_t label = 0;

    if (len == 0 || len > 253)
        return false;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];

        if (c == '.') {
            if (label == 0)
                return false;
            label = 0;
        } else if (isalnum(c) || c == '-' || c == '_') {
            if (++label > 63)
                return false;
        } else {
            return false;
        }
    }
    return label > 0;
}

/* "[v6]" (<len> bytes at <s>, brackets included): the library's target
 * parser decides, as for backends, so the two never disagree on what an
 * IPv6 literal is. */
static bool valid_bracketed_v6(const char *s, size_t len)
{
    char buf[INET6_ADDRSTRLEN + 3];
    struct sl_target t;

    if (len < 2 || len >= sizeof(buf) || s[len - 1] != ']')
        return false;
    memcpy(buf, s, len);
    buf[len] = '\0';
    return sl_target_parse(buf, &t) == 0;
}

/* The library's own parser decides, so check and serve never disagree. */
int sl_config_check_target(const char *s)
{
    struct sl_target t;

    return sl_target_parse(s, &t) == 0 ? 0 : -1;
}

static char *dup_lower(const char *s, size_t len)
{
    char *d = malloc(len + 1);

    if (d == NULL)
        return NULL;
    for (size_t i = 0; i < len; i++)
        d[i] = (char)tolower((unsigned char)s[i]);
    d[len] = '\0';
    return d;
}

static const char *check_path(const char *p, size_t *len)
{
    if (p[0] != '/')
        return "the path must start with '/'";
    for (size_t i = 0; i < *len; i++) {
        unsigned char c = (unsigned char)p[i];

        if (c <= ' ' || c == '?' || c == '#' || c == '*' || c >= 0x7f)
            return "the path may not hold spaces, '?', '#' or '*'";
    }
    /* "/blog/" and "/blog" are one prefix: matching is on segments. */
    while (*len > 1 && p[*len - 1] == '/')
        (*len)--;
    return NULL;
}

const char *sl_cfg_parse_pattern(const char *pat, struct sl_cfg_endpoint *e)
{
    const char *slash = strchr(pat, '/');
    size_t hlen = slash != NULL ? (size_t)(slash - pat) : strlen(pat);
    const char *host = pat, *path = slash != NULL ? slash : "/";
    size_t plen = strlen(path);
    const char *why;

    if (pat[0] == '\0')
        return "the pattern is empty";
    if ((why = check_path(path, &plen)) != NULL)
        return why;
    e->host_match = SL_HOST_ANY;
    if (hlen > 0 && host[hlen - 1] == '.')
        hlen--; /* "example.com." is "example.com" */
    if (hlen > 0) {
        e->host_match = SL_HOST_EXACT;
        if (host[0] == '*') {
            if (hlen < 3 || host[1] != '.')
                return "a wildcard host is written '*.example.com'";
            e->host_match = SL_HOST_WILDCARD;
            host++; /* keep the dot: the suffix a host must end with */
            hlen--;
            if (!valid_hostname(host + 1, hlen - 1))
                return "invalid host name after '*.'";
        } else if (host[0] == '[') {
            if (!valid_bracketed_v6(host, hlen))
                return "invalid IPv6 host (write it as [::1], without a port)";
        } else if (memchr(host, ':', hlen) != NULL) {
            return "a pattern host may not have a port";
        } else if (!valid_hostname(host, hlen)) {
            return "invalid host name";
        }
    }
    e->host = dup_lower(host, hlen);
    e->path = strndup(path, plen); /* paths keep their case */
    if (e->host == NULL || e->path == NULL)
        return "out of memory";
    return NULL;
}
