/* Header fields (RFC 9112 section 5, RFC 9110 sections 5 and 7): syntax,
 * hop-by-hop marking, and the framing fields (Content-Length,
 * Transfer-Encoding, Connection) whose misreading lets one message hide
 * inside another in a chain of proxies. Everything doubtful is refused. */
#include <string.h>

#include "http/parse_int.h"

/* Generated from the RFC grammars; bits are the SL_C_* classes. */
const uint8_t sl_http_cls[256] = {
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x02, 0x0f, 0x06, 0x03, 0x0f, 0x0f, 0x0f, 0x0f, 0x0e, 0x0e, 0x0f, 0x0f, 0x0e, 0x0f, 0x0f, 0x06,
    0x3f, 0x3f, 0x3f, 0x3f, 0x3f, 0x3f, 0x3f, 0x3f, 0x3f, 0x3f, 0x06, 0x0e, 0x06, 0x0e, 0x06, 0x06,
    0x06, 0x1f, 0x1f, 0x1f, 0x1f, 0x1f, 0x1f, 0x0f, 0x0f, 0x0f, 0x0f, 0x0f, 0x0f, 0x0f, 0x0f, 0x0f,
    0x0f, 0x0f, 0x0f, 0x0f, 0x0f, 0x0f, 0x0f, 0x0f, 0x0f, 0x0f, 0x0f, 0x06, 0x06, 0x06, 0x07, 0x0f,
    0x07, 0x1f, 0x1f, 0x1f, 0x1f, 0x1f, 0x1f, 0x0f, 0x0f, 0x0f, 0x0f, 0x0f, 0x0f, 0x0f, 0x0f, 0x0f,
    0x0f, 0x0f, 0x0f, 0x0f, 0x0f, 0x0f, 0x0f, 0x0f, 0x0f, 0x0f, 0x0f, 0x06, 0x07, 0x06, 0x0f, 0x00,
    0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02,
    0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02,
    0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02,
    0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02,
    0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02,
    0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02,
    0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02,
    0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02,
};

/* Connection options beyond close/keep-alive/upgrade that we remember to
 * mark the fields they name. Real clients send one or two. */
#define MAX_CONN_OPTS 16

enum field_id {
    F_OTHER = 0,
    F_HOST,
    F_CONNECTION,
    F_CONTENT_LENGTH,
    F_TRANSFER_ENCODING,
    F_HOP, /* Keep-Alive, Proxy-Connection, TE, Trailer */
    F_UPGRADE,
    F_EXPECT,
    F_XFF,
};

/* Per-parse scratch: lives on the stack of sl_http_parse_fields(). */
struct fstate {
    unsigned nhost;
    bool has_cl;
    bool has_te;
    bool te_bad;           /* syntax error in a coding list */
    bool te_unknown;       /* a coding we do not know */
    bool te_other;         /* a coding besides chunked (known or not) */
    bool te_chunked_early; /* chunked followed by another coding */
    bool te_last_chunked;
    bool conn_close;
    bool conn_keep_alive;
    bool conn_upgrade;
    bool has_upgrade;
    unsigned nopts;
    const char *opt[MAX_CONN_OPTS];
    size_t opt_len[MAX_CONN_OPTS];
};

static inline unsigned char lower(unsigned char c)
{
    return c >= 'A' && c <= 'Z' ? (unsigned char)(c + 32) : c;
}

/* <s> is made of tchars and <lit> of lower-case letters and '-': OR-ing
 * 0x20 folds case exactly for that pair of alphabets. */
static inline bool token_is(const char *s, const char *lit, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if ((s[i] | 0x20) != lit[i])
            return false;
    return true;
}

static inline bool ci_equal(const char *a, const char *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (lower((unsigned char)a[i]) != lower((unsigned char)b[i]))
            return false;
    return true;
}

/* <id> when <n> is the lower-case <name> of <len> bytes, in any case. */
static inline enum field_id known(const char *n, const char *name, size_t len, enum field_id id)
{
    return token_is(n, name, len) ? id : F_OTHER;
}

/* Dispatch on length first: most names fail there without a compare. */
static enum field_id classify(const char *n, size_t len)
{
    switch (len) {
    case 2:
        return known(n, "te", 2, F_HOP);
    case 4:
        return known(n, "host", 4, F_HOST);
    case 6:
        return known(n, "expect", 6, F_EXPECT);
    case 7:
        if (token_is(n, "upgrade", 7))
            return F_UPGRADE;
        return known(n, "trailer", 7, F_HOP);
    case 10:
        if (token_is(n, "connection", 10))
            return F_CONNECTION;
        return known(n, "keep-alive", 10, F_HOP);
    case 14:
        return known(n, "content-length", 14, F_CONTENT_LENGTH);
    case 15:
        return known(n, "x-forwarded-for", 15, F_XFF);
    case 16:
        if (token_is(n, "proxy-connection", 16))
            return F_HOP;
        return known(n, "x-forwarded-host", 16, F_XFF);
    case 17:
        if (token_is(n, "transfer-encoding", 17))
            return F_TRANSFER_ENCODING;
        return known(n, "x-forwarded-proto", 17, F_XFF);
    default:
        return F_OTHER;
    }
}

