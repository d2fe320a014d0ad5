/* sluice check -c FILE: validate a configuration without starting. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "control/control.h"

static void usage(FILE *out)
{
    (void)fprintf(out, "usage: sluice check -c FILE\n\n"
                       "Validates FILE as a whole and prints \"FILE: ok\", or every error\n"
                       "with its line, and exits 1.\n");
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
        printf("%s: ok\n", path);
    } else {
        for (size_t i = 0; i < diag.n; i++)
            (void)fprintf(stderr, "%s\n", diag.msgs[i]);
        if (diag.n == 0)
            (void)fprintf(stderr, "%s: invalid configuration\n", path);
    }
    sl_diag_fini(&diag);
    return rc == 0 ? 0 : 1;
}
