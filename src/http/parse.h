/* Strict HTTP/1.1 message-head parser (RFC 9112). No I/O, no allocation:
 * results point into the caller's buffer and are valid while it is
 * unchanged. Anything that could desync a chain of proxies is refused. */
#ifndef SL_HTTP_PARSE_H
#define SL_HTTP_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SL_HTTP_MAX_HDRS 100
/* Return codes besides a positive head length. */
#define SL_HTTP_PARTIAL (-2) /* the head is not complete yet */
#define SL_HTTP_BAD     (-1) /* refused: see ->status and ->error */

/* Header flags set by the parser. */
#define SL_HDR_HOP  0x01u /* hop-by-hop (fixed list or named in Connection): not forwarded */
#define SL_HDR_HOST 0x02u
#define SL_HDR_XFF  0x04u /* X-Forwarded-For/-Proto/-Host: the proxy rewrites these */

enum sl_http_body {
    SL_BODY_NONE = 0,
    SL_BODY_LENGTH,     /* content_length bytes */
    SL_BODY_CHUNKED,    /* chunked, final coding */
    SL_BODY_UNTIL_CLOSE /* responses only: delimited by the server closing */
};

enum sl_http_method {
    SL_METHOD_OTHER = 0,
    SL_METHOD_GET,
    SL_METHOD_HEAD,
    SL_METHOD_POST,
    SL_METHOD_PUT,
    SL_METHOD_DELETE,
    SL_METHOD_OPTIONS,
    SL_METHOD_PATCH,
    SL_METHOD_CONNECT,
    SL_METHOD_TRACE,
};

struct sl_http_hdr {
    const char *name;
    const char *value; /* leading and trailing whitespace trimmed */
    uint16_t name_len;
    uint16_t flags; /* SL_HDR_* */
    uint32_t value_len;
};

/* Fields common to requests and responses. */
struct sl_http_msg {
    int minor_version; /* HTTP/1.<minor>: 0 or 1 */
    enum sl_http_body body;
    uint64_t content_length; /* when body == SL_BODY_LENGTH */
    bool keep_alive;         /* persistent after this message (version + Connection) */
    bool upgrade;            /* Connection: upgrade and an Upgrade header */
    /* Responses: Transfer-Encoding names codings besides chunked (say
     * "gzip, chunked"). Its fields then lose SL_HDR_HOP: the proxy forwards
     * them as they are and adds no Transfer-Encoding of its own. */
    bool te_passthrough;
    size_t nhdrs;
    struct sl_http_hdr hdrs[SL_HTTP_MAX_HDRS];
    /* On SL_HTTP_BAD: the status to answer (400, 431, 501, 505 for
     * requests; 502 for responses) and a short static reason. */
    int status;
    const char *error;
};

struct sl_http_req {
    enum sl_http_method method_id;
    const char *method;
    size_t method_len;
    const char *target; /* request-target as sent */
    size_t target_len;
    const char *path; /* origin-form: target up to '?'; absolute-form: its path
                       * (a static "/" when the target has none); asterisk-form:
                       * "*"; authority-form (CONNECT): the target, path_len 0 */
    size_t path_len;
    const char *query; /* from '?' (included) to the end of the target; query_len 0
                        * when there is none. path + query is the origin-form to
                        * forward, whatever form the client used. */
    size_t query_len;
    const char *host; /* Host header (or absolute-form authority), port included */
    size_t host_len;
    bool expect_continue; /* Expect: 100-continue */
    struct sl_http_msg m;
};

struct sl_http_resp {
    int status; /* 100..599 */
    const char *reason;
    size_t reason_len;
    struct sl_http_msg m;
};

/* Parses the request head in buf[0..len). A head longer than <max_head>
 * bytes, or with more than SL_HTTP_MAX_HDRS fields, is refused with status
 * 431 (414 for a request line alone over the limit).
 * Returns the head's length (through the blank line), SL_HTTP_PARTIAL or
 * SL_HTTP_BAD. Refused (400 unless said): bare CR or LF where CRLF is
 * required (a bare LF line ending is refused too), control characters,
 * whitespace before a colon, obs-fold, invalid token characters, HTTP
 * versions other than 1.0/1.1 (505), missing Host on HTTP/1.1, several Host
 * headers, Content-Length with Transfer-Encoding, differing or malformed
 * Content-Length or one above INT64_MAX, Transfer-Encoding other than a final "chunked" (501 for
 * an unknown coding), Transfer-Encoding on HTTP/1.0. */
