/* Entry points of the command-line verbs (one file per verb). Each takes
 * the arguments after the verb (argv[0] is the verb) and returns the
 * process exit status: 0 success, 1 failure, 2 usage error. Only src/cli
 * may print usage or exit. */
#ifndef SL_CLI_CLI_H
#define SL_CLI_CLI_H

#include "sluice_version.h" /* SLUICE_VERSION_STRING, from CMake's project(VERSION) */

int sl_cli_serve(int argc, char **argv);
int sl_cli_check(int argc, char **argv);

#endif /* SL_CLI_CLI_H */
