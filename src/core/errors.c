/* Names, messages and the version: static strings only. */
#include <string.h>

#include "sluice.h"
#include "sluice_version.h"

const char *sluice_version(void)
{
    return SLUICE_VERSION_STRING;
}

const char *sluice_strerror(int err)
{
    /* One case per entry of SLUICE_ERR_MAP: a value listed twice fails to
     * compile (duplicate case). */
    switch (err) {
    case SLUICE_OK:
        return "success";
#define SLUICE_ERR_MESSAGE(name, value, message) \
    case SLUICE_ERR_##name:                      \
        return message;
        SLUICE_ERR_MAP(SLUICE_ERR_MESSAGE)
#undef SLUICE_ERR_MESSAGE
    default:
        return "unknown error";
    }
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
    [SLUICE_LEAST_LOAD] = "least_load",
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
