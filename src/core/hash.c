/* sl_hash64: a 64-bit hash for consistent-hashing keys and target names.
 * Keys up to 16 bytes (addresses, session ids: the common case) are read
 * as two possibly overlapping words, with no loop and no variable-length
 * copy, and mixed by one 64x64->128 multiply (the high and low halves
 * xored) and the splitmix64 finaliser: a few ns. Longer keys fold 16
 * bytes per multiply first. The length is mixed in, so overlapping reads
 * of different lengths still differ. Not for adversarial inputs that need
 * a keyed PRF; speed and spread are what select needs. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "group.h"
#include "strategy_util.h"

#define K0 UINT64_C(0xa0761d6478bd642f)
#define K1 UINT64_C(0xe7037ed1a0b428db)
#define K2 UINT64_C(0x8ebc6af09c88c6e3)

static inline uint64_t fold_mul(uint64_t a, uint64_t b)
{
    unsigned __int128 r = (unsigned __int128)a * b;

    return (uint64_t)r ^ (uint64_t)(r >> 64);
}

static inline uint64_t load64(const unsigned char *p)
{
    uint64_t v;

    memcpy(&v, p, sizeof(v)); /* unaligned-safe; compiles to one load */
    return v;
}

static inline uint64_t load32(const unsigned char *p)
{
    uint32_t v;

    memcpy(&v, p, sizeof(v));
    return v;
}

uint64_t sl_hash64(const void *key, size_t len, uint64_t seed)
{
    const unsigned char *p = key;
    uint64_t h = seed ^ K0, a, b;

    if (len > 16) {
        size_t rest = len;

        while (rest > 16) {
            h = fold_mul(load64(p) ^ K1, load64(p + 8) ^ h ^ K2);
            p += 16;
            rest -= 16;
        }
        a = load64(p + rest - 16); /* the last 16 bytes, overlapping */
        b = load64(p + rest - 8);
    } else if (len >= 8) {
        a = load64(p);
        b = load64(p + len - 8);
    } else if (len >= 4) {
        a = load32(p);
        b = load32(p + len - 4);
    } else if (len > 0) {
        /* 1..3 bytes: first, middle and last identify them given len. */
        a = ((uint64_t)p[0] << 16) | ((uint64_t)p[len >> 1] << 8) | p[len - 1];
        b = 0;
    } else {
        a = 0;
        b = 0;
    }
    h = fold_mul(a ^ K1 ^ ((uint64_t)len << 56), b ^ h ^ K2);
    return sl_mix64(h ^ (uint64_t)len ^ K0);
}