/* Iterates a comma-separated list of tokens (RFC 9110 5.6.1): empty
 * elements are skipped, anything but a token between commas is an error.
 * Returns 1 with the next token, 0 at the end, -1 on bad syntax. */
static int list_next(const char **pp, const char *e, const char **tok, size_t *tok_len)
{
    const char *p = *pp;

    while (p < e && (*p == ' ' || *p == '\t' || *p == ','))
        p++;
    if (p == e)
        return 0;
    *tok = p;
    while (p < e && SL_CLS(*p, SL_C_TOKEN))
        p++;
    *tok_len = (size_t)(p - *tok);
    if (*tok_len == 0)
        return -1;
    while (p < e && (*p == ' ' || *p == '\t'))
        p++;
    if (p < e && *p != ',')
        return -1;
    *pp = p;
    return 1;
}

/* Content-Length = 1*DIGIT, or a list of identical values (RFC 9110 8.6)
 * which some senders produce when they merge duplicate fields. Values
 * above INT64_MAX are refused: a next hop that reads the length into a
 * signed 64-bit integer would frame the message differently. */
static int parse_content_length(const char *p, const char *e, uint64_t *out)
{
    bool have = false;

    for (;;) {
        uint64_t v = 0;
        const char *d = p;

        while (p < e && SL_CLS(*p, SL_C_DIGIT)) {
            unsigned digit = (unsigned)(*p - '0');

            if (v > ((uint64_t)INT64_MAX - digit) / 10)
                return -1;
            v = v * 10 + digit;
            p++;
        }
        if (p == d || (have && v != *out))
            return -1;
        *out = v;
        have = true;
        while (p < e && (*p == ' ' || *p == '\t'))
            p++;
        if (p == e)
            return 0;
        if (*p != ',')
            return -1;
        p++;
        while (p < e && (*p == ' ' || *p == '\t'))
            p++;
    }
}

/* Transfer-Encoding lists accumulate over repeated fields, in order. */
static void parse_transfer_encoding(const char *p, const char *e, struct fstate *fs)
{
    const char *t;
    size_t n;
    bool any = false;
    int r;

    while ((r = list_next(&p, e, &t, &n)) == 1) {
        if (fs->te_last_chunked)
            fs->te_chunked_early = true; /* chunked twice, or not last */
        fs->te_last_chunked = false;
        fs->has_te = true;
        any = true;
        if (n == 7 && token_is(t, "chunked", 7)) {
            fs->te_last_chunked = true;
            continue;
        }
        fs->te_other = true;
        if (!((n == 4 && token_is(t, "gzip", 4)) || (n == 6 && token_is(t, "x-gzip", 6)) ||
              (n == 7 && token_is(t, "deflate", 7)) || (n == 8 && token_is(t, "compress", 8)) ||
              (n == 10 && token_is(t, "x-compress", 10))))
            fs->te_unknown = true;
    }
    if (r == -1 || !any)
        fs->te_bad = true; /* bad syntax, or a field with no coding at all */
}

static int parse_connection(const char *p, const char *e, struct fstate *fs)
{
    const char *t;
    size_t n;
    int r;

    while ((r = list_next(&p, e, &t, &n)) == 1) {
        if (n == 5 && token_is(t, "close", 5)) {
            fs->conn_close = true;
        } else if (n == 10 && token_is(t, "keep-alive", 10)) {
            fs->conn_keep_alive = true;
        } else if (n == 7 && token_is(t, "upgrade", 7)) {
            fs->conn_upgrade = true;
        } else {
            if (fs->nopts == MAX_CONN_OPTS)
                return -1;
            fs->opt[fs->nopts] = t;
            fs->opt_len[fs->nopts++] = n;
        }
    }
    return r;
}

/* Marks the fields that Connection names (RFC 9110 7.6.1). Host and
 * Content-Length are never marked: dropping them would change how the
 * next hop frames or routes the message. */
