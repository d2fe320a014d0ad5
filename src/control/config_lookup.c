/* Lookups by name in a loaded model. Apart from the loader (config.c)
 * because the checks it runs (config_check.c) use them: both call down
 * here, and the checks never call back up into the loader. */
#include <string.h>

#include "control/config.h"

const struct sl_cfg_service *sl_config_service(const struct sl_config *cfg, const char *name)
{
    for (size_t i = 0; name != NULL && i < cfg->nservices; i++)
        if (cfg->services[i].name != NULL && strcmp(cfg->services[i].name, name) == 0)
            return &cfg->services[i];
    return NULL;
}

const struct sl_cfg_backend *sl_config_backend(const struct sl_cfg_service *svc, const char *name)
{
    for (size_t i = 0; svc != NULL && i < svc->nbackends; i++)
        if (svc->backends[i].name != NULL && strcmp(svc->backends[i].name, name) == 0)
            return &svc->backends[i];
    return NULL;
}
