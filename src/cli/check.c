/* sluice check -c FILE: validate a configuration without starting. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "control/config.h"
#include "control/control.h"

/* "FILE: ok", saying so when there is no state store yet: the check then
 * covered the file alone (no overlay to replay), which is no error since a
 * first start has none. */
static void print_ok(const char *path)
{
    struct sl_config *cfg = NULL;
    struct sl_diag diag;

    sl_diag_init(&diag);
    if (sl_config_load(path, &cfg, &diag) == 0 && cfg->state != NULL &&
        access(cfg->state, F_OK) != 0 && errno == ENOENT)
        printf("%s: ok (no state store yet at %s: the file alone)\n", path, cfg->state);
    else
        printf("%s: ok\n", path);
    sl_config_free(cfg);
    sl_diag_fini(&diag);
}

static void usage(FILE *out)
{
    (void)fprintf(out, "usage: sluice check -c FILE\n\n"
                       "Validates FILE as a whole, with the state store's overlay when the\n"
                       "store exists (opened read-only), and prints \"FILE: ok\" (saying so\n"
                       "when there is no store yet), or every error with its line, and\n"
                       "exits 1.\n");
}

int sl_cli_check(int argc, char **argv)
{
    const char *path = NULL;
    struct sl_diag diag;
    int rc;

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            usage(stdout);
            return 0;
        }
        if ((strcmp(argv[i], "-c") == 0 || strcmp(argv[i], "--config") == 0) && i + 1 < argc) {
            path = argv[++i];
            continue;
        }
        if (strncmp(argv[i], "--config=", 9) == 0) {
            path = argv[i] + 9;
            continue;
        }
        (void)fprintf(stderr, "sluice check: unknown or incomplete option '%s'\n\n", argv[i]);
        usage(stderr);
        return 2;
    }
    if (!path) {
        (void)fprintf(stderr, "sluice check: missing -c FILE\n\n");
        usage(stderr);
        return 2;
    }
    sl_diag_init(&diag);
    rc = sl_control_check(path, &diag);
    if (rc == 0) {
        for (size_t i = 0; i < diag.n; i++)
            (void)fprintf(stderr, "%s\n", diag.msgs[i]);
        print_ok(path);
    } else {
        for (size_t i = 0; i < diag.n; i++)
            (void)fprintf(stderr, "%s\n", diag.msgs[i]);
        if (diag.n == 0)
            (void)fprintf(stderr, "%s: invalid configuration\n", path);
    }
    sl_diag_fini(&diag);
    return rc == 0 ? 0 : 1;
}