/* Empty lines (CRLF) before the request line are skipped and counted in
 * the head length (RFC 9112 2.2). While incomplete, the call costs one
 * memchr pass over at most max_head bytes, and input that can never
 * become a request (a non-token method, a bare LF) is refused at once;
 * once the buffer holds more than max_head bytes without the end of the
 * head, the answer is 431 (or 414) at once, never PARTIAL.
 * Fields named in Connection are flagged SL_HDR_HOP, except Host and
 * Content-Length, whose removal would change routing or framing
 * downstream. Content-Length: 0 gives SL_BODY_LENGTH with 0.
 * Ownership: every pointer in <req> points into <buf> (or at a static
 * "/", see path) and lives as long as <buf> is unchanged; nothing is
 * allocated. <req> is overwritten, also on PARTIAL and BAD.
 * Threads: any; reentrant, no shared state. */
int sl_http_parse_request(const char *buf, size_t len, size_t max_head, struct sl_http_req *req);

/* Parses a response head to a request of method <method_id>; body framing
 * follows RFC 9112 section 6.3 (HEAD, 1xx, 204, 304 and 2xx to CONNECT
 * have no body; then a final chunked coding gives CHUNKED, another
 * Transfer-Encoding UNTIL_CLOSE, Content-Length LENGTH, nothing
 * UNTIL_CLOSE; UNTIL_CLOSE always clears keep_alive). Same returns,
 * ownership and threads as sl_http_parse_request(); a refused response
 * gets status 502 (Content-Length with Transfer-Encoding is refused too).
 * "HTTP/1.1 200\r\n" without the space before an empty reason is
 * accepted. A 1xx response is a head of its own: parse the next one
 * after it. */
int sl_http_parse_response(const char *buf, size_t len, size_t max_head,
                           enum sl_http_method method_id, struct sl_http_resp *resp);

/* Case-insensitive lookup of the first header named <name> (NULL if none).
 * Threads: any; reads <m> only. */
const struct sl_http_hdr *sl_http_find(const struct sl_http_msg *m, const char *name,
                                       size_t name_len);

/* True when <s>[0..n) is an RFC 3986 authority without userinfo: reg-name,
 * IPv4 or [IPv6], then an optional ":port" of 1 to 5 digits up to 65535
 * (required when <need_port>). The parser applies it to Host, to the
 * authority of an absolute-form target and to a CONNECT target.
 * Threads: any; pure function. */
bool sl_http_authority_valid(const char *s, size_t n, bool need_port);

/* Streaming chunked-body decoder. Usually the bytes are forwarded verbatim
 * by the caller and this only finds where the body ends (sl_chunked_feed);
 * sl_chunked_decode also strips the framing. Both refuse bad framing
 * (invalid or overflowing chunk sizes, missing CRLF, oversized extensions
 * or trailers). */
struct sl_chunked {
    uint64_t remaining; /* data bytes left in the current chunk */
    uint32_t state;     /* internal */
    uint32_t line_len;  /* bytes seen on the current size/trailer line */
};

#define SL_CHUNKED_MORE (0)  /* all input consumed, body not finished */
#define SL_CHUNKED_DONE (1)  /* body ended after *consumed bytes */
#define SL_CHUNKED_BAD  (-1) /* malformed */

/* Limits: a size line (hex digits and ';' extensions) of 4096 bytes, a
 * trailer section of 8192 bytes. Whitespace around the size is refused.
 * Ownership: the caller owns <c> (no allocation; init again to reuse).
 * Threads: one thread per <c> at a time. */
void sl_chunked_init(struct sl_chunked *c);
/* Feeds buf[0..len). Sets *consumed to the bytes that belong to the body
 * (all of len for MORE; for DONE the rest belongs to the next message; for
 * BAD where the error was found). After DONE or BAD every call returns
 * the same with *consumed 0. */
int sl_chunked_feed(struct sl_chunked *c, const char *buf, size_t len, size_t *consumed);
/* As sl_chunked_feed (same result and *consumed), and also strips the
 * framing in place: the data bytes of buf[0..*consumed) move to
 * buf[0..*data_len) (the size lines, CRLFs and trailers go). On BAD the
 * buffer is partly rewritten: throw it away. */
int sl_chunked_decode(struct sl_chunked *c, char *buf, size_t len, size_t *consumed,
                      size_t *data_len);

#endif /* SL_HTTP_PARSE_H */
