/* A small blocking HTTP/1.1 client for the CLI verbs that speak to the
 * admin API: one request per connection (Connection: close), a connect
 * timeout and an I/O timeout, the response read by Content-Length,
 * chunked coding or the server closing. Responses are parsed by
 * http/parse.h, the proxy's strict parser. Not for hot paths. */
#ifndef SL_CLI_HTTP_CLIENT_H
#define SL_CLI_HTTP_CLIENT_H

#include <stddef.h>

/* "http://HOST[:PORT][/PREFIX]" or "HOST[:PORT]"; HOST may be "[v6]". */
struct sl_url {
    char host[256];   /* without brackets */
    char port[8];     /* "80" when the URL names none */
    char prefix[256]; /* "" or "/prefix" without a trailing slash */
};

/* 0, or -1 with a message in err[errlen]. */
int sl_url_parse(const char *url, struct sl_url *u, char *err, size_t errlen);

struct sl_http_result {
    int status;
    char *body; /* malloc'd, NUL-terminated (free it); NULL before a call */
    size_t body_len;
};

/* Sends <method> <prefix><path> with an optional Bearer <token> and JSON
 * <body> (NULL: none), and reads the whole response into *r. 0 with
 * r->status set, or -1 with a message in err (resolution, connection,
 * timeout, malformed response). timeout_ms bounds the connect and each
 * read or write. */
int sl_http_call(const struct sl_url *u, const char *method, const char *path, const char *token,
                 const char *body, int timeout_ms, struct sl_http_result *r, char *err,
                 size_t errlen);
void sl_http_result_free(struct sl_http_result *r);

#endif /* SL_CLI_HTTP_CLIENT_H */
