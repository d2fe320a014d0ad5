/* libFuzzer target: response heads. The first byte picks the request
 * method the response answers; a success must be stable and in bounds, a
 * refusal is always 502. */
#include <stdint.h>
#include <stdlib.h>

#include "http/parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct sl_http_resp resp, again;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    enum sl_http_method method;
    const char *buf;
    int r;

    if (size < 1)
        return 0;
    method = (enum sl_http_method)(data[0] % (SL_METHOD_TRACE + 1));
    buf = (const char *)data + 1;
    size--;
    r = sl_http_parse_response(buf, size, 4096, method, &resp);
    if (r == SL_HTTP_BAD) {
        if (resp.m.status != 502 || resp.m.error == NULL)
            abort();
        return 0;
    }
    if (r == SL_HTTP_PARTIAL)
        return size > 4096 ? (abort(), 0) : 0;
    if (r <= 0 || (size_t)r > size || resp.status < 100 || resp.status > 599)
        abort();
    if (resp.reason < buf || resp.reason + resp.reason_len > buf + r)
        abort();
    for (size_t i = 0; i < resp.m.nhdrs; i++) {
        const struct sl_http_hdr *h = &resp.m.hdrs[i];

        if (h->name < buf || h->name + h->name_len > buf + r || h->value < buf ||
            h->value + h->value_len > buf + r)
            abort();
    }
    if (resp.m.body == SL_BODY_UNTIL_CLOSE && resp.m.keep_alive)
        abort();
    if (sl_http_parse_response(buf, (size_t)r, 4096, method, &again) != r ||
        again.m.body != resp.m.body || again.status != resp.status)
        abort();
    return 0;
}
