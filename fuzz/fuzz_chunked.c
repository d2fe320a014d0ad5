/* libFuzzer target: the chunked validator must give the same verdict and
 * the same end whether the input comes in one piece or split where the
 * first byte says; *consumed never exceeds what was fed. */
#include <stdint.h>
#include <stdlib.h>

#include "http/parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct sl_chunked a, b;
    const char *buf;
    size_t used_a, used_b, used_b2 = 0, cut;
    int ra, rb;

    if (size < 1)
        return 0;
    buf = (const char *)data + 1;
    size--;
    cut = size == 0 ? 0 : data[0] % (size + 1);

    sl_chunked_init(&a);
    ra = sl_chunked_feed(&a, buf, size, &used_a);
    if (used_a > size || (ra == SL_CHUNKED_MORE && used_a != size))
        abort();

    sl_chunked_init(&b);
    rb = sl_chunked_feed(&b, buf, cut, &used_b);
    if (used_b > cut)
        abort();
    if (rb == SL_CHUNKED_MORE) {
        rb = sl_chunked_feed(&b, buf + cut, size - cut, &used_b2);
        if (used_b2 > size - cut)
            abort();
    }
    if (ra != rb)
        abort();
    if (ra == SL_CHUNKED_DONE && used_a != used_b + used_b2)
        abort();
    return 0;
}
