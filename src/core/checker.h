/* The active health checker: one thread per lb, TCP-connect probes. */
#ifndef SL_CORE_CHECKER_H
#define SL_CORE_CHECKER_H

#include <stddef.h>
#include <stdint.h>

#include "backend.h"

#define SL_CHECKER_MAX_INFLIGHT 64

/* Probes bs[0..n) once, at most SL_CHECKER_MAX_INFLIGHT at a time, each
 * bounded by <timeout_ms>, and moves each score up (connected) or down
 * (refused, unreachable, unresolved or timed out). Returns early, with the
 * rest unprobed, when <stop_fd> (may be -1) becomes readable. Returns the
 * number probed. Any thread; blocks for up to about
 * ceil(n / 64) * timeout_ms. */
size_t sl_checker_probe(struct sluice_backend *const *bs, size_t n, uint32_t timeout_ms,
                        int stop_fd);

#endif /* SL_CORE_CHECKER_H */
