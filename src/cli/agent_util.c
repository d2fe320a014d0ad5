/* sluice agent's pure pieces: the retry schedule and the load's text. */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>

#include "agent.h"

uint32_t sl_agent_backoff_ms(unsigned attempt, double r)
{
    uint32_t d = SL_AGENT_BACKOFF_BASE_MS, half;

    for (unsigned i = 0; i < attempt && d < SL_AGENT_BACKOFF_MAX_MS; i++)
        d *= 2;
    if (d > SL_AGENT_BACKOFF_MAX_MS)
        d = SL_AGENT_BACKOFF_MAX_MS;
    if (!(r >= 0.0) || r >= 1.0)
        r = 0.0;
    half = d / 2;
    return half + (uint32_t)((double)half * r);
}

int sl_agent_parse_load(const char *text, uint32_t *out)
{
    const char *p = text;
    char *end;
    unsigned long v;

    while (isspace((unsigned char)*p))
        p++;
    if (!isdigit((unsigned char)*p))
        return -1;
    errno = 0;
    v = strtoul(p, &end, 10);
    while (isspace((unsigned char)*end))
        end++;
    if (errno != 0 || *end != '\0' || v > UINT32_MAX)
        return -1;
    *out = (uint32_t)v;
    return 0;
}

int sl_agent_parse_loadavg(const char *text, uint32_t *out)
{
    char *end;
    double v;

    errno = 0;
    v = strtod(text, &end);
    if (errno != 0 || end == text || !(v >= 0.0) || v > 4.0e7 ||
        (*end != '\0' && !isspace((unsigned char)*end)))
        return -1;
    *out = (uint32_t)lround(v * 100.0);
    return 0;
}
