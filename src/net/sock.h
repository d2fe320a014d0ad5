/* Socket helpers for the data plane. Each is a thin wrapper over one or
 * two system calls; all are thread-safe (they touch only their arguments).
 * Functions returning int give 0 (or an fd) on success and -1 with errno. */
#ifndef SL_NET_SOCK_H
#define SL_NET_SOCK_H

#include <sys/socket.h>

#include <stdbool.h>
#include <stddef.h>

/* INET6_ADDRSTRLEN plus brackets, colon and port. */
#define SL_ADDR_STRLEN 64

/* Parses "ip:port", "[v6]:port", "*:port" or ":port" (any address) into
 * <ss>; numeric only (a bind address is never resolved). */
int sl_sock_parse_bind(const char *bind, struct sockaddr_storage *ss, socklen_t *len);
/* Accepts what sl_sock_parse_bind() accepts and writes its normal form
 * into out[cap] (SL_ADDR_STRLEN is enough), for messages and for comparing
 * binds as text: ":80" and "*:80" become "0.0.0.0:80", the port is decimal
 * ("0080" is 80), an IPv6 address stays as written, in brackets. -1 with
 * errno EINVAL (not a bind address) or ENOSPC (<cap> too small). */
int sl_sock_normalize_bind(const char *bind, char *out, size_t cap);

/* A non-blocking, close-on-exec TCP socket with TCP_NODELAY that has
 * started connecting to <sa>. *<in_progress> is true when the connection
 * completes later (wait for writability, then sl_sock_error()). */
int sl_sock_connect(const struct sockaddr *sa, socklen_t len, bool *in_progress);
/* The pending error of a socket (SO_ERROR): 0 when connected. */
int sl_sock_error(int fd);
/* Sets TCP_NODELAY (errors ignored: loopback and TCP always accept it). */
void sl_sock_nodelay(int fd);
/* Non-blocking check of an idle connection: true while the peer has not
 * closed it and sent nothing (a MSG_PEEK recv would block). */
bool sl_sock_idle_alive(int fd);

/* The address only ("127.0.0.1", "::1") into out[cap]; "?" for an unknown
 * family. Returns the length written. */
size_t sl_sock_ip_str(const struct sockaddr *sa, char *out, size_t cap);

#endif /* SL_NET_SOCK_H */
