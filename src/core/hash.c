/* sl_hash64: a 64-bit hash for consistent-hashing keys and target names.
 * 16 bytes per round folded through a 64x64->128 multiply (the high and low
 * halves xored), which mixes every input bit into every output bit in two
 * rounds, then the splitmix64 finaliser. Not for adversarial inputs that
 * need a keyed PRF; speed and spread are what select needs. */
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

uint64_t sl_hash64(const void *key, size_t len, uint64_t seed)
{
    const unsigned char *p = key;
    uint64_t h = seed ^ fold_mul(seed ^ K0, (uint64_t)len ^ K1);
    unsigned char tail[16] = {0};
    size_t rest = len;

    while (rest > 16) {
        h = fold_mul(load64(p) ^ K1, load64(p + 8) ^ h ^ K2);
        p += 16;
        rest -= 16;
    }
    /* The last 0..16 bytes, zero padded; len was mixed in first, so "a"
     * and "a\0" still differ. */
    if (rest > 0)
        memcpy(tail, p, rest);
    h = fold_mul(load64(tail) ^ K1 ^ (uint64_t)len, load64(tail + 8) ^ h ^ K2);
    return sl_mix64(h ^ K0);
}