static void mark_connection_options(struct sl_http_msg *m, const struct fstate *fs)
{
    for (size_t i = 0; i < m->nhdrs; i++) {
        struct sl_http_hdr *h = &m->hdrs[i];

        if (h->flags & (SL_HDR_HOP | SL_HDR_HOST))
            continue;
        if (h->name_len == 14 && token_is(h->name, "content-length", 14))
            continue;
        for (unsigned k = 0; k < fs->nopts; k++) {
            if (fs->opt_len[k] == h->name_len && ci_equal(fs->opt[k], h->name, h->name_len)) {
                h->flags |= SL_HDR_HOP;
                break;
            }
        }
    }
}

/* Applies one recognised field; returns 0 or SL_HTTP_BAD. */
static int apply_field(enum field_id id, struct sl_http_hdr *h, bool is_req, struct sl_http_msg *m,
                       struct sl_http_fields *f, struct fstate *fs)
{
    const char *v = h->value;
    const char *e = v + h->value_len;
    uint64_t cl = 0;

    switch (id) {
    case F_OTHER:
        break;
    case F_HOST:
        h->flags |= SL_HDR_HOST;
        if (++fs->nhost > 1)
            return sl_http_fail(m, 400, "several Host fields");
        f->host = v;
        f->host_len = h->value_len;
        break;
    case F_CONNECTION:
        h->flags |= SL_HDR_HOP;
        if (parse_connection(v, e, fs) == -1)
            return sl_http_fail(m, 400, "bad Connection field");
        break;
    case F_CONTENT_LENGTH:
        if (parse_content_length(v, e, &cl) == -1 || (fs->has_cl && cl != m->content_length))
            return sl_http_fail(m, 400, "bad Content-Length");
        fs->has_cl = true;
        m->content_length = cl;
        break;
    case F_TRANSFER_ENCODING:
        h->flags |= SL_HDR_HOP;
        parse_transfer_encoding(v, e, fs);
        break;
    case F_HOP:
        h->flags |= SL_HDR_HOP;
        break;
    case F_UPGRADE:
        h->flags |= SL_HDR_HOP;
        fs->has_upgrade = true;
        break;
    case F_EXPECT:
        if (is_req && h->value_len == 12 && ci_equal(v, "100-continue", 12))
            f->expect_continue = true;
        break;
    case F_XFF:
        h->flags |= SL_HDR_XFF;
        break;
    }
    return 0;
}

/* Framing of a message that has Transfer-Encoding (RFC 9112 6.1). */
static int te_framing(bool is_req, struct sl_http_msg *m, const struct fstate *fs)
{
    if (fs->te_bad)
        return sl_http_fail(m, 400, "bad Transfer-Encoding");
    if (fs->has_cl)
        return sl_http_fail(m, 400, "Content-Length with Transfer-Encoding");
    if (m->minor_version == 0)
        return sl_http_fail(m, 400, "Transfer-Encoding in HTTP/1.0");
    if (!is_req) {
        m->body = fs->te_last_chunked ? SL_BODY_CHUNKED : SL_BODY_UNTIL_CLOSE;
        /* The proxy re-frames a bare "chunked" itself; any other coding
         * is part of the payload's meaning and must reach the client. */
        m->te_passthrough = fs->te_other;
        for (size_t i = 0; m->te_passthrough && i < m->nhdrs; i++)
            if (m->hdrs[i].name_len == 17 && token_is(m->hdrs[i].name, "transfer-encoding", 17))
                m->hdrs[i].flags &= (uint16_t)~SL_HDR_HOP;
        return 0;
    }
    /* A proxy that forwarded "gzip, chunked" as plain chunked would
     * hand the backend a body it cannot read: refuse what we do not
     * pass through (RFC 9110 says 501 for a coding not implemented). */
    if (fs->te_unknown || (fs->te_other && fs->te_last_chunked && !fs->te_chunked_early))
        return sl_http_fail(m, 501, "unsupported transfer coding");
    if (fs->te_chunked_early || !fs->te_last_chunked)
        return sl_http_fail(m, 400, "chunked is not the final coding");
    m->body = SL_BODY_CHUNKED;
    return 0;
}

/* Body framing from the accumulated fields (RFC 9112 6.1-6.3). */
static int decide_framing(bool is_req, struct sl_http_msg *m, const struct fstate *fs)
{
    if (fs->has_te)
        return te_framing(is_req, m, fs);
    if (fs->te_bad)
        return sl_http_fail(m, 400, "bad Transfer-Encoding");
    if (fs->has_cl)
        m->body = SL_BODY_LENGTH;
    else
        m->body = is_req ? SL_BODY_NONE : SL_BODY_UNTIL_CLOSE;
    return 0;
}

/* sl_http_fail() for the helpers that return a position: always NULL. */
static const char *line_fail(struct sl_http_msg *m, int status, const char *why)
{
    (void)sl_http_fail(m, status, why);
    return NULL;
}

