/* The decoder of the chunked transfer coding (RFC 9112 7.1), the only one
 * in sluice. The proxy mostly forwards the bytes untouched and uses it
 * only to find where the body ends (sl_chunked_feed); for an HTTP/1.0
 * client it also strips the framing (sl_chunked_decode). Either way it
 * finds the end, across arbitrary read boundaries, and refuses what
 * two parsers could read differently: whitespace around sizes, bare LF,
 * sizes above INT64_MAX (a next hop reading them into a signed 64-bit
 * integer would see a different framing), oversized lines or trailers. Data bytes are skipped in
 * bulk; only the size and trailer lines are walked byte by byte. */
#include <string.h>

#include "http/parse_int.h"

/* A size line (digits and extensions) longer than this is refused. */
#define MAX_SIZE_LINE 4096u
/* Total bytes of the trailer section, all fields together. */
#define MAX_TRAILERS 8192u

enum {
    CS_SIZE_FIRST = 0, /* first hex digit of a chunk size */
    CS_SIZE,           /* more hex digits, ';' or CR */
    CS_EXT,            /* chunk extensions, up to CR */
    CS_SIZE_LF,        /* LF ending the size line */
    CS_DATA,           /* <remaining> data bytes */
    CS_DATA_CR,        /* CR after the data */
    CS_DATA_LF,        /* LF after the data */
    CS_TRAILER_START,  /* start of a trailer field line or of the final CRLF */
    CS_TRAILER_NAME,   /* field name, up to ':' */
    CS_TRAILER_VALUE,  /* field value, up to CR */
    CS_TRAILER_LF,     /* LF ending a trailer line */
    CS_END_LF,         /* LF of the final CRLF */
    CS_DONE,
    CS_BAD,
};

void sl_chunked_init(struct sl_chunked *c)
{
    c->remaining = 0;
    c->state = CS_SIZE_FIRST;
    c->line_len = 0;
}

static inline int hexval(unsigned char ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    ch |= 0x20;
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    return -1;
}

/* One byte of a size line, first digit (CS_SIZE_FIRST) or later (CS_SIZE). */
static inline uint32_t size_step(struct sl_chunked *c, uint32_t st, unsigned char ch)
{
    int h;

    if (++c->line_len > MAX_SIZE_LINE)
        return CS_BAD;
    h = hexval(ch);
    if (h >= 0) {
        if (c->remaining > ((uint64_t)INT64_MAX >> 4))
            return CS_BAD;
        c->remaining = (c->remaining << 4) | (uint64_t)h;
        return CS_SIZE;
    }
    if (st == CS_SIZE && ch == ';')
        return CS_EXT;
    if (st == CS_SIZE && ch == '\r')
        return CS_SIZE_LF;
    return CS_BAD;
}

static inline uint32_t ext_step(struct sl_chunked *c, unsigned char ch)
{
    if (++c->line_len > MAX_SIZE_LINE)
        return CS_BAD;
    if (ch == '\r')
        return CS_SIZE_LF;
    return SL_CLS(ch, SL_C_VALUE) ? CS_EXT : CS_BAD;
}

static inline uint32_t trailer_step(struct sl_chunked *c, uint32_t st, unsigned char ch)
{
    /* line_len counts the whole trailer section here. */
    if (++c->line_len > MAX_TRAILERS)
        return CS_BAD;
    if (st == CS_TRAILER_START && ch == '\r')
        return CS_END_LF;
    if (st != CS_TRAILER_VALUE) {
        if (ch == ':' && st == CS_TRAILER_NAME)
            return CS_TRAILER_VALUE;
        /* no obs-fold: a line may not start with SP */
        return SL_CLS(ch, SL_C_TOKEN) ? CS_TRAILER_NAME : CS_BAD;
    }
    if (ch == '\r')
        return CS_TRAILER_LF;
    return SL_CLS(ch, SL_C_VALUE) ? CS_TRAILER_VALUE : CS_BAD;
}

/* <next> when <ch> is <want>, else CS_BAD. */
static inline uint32_t expect(unsigned char ch, unsigned char want, uint32_t next)
{
    return ch == want ? next : CS_BAD;
}

/* The state after byte <ch> in state <st> (never CS_DATA, which
 * sl_chunked_feed() skips in bulk): CS_BAD on a refusal. */
static inline uint32_t step(struct sl_chunked *c, uint32_t st, unsigned char ch)
{
    switch (st) {
    case CS_SIZE_FIRST:
    case CS_SIZE:
        return size_step(c, st, ch);
    case CS_EXT:
        return ext_step(c, ch);
    case CS_SIZE_LF:
        if (ch != '\n')
            return CS_BAD;
        c->line_len = 0;
        return c->remaining == 0 ? CS_TRAILER_START : CS_DATA;
    case CS_DATA_CR:
        return expect(ch, '\r', CS_DATA_LF);
    case CS_DATA_LF:
        return expect(ch, '\n', CS_SIZE_FIRST);
    case CS_TRAILER_START:
    case CS_TRAILER_NAME:
    case CS_TRAILER_VALUE:
        return trailer_step(c, st, ch);
    case CS_TRAILER_LF:
        return expect(ch, '\n', CS_TRAILER_START);
    case CS_END_LF:
        return expect(ch, '\n', CS_DONE);
    default:
        return CS_BAD;
    }
}

/* The one walk over a chunked body, for both callers. It validates; with
 * <decode> it also copies each data byte to dst[*out...]
 * (sl_chunked_decode, where dst is the input itself, so the copy only ever
 * moves bytes down). Inlined into each caller with <decode> constant, so
 * the validating walk pays nothing for the copy. */
static inline __attribute__((always_inline)) int walk(struct sl_chunked *c, const char *buf,
                                                      size_t len, size_t *consumed, bool decode,
                                                      char *dst, size_t *out)
{
    size_t i = 0;
    uint32_t st = c->state;

    *consumed = 0;
    if (st == CS_DONE)
        return SL_CHUNKED_DONE;
    if (st == CS_BAD)
        return SL_CHUNKED_BAD;
    while (i < len) {
        if (st == CS_DATA) {
            size_t n = len - i;

            if (n > c->remaining)
                n = (size_t)c->remaining;
            if (decode) {
                memmove(dst + *out, buf + i, n);
                *out += n;
            }
            c->remaining -= n;
            i += n;
            if (c->remaining == 0)
                st = CS_DATA_CR;
            continue;
        }
        st = step(c, st, (unsigned char)buf[i++]);
        if (st == CS_BAD)
            goto bad;
        if (st == CS_DONE) {
            c->state = CS_DONE;
            *consumed = i;
            return SL_CHUNKED_DONE;
        }
    }
    c->state = st;
    *consumed = len;
    return SL_CHUNKED_MORE;

bad:
    c->state = CS_BAD;
    *consumed = i;
    return SL_CHUNKED_BAD;
}

int sl_chunked_feed(struct sl_chunked *c, const char *buf, size_t len, size_t *consumed)
{
    return walk(c, buf, len, consumed, false, NULL, NULL);
}

int sl_chunked_decode(struct sl_chunked *c, char *buf, size_t len, size_t *consumed,
                      size_t *data_len)
{
    *data_len = 0;
    return walk(c, buf, len, consumed, true, buf, data_len);
}
