/* For the control tests: a directory of its own per test, holding the
 * config file (path) and, beside it, the state store the control opens.
 * Include after <cmocka.h>. */
#ifndef SL_TEST_CFGDIR_H
#define SL_TEST_CFGDIR_H

#include <stdio.h>
#include <stdlib.h>

static char dir[64];
static char path[96];

static void write_cfg(const char *text)
{
    FILE *f = fopen(path, "w");

    assert_non_null(f);
    assert_true(fputs(text, f) >= 0);
    fclose(f);
}

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof(dir), "/tmp/sluice-control-XXXXXX");
    if (mkdtemp(dir) == NULL)
        return -1;
    snprintf(path, sizeof(path), "%s/sluice.yaml", dir);
    return 0;
}

static int teardown(void **state)
{
    char cmd[128];

    (void)state;
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    return system(cmd) == 0 ? 0 : -1;
}

#endif /* SL_TEST_CFGDIR_H */
