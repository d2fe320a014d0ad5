#include "target.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <netdb.h>
#include <stdio.h>
#include <string.h>

#include "sluice.h"

static bool host_char_ok(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '-' || c == '_';
}

/* Digits only, 1..65535: "+80", "0x50", " 80" and "" are refused. */
static bool parse_port(const char *s, uint16_t *out)
{
    uint32_t v = 0;

    if (*s == '\0')
        return false;
    for (; *s != '\0'; s++) {
        if (*s < '0' || *s > '9')
            return false;
        v = v * 10 + (uint32_t)(*s - '0');
        if (v > 65535)
            return false;
    }
    if (v == 0)
        return false;
    *out = (uint16_t)v;
    return true;
}

static int parse_v6(const char *s, size_t len, struct sl_target *t)
{
    char buf[INET6_ADDRSTRLEN + 1];
    struct in6_addr a;

    if (len == 0 || len >= sizeof(buf))
        return SLUICE_ERR_INVALID_TARGET;
    memcpy(buf, s, len);
    buf[len] = '\0';
    if (inet_pton(AF_INET6, buf, &a) != 1)
        return SLUICE_ERR_INVALID_TARGET;
    /* Canonical text, so "[0:0::1]" and "[::1]" are one target. */
    if (inet_ntop(AF_INET6, &a, t->host, sizeof(t->host)) == NULL)
        return SLUICE_ERR_INVALID_TARGET;
    t->v6 = true;
    return 0;
}

static int parse_name(const char *s, size_t len, struct sl_target *t)
{
    if (len == 0 || len > SL_TARGET_HOST_MAX)
        return SLUICE_ERR_INVALID_TARGET;
    for (size_t i = 0; i < len; i++)
        if (!host_char_ok(s[i]))
            return SLUICE_ERR_INVALID_TARGET;
    memcpy(t->host, s, len);
    t->host[len] = '\0';
    t->v6 = false;
    return 0;
}

/* "[v6]" or "[v6]:port" at <s> (which starts with '[') into <t>. */
static int parse_bracketed(const char *s, struct sl_target *t)
{
    const char *close = strchr(s, ']');
    int rc;

    if (close == NULL)
        return SLUICE_ERR_INVALID_TARGET;
    rc = parse_v6(s + 1, (size_t)(close - s - 1), t);
    if (rc != 0)
        return rc;
    if (close[1] == ':') {
        if (!parse_port(close + 2, &t->port))
            return SLUICE_ERR_INVALID_TARGET;
    } else if (close[1] != '\0') {
        return SLUICE_ERR_INVALID_TARGET;
    }
    return 0;
}

int sl_target_parse(const char *s, struct sl_target *out)
{
    struct sl_target t;
    const char *colon;
    int rc;

    if (s == NULL || out == NULL)
        return SLUICE_ERR_INVALID_ARG;
    memset(&t, 0, sizeof(t));
    t.port = SL_TARGET_DEFAULT_PORT;
    if (s[0] == '[') {
        rc = parse_bracketed(s, &t);
        if (rc != 0)
            return rc;
    } else if ((colon = strchr(s, ':')) != NULL && strchr(colon + 1, ':') != NULL) {
        /* Two colons and no brackets: only a whole IPv6 address, no port. */
        rc = parse_v6(s, strlen(s), &t);
        if (rc != 0)
            return rc;
    } else if (colon != NULL) {
        rc = parse_name(s, (size_t)(colon - s), &t);
        if (rc != 0)
            return rc;
        if (!parse_port(colon + 1, &t.port))
            return SLUICE_ERR_INVALID_TARGET;
    } else {
        rc = parse_name(s, strlen(s), &t);
        if (rc != 0)
            return rc;
    }
    /* Cannot truncate: canon has room for a maximal host and port. */
    (void)snprintf(t.canon, sizeof(t.canon), t.v6 ? "[%s]:%u" : "%s:%u", t.host, (unsigned)t.port);
    *out = t;
    return 0;
}

bool sl_target_resolve(const struct sl_target *t, struct sockaddr_storage *ss, socklen_t *len)
{
    struct sockaddr_in *in4 = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
    struct addrinfo hints, *res = NULL;

    memset(ss, 0, sizeof(*ss));
    ss->ss_family = AF_UNSPEC;
    *len = 0;
    if (inet_pton(AF_INET, t->host, &in4->sin_addr) == 1) {
        in4->sin_family = AF_INET;
        in4->sin_port = htons(t->port);
        *len = sizeof(*in4);
        return true;
    }
    if (inet_pton(AF_INET6, t->host, &in6->sin6_addr) == 1) {
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons(t->port);
        *len = sizeof(*in6);
        return true;
    }
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    if (getaddrinfo(t->host, NULL, &hints, &res) != 0 || res == NULL)
        return false;
    /* Only the first address: a backend is one address, as resolved once. */
    if (res->ai_addrlen <= sizeof(*ss)) {
        memcpy(ss, res->ai_addr, res->ai_addrlen);
        *len = res->ai_addrlen;
        if (ss->ss_family == AF_INET)
            in4->sin_port = htons(t->port);
        else if (ss->ss_family == AF_INET6)
            in6->sin6_port = htons(t->port);
    }
    freeaddrinfo(res);
    return ss->ss_family != AF_UNSPEC;
}
