/* libFuzzer target: request heads. Besides the sanitizers' checks, a
 * successful parse must be stable (same length when re-run on exactly the
 * head's bytes), every pointer must lie inside the input, and framing must
 * be self-consistent. The first byte picks max_head so the limits get
 * exercised too. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http/parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct sl_http_req req, again;

static void inside(const char *base, size_t n, const char *p, size_t len)
{
    uintptr_t b = (uintptr_t)base;
    uintptr_t q = (uintptr_t)p;

    if (len == 0)
        return;
    if (q < b || q + len > b + n)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *buf;
    size_t max_head;
    int r;

    if (size < 1)
        return 0;
    max_head = data[0] < 16 ? (size_t)data[0] * 16 + 1 : 65536;
    buf = (const char *)data + 1;
    size--;
    r = sl_http_parse_request(buf, size, max_head, &req);
    if (r == SL_HTTP_BAD) {
        if (req.m.error == NULL ||
            (req.m.status != 400 && req.m.status != 414 && req.m.status != 431 &&
             req.m.status != 501 && req.m.status != 505))
            abort();
        return 0;
    }
    if (r == SL_HTTP_PARTIAL) {
        if (size > max_head)
            abort(); /* an oversized partial head must be refused */
        return 0;
    }
    if (r <= 0 || (size_t)r > size || (size_t)r > max_head)
        abort();
    inside(buf, (size_t)r, req.method, req.method_len);
    inside(buf, (size_t)r, req.target, req.target_len);
    /* The one pointer allowed outside: the static "/" of an absolute-form
     * target without a path. */
    if (!(req.path_len == 1 && req.path[0] == '/' && req.target[0] != '/'))
        inside(buf, (size_t)r, req.path, req.path_len);
    inside(buf, (size_t)r, req.query, req.query_len);
    inside(buf, (size_t)r, req.host, req.host_len);
    if (req.m.nhdrs > SL_HTTP_MAX_HDRS)
        abort();
    for (size_t i = 0; i < req.m.nhdrs; i++) {
        inside(buf, (size_t)r, req.m.hdrs[i].name, req.m.hdrs[i].name_len);
        inside(buf, (size_t)r, req.m.hdrs[i].value, req.m.hdrs[i].value_len);
        if (req.m.hdrs[i].name_len == 0)
            abort();
    }
    if (req.m.body == SL_BODY_UNTIL_CLOSE || req.m.minor_version < 0 || req.m.minor_version > 1)
        abort();
    if (req.m.minor_version == 1 && req.host == NULL)
        abort();
    if (req.host != NULL && !sl_http_authority_valid(req.host, req.host_len, false))
        abort();
    /* Round trip: the head alone parses the same way. */
    if (sl_http_parse_request(buf, (size_t)r, max_head, &again) != r ||
        again.m.nhdrs != req.m.nhdrs || again.m.body != req.m.body ||
        again.m.keep_alive != req.m.keep_alive || again.path_len != req.path_len)
        abort();
    /* And one byte fewer is incomplete, never accepted. */
    if (sl_http_parse_request(buf, (size_t)r - 1, max_head, &again) >= 0)
        abort();
    return 0;
}
