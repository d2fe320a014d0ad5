/* Scalar syntax: durations, sizes, integers, booleans and status ranges,
 * each a table of accepted and refused spellings. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "control/scalar.h"

static void durations_and_sizes(void **state)
{
    static const struct {
        const char *s;
        int rc;
        uint32_t v;
    } dur[] = {{"2s", 0, 2000},       {"500ms", 0, 500},
               {"1m", 0, 60000},      {"1h", 0, 3600000},
               {"250", 0, 250},       {"0", 0, 0},
               {"2", 0, 2},           {"s", -1, 0},
               {"", -1, 0},           {"2 s", -1, 0},
               {"-1s", -1, 0},        {"1.5s", -1, 0},
               {"2d", -1, 0},         {"4294967295", 0, 4294967295u},
               {"4294967296", -1, 0}, {"1193h", 0, 4294800000u},
               {"1194h", -1, 0},      {"99999999h", -1, 0}},
      size[] = {{"16k", 0, 16384},  {"16K", 0, 16384}, {"16kb", 0, 16384}, {"1m", 0, 1048576},
                {"1M", 0, 1048576}, {"1000", 0, 1000}, {"1b", -1, 0},      {"k", -1, 0},
                {"16g", -1, 0},     {"4096m", -1, 0}};
    (void)state;

    for (size_t i = 0; i < sizeof(dur) / sizeof(dur[0]); i++) {
        uint32_t v = 7;
        int rc = sl_scalar_parse_duration(dur[i].s, &v);

        if (rc != dur[i].rc || (rc == 0 && v != dur[i].v))
            fail_msg("duration '%s': rc %d v %u", dur[i].s, rc, v);
    }
    for (size_t i = 0; i < sizeof(size) / sizeof(size[0]); i++) {
        uint32_t v = 7;
        int rc = sl_scalar_parse_size(size[i].s, &v);

        if (rc != size[i].rc || (rc == 0 && v != size[i].v))
            fail_msg("size '%s': rc %d v %u", size[i].s, rc, v);
    }
}

static void integers_and_booleans(void **state)
{
    static const struct {
        const char *s;
        int rc;
        int64_t v;
    } ints[] = {{"0", 0, 0},
                {"42", 0, 42},
                {"-7", 0, -7},
                {"+3", 0, 3},
                {" 5", 0, 5},
                {"", -1, 0},
                {"5 ", -1, 0},
                {"1.5", -1, 0},
                {"x", -1, 0},
                {"9223372036854775807", 0, INT64_MAX},
                {"9223372036854775808", -1, 0}};
    static const struct {
        const char *s;
        int rc;
        bool v;
    } bools[] = {{"true", 0, true}, {"True", 0, true},   {"TRUE", 0, true},   {"yes", 0, true},
                 {"on", 0, true},   {"false", 0, false}, {"False", 0, false}, {"FALSE", 0, false},
                 {"no", 0, false},  {"off", 0, false},   {"tRUE", -1, false}, {"1", -1, false},
                 {"", -1, false},   {"Yes", -1, false}};
    (void)state;

    for (size_t i = 0; i < sizeof(ints) / sizeof(ints[0]); i++) {
        int64_t v = 7;
        int rc = sl_scalar_parse_int(ints[i].s, &v);

        if (rc != ints[i].rc || (rc == 0 && v != ints[i].v))
            fail_msg("int '%s': rc %d v %lld", ints[i].s, rc, (long long)v);
    }
    for (size_t i = 0; i < sizeof(bools) / sizeof(bools[0]); i++) {
        bool v = !bools[i].v;
        int rc = sl_scalar_parse_bool(bools[i].s, &v);

        if (rc != bools[i].rc || (rc == 0 && v != bools[i].v))
            fail_msg("bool '%s': rc %d v %d", bools[i].s, rc, v);
    }
}

static void status_ranges(void **state)
{
    static const struct {
        const char *s;
        int rc;
        unsigned lo, hi;
    } cases[] = {{"200", 0, 200, 200},      {"200-399", 0, 200, 399}, {" 200", 0, 200, 200},
                 {"200- 204", 0, 200, 204}, {"1000", -1, 0, 0},       {"200-", -1, 0, 0},
                 {"-200", -1, 0, 0},        {"200-399x", -1, 0, 0},   {"", -1, 0, 0},
                 {"2xx", -1, 0, 0}};
    (void)state;

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        unsigned lo = 7, hi = 7;
        int rc = sl_scalar_parse_status_range(cases[i].s, &lo, &hi);

        if (rc != cases[i].rc || (rc == 0 && (lo != cases[i].lo || hi != cases[i].hi)))
            fail_msg("status '%s': rc %d %u-%u", cases[i].s, rc, lo, hi);
        if (rc != 0 && (lo != 7 || hi != 7))
            fail_msg("status '%s': outputs written on failure", cases[i].s);
    }
}

/* Body limits go past 4 GiB: the 64-bit reader takes `g` and big counts,
 * and the 32-bit one refuses what it cannot hold. */
static void sizes_past_four_gib(void **state)
{
    static const struct {
        const char *s;
        int rc;
        uint64_t v;
    } cases[] = {{"1g", 0, UINT64_C(1) << 30},
                 {"10G", 0, UINT64_C(10) << 30},
                 {"10gb", 0, UINT64_C(10) << 30},
                 {"5368709120", 0, UINT64_C(5368709120)},
                 {"16k", 0, 16384},
                 {"0", 0, 0},
                 {"1t", -1, 0},
                 {"g", -1, 0},
                 {"1gx", -1, 0},
                 {"-1g", -1, 0}};
    uint32_t v32 = 7;
    (void)state;

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        uint64_t v = 7;
        int rc = sl_scalar_parse_size64(cases[i].s, &v);

        if (rc != cases[i].rc || (rc == 0 && v != cases[i].v))
            fail_msg("size64 '%s': rc %d v %llu", cases[i].s, rc, (unsigned long long)v);
    }
    assert_int_equal(sl_scalar_parse_size("1g", &v32), 0);
    assert_int_equal(v32, 1u << 30);
    assert_int_equal(sl_scalar_parse_size("4g", &v32), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(durations_and_sizes),
        cmocka_unit_test(integers_and_booleans),
        cmocka_unit_test(status_ranges),
        cmocka_unit_test(sizes_past_four_gib),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
