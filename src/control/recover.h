/* Passive recovery of backends when no active checker runs (recover.c). */
#ifndef SL_CONTROL_RECOVER_H
#define SL_CONTROL_RECOVER_H

#include <stdbool.h>
#include <stdint.h>

#include "control/config.h"
#include "sluice.h"

/* Raises every backend of <cfg>'s services whose score is below 0 by one
 * step, at most once per SL_RECOVER_STEP_MS (tracked in *<last_ms>), and
 * only when <checker_running> is false. Control thread only. */
void sl_recover_tick(sluice_lb_t *lb, const struct sl_config *cfg, bool checker_running,
                     uint64_t now_ms, uint64_t *last_ms);

#endif /* SL_CONTROL_RECOVER_H */
