/* Backend targets: "ip", "host", "ip:port", "host:port", "[v6]", "[v6]:port"
 * (and a bare IPv6 address). Parsing is pure; resolving is done once when a
 * backend is created. */
#ifndef SL_CORE_TARGET_H
#define SL_CORE_TARGET_H

#include <sys/socket.h>

#include <stdbool.h>
#include <stdint.h>

#define SL_TARGET_DEFAULT_PORT 80
#define SL_TARGET_HOST_MAX     253

struct sl_target {
    char host[SL_TARGET_HOST_MAX + 1];      /* without brackets */
    char canon[SL_TARGET_HOST_MAX + 1 + 8]; /* "host:port" or "[v6]:port" */
    uint16_t port;
    bool v6; /* host is an IPv6 literal */
};

/* Parses <s> into <out>. Refuses an empty host, port 0 or above 65535, a
 * missing port after ':', unbalanced brackets, trailing garbage, whitespace
 * and characters outside [A-Za-z0-9.-_] in a host name:
 * SLUICE_ERR_INVALID_TARGET (or INVALID_ARG for NULL). <out> is written only
 * on success. Any thread. */
int sl_target_parse(const char *s, struct sl_target *out);

/* Resolves <t> into <ss>: numeric addresses with inet_pton(), names with
 * getaddrinfo() (may block on DNS). Returns false and leaves ss_family
 * AF_UNSPEC when the name does not resolve. Any thread. */
bool sl_target_resolve(const struct sl_target *t, struct sockaddr_storage *ss, socklen_t *len);

#endif /* SL_CORE_TARGET_H */
