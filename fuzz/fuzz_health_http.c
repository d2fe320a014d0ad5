/* libFuzzer target: an http health check's verdict on a backend's answer.
 * The first byte picks the check (expected status, a body substring or
 * none) and how the answer is cut into reads; the rest is the answer. It is
 * fed as the probe feeds it (reads into one fixed buffer, then EOF), and
 * every verdict must be a known result, with *len never growing. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http/health_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char buf[SL_HEALTH_BUF];

static int feed(struct sl_health_http *st, const struct sl_health_rt *h, size_t *len,
                enum sl_health_end end)
{
    char why[160];
    size_t before = *len;
    int r = sl_health_http_feed(st, h, buf, len, end, why, sizeof(why));

    if (*len > before || (r != SL_HEALTH_MORE &&
                          (r < SLUICE_CHECK_RESULT_OK || r > SLUICE_CHECK_RESULT_BAD_RESPONSE)))
        abort();
    if (r != SL_HEALTH_MORE && memchr(why, '\0', sizeof(why)) == NULL)
        abort();
    return r;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct sl_status_range ok = {200, 399};
    struct sl_health_rt h = {.kind = SLUICE_CHECK_HTTP,
                             .method = "GET",
                             .path = "/healthz",
                             .expect = &ok,
                             .nexpect = 1,
                             .interval_ms = 1000,
                             .down_interval_ms = 500,
                             .timeout_ms = 1000};
    struct sl_health_http st;
    size_t len = 0, step;
    int r = SL_HEALTH_MORE;

    if (size < 1)
        return 0;
    if (data[0] & 1) {
        h.body = "ok";
        h.body_len = 2;
    }
    if (data[0] & 2)
        h.method = "HEAD";
    step = (size_t)(data[0] >> 2) + 1; /* bytes per read: 1..64 */
    data++;
    size--;
    memset(&st, 0, sizeof(st));
    for (size_t off = 0; r == SL_HEALTH_MORE && off < size;) {
        size_t n = size - off < step ? size - off : step;

        if (len == SL_HEALTH_BUF) {
            r = feed(&st, &h, &len, SL_HEALTH_FULL);
            break;
        }
        if (n > SL_HEALTH_BUF - len)
            n = SL_HEALTH_BUF - len;
        memcpy(buf + len, data + off, n);
        len += n;
        off += n;
        r = feed(&st, &h, &len, SL_HEALTH_OPEN);
    }
    if (r == SL_HEALTH_MORE)
        (void)feed(&st, &h, &len, SL_HEALTH_EOF);
    return 0;
}