/* Parses the field line at <p> into the next entry of m->hdrs. Returns
 * the byte after its CRLF, or NULL once sl_http_fail() has said why. */
static const char *field_line(const char *p, struct sl_http_msg *m)
{
    const char *name = p;
    const char *v;
    const char *ve;
    struct sl_http_hdr *h;

    if (*p == ' ' || *p == '\t')
        return line_fail(m, 400, "obsolete line folding");
    while (SL_CLS(*p, SL_C_TOKEN))
        p++;
    if (*p != ':') {
        if (p != name && (*p == ' ' || *p == '\t'))
            return line_fail(m, 400, "whitespace before colon");
        return line_fail(m, 400, "invalid field name");
    }
    if (p == name)
        return line_fail(m, 400, "empty field name");
    if (m->nhdrs == SL_HTTP_MAX_HDRS)
        return line_fail(m, 431, "too many header fields");
    if (p - name > UINT16_MAX)
        return line_fail(m, 431, "field name too long");
    h = &m->hdrs[m->nhdrs++];
    h->name = name;
    h->name_len = (uint16_t)(p - name);
    h->flags = 0;
    p++;
    while (*p == ' ' || *p == '\t')
        p++;
    v = p;
    while (SL_CLS(*p, SL_C_VALUE))
        p++;
    /* The scan stops on any control byte: only CRLF may end a line. */
    if (p[0] != '\r' || p[1] != '\n')
        return line_fail(m, 400, "control character in field value");
    ve = p;
    while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
        ve--;
    if ((uint64_t)(ve - v) > UINT32_MAX)
        return line_fail(m, 431, "field value too long");
    h->value = v;
    h->value_len = (uint32_t)(ve - v);
    return p + 2;
}

int sl_http_parse_fields(const char *p, bool is_req, struct sl_http_msg *m,
                         struct sl_http_fields *f)
{
    struct fstate fs;

    memset(&fs, 0, sizeof(fs));
    m->nhdrs = 0;
    m->content_length = 0;
    f->host = NULL;
    f->host_len = 0;
    f->expect_continue = false;

    while (*p != '\r') {
        p = field_line(p, m);
        if (p == NULL)
            return SL_HTTP_BAD;

        struct sl_http_hdr *h = &m->hdrs[m->nhdrs - 1];

        if (apply_field(classify(h->name, h->name_len), h, is_req, m, f, &fs) != 0)
            return SL_HTTP_BAD;
    }
    if (p[1] != '\n')
        return sl_http_fail(m, 400, "bare CR");

    if (fs.nopts > 0)
        mark_connection_options(m, &fs);
    if (m->minor_version == 1)
        m->keep_alive = !fs.conn_close;
    else
        m->keep_alive = fs.conn_keep_alive && !fs.conn_close;
    m->upgrade = fs.conn_upgrade && fs.has_upgrade;
    return decide_framing(is_req, m, &fs);
}

const struct sl_http_hdr *sl_http_find(const struct sl_http_msg *m, const char *name,
                                       size_t name_len)
{
    for (size_t i = 0; i < m->nhdrs; i++) {
        const struct sl_http_hdr *h = &m->hdrs[i];

        if (h->name_len == name_len && ci_equal(h->name, name, name_len))
            return h;
    }
    return NULL;
}

/* reg-name may hold pct-encoded octets: '%' must lead two hex digits. */
static size_t scan_reg_name(const char *s, size_t n)
{
    size_t i = 0;

    while (i < n && SL_CLS(s[i], SL_C_HOST)) {
        if (s[i] == '%') {
            if (n - i < 3 || !SL_CLS(s[i + 1], SL_C_HEX) || !SL_CLS(s[i + 2], SL_C_HEX))
                return 0;
            i += 2;
        }
        i++;
    }
    return i;
}

bool sl_http_authority_valid(const char *s, size_t n, bool need_port)
{
    size_t i = 0;
    unsigned port = 0;
    unsigned colons = 0;

    if (n == 0)
        return false;
    if (s[0] == '[') {
        for (i = 1; i < n && s[i] != ']'; i++) {
            if (s[i] == ':')
                colons++;
            else if (!SL_CLS(s[i], SL_C_HEX) && s[i] != '.')
                return false;
        }
        if (i == n || colons < 2 || i - 1 > 45)
            return false;
        i++;
    } else {
        i = scan_reg_name(s, n);
        if (i == 0)
            return false;
    }
    if (i == n)
        return !need_port;
    if (s[i++] != ':' || i == n || n - i > 5)
        return false;
    for (; i < n; i++) {
        if (!SL_CLS(s[i], SL_C_DIGIT))
            return false;
        port = port * 10 + (unsigned)(s[i] - '0');
    }
    return port <= 65535;
}
