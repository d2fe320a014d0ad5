/* Requests per second of every backend, from the lb's request counters
 * sampled about once a second (sl_control_tick). Control's lock held. */
#ifndef SL_CONTROL_RPS_H
#define SL_CONTROL_RPS_H

#include <stddef.h>
#include <stdint.h>

#include "control/config.h"

struct sl_rps_entry {
    char *key; /* "SERVICE/NAME" */
    uint64_t requests;
    uint64_t at_ms;
    double rps;
};

struct sl_rps {
    struct sl_rps_entry *v; /* sorted by key */
    size_t n;
};

/* Samples every backend of <cfg>'s services in <lb> at <now_ms>. */
void sl_rps_sample(struct sl_rps *r, sluice_lb_t *lb, const struct sl_config *cfg, uint64_t now_ms);
/* The last rate of <svc>/<name> (0 when not sampled yet). */
double sl_rps_get(const struct sl_rps *r, const char *svc, const char *name);
void sl_rps_fini(struct sl_rps *r);

#endif /* SL_CONTROL_RPS_H */
