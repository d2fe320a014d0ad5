/* Internals shared by parse.c (start lines, entry points) and
 * parse_fields.c (header fields and their framing semantics). Not a
 * contract: only those two files include it. */
#ifndef SL_HTTP_PARSE_INT_H
#define SL_HTTP_PARSE_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "http/parse.h"

/* Character classes, one bit each, looked up in sl_http_cls[] so the scans
 * never call a function per byte. */
#define SL_C_TOKEN  0x01u /* tchar (RFC 9110 5.6.2) */
#define SL_C_VALUE  0x02u /* field-vchar, SP, HTAB, obs-text */
#define SL_C_TARGET 0x04u /* VCHAR but '#': request-target bytes */
#define SL_C_HOST   0x08u /* reg-name: unreserved, sub-delims, '%' */
#define SL_C_HEX    0x10u
#define SL_C_DIGIT  0x20u

extern const uint8_t sl_http_cls[256];

#define SL_CLS(c, bit) ((sl_http_cls[(uint8_t)(c)] & (bit)) != 0)

/* What the field loop found that the start line's owner needs. */
struct sl_http_fields {
    const char *host; /* value of the single Host field, NULL if none */
    size_t host_len;
    bool expect_continue;
};

/* Parses the field lines starting at <p> up to and including the blank
 * line, which the caller has already found (so every line ends in CRLF
 * inside the buffer). Fills m->hdrs, m->body, m->content_length,
 * m->keep_alive and m->upgrade from m->minor_version. <is_req> picks the
 * request rules; responses leave m->body to the caller when
 * SL_BODY_UNTIL_CLOSE would apply (see parse.c). Returns 0, or SL_HTTP_BAD
 * with m->status and m->error set. */
int sl_http_parse_fields(const char *p, bool is_req, struct sl_http_msg *m,
                         struct sl_http_fields *f);

/* Records a refusal and returns SL_HTTP_BAD. */
static inline int sl_http_fail(struct sl_http_msg *m, int status, const char *why)
{
    m->status = status;
    m->error = why;
    return SL_HTTP_BAD;
}

#endif /* SL_HTTP_PARSE_INT_H */
