/* The syntax of every scalar control reads: durations, sizes, integers,
 * booleans and status ranges, for the configuration file (and the admin
 * API, which takes the same shapes in JSON). Text in, value out, no
 * messages: the field readers (config_fields.c) turn a -1 into a
 * "FILE:LINE: ..." error. Each returns 0 or -1 and writes its outputs only
 * on success. Pure functions: any thread. */
#ifndef SL_CONTROL_SCALAR_H
#define SL_CONTROL_SCALAR_H

#include <stdbool.h>
#include <stdint.h>

/* "2s", "500ms", "1m", "1h" or a plain number of milliseconds. */
int sl_scalar_parse_duration(const char *s, uint32_t *out_ms);
/* "16k", "1m", "2g" (binary units, optional trailing b) or a number of
 * bytes, at most UINT32_MAX. */
int sl_scalar_parse_size(const char *s, uint32_t *out);
/* The same syntax without the 32-bit bound, for limits on bodies. */
int sl_scalar_parse_size64(const char *s, uint64_t *out);
/* A decimal integer, as strtoll() reads it (leading blanks and a sign
 * allowed, nothing after the digits). The caller checks the range. */
int sl_scalar_parse_int(const char *s, int64_t *out);
/* true/True/TRUE/yes/on or false/False/FALSE/no/off. */
int sl_scalar_parse_bool(const char *s, bool *out);
/* "NNN" or "NNN-NNN" (one to three digits each, blanks allowed before
 * each number); the caller checks 100..599 and lo <= hi. */
int sl_scalar_parse_status_range(const char *s, unsigned *lo, unsigned *hi);

#endif /* SL_CONTROL_SCALAR_H */
