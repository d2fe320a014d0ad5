/* Names and messages: static tables only. */
#include <string.h>

#include "sluice.h"

static const char *const messages[] = {
    [0] = "success",
    [1] = "out of memory",
    [2] = "invalid argument",
    [3] = "invalid target",
    [4] = "unknown service",
    [5] = "unknown backend",
    [6] = "backend name in use",
    [7] = "dynamic backends are disallowed",
    [8] = "invalid score options",
    [9] = "duplicate target",
    [10] = "no usable backend",
    [11] = "thread could not be started",
    [12] = "call not valid in this state",
    [13] = "not found",
    [14] = "state store failure",
    [15] = "invalid configuration",
    [16] = "system call failure",
};

const char *sluice_strerror(int err)
{
    unsigned i = err <= 0 ? (unsigned)-(long)err : 0;

    if (err > 0 || i >= sizeof(messages) / sizeof(messages[0]))
        return "unknown error";
    return messages[i];
}

static const char *const strategy_names[SLUICE_STRATEGY_COUNT] = {
    [SLUICE_ROUND_ROBIN] = "round_robin",
    [SLUICE_WEIGHTED_ROUND_ROBIN] = "weighted_round_robin",
    [SLUICE_LEAST_CONNECTIONS] = "least_connections",
    [SLUICE_LEAST_REQUEST] = "least_request",
    [SLUICE_RANDOM] = "random",
    [SLUICE_MAGLEV] = "maglev",
    [SLUICE_RING_HASH] = "ring_hash",
    [SLUICE_PEAK_EWMA] = "peak_ewma",
};

const char *sluice_strategy_name(sluice_strategy_t s)
{
    if ((unsigned)s >= SLUICE_STRATEGY_COUNT)
        return NULL;
    return strategy_names[s];
}

int sluice_strategy_parse(const char *name, sluice_strategy_t *out)
{
    if (name == NULL || out == NULL)
        return SLUICE_ERR_INVALID_ARG;
    for (unsigned i = 0; i < SLUICE_STRATEGY_COUNT; i++) {
        if (strcmp(strategy_names[i], name) == 0) {
            *out = (sluice_strategy_t)i;
            return 0;
        }
    }
    return SLUICE_ERR_INVALID_ARG;
}
