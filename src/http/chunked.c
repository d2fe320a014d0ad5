/* Streaming validator for the chunked transfer coding (RFC 9112 7.1).
 * The proxy forwards the bytes untouched; this state machine only finds
 * where the body ends, across arbitrary read boundaries, and refuses what
 * two parsers could read differently: whitespace around sizes, bare LF,
 * oversized sizes, lines or trailers. Data bytes are skipped in bulk; only
 * the size and trailer lines are walked byte by byte. */
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

int sl_chunked_feed(struct sl_chunked *c, const char *buf, size_t len, size_t *consumed)
{
    size_t i = 0;
    uint32_t st = c->state;

    *consumed = 0;
    if (st == CS_DONE)
        return SL_CHUNKED_DONE;
    if (st == CS_BAD)
        return SL_CHUNKED_BAD;
    while (i < len) {
        unsigned char ch;
        int h;

        if (st == CS_DATA) {
            size_t n = len - i;

            if (n > c->remaining)
                n = (size_t)c->remaining;
            c->remaining -= n;
            i += n;
            if (c->remaining == 0)
                st = CS_DATA_CR;
            continue;
        }
        ch = (unsigned char)buf[i++];
        switch (st) {
        case CS_SIZE_FIRST:
        case CS_SIZE:
            if (++c->line_len > MAX_SIZE_LINE)
                goto bad;
            h = hexval(ch);
            if (h >= 0) {
                if (c->remaining > (UINT64_MAX >> 4))
                    goto bad;
                c->remaining = (c->remaining << 4) | (uint64_t)h;
                st = CS_SIZE;
            } else if (st == CS_SIZE && ch == ';') {
                st = CS_EXT;
            } else if (st == CS_SIZE && ch == '\r') {
                st = CS_SIZE_LF;
            } else {
                goto bad;
            }
            break;
        case CS_EXT:
            if (++c->line_len > MAX_SIZE_LINE)
                goto bad;
            if (ch == '\r')
                st = CS_SIZE_LF;
            else if (!SL_CLS(ch, SL_C_VALUE))
                goto bad;
            break;
        case CS_SIZE_LF:
            if (ch != '\n')
                goto bad;
            c->line_len = 0;
            st = c->remaining == 0 ? CS_TRAILER_START : CS_DATA;
            break;
        case CS_DATA_CR:
            if (ch != '\r')
                goto bad;
            st = CS_DATA_LF;
            break;
        case CS_DATA_LF:
            if (ch != '\n')
                goto bad;
            st = CS_SIZE_FIRST;
            break;
        case CS_TRAILER_START:
        case CS_TRAILER_NAME:
        case CS_TRAILER_VALUE:
            /* line_len counts the whole trailer section here. */
            if (++c->line_len > MAX_TRAILERS)
                goto bad;
            if (st == CS_TRAILER_START && ch == '\r') {
                st = CS_END_LF;
            } else if (st != CS_TRAILER_VALUE) {
                if (ch == ':' && st == CS_TRAILER_NAME)
                    st = CS_TRAILER_VALUE;
                else if (SL_CLS(ch, SL_C_TOKEN))
                    st = CS_TRAILER_NAME; /* no obs-fold: a line may not start with SP */
                else
                    goto bad;
            } else if (ch == '\r') {
                st = CS_TRAILER_LF;
            } else if (!SL_CLS(ch, SL_C_VALUE)) {
                goto bad;
            }
            break;
        case CS_TRAILER_LF:
            if (ch != '\n')
                goto bad;
            st = CS_TRAILER_START;
            break;
        case CS_END_LF:
            if (ch != '\n')
                goto bad;
            c->state = CS_DONE;
            *consumed = i;
            return SL_CHUNKED_DONE;
        default:
            goto bad;
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
